"""Masked scaled dot-product attention and the multi-head module built on it.

Shapes:
    B batch, H heads, Q queries, K keys, D query/key head dim, Dv value head dim,
    L target length, S source length (the module's names for Q and K), E d_model.

Masks are boolean, **True = may attend** (as in ``scaled_dot_product_attention``). A query row whose keys are
all blocked gets weights 0 and output 0, never NaN: softmax over an empty set has no meaning, and "attends to
nothing, contributes nothing" is the defined result we document and test.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

Mode = Literal["pre_softmax", "post_softmax"]
MODES: tuple[Mode, ...] = ("pre_softmax", "post_softmax")
# Weights of at most this many numbers find their fully blocked rows from the mask (``_zero_blocked_rows``).
SMALL_WEIGHTS = 1 << 18


def _check_broadcast(allow: torch.Tensor, target: tuple[int, ...], what: str) -> None:
    """Raise ValueError unless ``allow`` broadcasts to ``target`` without enlarging it.

    Written out rather than through ``torch.broadcast_shapes``, which costs ~50 µs a call: this runs for
    every layer of every forward.
    """
    shape = tuple(allow.shape)
    if shape == target:  # a plan's mask of a one-text forward
        return
    n = max(len(shape), len(target))
    pairs = list(zip((1,) * (n - len(shape)) + shape, (1,) * (n - len(target)) + target, strict=True))
    if any(got != size and 1 not in (got, size) for got, size in pairs):
        raise ValueError(f"{what} of shape {shape} does not broadcast to {target}")
    if len(shape) > len(target) or any(got != size and size == 1 for got, size in pairs):
        raise ValueError(f"{what} of shape {shape} would enlarge the scores {target}")


def masked_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    allow: torch.Tensor | None = None,
    *,
    scale: float | None = None,
    dropout_p: float = 0.0,
    mode: Mode = "pre_softmax",
    softcap: float | None = None,
    bias: torch.Tensor | None = None,
    sinks: torch.Tensor | None = None,
    weights_out: torch.Tensor | None = None,
    allow_heads: slice | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(out (B, H, Q, Dv), weights (B, H, Q, K))`` of attention under the boolean mask ``allow``.

    ``allow`` broadcasts to ``(B, H, Q, K)`` like SDPA's ``attn_mask`` (True = may attend). ``mode``:
    ``"pre_softmax"`` is correct masking (blocked scores set to −∞ before the softmax, rows sum to 1);
    ``"post_softmax"`` is the seed document's formula 2 (softmax first, blocked weights zeroed after), kept to
    show students the difference: its rows no longer sum to 1. ``weights`` are the ones multiplied with ``v``,
    before dropout.

    The terms some models add to their scores, in the order Hugging Face's eager attention applies them:
    ``softcap`` c turns scores s into c·tanh(s / c) (Gemma-2); ``bias`` broadcasting to ``(B, H, Q, K)`` is
    added next (T5's relative position bias, ALiBi, a float mask's finite part); ``sinks`` ``(H,)`` is one
    extra logit per head that joins the softmax and is then dropped (GPT-OSS), so rows sum to less than 1.
    All of them come before the −∞ of ``allow``: a blocked cell stays exactly 0 whatever its bias.

    ``weights_out`` (B, H, Q, K), of q's dtype, receives the weights and is what is returned: a
    caller that stacks every layer's weights hands in its slice of the stack, so they are never copied.

    ``allow_heads``, a range of heads (a slice, step 1), says that ``allow`` holds the masks of those heads
    only (its head dimension is their number) and that the other heads attend freely: a plan that paints one
    head of twelve then costs one head's masking passes, not twelve.
    """
    if q.dim() != 4 or k.dim() != 4 or v.dim() != 4:
        raise ValueError(
            f"q, k, v must be 4-D (B, H, Q, D), (B, H, K, D), (B, H, K, Dv); got {tuple(q.shape)}, "
            f"{tuple(k.shape)}, {tuple(v.shape)}"
        )
    B, H, Q, D = q.shape
    if k.shape[:2] != (B, H) or k.shape[3] != D:
        raise ValueError(f"k must be (B={B}, H={H}, K, D={D}), got {tuple(k.shape)}")
    if v.shape[:3] != k.shape[:3]:
        raise ValueError(f"v must be (B={B}, H={H}, K={k.shape[2]}, Dv), got {tuple(v.shape)}")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if not 0.0 <= dropout_p < 1.0:
        raise ValueError(f"dropout_p must be in [0, 1), got {dropout_p}")
    K = k.shape[2]
    scale = 1.0 / math.sqrt(D) if scale is None else scale
    if weights_out is not None and (tuple(weights_out.shape) != (B, H, Q, K) or weights_out.dtype != q.dtype):
        got = f"{tuple(weights_out.shape)} {weights_out.dtype}"
        raise ValueError(f"weights_out must be {(B, H, Q, K)} {q.dtype}, got {got}")
    # On the CPU the scores are written straight into ``weights_out`` and the softmax runs in place there: one
    # (B, H, Q, K) tensor fewer written and read per layer (a tenth of a layer's attention at T = 512). On
    # other devices the scores get their own tensor: in-place softmax is checked on the CPU kernels only.
    into_out = (
        weights_out is not None
        and q.device.type == "cpu"
        and not (torch.is_grad_enabled() and (q.requires_grad or k.requires_grad))
    )
    product = torch.matmul(q, k.transpose(-2, -1), out=weights_out) if into_out else q @ k.transpose(-2, -1)
    scores = product.mul_(scale)  # (B, H, Q, K); in place: the product is ours, and large
    if softcap is not None:
        scores = torch.tanh(scores / softcap) * softcap
    if bias is not None:
        _check_broadcast(bias, (B, H, Q, K), "bias")
        scores = scores + bias.to(scores.dtype)
    if sinks is not None and tuple(sinks.shape) != (H,):
        raise ValueError(f"sinks must be (H={H},), got {tuple(sinks.shape)}")
    heads = _head_range(allow_heads, H)
    if allow is not None:
        if allow.dtype != torch.bool:
            raise ValueError(f"allow must be a bool tensor (True = may attend), got dtype {allow.dtype}")
        _check_broadcast(
            allow, (B, len(heads), Q, K), "allow" if allow_heads is None else "allow of allow_heads"
        )
        allow = allow.to(scores.device)
        if len(heads) < H and scores.requires_grad:  # autograd cannot take the in-place passes on a view
            allow = _widen(allow, heads, H)
            heads = range(H)

    if allow is None or not heads:
        weights = _softmax(scores, sinks, weights_out)  # (B, H, Q, K)
    elif mode == "pre_softmax":
        scores = _on_heads(scores, heads, lambda part: _block(part, allow))
        weights = _softmax(scores, sinks, weights_out)  # blocked cells get exactly exp(−∞) = 0
        weights = _on_heads(weights, heads, lambda part: _zero_blocked_rows(part, allow))
    else:  # post_softmax: the seed's formula 2, wrong on purpose
        weights = _on_heads(_softmax(scores, sinks, weights_out), heads, lambda part: _fill(part, ~allow))

    dropped = F.dropout(weights, p=dropout_p) if dropout_p > 0.0 else weights
    out = dropped @ v  # (B, H, Q, Dv)
    return out, weights


