"""Mask Lab: paint a mask and compare three masking semantics on our module; step through one real head."""

from __future__ import annotations

import numpy as np
import streamlit as st

from maskattn import DEFAULT_MODEL_ID, PRESETS, ModelLoadError
from maskattn import figures as fig
from maskattn.stepthrough import SEMANTICS, HeadTrace, random_inputs
from ui import classroom, frame, limits
from ui.classroom import LabInputs
from ui.figure_export import chart_config
from ui.i18n import language_switch
from ui.lessons import Language, tr
from ui.lessons.content import findings_markdown
from ui.markdown import escape
from ui.models import active_model, run_cached
from ui.page_state import LAB_BLOCKED_KEY, fitted_blocked, preset_blocked
from ui.painter import grid_painter
from ui.theme import figure_theme, painter_ramp, painter_scale
from ui.width_probe import column_width
from ui.words import attention_words, figure_words

MIN_TOKENS = 2
HEAD_CHOICES = (1, 2, 3, 4)
RANDOM_D_MODEL = 24  # divisible by every choice of heads
DEFAULT_TEXT = "The cat sat on the mat."
PRESET_BUTTONS = tuple(PRESETS)  # "full" first: it is the Clear button
INVERT = "invert"
# The widget values this page keeps when people leave it and come back (ui.frame).
KEEPS = (
    "ml_view", "ml_source", "ml_heads", "ml_head", "ml_seed", "ml_length", "ml_text",
    "ml_tr_text", "ml_tr_layer", "ml_tr_head", "ml_tr_preset", "ml_tr_block",
)  # fmt: skip


# -- state


def init_state() -> None:
    defaults = {
        "ml_source": "random",
        "ml_length": 6,
        "ml_heads": 2,
        "ml_head": 0,
        "ml_seed": 0,
        "ml_text": DEFAULT_TEXT,
        "ml_view": "semantics",
        "ml_tr_text": DEFAULT_TEXT,
        "ml_tr_layer": 0,
        "ml_tr_head": 2,
        "ml_tr_preset": "full",
        "ml_tr_block": [2],  # "cat": the previous-token head 0.2 must look elsewhere for "sat"
    }
    for key, value in defaults.items():
        st.session_state.setdefault(key, value)
    if LAB_BLOCKED_KEY not in st.session_state:
        st.session_state[LAB_BLOCKED_KEY] = preset_blocked("causal", st.session_state["ml_length"])


def fit_blocked(num_tokens: int) -> np.ndarray:
    """Return the painted mask cut or padded (with allowed cells) to ``num_tokens``; stored in the state."""
    st.session_state[LAB_BLOCKED_KEY] = fitted_blocked(st.session_state[LAB_BLOCKED_KEY], num_tokens)
    return st.session_state[LAB_BLOCKED_KEY]


def on_paint(after: np.ndarray) -> None:
    st.session_state[LAB_BLOCKED_KEY] = np.asarray(after, dtype=bool)


def on_preset(name: str) -> None:
    st.session_state[LAB_BLOCKED_KEY] = preset_blocked(name, st.session_state[LAB_BLOCKED_KEY].shape[0])


def on_invert() -> None:
    st.session_state[LAB_BLOCKED_KEY] = ~np.asarray(st.session_state[LAB_BLOCKED_KEY], dtype=bool)


# -- three semantics


