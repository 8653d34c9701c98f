"""Mask plans: plain, serialisable data saying which layers × heads get which mask and which heads are gated.

A plan is what users export, share and import, so its JSON form is stable and versioned (README: format)::

    {"version": 1, "rules": [
      {"layers": "all", "heads": "all", "block": {"keys": [3]}},
      {"layers": [0], "heads": [2, 5], "block": {"queries": [1], "cells": [[4, 2], [4, 3]]}},
      {"layers": [2], "heads": "all", "allow": {"preset": "sliding_window", "size": 2}},
      {"layers": [4], "heads": [7], "gate": 0.0}
    ]}

``stack`` (version 2) names the attention a rule applies to in an encoder–decoder model: ``"encoder"``
self-attention, ``"decoder"`` self-attention or ``"cross"``-attention; without it a rule applies to the
model's default stack (the encoder, or the only stack). Plans that name no stack are written as version 1,
which every maskattn reads.

``block`` removes cells (whole key columns, whole query rows, single ``[query, key]`` cells); ``allow`` keeps
only the cells of a preset from ``masks.PRESETS``; ``gate`` scales a head's output before the output
projection (0 = ablated). Rules combine by intersection with each other (and, in the model, with its own
padding/causal mask); gates on the same head multiply. A plan knows nothing about a model until
``check_fits`` / ``compile`` are given its sizes.
"""

from __future__ import annotations

import copy
import json
import math
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch

from . import masks

PLAN_VERSION = 2  # the newest version written; READABLE_VERSIONS are read
READABLE_VERSIONS = (1, 2)
STACKS = ("encoder", "decoder", "cross")
COMPILED_CACHE_SIZE = 32  # compiled plans kept across MaskPlan objects (each ≤ L·H·T² bools)
_COMPILED: OrderedDict[tuple, list] = OrderedDict()
_COMPILED_LOCK = threading.Lock()
MAX_RULES = 1000
MAX_LIST_ITEMS = 100_000

All = Literal["all"]
Selection = All | tuple[int, ...]

_RULE_KEYS = {"layers", "heads", "block", "allow", "gate", "label", "stack"}
_BLOCK_KEYS = {"keys", "queries", "cells"}
_PLAN_KEYS = {"version", "rules", "description"}


def _fail(where: str, message: str) -> ValueError:
    return ValueError(f"{where}: {message}")


def _int_list(value: Any, where: str) -> tuple[int, ...]:
    if not isinstance(value, list | tuple):
        raise _fail(where, f"expected a list of integers, got {type(value).__name__} {value!r}")
    if len(value) > MAX_LIST_ITEMS:
        raise _fail(where, f"at most {MAX_LIST_ITEMS} items, got {len(value)}")
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int) or item < 0:
            raise _fail(where, f"expected non-negative integers, got {item!r}")
    return tuple(value)


def _selection(value: Any, where: str) -> Selection:
    if value == "all":
        return "all"
    if isinstance(value, str):
        raise _fail(where, f'expected "all" or a list of integers, got {value!r}')
    return _int_list(value, where)


