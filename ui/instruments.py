"""The Explorer's research instruments as plain data and pure functions: sweep settings, their cache, what a
click on a sweep's cell does to the Explorer's state, and head-type labels for the overview. No Streamlit.

A sweep is a pure function of (model, text, plan, settings), so ``sweep_key`` of those four is its cache key
(``SweepStore``); ``run_sweep`` runs one. A cell's plan is the Explorer's plan with the cell's ablation added
(``maskattn.sweeps`` builds it), so applying a cell is ``ExplorerState.with_plan``: undoable like any edit.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from maskattn import (
    HeadTypes,
    MaskedModel,
    MaskPlan,
    Metric,
    embedding_distance,
    kl_at,
    logit_difference,
    sweeps,
)
from maskattn.head_types import TYPES
from maskattn.progress import Progress

from .page_state import ExplorerState

SweepKind = Literal["head_importance", "attention_knockout", "preset_sweep"]
SWEEP_KINDS: tuple[SweepKind, ...] = ("head_importance", "attention_knockout", "preset_sweep")

# The presets a parameter sweep steps through, and which of their parameters it steps.
SWEPT_PARAMETER: dict[str, str] = {
    "sliding_window": "size",
    "prefix_lm": "prefix_length",
    "dilated": "stride",
    "padding": "length",
    "random": "density",
}

# Short labels drawn on the overview's tiles: a few characters fit on a 40 px thumbnail.
BADGES: dict[str, str] = {
    "previous_token": "prev",
    "next_token": "next",
    "self_token": "self",
    "first_token": "sink",
    "delimiter": "sep",
    "broad": "broad",
    "duplicate_token": "dup",
    "induction": "ind",
}


@dataclass(frozen=True)
class SweepSettings:
    """What the user asked of one sweep: its kind, its metric and its options (plain, JSON-able values)."""

    kind: SweepKind
    metric: Metric
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in SWEEP_KINDS:
            raise ValueError(f"sweep kind must be one of {SWEEP_KINDS}, got {self.kind!r}")

    def key(self) -> str:
        return json.dumps(
            {"kind": self.kind, "metric": self.metric.to_dict(), "options": dict(self.options)},
            sort_keys=True,
        )


def sweep_key(model_name: str, text: str, plan_key: str, settings: SweepSettings, max_tokens: int) -> str:
    """Return the cache key of a sweep: everything its result depends on."""
    return json.dumps([model_name, text, plan_key, settings.key(), max_tokens])


def run_sweep(
    model: MaskedModel,
    text: str,
    plan: MaskPlan,
    settings: SweepSettings,
    *,
    progress: Progress | None = None,
    max_tokens: int | None = None,
) -> sweeps.SweepResult:
    """Return the sweep ``settings`` asks for on ``text``, measured on top of ``plan``."""
    o = dict(settings.options)
    common = {"metric": settings.metric, "plan": plan, "progress": progress, "max_tokens": max_tokens}
    if settings.kind == "head_importance":
        return sweeps.head_importance(
            model,
            text,
            ablation=o.get("ablation", "zero"),
            whole_layers=o.get("whole_layers", True),
            **common,
        )
    if settings.kind == "attention_knockout":
        return sweeps.attention_knockout(
            model, text, o["sources"], o["target"], window=o.get("window", 1), **common
        )
    return sweeps.preset_sweep(
        model,
        text,
        o["preset"],
        SWEPT_PARAMETER[o["preset"]],
        o.get("values"),
        layers=o.get("layers", "all"),
        heads=o.get("heads", "all"),
        **common,
    )


class SweepStore:
    """The most recent sweep results, shared by every session, by ``sweep_key`` (least recently used out)."""

    def __init__(self, max_entries: int) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}")
        self.max_entries = max_entries
        self._results: OrderedDict[str, sweeps.SweepResult] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> sweeps.SweepResult | None:
        with self._lock:
            result = self._results.get(key)
            if result is not None:
                self._results.move_to_end(key)
            return result

    def put(self, key: str, result: sweeps.SweepResult) -> None:
        with self._lock:
            self._results[key] = result
            self._results.move_to_end(key)
            while len(self._results) > self.max_entries:
                self._results.popitem(last=False)

    def __len__(self) -> int:
        return len(self._results)


def cached_sweep(
    store: SweepStore, key: str, compute: Callable[[], sweeps.SweepResult]
) -> tuple[sweeps.SweepResult, bool]:
    """Return ``(result, hit)``: the stored result for ``key``, else ``compute()``'s, stored once it finishes.

    A cancelled sweep raises out of ``compute`` and leaves nothing in the store.
    """
    found = store.get(key)
    if found is not None:
        return found, True
    result = compute()
    store.put(key, result)
    return result, False


# -- metrics the user can choose


def metric_kinds(model_kind: str) -> tuple[str, ...]:
    """Return the metric kinds that fit a model: embedding distance (encoders), KL or a logit gap (LMs)."""
    return ("embedding_distance",) if model_kind == "encoder" else ("kl", "logit_difference")


def token_id(tokenizer: Any, word: str) -> int:
    """Return the id of ``word`` as one token (with a leading space where the vocabulary marks word starts).

    ValueError when the word is empty or is several tokens: the logit difference compares two single tokens.
    """
    word = word.strip()
    if not word:
        raise ValueError("type a token for the logit difference")
    for form in (" " + word, word):
        ids = tokenizer(form, add_special_tokens=False)["input_ids"]
        if len(ids) == 1:
            return int(ids[0])
    raise ValueError(f"{word!r} is more than one token for this tokenizer; pick a shorter word")


def make_metric(kind: str, position: int, token_a: int | None = None, token_b: int | None = None) -> Metric:
    """Return the metric of the user's choice (ValueError for a kind that does not exist)."""
    if kind == "embedding_distance":
        return embedding_distance()
    if kind == "kl":
        return kl_at(position)
    if kind == "logit_difference":
        if token_a is None or token_b is None:
            raise ValueError("the logit difference needs two tokens")
        return logit_difference(position, token_a, token_b)
    raise ValueError(f"unknown metric kind {kind!r}")


