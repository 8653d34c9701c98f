"""Smoke test of the benchmark code on tiny random models at T = 8, one repetition: rows are well formed.

No timing is asserted (that is what the benchmarks are for); what is asserted is that every column the
tables print exists, that sizes and times are positive and finite, and that our forward equals Hugging Face
eager on the same weights.
"""

from __future__ import annotations

import math
import os
import time

import pytest

from benchmarks import browser, classroom, forward, payload, report, run, sweep
from benchmarks.memory import tensor_mb
from benchmarks.models import load_trio, tiny_tokenizer
from benchmarks.plans import edit_plans
from benchmarks.texts import count_tokens, text_of_tokens
from benchmarks.timing import percentile, time_interleaved
from maskattn.plan import COMPILED_CACHE_SIZE

T = 8
ONE_REP = (1, 0)


def _check_columns(rows: list[dict], columns: list[tuple[str, str, str]]) -> None:
    assert rows
    for row in rows:
        missing = [key for key, _, _ in columns if key not in row]
        assert not missing, f"row lacks the printed columns {missing}"
        for key, _, _ in columns:
            value = row[key]
            if isinstance(value, float):
                assert math.isfinite(value) and value >= 0, f"{key} = {value}"


@pytest.fixture(scope="module", params=["tiny-gpt2", "tiny-llama-gqa"])
def trio(request):
    return load_trio(request.param)


def test_texts_have_exactly_the_asked_token_count() -> None:
    tokenizer = tiny_tokenizer()
    for n in (1, 8, 100):
        for start in (0, 5):
            assert count_tokens(tokenizer, text_of_tokens(tokenizer, n, start=start)) == n
    assert text_of_tokens(tokenizer, 8, start=0) != text_of_tokens(tokenizer, 8, start=1)
    with pytest.raises(ValueError, match="room for a word"):
        text_of_tokens(tokenizer, 0)


def test_edit_plans_are_more_distinct_plans_than_the_compiled_cache_holds() -> None:
    plans = edit_plans(2, 4, T)
    assert len({plan.key() for plan in plans}) == len(plans) > COMPILED_CACHE_SIZE
    for plan in plans:
        plan.check_fits(2, 4, T)


def test_interleaved_timing_rotates_and_counts_every_call() -> None:
    calls: list[str] = []
    variants = {name: (lambda name=name: calls.append(name)) for name in "abc"}
    times = time_interleaved(variants, reps=3, warmup=1)
    assert {k: len(v) for k, v in times.items()} == {"a": 3, "b": 3, "c": 3}
    assert calls == list("abc") + list("abc") + list("bca") + list("cab")
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5


def test_forward_rows_are_well_formed_and_ours_matches_eager(trio) -> None:
    rows = forward.measure_model(trio, [T], lambda _: ONE_REP, log=lambda _: None)
    _check_columns(rows, run.FORWARD_COLUMNS)
    (row,) = rows
    assert (row["model"], row["T"], row["reps"]) == (trio.name, T, 1)
    assert row["max_diff_vs_eager"] < 1e-4
    assert set(row["spread_ms"]) == set(forward.VARIANTS)


def test_incremental_rows_are_well_formed(trio) -> None:
    rows = forward.measure_incremental(trio, [T], lambda _: ONE_REP, log=lambda _: None)
    if not forward.has_incremental(trio.ours):
        assert rows == []
        return
    _check_columns(rows, run.INCREMENTAL_COLUMNS)
    assert rows[0]["max_diff"] < 1e-4


def test_payload_row_is_well_formed(trio) -> None:
    row = payload.measure_one(trio.ours, trio.name, T, ONE_REP, log=lambda _: None)
    _check_columns([row], run.PAYLOAD_COLUMNS)
    assert row["overview_kb"] > 0 and row["focus_kb"] > 0 and row["painter_kb"] > 0
    assert row["sent_overview_kb"] == pytest.approx(row["overview_kb"] + row["painter_kb"])
    assert row["sent_focus_kb"] == pytest.approx(row["focus_kb"] + row["painter_kb"])
    assert row["sent_kb"] == max(row["sent_overview_kb"], row["sent_focus_kb"])


def test_sweep_row_is_well_formed_and_the_sweep_equals_the_loop(trio) -> None:
    row = sweep.measure_one(trio.ours, trio.name, T, ONE_REP, log=lambda _: None)
    _check_columns([row], run.SWEEP_COLUMNS)
    assert row["heads"] == trio.ours.num_layers * trio.ours.num_heads
    assert row["max_diff"] < 1e-4
    assert set(row["spread_ms"]) == {"sweep", "loop", "loop_full", "run", "score", "types_full"}


