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
