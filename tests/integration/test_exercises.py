"""The Learn page's exercises against the real default model: the tokens they name, and what they claim."""

from __future__ import annotations

import pytest

from maskattn import load_model
from ui.lessons.content import EXERCISES


@pytest.fixture(scope="module")
def model():
    return load_model()


@pytest.mark.slow
@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.key)
def test_exercise_plans_fit_and_name_the_right_tokens(model, exercise):
    result = model.run(exercise.text, exercise.plan)
    exercise.plan.check_fits(model.num_layers, model.num_heads, result.num_tokens)
    for index, token in exercise.watch.items():
        assert result.tokens[index] == token
    layer, head = exercise.focus
    assert layer < model.num_layers and head < model.num_heads


@pytest.mark.slow
def test_the_numbers_the_exercises_quote(model):
    by_key = {e.key: e for e in EXERCISES}
    subject = model.baseline(by_key["subject"].text).attentions[3, 1]
    assert subject[6, 2] == pytest.approx(0.79, abs=0.01)  # "are" → "keys" in head 3.1
    previous = model.baseline(by_key["previous"].text).attentions[0, 2]
    assert previous[3, 2] == pytest.approx(1.0, abs=0.01)  # "sat" → "cat" in head 0.2
    blocked = model.run(by_key["blocked_row"].text, by_key["blocked_row"].plan).attentions[0, :, 3]
    assert (blocked == 0).all()  # the query "sat" attends to nothing in layer 0, and nothing is NaN
