"""Explorer: type text, paint masks over tokens and heads, see every head of the model recomputed live."""

from __future__ import annotations

import dataclasses

import numpy as np
import streamlit as st

from maskattn import PRESETS, MaskPlan
from maskattn import figures as fig
from ui import editing, frame, limits, run_words, stacks
from ui.exports import attentions_npz, figure_html
from ui.figure_export import chart_config, chosen_format
from ui.head_overview import head_overview
from ui.i18n import current_language, language_switch
from ui.instruments_tab import head_type_overlay, heads_and_edges_tab
from ui.lessons import LANGUAGES, Language, tr
from ui.markdown import code, escape
from ui.models import active_model, run_cached, words_of
from ui.page_state import EXPLORER_KEY, ExplorerState, query_param_changes
from ui.painter import grid_painter
from ui.painter_codec import fixed_grid
from ui.runs import cached_run
from ui.share import (
    LINK_PARAMS,
    SharedState,
    from_query_params,
    read_plan_file,
    to_query_params,
)
from ui.theme import (
    CONTRAST_FROM_TOKENS,
    EXPLORER_CSS,
    explorer_css_sizes,
    figure_theme,
    figure_width,
    painter_ramp,
    painter_scale,
    pair_layout,
    weights_top,
)
from ui.widgets import preset_params
from ui.width_probe import column_width
from ui.word_view import painted_tokens, word_view
from ui.words import attention_words, figure_words, head_words, overview_words

EXAMPLES = [
    "The cat sat on the mat because it was tired.",
    "The keys to the cabinet are on the table.",
    "Paris is the capital of France, and Berlin is the capital of Germany.",
    "She gave him the book that she had bought in Tokyo.",
    "The trophy does not fit in the suitcase because it is too big.",
]
# The widget values this page keeps when people leave it and come back (ui.frame).
KEEPS = (
    "ex_text", "ex_scope", "ex_preset", "ex_gate_value", "ex_stack", "ex_tab", "ex_view",
    "ex_contrast", "ex_words",
)  # fmt: skip
# The labels are ``explorer.tab.<id>`` in the language.
TABS = ("overview", "compare", "effect", "plan", "heads")
VIEWS = ("masked", "unmasked", "side", "difference")  # of the focused head, in "Before / after"
LINK_WRITTEN_KEY = "ex_link_written"  # the link parameters this page last wrote into the address bar


# -- state: one ExplorerState under EXPLORER_KEY, replaced whole


def state() -> ExplorerState:
    return st.session_state[EXPLORER_KEY]


def update(new: ExplorerState) -> None:
    st.session_state[EXPLORER_KEY] = new


def init_state() -> None:
    """Fill the page's session state from the link: on the first visit, and when the address changed.

    The address changes under the page on browser Back / Forward and when another page opens an exercise
    here; that state comes in as one edit, so undo brings back what the user had.
    """
    params = st.query_params.to_dict()
    link = {name: value for name, value in params.items() if name in LINK_PARAMS}
    if EXPLORER_KEY in st.session_state and (not link or link == st.session_state.get(LINK_WRITTEN_KEY)):
        return
    shared, problems = from_query_params(params, EXAMPLES[0])
    # Read once: until the page writes its own, the same address must not be applied again (after a reset of
    # a plan that cannot run, say).
    st.session_state[LINK_WRITTEN_KEY] = link
    st.session_state["ex_text"] = shared.text
    if EXPLORER_KEY in st.session_state:
        update(state().opened(shared.plan, shared.text, shared.focus))
    else:
        update(ExplorerState(plan=shared.plan, focus=shared.focus, text=shared.text))
    # The open tab and view travel in the link too (a teacher's "look at the difference here").
    for key, name, ids in (("ex_tab", shared.tab, TABS), ("ex_view", shared.view, VIEWS)):
        if name in ids:
            st.session_state[key] = tab_label(name, current_language()) if key == "ex_tab" else name
        elif name:
            problems.append(f"the {key.removeprefix('ex_')} {name!r} (no such one on this page)")
    st.session_state["ex_link_problems"] = problems
    if shared.model != st.session_state.get("model_name"):
        st.session_state["model_name"] = shared.model


def tab_label(tab: str, lang: Language) -> str:
    return tr(f"explorer.tab.{tab}", lang)


