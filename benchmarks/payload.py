"""(b) What the browser receives per Explorer update, and what building it costs, at each T.

Per edit the Explorer sends the painter its JSON payload (``ui.painter_codec.painter_payload``) and rebuilds
what the open tab shows (hidden tabs are not built): the head overview's JSON data
(``ui.head_overview.overview_data``, one PNG of every head), or the focused head's figure as plotly JSON
(``len(fig.to_json())`` bytes, what Streamlit forwards). ``sent_kb`` is the larger
of the two updates. The page's two downloads (the focused figure as standalone HTML, the
attentions as ``.npz``) are listed too: what a click costs, and what every edit cost while the page built
them eagerly. Figures are built the way ``pages/explorer.py`` builds them.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable

import numpy as np

from benchmarks.forward import TOKENS, default_reps
from benchmarks.models import MODEL_NAMES, load_ours
from benchmarks.plans import busy_plan
from benchmarks.texts import text_of_tokens
from benchmarks.timing import summarize, time_interleaved
from maskattn import MaskedModel
from maskattn import figures as fig
from ui.head_overview import overview_data
from ui.painter_codec import fixed_grid, painter_payload

FOCUS = (0, 0)  # the busy plan paints cells on layer 0, so its focus figure shows blocked cells


def _npz_bytes(attentions: np.ndarray, tokens: list[str], plan_json: str) -> bytes:
    """Return the ``.npz`` the Explorer offers for download (as ``pages/explorer.py`` builds it)."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, attentions=attentions, tokens=np.array(tokens), plan_json=np.array(plan_json))
    return buffer.getvalue()


def measure_one(
    ours: MaskedModel, name: str, T: int, reps: tuple[int, int], log: Callable[[str], None]
) -> dict:
    """Return the row of one T: bytes sent and milliseconds spent per update, by figure."""
    layer, head = FOCUS
    text = text_of_tokens(ours.tokenizer, T)
    plan = busy_plan(ours.num_layers, ours.num_heads, T)
    result = ours.run(text, plan)
    attentions = result.attentions.numpy()  # (L, H, T, T)
    marked = plan.marked_heads(ours.num_layers, ours.num_heads).numpy()  # (L, H)
    compiled = plan.compile(ours.num_layers, ours.num_heads, T)
    allow = compiled[layer].allow[head].numpy() if compiled[layer] is not None else np.ones((T, T), bool)
    weights = attentions[layer, head]  # (T, T)

    def overview():
        return overview_data(attentions, marked=marked, focus=FOCUS)

    def focus():
        return fig.focus_figure(weights, result.labels, allow=allow, title="masked", zmax=1.0)

    def painter():
        return painter_payload(
            row_labels=result.labels, col_labels=result.labels, blocked=~allow,
            values=weights, values_max=max(float(weights.max()), 1e-9),
            fixed=fixed_grid(None, None, (T, T)),  # as the Explorer sends it: rule and model cells
        )  # fmt: skip

    def npz():
        return _npz_bytes(attentions, result.tokens, plan.to_json())

    built = {"overview": overview(), "focus": focus()}
    variants = {
        "overview_build": overview,
        "overview_json": lambda: json.dumps(built["overview"]),
        "focus_build": focus,
        "focus_json": built["focus"].to_json,
        "painter": lambda: json.dumps(painter()),
        "npz": npz,
        "focus_html": lambda: fig.figure_html(built["focus"]),
    }
    n, warmup = reps
    log(f"  payload {name} T={T}: {n} reps")
    times = time_interleaved(variants, reps=n, warmup=warmup)
    median = {k: summarize(v)["median_ms"] for k, v in times.items()}
    row = {
        "model": name,
        "T": T,
        "reps": n,
        "overview_kb": len(json.dumps(built["overview"])) / 1000,
        "focus_kb": len(built["focus"].to_json()) / 1000,
        "painter_kb": len(json.dumps(painter())) / 1000,
    }
    row["sent_overview_kb"] = row["painter_kb"] + row["overview_kb"]  # an edit with the overview open
    row["sent_focus_kb"] = row["painter_kb"] + row["focus_kb"]  # ... with the focused head's figure open
    row["sent_kb"] = max(row["sent_overview_kb"], row["sent_focus_kb"])
    row |= {f"{k}_ms": v for k, v in median.items()}
    row["figures_ms"] = sum(
        median[k] for k in ("overview_build", "overview_json", "focus_build", "focus_json")
    )
    row["npz_kb"] = len(npz()) / 1000
    row["focus_html_kb"] = len(fig.figure_html(built["focus"])) / 1000
    return row


def run_suite(
    models: Iterable[str] = MODEL_NAMES,
    tokens: Iterable[int] = TOKENS,
    reps: Callable[[int], tuple[int, int]] = default_reps,
    log: Callable[[str], None] = print,
) -> list[dict]:
    """Return the payload rows of every model and T."""
    rows = []
    for name in models:
        ours = load_ours(name)
        rows += [measure_one(ours, name, T, reps(T), log) for T in tokens]
    return rows
