"""Explorer: type text, paint masks over tokens and heads, see every head of the model recomputed live."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import streamlit as st

from maskattn import PRESETS, MaskPlan
from maskattn import figures as fig
from ui import editing, frame, limits, presets, run_words, stacks
from ui.exports import attentions_npz, figure_html
from ui.figure_export import chart_config
from ui.instruments_tab import head_type_overlay, heads_and_edges_tab
from ui.markdown import code, escape
from ui.models import active_model, run_cached
from ui.page_state import EXPLORER_KEY, ExplorerState, query_param_changes
from ui.painter import grid_painter
from ui.painter_codec import ATTENTION_WORDS, HEAD_WORDS
from ui.runs import cached_run
from ui.share import SharedState, from_query_params, read_plan_file, to_query_params
from ui.theme import EXPLORER_CSS, explorer_css_sizes, figure_theme, figure_width, painter_ramp
from ui.widgets import preset_params

EXAMPLES = [
    "The cat sat on the mat because it was tired.",
    "The keys to the cabinet are on the table.",
    "Paris is the capital of France, and Berlin is the capital of Germany.",
    "She gave him the book that she had bought in Tokyo.",
    "The trophy does not fit in the suitcase because it is too big.",
]
# The widget values this page keeps when people leave it and come back (ui.frame).
KEEPS = ("ex_text", "ex_scope", "ex_preset", "ex_gate_value", "ex_stack")
TABS = ["Overview", "Before / after", "Effect", "Plan & share", "Heads & edges"]
LOCKED_WORDS = replace(ATTENTION_WORDS, marked="blocked by a rule")


# -- state: one ExplorerState under EXPLORER_KEY, replaced whole


def state() -> ExplorerState:
    return st.session_state[EXPLORER_KEY]


def update(new: ExplorerState) -> None:
    st.session_state[EXPLORER_KEY] = new


def init_state() -> None:
    """Fill the page's session state once, from the link if there is one."""
    if EXPLORER_KEY in st.session_state:
        return
    shared, problems = from_query_params(dict(st.query_params), EXAMPLES[0])
    st.session_state["ex_text"] = shared.text
    update(ExplorerState(plan=shared.plan, focus=shared.focus))
    st.session_state["ex_link_problems"] = problems
    if shared.model != st.session_state.get("model_name"):
        st.session_state["model_name"] = shared.model


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


def reset() -> None:
    update(state().reset())


def sync_link(model_name: str) -> None:
    """Write the state into the URL so the address bar is always a shareable link."""
    shared = SharedState(st.session_state["ex_text"], model_name, state().plan, state().focus)
    # The classroom pages' language stays.
    stale, changed = query_param_changes(st.query_params.to_dict(), to_query_params(shared), keep={"lang"})
    for name in stale:
        del st.query_params[name]
    for name, value in changed.items():
        st.query_params[name] = value


# -- callbacks (run before the rerun, so the recompute already sees the edit)


def on_token_paint(after: np.ndarray) -> None:
    ctx = st.session_state["ex_paint_ctx"]
    plan = editing.apply_paint(
        shown_plan(), focus=ctx["focus"], before=ctx["painted"], after=after, targets=ctx["targets"]
    )
    set_shown_plan(plan)


def on_head_paint(picked: np.ndarray) -> None:
    update(state().with_chosen(zip(*np.nonzero(picked), strict=True)))


def on_head_click(layer: int, head: int) -> None:
    update(state().focused(layer, head))


def on_overview_select() -> None:
    event = st.session_state.get("ex_overview")
    points = event.selection.points if event is not None else []
    if points and points[0].get("customdata") is not None:
        layer, head = points[0]["customdata"][:2]
        update(state().focused(layer, head))


def on_focus_widgets() -> None:
    update(state().focused(st.session_state["ex_layer"], st.session_state["ex_head"]))


def on_example() -> None:
    st.session_state["ex_text"] = st.session_state["ex_example"]


# -- sections


def text_section() -> str:
    left, right = st.container(key="ex_text_row").columns([4, 1.3])
    with right:
        st.selectbox(
            "Examples",
            EXAMPLES,
            index=None,
            placeholder="Pick an example…",
            key="ex_example",
            on_change=on_example,
        )
    with left:
        text = st.text_area(
            "Text",
            key="ex_text",
            height=68,
            max_chars=limits.LIMITS.max_text_chars,
            help="Every edit reruns the model on this text with your mask plan.",
        )
    return text


def stack_picker(model) -> str:
    """Return the attention stack to show: a choice for encoder–decoder models, else the only one."""
    default = model.stacks[0]
    stack = default
    if len(model.stacks) > 1:
        if st.session_state.get("ex_stack") not in model.stacks:
            st.session_state["ex_stack"] = default
        stack = st.segmented_control(
            "Attention",
            model.stacks,
            format_func=stacks.STACK_WORDS.get,
            key="ex_stack",
            help=stacks.STACK_HELP,
        )
        stack = stack or default
    st.session_state["ex_stack_ctx"] = (stack, default)
    return stack