def default_position(model: MaskedModel) -> int:
    """Return the position an LM metric reads by default (the prediction the Effect tab shows)."""
    return -2 if model.kind == "masked_lm" else -1


def preset_values(preset: str, num_tokens: int) -> list[Any]:
    """Return the values a parameter sweep of ``preset`` steps through on a text of ``num_tokens``."""
    if preset not in SWEPT_PARAMETER:
        raise ValueError(f"no parameter sweep for preset {preset!r}; known: {', '.join(SWEPT_PARAMETER)}")
    if SWEPT_PARAMETER[preset] == "density":
        return [round(0.1 * i, 2) for i in range(0, 11)]
    start = 1 if preset == "dilated" else 0
    return list(range(start, num_tokens + 1))


# -- a click on a cell


def cell_at(result: sweeps.SweepResult, coords: Mapping[str, Any]) -> sweeps.Cell:
    """Return the cell of ``result`` at ``coords`` (ValueError if the sweep has none there)."""
    for cell in result.cells:
        if all(cell.coords.get(k) == v for k, v in coords.items()):
            return cell
    raise ValueError(f"the sweep has no cell at {dict(coords)}")


def heatmap_coords(customdata: Any) -> dict[str, Any]:
    """Return the coords of a heatmap click's ``customdata=[layer, head]`` (head −1: the whole layer)."""
    layer, head = (int(v) for v in list(customdata)[:2])
    return {"layer": layer, "head": "all" if head < 0 else head}


def can_apply(cell: sweeps.Cell) -> bool:
    """Return whether the cell's ablation is a plan (mean ablation is not: plans hold masks and gates)."""
    return not cell.mean_ablate


