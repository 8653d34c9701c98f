"""What a loaded model is, decided once at load: its kind, its attention stacks, whether maskattn can mask it.

One probe forward right after loading runs every attention call through our function in recording mode. The
model is accepted only if each layer of each stack called it exactly once, with no score term this library
does not apply; otherwise it is refused with one sentence naming the architecture and the reason. Stacks are
told apart by shape, not by names: the probe gives the encoder and the decoder different lengths, so an
encoder self-attention call is (Te × Te), a decoder one (Td × Td) and a cross-attention one (Td × Te).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch

from .adapter import APPLIED_KEYWORDS, INERT_KEYWORDS, CallState, ProbeCall, calling

Kind = Literal["encoder", "masked_lm", "causal_lm", "seq2seq"]
ENCODER, DECODER, CROSS = "encoder", "decoder", "cross"
STACK_NAMES = (ENCODER, DECODER, CROSS)
_PROBE_ENCODER_TOKENS, _PROBE_DECODER_TOKENS = 7, 4  # different, so the three stacks differ in shape

# Why an architecture that never calls the attention interface cannot be masked, where more can be said.
_OWN_CODE_REASONS = {
    "deberta": "disentangled relative positions",
    "deberta-v2": "disentangled relative positions",
    "roformer": "rotary positions applied inside its own attention",
    "megatron-bert": "a BERT variant with attention written out in its own classes",
    "falcon": "rotary or ALiBi attention written out in its own classes",
    "longt5": "local and transient-global attention in its encoder",
    "reformer": "locality-sensitive hashing attention",
    "funnel": "pooled relative attention",
    "xlnet": "two-stream relative attention",
    "transfo-xl": "segment-recurrent relative attention",
}
_PARTLY_REASONS = {
    "qwen3_next": "it mixes Gated DeltaNet linear-attention layers with softmax attention",
    "jamba": "it mixes Mamba layers with attention",
    "zamba": "it mixes Mamba layers with attention",
    "zamba2": "it mixes Mamba layers with attention",
    "falcon_h1": "it mixes Mamba layers with attention",
    "recurrent_gemma": "it mixes recurrent layers with local attention",
}


class ModelLoadError(ValueError):
    """A model id or folder that cannot be loaded here (offline, unknown, unsupported), with the reason."""


def kind_of(architectures: Sequence[str], is_encoder_decoder: bool) -> Kind:
    """Return the kind of model that ``architectures`` (class names) and the config's flag describe."""
    names = " ".join(architectures)
    if "EncoderModel" in names:
        return "encoder"  # T5EncoderModel and the like: the encoder half of an encoder–decoder
    if is_encoder_decoder or "ConditionalGeneration" in names or "MTModel" in names:
        return "seq2seq"
    if "CausalLM" in names or "LMHead" in names:
        return "causal_lm"
    if "MaskedLM" in names or "ForPreTraining" in names:
        return "masked_lm"
    return "encoder"


def model_kind(model: torch.nn.Module) -> Kind:
    """Return the kind of a built model, from its class (the same rules as for a config)."""
    config = model.config
    return kind_of([type(model).__name__], bool(getattr(config, "is_encoder_decoder", False)))


@dataclass(frozen=True)
class Stack:
    """One sequence of attention layers: a self-attention stack or the decoder's cross-attention."""

    name: str  # "encoder", "decoder" or "cross"
    num_layers: int
    num_heads: int  # query heads


@dataclass(frozen=True)
class Anatomy:
    """What the probe forward found: the kind, the stacks (default first) and each module's stack."""

    kind: Kind
    stacks: tuple[Stack, ...]
    modules: dict[torch.nn.Module, str]

    @property
    def default(self) -> Stack:
        """Return the stack a plan rule means when it names none: the encoder, or the only stack."""
        return self.stacks[0]

    def stack(self, name: str | None) -> Stack:
        """Return the stack called ``name`` (None: the default); an unknown name raises ValueError."""
        if name is None:
            return self.default
        for stack in self.stacks:
            if stack.name == name:
                return stack
        have = ", ".join(s.name for s in self.stacks)
        raise ValueError(f"this model has no {name!r} attention; it has: {have}")


def architecture_name(model: torch.nn.Module) -> str:
    config = model.config
    return f"{type(model).__name__} ({getattr(config, 'model_type', '?')})"


