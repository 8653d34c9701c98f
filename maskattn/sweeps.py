"""Sweeps: many plans on one text, one number each — which heads matter, which edges carry information.

- ``head_importance`` — ablate each head, and each whole layer, by zero ablation (gate 0) or mean ablation
  (the head's output replaced by its mean over positions; Michel et al. 2019): a layer × head heatmap.
- ``attention_knockout`` — block the edges from source tokens to a target token in a window of k layers that
  slides from the first layer to the last (Geva et al. 2023): the effect per layer.
- ``preset_sweep`` — one preset (sliding window, prefix length, random density, …) on the chosen heads, its
  parameter stepped through values: an effect curve.

Every cell is a plan (plus, for mean ablation, the heads to mean-ablate); its value is what ``metrics`` says
of ``MaskedModel.run(text, plan)``, computed in batches by ``MaskedModel.outputs_many``. Cells are measured on
top of an optional ``plan`` (the current plan of a UI); ``baseline`` is the value of that plan alone and
``effect = value − baseline``. A sweep is a pure function of the model, the text and its arguments (all plain,
hashable data), so a caller may cache it by them; ``progress(done, total)`` returning False raises
``SweepCancelled``.

Shapes: L layers, H heads, T tokens.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import torch

from .engine import BATCH_BUDGET_FLOATS, MaskedModel
from .masks import PRESETS
from .metrics import Metric, embedding_distance, kl_at
from .plan import MaskPlan, rule
from .progress import Progress, SweepCancelled

__all__ = [
    "Cell",
    "SweepCancelled",
    "SweepResult",
    "attention_knockout",
    "default_metric",
    "head_importance",
    "preset_sweep",
]

Ablation = Literal["zero", "mean"]


@dataclass(frozen=True)
class Cell:
    """One point of a sweep: where it is, the plan it ran, what the metric said."""

    coords: Mapping[str, Any]  # e.g. {"layer": 2, "head": 5}; a whole layer has "head": "all"
    plan: MaskPlan  # the plan this cell ran (a UI can apply it)
    mean_ablate: tuple[tuple[int, int], ...]  # (layer, head) pairs mean-ablated on top of the plan
    value: float
    effect: float  # value − the sweep's baseline

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.coords,
            "value": self.value,
            "effect": self.effect,
            "plan": self.plan.to_dict(),
            "mean_ablate": [list(p) for p in self.mean_ablate],
        }


@dataclass(frozen=True)
class SweepResult:
    """What a sweep gives back: its cells, the metric, the baseline value, and the options it ran with."""

    kind: str  # "head_importance", "attention_knockout", "preset_sweep"
    text: str
    metric: Metric
    baseline: float  # the metric of the base plan alone (0 for distances from the unmasked run)
    cells: tuple[Cell, ...]
    options: Mapping[str, Any] = field(default_factory=dict)

    def grid(self, num_layers: int, num_heads: int, what: str = "effect") -> torch.Tensor:
        """Return ``(L, H)`` of the per-head cells' ``effect`` (or ``value``); NaN where no cell is."""
        out = torch.full((num_layers, num_heads), math.nan)
        for cell in self.cells:
            head = cell.coords.get("head")
            if isinstance(head, int) and "layer" in cell.coords:
                out[cell.coords["layer"], head] = getattr(cell, what)
        return out

    def curve(self, axis: str, what: str = "effect") -> tuple[list[Any], torch.Tensor]:
        """Return ``(xs, ys)``: the cells with coordinate ``axis``, in order, and their effect (or value)."""
        chosen = [c for c in self.cells if axis in c.coords and c.coords.get("head", "all") == "all"]
        return [c.coords[axis] for c in chosen], torch.tensor([getattr(c, what) for c in chosen])

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "text": self.text,
            "metric": self.metric.to_dict(),
            "metric_label": self.metric.label,
            "baseline": self.baseline,
            "options": dict(self.options),
            "cells": [c.to_dict() for c in self.cells],
        }

    def to_json(self, indent: int | None = 2) -> str:
        """Return the sweep as JSON: options, metric, baseline and every cell with its plan."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def to_csv(self) -> str:
        """Return one CSV row per cell: its coordinates, value, effect, and its plan as compact JSON."""
        axes = list(dict.fromkeys(k for c in self.cells for k in c.coords))
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow([*axes, "value", "effect", "plan", "mean_ablate"])
        for c in self.cells:
            writer.writerow(
                [
                    *(c.coords.get(a, "") for a in axes),
                    repr(c.value),
                    repr(c.effect),
                    c.plan.to_json(indent=None),
                    json.dumps([list(p) for p in c.mean_ablate]),
                ]
            )
        return buffer.getvalue()


def default_metric(model: MaskedModel) -> Metric:
    """Return the metric a sweep uses when none is given: embedding distance, or KL at the prediction."""
    if model.kind == "encoder":
        return embedding_distance()
    if model.kind == "masked_lm":
        return kl_at(-2)  # the last real token before [SEP]; the run's effect panel shows the same position
    return kl_at(-1)


def _measure(
    model: MaskedModel,
    text: str,
    cells: list[tuple[dict[str, Any], MaskPlan, tuple[tuple[int, int], ...]]],
    base_plan: MaskPlan,
    metric: Metric | None,
    kind: str,
    options: dict[str, Any],
    progress: Progress | None,
    max_tokens: int | None,
    budget_floats: int,
) -> SweepResult:
    """Return the sweep of ``cells`` (coords, plan, mean-ablated heads): each measured, with the base plan."""
    metric = metric or default_metric(model)
    num_tokens = model.tokenize(text, max_tokens)[0].shape[1]
    baseline_run = model.baseline(text, max_tokens=max_tokens)
    vocab = 0 if baseline_run.logits is None else baseline_run.logits.shape[-1]
    metric.check_model(baseline_run.logits is not None, vocab)
    positions = [metric.resolve(num_tokens)] if metric.needs_logits else None
    device = model.device
    base_hidden = baseline_run.hidden.to(device)[None]  # (1, T, E)
    base_logits = None
    if positions is not None:
        base_logits = baseline_run.logits.to(device)[None, positions]  # (1, 1, V)

    def measure(hidden: torch.Tensor, logits: torch.Tensor | None) -> torch.Tensor:
        return metric.batch(hidden, logits, base_hidden, base_logits)

    plans = [plan for _, plan, _ in cells]
    means = [_mean_mask(model, heads) for _, _, heads in cells]
    if base_plan:  # the base plan's own value is the baseline the effects are relative to
        plans.append(base_plan)
        means.append(None)
    values, unmasked = model.outputs_many(
        text,
        plans,
        measure,
        mean_ablate=means,
        positions=positions,
        max_tokens=max_tokens,
        progress=progress,
        budget_floats=budget_floats,
    )
    baseline = float(values[-1]) if base_plan else float(unmasked)
    out = tuple(
        Cell(coords, plan, heads, float(v), float(v) - baseline)
        for (coords, plan, heads), v in zip(cells, values.tolist(), strict=False)
    )
    return SweepResult(kind, text, metric, baseline, out, {**options, "base_plan": base_plan.to_dict()})


def _mean_mask(model: MaskedModel, heads: tuple[tuple[int, int], ...]) -> torch.Tensor | None:
    if not heads:
        return None
    mask = torch.zeros(model.num_layers, model.num_heads, dtype=torch.bool)  # (L, H)
    for layer, head in heads:
        mask[layer, head] = True
    return mask


def head_importance(
    model: MaskedModel,
    text: str,
    *,
    ablation: Ablation = "zero",
    metric: Metric | None = None,
    plan: MaskPlan | None = None,
    whole_layers: bool = True,
    progress: Progress | None = None,
    max_tokens: int | None = None,
    budget_floats: int = BATCH_BUDGET_FLOATS,
) -> SweepResult:
    """Return the effect of ablating each head (L·H cells) and, with ``whole_layers``, each layer (L cells).

    ``ablation="zero"``: the head's gate is 0 (a plan rule); ``"mean"``: the head's output is replaced by its
    mean over the text's positions (not expressible as a plan; the cell lists the heads in ``mean_ablate``).
    ``SweepResult.grid(L, H)`` is the layer × head heatmap; layer cells have ``"head": "all"``.
    """
    if ablation not in ("zero", "mean"):
        raise ValueError(f'ablation must be "zero" or "mean", got {ablation!r}')
    base = plan or MaskPlan()
    L, H = model.num_layers, model.num_heads
    cells = []
    targets: list[tuple[int, Sequence[int] | str]] = [
        (layer, [head]) for layer in range(L) for head in range(H)
    ]
    if whole_layers:
        targets += [(layer, "all") for layer in range(L)]
    for layer, heads in targets:
        coords = {"layer": layer, "head": heads[0] if heads != "all" else "all"}
        if ablation == "zero":
            cells.append((coords, base.with_rules(rule([layer], heads, gate=0.0)), ()))
        else:
            chosen = range(H) if heads == "all" else heads
            cells.append((coords, base, tuple((layer, h) for h in chosen)))
    options = {"ablation": ablation, "whole_layers": whole_layers}
    return _measure(
        model, text, cells, base, metric, "head_importance", options, progress, max_tokens, budget_floats
    )


def attention_knockout(
    model: MaskedModel,
    text: str,
    sources: Sequence[int],
    target: int,
    *,
    window: int = 1,
    heads: Sequence[int] | str = "all",
    metric: Metric | None = None,
    plan: MaskPlan | None = None,
    progress: Progress | None = None,
    max_tokens: int | None = None,
    budget_floats: int = BATCH_BUDGET_FLOATS,
) -> SweepResult:
    """Return the effect of blocking ``sources`` → ``target`` in layers ℓ…ℓ+window−1, for every ℓ.

    The window slides from the first layer to the last and is cut at the top (the last windows are shorter),
    so every layer has a cell; ``coords`` holds ``layer`` (the window's first) and ``last_layer``.
    """
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise ValueError(f"window must be a positive number of layers, got {window!r}")
    sources = [int(s) for s in sources]
    if not sources:
        raise ValueError("attention_knockout needs at least one source token")
    base = plan or MaskPlan()
    L = model.num_layers
    cells = []
    for first in range(L):
        layers = list(range(first, min(first + window, L)))
        block = {"cells": [[int(target), s] for s in sources]}
        knockout = rule(layers, heads if heads == "all" else list(heads), block=block, label="knockout")
        cells.append(({"layer": first, "last_layer": layers[-1]}, base.with_rules(knockout), ()))
    options = {"sources": sources, "target": int(target), "window": window, "heads": _plain(heads)}
    return _measure(
        model, text, cells, base, metric, "attention_knockout", options, progress, max_tokens, budget_floats
    )


def preset_sweep(
    model: MaskedModel,
    text: str,
    preset: str,
    parameter: str,
    values: Sequence[Any] | None = None,
    *,
    params: Mapping[str, Any] | None = None,
    layers: Sequence[int] | str = "all",
    heads: Sequence[int] | str = "all",
    metric: Metric | None = None,
    plan: MaskPlan | None = None,
    progress: Progress | None = None,
    max_tokens: int | None = None,
    budget_floats: int = BATCH_BUDGET_FLOATS,
) -> SweepResult:
    """Return the effect curve of ``preset`` on the chosen layers × heads as ``parameter`` takes ``values``.

    ``params`` fixes the preset's other parameters. Without ``values``: 1…T for a size or length, ten
    densities 0.1…1.0 for ``density``.
    """
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; known: {', '.join(PRESETS)}")
    if values is None:
        num_tokens = model.tokenize(text, max_tokens)[0].shape[1]
        if parameter == "density":
            values = [round(0.1 * i, 2) for i in range(1, 11)]
        elif parameter in ("size", "prefix_length", "length", "stride"):
            values = list(range(1, num_tokens + 1))
        else:
            raise ValueError(f"give the values of {parameter!r} to sweep")
    base = plan or MaskPlan()
    fixed = dict(params or {})
    cells = []
    for value in values:
        allow = {"preset": preset, **fixed, parameter: value}
        chosen = rule(
            layers if layers == "all" else list(layers), heads if heads == "all" else list(heads), allow=allow
        )
        cells.append(({parameter: value}, base.with_rules(chosen), ()))
    options = {
        "preset": preset,
        "parameter": parameter,
        "params": fixed,
        "layers": _plain(layers),
        "heads": _plain(heads),
    }
    return _measure(
        model, text, cells, base, metric, "preset_sweep", options, progress, max_tokens, budget_floats
    )


def _plain(selection: Sequence[int] | str) -> list[int] | str:
    return selection if selection == "all" else [int(i) for i in selection]
