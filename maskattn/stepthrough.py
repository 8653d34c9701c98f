"""Step through masked attention: one head of a real model, and our module under three masking semantics.

``trace_head`` runs the model's own forward once (our registered attention function captures one layer's
queries, keys, values, mask and head outputs) and derives every intermediate of one head from what was
captured: scaled scores, the mask, scores with −∞, softmax weights, weights·V, the concatenation of all heads
and the output projection. Nothing is recomputed with other weights: the numbers are the ones the model used.

``compare_semantics`` runs ``MaskedMultiheadAttention`` on a small input three times: without a mask,
with the correct mask (−∞ on the scores before the softmax) and with the seed document's formula 2 (weights
zeroed after the softmax), and lists what differs as plain numbers (``Finding``) that a page can put into
words.

Mask polarity as everywhere: boolean, True = may attend.

Shapes: B batch (1 here), H heads, T tokens, D head dim, E d_model / hidden size, Dv value head dim.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from .attention import MaskedMultiheadAttention
from .engine import MaskedModel
from .plan import MaskPlan

__all__ = [
    "SEMANTICS",
    "Finding",
    "HeadTrace",
    "SemanticsComparison",
    "compare_semantics",
    "find_output_projection",
    "model_embeddings",
    "random_inputs",
    "seeded_module",
    "trace_head",
]


# ----------------------------------------------------------------------------------------------------
# One head of a real model
# ----------------------------------------------------------------------------------------------------


# What follows W^O in the model (not part of the trace): "residual" adds the layer's input stream (pre-norm
# decoders: GPT-2, Llama); "residual_layernorm" is BERT's LayerNorm(x + dropout(concat·W^O + b)).
ProjectionAfter = Literal["residual", "residual_layernorm"]


@dataclass(frozen=True)
class HeadTrace:
    """Every intermediate of one head of one layer in one masked forward (CPU float32 tensors)."""

    tokens: list[str]
    labels: list[str]
    layer: int
    head: int
    num_heads: int
    query: torch.Tensor  # (T, D) this head's queries (after rotary embeddings where the model has them)
    key: torch.Tensor  # (T, D) this head's keys (after the grouped-query repeat and rotary embeddings)
    value: torch.Tensor  # (T, D)
    scaling: float  # the factor on q·k, 1/√D unless the model says otherwise
    scores: torch.Tensor  # (T, T) q·kᵀ · scaling
    allow: torch.Tensor  # (T, T) bool, the model's own mask ∧ the plan's, True = may attend
    masked_scores: torch.Tensor  # (T, T) scores with −∞ where blocked
    weights: torch.Tensor  # (T, T) softmax weights (0 on blocked cells and on fully blocked rows)
    head_output: torch.Tensor  # (T, D) weights · V, before any gate
    gate: float | None  # the plan's gate on this head (None = untouched)
    concat: (
        torch.Tensor
    )  # (T, H·D) every head's output, gated, side by side: what enters the output projection
    projection_name: str  # e.g. "encoder.layer.3.attention.output.dense"
    projected: torch.Tensor  # (T, E) concat · W^O (+ bias)
    projection_after: ProjectionAfter  # what the model does next that the trace leaves out
    seconds: float = 0.0

    @property
    def num_tokens(self) -> int:
        return len(self.tokens)

    @property
    def head_columns(self) -> tuple[int, int]:
        """Return the ``[start, stop)`` columns of this head inside ``concat``."""
        d = self.head_output.shape[1]
        return self.head * d, (self.head + 1) * d


# Attention modules name their output projection differently; the BERT family keeps it one module up.
_OWN_PROJECTIONS = ("o_proj", "c_proj", "out_proj", "dense", "wo")


def _parent_name(name: str) -> str:
    return name.rsplit(".", 1)[0] if "." in name else ""


def find_output_projection(
    model: nn.Module, attention_module: nn.Module
) -> tuple[str, nn.Module, ProjectionAfter]:
    """Return ``(qualified name, module, what follows)`` of the projection W^O after ``attention_module``.

    Llama-style models: ``self_attn.o_proj``; GPT-2: ``attn.c_proj`` (a Conv1D); BERT-style models keep it
    one level up as ``attention.output.dense`` and add the residual and a LayerNorm after it. Raises
    ValueError for an architecture where no projection is found.
    """
    names = {module: name for name, module in model.named_modules()}
    if attention_module not in names:
        raise ValueError("the captured attention module is not part of this model")
    own = names[attention_module]
    for attr in _OWN_PROJECTIONS:
        candidate = getattr(attention_module, attr, None)
        if isinstance(candidate, nn.Module):
            return f"{own}.{attr}", candidate, "residual"
    parent = model.get_submodule(_parent_name(own)) if own else None
    output = getattr(parent, "output", None)
    dense = getattr(output, "dense", None)
    if isinstance(dense, nn.Module):
        return f"{_parent_name(own)}.output.dense", dense, "residual_layernorm"
    raise ValueError(
        f"cannot find the output projection of {type(attention_module).__name__} at {own!r}: looked for "
        f"{', '.join(_OWN_PROJECTIONS)} on it and output.dense on its parent"
    )


def _head_slice(t: torch.Tensor, head: int) -> torch.Tensor:
    return t[0, head].detach().float().cpu()  # (T, D) of a (B, H, T, D) tensor


def trace_head(model: MaskedModel, text: str, plan: MaskPlan | None, layer: int, head: int) -> HeadTrace:
    """Return every intermediate of ``head`` in ``layer`` when ``model`` reads ``text`` under ``plan``.

    One ordinary masked forward of the model, with our attention function keeping layer ``layer``'s inputs
    and outputs; the weights equal ``model.run(text, plan).attentions[layer, head]``. Bad layer, head, text
    or plan raise ValueError.
    """
    import time

    plan = plan or MaskPlan()
    for what, value, limit in (("layer", layer, model.num_layers), ("head", head, model.num_heads)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < limit:
            raise ValueError(f"{what} must be an integer in 0–{limit - 1}, got {value!r}")
    start = time.perf_counter()
    captured, layer_weights, input_ids = model.capture(text, plan, layer)
    seconds = time.perf_counter() - start
    num_tokens = input_ids.shape[1]
    if captured.extra_terms:
        raise ValueError(
            f"this model adds {', '.join(captured.extra_terms)} to its attention scores; the step-through "
            "shows plain scaled dot-product attention only"
        )

    q = _head_slice(captured.query, head)  # (T, D)
    k = _head_slice(captured.key, head)  # (T, D)
    v = _head_slice(captured.value, head)  # (T, D)
    scaling = captured.scaling
    scaling = 1.0 / math.sqrt(q.shape[-1]) if scaling is None else float(scaling)
    scores = (q @ k.T) * scaling  # (T, T)
    allow_all = captured.allow  # (B|1, 1|H, T, T) bool or None
    if allow_all is None:
        allow = torch.ones(num_tokens, num_tokens, dtype=torch.bool)
    else:
        allow = allow_all[0, head if allow_all.shape[1] > 1 else 0].cpu()  # (T, T)
    masked_scores = scores.masked_fill(~allow, float("-inf"))  # (T, T)
    weights = layer_weights[head].detach().float().cpu()  # (T, T): what the model multiplied with V
    head_output = _head_slice(captured.heads, head)  # (T, D)

    heads = captured.heads  # (B, H, T, D), before the gate
    gates = captured.gate  # (H,) or None
    if gates is not None:
        heads = heads * gates.to(heads.dtype)[None, :, None, None]
    concat = heads.transpose(1, 2).reshape(heads.shape[0], num_tokens, -1)  # (B, T, H·D)
    name, projection, after = find_output_projection(model.model, captured.module)
    with torch.inference_mode():
        projected = projection(concat)  # (B, T, E)
    tokens, labels = model.token_strings(input_ids[0])
    return HeadTrace(
        tokens=tokens,
        labels=labels,
        layer=layer,
        head=head,
        num_heads=heads.shape[1],
        query=q,
        key=k,
        value=v,
        scaling=scaling,
        scores=scores,
        allow=allow,
        masked_scores=masked_scores,
        weights=weights,
        head_output=head_output,
        gate=None if gates is None else float(gates[head]),
        concat=concat[0].detach().float().cpu(),
        projection_name=name,
        projected=projected[0].detach().float().cpu(),
        projection_after=after,
        seconds=seconds,
    )


# ----------------------------------------------------------------------------------------------------
# Three semantics on our module
# ----------------------------------------------------------------------------------------------------

Semantics = Literal["none", "pre_softmax", "post_softmax"]
SEMANTICS: tuple[Semantics, ...] = ("none", "pre_softmax", "post_softmax")

FindingKind = Literal["nothing_blocked", "rows_sum_to_one", "row_sum", "blocked_mass", "fully_blocked"]


@dataclass(frozen=True)
class Finding:
    """One fact the numbers show; a page turns it into a sentence in the reader's language.

    - ``nothing_blocked``: the mask blocks nothing.
    - ``rows_sum_to_one``: under correct masking the ``count`` rows with an allowed key sum to 1 within
      ``value`` (the largest deviation).
    - ``row_sum``: under formula 2, row ``query`` sums to ``value``.
    - ``blocked_mass``: the blocked ``key`` took ``value`` of row ``query``'s probability before formula 2
      zeroed it.
    - ``fully_blocked``: every key of row ``query`` is blocked; its weights and output are 0.
    """

    kind: FindingKind
    query: int | None = None
    key: int | None = None
    value: float | None = None
    count: int | None = None


@dataclass(frozen=True)
class SemanticsComparison:
    """One head under the three semantics: weights ``(T, T)`` and head outputs ``(T, Dv)`` per semantics."""

    head: int
    allow: torch.Tensor  # (T, T) bool
    weights: dict[Semantics, torch.Tensor]  # (T, T) each
    head_outputs: dict[Semantics, torch.Tensor]  # (T, Dv) each: weights · V of this head
    outputs: dict[Semantics, torch.Tensor]  # (T, E) each: the module's output (all heads, W^O)
    findings: list[Finding]

    def row_sums(self, semantics: Semantics) -> torch.Tensor:
        """Return the ``(T,)`` row sums of the weights under ``semantics``."""
        return self.weights[semantics].sum(dim=-1)


def seeded_module(d_model: int, num_heads: int, seed: int, *, gain: float = 1.25) -> MaskedMultiheadAttention:
    """Return a ``MaskedMultiheadAttention`` whose weights are drawn from ``seed`` (the global RNG untouched).

    Weights are normal with standard deviation ``gain / √d_model`` and biases 0, so queries and keys keep the
    input's scale and the scores spread like a trained model's; PyTorch's default ``nn.Linear`` init would
    give almost uniform weights at these sizes, where masking effects are hard to see.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if not gain > 0:
        raise ValueError(f"gain must be > 0, got {gain!r}")
    with torch.random.fork_rng(devices=[]):  # nn.Linear's own init draws from the global generator
        module = MaskedMultiheadAttention(d_model, num_heads).eval()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for linear in (module.w_q, module.w_k, module.w_v, module.w_o):
            std = gain / math.sqrt(linear.in_features)
            linear.weight.copy_(torch.randn(linear.weight.shape, generator=generator) * std)
            linear.bias.zero_()
    return module


