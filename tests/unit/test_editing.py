"""The Explorer's edit logic: paint, presets and gates become plan rules; paint can be erased cell by cell."""

import pytest
import torch

from maskattn.masks import parse_grid, render_grid
from maskattn.plan import MaskPlan, rule
from ui import editing

T = 4


def grid(text: str) -> torch.Tensor:
    """Return a blocked grid written with ■ = blocked (the painter's view)."""
    return parse_grid(text)


def blocked_of(plan: MaskPlan, layer: int, head: int, num_layers: int = 2, num_heads: int = 3) -> str:
    compiled = plan.compile(num_layers, num_heads, T)[layer]
    allow = (
        torch.ones(T, T, dtype=torch.bool)
        if compiled is None or compiled.allow is None
        else compiled.allow[head]
    )
    return render_grid(~allow)  # ■ = blocked


def test_painting_one_head_blocks_only_that_head():
    after = grid("⬚⬚⬚⬚\n⬚⬚■⬚\n⬚⬚⬚⬚\n⬚⬚⬚⬚")
    targets = editing.scope_targets("head", (1, 2), (), num_layers=2)
    plan = editing.apply_paint(
        MaskPlan(), focus=(1, 2), before=torch.zeros(T, T, dtype=torch.bool), after=after, targets=targets
    )
    assert blocked_of(plan, 1, 2) == "⬚⬚⬚⬚\n⬚⬚■⬚\n⬚⬚⬚⬚\n⬚⬚⬚⬚"
    assert blocked_of(plan, 1, 1) == "⬚⬚⬚⬚\n⬚⬚⬚⬚\n⬚⬚⬚⬚\n⬚⬚⬚⬚"
    assert plan.compile(2, 3, T)[0] is None


def test_full_rows_and_columns_are_stored_compactly():
    after = grid("⬚■⬚⬚\n■■■■\n⬚■⬚⬚\n⬚■⬚⬚")
    plan = editing.apply_paint(
        MaskPlan(),
        focus=(0, 0),
        before=torch.zeros(T, T, dtype=torch.bool),
        after=after,
        targets=editing.scope_targets("layer", (0, 0), (), 2),
    )
    (only,) = plan.rules
    assert only.block.keys == (1,) and only.block.queries == (1,) and only.block.cells == ()
    assert only.heads == "all" and only.layers == (0,)


def test_erasing_removes_cell_from_every_paint_rule_covering_the_head():
    everywhere = editing.apply_paint(
        MaskPlan(),
        focus=(0, 0),
        before=torch.zeros(T, T, dtype=torch.bool),
        after=grid("■⬚⬚⬚\n⬚⬚⬚⬚\n⬚⬚⬚⬚\n⬚⬚⬚■"),
        targets=editing.scope_targets("all", (0, 0), (), 2),
    )
    painted, locked = editing.head_masks(everywhere, 1, 1, T)
    assert render_grid(painted) == "■⬚⬚⬚\n⬚⬚⬚⬚\n⬚⬚⬚⬚\n⬚⬚⬚■" and not locked.any()
    erased = editing.apply_paint(
        everywhere,
        focus=(1, 1),
        before=painted,
        after=grid("⬚⬚⬚⬚\n⬚⬚⬚⬚\n⬚⬚⬚⬚\n⬚⬚⬚■"),
        targets=editing.scope_targets("head", (1, 1), (), 2),
    )
    assert blocked_of(erased, 0, 2) == "⬚⬚⬚⬚\n⬚⬚⬚⬚\n⬚⬚⬚⬚\n⬚⬚⬚■"


def test_chosen_heads_make_one_rule_per_layer():
    targets = editing.scope_targets("chosen", (0, 0), {(0, 1), (1, 2), (0, 2)}, num_layers=2)
    assert targets == [((0,), (1, 2)), ((1,), (2,))]
    with pytest.raises(ValueError, match="no heads are chosen"):
        editing.scope_targets("chosen", (0, 0), set(), num_layers=2)


def test_presets_are_locked_cells_not_paint():
    plan = editing.add_preset(MaskPlan(), [((0,), (0,))], "causal", {})
    painted, locked = editing.head_masks(plan, 0, 0, T)
    assert not painted.any()
    assert render_grid(locked) == "⬚■■■\n⬚⬚■■\n⬚⬚⬚■\n⬚⬚⬚⬚"


