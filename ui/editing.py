"""Turn the Explorer's edits (painted cells, presets, gates) into changes of a MaskPlan. Pure: no Streamlit.

The plan is the single source of truth. Cells painted on the focus grid live in rules labelled
``"paint"``, one per target (a layer × heads rectangle), so they can be edited again; presets and gates are
rules of their own; rules imported from a file are kept as they are.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Literal

import numpy as np
import torch

from maskattn.plan import Block, MaskPlan, Rule
from maskattn.plan import rule as make_rule

from .lessons import Language, tr

PAINT_LABEL = "paint"
Scope = Literal["head", "layer", "chosen", "all"]
SCOPES: dict[Scope, str] = {
    "head": "this head",
    "layer": "this layer (all heads)",
    "chosen": "chosen heads",
    "all": "all layers and heads",
}
Target = tuple[tuple[int, ...] | str, tuple[int, ...] | str]  # (layers, heads) of one rule


def scope_targets(
    scope: Scope, focus: tuple[int, int], chosen: Iterable[tuple[int, int]], num_layers: int
) -> list[Target]:
    """Return the (layers, heads) rectangles a paint edit with ``scope`` applies to."""
    layer, head = focus
    if scope == "head":
        return [((layer,), (head,))]
    if scope == "layer":
        return [((layer,), "all")]
    if scope == "all":
        return [("all", "all")]
    if scope == "chosen":
        by_layer: dict[int, set[int]] = {}
        for lay, h in chosen:
            by_layer.setdefault(lay, set()).add(h)
        if not by_layer:
            raise ValueError("no heads are chosen: pick heads in the head painter first")
        return [((lay,), tuple(sorted(heads))) for lay, heads in sorted(by_layer.items()) if lay < num_layers]
    raise ValueError(f"unknown scope {scope!r}; expected one of {list(SCOPES)}")


def _is_paint(rule: Rule) -> bool:
    return rule.label == PAINT_LABEL and rule.block is not None and rule.allow is None and rule.gate is None


def _blocked_by(rules: Iterable[Rule], num_tokens: int) -> torch.Tensor:
    blocked = torch.zeros(num_tokens, num_tokens, dtype=torch.bool)
    for rule in rules:
        allow = rule.dense(num_tokens, num_tokens)
        if allow is not None:
            blocked |= ~allow
    return blocked


def head_masks(plan: MaskPlan, layer: int, head: int, num_tokens: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(painted, locked)``, ``(T, T)`` bool: cells painted for this head, cells other rules block."""
    covering = [r for r in plan.rules if r.covers(layer, head)]
    painted = _blocked_by((r for r in covering if _is_paint(r)), num_tokens)
    locked = _blocked_by((r for r in covering if not _is_paint(r)), num_tokens)
    return painted, locked


def _block_of(blocked: torch.Tensor) -> Block:
    """Return the compact Block of a ``(T, T)`` blocked grid: full rows as queries, full columns as keys."""
    full_rows = blocked.all(dim=1)
    full_cols = blocked.all(dim=0)
    rest = blocked & ~full_rows[:, None] & ~full_cols[None, :]
    return Block(
        keys=tuple(full_cols.nonzero().flatten().tolist()),
        queries=tuple(full_rows.nonzero().flatten().tolist()),
        cells=tuple((int(q), int(k)) for q, k in rest.nonzero().tolist()),
    )


def apply_paint(
    plan: MaskPlan,
    *,
    focus: tuple[int, int],
    before: torch.Tensor | np.ndarray,
    after: torch.Tensor | np.ndarray,
    targets: list[Target],
) -> MaskPlan:
    """Return ``plan`` with a paint edit of the focused head applied.

    Cells newly blocked in ``after`` go to the targets' paint rules; cells erased are removed from every paint
    rule covering the focused head (rules only intersect, the only way to let a cell through again).
    """
    before = torch.as_tensor(before, dtype=torch.bool)  # the painter's numpy grids, or tensors
    after = torch.as_tensor(after, dtype=torch.bool)
    if before.shape != after.shape or before.dim() != 2:
        raise ValueError(
            f"paint grids must be equal (T, T) shapes, got {tuple(before.shape)}, {tuple(after.shape)}"
        )
    num_tokens = after.shape[0]
    added = after & ~before
    erased = before & ~after
    layer, head = focus
    rules: list[Rule] = []
    target_cells: dict[Target, torch.Tensor] = {t: torch.zeros_like(after) for t in targets}
    for rule in plan.rules:
        if not _is_paint(rule):
            rules.append(rule)
            continue
        cells = ~rule.dense(num_tokens, num_tokens)  # (T, T) blocked by this paint rule
        if rule.covers(layer, head):
            cells &= ~erased
        target = (rule.layers, rule.heads)
        if target in target_cells:
            target_cells[target] |= cells  # merged below, in the rule's place
            continue
        if cells.any():
            rules.append(replace(rule, block=_block_of(cells)))
    for target, cells in target_cells.items():
        cells |= added
        if cells.any():
            rules.append(Rule(layers=target[0], heads=target[1], block=_block_of(cells), label=PAINT_LABEL))
    return MaskPlan(tuple(rules), plan.description)


