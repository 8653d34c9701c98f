"""Mask algebra and presets: golden ■/⬚ grids drawn by hand, and properties checked against tensor ops.

■ = may attend, ⬚ = blocked; one line per query, one column per key. Every grid below was drawn by hand
from the preset's definition (comments give the rule), never printed from the code under test.
"""

import re
import textwrap

import pytest
import torch

from maskattn import masks as M
from maskattn.masks import (
    PRESETS,
    Mask,
    and_masks,
    block_diagonal,
    causal,
    cells,
    dilated,
    full,
    global_tokens,
    keys,
    make_preset,
    none_allowed,
    or_masks,
    padding,
    padding_batch,
    parse_grid,
    prefix_lm,
    queries,
    render_grid,
    sliding_window,
)


def grid(text: str) -> str:
    """Return a literal grid written indented in a test as the exact text ``render_grid`` gives."""
    return textwrap.dedent(text).strip("\n")


# ------------------------------------------------------------------------------------------------------------
# Presets: every entry of PRESETS has at least one hand-drawn grid (a test below checks the coverage).
# ------------------------------------------------------------------------------------------------------------

PRESET_GRIDS = [
    # (preset name, parameters, Q, K, expected grid)
    pytest.param(
        "full",
        {},
        3,
        5,
        """
        ■■■■■
        ■■■■■
        ■■■■■
        """,
        id="full-3x5",
    ),
    pytest.param(
        "causal",  # k ≤ q
        {},
        6,
        6,
        """
        ■⬚⬚⬚⬚⬚
        ■■⬚⬚⬚⬚
        ■■■⬚⬚⬚
        ■■■■⬚⬚
        ■■■■■⬚
        ■■■■■■
        """,
        id="causal-6x6",
    ),
    pytest.param(
        "causal",  # Q < K: indices are aligned at the top-left, so the last keys stay unseen
        {},
        4,
        6,
        """
        ■⬚⬚⬚⬚⬚
        ■■⬚⬚⬚⬚
        ■■■⬚⬚⬚
        ■■■■⬚⬚
        """,
        id="causal-4x6",
    ),
    pytest.param(
        "causal",  # Q > K: queries past the last key see every key
        {},
        6,
        4,
        """
        ■⬚⬚⬚
        ■■⬚⬚
        ■■■⬚
        ■■■■
        ■■■■
        ■■■■
        """,
        id="causal-6x4",
    ),
    pytest.param(
        "sliding_window",  # |q − k| ≤ 1
        {"size": 1},
        6,
        6,
        """
        ■■⬚⬚⬚⬚
        ■■■⬚⬚⬚
        ⬚■■■⬚⬚
        ⬚⬚■■■⬚
        ⬚⬚⬚■■■
        ⬚⬚⬚⬚■■
        """,
        id="sliding_window-1",
    ),
    pytest.param(
        "sliding_window",  # 0 ≤ q − k ≤ 2
        {"size": 2, "two_sided": False},
        6,
        6,
        """
        ■⬚⬚⬚⬚⬚
        ■■⬚⬚⬚⬚
        ■■■⬚⬚⬚
        ⬚■■■⬚⬚
        ⬚⬚■■■⬚
        ⬚⬚⬚■■■
        """,
        id="sliding_window-2-one-sided",
    ),
    pytest.param(
        "sliding_window",  # size 0: each query sees only its own position
        {"size": 0},
        4,
        5,
        """
        ■⬚⬚⬚⬚
        ⬚■⬚⬚⬚
        ⬚⬚■⬚⬚
        ⬚⬚⬚■⬚
        """,
        id="sliding_window-0-4x5",
    ),
    pytest.param(
        "dilated",  # (q − k) mod 2 = 0: a checkerboard
        {"stride": 2},
        6,
        6,
        """
        ■⬚■⬚■⬚
        ⬚■⬚■⬚■
        ■⬚■⬚■⬚
        ⬚■⬚■⬚■
        ■⬚■⬚■⬚
        ⬚■⬚■⬚■
        """,
        id="dilated-2",
    ),
    pytest.param(
        "dilated",  # (q − k) mod 3 = 0, in both directions
        {"stride": 3},
        4,
        6,
        """
        ■⬚⬚■⬚⬚
        ⬚■⬚⬚■⬚
        ⬚⬚■⬚⬚■
        ■⬚⬚■⬚⬚
        """,
        id="dilated-3-4x6",
    ),
    pytest.param(
        "prefix_lm",  # k < 2 or k ≤ q
        {"prefix_length": 2},
        6,
        6,
        """
        ■■⬚⬚⬚⬚
        ■■⬚⬚⬚⬚
        ■■■⬚⬚⬚
        ■■■■⬚⬚
        ■■■■■⬚
        ■■■■■■
        """,
        id="prefix_lm-2",
    ),
    pytest.param(
        "block_diagonal",  # segments [0, 2), [2, 5), [5, ∞)
        {"boundaries": [2, 5]},
        6,
        6,
        """
        ■■⬚⬚⬚⬚
        ■■⬚⬚⬚⬚
        ⬚⬚■■■⬚
        ⬚⬚■■■⬚
        ⬚⬚■■■⬚
        ⬚⬚⬚⬚⬚■
        """,
        id="block_diagonal-2-5",
    ),
    pytest.param(
        "block_diagonal",  # same segments, boundaries unsorted and repeated
        {"boundaries": [5, 2, 2]},
        3,
        6,
        """
        ■■⬚⬚⬚⬚
        ■■⬚⬚⬚⬚
        ⬚⬚■■■⬚
        """,
        id="block_diagonal-unsorted-3x6",
    ),
    pytest.param(
        "block_diagonal",  # no boundary: one segment
        {"boundaries": []},
        2,
        3,
        """
        ■■■
        ■■■
        """,
        id="block_diagonal-none",
    ),
    pytest.param(
        "global_tokens",  # q ∈ {0, 3} or k ∈ {0, 3}
        {"indices": [0, 3]},
        5,
        5,
        """
        ■■■■■
        ■⬚⬚■⬚
        ■⬚⬚■⬚
        ■■■■■
        ■⬚⬚■⬚
        """,
        id="global_tokens-0-3",
    ),
    pytest.param(
        "padding",  # k < 4, whatever the query
        {"length": 4},
        3,
        6,
        """
        ■■■■⬚⬚
        ■■■■⬚⬚
        ■■■■⬚⬚
        """,
        id="padding-4",
    ),
    pytest.param(
        "random",  # density 0 allows nothing
        {"density": 0.0, "seed": 3},
        3,
        4,
        """
        ⬚⬚⬚⬚
        ⬚⬚⬚⬚
        ⬚⬚⬚⬚
        """,
        id="random-0",
    ),
    pytest.param(
        "random",  # density 1 allows everything
        {"density": 1, "seed": 3},
        3,
        4,
        """
        ■■■■
        ■■■■
        ■■■■
        """,
        id="random-1",
    ),
    pytest.param(
        "random",  # pinned: saved plans name (density, seed) and must give the same cells in every version;
        # test_random_matches_pure_python_hash checks this grid against an independent pure-Python hash
        {"density": 0.5, "seed": 0},
        6,
        6,
        """
        ■⬚⬚⬚■■
        ■■⬚⬚■■
        ⬚■■⬚⬚⬚
        ■⬚■⬚⬚⬚
        ■⬚⬚⬚⬚■
        ■⬚⬚■■■
        """,
        id="random-0.5-seed0",
    ),
]