def lab_controls(lang: Language) -> LabInputs | None:
    """Draw the input controls; return the inputs they choose, or None after an error."""
    row = st.container(horizontal=True, wrap=True, gap="medium")  # wraps on narrow screens, unlike columns
    row.segmented_control(
        tr("lab.source", lang),
        ("random", "text"),
        key="ml_source",
        required=True,
        format_func=lambda s: tr(f"lab.source.{s}", lang),
    )
    row.segmented_control(tr("lab.heads", lang), HEAD_CHOICES, key="ml_heads", required=True)
    heads = st.session_state["ml_heads"]
    st.session_state["ml_head"] = min(st.session_state["ml_head"], heads - 1)
    row.segmented_control(tr("lab.head", lang), tuple(range(heads)), key="ml_head", required=True)
    left, right = st.columns([3, 1])
    seed = int(right.number_input(tr("lab.seed", lang), 0, 2**31 - 1, key="ml_seed"))
    if st.session_state["ml_source"] == "random":
        length = left.slider(tr("lab.length", lang), MIN_TOKENS, limits.LAB_MAX_TOKENS, key="ml_length")
        x = random_inputs(length, RANDOM_D_MODEL, seed)
        return LabInputs(x, [f"x{i}" for i in range(length)], tr("lab.module.random", lang, seed=seed))
    text = left.text_input(
        tr("lab.text", lang),
        key="ml_text",
        max_chars=limits.LAB_TEXT_CHARS,
        help=tr("lab.text.help", lang, limit=limits.LAB_MAX_TOKENS),
    )
    if not text.strip():
        st.error(tr("lab.error.empty", lang))
        return None
    try:
        x, labels = classroom.cached_embeddings(text)
    except ModelLoadError as err:
        st.error(tr("common.model_error", lang, model=DEFAULT_MODEL_ID, error=escape(err)))
        return None
    except ValueError as err:
        st.error(tr("lab.error.text", lang, error=escape(err)))
        return None
    return LabInputs(x, labels, tr("lab.module.text", lang, model=DEFAULT_MODEL_ID))


def on_preset_pick() -> None:
    picked = st.session_state.get("ml_preset_pick")
    if picked == INVERT:
        on_invert()
    elif picked is not None:
        on_preset(picked)
    st.session_state["ml_preset_pick"] = None  # a pill is an action here, not a lasting choice


def preset_pills(lang: Language) -> None:
    st.pills(
        tr("lab.presets", lang),
        (*PRESET_BUTTONS, INVERT),
        key="ml_preset_pick",
        format_func=lambda n: tr("lab.invert", lang) if n == INVERT else tr(f"preset.{n}", lang),
        on_change=on_preset_pick,
        wrap=True,
        width="stretch",
        help=tr("lab.presets.help", lang),
    )


def semantics_view(lang: Language) -> None:
    got = lab_controls(lang)
    if got is None:
        return
    labels = got.labels
    heads, head, seed = (
        st.session_state["ml_heads"],
        st.session_state["ml_head"],
        int(st.session_state["ml_seed"]),
    )
    blocked = fit_blocked(got.num_tokens)
    d_k, result = classroom.lab_semantics(got, blocked, heads=heads, head=head, seed=seed)
    st.caption(
        tr(
            "lab.module",
            lang,
            d_model=got.d_model,
            heads=heads,
            dk=d_k,
            seed=seed,
            source=got.source,
            tokens=got.num_tokens,
        )
    )
    short = {s: tr(f"lab.legend.{s}", lang) for s in SEMANTICS}

    left, right = st.columns([1, 1.25], gap="medium")
    with left:
        st.subheader(tr("lab.paint", lang))
        preset_pills(lang)
        correct = result.weights["pre_softmax"].numpy()
        grid_painter(
            key="ml_painter",
            row_labels=labels,
            col_labels=labels,
            blocked=blocked,
            values=correct,  # the figures' fixed 0–1 scale, in the mode's colours
            words=attention_words(lang),
            on_change=on_paint,
            ramp=painter_ramp(),
            scale=painter_scale(),
        )
        st.caption(
            tr("lab.paint.caption", lang, head=head)
            + " · "
            + tr("lab.blocked_count", lang, blocked=int(blocked.sum()), total=blocked.size)
        )
    with right:
        st.subheader(tr("lab.findings", lang))
        st.markdown(findings_markdown(result.findings, labels, lang))
        st.caption(tr("lab.rowsums", lang, head=head))
        sums = fig.row_sums_figure(  # no title: the caption above names it
            {short[s]: result.weights[s].numpy() for s in SEMANTICS},
            labels,
            title="",
            theme=figure_theme(),
            words=figure_words(lang),
        )
        st.plotly_chart(sums, key="ml_rowsums", config=chart_config("row_sums"), theme=None)

    st.subheader(tr("lab.weights", lang, head=head))
    st.caption(tr("lab.weights.caption", lang))
    # Three in a row where each gets a readable matrix, else one above the other; all three equally wide,
    # so they stand level (the browser reports the width; figures squeezed by Streamlit shrink unevenly).
    width = column_width("ml_weights_width", 720)
    each = (width - 2 * 16) // 3
    in_row = each >= 150
    each = each if in_row else min(width, 360)
    compact = classroom.compact_theme(side_px=max(each, 120), max_cell_px=48)
    columns = st.columns(3, gap="small") if in_row else [st.container() for _ in SEMANTICS]
    for column, semantics in zip(columns, SEMANTICS, strict=True):
        with column:
            st.markdown(f"**{short[semantics]}**")  # short: three columns must start their figures level
            figure = fig.focus_figure(
                result.weights[semantics].numpy(),
                labels,
                allow=None if semantics == "none" else ~blocked,
                title="",
                theme=compact,
                zmax=1.0,
                colorbar=False,  # one fixed 0–1 scale, stated in the caption: the matrices get the width
                axis_titles=False,
                max_width=each,
                words=figure_words(lang),
            )
            classroom.show_figure(figure, key=f"ml_weights_{semantics}")
    with st.expander(tr("lab.outputs", lang)):
        for column, semantics in zip(st.columns(3), SEMANTICS, strict=True):
            with column:
                st.markdown(f"**{short[semantics]}**")
                figure = fig.matrix_figure(
                    result.head_outputs[semantics].numpy(),
                    title="",
                    row_labels=labels,
                    theme=compact,
                )
                classroom.show_figure(figure, key=f"ml_outputs_{semantics}")


