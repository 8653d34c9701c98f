"""The Explorer's research instruments under AppTest: the Heads & edges tab's sweeps, applying their cells,
their downloads, a stopped sweep, head types on the overview, and the figure download format.

Sweep values are checked against the library's own sweep of the same model and text (``maskattn.sweeps``,
itself checked against separate runs in tests/integration/test_sweeps.py).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from maskattn import MaskPlan, load_model, model_head_types, rule, sweeps
from tests.model_folders import save_gpt2_folder
from ui.instruments_tab import RUNNING_KEY
from ui.page_state import EXPLORER_KEY

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

TAB = "Heads & edges"
TEXT = "The cat sat on the mat because it was tired."


@pytest.fixture(scope="module")
def minilm():
    return load_model(None)


def instruments(app, text: str = TEXT):
    app.query_params["text"] = text
    return open_tab(no_exceptions(app.run()), TAB)


def chart_keys(at) -> list[str]:
    return [c.proto.id.rsplit("-", 1)[-1] for c in at.get("plotly_chart")]


def trace(figure, name: str):
    (found,) = [t for t in figure.data if t.name == name]
    return found


@pytest.fixture
def media_stores(monkeypatch) -> list[MemoryMediaFileStorage]:
    """Return the media file stores AppTest makes (one per run), which hold what download buttons serve."""
    stores: list[MemoryMediaFileStorage] = []
    original = MemoryMediaFileStorage.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        stores.append(self)

    monkeypatch.setattr(MemoryMediaFileStorage, "__init__", init)
    return stores


def download(at, stores: list[MemoryMediaFileStorage], key: str) -> bytes:
    """Return what the download button ``key`` of the last run hands the browser."""
    (button,) = [b for b in at.get("download_button") if b.proto.id.endswith(key)]
    return stores[-1].get_file(button.proto.url.rsplit("/", 1)[-1]).content


def test_the_tab_is_built_only_when_open_and_waits_for_the_run_button(app):
    at = no_exceptions(app.run())
    assert not [b for b in at.button if b.key and b.key.startswith("ix_")]
    at = open_tab(at, TAB)
    assert at.button(key="ix_run").label == "Run sweep"
    assert chart_keys(at) == []  # nothing runs until asked: a sweep is 78 runs


def test_a_head_sweep_shows_every_heads_and_layers_effect_as_the_library_computes_it(app, minilm):
    text = "A head sweep only this test runs."
    at = instruments(app, text)
    at.button(key="ix_run").click().run()
    no_exceptions(at)
    figure = plotly_figure(at, "ix_heatmap")
    expected = sweeps.head_importance(minilm, text, max_tokens=512)
    z = heatmap_values(trace(figure, "effects"))
    np.testing.assert_allclose(z[:, :12], expected.grid(6, 12).numpy(), atol=1e-5)
    layers = [c.effect for c in expected.cells if c.coords["head"] == "all"]
    np.testing.assert_allclose(z[:, 13], layers, atol=1e-5)
    assert len(trace(figure, "cells").customdata) == 6 * 12 + 6
    assert not [b for b in at.button if b.key == "ix_stop"]  # the progress bar and Stop go when it is done
    assert "kept for every session" in caption_text(at)
    # Another session asking for the same sweep gets it from the shared store, without pressing Run.
    other = instruments(AppTest.from_file(APP, default_timeout=120), text)
    assert "ix_heatmap" in chart_keys(other) and other.button(key="ix_run").disabled


def test_applying_the_strongest_cell_gates_it_in_the_plan_and_undo_takes_it_back(app):
    at = instruments(app)
    at.button(key="ix_run").click().run()
    label = at.markdown[[m.value for m in at.markdown].index("**Largest effects**") + 1].value
    at.button(key="ix_apply_0").click().run()
    no_exceptions(at)
    state = at.session_state[EXPLORER_KEY]
    (applied,) = state.plan.rules
    assert applied.gate == 0.0
    where = f"L{applied.layers[0]}" + (
        " (whole layer)" if applied.heads == "all" else f" h{applied.heads[0]}"
    )
    assert label.startswith(f"`{where}`")
    assert state.focus[0] == applied.layers[0]
    # The heatmap stays, marked as computed before the edit, until the sweep runs again on the new plan.
    assert "ix_heatmap" in chart_keys(at) and "earlier plan" in at.info[0].value
    at.button(key="ex_undo").click().run()
    assert not at.session_state[EXPLORER_KEY].plan


def test_mean_ablation_is_measured_but_not_applied(app):
    at = instruments(app, "Mean ablation, measured.")
    at.radio(key="ix_ablation").set_value("mean").run()
    at.button(key="ix_run").click().run()
    no_exceptions(at)
    assert "ix_heatmap" in chart_keys(at)
    assert all(at.button(key=f"ix_apply_{i}").disabled for i in range(5))
    assert "cannot be applied" in caption_text(at)


@pytest.mark.parametrize(("kind", "points"), [("attention_knockout", 6), ("preset_sweep", 9 + 1)])
def test_knockout_and_preset_sweeps_draw_a_curve_whose_points_apply(app, kind, points):
    text = "Seven words make a short text."  # 9 tokens with [CLS] and [SEP]: sizes 0…9
    at = instruments(app, text)
    at.segmented_control(key="ix_kind").set_value(kind).run()
    if kind == "preset_sweep":
        at.selectbox(key="ix_preset").set_value("sliding_window").run()
    else:
        at.multiselect(key="ix_sources").set_value([1, 2]).run()
    at.button(key="ix_run").click().run()
    no_exceptions(at)
    curve = trace(plotly_figure(at, "ix_curve"), "points")
    assert len(curve.x) == points
    at.button(key="ix_apply_0").click().run()
    (applied,) = at.session_state[EXPLORER_KEY].plan.rules
    if kind == "attention_knockout":
        assert applied.label == "knockout" and [c[1] for c in applied.block.cells] == [1, 2]
    else:
        assert applied.allow["preset"] == "sliding_window"


def test_downloads_hold_every_cell_of_the_sweep(app, media_stores):
    at = instruments(app, "Downloads of a sweep.")
    at.button(key="ix_run").click().run()
    rows = download(at, media_stores, "ix_dl_csv").decode().splitlines()
    assert rows[0].startswith("layer,head,value,effect,plan") and len(rows) == 1 + 6 * 12 + 6
    data = json.loads(download(at, media_stores, "ix_dl_json"))
    assert data["kind"] == "head_importance" and len(data["cells"]) == 78
    assert MaskPlan.from_dict(data["cells"][0]["plan"]).rules[0].gate == 0.0


@pytest.mark.parametrize(
    ("done", "total", "words"), [(24, 78, "stopped after 24 of 78 plans"), (0, 0, "before its first batch")]
)
def test_a_stopped_sweep_says_how_far_it_got_and_shows_no_result(app, done, total, words):
    at = instruments(app, "A sweep that was stopped.")
    # What a sweep interrupted by a click (Stop, or any widget) leaves for the next run to report.
    at.session_state[RUNNING_KEY] = {"kind": "head_importance", "done": done, "total": total}
    at.run()
    no_exceptions(at)
    assert words in at.warning[0].value
    assert chart_keys(at) == []
    at.run()
    assert not at.warning  # said once


def test_a_language_model_sweeps_a_logit_difference(app, tmp_path):
    save_gpt2_folder(tmp_path)
    app.query_params["model"] = str(tmp_path)
    app.query_params["text"] = "the cat and the dog"
    at = open_tab(no_exceptions(app.run()), TAB)
    at.selectbox(key="ix_metric").set_value("logit_difference").run()
    assert not [b for b in at.button if b.key == "ix_run"]  # no tokens yet: a note, no sweep
    assert any("type a token" in i.value for i in at.info)
    at.text_input(key="ix_token_a").input("cat").run()
    at.text_input(key="ix_token_b").input("dog").run()
    at.button(key="ix_run").click().run()
    no_exceptions(at)
    z = heatmap_values(trace(plotly_figure(at, "ix_heatmap"), "effects"))
    assert z.shape == (2, 4 + 2) and np.isfinite(z[:, :4]).all()


def test_a_token_that_is_several_tokens_is_refused_with_a_reason(app, tmp_path):
    save_gpt2_folder(tmp_path)
    app.query_params["model"] = str(tmp_path)
    at = open_tab(no_exceptions(app.run()), TAB)
    at.selectbox(key="ix_metric").set_value("logit_difference").run()
    at.text_input(key="ix_token_a").input("internationalization").run()
    at.text_input(key="ix_token_b").input("dog").run()
    no_exceptions(at)
    assert any("more than one token" in i.value for i in at.info)
    assert not [b for b in at.button if b.key == "ix_run"]


def test_head_types_label_the_overview_filter_it_and_follow_the_plan(app, minilm):
    text = "one two three four one two three four"
    app.query_params["text"] = text
    at = no_exceptions(app.run())
    at.toggle(key="ix_types_on").set_value(True).run()
    at.selectbox(key="ix_types_filter").set_value("previous_token").run()
    at.slider(key="ix_types_threshold").set_value(0.5).run()
    no_exceptions(at)
    types = model_head_types(minilm, text, max_tokens=512)
    expected = types["previous_token"].numpy() >= 0.5
    overview = component_data(at, "ex_overview")
    assert sorted(map(tuple, overview["highlight"])) == sorted(zip(*np.nonzero(expected), strict=True))
    assert expected.any() and overview["badges"], "the filter picks heads, and the tiles carry labels"
    # Block the strongest previous-token head's previous token: its score falls, and the page says so.
    layer, head, _ = types.top("previous_token")
    T = 10
    cells = [[i, i - 1] for i in range(1, T)]
    plan = MaskPlan((rule([layer], [head], block={"cells": cells}, label="paint"),))
    at.session_state[EXPLORER_KEY] = at.session_state[EXPLORER_KEY].with_plan(plan)
    at.run()
    no_exceptions(at)
    assert f"L{layer} h{head}" in caption_text(at).split("moved the previous token score most in:")[1]


def test_the_sidebar_format_choice_reaches_every_figure(app):
    at = no_exceptions(app.run())
    export = component_data(at, "ex_overview")["export"]  # the overview saves itself, in the page
    assert export == {"format": "png", "scale": 4, "filename": "overview"}
    at.segmented_control(key="fig_format").set_value("svg").run()
    export = component_data(at, "ex_overview")["export"]
    assert export == {"format": "svg", "scale": 1, "filename": "overview"}
    at = open_tab(at, "Effect")
    (change,) = [c for c in at.get("plotly_chart") if c.proto.id.endswith("ex_change_fig")]
    assert json.loads(change.proto.config)["toImageButtonOptions"]["format"] == "svg"