@pytest.mark.parametrize(("name", "params", "num_queries", "num_keys", "expected"), PRESET_GRIDS)
def test_preset_grid(name, params, num_queries, num_keys, expected):
    built = make_preset(name, **params)
    assert built.grid(num_queries, num_keys) == grid(expected)
    # The registry's factory and make_preset agree.
    assert torch.equal(
        built.dense(num_queries, num_keys), PRESETS[name].factory(**params).dense(num_queries, num_keys)
    )


def test_every_preset_has_a_golden_grid():
    covered = {p.values[0] for p in PRESET_GRIDS}
    assert covered == set(PRESETS)


DEFAULT_GRIDS = {
    # make_preset(name) with no parameters uses the defaults shown in the widgets (Param.default), 6x6.
    "full": "■■■■■■\n" * 6,
    "causal": "■⬚⬚⬚⬚⬚\n■■⬚⬚⬚⬚\n■■■⬚⬚⬚\n■■■■⬚⬚\n■■■■■⬚\n■■■■■■",
    "sliding_window": "■■■⬚⬚⬚\n■■■■⬚⬚\n■■■■■⬚\n⬚■■■■■\n⬚⬚■■■■\n⬚⬚⬚■■■",  # size 2, two-sided
    "dilated": "■⬚■⬚■⬚\n⬚■⬚■⬚■\n" * 3,  # stride 2
    "prefix_lm": "■■■⬚⬚⬚\n■■■⬚⬚⬚\n■■■⬚⬚⬚\n■■■■⬚⬚\n■■■■■⬚\n■■■■■■",  # prefix 3
    "block_diagonal": "■■■■⬚⬚\n" * 4 + "⬚⬚⬚⬚■■\n" * 2,  # boundary 4
    "global_tokens": "■■■■■■\n" + "■⬚⬚⬚⬚⬚\n" * 5,  # token 0
    "padding": "■■■■⬚⬚\n" * 6,  # length 4
    "random": "■⬚⬚⬚■■\n■■⬚⬚■■\n⬚■■⬚⬚⬚\n■⬚■⬚⬚⬚\n■⬚⬚⬚⬚■\n■⬚⬚■■■",  # density 0.5, seed 0
}


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_make_preset_defaults(name):
    assert make_preset(name).grid(6) == DEFAULT_GRIDS[name].strip("\n")
    defaults = {p.name: p.default for p in PRESETS[name].params}
    assert torch.equal(make_preset(name).dense(6), PRESETS[name].factory(**defaults).dense(6))


