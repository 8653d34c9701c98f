"""The head overview: every head's attention in one image, a tile per head; a click focuses that head.

A Streamlit custom component (components v2, inline, no iframe). Streamlit's plotly chart drew the overview
twice per edit, ~100 ms of the browser's main thread at any text length; this shows the same indexed PNG
(``maskattn.overview``) as one ``<img>`` and draws the outlines and badges as CSS boxes over it, sized to
its column by the browser. The browser side is ``head_overview.js`` / ``head_overview.css``; its ⤓ button
saves the overview as the sidebar's figure format says (PNG at ``PAPER_SCALE``× or SVG), drawn in the page.

``maskattn.figures.overview_figure`` is the same overview as a plotly figure, for notebooks and exports.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any, Literal

import numpy as np
import streamlit as st

from maskattn import figures as fig
from maskattn.overview import ENGLISH_WORDS, OverviewWords, head_marks, tile_heads

__all__ = ["head_overview", "overview_data"]


_HTML = """
<div class="ho-root" data-testid="head-overview">
  <div class="ho-frame">
    <div class="ho-corner"></div>
    <div class="ho-heads"></div>
    <div class="ho-scale-top"></div>
    <div class="ho-layers"></div>
    <div class="ho-plot"><img class="ho-img" alt="" draggable="false"><div class="ho-tiles"></div></div>
    <div class="ho-scale">
      <div class="ho-ramp"></div><div class="ho-ticks"></div><div class="ho-title"></div>
    </div>
  </div>
  <div class="ho-foot"><span class="ho-note"></span><button type="button" class="ho-save"></button></div>
  <div class="ho-tip" hidden></div>
</div>
"""

# Declared once at import: re-declaring on every run would re-register the component each rerun.
_HEAD_OVERVIEW = st.components.v2.component(
    "maskattn_head_overview",
    html=_HTML,
    css=Path(__file__).with_name("head_overview.css").read_text(encoding="utf-8"),
    js=Path(__file__).with_name("head_overview.js").read_text(encoding="utf-8"),
)


def overview_data(
    attentions: Any,
    *,
    marked: Any = None,
    focus: tuple[int, int] | None = None,
    highlight: Any = None,
    badges: Any = None,
    notes: Any = None,
    theme: fig.Theme = fig.DEFAULT_THEME,
    words: OverviewWords = ENGLISH_WORDS,
    thumb_px: int = 24,
    pool: Literal["max", "mean"] = "max",
    zmax: float = 1.0,
    export_format: str = "png",
    filename: str = "overview",
) -> dict[str, Any]:
    """Return what the browser draws: the image, its geometry, the marks, colours, words, the save format.

    The arguments are ``head_overview``'s; ValueError on bad input.
    """
    if export_format not in fig.EXPORT_FORMATS:
        raise ValueError(f"export_format must be one of {fig.EXPORT_FORMATS}, got {export_format!r}")
    tiles = tile_heads(attentions, fig.overview_palette(theme), thumb_px=thumb_px, pool=pool, zmax=zmax)
    marks = head_marks(
        (tiles.layers, tiles.heads),
        marked=marked,
        focus=focus,
        highlight=highlight,
        badges=badges,
        notes=notes,
    )

    def heads_where(grid: np.ndarray | None) -> list[list[int]]:
        if grid is None:
            return []
        return [[int(lyr), int(hd)] for lyr, hd in zip(*np.nonzero(grid), strict=True)]

    def labels(grid: np.ndarray | None) -> list[list[Any]]:
        return [] if grid is None else [[lyr, hd, str(grid[lyr, hd])] for lyr, hd in heads_where(grid != "")]

    pooled = words.pooled_max if pool == "max" else words.pooled_mean
    note = pooled.format(step=tiles.step) if tiles.step > 1 else ""
    return {
        "png": tiles.png,
        "tile": tiles.tile,
        "gap": tiles.gap,
        "step": tiles.step,
        "layers": tiles.layers,
        "heads": tiles.heads,
        "focus": list(marks.focus) if marks.focus is not None else None,
        "marked": heads_where(marks.marked),
        "highlight": heads_where(marks.highlight),
        "badges": labels(marks.badges),
        "notes": labels(marks.notes),
        # The colour bar: the weights' scale as CSS stops, ticks at round weights from 0 to zmax.
        "ramp": fig.weights_colorscale(theme),  # [[weight, "rgb(...)"], ...], as the overview's palette
        "ticks": [round(float(t), 6) for t in np.linspace(0.0, zmax, 6)],
        "zmax": float(zmax),
        "tile_px": 2 * theme.px(theme.overview_tile_px),  # the largest tile; a narrower column shrinks it
        "font_px": theme.font_size,
        "font_family": theme.font_family,
        "colors": {
            "gap": theme.gap_color,
            "focus": theme.focus_color,
            "marked": theme.accent_color,
            "highlight": theme.highlight_color,
            "badge": theme.badge_color,
        },
        "words": asdict(words),
        "note": note,
        "export": {
            "format": export_format,
            "scale": fig.PAPER_SCALE if export_format == "png" else 1,
            "filename": filename,
        },
    }


def head_overview(
    *,
    key: str,
    attentions: Any,
    marked: Any = None,
    focus: tuple[int, int] | None = None,
    theme: fig.Theme = fig.DEFAULT_THEME,
    words: OverviewWords = ENGLISH_WORDS,
    on_pick: Callable[[int, int], None] | None = None,
    highlight: Any = None,
    badges: Any = None,
    notes: Any = None,
    thumb_px: int = 24,
    pool: Literal["max", "mean"] = "max",
    zmax: float = 1.0,
    export_format: str = "png",
) -> None:
    """Draw the overview of ``attentions`` ``(L, H, T, T)``; a click on a tile calls ``on_pick(layer, head)``.

    ``marked`` ``(L, H)`` bool outlines heads that carry a mask or a gate; ``focus`` rings the focused head;
    ``highlight`` (bool), ``badges`` and ``notes`` (strings) are a head-type filter's hits, labels and hover
    notes (see ``maskattn.figures.overview_figure``, which draws the same). ``on_pick`` runs before the rerun
    the click causes. ValueError on bad input, before anything is drawn.
    """
    data = overview_data(
        attentions,
        marked=marked,
        focus=focus,
        highlight=highlight,
        badges=badges,
        notes=notes,
        theme=theme,
        words=words,
        thumb_px=thumb_px,
        pool=pool,
        zmax=zmax,
        export_format=export_format,
    )
    layers, heads = data["layers"], data["heads"]

    def take_pick() -> None:
        state = st.session_state.get(key)
        picked = state.get("pick") if isinstance(state, Mapping) else None
        if on_pick is not None and _is_head(picked, layers, heads):
            on_pick(int(picked[0]), int(picked[1]))

    _HEAD_OVERVIEW(key=key, data=data, on_pick_change=take_pick)


def _is_head(value: object, layers: int, heads: int) -> bool:
    """Whether ``value`` from the browser is ``[layer, head]`` of a head that exists (else it is ignored)."""
    return (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        and 0 <= value[0] < layers
        and 0 <= value[1] < heads
    )
