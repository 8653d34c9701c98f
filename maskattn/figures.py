"""Plotly figures for attention: an overview of every head, one head in focus, differences, teaching matrices.

Pure plotly and numpy (no Streamlit, no torch; Pillow writes the overview's image): every function takes
numpy arrays (anything ``np.asarray`` accepts) and returns a ``go.Figure``. Data goes to plotly as float32
numpy arrays, which plotly 7 ships as compact base64 binary; Python lists would be validated element by
element and float16 is written as decimal text (slow and 2× larger), so neither is used for bulk data. The
overview, which nobody reads a number off (its tiles are pooled), goes as one indexed PNG: 7× smaller.

Mask polarity as everywhere in maskattn: ``allow`` is boolean, True = the query may attend to the key. The
figures draw the complement, named ``blocked``, as a veil with diagonal stripes, the painter's picture of a
blocked cell; ``blocked_by`` tells apart what blocked it (painted here, a rule of the plan, the model's own
mask), each with its own tint, as in the painter's legend.

Shapes: ``L`` layers, ``H`` heads, ``T`` tokens (queries down the rows, keys across the columns).
"""

from __future__ import annotations

import functools
import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import plotly.colors
import plotly.graph_objects as go
import plotly.io as pio

from maskattn.overview import OVERVIEW_LEVELS, head_marks, tile_heads

__all__ = [
    "BLOCK_KINDS",
    "DEFAULT_THEME",
    "EXPORT_FORMATS",
    "OVERVIEW_LEVELS",
    "PLOTLY_CONFIG",
    "PRESENTATION_THEME",
    "FigureWords",
    "Theme",
    "difference_figure",
    "export_config",
    "figure_html",
    "focus_figure",
    "matrix_figure",
    "overview_figure",
    "overview_palette",
    "row_sums_figure",
    "sweep_curve_figure",
    "sweep_heatmap_figure",
    "token_change_figure",
    "weights_colorscale",
]

# What blocked a cell, in drawing order: painted on this head, a rule of the plan (a preset, an import), the
# model's own mask (a decoder's causality). The painter (ui/painter.js) draws the same three.
BLOCK_KINDS = ("painted", "rule", "model")


@dataclass(frozen=True)
class FigureWords:
    """The words figures show: axis and colour-bar titles, hover names. English by default."""

    query_axis: str = "query (attending)"
    key_axis: str = "key (attended to)"
    query: str = "query"
    key: str = "key"
    weight: str = "weight"
    painted: str = "blocked"
    rule: str = "blocked by a rule"
    model: str = "blocked by the model's own mask"
    difference: str = "after − before"
    before: str = "before"
    after: str = "after"
    diff: str = "diff"
    row_sum: str = "row sum"

    def blocked(self, kind: str) -> str:
        """Return the name of cells blocked by ``kind`` (one of ``BLOCK_KINDS``)."""
        return {"painted": self.painted, "rule": self.rule, "model": self.model}[kind]


ENGLISH = FigureWords()


@dataclass(frozen=True)
class Theme:
    """Fonts, colours and pixel sizes shared by every figure; ``size_scale`` multiplies all pixel sizes."""

    name: str = "default"
    font_size: int = 12
    font_family: str = "Noto Sans, Noto Sans CJK SC, DejaVu Sans, Arial, sans-serif"
    weights_colorscale: str = "Blues"  # attention weights in [0, 1], light (0) to dark (1)
    # Colour position = weight ** gamma: below 1 small weights get more of the scale (most weights are small).
    weights_gamma: float = 1.0
    diverging_colorscale: str = "RdBu_r"  # differences: red = more attention, blue = less
    matrix_colorscale: str = "Viridis"  # generic teaching matrices (Q, K, scores...)
    bar_color: str = "#4c78a8"
    accent_color: str = "#f28e2b"  # outline of heads that carry a mask or a gate
    focus_color: str = "#111111"  # outline of the head in focus
    highlight_color: str = "#2ca02c"  # dotted outline of heads a head-type filter picks
    badge_color: str = "#b8002e"  # head-type labels on the overview's tiles
    gap_color: str = "#d9d9d9"  # between overview tiles, so an all-zero head still shows its extent
    blocked_color: str = "rgba(172, 174, 182, 0.85)"  # the veil of painted cells (as in the painter)
    blocked_mark_color: str = "rgba(24, 24, 30, 0.85)"  # their stripes (drawn on matrices up to 64 a side)
    rule_blocked_color: str = "rgba(250, 176, 118, 0.9)"  # cells a rule blocks: an orange veil
    rule_mark_color: str = "rgba(160, 60, 0, 0.9)"
    model_blocked_color: str = (
        "rgba(222, 222, 226, 0.95)"  # the model's own mask: quiet, stripes the other way
    )
    model_mark_color: str = "rgba(110, 110, 120, 0.8)"
    nonfinite_color: str = "#2b2b2b"  # -inf / +inf / NaN cells of teaching matrices
    text_color: str = "#222222"
    template: str = "plotly_white"
    size_scale: float = 1.0
    overview_tile_px: int = 40  # on-screen side of one head's thumbnail
    matrix_side_px: int = 520  # on-screen side of the largest matrix
    max_cell_px: int = 44

    def px(self, value: float) -> int:
        """Return ``value`` pixels scaled by ``size_scale``."""
        return round(value * self.size_scale)


DEFAULT_THEME = Theme()

# Projectors wash out pale colours and fine steps: larger fonts and sizes, a perceptually uniform scale from
# light yellow (0) to dark violet (1), and a gamma that spreads the many small weights over the light half.
PRESENTATION_THEME = Theme(
    name="presentation",
    font_size=18,
    weights_colorscale="Viridis_r",
    weights_gamma=0.5,
    diverging_colorscale="PuOr_r",
    matrix_colorscale="Cividis",
    bar_color="#1f3b73",
    accent_color="#ff2d95",
    focus_color="#000000",
    gap_color="#ffffff",
    blocked_mark_color="rgba(0, 0, 0, 0.9)",
    nonfinite_color="#000000",
    text_color="#000000",
    size_scale=1.4,
)

# A PNG at 4× the on-screen size: a 420 px figure becomes 1680 px, 300 dpi across 5.6 in of a page.
EXPORT_FORMATS = ("png", "svg")
PAPER_SCALE = 4


def export_config(image_format: str = "png", filename: str = "maskattn") -> dict[str, Any]:
    """Return the plotly config whose modebar camera saves ``image_format`` ("png" at ``PAPER_SCALE``× or
    "svg", vector) in the browser: no server-side renderer, so it works offline and on a busy server."""
    if image_format not in EXPORT_FORMATS:
        raise ValueError(f"image_format must be one of {EXPORT_FORMATS}, got {image_format!r}")
    scale = PAPER_SCALE if image_format == "png" else 1
    return {
        "displaylogo": False,
        "toImageButtonOptions": {"format": image_format, "scale": scale, "filename": filename},
        "modeBarButtonsToRemove": ["lasso2d", "select2d"],
    }


PLOTLY_CONFIG: dict[str, Any] = export_config("png")

