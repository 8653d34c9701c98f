"""Helpers shared by the classroom pages (Mask Lab, Learn): cached runs, compact figures, Explorer links."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import plotly.graph_objects as go
import streamlit as st

from maskattn import MaskPlan
from maskattn import figures as fig
from maskattn.stepthrough import HeadTrace, trace_head
from ui import frame
from ui.models import get_model
from ui.share import SharedState, to_query_params
from ui.theme import figure_theme

EXPLORER_URL_PATH = "./"  # the Explorer is the default page, served at the root
# The Explorer reads its link only when its state is empty; this is the key its init checks.
EXPLORER_STATE_KEY = "ex_plan"


def compact_theme(side_px: int = 240, max_cell_px: int = 28) -> fig.Theme:
    """Return the current figure theme with smaller matrices, for three or more figures side by side."""
    return dataclasses.replace(figure_theme(), matrix_side_px=side_px, max_cell_px=max_cell_px)


def show_figure(figure: go.Figure, key: str, *, stretch: bool = False) -> None:
    """Draw a plotly figure at its own size, or as wide as its column with ``stretch`` (cells stay square)."""
    st.plotly_chart(
        figure, key=key, config=fig.PLOTLY_CONFIG, width="stretch" if stretch else "content", theme=None
    )


def small_multiple(figure: go.Figure, theme: fig.Theme) -> go.Figure:
    """Return ``figure`` without colour bars and axis titles, narrower by the room they took.

    For several heatmaps side by side on one fixed scale (the caption states the scale once), so the
    matrices themselves get the width. The margins follow ``figures._matrix_frame``'s layout.
    """
    margin = figure.layout.margin
    title_room = round(theme.font_size * 1.8)  # one axis title line
    right = theme.px(12)
    has_titles = bool(figure.layout.xaxis.title.text)
    figure.update_traces(showscale=False, selector={"type": "heatmap"})
    figure.update_layout(
        xaxis_title_text=None,
        yaxis_title_text=None,
        width=figure.layout.width - (margin.r - right) - (title_room if has_titles else 0),
        height=figure.layout.height - (title_room if has_titles else 0),
        margin={
            "r": right,
            "l": margin.l - (title_room if has_titles else 0),
            "b": margin.b - (title_room if has_titles else 0),
        },
    )
    return figure


@st.cache_resource(show_spinner=False, max_entries=64)
def cached_trace(model_name: str, text: str, plan_key: str, layer: int, head: int) -> HeadTrace:
    """Return the step-through of ``head`` in ``layer`` (cached on the model, text, plan and head)."""
    return trace_head(get_model(model_name), text, MaskPlan.from_json(plan_key), layer, head)


@st.cache_resource(show_spinner=False, max_entries=8)
def cached_seed_example(seed: int, training: bool) -> dict[str, Any]:
    """Return ``examples.seed_example.run_seed_example(seed, training=...)`` (cached; never mutated)."""
    from examples.seed_example import run_seed_example

    return run_seed_example(seed, training=training)


def explorer_href(params: Mapping[str, str]) -> str:
    """Return a relative link to the Explorer page with ``params`` (opens a new session in a new tab)."""
    return f"{EXPLORER_URL_PATH}?{urlencode(dict(params))}"


def open_in_explorer(
    params: Mapping[str, str], *, key: str, label: str, share_label: str | None = None
) -> None:
    """Draw a button that opens the Explorer in this session with ``params`` (text, plan, focus) applied.

    The Explorer reads its URL only while its state is empty, so the button clears that state first; the
    session keeps everything else (language, presentation mode, model). ``share_label`` adds a plain link
    that opens the same state in a new tab.
    """
    if st.button(label, key=key, icon=":material/open_in_new:"):
        st.session_state.pop(EXPLORER_STATE_KEY, None)
        st.switch_page(frame.EXPLORER.path, query_params=dict(params))
    if share_label:
        st.caption(f"[{share_label}]({explorer_href(params)})")


def to_explorer_params(text: str, model: str, plan: MaskPlan, focus: tuple[int, int]) -> dict[str, str]:
    """Return the Explorer's URL query parameters for this text, model, plan and focused head."""
    return to_query_params(SharedState(text, model, plan, focus))
