"""The page language (English / 中文): a switch kept in session state and in the URL parameter ``lang``.

The text itself is in ``ui.lessons`` (pure); this module only knows where the current choice lives.

- ``st.session_state["language"]`` holds the choice for the whole session, so it survives a visit to a page
  without the switch (Streamlit drops a widget's own state on pages that do not draw it).
- ``?lang=zh`` in the URL wins when present and valid, so a shared link opens in its language; the switch
  writes the parameter back, so the address bar is always a link to the current language.
"""

from __future__ import annotations

import streamlit as st

from ui.lessons import DEFAULT_LANGUAGE, LANGUAGE_NAMES, LANGUAGES, Language, parse_language, tr

STATE_KEY = "language"
WIDGET_KEY = "i18n_lang"
URL_PARAM = "lang"


def current_language() -> Language:
    """Return the session's language (the URL's when it names one, else the last choice, else English)."""
    from_url = parse_language(st.query_params.get(URL_PARAM))
    if from_url is not None:
        st.session_state[STATE_KEY] = from_url
    lang = st.session_state.get(STATE_KEY)
    if lang not in LANGUAGES:
        lang = DEFAULT_LANGUAGE
        st.session_state[STATE_KEY] = lang
    return lang


def _on_switch() -> None:
    chosen = st.session_state.get(WIDGET_KEY)
    if chosen in LANGUAGES:
        st.session_state[STATE_KEY] = chosen
        st.query_params[URL_PARAM] = chosen


def language_switch() -> Language:
    """Draw the EN / 中文 switch (right-aligned, on its own row) and return the language to render in."""
    lang = current_language()
    # Re-seeded every run: the widget's state is gone after a page without it, and the URL may have changed.
    st.session_state[WIDGET_KEY] = lang
    with st.container(horizontal=True, horizontal_alignment="right"):
        st.segmented_control(
            tr("common.language", lang),
            LANGUAGES,
            format_func=LANGUAGE_NAMES.get,
            key=WIDGET_KEY,
            required=True,
            on_change=_on_switch,
            label_visibility="collapsed",
        )
    if st.query_params.get(URL_PARAM) != lang:
        st.query_params[URL_PARAM] = lang
    return lang
