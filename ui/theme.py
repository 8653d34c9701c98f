"""Figure theme and page styling for normal and presentation (projector) mode."""

from __future__ import annotations

import numpy as np
import plotly.colors
import streamlit as st

from maskattn.figures import DEFAULT_THEME, PRESENTATION_THEME, Theme, weights_colorscale

# Projector styling. Only text grows (body copy, labels, tables, formulas); widgets keep their size so the
# controls in narrow columns still fit. Grey captions turn near-black, and the sidebar loses what a
# projected page does not need (device line, help icons, the deploy toolbar).
PRESENTATION_CSS = """
<style>
[data-testid="stMainBlockContainer"] [data-testid="stMarkdown"] :is(p, li, td, th) {
  font-size: 1.3rem; line-height: 1.5;
}
[data-testid="stMainBlockContainer"] [data-testid="stWidgetLabel"] p { font-size: 1.1rem; font-weight: 600; }
[data-testid="stMainBlockContainer"] [data-testid="stCaptionContainer"] :is(p, span, a) {
  font-size: 1.1rem; color: #111111;
}
[data-testid="stMainBlockContainer"] .katex { font-size: 1.4em; }
[data-testid="stMainBlockContainer"] { color: #000000; }
h1 { font-size: 2.8rem !important; } h2 { font-size: 2.1rem !important; } h3 { font-size: 1.7rem !important; }
[data-testid="stToolbar"] { display: none; }
[data-testid="stSidebar"] [data-testid="stCaptionContainer"],
[data-testid="stSidebar"] [data-testid="stTooltipIcon"] { display: none; }
</style>
"""


def figure_theme() -> Theme:
    """Return the figure theme for the current mode."""
    return PRESENTATION_THEME if st.session_state.get("presentation", False) else DEFAULT_THEME


def apply_presentation_css(on: bool) -> None:
    """Inject larger fonts when presentation mode is on."""
    if on:
        st.html(PRESENTATION_CSS)


def painter_ramp() -> list[list[int]]:
    """Return the painter's colour ramp for the current mode: the figures' weight scale, gamma included."""
    stops = weights_colorscale(figure_theme())  # [[weight, "rgb(r, g, b)"], ...] evenly spaced in weight
    return [[round(c) for c in plotly.colors.unlabel_rgb(colour)] for _, colour in stops]


# Above this many tokens the Explorer colours a head to its largest weight unless told otherwise: spread
# over a long text every weight is small, and on the fixed 0–1 scale the head is a blank square.
CONTRAST_FROM_TOKENS = 64


def weights_top(grids, contrast: bool) -> float:
    """Return the top of the weight colour scale: 1, or with ``contrast`` the largest finite weight shown."""
    if not contrast:
        return 1.0
    finite = [g[np.isfinite(g)] for g in (np.asarray(grid, dtype=np.float64) for grid in grids)]
    largest = max((float(f.max()) for f in finite if f.size), default=1.0)
    return min(1.0, max(largest, 1e-6))


def painter_scale() -> float:
    """Return how much larger the painter draws its labels and toolbar in the current mode."""
    return figure_theme().size_scale


# The Explorer's figures have fixed pixel sizes, and Streamlit squeezes a wider one into its column, which
# leaves the matrix small inside a tall empty frame. So they are built as wide as their column, which the
# browser reports (ui.width_probe); until it has, at most this wide (times the theme's size scale): about
# the right column at 1280 px with the sidebar open. Narrower windows stack the columns.
FIGURE_WIDTH_PX = 420
PAIR_MIN_WIDTH_PX = 200  # each figure of "Side by side": narrower ones go one above the other
PAIR_GAP_PX = 16  # Streamlit's small gap between columns
PAINTER_MIN_WIDTH_PX = 320
# Columns of the Explorer's keyed containers wrap onto their own rows when the window is too narrow for both;
# a column never gets wider than its row (presentation mode's figure minimum is wider than an 800 px window).
EXPLORER_CSS = """<style>
.st-key-ex_text_row [data-testid=stColumn]:last-child {{ min-width: 170px; }}
.st-key-ex_focus_row [data-testid=stColumn],
.st-key-ex_gate_row [data-testid=stColumn] {{ min-width: 130px; }}
.st-key-ex_split > div > [data-testid=stHorizontalBlock] > [data-testid=stColumn]:first-child {{
  min-width: min({painter}px, 100%);
}}
.st-key-ex_split > div > [data-testid=stHorizontalBlock] > [data-testid=stColumn]:last-child {{
  min-width: min({figure}px, 100%);
}}
</style>"""


def figure_width(theme: Theme) -> int:
    """Return the width the Explorer's figures get before the browser has said how wide their column is."""
    return theme.px(FIGURE_WIDTH_PX)


def pair_layout(theme: Theme, column_px: int) -> tuple[int, bool]:
    """Return ``(width of each figure, side by side?)`` for two figures in a column ``column_px`` wide."""
    each = (column_px - PAIR_GAP_PX) // 2
    return (each, True) if each >= theme.px(PAIR_MIN_WIDTH_PX) else (column_px, False)


def explorer_css_sizes(theme: Theme) -> dict[str, int]:
    """Return the pixel sizes ``EXPLORER_CSS`` is formatted with, for figures drawn in ``theme``."""
    return {"painter": PAINTER_MIN_WIDTH_PX, "figure": figure_width(theme)}
