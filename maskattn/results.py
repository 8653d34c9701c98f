"""What a masked run gives back, and the effect of a plan measured against the unmasked run.

Shapes: L layers, H heads, Q queries, K keys, T tokens, E model width, V vocabulary.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import torch

from .plan import MaskPlan

ONE_CHECK_NUMBERS = 1 << 16  # tensors up to this size are checked for finiteness together (``check_finite``)


@dataclass(frozen=True)
class Prediction:
    """Top-k predicted tokens at one position, with probabilities."""

    position: int
    tokens: tuple[str, ...]
    probs: tuple[float, ...]


@dataclass(frozen=True)
class StackView:
    """One attention stack's weights with the labels of its queries (rows) and keys (columns)."""

    name: str
    attentions: torch.Tensor  # (L, H, Q, K)
    query_labels: list[str]
    key_labels: list[str]


@dataclass(frozen=True)
class RunResult:
    """What one masked run of a model on one text gives back (tensors on the CPU, float32)."""

    tokens: list[str]  # model tokens, special tokens included
    labels: list[str]  # the same tokens, readable (decoded one by one)
    attentions: torch.Tensor  # (L, H, T, T) the weights actually used in the default stack, after masking
    hidden: torch.Tensor  # (T, E) last hidden state of the default stack (an encoder–decoder's encoder)
    dropped_tokens: int  # tokens cut off the end of a text longer than the maximum (0: none)
    plan: MaskPlan
    seconds: float  # time of the masked forward (only the recomputed layers when incremental)
    embedding: torch.Tensor | None = None  # (E,) mean-pooled sentence embedding (encoders)
    embedding_cosine: float | None = None  # cosine to the unmasked run's embedding
    token_change: torch.Tensor | None = None  # (T,) 1 − cosine of each token's hidden state vs unmasked
    predictions: tuple[Prediction, ...] = ()  # top-k (causal: next token; MLM: [MASK]; seq2seq: decoder)
    baseline_predictions: tuple[Prediction, ...] = ()
    kl_divergence: float | None = None  # KL(unmasked ‖ masked) of those predictions, averaged over positions
    logits: torch.Tensor | None = None  # (T, V) for LM models; (T_decoder, V) for encoder–decoders
    recomputed_from: int = 0  # layers below this one came from the cached unmasked run (L: none recomputed)
    default_stack: str = "encoder"  # the stack ``attentions`` shows
    stack_attentions: Mapping[str, torch.Tensor] = field(default_factory=dict)  # every stack, (L, H, Q, K)
    decoder_labels: list[str] | None = None  # an encoder–decoder's decoder input, readable

    @property
    def num_tokens(self) -> int:
        return len(self.tokens)

    @property
    def truncated(self) -> bool:
        """Whether the text was longer than the maximum and its end was dropped."""
        return self.dropped_tokens > 0

    @property
    def stacks(self) -> tuple[str, ...]:
        """Return the names of the stacks this run recorded, the default first."""
        return (self.default_stack, *(s for s in self.stack_attentions if s != self.default_stack))

    def view(self, stack: str | None = None) -> StackView:
        """Return the weights and token labels of ``stack`` (None: the default stack)."""
        stack = stack or self.default_stack
        if stack == self.default_stack:
            return StackView(stack, self.attentions, self.labels, self.labels)
        if stack not in self.stack_attentions:
            raise ValueError(f"this run has no {stack!r} attention; it has: {', '.join(self.stacks)}")
        decoder = self.decoder_labels or []
        keys = self.labels if stack == "cross" else decoder
        return StackView(stack, self.stack_attentions[stack], decoder, keys)


def with_effect(result: RunResult, baseline: RunResult) -> RunResult:
    """Return ``result`` with its effect on the output measured against the unmasked ``baseline``."""
    token_change = 1.0 - torch.cosine_similarity(result.hidden, baseline.hidden, dim=-1)  # (T,)
    cosine = None
    if result.embedding is not None and baseline.embedding is not None:
        cosine = float(torch.cosine_similarity(result.embedding, baseline.embedding, dim=0))
    kl = None
    if result.logits is not None and baseline.logits is not None:
        positions = [p.position for p in result.predictions]
        log_p = torch.log_softmax(baseline.logits[positions], dim=-1)  # (P, V) unmasked
        log_q = torch.log_softmax(result.logits[positions], dim=-1)  # (P, V) masked
        # KL is never negative; rounding can make a no-op plan's KL −1e-9, which a reader takes for a bug.
        kl = max(float((log_p.exp() * (log_p - log_q)).sum(dim=-1).mean()), 0.0)
    return replace(
        result,
        embedding_cosine=cosine,
        token_change=token_change.clamp(min=0.0),
        baseline_predictions=baseline.predictions,
        kl_divergence=kl,
    )


def check_finite(result: RunResult, *, checked_layers: int = 0) -> RunResult:
    """Return ``result`` if every number in it is finite; else raise ValueError saying which is not.

    A backstop: the plan's bounds on gates keep a run finite; a model whose own weights overflow is not.
    ``checked_layers``: the attentions of the layers below it are known finite (copies of a checked run).

    Of the attentions, each row's first weight is read: a row of weights that ``masked_attention`` makes
    (as every run's are) is finite or NaN as a whole, since the softmax divides the row by one sum that any
    NaN or infinite score makes NaN, and a row without keys is set to 0 whole. At T = 512 that is 37 000
    numbers instead of 19 million.
    """
    numbers = {
        "attentions": result.attentions[checked_layers:, ..., 0],
        **{f"{stack} attentions": a[checked_layers:, ..., 0] for stack, a in result.stack_attentions.items()},
        "hidden states": result.hidden,
        "logits": result.logits,
        "token changes": result.token_change,
        "embedding": result.embedding,
        "embedding cosine": result.embedding_cosine,
        "KL divergence": result.kl_divergence,
    }
    # The default stack's attentions are one of the stacks too: each tensor is looked at once (first name)
    distinct: dict[object, tuple[str, torch.Tensor | float]] = {}
    for name, value in numbers.items():
        if value is not None:
            identity = (value.data_ptr(), value.shape) if isinstance(value, torch.Tensor) else id(value)
            distinct.setdefault(identity, (name, value))
    # The small tensors are looked at in one sum: every op right after a forward runs on cold caches. If that
    # sum is not finite, each is looked at alone below, to name it.
    small = [
        v for _, v in distinct.values() if isinstance(v, torch.Tensor) and v.numel() <= ONE_CHECK_NUMBERS
    ]
    small_finite = len(small) > 1 and all_finite(torch.cat([t.reshape(-1).float() for t in small]))
    for name, value in distinct.values():
        scalar = isinstance(value, float)
        if small_finite and not scalar and value.numel() <= ONE_CHECK_NUMBERS:
            continue
        if not (math.isfinite(value) if scalar else all_finite(value)):
            raise ValueError(
                f"the run's {name} {'is' if scalar else 'are'} not finite (NaN or infinite): the model "
                "overflows under this plan"
            )
    return result


def all_finite(values: torch.Tensor) -> bool:
    """Return whether every element is finite: a NaN or ±inf makes the sum non-finite (one pass, no copy)."""
    if bool(torch.isfinite(values.sum())):
        return True
    return bool(torch.isfinite(values).all())  # the sum may have overflowed: look at every element
