"""What one user may ask of a shared server, and what it keeps cached, in one place. Pure: no Streamlit.

Each limit in ``Limits`` has a default fit for a classroom server and can be set by an environment variable
when the app starts, e.g. ``MASKATTN_MAX_TOKENS=128 streamlit run app.py``. A value that is not valid is
reported on the server's console and in every page, naming the variable, and the app stops there rather than
running with a limit nobody chose. The constants below them are fixed by what the pages are built for.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, fields

PREFIX = "MASKATTN_"

# The biggest grid the painter draws (one gesture's message stays small): the most tokens a run keeps.
MAX_GRID_SIDE = 512
# The Mask Lab: its own small inputs, and the longest text it steps through one real head for.
LAB_MAX_TOKENS = 16
LAB_TEXT_CHARS = 200
TRACE_MAX_TOKENS = 32
TRACE_TEXT_CHARS = 500


@dataclass(frozen=True)
class Limits:
    """The limits; each field ``name`` is read from the environment variable ``MASKATTN_<NAME>``."""

    # Typed or linked text beyond this is cut before tokenizing.
    max_text_chars: int = 5_000
    # Tokens a run keeps (the rest is dropped, with a note); at most the painter's largest grid.
    max_tokens: int = MAX_GRID_SIDE
    # An imported plan file or a decoded link larger than this is refused.
    max_plan_bytes: int = 256_000
    # Larger models are refused from their config, before any weights are downloaded or read (2 GB float32).
    max_model_parameters: int = 500_000_000
    # False: only the bundled model; neither a link nor the sidebar can make the server load another.
    allow_custom_models: bool = True
    # CPU threads one run's forward may use. A server answers its sessions side by side, one script thread
    # each: more threads per run only compete with the other sessions' runs (and the browser's, on a laptop).
    torch_threads: int = 1
    # Models kept loaded at once, shared by every session.
    cached_models: int = 4
    # Masked runs kept, shared by every session (each up to L·H·T² floats: 75 MB for MiniLM at T=512).
    cached_runs: int = 32
    # The Mask Lab's step-throughs of one head, and its first-layer inputs of a text (small: T <= 32).
    cached_traces: int = 64
    cached_lab_inputs: int = 32
    # Runs of the seed document's example on the Learn page (one per seed and mode).
    cached_seed_examples: int = 8
    # The Explorer's finished sweeps (small: one number and one plan per cell) and head-type scores.
    cached_sweeps: int = 32
    cached_head_types: int = 32

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if field.type == "int" and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"{PREFIX}{field.name.upper()} must be a positive integer, got {value!r}")
        if self.max_tokens > MAX_GRID_SIDE:
            raise ValueError(
                f"{PREFIX}MAX_TOKENS must be at most {MAX_GRID_SIDE} (the painter's largest grid)"
            )


def _parse(name: str, kind: str, raw: str) -> int | bool:
    variable = f"{PREFIX}{name.upper()}"
    if kind == "bool":
        words = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}
        if raw.strip().lower() not in words:
            raise ValueError(f"{variable} must be true or false, got {raw!r}")
        return words[raw.strip().lower()]
    try:
        return int(raw.replace("_", ""))
    except ValueError:
        raise ValueError(f"{variable} must be a positive integer, got {raw!r}") from None


def read_limits(environ: Mapping[str, str] = os.environ) -> Limits:
    """Return the defaults, overridden by any ``MASKATTN_<NAME>`` variable in ``environ``."""
    values = {
        field.name: _parse(field.name, field.type, environ[f"{PREFIX}{field.name.upper()}"])
        for field in fields(Limits)
        if f"{PREFIX}{field.name.upper()}" in environ
    }
    return Limits(**values)


try:
    LIMITS = read_limits()
    PROBLEM: str | None = None
except ValueError as err:
    LIMITS, PROBLEM = Limits(), str(err)
    print(f"maskattn: {PROBLEM}", file=sys.stderr)
