"""Mask algebra: small composable mask functions, made dense only when asked.

One polarity everywhere: a boolean mask is **True where the query may attend to the key**, as in
``torch.nn.functional.scaled_dot_product_attention`` and Hugging Face. A mask is a function
``(q_idx, k_idx) -> bool`` over broadcast index tensors (like FlexAttention's ``mask_mod``), so masks compose
with ``&``, ``|`` and ``~`` without knowing the sequence length; ``Mask.dense(Q, K)`` materialises a
``(Q, K)`` tensor at the last moment.

Shapes: ``Q`` queries (rows), ``K`` keys (columns).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

MaskFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

ALLOWED_CHAR = "■"
BLOCKED_CHAR = "⬚"


@dataclass(frozen=True)
class Mask:
    """A boolean attention mask as a function of query and key indices (True = may attend)."""

    fn: MaskFn
    name: str = "mask"

    def __call__(self, q_idx: torch.Tensor, k_idx: torch.Tensor) -> torch.Tensor:
        return self.fn(q_idx, k_idx)

    def __and__(self, other: Mask) -> Mask:
        return and_masks(self, other)

    def __or__(self, other: Mask) -> Mask:
        return or_masks(self, other)

    def __invert__(self) -> Mask:
        return Mask(lambda q, k: ~self.fn(q, k), f"not({self.name})")

    def dense(self, num_queries: int, num_keys: int | None = None, device: Any = None) -> torch.Tensor:
        """Return the ``(Q, K)`` bool tensor of this mask; ``K`` defaults to ``Q``."""
        num_keys = num_queries if num_keys is None else num_keys
        for size in (num_queries, num_keys):
            if isinstance(size, bool) or not isinstance(size, int) or size < 0:
                raise ValueError(
                    f"mask size must be non-negative integers, got ({num_queries!r}, {num_keys!r})"
                )
        q_idx = torch.arange(num_queries, device=device)[:, None]  # (Q, 1)
        k_idx = torch.arange(num_keys, device=device)[None, :]  # (1, K)
        out = self.fn(q_idx, k_idx)
        return torch.broadcast_to(
            torch.as_tensor(out, dtype=torch.bool, device=device), (num_queries, num_keys)
        )

    def grid(self, num_queries: int, num_keys: int | None = None) -> str:
        """Return the mask as a ``■`` (may attend) / ``⬚`` (blocked) grid, one line per query."""
        return render_grid(self.dense(num_queries, num_keys))


def render_grid(allow: torch.Tensor) -> str:
    """Return a ``(Q, K)`` bool mask as text: one line per query, ``■`` = may attend, ``⬚`` = blocked."""
    if allow.dim() != 2:
        raise ValueError(f"render_grid wants a (Q, K) mask, got shape {tuple(allow.shape)}")
    rows = allow.to(torch.bool).tolist()
    return "\n".join("".join(ALLOWED_CHAR if cell else BLOCKED_CHAR for cell in row) for row in rows)


def parse_grid(text: str) -> torch.Tensor:
    """Return the ``(Q, K)`` bool mask written as a ``■``/``⬚`` grid (the inverse of ``render_grid``)."""
    lines = [line.strip() for line in text.strip().splitlines()]
    if not lines or any(len(line) != len(lines[0]) for line in lines):
        raise ValueError("a grid needs one or more lines of equal length")
    if any(ch not in (ALLOWED_CHAR, BLOCKED_CHAR) for line in lines for ch in line):
        raise ValueError(f"a grid holds only {ALLOWED_CHAR!r} and {BLOCKED_CHAR!r}")
    return torch.tensor([[ch == ALLOWED_CHAR for ch in line] for line in lines], dtype=torch.bool)


def and_masks(*masks: Mask) -> Mask:
    """Return the mask allowing a pair only where every given mask allows it."""
    if not masks:
        return full()

    def fn(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        out = masks[0](q, k)
        for m in masks[1:]:
            out = out & m(q, k)
        return out

    return Mask(fn, " & ".join(m.name for m in masks))


def or_masks(*masks: Mask) -> Mask:
    """Return the mask allowing a pair where any given mask allows it."""
    if not masks:
        return none_allowed()

    def fn(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        out = masks[0](q, k)
        for m in masks[1:]:
            out = out | m(q, k)
        return out

    return Mask(fn, " | ".join(m.name for m in masks))


# ------------------------------------------------------------------------------------------------------------
# Presets. Each returns a Mask; parameters are checked here, at the edge, with clear errors.
# ------------------------------------------------------------------------------------------------------------


MAX_PARAMETER = 2**31 - 1  # beyond any sequence; larger values would overflow the index arithmetic


def _index_list(values: Iterable[int], what: str) -> list[int]:
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise ValueError(f"{what} must be a list of non-negative integers, got {values!r}")
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ValueError(f"{what} must be non-negative integers, got {v!r}")
        if v > MAX_PARAMETER:
            raise ValueError(f"{what} must be at most {MAX_PARAMETER}, got {v!r}")
        out.append(v)
    return out


def _positive_int(value: Any, what: str, minimum: int = 1, maximum: int | None = MAX_PARAMETER) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{what} must be an integer ≥ {minimum}, got {value!r}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{what} must be at most {maximum}, got {value!r}")
    return value


def _isin(idx: torch.Tensor, values: Sequence[int]) -> torch.Tensor:
    return torch.isin(idx, torch.tensor(list(values), dtype=idx.dtype, device=idx.device))


def full() -> Mask:
    """Return the mask that allows every pair (no masking)."""
    return Mask(lambda q, k: torch.ones_like(q * k, dtype=torch.bool), "full")


def none_allowed() -> Mask:
    """Return the mask that blocks every pair."""
    return Mask(lambda q, k: torch.zeros_like(q * k, dtype=torch.bool), "none")


def causal() -> Mask:
    """Return the decoder mask: a query attends to itself and earlier keys."""
    return Mask(lambda q, k: k <= q, "causal")


def sliding_window(size: int, two_sided: bool = True) -> Mask:
    """Return a local mask: keys within ``size`` positions of the query (only earlier ones if one-sided)."""
    size = _positive_int(size, "window size", minimum=0)
    if not isinstance(two_sided, bool):
        raise ValueError(f"two_sided must be True or False, got {two_sided!r}")
    if two_sided:
        return Mask(lambda q, k: (q - k).abs() <= size, f"sliding_window({size})")
    return Mask(lambda q, k: (k <= q) & (q - k <= size), f"sliding_window({size}, causal)")


def dilated(stride: int) -> Mask:
    """Return a strided mask: keys whose distance to the query is a multiple of ``stride``."""
    stride = _positive_int(stride, "stride")
    return Mask(lambda q, k: (q - k).remainder(stride) == 0, f"dilated({stride})")


def prefix_lm(prefix_length: int) -> Mask:
    """Return the prefix-LM mask: every query sees the whole prefix, later keys causally."""
    prefix_length = _positive_int(prefix_length, "prefix length", minimum=0)
    return Mask(lambda q, k: (k < prefix_length) | (k <= q), f"prefix_lm({prefix_length})")


def block_diagonal(boundaries: Sequence[int]) -> Mask:
    """Return a packing mask: tokens attend only within their segment; segments start at ``boundaries``.

    ``boundaries=[5, 9]`` makes segments ``[0, 5)``, ``[5, 9)`` and ``[9, ∞)``.
    """
    starts = sorted(set(_index_list(boundaries, "segment boundaries")))
    edges = torch.tensor(starts, dtype=torch.long)

    def fn(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        e = edges.to(q.device)
        return torch.bucketize(q, e, right=True) == torch.bucketize(k, e, right=True)

    return Mask(fn, f"block_diagonal({starts})")


def global_tokens(indices: Sequence[int]) -> Mask:
    """Return the mask allowing the given tokens to see, and be seen by, every token (use with ``|``)."""
    idx = _index_list(indices, "global token indices")
    return Mask(lambda q, k: _isin(q, idx) | _isin(k, idx), f"global({idx})")


def padding(length: int) -> Mask:
    """Return the key-padding mask of one sequence: only the first ``length`` keys are real tokens."""
    length = _positive_int(length, "padding length", minimum=0)
    return Mask(lambda q, k: (k < length) & torch.ones_like(q, dtype=torch.bool), f"padding({length})")


def padding_batch(lengths: Sequence[int], num_keys: int) -> torch.Tensor:
    """Return a ``(B, 1, 1, K)`` key-padding mask for the given lengths (broadcasts over heads, queries)."""
    lengths = _index_list(lengths, "lengths")
    num_keys = _positive_int(num_keys, "number of keys", minimum=0)
    if any(n > num_keys for n in lengths):
        raise ValueError(f"lengths {lengths} exceed the number of keys {num_keys}")
    keys = torch.arange(num_keys)[None, :]  # (1, K)
    return (keys < torch.tensor(lengths, dtype=torch.long)[:, None])[:, None, None, :]  # (B, 1, 1, K)


def _mul32(x: torch.Tensor, constant: int) -> torch.Tensor:
    """Return ``x · constant mod 2³²`` for ``0 ≤ x < 2³²`` without int64 overflow (the product nears 2⁶⁴)."""
    low, high = constant & 0xFFFF, constant >> 16
    return (x * low + (((x * high) & 0xFFFF) << 16)) & 0xFFFFFFFF


def random(density: float, seed: int = 0) -> Mask:
    """Return a random mask allowing about ``density`` of the pairs; a pure function of (seed, q, k)."""
    if isinstance(density, bool) or not isinstance(density, int | float) or not 0.0 <= density <= 1.0:
        raise ValueError(f"density must be a number in [0, 1], got {density!r}")
    seed = _positive_int(seed, "seed", minimum=0, maximum=None)  # any size: folded to 32 bits below
    # Folded to 32 bits here: a large Python int added to an int64 tensor would overflow.
    seed_term = (seed * 0xC2B2AE3D) & 0xFFFFFFFF

    def fn(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        # A splitmix-style integer hash keeps the mask independent of sequence length and device.
        x = (q * 0x9E3779B1 + k * 0x85EBCA77 + seed_term) & 0xFFFFFFFF
        x = _mul32(x ^ (x >> 16), 0x7FEB352D)
        x = _mul32(x ^ (x >> 15), 0x846CA68B)
        x = x ^ (x >> 16)
        return (x.to(torch.float64) / 2.0**32) < density

    return Mask(fn, f"random({density}, seed={seed})")


def cells(pairs: Iterable[Sequence[int]]) -> Mask:
    """Return the mask selecting exactly the given ``(query, key)`` cells (``~cells(...)`` blocks them)."""
    checked = []
    for pair in pairs:
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise ValueError(f"a cell is a [query, key] pair, got {pair!r}")
        checked.append(tuple(_index_list(pair, "cell indices")))
    # Code (q, k) as q·stride + k with stride above every listed key, and reject keys ≥ stride, so codes of a
    # listed cell and an unlisted one never collide.
    stride = max((k for _, k in checked), default=0) + 1
    codes = [q * stride + k for q, k in checked]
    return Mask(lambda q, k: _isin(q * stride + k, codes) & (k < stride), f"cells({checked})")


def queries(indices: Iterable[int]) -> Mask:
    """Return the mask selecting whole query rows (``~queries(...)`` blocks those queries from attending)."""
    idx = _index_list(indices, "query indices")
    return Mask(lambda q, k: _isin(q, idx) & torch.ones_like(k, dtype=torch.bool), f"queries({idx})")


def keys(indices: Iterable[int]) -> Mask:
    """Return the mask selecting whole key columns (``~keys(...)`` hides those keys from every query)."""
    idx = _index_list(indices, "key indices")
    return Mask(lambda q, k: _isin(k, idx) & torch.ones_like(q, dtype=torch.bool), f"keys({idx})")


# ------------------------------------------------------------------------------------------------------------
# The preset registry: the names a plan's JSON may use, each with its parameters and their bounds.
# What a preset is called on screen, and its help, are the front end's (ui/presets.py).
# ------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    """One parameter of a preset: its kind ('int', 'float', 'bool', 'indices'), default and bounds.

    ``minimum`` and ``maximum`` are the smallest and largest values the factory accepts (None: no bound).
    """

    name: str
    kind: str
    default: Any
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True)
class Preset:
    """A named mask family with its parameters and a factory."""

    name: str
    factory: Callable[..., Mask]
    params: tuple[Param, ...] = field(default_factory=tuple)


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("full", full),
        Preset("causal", causal),
        Preset(
            "sliding_window",
            sliding_window,
            (Param("size", "int", 2, 0, MAX_PARAMETER), Param("two_sided", "bool", True)),
        ),
        Preset("dilated", dilated, (Param("stride", "int", 2, 1, MAX_PARAMETER),)),
        Preset("prefix_lm", prefix_lm, (Param("prefix_length", "int", 3, 0, MAX_PARAMETER),)),
        Preset("block_diagonal", block_diagonal, (Param("boundaries", "indices", [4], 0, MAX_PARAMETER),)),
        Preset("global_tokens", global_tokens, (Param("indices", "indices", [0], 0, MAX_PARAMETER),)),
        Preset("padding", padding, (Param("length", "int", 4, 0, MAX_PARAMETER),)),
        Preset(
            "random",
            random,
            (Param("density", "float", 0.5, 0.0, 1.0), Param("seed", "int", 0, 0, None)),
        ),
    )
}


def make_preset(name: str, **params: Any) -> Mask:
    """Return the preset mask ``name`` built with ``params`` (missing ones take the preset's defaults).

    Unknown names or parameters raise ValueError.
    """
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; known presets: {', '.join(PRESETS)}")
    preset = PRESETS[name]
    known = {p.name for p in preset.params}
    unknown = set(params) - known
    if unknown:
        raise ValueError(
            f"preset {name!r} takes {sorted(known) or 'no parameters'}, got unknown {sorted(unknown)}"
        )
    # Missing parameters take the defaults the widgets show, so make_preset("random") works.
    defaults = {p.name: copy.deepcopy(p.default) for p in preset.params}
    return preset.factory(**(defaults | params))