def focus_controls(layers: int, heads: int) -> tuple[int, int]:
    update(state().within(layers, heads))
    layer, head = state().focus
    st.session_state["ex_layer"], st.session_state["ex_head"] = layer, head
    # 3.9: the four scopes fit on one line at 1280 px.
    a, b, c = st.container(key="ex_focus_row").columns([1, 1, 3.9])
    a.number_input("Layer", 0, layers - 1, key="ex_layer", on_change=on_focus_widgets)
    b.number_input("Head", 0, heads - 1, key="ex_head", on_change=on_focus_widgets)
    c.radio(
        "Painting applies to",
        list(editing.SCOPES),
        format_func=editing.SCOPES.get,
        key="ex_scope",
        horizontal=True,
    )
    return layer, head


def token_painter(shown: stacks.Shown, focus, painted, locked) -> None:
    layer, head = focus
    layers = shown.attentions.shape[0]
    try:
        targets = state().targets(st.session_state.get("ex_scope", "head"), layers)
    except ValueError as err:
        st.warning(str(err))
        targets = state().targets("head", layers)
    st.session_state["ex_paint_ctx"] = {"focus": focus, "painted": painted, "targets": targets}
    weights = shown.attentions[layer, head].numpy()
    grid_painter(
        key="ex_token_painter",
        row_labels=shown.query_labels,
        col_labels=shown.key_labels,
        blocked=painted.numpy(),
        values=weights,  # the fixed 0–1 scale of the heatmaps, so both views of a head agree
        marked=locked.numpy(),
        words=LOCKED_WORDS,
        on_change=on_token_paint,
        ramp=painter_ramp(),
    )
    st.caption(
        "Painted cells are **blocked** (score −∞ before the softmax). Cells with an orange border are "
        "blocked by "
        "a preset or an imported rule: remove that rule in the *Plan & share* tab to free them."
    )


def head_painter(L: int, H: int) -> None:
    plan = shown_plan()
    grid_painter(
        key="ex_head_painter",
        row_labels=[f"L{i}" for i in range(L)],
        col_labels=[f"h{i}" for i in range(H)],
        blocked=state().picked(L, H),
        marked=(plan.gates(L, H) != 1.0).numpy(),
        focus=state().focus,
        words=HEAD_WORDS,
        on_change=on_head_paint,
        on_cell_click=on_head_click,
    )
    chosen = sorted(state().chosen)
    # The slider gets a row of its own; the buttons wrap two and one where the column is narrow (the CSS).
    gate = st.slider(
        "Gate",
        0.0,
        1.0,
        0.0,
        0.05,
        key="ex_gate_value",
        help="Scales the chosen heads' outputs before the output projection; 0 ablates them.",
    )
    b, c, d = st.container(key="ex_gate_row").columns(3)
    if b.button("Gate chosen", disabled=not chosen, key="ex_gate_apply", width="stretch"):
        set_shown_plan(editing.set_gates(plan, chosen, gate))
        st.rerun()
    if c.button("Ungate chosen", disabled=not chosen, key="ex_gate_clear", width="stretch"):
        set_shown_plan(editing.set_gates(plan, chosen, None))
        st.rerun()
    if d.button("Clear picks", disabled=not chosen, key="ex_pick_clear", width="stretch"):
        update(state().with_chosen(()))
        st.rerun()
    st.caption(f"{len(chosen)} head(s) chosen. Gated heads are outlined; the focused head is ringed.")


def preset_section(layers: int) -> None:
    names = list(PRESETS)
    name = st.selectbox("Preset", names, format_func=presets.label, key="ex_preset")
    st.caption(presets.description(name))
    params = preset_params(PRESETS[name], key_prefix="ex_preset_param")
    if st.button("Apply preset", key="ex_preset_apply", type="primary", disabled=params is None):
        try:
            targets = state().targets(st.session_state.get("ex_scope", "head"), layers)
            set_shown_plan(editing.add_preset(shown_plan(), targets, name, params))
            st.rerun()
        except ValueError as err:
            st.error(str(err))


def overview_tab(shown: stacks.Shown, focus, model, text: str) -> None:
    L, H = shown.attentions.shape[:2]
    marked = shown_plan().marked_heads(L, H).numpy()
    theme = figure_theme()
    types = head_type_overlay(model, text, state().plan)  # badges and a filter, when asked for
    figure = fig.overview_figure(
        shown.attentions.numpy(),
        marked=marked,
        focus=focus,
        theme=theme,
        max_width=figure_width(theme),
        **types,
    )
    st.plotly_chart(
        figure,
        key="ex_overview",
        on_select=on_overview_select,
        selection_mode="points",
        config=chart_config("overview"),
        width="content",
    )
    st.caption("Click a head to focus it. Outlined heads are masked or gated by the plan.")