def tab_id(label: str | None) -> str:
    """Return the id of a tab label in any language (the tabs widget keeps the label it showed)."""
    return next((t for t in TABS for lang in LANGUAGES if tab_label(t, lang) == label), TABS[0])


def set_plan(plan: MaskPlan) -> None:
    update(state().with_plan(plan))


def stack_context() -> tuple[str, str]:
    """Return ``(shown stack, default stack)``: the painters edit the plan's slice for the shown stack."""
    return st.session_state.get("ex_stack_ctx", ("encoder", "encoder"))


def shown_plan() -> MaskPlan:
    return stacks.slice_of(state().plan, *stack_context())


def set_shown_plan(plan: MaskPlan) -> None:
    set_plan(stacks.join(state().plan, plan, *stack_context()))


def undo() -> None:
    update(state().undo())
    text = state().text
    if text is not None and text != st.session_state.get("ex_text"):
        # Undoing a new text's refit brings the old text back: into the text box, which is outside the
        # work area's fragment, so the whole page reruns.
        st.session_state["ex_text"] = text
        st.rerun()


def reset() -> None:
    update(state().reset())


def sync_link(model_name: str) -> None:
    """Write the state into the URL so the address bar is always a shareable link."""
    tab, view = tab_id(st.session_state.get("ex_tab")), st.session_state.get("ex_view") or VIEWS[0]
    shared = SharedState(
        st.session_state["ex_text"],
        model_name,
        state().plan,
        state().focus,
        tab="" if tab == TABS[0] else tab,
        view="" if view == VIEWS[0] else view,
    )
    wanted = to_query_params(shared)
    current = st.query_params.to_dict()
    # The classroom pages' language stays.
    stale, changed = query_param_changes(current, wanted, keep={"lang"})
    if stale or changed:
        # One write, so one browser history entry per edit (each assignment would push one).
        st.query_params.from_dict({**{k: v for k, v in current.items() if k not in stale}, **wanted})
    st.session_state[LINK_WRITTEN_KEY] = wanted


# -- callbacks (run before the rerun, so the recompute already sees the edit)


def on_token_paint(after: np.ndarray) -> None:
    ctx = st.session_state["ex_paint_ctx"]
    if not ctx["targets"]:
        return  # a scope with no heads in it: the warning says so, and the painter snaps back
    view = ctx.get("words")
    if view is not None:  # the painter showed words: a paint there stands for token cells
        if after.shape != view.painted.shape:
            return  # a grid of before the view changed
        after = painted_tokens(view, ctx["painted"].numpy(), ctx["rule"], ctx["model"], after)
    plan = editing.apply_paint(
        shown_plan(), focus=ctx["focus"], before=ctx["painted"], after=after, targets=ctx["targets"]
    )
    set_shown_plan(plan)


def on_head_paint(picked: np.ndarray) -> None:
    update(state().with_chosen(zip(*np.nonzero(picked), strict=True)))


def on_head_click(layer: int, head: int) -> None:
    update(state().focused(layer, head))


def on_focus_widgets() -> None:
    update(state().focused(st.session_state["ex_layer"], st.session_state["ex_head"]))


def on_example() -> None:
    st.session_state["ex_text"] = st.session_state["ex_example"]


def on_text() -> None:
    # The widget has no max_chars: in the browser that refuses a long paste whole, without a word. The
    # server cuts it instead and keeps a note while the cut text stands.
    text, limit = st.session_state["ex_text"], limits.LIMITS.max_text_chars
    if len(text) > limit:
        st.session_state["ex_text"] = text[:limit]
        st.session_state["ex_text_cut"] = (text[:limit], len(text) - limit)


def text_cut_note(lang: Language) -> None:
    cut = st.session_state.get("ex_text_cut")
    if cut is not None and cut[0] == st.session_state.get("ex_text"):
        st.warning(tr("explorer.text.cut", lang, limit=limits.LIMITS.max_text_chars, dropped=cut[1]))


# -- sections


def text_section(lang: Language) -> str:
    left, right = st.container(key="ex_text_row").columns([4, 1.3])
    with right:
        st.selectbox(
            tr("explorer.examples", lang),
            EXAMPLES,
            index=None,
            placeholder=tr("explorer.examples.pick", lang),
            key="ex_example",
            on_change=on_example,
        )
    with left:
        text = st.text_area(
            tr("explorer.text", lang),
            key="ex_text",
            height=68,
            on_change=on_text,
            help=tr("explorer.text.help", lang),
        )
    return text