def _head_range(allow_heads: slice | None, num_heads: int) -> range:
    """Return the heads ``allow_heads`` names (every head for None); ValueError unless a step-1 slice."""
    if allow_heads is None:
        return range(num_heads)
    if not isinstance(allow_heads, slice) or allow_heads.step not in (None, 1):
        raise ValueError(f"allow_heads must be a slice of heads with step 1, got {allow_heads!r}")
    return range(num_heads)[allow_heads]


def _on_heads(
    tensor: torch.Tensor, heads: range, change: Callable[[torch.Tensor], torch.Tensor]
) -> torch.Tensor:
    """Return ``tensor (B, H, Q, K)`` after ``change`` of its ``heads``: in place on a view for a range."""
    if len(heads) == tensor.shape[1]:
        return change(tensor)
    change(tensor[:, heads.start : heads.stop])  # in place: this path is never taken under autograd
    return tensor


def _widen(allow: torch.Tensor, heads: range, num_heads: int) -> torch.Tensor:
    """Return the mask of ``heads`` as a mask of every head (the others all True)."""
    allow = allow.reshape((1,) * (4 - allow.dim()) + tuple(allow.shape))  # (B|1, n|1, Q|1, K|1)
    shape = (allow.shape[0], num_heads, *allow.shape[2:])
    full = allow.new_ones(shape)
    full[:, heads.start : heads.stop] = allow
    return full


def _block(scores: torch.Tensor, allow: torch.Tensor) -> torch.Tensor:
    """Return ``scores`` with −∞ wherever ``allow`` is False, in place unless autograd needs the original."""
    minus_inf = scores.new_full((), float("-inf"))
    if scores.requires_grad:
        return torch.where(allow, scores, minus_inf)
    # ``where`` into ``scores`` itself: half the time of ``masked_fill_(~allow)``, and no inverted mask.
    return torch.where(allow, scores, minus_inf, out=scores)


