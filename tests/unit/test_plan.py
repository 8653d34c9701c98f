"""Mask plans: the JSON format, its validation (a ValueError naming what is wrong) and compile.

Compile results are checked against masks written out cell by cell with plain Python loops from each rule's
definition, never against masks built by ``maskattn.masks``.
"""

import copy
import json
import math

import pytest
import torch

from maskattn.plan import Block, MaskPlan, rule

EXAMPLE = {
    "version": 1,
    "rules": [
        {"layers": "all", "heads": "all", "block": {"keys": [3]}},
        {"layers": [0], "heads": [2, 5], "block": {"queries": [1], "cells": [[4, 2], [4, 3]]}},
        {"layers": [2], "heads": "all", "allow": {"preset": "sliding_window", "size": 2}},
        {"layers": [4], "heads": [7], "gate": 0.0},
    ],
}
NUM_LAYERS, NUM_HEADS, NUM_TOKENS = 6, 8, 7


# ------------------------------------------------------------------------------------------------------------
# Format: round trips
# ------------------------------------------------------------------------------------------------------------


def test_example_plan_reads_into_the_rules_it_describes() -> None:
    plan = MaskPlan.from_dict(EXAMPLE)
    assert len(plan.rules) == 4
    first, second, third, fourth = plan.rules
    assert (first.layers, first.heads, first.block) == ("all", "all", Block(keys=(3,)))
    assert second.layers == (0,) and second.heads == (2, 5)
    assert second.block == Block(queries=(1,), cells=((4, 2), (4, 3)))
    assert third.allow == {"preset": "sliding_window", "size": 2} and third.block is None
    assert fourth.gate == 0.0 and fourth.block is None and fourth.allow is None


def test_example_plan_round_trips_through_dict_and_json_unchanged() -> None:
    plan = MaskPlan.from_dict(EXAMPLE)
    assert plan.to_dict() == EXAMPLE
    text = plan.to_json()
    assert json.loads(text) == EXAMPLE
    again = MaskPlan.from_json(text)
    assert again == plan
    assert again.key() == plan.key()
    assert MaskPlan.from_json(text.encode()) == plan  # bytes too, as an uploaded file gives them


def test_description_and_label_survive_the_round_trip() -> None:
    data = copy.deepcopy(EXAMPLE)
    data["description"] = "hide key 3; 例"
    data["rules"][0]["label"] = "no key 3"
    plan = MaskPlan.from_json(json.dumps(data))
    assert plan.description == "hide key 3; 例" and plan.rules[0].label == "no key 3"
    assert MaskPlan.from_json(plan.to_json()).to_dict() == data


def test_key_is_canonical_and_tells_plans_apart() -> None:
    plan = MaskPlan.from_dict(EXAMPLE)
    reordered = {"rules": EXAMPLE["rules"], "version": 1}
    assert MaskPlan.from_dict(reordered).key() == plan.key()
    other = copy.deepcopy(EXAMPLE)
    other["rules"][3]["gate"] = 0.5
    assert MaskPlan.from_dict(other).key() != plan.key()


def test_empty_plan_is_falsy_and_serialises_to_no_rules() -> None:
    empty = MaskPlan()
    assert not empty
    assert empty.to_dict() == {"version": 1, "rules": []}  # no stack named: readable by version-1 readers
    assert MaskPlan.from_json('{"version": 1}') == empty
    assert MaskPlan.from_dict(EXAMPLE)


def test_rule_helper_gives_the_same_rules_as_json() -> None:
    built = MaskPlan().with_rules(
        rule("all", "all", block={"keys": [3]}),
        rule([0], [2, 5], block={"queries": [1], "cells": [[4, 2], [4, 3]]}),
        rule(range(2, 3), "all", allow={"preset": "sliding_window", "size": 2}),
        rule([4], (7,), gate=0),
    )
    assert built == MaskPlan.from_dict(EXAMPLE)
    assert isinstance(built.rules[3].gate, float)


# ------------------------------------------------------------------------------------------------------------
# Validation: every invalid input raises ValueError naming what is wrong
# ------------------------------------------------------------------------------------------------------------


def with_rule(**fields) -> dict:
    """Return a version-1 plan of one rule (key 0 blocked in layer 0, head 0) updated by ``fields``."""
    base = {"layers": [0], "heads": [0], "block": {"keys": [0]}}
    base.update(fields)
    return {"version": 1, "rules": [{k: v for k, v in base.items() if v is not ...}]}


