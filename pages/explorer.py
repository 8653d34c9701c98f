"""Explorer: type text, paint masks over tokens and heads, see every head of the model recomputed live."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import streamlit as st
import torch

from maskattn import PRESETS, MaskPlan
from maskattn import figures as fig
from ui import editing, frame, limits
from ui.exports import attentions_npz
from ui.markdown import code, escape
from ui.models import active_model, run_cached
from ui.painter import grid_painter
from ui.painter_codec import ATTENTION_WORDS, HEAD_WORDS
from ui.share import SharedState, from_query_params, read_plan_file, to_query_params
from ui.theme import figure_theme, painter_ramp
from ui.widgets import preset_params

EXAMPLES = [
    "The cat sat on the mat because it was tired.",
    "The keys to the cabinet are on the table.",
    "Paris is the capital of France, and Berlin is the capital of Germany.",
    "She gave him the book that she had bought in Tokyo.",
    "The trophy does not fit in the suitcase because it is too big.",
]
HISTORY_LIMIT = 50
# The widget values this page keeps when people leave it and come back (ui.frame).
KEEPS = ("ex_text", "ex_scope", "ex_preset", "ex_gate_value")
TABS = ["Overview", "Before / after", "Effect", "Plan & share"]
LOCKED_WORDS = replace(ATTENTION_WORDS, marked="blocked by a rule")
# The figures have fixed pixel sizes, and Streamlit squeezes a wider one into its column, which leaves the
# matrix small inside a tall empty frame. So they are built to this width (times the theme's size scale):
# about the right column at 1280 px with the sidebar open. Narrower windows stack the columns (LAYOUT_CSS).
FIGURE_WIDTH_PX = 420
PAIR_WIDTH_PX = 360  # each figure of "Side by side": two fit next to each other from a 740 px column on
PAINTER_MIN_WIDTH_PX = 320
# Columns of the keyed containers below wrap onto their own rows when the window is too narrow for both.
LAYOUT_CSS = """<style>
.st-key-ex_text_row [data-testid=stColumn]:last-child {{ min-width: 170px; }}
.st-key-ex_focus_row [data-testid=stColumn],
.st-key-ex_gate_row [data-testid=stColumn] {{ min-width: 130px; }}
.st-key-ex_split > div > [data-testid=stHorizontalBlock] > [data-testid=stColumn]:first-child {{
  min-width: {painter}px;
}}
.st-key-ex_split > div > [data-testid=stHorizontalBlock] > [data-testid=stColumn]:last-child {{
  min-width: {figure}px;
}}
.st-key-ex_side_by_side [data-testid=stColumn] {{ min-width: {pair}px; }}
</style>"""


# -- state


def init_state() -> None:
    """Fill the page's session state once, from the link if there is one."""
    if "ex_plan" in st.session_state:
        return
    shared, problems = from_query_params(dict(st.query_params), EXAMPLES[0])
    st.session_state["ex_text"] = shared.text
    st.session_state["ex_plan"] = shared.plan
    st.session_state["ex_focus"] = shared.focus
    st.session_state["ex_history"] = []
    st.session_state["ex_chosen"] = set()
    st.session_state["ex_link_problems"] = problems
    if shared.model != st.session_state.get("model_name"):
        st.session_state["model_name"] = shared.model


def set_plan(plan: MaskPlan) -> None:
    """Replace the plan, remembering the old one for undo."""
    if plan.key() == st.session_state["ex_plan"].key():
        return
    history = st.session_state["ex_history"]
    history.append(st.session_state["ex_plan"])
    del history[:-HISTORY_LIMIT]
    st.session_state["ex_plan"] = plan


def undo() -> None:
    if st.session_state["ex_history"]:
        st.session_state["ex_plan"] = st.session_state["ex_history"].pop()


def reset() -> None:
    set_plan(MaskPlan())
    st.session_state["ex_chosen"] = set()


