"""The Explorer page under Streamlit's AppTest: text, presets, gates, plan import, links and bad input."""

import base64
import json
import zlib

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from maskattn import MaskPlan, rule
from tests.figure_images import overview_indices
from tests.model_folders import save_bart_folder, save_gpt2_folder
from ui.page_state import EXPLORER_KEY
from ui.share import SharedState, to_query_params, unpack_plan

from .conftest import (
    APP,
    caption_text,
    component_data,
    heatmap_values,
    no_exceptions,
    open_tab,
    plotly_figure,
)

pytestmark = pytest.mark.slow


def test_hidden_tabs_are_not_built(app):
    at = no_exceptions(app.run())
    assert at.get("plotly_chart") == [] and component_data(at, "ex_overview")["heads"] == 12
    open_tab(at, "Before / after")
    assert [c.proto.id.rsplit("-", 1)[-1] for c in at.get("plotly_chart")] == ["ex_focus_fig"]
    assert not [c for c in at.get("bidi_component") if c.proto.id.endswith("-ex_overview")]


def test_badge_says_cached_exactly_when_the_run_came_from_the_cache(app):
    app.query_params["text"] = "A sentence no other test runs, for the cache badge."
    at = no_exceptions(app.run())
    assert "(unmasked run)" in caption_text(at) and "cached" not in caption_text(at)
    at.run()  # the same text and plan again: served from the run cache
    assert "⚡ cached" in caption_text(no_exceptions(at))
    at.session_state[EXPLORER_KEY] = at.session_state[EXPLORER_KEY].with_plan(
        MaskPlan((rule([5], [0], block={"keys": [1]}, label="paint"),))
    )
    assert "layers 5–5 recomputed" in caption_text(no_exceptions(at.run()))


def test_default_page_runs_the_bundled_model(app):
    at = no_exceptions(app.run())
    assert at.title[0].value == "Explorer"
    assert "13 tokens" in caption_text(at) and "all-MiniLM-L6-v2" in caption_text(at)
    overview = component_data(at, "ex_overview")
    assert (overview["layers"], overview["heads"]) == (6, 12)
    assert overview["focus"] == [0, 0] and overview["marked"] == []
    stride = overview["tile"] + overview["gap"]
    assert overview_indices(overview).shape == (6 * stride - overview["gap"], 12 * stride - overview["gap"])


def test_typing_text_reruns_the_model(app):
    at = no_exceptions(app.run())
    at.text_area(key="ex_text").input("Hello world").run()
    no_exceptions(at)
    assert "4 tokens" in caption_text(at)
    assert at.query_params["text"] == "Hello world"


def test_causal_preset_masks_the_focused_head(app):
    at = no_exceptions(app.run())
    at.selectbox(key="ex_preset").select("causal").run()
    at.button(key="ex_preset_apply").click().run()
    no_exceptions(at)
    plan = at.session_state[EXPLORER_KEY].plan
    assert [r.allow for r in plan.rules] == [{"preset": "causal"}]
    z = heatmap_values(plotly_figure(open_tab(at, "Before / after"), "ex_focus_fig").data[0])
    above = np.triu(np.ones_like(z, dtype=bool), k=1)
    assert np.array_equal(np.isnan(z), above)  # blocked cells are drawn as "blocked", not as a weight
    assert np.allclose(np.nansum(z, axis=1), 1.0, atol=1e-3)  # still a distribution over the allowed keys
    assert unpack_plan(at.query_params["plan"]) == plan  # the link follows the edit


def test_gating_chosen_heads_changes_the_embedding(app):
    at = no_exceptions(app.run())
    at.session_state[EXPLORER_KEY] = at.session_state[EXPLORER_KEY].with_chosen({(0, 1), (3, 4)})
    at.run()
    at.slider(key="ex_gate_value").set_value(0.0).run()
    at.button(key="ex_gate_apply").click().run()
    no_exceptions(at)
    gates = [(r.layers, r.heads, r.gate) for r in at.session_state[EXPLORER_KEY].plan.rules]
    assert gates == [((0,), (1,), 0.0), ((3,), (4,), 0.0)]
    cosine = float(next(m.value for m in open_tab(at, "Effect").metric if "cosine" in m.label))
    assert 0.0 < cosine < 1.0
    at.button(key="ex_undo").click().run()
    assert not at.session_state[EXPLORER_KEY].plan.rules