def _param_value(param, value):
    """Return ``value`` in the shape ``param`` takes (an index list for 'indices')."""
    return [value] if param.kind == "indices" else value


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_preset_param_bounds_are_what_the_factory_accepts(name):
    preset = PRESETS[name]
    assert preset.name == name
    for param in preset.params:
        assert param.kind in {"int", "float", "bool", "indices"}
        if param.kind in {"int", "float"}:
            assert param.minimum <= param.default and (
                param.maximum is None or param.default <= param.maximum
            )
        for bound in (param.minimum, param.maximum):
            if bound is not None:
                make_preset(name, **{param.name: _param_value(param, bound)}).dense(3)  # accepted
        if param.kind == "bool":
            continue
        step = 0.01 if param.kind == "float" else 1
        with pytest.raises(ValueError):
            make_preset(name, **{param.name: _param_value(param, type(param.minimum)(param.minimum - step))})
        if param.maximum is not None:
            with pytest.raises(ValueError):
                make_preset(name, **{param.name: _param_value(param, param.maximum + step)})


def test_prefix_lm_zero_is_causal_and_block_diagonal_zero_is_full():
    assert torch.equal(prefix_lm(0).dense(5), causal().dense(5))
    assert torch.equal(block_diagonal([0]).dense(5), full().dense(5))


# ------------------------------------------------------------------------------------------------------------
# cells / queries / keys and their negation
# ------------------------------------------------------------------------------------------------------------

SELECTION_GRIDS = [
    pytest.param(
        cells([(0, 1), (2, 3)]),
        """
        ⬚■⬚⬚⬚
        ⬚⬚⬚⬚⬚
        ⬚⬚⬚■⬚
        """,
        id="cells",
    ),
    pytest.param(
        ~cells([(0, 1), [2, 3]]),
        """
        ■⬚■■■
        ■■■■■
        ■■■⬚■
        """,
        id="not-cells",
    ),
    pytest.param(
        queries([1]),
        """
        ⬚⬚⬚⬚⬚
        ■■■■■
        ⬚⬚⬚⬚⬚
        """,
        id="queries",
    ),
    pytest.param(
        ~queries([1]),
        """
        ■■■■■
        ⬚⬚⬚⬚⬚
        ■■■■■
        """,
        id="not-queries",
    ),
    pytest.param(
        keys([0, 4]),
        """
        ■⬚⬚⬚■
        ■⬚⬚⬚■
        ■⬚⬚⬚■
        """,
        id="keys",
    ),
    pytest.param(
        ~keys([0, 4]),
        """
        ⬚■■■⬚
        ⬚■■■⬚
        ⬚■■■⬚
        """,
        id="not-keys",
    ),
    pytest.param(
        cells([(7, 7)]) | queries([9]) | keys([8]),  # indices past the grid select nothing inside it
        """
        ⬚⬚⬚⬚⬚
        ⬚⬚⬚⬚⬚
        ⬚⬚⬚⬚⬚
        """,
        id="outside-the-grid",
    ),
]


