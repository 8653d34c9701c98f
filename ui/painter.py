"""The grid painter: a Streamlit custom component (components v2, inline, no iframe) for painting a bool grid.

Used for the token mask of the focused head (queries down, keys across) and for the layers x heads grid. The
browser side is ``painter.js`` / ``painter.css``; the wire format and all checks are in ``painter_codec.py``.

The painter is *controlled*: the caller owns the grid and passes it as ``blocked`` on every run; the painter
draws it. When the user finishes a gesture (pointer-up, a label click, its own undo) the browser sends the
whole grid once and Streamlit reruns. The caller takes that edit in one of two ways:

- **callback** (pass ``on_change``): ``on_change(grid)`` runs before the script; store the grid (or what your
  model of the state makes of it, e.g. refuse locked cells). In the script, ``blocked`` is then the truth: the
  painter draws it and returns it, so a refused edit snaps back in the same run::

      grid_painter(key="mask", ..., blocked=st.session_state.blocked, on_change=store_blocked)

- **return value** (no ``on_change``): in the run the edit arrives, ``grid_painter`` returns the edited grid;
  feed it back as ``blocked`` next time::

      st.session_state.blocked = grid_painter(key="mask", ..., blocked=st.session_state.blocked)

Either way, passing a different ``blocked`` (a preset, a reset, a new text) repaints the painter with it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import streamlit as st

from ui.painter_codec import (
    ATTENTION_WORDS,
    HEAD_WORDS,
    PainterWords,
    decode_click,
    decode_state,
    pack_codes,
    painter_payload,
    state_revision,
)

__all__ = ["ATTENTION_WORDS", "HEAD_WORDS", "PainterWords", "grid_painter"]

_HTML = """
<div class="gp-root" data-testid="grid-painter" tabindex="0">
  <div class="gp-bar">
    <button type="button" data-tool="paint" hidden>✎ Paint</button>
    <button type="button" data-tool="pick" hidden>◎ Focus</button>
    <button type="button" class="gp-undo" disabled>↶ Undo</button>
    <span class="gp-zoom" hidden
      ><button type="button" data-zoom="out">−</button
      ><button type="button" data-zoom="fit">Fit</button
      ><button type="button" data-zoom="in">+</button
    ></span>
    <span class="gp-count"></span>
    <span class="gp-wait" role="status" hidden></span>
    <span class="gp-legend"></span>
  </div>
  <div class="gp-scroll"><div class="gp-space"><canvas class="gp-canvas"></canvas></div></div>
  <div class="gp-tip" hidden></div>
  <div class="gp-hint"></div>
