"""The painter's and the figures' words in a language, from ``ui.lessons``. Pure: no Streamlit."""

from __future__ import annotations

from dataclasses import fields

from maskattn.figures import FigureWords
from maskattn.overview import OverviewWords
from ui.lessons import Language, tr
from ui.painter_codec import PainterWords

_SHARED_PAINTER = (
    "painted_legend", "rule", "model", "focus", "painted_part", "rule_part", "model_part",
    "undo", "undo_help", "paint_tool", "focus_tool", "toggle_row", "toggle_col", "zoom_fit", "zoom_help",
    "waiting_one", "waiting",
)  # fmt: skip


def attention_words(lang: Language) -> PainterWords:
    """Return the token painter's words (queries down, keys across) in ``lang``."""
    own = {name: tr(f"painter.{name}", lang) for name in ("row", "col", "painted", "marked", "hint", "count")}
    return PainterWords(**own, **{name: tr(f"painter.{name}", lang) for name in _SHARED_PAINTER})


def head_words(lang: Language) -> PainterWords:
    """Return the layers × heads painter's words in ``lang``."""
    own = {
        name: tr(f"painter.heads.{name}", lang)
        for name in ("row", "col", "painted", "marked", "hint", "count")
    }
    shared = {name: tr(f"painter.{name}", lang) for name in _SHARED_PAINTER} | {
        "painted_legend": tr("painter.heads.painted", lang)
    }
    return PainterWords(**own, link="·", **shared)


def figure_words(lang: Language) -> FigureWords:
    """Return the figures' axis titles and hover names in ``lang``."""
    return FigureWords(**{f.name: tr(f"fig.{f.name}", lang) for f in fields(FigureWords)})


def overview_words(lang: Language) -> OverviewWords:
    """Return the head overview's words in ``lang``."""
    return OverviewWords(**{f.name: tr(f"overview.{f.name}", lang) for f in fields(OverviewWords)})