# -- step through a real head


def clamp_state(key: str, upper: int) -> None:
    st.session_state[key] = max(0, min(int(st.session_state[key]), upper))


def trace_view(lang: Language) -> None:
    model = active_model(lang)
    if model is None:
        return
    clamp_state("ml_tr_layer", model.num_layers - 1)
    clamp_state("ml_tr_head", model.num_heads - 1)
    a, b, c, d = st.columns([3, 0.8, 0.8, 1.6])
    text = a.text_input(tr("trace.text", lang), key="ml_tr_text", max_chars=limits.TRACE_TEXT_CHARS)
    layer = int(b.number_input(tr("trace.layer", lang), 0, model.num_layers - 1, key="ml_tr_layer"))
    head = int(c.number_input(tr("trace.head", lang), 0, model.num_heads - 1, key="ml_tr_head"))
    preset = d.selectbox(
        tr("trace.preset", lang),
        PRESET_BUTTONS,
        key="ml_tr_preset",
        format_func=lambda n: names_of_preset(n, lang),
    )
    try:
        input_ids, _ = model.tokenize(text)
    except ValueError:
        st.error(tr("lab.error.empty", lang))
        return
    if input_ids.shape[1] > limits.TRACE_MAX_TOKENS:
        st.error(
            tr(
                "trace.error",
                lang,
                error=f"{input_ids.shape[1]} tokens; at most {limits.TRACE_MAX_TOKENS} fit here",
            )
        )
        return
    _tokens, labels = model.token_strings(input_ids[0])
    st.session_state["ml_tr_block"] = [i for i in st.session_state["ml_tr_block"] if i < len(labels)]
    blocked_keys = st.multiselect(
        tr("trace.block", lang),
        list(range(len(labels))),
        key="ml_tr_block",
        format_func=lambda i: f"{i} {labels[i]}",
    )
    plan = classroom.trace_plan(layer, head, preset, blocked_keys)
    try:
        trace = classroom.cached_trace(model.name, text, plan.key(), layer, head)
        explorer_weights = run_cached(model.name, text, plan.key()).attentions[layer, head]
    except ValueError as err:
        st.error(tr("trace.error", lang, error=escape(err)))
        return
    trace_figures(trace, explorer_weights, model.name, lang)
    params = classroom.to_explorer_params(text, model.name, plan, (layer, head))
    classroom.open_in_explorer(
        params,
        key="ml_tr_open",
        label=tr("common.open_explorer", lang),
        share_label=tr("common.share_link", lang),
    )


def names_of_preset(name: str, lang: Language) -> str:
    return tr("common.semantics.none", lang) if name == "full" else tr(f"preset.{name}", lang)


