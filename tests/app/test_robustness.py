"""Bad input in the Explorer, as a classroom of students would type it: a clear message, nothing lost.

Every case checks that no traceback reached the page, and that what the page says is about the input.
Limits are changed the way a server owner would, through ``ui.limits.LIMITS`` (read at call time).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import replace

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from maskattn import DEFAULT_MODEL_ID, MaskPlan, rule
from maskattn.loading import default_model_path
from tests.model_folders import save_gpt2_folder
from ui import limits
from ui.page_state import EXPLORER_KEY
from ui.share import SharedState, to_query_params
from ui.sidebar import CUSTOM

from .conftest import APP, caption_text, heatmap_values, no_exceptions, open_tab, plotly_figure

pytestmark = pytest.mark.slow


def shown_text(at: AppTest) -> str:
    """Return every piece of text the page shows: markdown, captions, alerts, metrics."""
    parts = [
        e.value
        for kind in ("markdown", "caption", "error", "warning", "info", "success")
        for e in at.get(kind)
    ]
    parts += [f"{m.label} {m.value}" for m in at.metric]
    return "\n".join(parts)


def assert_no_nan_on_screen(at: AppTest) -> None:
    assert not re.search(r"\b(nan|NaN|inf)\b", shown_text(at)), shown_text(at)
    for metric in at.metric:
        number = metric.value.split()[0]
        assert math.isfinite(float(number)), metric


def painter_rows(at: AppTest) -> int:
    """Return how many token rows the Explorer's painter draws (its component's row labels)."""
    return len(at.session_state["ex_paint_ctx"]["painted"])


@pytest.fixture
def tiny_folder(tmp_path):
    """Return a local GPT-2 folder (2 layers, random weights) that the sidebar or a link can load."""
    save_gpt2_folder(tmp_path)
    return tmp_path


def with_limits(monkeypatch, **changes) -> None:
    monkeypatch.setattr(limits, "LIMITS", replace(limits.LIMITS, **changes))


# -- text


@pytest.mark.parametrize("text", ["", "   ", "\n\t \n"], ids=["empty", "spaces", "newlines"])
def test_blank_text_says_so(app, text):
    at = no_exceptions(app.run())
    at.text_area(key="ex_text").input(text).run()
    no_exceptions(at)
    assert [e.value for e in at.error] == ["The text is empty: type a sentence or pick an example."]


def test_text_over_the_models_maximum_is_cut_with_a_note_of_what_was_dropped(app):
    at = no_exceptions(app.run())
    text = "attention " * 300
    at.text_area(key="ex_text").input(text).run()
    no_exceptions(at)
    from transformers import AutoTokenizer

    whole = len(AutoTokenizer.from_pretrained(default_model_path())(text)["input_ids"])  # 302
    (note,) = [w.value for w in at.warning]
    assert (
        f"longer than 256 tokens (the model's maximum): its last {whole - 256} token(s) were dropped" in note
    )
    assert "256 tokens" in caption_text(at) and painter_rows(at) == 256


def test_the_servers_token_limit_cuts_shorter_and_says_whose_limit(app, monkeypatch):
    with_limits(monkeypatch, max_tokens=8)
    at = no_exceptions(app.run())  # the default text has 13 tokens
    (note,) = [w.value for w in at.warning]
    assert "longer than 8 tokens (this server's limit): its last 5 token(s) were dropped" in note
    assert painter_rows(at) == 8


def test_text_over_the_character_limit_is_cut_on_the_server(app, monkeypatch):
    with_limits(monkeypatch, max_text_chars=20)
    app.query_params["text"] = "The cat sat on the mat, and then it slept all afternoon."
    at = no_exceptions(app.run())
    assert at.session_state["ex_text"] == "The cat sat on the m"
    assert "8 tokens" in caption_text(at)  # [CLS] the cat sat on the m [SEP]
    assert any("last 36 character" in w.value and "limit of 20" in w.value for w in at.warning)


@pytest.mark.parametrize(
    "text",
    [
        "注意力机制让每个词看向其他词。",
        "I ❤️ attention 😀👩‍👩‍👧 🇫🇷",
        "مرحبا بالعالم، هذا نص من اليمين إلى اليسار",
        "<script>alert('x')</script> <b>bold</b> **md** [a](javascript:alert(1)) $x$ :red[y]",
    ],
    ids=["cjk", "emoji", "rtl", "html"],
)
def test_any_script_runs_and_tokens_are_shown_escaped(app, text):
    at = no_exceptions(app.run())
    at.text_area(key="ex_text").input(text).run()
    no_exceptions(at)
    assert_no_nan_on_screen(at)
    assert not at.error
    for tab in ("Overview", "Before / after", "Effect"):
        at = open_tab(at, tab)
        assert_no_nan_on_screen(at)
    # Plotly renders a subset of HTML in labels: every "<" a token holds must reach it escaped.
    spec = json.loads(next(c for c in at.get("plotly_chart") if "ex_change_fig" in c.proto.id).proto.spec)
    labels = spec["layout"]["xaxis"]["ticktext"] + spec["data"][0]["x"]
    assert all("<" not in label and ">" not in label for label in labels), labels
    if "<script>" in text:
        assert "&lt;" in "".join(labels)


# -- plans


@pytest.mark.parametrize(
    ("pasted", "reason"),
    [
        ("[1, 2]", "must be a JSON object"),
        ('{"version": 1, "rules": [], "colour": "red"}', "unknown key(s) ['colour']"),
        ('{"version": 1, "rules": [{"layers": [0], "heads": [12], "gate": 0}]}', "out of range"),
        ("[" * 150_000 + "]" * 150_000, "larger than the limit of 256 kB"),
        ("[" * 50_000 + "]" * 50_000, "nested too deep"),
        ('{"version": 1, "rules": [{"layers": [0], "heads": [0], "gate": 1e999}]}', "a finite number"),
    ],
    ids=["not-an-object", "unknown-key", "head-out-of-range", "too-large", "too-deep", "bad-gate"],
)
def test_bad_plans_are_refused_with_the_librarys_reason(app, pasted, reason):
    at = open_tab(no_exceptions(app.run()), "Plan & share")
    at.text_area(key="ex_paste").input(pasted).run()
    at.button(key="ex_paste_apply").click().run()
    no_exceptions(at)
    (error,) = [e.value for e in at.error]
    assert error.startswith("Could not import the pasted plan") and reason in error.replace("\\", "")
    assert not at.session_state[EXPLORER_KEY].plan.rules  # nothing half-applied


def test_a_plan_that_blocks_everything_shows_zeros_not_nan(app):
    at = no_exceptions(app.run())
    num_tokens = 13
    plan = MaskPlan((rule("all", "all", block={"queries": list(range(num_tokens))}),))
    at = open_tab(at, "Plan & share")
    at.text_area(key="ex_paste").input(plan.to_json()).run()
    at.button(key="ex_paste_apply").click().run()
    no_exceptions(at)
    assert at.session_state[EXPLORER_KEY].plan == plan
    at = open_tab(at, "Effect")
    assert_no_nan_on_screen(at)
    (cosine,) = [m for m in at.metric if "cosine" in m.label]
    assert -1.0 <= float(cosine.value) < 0.999  # every head's output is 0: the embedding moved
    at = open_tab(at, "Before / after")
    z = heatmap_values(plotly_figure(at, "ex_focus_fig").data[0])
    assert np.isnan(z).all()  # every cell blocked: drawn as blocked, never as a number
    assert_no_nan_on_screen(at)


# -- models


def test_a_model_that_cannot_be_found_keeps_the_page_on_the_previous_model(app):
    at = no_exceptions(app.run())
    at.selectbox(key="sb_model_choice").select(CUSTOM).run()
    at.text_input(key="sb_model_custom").input("no-such-org/no-such-model").run()
    no_exceptions(at)
    (error,) = [e.value for e in at.error]
    assert "no\\-such\\-org/no\\-such\\-model" in error or "no-such-org" in error.replace("\\", "")
    assert f"Still showing `{DEFAULT_MODEL_ID}`" in error
    assert DEFAULT_MODEL_ID in caption_text(at) and painter_rows(at) == 13  # the page still works
    at.text_area(key="ex_text").input("Still working on the old model.").run()
    no_exceptions(at)
    assert "9 tokens" in caption_text(at) and len(at.error) == 1
    at.selectbox(key="sb_model_choice").select(DEFAULT_MODEL_ID).run()
    assert not no_exceptions(at).error


def test_a_model_over_the_size_limit_is_refused_and_the_bundled_one_stays(app, monkeypatch, tiny_folder):
    with_limits(monkeypatch, max_model_parameters=1_000)
    app.query_params["model"] = str(tiny_folder)
    at = no_exceptions(app.run())
    (error,) = [e.value for e in at.error]
    assert "parameters" in error and "1,000" in error.replace("\\", "") and "Still showing" in error
    assert DEFAULT_MODEL_ID in caption_text(at)


def test_a_server_that_serves_only_the_bundled_model_ignores_model_links(app, monkeypatch, tiny_folder):
    with_limits(monkeypatch, allow_custom_models=False)
    for name, value in to_query_params(SharedState("A link.", model=str(tiny_folder))).items():
        app.query_params[name] = value
    at = no_exceptions(app.run())
    (warning,) = [w.value for w in at.warning]
    assert "serves only the bundled model" in warning.replace("\\", "")
    assert at.selectbox(key="sb_model_choice").options == [DEFAULT_MODEL_ID]
    assert DEFAULT_MODEL_ID in caption_text(at) and str(tiny_folder) not in caption_text(at)


# -- sessions


def test_sessions_sharing_the_cached_model_keep_their_own_text_and_plan(app):
    sessions = [AppTest.from_file(APP, default_timeout=120) for _ in range(3)]
    plans = [
        MaskPlan((rule([0], [0], block={"keys": [1]}),)),
        MaskPlan((rule([0], [0], block={"keys": [2]}),)),
        MaskPlan(),
    ]
    texts = ["The cat sat on the mat.", "Paris is lovely.", "Dogs bark at night."]
    for at, text, plan in zip(sessions, texts, plans, strict=True):
        for name, value in to_query_params(SharedState(text, plan=plan)).items():
            at.query_params[name] = value
        no_exceptions(at.run())
    for _ in range(2):  # interleaved reruns: each reads the shared caches after the others wrote them
        for at, text, plan in zip(sessions, texts, plans, strict=True):
            at = open_tab(at, "Before / after")
            assert at.session_state[EXPLORER_KEY].plan == plan and at.session_state["ex_text"] == text
            z = heatmap_values(plotly_figure(at, "ex_focus_fig").data[0])
            blocked = {int(k) for k in np.nonzero(np.isnan(z).all(axis=0))[0]}
            assert blocked == ({1} if plan == plans[0] else {2} if plan == plans[1] else set())


def test_a_slow_run_in_one_session_does_not_hold_up_another():
    """Through the app's shared caches: one session's run is held inside the model while another's runs."""
    import threading

    from ui.models import get_model, run_cached

    model = get_model(DEFAULT_MODEL_ID)
    entered, release = threading.Event(), threading.Event()

    def hold_the_slow_session(module, args) -> None:
        if threading.current_thread().name == "slow-session":
            entered.set()
            release.wait(timeout=60)

    hook = model.model.get_input_embeddings().register_forward_pre_hook(hold_the_slow_session)
    results = {}

    def run(name: str, text: str, plan: MaskPlan) -> None:
        results[name] = run_cached(DEFAULT_MODEL_ID, text, plan.key())

    slow = threading.Thread(
        target=run, args=("slow", "An essay only the slow session wrote.", MaskPlan()), name="slow-session"
    )
    plan = MaskPlan((rule([0], [0], block={"keys": [1]}),))
    fast = threading.Thread(target=run, args=("fast", "A quick question from another student.", plan))
    try:
        slow.start()
        assert entered.wait(timeout=60), "the slow session never reached the model"
        fast.start()
        fast.join(timeout=60)
        assert not fast.is_alive() and "slow" not in results  # done while the slow run is still held
        assert results["fast"].plan == plan and results["fast"].attentions[0, 0, :, 1].eq(0).all()
    finally:
        release.set()
        slow.join(timeout=60)
        hook.remove()
    assert results["slow"].plan == MaskPlan() and results["slow"].num_tokens == 10


