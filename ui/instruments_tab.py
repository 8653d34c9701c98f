"""The Explorer's research instruments on screen: the "Heads & edges" tab (sweeps), the head types on its
Overview, and the figure download format. Widgets only: the logic is in ``ui.instruments`` and the library.

A sweep runs when its button is pressed, with a progress bar and a Stop button above it. Any click while a
sweep runs (Stop or another widget) makes Streamlit rerun the page, which interrupts the sweep at its next
progress update; the record ``RUNNING_KEY`` it leaves behind tells the next run to say so. Finished sweeps
go to a store shared by every session, by (model, text, plan, settings): the same sweep again is a hit.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from maskattn import PRESETS, HeadTypes, MaskedModel, MaskPlan, Metric, SweepResult, model_head_types
from maskattn import figures as fig
from maskattn.head_types import TYPES

from . import instruments as ix
from . import limits
from .figure_export import chart_config
from .i18n import current_language
from .lessons import Language, tr
from .markdown import escape
from .models import get_model
from .page_state import EXPLORER_KEY, ExplorerState
from .theme import figure_theme, figure_width

RUNNING_KEY = "ix_running"  # {"kind", "done", "total"} while a sweep runs; still there if it was stopped
LAST_KEY = "ix_last"  # {kind: sweep key} of the result each kind showed last in this session
STOPPED_KEY = "ix_stopped"  # the record of the sweep stopped on this run (shown once)


@st.cache_resource(show_spinner=False)
def sweep_store() -> ix.SweepStore:
    """Return the sweep results every session shares (plans and texts travel in the key, never on a model)."""
    return ix.SweepStore(limits.LIMITS.cached_sweeps)


@st.cache_resource(show_spinner=False, max_entries=limits.LIMITS.cached_head_types)
def _head_types(name: str, text: str, plan_key: str, max_tokens: int) -> HeadTypes:
    return model_head_types(get_model(name), text, MaskPlan.from_json(plan_key), max_tokens=max_tokens)


def head_types(model: MaskedModel, text: str, plan: MaskPlan) -> HeadTypes:
    """Return the head types of ``text`` under ``plan`` (cached per model, text and plan)."""
    return _head_types(model.name, text, plan.key(), limits.LIMITS.max_tokens)


# -- the tab


def heads_and_edges_tab(model: MaskedModel, text: str, labels: list[str], state: ExplorerState) -> None:
    """Draw the sweeps: which heads matter (ablation), which edges carry information (knockout), presets."""
    lang = current_language()
    if len(model.stacks) != 1:
        st.info(tr("inst.single_stack", lang))
        return
    kind = st.segmented_control(
        tr("inst.kind", lang),
        ix.SWEEP_KINDS,
        format_func=lambda k: tr(f"inst.kind.{k}", lang),
        key="ix_kind",
        default="head_importance",
        required=True,
    )
    st.caption(tr(f"inst.kind.{kind}.help", lang))
    problem = st.session_state.pop("ix_apply_problem", None)
    if problem:
        st.warning(escape(problem))
    metric = metric_controls(model, labels, lang)
    options = sweep_options(kind, model, labels, state, lang)
    stopped = st.session_state.pop(RUNNING_KEY, None)
    if stopped is not None:
        st.session_state[STOPPED_KEY] = stopped
        if stopped["total"]:
            st.warning(tr("inst.stopped", lang, done=stopped["done"], total=stopped["total"]))
        else:
            st.warning(tr("inst.stopped_early", lang))
    if metric is None or options is None:
        return
    settings = ix.SweepSettings(kind, metric, options)
    key = ix.sweep_key(model.name, text, state.plan.key(), settings, limits.LIMITS.max_tokens)
    store = sweep_store()
    result = store.get(key)
    if st.button(tr("inst.run", lang), type="primary", key="ix_run", disabled=result is not None):
        result = run_with_progress(model, text, state.plan, settings, key, lang)
    last = st.session_state.setdefault(LAST_KEY, {})
    if result is not None:
        last[kind] = key
        st.caption(tr("inst.cached", lang))
    elif kind in last and store.get(last[kind]) is not None:
        result = store.get(last[kind])
        st.info(tr("inst.earlier", lang))
    if result is not None:
        show_result(model, result, state, lang, current=result is store.get(key))


def metric_controls(model: MaskedModel, labels: list[str], lang: Language) -> Metric | None:
    """Draw the metric's choices and return it (None, with the reason shown, when a choice is not valid)."""
    kinds = ix.metric_kinds(model.kind)
    if st.session_state.get("ix_metric") not in kinds:
        st.session_state["ix_metric"] = kinds[0]
    a, b = st.columns(2)
    kind = a.selectbox(
        tr("inst.metric", lang), kinds, format_func=lambda k: tr(f"inst.metric.{k}", lang), key="ix_metric"
    )
    if kind == "embedding_distance":
        return ix.make_metric(kind, -1)
    T = len(labels)
    keep_within("ix_position", range(T), ix.default_position(model) % T)
    position = b.selectbox(
        tr("inst.position", lang),
        range(T),
        format_func=lambda i: f"{i}: {labels[i]}",
        key="ix_position",
        help=tr("inst.position_help", lang),
    )
    if kind == "kl":
        return ix.make_metric(kind, int(position))
    c, d = st.columns(2)
    words = (
        c.text_input(tr("inst.token_a", lang), key="ix_token_a", max_chars=40),
        d.text_input(tr("inst.token_b", lang), key="ix_token_b", max_chars=40),
    )
    try:
        ids = [ix.token_id(model.tokenizer, w) for w in words]
    except ValueError as err:
        st.info(escape(err))
        return None
    return ix.make_metric(kind, int(position), *ids)