INVALID_PLANS = [
    # (plan data, words the error must contain)
    pytest.param([1, 2], ["JSON object", "list"], id="not-an-object-list"),
    pytest.param("plan", ["JSON object", "str"], id="not-an-object-str"),
    pytest.param(None, ["JSON object", "NoneType"], id="not-an-object-null"),
    pytest.param(
        {"version": 1, "rules": [], "colour": "red"}, ["plan", "unknown", "colour"], id="unknown-plan-key"
    ),
    pytest.param({"rules": []}, ["version", "None"], id="missing-version"),
    pytest.param({"version": 3, "rules": []}, ["version", "3"], id="unknown-version"),
    pytest.param({"version": "1", "rules": []}, ["version", "'1'"], id="version-as-string"),
    pytest.param({"version": True, "rules": []}, ["version", "True"], id="version-as-bool"),
    pytest.param({"version": 1.0, "rules": []}, ["version", "1.0"], id="version-as-float"),
    pytest.param(
        {"version": 1, "rules": {"layers": "all"}}, ["plan.rules", "list", "dict"], id="rules-not-list"
    ),
    pytest.param(
        {"version": 1, "rules": [], "description": 3}, ["description", "string"], id="description-int"
    ),
    pytest.param({"version": 1, "rules": [7]}, ["rules[0]", "object", "int"], id="rule-not-object"),
    pytest.param(with_rule(colour="red"), ["rules[0]", "unknown", "colour"], id="unknown-rule-key"),
    pytest.param(with_rule(block=...), ["rules[0]", "block", "allow", "gate"], id="rule-does-nothing"),
    pytest.param(
        with_rule(block={"rows": [1]}), ["rules[0].block", "unknown", "rows"], id="unknown-block-key"
    ),
    pytest.param(with_rule(block=[0]), ["rules[0].block", "object"], id="block-not-object"),
    pytest.param(with_rule(block={"keys": 3}), ["rules[0].block.keys", "list", "int"], id="keys-not-list"),
    pytest.param(with_rule(block={"keys": [-1]}), ["rules[0].block.keys", "-1"], id="negative-key"),
    pytest.param(with_rule(block={"keys": [1.5]}), ["rules[0].block.keys", "1.5"], id="float-key"),
    pytest.param(with_rule(block={"keys": [True]}), ["rules[0].block.keys", "True"], id="bool-key"),
    pytest.param(with_rule(block={"queries": ["1"]}), ["rules[0].block.queries", "'1'"], id="string-query"),
    pytest.param(
        with_rule(block={"cells": [[1, 2, 3]]}), ["rules[0].block.cells[0]", "pair"], id="cell-triple"
    ),
    pytest.param(with_rule(block={"cells": [1, 2]}), ["rules[0].block.cells[0]", "list"], id="cell-not-pair"),
    pytest.param(
        with_rule(block={"cells": [[1, False]]}), ["rules[0].block.cells[0]", "False"], id="bool-cell"
    ),
    pytest.param(with_rule(block={"cells": "1,2"}), ["rules[0].block.cells", "pairs"], id="cells-string"),
    pytest.param(with_rule(layers="every"), ["rules[0].layers", "all", "every"], id="layers-bad-string"),
    pytest.param(with_rule(layers=2), ["rules[0].layers", "list", "int"], id="layers-int"),
    pytest.param(with_rule(layers=[True]), ["rules[0].layers", "True"], id="layers-bool"),
    pytest.param(with_rule(heads=[0, -3]), ["rules[0].heads", "-3"], id="heads-negative"),
    pytest.param(with_rule(heads=None), ["rules[0].heads", "None"], id="heads-null"),
    pytest.param(with_rule(gate="0"), ["rules[0].gate", "finite number", "'0'"], id="gate-string"),
    pytest.param(with_rule(gate=True), ["rules[0].gate", "True"], id="gate-bool"),
    pytest.param(with_rule(gate=math.nan), ["rules[0].gate", "nan"], id="gate-nan"),
    pytest.param(with_rule(gate=math.inf), ["rules[0].gate", "inf"], id="gate-inf"),
    pytest.param(with_rule(label=5), ["rules[0].label", "string"], id="label-int"),
    pytest.param(with_rule(allow="causal"), ["rules[0].allow", "preset"], id="allow-not-object"),
    pytest.param(with_rule(allow={"size": 2}), ["rules[0].allow", "preset"], id="allow-without-preset"),
    pytest.param(
        with_rule(allow={"preset": "diagonal"}),
        ["rules[0].allow", "unknown preset", "diagonal"],
        id="unknown-preset",
    ),
    pytest.param(with_rule(allow={"preset": ["causal"]}), ["rules[0].allow"], id="preset-name-list"),
    pytest.param(
        with_rule(allow={"preset": "sliding_window", "width": 2}),
        ["rules[0].allow", "sliding_window", "width"],
        id="unknown-preset-param",
    ),
    pytest.param(
        with_rule(allow={"preset": "sliding_window", "size": -1}),
        ["rules[0].allow", "window size", "-1"],
        id="negative-window",
    ),
    pytest.param(
        with_rule(allow={"preset": "sliding_window", "size": True}),
        ["rules[0].allow", "window size", "True"],
        id="bool-window",
    ),
    pytest.param(
        with_rule(allow={"preset": "random", "density": 2.0}),
        ["rules[0].allow", "density", "2.0"],
        id="density",
    ),
    pytest.param(
        with_rule(allow={"preset": "block_diagonal", "boundaries": "4"}),
        ["rules[0].allow", "boundaries", "'4'"],
        id="boundaries-string",
    ),
]


