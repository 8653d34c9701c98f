"""Head types on real and tiny models: a repeated random-token probe, planted weights, scores under a plan.

Planted weights: a layer whose query projection is zero scores every key alike, so each of its heads attends
uniformly to the keys it may see (all of them in an encoder, the earlier ones in a causal model); a plan then
shapes one of those heads into a previous-token head or an induction stripe, and the scores recomputed under
that plan must find it.
"""

from __future__ import annotations

import pytest
import torch

from maskattn import MaskPlan, from_config, model_head_types, probe_text, rule
from maskattn.head_types import TYPES
from tests.tiny_models import tiny_config

from .conftest import TEXT


@pytest.fixture(scope="module", params=["gpt2", "llama"])
def planted(request, bert_tokenizer):
    """A tiny causal LM whose layer 0 has zero query weights: every head of layer 0 is uniform."""
    config = tiny_config(request.param, bert_tokenizer, initializer_range=0.2)
    model = from_config(config, bert_tokenizer)
    with torch.no_grad():
        if request.param == "gpt2":
            attn = model.model.transformer.h[0].attn.c_attn  # Conv1D (E, 3E): q, k, v side by side
            width = model.hidden_size
            attn.weight[:, :width] = 0.0
            attn.bias[:width] = 0.0
        else:
            model.model.model.layers[0].self_attn.q_proj.weight.zero_()
    model.clear_cache()
    return model


def test_the_probe_is_a_seeded_random_sequence_repeated_twice(bert_tokenizer) -> None:
    for num_tokens in (12, 13, 40):
        text = probe_text(bert_tokenizer, num_tokens, seed=3)
        ids = bert_tokenizer(text)["input_ids"]
        assert len(ids) == num_tokens
        words = ids[1:-1]  # between [CLS] and [SEP]
        half = len(words) // 2
        assert words[:half] == words[half : 2 * half]
        assert len(set(words[:half])) == half  # no repeats inside one copy
        assert probe_text(bert_tokenizer, num_tokens, seed=3) == text
    assert probe_text(bert_tokenizer, 20, seed=1) != probe_text(bert_tokenizer, 20, seed=2)
    with pytest.raises(ValueError, match="room for two words"):
        probe_text(bert_tokenizer, 3)


def test_the_default_model_gets_every_score_for_every_head(arch_cache) -> None:
    model = arch_cache("bert").masked
    types = model_head_types(model, TEXT)
    assert set(types.scores) == set(TYPES)
    for grid in types.scores.values():
        assert grid.shape == (6, 12)
        assert bool(((grid >= 0) & (grid <= 1)).all())
    # BERT's well-known heads (Clark et al. 2019): a clear previous-token head and heavy [CLS]/[SEP] use.
    assert types.top("previous_token")[2] > 0.8
    assert max(types.top("first_token")[2], types.top("delimiter")[2]) > 0.5


def test_a_zero_query_layer_is_broad_and_nothing_else(planted) -> None:
    types = model_head_types(planted, TEXT)
    assert torch.allclose(types["broad"][0], torch.ones(planted.num_heads), atol=1e-5)
    for name in ("previous_token", "self_token", "duplicate_token", "induction"):
        assert float(types[name][0].max()) < 0.35, name


def test_scores_under_a_plan_find_a_previous_token_head(planted) -> None:
    T = planted.tokenize(TEXT)[0].shape[1]
    shaped = MaskPlan(
        (
            rule([0], [1], allow={"preset": "sliding_window", "size": 1, "two_sided": False}),
            rule([0], [1], block={"cells": [[q, q] for q in range(T)]}),
        )
    )
    before = model_head_types(planted, TEXT)
    after = model_head_types(planted, TEXT, shaped)
    assert float(before["previous_token"][0, 1]) < 0.35
    assert float(after["previous_token"][0, 1]) == pytest.approx(1.0, abs=1e-5)
    assert float(after["broad"][0, 1]) == pytest.approx(0.0, abs=1e-5)  # one key allowed per query
    torch.testing.assert_close(after["previous_token"][0, 2:], before["previous_token"][0, 2:])


def test_scores_under_a_plan_find_an_induction_stripe_on_the_probe(planted) -> None:
    T = planted.tokenize(TEXT)[0].shape[1]
    period = (T - 2) // 2  # [CLS] w1…wP w1…wP (one more word if odd) [SEP]
    keep = {(q, q - period + 1) for q in range(1 + period, 1 + 2 * period)}
    keep |= {(q, 0) for q in range(T) if not any(c[0] == q for c in keep)}
    blocked = [[q, k] for q in range(T) for k in range(q + 1) if (q, k) not in keep]
    stripe = MaskPlan((rule([0], [2], block={"cells": blocked}),))
    types = model_head_types(planted, TEXT, stripe)
    assert float(types["induction"][0, 2]) == pytest.approx(1.0, abs=1e-5)
    assert types.top("induction")[:2] == (0, 2)
    assert float(types["duplicate_token"][0, 2]) == pytest.approx(0.0, abs=1e-6)
