"""The attention function Hugging Face models call under maskattn: one layer's attention under a plan.

Registered as ``transformers.AttentionInterface`` ``"maskattn"``. The loaded model is never changed per call:
what one forward needs (per-layer masks and gates, where to record weights) lives in a ``CallState`` that
``calling()`` makes current for that forward only. It travels in a ``ContextVar`` rather than as a keyword
argument because several architectures' layers do not forward keyword arguments to their attention; a
ContextVar is per thread (and per asyncio task), so two sessions running at once never see each other's.

A layer is identified by the order of calls, per stack, never by ``module.layer_idx``: DistilBERT, ALBERT and
CLIP have none, ALBERT calls one module for every layer, and BART's encoder, decoder and cross-attention of
layer ℓ all say ℓ. Which stack a module belongs to is decided once at load (``anatomy``).

Shapes: B batch (1, or the plans of ``MaskedModel.run_many``, each element with its own masks and gates),
H query heads, H_kv key/value heads (fewer under grouped-query attention),
Q queries, K keys, D head dim.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import torch
from transformers import AttentionInterface
from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

from . import buffers
from .attention import masked_attention
from .plan import LayerMask

ATTN_IMPLEMENTATION = "maskattn"

# Keywords models hand their attention function that change no score once the mask arrives dense: positions
# were applied to q and k already, the sliding window and causality are in the mask, the rest is bookkeeping
# of other backends. Any other keyword with a value is refused at load (``anatomy``), never ignored.
INERT_KEYWORDS = frozenset(
    {
        "position_ids", "cache_position", "use_cache", "output_attentions", "deterministic",
        "sliding_window", "is_causal", "encoder_hidden_states", "past_key_values", "position_embeddings",
        "cu_seq_lens_q", "cu_seq_lens_k", "max_length_q", "max_length_k", "layer_idx", "output_router_logits",
    }
)  # fmt: skip
# Keywords that change the scores and that this function applies, as Hugging Face's eager code does.
APPLIED_KEYWORDS = frozenset({"softcap", "position_bias", "s_aux", "sinks"})


@dataclass(frozen=True)
class Capture:
    """One layer's inputs and outputs in a forward, kept for the step-through of a head."""

    module: torch.nn.Module
    query: torch.Tensor  # (B, H, Q, D)
    key: torch.Tensor  # (B, H, K, D), repeated to H heads under grouped-query attention
    value: torch.Tensor  # (B, H, K, Dv)
    allow: torch.Tensor | None  # (B|1, 1|H, Q, K) bool, the model's mask and the plan's together
    scaling: float | None
    extra_terms: tuple[str, ...]  # softcap, bias, sinks: score terms beyond scaled q·k
    heads: torch.Tensor  # (B, H, Q, Dv) each head's output, before the gate
    gate: torch.Tensor | None  # (H,)


@dataclass(frozen=True)
class ProbeCall:
    """What one attention call looked like in the probe forward at load."""

    module: torch.nn.Module
    num_heads: int  # query heads
    num_queries: int
    num_keys: int
    keywords: tuple[str, ...]  # keywords with a value (not None) beyond the standard arguments


