"""Read back the overview's tiles from its PNG: in ``maskattn.figures.overview_figure`` or the app's overview;
and the references its tests compare them with (random attention, pooling written as plain loops).

Decoded with Pillow on its own, not with the module's encoder: the palette indices per cell, the palette and
which entry is transparent, as a browser would read them.
"""

from __future__ import annotations

import base64
import io
import math

import numpy as np
from PIL import Image

PNG_PREFIX = "data:image/png;base64,"


def overview_png(overview) -> Image.Image:
    """Return the overview's tile image, decoded: of a plotly figure (its trace named "tiles") or of the
    head overview component's data (a dict, ``ui.head_overview.overview_payload``)."""
    if isinstance(overview, dict):
        source = overview["png"]
    else:
        (tiles,) = [t for t in overview.data if t.name == "tiles"]
        assert tiles.type == "image", tiles.type
        source = tiles.source
    assert source.startswith(PNG_PREFIX), source[:40]
    return Image.open(io.BytesIO(base64.b64decode(source[len(PNG_PREFIX) :])))


def overview_indices(overview) -> np.ndarray:
    """Return the palette index of every overview cell, (rows, cols) uint8 (0 = the transparent gap)."""
    image = overview_png(overview)
    assert image.mode == "P" and image.info.get("transparency") == 0, (image.mode, image.info)
    return np.asarray(image)


def overview_palette(overview) -> np.ndarray:
    """Return the overview image's palette, (entries, 3) uint8."""
    return np.asarray(overview_png(overview).getpalette(), dtype=np.uint8).reshape(-1, 3)


def softmax_attention(rng: np.random.Generator, n_layers: int, n_heads: int, t: int) -> np.ndarray:
    """Return random rows that sum to 1, peaked like real attention (cheap enough for T=512)."""
    x = rng.random((n_layers, n_heads, t, t), dtype=np.float32) ** 8  # (L, H, T, T)
    return x / x.sum(axis=-1, keepdims=True)


def pooled_head_reference(head: np.ndarray, max_cells: int, how: str) -> np.ndarray:
    """Pool one (T, T) head over square blocks of ceil(T / n) tokens with plain loops."""
    t = head.shape[0]
    step = math.ceil(t / max_cells)
    n = math.ceil(t / step)
    out = np.empty((n, n), dtype=np.float64)
    for i in range(n):
        for j in range(n):
            block = head[i * step : (i + 1) * step, j * step : (j + 1) * step].astype(np.float64)
            out[i, j] = block.max() if how == "max" else block.mean()
    return out