def _zero_blocked_rows(weights: torch.Tensor, allow: torch.Tensor) -> torch.Tensor:
    """Return ``weights (B, H, Q, K)`` with every query row whose keys ``allow`` blocks all set to 0.

    Such a row is all −∞ before the softmax and NaN after it, in every column: candidates are read from one
    column (B·H·Q numbers, not a pass over the weights or the mask) and confirmed against ``allow``, so a NaN
    from a model that overflows stays NaN, for the run to refuse, instead of becoming a plausible 0. Small
    weights (``SMALL_WEIGHTS``) ask ``allow`` which rows keep a key instead: two ops in place of up to eight,
    which is what counts at short texts; an overflow's NaN stays NaN there too.
    """
    if weights.numel() <= SMALL_WEIGHTS and not weights.requires_grad:
        # Short texts: each small op costs more than the pass it avoids, so ask ``allow`` directly.
        open_rows = allow.any(dim=-1, keepdim=True)  # (B|1, H|1, Q, 1)
        return torch.where(open_rows, weights, weights.new_zeros(()), out=weights)
    suspects = torch.isnan(weights[..., 0])  # (B, H, Q)
    if not bool(suspects.any()):
        return weights
    rows = suspects.nonzero(as_tuple=True)  # N suspect rows as (b, h, q) index tensors
    open_keys = allow.expand(weights.shape)[rows].any(dim=-1)  # (N,): a key left in that row
    if bool(open_keys.any()):  # rare: NaN from an overflow, to be kept
        rows = tuple(index[~open_keys] for index in rows)
    if weights.requires_grad:  # autograd needs the softmax's output as it was
        return weights.index_put(rows, weights.new_zeros(()))
    return weights.index_put_(rows, weights.new_zeros(()))


def _fill(weights: torch.Tensor, cells: torch.Tensor) -> torch.Tensor:
    """Return ``weights`` with ``cells`` set to 0, in place (it may be a slice of a caller's stack) unless
    autograd needs the softmax's output as it was."""
    if weights.requires_grad:
        return weights.masked_fill(cells, 0.0)
    return weights.masked_fill_(cells, 0.0)


def _softmax(
    scores: torch.Tensor, sinks: torch.Tensor | None, out: torch.Tensor | None = None
) -> torch.Tensor:
    """Return the softmax of ``scores (B, H, Q, K)`` over keys (into ``out`` if given), with sink logits."""
    if sinks is None:
        return torch.softmax(scores, dim=-1) if out is None else torch.softmax(scores, dim=-1, out=out)
    B, H, Q, _ = scores.shape
    sink = sinks.to(scores.dtype).reshape(1, H, 1, 1).expand(B, H, Q, 1)  # (B, H, Q, 1)
    logits = torch.cat([scores, sink], dim=-1)  # (B, H, Q, K + 1)
    # As GPT-OSS's eager code does: the max comes off first, so its rounding is the same.
    logits = logits - logits.max(dim=-1, keepdim=True).values
    weights = torch.softmax(logits, dim=-1)[..., :-1]  # (B, H, Q, K): the sink's share is dropped
    return weights if out is None else out.copy_(weights)


def expand_allow(allow: torch.Tensor | None, batch: int, heads: int, L: int, S: int) -> torch.Tensor | None:
    """Return ``allow`` given as ``(L, S)``, ``(B, L, S)`` or ``(B, H, L, S)`` reshaped to broadcast as 4-D.

    Any of these dims may be 1 and is then broadcast, so ``padding_batch``'s ``(B, 1, 1, S)`` fits.
    """
    if allow is None:
        return None
    if allow.dtype != torch.bool:
        raise ValueError(f"allow must be a bool tensor (True = may attend), got dtype {allow.dtype}")
    if allow.dim() == 2:
        want = (L, S)
        view = allow[None, None]  # (1, 1, L, S)
    elif allow.dim() == 3:
        want = (batch, L, S)
        view = allow[:, None]  # (B, 1, L, S)
    elif allow.dim() == 4:
        want = (batch, heads, L, S)
        view = allow
    else:
        raise ValueError(f"allow must be (L, S), (B, L, S) or (B, H, L, S), got {tuple(allow.shape)}")
    if any(got not in (1, size) for got, size in zip(allow.shape, want, strict=True)):
        raise ValueError(
            f"allow has shape {tuple(allow.shape)}, expected {want} (or 1 in any dim) for this input"
        )
    return view


