"""Links and plan files: the state round-trips through the URL; anything damaged is refused with a reason."""

import pytest

from maskattn import DEFAULT_MODEL_ID, MaskPlan, rule
from ui.limits import LIMITS
from ui.parsing import parse_indices
from ui.share import (
    SharedState,
    from_query_params,
    pack_plan,
    read_plan_file,
    to_query_params,
    unpack_plan,
)

PLAN = MaskPlan((rule("all", "all", block={"keys": [3]}), rule([4], [7], gate=0.0)))


def test_state_round_trips_through_query_params():
    state = SharedState("Hello 世界", "gpt2", PLAN, (4, 7))
    params = to_query_params(state)
    assert all(isinstance(v, str) for v in params.values())
    back, problems = from_query_params(params, default_text="x")
    assert problems == [] and back == state


def test_default_model_and_empty_plan_stay_out_of_the_link():
    params = to_query_params(SharedState("hi", DEFAULT_MODEL_ID, MaskPlan(), (0, 0)))
    assert set(params) == {"text", "focus"}


@pytest.mark.parametrize(
    ("params", "problem"),
    [({"plan": "@@@not-base64"}, "damaged"), ({"focus": "x.y"}, "focus"), ({"focus": "-1.2"}, "focus")],
)
def test_damaged_links_fall_back_with_a_reason(params, problem):
    state, problems = from_query_params(params, default_text="default")
    assert state.text == "default" and state.plan == MaskPlan() and state.focus == (0, 0)
    assert len(problems) == 1 and problem in problems[0]


def test_packed_plan_round_trip_and_size_cap():
    assert unpack_plan(pack_plan(PLAN)) == PLAN
    with pytest.raises(ValueError, match="larger than"):
        read_plan_file(b" " * (LIMITS.max_plan_bytes + 1))
    with pytest.raises(ValueError, match="not valid JSON"):
        read_plan_file(b"{nope")
    with pytest.raises(ValueError, match="version"):
        read_plan_file(b'{"version": 3, "rules": []}')


def test_parse_indices():
    assert parse_indices("0, 5 7") == [0, 5, 7]
    assert parse_indices("") == []
    with pytest.raises(ValueError, match="'x' is not a token index"):
        parse_indices("1, x")


def test_the_open_tab_and_view_travel_in_the_link():
    state = SharedState("hi", plan=PLAN, tab="compare", view="difference")
    params = to_query_params(state)
    assert params["tab"] == "compare" and params["view"] == "difference"
    assert from_query_params(params, default_text="x") == (state, [])
    back, problems = from_query_params({"text": "hi", "tab": "<b>x</b>"}, default_text="x")
    assert back.tab == "" and problems == ["the tab '<b>x</b>' in the link is not a tab name"]