def sweep_options(
    kind: str, model: MaskedModel, labels: list[str], state: ExplorerState, lang: Language
) -> dict[str, Any] | None:
    """Draw one sweep kind's options and return them (None when they are not yet complete)."""
    L, T = model.num_layers, len(labels)
    if kind == "head_importance":
        a, b = st.columns(2)
        ablation = a.radio(
            tr("inst.ablation", lang),
            ("zero", "mean"),
            format_func=lambda k: tr(f"inst.ablation.{k}", lang),
            key="ix_ablation",
            horizontal=True,
        )
        whole = b.checkbox(tr("inst.whole_layers", lang), True, key="ix_whole_layers")
        return {"ablation": ablation, "whole_layers": whole}
    if kind == "attention_knockout":
        tokens = list(range(T))
        sources = st.session_state.get("ix_sources")
        if not isinstance(sources, list) or not all(s in tokens for s in sources):
            st.session_state["ix_sources"] = [0]
        keep_within("ix_target", tokens, T - 1)
        keep_within("ix_window", range(1, L + 1), 1)
        a, b = st.columns(2)
        sources = a.multiselect(
            tr("inst.sources", lang), tokens, format_func=lambda i: f"{i}: {labels[i]}", key="ix_sources"
        )
        target = b.selectbox(
            tr("inst.target", lang),
            tokens,
            format_func=lambda i: f"{i}: {labels[i]}",
            key="ix_target",
            help=tr("inst.target_help", lang),
        )
        window = st.slider(
            tr("inst.window", lang), 1, max(L, 2), key="ix_window", help=tr("inst.window_help", lang)
        )
        if not sources:
            st.info(tr("inst.need_sources", lang))
            return None
        return {"sources": sorted(int(s) for s in sources), "target": int(target), "window": int(window)}
    names = list(ix.SWEPT_PARAMETER)
    a, b = st.columns(2)
    preset = a.selectbox(
        tr("inst.preset", lang),
        names,
        format_func=lambda n: f"{tr(f'preset.{n}', lang)} · {ix.SWEPT_PARAMETER[n].replace('_', ' ')}",
        key="ix_preset",
    )
    where = b.radio(
        tr("inst.on_heads", lang),
        ("all", "layer", "head"),
        format_func=lambda w: tr(f"inst.on_heads.{w}", lang, layer=state.focus[0], head=state.focus[1]),
        key="ix_on_heads",
    )
    layer, head = state.focus
    layers = "all" if where == "all" else [layer]
    heads = [head] if where == "head" else "all"
    fixed = {n: p.default for n, p in ((p.name, p) for p in PRESETS[preset].params)}
    fixed.pop(ix.SWEPT_PARAMETER[preset])
    return {
        "preset": preset,
        "values": ix.preset_values(preset, T),
        "layers": layers,
        "heads": heads,
        "params": fixed,
    }