def test_an_imported_plans_own_words_are_shown_as_plain_text(app):
    hostile = "**x** <img src=x onerror=alert(1)> [link](javascript:alert(1))"
    plan = MaskPlan((rule([0], [0], gate=0.0, label=hostile),), description=hostile)
    at = open_tab(no_exceptions(app.run()), "Plan & share")
    at.text_area(key="ex_paste").input(plan.to_json()).run()
    at.button(key="ex_paste_apply").click().run()
    at = open_tab(no_exceptions(at), "Plan & share")
    escaped = r"\*\*x\*\* \<img src\=x onerror\=alert\(1\)\> \[link\]\(javascript\:alert\(1\)\)"
    assert any(escaped in c.value for c in at.caption)  # the description
    assert any(escaped in m.value and m.value.startswith("`0` layer 0") for m in at.markdown)  # the rule


def test_a_misconfigured_limit_stops_every_page_with_the_variable_named(app, monkeypatch):
    monkeypatch.setattr(limits, "PROBLEM", "MASKATTN_MAX_TOKENS must be a positive integer, got 'lots'")
    at = no_exceptions(app.run())
    (error,) = [e.value for e in at.error]
    assert "not configured correctly: MASKATTN_MAX_TOKENS must be a positive integer" in error
    assert not at.title  # no page ran with a limit nobody chose


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"\xff\xfe not text", "not valid JSON"),
        (b" " * 300_000, "larger than the limit of 256 kB"),
        (b'{"version": 3, "rules": []}', "version"),
    ],
    ids=["binary", "too-large", "wrong-version"],
)
def test_bad_uploaded_plans_are_refused_and_never_saved(app, tmp_path, monkeypatch, content, reason):
    monkeypatch.chdir(tmp_path)  # a file written under the uploaded name would land here
    at = open_tab(no_exceptions(app.run()), "Plan & share")
    at.file_uploader(key="ex_upload").upload("../evil plan.json", content, "application/json").run()
    no_exceptions(at)
    (error,) = [e.value for e in at.error]
    assert "Could not import" in error and reason in error.replace("\\", "")
    assert not at.session_state[EXPLORER_KEY].plan.rules
    assert not list(tmp_path.iterdir()) and not (tmp_path.parent / "evil plan.json").exists()


