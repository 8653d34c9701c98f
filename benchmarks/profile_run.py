"""Where the time of an edit goes: cProfile of ``MaskedModel.run`` and of one Explorer rerun, torch op tables.

- ``library``: ``run(text, busy plan parsed fresh)`` under cProfile, split into phases (tokenize, plan
  parsing and compilation, the forward and its attention kernel, attentions to CPU, result building, the
  effect against the cached baseline), in ms per run and share of the whole run.
- ``ops``: torch.profiler's top operators by self CPU time, for our forward and for HF eager with attentions.
- ``explorer``: the Explorer page script (``pages/explorer.py``) rerun under Streamlit's ``AppTest``
  after a one-cell plan edit, like a paint; the script thread is profiled and its time split by the page's
  sections. This is the server side of an edit (no browser, no websocket).

cProfile slows Python-heavy code more than torch kernels, so read shares, not absolute times; the
``unprofiled_ms`` columns are measured without it.
"""

from __future__ import annotations

import cProfile
import logging
import pstats
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.models import hf_forward, load_trio
from benchmarks.plans import busy_plan
from benchmarks.texts import text_of_tokens
from benchmarks.timing import percentile

REPO_ROOT = Path(__file__).resolve().parents[1]
EXPLORER = "explorer.py"  # the page script: pages/explorer.py
_PAGE = "/" + EXPLORER  # how its functions' file names end

# label -> (path suffix, function name); nested labels are parts of the one above them.
LIBRARY_PHASES = {
    "tokenize": ("maskattn/engine.py", "tokenize"),
    "plan from_json": ("maskattn/plan.py", "from_json"),
    "plan compile": ("maskattn/plan.py", "compile"),
    "forward (_forward)": ("maskattn/engine.py", "_forward"),
    "  attention adapter (maskattn_attention)": ("maskattn/adapter.py", "maskattn_attention"),
    "    kernel (masked_attention)": ("maskattn/attention.py", "masked_attention"),
    "forward from a layer (_forward_from)": ("maskattn/engine.py", "_forward_from"),
    "attentions stack + .cpu() (_attentions)": ("maskattn/engine.py", "_attentions"),
    "result building (_result)": ("maskattn/engine.py", "_result"),
    "  token strings (decode per token)": ("maskattn/engine.py", "token_strings"),
    "effect vs baseline (with_effect)": ("maskattn/results.py", "with_effect"),
    "baseline lookup (_baseline)": ("maskattn/engine.py", "_baseline"),
    "baseline result (_baseline_result)": ("maskattn/engine.py", "_baseline_result"),
}
EXPLORER_PHASES = {
    "run_cached → MaskedModel.run": ("ui/models.py", "run_cached"),
    "model.baseline (cached)": ("maskattn/engine.py", "baseline"),
    "token_painter": (_PAGE, "token_painter"),
    "head_painter": (_PAGE, "head_painter"),
    "overview_tab": (_PAGE, "overview_tab"),
    "  overview_data": ("ui/head_overview.py", "overview_data"),
    "compare_tab": (_PAGE, "compare_tab"),
    "  focus_figure": ("maskattn/figures.py", "focus_figure"),
    "  figure_html (download button)": ("maskattn/figures.py", "figure_html"),
    "  result_allow (plan compile)": (_PAGE, "result_allow"),
    "effect_tab": (_PAGE, "effect_tab"),
    "  token_change_figure": ("maskattn/figures.py", "token_change_figure"),
    "plan_tab": (_PAGE, "plan_tab"),
    "  attentions_npz (download button)": (_PAGE, "attentions_npz"),
    "st.plotly_chart (all charts)": ("streamlit/elements/plotly_chart.py", "plotly_chart"),
    "sync_link": (_PAGE, "sync_link"),
}


def _phase_rows(stats: pstats.Stats, phases: dict, calls: int, total_label: str, total_key) -> list[dict]:
    """Return ``[{phase, ms, share}]``: cumulative time per call of ``calls`` for each phase found."""
    cumulative: dict[tuple[str, str], float] = {}
    for (filename, _line, function), (_cc, _nc, _tt, ct, _callers) in stats.stats.items():
        for suffix, name in phases.values():
            if function == name and filename.endswith(suffix):
                cumulative[(suffix, name)] = cumulative.get((suffix, name), 0.0) + ct
    total = next(
        (
            ct
            for (f, _l, fn), (_cc, _nc, _tt, ct, _c) in stats.stats.items()
            if (f.endswith(total_key[0]) and fn == total_key[1])
        ),
        None,
    )
    rows = [{"phase": total_label, "ms": (total or 0.0) * 1000 / calls, "share": 1.0}]
    for label, key in phases.items():
        if key in cumulative:
            ms = cumulative[key] * 1000 / calls
            rows.append({"phase": label, "ms": ms, "share": ms / rows[0]["ms"] if rows[0]["ms"] else 0.0})
    return rows