def test_gates_set_replace_and_clear():
    plan = editing.set_gates(MaskPlan(), [(0, 1), (1, 2)], 0.0)
    assert plan.gates(2, 3).tolist() == [[1.0, 0.0, 1.0], [1.0, 1.0, 0.0]]
    plan = editing.set_gates(plan, [(0, 1)], 0.5)
    assert plan.gates(2, 3).tolist() == [[1.0, 0.5, 1.0], [1.0, 1.0, 0.0]]
    plan = editing.set_gates(plan, [(0, 1), (1, 2)], None)
    assert not plan.rules


def test_imported_rules_are_kept_and_removable():
    imported = MaskPlan((rule([0], "all", block={"keys": [2]}), rule("all", [1], gate=0.0)))
    plan = editing.apply_paint(
        imported,
        focus=(0, 0),
        before=torch.zeros(T, T, dtype=torch.bool),
        after=grid("■⬚⬚⬚\n⬚⬚⬚⬚\n⬚⬚⬚⬚\n⬚⬚⬚⬚"),
        targets=editing.scope_targets("head", (0, 0), (), 2),
    )
    assert plan.rules[:2] == imported.rules
    assert editing.remove_rule(plan, 0).rules == plan.rules[1:]
    with pytest.raises(ValueError, match="no rule 9"):
        editing.remove_rule(plan, 9)


def test_describe_rule_is_readable():
    text = editing.describe_rule(rule([0], [2, 5], block={"queries": [1], "cells": [[4, 2]]}))
    assert text == "layer 0 · head 2, 5: block query 1, 1 cell"
    assert editing.describe_rule(rule("all", "all", allow={"preset": "sliding_window", "size": 2})) == (
        "all layers · all heads: allow sliding_window(size=2)"
    )


def test_describe_rule_names_the_blocked_tokens():
    tokens = ["[CLS]", "the", "cat", "[SEP]"]
    text = editing.describe_rule(rule([0], [1], block={"keys": [1]}, label="paint"), tokens)
    assert text == "layer 0 · head 1: block key 'the' (1)"
    text = editing.describe_rule(rule([0], [1], block={"keys": [1, 2], "queries": [0, 9]}), tokens)
    assert text == "layer 0 · head 1: block keys 'the' (1), 'cat' (2), queries '[CLS]' (0), 9"


def test_gating_many_heads_of_a_layer_makes_one_rule_and_ungating_splits_it():
    plan = editing.set_gates(MaskPlan(), [(2, h) for h in range(5)], 0.0)
    assert [(r.layers, r.heads, r.gate) for r in plan.rules] == [((2,), (0, 1, 2, 3, 4), 0.0)]
    plan = editing.set_gates(plan, [(3, h) for h in range(5)], 0.0)
    assert [(r.layers, r.heads, r.gate) for r in plan.rules] == [((2, 3), (0, 1, 2, 3, 4), 0.0)]
    plan = editing.set_gates(plan, [(2, 4)], None)
    assert plan.gates(4, 5).tolist() == [[1.0] * 5, [1.0] * 5, [0, 0, 0, 0, 1], [0] * 5]
    assert len(plan.rules) == 2


def test_gate_edits_keep_imported_gates_and_their_product():
    imported = MaskPlan((rule("all", [0], gate=0.5), rule([1], [1, 2], gate=0.5, label="mine")))
    plan = editing.set_gates(imported, [(0, 1)], 0.0)
    assert plan.rules[:2] == imported.rules  # not the ones the head controls made
    assert plan.gates(2, 3).tolist() == [[0.5, 0.0, 1.0], [0.5, 0.5, 0.5]]


def test_applying_a_preset_again_adds_no_rule():
    once = editing.add_preset(MaskPlan(), [((0,), (0,))], "causal", {})
    assert editing.add_preset(once, [((0,), (0,))], "causal", {}) == once
    both = editing.add_preset(once, [((0,), (0,)), ((1,), (0,))], "causal", {})
    assert len(both.rules) == 2


def test_describe_rule_speaks_chinese():
    tokens = ["[CLS]", "the", "cat", "[SEP]"]
    text = editing.describe_rule(rule([0], "all", block={"keys": [1], "cells": [[0, 1]]}), tokens, "zh")
    assert text == "第 0 层 · 所有头: 屏蔽 键 'the' (1), 1 个格子"
    text = editing.describe_rule(rule("all", [3], gate=0.0, stack="cross"), None, "zh")
    assert text == "交叉注意力 · 所有层 · 头 3: 门控 × 0"
