"""Hostile plans, plan files, links and index lists, generated: each gives a result or one ValueError.

The properties: parsing anything (a dict, JSON text, bytes, a packed link, a link's parameters) either
gives a plan that respects every documented bound, or raises ``ValueError`` with a short message, never
another exception; an accepted plan round-trips and, if it fits a model, compiles to finite gates. Below them,
one regression test per failure the fuzzing found (issue 17).
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from maskattn import DEFAULT_MODEL_ID, MaskPlan, ModelLoadError, Rule, load_model
from maskattn.plan import (
    MAX_GATE,
    MAX_INDEX,
    MAX_RULES,
    MAX_VALUES,
    PlanLimits,
    _shape_is_sure,
    check_shape,
)
from tests.fuzz import (
    ANY_CHAR,
    JSONISH,
    PLAN_DICTS,
    TEXTS,
    fuzz,
    nested,
    pack,
    plan_texts,
    valid_plans,
)
from ui import limits
from ui.parsing import parse_indices
from ui.share import SharedState, from_query_params, read_plan_file, unpack_plan

L, H, T = 6, 12, 16  # the default model's layers × heads, and a short text


def refused(parse, *args) -> str | None:
    """Return the ValueError message ``parse(*args)`` raises (short, not empty), or None if it returns."""
    try:
        parse(*args)
    except ValueError as err:
        message = str(err)
        assert 0 < len(message) < 1000, message
        return message
    return None


def check_accepted(plan: MaskPlan) -> None:
    """Check what every plan that parsed must satisfy: bounds, round trips, finite compiled gates."""
    assert len(plan.rules) <= MAX_RULES
    for rule in plan.rules:
        assert rule.gate is None or -MAX_GATE <= rule.gate <= MAX_GATE
        for selection in (rule.layers, rule.heads):
            assert selection == "all" or all(0 <= i <= MAX_INDEX for i in selection)
        if rule.block is not None:
            assert rule.block.max_index() <= MAX_INDEX
    assert MaskPlan.from_json(plan.to_json()) == plan
    assert MaskPlan.from_dict(plan.to_dict()) == plan
    assert MaskPlan.from_json(plan.key()) == plan
    if refused(plan.check_fits, L, H, T) is None:
        compiled = plan.compile(L, H, T)
        assert len(compiled) == L
        gates = plan.gates(L, H)
        assert gates.isfinite().all() and gates.abs().max() <= MAX_GATE


# -- properties


@fuzz(100)
@given(st.one_of(PLAN_DICTS, JSONISH))
def test_any_plan_dict_gives_a_bounded_plan_or_a_value_error(data):
    if refused(MaskPlan.from_dict, data) is None:
        check_accepted(MaskPlan.from_dict(data))


@fuzz(100)
@given(plan_texts())
def test_any_plan_text_gives_a_bounded_plan_or_a_value_error(text):
    if refused(MaskPlan.from_json, text) is None:
        check_accepted(MaskPlan.from_json(text))


@fuzz(25)
@given(valid_plans(L, H, T))
def test_plans_within_the_bounds_are_accepted_and_fit(data):
    plan = MaskPlan.from_dict(data)
    plan.check_fits(L, H, T)
    check_accepted(plan)


ODD_KEYS = st.one_of(
    st.integers(), st.none(), st.floats(), st.tuples(st.integers()), st.frozensets(st.integers())
)


@fuzz(50)
@given(ODD_KEYS, st.sampled_from(["plan", "rule", "block", "allow"]))
def test_keys_that_are_not_strings_are_a_value_error_naming_where(key, where):
    rule = {"layers": [0], "heads": [0], "block": {"keys": [1]}, "allow": {"preset": "causal"}}
    data = {"version": 1, "rules": [rule]}
    target = {"plan": data, "rule": rule, "block": rule["block"], "allow": rule["allow"]}[where]
    target[key] = 1
    message = refused(MaskPlan.from_dict, data)
    assert message is not None and "keys must be strings" in message


@fuzz(30)
@given(
    st.sampled_from([1, 30, 31, 32, 33, 1_000, 100_000]),
    st.sampled_from(["rules", "cells", "allow", "label"]),
)
def test_python_data_nested_at_any_depth_parses_or_is_refused(depth, where):
    rule: dict = {"layers": [0], "heads": [0], "gate": 0.0}
    if where == "cells":
        rule["block"] = {"cells": nested(depth)}
    elif where == "allow":
        rule["allow"] = {"preset": "global_tokens", "indices": nested(depth)}
    elif where == "label":
        rule["label"] = nested(depth, "x")
    rules = nested(depth, rule) if where == "rules" else [rule]
    message = refused(MaskPlan.from_dict, {"version": 1, "rules": rules})
    if depth > 32:
        assert message is not None and "nested deeper than 32" in message


def test_a_plan_holding_itself_is_refused_not_walked_forever():
    rules: list = []
    rules.append(rules)
    assert "nested deeper" in refused(MaskPlan.from_dict, {"version": 1, "rules": rules})


LINK_PLANS = st.one_of(
    plan_texts().map(pack),
    st.text(
        st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_="), max_size=80
    ),
    st.text(ANY_CHAR, max_size=40),
)
LINK_PARAMS = st.fixed_dictionaries(
    {},
    optional={
        "text": TEXTS,
        "model": st.one_of(TEXTS, st.just(DEFAULT_MODEL_ID), st.integers(250, 5_000).map(lambda n: "m" * n)),
        "plan": LINK_PLANS,
        "focus": st.one_of(
            TEXTS, st.sampled_from(["0.0", "5.11", "99999999.1", "1_0.2", "٣.1", "-1.0", "1.2.3"])
        ),
        "lang": TEXTS,
    },
)


@fuzz(150)
@given(LINK_PARAMS)
def test_any_link_gives_a_usable_state_and_its_problems(params):
    state, problems = from_query_params(params, default_text="default")
    assert isinstance(state, SharedState) and all(isinstance(p, str) and len(p) < 1000 for p in problems)
    state.text.encode("utf-8")  # sendable to a browser: no lone surrogate
    state.model.encode("utf-8")
    assert len(state.model) <= 1024 and state.model.isprintable()
    assert len(state.text) <= limits.LIMITS.max_text_chars
    assert all(0 <= i < 10**6 for i in state.focus)
    check_accepted(state.plan)
    if state.plan.rules:  # a plan a link may carry names no token past the server's token limit
        assert all(
            r.block is None or r.block.max_index() < limits.LIMITS.max_tokens for r in state.plan.rules
        )


@fuzz(100)
@given(
    st.one_of(st.binary(max_size=200), plan_texts().map(lambda t: t if isinstance(t, bytes) else t.encode()))
)
def test_any_uploaded_file_gives_a_plan_or_a_value_error(data):
    if refused(read_plan_file, data) is None:
        check_accepted(read_plan_file(data))


@fuzz(100)
@given(st.one_of(TEXTS, st.lists(st.integers(-5, 10**12).map(str), max_size=600).map(", ".join)))
def test_any_typed_index_list_gives_indices_or_a_value_error(text):
    if refused(parse_indices, text) is None:
        indices = parse_indices(text)
        assert len(indices) <= 512 and all(0 <= i < 10**9 for i in indices)


# -- regressions: one per failure issue 17 lists


def test_a_finite_but_huge_gate_is_refused_where_the_plan_is_parsed():
    message = refused(
        MaskPlan.from_dict, {"version": 1, "rules": [{"layers": [0], "heads": [0], "gate": 1e30}]}
    )
    assert message == "rules[0].gate: expected a finite number from -100 to 100, got 1e+30"


def test_duplicated_gate_rules_that_multiply_past_the_bound_are_refused_naming_them():
    data = {"version": 1, "rules": [{"layers": [0], "heads": [0], "gate": 50.0}] * 3}
    plan = MaskPlan.from_dict(data)  # each gate is within the bounds…
    message = refused(plan.check_fits, L, H, T)  # …their product on head (0, 0) is not
    assert message.startswith("rules[0, 1, 2].gate: the gates on layer 0 · head 0 multiply to about 1e5")
    assert MaskPlan.from_dict({"version": 1, "rules": [{"layers": [0], "heads": [0], "gate": 50.0}] * 2})


def test_a_gate_built_in_python_past_the_parser_is_still_caught_before_a_run():
    plan = MaskPlan((Rule(layers=(0,), heads=(0,), gate=1e30),))  # the dataclass itself checks nothing
    assert "multiply to about 1e30" in refused(plan.check_fits, L, H, T)


def test_a_layer_listed_twice_in_one_rule_is_gated_once():
    plan = MaskPlan.from_dict({"version": 1, "rules": [{"layers": [0, 0, 0], "heads": [1, 1], "gate": 10.0}]})
    plan.check_fits(L, H, T)
    assert plan.gates(L, H)[0, 1] == 10.0 and plan.gates(L, H).sum() == L * H - 1 + 10.0


@pytest.mark.parametrize("depth", [33, 5_000, 200_000])
def test_deeply_nested_json_is_refused_before_json_loads_recurses(depth):
    text = "[" * depth + "]" * depth
    for parse in (MaskPlan.from_json, read_plan_file, unpack_plan):
        arg = text.encode() if parse is read_plan_file else pack(text) if parse is unpack_plan else text
        message = refused(parse, arg)
        if len(text) > limits.LIMITS.max_plan_bytes and parse != MaskPlan.from_json:
            assert "larger than" in message  # the app's size limit comes first
        else:
            assert message.startswith("not valid JSON: nested too deep")


def test_nesting_json_loads_survives_is_refused_before_the_rule_is_copied():
    # 900 levels parse with json.loads, but copying the preset's parameters used to recurse past the limit.
    deep = "[" * 900 + "]" * 900
    text = '{"version": 1, "rules": [{"allow": {"preset": "global_tokens", "indices": ' + deep + "}}]}"
    assert refused(MaskPlan.from_json, text).startswith("not valid JSON: nested too deep")
    assert refused(unpack_plan, pack(text)).startswith("not valid JSON: nested too deep")


def test_brackets_inside_strings_are_not_nesting():
    plan = MaskPlan.from_json(json.dumps({"version": 1, "rules": [], "description": "[{" * 1000}))
    assert plan.description == "[{" * 1000


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (
            {"version": 1, "rules": [{"layers": [0], "heads": [0], "gate": 0, 1: 2}]},
            "rules[0]: keys must be strings",
        ),
        ({"version": 1, ("rules",): []}, "plan: keys must be strings"),
        (
            {"version": 1, "rules": [{"layers": [0], "heads": [0], "gate": 0, "lab\ud800": 1}]},
            "not valid Unicode",
        ),
        ({"version": 1, "rules": [], "description": "\udcff"}, "description: not valid Unicode"),
    ],
    ids=["int-key", "tuple-key", "surrogate-key", "surrogate-text"],
)
def test_odd_keys_and_lone_surrogates_are_a_value_error_not_a_type_error(data, words):
    assert words in refused(MaskPlan.from_dict, data)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"layers": [0], "heads": [0], "gate": 10**400}, "rules[0].gate: expected a finite number"),
        ({"layers": [10**400], "heads": [0], "gate": 0}, "rules[0].layers: indices are at most 2147483647"),
        ({"layers": [0], "heads": [2**31], "gate": 0}, "rules[0].heads: indices are at most"),
        ({"layers": [0], "heads": [0], "block": {"cells": [[0, 10**30]]}}, "rules[0].block.cells[0]"),
        ({"layers": [0], "heads": [0], "allow": {"preset": "random", "seed": 10**40}}, "rules[0].allow.seed"),
        ({"layers": [0], "heads": [0], "allow": {"preset": "dilated", "stride": 10**400}}, "rules[0].allow"),
    ],
    ids=["gate", "layer", "head", "cell", "seed", "stride"],
)
def test_huge_integers_are_a_value_error_not_an_overflow_error(data, words):
    assert words in refused(MaskPlan.from_dict, {"version": 1, "rules": [data]})


@fuzz(300)
@given(JSONISH, st.integers(1, 40), st.booleans())
def test_a_json_text_whose_shape_is_sure_passes_the_walk_of_its_values(document, max_values, ascii_only):
    # What lets ``from_json`` skip ``check_shape``: the text alone must never vouch for a document the walk
    # refuses (too many values, a lone surrogate in a key or a string, written raw or escaped).
    limits = PlanLimits(max_values=max_values)
    try:
        text = json.dumps(document, ensure_ascii=ascii_only)
    except (ValueError, TypeError):  # not JSON (NaN is written, a tuple key is not)
        return
    if _shape_is_sure(text, limits):
        check_shape(json.loads(text), limits)


@pytest.mark.parametrize(
    "text",
    ['{"a": "\\ud800"}', '{"\\udfff": 1}', '{"a": "\ud800"}', json.dumps(list(range(MAX_VALUES)))],
    ids=["escaped", "escaped-key", "raw", "many-values"],
)
def test_a_json_text_with_a_lone_surrogate_or_too_many_values_is_walked(text):
    assert not _shape_is_sure(text, PlanLimits())
    assert refused(check_shape, json.loads(text))


def test_an_integer_too_long_for_python_to_read_is_not_valid_json():
    text = '{"version": 1, "rules": [{"layers": [0], "heads": [0], "gate": ' + "9" * 5000 + "}]}"
    assert refused(MaskPlan.from_json, text).startswith("not valid JSON")


def test_very_long_cell_lists_are_refused_before_they_are_read():
    rule = {"layers": "all", "heads": "all", "block": {"cells": [[0, 1]] * 100_000}}
    assert MaskPlan.from_dict({"version": 1, "rules": [rule]})  # one rule of 100 000 cells: within the bound
    message = refused(MaskPlan.from_dict, {"version": 1, "rules": [rule] * 10})
    assert message.startswith(f"plan: more than {MAX_VALUES} values (a [query, key] cell is three)")
    # In a link the server's plan size is the tighter bound: the zlib bomb of the same plan is cut short.
    assert "larger than" in refused(unpack_plan, pack(json.dumps({"version": 1, "rules": [rule] * 2})))


def test_a_link_longer_than_any_packed_plan_is_refused_before_it_is_decoded():
    assert "larger than" in refused(unpack_plan, "A" * (2 * limits.LIMITS.max_plan_bytes + 1))


def test_a_link_plan_naming_a_token_past_the_servers_limit_is_refused_when_read():
    data = {
        "version": 1,
        "rules": [{"layers": [0], "heads": [0], "block": {"keys": [limits.LIMITS.max_tokens]}}],
    }
    assert "indices are at most" in refused(unpack_plan, pack(json.dumps(data)))
    assert MaskPlan.from_dict(data)  # the library alone does not know the server's limit


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("x" * 300, "too long (300 characters)"),
        ("org/" + "y" * 256, "too long"),
        ("a/" * 600, "too long (1200 characters)"),
        ("gpt2\x00", "control characters"),
        ("gpt2\ud800", "not valid Unicode"),
    ],
    ids=["long", "long-part", "long-path", "nul", "surrogate"],
)
def test_model_names_no_system_could_open_are_a_model_load_error(name, words):
    with pytest.raises(ModelLoadError, match="the model name") as caught:
        load_model(name)
    assert words in str(caught.value)


def test_a_link_with_a_very_long_model_name_falls_back_with_a_reason():
    state, problems = from_query_params({"model": "m" * 2_000}, default_text="x")
    assert state.model == DEFAULT_MODEL_ID
    (problem,) = problems
    assert "not a hub id or folder" in problem and len(problem) < 200


def test_a_link_text_with_a_lone_surrogate_is_made_sendable():
    state, _ = from_query_params({"text": "cat\ud800 sat"}, default_text="x")
    assert state.text == "cat\ufffd sat"


def test_a_huge_message_input_is_shown_short():
    message = refused(
        MaskPlan.from_dict, {"version": 1, "rules": [{"layers": [0], "heads": [0], "gate": "x" * 10**6}]}
    )
    assert len(message) < 200 and message.startswith("rules[0].gate")


def test_shape_check_counts_every_value():
    check_shape({"a": [1, 2, 3]})
    with pytest.raises(ValueError, match="more than"):
        check_shape({"a": [1] * (MAX_VALUES + 1)})