def test_link_restores_text_focus_and_plan(app):
    plan = MaskPlan((rule([2], [3], block={"keys": [1]}),))
    for name, value in to_query_params(SharedState("A short link test.", plan=plan, focus=(2, 3))).items():
        app.query_params[name] = value
    at = no_exceptions(app.run())
    assert at.text_area(key="ex_text").value == "A short link test."
    assert (at.number_input(key="ex_layer").value, at.number_input(key="ex_head").value) == (2, 3)
    assert at.session_state[EXPLORER_KEY].plan == plan
    z = heatmap_values(plotly_figure(open_tab(at, "Before / after"), "ex_focus_fig").data[0])
    assert np.isnan(z[:, 1]).all() and not np.isnan(np.delete(z, 1, axis=1)).any()


def test_empty_text_shows_an_error_not_a_traceback(app):
    at = no_exceptions(app.run())
    at.text_area(key="ex_text").input("   ").run()
    no_exceptions(at)
    assert any("text is empty" in e.value for e in at.error)


@pytest.mark.parametrize(
    ("pasted", "reason"),
    [
        ("{not json", "not valid JSON"),
        ('{"version": 7, "rules": []}', "version"),
        ('{"version": 1, "rules": [{"layers": [9], "heads": "all", "gate": 0}]}', "out of range"),
        (
            '{"version": 1, "rules": [{"layers": "all", "heads": "all", "block": {"keys": [99]}}]}',
            "past the text",
        ),
    ],
)
def test_bad_plan_import_is_refused_with_a_reason(app, pasted, reason):
    at = open_tab(no_exceptions(app.run()), "Plan & share")
    at.text_area(key="ex_paste").input(pasted).run()
    at.button(key="ex_paste_apply").click().run()
    no_exceptions(at)
    assert any("Could not import" in e.value and reason in e.value for e in at.error)
    assert not at.session_state[EXPLORER_KEY].plan.rules  # nothing lost, nothing half-applied


def test_good_plan_import_applies(app):
    at = open_tab(no_exceptions(app.run()), "Plan & share")
    at.text_area(key="ex_paste").input(
        '{"version": 1, "rules": [{"layers": [0], "heads": [0], "gate": 0}]}'
    ).run()
    at.button(key="ex_paste_apply").click().run()
    no_exceptions(at)
    assert at.session_state[EXPLORER_KEY].plan.rules[0].gate == 0.0


def test_damaged_link_warns_and_falls_back(app):
    app.query_params["plan"] = "%%%"
    at = no_exceptions(app.run())
    assert any("link was ignored" in w.value for w in at.warning)
    assert not at.session_state[EXPLORER_KEY].plan.rules


def test_text_the_vocabulary_does_not_know_gets_a_hint(app):
    at = no_exceptions(app.run())
    at.text_area(key="ex_text").input("我们在教室里学习注意力机制。").run()
    no_exceptions(at)
    assert any("[UNK]" in i.value for i in at.info)
    at.text_area(key="ex_text").input("The cat sat on the mat.").run()
    assert not any("[UNK]" in i.value for i in at.info)


def test_text_survives_a_visit_to_another_page(app):
    at = no_exceptions(app.run())
    at.text_area(key="ex_text").input("Come back to me.").run()
    at.switch_page("pages/learn.py").run()
    at.switch_page("pages/explorer.py").run()
    no_exceptions(at)
    assert at.text_area(key="ex_text").value == "Come back to me."


def test_invalid_preset_indices_disable_apply(app):
    at = no_exceptions(app.run())
    at.selectbox(key="ex_preset").select("global_tokens").run()
    at.text_input(key="ex_preset_param_global_tokens_indices").input("1, two").run()
    no_exceptions(at)
    assert any("'two' is not a token index" in e.value for e in at.error)
    assert at.button(key="ex_preset_apply").disabled


def test_link_with_an_absurd_preset_parameter_is_refused(app):
    raw = json.dumps({"version": 1, "rules": [{"allow": {"preset": "sliding_window", "size": 10**30}}]})
    app.query_params["plan"] = base64.urlsafe_b64encode(zlib.compress(raw.encode())).decode().rstrip("=")
    at = no_exceptions(app.run())
    assert any("at most 2147483647" in w.value for w in at.warning)
    assert not at.session_state[EXPLORER_KEY].plan.rules


