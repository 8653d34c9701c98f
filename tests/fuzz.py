"""Hostile input for the property tests: plans, texts and link parameters as an attacker or a careless link
would write them, valid and invalid, nested, huge, unicode, duplicated.

Every property test runs under ``FUZZ``: derandomized (the same examples on every run, on every machine) and
without an example database or deadlines, so CI is deterministic and never depends on how busy it is.
"""

from __future__ import annotations

import base64
import json
import math
import zlib

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from maskattn import PRESETS

FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=False,
    # The suite's autouse fixture only seeds torch; nothing in it is meant to be reset per example.
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


def fuzz(max_examples: int) -> settings:
    """Return ``FUZZ`` with ``max_examples`` examples (sized so that all the property tests take ~1 min)."""
    return settings(FUZZ, max_examples=max_examples)


# -- numbers: finite, huge, non-finite, integers beyond any float, and the edges of the bounds
BIG_INTS = st.sampled_from([2**31 - 1, 2**31, 2**63, 10**30, 10**400, -(2**31), -1])
GATES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1.0, -1.0, 100.0, -100.0, 100.000001, 1e30, 1e-300, 5e-324, 1e308]),
    st.integers(-200, 200),
    BIG_INTS,
)
INDICES = st.one_of(st.integers(0, 20), st.integers(0, 600), BIG_INTS)

# -- text: any code point, lone surrogates included; look-alike keys; control characters; right-to-left
ANY_CHAR = st.characters(codec=None, exclude_categories=())
TEXTS = st.one_of(
    st.text(ANY_CHAR, max_size=40),
    st.text(st.characters(codec="utf-8"), min_size=1, max_size=60),
    st.sampled_from(
        [
            "",
            "   ",
            "\x00\x01\x1b[31m",
            "\ud800",
            "a\udfffb",
            "\u202eevil",
            "注意力\u200b",
            "<script>alert(1)</script>",
            "NaN",
            "inf",
            "the cat " * 400,
        ]
    ),
)
LOOKALIKE_KEYS = st.sampled_from(
    [
        "layers",
        "ｌａｙｅｒｓ",
        "layers\u200b",
        "LAYERS",
        "heads",
        "heads\x00",
        "gate",
        "gаte",
        "block",
        "allow",
    ]
)
KEYS = st.one_of(LOOKALIKE_KEYS, st.text(ANY_CHAR, max_size=8))

# -- any JSON-like value, nested a little
SCALARS = st.one_of(st.none(), st.booleans(), INDICES, GATES, st.text(ANY_CHAR, max_size=10))
JSONISH = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=12,
)


def _duplicated(values: st.SearchStrategy) -> st.SearchStrategy:
    """Return lists from ``values`` and the same lists repeated (duplicated indices, duplicated rules)."""
    return st.tuples(st.lists(values, max_size=6), st.integers(1, 4)).map(lambda pair: pair[0] * pair[1])


SELECTIONS = st.one_of(
    st.just("all"), _duplicated(INDICES), st.sampled_from(["every", "ALL", 3, None]), JSONISH
)
CELLS = st.one_of(
    _duplicated(st.lists(INDICES, min_size=2, max_size=2)),
    st.lists(st.lists(INDICES, max_size=3), max_size=4),
    # Long lists, some over the bounds of one list and of a plan (the same pair repeated costs no memory to
    # build); one just under them is in the regression tests, as such a plan takes a second to check.
    st.sampled_from([2, 10, 1_000, 100_001, 320_001]).map(lambda n: [[0, 1]] * n),
)
BLOCKS = st.one_of(
    st.fixed_dictionaries(
        {}, optional={"keys": _duplicated(INDICES), "queries": _duplicated(INDICES), "cells": CELLS}
    ),
    JSONISH,
)


def _preset_params(name: str) -> st.SearchStrategy:
    params = {
        p.name: st.one_of(INDICES, GATES, _duplicated(INDICES), st.booleans()) for p in PRESETS[name].params
    }
    return st.fixed_dictionaries({"preset": st.just(name)}, optional=params)


ALLOWS = st.one_of(st.sampled_from(list(PRESETS)).flatmap(_preset_params), JSONISH)
RULES = st.one_of(
    st.fixed_dictionaries(
        {"layers": SELECTIONS, "heads": SELECTIONS},
        optional={"block": BLOCKS, "allow": ALLOWS, "gate": GATES, "label": TEXTS},
    ),
    st.dictionaries(KEYS, JSONISH, max_size=4),
)
PLAN_DICTS = st.fixed_dictionaries(
    {"version": st.sampled_from([1, 1, 1, 1, 2, "1", True, 1.0])},
    optional={
        "rules": st.one_of(_duplicated(RULES), JSONISH),
        "description": TEXTS,
    },
)


def nested(depth: int, leaf: object = 0) -> list:
    """Return a list nested ``depth`` deep (built without recursion)."""
    out: object = leaf
    for _ in range(depth):
        out = [out]
    return out  # type: ignore[return-value]


