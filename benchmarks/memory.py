"""(d) Peak memory of one call at T = 512: resident-set growth, measured in a fresh process per model.

Each model is measured in its own child process (``python -m benchmarks.memory --probe MODEL T``), so the
parent's models and allocations do not count. In the child, for each variant: one warm-up call, then the
kernel's peak-RSS counter is reset (``/proc/self/clear_refs`` = 5, Linux ≥ 4.0) and the variant runs once;
``peak_mb`` = VmHWM − VmRSS before the call, i.e. the most memory the call had resident at once beyond what
was already there (weights, cached baselines). ``kept_mb`` is what is still resident while the result is held.
The child runs with ``MALLOC_MMAP_THRESHOLD_=65536`` so glibc hands large freed blocks back to the kernel at
once; without it, memory freed by the warm-up would be reused silently and the peak would read low. For
the same reason maskattn's pool of large result buffers (``maskattn.buffers``) is emptied before each call.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
PROBE_PREFIX = "MEMORY-ROWS "
VARIANTS = ("hf_sdpa", "hf_eager_attn", "fwd_busy", "run_busy", "run_new_text")


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")


def tensor_mb(obj: object, seen: set[int] | None = None) -> float:
    """Return the megabytes held by the tensors in ``obj`` (a tensor, a RunResult's fields, tuples, dicts).

    A tensor reachable twice (a result's ``attentions`` is also its default stack's entry) counts once.
    """
    seen = set() if seen is None else seen
    if isinstance(obj, torch.Tensor):
        if id(obj) in seen:
            return 0.0
        seen.add(id(obj))
        return obj.numel() * obj.element_size() / 1e6
    if isinstance(obj, dict):
        return sum(tensor_mb(v, seen) for v in obj.values())
    if isinstance(obj, tuple | list):
        return sum(tensor_mb(v, seen) for v in obj)
    if hasattr(obj, "__dataclass_fields__"):
        return sum(tensor_mb(getattr(obj, name), seen) for name in obj.__dataclass_fields__)
    return 0.0


def probe(model_name: str, num_tokens: int) -> list[dict]:
    """Return the memory rows of one model at T (run inside the child process)."""
    from benchmarks.models import hf_forward, load_trio
    from benchmarks.plans import busy_plan
    from benchmarks.texts import text_of_tokens
    from maskattn import MaskPlan
    from maskattn.buffers import RESULT_BUFFERS

    trio = load_trio(model_name)
    ours = trio.ours
    text = text_of_tokens(trio.tokenizer, num_tokens)
    input_ids, _ = ours.tokenize(text)
    busy_key = busy_plan(ours.num_layers, ours.num_heads, num_tokens).key()
    fresh_texts = iter(text_of_tokens(trio.tokenizer, num_tokens, start=k) for k in range(1, 100))
    calls: dict[str, Callable[[], object]] = {
        "hf_sdpa": lambda: hf_forward(trio.sdpa, input_ids, attentions=False),
        "hf_eager_attn": lambda: hf_forward(trio.eager, input_ids, attentions=True),
        "fwd_busy": lambda: ours.forward(input_ids, MaskPlan.from_json(busy_key)),
        "run_busy": lambda: ours.run(text, MaskPlan.from_json(busy_key)),
        # A text seen for the first time: the unmasked baseline is computed (and cached) too.
        "run_new_text": lambda: ours.run(next(fresh_texts), MaskPlan.from_json(busy_key)),
    }
    rows = []
    for variant in VARIANTS:
        calls[variant]()  # warm-up (and, for run_busy, the cached baseline of `text`)
        gc.collect()
        RESULT_BUFFERS.clear()  # the warm-up's freed result memory would be reused unseen: count it afresh
        before = _status_kb("VmRSS")
        _reset_peak()
        result = calls[variant]()
        peak = _status_kb("VmHWM")
        held = _status_kb("VmRSS")
        rows.append(
            {
                "model": model_name,
                "T": num_tokens,
                "variant": variant,
                "peak_mb": (peak - before) / 1000,
                "kept_mb": (held - before) / 1000,
                "result_mb": tensor_mb(result),
                "rss_before_mb": before / 1000,
            }
        )
        del result
        gc.collect()
    return rows


def run_suite(
    models: Iterable[str] | None = None, num_tokens: int = 512, log: Callable[[str], None] = print
) -> list[dict]:
    """Return the memory rows of every model at ``num_tokens``, one child process per model."""
    from benchmarks.models import MODEL_NAMES

    if not Path("/proc/self/clear_refs").exists():
        raise RuntimeError("the memory benchmark needs Linux (/proc/self/clear_refs to reset the peak RSS)")
    env = {
        **os.environ,
        "MALLOC_MMAP_THRESHOLD_": "65536",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
    }
    rows = []
    for name in models or MODEL_NAMES:
        log(f"  memory {name} T={num_tokens}")
        command = [sys.executable, "-m", "benchmarks.memory", "--probe", name, str(num_tokens)]
        done = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900)
        lines = [x for x in done.stdout.splitlines() if x.startswith(PROBE_PREFIX)]
        if done.returncode != 0 or not lines:
            raise RuntimeError(f"memory probe {name} failed ({done.returncode}):\n{done.stderr[-3000:]}")
        rows += json.loads(lines[-1][len(PROBE_PREFIX) :])
    return rows


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--probe":
        print(PROBE_PREFIX + json.dumps(probe(sys.argv[2], int(sys.argv[3]))), flush=True)
    else:
        raise SystemExit("usage: python -m benchmarks.memory --probe MODEL T  (run by benchmarks.run)")
