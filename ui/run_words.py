"""What the Explorer says about a run: its badge, the truncation note, numbers and the predictions table.

Pure: no Streamlit. In the page's language (the texts are ``run.*`` in ``ui/lessons/explorer_text.py``).
"""

from __future__ import annotations

import math

from maskattn import MaskedModel, RunResult

from .lessons import Language, tr

COLUMNS = ("position", "rank", "unmasked", "p_unmasked", "masked", "p_masked")  # of the predictions table


def shown_number(value: float) -> str:
    """Return ``value`` to four decimals; "n/a" rather than NaN or inf on screen."""
    return f"{value:.4f}" if math.isfinite(value) else "n/a"


def truncation_note(model: MaskedModel, result: RunResult, max_tokens: int, lang: Language = "en") -> str:
    """Return the note saying how many tokens were cut off the end of the text, and which limit cut them.

    ``max_tokens`` is the server's limit; the model's own maximum may be the smaller one.
    """
    limit = model.token_limit(max_tokens)
    why = tr("run.why.model" if limit == model.max_length else "run.why.server", lang)
    return tr("run.truncated", lang, limit=limit, why=why, dropped=result.dropped_tokens)


def recompute_badge(result: RunResult, num_layers: int, *, cached: bool, lang: Language = "en") -> str:
    """Return the badge text saying how the attentions on screen were computed, and how fast."""
    if cached:
        return tr("run.cached", lang)
    ms = f"{result.seconds * 1000:.0f}"
    if result.recomputed_from >= num_layers:
        return tr("run.unmasked", lang, ms=ms)
    if result.recomputed_from > 0:
        return tr("run.partial", lang, ms=ms, first=result.recomputed_from, last=num_layers - 1)
    return tr("run.forward", lang, ms=ms)


def prediction_rows(result: RunResult, lang: Language = "en") -> list[dict[str, object]]:
    """Return one row per position and rank: the unmasked and the masked top predictions side by side."""
    rows: list[dict[str, object]] = []
    for before, after in zip(result.baseline_predictions, result.predictions, strict=True):
        for rank, (tb, pb, ta, pa) in enumerate(
            zip(before.tokens, before.probs, after.tokens, after.probs, strict=True), start=1
        ):
            values = (after.position, rank, tb, round(pb, 4), ta, round(pa, 4))
            rows.append({tr(f"run.col.{c}", lang): v for c, v in zip(COLUMNS, values, strict=True)})
    return rows