@pytest.mark.parametrize(("data", "words"), INVALID_PLANS)
def test_invalid_plan_raises_value_error_naming_the_problem(data, words) -> None:
    with pytest.raises(ValueError) as caught:
        MaskPlan.from_dict(data)
    message = str(caught.value)
    for word in words:
        assert word in message, f"{word!r} missing from {message!r}"
    # The same document as JSON text fails the same way (nan/inf written as JSON's NaN/Infinity extension).
    with pytest.raises(ValueError) as again:
        MaskPlan.from_json(json.dumps(data))
    assert str(again.value) == message


def test_second_rule_is_named_by_its_index() -> None:
    data = {"version": 1, "rules": [EXAMPLE["rules"][0], {"layers": [0], "heads": "all", "gate": "off"}]}
    with pytest.raises(ValueError, match=r"rules\[1\]\.gate"):
        MaskPlan.from_dict(data)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        pytest.param('{"version": 1, "rules": [', ["not valid JSON"], id="truncated"),
        pytest.param("{'version': 1}", ["not valid JSON"], id="single-quotes"),
        pytest.param("", ["not valid JSON"], id="empty"),
        pytest.param(b"\xff\xfe\x00", ["not valid JSON"], id="not-utf8"),
        pytest.param("[" * 100_000, ["not valid JSON", "deep"], id="too-deep"),
        pytest.param("[1, 2]", ["JSON object", "list"], id="array"),
        pytest.param("42", ["JSON object", "int"], id="number"),
    ],
)
def test_malformed_json_raises_value_error(text, words) -> None:
    with pytest.raises(ValueError) as caught:
        MaskPlan.from_json(text)
    for word in words:
        assert word in str(caught.value)


def test_from_json_rejects_non_text() -> None:
    with pytest.raises(ValueError, match="JSON text"):
        MaskPlan.from_json({"version": 1})  # type: ignore[arg-type]


def test_rule_helper_validates_like_json() -> None:
    with pytest.raises(ValueError, match=r"rule\.gate"):
        rule([0], [0], gate=float("nan"))
    with pytest.raises(ValueError, match=r"rule\.block\.keys"):
        rule([0], [0], block={"keys": [-2]})
    with pytest.raises(ValueError, match="block"):
        rule([0], [0])


