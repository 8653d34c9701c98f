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
padding/causal mask); gates on the same head multiply; a layer or head listed twice in one rule counts once.
A plan knows nothing about a model until ``check_fits`` / ``compile`` are given its sizes.

Bounds, so that whatever a plan says, parsing it and running it stay fast and give finite numbers (each one
refused with a ``ValueError`` naming the path):

- a gate lies in ``[-MAX_GATE, MAX_GATE]`` (±100), and the gates of the rules naming one head multiply to
  at most ``MAX_GATE`` in size (checked by ``check_fits``, the first place a plan meets a model's sizes);
- layer, head and token indices and preset parameters are at most ``MAX_INDEX`` (2³¹ − 1, no overflow in the
  index arithmetic); ``PlanLimits.max_token`` lowers the bound on token indices (the app: its token limit);
- at most ``MAX_RULES`` rules, ``MAX_LIST_ITEMS`` entries in one list and ``PlanLimits.max_values`` values in
  the whole document (a ``[query, key]`` cell is three: the pair and its two numbers);
- JSON text of at most ``PlanLimits.max_json_chars`` characters, nested at most ``MAX_DEPTH`` deep (checked
  on the raw text, before ``json.loads``, which would recurse);
- dict keys are strings; labels, descriptions and names are text that UTF-8 can encode (no lone surrogate),
  labels up to ``MAX_LABEL_CHARS`` and descriptions up to ``MAX_DESCRIPTION_CHARS`` characters.
"""

from __future__ import annotations

import copy
import itertools
import json
import math
import re
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
MAX_LIST_ITEMS = 100_000  # entries of one list (keys, queries, cells, layers, heads, a preset's indices)
# Values in one plan document, all rules together: 100 000 cells (three values each) parse in ~0.5 s and run
# in ~1 s on a 2-core CPU; ten times that took 4 to more than 10 s per run.
MAX_VALUES = 320_000  # 100 000 cells and room for the rest
MAX_INDEX = masks.MAX_PARAMETER  # 2³¹ − 1: layer, head and token indices, preset parameters
MAX_GATE = 100.0  # |gate| of a rule, and |product of the gates| on one head
MAX_DEPTH = 32  # nesting of objects and lists; a valid plan needs 6
MAX_JSON_CHARS = 16_000_000  # a plan of MAX_VALUES values written by to_json (indented) fits
MAX_LABEL_CHARS = 1_000
MAX_DESCRIPTION_CHARS = 10_000

All = Literal["all"]
Selection = All | tuple[int, ...]

_RULE_KEYS = {"layers", "heads", "block", "allow", "gate", "label", "stack"}
_BLOCK_KEYS = {"keys", "queries", "cells"}
_PLAN_KEYS = {"version", "rules", "description"}


@dataclass(frozen=True)
class PlanLimits:
    """How much one plan may ask for, checked where it is parsed; the defaults suit the library."""

    max_values: int = MAX_VALUES  # values in the document (a [query, key] cell is three)
    max_token: int = MAX_INDEX  # the largest token index a block may name
    max_json_chars: int = MAX_JSON_CHARS  # length of the JSON text


DEFAULT_LIMITS = PlanLimits()


def _fail(where: str, message: str) -> ValueError:
    return ValueError(f"{where}: {message}")


def _show(value: Any, width: int = 60) -> str:
    """Return ``repr(value)``, cut to about ``width`` characters: messages must stay short for any input."""
    if isinstance(value, list | tuple | Mapping) and len(value) > 20:
        return f"a {type(value).__name__} of {len(value)} items"
    text = repr(value)
    return text if len(text) <= width else f"{text[: width - 1]}…"


def _some(values: Sequence[int], count: int = 5) -> str:
    """Return the first ``count`` of ``values`` as a list, saying how many there are in all if more."""
    shown = list(values[:count])
    return str(shown) if len(values) <= count else f"{str(shown)[:-1]}, …] ({len(values)} in all)"


def _int_list(value: Any, where: str, maximum: int = MAX_INDEX) -> tuple[int, ...]:
    if not isinstance(value, list | tuple):
        raise _fail(where, f"expected a list of integers, got {type(value).__name__} {_show(value)}")
    if len(value) > MAX_LIST_ITEMS:
        raise _fail(where, f"at most {MAX_LIST_ITEMS} items, got {len(value)}")
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int) or item < 0:
            raise _fail(where, f"expected non-negative integers, got {_show(item)}")
        if item > maximum:
            raise _fail(where, f"indices are at most {maximum}, got {_show(item)}")
    return tuple(value)


def _selection(value: Any, where: str) -> Selection:
    if isinstance(value, str):
        if value == "all":
            return "all"
        raise _fail(where, f'expected "all" or a list of integers, got {_show(value)}')
    return _int_list(value, where)


def _text(value: Any, where: str, maximum: int) -> str:
    if not isinstance(value, str):
        raise _fail(where, f"expected a string, got {_show(value)}")
    if len(value) > maximum:
        raise _fail(where, f"at most {maximum} characters, got {len(value)}")
    return value


def _unicode_problem(text: str) -> str | None:
    """Return why ``text`` cannot be encoded as UTF-8 (a lone surrogate), or None when it can."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        return f"not valid Unicode text: {err.reason} at position {err.start} ({text[err.start]!r})"
    return None


def check_shape(data: Any, limits: PlanLimits = DEFAULT_LIMITS) -> None:
    """Raise ValueError, naming the path, if ``data`` is nested too deep, too large, or has odd keys or text.

    Walks the document iteratively (never recursing), before any rule is read: a plan that nests without
    bound or holds millions of values is refused in time proportional to the bound, not to its size.
    """
    # A path is kept as (parent path, key or index) and written out only for a message: every plan is
    # checked on every edit, and formatting each value's path cost more than the checks.
    stack: list[tuple[Any, tuple | None, int]] = [(data, None, 1)]
    count = 0
    while stack:
        value, path, depth = stack.pop()
        count += 1
        if count > limits.max_values:
            raise _too_many_values(limits)
        if value is None or isinstance(value, int | float):  # most of a plan, and cheaper than the ABC check
            continue
        if isinstance(value, str):
            problem = _unicode_problem(value)
            if problem:
                raise _fail(_path(path), problem)
            continue
        if isinstance(value, list | tuple):
            if depth > MAX_DEPTH:
                raise _fail(_path(path), f"nested deeper than {MAX_DEPTH} levels")
            if len(value) > limits.max_values:
                raise _fail(_path(path), f"more than {limits.max_values} values")
            for i, item in enumerate(value):
                if item is None or isinstance(item, int | float):  # a number is counted, not visited
                    count += 1
                else:
                    stack.append((item, (path, i), depth + 1))
            if count > limits.max_values:
                raise _too_many_values(limits)
            continue
        if not isinstance(value, Mapping):
            continue
        if depth > MAX_DEPTH:
            raise _fail(_path(path), f"nested deeper than {MAX_DEPTH} levels")
        for key in value:
            if not isinstance(key, str):
                raise _fail(_path(path), f"keys must be strings, got {_show(key)}")
            problem = _unicode_problem(key)
            if problem:
                raise _fail(_path(path), f"a key is {problem}")
        stack.extend((v, (path, k), depth + 1) for k, v in value.items())


def _path(path: tuple | None) -> str:
    """Return a (parent, key or index) chain of ``check_shape`` as ``rules[0].block.cells[3]`` (or "plan")."""
    parts: list[str] = []
    while path is not None:
        path, step = path
        parts.append(f"[{step}]" if isinstance(step, int) else f".{step}")
    return "".join(reversed(parts)).removeprefix(".") or "plan"


def _too_many_values(limits: PlanLimits) -> ValueError:
    return _fail(
        "plan",
        f"more than {limits.max_values} values (a [query, key] cell is three): use keys, queries or a preset "
        "for large areas",
    )


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")
_BRACKET_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")  # \ud800 to \udfff, what JSON writes a lone surrogate as


def _shape_is_sure(text: str, limits: PlanLimits) -> bool:
    """Return whether the JSON ``text``, parsed and its depth checked, surely passes ``check_shape``.

    Read from the text, in C, in place of a walk of every parsed value (half the parsing of a plan, and
    every edit parses one): each value but the first follows a comma or opens a container, so the values
    are at most one more than the commas and brackets; a string can hold a lone surrogate only if the
    text does or escapes one; JSON keys are strings. False means only that the walk must decide.
    """
    if text.count(",") + text.count("[") + text.count("{") + 1 > limits.max_values:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return _SURROGATE_ESCAPE.search(text) is None


def check_json_depth(text: str) -> None:
    """Raise ValueError if the JSON ``text`` nests arrays or objects deeper than ``MAX_DEPTH``.

    Scanned on the raw text (brackets inside strings skipped), because ``json.loads`` recurses once per
    level and a deep enough document exhausts the interpreter's stack.
    """
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return  # cannot nest deeper than it has brackets (those in strings only add to the count)
    steps = map(_BRACKET_STEP.__getitem__, _BRACKET.findall(_STRING.sub('""', text)))
    if max(itertools.accumulate(steps), default=0) > MAX_DEPTH:
        raise ValueError(f"not valid JSON: nested too deep (more than {MAX_DEPTH} levels of [ ] or {{ }})")


@dataclass(frozen=True)
class Block:
    """Cells a rule removes: whole key columns, whole query rows and single ``(query, key)`` cells."""

    keys: tuple[int, ...] = ()
    queries: tuple[int, ...] = ()
    cells: tuple[tuple[int, int], ...] = ()

    @classmethod
    def from_dict(cls, data: Any, where: str, limits: PlanLimits = DEFAULT_LIMITS) -> Block:
        if not isinstance(data, Mapping):
            raise _fail(where, f"expected an object with {sorted(_BLOCK_KEYS)}, got {_show(data)}")
        unknown = set(data) - _BLOCK_KEYS
        if unknown:
            raise _fail(where, f"unknown key(s) {_keys(unknown)}; allowed: {sorted(_BLOCK_KEYS)}")
        cells = data.get("cells", [])
        if not isinstance(cells, list | tuple):
            raise _fail(f"{where}.cells", f"expected a list of [query, key] pairs, got {_show(cells)}")
        if len(cells) > MAX_LIST_ITEMS:
            raise _fail(f"{where}.cells", f"at most {MAX_LIST_ITEMS} items, got {len(cells)}")
        top = limits.max_token
        pairs = []
        for i, cell in enumerate(cells):
            pair = _int_list(cell, f"{where}.cells[{i}]", top)
            if len(pair) != 2:
                raise _fail(f"{where}.cells[{i}]", f"expected a [query, key] pair, got {_show(cell)}")
            pairs.append((pair[0], pair[1]))
        return cls(
            keys=_int_list(data.get("keys", []), f"{where}.keys", top),
            queries=_int_list(data.get("queries", []), f"{where}.queries", top),
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

    def dense(self, num_queries: int, num_keys: int) -> torch.Tensor:
        """Return ``self.mask().dense(num_queries, num_keys)``, set cell by cell rather than composed from
        mask functions (a dozen (Q, K) passes): every edit compiles a plan, one such mask per rule.
        Indices past the sizes name nothing, as in the mask."""
        allow = torch.ones(num_queries, num_keys, dtype=torch.bool)  # (Q, K)
        rows = [q for q in self.queries if q < num_queries]
        columns = [k for k in self.keys if k < num_keys]
        cells = [(q, k) for q, k in self.cells if q < num_queries and k < num_keys]
        if rows:
            allow[rows] = False
        if columns:
            allow[:, columns] = False
        if cells:
            cell_rows, cell_columns = zip(*cells, strict=True)
            allow[list(cell_rows), list(cell_columns)] = False
        return allow


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
    def from_dict(
        cls, data: Any, where: str, limits: PlanLimits = DEFAULT_LIMITS, version: int = PLAN_VERSION
    ) -> Rule:
        """Return the rule ``data`` describes; its shape is checked already (``check_shape``)."""
        if not isinstance(data, Mapping):
            raise _fail(where, f"a rule must be an object, got {type(data).__name__}")
        unknown = set(data) - _RULE_KEYS
        if unknown:
            raise _fail(where, f"unknown key(s) {_keys(unknown)}; allowed: {sorted(_RULE_KEYS)}")
        if not {"block", "allow", "gate"} & set(data):
            raise _fail(where, 'a rule needs at least one of "block", "allow", "gate"')
        block = Block.from_dict(data["block"], f"{where}.block", limits) if "block" in data else None
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
            # Compared before float(): an integer like 10**400 has no float, and a gate that large (or many
            # gates multiplying to it) gives infinite hidden states.
            if (
                isinstance(gate, bool)
                or not isinstance(gate, int | float)
                or not -MAX_GATE <= gate <= MAX_GATE
            ):
                raise _fail(
                    f"{where}.gate",
                    f"expected a finite number from {-MAX_GATE:g} to {MAX_GATE:g}, got {_show(gate)}",
                )
            gate = float(gate)
        label = _text(data.get("label", ""), f"{where}.label", MAX_LABEL_CHARS)
        stack = data.get("stack")
        if stack is not None and version < 2:
            raise _fail(f"{where}.stack", "naming a stack needs plan version 2")
        if stack is not None and stack not in STACKS:
            raise _fail(f"{where}.stack", f"expected one of {list(STACKS)}, got {_show(stack)}")
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
        """Return the layers this rule names, each once (a layer listed twice is gated once)."""
        return range(num_layers) if self.layers == "all" else tuple(dict.fromkeys(self.layers))

    def head_indices(self, num_heads: int) -> range | tuple[int, ...]:
        """Return the heads this rule names, each once."""
        return range(num_heads) if self.heads == "all" else tuple(dict.fromkeys(self.heads))

    def covers(self, layer: int, head: int) -> bool:
        """Return whether this rule applies to ``(layer, head)``."""
        return (self.layers == "all" or layer in self.layers) and (self.heads == "all" or head in self.heads)

    def mask(self) -> masks.Mask | None:
        """Return the allow-mask this rule applies, or None if it only gates."""
        parts = []
        if self.block is not None:
            parts.append(self.block.mask())
        if self.allow is not None:
            parts.append(self._preset())
        return masks.and_masks(*parts) if parts else None

    def dense(self, num_queries: int, num_keys: int) -> torch.Tensor | None:
        """Return ``self.mask().dense(num_queries, num_keys)`` (None if it only gates), the block's part
        written directly (``Block.dense``)."""
        block = None if self.block is None else self.block.dense(num_queries, num_keys)
        preset = None if self.allow is None else self._preset().dense(num_queries, num_keys)
        if block is None or preset is None:
            return preset if block is None else block
        return block.logical_and_(preset)

    def _preset(self) -> masks.Mask:
        params = {k: v for k, v in self.allow.items() if k != "preset"}
        return masks.make_preset(self.allow["preset"], **params)


def _keys(keys: set[str]) -> str:
    return _show(sorted(keys), 200)


def _check_allow(allow: Any, where: str) -> None:
    if not isinstance(allow, Mapping) or "preset" not in allow:
        raise _fail(where, f'expected an object {{"preset": name, ...parameters}}, got {_show(allow)}')
    if not isinstance(allow["preset"], str):
        raise _fail(f"{where}.preset", f"expected a preset name, got {_show(allow['preset'])}")
    params = {k: v for k, v in allow.items() if k != "preset"}
    for name, value in params.items():
        if isinstance(value, int) and not isinstance(value, bool) and not -MAX_INDEX <= value <= MAX_INDEX:
            raise _fail(f"{where}.{name}", f"at most {MAX_INDEX} in size, got {_show(value)}")
    try:
        masks.make_preset(allow["preset"], **params)
    except (ValueError, TypeError, OverflowError) as err:
        message = str(err)
        raise _fail(where, message if len(message) <= 300 else f"{message[:299]}…") from None


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
    # The heads ``allow`` may block, as one range; outside it ``allow`` is all True, so the masking passes
    # can skip those heads. None: any head.
    masked_heads: slice | None = None


@dataclass(frozen=True)
class MaskPlan:
    """A list of rules; the empty plan changes nothing."""

    rules: tuple[Rule, ...] = ()
    description: str = ""

    # -- serialisation ---------------------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Any, limits: PlanLimits = DEFAULT_LIMITS) -> MaskPlan:
        """Return the plan a dict in the documented format describes; bad input: ValueError naming it."""
        if not isinstance(data, Mapping):
            raise ValueError(f"a mask plan must be a JSON object, got {type(data).__name__}")
        check_shape(data, limits)
        return cls._from_checked_dict(data, limits)

    @classmethod
    def _from_checked_dict(cls, data: Any, limits: PlanLimits) -> MaskPlan:
        """Return what ``from_dict`` returns, for ``data`` that ``check_shape`` accepts."""
        if not isinstance(data, Mapping):
            raise ValueError(f"a mask plan must be a JSON object, got {type(data).__name__}")
        unknown = set(data) - _PLAN_KEYS
        if unknown:
            raise ValueError(f"plan: unknown key(s) {_keys(unknown)}; allowed: {sorted(_PLAN_KEYS)}")
        version = data.get("version")
        # True and 1.0 equal 1 in Python, but a plan written with them is not a version-1 document.
        if type(version) is not int or version not in READABLE_VERSIONS:
            raise ValueError(
                f"plan.version: this maskattn reads versions {', '.join(map(str, READABLE_VERSIONS))}, "
                f"got {_show(version)}"
            )
        rules = data.get("rules", [])
        if not isinstance(rules, list):
            raise ValueError(f"plan.rules: expected a list of rules, got {type(rules).__name__}")
        if len(rules) > MAX_RULES:
            raise ValueError(f"plan.rules: at most {MAX_RULES} rules, got {len(rules)}")
        description = _text(data.get("description", ""), "plan.description", MAX_DESCRIPTION_CHARS)
        return cls(
            tuple(Rule.from_dict(r, f"rules[{i}]", limits, version) for i, r in enumerate(rules)), description
        )

    @classmethod
    def from_json(cls, text: str | bytes, limits: PlanLimits = DEFAULT_LIMITS) -> MaskPlan:
        """Return the plan written as JSON text; invalid, too long or too deep JSON raises ValueError."""
        if not isinstance(text, str | bytes | bytearray):
            raise ValueError(f"a mask plan is read from JSON text, got {type(text).__name__}")
        if len(text) > limits.max_json_chars:
            raise ValueError(f"the plan is longer than {limits.max_json_chars} characters ({len(text)})")
        try:
            if not isinstance(text, str):
                # As json.loads reads bytes: UTF-8, -16 or -32, lone surrogates kept (check_shape names them).
                text = bytes(text).decode(json.detect_encoding(text), "surrogatepass")
            check_json_depth(text)
            data = json.loads(text)
            shape_checked = _shape_is_sure(text, limits)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f"not valid JSON: {err}") from None
        except RecursionError:
            # The depth scan above stops this; kept so that no input can ever surface as a crash.
            raise ValueError("not valid JSON: nested too deep") from None
        except ValueError as err:  # e.g. an integer of more than 4300 digits
            message = str(err)
            raise ValueError(
                message if message.startswith("not valid JSON") else f"not valid JSON: {err}"
            ) from None
        if not shape_checked:
            return cls.from_dict(data, limits)
        return cls._from_checked_dict(data, limits)

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
        key = self.__dict__.get("_key")
        if key is None:  # kept: a run asks for it on every compile, the app on every rerun
            key = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
            object.__setattr__(self, "_key", key)  # not a field: equality and repr ignore it
        return key

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
        """Raise ValueError if a rule names a layer, head or token the model or text lacks, or gates overflow.

        The gates of the rules naming one head multiply; their product must stay within ``±MAX_GATE``. With
        ``stack``, only the rules acting on that stack are checked (``Rule.applies_to``); ``num_keys`` is the
        key length where it differs from the query length (cross-attention).
        """
        num_keys = num_tokens if num_keys is None else num_keys
        for i, rule in enumerate(self.rules):
            if not rule.applies_to(stack, default_stack):
                continue
            bad_layers = [x for x in rule.layer_indices(num_layers) if x >= num_layers]
            if bad_layers:
                raise ValueError(
                    f"rules[{i}].layers: {_some(bad_layers)} out of range; the model has {num_layers} layers"
                )
            bad_heads = [x for x in rule.head_indices(num_heads) if x >= num_heads]
            if bad_heads:
                raise ValueError(
                    f"rules[{i}].heads: {_some(bad_heads)} out of range; the model has {num_heads} heads"
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
        rules = [r for r in self.rules if r.applies_to(stack, default_stack)]
        log_gates = [size for row in _log_gates(rules, num_layers, num_heads) for size in row]  # (L·H,)
        largest = max(log_gates, default=-math.inf)
        if largest > math.log(MAX_GATE) + 1e-9:
            layer, head = divmod(log_gates.index(largest), num_heads)
            names = [
                i
                for i, r in enumerate(self.rules)
                if r in rules and r.gate is not None and r.covers(layer, head)
            ]
            size = largest / math.log(10)
            raise ValueError(
                f"rules{_some(names)}.gate: the gates on layer {layer} · head {head} multiply to about "
                f"1e{size:.0f} in size; the product on one head must stay within ±{MAX_GATE:g}"
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
        out = [[1.0] * num_heads for _ in range(num_layers)]  # Python floats: float64, no overflow on the way
        for rule in self.rules:
            if rule.gate is not None:
                heads = rule.head_indices(num_heads)
                for layer in rule.layer_indices(num_layers):
                    row = out[layer]
                    for head in heads:
                        row[head] *= rule.gate
        return torch.tensor(out, dtype=torch.float64).reshape(num_layers, num_heads).float()

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
        # Plans arrive freshly parsed on every app rerun, so compiled masks are shared across equal plans.
        shared_key = (
            self.key(), num_layers, num_heads, num_tokens, num_keys, stack, default_stack,
            str(torch.device(device or "cpu")),
        )  # fmt: skip
        with _COMPILED_LOCK:
            if shared_key in _COMPILED:
                _COMPILED.move_to_end(shared_key)
                return _COMPILED[shared_key]
        # Checked only when compiled: a cached entry was checked for exactly these sizes (they are its key).
        self.check_fits(
            num_layers, num_heads, num_tokens, num_keys=num_keys, stack=stack, default_stack=default_stack
        )
        rules = [r for r in self.rules if r.applies_to(stack, default_stack)]
        allow: list[torch.Tensor | None] = [None] * num_layers
        masked: list[tuple[int, int]] = [(num_heads, 0)] * num_layers  # per layer: [first, last + 1) masked
        for rule in rules:
            dense = rule.dense(num_tokens, num_keys)  # (Q, K)
            if dense is None:
                continue
            heads = list(rule.head_indices(num_heads))
            span = (min(heads), max(heads) + 1) if heads else (num_heads, 0)
            # Consecutive heads as a slice: one pass in place on a view, not a gather and a scatter.
            which = slice(*span) if heads == list(range(*span)) else heads
            for layer in rule.layer_indices(num_layers):
                if allow[layer] is None:
                    allow[layer] = torch.ones(num_heads, num_tokens, num_keys, dtype=torch.bool)
                allow[layer][which] &= dense
                first, end = masked[layer]
                masked[layer] = (min(first, span[0]), max(end, span[1]))
        gate_matrix = MaskPlan(tuple(rules)).gates(num_layers, num_heads)  # (L, H)
        gated = {layer for r in rules if r.gate is not None for layer in r.layer_indices(num_layers)}
        compiled = [
            None
            if a is None and layer not in gated
            else LayerMask(
                allow=None if a is None else a.to(device),
                gate=gate_matrix[layer].to(device) if layer in gated else None,
                masked_heads=_masked_range(*masked[layer], num_heads) if a is not None else None,
            )
            for layer, a in enumerate(allow)
        ]
        with _COMPILED_LOCK:
            _COMPILED[shared_key] = compiled
            while len(_COMPILED) > COMPILED_CACHE_SIZE:
                _COMPILED.popitem(last=False)
        return compiled


def _masked_range(first: int, end: int, num_heads: int) -> slice | None:
    """Return ``slice(first, end)``, or None when it spans every head (nothing to skip)."""
    return None if (first, end) == (0, num_heads) else slice(first, end)


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
    check_shape(data)
    return Rule.from_dict(data, "rule")


def _log_gates(rules: Sequence[Rule], num_layers: int, num_heads: int) -> list[list[float]]:
    """Return per layer, per head, log |product of the gates of ``rules``| (−inf where one is 0)."""
    out = [[0.0] * num_heads for _ in range(num_layers)]
    for rule in rules:
        if rule.gate is not None and rule.gate not in (1.0, -1.0):
            size = math.log(abs(rule.gate)) if rule.gate != 0.0 else -math.inf
            heads = rule.head_indices(num_heads)
            for layer in rule.layer_indices(num_layers):
                row = out[layer]
                for head in heads:
                    row[head] += size
    return out
