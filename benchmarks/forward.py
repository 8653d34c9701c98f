"""(a) Cost of a masked run against Hugging Face eager (with attentions) and sdpa; (e) incremental recompute.

All variants of one (model, T) are timed interleaved in the same process (``timing.time_interleaved``), and
every ratio is the median of per-round ratios, so machine drift cancels. ``run()`` computes the unmasked
baseline once per text and caches it; it is warmed before timing, so ``run_*`` columns are the steady state of
an edit on an unchanged text.
"""

from __future__ import annotations

import inspect
import itertools
import statistics
from collections.abc import Callable, Iterable

import torch

from benchmarks.models import MODEL_NAMES, ModelTrio, hf_forward, load_trio
from benchmarks.plans import busy_plan, edit_plans, last_layer_plan
from benchmarks.texts import text_of_tokens
from benchmarks.timing import summarize, time_interleaved
from maskattn import MaskedModel, MaskPlan

TOKENS = (16, 32, 128, 512)

# Column -> what it times (README.md repeats this).
VARIANTS = {
    "hf_sdpa": "HF sdpa forward, no attentions returned",
    "hf_eager_attn": "HF eager forward with output_attentions=True",
    "fwd_empty": "our forward (MaskedModel.forward) with the empty plan",
    "fwd_busy": "our forward with the busy plan (compiled masks cached on the plan)",
    "run_empty": "MaskedModel.run(text, empty plan) as the app calls it (incremental: the cached run)",
    "run_empty_full": "MaskedModel.run(text, empty plan, incremental=False): tokenize, forward, RunResult",
    "run_busy": "MaskedModel.run(text, busy plan parsed fresh from JSON, like the app): + compile + effect",
    "run_edit": "run as after an edit: each call a new plan (the busy one + a cell), compiled anew",
    "compile_busy": "MaskPlan.from_json(busy).compile(L, H, T) alone",
}
RATIOS = {
    "fwd_empty/eager": ("fwd_empty", "hf_eager_attn"),
    "run_empty_full/eager": ("run_empty_full", "hf_eager_attn"),
    "fwd_busy/eager": ("fwd_busy", "hf_eager_attn"),
    "run_busy/eager": ("run_busy", "hf_eager_attn"),
    "run_busy/sdpa": ("run_busy", "hf_sdpa"),
    "run_edit/sdpa": ("run_edit", "hf_sdpa"),
}


def default_reps(num_tokens: int) -> tuple[int, int]:
    """Return ``(reps, warmup)`` for T: fewer repetitions where one call takes a quarter second."""
    return (5, 1) if num_tokens >= 512 else (20, 2)


def paired_ratio(times: dict[str, list[float]], top: str, bottom: str) -> float:
    """Return the median over rounds of ``top / bottom`` (both measured in the same round)."""
    return statistics.median(a / b for a, b in zip(times[top], times[bottom], strict=True))


def has_incremental(model: MaskedModel) -> bool:
    """Return whether ``model.run`` takes ``incremental=`` (being added by another change)."""
    return "incremental" in inspect.signature(model.run).parameters


def _variants(trio: ModelTrio, text: str, input_ids: torch.Tensor, busy: MaskPlan) -> dict[str, Callable]:
    ours, empty, busy_key = trio.ours, MaskPlan(), busy.key()
    full = {"incremental": False} if has_incremental(ours) else {}
    L, H, T = ours.num_layers, ours.num_heads, input_ids.shape[1]
    edits = itertools.cycle([plan.key() for plan in edit_plans(L, H, T)])
    return {
        "hf_sdpa": lambda: hf_forward(trio.sdpa, input_ids, attentions=False),
        "hf_eager_attn": lambda: hf_forward(trio.eager, input_ids, attentions=True),
        "fwd_empty": lambda: ours.forward(input_ids, empty),
        "fwd_busy": lambda: ours.forward(input_ids, busy),
        "run_empty": lambda: ours.run(text, empty),
        "run_empty_full": lambda: ours.run(text, empty, **full),
        "run_busy": lambda: ours.run(text, MaskPlan.from_json(busy_key)),
        "run_edit": lambda: ours.run(text, MaskPlan.from_json(next(edits))),
        "compile_busy": lambda: MaskPlan.from_json(busy_key).compile(L, H, T, device=ours.device),
    }


