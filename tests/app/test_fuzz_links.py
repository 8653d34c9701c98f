"""Hostile links through the whole app (``AppTest``): never a traceback, never NaN, a message for what is bad.

A link's ``text``, ``model``, ``plan`` and ``focus``, what is typed into the text box and what is pasted as a
plan are generated as an attacker or a careless copy would produce them; what the page must show is decided
by ``ui.share.from_query_params`` (the link's problems) and by the run (a plan that does not fit the text).
Then one regression test per link the fuzzing found that used to show an exception box.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from maskattn import DEFAULT_MODEL_ID, MaskPlan
from tests.fuzz import TEXTS, fuzz, pack, plan_texts
from ui.page_state import EXPLORER_KEY
from ui.share import from_query_params

from .conftest import APP, caption_text, no_exceptions, open_tab
from .test_robustness import assert_no_nan_on_screen, painter_rows

pytestmark = pytest.mark.slow

IGNORED = "Part of the link was ignored"
GATED = {"version": 1, "rules": [{"layers": [0], "heads": [0], "gate": 0.5}]}

# A URL holds UTF-8: a lone surrogate cannot reach the app through a link (AppTest cannot even encode one).
URL_TEXTS = TEXTS.map(lambda text: text.encode("utf-8", "replace").decode())
LINKS = st.fixed_dictionaries(
    {},
    optional={
        "text": URL_TEXTS,
        "model": st.one_of(
            st.just(DEFAULT_MODEL_ID),
            st.integers(250, 3_000).map(lambda n: "m" * n),
            st.sampled_from(["a/b/../../c\x00", ".", "~", "gpt2 " * 50]),
        ),
        "plan": st.one_of(plan_texts().map(pack), st.just(pack(json.dumps(GATED))), URL_TEXTS),
        "focus": st.sampled_from(["0.0", "5.11", "99999.99999", "x.y", "-1.0", "1.2.3", "٣.1", ""]),
    },
)


def visit(params: dict[str, str]) -> AppTest:
    """Return the app opened at a link with ``params``, after checking that no traceback reached the page."""
    at = AppTest.from_file(APP, default_timeout=120)
    for name, value in params.items():
        at.query_params[name] = value
    return no_exceptions(at.run())


def messages(at: AppTest) -> str:
    return "\n".join(e.value for kind in ("error", "warning") for e in at.get(kind))


@fuzz(8)
@given(LINKS)
def test_any_link_opens_a_usable_page_with_a_message_for_what_is_bad(params):
    at = visit(params)
    assert_no_nan_on_screen(at)
    _, problems = from_query_params(params, default_text="x")
    if problems:
        assert IGNORED in messages(at)
    assert at.error or painter_rows(at) > 0  # either it says why nothing ran, or the painter is drawn


def typeable(text: str | bytes) -> str:
    """Return ``text`` as a browser's text box can hold it: a string of valid Unicode."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return text.encode("utf-8", "replace").decode()


@fuzz(4)
@given(URL_TEXTS)
def test_any_typed_text_runs_or_says_why(text):
    at = visit({})
    at.text_area(key="ex_text").input(text).run()
    no_exceptions(at)
    assert_no_nan_on_screen(at)
    assert at.error or painter_rows(at) > 0


@fuzz(4)
@given(plan_texts().map(typeable))
def test_any_pasted_plan_is_imported_or_refused_with_a_reason(pasted):
    at = open_tab(visit({}), "Plan & share")
    if not pasted.strip():
        return  # the import button stays disabled
    at.text_area(key="ex_paste").input(pasted).run()
    at.button(key="ex_paste_apply").click().run()
    no_exceptions(at)
    assert_no_nan_on_screen(at)
    errors = [e.value for e in at.error]
    assert all(e.startswith(("Could not import the pasted plan", "Cannot run this plan")) for e in errors)
    assert errors or at.session_state[EXPLORER_KEY].plan.key() == MaskPlan.from_json(pasted).key()


# -- regressions (issue 17)


def gate_link(*rules: dict) -> dict[str, str]:
    return {"plan": pack(json.dumps({"version": 1, "rules": list(rules)}))}


def test_a_link_with_a_huge_gate_says_so_on_every_tab_without_a_traceback():
    at = visit(gate_link({"layers": [0], "heads": [0], "gate": 1e30}))
    assert "rules\\[0\\]\\.gate" in messages(at) and "100" in messages(at)
    assert not at.session_state[
        EXPLORER_KEY
    ].plan.rules  # the rest of the link applies, the bad plan is dropped
    for tab in ("Overview", "Effect"):
        at = open_tab(at, tab)
        assert_no_nan_on_screen(at)


def test_a_link_whose_gates_multiply_past_the_bound_says_so_and_can_be_reset():
    at = visit(gate_link(*[{"layers": [0], "heads": [0], "gate": 50}] * 3))
    (error,) = [e.value for e in at.error]
    assert error.startswith("Cannot run this plan on this text") and "multiply" in error
    for tab in ("Overview", "Effect"):
        at = open_tab(at, tab)
    at.button(key="ex_reset_bad").click().run()
    no_exceptions(at)
    assert not at.error and painter_rows(at) == 13  # usable again: the default text's 13 tokens


@pytest.mark.parametrize("depth", [33, 50_000])
def test_a_link_with_a_deeply_nested_plan_says_so(depth):
    at = visit({"plan": pack('{"version": 1, "rules": ' + "[" * depth + "]" * depth + "}")})
    assert IGNORED in messages(at) and "nested too deep" in messages(at).replace("\\", "")
    assert painter_rows(at) == 13


def test_a_link_with_a_very_long_model_name_keeps_the_bundled_model():
    at = visit({"model": "x" * 300})
    assert IGNORED in messages(at) or "too long" in messages(at)
    assert DEFAULT_MODEL_ID in caption_text(at) and painter_rows(at) == 13
    at.text_area(key="ex_text").input("Still working.").run()
    assert "5 tokens" in caption_text(no_exceptions(at))


def test_a_link_with_a_zlib_bomb_of_cells_is_refused():
    rule = {"layers": "all", "heads": "all", "block": {"cells": [[0, 1]] * 100_000}}
    at = visit({"plan": pack(json.dumps({"version": 1, "rules": [rule] * 2}))})
    assert "larger than 256 kB" in messages(at).replace("\\", "")
