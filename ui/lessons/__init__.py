"""Classroom text in English and Chinese: a lookup by key and language. Pure: no Streamlit.

Every entry of ``STRINGS`` holds both languages (a unit test checks it); ``tr`` fills ``{placeholders}``.
The Explorer's, sidebar's, painter's and figures' words are in ``explorer_text.py``. The exercises, the
table of the seed's mistakes and the formulas are in ``content.py``.
"""

from __future__ import annotations

from typing import Any, Literal

from .explorer_text import EXPLORER_STRINGS
from .instruments_text import INSTRUMENT_STRINGS
from .text import STRINGS as _CLASSROOM_STRINGS

STRINGS = {**_CLASSROOM_STRINGS, **EXPLORER_STRINGS, **INSTRUMENT_STRINGS}

Language = Literal["en", "zh"]
LANGUAGES: tuple[Language, ...] = ("en", "zh")
LANGUAGE_NAMES: dict[Language, str] = {"en": "EN", "zh": "中文"}
DEFAULT_LANGUAGE: Language = "en"

__all__ = ["DEFAULT_LANGUAGE", "LANGUAGES", "LANGUAGE_NAMES", "STRINGS", "Language", "parse_language", "tr"]


def parse_language(value: Any) -> Language | None:
    """Return the language code ``value`` names ("en", "zh", also "EN", "zh-CN", "中文"), or None."""
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    if text in ("中文", "cn") or text.startswith("zh"):
        return "zh"
    if text.startswith("en"):
        return "en"
    return None


def tr(key: str, lang: Language, /, **values: Any) -> str:
    """Return the text ``key`` in ``lang`` with ``{placeholders}`` filled from ``values``.

    An unknown key or language raises ValueError (a typo must fail in tests, not show a blank page).
    """
    if lang not in LANGUAGES:
        raise ValueError(f"language must be one of {LANGUAGES}, got {lang!r}")
    if key not in STRINGS:
        raise ValueError(f"no text with key {key!r}")
    text = STRINGS[key][lang]
    return text.format(**values) if values else text