@dataclass
class CallState:
    """Everything one forward needs and produces; it lives for that forward only.

    ``stacks`` maps each attention module to its stack's name; ``masks`` holds each stack's compiled plan
    (one entry per layer, None = untouched); ``next_layer`` counts the calls per stack, so the n-th call in a
    stack is layer n (a replay from layer ℓ starts the count at ℓ).
    """

    stacks: dict[torch.nn.Module, str]
    masks: dict[str, list[LayerMask | None]] = field(default_factory=dict)
    next_layer: dict[str, int] = field(default_factory=dict)
    weights: dict[tuple[str, int], torch.Tensor] = field(
        default_factory=dict
    )  # (stack, layer) -> (B, H, Q, K)
    capture_at: tuple[str, int] | None = None  # keep this layer's tensors (the step-through)
    captured: Capture | None = None
    probe: list[ProbeCall] | None = None  # at load: record every call instead of masking
    keep_weights: bool = True  # False: a sweep that needs only the output keeps no (B, H, Q, K) per layer
    # Per stack one (L, B, H, Q, K) tensor that each layer's softmax writes its weights into (``weights``
    # then holds views of it), so a run's attentions are never stacked or copied; None for a stack whose
    # layers' weights do not fit one tensor. Off (None) unless the caller asks for it with ``{}``.
    stacked: dict[str, torch.Tensor | None] | None = None
    # The model's masks this forward has read, each with its (allow, bias) (``_model_mask``).
    model_masks: list[tuple[torch.Tensor, tuple[torch.Tensor | None, torch.Tensor | None]]] = field(
        default_factory=list
    )

    def slot(self, module: torch.nn.Module) -> tuple[str, int]:
        """Return ``(stack, layer)`` of this call of ``module`` and advance that stack's count."""
        stack = self.stacks.get(module)
        if stack is None:
            raise RuntimeError(
                f"{type(module).__name__} ran attention but was not seen when the model was loaded"
            )
        layer = self.next_layer.get(stack, 0)
        self.next_layer[stack] = layer + 1
        return stack, layer

    def weights_slot(
        self, slot: tuple[str, int], shape: tuple[int, ...], dtype: torch.dtype, device: torch.device
    ) -> torch.Tensor | None:
        """Return the ``shape`` slice of the stack's tensor that layer ``slot`` writes its weights into.

        The tensor is made at the stack's first call, one slice per layer of its compiled plan; None when
        stacking is off or this layer's weights differ in shape or dtype (the caller then stacks them).
        """
        if self.stacked is None or not self.keep_weights:
            return None
        stack, layer = slot
        if stack not in self.stacked:
            layers = len(self.masks.get(stack) or ())
            # A normal tensor even inside the forward's inference mode: the run's result is this tensor, and
            # an inference tensor could not be changed in place (nor take the layers below a replay) later.
            buffer = buffers.empty((layers, *shape), dtype, device) if layers else None
            self.stacked[stack] = buffer
        buffer = self.stacked[stack]
        if buffer is None or layer >= buffer.shape[0] or buffer.shape[1:] != shape or buffer.dtype != dtype:
            self.stacked[stack] = None  # views already handed out keep their storage
            return None
        return buffer[layer]


_CURRENT: ContextVar[CallState | None] = ContextVar("maskattn_call", default=None)


@contextmanager
def calling(state: CallState) -> Iterator[CallState]:
    """Make ``state`` the plan of every attention call in this thread until the block ends."""
    token = _CURRENT.set(state)
    try:
        yield state
    finally:
        _CURRENT.reset(token)


def _model_mask(
    call: CallState | None, mask: torch.Tensor | None
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Return the model's ``mask`` as ``(allow, bias)``: allow None where it blocks nothing (no padding, not
    causal: no masking passes), bias the finite part of a float mask. Read once per forward: every layer
    of a stack is handed the same mask tensor."""
    if mask is None:
        return None, None
    seen = call.model_masks if call is not None else []
    for known, split in seen:
        if known is mask:
            return split
    allow, bias = (mask, None) if mask.dtype == torch.bool else _split_float_mask(mask)
    split = (None if bool(allow.all()) else allow, bias)
    seen.append((mask, split))  # the tensor is kept with its reading, so its identity cannot be reused
    return split


def _split_float_mask(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Return ``(allow, bias)`` of an additive float mask: most-negative cells blocked, finite rest kept."""
    allow = mask > torch.finfo(mask.dtype).min / 2  # 0 / most-negative → bool
    bias = mask.masked_fill(~allow, 0.0)
    return allow, None if not bool(bias.any()) else bias  # an ALiBi-style bias survives as a bias


