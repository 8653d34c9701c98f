"""Masked runs from the shared cache, each saying whether the cache already held it.

``ui.models.run_cached`` is a ``st.cache_resource``: a hit hands back the very object a miss stored, and a
miss makes a new one. So a run this server has handed out before came from the cache. The record holds
weak references only: a run the cache drops is forgotten with it.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass

from maskattn import RunResult

from .models import run_cached

_HANDED_OUT: weakref.WeakValueDictionary[int, RunResult] = weakref.WeakValueDictionary()
_LOCK = threading.Lock()


@dataclass(frozen=True)
class CachedRun:
    result: RunResult
    hit: bool  # True: the cache held it (no model ran for this call)


def was_handed_out(result: RunResult) -> bool:
    """Return whether ``result`` was handed out before, and remember it as handed out from now on."""
    with _LOCK:
        seen = _HANDED_OUT.get(id(result)) is result
        _HANDED_OUT[id(result)] = result
    return seen


def cached_run(name: str, text: str, plan_key: str) -> CachedRun:
    """Return the masked run of ``text`` under the plan ``plan_key`` (cached), and whether it was a hit."""
    result = run_cached(name, text, plan_key)
    return CachedRun(result, was_handed_out(result))
