"""Pure encoding and decoding for the grid painter component (no Streamlit here, so it can be unit tested).

Wire formats, Python <-> browser:

- to the browser, a boolean grid (R, C) (blocked, marked) travels packed, 1 bit per cell, and the grid of
  fixed cells (blocked by something the painter cannot change: 0 free, 1 blocked by a rule of the plan, 2 by
  the model's own mask) 2 bits per cell: row-major (``grid[i, j]`` is cell ``i * C + j``), most significant
  bits first, the last byte padded with zeros, in base64 (``pack_codes``). A 128 x 128 grid is 2.7 kB
  instead of the 16 kB of one character per cell;
- from the browser, the component's state value, sent once per finished gesture, is
  ``{"bits": <R*C '0'/'1' string>, "rows": R, "cols": C, "rev": <int >= 0>}`` (``encode_grid`` writes
  that string);
- the click trigger (focus tool) is ``{"row": i, "col": j}``;
- a value grid in [0, 1] travels as base64 of little-endian uint16, ``round(v * 65535)``, row-major,
  which keeps a 128 x 128 grid near 44 kB while showing three decimals exactly.

Anything malformed that comes back from the browser decodes to ``None`` so the caller can fall back to the
grid it passed in; bad input from Python code raises ``ValueError`` naming what was got and what was expected.
"""

from __future__ import annotations

import base64
import binascii
import math
import operator
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from .limits import MAX_GRID_SIDE as MAX_SIDE  # the biggest grid the painter draws

CELL_PX_RANGE = (4, 64)
_BITS = frozenset("01")
_U16_MAX = 65535


@dataclass(frozen=True)
class PainterWords:
    """Every word the painter shows: axis names and link for the tooltip, names of the kinds of cells, the
    toolbar's buttons and count, a hint. ``count`` and the ``*_part`` entries are templates (``{n}``,
    ``{total}``); the parts follow the count when fixed cells are blocked too ("36 of 144 blocked: 25 painted,
    11 by rules")."""

    row: str = "query"
    col: str = "key"
    link: str = "→"
    painted: str = "blocked"  # the state of a painted cell, in the tooltip and the count
    painted_legend: str = "painted"  # the legend's name of painted cells
    marked: str = "marked"
    rule: str = "blocked by a rule"
    model: str = "blocked by the model"
    focus: str = "focus"
    count: str = "{n} of {total} blocked"
    painted_part: str = "{n} painted"
    rule_part: str = "{n} by rules"
    model_part: str = "{n} by the model"
    undo: str = "↶ Undo"
    undo_help: str = "Undo the last change (Ctrl+Z)"
    paint_tool: str = "✎ Paint"
    focus_tool: str = "◎ Focus"
    zoom_fit: str = "Fit"
    # Shown when gestures wait for the server (a busy class): the painter shows them at once, the figures
    # follow in order. ``waiting`` is a template ({n}: gestures the server has not answered yet, n > 1).
    waiting_one: str = "1 edit waiting for the server…"
    waiting: str = "{n} edits waiting for the server…"
    zoom_help: str = "Zoom (long texts): − and + change the cell size (keys - and +), Fit shows it all"
    toggle_row: str = "click to toggle the row"
    toggle_col: str = "click to toggle the column"
    hint: str = (
        "click a cell to toggle · drag to paint (first cell decides block/unblock) · "
        "shift-drag for a rectangle · click a token label to toggle its whole row or column · ctrl+z undoes"
    )


ATTENTION_WORDS = PainterWords()
HEAD_WORDS = PainterWords(
    row="layer",
    col="head",
    link="·",
    painted="picked",
    painted_legend="picked",
    marked="gated",
    count="{n} of {total} picked",
    hint="click or drag over heads to pick them · shift-drag for a rectangle · "
    "click a layer or head label to toggle it everywhere",
)
FIXED_RULE, FIXED_MODEL = 1, 2  # the codes of the fixed grid


def encode_grid(blocked: np.ndarray) -> str:
    """Return the row-major '0'/'1' string of a 2-D grid of booleans (or of 0/1 integers)."""
    grid = np.asarray(blocked)
    if grid.ndim != 2:
        raise ValueError(f"grid must be 2-D (R, C); got shape {grid.shape}")
    if grid.dtype != np.bool_:
        if not np.issubdtype(grid.dtype, np.integer) or not np.isin(grid, (0, 1)).all():
            raise ValueError(f"grid must be boolean or 0/1 integers; got dtype {grid.dtype}")
        grid = grid.astype(bool)
    # uint8 '0' is 48: adding the bits gives the ASCII bytes directly, fast even at 512 x 512.
    return (grid.astype(np.uint8).ravel() + ord("0")).tobytes().decode("ascii")


