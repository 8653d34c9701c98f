"""The grid painter's wire format: encode/decode against plain-Python references, and malformed input."""

from __future__ import annotations

import base64
import json
import struct

import numpy as np
import pytest

import ui.painter_codec as codec
from ui.painter_codec import (
    ATTENTION_WORDS,
    HEAD_WORDS,
    MAX_SIDE,
    PainterWords,
    decode_bits,
    decode_click,
    decode_state,
    decode_values,
    encode_grid,
    encode_values,
    painter_payload,
    state_revision,
)

SHAPES = [(1, 1), (2, 3), (7, 5), (6, 12), (128, 128)]


def _grid(text: str) -> np.ndarray:
    """Parse a ■ (painted) / ⬚ (clear) picture into a bool grid."""
    return np.array([[ch == "■" for ch in line.strip()] for line in text.strip().splitlines()])


def _reference_bits(grid: np.ndarray) -> str:
    return "".join("1" if grid[i][j] else "0" for i in range(len(grid)) for j in range(len(grid[0])))


def _reference_unpack(text: str, n: int, bits: int) -> list[int]:
    """Read ``n`` codes of ``bits`` bits from base64, each byte's most significant bits first, bit by bit."""
    stream = "".join(format(byte, "08b") for byte in base64.b64decode(text))
    return [int(stream[i * bits : (i + 1) * bits], 2) for i in range(n)]


def _random_grid(shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random(shape) < 0.4


def _state(grid: np.ndarray, rev: int = 3) -> dict[str, object]:
    return {"bits": _reference_bits(grid), "rows": grid.shape[0], "cols": grid.shape[1], "rev": rev}


# ------------------------------------------------------------------------------------------- bit grids


def test_encode_is_row_major_on_a_picture() -> None:
    picture = _grid(
        """
        ■⬚⬚⬚
        ■■⬚⬚
        ⬚■■■
        """
    )
    assert encode_grid(picture) == "1000" + "1100" + "0111"


@pytest.mark.parametrize("shape", SHAPES)
def test_encode_matches_reference_and_round_trips(shape: tuple[int, int]) -> None:
    grid = _random_grid(shape)
    bits = encode_grid(grid)
    assert bits == _reference_bits(grid)
    decoded = decode_bits(bits, *shape)
    assert decoded is not None and decoded.dtype == np.bool_
    np.testing.assert_array_equal(decoded, grid)


def test_encode_accepts_zero_one_integers_and_views() -> None:
    grid = _random_grid((5, 8), seed=1)
    assert encode_grid(grid.astype(np.int64)) == _reference_bits(grid)
    assert encode_grid(grid.T) == _reference_bits(grid.T)  # a non-contiguous view
    assert encode_grid(grid[::2, 1:]) == _reference_bits(grid[::2, 1:])


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (np.zeros(4, dtype=bool), "2-D"),
        (np.zeros((2, 2, 2), dtype=bool), "2-D"),
        (np.zeros((2, 2)), "boolean or 0/1"),
        (np.array([[0, 2]]), "boolean or 0/1"),
    ],
)
def test_encode_rejects_what_is_not_a_bool_grid(bad: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        encode_grid(bad)


@pytest.mark.parametrize(
    "bits",
    [
        None,
        101,
        ["1", "0", "1", "0", "1", "0"],
        b"101010",
        "10101",
        "1010101",
        "10a010",
        "1 1010",
        "１01010",
        "",
    ],
)
def test_decode_bits_returns_none_on_anything_but_exact_bits(bits: object) -> None:
    assert decode_bits(bits, 2, 3) is None


def test_decoded_grid_is_writable_and_independent() -> None:
    grid = decode_bits("0110", 2, 2)
    grid[0, 0] = True  # np.frombuffer alone would give a read-only array
    assert decode_bits("0110", 2, 2)[0, 0] == np.False_


# ------------------------------------------------------------------------------------------- state values


@pytest.mark.parametrize("shape", SHAPES)
def test_decode_state_round_trips(shape: tuple[int, int]) -> None:
    grid = _random_grid(shape, seed=2)
    decoded = decode_state(_state(grid), *shape)
    np.testing.assert_array_equal(decoded, grid)


def test_decode_state_ignores_extra_keys() -> None:
    grid = _random_grid((3, 3))
    assert decode_state({**_state(grid), "extra": [1, 2]}, 3, 3) is not None


def _malformed_states() -> list[object]:
    good = _state(_random_grid((3, 4)))
    return [
        None,
        "0101",
        42,
        [good],
        {},
        {**good, "rows": 4, "cols": 3},  # same length, other shape
        {**good, "rows": 3, "cols": 5},
        {**good, "rows": "3"},
        {**good, "rows": True},  # JSON true is not a size
        {**good, "cols": 4.0},
        {k: v for k, v in good.items() if k != "bits"},
        {k: v for k, v in good.items() if k != "rev"},
        {**good, "rev": -1},
        {**good, "rev": 1.5},
        {**good, "rev": None},
        {**good, "rev": False},
        {**good, "bits": good["bits"][:-1]},
        {**good, "bits": good["bits"] + "0"},
        {**good, "bits": good["bits"].replace("0", "2", 1)},
        {**good, "bits": None},
    ]


@pytest.mark.parametrize("value", _malformed_states())
def test_decode_state_returns_none_on_malformed_or_stale_values(value: object) -> None:
    assert decode_state(value, 3, 4) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"rev": 0}, 0),
        ({"rev": 7}, 7),
        ({"rev": -2}, None),
        ({"rev": True}, None),
        ({}, None),
        (None, None),
        (3, None),
    ],
)
def test_state_revision(value: object, expected: int | None) -> None:
    assert state_revision(value) == expected


