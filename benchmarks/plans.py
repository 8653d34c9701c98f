"""The mask plans the benchmarks run: busy (blocks, presets, gates on several layers) and last layer only."""

from __future__ import annotations

from maskattn import MaskPlan, rule
from maskattn.plan import COMPILED_CACHE_SIZE


def busy_plan(num_layers: int, num_heads: int, num_tokens: int) -> MaskPlan:
    """Return a plan like a busy Explorer session: painted cells, two presets, gates, on several layers."""
    last, mid = num_layers - 1, num_layers // 2
    t = num_tokens
    cells = sorted({(t - 1, 0), (t // 2, t // 4), (t // 3, 1)})
    return MaskPlan(
        (
            rule([0], "all", block={"keys": [1], "cells": [list(c) for c in cells]}, label="paint"),
            rule([min(1, last)], [0, min(1, num_heads - 1)], allow={"preset": "sliding_window", "size": 4}),
            rule([mid], "all", allow={"preset": "causal"}),
            rule("all", [num_heads // 2], block={"queries": [min(2, t - 1)]}, label="paint"),
            rule([last], [0, num_heads - 1], gate=0.0),
            rule([mid], [min(1, num_heads - 1)], gate=0.5),
        )
    )


def last_layer_plan(num_layers: int) -> MaskPlan:
    """Return a plan that touches only the last layer (what an incremental recompute can exploit)."""
    return MaskPlan((rule([num_layers - 1], "all", block={"keys": [1]}, label="paint"),))


def edit_plans(num_layers: int, num_heads: int, num_tokens: int) -> list[MaskPlan]:
    """Return busy plans that each paint one more, different cell: one per edit, more of them than the
    compiled-plan cache holds, so a cycle through them compiles each plan anew, as an edit in the app does."""
    busy = busy_plan(num_layers, num_heads, num_tokens)
    count = COMPILED_CACHE_SIZE + 8
    cells = [divmod(i * 7919 % num_tokens**2, num_tokens) for i in range(count)]  # distinct while count ≤ T²
    if len(set(cells)) < count:
        raise ValueError(f"{num_tokens} tokens have fewer than {count} cells to paint")
    return [busy.with_rules(rule([0], "all", block={"cells": [list(cell)]}, label="paint")) for cell in cells]
