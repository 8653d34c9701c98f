"""Every head's attention as one tiled image, and the marks drawn over it: the data of the head overview.

Two front ends draw it: ``maskattn.figures.overview_figure`` (a plotly figure, for notebooks and exports) and
the app's overview component (``ui/head_overview.py``, an image and CSS outlines in the page). Both take the
image and the marks from here, so they cannot disagree on which cell is which head or which head is marked.
"""

from __future__ import annotations

import base64
import io
import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from PIL import Image

__all__ = [
    "ENGLISH_WORDS",
    "OVERVIEW_LEVELS",
    "HeadMarks",
    "HeadTiles",
    "OverviewWords",
    "head_marks",
    "tile_heads",
]

OVERVIEW_LEVELS = 255  # colours in the overview's palette; the PNG's entry 0 is the transparent gap


@dataclass(frozen=True)
class OverviewWords:
    """The overview's words: its tooltip, colour bar and save button."""

    head_name: str = "layer {layer}, head {head}"
    weight: str = "weight"
    marked: str = "has a mask or gate"
    click: str = "click to focus"
    save: str = "Save"
    pooled_max: str = "Long text: each cell shows the largest weight of {step} × {step} token pairs."
    pooled_mean: str = "Long text: each cell shows the mean weight of {step} × {step} token pairs."


ENGLISH_WORDS = OverviewWords()


@dataclass(frozen=True)
class HeadTiles:
    """All heads tiled into one indexed PNG: tile ``(l, h)`` covers rows ``l*stride : l*stride+tile`` and
    columns ``h*stride : h*stride+tile`` of the ``rows`` × ``cols`` image; gaps are transparent."""

    png: str  # data URI of the indexed PNG: entry 0 transparent, entry 1 + k the weight k / 254 of zmax
    tile: int  # cells per tile side
    gap: int  # cells between neighbouring tiles (wide enough for two outlines)
    step: int  # tokens per cell side (1 unless the heads were pooled)
    layers: int
    heads: int

    @property
    def stride(self) -> int:
        return self.tile + self.gap

    @property
    def rows(self) -> int:
        return self.layers * self.stride - self.gap

    @property
    def cols(self) -> int:
        return self.heads * self.stride - self.gap


@dataclass(frozen=True)
class HeadMarks:
    """What is drawn over the tiles, each ``(L, H)`` or None: checked shapes and types."""

    marked: np.ndarray  # bool: heads that carry a mask or a gate
    focus: tuple[int, int] | None  # the focused head
    highlight: np.ndarray | None  # bool: a head-type filter's hits
    badges: np.ndarray | None  # str: short labels on the tiles ("" for none)
    notes: np.ndarray | None  # str: added to each tile's hover text


def tile_heads(
    attentions: np.ndarray,
    palette: np.ndarray,
    *,
    thumb_px: int = 24,
    pool: Literal["max", "mean"] = "max",
    zmax: float = 1.0,
) -> HeadTiles:
    """Return every head of ``attentions`` ``(L, H, T, T)`` (finite floats) tiled into one indexed PNG.

    When T > ``thumb_px`` each head is pooled over square blocks ("max" keeps sharp one-token patterns
    visible, "mean" keeps attention mass) to at most ``thumb_px`` cells per side. A cell's palette entry is
    ``1 + round(254 · weight / zmax)`` (above ``zmax``: the top colour), so the scale stays fixed across
    edits. ``palette`` is ``(256, 3)`` uint8, entry 0 unused (transparent). ValueError on bad input.
    """
    try:
        a = np.asarray(attentions, dtype=np.float32)
    except (TypeError, ValueError) as err:
        raise ValueError(f"attentions must be a numeric array, got {type(attentions).__name__}") from err
    if a.ndim != 4 or a.shape[2] != a.shape[3] or a.size == 0:
        raise ValueError(f"attentions must be (L, H, T, T), square and non-empty, got {tuple(a.shape)}")
    if thumb_px < 1:
        raise ValueError(f"thumb_px must be >= 1, got {thumb_px}")
    if pool not in ("max", "mean"):
        raise ValueError(f"pool must be 'max' or 'mean', got {pool!r}")
    if not zmax > 0:
        raise ValueError(f"zmax must be > 0, got {zmax}")
    n_layers, n_heads, t, _ = a.shape
    thumbs = _pool_blocks(a, thumb_px, pool)  # (L, H, n, n)
    if not np.isfinite(thumbs).all():  # NaN/inf survive max and sum pooling, so checking here is enough
        raise ValueError("attentions contains NaN or infinite values; attention weights must be finite")
    n = thumbs.shape[-1]
    gap = max(1, round(n / 6))
    stride = n + gap
    levels = np.rint(np.clip(thumbs / zmax, 0.0, 1.0) * (OVERVIEW_LEVELS - 1)).astype(np.uint8) + 1
    indices = np.zeros((n_layers, stride, n_heads, stride), dtype=np.uint8)  # 0: the transparent gap
    indices[:, :n, :, :n] = levels.transpose(0, 2, 1, 3)  # (L, n, H, n)
    # No gap after the last row and column of tiles (gap >= 1): HeadTiles.rows x .cols.
    indices = indices.reshape(n_layers * stride, n_heads * stride)[:-gap, :-gap]
    return HeadTiles(
        png=_palette_png(indices, palette),
        tile=n,
        gap=gap,
        step=math.ceil(t / n),
        layers=n_layers,
        heads=n_heads,
    )