@pytest.mark.parametrize(
    ("data", "sizes", "words"),
    [
        pytest.param(with_rule(layers=[6]), (6, 8, 7), ["rules[0].layers", "[6]", "6 layers"], id="layer"),
        pytest.param(with_rule(layers=[0, 9, 11]), (6, 8, 7), ["[9, 11]", "6 layers"], id="layers"),
        pytest.param(with_rule(heads=[8]), (6, 8, 7), ["rules[0].heads", "[8]", "8 heads"], id="head"),
        pytest.param(
            with_rule(block={"keys": [7]}), (6, 8, 7), ["rules[0].block", "7", "7 tokens"], id="key"
        ),
        pytest.param(with_rule(block={"queries": [9]}), (6, 8, 7), ["9", "past the text"], id="query"),
        pytest.param(with_rule(block={"cells": [[0, 7]]}), (6, 8, 7), ["7", "past the text"], id="cell"),
    ],
)
def test_check_fits_names_what_the_model_or_text_lacks(data, sizes, words) -> None:
    plan = MaskPlan.from_dict(data)  # valid as a document: it only fails against a model
    with pytest.raises(ValueError) as caught:
        plan.check_fits(*sizes)
    for word in words:
        assert word in str(caught.value), f"{word!r} missing from {caught.value}"
    with pytest.raises(ValueError):
        plan.compile(*sizes)


def test_check_fits_accepts_indices_at_the_edges_and_ignores_tokens_without_a_text() -> None:
    plan = MaskPlan.from_dict(with_rule(layers=[5], heads=[7], block={"cells": [[6, 6]]}))
    plan.check_fits(6, 8, 7)
    plan.check_fits(6, 8)  # no text yet: only the model's sizes are checked
    with pytest.raises(ValueError):
        plan.check_fits(6, 8, 6)


# ------------------------------------------------------------------------------------------------------------
# Compile semantics, against masks written out by hand
# ------------------------------------------------------------------------------------------------------------


def reference_example(layer: int, head: int, q: int, k: int) -> bool:
    """Return whether the example plan lets ``q`` attend to ``k`` in (layer, head): its rules, ANDed."""
    if k == 3:  # rule 0: key 3 hidden everywhere
        return False
    if layer == 0 and head in (2, 5) and (q == 1 or (q, k) in ((4, 2), (4, 3))):  # rule 1
        return False
    return not (layer == 2 and abs(q - k) > 2)  # rule 2: window of 2 on each side in layer 2


def test_example_compiles_to_the_intersection_of_its_rules() -> None:
    compiled = MaskPlan.from_dict(EXAMPLE).compile(NUM_LAYERS, NUM_HEADS, NUM_TOKENS)
    assert len(compiled) == NUM_LAYERS
    for layer, layer_mask in enumerate(compiled):
        assert layer_mask is not None and layer_mask.allow is not None  # rule 0 reaches every layer
        assert layer_mask.allow.dtype == torch.bool
        assert layer_mask.allow.shape == (NUM_HEADS, NUM_TOKENS, NUM_TOKENS)
        expected = torch.tensor(
            [
                [[reference_example(layer, h, q, k) for k in range(NUM_TOKENS)] for q in range(NUM_TOKENS)]
                for h in range(NUM_HEADS)
            ]
        )
        assert torch.equal(layer_mask.allow, expected), f"layer {layer}"


def test_example_gates_only_the_named_head() -> None:
    compiled = MaskPlan.from_dict(EXAMPLE).compile(NUM_LAYERS, NUM_HEADS, NUM_TOKENS)
    for layer, layer_mask in enumerate(compiled):
        if layer == 4:
            assert layer_mask.gate.tolist() == [1.0] * 7 + [0.0]
        else:
            assert layer_mask.gate is None


def test_gates_on_the_same_head_multiply() -> None:
    plan = MaskPlan().with_rules(
        rule([1], [0, 1], gate=0.5), rule([1], [1, 2], gate=0.5), rule("all", [2], gate=3.0)
    )
    compiled = plan.compile(3, 4, 5)
    assert compiled[0].allow is None and compiled[0].gate.tolist() == [1.0, 1.0, 3.0, 1.0]
    assert compiled[1].gate.tolist() == [0.5, 0.25, 1.5, 1.0]
    assert compiled[2].gate.tolist() == [1.0, 1.0, 3.0, 1.0]


def test_untouched_layers_compile_to_none() -> None:
    plan = MaskPlan().with_rules(rule([1, 3], [0], block={"keys": [0]}))
    compiled = plan.compile(5, 2, 3)
    assert [c is None for c in compiled] == [True, False, True, False, True]
    assert compiled[1].gate is None
    # Head 0 loses key 0; head 1 of the same layer keeps every cell.
    assert compiled[1].allow[0].tolist() == [[False, True, True]] * 3
    assert compiled[1].allow[1].all()
    assert MaskPlan().compile(4, 2, 3) == [None] * 4