def stack_picker(model, lang: Language) -> str:
    """Return the attention stack to show: a choice for encoder–decoder models, else the only one."""
    default = model.stacks[0]
    stack = default
    if len(model.stacks) > 1:
        if st.session_state.get("ex_stack") not in model.stacks:
            st.session_state["ex_stack"] = default
        stack = st.segmented_control(
            tr("explorer.attention", lang),
            model.stacks,
            format_func=lambda name: tr(f"explorer.stack.{name}", lang),
            key="ex_stack",
            help=stacks.STACK_HELP,
        )
        stack = stack or default
    st.session_state["ex_stack_ctx"] = (stack, default)
    return stack


def focus_controls(layers: int, heads: int, lang: Language) -> tuple[int, int]:
    update(state().within(layers, heads))
    layer, head = state().focus
    st.session_state["ex_layer"], st.session_state["ex_head"] = layer, head
    # 3.9: the four scopes fit on one line at 1280 px.
    a, b, c = st.container(key="ex_focus_row").columns([1, 1, 3.9])
    a.number_input(tr("explorer.layer", lang), 0, layers - 1, key="ex_layer", on_change=on_focus_widgets)
    b.number_input(tr("explorer.head", lang), 0, heads - 1, key="ex_head", on_change=on_focus_widgets)
    c.radio(
        tr("explorer.scope", lang),
        list(editing.SCOPES),
        format_func=lambda scope: tr(f"explorer.scope.{scope}", lang),
        key="ex_scope",
        horizontal=True,
    )
    return layer, head


def contrast_toggle(tokens: int, lang: Language) -> bool:
    """Draw the colour-scale toggle; return whether the focused head is coloured to its largest weight.

    On by itself for long texts, until the user sets it.
    """
    if not st.session_state.get("ex_contrast_chosen"):
        st.session_state["ex_contrast"] = tokens > CONTRAST_FROM_TOKENS
    return st.toggle(
        tr("explorer.contrast", lang),
        key="ex_contrast",
        help=tr("explorer.contrast.help", lang),
        on_change=lambda: st.session_state.update(ex_contrast_chosen=True),
    )


def compare_caption(top: float, lang: Language) -> str:
    if top == 1.0:
        return tr("explorer.compare.caption", lang)
    return tr("explorer.compare.caption_top", lang, top=f"{top:.2g}")


def words_toggle(model, text: str, lang: Language):
    """Draw the words toggle; return the text's ``(spans, labels)`` if the painter shows words, else None."""
    words = words_of(model.name, text)
    on = st.toggle(
        tr("explorer.words", lang),
        key="ex_words",
        disabled=words is None,
        help=tr("explorer.words.help" if words is not None else "explorer.words.unavailable", lang),
    )
    return words if on and words is not None else None


def token_painter(
    shown: stacks.Shown, focus, painted, locked, by_model, top: float, words, contrast: bool, lang: Language
) -> None:
    """Draw the focused head's painter: ``painted`` here, ``locked`` by other rules, ``by_model`` (T, T);
    colours from 0 to ``top``; grouped into ``words`` (spans, labels) when given."""
    layer, head = focus
    layers = shown.attentions.shape[0]
    try:
        targets = state().targets(st.session_state.get("ex_scope", "head"), layers)
    except ValueError:  # "chosen heads" with none chosen
        st.warning(tr("explorer.no_chosen", lang))
        targets = []
    weights = shown.attentions[layer, head].numpy()
    rule, model = locked.numpy(), by_model.numpy()
    view = None if words is None else word_view(*words, weights, painted.numpy(), rule, model)
    ctx = {
        "focus": focus,
        "painted": painted,
        "targets": targets,
        "words": view,
        "rule": rule,
        "model": model,
    }
    st.session_state["ex_paint_ctx"] = ctx
    if view is None:
        grid = {
            "row_labels": shown.query_labels,
            "col_labels": shown.key_labels,
            "blocked": painted.numpy(),
            "values": weights,  # on the heatmaps' scale, so both views of a head agree
            "values_max": top,
            "fixed": fixed_grid(rule, model, tuple(painted.shape)),
            "words": attention_words(lang),
        }
    else:
        grid = {
            "row_labels": view.labels,
            "col_labels": view.labels,
            "blocked": view.painted,
            "values": view.values,  # a word's weights add up: the scale is the words' own
            "values_max": weights_top([view.values], contrast),
            "fixed": view.fixed,
            "marked": view.partial,
            "words": dataclasses.replace(attention_words(lang), marked=tr("painter.partial", lang)),
        }
    grid_painter(
        key="ex_token_painter",
        **grid,
        on_change=on_token_paint,
        ramp=painter_ramp(),
        on_undo=undo,  # one history: the painter's ↶ Undo is the plan's
        can_undo=state().can_undo,
        scale=painter_scale(),
    )
    st.caption(tr("explorer.painter.caption", lang))


