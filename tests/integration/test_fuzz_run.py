"""The library's edge, fuzzed: ``MaskedModel.run`` gives back finite numbers or raises ValueError.

Plans are generated within the bounds (gates at ±100, stacked on one head up to the product's bound, every
preset, blocks that empty whole rows) and beyond them; texts are any code points, lone surrogates and
control characters included. Models: the bundled MiniLM (post-norm encoder) and the tiny GPT-2 of the
integration fixtures (pre-norm decoder: a large gate grows its residual stream layer after layer).
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from maskattn import MaskPlan, Rule, from_config
from tests.fuzz import PLAN_DICTS, TEXTS, assert_finite, fuzz, valid_plans

from .conftest import TEXT

pytestmark = pytest.mark.slow

NUM_TOKENS = 12  # every fuzzed text is cut to this many tokens, so plans can name its tokens


def run_or_value_error(model, text, plan):
    """Return the run, checked finite, or None when it raised ValueError (the only exception allowed)."""
    try:
        result = model.run(text, plan, max_tokens=NUM_TOKENS)
    except ValueError as err:
        assert str(err)
        return None
    assert_finite(result)
    return result


@st.composite
def plan_for(draw, model) -> MaskPlan:
    """Return a plan the model accepts, as extreme as the bounds allow."""
    return MaskPlan.from_dict(draw(valid_plans(model.num_layers, model.num_heads, NUM_TOKENS)))


@pytest.mark.parametrize("name", ["bert", "gpt2"])
def test_plans_within_the_bounds_give_finite_runs(arch_cache, name):
    model = arch_cache(name).masked
    text = "The quick brown fox jumps over the lazy dog, then sleeps."  # at least NUM_TOKENS tokens

    @fuzz(10)
    @given(plan_for(model))
    def check(plan):
        result = model.run(text, plan, max_tokens=NUM_TOKENS)  # within the bounds: it must run
        assert result.num_tokens == NUM_TOKENS
        assert_finite(result)

    check()


@fuzz(8)
@given(TEXTS)
def test_any_text_runs_finite_or_raises_value_error(arch_cache, text):
    model = arch_cache("bert").masked
    run_or_value_error(
        model, text, MaskPlan.from_dict({"version": 1, "rules": [{"gate": 0.0, "heads": [0]}]})
    )


@fuzz(15)
@given(PLAN_DICTS)
def test_any_parsed_plan_runs_finite_or_raises_value_error(arch_cache, data):
    try:
        plan = MaskPlan.from_dict(data)
    except ValueError:
        return
    run_or_value_error(arch_cache("bert").masked, TEXT, plan)


# -- regressions (issue 17)


def test_a_text_with_a_lone_surrogate_is_a_value_error_naming_it(arch_cache):
    model = arch_cache("bert").masked
    for text in ("cat\ud800 sat", "\udfff"):
        with pytest.raises(ValueError, match="not valid Unicode"):
            model.tokenize(text)
        with pytest.raises(ValueError, match="not valid Unicode"):
            model.run(text)


@pytest.mark.parametrize("name", ["bert", "gpt2"])
def test_gates_at_their_bounds_on_every_head_give_finite_runs(arch_cache, name):
    model = arch_cache(name).masked
    for gate in (100.0, -100.0):
        assert_finite(model.run(TEXT, MaskPlan.from_dict({"version": 1, "rules": [{"gate": gate}]})))


def test_a_huge_gate_built_past_the_parser_is_refused_before_the_run(arch_cache):
    model = arch_cache("bert").masked
    plan = MaskPlan((Rule(layers=(0,), heads=(0,), gate=1e30),))  # what from_dict refuses
    with pytest.raises(ValueError, match="multiply to about 1e30"):
        model.run(TEXT, plan)


def test_a_model_whose_own_numbers_overflow_raises_value_error_not_nan(arch_cache, bert_tokenizer):
    """The backstop: no plan can make a run infinite, but a model's own weights can."""
    base = arch_cache("gpt2").masked
    model = from_config(base.model.config, bert_tokenizer, name="overflowing-gpt2")
    with torch.no_grad():
        model.model.transformer.h[0].attn.c_proj.weight.fill_(torch.finfo(torch.float32).max)
    with pytest.raises(ValueError, match="not finite"):
        model.run(TEXT)
    with pytest.raises(ValueError, match="not finite"):
        model.run(
            TEXT, MaskPlan.from_dict({"version": 1, "rules": [{"layers": [1], "heads": [0], "gate": 0}]})
        )
