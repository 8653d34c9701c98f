"""The sidebar every page shares: model picker, device, presentation mode."""

from __future__ import annotations

import streamlit as st

from maskattn import DEFAULT_MODEL_ID, pick_device

from . import limits
from .figure_export import figure_format_picker
from .i18n import current_language
from .lessons import tr
from .theme import apply_presentation_css

CUSTOM = "Another model (hub id or local folder)…"  # the option's value; shown in the page's language


def _show_model(name: str) -> None:
    """Set the picker's widgets to show ``name`` (the model may change elsewhere: a link, an exercise)."""
    # A model the server refuses is shown as the default; the page says why.
    custom = name != DEFAULT_MODEL_ID and limits.LIMITS.allow_custom_models
    st.session_state["sb_model_choice"] = CUSTOM if custom else DEFAULT_MODEL_ID
    if custom:
        st.session_state["sb_model_custom"] = name
    st.session_state["sb_shown_model"] = name


def render() -> None:
    """Draw the sidebar and keep its choices in ``st.session_state`` (``model_name``, ``presentation``)."""
    lang = current_language()
    with st.sidebar:
        st.markdown("### maskattn")
        st.session_state.setdefault("model_name", st.query_params.get("model", DEFAULT_MODEL_ID))
        if st.session_state.get("sb_shown_model") != st.session_state["model_name"]:
            _show_model(st.session_state["model_name"])
        choice = st.selectbox(
            tr("sidebar.model", lang),
            [DEFAULT_MODEL_ID, CUSTOM] if limits.LIMITS.allow_custom_models else [DEFAULT_MODEL_ID],
            format_func=lambda name: tr("sidebar.custom", lang) if name == CUSTOM else name,
            help=tr(
                "sidebar.model.help" if limits.LIMITS.allow_custom_models else "sidebar.model.only", lang
            ),
            key="sb_model_choice",
        )
        if choice == DEFAULT_MODEL_ID:
            # The selectbox cuts a long name: the whole name on a line of its own.
            st.caption(f"`{DEFAULT_MODEL_ID}`")
        if choice == CUSTOM:
            typed = st.text_input(
                tr("sidebar.custom.input", lang), placeholder="gpt2, /path/to/model", key="sb_model_custom"
            ).strip()
            if typed:
                st.session_state["model_name"] = typed
        else:
            st.session_state["model_name"] = DEFAULT_MODEL_ID
        st.session_state["sb_shown_model"] = st.session_state["model_name"]
        st.caption(tr("sidebar.device", lang, device=f"`{pick_device()}`"))
        st.toggle(
            tr("sidebar.presentation", lang), key="presentation", help=tr("sidebar.presentation.help", lang)
        )
        figure_format_picker()
    apply_presentation_css(st.session_state.get("presentation", False))
