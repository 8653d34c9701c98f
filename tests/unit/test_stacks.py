"""The Explorer edits one attention stack's slice of a plan; the other stacks' rules are kept as they were."""

import torch

from maskattn import MaskPlan, rule
from ui import stacks

ENCODER = rule([0], [1], block={"keys": [2]})
CROSS = rule("all", "all", gate=0.5, stack="cross")
DECODER = rule([1], [0], block={"cells": [[3, 1]]}, stack="decoder")
PLAN = MaskPlan((ENCODER, CROSS, DECODER), "mine")


def test_a_slice_holds_the_rules_of_its_stack_without_their_stack_name() -> None:
    assert stacks.slice_of(PLAN, "encoder", "encoder").rules == (ENCODER,)
    cross = stacks.slice_of(PLAN, "cross", "encoder")
    assert [r.gate for r in cross.rules] == [0.5] and cross.rules[0].stack is None


def test_joining_an_edited_slice_keeps_the_other_stacks_and_names_the_stack() -> None:
    edited = stacks.slice_of(PLAN, "cross", "encoder").with_rules(rule([1], [2], block={"keys": [0]}))
    joined = stacks.join(PLAN, edited, "cross", "encoder")
    assert [r.stack for r in joined.rules] == [None, "decoder", "cross", "cross"]
    assert joined.description == "mine"
    assert stacks.slice_of(joined, "encoder", "encoder").rules == (ENCODER,)
    assert MaskPlan.from_json(joined.to_json()) == joined  # written as version 2, read back the same


def test_a_single_stack_model_round_trips_unchanged() -> None:
    plan = MaskPlan((ENCODER, rule([1], [0], gate=0.0)))
    assert stacks.join(plan, stacks.slice_of(plan, "decoder", "decoder"), "decoder", "decoder") == plan


def test_the_model_blocks_the_cells_its_unmasked_weights_are_exactly_zero_in_every_head():
    t = 5
    causal = torch.tril(torch.ones(t, t, dtype=torch.bool))
    scores = torch.randn(2, 3, t, t).masked_fill(~causal, float("-inf"))
    weights = scores.softmax(-1)  # (L, H, T, T), a decoder's causal attention
    weights[1, :, :, :] = torch.randn(3, t, t).softmax(-1)  # layer 1: nothing blocked
    assert torch.equal(stacks.model_blocked(weights, 0), ~causal)
    assert not stacks.model_blocked(weights, 1).any()