def maskattn_attention(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float | None = None,
    dropout: float = 0.0,
    softcap: float | None = None,
    position_bias: torch.Tensor | None = None,
    s_aux: torch.Tensor | None = None,
    sinks: torch.Tensor | None = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(out (B, Q, H, Dv), weights (B, H, Q, K))``: one layer's attention under this call's plan."""
    call = _CURRENT.get()
    if call is not None and call.probe is not None:
        keywords = {"softcap": softcap, "position_bias": position_bias, "s_aux": s_aux, "sinks": sinks}
        keywords.update(kwargs)
        used = tuple(sorted(k for k, v in keywords.items() if v is not None))
        call.probe.append(ProbeCall(module, query.shape[1], query.shape[2], key.shape[2], used))

    num_heads, num_kv_heads = query.shape[1], key.shape[1]
    if num_kv_heads != num_heads:
        # Grouped-query attention: query head h reads kv head h // (H / H_kv); plan head h = query head h.
        key = key.repeat_interleave(num_heads // num_kv_heads, dim=1)  # (B, H, K, D)
        value = value.repeat_interleave(num_heads // num_kv_heads, dim=1)  # (B, H, K, Dv)

    allow, bias = _model_mask(call, attention_mask)  # (B, 1, Q, K) bool or None, additive float or None
    if position_bias is not None:
        bias = position_bias if bias is None else position_bias + bias
    if attention_mask is None and kwargs.get("is_causal") is True and query.shape[2] > 1:
        # A model that leaves causality to the kernel: apply it here (SDPA's is_causal, top-left aligned).
        allow = torch.ones(query.shape[2], key.shape[2], dtype=torch.bool, device=query.device).tril()
        allow = None if bool(allow.all()) else allow  # one key: nothing to block

    slot = call.slot(module) if call is not None and call.probe is None else None
    stack_masks = call.masks.get(slot[0]) if slot is not None else None
    layer = stack_masks[slot[1]] if stack_masks else None
    allow_heads = None  # with the model blocking nothing, only the heads the plan masks need masking passes
    if layer is not None and layer.allow is not None:
        q_len, k_len = query.shape[2], key.shape[2]
        plan_allow = layer.allow  # (H, Q, K) or (B, H, Q, K)
        if plan_allow.shape[-2:] != (q_len, k_len):  # fewer queries than compiled: the last rows
            plan_allow = plan_allow[..., -q_len:, -k_len:]
        plan_allow = plan_allow[None] if plan_allow.dim() == 3 else plan_allow  # (1|B, H, Q, K)
        if allow is None:
            allow, allow_heads = plan_allow, layer.masked_heads
        else:
            allow = allow & plan_allow
    kernel_allow = allow if allow_heads is None else allow[:, allow_heads]  # (1|B, n, Q, K)

    sink_logits = s_aux if s_aux is not None else sinks
    weights_out = None
    if slot is not None:
        shape = (query.shape[0], num_heads, query.shape[2], key.shape[2])  # (B, H, Q, K)
        weights_out = call.weights_slot(slot, shape, query.dtype, query.device)
    out, weights = masked_attention(
        query,
        key,
        value,
        kernel_allow,
        scale=scaling,
        dropout_p=dropout if module.training else 0.0,
        softcap=softcap,
        bias=bias,
        sinks=sink_logits,
        weights_out=weights_out,
        allow_heads=allow_heads,
    )  # (B, H, Q, Dv), (B, H, Q, K)
    if slot is not None and call.capture_at == slot:
        terms = (("softcap", softcap), ("bias", bias), ("sinks", sink_logits))
        terms = tuple(name for name, term in terms if term is not None)
        call.captured = Capture(
            module, query, key, value, allow, scaling, terms, out, None if layer is None else layer.gate
        )
    if layer is not None and layer.mean_ablate is not None:
        # Mean ablation: the head's output z at every position becomes its mean over the positions.
        marked = layer.mean_ablate[..., None, None]  # (H, 1, 1) or (B, H, 1, 1)
        out = torch.where(marked, out.mean(dim=2, keepdim=True), out)  # (B, H, Q, Dv)
    if layer is not None and layer.gate is not None:
        gate = layer.gate.to(out.dtype)  # (H,) or (B, H)
        gate = gate[None, :, None, None] if gate.dim() == 1 else gate[:, :, None, None]  # (1|B, H, 1, 1)
        out = out * gate  # the head's output z, before the output projection
    if slot is not None and call.keep_weights:
        call.weights[slot] = weights
    return out.transpose(1, 2).contiguous(), weights  # (B, Q, H, Dv)


def maskattn_mask(*args: Any, **kwargs: Any) -> torch.Tensor | None:
    """Return the model's own mask as dense bool (True = may attend), never skipped: causality is explicit."""
    kwargs["allow_is_causal_skip"] = False
    kwargs["allow_is_bidirectional_skip"] = False
    return sdpa_mask(*args, **kwargs)


AttentionInterface.register(ATTN_IMPLEMENTATION, maskattn_attention)
AttentionMaskInterface.register(ATTN_IMPLEMENTATION, maskattn_mask)