</div>
"""

# Declared once at import: re-declaring on every run would re-register the component each rerun.
_GRID_PAINTER = st.components.v2.component(
    "maskattn_grid_painter",
    html=_HTML,
    css=Path(__file__).with_name("painter.css").read_text(encoding="utf-8"),
    js=Path(__file__).with_name("painter.js").read_text(encoding="utf-8"),
)


def _memo_key(key: str) -> str:
    return f"_grid_painter_memo__{key}"


def _component_field(key: str, field: str) -> object:
    # In a callback, st.session_state[key] is the component's flat state, trigger values included.
    state = st.session_state.get(key)
    return state.get(field) if isinstance(state, Mapping) else None


def grid_painter(
    *,
    key: str,
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    blocked: np.ndarray,
    values: np.ndarray | None = None,
    marked: np.ndarray | None = None,
    focus: tuple[int, int] | None = None,
    words: PainterWords = ATTENTION_WORDS,
    cell_px: int | None = None,
    on_change: Callable[[np.ndarray], None] | None = None,
    on_cell_click: Callable[[int, int], None] | None = None,
    ramp: Sequence[Sequence[int]] | None = None,
    on_undo: Callable[[], None] | None = None,
    can_undo: bool = False,
    fixed: np.ndarray | None = None,
    scale: float = 1.0,
    values_max: float = 1.0,
) -> np.ndarray:
    """Return the (R, C) bool grid of painted ("blocked") cells the painter shows after this run.

    Without ``on_change``: the grid the browser sent, when it sent one since the last run and it has the shape
    of ``blocked``; otherwise a copy of ``blocked`` (nothing painted, or painted on a grid of another shape,
    e.g. before the text changed). Feed it back as ``blocked`` next run. With ``on_change``: always a copy of
    ``blocked``, because the callback already took the edit (see the module docstring).

    key: required; the component's identity (its element gets the CSS class ``st-key-<key>``).
    row_labels, col_labels: R and C strings (tokens: CJK and "##ing" pieces are fine; long ones are cut).
    blocked: (R, C) bool, True = painted. The caller gives it meaning (blocked key, picked head...).
    values: optional (R, C) floats in [0, 1] drawn white -> dark blue under the paint (clipped; NaN raises).
    marked: optional (R, C) bool drawn with an orange inner border (e.g. gated heads).
    focus: optional (row, col) drawn with a black ring (e.g. the focused head).
    words: axis names, link and state names for the tooltip and hint (``ATTENTION_WORDS``, ``HEAD_WORDS``).
    cell_px: fixed cell size in CSS pixels (4..64); None fits the width, clamped to 8..36 (wider scrolls).
    on_change: called with the new (R, C) grid before the script reruns after a gesture; it must store it
        (the painter then draws ``blocked`` as passed). Not called for a grid of a stale shape.
    on_cell_click: when given, the painter shows a Paint / Focus tool switch; a click in the Focus tool (or an
        alt+click) calls ``on_cell_click(row, col)`` before the rerun and does not paint.
    ramp: optional colour ramp of ``values``, ``[[r, g, b], ...]`` stops from low to high (default: blues).
    on_undo: when given, the caller keeps the undo history (say of a plan the grid is one view of): ↶ Undo
        and Ctrl+Z call ``on_undo()`` before the rerun, which must restore the caller's state; the painter
        keeps no history of its own, so a grid that changed for another reason (a focus change, an import)
        is never "undone" onto the new grid. Without it the painter undoes its own gestures.
    can_undo: with ``on_undo``, whether ↶ Undo is enabled.
    fixed: optional (R, C) ints, cells blocked by something else (``painter_codec.fixed_grid``: 1 a rule of
        the plan, 2 the model's own mask): drawn as blocked in their own tint, counted, never painted.
    scale: 1 to 2, enlarges labels and toolbar (presentation mode).
    values_max: the value at the top of the ramp (``values`` lie in [0, values_max]); the legend says it.
    Inside ``st.form`` the focus click does nothing (Streamlit refuses trigger values in forms).
    """
    payload = painter_payload(
        row_labels=row_labels,
        col_labels=col_labels,
        blocked=blocked,
        values=values,
        marked=marked,
        focus=focus,
        words=words,
        cell_px=cell_px,
        pickable=on_cell_click is not None,
        ramp=ramp,
        fixed=fixed,
        scale=scale,
        values_max=values_max,
    )
    rows, cols = int(payload["rows"]), int(payload["cols"])
    memo = st.session_state.setdefault(_memo_key(key), {"ack_rev": 0, "pending": None})
    edit, memo["pending"] = memo.get("pending"), None
    result = np.asarray(blocked).astype(bool)
    if edit is not None:
        # Acknowledge the gesture even if its shape is stale, so the browser stops waiting and shows ours.
        memo["ack_rev"] = max(memo["ack_rev"], state_revision(edit) or 0)
        painted = decode_state(edit, rows, cols)
        # With a callback the caller has already folded the edit into `blocked`, maybe refusing part of it.
        if painted is not None and on_change is None:
            result = painted
    payload["blocked"] = pack_codes(result, 1, "blocked")
    payload["ack_rev"] = memo["ack_rev"]
    payload["external_undo"] = on_undo is not None
    payload["can_undo"] = on_undo is not None and bool(can_undo)

    def take_edit() -> None:
        # Runs before the script on the rerun a gesture caused; the script body picks the edit up from memo.
        value = _component_field(key, "grid")
        st.session_state.setdefault(_memo_key(key), {"ack_rev": 0, "pending": None})["pending"] = value
        painted = decode_state(value, rows, cols)
        if on_change is not None and painted is not None:
            on_change(painted)

    def take_click() -> None:
        cell = decode_click(_component_field(key, "click"), rows, cols)
        if on_cell_click is not None and cell is not None:
            on_cell_click(*cell)

    def take_undo() -> None:
        if on_undo is not None and _component_field(key, "undo") is not None:
            on_undo()

    _GRID_PAINTER(
        key=key, data=payload, on_grid_change=take_edit, on_click_change=take_click, on_undo_change=take_undo
    )
    return result