def head_painter(L: int, H: int, lang: Language) -> None:
    plan = shown_plan()
    grid_painter(
        key="ex_head_painter",
        row_labels=[f"L{i}" for i in range(L)],
        col_labels=[f"h{i}" for i in range(H)],
        blocked=state().picked(L, H),
        marked=(plan.gates(L, H) != 1.0).numpy(),
        focus=state().focus,
        words=head_words(lang),
        on_change=on_head_paint,
        on_cell_click=on_head_click,
        on_undo=undo,
        can_undo=state().can_undo,
        scale=painter_scale(),
    )
    chosen = sorted(state().chosen)
    # The slider gets a row of its own; the buttons wrap two and one where the column is narrow (the CSS).
    # No value=: it starts at the minimum, 0, and a value kept across pages (KEEPS) is not also a default.
    gate = st.slider(
        tr("explorer.gate", lang),
        0.0,
        1.0,
        step=0.05,
        key="ex_gate_value",
        help=tr("explorer.gate.help", lang),
    )
    b, c, d = st.container(key="ex_gate_row").columns(3)
    if b.button(tr("explorer.gate.apply", lang), disabled=not chosen, key="ex_gate_apply", width="stretch"):
        set_shown_plan(editing.set_gates(plan, chosen, gate))
        st.rerun()
    if c.button(tr("explorer.gate.clear", lang), disabled=not chosen, key="ex_gate_clear", width="stretch"):
        set_shown_plan(editing.set_gates(plan, chosen, None))
        st.rerun()
    if d.button(tr("explorer.pick.clear", lang), disabled=not chosen, key="ex_pick_clear", width="stretch"):
        update(state().with_chosen(()))
        st.rerun()
    st.caption(tr("explorer.heads.caption", lang, n=len(chosen)))


def preset_label(name: str, lang: Language) -> str:
    return tr("explorer.preset.full" if name == "full" else f"preset.{name}", lang)


def preset_section(layers: int, lang: Language) -> None:
    names = list(PRESETS)
    name = st.selectbox(
        tr("explorer.preset", lang), names, format_func=lambda n: preset_label(n, lang), key="ex_preset"
    )
    st.caption(tr(f"explorer.preset.desc.{name}", lang))
    params = preset_params(PRESETS[name], key_prefix="ex_preset_param")
    if st.button(
        tr("explorer.preset.apply", lang), key="ex_preset_apply", type="primary", disabled=params is None
    ):
        try:
            targets = state().targets(st.session_state.get("ex_scope", "head"), layers)
            set_shown_plan(editing.add_preset(shown_plan(), targets, name, params))
            st.rerun()
        except ValueError as err:
            st.error(str(err))


def overview_tab(shown: stacks.Shown, focus, lang: Language, model, text: str) -> None:
    L, H = shown.attentions.shape[:2]
    head_overview(
        key="ex_overview",
        attentions=shown.attentions.numpy(),
        marked=shown_plan().marked_heads(L, H).numpy(),
        focus=focus,
        theme=figure_theme(),
        words=overview_words(lang),
        on_pick=on_head_click,
        export_format=chosen_format(),
        **head_type_overlay(model, text, state().plan),  # badges and a filter, when asked for
    )
    st.caption(tr("explorer.overview.caption", lang))