def profile_library(model_name: str = "minilm", num_tokens: int = 128, runs: int = 10) -> dict:
    """Return the phase split of ``run`` and the torch op tables (ours vs HF eager) at T."""
    from maskattn import MaskPlan

    trio = load_trio(model_name)
    ours = trio.ours
    text = text_of_tokens(trio.tokenizer, num_tokens)
    key = busy_plan(ours.num_layers, ours.num_heads, num_tokens).key()
    input_ids, _ = ours.tokenize(text)
    for _ in range(2):
        ours.run(text, MaskPlan.from_json(key))  # baseline cached, code paths warm
    unprofiled = []
    for _ in range(runs):
        start = time.perf_counter()
        ours.run(text, MaskPlan.from_json(key))
        unprofiled.append((time.perf_counter() - start) * 1000)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(runs):
        ours.run(text, MaskPlan.from_json(key))
    profiler.disable()
    phases = _phase_rows(
        pstats.Stats(profiler), LIBRARY_PHASES, runs, "MaskedModel.run", ("maskattn/engine.py", "run")
    )
    return {
        "model": model_name,
        "T": num_tokens,
        "runs": runs,
        "unprofiled_ms": percentile(unprofiled, 50),
        "phases": phases,
        "ops_ours": _top_ops(lambda: ours.forward(input_ids, MaskPlan.from_json(key))),
        "ops_eager": _top_ops(lambda: hf_forward(trio.eager, input_ids, attentions=True)),
    }


def _top_ops(call: Callable[[], object], runs: int = 5, top: int = 12) -> list[dict]:
    """Return the ``top`` torch operators by self CPU time per call of ``call``."""
    from torch.profiler import ProfilerActivity, profile

    call()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(runs):
            call()
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)[:top]
    return [
        {"op": e.key, "self_ms": e.self_cpu_time_total / 1000 / runs, "calls": e.count // runs}
        for e in events
    ]


def profile_explorer(num_tokens: int = 128, reruns: int = 5) -> dict:
    """Return the Explorer script's rerun time after a one-cell edit, split by the page's sections."""
    from streamlit.testing.v1 import AppTest
    from transformers import AutoTokenizer

    from maskattn import MaskPlan, rule
    from maskattn.loading import default_model_path
    from ui.page_state import EXPLORER_KEY

    # Setting session state from the test thread makes Streamlit warn "missing ScriptRunContext" each time.
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").setLevel(logging.ERROR)
    text = text_of_tokens(AutoTokenizer.from_pretrained(default_model_path()), num_tokens)
    # The entry point: the Explorer is its default page, and the pages draw links relative to it.
    app = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=600)
    app.query_params["text"] = text
    app.run()
    if app.exception:
        raise RuntimeError(f"the Explorer raised: {[e.value for e in app.exception]}")

    def edit(i: int) -> None:
        # A new one-cell paint each time, so every rerun recomputes (no cache hit), like a browser paint.
        cell = [1 + i % (num_tokens - 2), 1 + (3 * i + 1) % (num_tokens - 2)]
        plan = MaskPlan((rule([0], [0], block={"cells": [cell]}, label="paint"),))
        app.session_state[EXPLORER_KEY] = app.session_state[EXPLORER_KEY].with_plan(plan)
        app.run()

    edit(0)
    unprofiled = []
    for i in range(1, reruns + 1):
        start = time.perf_counter()
        edit(i)
        unprofiled.append((time.perf_counter() - start) * 1000)
    profiles: list[cProfile.Profile] = []

    def start_profiling(frame, event, arg):  # first event in each new thread: profile that thread
        sys.setprofile(None)
        profiler = cProfile.Profile()
        profiles.append(profiler)
        profiler.enable()

    for i in range(reruns + 1, 2 * reruns + 1):
        threading.setprofile(start_profiling)
        try:
            edit(i)
        finally:
            threading.setprofile(None)
            for profiler in profiles:
                profiler.disable()
    stats = pstats.Stats(profiles[0])
    for profiler in profiles[1:]:
        stats.add(profiler)
    phases = _phase_rows(stats, EXPLORER_PHASES, reruns, "explorer script rerun", (_PAGE, "main"))
    return {"T": num_tokens, "reruns": reruns, "unprofiled_ms": percentile(unprofiled, 50), "phases": phases}


def run_suite(
    tokens: tuple[int, ...] = (32, 128), runs: int = 10, log: Callable[[str], None] = print
) -> dict[str, list[dict]]:
    """Return ``{"library": [...], "explorer": [...]}`` profiles at each T (default model)."""
    out: dict[str, list[dict]] = {"library": [], "explorer": []}
    for T in tokens:
        log(f"  profile run() T={T}")
        out["library"].append(profile_library("minilm", T, runs))
        log(f"  profile Explorer rerun T={T}")
        out["explorer"].append(profile_explorer(T, max(2, runs // 2)))
    return out
