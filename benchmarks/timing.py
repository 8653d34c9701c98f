"""Interleaved timing: every variant runs once per round, in rotating order, so drift hits all alike."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping


def percentile(values: list[float], q: float) -> float:
    """Return the ``q``-th percentile (0..100) of ``values`` by linear interpolation."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def summarize(seconds: list[float]) -> dict[str, float]:
    """Return median, p10, p90 and min of ``seconds``, in milliseconds."""
    ms = [s * 1000 for s in seconds]
    return {
        "median_ms": statistics.median(ms),
        "p10_ms": percentile(ms, 10),
        "p90_ms": percentile(ms, 90),
        "min_ms": min(ms),
    }


def time_interleaved(
    variants: Mapping[str, Callable[[], object]], *, reps: int, warmup: int = 1
) -> dict[str, list[float]]:
    """Return the seconds of ``reps`` calls of each variant, measured round by round in a rotating order.

    Each round calls every variant once; round ``r`` starts at variant ``r mod n``, so no variant always runs
    right after the same neighbour (caches, allocator state). ``warmup`` untimed rounds come first.
    """
    if reps < 1:
        raise ValueError(f"reps must be >= 1, got {reps}")
    names = list(variants)
    for _ in range(warmup):
        for name in names:
            variants[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(reps):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            variants[name]()
            times[name].append(time.perf_counter() - start)
    return times
