"""The sidebar every page shares: model picker, device, presentation mode."""

from __future__ import annotations

import streamlit as st

from maskattn import DEFAULT_MODEL_ID, pick_device

from . import limits
from .figure_export import figure_format_picker
from .theme import apply_presentation_css

CUSTOM = "Another model (hub id or local folder)…"


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
    with st.sidebar:
        st.markdown("### maskattn")
        st.session_state.setdefault("model_name", st.query_params.get("model", DEFAULT_MODEL_ID))
        if st.session_state.get("sb_shown_model") != st.session_state["model_name"]:
            _show_model(st.session_state["model_name"])
        choice = st.selectbox(
            "Model",
            [DEFAULT_MODEL_ID, CUSTOM] if limits.LIMITS.allow_custom_models else [DEFAULT_MODEL_ID],
            help="The default model is bundled and works offline. Other models load from the Hugging Face "
            "hub or a local folder."
            if limits.LIMITS.allow_custom_models
            else "This server serves only the bundled model.",
            key="sb_model_choice",
        )
        if choice == CUSTOM:
            typed = st.text_input(
                "Hub id or folder", placeholder="gpt2, /path/to/model", key="sb_model_custom"
            ).strip()
            if typed:
                st.session_state["model_name"] = typed
        else:
            st.session_state["model_name"] = DEFAULT_MODEL_ID
        st.session_state["sb_shown_model"] = st.session_state["model_name"]
        st.caption(f"Device: `{pick_device()}`")
        st.toggle(
            "Presentation mode",
            key="presentation",
            help="Larger fonts and a high-contrast colour scale for projectors.",
        )
        figure_format_picker()
    apply_presentation_css(st.session_state.get("presentation", False))
