"""Figure theme and page styling for normal and presentation (projector) mode."""

from __future__ import annotations

import streamlit as st

from maskattn.figures import DEFAULT_THEME, PRESENTATION_THEME, Theme

PRESENTATION_CSS = """
<style>
html, body, [data-testid="stMarkdownContainer"] p, [data-testid="stMarkdownContainer"] li { font-size: 1.25rem; }
[data-testid="stSidebar"] { min-width: 220px; max-width: 240px; }
h1 { font-size: 2.6rem !important; } h2 { font-size: 2rem !important; } h3 { font-size: 1.6rem !important; }
[data-testid="stCaptionContainer"] { font-size: 1.05rem; }
</style>
"""


def figure_theme() -> Theme:
    """Return the figure theme for the current mode."""
    return PRESENTATION_THEME if st.session_state.get("presentation", False) else DEFAULT_THEME


def apply_presentation_css(on: bool) -> None:
    """Inject larger fonts when presentation mode is on."""
    if on:
        st.html(PRESENTATION_CSS)