class MaskedMultiheadAttention(nn.Module):
    """Batch-first multi-head attention whose mask is an argument of each call (True = may attend).

    ``d_k`` and ``d_v`` are the per-head query/key and value sizes (default ``d_model // num_heads``); they
    may differ from each other and from ``d_model / num_heads``. Nothing about a mask is kept between calls.
    """

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        d_k: int | None = None,
        d_v: int | None = None,
        dropout: float = 0.0,
        bias: bool = True,
    ) -> None:
        super().__init__()
        for what, value in (("d_model", d_model), ("num_heads", num_heads), ("d_k", d_k), ("d_v", d_v)):
            # d_k=0 must not fall back to the default silently, so 0 is checked here, not by ``or``.
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
                raise ValueError(f"{what} must be a positive integer, got {value!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        if (d_k is None or d_v is None) and d_model % num_heads:
            raise ValueError(f"d_model {d_model} is not divisible by num_heads {num_heads}; pass d_k and d_v")
        self.d_model = d_model
        self.num_heads = num_heads
        self.d_k = d_model // num_heads if d_k is None else d_k
        self.d_v = d_model // num_heads if d_v is None else d_v
        self.dropout = dropout
        self.w_q = nn.Linear(d_model, num_heads * self.d_k, bias=bias)
        self.w_k = nn.Linear(d_model, num_heads * self.d_k, bias=bias)
        self.w_v = nn.Linear(d_model, num_heads * self.d_v, bias=bias)
        self.w_o = nn.Linear(num_heads * self.d_v, d_model, bias=bias)

    def split_heads(self, x: torch.Tensor, head_dim: int) -> torch.Tensor:
        """Return ``(B, T, H·d)`` as ``(B, H, T, d)``."""
        B, T, _ = x.shape
        return x.view(B, T, self.num_heads, head_dim).transpose(1, 2)

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        allow: torch.Tensor | None = None,
        *,
        mode: Mode = "pre_softmax",
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(out (B, L, d_model), weights (B, H, L, S))``.

        ``allow`` is (L, S), (B, L, S) or (B, H, L, S), True = may attend; size-1 dims broadcast.
        """
        if query.dim() != 3 or key.dim() != 3 or value.dim() != 3:
            raise ValueError(
                "query, key, value must be batch-first (B, L, d_model), (B, S, d_model), (B, S, d_model); "
                f"got {tuple(query.shape)}, {tuple(key.shape)}, {tuple(value.shape)}"
            )
        B, L, E = query.shape
        S = key.shape[1]
        if self.d_model != E or key.shape != (B, S, self.d_model) or value.shape != (B, S, self.d_model):
            raise ValueError(
                f"expected query (B, L, {self.d_model}) and key/value (B, S, {self.d_model}) with the same "
                f"B, got {tuple(query.shape)}, {tuple(key.shape)}, {tuple(value.shape)}"
            )
        allow4 = expand_allow(allow, B, self.num_heads, L, S)  # broadcastable to (B, H, L, S)

        q = self.split_heads(self.w_q(query), self.d_k)  # (B, H, L, d_k)
        k = self.split_heads(self.w_k(key), self.d_k)  # (B, H, S, d_k)
        v = self.split_heads(self.w_v(value), self.d_v)  # (B, H, S, d_v)
        dropout_p = self.dropout if self.training else 0.0
        heads, weights = masked_attention(q, k, v, allow4, dropout_p=dropout_p, mode=mode)  # (B, H, L, d_v)
        concat = heads.transpose(1, 2).reshape(B, L, self.num_heads * self.d_v)  # (B, L, H·d_v)
        return self.w_o(concat), weights  # (B, L, d_model), (B, H, L, S)

    @classmethod
    def from_torch(cls, mha: nn.MultiheadAttention) -> MaskedMultiheadAttention:
        """Return a module with the weights of ``torch.nn.MultiheadAttention`` (same d_model, heads, dropout).

        Only weights are copied: our module is always batch-first, and its masks are True = may attend (pass
        ``~attn_mask`` where the torch module took a True = blocked mask).
        """
        if not mha._qkv_same_embed_dim:
            raise ValueError("from_torch needs an nn.MultiheadAttention whose kdim and vdim equal embed_dim")
        if mha.bias_k is not None or mha.add_zero_attn:
            # Both append a key/value column this module does not have; a copy would differ silently.
            raise ValueError(
                "from_torch cannot copy an nn.MultiheadAttention built with add_bias_kv or add_zero_attn"
            )
        has_bias = mha.in_proj_bias is not None
        out = cls(mha.embed_dim, mha.num_heads, dropout=mha.dropout, bias=has_bias)
        w_q, w_k, w_v = mha.in_proj_weight.detach().chunk(3, dim=0)
        with torch.no_grad():
            out.w_q.weight.copy_(w_q)
            out.w_k.weight.copy_(w_k)
            out.w_v.weight.copy_(w_v)
            out.w_o.weight.copy_(mha.out_proj.weight)
            if has_bias:
                b_q, b_k, b_v = mha.in_proj_bias.detach().chunk(3)
                out.w_q.bias.copy_(b_q)
                out.w_k.bias.copy_(b_k)
                out.w_v.bias.copy_(b_v)
                out.w_o.bias.copy_(mha.out_proj.bias)
        return out.to(device=mha.in_proj_weight.device, dtype=mha.in_proj_weight.dtype)
