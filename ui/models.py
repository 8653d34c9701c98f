"""The app's cached resources: models loaded once and never mutated, and cached masked runs.

Both caches are shared by every session; what a session asks for (its text, its plan) travels in each call's
arguments, never on the model, so no session can see another's mask or results.
"""

from __future__ import annotations

import gc

import streamlit as st
import torch

from maskattn import DEFAULT_MODEL_ID, MaskedModel, MaskPlan, ModelLoadError, RunResult, load_model
from maskattn.words import Words
from ui.lessons import Language, tr

from . import limits
from .markdown import code, escape

LOADED_KEY = "models_loaded"  # the last model that loaded in this session: the fallback
FAILED_KEY = "models_failed"  # (name, reason) of the last model that did not

# Once per server: on two cores with a browser drawing, one thread per run halved an edit's CPU and latency
# (two spin and wait for each other while other sessions' runs hold the cores). MASKATTN_TORCH_THREADS.
torch.set_num_threads(limits.LIMITS.torch_threads)


@st.cache_resource(show_spinner=False, max_entries=limits.LIMITS.cached_models)
def get_model(name: str) -> MaskedModel:
    """Return the loaded model ``name``, shared by every session (plans travel per call, never on it)."""
    model = _load(name)
    _freeze_heap()
    return model


def _freeze_heap() -> None:
    """Take what is alive now (the libraries, the loaded models) out of the garbage collector's walks.

    A full collection walks every tracked object: with torch, transformers and plotly loaded, ~430k of them,
    ~0.4 CPU-s, paid by whichever edit sets one off. Frozen objects are not walked until the next load,
    which first thaws them, so a model the cache has dropped since is collected then.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def _load(name: str) -> MaskedModel:
    if name == DEFAULT_MODEL_ID:
        return load_model(None)  # the bundled model is always served, whatever the limits
    if not limits.LIMITS.allow_custom_models:
        raise ModelLoadError(f"this server serves only the bundled model {DEFAULT_MODEL_ID}")
    try:
        return load_model(name, max_parameters=limits.LIMITS.max_model_parameters)
    except OSError as err:  # a folder the server may not look into: a message, like any other failed load
        raise ModelLoadError(f"cannot load {name[:200]!r}: {err.strerror or err}") from err


def run_cached(name: str, text: str, plan_key: str) -> RunResult:
    """Return the masked run of ``text`` under the plan whose canonical JSON is ``plan_key`` (cached)."""
    return _run_cached(name, text, plan_key, limits.LIMITS.max_tokens)


@st.cache_resource(show_spinner=False, max_entries=limits.LIMITS.cached_runs)
def _run_cached(name: str, text: str, plan_key: str, max_tokens: int) -> RunResult:
    return get_model(name).run(text, MaskPlan.from_json(plan_key), max_tokens=max_tokens)


def words_of(name: str, text: str) -> Words | None:
    """Return the word spans and labels of ``text`` as the runs tokenise it (``MaskedModel.words``), or None.

    None also for a model with more than one attention (an encoder–decoder's decoder reads other tokens).
    """
    return _words_cached(name, text, limits.LIMITS.max_tokens)


@st.cache_data(show_spinner=False, max_entries=limits.LIMITS.cached_runs)
def _words_cached(name: str, text: str, max_tokens: int) -> Words | None:
    model = get_model(name)
    return model.words(text, max_tokens=max_tokens) if len(model.stacks) == 1 else None


def active_model(lang: Language = "en") -> MaskedModel | None:
    """Return the model the sidebar names, or, when it cannot load, say why and return the last one that did.

    A failed name is not tried again on every rerun (a hub lookup can take seconds): only once it changes.
    None when not even the fallback loads (shown as an error too).
    """
    name = st.session_state.get("model_name", DEFAULT_MODEL_ID)
    failed = st.session_state.get(FAILED_KEY)
    if failed is None or failed[0] != name:
        try:
            with st.spinner(f"Loading {code(name)}…", show_time=True):  # Markdown: the name as typed
                model = get_model(name)
        except ModelLoadError as err:
            failed = (name, str(err))
            st.session_state[FAILED_KEY] = failed
        else:
            st.session_state.pop(FAILED_KEY, None)
            st.session_state[LOADED_KEY] = name
            return model
    fallback = st.session_state.get(LOADED_KEY, DEFAULT_MODEL_ID)
    reason = failed[1].rstrip(". ")
    if fallback == name:
        st.error(tr("common.model_error", lang, model=code(name), error=escape(reason)))
        return None
    reason = reason[:1].upper() + reason[1:]
    st.error(tr("common.model_fallback", lang, error=escape(reason), fallback=code(fallback)))
    try:
        return get_model(fallback)
    except ModelLoadError as err:
        st.error(tr("common.model_error", lang, model=code(fallback), error=escape(err)))
        return None
