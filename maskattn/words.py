"""Tokens grouped into words: spans, and a head's weights and blocked cells pooled to words and back.

A long text has hundreds of sub-word tokens; painting "cats may not look at internationalization" should
not take a dozen strokes. A word is a run of consecutive tokens (``spans``: half-open ``(start, end)``
token ranges covering every token once, in order; a special token is a word of its own). Pure numpy.

- ``pool_weights``: the weight from query word A to key word B is the mean over A's tokens of their summed
  weights to B's tokens, so each row still sums to 1 (over its unblocked keys).
- ``pool_blocked``: a word pair is blocked when every token pair in it is, partly blocked when some are.
- ``expand_paint``: a painted word pair becomes every free token pair in it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Span = tuple[int, int]
Words = tuple[tuple[Span, ...], list[str]]  # a text's word spans and their labels (``MaskedModel.words``)


def spans_from_word_ids(word_ids: Sequence[int | None]) -> tuple[Span, ...]:
    """Return the word spans of a tokenizer's ``word_ids()`` (None: a special token, a word of its own)."""
    spans: list[Span] = []
    start = 0
    for i in range(1, len(word_ids) + 1):
        special = i < len(word_ids) and (word_ids[i] is None or word_ids[start] is None)
        if i == len(word_ids) or special or word_ids[i] != word_ids[start]:
            spans.append((start, i))
            start = i
    return tuple(spans)


def check_spans(spans: Sequence[Span], num_tokens: int) -> tuple[Span, ...]:
    """Return ``spans`` as a tuple once they cover tokens 0..num_tokens-1 in order, each exactly once."""
    out = tuple((int(a), int(b)) for a, b in spans)
    position = 0
    for i, (a, b) in enumerate(out):
        if a != position or b <= a:
            raise ValueError(f"spans[{i}] = {(a, b)}: expected a non-empty span starting at token {position}")
        position = b
    if position != num_tokens:
        raise ValueError(f"the spans cover {position} tokens, the grid has {num_tokens}")
    return out


def word_labels(
    token_labels: Sequence[str],
    spans: Sequence[Span],
    text: str | None = None,
    offsets: Sequence[tuple[int, int]] | None = None,
) -> list[str]:
    """Return one label per word: the text it covers (with ``offsets``, per token), else its tokens joined.

    Joined tokens drop WordPiece's ``##`` so "international ##ization" reads "internationalization".
    """
    labels = []
    for a, b in spans:
        if text is not None and offsets is not None and offsets[a][1] > offsets[a][0]:
            labels.append(text[offsets[a][0] : offsets[b - 1][1]].strip() or token_labels[a])
        else:
            labels.append("".join(t.removeprefix("##") if k else t for k, t in enumerate(token_labels[a:b])))
    return labels


def _sums(grid: np.ndarray, spans: Sequence[Span]) -> np.ndarray:
    """Return ``grid`` (Tq, Tk) summed over the word blocks: (Wq, Wk)."""
    starts = np.array([a for a, _ in spans])
    return np.add.reduceat(np.add.reduceat(grid, starts, axis=0), starts, axis=1)


def pool_weights(weights: np.ndarray, spans: Sequence[Span]) -> np.ndarray:
    """Return ``weights`` (T, T) pooled to words (W, W): per query word, the mean of its tokens' rows,
    summed over each key word's tokens. Blocked cells may be NaN; they count as 0."""
    grid = np.nan_to_num(np.asarray(weights, dtype=np.float64), nan=0.0)
    spans = check_spans(spans, grid.shape[0])
    sizes = np.array([b - a for a, b in spans], dtype=np.float64)
    return _sums(grid, spans) / sizes[:, None]


def pool_blocked(blocked: np.ndarray, spans: Sequence[Span]) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(every, some)`` (W, W) bool: word pairs with every token pair blocked, with some blocked."""
    grid = np.asarray(blocked, dtype=bool)
    spans = check_spans(spans, grid.shape[0])
    counts = _sums(grid.astype(np.int64), spans)
    sizes = np.array([b - a for a, b in spans])
    return counts == np.outer(sizes, sizes), counts > 0


def expand_paint(
    painted: np.ndarray, fixed: np.ndarray, spans: Sequence[Span], before: np.ndarray, after: np.ndarray
) -> np.ndarray:
    """Return the token grid ``painted`` (T, T) after a paint on the word grid ``before`` -> ``after``.

    Each word pair that changed sets every token pair in it that is not ``fixed`` (blocked by a rule or by
    the model) to its new state; the pairs that did not change keep their tokens as they were, partly
    painted ones included.
    """
    out = np.asarray(painted, dtype=bool).copy()
    free = ~np.asarray(fixed, dtype=bool)
    spans = check_spans(spans, out.shape[0])
    changed = np.asarray(before, dtype=bool) != np.asarray(after, dtype=bool)  # (W, W)
    for i, j in zip(*np.nonzero(changed), strict=True):
        (qa, qb), (ka, kb) = spans[i], spans[j]
        block = free[qa:qb, ka:kb]
        out[qa:qb, ka:kb][block] = bool(after[i, j])
    return out
