"""How the server is set up to answer many sessions cheaply: torch's threads, and the garbage collector.

Measured by ``python -m benchmarks --suite classroom`` (server CPU per edit); these check the settings hold.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_runs_use_the_threads_the_server_is_given_and_a_model_load_freezes_the_heap():
    # In a fresh interpreter: importing ui.models applies MASKATTN_TORCH_THREADS, and a load's heap freeze
    # takes the libraries' objects (hundreds of thousands) out of later full collections.
    code = (
        "import gc, torch, ui.models as m; before = gc.get_freeze_count(); m._freeze_heap(); "
        "print(torch.get_num_threads(), before, gc.get_freeze_count() > 100_000)"
    )
    env = {**os.environ, "MASKATTN_TORCH_THREADS": "3", "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["3", "0", "True"]


def test_streamlit_does_not_collect_the_whole_heap_after_every_run():
    # Streamlit's default (runner.postScriptGC) is a gc.collect(2) after each run: ~0.4 CPU-s per edit with
    # torch, transformers and plotly loaded, half of what a paint cost the server.
    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    assert config["runner"]["postScriptGC"] is False
