"""Read back the overview's tiles from the PNG that ``maskattn.figures.overview_figure`` embeds.

Decoded with Pillow on its own, not with the module's encoder: the palette indices per cell, the palette and
which entry is transparent, as a browser would read them.
"""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image

PNG_PREFIX = "data:image/png;base64,"


def overview_png(figure) -> Image.Image:
    """Return the overview's tile image (the trace named "tiles"), decoded."""
    (tiles,) = [t for t in figure.data if t.name == "tiles"]
    assert tiles.type == "image" and tiles.source.startswith(PNG_PREFIX), tiles.source[:40]
    return Image.open(io.BytesIO(base64.b64decode(tiles.source[len(PNG_PREFIX) :])))


def overview_indices(figure) -> np.ndarray:
    """Return the palette index of every overview cell, (rows, cols) uint8 (0 = the transparent gap)."""
    image = overview_png(figure)
    assert image.mode == "P" and image.info.get("transparency") == 0, (image.mode, image.info)
    return np.asarray(image)


def overview_palette(figure) -> np.ndarray:
    """Return the overview image's palette, (entries, 3) uint8."""
    return np.asarray(overview_png(figure).getpalette(), dtype=np.uint8).reshape(-1, 3)
