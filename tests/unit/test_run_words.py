"""What the Explorer says about a run (pure): the badge, the truncation note, numbers, the predictions."""

from types import SimpleNamespace

from ui.classroom import trace_plan
from ui.run_words import prediction_rows, recompute_badge, shown_number, truncation_note


def test_badge_says_cached_or_how_it_was_computed():
    run = SimpleNamespace(seconds=0.0123, recomputed_from=0)
    assert recompute_badge(run, 6, cached=True) == "⚡ cached"
    assert recompute_badge(run, 6, cached=False) == "⚡ 12 ms forward"
    assert recompute_badge(SimpleNamespace(seconds=0.004, recomputed_from=6), 6, cached=False) == (
        "⚡ 4 ms (unmasked run)"
    )
    assert recompute_badge(SimpleNamespace(seconds=0.004, recomputed_from=4), 6, cached=False) == (
        "⚡ 4 ms (layers 4–5 recomputed)"
    )


def test_numbers_on_screen_are_never_nan():
    assert shown_number(0.123456) == "0.1235"
    assert shown_number(float("nan")) == "n/a" and shown_number(float("inf")) == "n/a"


def test_truncation_note_names_the_limit_that_cut():
    model = SimpleNamespace(max_length=512, token_limit=lambda limit: min(limit, 512))
    result = SimpleNamespace(dropped_tokens=7)
    assert "(this server's limit)" in truncation_note(model, result, 128)
    assert "its last 7 token(s)" in truncation_note(model, result, 128)
    assert "(the model's maximum)" in truncation_note(model, result, 10_000)


def prediction(position: int, tokens: tuple[str, ...], probs: tuple[float, ...]) -> SimpleNamespace:
    """Stands in for a maskattn Prediction (top-k tokens at one position)."""
    return SimpleNamespace(position=position, tokens=tokens, probs=probs)


def test_prediction_rows_put_unmasked_and_masked_side_by_side():
    before = (prediction(3, ("a", "b"), (0.6, 0.3)),)
    after = (prediction(3, ("b", "a"), (0.51234, 0.4)),)
    rows = prediction_rows(SimpleNamespace(baseline_predictions=before, predictions=after))
    assert rows == [
        {"position": 3, "rank": 1, "unmasked": "a", "p (unmasked)": 0.6, "masked": "b", "p (masked)": 0.5123},
        {"position": 3, "rank": 2, "unmasked": "b", "p (unmasked)": 0.3, "masked": "a", "p (masked)": 0.4},
    ]


def test_trace_plan_masks_only_the_traced_head():
    assert not trace_plan(1, 2, "full", []).rules
    (only,) = trace_plan(1, 2, "causal", [3, 0]).rules
    assert (only.layers, only.heads, only.allow, only.block.keys) == (
        (1,),
        (2,),
        {"preset": "causal"},
        (0, 3),
    )


def test_the_run_words_speak_chinese():
    # Issue 13, item 12: the badge, the truncation note and the table headers stayed English in 中文.
    run = SimpleNamespace(seconds=0.012, recomputed_from=2)
    assert recompute_badge(run, 6, cached=True, lang="zh") == "⚡ 已缓存"
    assert recompute_badge(run, 6, cached=False, lang="zh") == "⚡ 12 毫秒（重算第 2–5 层）"
    model = SimpleNamespace(token_limit=lambda limit: 10, max_length=512)
    note = truncation_note(model, SimpleNamespace(dropped_tokens=7), 10, "zh")
    assert note.startswith("文本超过 10 个词元（本服务器的限制）") and "7 个词元" in note
    before = after = [SimpleNamespace(position=3, tokens=("a",), probs=(0.5,))]
    rows = prediction_rows(SimpleNamespace(baseline_predictions=before, predictions=after), "zh")
    assert rows == [
        {"位置": 3, "名次": 1, "无掩码": "a", "概率（无掩码）": 0.5, "加掩码": "a", "概率（加掩码）": 0.5}
    ]