@pytest.mark.parametrize(("mask", "expected"), SELECTION_GRIDS)
def test_selection_grid(mask, expected):
    assert mask.grid(3, 5) == grid(expected)


def test_cells_with_a_large_key_index_do_not_collide_with_other_cells():
    # Regression: cells were coded as q·1_000_003 + k, so (0, 1_000_003) and (1, 0) were the same cell.
    assert not cells([(0, 1_000_003)]).dense(2, 2).any()
    far = cells([(1, 0)]).dense(2, 1_000_004)
    assert far.sum().item() == 1 and far[1, 0]


# ------------------------------------------------------------------------------------------------------------
# Composition
# ------------------------------------------------------------------------------------------------------------

COMPOSITION_GRIDS = [
    pytest.param(
        causal() & sliding_window(1),  # 0 ≤ q − k ≤ 1
        6,
        6,
        """
        ■⬚⬚⬚⬚⬚
        ■■⬚⬚⬚⬚
        ⬚■■⬚⬚⬚
        ⬚⬚■■⬚⬚
        ⬚⬚⬚■■⬚
        ⬚⬚⬚⬚■■
        """,
        id="causal-and-window",
    ),
    pytest.param(
        causal() | global_tokens([0]),  # causal already has column 0; row 0 opens fully
        6,
        6,
        """
        ■■■■■■
        ■■⬚⬚⬚⬚
        ■■■⬚⬚⬚
        ■■■■⬚⬚
        ■■■■■⬚
        ■■■■■■
        """,
        id="causal-or-global0",
    ),
    pytest.param(
        causal() | global_tokens([2]),  # row 2 and column 2 open on top of causal
        6,
        6,
        """
        ■⬚■⬚⬚⬚
        ■■■⬚⬚⬚
        ■■■■■■
        ■■■■⬚⬚
        ■■■■■⬚
        ■■■■■■
        """,
        id="causal-or-global2",
    ),
    pytest.param(
        and_masks(causal(), padding(4), ~keys([1])),  # k ≤ q, k < 4, k ≠ 1
        6,
        6,
        """
        ■⬚⬚⬚⬚⬚
        ■⬚⬚⬚⬚⬚
        ■⬚■⬚⬚⬚
        ■⬚■■⬚⬚
        ■⬚■■⬚⬚
        ■⬚■■⬚⬚
        """,
        id="and_masks-three",
    ),
    pytest.param(
        or_masks(cells([(0, 5)]), queries([4]), sliding_window(0)),
        6,
        6,
        """
        ■⬚⬚⬚⬚■
        ⬚■⬚⬚⬚⬚
        ⬚⬚■⬚⬚⬚
        ⬚⬚⬚■⬚⬚
        ■■■■■■
        ⬚⬚⬚⬚⬚■
        """,
        id="or_masks-three",
    ),
    pytest.param(
        ~causal(),  # k > q
        4,
        4,
        """
        ⬚■■■
        ⬚⬚■■
        ⬚⬚⬚■
        ⬚⬚⬚⬚
        """,
        id="not-causal",
    ),
    pytest.param(
        causal() & padding(3),  # non-square: k ≤ q and k < 3
        4,
        6,
        """
        ■⬚⬚⬚⬚⬚
        ■■⬚⬚⬚⬚
        ■■■⬚⬚⬚
        ■■■⬚⬚⬚
        """,
        id="causal-and-padding-4x6",
    ),
    pytest.param(
        prefix_lm(2) & ~queries([0, 1]),  # the seed's example: whole query rows blocked
        5,
        3,
        """
        ⬚⬚⬚
        ⬚⬚⬚
        ■■■
        ■■■
        ■■■
        """,
        id="prefix-and-not-queries-5x3",
    ),
    pytest.param(and_masks(), 2, 3, "■■■\n■■■", id="and_masks-empty-is-full"),
    pytest.param(or_masks(), 2, 3, "⬚⬚⬚\n⬚⬚⬚", id="or_masks-empty-is-none"),
    pytest.param(none_allowed(), 2, 2, "⬚⬚\n⬚⬚", id="none_allowed"),
]


@pytest.mark.parametrize(("mask", "num_queries", "num_keys", "expected"), COMPOSITION_GRIDS)
def test_composition_grid(mask, num_queries, num_keys, expected):
    assert mask.grid(num_queries, num_keys) == grid(expected)


