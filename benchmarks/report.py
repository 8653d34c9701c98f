"""Plain-text tables and the results file: ``benchmarks/results/<name>.json``."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"
Column = tuple[str, str, str]  # (row key, header, format spec)


def _cell(value: Any, spec: str) -> str:
    if value is None:
        return "–"
    if isinstance(value, float | int) and not isinstance(value, bool):
        return format(value, spec)
    return str(value)


def format_table(rows: Sequence[dict], columns: Sequence[Column], title: str = "") -> str:
    """Return ``rows`` as an aligned text table with the given columns (missing values show as '–')."""
    header = [h for _, h, _ in columns]
    body = [[_cell(row.get(key), spec) for key, _, spec in columns] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h) for i, h in enumerate(header)]
    lines = [title] if title else []
    lines.append("  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True)))
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in body]
    return "\n".join(lines)


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _git_commit() -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=RESULTS_DIR.parent, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def environment() -> dict[str, Any]:
    """Return what the numbers depend on: versions, CPU, threads, load, commit, time."""
    import torch

    return {
        "time_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "git_commit": _git_commit(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": "cpu",
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "versions": {p: _version(p) for p in ("torch", "transformers", "streamlit", "plotly", "numpy")},
    }


def load(name: str) -> dict[str, Any]:
    """Return the suites stored in ``results/<name>.json`` ({} when there is none or it is unreadable)."""
    path = RESULTS_DIR / f"{name}.json"
    try:
        return json.loads(path.read_text()).get("suites", {})
    except (OSError, json.JSONDecodeError):
        return {}


def save(name: str, suites: dict[str, Any], meta: dict[str, Any]) -> Path:
    """Write ``{"last_run": meta, "suites": suites}`` to ``results/<name>.json`` and return its path."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"last_run": meta, "suites": suites}, indent=1, ensure_ascii=False) + "\n")
    tmp.replace(path)
    return path


def rounded(value: Any, digits: int = 4) -> Any:
    """Return ``value`` with every float rounded to ``digits`` significant digits (small result files)."""
    if isinstance(value, float):
        return float(f"{value:.{digits}g}")
    if isinstance(value, dict):
        return {k: rounded(v, digits) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [rounded(v, digits) for v in value]
    return value