def keep_within(key: str, allowed: Any, default: Any) -> None:
    """Set the widget ``key`` to ``default`` unless it holds an allowed value (a text got shorter, …)."""
    if st.session_state.get(key) not in allowed:
        st.session_state[key] = default


def run_with_progress(
    model: MaskedModel, text: str, plan: MaskPlan, settings: ix.SweepSettings, key: str, lang: Language
) -> SweepResult | None:
    """Run one sweep with a progress bar and a Stop button; return it (None, with the reason, if it fails)."""
    slot = st.empty()  # the bar and the Stop button go once the sweep is done
    box = slot.container(key="ix_progress_box")
    bar = box.progress(0.0, text=tr("inst.starting", lang))
    box.button(tr("inst.stop", lang), key="ix_stop", icon=":material/stop_circle:")
    st.session_state[RUNNING_KEY] = {"kind": settings.kind, "done": 0, "total": 0}

    def progress(done: int, total: int) -> None:
        # A click meanwhile (Stop or any widget) reruns the page, which raises out of this call.
        st.session_state[RUNNING_KEY] = {"kind": settings.kind, "done": done, "total": total}
        bar.progress(min(1.0, done / max(total, 1)), text=tr("inst.progress", lang, done=done, total=total))

    def compute() -> SweepResult:
        return ix.run_sweep(
            model, text, plan, settings, progress=progress, max_tokens=limits.LIMITS.max_tokens
        )

    try:
        result, _ = ix.cached_sweep(sweep_store(), key, compute)
    except ValueError as err:
        st.session_state.pop(RUNNING_KEY, None)
        slot.empty()
        st.error(tr("inst.failed", lang, error=escape(err)))
        return None
    st.session_state.pop(RUNNING_KEY, None)
    slot.empty()
    return result


def show_result(
    model: MaskedModel, result: SweepResult, state: ExplorerState, lang: Language, current: bool
) -> None:
    """Draw a sweep's figure (a click applies a cell), its strongest cells and its downloads."""
    theme = figure_theme()
    L, H = model.num_layers, model.num_heads
    measure = tr("inst.effect", lang, metric=result.metric.label)
    size = {"theme": theme, "max_width": figure_width(theme), "measure": measure}
    chart = {"on_select": on_sweep_select, "selection_mode": "points", "width": "content"}
    st.session_state["ix_shown"] = result
    if result.kind == "head_importance":
        focus = state.focus if current else None
        figure = fig.sweep_heatmap_figure(
            result.grid(L, H).numpy(), layer_effects=ix.layer_effects(result, L), focus=focus, **size
        )
        st.plotly_chart(figure, key="ix_heatmap", config=chart_config("head_importance"), **chart)
    else:
        axis = "layer" if result.kind == "attention_knockout" else result.options["parameter"]
        xs, ys = result.curve(axis)
        x_title = tr("inst.first_layer", lang) if axis == "layer" else axis.replace("_", " ")
        figure = fig.sweep_curve_figure(xs, ys.numpy(), x_title=x_title, **size)
        st.plotly_chart(figure, key="ix_curve", config=chart_config(result.kind), **chart)
    mean = result.options.get("ablation") == "mean"
    st.caption(tr("inst.click_mean" if mean else "inst.click", lang, baseline=f"{result.baseline:.4g}"))
    st.markdown(f"**{tr('inst.strongest', lang)}**")
    for i, cell in enumerate(ix.strongest(result, 5)):
        a, b = st.columns([3, 1])
        # describe_cell writes only letters, digits and "()–=": nothing Markdown reads, so no escaping.
        a.markdown(f"`{ix.describe_cell(cell)}` · {measure} **{cell.effect:+.4g}**")
        b.button(
            tr("inst.apply", lang),
            key=f"ix_apply_{i}",
            disabled=not ix.can_apply(cell),
            on_click=apply_cell,
            args=(dict(cell.coords),),
            width="stretch",
        )
    a, b = st.columns(2)
    a.download_button(
        tr("inst.csv", lang),
        result.to_csv(),
        file_name=f"{result.kind}.csv",
        mime="text/csv",
        key="ix_dl_csv",
        on_click="ignore",
        width="stretch",
    )
    b.download_button(
        tr("inst.json", lang),
        result.to_json(),
        file_name=f"{result.kind}.json",
        mime="application/json",
        key="ix_dl_json",
        on_click="ignore",
        width="stretch",
    )


