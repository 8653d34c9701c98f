"""ui.instruments: sweep settings and their cache, what a click on a sweep cell does, head-type labels."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from maskattn import Cell, HeadTypes, MaskPlan, SweepResult, embedding_distance, kl_at, rule
from maskattn.head_types import TYPES
from ui import instruments as ix
from ui.lessons import LANGUAGES, STRINGS, tr
from ui.page_state import ExplorerState

REPO = Path(__file__).resolve().parents[2]
L, H = 2, 3


def head_sweep(ablation: str = "zero") -> SweepResult:
    """Return a head-importance sweep of a 2 × 3 model, built by hand: effect = layer + head / 10."""
    base = MaskPlan((rule([0], [0], block={"keys": [1]}, label="paint"),))
    cells = []
    for layer in range(L):
        for head in [*range(H), "all"]:
            effect = layer + (0.5 if head == "all" else head / 10)
            plan = (
                base
                if ablation == "mean"
                else base.with_rules(rule([layer], [head] if head != "all" else "all", gate=0.0))
            )
            heads = (
                ()
                if ablation == "zero"
                else tuple((layer, h) for h in (range(H) if head == "all" else [head]))
            )
            cells.append(Cell({"layer": layer, "head": head}, plan, heads, effect + 1.0, effect))
    return SweepResult(
        "head_importance", "a b", embedding_distance(), 1.0, tuple(cells), {"ablation": ablation}
    )


# -- settings and cache


def test_settings_key_names_everything_a_sweep_depends_on():
    a = ix.SweepSettings("head_importance", embedding_distance(), {"ablation": "zero"})
    same = ix.SweepSettings("head_importance", embedding_distance(), {"ablation": "zero"})
    assert a.key() == same.key()
    others = [
        ix.SweepSettings("head_importance", embedding_distance(), {"ablation": "mean"}),
        ix.SweepSettings("head_importance", kl_at(-1), {"ablation": "zero"}),
        ix.SweepSettings("preset_sweep", embedding_distance(), {"ablation": "zero"}),
    ]
    assert len({a.key(), *(o.key() for o in others)}) == 4
    keys = {
        ix.sweep_key("m", "text", MaskPlan().key(), a, 512),
        ix.sweep_key("m", "text!", MaskPlan().key(), a, 512),
    }
    assert len(keys) == 2


def test_settings_refuse_an_unknown_kind():
    with pytest.raises(ValueError, match="sweep kind"):
        ix.SweepSettings("everything", embedding_distance())


def test_store_drops_the_least_recently_used():
    store = ix.SweepStore(2)
    first, second, third = head_sweep(), head_sweep("mean"), head_sweep()
    store.put("a", first)
    store.put("b", second)
    assert store.get("a") is first  # "a" is now the most recent
    store.put("c", third)
    assert store.get("b") is None and store.get("a") is first and store.get("c") is third
    assert len(store) == 2
    with pytest.raises(ValueError, match="max_entries"):
        ix.SweepStore(0)


def test_cached_sweep_computes_once_and_keeps_nothing_of_a_cancelled_one():
    store = ix.SweepStore(4)
    calls = []

    def compute():
        calls.append(1)
        return head_sweep()

    result, hit = ix.cached_sweep(store, "k", compute)
    again, hit_again = ix.cached_sweep(store, "k", compute)
    assert (hit, hit_again, len(calls)) == (False, True, 1) and again is result

    def cancelled():
        raise ix.sweeps.SweepCancelled(3, 10)

    with pytest.raises(ix.sweeps.SweepCancelled):
        ix.cached_sweep(store, "other", cancelled)
    assert store.get("other") is None


# -- metrics


class WordTokenizer:
    """A tokenizer whose vocabulary is a few words (and "Ġ"-marked word starts, as GPT-2 spells them)."""

    def __init__(self) -> None:
        self.vocab = {"cat": 1, " dog": 2, "un": 3, "happy": 4}

    def __call__(self, text: str, add_special_tokens: bool = False) -> dict:
        if text in self.vocab:
            return {"input_ids": [self.vocab[text]]}
        return {"input_ids": [self.vocab.get(part, 0) for part in re.findall(r" ?\w+", text)] * 2}


@pytest.mark.parametrize(("word", "expected"), [("cat", 1), ("dog", 2), (" dog ", 2)])
def test_token_id_finds_single_tokens_with_or_without_a_leading_space(word, expected):
    assert ix.token_id(WordTokenizer(), word) == expected


@pytest.mark.parametrize(("word", "reason"), [("", "type a token"), ("unhappy", "more than one token")])
def test_token_id_refuses_what_is_not_one_token(word, reason):
    with pytest.raises(ValueError, match=reason):
        ix.token_id(WordTokenizer(), word)


def test_metric_choices_fit_the_model():
    assert ix.metric_kinds("encoder") == ("embedding_distance",)
    assert ix.metric_kinds("causal_lm") == ix.metric_kinds("masked_lm") == ("kl", "logit_difference")
    assert ix.make_metric("kl", 3) == kl_at(3)
    assert ix.make_metric("logit_difference", -1, 5, 7).token_b == 7
    with pytest.raises(ValueError, match="two tokens"):
        ix.make_metric("logit_difference", -1, 5)
    with pytest.raises(ValueError, match="unknown metric"):
        ix.make_metric("accuracy", 0)


def test_preset_values_step_through_every_length_or_density():
    assert ix.preset_values("sliding_window", 4) == [0, 1, 2, 3, 4]
    assert ix.preset_values("dilated", 3) == [1, 2, 3]  # a stride of 0 is not a stride
    assert ix.preset_values("random", 9) == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    with pytest.raises(ValueError, match="no parameter sweep"):
        ix.preset_values("causal", 4)


# -- a click on a cell


def test_a_heatmap_click_names_a_head_or_a_whole_layer():
    assert ix.heatmap_coords([1, 2]) == {"layer": 1, "head": 2}
    assert ix.heatmap_coords([0, -1]) == {"layer": 0, "head": "all"}


def test_applying_a_zero_ablation_cell_adds_its_gate_focuses_the_head_and_can_be_undone():
    result = head_sweep()
    before = ExplorerState(plan=MaskPlan((rule([0], [0], block={"keys": [1]}, label="paint"),)))
    cell = ix.cell_at(result, {"layer": 1, "head": 2})
    after = ix.applied(before, cell)
    assert after.plan.rules[-1].gate == 0.0 and after.plan.rules[-1].layers == (1,)
    assert after.plan.rules[:-1] == before.plan.rules  # the user's plan is kept under the ablation
    assert after.focus == (1, 2)
    assert after.undo().plan == before.plan
    whole = ix.applied(before.focused(0, 1), ix.cell_at(result, {"layer": 0, "head": "all"}))
    assert whole.focus == (0, 1) and whole.plan.rules[-1].heads == "all"


def test_a_mean_ablation_cell_cannot_be_applied():
    cell = ix.cell_at(head_sweep("mean"), {"layer": 0, "head": 1})
    assert not ix.can_apply(cell)
    with pytest.raises(ValueError, match="mean ablation"):
        ix.applied(ExplorerState(), cell)
    with pytest.raises(ValueError, match="no cell"):
        ix.cell_at(head_sweep(), {"layer": 9, "head": 0})


def test_strongest_cells_and_their_words():
    result = head_sweep()
    top = ix.strongest(result, 3)
    assert [c.coords for c in top] == [
        {"layer": 1, "head": "all"},
        {"layer": 1, "head": 2},
        {"layer": 1, "head": 1},
    ]
    assert [ix.describe_cell(c) for c in top] == ["L1 (whole layer)", "L1 h2", "L1 h1"]
    knock = Cell({"layer": 2, "last_layer": 4}, MaskPlan(), (), 0.0, 0.0)
    assert ix.describe_cell(knock) == "L2–L4"
    assert ix.describe_cell(Cell({"prefix_length": 3}, MaskPlan(), (), 0.0, 0.0)) == "prefix length = 3"
    np.testing.assert_allclose(ix.layer_effects(result, L), [0.5, 1.5])


# -- head types


def planted_types() -> HeadTypes:
    """Return head types of a 2 × 3 model: L0 h1 a previous-token head, L1 h2 an induction head."""
    scores = {name: torch.full((L, H), 0.1) for name in TYPES}
    scores["previous_token"][0, 1] = 0.9
    scores["induction"][1, 2] = 0.7
    return HeadTypes(scores)


def test_badges_name_each_heads_strongest_type_above_the_threshold():
    badges = ix.type_badges(planted_types(), 0.5)
    expected = np.full((L, H), "", dtype=object)
    expected[0, 1], expected[1, 2] = "prev", "ind"
    assert (badges == expected).all()
    assert set(ix.BADGES) == set(TYPES)


def test_the_filter_picks_the_heads_of_a_type():
    hits = ix.type_hits(planted_types(), "induction", 0.6)
    assert list(zip(*np.nonzero(hits), strict=True)) == [(1, 2)]


def test_notes_and_changes_say_what_the_plan_did_to_a_heads_role():
    before = planted_types()
    scores = {name: grid.clone() for name, grid in before.scores.items()}
    scores["previous_token"][0, 1] = 0.2  # the plan broke the previous-token head
    after = HeadTypes(scores)
    assert ix.role_changes(before, after, "previous_token") == [
        (0, 1, pytest.approx(0.9), pytest.approx(0.2))
    ]
    assert ix.role_changes(before, after, "induction") == []
    notes = ix.type_notes(after, before)
    assert "prev 0.20 (was 0.90)" in notes[0, 1] and "was" not in notes[1, 2]


# -- words


def test_every_instrument_word_the_tab_uses_exists_in_both_languages():
    source = (REPO / "ui" / "instruments_tab.py").read_text() + (REPO / "ui" / "figure_export.py").read_text()
    keys = set(re.findall(r'tr\(\s*"(inst\.[a-z_.]+)"', source))
    keys |= {f"inst.kind.{k}" for k in ix.SWEEP_KINDS} | {f"inst.kind.{k}.help" for k in ix.SWEEP_KINDS}
    keys |= {f"inst.type.{name}" for name in TYPES} | {
        f"inst.metric.{k}" for k in ix.metric_kinds("causal_lm")
    }
    assert len(keys) > 30
    for key in keys:
        assert key in STRINGS, key
        for lang in LANGUAGES:
            assert tr(
                key,
                lang,
                done=1,
                total=2,
                scale=4,
                layer=0,
                head=1,
                error="e",
                metric="m",
                baseline=0,
                count=1,
                type="t",
                threshold=0.5,
                heads="h",
            )