def pack_codes(grid: np.ndarray, bits: int, name: str = "grid") -> str:
    """Return base64 of a 2-D grid of codes below ``2 ** bits`` (``bits`` 1 or 2), packed row-major.

    Cells fill each byte from its most significant bits; the last byte is padded with zero codes. Errors
    call the grid ``name``.
    """
    if bits not in (1, 2):
        raise ValueError(f"bits must be 1 or 2; got {bits!r}")
    codes = np.asarray(grid)
    if codes.ndim != 2:
        raise ValueError(f"{name} must be 2-D (R, C); got shape {codes.shape}")
    if codes.dtype != np.bool_ and not np.issubdtype(codes.dtype, np.integer):
        raise ValueError(f"{name} must be boolean or integer; got dtype {codes.dtype}")
    low, high = (int(codes.min()), int(codes.max())) if codes.size else (0, 0)
    if not (low >= 0 and high < 1 << bits):
        raise ValueError(f"{name} must hold codes 0..{(1 << bits) - 1}; got {low}..{high}")
    codes = codes.astype(np.uint8).ravel()
    per_byte = 8 // bits
    padded = np.zeros(math.ceil(codes.size / per_byte) * per_byte, dtype=np.uint8)
    padded[: codes.size] = codes
    shifts = (bits * np.arange(per_byte - 1, -1, -1)).astype(np.uint8)  # first cell in the top bits
    packed = np.bitwise_or.reduce(padded.reshape(-1, per_byte) << shifts, axis=1).astype(np.uint8)
    return base64.b64encode(packed.tobytes()).decode("ascii")


def decode_bits(bits: object, rows: int, cols: int) -> np.ndarray | None:
    """Return the (rows, cols) bool grid a '0'/'1' string encodes, or None if it is not exactly that."""
    if not isinstance(bits, str) or len(bits) != rows * cols or not set(bits) <= _BITS:
        return None
    flat = np.frombuffer(bits.encode("ascii"), dtype=np.uint8) == ord("1")
    return flat.reshape(rows, cols).copy()


def _is_int(value: object) -> bool:
    # JSON booleans arrive as Python bool, which is an int subclass; they are never a size or a revision.
    return isinstance(value, int) and not isinstance(value, bool)


def decode_state(value: object, rows: int, cols: int) -> np.ndarray | None:
    """Return the (rows, cols) blocked grid in a painter state value, or None if it is malformed or stale.

    Stale means painted on a grid of another shape (the text changed while the browser painted).
    """
    if not isinstance(value, Mapping):
        return None
    if not (_is_int(value.get("rows")) and _is_int(value.get("cols"))):
        return None
    if (value["rows"], value["cols"]) != (rows, cols):
        return None
    if state_revision(value) is None:
        return None
    return decode_bits(value.get("bits"), rows, cols)


def state_revision(value: object) -> int | None:
    """Return the gesture counter of a painter state value, or None if there is no valid one."""
    if not isinstance(value, Mapping):
        return None
    rev = value.get("rev")
    return rev if _is_int(rev) and rev >= 0 else None


def decode_click(value: object, rows: int, cols: int) -> tuple[int, int] | None:
    """Return (row, col) of a click trigger value when it lies inside a (rows, cols) grid, else None."""
    if not isinstance(value, Mapping):
        return None
    row, col = value.get("row"), value.get("col")
    if not (_is_int(row) and _is_int(col)):
        return None
    if not (0 <= row < rows and 0 <= col < cols):
        return None
    return row, col


def encode_values(values: np.ndarray) -> str:
    """Return base64 of the little-endian uint16 quantisation of a 2-D grid of values in [0, 1].

    Values are clipped to [0, 1] (attention weights can overshoot 1 by rounding); NaN or infinity raise.
    """
    grid = np.asarray(values, dtype=np.float64)
    if grid.ndim != 2:
        raise ValueError(f"values must be 2-D (R, C); got shape {grid.shape}")
    if not np.isfinite(grid).all():
        raise ValueError("values must be finite; got NaN or infinity")
    quantised = np.rint(np.clip(grid, 0.0, 1.0) * _U16_MAX).astype("<u2")
    return base64.b64encode(quantised.tobytes()).decode("ascii")


def decode_values(text: object, rows: int, cols: int) -> np.ndarray | None:
    """Return the (rows, cols) float grid an ``encode_values`` string holds, or None if it is malformed."""
    if not isinstance(text, str):
        return None
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        return None
    if len(raw) != 2 * rows * cols:
        return None
    return (np.frombuffer(raw, dtype="<u2").astype(np.float64) / _U16_MAX).reshape(rows, cols)


