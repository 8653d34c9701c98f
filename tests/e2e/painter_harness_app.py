"""A tiny Streamlit app that mounts the grid painter and prints what Python decoded, for the browser tests.

Pick a scene with the query string: ``?demo=tokens`` (default, 6 tokens; "Longer text" makes it 8),
``?demo=heads`` (6 layers x 12 heads, focus tool), ``?demo=big`` (128 tokens), ``?demo=long`` (256 tokens,
zoomed to fit) or ``?demo=locked`` (key 0 is
blocked by a "preset" and cannot be unblocked); and how edits are taken: ``&flow=callback`` (default,
``on_change`` stores them) or ``&flow=return`` (the return value is fed back); ``&slow=S`` makes the
callback take S seconds, a server busy with other sessions. The decoded grid is printed
as lines of 0/1 under ``.st-key-harness_grid`` and a status line (shape, on_change calls, focused cell, script
runs) under ``.st-key-harness_meta``; "Rerun" is a plain button, the baseline for timing a round trip.
"""

from __future__ import annotations

import time

import numpy as np

SHORT_TOKENS = ["[CLS]", "the", "cat", "##s", "猫が", "[SEP]"]
LONG_TOKENS = ["[CLS]", "the", "cat", "##s", "猫が", "internationalization", "!", "[SEP]"]
LAYERS, HEADS = 6, 12


def demo_tokens(scene: str, longer: bool) -> list[str]:
    """Return the token labels of a scene."""
    if scene in ("big", "long"):
        return [f"t{i}" if i % 5 else f"word{i}" for i in range(128 if scene == "big" else 256)]
    return LONG_TOKENS if longer else SHORT_TOKENS


def demo_attention(n: int) -> np.ndarray:
    """Return (n, n) attention-like weights: each row a softmax that favours nearby keys."""
    q = np.arange(n)[:, None]
    k = np.arange(n)[None, :]
    logits = -0.7 * np.abs(q - k) + 0.9 * np.cos(0.8 * k)  # (n, n)
    weights = np.exp(logits - logits.max(axis=1, keepdims=True))
    return weights / weights.sum(axis=1, keepdims=True)


def demo_head_scores() -> np.ndarray:
    """Return (LAYERS, HEADS) scores in [0, 1] for the head grid."""
    layer = np.arange(LAYERS)[:, None]
    head = np.arange(HEADS)[None, :]
    return (np.sin(1.3 * layer + 0.7 * head) + 1.0) / 2.0


def locked_cells(n: int) -> np.ndarray:
    """Return the (n, n) cells a "preset" blocks in the locked scene: key 0 for every query but the first."""
    locked = np.zeros((n, n), dtype=bool)
    locked[1:, 0] = True
    return locked


def main() -> None:
    import streamlit as st

    from ui.painter import HEAD_WORDS, PainterWords, grid_painter

    st.set_page_config(page_title="painter harness", layout="centered")
    scene = st.query_params.get("demo", "tokens")
    # "callback": edits are stored by on_change (as the Explorer does); "return": by the return value.
    flow = st.query_params.get("flow", "callback")
    busy_s = float(st.query_params.get("slow", 0))
    ss = st.session_state
    ss.setdefault("changes", 0)
    ss.setdefault("focus", None)
    ss.setdefault("longer", False)
    ss.runs = ss.get("runs", 0) + 1

    def store(grid: np.ndarray) -> None:
        time.sleep(busy_s)
        ss.changes += 1
        # The locked scene refuses to unblock its locked cells, like a preset rule would.
        ss.blocked = grid | locked_cells(len(grid)) if scene == "locked" else grid

    def set_focus(row: int, col: int) -> None:
        ss.focus = (row, col)

    cols = st.columns(3)
    if cols[0].button("Clear", key="harness_clear"):
        ss.pop("blocked", None)
    if cols[1].button("Longer text", key="harness_longer"):
        ss.longer = True
    # A plain rerun, the baseline for the painter's round trip.
    cols[2].button("Rerun", key="harness_rerun")

    if scene == "heads":
        shape = (LAYERS, HEADS)
        labels = {
            "row_labels": [f"L{i}" for i in range(LAYERS)],
            "col_labels": [f"H{j}" for j in range(HEADS)],
        }
        gated = np.zeros(shape, dtype=bool)
        gated[1, 3] = gated[4, 10] = True
        extra = {"values": demo_head_scores(), "marked": gated, "focus": ss.focus, "words": HEAD_WORDS}
        extra["on_cell_click"] = set_focus
    else:
        tokens = demo_tokens(scene, ss.longer)
        shape = (len(tokens), len(tokens))
        labels = {"row_labels": tokens, "col_labels": tokens}
        extra = {"values": demo_attention(len(tokens))}
        if scene == "locked":
            extra["marked"] = locked_cells(len(tokens))
            extra["words"] = PainterWords(marked="locked by a preset")

    blocked = ss.get("blocked")
    if blocked is None or blocked.shape != shape:
        blocked = locked_cells(shape[0]) if scene == "locked" else np.zeros(shape, dtype=bool)
    if flow == "return":
        ss.blocked = grid_painter(key="painter", blocked=blocked, **labels, **extra)
    else:
        ss.blocked = blocked
        shown = grid_painter(key="painter", blocked=blocked, on_change=store, **labels, **extra)
        assert (shown == blocked).all(), "with on_change the painter must show what it was given"

    grid = ss.blocked
    with st.container(key="harness_meta"):
        shape_text = f"{grid.shape[0]}x{grid.shape[1]}"
        st.text(f"shape={shape_text} flow={flow} changes={ss.changes} focus={ss.focus} runs={ss.runs}")
    with st.container(key="harness_grid"):
        st.text("\n".join("".join("1" if b else "0" for b in row) for row in grid))


if __name__ == "__main__":
    main()