# Blocked cells also get a stripe marker up to this size; beyond it the markers cost more than they show.
_MAX_T_FOR_BLOCKED_MARKS = 64
# Non-finite cells get a "−∞" label up to this many rows/columns.
_MAX_SIDE_FOR_CELL_TEXT = 32
_TOKEN_TICK_CHARS = 10
_MIN_TICK_FONT_PX = 9.0
_NONFINITE_LABELS = {"-inf": "−∞", "+inf": "+∞", "nan": "undefined"}


# ---------------------------------------------------------------------------------------------------------
# Input checks


def _as_float_array(x: Any, name: str, ndim: int) -> np.ndarray:
    try:
        arr = np.asarray(x, dtype=np.float32)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be a numeric array, got {type(x).__name__}") from err
    if arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {tuple(arr.shape)}")
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {tuple(arr.shape)}")
    return arr


def _square_with_tokens(weights: Any, tokens: Sequence[str], name: str) -> np.ndarray:
    w = _as_float_array(weights, name, 2)  # (T, T)
    n_tok = len(tokens)
    if w.shape != (n_tok, n_tok):
        raise ValueError(f"{name} has shape {tuple(w.shape)} but {n_tok} tokens need ({n_tok}, {n_tok})")
    if not np.isfinite(w).all():
        raise ValueError(f"{name} contains NaN or infinite values; attention weights must be finite")
    return w


def _check_query_tokens(query_tokens: Sequence[str] | None, num_keys: int) -> None:
    if query_tokens is not None and len(query_tokens) != num_keys:
        raise ValueError(f"{len(query_tokens)} query tokens for {num_keys} keys: the weights are square")


def _blocked_from_allow(allow: Any, shape: tuple[int, int]) -> np.ndarray | None:
    """Return the (T, T) boolean ``blocked`` mask (True = may NOT attend), or None when nothing is masked."""
    if allow is None:
        return None
    a = np.asarray(allow)
    if a.dtype != np.bool_:
        raise ValueError(f"allow must be a boolean array (True = may attend), got dtype {a.dtype}")
    if a.shape != shape:
        raise ValueError(f"allow has shape {tuple(a.shape)}, expected {shape} like the weights")
    return ~a


# ---------------------------------------------------------------------------------------------------------
# Labels: repeated tokens ("the" twice) must stay separate positions, so every category name starts with
# its index; tick labels show just the (escaped, shortened) token.


def _escape(text: str) -> str:
    # Plotly renders a small HTML subset in labels: "<s>" would vanish or strike through.
    return html.escape(str(text).replace("\n", "\\n").replace("\t", "\\t"), quote=False)