def random_inputs(num_tokens: int, d_model: int, seed: int) -> torch.Tensor:
    """Return ``(1, T, E)`` standard normal inputs drawn from ``seed`` (the global RNG untouched)."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(1, num_tokens, d_model, generator=generator)


def model_embeddings(model: MaskedModel, text: str, max_tokens: int) -> tuple[torch.Tensor, list[str]]:
    """Return ``(x (1, T, E), labels)``: the vectors ``model`` feeds its first layer for ``text``.

    That is the embedding output (for BERT: word + position + type embeddings, LayerNorm), i.e. the model's
    ``hidden_states[0]``, standardised per token (mean 0, variance 1: a LayerNorm without its learned scale)
    so it has the scale ``random_inputs`` has. More than ``max_tokens`` tokens (special tokens included)
    raise ValueError.
    """
    input_ids, _dropped = model.tokenize(text)  # (1, T)
    if input_ids.shape[1] > max_tokens:
        raise ValueError(
            f"the text has {input_ids.shape[1]} tokens (special tokens included); "
            f"at most {max_tokens} fit here"
        )
    kwargs: dict[str, Any] = {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids)}
    if model.kind != "encoder":
        kwargs["use_cache"] = False
    with torch.inference_mode():
        out = model.model(**kwargs, output_hidden_states=True)
    _tokens, labels = model.token_strings(input_ids[0])
    x = out.hidden_states[0].detach().float().cpu()  # (1, T, E)
    return torch.nn.functional.layer_norm(x, x.shape[-1:]), labels


def _findings(allow: torch.Tensor, weights: dict[Semantics, torch.Tensor], limit: int) -> list[Finding]:
    blocked = ~allow  # (T, T)
    if not blocked.any():
        return [Finding("nothing_blocked")]
    out: list[Finding] = []
    open_rows = allow.any(dim=-1)  # (T,)
    correct_sums = weights["pre_softmax"].sum(dim=-1)  # (T,)
    if open_rows.any():
        deviation = float((correct_sums[open_rows] - 1.0).abs().max())
        out.append(Finding("rows_sum_to_one", value=deviation, count=int(open_rows.sum())))
    wrong_sums = weights["post_softmax"].sum(dim=-1)  # (T,)
    partial = (open_rows & blocked.any(dim=-1)).nonzero().flatten().tolist()
    for q in sorted(partial, key=lambda r: float(wrong_sums[r]))[:limit]:
        out.append(Finding("row_sum", query=q, value=float(wrong_sums[q])))
        unmasked = weights["none"][q].masked_fill(allow[q], float("-inf"))  # (T,) blocked keys only
        key = int(unmasked.argmax())
        out.append(Finding("blocked_mass", query=q, key=key, value=float(weights["none"][q, key])))
    for q in (~open_rows).nonzero().flatten().tolist()[:limit]:
        out.append(Finding("fully_blocked", query=q))
    return out


def compare_semantics(
    module: MaskedMultiheadAttention, x: torch.Tensor, allow: torch.Tensor, head: int, *, limit: int = 3
) -> SemanticsComparison:
    """Return ``head``'s weights and outputs for self-attention on ``x (1, T, E)`` under the three semantics.

    ``allow`` is the ``(T, T)`` bool mask (True = may attend). ``findings`` name at most ``limit`` rows of
    each kind, the rows with the lowest formula-2 row sums first.
    """
    if x.dim() != 3 or x.shape[0] != 1 or x.shape[2] != module.d_model:
        raise ValueError(f"x must be (1, T, {module.d_model}), got {tuple(x.shape)}")
    T = x.shape[1]
    if allow.dtype != torch.bool or tuple(allow.shape) != (T, T):
        raise ValueError(f"allow must be a ({T}, {T}) bool tensor, got {allow.dtype} {tuple(allow.shape)}")
    if isinstance(head, bool) or not isinstance(head, int) or not 0 <= head < module.num_heads:
        raise ValueError(f"head must be in 0–{module.num_heads - 1}, got {head!r}")
    weights: dict[Semantics, torch.Tensor] = {}
    head_outputs: dict[Semantics, torch.Tensor] = {}
    outputs: dict[Semantics, torch.Tensor] = {}
    with torch.inference_mode():
        v = module.split_heads(module.w_v(x), module.d_v)  # (1, H, T, Dv)
        for semantics in SEMANTICS:
            mode = "pre_softmax" if semantics == "none" else semantics
            out, w = module(
                x, x, x, None if semantics == "none" else allow, mode=mode
            )  # (1, T, E), (1, H, T, T)
            weights[semantics] = w[0, head].float().clone()  # (T, T)
            head_outputs[semantics] = (w[0, head] @ v[0, head]).float().clone()  # (T, Dv)
            outputs[semantics] = out[0].float().clone()  # (T, E)
    return SemanticsComparison(
        head=head,
        allow=allow.clone(),
        weights=weights,
        head_outputs=head_outputs,
        outputs=outputs,
        findings=_findings(allow, weights, limit),
    )