DEEP = st.sampled_from([31, 32, 33, 100, 5_000, 200_000])


@st.composite
def plan_texts(draw) -> str | bytes:
    """Return JSON text of a plan: well-formed, cut, deeply nested, huge, or not JSON at all."""
    kind = draw(st.sampled_from(["plan", "cut", "deep", "deep-in-string", "garbage", "bytes"]))
    if kind == "deep":
        depth = draw(DEEP)
        return '{"version": 1, "rules": ' + "[" * depth + "]" * depth + "}"
    if kind == "deep-in-string":  # brackets inside a string are text, not nesting
        return json.dumps({"version": 1, "rules": [], "description": "[" * draw(DEEP)})
    if kind == "garbage":
        return draw(st.text(ANY_CHAR, max_size=60))
    text = json.dumps(draw(PLAN_DICTS), ensure_ascii=draw(st.booleans()), allow_nan=True)
    if kind == "cut":
        return text[: draw(st.integers(0, len(text)))]
    if kind == "bytes":
        return text.encode(draw(st.sampled_from(["utf-8", "utf-16", "utf-32"])), "surrogatepass")
    return text


def pack(text: str | bytes) -> str:
    """Return ``text`` packed as a link packs a plan (zlib, URL-safe base64), whatever it holds."""
    raw = text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")
    return base64.urlsafe_b64encode(zlib.compress(raw, 9)).decode().rstrip("=")


# -- valid plans for a model of L layers × H heads and a text of T tokens: extreme, but within the bounds
@st.composite
def valid_plans(draw, num_layers: int, num_heads: int, num_tokens: int) -> dict:
    """Return a plan dict that ``check_fits`` accepts, gates at the edges of their bounds included."""
    layer = st.integers(0, num_layers - 1)
    head = st.integers(0, num_heads - 1)
    token = st.integers(0, num_tokens - 1)
    rules = []
    for _ in range(draw(st.integers(1, 6))):
        rule: dict = {
            "layers": draw(st.one_of(st.just("all"), st.lists(layer, min_size=1, max_size=4))),
            "heads": draw(st.one_of(st.just("all"), st.lists(head, min_size=1, max_size=4))),
        }
        what = draw(st.sets(st.sampled_from(["block", "allow", "gate"]), min_size=1))
        if "block" in what:
            rule["block"] = draw(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "keys": st.lists(token, max_size=num_tokens),
                        "queries": st.lists(token, max_size=num_tokens),
                        "cells": st.lists(st.tuples(token, token).map(list), max_size=40),
                    },
                )
            )
        if "allow" in what:
            rule["allow"] = draw(
                st.sampled_from(list(PRESETS)).flatmap(lambda n: _valid_params(n, num_tokens))
            )
        if "gate" in what:
            rule["gate"] = draw(
                st.sampled_from([0.0, -0.0, 1e-300, 0.5, -1.0, 2.0, 10.0, 99.9, 100.0, -100.0])
            )
        rules.append(rule)
    plan = {"version": 1, "rules": rules}
    # The product of a head's gates stays within ±100: drop gates until it does (the bound is checked alone).
    while _largest_gate_product(plan, num_layers, num_heads) > 100.0:
        gated = [r for r in plan["rules"] if "gate" in r and abs(r["gate"]) > 1.0]
        gated[-1]["gate"] = 1.0
    return plan


def _valid_params(name: str, num_tokens: int) -> st.SearchStrategy:
    token = st.integers(0, num_tokens + 3)
    choices = {
        "size": st.integers(0, num_tokens + 3),
        "two_sided": st.booleans(),
        "stride": st.integers(1, num_tokens + 3),
        "prefix_length": token,
        "boundaries": st.lists(token, max_size=5),
        "indices": st.lists(token, max_size=5),
        "length": token,
        "density": st.floats(0.0, 1.0),
        "seed": st.integers(0, 2**31 - 1),
    }
    optional = {p.name: choices[p.name] for p in PRESETS[name].params}
    return st.fixed_dictionaries({"preset": st.just(name)}, optional=optional)


def _largest_gate_product(plan: dict, num_layers: int, num_heads: int) -> float:
    worst = 0.0
    for layer in range(num_layers):
        for head in range(num_heads):
            size = 1.0
            for rule in plan["rules"]:
                covers = (rule["layers"] == "all" or layer in rule["layers"]) and (
                    rule["heads"] == "all" or head in rule["heads"]
                )
                if covers and "gate" in rule:
                    size *= abs(rule["gate"])
            worst = max(worst, size)
    return worst


def assert_finite(result) -> None:
    """Check that every number a run gives back is finite."""
    for name in ("attentions", "hidden", "logits", "token_change", "embedding"):
        tensor = getattr(result, name)
        if tensor is not None:
            assert tensor.isfinite().all(), name
    for name in ("embedding_cosine", "kl_divergence"):
        value = getattr(result, name)
        assert value is None or math.isfinite(value), name