def test_each_layer_names_the_range_of_heads_its_masks_touch() -> None:
    plan = MaskPlan().with_rules(
        rule([0], [2, 5], block={"keys": [1]}),
        rule([0], [3], gate=0.0),  # a gate masks nothing
        rule([1], "all", block={"keys": [0]}),
        rule([2], [4], gate=0.5),
        rule([3], [6], allow={"preset": "causal"}),
        rule([3], [1], block={"queries": [2]}),
    )
    compiled = plan.compile(4, 8, 5)
    assert compiled[0].masked_heads == slice(2, 6)
    assert compiled[1].masked_heads is None  # every head: nothing to skip
    assert compiled[2].allow is None and compiled[2].masked_heads is None
    assert compiled[3].masked_heads == slice(1, 7)
    # What the range promises: outside it the heads may attend everywhere.
    for layer in compiled:
        if layer is not None and layer.masked_heads is not None:
            inside = torch.zeros(8, dtype=torch.bool)
            inside[layer.masked_heads] = True
            assert layer.allow[~inside].all() and not layer.allow[inside].all()


def test_the_head_range_of_random_plans_holds_every_blocked_cell() -> None:
    generator = torch.Generator().manual_seed(0)
    for _ in range(50):
        rules = []
        for _ in range(int(torch.randint(1, 4, (), generator=generator))):
            heads = sorted({int(h) for h in torch.randint(0, 6, (2,), generator=generator)})
            keys = [int(torch.randint(0, 4, (), generator=generator))]
            rules.append(
                rule([int(torch.randint(0, 3, (), generator=generator))], heads, block={"keys": keys})
            )
        for layer in MaskPlan(tuple(rules)).compile(3, 6, 4):
            if layer is not None and layer.masked_heads is not None:
                outside = torch.ones(6, dtype=torch.bool)
                outside[layer.masked_heads] = False
                assert layer.allow[outside].all()


def random_rules(generator: torch.Generator, num_layers: int, num_heads: int, num_tokens: int) -> list:
    """Return 1–4 random rules: blocks and presets on consecutive or scattered heads, some gates."""

    def ints(high: int, count: int) -> list[int]:
        return sorted({int(i) for i in torch.randint(0, high, (count,), generator=generator)})

    rules = []
    for _ in range(int(torch.randint(1, 5, (), generator=generator))):
        kind = int(torch.randint(0, 4, (), generator=generator))
        heads = "all" if kind == 3 else ints(num_heads, 3)  # one to three heads, in a row or not
        block = {"keys": ints(num_tokens, 1), "cells": [ints(num_tokens, 2)[:1] * 2]}
        if kind == 1:
            block = {"queries": ints(num_tokens, 2)}
        allow = {"preset": "sliding_window", "size": 1} if kind == 2 else None
        rules.append(rule(ints(num_layers, 2), heads, block=block, allow=allow, gate=0.5 if kind else None))
    return rules


def test_random_plans_compile_to_the_and_of_their_rules_masks() -> None:
    # The reference makes each rule's mask with the mask algebra (``Rule.mask().dense``) and applies it head
    # by head; compile writes blocks directly and changes consecutive heads through one slice.
    generator = torch.Generator().manual_seed(1)
    L, H, T = 3, 6, 5
    for _ in range(60):
        plan = MaskPlan(tuple(random_rules(generator, L, H, T)))
        expected = torch.ones(L, H, T, T, dtype=torch.bool)
        for r in plan.rules:
            mask = r.mask()
            if mask is not None:
                for layer in r.layer_indices(L):
                    for head in r.head_indices(H):
                        expected[layer, head] &= mask.dense(T)
        for layer, compiled in enumerate(plan.compile(L, H, T)):
            untouched = compiled is None or compiled.allow is None
            got = torch.ones(H, T, T, dtype=torch.bool) if untouched else compiled.allow
            assert torch.equal(got, expected[layer]), plan.to_json()