def test_an_uploaded_plan_applies(app):
    plan = MaskPlan((rule([1], [2], block={"keys": [3]}),))
    at = open_tab(no_exceptions(app.run()), "Plan & share")
    at.file_uploader(key="ex_upload").upload("plan.json", plan.to_json().encode(), "application/json").run()
    assert no_exceptions(at).session_state[EXPLORER_KEY].plan == plan


def test_after_a_failed_load_the_page_stays_on_the_model_loaded_before(app, tiny_folder):
    app.query_params["model"] = str(tiny_folder)
    at = no_exceptions(no_exceptions(app.run()).run())
    assert str(tiny_folder) in caption_text(at)
    at.text_input(key="sb_model_custom").input(str(tiny_folder / "missing")).run()
    no_exceptions(at)
    (error,) = [e.value for e in at.error]
    assert "no such folder" in error
    assert f"Still showing `{tiny_folder}`" in error and str(tiny_folder) in caption_text(at)


def test_a_paste_over_the_character_limit_is_cut_with_a_note(app, monkeypatch):
    # Issue 13, item 5: with max_chars the browser refused the paste whole, silently.
    with_limits(monkeypatch, max_text_chars=20)
    at = no_exceptions(app.run())
    box = at.text_area(key="ex_text")
    assert not box.max_chars  # 0: no limit in the browser
    box.input("The cat sat on the mat, and then it slept.").run()
    no_exceptions(at)
    assert at.text_area(key="ex_text").value == "The cat sat on the m"
    assert any("its last 22 character(s) were dropped" in w.value for w in at.warning)
    at.text_area(key="ex_text").input("A short one.").run()
    assert not any("dropped" in w.value for w in no_exceptions(at).warning)
