"""A plan's token indices follow their tokens onto a new text; what cannot follow is dropped, and said."""

from maskattn import MaskPlan, rule
from maskattn.realign import index_map, realign

OLD = ["[CLS]", "the", "cat", "sat", "on", "the", "mat", ".", "[SEP]"]


def test_tokens_kept_in_a_longer_text_move_with_it():
    new = ["[CLS]", "yesterday", "the", "cat", "sat", "on", "the", "mat", ".", "[SEP]"]
    plan = MaskPlan((rule([0], [0], block={"keys": [2, 7], "cells": [[1, 6]]}, label="paint"),))
    moved = realign(plan, OLD, new)
    (only,) = moved.plan.rules
    assert only.block.keys == (3, 8) and only.block.cells == ((2, 7),)
    assert moved.notes == ("rule 0: 'the' (1), 'cat' (2), 'mat' (6), '.' (7) moved to 2, 3, 7, 8",)


def test_a_column_whose_token_is_gone_is_dropped_not_moved_onto_another():
    # The case: a 12-token text; the old "." column must not land on [SEP].
    new = ["[CLS]", "the", "dog", "sat", "on", "the", "mat", "[SEP]"]
    plan = MaskPlan((rule([0], [0], block={"keys": [7]}), rule([1], "all", block={"keys": [2, 3]})))
    moved = realign(plan, OLD, new)
    assert [r.block.keys for r in moved.plan.rules] == [(3,)]
    assert moved.notes == (
        "rule 0: dropped: '.' (7) not in the new text",
        "rule 1: 'cat' (2) not in the new text",
    )


def test_gates_positional_presets_and_unchanged_texts_stay_as_they_are():
    plan = MaskPlan((rule([0], [1], gate=0.0), rule("all", "all", allow={"preset": "causal"})))
    assert realign(plan, OLD, ["[CLS]", "hi", "[SEP]"]) == realign(plan, None, OLD)
    assert realign(plan, OLD, ["[CLS]", "hi", "[SEP]"]).plan == plan and not realign(plan, OLD, OLD).changed


def test_global_tokens_follow_and_a_link_plan_past_its_text_loses_only_what_is_past():
    plan = MaskPlan((rule([0], [0], allow={"preset": "global_tokens", "indices": [0, 6]}),))
    (only,) = realign(plan, OLD, ["[CLS]", "a", "mat", "[SEP]"]).plan.rules
    assert only.allow == {"preset": "global_tokens", "indices": [0, 2]}  # "mat" moved from 6 to 2
    too_far = MaskPlan((rule([0], [0], block={"keys": [1, 11]}),))
    moved = realign(too_far, None, OLD)
    assert moved.plan.rules[0].block.keys == (1,) and moved.notes == ("rule 0: 11 not in the new text",)


def test_index_map_matches_runs_of_equal_tokens():
    assert index_map(["a", "b", "c"], ["x", "a", "c"]) == {0: 1, 2: 2}