def add_preset(plan: MaskPlan, targets: list[Target], name: str, params: dict) -> MaskPlan:
    """Return ``plan`` with a preset rule (``allow`` only the preset's cells) added for each target.

    A target that already has this very rule gets no second copy: applying a preset twice (or a double
    click) changes nothing, as intersecting a mask with itself does.
    """
    allow = {"preset": name, **params}
    new = [make_rule(layers, heads, allow=allow, label=f"preset:{name}") for layers, heads in targets]
    fresh: list[Rule] = []
    for candidate in new:
        if candidate not in plan.rules and candidate not in fresh:
            fresh.append(candidate)
    return plan.with_rules(*fresh)


def _is_gate_edit(rule: Rule) -> bool:
    """Return whether ``rule`` is a gate the head controls may rewrite: only a gate, on listed heads."""
    only_gate = rule.gate is not None and rule.block is None and rule.allow is None
    listed = rule.layers != "all" and rule.heads != "all"
    single = listed and len(rule.layers) == 1 and len(rule.heads) == 1
    return only_gate and listed and (rule.label == "gate" or single)


def _gate_rules(gates: dict[tuple[int, int], float]) -> list[Rule]:
    """Return few rules giving each head its gate: layers with the same heads and gate share one rule."""
    by_layer: dict[tuple[float, int], list[int]] = {}
    for (layer, head), gate in sorted(gates.items()):
        by_layer.setdefault((gate, layer), []).append(head)
    by_heads: dict[tuple[float, tuple[int, ...]], list[int]] = {}
    for (gate, layer), heads in by_layer.items():
        by_heads.setdefault((gate, tuple(heads)), []).append(layer)
    return [
        Rule(layers=tuple(layers), heads=heads, gate=gate, label="gate")
        for (gate, heads), layers in sorted(by_heads.items(), key=lambda item: (item[1], item[0][1]))
    ]


def set_gates(plan: MaskPlan, heads: Iterable[tuple[int, int]], gate: float | None) -> MaskPlan:
    """Return ``plan`` with the gate of each (layer, head) set to ``gate`` (None removes the gate).

    The gate rules made here (and single-head gates from elsewhere) are rewritten as few rules as possible,
    one for heads that share a gate and a layer set, so gating five heads of a layer is one rule.
    """
    heads = {(int(layer), int(head)) for layer, head in heads}
    gates: dict[tuple[int, int], float] = {}
    rules = []
    for rule in plan.rules:
        if not _is_gate_edit(rule):
            rules.append(rule)
            continue
        for layer in dict.fromkeys(rule.layers):
            for head in dict.fromkeys(rule.heads):
                gates[layer, head] = gates.get((layer, head), 1.0) * rule.gate  # gates on one head multiply
    for target in heads:
        gates.pop(target, None)
        if gate is not None:
            gates[target] = float(gate)
    return MaskPlan((*rules, *_gate_rules(gates)), plan.description)


def remove_rule(plan: MaskPlan, index: int) -> MaskPlan:
    """Return ``plan`` without rule ``index``."""
    if not 0 <= index < len(plan.rules):
        raise ValueError(f"no rule {index}; the plan has {len(plan.rules)} rules")
    return MaskPlan(plan.rules[:index] + plan.rules[index + 1 :], plan.description)


MAX_NAMED_TOKENS = 6  # tokens a rule's description names before it says how many more


def _token_list(noun: str, indices: tuple[int, ...], tokens: Sequence[str] | None, lang: Language) -> str:
    """Return e.g. "key 'the' (1)" or "keys 'the' (1), 'cat' (2)": the token where it is known."""

    def one(i: int) -> str:
        return f"'{tokens[i]}' ({i})" if tokens is not None and 0 <= i < len(tokens) else str(i)

    shown = ", ".join(one(i) for i in indices[:MAX_NAMED_TOKENS])
    more = len(indices) - MAX_NAMED_TOKENS
    if more > 0:
        shown += tr("rule.more", lang, count=more)
    plural = {"key": "keys", "query": "queries"}[noun]
    return tr(f"rule.{noun if len(indices) == 1 else plural}", lang, list=shown)


def describe_rule(rule: Rule, tokens: Sequence[str] | None = None, lang: Language = "en") -> str:
    """Return a one-line human description of a rule, naming the ``tokens`` it blocks where given."""

    def sel(value: object, noun: str) -> str:
        if value == "all":
            return tr(f"rule.all_{noun}s", lang)
        return tr(f"rule.{noun}s", lang, list=", ".join(map(str, value)))

    parts = []
    if rule.block is not None:
        b = rule.block
        what = [
            _token_list("key", b.keys, tokens, lang) if b.keys else "",
            _token_list("query", b.queries, tokens, lang) if b.queries else "",
            tr("rule.cell" if len(b.cells) == 1 else "rule.cells", lang, count=len(b.cells))
            if b.cells
            else "",
        ]
        parts.append(tr("rule.block", lang, what=", ".join(w for w in what if w)))
    if rule.allow is not None:
        params = ", ".join(f"{k}={v}" for k, v in rule.allow.items() if k != "preset")
        parts.append(tr("rule.allow", lang, preset=rule.allow["preset"]) + (f"({params})" if params else ""))
    if rule.gate is not None:
        parts.append(tr("rule.gate", lang, gate=f"{rule.gate:g}"))
    where = f"{tr(f'rule.stack.{rule.stack}', lang)} · " if rule.stack is not None else ""
    return f"{where}{sel(rule.layers, 'layer')} · {sel(rule.heads, 'head')}: " + "; ".join(parts)