def _check_grid(name: str, grid: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray | None:
    if grid is None:
        return None
    grid = np.asarray(grid)
    if grid.shape != shape:
        raise ValueError(f"{name} must have shape {shape} (rows, cols); got {grid.shape}")
    return grid


def _check_labels(name: str, labels: Sequence[str], expected: int) -> list[str]:
    if isinstance(labels, str) or len(labels) != expected:
        got = "a string" if isinstance(labels, str) else f"{len(labels)} labels"
        raise ValueError(f"{name} must be a list of {expected} strings; got {got}")
    return [str(label) for label in labels]


def _check_focus(focus: object, shape: tuple[int, int]) -> tuple[int, int]:
    try:
        row, col = (operator.index(part) for part in focus)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise ValueError(f"focus must be a (row, col) pair of integers; got {focus!r}") from None
    if decode_click({"row": row, "col": col}, *shape) is None:
        raise ValueError(f"focus must lie inside the grid of shape {shape}; got {(row, col)}")
    return row, col


def painter_payload(
    *,
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    blocked: np.ndarray,
    values: np.ndarray | None = None,
    marked: np.ndarray | None = None,
    focus: tuple[int, int] | None = None,
    words: PainterWords = ATTENTION_WORDS,
    cell_px: int | None = None,
    pickable: bool = False,
    ack_rev: int = 0,
    ramp: Sequence[Sequence[int]] | None = None,
    fixed: np.ndarray | None = None,
    scale: float = 1.0,
    values_max: float = 1.0,
) -> dict[str, object]:
    """Return the JSON-ready ``data`` dict the painter's JavaScript draws from, after checking every input.

    ``fixed`` (R, C) integers: 0 free, ``FIXED_RULE`` blocked by a rule, ``FIXED_MODEL`` blocked by the
    model; such cells are drawn as blocked and cannot be painted. ``scale`` (1 to 2) enlarges the labels
    and the toolbar (presentation mode). ``values`` lie in [0, ``values_max``], the top of the colour ramp
    (a long text's weights are all small: the page may scale them to the largest one).

    ``ack_rev`` is the newest gesture counter Python has taken in; the browser ignores the grid in ``data``
    while it has sent a newer gesture, so a slow rerun cannot paint over a stroke the user just made.
    """
    grid = np.asarray(blocked)
    if grid.ndim != 2:
        raise ValueError(f"blocked must be 2-D (rows, cols); got shape {grid.shape}")
    rows, cols = grid.shape
    if not (1 <= rows <= MAX_SIDE and 1 <= cols <= MAX_SIDE):
        raise ValueError(f"blocked must have 1..{MAX_SIDE} rows and columns; got shape {grid.shape}")
    shape = (rows, cols)
    row_names = _check_labels("row_labels", row_labels, rows)
    col_names = _check_labels("col_labels", col_labels, cols)
    value_grid = _check_grid("values", values, shape)
    marked_grid = _check_grid("marked", marked, shape)
    focus_cell = None if focus is None else _check_focus(focus, shape)
    fixed_grid = _check_grid("fixed", fixed, shape)
    if fixed_grid is not None and not np.isin(fixed_grid, (0, FIXED_RULE, FIXED_MODEL)).all():
        raise ValueError(f"fixed must hold only 0, {FIXED_RULE} (rule) and {FIXED_MODEL} (model)")
    if not (isinstance(values_max, int | float) and math.isfinite(values_max) and values_max > 0):
        raise ValueError(f"values_max must be a finite number > 0; got {values_max!r}")
    if not (isinstance(scale, int | float) and 1.0 <= scale <= 2.0):
        raise ValueError(f"scale must be a number in [1, 2]; got {scale!r}")
    if cell_px is not None:
        low, high = CELL_PX_RANGE
        if not _is_int(cell_px) or not low <= cell_px <= high:
            raise ValueError(f"cell_px must be an integer in [{low}, {high}] or None; got {cell_px!r}")
    return {
        "rows": rows,
        "cols": cols,
        "row_labels": row_names,
        "col_labels": col_names,
        "blocked": pack_codes(grid, 1, "blocked"),
        "values": None if value_grid is None else encode_values(value_grid / values_max),
        "values_max": float(values_max),
        "marked": None if marked_grid is None else pack_codes(marked_grid, 1, "marked"),
        "focus": None if focus_cell is None else list(focus_cell),
        "words": asdict(words),
        "cell_px": cell_px,
        "pickable": bool(pickable),
        "ack_rev": int(ack_rev),
        "ramp": _check_ramp(ramp),
        "fixed": None if fixed_grid is None else pack_codes(fixed_grid, 2, "fixed"),
        "scale": float(scale),
    }


def fixed_grid(rule: np.ndarray | None, model: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray:
    """Return the (R, C) fixed grid of cells a rule blocks and cells the model blocks (the model's wins)."""
    grid = np.zeros(shape, dtype=np.uint8)
    if rule is not None:
        grid[np.asarray(rule, dtype=bool)] = FIXED_RULE
    if model is not None:
        grid[np.asarray(model, dtype=bool)] = FIXED_MODEL
    return grid


def _check_ramp(ramp: Sequence[Sequence[int]] | None) -> list[list[int]] | None:
    """Return the value colour ramp as ``[[r, g, b], ...]`` (≥ 2 stops, 0–255), or None for the default."""
    if ramp is None:
        return None
    stops = [list(stop) for stop in ramp]
    well_formed = all(len(st) == 3 and all(_is_int(c) and 0 <= c <= 255 for c in st) for st in stops)
    if len(stops) < 2 or not well_formed:
        raise ValueError(f"ramp must be two or more [r, g, b] stops of integers 0–255; got {ramp!r}")
    return stops