def compare_tab(
    shown: stacks.Shown, unmasked: stacks.Shown, focus, blocked: dict, top: float, width: int, lang
) -> None:
    """Draw the focused head before and after masking, ``width`` px wide at most.

    ``blocked`` holds the focused head's ``(T, T)`` bool cells: ``painted`` here, by a ``rule``, by the
    ``model``'s own mask.
    """
    layer, head = focus
    labels = shown.key_labels
    rows = {} if shown.query_labels == shown.key_labels else {"query_tokens": shown.query_labels}
    st.session_state.setdefault("ex_view", VIEWS[0])  # not default=: a link or a visit back may set it
    view = (
        st.segmented_control(
            tr("explorer.view", lang),
            VIEWS,
            format_func=lambda v: tr(f"explorer.view.{v}", lang),
            key="ex_view",
        )
        or VIEWS[0]
    )
    theme = figure_theme()
    words = figure_words(lang)
    after = shown.attentions[layer, head].numpy()
    before = unmasked.attentions[layer, head].numpy()
    allow = ~(blocked["painted"] | blocked["rule"] | blocked["model"])
    model_only = {"allow": ~blocked["model"], "blocked_by": {"model": blocked["model"]}}
    masked = {"allow": allow, "blocked_by": {"rule": blocked["rule"], "model": blocked["model"]}}
    title = tr("explorer.fig.head", lang, layer=layer, head=head)
    size = {"theme": theme, "words": words, **rows}
    if view == "side":
        pair_width, side_by_side = pair_layout(theme, width)
        pair = {**size, "max_width": pair_width, "zmax": top}
        unmasked_fig = fig.focus_figure(
            before, labels, title=tr("explorer.fig.unmasked", lang), **model_only, **pair
        )
        masked_fig = fig.focus_figure(after, labels, title=tr("explorer.fig.masked", lang), **masked, **pair)
        # Side by side where the column has room for two readable matrices, else one above the other.
        left, right = st.columns(2, gap="small") if side_by_side else (st.container(), st.container())
        left.plotly_chart(unmasked_fig, key="ex_before_fig", config=chart_config("unmasked"), width="content")
        right.plotly_chart(masked_fig, key="ex_after_fig", config=chart_config("masked"), width="content")
        st.caption(compare_caption(top, lang))
        return
    size["max_width"] = width
    if view == "masked":
        name = tr("explorer.fig.masked", lang)
        figure = fig.focus_figure(after, labels, title=f"{title} ({name})", zmax=top, **masked, **size)
    elif view == "unmasked":
        name = tr("explorer.fig.unmasked", lang)
        figure = fig.focus_figure(before, labels, title=f"{title} ({name})", zmax=top, **model_only, **size)
    else:
        name = tr("explorer.fig.difference", lang)
        figure = fig.difference_figure(before, after, labels, title=f"{title}: {name}", **masked, **size)
    st.plotly_chart(figure, key="ex_focus_fig", config=chart_config(f"head_{layer}_{head}"), width="content")
    st.caption(compare_caption(top, lang))
    st.download_button(
        tr("explorer.download_figure", lang),
        lambda: figure_html(figure),  # built on click: the page carries plotly.js (~5 MB)
        file_name=f"head_{layer}_{head}.html",
        mime="text/html",
        key="ex_dl_fig",
        on_click="ignore",
    )


def effect_tab(model, result, lang: Language) -> None:
    theme = figure_theme()
    if result.embedding_cosine is not None:
        st.metric(
            tr("explorer.effect.cosine", lang),
            run_words.shown_number(result.embedding_cosine),
            help=tr("explorer.effect.cosine.help", lang),
        )
    if result.kl_divergence is not None:
        st.metric(tr("explorer.effect.kl", lang), f"{run_words.shown_number(result.kl_divergence)} nats")
    if result.predictions:
        st.caption(tr("explorer.effect.predictions", lang))
        st.dataframe(run_words.prediction_rows(result, lang), hide_index=True, width="stretch")
    change = result.token_change.numpy()
    st.plotly_chart(
        fig.token_change_figure(result.labels, change, title=tr("explorer.effect.change", lang), theme=theme),
        key="ex_change_fig",
        config=chart_config("token_change"),
        width="content",
    )