def applied(state: ExplorerState, cell: sweeps.Cell) -> ExplorerState:
    """Return the Explorer's state with ``cell``'s plan (undoable) and the focus on the cell's head.

    ValueError for a mean-ablation cell: its ablation cannot be written as a plan.
    """
    if not can_apply(cell):
        raise ValueError("mean ablation is not part of a mask plan; it can be measured, not applied")
    new = state.with_plan(cell.plan)
    head = cell.coords.get("head")
    if "layer" in cell.coords:
        new = new.focused(cell.coords["layer"], head if isinstance(head, int) else state.focus[1])
    return new


def strongest(result: sweeps.SweepResult, count: int = 5) -> list[sweeps.Cell]:
    """Return the ``count`` cells with the largest effect in size, the largest first."""
    return sorted(result.cells, key=lambda c: abs(c.effect), reverse=True)[:count]


def describe_cell(cell: sweeps.Cell) -> str:
    """Return where a cell is, in words: "L3 h5", "L3 (whole layer)", "layers 2–4", "size = 3"."""
    coords = cell.coords
    if "last_layer" in coords:
        first, last = coords["layer"], coords["last_layer"]
        return f"L{first}" if first == last else f"L{first}–L{last}"
    if "layer" in coords:
        head = coords["head"]
        return f"L{coords['layer']} (whole layer)" if head == "all" else f"L{coords['layer']} h{head}"
    (name, value), *_ = coords.items()
    return f"{name.replace('_', ' ')} = {value}"


def layer_effects(result: sweeps.SweepResult, num_layers: int) -> np.ndarray | None:
    """Return ``(L,)`` effects of the whole-layer cells of a head sweep, or None when it has none."""
    cells = {c.coords["layer"]: c.effect for c in result.cells if c.coords.get("head") == "all"}
    if not cells:
        return None
    return np.array([cells.get(layer, np.nan) for layer in range(num_layers)], dtype=np.float32)


# -- head types on the overview


def type_badges(types: HeadTypes, threshold: float) -> np.ndarray:
    """Return ``(L, H)`` labels: each head's highest-scoring type if it reaches ``threshold``, else ""."""
    names = list(TYPES)
    scores = np.stack([types[name].numpy() for name in names])  # (K, L, H)
    best = scores.argmax(axis=0)  # (L, H)
    labels = np.array([BADGES[name] for name in names], dtype=object)[best]
    return np.where(scores.max(axis=0) >= threshold, labels, "").astype(object)


def type_hits(types: HeadTypes, name: str, threshold: float) -> np.ndarray:
    """Return ``(L, H)`` bool: the heads whose ``name`` score reaches ``threshold``."""
    return types[name].numpy() >= threshold


def type_notes(types: HeadTypes, before: HeadTypes | None = None) -> np.ndarray:
    """Return ``(L, H)`` hover lines: every type's score, with the unmasked score where it moved (≥ 0.05)."""
    grids = {name: types[name].numpy() for name in TYPES}
    olds = None if before is None else {name: before[name].numpy() for name in TYPES}
    L, H = next(iter(grids.values())).shape
    notes = np.empty((L, H), dtype=object)
    for layer in range(L):
        for head in range(H):
            parts = []
            for name in TYPES:
                score = grids[name][layer, head]
                text = f"{BADGES[name]} {score:.2f}"
                if olds is not None and abs(olds[name][layer, head] - score) >= 0.05:
                    text += f" (was {olds[name][layer, head]:.2f})"
                parts.append(text)
            notes[layer, head] = " · ".join(parts)
    return notes


def role_changes(
    before: HeadTypes, after: HeadTypes, name: str, count: int = 5, least: float = 0.05
) -> list[tuple[int, int, float, float]]:
    """Return up to ``count`` heads whose ``name`` score the plan moved most: (layer, head, before, after).

    Only moves of at least ``least`` count; the largest first.
    """
    old, new = before[name].numpy(), after[name].numpy()
    moved = np.abs(new - old)
    order = np.argsort(-moved, axis=None)[:count]
    out = []
    for index in order:
        layer, head = divmod(int(index), old.shape[1])
        if moved[layer, head] >= least:
            out.append((layer, head, float(old[layer, head]), float(new[layer, head])))
    return out
