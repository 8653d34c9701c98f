"""What the Explorer says about a run: its badge, the truncation note, numbers and the predictions table.

Pure: no Streamlit. English only, like the Explorer.
"""

from __future__ import annotations

import math

from maskattn import MaskedModel, RunResult


def shown_number(value: float) -> str:
    """Return ``value`` to four decimals; "n/a" rather than NaN or inf on screen."""
    return f"{value:.4f}" if math.isfinite(value) else "n/a"


def truncation_note(model: MaskedModel, result: RunResult, max_tokens: int) -> str:
    """Return the note saying how many tokens were cut off the end of the text, and which limit cut them.

    ``max_tokens`` is the server's limit; the model's own maximum may be the smaller one.
    """
    limit = model.token_limit(max_tokens)
    why = "the model's maximum" if limit == model.max_length else "this server's limit"
    return (
        f"The text is longer than {limit} tokens ({why}): its last {result.dropped_tokens} token(s) were "
        "dropped, and everything shown is for the first part."
    )


def recompute_badge(result: RunResult, num_layers: int, *, cached: bool) -> str:
    """Return the badge text saying how the attentions on screen were computed, and how fast."""
    if cached:
        return "⚡ cached"
    if result.recomputed_from >= num_layers:
        return f"⚡ {result.seconds * 1000:.0f} ms (unmasked run)"
    if result.recomputed_from > 0:
        return (
            f"⚡ {result.seconds * 1000:.0f} ms (layers {result.recomputed_from}–{num_layers - 1} recomputed)"
        )
    return f"⚡ {result.seconds * 1000:.0f} ms forward"


def prediction_rows(result: RunResult) -> list[dict[str, object]]:
    """Return one row per position and rank: the unmasked and the masked top predictions side by side."""
    rows: list[dict[str, object]] = []
    for before, after in zip(result.baseline_predictions, result.predictions, strict=True):
        for rank, (tb, pb, ta, pa) in enumerate(
            zip(before.tokens, before.probs, after.tokens, after.probs, strict=True), start=1
        ):
            rows.append(
                {
                    "position": after.position,
                    "rank": rank,
                    "unmasked": tb,
                    "p (unmasked)": round(pb, 4),
                    "masked": ta,
                    "p (masked)": round(pa, 4),
                }
            )
    return rows