def head_marks(
    shape: tuple[int, int],
    *,
    marked: Any = None,
    focus: tuple[int, int] | None = None,
    highlight: Any = None,
    badges: Any = None,
    notes: Any = None,
) -> HeadMarks:
    """Return the marks of an ``(L, H)`` overview, checked; ValueError naming the argument that is wrong."""
    n_layers, n_heads = shape
    marked_arr = _head_grid(marked, shape, "marked", bool)
    if focus is not None:
        fl, fh = (int(v) for v in focus)
        if not (0 <= fl < n_layers and 0 <= fh < n_heads):
            raise ValueError(
                f"focus must be (layer, head) within ({n_layers}, {n_heads}), got {tuple(focus)}"
            )
        focus = (fl, fh)
    return HeadMarks(
        marked=np.zeros(shape, dtype=bool) if marked_arr is None else marked_arr,
        focus=focus,
        highlight=_head_grid(highlight, shape, "highlight", bool),
        badges=_head_grid(badges, shape, "badges", str),
        notes=_head_grid(notes, shape, "notes", str),
    )


def _head_grid(values: Any, shape: tuple[int, int], name: str, kind: type) -> np.ndarray | None:
    """Return ``values`` as an ``(L, H)`` array of ``kind`` (bool or str), or None; ValueError if not."""
    if values is None:
        return None
    arr = np.asarray(values, dtype=object if kind is str else None)
    if arr.shape != shape or (kind is bool and arr.dtype != np.bool_):
        wanted = "a boolean array" if kind is bool else "strings"
        raise ValueError(f"{name} must be {wanted} of shape {shape}, got {arr.dtype} {tuple(arr.shape)}")
    return arr.astype(str) if kind is str else arr


def _pool_blocks(x: np.ndarray, max_cells: int, how: str) -> np.ndarray:
    """Return ``x`` (..., T, T) pooled over square blocks to (..., n, n) with n <= max_cells."""
    t = x.shape[-1]
    step = math.ceil(t / max_cells)
    if step == 1:
        return x
    starts = np.arange(0, t, step)
    if how == "max":
        # reduceat handles the short last block itself, so the (possibly 75 MB) input is never padded.
        y = np.maximum.reduceat(x, starts, axis=-1)  # (..., T, n)
        return np.maximum.reduceat(y, starts, axis=-2)  # (..., n, n)
    y = np.add.reduceat(x, starts, axis=-1)
    y = np.add.reduceat(y, starts, axis=-2)
    counts = np.minimum(step, t - starts).astype(np.float32)  # (n,) cells per block along one side
    return y / (counts[:, None] * counts[None, :])


def _palette_png(indices: np.ndarray, palette: np.ndarray) -> str:
    """Return ``indices`` (h, w) uint8 as a data URI of an indexed PNG whose entry 0 is transparent."""
    height, width = indices.shape
    image = Image.frombytes("P", (width, height), np.ascontiguousarray(indices, dtype=np.uint8).tobytes())
    image.putpalette(palette.ravel().tolist())
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", transparency=0, compress_level=6)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