def test_link_to_a_local_model_shows_it_in_the_sidebar_and_runs_it(app, tmp_path):
    from ui.sidebar import CUSTOM

    save_gpt2_folder(tmp_path)
    app.query_params["model"] = str(tmp_path)
    at = no_exceptions(app.run())
    at = no_exceptions(at.run())  # the sidebar shows a model chosen elsewhere from the next run on
    assert at.selectbox(key="sb_model_choice").value == CUSTOM
    assert at.text_input(key="sb_model_custom").value == str(tmp_path)
    assert str(tmp_path) in caption_text(at)
    effect = open_tab(at, "Effect")
    assert effect.dataframe  # top-k predictions of the LM head
    assert any("KL" in m.label for m in effect.metric)


def test_an_encoder_decoder_shows_each_attention_and_edits_name_their_stack(app, tmp_path):
    save_bart_folder(tmp_path)
    app.query_params["model"] = str(tmp_path)
    at = no_exceptions(app.run())
    picker = at.segmented_control(key="ex_stack")
    assert len(picker.options) == 3
    assert picker.value == "encoder"
    encoder = overview_indices(component_data(at, "ex_overview"))
    picker.set_value("cross").run()
    no_exceptions(at)
    cross = overview_indices(component_data(at, "ex_overview"))
    assert encoder.shape == cross.shape and (encoder != cross).any()  # the overview shows the other attention
    at.selectbox(key="ex_preset").select("causal").run()
    at.button(key="ex_preset_apply").click().run()
    no_exceptions(at)
    plan = at.session_state[EXPLORER_KEY].plan
    assert [r.stack for r in plan.rules] == ["cross"]
    assert unpack_plan(at.query_params["plan"]).to_dict()["version"] == 2
    assert "cross-attention" in open_tab(at, "Plan & share").markdown[0].value
    effect = open_tab(at, "Effect")
    assert any("KL" in m.label for m in effect.metric)  # the effect is on the decoder's predictions


def test_a_link_keeps_the_open_tab_and_the_before_after_view(app):
    # Issue 13, item 15.
    at = no_exceptions(app.run())
    assert "tab" not in at.query_params and "view" not in at.query_params  # the defaults stay out
    at = open_tab(at, "Before / after")
    at.segmented_control(key="ex_view").set_value("difference").run()
    no_exceptions(at)
    assert (at.query_params["tab"], at.query_params["view"]) == ("compare", "difference")

    shared = AppTest.from_file(APP, default_timeout=120)
    for name, value in at.query_params.items():
        shared.query_params[name] = value[0] if isinstance(value, list) else value
    shared = no_exceptions(shared.run())
    assert shared.session_state["ex_tab"] == "Before / after"
    assert shared.segmented_control(key="ex_view").value == "difference"
    assert "masked − unmasked" in plotly_figure(shared, "ex_focus_fig").layout.title.text


def link_of(at) -> dict[str, str]:
    """Return the address bar's parameters as plain strings."""
    return {k: v[0] if isinstance(v, list) else v for k, v in at.query_params.items()}


def test_a_plan_follows_its_tokens_onto_a_new_text_and_undo_brings_both_back(app):
    # Issue 13, item 3: "Hi there." made the whole page an error; a 12-token text moved "." onto [SEP].
    at = no_exceptions(app.run())  # "The cat sat on the mat because it was tired." : "." is 11, "mat" 6
    mine = MaskPlan(
        (
            rule([0], [0], block={"keys": [11]}, label="paint"),
            rule([0], [1], block={"keys": [6]}, label="paint"),
        )
    )
    at.session_state[EXPLORER_KEY] = at.session_state[EXPLORER_KEY].with_plan(mine)
    at = no_exceptions(at.run())
    at.text_area(key="ex_text").input("Hi there.").run()
    no_exceptions(at)
    assert not at.error and "5 tokens" in caption_text(at)
    assert [r.block.keys for r in at.session_state[EXPLORER_KEY].plan.rules] == [(3,)]  # "." is 3 now
    (note,) = [i.value for i in at.info if "follows the tokens" in i.value]
    assert "dropped" in note and "mat" in note
    at.button(key="ex_undo").click().run()
    no_exceptions(at)
    assert at.text_area(key="ex_text").value.startswith("The cat sat on the mat")
    assert at.session_state[EXPLORER_KEY].plan == mine and "13 tokens" in caption_text(at)

    at.selectbox(key="ex_example").select("The keys to the cabinet are on the table.").run()
    no_exceptions(at)
    assert "12 tokens" in caption_text(at)
    assert [r.block.keys for r in at.session_state[EXPLORER_KEY].plan.rules] == [(10,)]  # ".", not [SEP]


