"""Learn: masked multi-head attention written out, the seed's mistakes, its example run live, exercises."""

from __future__ import annotations

import streamlit as st

from maskattn import figures as fig
from ui import classroom, frame
from ui.i18n import language_switch
from ui.lessons import Language, tr
from ui.lessons.content import (
    EXERCISES,
    FORMULAS,
    SEED_EXAMPLE_CODE,
    mistakes_markdown,
    summarize_seed_example,
)
from ui.words import figure_words


def formulas(name: str) -> None:
    for formula in FORMULAS[name]:
        st.latex(formula)


THEORY = ("attention", "masking", "blocked", "multihead")  # sections 1–4: a title, formulas, a text


def theory(lang: Language) -> None:
    for name in THEORY:
        st.subheader(tr(f"learn.{name}.title", lang))
        formulas(name)
        st.markdown(tr(f"learn.{name}.body", lang))
        if name == "masking":
            st.info(tr("learn.masking.polarity", lang))


def mistakes(lang: Language) -> None:
    st.subheader(tr("learn.mistakes.title", lang))
    st.markdown(tr("learn.mistakes.intro", lang))
    st.markdown(mistakes_markdown(lang))

    st.subheader(tr("learn.formula2.title", lang))
    formulas("formula2")
    st.markdown(tr("learn.formula2.body", lang))
    st.page_link(frame.MASK_LAB.path, label=tr("learn.formula2.link", lang), icon=":material/science:")


def seed_example(lang: Language) -> None:
    st.subheader(tr("learn.example.title", lang))
    st.markdown(tr("learn.example.body", lang))
    a, b, _ = st.columns([1, 2, 2], vertical_alignment="bottom")
    seed = int(a.number_input(tr("learn.example.seed", lang), 0, 2**31 - 1, 0, key="learn_seed"))
    training = b.toggle(tr("learn.example.training", lang), key="learn_training")
    result = classroom.cached_seed_example(seed, training)
    summary = summarize_seed_example(result)

    st.code(SEED_EXAMPLE_CODE, language="python")
    numbers, picture = st.columns([1, 1], gap="medium")
    with numbers:
        header = [tr(f"learn.example.{k}", lang) for k in ("tensor", "shape", "meaning")]
        lines = ["| " + " | ".join(header) + " |", "|---|---|---|"]
        for name, shape in summary.shapes.items():
            lines.append(f"| `{name}` | `{shape}` | {tr(f'learn.example.{name}', lang)} |")
        st.markdown("\n".join(lines))
    yes, no = tr("learn.example.yes", lang), tr("learn.example.no", lang)
    with numbers:
        st.markdown(
            tr(
                "learn.example.checks",
                lang,
                item=summary.blocked_item,
                rows=", ".join(map(str, summary.blocked_queries)),
                blocked_sum=f"{summary.blocked_weight_sum:.1f}",
                equals_bias=yes if summary.output_equals_bias else no,
                deviation=f"{summary.open_row_deviation:.1e}",
                nan=yes if summary.has_nan else no,
            )
        )
        if training:
            st.caption(tr("learn.example.training_note", lang))
    item = summary.blocked_item
    weights = result["weights"][item, 0].numpy()  # (T, T) of head 0
    positions = [str(i) for i in range(weights.shape[0])]
    theme = classroom.compact_theme(side_px=340, max_cell_px=24)
    figure = fig.focus_figure(
        weights,
        positions,
        allow=result["allow"][item].numpy(),
        title=tr("learn.example.figure", lang),
        theme=theme,
        words=figure_words(lang),
    )
    with picture:
        classroom.show_figure(figure, key="learn_seed_figure")


def exercises(lang: Language) -> None:
    st.subheader(tr("learn.exercises.title", lang))
    st.markdown(tr("learn.exercises.intro", lang))
    for exercise in EXERCISES:
        with st.container(border=True):
            st.markdown(f"**{exercise.title[lang]}**")
            st.markdown(exercise.task[lang])
            layer, head = exercise.focus
            st.caption(f"“{exercise.text}” · " + tr("learn.exercises.focus", lang, layer=layer, head=head))
            classroom.open_in_explorer(
                exercise.query_params(),
                key=f"learn_ex_{exercise.key}",
                label=tr("common.open_explorer", lang),
                share_label=tr("common.share_link", lang),
            )


def main() -> None:
    frame.render()
    lang = language_switch()
    st.title(tr("learn.title", lang))
    st.markdown(tr("learn.intro", lang))
    st.caption(tr("learn.toc", lang))
    theory(lang)
    mistakes(lang)
    seed_example(lang)
    exercises(lang)


main()