@pytest.mark.parametrize("sizes", [(5, 5), (3, 7), (7, 3), (1, 1)])
def test_a_block_written_directly_equals_its_mask(sizes) -> None:
    # Indices past the sizes name nothing in either.
    Q, K = sizes
    generator = torch.Generator().manual_seed(2)
    for _ in range(40):
        picks = [sorted({int(i) for i in torch.randint(0, 8, (n,), generator=generator)}) for n in (2, 2, 4)]
        block = Block(tuple(picks[0]), tuple(picks[1]), tuple(zip(picks[2], reversed(picks[2]), strict=True)))
        assert torch.equal(block.dense(Q, K), block.mask().dense(Q, K)), block
        both = rule("all", "all", block=block.to_dict() or None, allow={"preset": "causal"})
        assert torch.equal(both.dense(Q, K), both.mask().dense(Q, K)), block
    assert rule([0], [0], gate=0.5).dense(Q, K) is None


def test_a_plans_key_is_kept_and_leaves_equality_and_repr_alone() -> None:
    plan = MaskPlan.from_dict(EXAMPLE)
    twin = MaskPlan.from_dict(EXAMPLE)
    key = plan.key()
    assert plan.key() is key  # kept, not written again
    assert key == json.dumps(plan.to_dict(), sort_keys=True, separators=(",", ":"))
    assert plan == twin and repr(plan) == repr(twin)
    assert MaskPlan.from_json(plan.to_json()).key() == key


def test_blocking_a_whole_query_row_leaves_the_row_empty() -> None:
    compiled = MaskPlan().with_rules(rule([0], [0], block={"queries": [2]})).compile(1, 1, 4)
    assert compiled[0].allow[0].tolist() == [
        [True, True, True, True],
        [True, True, True, True],
        [False, False, False, False],
        [True, True, True, True],
    ]


def test_compile_is_repeatable_and_cached_per_size() -> None:
    plan = MaskPlan.from_dict(EXAMPLE)
    first = plan.compile(NUM_LAYERS, NUM_HEADS, NUM_TOKENS)
    assert plan.compile(NUM_LAYERS, NUM_HEADS, NUM_TOKENS) is first
    longer = plan.compile(NUM_LAYERS, NUM_HEADS, NUM_TOKENS + 2)
    assert longer[0].allow.shape == (NUM_HEADS, NUM_TOKENS + 2, NUM_TOKENS + 2)
    # The shorter text's masks are the top-left corner of the longer text's (no preset depends on length).
    for short, long in zip(first, longer, strict=True):
        assert torch.equal(long.allow[:, :NUM_TOKENS, :NUM_TOKENS], short.allow)


def test_marked_heads_lists_every_masked_or_gated_head() -> None:
    marked = MaskPlan.from_dict(EXAMPLE).marked_heads(NUM_LAYERS, NUM_HEADS)
    assert marked.shape == (NUM_LAYERS, NUM_HEADS) and marked.all()  # rule 0 marks everything
    plan = MaskPlan().with_rules(rule([0], [2, 5], block={"keys": [1]}), rule([4], [7], gate=0.0))
    expected = torch.zeros(NUM_LAYERS, NUM_HEADS, dtype=torch.bool)
    expected[0, 2] = expected[0, 5] = expected[4, 7] = True
    assert torch.equal(plan.marked_heads(NUM_LAYERS, NUM_HEADS), expected)
    assert not MaskPlan().marked_heads(NUM_LAYERS, NUM_HEADS).any()


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        pytest.param([], 6, id="empty-plan"),
        pytest.param([rule("all", [1], gate=0.0)], 0, id="all-layers"),
        pytest.param([rule([5], [0], gate=0.0)], 5, id="last-layer"),
        pytest.param(
            [rule([4, 2], [0], gate=0.0), rule([3], "all", block={"keys": [0]})], 2, id="lowest-of-rules"
        ),
        pytest.param([rule([], [0], gate=0.0)], 6, id="no-layers"),
    ],
)
def test_first_layer_is_the_lowest_layer_any_rule_touches(rules, expected) -> None:
    assert MaskPlan(tuple(rules)).first_layer(6) == expected


def test_a_plan_does_not_share_lists_with_the_dicts_it_was_read_from_or_written_to() -> None:
    data = with_rule(allow={"preset": "block_diagonal", "boundaries": [2]})
    plan = MaskPlan.from_dict(data)
    data["rules"][0]["allow"]["boundaries"].append(4)  # the caller edits its own dict afterwards
    plan.to_dict()["rules"][0]["allow"]["boundaries"].append(5)  # …or the dict the plan gave out
    assert plan.rules[0].allow == {"preset": "block_diagonal", "boundaries": [2]}