def sync_link(model_name: str) -> None:
    """Write the state into the URL so the address bar is always a shareable link."""
    state = SharedState(
        st.session_state["ex_text"], model_name, st.session_state["ex_plan"], st.session_state["ex_focus"]
    )
    params = to_query_params(state)
    for stale in set(st.query_params) - set(params) - {"lang"}:  # the classroom pages' language stays
        del st.query_params[stale]
    for name, value in params.items():
        if st.query_params.get(name) != value:
            st.query_params[name] = value


# -- callbacks (run before the rerun, so the recompute already sees the edit)


def on_token_paint(after: np.ndarray) -> None:
    ctx = st.session_state["ex_paint_ctx"]
    plan = editing.apply_paint(
        st.session_state["ex_plan"],
        focus=ctx["focus"],
        before=ctx["painted"],
        after=torch.from_numpy(np.asarray(after, dtype=bool)),
        targets=ctx["targets"],
    )
    set_plan(plan)


def on_head_paint(picked: np.ndarray) -> None:
    st.session_state["ex_chosen"] = {(int(a), int(b)) for a, b in zip(*np.nonzero(picked), strict=True)}


def on_head_click(layer: int, head: int) -> None:
    st.session_state["ex_focus"] = (layer, head)


def on_overview_select() -> None:
    event = st.session_state.get("ex_overview")
    points = event.selection.points if event is not None else []
    if points and points[0].get("customdata") is not None:
        layer, head = points[0]["customdata"][:2]
        st.session_state["ex_focus"] = (int(layer), int(head))


def on_focus_widgets() -> None:
    st.session_state["ex_focus"] = (st.session_state["ex_layer"], st.session_state["ex_head"])


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


def focus_controls(model) -> tuple[int, int]:
    layer, head = st.session_state["ex_focus"]
    layer, head = min(layer, model.num_layers - 1), min(head, model.num_heads - 1)
    st.session_state["ex_focus"] = (layer, head)
    st.session_state["ex_layer"], st.session_state["ex_head"] = layer, head
    # 3.9: the four scopes fit on one line at 1280 px.
    a, b, c = st.container(key="ex_focus_row").columns([1, 1, 3.9])
    a.number_input("Layer", 0, model.num_layers - 1, key="ex_layer", on_change=on_focus_widgets)
    b.number_input("Head", 0, model.num_heads - 1, key="ex_head", on_change=on_focus_widgets)
    c.radio(
        "Painting applies to",
        list(editing.SCOPES),
        format_func=editing.SCOPES.get,
        key="ex_scope",
        horizontal=True,
    )
    return layer, head