def compare_tab(shown: stacks.Shown, unmasked: stacks.Shown, focus, allow: np.ndarray) -> None:
    """Draw the focused head before and after masking; ``allow`` is the plan's ``(T, T)`` mask for it."""
    layer, head = focus
    labels = shown.key_labels
    rows = {} if shown.query_labels == shown.key_labels else {"query_tokens": shown.query_labels}
    view = (
        st.segmented_control(
            "View", ["Masked", "Unmasked", "Side by side", "Difference"], default="Masked", key="ex_view"
        )
        or "Masked"
    )
    theme = figure_theme()
    after = shown.attentions[layer, head].numpy()
    before = unmasked.attentions[layer, head].numpy()
    title = f"Layer {layer} · head {head}"
    size = {"theme": theme, "max_width": figure_width(theme), **rows}
    if view == "Masked":
        figure = fig.focus_figure(after, labels, allow=allow, title=f"{title} (masked)", zmax=1.0, **size)
    elif view == "Unmasked":
        figure = fig.focus_figure(before, labels, title=f"{title} (unmasked)", zmax=1.0, **size)
    elif view == "Difference":
        figure = fig.difference_figure(
            before, after, labels, allow=allow, title=f"{title}: masked − unmasked", **size
        )
    else:
        # Side by side where the column is wide enough for two, one above the other where it is not.
        left, right = st.container(key="ex_side_by_side").columns(2)
        pair = {"theme": theme, "max_width": figure_width(theme, pair=True), "zmax": 1.0, **rows}
        unmasked = fig.focus_figure(before, labels, title="unmasked", **pair)
        masked = fig.focus_figure(after, labels, allow=allow, title="masked", **pair)
        left.plotly_chart(unmasked, key="ex_before_fig", config=chart_config("unmasked"), width="content")
        right.plotly_chart(masked, key="ex_after_fig", config=chart_config("masked"), width="content")
        return
    st.plotly_chart(figure, key="ex_focus_fig", config=chart_config(f"head_{layer}_{head}"), width="content")
    st.download_button(
        "Download this figure (HTML)",
        lambda: figure_html(figure),  # built on click: the page carries plotly.js (~5 MB)
        file_name=f"head_{layer}_{head}.html",
        mime="text/html",
        key="ex_dl_fig",
        on_click="ignore",
    )


def effect_tab(model, result) -> None:
    theme = figure_theme()
    if result.embedding_cosine is not None:
        st.metric(
            "Sentence embedding: cosine to unmasked",
            run_words.shown_number(result.embedding_cosine),
            help="Mean-pooled last hidden state, as sentence-transformers does. 1 = unchanged.",
        )
    if result.kl_divergence is not None:
        st.metric(
            "KL(unmasked ‖ masked) of the predictions", f"{run_words.shown_number(result.kl_divergence)} nats"
        )
    if result.predictions:
        st.caption(
            "Top predictions (causal LM: the next token; masked LM: the [MASK] positions; encoder–decoder: "
            "the decoder's next token)."
        )
        st.dataframe(run_words.prediction_rows(result), hide_index=True, width="stretch")
    change = result.token_change.numpy()
    st.plotly_chart(
        fig.token_change_figure(
            result.labels, change, title="Change of each token's last hidden state", theme=theme
        ),
        key="ex_change_fig",
        config=chart_config("token_change"),
        width="content",
    )


def plan_tab(model, result) -> None:
    plan = state().plan
    if not plan:
        st.info("The plan is empty: paint cells, apply a preset, or gate heads.")
    elif plan.description:
        st.caption(escape(plan.description))  # an imported plan's own words: plain text
    for i, rule in enumerate(plan.rules):
        a, b = st.columns([6, 1])
        label = f" · *{escape(rule.label)}*" if rule.label else ""
        a.markdown(f"`{i}` {editing.describe_rule(rule)}{label}")
        if b.button(
            "", icon=":material/delete:", help="Remove this rule", key=f"ex_rm_{i}_{len(plan.rules)}"
        ):
            set_plan(editing.remove_rule(plan, i))
            st.rerun()
    st.divider()
    a, b = st.columns(2)
    a.download_button(
        "Export plan (JSON)",
        plan.to_json(),
        file_name="mask_plan.json",
        mime="application/json",
        key="ex_dl_plan",
        on_click="ignore",
        width="stretch",
    )
    b.download_button(
        "Export attentions (.npz)",
        lambda: attentions_npz(result),  # built on click, not on every edit (~100 ms at T=128)
        file_name="attentions.npz",
        mime="application/octet-stream",
        key="ex_dl_npz",
        on_click="ignore",
        width="stretch",
    )
    upload = st.file_uploader("Import a plan (JSON file)", type=["json"], key="ex_upload", max_upload_size=1)
    if upload is not None and st.session_state.get("ex_upload_done") != upload.file_id:
        st.session_state["ex_upload_done"] = upload.file_id
        import_plan(model, result, upload.getvalue(), upload.name)
    pasted = st.text_area(
        "…or paste plan JSON", key="ex_paste", height=80, placeholder='{"version": 1, "rules": []}'
    )
    if st.button("Import pasted plan", key="ex_paste_apply", disabled=not pasted.strip()):
        import_plan(model, result, pasted.encode(), "the pasted plan")
    with st.expander("Plan JSON"):
        st.code(plan.to_json(), language="json")
    st.caption("Share: the address bar always holds the whole state (text, model, plan, focus). Copy it.")


