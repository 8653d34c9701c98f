"""The Mask Lab page under Streamlit's AppTest: every control, both languages, errors shown, never raised."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from maskattn import MaskPlan, rule
from ui.markdown import escape
from ui.page_state import EXPLORER_KEY
from ui.sidebar import CUSTOM as CUSTOM_MODEL

APP = "../../app.py"
PAGE = "pages/mask_lab.py"
TIMEOUT = 120


def open_lab(**query_params: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for name, value in query_params.items():
        at.query_params[name] = value
    at.switch_page(PAGE).run()
    assert_clean(at)
    return at


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def text_of(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown) + "\n".join(c.value for c in at.caption)


def chart_specs(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


@pytest.fixture
def lab() -> AppTest:
    return open_lab()


def test_default_view_compares_the_three_semantics(lab):
    assert lab.title[0].value == "Mask Lab"
    findings = text_of(lab)
    assert "**Correct masking:**" in findings and "**Formula 2:**" in findings and "still took" in findings
    # The default mask is causal on 6 tokens: upper triangle blocked.
    assert np.array_equal(lab.session_state["ml_blocked"], np.triu(np.ones((6, 6), dtype=bool), 1))
    assert len(chart_specs(lab)) == 1 + 3 + 3  # row sums, three weight maps, three head outputs


@pytest.mark.parametrize("how", ["switch", "url"])
def test_chinese_and_back(how):
    at = open_lab(lang="zh") if how == "url" else open_lab()
    if how == "switch":
        at.button_group(key="i18n_lang").set_value("zh").run()
    assert_clean(at)
    assert at.title[0].value == "掩码实验室"
    assert at.query_params["lang"] == ["zh"] or at.query_params["lang"] == "zh"
    assert "**正确的掩码**" in text_of(at)
    at.button_group(key="i18n_lang").set_value("en").run()
    assert at.title[0].value == "Mask Lab"
    assert "zh" not in str(at.query_params["lang"])


def test_an_unknown_language_in_the_url_falls_back_to_english():
    at = open_lab(lang="fr")
    assert at.title[0].value == "Mask Lab"


T = 6
EXPECTED_BLOCKED = {
    "full": np.zeros((T, T), dtype=bool),
    "causal": np.triu(np.ones((T, T), dtype=bool), 1),
    "sliding_window": np.abs(np.subtract.outer(np.arange(T), np.arange(T))) > 2,  # default size 2
    "dilated": np.subtract.outer(np.arange(T), np.arange(T)) % 2 != 0,  # default stride 2
    "prefix_lm": np.triu(np.ones((T, T), dtype=bool), 1) & (np.arange(T)[None, :] >= 3),  # prefix 3
    "block_diagonal": np.not_equal.outer(np.arange(T) < 4, np.arange(T) < 4),  # segments [0, 4) and [4, 6)
    "padding": np.broadcast_to(np.arange(T)[None, :] >= 4, (T, T)),
}


@pytest.mark.parametrize("name", [*EXPECTED_BLOCKED, "global_tokens", "random"])
def test_preset_pills_fill_the_mask(lab, name):
    lab.button_group(key="ml_preset_pick").set_value(name).run()
    assert_clean(lab)
    blocked = lab.session_state["ml_blocked"]
    assert blocked.shape == (T, T)
    if name in EXPECTED_BLOCKED:
        assert np.array_equal(blocked, EXPECTED_BLOCKED[name])
    elif name == "global_tokens":  # default [0]: token 0 sees and is seen by all, nothing else
        expected = np.ones((T, T), dtype=bool)
        expected[0, :] = expected[:, 0] = False
        assert np.array_equal(blocked, expected)
    else:
        assert 0 < blocked.sum() < T * T
    assert lab.session_state["ml_preset_pick"] is None  # the pill is an action, it does not stay selected


def test_invert_swaps_blocked_and_allowed(lab):
    before = lab.session_state["ml_blocked"].copy()
    lab.button_group(key="ml_preset_pick").set_value("invert").run()
    assert np.array_equal(lab.session_state["ml_blocked"], ~before)


def test_clear_says_nothing_is_blocked(lab):
    lab.button_group(key="ml_preset_pick").set_value("full").run()
    assert "Nothing is blocked" in text_of(lab)


def test_a_fully_blocked_row_is_explained(lab):
    # What painting row 2 entirely on top of the causal preset stores (the painter itself runs in a browser).
    lab.session_state["ml_blocked"] = np.triu(np.ones((T, T), dtype=bool), 1) | (np.arange(T) == 2)[:, None]
    lab.run()
    assert_clean(lab)
    assert "Row 2 (‘x2’) has **every key blocked**" in text_of(lab)


@pytest.mark.parametrize("heads", [1, 2, 3, 4])
def test_heads_and_the_head_shown(lab, heads):
    lab.button_group(key="ml_heads").set_value(heads).run()
    lab.button_group(key="ml_head").set_value(heads - 1).run()
    assert_clean(lab)
    assert f"num_heads={heads}" in text_of(lab)
    assert f"Head {heads - 1}: attention weights" in [h.value for h in lab.subheader]
    lab.button_group(key="ml_heads").set_value(1).run()
    assert lab.session_state["ml_head"] == 0  # clamped to the heads that exist


def test_sequence_length_resizes_the_mask_keeping_what_was_painted(lab):
    before = lab.session_state["ml_blocked"].copy()
    lab.slider(key="ml_length").set_value(10).run()
    assert_clean(lab)
    after = lab.session_state["ml_blocked"]
    assert after.shape == (10, 10)
    assert np.array_equal(after[:T, :T], before) and not after[T:].any() and not after[:, T:].any()
    lab.slider(key="ml_length").set_value(2).run()
    assert lab.session_state["ml_blocked"].shape == (2, 2)


def test_the_seed_changes_the_numbers(lab):
    before = text_of(lab)
    lab.number_input(key="ml_seed").set_value(5).run()
    assert_clean(lab)
    assert "seed 5" in text_of(lab) and text_of(lab) != before


def test_token_embeddings_of_a_short_text(lab):
    lab.button_group(key="ml_source").set_value("text").run()
    assert_clean(lab)
    assert "standardised per token" in text_of(lab)
    assert lab.session_state["ml_blocked"].shape == (9, 9)  # [CLS] the cat sat on the mat . [SEP]
    tokens = ["[CLS]", "the", "cat", "sat", "on", "mat", ".", "[SEP]"]
    assert any(f"(‘{token}’)" in text_of(lab) for token in tokens)  # findings name rows by their tokens


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "The text is empty"), ("one two three four five six seven eight nine ten " * 2, "at most 16")],
)
def test_bad_text_shows_an_error(lab, text, message):
    lab.button_group(key="ml_source").set_value("text").run()
    lab.text_input(key="ml_text").set_value(text).run()
    assert not lab.exception
    assert any(message in e.value for e in lab.error)


def test_presentation_mode_uses_the_projector_theme(lab):
    assert all(spec["layout"]["font"]["size"] == 12 for spec in chart_specs(lab))
    lab.toggle(key="presentation").set_value(True).run()
    assert_clean(lab)
    assert all(spec["layout"]["font"]["size"] == 18 for spec in chart_specs(lab))


# -- the step-through view


@pytest.fixture
def trace() -> AppTest:
    at = open_lab()
    at.button_group(key="ml_view").set_value("trace").run()
    assert_clean(at)
    return at


def test_step_through_shows_every_step_and_checks_against_the_explorer(trace):
    assert trace.success and "Explorer shows for layer 0, head 2" in trace.success[0].value
    titles = " ".join(spec["layout"]["title"]["text"] for spec in chart_specs(trace))
    steps = [
        "1 · Q",
        "2 · K",
        "3 · V",
        "4 · Q·Kᵀ",
        "5 · mask",
        "6 · scores + M",
        "7 · softmax",
        "8 · weights",
    ]
    for step in [*steps, "9 · Concat", "10 · Concat · W^O"]:
        assert step in titles, step
    assert "encoder.layer.0.attention.output.dense" in text_of(trace)


def test_step_through_controls(trace):
    trace.number_input(key="ml_tr_layer").set_value(3).run()
    trace.number_input(key="ml_tr_head").set_value(1).run()
    trace.selectbox(key="ml_tr_preset").set_value("causal").run()
    trace.multiselect(key="ml_tr_block").set_value([2]).run()
    assert_clean(trace)
    assert "layer 3, head 1" in trace.success[0].value
    masked = next(s for s in chart_specs(trace) if s["layout"]["title"]["text"].startswith("6 ·"))
    assert any(trace_["name"] == "−∞" for trace_ in masked["data"])
    trace.slider(key="ml_tr_cols_3_1_384").set_value((0, 64)).run()
    assert_clean(trace)
    trace.button(key="ml_tr_open").click().run()
    assert not trace.exception
    expected = MaskPlan((rule([3], [1], allow={"preset": "causal"}, block={"keys": [2]}, label="Mask Lab"),))
    assert trace.session_state[EXPLORER_KEY].plan == expected
    assert trace.session_state[EXPLORER_KEY].focus == (3, 1)
    assert trace.title[0].value == "Explorer"


@pytest.mark.parametrize(
    ("text", "message"),
    [("   ", "The text is empty"), ("word " * 40, "at most 32")],
    ids=["empty", "too long"],
)
def test_step_through_bad_text_shows_an_error(trace, text, message):
    trace.text_input(key="ml_tr_text").set_value(text).run()
    assert not trace.exception
    assert any(message in e.value for e in trace.error)


def test_step_through_reports_a_model_that_cannot_load_and_keeps_the_last_one(trace):
    trace.selectbox(key="sb_model_choice").select(CUSTOM_MODEL).run()
    trace.text_input(key="sb_model_custom").input("/no/such/model/folder").run()
    assert not trace.exception
    assert any("no such folder" in e.value and "Still showing" in e.value for e in trace.error)
    assert "Explorer" in trace.success[0].value  # the step-through still runs, on the bundled model


def test_step_through_in_chinese(trace):
    trace.button_group(key="i18n_lang").set_value("zh").run()
    assert_clean(trace)
    assert "与 Explorer 中第 0 层第 2 个头显示的完全一致" in trace.success[0].value


def test_tokens_of_hostile_text_are_named_escaped_in_the_findings(lab):
    lab.button_group(key="ml_source").set_value("text").run()
    lab.text_input(key="ml_text").set_value("**x** <b>[a]").run()
    assert_clean(lab)
    quoted = re.findall(r"‘(.*?)’", text_of(lab))
    assert quoted, text_of(lab)
    for token in quoted:  # every Markdown character escaped: the token shows exactly as the model saw it
        assert token == escape(re.sub(r"\\(.)", r"\1", token)), token


def test_presentation_mode_gives_painter_and_heatmaps_one_scale_and_the_caption_says_it():
    at = open_lab()
    at.sidebar.toggle(key="presentation").set_value(True).run()
    assert_clean(at)
    spec = next(s for s in chart_specs(at) if s["data"][0].get("type") == "heatmap")
    from maskattn.figures import PRESENTATION_THEME, weights_colorscale

    assert [list(stop) for stop in spec["data"][0]["colorscale"]] == weights_colorscale(PRESENTATION_THEME)
    assert "0 (light) to 1 (dark)" in text_of(at) and "white" not in text_of(at)
    assert at.number_input(key="ml_seed").label == "Random seed"
