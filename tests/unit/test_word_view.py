"""The painter's word view: which word pairs show as painted, fixed or partly blocked, and a paint on it."""

import numpy as np

from ui.painter_codec import FIXED_MODEL, FIXED_RULE
from ui.word_view import painted_tokens, word_view

SPANS = ((0, 1), (1, 3), (3, 4))  # [CLS] | inter ##national | [SEP]
LABELS = ["[CLS]", "international", "[SEP]"]


def grids():
    z = np.zeros((4, 4), dtype=bool)
    return z.copy(), z.copy(), z.copy()


def test_kinds_of_a_word_pair_follow_its_token_pairs():
    painted, rule, model = grids()
    painted[0, 1:3] = True  # [CLS] -> international: painted whole
    rule[3, 1] = True  # [SEP] -> inter only: partly blocked
    model[1:3, 3] = True  # international -> [SEP]: the model's, whole
    rule[0, 3] = True
    model[0, 3] = True  # a cell both block: the model's wins, as in the token painter
    view = word_view(SPANS, LABELS, np.full((4, 4), 0.25), painted, rule, model)
    assert view.painted.tolist() == [[False, True, False], [False] * 3, [False] * 3]
    assert view.fixed[1, 2] == FIXED_MODEL and view.fixed[0, 2] == FIXED_MODEL
    assert view.partial[2, 1] and view.partial.sum() == 1
    np.testing.assert_allclose(view.values.sum(axis=1), 1.0)


def test_a_rule_on_every_token_pair_makes_a_rule_word_pair():
    painted, rule, model = grids()
    rule[1:3, 0] = True
    view = word_view(SPANS, LABELS, np.full((4, 4), 0.25), painted, rule, model)
    assert view.fixed[1, 0] == FIXED_RULE and not view.painted[1, 0] and not view.partial[1, 0]


def test_a_paint_on_words_lands_on_the_free_token_pairs():
    painted, rule, model = grids()
    rule[2, 0] = True
    view = word_view(SPANS, LABELS, np.full((4, 4), 0.25), painted, rule, model)
    after = view.painted.copy()
    after[1, 0] = True
    out = painted_tokens(view, painted, rule, model, after)
    assert out[1, 0] and not out[2, 0], "the rule's cell stays the rule's"
    assert out.sum() == 1