def _short(text: str, limit: int = _TOKEN_TICK_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _categories(labels: Sequence[str] | None, n: int) -> tuple[list[str], list[str]]:
    """Return unique category names ("3 'the'") for hover and short tick texts ("the") for n positions."""
    if labels is None:
        names = [str(i) for i in range(n)]
        return names, names
    cats = [f"{i} '{_escape(tok)}'" for i, tok in enumerate(labels)]
    ticks = [_escape(_short(str(tok))) for tok in labels]
    return cats, ticks


def _tick_stride(cell_px: float, font_px: float) -> int:
    """Return k so that labelling every k-th cell leaves room for one line of text per label."""
    return max(1, math.ceil(1.3 * font_px / max(cell_px, 1e-6)))


def _tick_font(cell_px: float, theme: Theme) -> float:
    """Return the token labels' font size: the theme's, smaller (down to 9 px) so every cell keeps its label.

    A reader follows the row of one token ("are"): a label on every other row would hide half of them.
    """
    return min(float(theme.font_size), max(_MIN_TICK_FONT_PX, cell_px / 1.3))


def _category_axis(
    cats: list[str], ticks: list[str], stride: int, title: str, font_px: float | None = None
) -> dict[str, Any]:
    idx = range(0, len(cats), stride)
    return {
        **({"tickfont": {"size": round(font_px, 1)}} if font_px is not None else {}),
        "type": "category",
        "tickmode": "array",
        "tickvals": [cats[i] for i in idx],
        "ticktext": [ticks[i] for i in idx],
        "title": {"text": title},
        "showgrid": False,
        "zeroline": False,
        "automargin": True,
    }


def _text_px(text: str, theme: Theme) -> float:
    """Return a rough on-screen width of ``text`` (CJK characters are about twice as wide)."""
    wide = sum(1 for ch in text if ord(ch) >= 0x2E80)
    return theme.font_size * (0.62 * (len(text) - wide) + 1.05 * wide)


def _matrix_frame(
    n_rows: int,
    n_cols: int,
    cell: float,
    row_ticks: list[str],
    col_ticks: list[str],
    stride: tuple[int, int],
    theme: Theme,
    title: str,
    axis_titles: tuple[str, str],
    colorbar: bool = True,
) -> dict[str, Any]:
    """Return width, height and margins that fit an R x C grid of ``cell`` px plus labels and a colour bar.

    Plotly places the colour bar at the right edge of the whole figure, so the figure must be shown at this
    width (not stretched to its container), or the bar floats far from the matrix. Without ``colorbar`` the
    right margin is only the room the last column label needs.
    """
    longest_row = max((_text_px(t, theme) for t in row_ticks), default=0.0)
    longest_col = max((_text_px(t, theme) for t in col_ticks), default=0.0)
    col_slot = cell * stride[1]
    bottom = longest_col if longest_col > col_slot * 1.15 else theme.font_size * 1.6  # rotated or flat
    left = longest_row + theme.px(10) + (theme.font_size * 1.8 if axis_titles[0] else 0)
    bottom += theme.px(10) + (theme.font_size * 1.8 if axis_titles[1] else 0)
    top = theme.px(40 if title else 14)
    right = theme.px(12)
    if colorbar:
        right += theme.px(12) + _text_px("-0.00", theme) + theme.font_size * 2.2
    margin = {"l": round(left), "r": round(right), "t": top, "b": round(bottom)}
    return {
        "width": round(n_cols * cell + left + right),
        "height": round(n_rows * cell + top + bottom),
        "margin": margin,
    }


def _fitted_frame(
    n_rows: int,
    n_cols: int,
    cell: float,
    ticks: tuple[list[str], list[str]],
    theme: Theme,
    title: str,
    axis_titles: tuple[str, str],
    colorbar: bool,
    max_width: int | None,
) -> tuple[float, int, float, dict[str, Any]]:
    """Return ``(cell, tick stride, tick font px, frame)``, cells shrunk to fit in ``max_width`` px.

    Only the cells shrink: labels and the colour bar keep their room (the side margins do not depend on the
    cell size, so one correction fits exactly); token labels shrink to 9 px before they skip cells.
    """

    def frame(c: float) -> tuple[int, dict[str, Any]]:
        stride = _tick_stride(c, _tick_font(c, theme))
        layout = _matrix_frame(
            n_rows, n_cols, c, ticks[0], ticks[1], (stride, stride), theme, title, axis_titles, colorbar
        )
        return stride, layout

    stride, layout = frame(cell)
    if max_width is not None and layout["width"] > max_width:
        sides = layout["margin"]["l"] + layout["margin"]["r"]
        cell = max(1.0, (max_width - sides) / n_cols)
        stride, layout = frame(cell)
    return cell, stride, _tick_font(cell, theme), layout


def _cell_px(n_rows: int, n_cols: int, theme: Theme) -> float:
    """Return the on-screen side of one cell: the largest matrix side fills ``matrix_side_px``."""
    side = theme.px(theme.matrix_side_px)
    return min(theme.px(theme.max_cell_px), side / max(n_rows, n_cols))


# The trace types these figures draw, and the layout parts a template styles for them (not polar, 3D, maps).
_DRAWN_TRACES = ("bar", "heatmap", "image", "scatter")
_UNDRAWN_LAYOUT = ("geo", "mapbox", "map", "polar", "scene", "smith", "ternary")


@functools.cache
def _lean_template(name: str) -> dict[str, Any]:
    """Return the plotly template ``name`` cut to what these figures use.

    The whole of "plotly_white" styles every trace type and 3D scene: plotly validates and copies all of it
    into each figure (~25 ms, half the cost of building the overview) and sends it with each (~7 kB). Cut to
    the 2D layout and the drawn traces, it looks the same, costs ~6 ms and weighs ~3 kB.
    """
    whole = pio.templates[name].to_plotly_json()
    return {
        "layout": {k: v for k, v in whole.get("layout", {}).items() if k not in _UNDRAWN_LAYOUT},
        "data": {k: v for k, v in whole.get("data", {}).items() if k in _DRAWN_TRACES},
    }


def _base_layout(theme: Theme, title: str, height: int) -> dict[str, Any]:
    return {
        "template": _lean_template(theme.template),
        "title": {"text": title, "x": 0.01, "xanchor": "left", "font": {"size": theme.font_size + 2}},
        "font": {"size": theme.font_size, "family": theme.font_family, "color": theme.text_color},
        "hoverlabel": {"font": {"size": theme.font_size, "family": theme.font_family}},
        "height": height,
        "margin": {
            "l": theme.px(10),
            "r": theme.px(10),
            "t": theme.px(40 if title else 14),
            "b": theme.px(10),
        },
        "showlegend": False,
    }


def _colorbar(theme: Theme, title: str) -> dict[str, Any]:
    return {"title": {"text": title, "side": "right"}, "thickness": theme.px(12), "len": 0.9}


def weights_colorscale(theme: Theme = DEFAULT_THEME, stops: int = 33) -> list[list[Any]]:
    """Return the plotly colour scale of attention weights in [0, 1]: ``[[weight, "rgb(...)"], ...]``.

    The colour of weight ``w`` is the theme's scale at ``w ** theme.weights_gamma``; the colour bar keeps
    the true weights on its ticks. The painter draws its values with the same stops (``ui.theme``).
    """
    if not theme.weights_gamma > 0:
        raise ValueError(f"weights_gamma must be > 0, got {theme.weights_gamma}")
    return [list(stop) for stop in _weight_stops(theme, stops)]  # a fresh list: callers may change it


@functools.cache
def _weight_stops(theme: Theme, stops: int) -> tuple[tuple[float, str], ...]:
    # Sampled once per theme: plotly's sampling costs ~3.5 ms, and each overview needs it twice.
    weights = np.linspace(0.0, 1.0, stops)
    colours = plotly.colors.sample_colorscale(theme.weights_colorscale, list(weights**theme.weights_gamma))
    return tuple((float(w), c) for w, c in zip(weights, colours, strict=True))


# ---------------------------------------------------------------------------------------------------------
# Overview: every head as one tiled image


def overview_palette(theme: Theme = DEFAULT_THEME) -> np.ndarray:
    """Return the overview's PNG palette, (256, 3) uint8: entry 0 the gap, entry k the weight (k-1)/254.

    Each colour is the weights colour scale's stops interpolated linearly in RGB, as plotly colours a
    heatmap, so the image matches the colour bar drawn beside it.
    """
    stops = weights_colorscale(theme)
    where = np.array([w for w, _ in stops])
    rgb = np.array([plotly.colors.unlabel_rgb(c) for _, c in stops], dtype=np.float64)  # (stops, 3)
    levels = np.linspace(0.0, 1.0, OVERVIEW_LEVELS)
    palette = np.zeros((256, 3), dtype=np.uint8)
    palette[1:] = np.rint([np.interp(levels, where, rgb[:, c]) for c in range(3)]).T.astype(np.uint8)
    return palette


def _rect(x0: float, y0: float, x1: float, y1: float, color: str, width: float, name: str) -> dict[str, Any]:
    return {
        "type": "rect",
        "xref": "x",
        "yref": "y",
        "x0": x0,
        "y0": y0,
        "x1": x1,
        "y1": y1,
        "line": {"color": color, "width": width},
        "fillcolor": "rgba(0,0,0,0)",
        "layer": "above",
        "name": name,
    }


def _reference_line(y: float, color: str, width: float, name: str) -> dict[str, Any]:
    """Return a dashed horizontal line across the plot at ``y`` (a baseline, a row sum of 1)."""
    return {
        "type": "line",
        "xref": "paper",
        "x0": 0,
        "x1": 1,
        "yref": "y",
        "y0": y,
        "y1": y,
        "line": {"color": color, "width": width, "dash": "dash"},
        "name": name,
    }


def overview_figure(
    attentions: Any,
    *,
    marked: Any = None,
    focus: tuple[int, int] | None = None,
    theme: Theme = DEFAULT_THEME,
    thumb_px: int = 24,
    pool: Literal["max", "mean"] = "max",
    zmax: float = 1.0,
    title: str = "",
    max_width: int | None = None,
    words: FigureWords = ENGLISH,
    highlight: Any = None,
    badges: Any = None,
    notes: Any = None,
) -> go.Figure:
    """Return a grid of every head's attention (rows = layers, columns = heads) whose tiles can be clicked.

    ``attentions`` is ``(L, H, T, T)``. All heads are tiled into ONE image (``make_subplots`` with 72 panels
    alone costs ~240 ms; a tiled float heatmap sent ~300 kB per edit), an indexed PNG of
    ``OVERVIEW_LEVELS`` colours drawn cell for cell (``image-rendering: pixelated``), with transparent gaps
    that show the gap colour. When T > ``thumb_px`` each head is pooled over square blocks (``pool`` "max"
    keeps sharp one-token patterns visible, "mean" keeps attention mass) to at most ``thumb_px`` cells per
    side. An invisible two-cell heatmap trace draws the colour bar. Images cannot be selected in plotly, so a
    third trace puts one large, nearly invisible square marker on each tile centre with
    ``customdata=[layer, head]`` (plain ints), which a point selection reports. ``marked`` ``(L, H)`` bool
    outlines heads that carry a mask or a gate in the accent colour; ``focus=(layer, head)`` gets a thick
    dark outline. The colour scale is fixed at [0, ``zmax``] so heads stay comparable across edits.
    ``layout.meta`` records the geometry (``tile``: cells per side, ``gap``: cells between tiles, ``step``:
    tokens per cell).

    The tile size is fixed in pixels (``theme.overview_tile_px``, smaller where the figure would be wider than
    ``max_width``), so show the figure at its own width to keep the click targets exactly on the tiles (a
    narrower container shrinks the tiles; clicks then still go to the nearest tile centre).

    Head types: ``highlight`` ``(L, H)`` bool outlines heads (a filter's hits) in the focus colour, dashed;
    ``badges`` ``(L, H)`` strings are drawn on the tiles' top-left corners (short labels, "" for none);
    ``notes`` ``(L, H)`` strings are added to each tile's hover text.
    """
    a = _as_float_array(attentions, "attentions", 4)  # (L, H, T, T)
    tiled = tile_heads(a, overview_palette(theme), thumb_px=thumb_px, pool=pool, zmax=zmax)
    marks = head_marks(
        (tiled.layers, tiled.heads),
        marked=marked,
        focus=focus,
        highlight=highlight,
        badges=badges,
        notes=notes,
    )
    n_layers, n_heads, n, gap, stride = tiled.layers, tiled.heads, tiled.tile, tiled.gap, tiled.stride
    rows, cols = tiled.rows, tiled.cols
    marked_arr, highlight_arr, badge_arr, note_arr = marks.marked, marks.highlight, marks.badges, marks.notes

    pad = gap  # frame around the outer tiles, room for their outlines
    margin = {
        "l": theme.px(34),
        "r": theme.px(70),
        "t": theme.px(28 + (26 if title else 0)),
        "b": theme.px(6),
    }
    tile_px = theme.px(theme.overview_tile_px)
    if (
        max_width is not None
    ):  # the tiles fill it (up to twice their size); labels and colour bar keep their room
        tile_px *= 2
        fit = (max_width - margin["l"] - margin["r"]) * n / (cols + 2 * pad)
        tile_px = max(1, min(tile_px, math.floor(fit)))
    cell_px = tile_px / n
    plot_w = (cols + 2 * pad) * cell_px
    plot_h = (rows + 2 * pad) * cell_px

    # Traces and layout are plain dicts, handed to plotly unvalidated (see the end): this figure is redrawn
    # on every edit, and plotly's validation was most of its cost. The tests validate it.
    tiles = {
        "type": "image",
        "source": tiled.png,
        "x0": 0,  # pixel (row i, column j) is centred on (j, i), as a heatmap's cells are
        "y0": 0,
        "dx": 1,
        "dy": 1,
        "zsmooth": False,  # each cell its own block of colour, as it was drawn
        "hoverinfo": "skip",  # pooled cells mean little on hover; the click targets say which head it is
        "name": "tiles",
    }
    colour_bar = {
        "type": "heatmap",
        "z": np.array([[0.0, zmax]], dtype=np.float32),
        "x": [0, 1],
        "y": [0, 0],
        "zmin": 0.0,
        "zmax": float(zmax),
        "colorscale": weights_colorscale(theme),
        "colorbar": _colorbar(theme, words.weight),
        "opacity": 0.0,  # only its colour bar shows; the image above draws the cells
        "hoverinfo": "skip",
        "name": "colour bar",
    }

    centre = (n - 1) / 2
    layer_idx, head_idx = np.divmod(np.arange(n_layers * n_heads), n_heads)
    hover = [
        f"layer {int(lyr)}, head {int(hd)}"
        + (" · has a mask or gate" if marked_arr[lyr, hd] else "")
        + (f"<br>{_escape(note_arr[lyr, hd])}" if note_arr is not None and note_arr[lyr, hd] else "")
        for lyr, hd in zip(layer_idx, head_idx, strict=True)
    ]
    targets = {
        "type": "scatter",
        "x": (head_idx * stride + centre).astype(np.float32),
        "y": (layer_idx * stride + centre).astype(np.float32),
        "mode": "markers",
        "marker": {"symbol": "square", "size": tile_px, "color": "rgba(0,0,0,0.02)", "line": {"width": 0}},
        # Plain ints (not a numpy array): a selection event hands customdata back as JSON, where a typed
        # array would arrive as {"0": l, "1": h}.
        "customdata": [[int(lyr), int(hd)] for lyr, hd in zip(layer_idx, head_idx, strict=True)],
        "text": hover,
        "hovertemplate": "%{text}<br>click to focus<extra></extra>",
        "selected": {"marker": {"opacity": 0.02}},
        "unselected": {"marker": {"opacity": 0.02}},
        "name": "heads",
    }

    edge = 0.5  # heatmap cells span index ± 0.5

    def outline(lyr: int, hd: int, margin: float, color: str, width: float, name: str) -> dict[str, Any]:
        """Return a rectangle around the tile of head ``(lyr, hd)``, ``margin`` outside it."""
        x0, y0 = hd * stride - edge - margin, lyr * stride - edge - margin
        return _rect(x0, y0, x0 + n + 2 * margin, y0 + n + 2 * margin, color, width, name)

    # The focus ring lies outside the marked outline and is drawn first, so a focused head that is also
    # marked shows both (the ring used to cover the orange); a head-type filter's dotted ring lies between.
    shapes = []
    if marks.focus is not None:
        fl, fh = marks.focus
        shapes.append(outline(fl, fh, gap * 0.75, theme.focus_color, theme.px(3), f"focus L{fl} h{fh}"))
    shapes += [
        outline(lyr, hd, gap * 0.1, theme.accent_color, theme.px(2), f"marked L{lyr} h{hd}")
        for lyr, hd in zip(*np.nonzero(marked_arr), strict=True)
    ]
    if highlight_arr is not None:
        for lyr, hd in zip(*np.nonzero(highlight_arr), strict=True):
            ring = outline(
                lyr, hd, gap * 0.42, theme.highlight_color, theme.px(2.5), f"highlight L{lyr} h{hd}"
            )
            ring["line"]["dash"] = "dot"
            shapes.append(ring)
    data: list[dict[str, Any]] = [tiles, colour_bar, targets]
    if badge_arr is not None and badge_arr.any():
        shown = np.nonzero(badge_arr != "")
        data.append(
            {
                "type": "scatter",
                "x": (shown[1] * stride - edge).astype(np.float32),
                "y": (shown[0] * stride - edge).astype(np.float32),
                "mode": "text",
                "text": [_escape(b) for b in badge_arr[shown]],
                "textposition": "bottom right",
                "textfont": {"size": max(8, round(theme.font_size * 0.75)), "color": theme.badge_color},
                "hoverinfo": "skip",
                "name": "badges",
            }
        )

    tick_pos = [i * stride + centre for i in range(max(n_layers, n_heads))]
    layout = _base_layout(theme, title, height=round(plot_h + margin["t"] + margin["b"]))
    if shapes:  # as plotly's validation would leave it: no empty list
        layout["shapes"] = shapes
    layout.update(
        width=round(plot_w + margin["l"] + margin["r"]),
        margin=margin,
        plot_bgcolor=theme.gap_color,
        dragmode=False,  # a drag would zoom; here a click means "focus this head"
        clickmode="event+select",
        hovermode="closest",
        meta={"tile": n, "gap": gap, "step": tiled.step, "layers": n_layers, "heads": n_heads},
        xaxis={
            "range": [-edge - pad, cols - edge + pad],
            "tickmode": "array",
            "tickvals": tick_pos[:n_heads],
            "ticktext": [f"h{h}" for h in range(n_heads)],
            "side": "top",
            "showgrid": False,
            "zeroline": False,
            "ticks": "",
            "fixedrange": True,
            "constrain": "domain",
        },
        yaxis={
            "range": [rows - edge + pad, -edge - pad],  # reversed: layer 0 and query 0 at the top
            "tickmode": "array",
            "tickvals": tick_pos[:n_layers],
            "ticktext": [f"L{lyr}" for lyr in range(n_layers)],
            "showgrid": False,
            "zeroline": False,
            "ticks": "",
            "fixedrange": True,
            "scaleanchor": "x",
            "scaleratio": 1,
            "constrain": "domain",
        },
    )
    # Unvalidated (plotly's own switch, also used by plotly express): ~25 ms less per edit.
    # tests/unit/test_figures.py checks that plotly's validation finds nothing to change.
    return go.Figure(data=data, layout=layout, _validate=False)


# ---------------------------------------------------------------------------------------------------------
# Sweeps: a layer × head heatmap of effects, an effect curve; both clickable


def sweep_heatmap_figure(
    effects: Any,
    *,
    layer_effects: Any = None,
    measure: str = "effect",
    title: str = "",
    theme: Theme = DEFAULT_THEME,
    max_width: int | None = None,
    focus: tuple[int, int] | None = None,
) -> go.Figure:
    """Return the layer × head heatmap of a sweep's effects, one clickable cell per head (and per layer).

    ``effects`` is ``(L, H)``; ``layer_effects`` ``(L,)`` adds a column "layer" (the whole layer ablated)
    after a one-cell gap. Colours are diverging around 0, symmetric, so a head that helps and one that hurts
    read apart. As in ``overview_figure``, heatmaps cannot be selected in plotly, so a scatter trace named
    "cells" puts a nearly invisible marker on each cell with ``customdata=[layer, head]`` (head −1: the whole
    layer), which a point selection reports. ``focus`` rings one cell. NaN cells (not measured) stay empty.
    """
    z = _as_float_array(effects, "effects", 2)  # (L, H)
    n_layers, n_heads = z.shape
    columns = [f"h{h}" for h in range(n_heads)]
    full = z
    if layer_effects is not None:
        per_layer = _as_float_array(layer_effects, "layer_effects", 1)  # (L,)
        if per_layer.shape != (n_layers,):
            raise ValueError(f"layer_effects must have {n_layers} entries, got {per_layer.shape[0]}")
        gap = np.full((n_layers, 1), np.nan, dtype=np.float32)
        full = np.concatenate([z, gap, per_layer[:, None]], axis=1)  # (L, H + 2)
        columns += [" ", "layer"]
    finite = full[np.isfinite(full)]
    bound = max(float(np.abs(finite).max()) if finite.size else 0.0, 1e-9)
    heat = go.Heatmap(
        z=full.astype(np.float32),
        x=columns,
        y=[f"L{layer}" for layer in range(n_layers)],
        zmid=0.0,
        zmin=-bound,
        zmax=bound,
        colorscale=theme.diverging_colorscale,
        colorbar=_colorbar(theme, _escape(measure)),
        hoverongaps=False,
        hoverinfo="skip",
        xgap=1,
        ygap=1,
        name="effects",
    )
    cells = [(layer, head) for layer in range(n_layers) for head in range(n_heads)]
    if layer_effects is not None:
        cells += [(layer, -1) for layer in range(n_layers)]
    shown = [c for c in cells if np.isfinite(full[c[0], n_heads + 1 if c[1] < 0 else c[1]])]
    # Cells fill the width (at most 40 px) and are at least 26 px tall: six layers still make a readable
    # figure. The markers are smaller than a cell, so a click inside a cell never lands on its neighbour's.
    margin = {
        "l": theme.px(58),
        "r": theme.px(100),
        "t": theme.px(48 + (26 if title else 0)),
        "b": theme.px(8),
    }
    room = (
        (max_width if max_width is not None else theme.px(theme.matrix_side_px)) - margin["l"] - margin["r"]
    )
    cell_w = max(6.0, min(float(theme.px(40)), room / len(columns)))
    cell_h = max(cell_w, float(theme.px(26)))
    frame = {
        "width": round(len(columns) * cell_w + margin["l"] + margin["r"]),
        "height": round(n_layers * cell_h + margin["t"] + margin["b"]),
        "margin": margin,
    }
    cell = 0.8 * min(cell_w, cell_h)

    def value(layer: int, head: int) -> float:
        return float(full[layer, n_heads + 1 if head < 0 else head])

    targets = go.Scatter(
        x=[columns[-1] if head < 0 else columns[head] for _, head in shown],
        y=[f"L{layer}" for layer, _ in shown],
        mode="markers",
        marker={
            "symbol": "square",
            "size": max(4, cell - 1),
            "color": "rgba(0,0,0,0.02)",
            "line": {"width": 0},
        },
        customdata=[[int(layer), int(head)] for layer, head in shown],
        text=[
            f"layer {layer}, {'whole layer' if head < 0 else f'head {head}'}<br>"
            f"{_escape(measure)} {value(layer, head):.4g}"
            for layer, head in shown
        ],
        hovertemplate="%{text}<br>click to apply<extra></extra>",
        selected={"marker": {"opacity": 0.02}},
        unselected={"marker": {"opacity": 0.02}},
        name="cells",
    )
    shapes = []
    if focus is not None:
        fl, fh = (int(v) for v in focus)
        if 0 <= fl < n_layers and -1 <= fh < n_heads:
            x = len(columns) - 1 if fh < 0 else fh
            shapes.append(
                _rect(x - 0.5, fl - 0.5, x + 0.5, fl + 0.5, theme.focus_color, theme.px(3), "focus")
            )
    layout = _base_layout(theme, title, frame["height"])
    layout.update(
        width=frame["width"],
        margin=frame["margin"],
        dragmode=False,
        clickmode="event+select",
        hovermode="closest",
        shapes=shapes,
        xaxis={
            "type": "category",
            "side": "top",
            "tickangle": -90 if cell_w < theme.font_size * 2.2 else 0,
            "tickmode": "linear",
            "dtick": 1,
            "showgrid": False,
            "zeroline": False,
            "fixedrange": True,
        },
        yaxis={
            "type": "category",
            "autorange": "reversed",
            "tickmode": "linear",
            "dtick": 1,
            "title": {"text": "layer"},
            "showgrid": False,
            "zeroline": False,
            "fixedrange": True,
        },
    )
    return go.Figure(data=[heat, targets], layout=layout)


def sweep_curve_figure(
    xs: Sequence[Any],
    ys: Any,
    *,
    x_title: str,
    measure: str = "effect",
    title: str = "",
    theme: Theme = DEFAULT_THEME,
    max_width: int | None = None,
    chosen: int | None = None,
) -> go.Figure:
    """Return a sweep's effect curve: one clickable point per value of ``xs`` (``customdata=[index]``).

    ``ys`` is ``(N,)``; ``chosen`` (an index) is drawn larger, in the accent colour. A dashed line marks 0,
    the base plan's own value.
    """
    y = _as_float_array(ys, "ys", 1)  # (N,)
    if len(xs) != y.shape[0]:
        raise ValueError(f"xs and ys must have the same length, got {len(xs)} and {y.shape[0]}")
    labels = [str(x) for x in xs]
    sizes = [theme.px(14) if i == chosen else theme.px(9) for i in range(len(labels))]
    colors = [theme.accent_color if i == chosen else theme.bar_color for i in range(len(labels))]
    points = go.Scatter(
        x=labels,
        y=y,
        mode="lines+markers",
        line={"color": theme.bar_color, "width": theme.px(2)},
        marker={"size": sizes, "color": colors},
        customdata=[[i] for i in range(len(labels))],
        hovertemplate=f"{_escape(x_title)} %{{x}}<br>{_escape(measure)} %{{y:.4g}}"
        "<br>click to apply<extra></extra>",
        name="points",
    )
    width = (
        theme.px(theme.matrix_side_px)
        if max_width is None
        else min(max_width, theme.px(theme.matrix_side_px))
    )
    layout = _base_layout(theme, title, height=theme.px(300))
    layout.update(
        width=width,
        clickmode="event+select",
        dragmode=False,
        hovermode="closest",
        xaxis={
            "type": "category",
            "title": {"text": _escape(x_title)},
            "fixedrange": True,
            "automargin": True,
        },
        yaxis={"title": {"text": _escape(measure)}, "zeroline": True, "fixedrange": True, "automargin": True},
        shapes=[_reference_line(0.0, theme.text_color, theme.px(1), "base plan")],
    )
    return go.Figure(data=[points], layout=layout)


# ---------------------------------------------------------------------------------------------------------
# One (T, T) head: weights, differences


_HATCH = {
    "painted": "line-ne",
    "rule": "line-ne",
    "model": "line-nw",
}  # the model's stripes run the other way


def _block_style(kind: str, theme: Theme) -> tuple[str, str]:
    """Return ``(veil colour, stripe colour)`` of cells blocked by ``kind``."""
    return {
        "painted": (theme.blocked_color, theme.blocked_mark_color),
        "rule": (theme.rule_blocked_color, theme.rule_mark_color),
        "model": (theme.model_blocked_color, theme.model_mark_color),
    }[kind]


def _kinds_of_blocked(blocked: np.ndarray, blocked_by: Mapping[str, Any] | None) -> dict[str, np.ndarray]:
    """Return each kind's share of ``blocked`` ``(T, T)``: the model's first, then rules, the rest painted."""
    if blocked_by is None:
        return {"painted": blocked}
    unknown = set(blocked_by) - set(BLOCK_KINDS)
    if unknown:
        raise ValueError(f"blocked_by kinds must be among {BLOCK_KINDS}, got {sorted(unknown)}")
    left = blocked.copy()
    kinds: dict[str, np.ndarray] = {}
    for kind in ("model", "rule"):
        if blocked_by.get(kind) is None:
            continue
        cells = np.asarray(blocked_by[kind])
        if cells.dtype != np.bool_ or cells.shape != blocked.shape:
            raise ValueError(
                f"blocked_by[{kind!r}] must be a boolean array of shape {blocked.shape}, "
                f"got {cells.dtype} {tuple(cells.shape)}"
            )
        kinds[kind] = left & cells
        left &= ~cells
    kinds["painted"] = left
    return {kind: kinds[kind] for kind in BLOCK_KINDS if kind in kinds and kinds[kind].any()}


def _blocked_traces(
    values: np.ndarray,
    blocked: np.ndarray,
    cats: list[str],
    hovertemplate: str,
    theme: Theme,
    cell_px: float,
    rows: list[str] | None = None,
    blocked_by: Mapping[str, Any] | None = None,
    words: FigureWords = ENGLISH,
) -> list[go.BaseTraceType]:
    """Return a veil over blocked cells (NaN elsewhere) per kind of block and, for small T, its stripes.

    ``hovertemplate`` holds ``{blocked}``, replaced by the kind's name. Trace names: ``words.blocked(kind)``
    and that plus " marks".
    """
    rows = cats if rows is None else rows
    traces: list[go.BaseTraceType] = []
    marks: list[go.BaseTraceType] = []
    for kind, cells in _kinds_of_blocked(blocked, blocked_by).items():
        veil, stripe = _block_style(kind, theme)
        name = words.blocked(kind)
        z = np.where(cells, values, np.nan).astype(np.float32)  # (T, T), value kept for the hover
        traces.append(
            go.Heatmap(
                z=z,
                x=cats,
                y=rows,
                colorscale=[[0.0, veil], [1.0, veil]],
                showscale=False,
                hoverongaps=False,
                hovertemplate=hovertemplate.replace("{blocked}", _escape(name)),
                name=name,
            )
        )
        if len(cats) <= _MAX_T_FOR_BLOCKED_MARKS:
            qi, ki = np.nonzero(cells)
            # One diagonal per cell, the cell's size: neighbours join into the painter's stripes.
            marks.append(
                go.Scatter(
                    x=[cats[k] for k in ki],
                    y=[rows[q] for q in qi],
                    mode="markers",
                    marker={
                        "symbol": _HATCH[kind],
                        "size": max(3.0, cell_px),
                        "line": {"width": max(1.0, cell_px / 12), "color": stripe},
                    },
                    hoverinfo="skip",
                    name=f"{name} marks",
                )
            )
    return traces + marks


def _token_grid_figure(
    main: go.Heatmap,
    values: np.ndarray,
    tokens: Sequence[str],
    blocked: np.ndarray | None,
    blocked_hover: str,
    title: str,
    theme: Theme,
    size: _GridSize,
    query_tokens: Sequence[str] | None = None,
) -> go.Figure:
    t = values.shape[0]
    cats, ticks = _categories(tokens, t)
    rows, row_ticks = (cats, ticks) if query_tokens is None else _categories(query_tokens, t)
    words = size.words
    titles = (words.query_axis, words.key_axis) if size.axis_titles else ("", "")
    cell, stride, tick_px, frame = _fitted_frame(
        t, t, _cell_px(t, t, theme), (row_ticks, ticks), theme, title, titles, size.colorbar, size.max_width
    )
    main.update(x=cats, y=rows, showscale=size.colorbar)
    data: list[go.BaseTraceType] = [main]
    if blocked is not None and blocked.any():
        data += _blocked_traces(
            values, blocked, cats, blocked_hover, theme, cell, rows, size.blocked_by, words
        )
    layout = _base_layout(theme, title, height=0)
    layout.update(frame)
    layout.update(
        hovermode="closest",
        xaxis=_category_axis(cats, ticks, stride, titles[1], tick_px) | {"constrain": "domain"},
        yaxis=_category_axis(rows, row_ticks, stride, titles[0], tick_px)
        | {"autorange": "reversed", "scaleanchor": "x", "scaleratio": 1, "constrain": "domain"},
    )
    return go.Figure(data=data, layout=layout)


@dataclass(frozen=True)
class _GridSize:
    colorbar: bool = True
    axis_titles: bool = True
    max_width: int | None = None
    blocked_by: Mapping[str, Any] | None = None
    words: FigureWords = ENGLISH


def focus_figure(
    weights: Any,
    tokens: Sequence[str],
    *,
    allow: Any = None,
    title: str = "",
    theme: Theme = DEFAULT_THEME,
    zmax: float | None = None,
    colorbar: bool = True,
    axis_titles: bool = True,
    max_width: int | None = None,
    query_tokens: Sequence[str] | None = None,
    blocked_by: Mapping[str, Any] | None = None,
    words: FigureWords = ENGLISH,
) -> go.Figure:
    """Return one head's ``(T, T)`` attention weights as a heatmap with token labels on both axes.

    Queries run down (query 0 at the top), keys across; cells are square. ``allow`` ``(T, T)`` bool (True =
    may attend) draws blocked cells as a veil (striped for T <= 64) whose hover says "blocked".
    ``blocked_by`` maps kinds of ``BLOCK_KINDS`` ("rule", "model") to ``(T, T)`` bool cells they block: those
    blocked cells get that kind's tint and name; the rest of the blocked cells count as "painted".
    ``zmax`` None scales colours to this head's largest weight; pass 1.0 for a fixed scale. The figure is at
    most ``max_width`` px wide (smaller cells); several heatmaps side by side on one scale stated once can
    leave out the ``colorbar`` and the ``axis_titles``, giving the matrices the room. ``query_tokens``
    labels the rows where queries are other tokens than keys (cross-attention: the decoder's). ``words``
    holds the axis titles and hover names (another language).
    """
    w = _square_with_tokens(weights, tokens, "weights")  # (T, T)
    _check_query_tokens(query_tokens, len(tokens))
    blocked = _blocked_from_allow(allow, w.shape)
    if zmax is None:
        shown = w if blocked is None or blocked.all() else w[~blocked]
        zmax = max(float(shown.max()), 1e-6)
    elif not zmax > 0:
        raise ValueError(f"zmax must be > 0, got {zmax}")
    z = w if blocked is None else np.where(blocked, np.nan, w).astype(np.float32)  # (T, T)
    where = f"{_escape(words.query)} %{{y}} → {_escape(words.key)} %{{x}}"
    main = go.Heatmap(
        z=z,
        zmin=0.0,
        zmax=float(zmax),
        colorscale=weights_colorscale(theme),
        colorbar=_colorbar(theme, words.weight),
        hoverongaps=False,
        hovertemplate=f"{where}<br>{_escape(words.weight)} %{{z:.4f}}<extra></extra>",
        name="weights",
    )
    return _token_grid_figure(
        main,
        w,
        tokens,
        blocked,
        f"{where}<br>{{blocked}} ({_escape(words.weight)} %{{z:.4f}})<extra></extra>",
        title,
        theme,
        _GridSize(colorbar, axis_titles, max_width, blocked_by, words),
        query_tokens,
    )


def difference_figure(
    before: Any,
    after: Any,
    tokens: Sequence[str],
    *,
    allow: Any = None,
    title: str = "",
    theme: Theme = DEFAULT_THEME,
    max_width: int | None = None,
    query_tokens: Sequence[str] | None = None,
    blocked_by: Mapping[str, Any] | None = None,
    words: FigureWords = ENGLISH,
) -> go.Figure:
    """Return ``after - before`` of one head as a heatmap on a diverging scale centred at 0.

    The colour range is symmetric (± the largest absolute change); hover shows before, after and the
    difference. ``allow``, ``max_width``, ``query_tokens``, ``blocked_by`` and ``words`` as in
    ``focus_figure``.
    """
    _check_query_tokens(query_tokens, len(tokens))
    b = _square_with_tokens(before, tokens, "before")  # (T, T)
    a = _square_with_tokens(after, tokens, "after")  # (T, T)
    diff = (a - b).astype(np.float32)  # (T, T)
    blocked = _blocked_from_allow(allow, diff.shape)
    both = np.stack([b, a], axis=-1).astype(np.float32)  # (T, T, 2) for the hover
    reach = float(np.abs(diff).max())
    reach = reach if reach > 0 else 1.0  # no change at all: a neutral ±1 scale, all cells at the midpoint
    z = diff if blocked is None else np.where(blocked, np.nan, diff).astype(np.float32)
    w = {k: _escape(getattr(words, k)) for k in ("query", "key", "before", "after", "diff")}
    where = f"{w['query']} %{{y}} → {w['key']} %{{x}}"
    values = (
        f"{w['before']} %{{customdata[0]:.4f}}<br>{w['after']} %{{customdata[1]:.4f}}<br>"
        f"{w['diff']} %{{z:+.4f}}"
    )
    main = go.Heatmap(
        z=z,
        customdata=both,
        zmin=-reach,
        zmax=reach,
        zmid=0.0,
        colorscale=theme.diverging_colorscale,
        colorbar=_colorbar(theme, words.difference),
        hoverongaps=False,
        hovertemplate=f"{where}<br>{values}<extra></extra>",
        name="difference",
    )
    # The overlay carries no before/after copy: at T=512 that would add 2 MB for cells whose "after" is 0.
    return _token_grid_figure(
        main,
        diff,
        tokens,
        blocked,
        f"{where}<br>{{blocked}}<br>{w['diff']} %{{z:+.4f}}<extra></extra>",
        title,
        theme,
        _GridSize(max_width=max_width, blocked_by=blocked_by, words=words),
        query_tokens,
    )


# ---------------------------------------------------------------------------------------------------------
# Teaching matrices: Q, K, scores (with -inf), softmax weights, weights·V, output projection


def matrix_figure(
    matrix: Any,
    *,
    title: str,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    colorscale: str | None = None,
    diverging: bool = False,
    show_values: bool = False,
    row_title: str = "",
    col_title: str = "",
    theme: Theme = DEFAULT_THEME,
    colorbar: bool = True,
    max_width: int | None = None,
) -> go.Figure:
    """Return a small heatmap of any 2-D matrix, titled with its shape ("Q (7 × 32)"), value on hover.

    Non-finite cells (the -inf scores of masked cells) are drawn in a distinct dark colour with hover
    "−∞" (and the text "−∞" in the cell when the matrix is at most 32 on a side), never as NaN.
    ``diverging`` centres a symmetric scale at 0; ``show_values`` writes each number (3 decimals) in its cell.
    ``colorbar`` and ``max_width`` as in ``focus_figure``.
    """
    m = _as_float_array(matrix, "matrix", 2)  # (R, C)
    n_rows, n_cols = m.shape
    for labels, n, name in ((row_labels, n_rows, "row_labels"), (col_labels, n_cols, "col_labels")):
        if labels is not None and len(labels) != n:
            raise ValueError(f"{name} has {len(labels)} entries but matrix has shape {tuple(m.shape)}")
    row_cats, row_ticks = _categories(row_labels, n_rows)
    col_cats, col_ticks = _categories(col_labels, n_cols)

    finite = np.isfinite(m)
    shown = np.where(finite, m, np.nan).astype(np.float32)  # (R, C)
    if finite.any():
        lo, hi = float(m[finite].min()), float(m[finite].max())
    else:
        lo, hi = 0.0, 1.0
    if diverging:
        reach = max(abs(lo), abs(hi)) or 1.0
        lo, hi = -reach, reach
    elif hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5  # a constant matrix still gets a readable colour bar
    scale = colorscale or (theme.diverging_colorscale if diverging else theme.matrix_colorscale)

    cell = _cell_px(n_rows, n_cols, theme)
    if show_values:
        cell = max(cell, theme.px(theme.max_cell_px))  # room for "-0.123"
    full_title = f"{title} ({n_rows} × {n_cols})"
    cell, stride, tick_px, frame = _fitted_frame(
        n_rows,
        n_cols,
        cell,
        (row_ticks, col_ticks),
        theme,
        full_title,
        (row_title, col_title),
        colorbar,
        max_width,
    )
    where = "row %{y}, col %{x}"
    main = go.Heatmap(
        z=shown,
        x=col_cats,
        y=row_cats,
        zmin=lo,
        zmax=hi,
        zmid=0.0 if diverging else None,
        colorscale=scale,
        colorbar=_colorbar(theme, ""),
        showscale=colorbar,
        hoverongaps=False,
        hovertemplate=f"{where}<br>value %{{z:.4f}}<extra></extra>",
        texttemplate="%{z:.3f}" if show_values else None,
        textfont={"size": max(8, theme.font_size - 1)} if show_values else None,
        name=title,
    )
    data: list[go.BaseTraceType] = [main]

    kinds = {
        "-inf": np.isneginf(m),
        "+inf": np.isposinf(m),
        "nan": np.isnan(m),
    }
    write_text = show_values or max(n_rows, n_cols) <= _MAX_SIDE_FOR_CELL_TEXT
    for kind, where_kind in kinds.items():
        if not where_kind.any():
            continue
        label = _NONFINITE_LABELS[kind]
        data.append(
            go.Heatmap(
                z=np.where(where_kind, 1.0, np.nan).astype(np.float32),
                x=col_cats,
                y=row_cats,
                colorscale=[[0.0, theme.nonfinite_color], [1.0, theme.nonfinite_color]],
                showscale=False,
                hoverongaps=False,
                hovertemplate=f"{where}<br>value {label}<extra></extra>",
                name=label,
            )
        )
        if write_text:
            ri, ci = np.nonzero(where_kind)
            data.append(
                go.Scatter(
                    x=[col_cats[c] for c in ci],
                    y=[row_cats[r] for r in ri],
                    mode="text",
                    text=[label] * len(ri),
                    textfont={"color": "#ffffff", "size": max(8, min(theme.font_size, round(cell * 0.45)))},
                    hoverinfo="skip",
                    name=f"{label} labels",
                )
            )

    layout = _base_layout(theme, full_title, height=0)
    layout.update(frame)
    layout.update(
        hovermode="closest",
        xaxis=_category_axis(col_cats, col_ticks, stride, col_title, tick_px) | {"constrain": "domain"},
        yaxis=_category_axis(row_cats, row_ticks, stride, row_title, tick_px)
        | {"autorange": "reversed", "scaleanchor": "x", "scaleratio": 1, "constrain": "domain"},
    )
    return go.Figure(data=data, layout=layout)


# ---------------------------------------------------------------------------------------------------------
# Per-token bars: hidden-state change, attention row sums


def token_change_figure(
    tokens: Sequence[str],
    change: Any,
    *,
    measure: str = "1 − cosine",
    title: str = "",
    theme: Theme = DEFAULT_THEME,
) -> go.Figure:
    """Return a bar chart of how much each token's hidden state changed (``change`` is ``(T,)``)."""
    c = _as_float_array(change, "change", 1)  # (T,)
    if c.shape[0] != len(tokens):
        raise ValueError(f"change has shape {tuple(c.shape)} but there are {len(tokens)} tokens")
    if not np.isfinite(c).all():
        raise ValueError("change contains NaN or infinite values")
    cats, ticks = _categories(tokens, len(tokens))
    bar = go.Bar(
        x=cats,
        y=c,
        marker={"color": theme.bar_color},
        hovertemplate=f"%{{x}}<br>{measure} %{{y:.4f}}<extra></extra>",
        name=measure,
    )
    width_px = theme.px(theme.matrix_side_px)
    layout = _base_layout(theme, title, height=theme.px(260))
    layout.update(
        bargap=0.15,
        xaxis=_category_axis(cats, ticks, _tick_stride(width_px / len(cats), theme.font_size), ""),
        yaxis={"title": {"text": measure}, "rangemode": "tozero", "automargin": True},
    )
    return go.Figure(data=[bar], layout=layout)


def row_sums_figure(
    weights_by_variant: Mapping[str, Any],
    tokens: Sequence[str],
    *,
    title: str = "Row sums of the attention weights",
    theme: Theme = DEFAULT_THEME,
    words: FigureWords = ENGLISH,
) -> go.Figure:
    """Return grouped bars of each query's row sum per variant, with a dashed reference line at 1.

    ``weights_by_variant`` maps a name ("no mask", "mask before softmax", "zeroed after softmax") to a
    ``(T, T)`` weight matrix. Correct masking keeps every row at 1 (or 0 for a row with every key blocked);
    zeroing after the softmax leaves rows below 1.
    """
    if not weights_by_variant:
        raise ValueError("weights_by_variant must name at least one (T, T) weight matrix")
    cats, ticks = _categories(tokens, len(tokens))
    bars = []
    for name, weights in weights_by_variant.items():
        w = _square_with_tokens(weights, tokens, f"weights_by_variant[{name!r}]")  # (T, T)
        bars.append(
            go.Bar(
                x=cats,
                y=w.sum(axis=-1, dtype=np.float64).astype(np.float32),  # (T,)
                name=_escape(name),
                hovertemplate=f"{_escape(name)}<br>{_escape(words.query)} %{{x}}<br>{_escape(words.row_sum)} "
                "%{y:.4f}<extra></extra>",
            )
        )
    width_px = theme.px(theme.matrix_side_px)
    layout = _base_layout(theme, title, height=theme.px(300))
    layout.update(
        barmode="group",
        bargap=0.2,
        showlegend=True,
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 1, "xanchor": "right"},
        xaxis=_category_axis(cats, ticks, _tick_stride(width_px / len(cats), theme.font_size), ""),
        yaxis={"title": {"text": words.row_sum}, "rangemode": "tozero", "automargin": True},
        shapes=[_reference_line(1.0, theme.text_color, theme.px(1.5), "sum = 1")],
    )
    layout["margin"]["t"] = theme.px(64 if title else 36)  # the legend sits above the bars
    return go.Figure(data=bars, layout=layout)


# ---------------------------------------------------------------------------------------------------------
# Export


def figure_html(fig: go.Figure) -> str:
    """Return a standalone HTML page for ``fig`` with plotly.js inlined (works offline, ~5 MB)."""
    return fig.to_html(include_plotlyjs=True, full_html=True, config=PLOTLY_CONFIG)