def trace_figures(trace: HeadTrace, explorer_weights, model_name: str, lang: Language) -> None:
    """Draw the trace's steps; ``explorer_weights`` are the Explorer's weights of the head, to agree with."""
    layer, head, labels = trace.layer, trace.head, trace.labels
    st.markdown(tr("trace.intro", lang, model=model_name, layer=layer, head=head))
    dim = trace.query.shape[1]
    default_scale = 1 / dim**0.5
    if abs(trace.scaling - default_scale) < 1e-6:
        st.caption(tr("trace.scaling", lang, scaling=f"{trace.scaling:.4f}", dim=dim))
    else:
        st.caption(
            tr(
                "trace.scaling.model",
                lang,
                scaling=f"{trace.scaling:.4f}",
                dim=dim,
                default=f"{default_scale:.4f}",
            )
        )
    diff = classroom.largest_difference(trace.weights, explorer_weights)
    if diff <= 1e-6:
        st.success(tr("trace.check", lang, layer=layer, head=head, diff=f"{diff:.1e}"))
    else:
        st.error(tr("trace.mismatch", lang, diff=f"{diff:.1e}"))
    wide = classroom.compact_theme(side_px=560, max_cell_px=22)
    small = classroom.compact_theme(side_px=250, max_cell_px=30)

    def matrix(name: str, values, theme: fig.Theme, *, square: bool, **title_values) -> None:
        axes = {"row_labels": labels, "col_labels": labels if square else None}
        figure = fig.matrix_figure(
            values.numpy(), title=tr(f"trace.step.{name}", lang, **title_values), theme=theme, **axes
        )
        classroom.show_figure(figure, key=f"ml_tr_{name}")

    st.markdown(tr("trace.group.qkv", lang, dim=dim))
    for name, values in (("q", trace.query), ("k", trace.key), ("v", trace.value)):
        matrix(name, values, wide, square=False)

    st.markdown(tr("trace.group.scores", lang))
    allow = trace.allow.numpy()
    a, b = st.columns(2)
    with a:
        matrix("scores", trace.scores, small, square=True, scaling=f"{trace.scaling:.4f}")
    with b:
        figure = fig.focus_figure(
            allow.astype(np.float32),
            labels,
            allow=allow,
            title=tr("trace.step.mask", lang),
            theme=small,
            zmax=1.0,
            colorbar=False,  # 0 or 1: the striped cells say it
            axis_titles=False,
            words=figure_words(lang),
        )
        classroom.show_figure(figure, key="ml_tr_mask")

    st.markdown(tr("trace.group.weights", lang))
    a, b = st.columns(2)
    with a:
        matrix("masked", trace.masked_scores, small, square=True)
    with b:
        figure = fig.focus_figure(
            trace.weights.numpy(),
            labels,
            allow=allow,
            title=tr("trace.step.weights", lang),
            theme=small,
            zmax=1.0,
            words=figure_words(lang),
        )
        classroom.show_figure(figure, key="ml_tr_weights")
    matrix("head_output", trace.head_output, wide, square=False)

    st.markdown(tr("trace.group.output", lang, heads=trace.num_heads))
    if trace.gate is not None:
        st.info(tr("trace.gate", lang, gate=f"{trace.gate:g}"))
    start, stop = trace.head_columns
    total = trace.concat.shape[1]
    st.caption(tr("trace.head_columns", lang, head=head, start=start, stop=stop - 1))
    lo, hi = st.slider(
        tr("trace.columns", lang), 0, total, (start, stop), key=f"ml_tr_cols_{layer}_{head}_{total}"
    )
    lo = min(lo, total - 1)  # both handles at the end would leave no column to show
    hi = max(hi, lo + 1)
    columns = [str(i) for i in range(lo, hi)]
    for name, values in (("concat", trace.concat), ("projected", trace.projected)):
        figure = fig.matrix_figure(
            values[:, lo:hi].numpy(),
            title=tr(f"trace.step.{name}", lang, heads=trace.num_heads, lo=lo, hi=hi - 1),
            row_labels=labels,
            col_labels=columns,
            theme=wide,
        )
        classroom.show_figure(figure, key=f"ml_tr_{name}")
    st.caption(tr(f"trace.projection.{trace.projection_after}", lang, name=trace.projection_name))
    st.caption(tr("trace.seconds", lang, ms=f"{trace.seconds * 1000:.0f}", tokens=trace.num_tokens))


# -- page


def main() -> None:
    frame.render(KEEPS)
    init_state()
    lang = language_switch()
    st.title(tr("lab.title", lang))
    st.markdown(tr("lab.intro", lang))
    st.segmented_control(
        " ",
        ("semantics", "trace"),
        key="ml_view",
        required=True,
        label_visibility="collapsed",
        format_func=lambda v: tr(f"lab.tab.{v}", lang),
    )
    if st.session_state["ml_view"] == "semantics":
        semantics_view(lang)
    else:
        trace_view(lang)


main()