# ------------------------------------------------------------------------------------------- clicks


@pytest.mark.parametrize(("row", "col"), [(0, 0), (5, 11), (2, 7)])
def test_decode_click_inside_the_grid(row: int, col: int) -> None:
    assert decode_click({"row": row, "col": col}, 6, 12) == (row, col)


@pytest.mark.parametrize(
    "value",
    [
        None,
        "2,3",
        (2, 3),
        {"row": 2},
        {"row": 6, "col": 0},
        {"row": 0, "col": 12},
        {"row": -1, "col": 0},
        {"row": 1.0, "col": 2},
        {"row": True, "col": 2},
        {"row": "1", "col": "2"},
    ],
)
def test_decode_click_returns_none_outside_or_malformed(value: object) -> None:
    assert decode_click(value, 6, 12) is None


# ------------------------------------------------------------------------------------------- values


def _reference_decode(text: str) -> list[float]:
    raw = base64.b64decode(text)
    return [v / 65535 for v in struct.unpack(f"<{len(raw) // 2}H", raw)]


@pytest.mark.parametrize("shape", SHAPES)
def test_values_round_trip_within_half_a_step(shape: tuple[int, int]) -> None:
    values = np.random.default_rng(3).random(shape)
    text = encode_values(values)
    np.testing.assert_allclose(_reference_decode(text), values.ravel(), atol=0.5 / 65535)
    np.testing.assert_allclose(decode_values(text, *shape), values, atol=0.5 / 65535)


def test_values_keep_the_ends_exact_and_clip_overshoot() -> None:
    values = np.array([[0.0, 1.0, 1.0 + 1e-6, -1e-7, 0.5]])
    assert _reference_decode(encode_values(values)) == [0.0, 1.0, 1.0, 0.0, 32768 / 65535]