def _expected_layers(config: Any, stack: str) -> int | None:
    """Return how many layers the config says ``stack`` has (None when it does not say)."""
    if stack == ENCODER and getattr(config, "is_encoder_decoder", False):
        names = ("encoder_layers", "num_layers", "num_hidden_layers")
    elif stack in (DECODER, CROSS) and getattr(config, "is_encoder_decoder", False):
        names = ("decoder_layers", "num_decoder_layers", "num_layers", "num_hidden_layers")
    else:
        names = ("num_hidden_layers", "n_layer", "num_layers", "n_layers")
    config = config.get_text_config() if hasattr(config, "get_text_config") else config
    for name in names:
        value = getattr(config, name, None)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _probe_inputs(model: torch.nn.Module, kind: Kind) -> dict[str, torch.Tensor]:
    config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    vocab = int(getattr(config, "vocab_size", 0) or 100)
    device = next(model.parameters()).device
    ids = (torch.arange(_PROBE_ENCODER_TOKENS, device=device) * 7 + 3) % vocab  # arbitrary ids in range
    inputs = {"input_ids": ids[None], "attention_mask": torch.ones_like(ids)[None]}
    if kind == "seq2seq":
        inputs["decoder_input_ids"] = ids[None, :_PROBE_DECODER_TOKENS]
    if kind != "encoder":
        inputs["use_cache"] = False
    return inputs


def _refusal(architecture: str, reason: str) -> ModelLoadError:
    return ModelLoadError(f"{architecture} {reason}: maskattn cannot mask it, so it is refused")


def _refuse(model: torch.nn.Module, reason: str) -> ModelLoadError:
    return _refusal(architecture_name(model), reason)


def own_code_refusal(architecture: str, model_type: str, part: str = "attention") -> ModelLoadError:
    """Return the refusal of a model that computes ``part`` in its own code, not through the interface."""
    detail = _OWN_CODE_REASONS.get(model_type)
    detail = f" ({detail})" if detail else ""
    return _refusal(
        architecture, f"computes {part} in its own code{detail}, not through the attention interface"
    )


def _stack_of(call: ProbeCall, kind: Kind) -> str | None:
    if kind != "seq2seq":
        return ENCODER if kind in ("encoder", "masked_lm") else DECODER
    shapes = {
        (_PROBE_ENCODER_TOKENS, _PROBE_ENCODER_TOKENS): ENCODER,
        (_PROBE_DECODER_TOKENS, _PROBE_DECODER_TOKENS): DECODER,
        (_PROBE_DECODER_TOKENS, _PROBE_ENCODER_TOKENS): CROSS,
    }
    return shapes.get((call.num_queries, call.num_keys))


def examine(model: torch.nn.Module) -> Anatomy:
    """Return the anatomy of ``model`` from one probe forward (ModelLoadError: maskattn cannot mask it)."""
    kind = model_kind(model)
    model_type = getattr(model.config, "model_type", "")
    probe = CallState(stacks={}, probe=[])
    try:
        with calling(probe), torch.inference_mode():
            model(**_probe_inputs(model, kind))
    except Exception as err:  # any failure of the probe means: this model does not run here
        first = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
        raise _refuse(model, f"failed on a probe text ({type(err).__name__}: {first})") from err
    calls = probe.probe
    if not calls and model_type in _PARTLY_REASONS:
        reason = _PARTLY_REASONS[model_type]
        raise _refuse(model, f"sends none of its layers through the attention function ({reason})")
    if not calls:
        raise own_code_refusal(architecture_name(model), model_type)
    unknown = sorted({k for c in calls for k in c.keywords} - INERT_KEYWORDS - APPLIED_KEYWORDS)
    if unknown:
        names = ", ".join(f"`{k}`" for k in unknown)
        raise _refuse(model, f"passes {names} to its attention function, a term maskattn does not apply")

    modules: dict[torch.nn.Module, str] = {}
    counts: dict[str, int] = {}
    heads: dict[str, set[int]] = {}
    for call in calls:
        stack = _stack_of(call, kind)
        if stack is None or modules.setdefault(call.module, stack) != stack:
            raise _refuse(model, "runs attention in a shape that is neither self- nor cross-attention")
        counts[stack] = counts.get(stack, 0) + 1
        heads.setdefault(stack, set()).add(call.num_heads)
    for stack, count in counts.items():
        expected = _expected_layers(model.config, stack)
        if expected is not None and count != expected:
            reason = _PARTLY_REASONS.get(model_type, "the others compute attention in their own code")
            raise _refuse(
                model,
                f"sends {count} of its {expected} {stack} layers through the attention function ({reason})",
            )
        if len(heads[stack]) != 1:
            raise _refuse(model, f"has layers with different numbers of heads in its {stack} stack")
    stacks = tuple(
        Stack(name, counts[name], next(iter(heads[name]))) for name in STACK_NAMES if name in counts
    )
    missing = [name for name in STACK_NAMES if name not in counts] if kind == "seq2seq" else []
    if missing:
        raise own_code_refusal(architecture_name(model), model_type, f"its {' and '.join(missing)} attention")
    return Anatomy(kind, stacks, modules)