def plan_tab(model, result, lang: Language) -> None:
    plan = state().plan
    if not plan:
        st.info(tr("explorer.plan.empty", lang))
    elif plan.description:
        st.caption(escape(plan.description))  # an imported plan's own words: plain text
    for i, rule in enumerate(plan.rules):
        a, b = st.columns([6, 1])
        label = f" · *{escape(rule.label)}*" if rule.label else ""
        # The tokens a rule names, on this text; they go into Markdown, so escaped.
        tokens = [escape(t) for t in result.labels] if rule.stack in (None, result.default_stack) else None
        a.markdown(f"`{i}` {editing.describe_rule(rule, tokens, lang)}{label}")
        if b.button(
            "",
            icon=":material/delete:",
            help=tr("explorer.plan.remove", lang),
            key=f"ex_rm_{i}_{len(plan.rules)}",
        ):
            set_plan(editing.remove_rule(plan, i))
            st.rerun()
    st.divider()
    a, b = st.columns(2)
    a.download_button(
        tr("explorer.plan.export", lang),
        plan.to_json(),
        file_name="mask_plan.json",
        mime="application/json",
        key="ex_dl_plan",
        on_click="ignore",
        width="stretch",
    )
    b.download_button(
        tr("explorer.plan.export_npz", lang),
        lambda: attentions_npz(result),  # built on click, not on every edit (~100 ms at T=128)
        file_name="attentions.npz",
        mime="application/octet-stream",
        key="ex_dl_npz",
        on_click="ignore",
        width="stretch",
    )
    upload = st.file_uploader(
        tr("explorer.plan.import", lang), type=["json"], key="ex_upload", max_upload_size=1
    )
    if upload is not None and st.session_state.get("ex_upload_done") != upload.file_id:
        st.session_state["ex_upload_done"] = upload.file_id
        import_plan(model, result, upload.getvalue(), upload.name, lang)
    pasted = st.text_area(
        tr("explorer.plan.paste", lang), key="ex_paste", height=80, placeholder='{"version": 1, "rules": []}'
    )
    if st.button(tr("explorer.plan.paste_apply", lang), key="ex_paste_apply", disabled=not pasted.strip()):
        import_plan(model, result, pasted.encode(), "the pasted plan", lang)
    with st.expander(tr("explorer.plan.json", lang)):
        st.code(plan.to_json(), language="json")
    st.caption(tr("explorer.plan.share", lang))


def import_plan(model, result, data: bytes, source: str, lang: Language) -> None:
    """Replace the plan with an imported one, or show why it cannot be used (the current plan is kept)."""
    try:
        imported = read_plan_file(data)
        imported.check_fits(model.num_layers, model.num_heads, result.num_tokens)
    except ValueError as err:
        st.error(tr("explorer.plan.import_error", lang, source=escape(source), error=escape(err)))
        return
    set_plan(imported)
    st.rerun()


# -- page


def refit_to_text(text: str, tokens: tuple[str, ...], lang: Language) -> None:
    """Move the plan's token indices onto this text's ``tokens``, and say what moved or was dropped."""
    new, notes = state().refit(text, tokens)
    update(new)
    if notes:
        st.session_state["ex_refit_notes"] = (new.plan.key(), notes)
    shown = st.session_state.get("ex_refit_notes")
    if shown is not None and shown[0] == new.plan.key() and new.can_undo:
        lines = "\n".join(f"- {escape(note)}" for note in shown[1])
        st.info(f"{tr('explorer.refit', lang)}\n{lines}")


def main() -> None:
    frame.render(KEEPS, owns_link=True)
    init_state()
    lang = language_switch()
    st.title(tr("explorer.title", lang))
    for problem in st.session_state.pop("ex_link_problems", []):
        st.warning(tr("explorer.link_problem", lang, problem=escape(problem)))
    model = active_model(lang)
    if model is None:
        return
    text = text_section(lang)[: limits.LIMITS.max_text_chars]  # on_text cut it already; this binds the server
    text_cut_note(lang)
    if not text.strip():
        st.error(tr("explorer.text.empty", lang))
        return
    # One container for both ways of drawing the work area, so that one replaces the other in place.
    with st.container(key="ex_work_box"):
        if tab_id(st.session_state.get("ex_tab")) == "heads":
            # A sweep there stops on any click, which reruns the page; a click inside a fragment waits for
            # the running script instead, so this tab is drawn by whole-page runs (on_tab reruns the page).
            work_area(model, text, lang)
        else:
            live_work_area(model, text, lang)


def on_tab() -> None:
    st.rerun()  # the whole page: main decides whether the work area is a fragment (see there)


