"""Tokens grouped into words: spans, pooling to words and painting back, checked against plain loops."""

import numpy as np
import pytest

from maskattn.words import (
    check_spans,
    expand_paint,
    pool_blocked,
    pool_weights,
    spans_from_word_ids,
    word_labels,
)

# [CLS] the international ##ization of cats [SEP]
WORD_IDS = [None, 0, 1, 1, 2, 3, None]
SPANS = ((0, 1), (1, 2), (2, 4), (4, 5), (5, 6), (6, 7))


def test_spans_follow_word_ids_and_special_tokens_stand_alone():
    assert spans_from_word_ids(WORD_IDS) == SPANS
    assert spans_from_word_ids([None, None]) == ((0, 1), (1, 2))
    assert spans_from_word_ids([0, 0, 0]) == ((0, 3),)
    assert spans_from_word_ids([]) == ()


@pytest.mark.parametrize(
    ("spans", "message"),
    [
        (((0, 1), (2, 3)), "starting at token 1"),
        (((0, 2),), "cover 2 tokens"),
        (((0, 0), (0, 3)), "non-empty"),
    ],
)
def test_spans_that_do_not_tile_the_tokens_are_refused(spans, message):
    with pytest.raises(ValueError, match=message):
        check_spans(spans, 3)


def test_labels_are_the_text_a_word_covers_or_its_tokens_joined():
    tokens = ["[CLS]", "the", "international", "##ization", "of", "cats", "[SEP]"]
    assert word_labels(tokens, SPANS)[2] == "internationalization"
    text = "The Internationalization of cats"
    offsets = [(0, 0), (0, 3), (4, 17), (17, 24), (25, 27), (28, 32), (0, 0)]
    assert word_labels(tokens, SPANS, text, offsets) == [
        "[CLS]", "The", "Internationalization", "of", "cats", "[SEP]",
    ]  # fmt: skip


def _loop_pool(weights, spans):
    out = np.zeros((len(spans), len(spans)))
    for i, (qa, qb) in enumerate(spans):
        for j, (ka, kb) in enumerate(spans):
            out[i, j] = np.mean([np.nansum(weights[q, ka:kb]) for q in range(qa, qb)])
    return out


def test_pooled_weights_equal_the_loop_and_rows_still_sum_to_one():
    rng = np.random.default_rng(0)
    weights = rng.random((7, 7))
    weights[3, 2] = np.nan  # a blocked cell
    weights /= np.nansum(weights, axis=1, keepdims=True)
    pooled = pool_weights(weights, SPANS)
    np.testing.assert_allclose(pooled, _loop_pool(weights, SPANS), atol=1e-12)
    np.testing.assert_allclose(pooled.sum(axis=1), 1.0, atol=1e-12)
    # A deliberately wrong pooling (sum over the query's tokens instead of their mean) is caught.
    assert not np.allclose(pooled[2], weights[2:4].sum(axis=0) @ _indicator(SPANS).T)


def _indicator(spans):
    out = np.zeros((len(spans), spans[-1][1]))
    for i, (a, b) in enumerate(spans):
        out[i, a:b] = 1
    return out


def test_a_word_pair_is_blocked_when_every_token_pair_is_and_partly_when_some_are():
    blocked = np.zeros((7, 7), dtype=bool)
    blocked[5, 2:4] = True  # cats -> international ##ization: the whole word
    blocked[2, 5] = True  # international -> cats, but not ##ization -> cats
    every, some = pool_blocked(blocked, SPANS)
    assert every[4, 2] and some[4, 2]
    assert not every[2, 4] and some[2, 4]
    assert every.sum() == 1 and some.sum() == 2


def test_painting_a_word_pair_paints_its_free_token_pairs_and_leaves_the_rest():
    painted = np.zeros((7, 7), dtype=bool)
    painted[2, 5] = True  # partly painted: international -> cats
    fixed = np.zeros((7, 7), dtype=bool)
    fixed[3, 1] = True  # ##ization -> the is blocked by a rule
    before, _ = pool_blocked(painted, SPANS)
    after = before.copy()
    after[2, 1] = True  # internationalization -> the
    out = expand_paint(painted, fixed, SPANS, before, after)
    want = painted.copy()
    want[2, 1] = True  # the free one; ##ization -> the stays the rule's
    np.testing.assert_array_equal(out, want)
    # Unpainting a word pair frees its painted token pairs, the partly painted pair included.
    after = before.copy()
    after[2, 4] = True
    painted_all = expand_paint(painted, fixed, SPANS, before, after)
    assert painted_all[2:4, 5].all()
    back = expand_paint(painted_all, fixed, SPANS, after, before)
    assert not back[2:4, 5].any()
