"""Figure theme and page styling for normal and presentation (projector) mode."""

from __future__ import annotations

import plotly.colors
import streamlit as st

from maskattn.figures import DEFAULT_THEME, PRESENTATION_THEME, Theme

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


def painter_ramp() -> list[list[int]] | None:
    """Return the painter's colour ramp for the current mode, the figures' weight scale (None: blues)."""
    theme = figure_theme()
    if theme is DEFAULT_THEME:
        return None
    scale = plotly.colors.get_colorscale(theme.weights_colorscale)  # [[position, "rgb(...)" or "#..."], ...]
    rgb = [plotly.colors.unlabel_rgb(plotly.colors.convert_colors_to_same_type(c)[0][0]) for _, c in scale]
    return [[round(channel) for channel in stop] for stop in rgb]


# The Explorer's figures have fixed pixel sizes, and Streamlit squeezes a wider one into its column, which
# leaves the matrix small inside a tall empty frame. So they are built at most this wide (times the theme's
# size scale): about the right column at 1280 px with the sidebar open. Narrower windows stack the columns.
FIGURE_WIDTH_PX = 420
PAIR_WIDTH_PX = 360  # each figure of "Side by side": two fit next to each other from a 740 px column on
PAINTER_MIN_WIDTH_PX = 320
# Columns of the Explorer's keyed containers wrap onto their own rows when the window is too narrow for both.
EXPLORER_CSS = """<style>
.st-key-ex_text_row [data-testid=stColumn]:last-child {{ min-width: 170px; }}
.st-key-ex_focus_row [data-testid=stColumn],
.st-key-ex_gate_row [data-testid=stColumn] {{ min-width: 130px; }}
.st-key-ex_split > div > [data-testid=stHorizontalBlock] > [data-testid=stColumn]:first-child {{
  min-width: {painter}px;
}}
.st-key-ex_split > div > [data-testid=stHorizontalBlock] > [data-testid=stColumn]:last-child {{
  min-width: {figure}px;
}}
.st-key-ex_side_by_side [data-testid=stColumn] {{ min-width: {pair}px; }}
</style>"""


def figure_width(theme: Theme, pair: bool = False) -> int:
    """Return the widest the Explorer's figures may be, in pixels (each of a pair with ``pair``)."""
    return theme.px(PAIR_WIDTH_PX if pair else FIGURE_WIDTH_PX)


def explorer_css_sizes(theme: Theme) -> dict[str, int]:
    """Return the pixel sizes ``EXPLORER_CSS`` is formatted with, for figures drawn in ``theme``."""
    sizes = {"painter": PAINTER_MIN_WIDTH_PX, "figure": figure_width(theme)}
    return sizes | {"pair": figure_width(theme, pair=True)}
