"""(f) Sweeps: the zero-ablation sweep of every head against the loop of separate runs; head-type scoring.

Per (model, T), timed interleaved in the same process (``timing.time_interleaved``), ratios the median of
per-round ratios:

- ``sweep`` — ``sweeps.head_importance(model, text, whole_layers=False)``: one zero-ablation cell per head,
  batched by ``MaskedModel.outputs_many``;
- ``loop`` — the same plans as separate ``model.run(text, plan)`` calls (incremental, as a user would write
  it), each cell's metric taken from its result; ``loop_full`` — the same with ``incremental=False``;
- ``run`` — one ``model.run`` with a one-head plan, and ``score`` — ``score_heads`` of its attentions: what
  head types cost on top of a run (the probe's own run is a second run, timed as ``types_full``).

Both runs have the text's unmasked baseline cached, as in the app. ``max_diff`` checks the sweep's values
against the loop's.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable

from benchmarks.models import load_ours
from benchmarks.texts import text_of_tokens
from benchmarks.timing import summarize, time_interleaved
from maskattn import MaskedModel, MaskPlan, model_head_types, rule, score_heads, sweeps

TOKENS = (32, 128)


def default_reps(num_tokens: int) -> tuple[int, int]:
    return (3, 1) if num_tokens >= 128 else (5, 1)


def _paired(times: dict[str, list[float]], top: str, bottom: str) -> float:
    return statistics.median(a / b for a, b in zip(times[top], times[bottom], strict=True))


def measure_one(
    model: MaskedModel, name: str, num_tokens: int, reps: tuple[int, int], log: Callable[[str], None]
) -> dict:
    """Return one row: sweep, loop, run and scoring medians, their ratios, and the sweep's agreement."""
    text = text_of_tokens(model.tokenizer, num_tokens)
    L, H = model.num_layers, model.num_heads
    metric = sweeps.default_metric(model)
    baseline = model.baseline(text)
    plans = [MaskPlan((rule([layer], [head], gate=0.0),)) for layer in range(L) for head in range(H)]
    one_head = MaskPlan((rule([L // 2], [0], gate=0.0),))
    ids = model.tokenize(text)[0][0].cpu()
    delimiters = sorted({model.tokenizer.sep_token_id, model.tokenizer.eos_token_id} - {None})
    result = model.run(text, one_head)

    def loop(incremental: bool = True) -> list[float]:
        return [metric.of_result(model.run(text, p, incremental=incremental), baseline) for p in plans]

    variants = {
        "sweep": lambda: sweeps.head_importance(model, text, whole_layers=False),
        "loop": loop,
        "loop_full": lambda: loop(incremental=False),
        "run": lambda: model.run(text, one_head),
        "score": lambda: score_heads(result.attentions, ids, delimiter_ids=delimiters),
        "types_full": lambda: model_head_types(model, text),
    }
    n, warmup = reps
    log(f"  sweep {name} T={num_tokens}: {n} reps, {len(plans)} heads")
    times = time_interleaved(variants, reps=n, warmup=warmup)
    swept = sweeps.head_importance(model, text, whole_layers=False)
    looped = loop()
    row = {"model": name, "T": num_tokens, "reps": n, "heads": len(plans)}
    row |= {f"{key}_ms": summarize(t)["median_ms"] for key, t in times.items()}
    row["sweep_s"] = row["sweep_ms"] / 1000
    row["sweep/loop"] = _paired(times, "sweep", "loop")
    row["sweep/loop_full"] = _paired(times, "sweep", "loop_full")
    row["score/run"] = _paired(times, "score", "run")
    row["max_diff"] = max(abs(c.value - v) for c, v in zip(swept.cells, looped, strict=True))
    row["spread_ms"] = {key: summarize(t) for key, t in times.items()}
    return row


def run_suite(
    models: Iterable[str] = ("minilm",),
    tokens: Iterable[int] = TOKENS,
    reps: Callable[[int], tuple[int, int]] = default_reps,
    log: Callable[[str], None] = print,
) -> list[dict]:
    """Return one row per model and T."""
    rows = []
    for name in models:
        log(f"loading {name}")
        model = load_ours(name)
        rows += [measure_one(model, name, T, reps(T), log) for T in tokens]
    return rows
