"""The pages' state (pure): the Explorer's plan, undo history, focus and chosen heads; the Mask Lab's grid."""

from dataclasses import FrozenInstanceError

import numpy as np
import pytest

from maskattn import MaskPlan, rule
from maskattn.masks import PRESETS
from ui import presets
from ui.page_state import (
    HISTORY_LIMIT,
    ExplorerState,
    fitted_blocked,
    preset_blocked,
    query_param_changes,
)


def plan_blocking(key: int) -> MaskPlan:
    return MaskPlan((rule([0], [0], block={"keys": [key]}, label="paint"),))


def test_new_plans_are_undone_in_reverse_order_and_equal_plans_add_no_step():
    state = ExplorerState()
    assert not state.can_undo and state.undo() is state
    first, second = plan_blocking(1), plan_blocking(2)
    state = state.with_plan(first).with_plan(MaskPlan.from_json(first.key())).with_plan(second)
    assert state.plan == second and [s.plan for s in state.history] == [MaskPlan(), first]
    assert state.undo().plan == first
    assert state.undo().undo().plan == MaskPlan() and not state.undo().undo().can_undo


def test_history_keeps_the_last_edits_only():
    state = ExplorerState()
    for key in range(HISTORY_LIMIT + 5):
        state = state.with_plan(plan_blocking(key))
    assert len(state.history) == HISTORY_LIMIT
    assert state.history[0].plan == plan_blocking(4)  # the five oldest are gone


OLD = ("[CLS]", "the", "cat", "sat", ".", "[SEP]")


def test_a_new_text_moves_the_plan_with_its_tokens_and_undo_brings_back_text_and_plan():
    state = ExplorerState(text="The cat sat.").refit("The cat sat.", OLD)[0].with_plan(plan_blocking(4))
    moved, notes = state.refit("Hi.", ("[CLS]", "hi", ".", "[SEP]"))
    assert moved.plan.rules[0].block.keys == (2,) and notes == ("rule 0: '.' (4) moved to 2",)
    back = moved.undo()
    assert (back.plan, back.text, back.tokens) == (plan_blocking(4), "The cat sat.", OLD)
    assert back.refit("The cat sat.", OLD) == (back, ())  # the old text again: nothing to move


def test_a_new_text_that_leaves_the_plan_alone_adds_no_undo_step():
    state = ExplorerState().with_plan(plan_blocking(1)).refit("The cat sat.", OLD)[0]
    assert len(state.history) == 1  # the link's plan fits its text: nothing to undo but the paint
    same, notes = state.refit("The dog sat.", ("[CLS]", "the", "dog", "sat", ".", "[SEP]"))
    assert notes == () and same.history == state.history and same.text == "The dog sat."


def test_opening_a_link_keeps_the_users_plan_one_undo_away():
    mine = ExplorerState(text="Mine.").with_plan(plan_blocking(1))
    opened = mine.opened(plan_blocking(2), "An exercise.", (3, 4))
    assert (opened.plan, opened.text, opened.focus) == (plan_blocking(2), "An exercise.", (3, 4))
    back = opened.undo()
    assert (back.plan, back.text) == (plan_blocking(1), "Mine.")


def test_reset_empties_plan_and_picks_and_can_be_undone():
    state = ExplorerState().with_plan(plan_blocking(3)).with_chosen([(1, 2)])
    reset = state.reset()
    assert reset.plan == MaskPlan() and reset.chosen == frozenset()
    assert reset.undo().plan == plan_blocking(3)


def test_state_is_immutable_so_a_stored_state_never_changes_behind_a_page():
    state = ExplorerState()
    with pytest.raises(FrozenInstanceError):
        state.focus = (1, 1)  # type: ignore[misc]
    assert state.focused(2, 3).focus == (2, 3) and state.focus == (0, 0)


def test_focus_moves_inside_a_smaller_model():
    assert ExplorerState(focus=(11, 15)).within(6, 12).focus == (5, 11)
    assert ExplorerState(focus=(2, 3)).within(6, 12).focus == (2, 3)


def test_picked_grid_leaves_out_heads_beyond_the_model():
    state = ExplorerState().with_chosen([(0, 1), (2, 0), (9, 9)])
    expected = np.zeros((3, 2), dtype=bool)
    expected[0, 1] = expected[2, 0] = True
    assert np.array_equal(state.picked(3, 2), expected)


def test_targets_follow_scope_and_chosen_heads():
    state = ExplorerState(focus=(1, 2)).with_chosen([(0, 3), (0, 1), (4, 0)])
    assert state.targets("head", 6) == [((1,), (2,))]
    assert state.targets("layer", 6) == [((1,), "all")]
    assert state.targets("chosen", 6) == [((0,), (1, 3)), ((4,), (0,))]
    with pytest.raises(ValueError, match="no heads are chosen"):
        ExplorerState().targets("chosen", 6)


def test_query_param_changes_delete_stale_set_changed_and_keep_the_language():
    stale, changed = query_param_changes(
        {"text": "a", "plan": "old", "focus": "0.0", "lang": "zh", "junk": "1"},
        {"text": "a", "plan": "new", "focus": "0.0"},
        keep={"lang"},
    )
    assert stale == {"junk"}
    assert changed == {"plan": "new"}


def test_lab_grid_is_cut_or_padded_with_allowed_cells():
    causal = preset_blocked("causal", 4)
    assert np.array_equal(causal, np.triu(np.ones((4, 4), dtype=bool), 1))
    assert np.array_equal(fitted_blocked(causal, 2), causal[:2, :2])
    grown = fitted_blocked(causal, 6)
    assert np.array_equal(grown[:4, :4], causal) and not grown[4:].any() and not grown[:, 4:].any()
    assert fitted_blocked(causal, 4) is causal  # already the right size: kept as it is


def test_every_preset_has_words_and_help_names_real_parameters():
    assert set(presets.WORDS) == set(PRESETS)
    for name, words in presets.WORDS.items():
        assert words.label and words.description
        assert set(words.param_help) <= {p.name for p in PRESETS[name].params}


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_input_bounds_lie_within_what_the_preset_accepts(name):
    for param in PRESETS[name].params:
        if param.kind not in {"int", "float"}:
            continue
        low, high = presets.input_bounds(param)
        assert low == param.minimum and low <= high
        assert param.maximum is None or high <= param.maximum