def token_painter(model, result, focus) -> None:
    layer, head = focus
    T = result.num_tokens
    plan = st.session_state["ex_plan"]
    painted, locked = editing.head_masks(plan, layer, head, T)
    try:
        targets = editing.scope_targets(
            st.session_state.get("ex_scope", "head"), focus, st.session_state["ex_chosen"], model.num_layers
        )
    except ValueError as err:
        st.warning(str(err))
        targets = editing.scope_targets("head", focus, (), model.num_layers)
    st.session_state["ex_paint_ctx"] = {"focus": focus, "painted": painted, "targets": targets}
    weights = result.attentions[layer, head].numpy()
    grid_painter(
        key="ex_token_painter",
        row_labels=result.labels,
        col_labels=result.labels,
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


def head_painter(model) -> None:
    L, H = model.num_layers, model.num_heads
    plan = st.session_state["ex_plan"]
    gates = plan.gates(L, H)
    picked = np.zeros((L, H), dtype=bool)
    for layer, head in st.session_state["ex_chosen"]:
        if layer < L and head < H:
            picked[layer, head] = True
    grid_painter(
        key="ex_head_painter",
        row_labels=[f"L{i}" for i in range(L)],
        col_labels=[f"h{i}" for i in range(H)],
        blocked=picked,
        marked=(gates != 1.0).numpy(),
        focus=st.session_state["ex_focus"],
        words=HEAD_WORDS,
        on_change=on_head_paint,
        on_cell_click=on_head_click,
    )
    chosen = sorted(st.session_state["ex_chosen"])
    # The slider gets a row of its own; the buttons wrap two and one where the column is narrow (LAYOUT_CSS).
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
        set_plan(editing.set_gates(plan, chosen, gate))
        st.rerun()
    if c.button("Ungate chosen", disabled=not chosen, key="ex_gate_clear", width="stretch"):
        set_plan(editing.set_gates(plan, chosen, None))
        st.rerun()
    if d.button("Clear picks", disabled=not chosen, key="ex_pick_clear", width="stretch"):
        st.session_state["ex_chosen"] = set()
        st.rerun()
    st.caption(f"{len(chosen)} head(s) chosen. Gated heads are outlined; the focused head is ringed.")


def preset_section(model, focus) -> None:
    names = list(PRESETS)
    name = st.selectbox("Preset", names, format_func=lambda n: PRESETS[n].label, key="ex_preset")
    st.caption(PRESETS[name].description)
    params = preset_params(PRESETS[name], key_prefix="ex_preset_param")
    if st.button("Apply preset", key="ex_preset_apply", type="primary", disabled=params is None):
        try:
            targets = editing.scope_targets(
                st.session_state.get("ex_scope", "head"),
                focus,
                st.session_state["ex_chosen"],
                model.num_layers,
            )
            set_plan(editing.add_preset(st.session_state["ex_plan"], targets, name, params))
            st.rerun()
        except ValueError as err:
            st.error(str(err))


def figure_width(theme: fig.Theme, pair: bool = False) -> int:
    """Return the width in pixels the page's figures are built to (each of a pair with ``pair``)."""
    return theme.px(PAIR_WIDTH_PX if pair else FIGURE_WIDTH_PX)


def fit_width(build, theme: fig.Theme, sizes: tuple[str, ...], width: int):
    """Return ``build(theme)``, rebuilt with the theme's pixel ``sizes`` shrunk if it is wider than ``width``.

    The margins (labels, colour bar) keep their size, so only the part drawn at the theme's sizes shrinks.
    """
    figure = build(theme)
    margins = figure.layout.margin.l + figure.layout.margin.r
    if figure.layout.width is None or figure.layout.width <= width or figure.layout.width <= margins:
        return figure
    scale = max(width - margins, 1) / (figure.layout.width - margins)
    return build(replace(theme, **{name: max(1, int(getattr(theme, name) * scale)) for name in sizes}))


MATRIX_SIZES = ("matrix_side_px", "max_cell_px")


def overview_tab(model, result, focus) -> None:
    plan = st.session_state["ex_plan"]
    marked = plan.marked_heads(model.num_layers, model.num_heads).numpy()
    theme = figure_theme()
    figure = fit_width(
        lambda t: fig.overview_figure(result.attentions.numpy(), marked=marked, focus=focus, theme=t),
        theme,
        ("overview_tile_px",),
        figure_width(theme),
    )
    st.plotly_chart(
        figure,
        key="ex_overview",
        on_select=on_overview_select,
        selection_mode="points",
        config=fig.PLOTLY_CONFIG,
        width="content",
    )
    st.caption("Click a head to focus it. Outlined heads are masked or gated by the plan.")


def compare_tab(model, result, baseline, focus) -> None:
    layer, head = focus
    labels = result.labels
    allow = result_allow(model, result, focus)
    view = (
        st.segmented_control(
            "View", ["Masked", "Unmasked", "Side by side", "Difference"], default="Masked", key="ex_view"
        )
        or "Masked"
    )
    theme = figure_theme()
    after = result.attentions[layer, head].numpy()
    before = baseline.attentions[layer, head].numpy()
    title = f"Layer {layer} · head {head}"

    def fitted(build, pair: bool = False):
        return fit_width(build, theme, MATRIX_SIZES, figure_width(theme, pair))

    if view == "Masked":
        figure = fitted(
            lambda t: fig.focus_figure(
                after, labels, allow=allow, title=f"{title} (masked)", theme=t, zmax=1.0
            )
        )
    elif view == "Unmasked":
        figure = fitted(
            lambda t: fig.focus_figure(before, labels, title=f"{title} (unmasked)", theme=t, zmax=1.0)
        )
    elif view == "Difference":
        figure = fitted(
            lambda t: fig.difference_figure(
                before, after, labels, allow=allow, title=f"{title}: masked − unmasked", theme=t
            )
        )
    else:
        # Side by side where the column is wide enough for two, one above the other where it is not.
        left, right = st.container(key="ex_side_by_side").columns(2)
        unmasked = fitted(
            lambda t: fig.focus_figure(before, labels, title="unmasked", theme=t, zmax=1.0), pair=True
        )
        masked = fitted(
            lambda t: fig.focus_figure(after, labels, allow=allow, title="masked", theme=t, zmax=1.0),
            pair=True,
        )
        left.plotly_chart(unmasked, key="ex_before_fig", config=fig.PLOTLY_CONFIG, width="content")
        right.plotly_chart(masked, key="ex_after_fig", config=fig.PLOTLY_CONFIG, width="content")
        return
    st.plotly_chart(figure, key="ex_focus_fig", config=fig.PLOTLY_CONFIG, width="content")
    st.download_button(
        "Download this figure (HTML)",
        lambda: fig.figure_html(figure),  # built on click: the page carries plotly.js (~5 MB)
        file_name=f"head_{layer}_{head}.html",
        mime="text/html",
        key="ex_dl_fig",
        on_click="ignore",
    )


def result_allow(model, result, focus):
    """Return the ``(T, T)`` allow mask the plan gives the focused head (all True where untouched)."""
    layer, head = focus
    compiled = st.session_state["ex_plan"].compile(model.num_layers, model.num_heads, result.num_tokens)
    layer_mask = compiled[layer]
    if layer_mask is None or layer_mask.allow is None:
        return np.ones((result.num_tokens, result.num_tokens), dtype=bool)
    return layer_mask.allow[head].numpy()


def effect_tab(model, result) -> None:
    theme = figure_theme()
    if result.embedding_cosine is not None:
        st.metric(
            "Sentence embedding: cosine to unmasked",
            shown_number(result.embedding_cosine),
            help="Mean-pooled last hidden state, as sentence-transformers does. 1 = unchanged.",
        )
    if result.kl_divergence is not None:
        st.metric("KL(unmasked ‖ masked) of the predictions", f"{shown_number(result.kl_divergence)} nats")
    if result.predictions:
        rows = []
        for before, after in zip(result.baseline_predictions, result.predictions, strict=True):
            for rank, (tb, pb, ta, pa) in enumerate(
                zip(before.tokens, before.probs, after.tokens, after.probs, strict=True), start=1
            ):
                rows.append(
                    {
                        "position": after.position,
                        "rank": rank,
                        "unmasked": tb,
                        "p (unmasked)": round(pb, 4),
                        "masked": ta,
                        "p (masked)": round(pa, 4),
                    }
                )
        st.caption("Top predictions (causal: the next token; masked LM: the [MASK] positions).")
        st.dataframe(rows, hide_index=True, width="stretch")
    change = result.token_change.numpy()
    st.plotly_chart(
        fig.token_change_figure(
            result.labels, change, title="Change of each token's last hidden state", theme=theme
        ),
        key="ex_change_fig",
        config=fig.PLOTLY_CONFIG,
        width="content",
    )


def plan_tab(model, result) -> None:
    plan = st.session_state["ex_plan"]
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


def shown_number(value: float) -> str:
    """Return ``value`` to four decimals; "n/a" rather than NaN or inf on screen."""
    return f"{value:.4f}" if np.isfinite(value) else "n/a"


def truncation_note(model, result) -> str:
    """Return the note saying how many tokens were cut off the end of the text, and which limit cut them."""
    limit = model.token_limit(limits.LIMITS.max_tokens)
    why = "the model's maximum" if limit == model.max_length else "this server's limit"
    return (
        f"The text is longer than {limit} tokens ({why}): its last {result.dropped_tokens} token(s) were "
        "dropped, and everything shown is for the first part."
    )


def recompute_badge(result, num_layers: int, *, cached: bool) -> str:
    """Return the badge text saying how the attentions on screen were computed, and how fast."""
    if cached:
        return "⚡ cached"
    if result.recomputed_from >= num_layers:
        return f"⚡ {result.seconds * 1000:.0f} ms (unmasked run)"
    if result.recomputed_from > 0:
        return (
            f"⚡ {result.seconds * 1000:.0f} ms (layers {result.recomputed_from}–{num_layers - 1} recomputed)"
        )
    return f"⚡ {result.seconds * 1000:.0f} ms forward"


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
    plan = st.session_state["ex_plan"]
    started = time.perf_counter()
    try:
        # Shown only when the run takes a while (a long text, a big model); other sessions run meanwhile.
        with st.spinner("Running the model…", show_time=True):
            result = run_cached(model.name, text, plan.key())
            baseline = run_cached(model.name, text, MaskPlan().key())  # cached: no copy per rerun
    except ValueError as err:
        st.error(f"Cannot run this plan on this text: {escape(err)}")
        st.button("Reset the plan", on_click=reset, key="ex_reset_bad")
        return
    elapsed = time.perf_counter() - started
    focus = focus_controls(model)
    sync_link(model.name)

    badge = recompute_badge(result, model.num_layers, cached=elapsed < 0.002)
    st.caption(
        f"{badge} · {result.num_tokens} tokens · {code(model.name)} on `{model.device}` · "
        f"{len(plan.rules)} rule(s)"
    )
    if result.truncated:
        st.warning(truncation_note(model, result))
    unknown = model.tokenizer.unk_token
    if unknown and result.tokens.count(unknown) * 4 > result.num_tokens:
        st.info(
            f"Many tokens are {unknown}: this model's vocabulary does not know these characters, so their "
            "attention says little. Try an English sentence, or a multilingual model in the sidebar."
        )

    theme = figure_theme()
    st.html(
        LAYOUT_CSS.format(
            painter=PAINTER_MIN_WIDTH_PX, figure=figure_width(theme), pair=figure_width(theme, pair=True)
        )
    )
    left, right = st.container(key="ex_split").columns([1, 1.2], gap="medium")
    with left:
        st.subheader(f"Mask of layer {focus[0]} · head {focus[1]}")
        token_painter(model, result, focus)
        a, b = st.columns(2)
        a.button(
            "Undo plan edit",
            on_click=undo,
            disabled=not st.session_state["ex_history"],
            key="ex_undo",
            width="stretch",
        )
        b.button("Reset plan", on_click=reset, disabled=not plan, key="ex_reset", width="stretch")
        with st.expander("Presets", expanded=False):
            preset_section(model, focus)
        with st.expander("Heads: pick, focus, gate", expanded=False):
            head_painter(model)
    with right:
        # Only the open tab is built: hidden tabs' figures would cost each edit ~200 ms in the browser.
        tabs = st.tabs(TABS, key="ex_tab", on_change="rerun")
        sections = (
            lambda: overview_tab(model, result, focus),
            lambda: compare_tab(model, result, baseline, focus),
            lambda: effect_tab(model, result),
            lambda: plan_tab(model, result),
        )
        for tab, section in zip(tabs, sections, strict=True):
            if tab.open:
                with tab:
                    section()


main()