def test_browser_back_to_an_earlier_link_brings_its_plan_back(app):
    # Issue 13, item 6: Back changed the address, and the page wrote its state straight back over it.
    at = no_exceptions(app.run())
    at.button(key="ex_preset_apply").click().run()  # the first preset: one rule
    earlier = link_of(no_exceptions(at))
    first = at.session_state[EXPLORER_KEY].plan
    at.session_state[EXPLORER_KEY] = at.session_state[EXPLORER_KEY].with_plan(MaskPlan())
    at = no_exceptions(at.run())
    assert "plan" not in link_of(at)
    at.query_params.clear()
    for name, value in earlier.items():  # what the browser's Back sends
        at.query_params[name] = value
    at = no_exceptions(at.run())
    assert first and at.session_state[EXPLORER_KEY].plan == first
    assert link_of(at) == earlier
    at.button(key="ex_undo").click().run()
    assert not no_exceptions(at).session_state[EXPLORER_KEY].plan


def test_pressing_apply_again_and_again_leaves_one_rule(app):
    # Issue 13, item 14.
    at = no_exceptions(app.run())
    at.selectbox(key="ex_preset").select("causal").run()
    for _ in range(5):
        at.button(key="ex_preset_apply").click().run()
    assert len(no_exceptions(at).session_state[EXPLORER_KEY].plan.rules) == 1


def test_the_explorer_speaks_chinese_from_the_link_and_keeps_it_in_the_url(app):
    app.query_params["lang"] = "zh"
    at = no_exceptions(app.run())
    assert at.title[0].value.startswith("Explorer：")
    assert at.segmented_control(key="i18n_lang").value == "zh"
    assert at.radio(key="ex_scope").label == "涂色作用于"
    assert at.sidebar.toggle(key="presentation").label == "演示模式"
    assert at.sidebar.selectbox(key="sb_model_choice").label == "模型"
    assert at.query_params["lang"] == ["zh"] or at.query_params["lang"] == "zh"
    overview = component_data(at, "ex_overview")
    assert overview["words"]["weight"] == "权重" and overview["words"]["save"] == "保存"
    at = open_tab(at, "前后对比")
    focus = plotly_figure(at, "ex_focus_fig")
    assert focus.layout.yaxis.title.text == "查询（发出关注）"
    assert "毫秒" in caption_text(at) or "已缓存" in caption_text(at)  # the run badge
    at.button(key="ex_preset_apply").click().run()
    at = open_tab(no_exceptions(at), "计划与分享")
    assert any(": 允许 " in m.value for m in at.markdown), "the rule list in Chinese"


def test_a_causal_models_own_mask_is_shown_as_blocked_by_the_model(app, tmp_path):
    save_gpt2_folder(tmp_path)
    app.query_params["model"] = str(tmp_path)
    at = no_exceptions(app.run())
    at = open_tab(no_exceptions(at.run()), "Before / after")
    figure = plotly_figure(at, "ex_focus_fig")
    (veil,) = [t for t in figure.data if t.name == "blocked by the model's own mask"]
    z = heatmap_values(veil)
    above = np.triu(np.ones(z.shape, dtype=bool), 1)
    assert np.array_equal(np.isfinite(z), above)  # every cell above the diagonal, and only those


def _head_heatmap(at):
    figure = plotly_figure(at, "ex_focus_fig")
    return next(t for t in figure.data if t.type == "heatmap")


def test_a_long_text_colours_the_head_to_its_largest_weight_until_the_user_says_otherwise(app):
    # Issue 15, item 4: over 256 tokens every weight is small and on the 0–1 scale the head was blank.
    at = open_tab(no_exceptions(app.run()), "Before / after")
    assert at.toggle(key="ex_contrast").value is False  # 13 tokens: the fixed scale
    assert _head_heatmap(at).zmax == 1.0
    long_text = " ".join(f"word{i} and the river {i}." for i in range(30))
    at.text_area(key="ex_text").input(long_text).run()
    no_exceptions(at)
    assert at.toggle(key="ex_contrast").value is True
    heat = _head_heatmap(at)
    weights = heatmap_values(heat)
    assert weights.shape[0] > 64
    assert heat.zmax == pytest.approx(float(np.nanmax(weights)), rel=1e-6) and heat.zmax < 0.9
    assert f"to {heat.zmax:.2g} (dark)" in caption_text(at)
    at.toggle(key="ex_contrast").set_value(False).run()
    assert _head_heatmap(no_exceptions(at)).zmax == 1.0
    at.text_area(key="ex_text").input(long_text + " Once more.").run()
    assert at.toggle(key="ex_contrast").value is False, "the user's choice stands"
    assert _head_heatmap(no_exceptions(at)).zmax == 1.0
