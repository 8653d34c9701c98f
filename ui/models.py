"""The app's cached resources: models loaded once and never mutated, and cached masked runs."""

from __future__ import annotations

import streamlit as st

from maskattn import DEFAULT_MODEL_ID, MaskedModel, MaskPlan, RunResult, load_model


@st.cache_resource(show_spinner=False, max_entries=4)
def get_model(name: str) -> MaskedModel:
    """Return the loaded model ``name``, shared by every session (plans travel per call, never on it)."""
    return load_model(None if name == DEFAULT_MODEL_ID else name)


@st.cache_resource(show_spinner=False, max_entries=32)  # each up to L·H·T² floats (75 MB at T=512)
def run_cached(name: str, text: str, plan_key: str) -> RunResult:
    """Return the masked run of ``text`` under the plan whose canonical JSON is ``plan_key`` (cached)."""
    return get_model(name).run(text, MaskPlan.from_json(plan_key))