ALGEBRA_MASKS = [
    causal(),
    sliding_window(2),
    dilated(3),
    global_tokens([1, 6]),
    block_diagonal([3, 7]),
    M.random(0.4, seed=5),
    cells([(0, 0), (4, 2), (8, 9)]),
]


@pytest.mark.parametrize("a", ALGEBRA_MASKS, ids=lambda m: m.name)
@pytest.mark.parametrize("b", ALGEBRA_MASKS[::2], ids=lambda m: m.name)
def test_composition_equals_elementwise_tensor_ops(a, b):
    Q, K = 9, 11
    da, db = a.dense(Q, K), b.dense(Q, K)
    assert torch.equal((a & b).dense(Q, K), da & db)
    assert torch.equal((a | b).dense(Q, K), da | db)
    assert torch.equal((~a).dense(Q, K), ~da)
    assert torch.equal(and_masks(a, b, ~a).dense(Q, K), torch.zeros(Q, K, dtype=torch.bool))
    assert torch.equal(or_masks(a, b, ~a).dense(Q, K), torch.ones(Q, K, dtype=torch.bool))


def test_dense_shape_dtype_and_default_square():
    out = causal().dense(3)
    assert out.shape == (3, 3) and out.dtype == torch.bool
    assert full().dense(0, 4).shape == (0, 4)
    # A user mask function that ignores its inputs still gives a full (Q, K) tensor.
    assert Mask(lambda q, k: torch.tensor(True)).dense(2, 3).shape == (2, 3)


# ------------------------------------------------------------------------------------------------------------
# Grids as text
# ------------------------------------------------------------------------------------------------------------


def test_parse_grid_reads_a_hand_written_grid():
    text = grid(
        """
        ■⬚■
        ⬚⬚■
        """
    )
    assert torch.equal(parse_grid(text), torch.tensor([[True, False, True], [False, False, True]]))
    # Surrounding blank lines and indentation are ignored.
    assert torch.equal(parse_grid("\n   ■⬚■\n   ⬚⬚■\n"), parse_grid(text))


@pytest.mark.parametrize(("num_queries", "num_keys"), [(1, 1), (4, 7), (7, 4), (16, 16)])
def test_parse_grid_round_trip(num_queries, num_keys):
    allow = torch.rand(num_queries, num_keys) < 0.5
    text = render_grid(allow)
    assert len(text.splitlines()) == num_queries
    assert all(len(line) == num_keys for line in text.splitlines())
    assert torch.equal(parse_grid(text), allow)
    assert render_grid(parse_grid(text)) == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "one or more lines"),
        ("■⬚\n■", "equal length"),
        ("■x⬚", "only"),
        ("1 0\n0 1", "only"),
    ],
)
def test_parse_grid_rejects_bad_text(text, message):
    with pytest.raises(ValueError, match=message):
        parse_grid(text)


def test_render_grid_rejects_non_2d():
    with pytest.raises(ValueError, match=re.escape("got shape (1, 2, 2)")):
        render_grid(torch.ones(1, 2, 2, dtype=torch.bool))


# ------------------------------------------------------------------------------------------------------------
# padding_batch
# ------------------------------------------------------------------------------------------------------------


def test_padding_batch_matches_a_loop():
    lengths, num_keys = [3, 5, 0, 1], 5
    out = padding_batch(lengths, num_keys)
    assert out.shape == (4, 1, 1, 5) and out.dtype == torch.bool
    for b, n in enumerate(lengths):
        for k in range(num_keys):
            assert bool(out[b, 0, 0, k]) == (k < n)


def test_padding_batch_rows_equal_the_padding_preset():
    out = padding_batch([2, 4], 6)
    for b, n in enumerate([2, 4]):
        assert torch.equal(out[b, 0].expand(3, 6), padding(n).dense(3, 6))


def test_padding_batch_broadcasts_over_heads_and_queries():
    allow = padding_batch([2, 3], 4)  # (B, 1, 1, K)
    assert torch.broadcast_shapes(allow.shape, (2, 5, 7, 4)) == (2, 5, 7, 4)
    assert padding_batch([], 3).shape == (0, 1, 1, 3)


