"""The classroom text: both languages complete and consistent; findings and the seed example in words."""

from __future__ import annotations

import string

import pytest
import torch

from examples.seed_example import run_seed_example
from maskattn.stepthrough import Finding
from ui.lessons import LANGUAGES, STRINGS, parse_language, tr
from ui.lessons.content import (
    EXERCISES,
    FORMULAS,
    MISTAKES,
    SEED_EXAMPLE_CODE,
    describe_finding,
    mistakes_markdown,
    summarize_seed_example,
)
from ui.share import from_query_params


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("key", list(STRINGS))
def test_every_text_exists_in_both_languages_with_the_same_placeholders(key):
    entry = STRINGS[key]
    assert set(entry) == set(LANGUAGES)
    assert all(entry[lang].strip() for lang in LANGUAGES)
    assert placeholders(entry["en"]) == placeholders(entry["zh"])


def test_chinese_text_is_chinese():
    # Only names, symbols and code may stay untranslated; every long entry needs CJK characters.
    untranslated = [
        k
        for k, v in STRINGS.items()
        if len(v["en"]) > 30 and not any("\u4e00" <= c <= "\u9fff" for c in v["zh"])
    ]
    assert untranslated == []


def test_tr_fills_placeholders_and_refuses_unknowns():
    assert tr("lab.finding.row_sum", "en", query=3, query_label="‘x3’", value="0.62") == (
        "**Formula 2:** row 3 (‘x3’) sums to **0.62**, not 1."
    )
    assert "0.62" in tr("lab.finding.row_sum", "zh", query=3, query_label="‘x3’", value="0.62")
    assert tr("lab.finding.blocked_mass", "en", key=1, key_label="a", query=2, value="0.3").startswith(
        "The blocked key 1"
    )
    with pytest.raises(ValueError, match="no text"):
        tr("lab.nope", "en")
    with pytest.raises(ValueError, match="language"):
        tr("lab.title", "fr")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("zh", "zh"),
        ("zh-CN", "zh"),
        ("中文", "zh"),
        ("EN", "en"),
        ("en-GB", "en"),
        ("fr", None),
        (None, None),
    ],
)
def test_parse_language(raw, expected):
    assert parse_language(raw) == expected


@pytest.mark.parametrize("lang", LANGUAGES)
def test_mistakes_table_has_every_row_of_the_notes(lang):
    table = mistakes_markdown(lang).splitlines()
    assert len(table) == 2 + len(MISTAKES) == 13
    assert all(line.count(" | ") == 2 for line in table[2:])  # three cells: no stray pipes
    assert "⊙" in table[2] and "·" in table[2]  # formula 1: element-wise vs matrix product


@pytest.mark.parametrize("lang", LANGUAGES)
def test_findings_in_words_carry_their_numbers(lang):
    labels = ["[CLS]", "the", "cat"]
    cases = {
        Finding("row_sum", query=2, value=0.6234): ["2", "‘cat’", "0.62"],
        Finding("blocked_mass", query=2, key=1, value=0.3781): ["1", "‘the’", "0.38", "2"],
        Finding("fully_blocked", query=0): ["0", r"‘\[CLS\]’", "NaN"],  # tokens are escaped for Markdown
        Finding("rows_sum_to_one", value=2.4e-7, count=3): ["3", "2.4e-07"],
    }
    for finding, parts in cases.items():
        sentence = describe_finding(finding, labels, lang)
        for part in parts:
            assert part in sentence, (finding, part, sentence)
    assert describe_finding(Finding("nothing_blocked"), labels, lang) == tr(
        "lab.finding.nothing_blocked", lang
    )


def test_formulas_mask_before_the_softmax():
    masking = FORMULAS["masking"][0]
    assert masking.index("+ M") < masking.index(r"\right)")  # M is inside the softmax's argument
    assert r"-\infty" in FORMULAS["masking"][1] and r"\mathcal{A}_i" in FORMULAS["masking"][1]
    assert any(r"W^O" in line for line in FORMULAS["multihead"])


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.key)
def test_exercise_links_restore_their_state(exercise):
    state, problems = from_query_params(exercise.query_params(), "unused")
    assert problems == []
    assert (state.text, state.plan, state.focus) == (exercise.text, exercise.plan, exercise.focus)
    assert all(exercise.title[lang] and exercise.task[lang] for lang in LANGUAGES)


@pytest.mark.parametrize("training", [False, True])
def test_seed_example_summary_matches_the_tensors(training):
    result = run_seed_example(0, training=training)
    summary = summarize_seed_example(result)
    assert summary.shapes["out"] == (10, 20, 512)
    assert summary.shapes["weights"] == (10, 2, 20, 20)
    assert summary.shapes["blocked"] == summary.shapes["allow"] == (10, 20, 20)
    assert summary.blocked_queries == (2, 3, 4)
    assert summary.blocked_weight_sum == 0.0
    assert summary.output_equals_bias
    assert not summary.has_nan
    weights = result["weights"]
    other = torch.ones(10, 20, dtype=torch.bool)
    other[0, 2:5] = False
    assert summary.open_row_deviation == pytest.approx(
        float((weights.sum(-1).permute(0, 2, 1)[other] - 1).abs().max()), abs=1e-9
    )
    assert summary.open_row_deviation < 1e-5


def test_the_code_shown_for_the_seed_example_runs_and_gives_the_shapes_it_claims():
    namespace: dict = {}
    exec(SEED_EXAMPLE_CODE, namespace)
    assert tuple(namespace["out"].shape) == (10, 20, 512)
    assert tuple(namespace["weights"].shape) == (10, 2, 20, 20)
    assert "(10, 20, 512), (10, 2, 20, 20)" in SEED_EXAMPLE_CODE
    assert not namespace["out"].isnan().any()
    assert (namespace["weights"][0, :, 2:5] == 0).all()
