"""What every figure's camera button downloads: PNG at paper resolution or SVG, chosen once in the sidebar.

The image is made in the browser by plotly.js (``toImageButtonOptions``; the head overview draws its own,
``ui/head_overview.js``), not on the server: no headless
browser to install or start (kaleido), so it works offline, and on a busy server it costs the server nothing.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from maskattn import figures as fig

from .i18n import current_language
from .lessons import tr

FORMAT_KEY = "fig_format"  # "png" or "svg", for the whole session


def chosen_format() -> str:
    """Return the figure format chosen in the sidebar: "png" or "svg"."""
    chosen = st.session_state.get(FORMAT_KEY)
    return chosen if chosen in fig.EXPORT_FORMATS else "png"


def chart_config(filename: str = "maskattn") -> dict[str, Any]:
    """Return the plotly config of a chart: its camera button saves ``filename`` in the chosen format."""
    return fig.export_config(chosen_format(), filename)


def figure_format_picker() -> None:
    """Draw the choice of what a figure's camera button saves: PNG (4× the screen, for papers) or SVG."""
    lang = current_language()
    if st.session_state.get(FORMAT_KEY) not in fig.EXPORT_FORMATS:
        st.session_state[FORMAT_KEY] = "png"
    st.segmented_control(
        tr("inst.format", lang),
        fig.EXPORT_FORMATS,
        format_func=str.upper,
        key=FORMAT_KEY,
        required=True,
        help=tr("inst.format_help", lang, scale=fig.PAPER_SCALE),
    )
