"""Build time and JSON size of the attention figures for T = 16, 32, 128, 512 (6 layers x 12 heads).

Run: ``python benchmarks/figure_payload.py``. "serialize" is what ``st.plotly_chart`` does on the server
(``plotly.tools.return_figure_from_figure_or_data(..., validate_figure=True)`` then
``plotly.io.to_json(..., validate=False)``). Numbers are medians over repeats; compare ratios from one run.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np
import plotly.io as pio
import plotly.tools

from maskattn import figures as F

LAYERS, HEADS = 6, 12


def attention(rng: np.random.Generator, t: int) -> np.ndarray:
    x = rng.random((LAYERS, HEADS, t, t), dtype=np.float32) ** 8  # (L, H, T, T), peaked rows
    return x / x.sum(axis=-1, keepdims=True)


def median_ms(fn: Callable[[], object], repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times), out


def serialize(fig) -> str:
    fig = plotly.tools.return_figure_from_figure_or_data(fig, validate_figure=True)
    return pio.to_json(fig, validate=False)


def main() -> None:
    rng = np.random.default_rng(0)
    print(f"{'figure':<12} {'T':>4} {'build ms':>9} {'serialize ms':>13} {'JSON kB':>9}")
    for t in (16, 32, 128, 512):
        attn = attention(rng, t)
        tokens = [f"tok{i % 9}" for i in range(t)]
        allow = np.tril(np.ones((t, t), dtype=bool))
        marked = np.zeros((LAYERS, HEADS), dtype=bool)
        marked[1, 3] = marked[4, 7] = True
        scores = np.where(allow, rng.standard_normal((t, t)), -np.inf)
        cases: dict[str, Callable[[], object]] = {
            "overview": lambda a=attn, m=marked: F.overview_figure(a, marked=m, focus=(2, 5)),
            "focus": lambda a=attn, tk=tokens, al=allow: F.focus_figure(a[2, 5], tk, allow=al),
            "difference": lambda a=attn, tk=tokens, al=allow: F.difference_figure(
                a[2, 5], a[2, 6], tk, allow=al
            ),
            "matrix": lambda s=scores, tk=tokens: F.matrix_figure(
                s, title="scores", row_labels=tk, col_labels=tk
            ),
        }
        for name, build in cases.items():
            repeats = 7 if t <= 128 else 3
            build()  # warm caches (plotly validators are built lazily on first use)
            build_ms, fig = median_ms(build, repeats)
            ser_ms, payload = median_ms(lambda f=fig: serialize(f), repeats)
            print(f"{name:<12} {t:>4} {build_ms:>9.1f} {ser_ms:>13.1f} {len(payload) / 1e3:>9.1f}")


if __name__ == "__main__":
    main()