def _max_diff_vs_eager(trio: ModelTrio, input_ids: torch.Tensor) -> float:
    """Return max |ours − eager| of the last hidden state under the empty plan (a check that both agree)."""
    ours_hidden, _, _ = trio.ours.forward(input_ids, MaskPlan())
    eager_hidden = hf_forward(trio.eager, input_ids, attentions=True)
    return float((ours_hidden - eager_hidden).abs().max())


def measure_model(
    trio: ModelTrio, tokens: Iterable[int], reps: Callable[[int], tuple[int, int]], log: Callable[[str], None]
) -> list[dict]:
    """Return one row per T: medians of every variant and the paired ratios."""
    rows = []
    ours = trio.ours
    for T in tokens:
        text = text_of_tokens(trio.tokenizer, T)
        input_ids, _ = ours.tokenize(text)
        if input_ids.shape[1] != T:
            raise ValueError(f"{trio.name}: the text has {input_ids.shape[1]} tokens, wanted {T}")
        busy = busy_plan(ours.num_layers, ours.num_heads, T)
        ours.run(text, busy)  # caches the unmasked baseline: the rows below are the steady state
        n, warmup = reps(T)
        log(f"  forward {trio.name} T={T}: {n} reps")
        times = time_interleaved(_variants(trio, text, input_ids, busy), reps=n, warmup=warmup)
        row = {"model": trio.name, "T": T, "reps": n}
        row |= {f"{name}_ms": summarize(t)["median_ms"] for name, t in times.items()}
        row |= {name: paired_ratio(times, a, b) for name, (a, b) in RATIOS.items()}
        row["max_diff_vs_eager"] = _max_diff_vs_eager(trio, input_ids)
        row["spread_ms"] = {name: summarize(t) for name, t in times.items()}
        rows.append(row)
    return rows


def measure_incremental(
    trio: ModelTrio, tokens: Iterable[int], reps: Callable[[int], tuple[int, int]], log: Callable[[str], None]
) -> list[dict]:
    """Return one row per T: ``run`` with a last-layer plan, incremental on vs off ([] if unsupported)."""
    ours = trio.ours
    if not has_incremental(ours):
        return []
    rows = []
    for T in tokens:
        text = text_of_tokens(trio.tokenizer, T)
        key = last_layer_plan(ours.num_layers).key()
        full = ours.run(text, MaskPlan.from_json(key), incremental=False)
        fast = ours.run(text, MaskPlan.from_json(key), incremental=True)
        n, warmup = reps(T)
        log(f"  incremental {trio.name} T={T}: {n} reps")
        times = time_interleaved(
            {
                "full": lambda text=text, key=key: ours.run(text, MaskPlan.from_json(key), incremental=False),
                "incremental": lambda text=text, key=key: ours.run(
                    text, MaskPlan.from_json(key), incremental=True
                ),
            },
            reps=n,
            warmup=warmup,
        )
        rows.append(
            {
                "model": trio.name,
                "T": T,
                "reps": n,
                "full_ms": summarize(times["full"])["median_ms"],
                "incremental_ms": summarize(times["incremental"])["median_ms"],
                "incremental/full": paired_ratio(times, "incremental", "full"),
                "max_diff": float((full.attentions - fast.attentions).abs().max()),
            }
        )
    return rows


def run_suite(
    models: Iterable[str] = MODEL_NAMES,
    tokens: Iterable[int] = TOKENS,
    reps: Callable[[int], tuple[int, int]] = default_reps,
    log: Callable[[str], None] = print,
    incremental: bool = True,
) -> dict[str, list[dict]]:
    """Return ``{"forward": rows, "incremental": rows}`` for every model and T (one model at a time)."""
    tokens = tuple(tokens)
    out: dict[str, list[dict]] = {"forward": [], "incremental": []}
    for name in models:
        log(f"loading {name}")
        trio = load_trio(name)
        out["forward"] += measure_model(trio, tokens, reps, log)
        if incremental:
            out["incremental"] += measure_incremental(trio, tokens, reps, log)
        del trio
    return out