@pytest.mark.parametrize(
    ("lengths", "num_keys", "message"),
    [
        ([3, 6], 5, "exceed the number of keys 5"),
        ([-1], 5, "lengths must be non-negative integers, got -1"),
        ([True], 5, "got True"),
        ([2.0], 5, "got 2.0"),
        ([1], -1, "number of keys must be an integer ≥ 0, got -1"),
        (3, 5, "must be a list"),
    ],
)
def test_padding_batch_rejects_bad_input(lengths, num_keys, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        padding_batch(lengths, num_keys)


# ------------------------------------------------------------------------------------------------------------
# random
# ------------------------------------------------------------------------------------------------------------


def _pure_python_random(density: float, seed: int, q: int, k: int) -> bool:
    """Return one cell of the documented hash, in Python's unbounded ints (no int64 overflow)."""
    m32 = 0xFFFFFFFF
    x = (q * 0x9E3779B1 + k * 0x85EBCA77 + seed * 0xC2B2AE3D) & m32
    x = ((x ^ (x >> 16)) * 0x7FEB352D) & m32
    x = ((x ^ (x >> 15)) * 0x846CA68B) & m32
    x ^= x >> 16
    return x / 2.0**32 < density


@pytest.mark.parametrize(("density", "seed"), [(0.5, 0), (0.3, 7), (0.8, 2**31 - 1), (0.5, 2**40)])
def test_random_matches_pure_python_hash(density, seed):
    Q, K = 6, 9
    expected = torch.tensor([[_pure_python_random(density, seed, q, k) for k in range(K)] for q in range(Q)])
    assert torch.equal(M.random(density, seed).dense(Q, K), expected)


def test_random_large_indices_stay_in_range():
    # Large q, k make the intermediate products near 2⁶⁴; the result must still be the pure-Python hash.
    q_idx = torch.tensor([[70_000], [2**20]])
    k_idx = torch.tensor([[65_535, 1_000_003]])
    got = M.random(0.5, seed=3)(q_idx, k_idx)
    expected = torch.tensor(
        [[_pure_python_random(0.5, 3, q, k) for k in k_idx[0].tolist()] for q in q_idx[:, 0].tolist()]
    )
    assert torch.equal(got, expected)


@pytest.mark.parametrize("density", [0.1, 0.5, 0.9])
def test_random_density_close_to_target(density):
    n = 300
    allow = M.random(density, seed=1).dense(n).float()
    # 90 000 Bernoulli cells: the standard error is ≤ 0.0017, so 0.01 is about 6 standard errors.
    assert abs(allow.mean().item() - density) < 0.01
    # Not a few full rows and empty ones: every row is near the target too (≤ 0.029 standard error per row).
    assert (allow.mean(dim=1) - density).abs().max().item() < 0.15
    assert (allow.mean(dim=0) - density).abs().max().item() < 0.15


def test_random_reproducible_and_seed_dependent():
    a = M.random(0.5, seed=11).dense(64)
    assert torch.equal(a, M.random(0.5, seed=11).dense(64))
    b = M.random(0.5, seed=12).dense(64)
    agreement = (a == b).float().mean().item()
    assert 0.4 < agreement < 0.6  # independent coin flips agree about half the time


def test_random_does_not_depend_on_grid_size():
    mask = M.random(0.5, seed=4)
    big = mask.dense(16)
    assert torch.equal(big[:8, :8], mask.dense(8))
    assert torch.equal(big[:5, :13], mask.dense(5, 13))
    assert torch.equal(mask.dense(300)[:16, :16], big)


def test_random_is_monotone_in_density():
    # The same hash is thresholded: raising the density only adds cells.
    low, high = M.random(0.3, seed=2).dense(40), M.random(0.6, seed=2).dense(40)
    assert torch.equal(low & high, low)


# ------------------------------------------------------------------------------------------------------------
# Bad parameters: ValueError with a message that names the parameter and the value
# ------------------------------------------------------------------------------------------------------------

BAD_CALLS = [
    pytest.param(lambda: causal().dense(-1), "got (-1, -1)", id="dense-negative"),
    pytest.param(lambda: causal().dense(3, -2), "got (3, -2)", id="dense-negative-keys"),
    pytest.param(lambda: causal().dense(True), "got (True, True)", id="dense-bool"),
    pytest.param(lambda: causal().dense(2.5), "got (2.5, 2.5)", id="dense-float"),
    pytest.param(lambda: sliding_window(-1), "window size must be an integer ≥ 0, got -1", id="window-neg"),
    pytest.param(
        lambda: sliding_window(True), "window size must be an integer ≥ 0, got True", id="window-bool"
    ),
    pytest.param(lambda: sliding_window(2.0), "got 2.0", id="window-float"),
    pytest.param(
        lambda: sliding_window(2, two_sided="no"), "two_sided must be True or False", id="two-sided"
    ),
    pytest.param(lambda: dilated(0), "stride must be an integer ≥ 1, got 0", id="stride-0"),
    pytest.param(lambda: dilated(False), "got False", id="stride-bool"),
    pytest.param(lambda: prefix_lm(-3), "prefix length must be an integer ≥ 0, got -3", id="prefix-neg"),
    pytest.param(lambda: padding(1.5), "padding length must be an integer ≥ 0, got 1.5", id="padding-float"),
    pytest.param(lambda: block_diagonal([2, -1]), "segment boundaries must be non-negative", id="bounds"),
    pytest.param(lambda: block_diagonal(4), "segment boundaries must be a list", id="bounds-not-list"),
    pytest.param(lambda: global_tokens([True]), "global token indices", id="global-bool"),
    pytest.param(lambda: global_tokens(0), "must be a list of non-negative integers, got 0", id="global-int"),
    pytest.param(lambda: M.random(1.5), "density must be a number in [0, 1], got 1.5", id="density-1.5"),
    pytest.param(lambda: M.random(-0.1), "got -0.1", id="density-neg"),
    pytest.param(lambda: M.random(True), "got True", id="density-bool"),
    pytest.param(lambda: M.random("0.5"), "got '0.5'", id="density-str"),
    pytest.param(lambda: M.random(0.5, seed=-1), "seed must be an integer ≥ 0, got -1", id="seed-neg"),
    pytest.param(lambda: M.random(0.5, seed=True), "seed must be an integer ≥ 0, got True", id="seed-bool"),
    pytest.param(lambda: cells([(1,)]), "a cell is a [query, key] pair, got (1,)", id="cell-short"),
    pytest.param(lambda: cells([(1, 2, 3)]), "pair, got (1, 2, 3)", id="cell-long"),
    pytest.param(lambda: cells([5]), "pair, got 5", id="cell-int"),
    pytest.param(
        lambda: cells([(0, -2)]), "cell indices must be non-negative integers, got -2", id="cell-neg"
    ),
    pytest.param(lambda: queries([1, "2"]), "query indices must be non-negative integers, got '2'", id="q"),
    pytest.param(lambda: keys([-4]), "key indices must be non-negative integers, got -4", id="k"),
    pytest.param(
        lambda: make_preset("nope"), "unknown preset 'nope'; known presets: full, causal", id="unknown"
    ),
    pytest.param(
        lambda: make_preset("causal", size=2),
        "preset 'causal' takes no parameters, got unknown ['size']",
        id="p1",
    ),
    pytest.param(
        lambda: make_preset("sliding_window", size=2, width=3),
        "preset 'sliding_window' takes ['size', 'two_sided'], got unknown ['width']",
        id="p2",
    ),
    pytest.param(lambda: make_preset("random", density=1.5), "got 1.5", id="preset-bad-value"),
]


@pytest.mark.parametrize(("call", "message"), BAD_CALLS)
def test_bad_parameters_raise_value_error(call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call()


def test_unknown_preset_message_lists_every_preset():
    with pytest.raises(ValueError) as info:
        make_preset("causual")
    assert all(name in str(info.value) for name in PRESETS)


def test_masks_are_pure_functions_of_indices():
    # Evaluating on a shifted window of indices gives the matching slice of the big grid: no hidden length.
    q_idx = torch.arange(3, 7)[:, None]
    k_idx = torch.arange(2, 9)[None, :]
    for mask in ALGEBRA_MASKS:
        big = mask.dense(10)
        got = torch.broadcast_to(mask(q_idx, k_idx), (4, 7))
        assert torch.equal(got, big[3:7, 2:9]), mask.name
    # Causal on n tokens allows the lower triangle with its diagonal: n(n + 1)/2 cells.
    assert causal().dense(10).sum().item() == 10 * 11 // 2


@pytest.mark.parametrize(
    "make",
    [
        lambda: make_preset("sliding_window", size=10**30),
        lambda: make_preset("dilated", stride=10**30),
        lambda: make_preset("prefix_lm", prefix_length=10**30),
        lambda: make_preset("global_tokens", indices=[10**30]),
    ],
)
def test_huge_parameters_raise_value_error_not_overflow(make):
    with pytest.raises(ValueError, match="must be at most 2147483647"):
        make()