def test_result_size_counts_the_result_tensors(trio) -> None:
    result = trio.ours.run(text_of_tokens(trio.tokenizer, T))
    tensors = (result.attentions, result.hidden, result.logits, result.token_change)  # float32, 4 bytes each
    expected = sum(t.numel() * 4 for t in tensors)
    assert tensor_mb(result) == pytest.approx(expected / 1e6)


def test_server_cpu_counts_this_process_work() -> None:
    before = classroom.server_cpu_s(os.getpid())
    deadline = time.process_time() + 0.2
    while time.process_time() < deadline:  # 0.2 s of this process's CPU, by the kernel's own count
        pass
    spent = classroom.server_cpu_s(os.getpid()) - before
    assert spent >= 0.15, spent  # no upper bound: other threads of this process may run meanwhile


def test_classroom_goals_judge_cpu_unanswered_edits_and_cross_talk() -> None:
    timed = {"T": 32, "errors": 0, "edits_per_s": 4.0, "edit_p50_ms": 900.0, "edit_p95_ms": 1500.0}
    rows = [
        {"sessions": 30, "edits": 90, "answered": 89, "cross_talk": 0, "cpu_per_edit_s": 0.08} | timed,
        {"sessions": 10, "edits": 30, "answered": 30, "cross_talk": 1, "cpu_per_edit_s": 0.2} | timed,
    ]
    memory = {"kb_per_update_p50": 120.0, "rss_mb_before": 560.0, "rss_mb_after": 600.0}
    _check_columns([row | memory for row in rows], run.CLASSROOM_COLUMNS)
    verdicts = {g["goal"]: g["met"] for g in run.goals({"classroom": {"rows": rows}})}
    assert verdicts == {
        "server CPU per edit, 10 sessions (s)": "NO",
        "server CPU per edit, 30 sessions (s)": "yes",
        "unanswered edits, 30 sessions": "NO",
        "sessions showing another's cells, 30 sessions": "yes",
    }


def test_goals_and_table() -> None:
    suites = {
        "forward": {"rows": [{"model": "minilm", "T": 128, "run_busy/eager": 1.1, "run_busy/sdpa": 1.12}]},
        "incremental": {"rows": [{"model": "minilm", "T": 512, "incremental/full": 0.3}]},
        "browser": {"rows": [{"T": 32, "edit_p50_ms": 200.0}]},
        "payload": {"rows": [{"model": "minilm", "T": 128, "sent_kb": 310.0}]},
        "sweep": {"rows": [{"model": "minilm", "T": 32, "sweep_s": 0.4, "sweep/loop": 0.5, "score_ms": 9.0}]},
    }
    verdicts = {g["goal"]: g["met"] for g in run.goals(suites)}
    assert verdicts == {
        "run_busy/eager at T=128 (minilm)": "yes",
        "run_busy/eager at T=128 (minilm), issue 15": "NO",  # the same value, judged on the stricter goal
        "run_busy/sdpa at T=128 (minilm)": "yes",
        "last-layer edit/full run at T=512 (minilm)": "NO",
        "edit p50 at T=32 (ms)": "yes",
        "sent per update at T=128 (kB)": "NO",
        "72-head sweep at T=32 (s)": "yes",
        "sweep/loop of runs at T=32": "NO",
    }
    table = report.format_table([{"a": 1.5, "b": None}], [("a", "A", ".2f"), ("b", "B", "")], "title")
    assert table.splitlines() == ["title", "   A  B", "----  -", "1.50  –"]


def test_edit_phases_come_from_the_script_state_or_else_from_the_redraws() -> None:
    def log(*kinds: tuple[float, str, object]) -> list[dict]:
        return [{"t": t, "kind": kind, "detail": detail} for t, kind, detail in kinds]

    ran = browser._timings(
        log(
            (0, "painter", None),
            (10, "up", None),
            (40, "state", "running"),
            (150, "painter", None),
            (180, "state", "notRunning"),
            (230, "overview", None),
        )
    )
    assert (ran["start_ms"], ran["done_ms"], ran["painter_ms"], ran["overview_ms"]) == (30, 170, 140, 220)
    assert ran["edit_ms"] == 220, "the page is settled once the overview is redrawn"
    # A rerun queued behind another, the script state never changing: the redraws still time the edit.
    queued = browser._timings(
        log((0, "painter", None), (10, "up", None), (90, "painter", None), (120, "overview", None))
    )
    assert (queued["start_ms"], queued["done_ms"], queued["edit_ms"]) == (None, None, 110)