@dataclass(frozen=True)
class Block:
    """Cells a rule removes: whole key columns, whole query rows and single ``(query, key)`` cells."""

    keys: tuple[int, ...] = ()
    queries: tuple[int, ...] = ()
    cells: tuple[tuple[int, int], ...] = ()

    @classmethod
    def from_dict(cls, data: Any, where: str) -> Block:
        if not isinstance(data, Mapping):
            raise _fail(where, f"expected an object with {sorted(_BLOCK_KEYS)}, got {data!r}")
        unknown = set(data) - _BLOCK_KEYS
        if unknown:
            raise _fail(where, f"unknown key(s) {sorted(unknown)}; allowed: {sorted(_BLOCK_KEYS)}")
        cells = data.get("cells", [])
        if not isinstance(cells, list | tuple):
            raise _fail(f"{where}.cells", f"expected a list of [query, key] pairs, got {cells!r}")
        pairs = []
        for i, cell in enumerate(cells):
            pair = _int_list(cell, f"{where}.cells[{i}]")
            if len(pair) != 2:
                raise _fail(f"{where}.cells[{i}]", f"expected a [query, key] pair, got {cell!r}")
            pairs.append((pair[0], pair[1]))
        return cls(
            keys=_int_list(data.get("keys", []), f"{where}.keys"),
            queries=_int_list(data.get("queries", []), f"{where}.queries"),
            cells=tuple(pairs),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.keys:
            out["keys"] = list(self.keys)
        if self.queries:
            out["queries"] = list(self.queries)
        if self.cells:
            out["cells"] = [list(c) for c in self.cells]
        return out

    def max_index(self) -> int:
        """Return the largest token index this block names (-1 when empty)."""
        return max([*self.keys, *self.queries, *(i for c in self.cells for i in c)], default=-1)

    def mask(self) -> masks.Mask:
        """Return the allow-mask of this block: everything except the named cells."""
        blocked = masks.or_masks(masks.keys(self.keys), masks.queries(self.queries), masks.cells(self.cells))
        return ~blocked


@dataclass(frozen=True)
class Rule:
    """One plan rule: a layer × head selection and what happens there (block, allow, gate)."""

    layers: Selection = "all"
    heads: Selection = "all"
    block: Block | None = None
    allow: Mapping[str, Any] | None = None  # {"preset": name, **params}
    gate: float | None = None
    label: str = ""
    stack: str | None = None  # "encoder", "decoder", "cross"; None: the model's default stack

    @classmethod
    def from_dict(cls, data: Any, where: str, version: int = PLAN_VERSION) -> Rule:
        if not isinstance(data, Mapping):
            raise _fail(where, f"a rule must be an object, got {type(data).__name__}")
        unknown = set(data) - _RULE_KEYS
        if unknown:
            raise _fail(where, f"unknown key(s) {sorted(unknown)}; allowed: {sorted(_RULE_KEYS)}")
        if not {"block", "allow", "gate"} & set(data):
            raise _fail(where, 'a rule needs at least one of "block", "allow", "gate"')
        block = Block.from_dict(data["block"], f"{where}.block") if "block" in data else None
        allow = None
        if "allow" in data:
            # A deep copy: a caller editing its dict later (say a boundaries list) must not change this rule.
            allow = (
                copy.deepcopy(dict(data["allow"])) if isinstance(data["allow"], Mapping) else data["allow"]
            )
            _check_allow(allow, f"{where}.allow")
        gate = None
        if "gate" in data:
            gate = data["gate"]
            if isinstance(gate, bool) or not isinstance(gate, int | float) or not math.isfinite(gate):
                raise _fail(f"{where}.gate", f"expected a finite number, got {gate!r}")
            gate = float(gate)
        label = data.get("label", "")
        if not isinstance(label, str):
            raise _fail(f"{where}.label", f"expected a string, got {label!r}")
        stack = data.get("stack")
        if stack is not None and version < 2:
            raise _fail(f"{where}.stack", "naming a stack needs plan version 2")
        if stack is not None and stack not in STACKS:
            raise _fail(f"{where}.stack", f"expected one of {list(STACKS)}, got {stack!r}")
        return cls(
            layers=_selection(data.get("layers", "all"), f"{where}.layers"),
            heads=_selection(data.get("heads", "all"), f"{where}.heads"),
            block=block,
            allow=allow,
            gate=gate,
            label=label,
            stack=stack,
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "layers": self.layers if self.layers == "all" else list(self.layers),
            "heads": self.heads if self.heads == "all" else list(self.heads),
        }
        if self.block is not None:
            out["block"] = self.block.to_dict()
        if self.allow is not None:
            out["allow"] = copy.deepcopy(dict(self.allow))
        if self.gate is not None:
            out["gate"] = self.gate
        if self.label:
            out["label"] = self.label
        if self.stack is not None:
            out["stack"] = self.stack
        return out

    def applies_to(self, stack: str | None, default_stack: str | None) -> bool:
        """Return whether this rule acts on ``stack`` of a model whose default stack is ``default_stack``."""
        if stack is None:
            return self.stack is None
        return (self.stack or default_stack) == stack

    def layer_indices(self, num_layers: int) -> range | tuple[int, ...]:
        return range(num_layers) if self.layers == "all" else self.layers

    def head_indices(self, num_heads: int) -> range | tuple[int, ...]:
        return range(num_heads) if self.heads == "all" else self.heads

    def mask(self) -> masks.Mask | None:
        """Return the allow-mask this rule applies, or None if it only gates."""
        parts = []
        if self.block is not None:
            parts.append(self.block.mask())
        if self.allow is not None:
            params = {k: v for k, v in self.allow.items() if k != "preset"}
            parts.append(masks.make_preset(self.allow["preset"], **params))
        return masks.and_masks(*parts) if parts else None


def _check_allow(allow: Any, where: str) -> None:
    if not isinstance(allow, Mapping) or "preset" not in allow:
        raise _fail(where, f'expected an object {{"preset": name, ...parameters}}, got {allow!r}')
    if not isinstance(allow["preset"], str):
        raise _fail(f"{where}.preset", f"expected a preset name, got {allow['preset']!r}")
    params = {k: v for k, v in allow.items() if k != "preset"}
    try:
        masks.make_preset(allow["preset"], **params)
    except (ValueError, TypeError) as err:
        raise _fail(where, str(err)) from None


@dataclass(frozen=True)
class LayerMask:
    """What one layer's attention receives: per-head allow masks and gates (None where untouched).

    A batch of plans in one forward (``MaskedModel.run_many``) gives each field a leading batch dimension:
    ``allow (B, H, Q, K)``, ``gate (B, H)``, ``mean_ablate (B, H)``. ``mean_ablate`` is a library-level
    option, not part of the plan format: the marked heads' outputs are replaced by their mean over positions.
    """

    allow: torch.Tensor | None  # (H, Q, K) or (B, H, Q, K) bool
    gate: torch.Tensor | None  # (H,) or (B, H) float
    mean_ablate: torch.Tensor | None = None  # (H,) or (B, H) bool


@dataclass(frozen=True)
class MaskPlan:
    """A list of rules; the empty plan changes nothing."""

    rules: tuple[Rule, ...] = ()
    description: str = ""

    # -- serialisation ---------------------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Any) -> MaskPlan:
        """Return the plan a dict in the documented format describes; bad input: ValueError naming it."""
        if not isinstance(data, Mapping):
            raise ValueError(f"a mask plan must be a JSON object, got {type(data).__name__}")
        unknown = set(data) - _PLAN_KEYS
        if unknown:
            raise ValueError(f"plan: unknown key(s) {sorted(unknown)}; allowed: {sorted(_PLAN_KEYS)}")
        version = data.get("version")
        # True and 1.0 equal 1 in Python, but a plan written with them is not a version-1 document.
        if type(version) is not int or version not in READABLE_VERSIONS:
            raise ValueError(
                f"plan.version: this maskattn reads versions {', '.join(map(str, READABLE_VERSIONS))}, "
                f"got {version!r}"
            )
        rules = data.get("rules", [])
        if not isinstance(rules, list):
            raise ValueError(f"plan.rules: expected a list of rules, got {type(rules).__name__}")
        if len(rules) > MAX_RULES:
            raise ValueError(f"plan.rules: at most {MAX_RULES} rules, got {len(rules)}")
        description = data.get("description", "")
        if not isinstance(description, str):
            raise ValueError(f"plan.description: expected a string, got {description!r}")
        return cls(tuple(Rule.from_dict(r, f"rules[{i}]", version) for i, r in enumerate(rules)), description)

    @classmethod
    def from_json(cls, text: str | bytes) -> MaskPlan:
        """Return the plan written as JSON text; invalid JSON raises ValueError."""
        if not isinstance(text, str | bytes | bytearray):
            raise ValueError(f"a mask plan is read from JSON text, got {type(text).__name__}")
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f"not valid JSON: {err}") from None
        except RecursionError:
            # An uploaded file like "[[[[…" must be an error message, not a crash.
            raise ValueError("not valid JSON: nested too deep") from None
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        version = PLAN_VERSION if any(r.stack is not None for r in self.rules) else 1
        out: dict[str, Any] = {"version": version, "rules": [r.to_dict() for r in self.rules]}
        if self.description:
            out["description"] = self.description
        return out

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def key(self) -> str:
        """Return a canonical string identifying this plan (for caches)."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    # -- building --------------------------------------------------------------------------------------------

    def __bool__(self) -> bool:
        return bool(self.rules)

    def with_rules(self, *rules: Rule) -> MaskPlan:
        """Return a new plan with ``rules`` appended."""
        return MaskPlan((*self.rules, *rules), self.description)

    # -- against a model -------------------------------------------------------------------------------------

    def check_fits(
        self,
        num_layers: int,
        num_heads: int,
        num_tokens: int | None = None,
        *,
        num_keys: int | None = None,
        stack: str | None = None,
        default_stack: str | None = None,
    ) -> None:
        """Raise ValueError if a rule names a layer, head or token index the model or text does not have.

        With ``stack``, only the rules acting on that stack are checked (``Rule.applies_to``); ``num_keys``
        is the key length where it differs from the query length (cross-attention).
        """
        num_keys = num_tokens if num_keys is None else num_keys
        for i, rule in enumerate(self.rules):
            if not rule.applies_to(stack, default_stack):
                continue
            bad_layers = [x for x in rule.layer_indices(num_layers) if x >= num_layers]
            if bad_layers:
                raise ValueError(
                    f"rules[{i}].layers: {bad_layers} out of range; the model has {num_layers} layers"
                )
            bad_heads = [x for x in rule.head_indices(num_heads) if x >= num_heads]
            if bad_heads:
                raise ValueError(
                    f"rules[{i}].heads: {bad_heads} out of range; the model has {num_heads} heads"
                )
            if num_tokens is not None and rule.block is not None:
                block = rule.block
                worst_query = max([*block.queries, *(q for q, _ in block.cells)], default=-1)
                worst_key = max([*block.keys, *(k for _, k in block.cells)], default=-1)
                for index, length in ((worst_query, num_tokens), (worst_key, num_keys)):
                    if index >= length:
                        raise ValueError(
                            f"rules[{i}].block: token index {index} is past the text, which has "
                            f"{length} tokens (0–{length - 1})"
                        )

    def first_layer(self, num_layers: int) -> int:
        """Return the lowest layer any rule touches (``num_layers`` for the empty plan)."""
        return min(
            (min(r.layer_indices(num_layers), default=num_layers) for r in self.rules), default=num_layers
        )

    def marked_heads(self, num_layers: int, num_heads: int) -> torch.Tensor:
        """Return ``(L, H)`` bool: heads that any rule masks or gates."""
        out = torch.zeros(num_layers, num_heads, dtype=torch.bool)
        for rule in self.rules:
            for layer in rule.layer_indices(num_layers):
                out[layer, list(rule.head_indices(num_heads))] = True
        return out

    def gates(self, num_layers: int, num_heads: int) -> torch.Tensor:
        """Return ``(L, H)`` gates: per head, the product of the gates of the rules naming it (1 if none)."""
        out = torch.ones(num_layers, num_heads)
        for rule in self.rules:
            if rule.gate is not None:
                for layer in rule.layer_indices(num_layers):
                    out[layer, list(rule.head_indices(num_heads))] *= rule.gate
        return out

    def compile(
        self,
        num_layers: int,
        num_heads: int,
        num_tokens: int,
        device: Any = None,
        *,
        num_keys: int | None = None,
        stack: str | None = None,
        default_stack: str | None = None,
    ) -> list[LayerMask | None]:
        """Return per layer the ``(H, Q, K)`` allow masks and ``(H,)`` gates (None = layer untouched).

        ``num_tokens`` is the query length, ``num_keys`` the key length (default: the same); with ``stack``
        only the rules acting on that stack count (``Rule.applies_to``).
        """
        num_keys = num_tokens if num_keys is None else num_keys
        self.check_fits(
            num_layers, num_heads, num_tokens, num_keys=num_keys, stack=stack, default_stack=default_stack
        )
        # Plans arrive freshly parsed on every app rerun, so compiled masks are shared across equal plans.
        shared_key = (
            self.key(), num_layers, num_heads, num_tokens, num_keys, stack, default_stack,
            str(torch.device(device or "cpu")),
        )  # fmt: skip
        with _COMPILED_LOCK:
            if shared_key in _COMPILED:
                _COMPILED.move_to_end(shared_key)
                return _COMPILED[shared_key]
        rules = [r for r in self.rules if r.applies_to(stack, default_stack)]
        allow: list[torch.Tensor | None] = [None] * num_layers
        for rule in rules:
            rule_mask = rule.mask()
            if rule_mask is None:
                continue
            dense = rule_mask.dense(num_tokens, num_keys)  # (Q, K)
            heads = list(rule.head_indices(num_heads))
            for layer in rule.layer_indices(num_layers):
                if allow[layer] is None:
                    allow[layer] = torch.ones(num_heads, num_tokens, num_keys, dtype=torch.bool)
                allow[layer][heads] &= dense
        gate_matrix = MaskPlan(tuple(rules)).gates(num_layers, num_heads)  # (L, H)
        gated = {layer for r in rules if r.gate is not None for layer in r.layer_indices(num_layers)}
        compiled = [
            None
            if a is None and layer not in gated
            else LayerMask(
                allow=None if a is None else a.to(device),
                gate=gate_matrix[layer].to(device) if layer in gated else None,
            )
            for layer, a in enumerate(allow)
        ]
        with _COMPILED_LOCK:
            _COMPILED[shared_key] = compiled
            while len(_COMPILED) > COMPILED_CACHE_SIZE:
                _COMPILED.popitem(last=False)
        return compiled


def rule(
    layers: Selection | Sequence[int] = "all",
    heads: Selection | Sequence[int] = "all",
    *,
    block: Mapping[str, Any] | None = None,
    allow: Mapping[str, Any] | None = None,
    gate: float | None = None,
    label: str = "",
    stack: str | None = None,
) -> Rule:
    """Return a validated rule from plain Python values (the same checks as JSON)."""
    data: dict[str, Any] = {"layers": layers if layers == "all" else list(layers)}
    data["heads"] = heads if heads == "all" else list(heads)
    if block is not None:
        data["block"] = block
    if allow is not None:
        data["allow"] = allow
    if gate is not None:
        data["gate"] = gate
    if label:
        data["label"] = label
    if stack is not None:
        data["stack"] = stack
    return Rule.from_dict(data, "rule")
