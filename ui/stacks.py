"""Which attention of an encoder–decoder model the Explorer shows and edits. Pure: no Streamlit.

The page shows one stack at a time (bertviz's encoder / decoder / cross views). Its painters, presets and
gates edit the *slice* of the plan that acts on that stack, as if the model had only that stack; ``join``
puts the slice back with the other stacks' rules, naming the stack on each rule where it is not the default.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from maskattn import MaskPlan, RunResult

STACK_WORDS = {
    "encoder": "Encoder self-attention",
    "decoder": "Decoder self-attention",
    "cross": "Cross-attention (decoder → encoder)",
}
STACK_HELP = (
    "An encoder–decoder has three attentions per layer. The decoder reads the text shifted right by one "
    "token, so each decoder position predicts the next token; cross-attention rows are decoder positions, "
    "columns the encoder's tokens."
)


@dataclass(frozen=True)
class Shown:
    """The weights and labels of the stack on screen: ``(L, H, Q, K)``, query and key labels."""

    stack: str
    attentions: torch.Tensor
    query_labels: list[str]
    key_labels: list[str]


def shown(result: RunResult, stack: str | None) -> Shown:
    """Return what the page draws of ``result`` for ``stack`` (None or unknown: the default stack)."""
    stack = stack if stack in result.stacks else result.default_stack
    view = result.view(stack)
    return Shown(stack, view.attentions, view.query_labels, view.key_labels)


def slice_of(plan: MaskPlan, stack: str, default: str) -> MaskPlan:
    """Return the rules of ``plan`` acting on ``stack``, without their stack names (edited as one stack)."""
    return MaskPlan(
        tuple(replace(r, stack=None) for r in plan.rules if r.applies_to(stack, default)), plan.description
    )


def join(plan: MaskPlan, edited: MaskPlan, stack: str, default: str) -> MaskPlan:
    """Return ``plan`` with the slice acting on ``stack`` replaced by ``edited`` (the other stacks kept)."""
    others = tuple(r for r in plan.rules if not r.applies_to(stack, default))
    named = None if stack == default else stack
    return MaskPlan((*others, *(replace(r, stack=named) for r in edited.rules)), edited.description)


def model_blocked(unmasked: torch.Tensor, layer: int) -> torch.Tensor:
    """Return the ``(Q, K)`` cells the model's own mask blocks in ``layer`` of unmasked ``(L, H, Q, K)``.

    A cell the model lets through gets a positive softmax weight; one its own mask blocks (a decoder's causal
    mask, a sliding window) is exactly 0. So cells where every head of the layer gives exactly 0 in the
    unmasked run are the model's: in a decoder LM, everything above the diagonal.
    """
    return (unmasked[layer] == 0).all(dim=0)  # (Q, K)