def work_area(model, text: str, lang: Language) -> None:
    """Draw the run of ``text`` and everything an edit changes: painters, focus, figures, effect, plan."""
    try:
        # Shown only when the run takes a while (a long text, a big model); other sessions run meanwhile.
        with st.spinner(tr("explorer.running", lang), show_time=True):
            # The unmasked run first: its tokens say where the plan's token indices go on this text.
            baseline = run_cached(model.name, text, MaskPlan().key())  # cached: no copy per rerun
            refit_to_text(text, tuple(baseline.tokens), lang)
            plan = state().plan
            run = cached_run(model.name, text, plan.key())
    except ValueError as err:
        st.error(tr("explorer.cannot_run", lang, error=escape(err)))
        st.button(tr("explorer.reset_bad", lang), on_click=reset, key="ex_reset_bad")
        return
    result = run.result
    stack = stack_picker(model, lang)
    shown, unmasked = stacks.shown(result, stack), stacks.shown(baseline, stack)
    L, H = shown.attentions.shape[:2]
    focus = focus_controls(L, H, lang)
    sync_link(model.name)

    badge = run_words.recompute_badge(result, model.num_layers, cached=run.hit, lang=lang)
    st.caption(
        tr(
            "explorer.status",
            lang,
            badge=badge,
            tokens=result.num_tokens,
            model=code(model.name),
            device=model.device,
            rules=len(plan.rules),
        )
    )
    if result.truncated:
        st.warning(run_words.truncation_note(model, result, limits.LIMITS.max_tokens, lang))
    unknown = model.tokenizer.unk_token
    if unknown and result.tokens.count(unknown) * 4 > result.num_tokens:
        st.info(tr("explorer.unknown_tokens", lang, unknown=unknown))

    theme = figure_theme()
    st.html(EXPLORER_CSS.format(**explorer_css_sizes(theme)))  # only numbers go in
    # The focused head's blocked cells, (T, T) bool: painted here, blocked by its other rules, and blocked
    # by the model's own mask (its unmasked weights are exactly 0 there, in every head of the layer).
    painted, locked = editing.head_masks(shown_plan(), *focus, result.num_tokens)
    by_model = stacks.model_blocked(unmasked.attentions, focus[0])
    blocked = {"painted": painted.numpy(), "rule": locked.numpy(), "model": by_model.numpy()}
    left, right = st.container(key="ex_split").columns([1, 1.2], gap="medium")
    with left:
        st.subheader(tr("explorer.mask_of", lang, layer=focus[0], head=focus[1]))
        # One above the other: side by side, their labels were cut short in the painter's column.
        contrast = contrast_toggle(result.num_tokens, lang)
        words = words_toggle(model, text, lang)
        heads = [stack.attentions[focus].numpy() for stack in (shown, unmasked)]
        top = weights_top(heads, contrast)  # the focused head's colour scale, before and after alike
        token_painter(shown, focus, painted, locked, by_model, top, words, contrast, lang)
        a, b = st.columns(2)
        a.button(
            tr("explorer.undo", lang),
            on_click=undo,
            disabled=not state().can_undo,
            key="ex_undo",
            width="stretch",
        )
        b.button(
            tr("explorer.reset", lang), on_click=reset, disabled=not plan, key="ex_reset", width="stretch"
        )
        with st.expander(tr("explorer.presets", lang), expanded=False):
            preset_section(L, lang)
        with st.expander(tr("explorer.heads", lang), expanded=False):
            head_painter(L, H, lang)
    with right:
        # The figures take the column's width, as the browser reports it (a default until it has).
        width = column_width("ex_figure_width", figure_width(theme))
        # Only the open tab is built: hidden tabs' figures would cost each edit ~200 ms in the browser.
        if "ex_tab" in st.session_state:  # the open tab stays open when the language changes
            st.session_state["ex_tab"] = tab_label(tab_id(st.session_state["ex_tab"]), lang)
        tabs = st.tabs([tab_label(t, lang) for t in TABS], key="ex_tab", on_change=on_tab)
        sections = (
            lambda: overview_tab(shown, focus, lang, model, text),
            lambda: compare_tab(shown, unmasked, focus, blocked, top, width, lang),
            lambda: effect_tab(model, result, lang),
            lambda: plan_tab(model, result, lang),
            lambda: heads_and_edges_tab(model, text, result.labels, state()),
        )
        for tab, section in zip(tabs, sections, strict=True):
            if tab.open:
                with tab:
                    section()


# The work area as a fragment: a paint, a click on a head or a figure reruns it alone, with the arguments of
# the last whole run, and the browser gets only what it draws; a new text, model or language reruns the page.
live_work_area = st.fragment(work_area, key="ex_work")

main()