def import_plan(model, result, data: bytes, source: str) -> None:
    """Replace the plan with an imported one, or show why it cannot be used (the current plan is kept)."""
    try:
        imported = read_plan_file(data)
        imported.check_fits(model.num_layers, model.num_heads, result.num_tokens)
    except ValueError as err:
        st.error(f"Could not import {escape(source)}: {escape(err)}")
        return
    set_plan(imported)
    st.rerun()


# -- page


def main() -> None:
    frame.render(KEEPS)
    init_state()
    st.title("Explorer")
    for problem in st.session_state.pop("ex_link_problems", []):
        st.warning(f"Part of the link was ignored: {escape(problem)}")
    model = active_model()
    if model is None:
        return
    # The widget's max_chars binds the browser; this binds the server.
    text = text_section()[: limits.LIMITS.max_text_chars]
    if not text.strip():
        st.error("The text is empty: type a sentence or pick an example.")
        return
    plan = state().plan
    try:
        # Shown only when the run takes a while (a long text, a big model); other sessions run meanwhile.
        with st.spinner("Running the model…", show_time=True):
            run = cached_run(model.name, text, plan.key())
            baseline = run_cached(model.name, text, MaskPlan().key())  # cached: no copy per rerun
    except ValueError as err:
        st.error(f"Cannot run this plan on this text: {escape(err)}")
        st.button("Reset the plan", on_click=reset, key="ex_reset_bad")
        return
    result = run.result
    stack = stack_picker(model)
    shown, unmasked = stacks.shown(result, stack), stacks.shown(baseline, stack)
    L, H = shown.attentions.shape[:2]
    focus = focus_controls(L, H)
    sync_link(model.name)

    badge = run_words.recompute_badge(result, model.num_layers, cached=run.hit)
    st.caption(
        f"{badge} · {result.num_tokens} tokens · {code(model.name)} on `{model.device}` · "
        f"{len(plan.rules)} rule(s)"
    )
    if result.truncated:
        st.warning(run_words.truncation_note(model, result, limits.LIMITS.max_tokens))
    unknown = model.tokenizer.unk_token
    if unknown and result.tokens.count(unknown) * 4 > result.num_tokens:
        st.info(
            f"Many tokens are {unknown}: this model's vocabulary does not know these characters, so their "
            "attention says little. Try an English sentence, or a multilingual model in the sidebar."
        )

    st.html(EXPLORER_CSS.format(**explorer_css_sizes(figure_theme())))  # only numbers go in
    # The plan's cells for the focused head, (T, T) bool: painted here, and blocked by its other rules.
    painted, locked = editing.head_masks(shown_plan(), *focus, result.num_tokens)
    left, right = st.container(key="ex_split").columns([1, 1.2], gap="medium")
    with left:
        st.subheader(f"Mask of layer {focus[0]} · head {focus[1]}")
        token_painter(shown, focus, painted, locked)
        a, b = st.columns(2)
        a.button(
            "Undo plan edit", on_click=undo, disabled=not state().can_undo, key="ex_undo", width="stretch"
        )
        b.button("Reset plan", on_click=reset, disabled=not plan, key="ex_reset", width="stretch")
        with st.expander("Presets", expanded=False):
            preset_section(L)
        with st.expander("Heads: pick, focus, gate", expanded=False):
            head_painter(L, H)
    with right:
        # Only the open tab is built: hidden tabs' figures would cost each edit ~200 ms in the browser.
        tabs = st.tabs(TABS, key="ex_tab", on_change="rerun")
        sections = (
            lambda: overview_tab(shown, focus, model, text),
            lambda: compare_tab(shown, unmasked, focus, allow=~(painted | locked).numpy()),
            lambda: effect_tab(model, result),
            lambda: plan_tab(model, result),
            lambda: heads_and_edges_tab(model, text, result.labels, state()),
        )
        for tab, section in zip(tabs, sections, strict=True):
            if tab.open:
                with tab:
                    section()


main()