@pytest.mark.parametrize(
    ("bad", "message"),
    [(np.array([[0.1, np.nan]]), "finite"), (np.array([[np.inf]]), "finite"), (np.zeros(3), "2-D")],
)
def test_encode_values_rejects_bad_input(bad: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        encode_values(bad)


@pytest.mark.parametrize(
    "text", [None, 12, "not base64!", "AAA", base64.b64encode(b"\x00" * 10).decode(), "Ａ"]
)
def test_decode_values_returns_none_on_malformed(text: object) -> None:
    assert decode_values(text, 2, 3) is None


# ------------------------------------------------------------------------------------------- payload


def _payload(**overrides: object) -> dict[str, object]:
    rows, cols = 3, 4
    kwargs = {
        "row_labels": ["[CLS]", "猫", "##ing"],
        "col_labels": ["a", "b", "c", "d"],
        "blocked": _random_grid((rows, cols)),
    }
    return painter_payload(**{**kwargs, **overrides})


def test_payload_is_json_and_carries_every_input() -> None:
    blocked = _random_grid((3, 4), seed=5)
    values = np.random.default_rng(5).random((3, 4))
    marked = _random_grid((3, 4), seed=6)
    payload = _payload(
        blocked=blocked, values=values, marked=marked, focus=(np.int64(2), 1), words=HEAD_WORDS, cell_px=20
    )
    decoded = json.loads(json.dumps(payload))
    assert decoded["rows"] == 3 and decoded["cols"] == 4
    assert decoded["row_labels"] == ["[CLS]", "猫", "##ing"]
    assert _reference_unpack(decoded["blocked"], 12, 1) == [int(b) for b in _reference_bits(blocked)]
    assert _reference_unpack(decoded["marked"], 12, 1) == [int(b) for b in _reference_bits(marked)]
    np.testing.assert_allclose(_reference_decode(decoded["values"]), values.ravel(), atol=0.5 / 65535)
    assert decoded["focus"] == [2, 1]
    assert decoded["words"]["row"] == "layer" and decoded["words"]["painted"] == HEAD_WORDS.painted
    assert decoded["cell_px"] == 20
    assert decoded["pickable"] is False and decoded["ack_rev"] == 0


def test_payload_defaults_leave_optional_layers_empty() -> None:
    payload = _payload()
    assert payload["values"] is None and payload["marked"] is None and payload["focus"] is None
    assert payload["words"] == json.loads(json.dumps(payload["words"]))
    assert payload["words"]["row"] == ATTENTION_WORDS.row == "query"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"row_labels": ["a", "b"]}, r"row_labels must be a list of 3 strings; got 2 labels"),
        ({"col_labels": "abcd"}, r"col_labels must be a list of 4 strings; got a string"),
        ({"values": np.zeros((4, 3))}, r"values must have shape \(3, 4\).*got \(4, 3\)"),
        ({"marked": np.zeros((3, 5), dtype=bool)}, r"marked must have shape \(3, 4\)"),
        ({"focus": (3, 0)}, r"focus must lie inside the grid of shape \(3, 4\); got \(3, 0\)"),
        ({"focus": (0, -1)}, r"focus must lie inside"),
        ({"focus": (1.5, 0)}, r"focus must be a \(row, col\) pair of integers"),
        ({"focus": (1, 2, 3)}, r"focus must be a \(row, col\) pair"),
        ({"focus": 7}, r"focus must be a \(row, col\) pair"),
        ({"cell_px": 2}, r"cell_px must be an integer in \[4, 64\]"),
        ({"cell_px": True}, r"cell_px must be an integer"),
        ({"blocked": np.zeros(5, dtype=bool)}, r"blocked must be 2-D"),
        ({"blocked": np.zeros((3, 4))}, r"blocked must be boolean or integer; got dtype float64"),
        ({"blocked": np.full((3, 4), 2)}, r"blocked must hold codes 0..1; got 2..2"),
    ],
)
def test_payload_rejects_bad_input_naming_got_and_expected(overrides: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _payload(**overrides)


def test_payload_rejects_grids_bigger_than_the_painter_draws() -> None:
    side = MAX_SIDE + 1
    with pytest.raises(ValueError, match=rf"1\.\.{MAX_SIDE} rows and columns; got shape \(1, {side}\)"):
        painter_payload(
            row_labels=["r"], col_labels=[str(j) for j in range(side)], blocked=np.zeros((1, side), bool)
        )


def test_words_are_plain_frozen_data() -> None:
    words = PainterWords(row="q", col="k")
    with pytest.raises(AttributeError):
        words.row = "x"  # type: ignore[misc]
    assert _payload(words=words)["words"]["row"] == "q"


def test_ramp_travels_checked():
    blocked = np.zeros((2, 2), dtype=bool)
    base = {"row_labels": ["a", "b"], "col_labels": ["a", "b"], "blocked": blocked}
    assert painter_payload(**base)["ramp"] is None
    assert painter_payload(**base, ramp=[(0, 0, 0), (255, 255, 255)])["ramp"] == [[0, 0, 0], [255, 255, 255]]
    for bad in ([(0, 0, 0)], [(0, 0, 0), (256, 0, 0)], [(0, 0), (1, 1)]):
        with pytest.raises(ValueError, match="ramp must be"):
            painter_payload(**base, ramp=bad)


def test_fixed_cells_travel_as_two_bit_codes_and_the_model_wins_over_a_rule():
    rule = np.array([[True, True], [False, False]])
    model = np.array([[False, True], [False, False]])
    fixed = codec.fixed_grid(rule, model, (2, 2))
    payload = codec.painter_payload(
        row_labels=["a", "b"], col_labels=["a", "b"], blocked=np.zeros((2, 2), bool), fixed=fixed
    )
    assert _reference_unpack(payload["fixed"], 4, 2) == [1, 2, 0, 0]
    with pytest.raises(ValueError, match="fixed must hold only"):
        codec.painter_payload(
            row_labels=["a"], col_labels=["a"], blocked=np.zeros((1, 1), bool), fixed=np.full((1, 1), 7)
        )


@pytest.mark.parametrize(
    ("bits", "shape"), [(1, (1, 1)), (1, (3, 5)), (1, (128, 128)), (2, (7, 3)), (2, (64, 65))]
)
def test_packed_codes_round_trip_through_an_independent_reader(bits, shape):
    grid = np.random.default_rng(sum(shape)).integers(0, 1 << bits, size=shape)
    packed = codec.pack_codes(grid, bits)
    # The reader takes the first cell from the top bits: a packing from the low bits would fail here.
    assert _reference_unpack(packed, grid.size, bits) == grid.ravel().tolist()
    assert len(base64.b64decode(packed)) == -(-grid.size * bits // 8)  # whole bytes, the last one padded


def test_packed_codes_are_small_and_refuse_what_they_cannot_hold():
    assert len(codec.pack_codes(np.ones((128, 128), bool), 1)) < 2800  # 16 384 characters before
    for bad, message in [
        (np.full((2, 2), 2), "codes 0..1"),
        (np.full((2, 2), -1), "codes 0..1"),
        (np.full((2, 2), 0.5), "boolean or integer"),
        (np.zeros(4, bool), "2-D"),
    ]:
        with pytest.raises(ValueError, match=message):
            codec.pack_codes(bad, 1)
    with pytest.raises(ValueError, match="bits must be"):
        codec.pack_codes(np.zeros((2, 2), bool), 3)


def test_chinese_painter_words_leave_no_english_on_the_toolbar():
    from ui.words import attention_words, head_words

    for words in (attention_words("zh"), head_words("zh")):
        for name in ("count", "undo", "painted", "painted_legend", "rule", "model", "hint"):
            assert any("\u4e00" <= ch <= "\u9fff" for ch in getattr(words, name)), name


def test_values_travel_as_fractions_of_values_max_and_the_top_rides_along():
    # A long text's weights are all small: the page scales the ramp to the largest one (Issue 15, item 4).
    values = np.array([[0.02, 0.01], [0.005, 0.0]])
    payload = painter_payload(
        row_labels=["a", "b"], col_labels=["a", "b"], blocked=np.zeros((2, 2), bool), values=values,
        values_max=0.02,
    )  # fmt: skip
    assert payload["values_max"] == 0.02
    shown = decode_values(payload["values"], 2, 2)
    np.testing.assert_allclose(shown * 0.02, values, atol=0.02 / 65535)
    assert shown[0, 0] == 1.0  # the largest weight is the top of the ramp
    for bad in (0.0, -1.0, float("nan"), float("inf"), "1"):
        with pytest.raises(ValueError, match="values_max"):
            painter_payload(
                row_labels=["a"], col_labels=["a"], blocked=np.zeros((1, 1), bool), values_max=bad
            )
