"""The token painter's word view: what the painter draws when tokens are grouped into words, and the token
cells a paint on it stands for. Pure: no Streamlit.

A word pair is drawn as blocked by the model (or a rule) when every token pair in it is; as painted when
every token pair is blocked and at least one by a paint; as partly blocked (the orange outline) when some
token pairs are blocked and some are not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from maskattn.words import Span, expand_paint, pool_blocked, pool_weights
from ui.painter_codec import fixed_grid


@dataclass(frozen=True)
class WordView:
    """The (W, W) grids the painter draws for ``spans`` of a (T, T) head."""

    spans: tuple[Span, ...]
    labels: tuple[str, ...]
    painted: np.ndarray  # bool: blocked, and painted here
    fixed: np.ndarray  # uint8 codes of painter_codec.fixed_grid: blocked wholly by rules or the model
    partial: np.ndarray  # bool: some of the word pair's token pairs are blocked, not all
    values: np.ndarray  # the head's weights pooled to words (maskattn.words.pool_weights)


def word_view(
    spans: Sequence[Span],
    labels: Sequence[str],
    weights: np.ndarray,
    painted: np.ndarray,
    rule: np.ndarray,
    model: np.ndarray,
) -> WordView:
    """Return the word view of a head: ``weights``, ``painted``, ``rule``- and ``model``-blocked (T, T)."""
    painted, rule, model = (np.asarray(g, dtype=bool) for g in (painted, rule, model))
    blocked_every, blocked_some = pool_blocked(painted | rule | model, spans)
    model_every, _ = pool_blocked(model, spans)
    fixed_every, _ = pool_blocked(rule | model, spans)
    rule_every = fixed_every & ~model_every
    return WordView(
        spans=tuple(spans),
        labels=tuple(labels),
        painted=blocked_every & ~fixed_every,
        fixed=fixed_grid(rule_every, model_every, blocked_every.shape),
        partial=blocked_some & ~blocked_every,
        values=pool_weights(weights, spans),
    )


def painted_tokens(
    view: WordView, painted: np.ndarray, rule: np.ndarray, model: np.ndarray, after: np.ndarray
) -> np.ndarray:
    """Return the (T, T) painted cells after the painter sent ``after`` (W, W) for ``view``."""
    fixed = np.asarray(rule, dtype=bool) | np.asarray(model, dtype=bool)
    return expand_paint(painted, fixed, view.spans, view.painted, after)