def apply_cell(coords: dict[str, Any]) -> None:
    """Apply the shown sweep's cell at ``coords`` to the Explorer's plan (undoable); say why if it cannot."""
    result = st.session_state.get("ix_shown")
    if result is None:
        return
    try:
        cell = ix.cell_at(result, coords)
        st.session_state[EXPLORER_KEY] = ix.applied(st.session_state[EXPLORER_KEY], cell)
    except ValueError as err:
        st.session_state["ix_apply_problem"] = str(err)


def on_sweep_select() -> None:
    result = st.session_state.get("ix_shown")
    key = "ix_heatmap" if result is not None and result.kind == "head_importance" else "ix_curve"
    event = st.session_state.get(key)
    points = event.selection.points if event is not None else []
    if not points or points[0].get("customdata") is None or result is None:
        return
    data = points[0]["customdata"]
    if result.kind == "head_importance":
        apply_cell(ix.heatmap_coords(data))
    else:
        apply_cell(dict(result.cells[int(data[0])].coords))


# -- head types on the overview


def head_type_overlay(model: MaskedModel, text: str, plan: MaskPlan) -> dict[str, Any]:
    """Draw the head-type controls and return the overview's ``badges``/``highlight``/``notes`` arguments.

    Off by default (two runs: the text and a repeated random-token probe); scored under the current plan, and
    with a plan the hover and the caption say what the plan moved.
    """
    lang = current_language()
    problem = st.session_state.pop("ix_apply_problem", None)
    if problem:
        st.warning(escape(problem))
    if len(model.stacks) != 1:
        return {}
    # The toggle has a row of its own: beside the filter, its label was cut short in an 800 px window.
    on = st.toggle(tr("inst.types", lang), key="ix_types_on", help=tr("inst.types_help", lang))
    if not on:
        return {}
    b, c = st.container(key="ix_types_row").columns(2)
    name = b.selectbox(
        tr("inst.types_filter", lang),
        TYPES,
        format_func=lambda n: tr(f"inst.type.{n}", lang),
        key="ix_types_filter",
    )
    threshold = c.slider(tr("inst.types_threshold", lang), 0.05, 1.0, 0.4, 0.05, key="ix_types_threshold")
    try:
        after = head_types(model, text, plan)
        before = head_types(model, text, MaskPlan()) if plan else None
    except ValueError as err:
        st.info(tr("inst.types_unavailable", lang, error=escape(err)))
        return {}
    hits = ix.type_hits(after, name, threshold)
    words = tr(f"inst.type.{name}", lang)
    st.caption(
        tr("inst.types_caption", lang, count=int(hits.sum()), type=words, threshold=f"{threshold:.2f}")
    )
    if before is not None:
        moved = ix.role_changes(before, after, name)
        if moved:
            listed = ", ".join(f"L{layer} h{head} {old:.2f} → {new:.2f}" for layer, head, old, new in moved)
            st.caption(tr("inst.types_moved", lang, type=words, heads=listed))
    return {
        "badges": ix.type_badges(after, threshold),
        "highlight": hits,
        "notes": ix.type_notes(after, before),
    }
