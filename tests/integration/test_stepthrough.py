"""The step-through of one head against the same head computed independently with plain torch.

The reference reads the weights of a separately loaded eager Hugging Face model (never maskattn's attention
function), takes the hidden state entering the layer from ``output_hidden_states=True``, slices W_q, W_k, W_v
for the head, builds the mask from the plan's meaning by hand and applies −∞ before a plain softmax.
"""

from __future__ import annotations

import math

import pytest
import torch
from transformers import AutoModel

from maskattn import MaskPlan, from_config, load_model, rule
from maskattn.loading import default_model_path
from maskattn.stepthrough import find_output_projection, trace_head
from tests.tiny_models import tiny_config

TEXT = "The keys to the cabinet are on the table."
NUM_TOKENS = 12  # [CLS] the keys to the cabinet are on the table . [SEP]


@pytest.fixture(scope="module")
def model():
    return load_model()


@pytest.fixture(scope="module")
def eager():
    reference = AutoModel.from_pretrained(default_model_path(), attn_implementation="eager").eval()
    assert reference.config._attn_implementation == "eager"
    return reference


def causal_without(num_tokens: int, blocked_keys: list[int]) -> torch.Tensor:
    """Return the (T, T) allow mask 'key ≤ query and key not in blocked_keys', built without maskattn."""
    allow = torch.ones(num_tokens, num_tokens).tril().bool()
    allow[:, blocked_keys] = False
    return allow


def reference_layer(eager, text_ids: torch.Tensor, layer: int, allow_by_head: dict[int, torch.Tensor]):
    """Return per-head (q, k, v, scores, weights, out) and the projected concat of ``layer``, by hand."""
    with torch.no_grad():
        hidden = eager(input_ids=text_ids, output_hidden_states=True).hidden_states[layer][0]  # (T, E)
        attention = eager.encoder.layer[layer].attention
        heads = eager.config.num_attention_heads
        dim = eager.config.hidden_size // heads
        per_head = []
        for h in range(heads):
            rows = slice(h * dim, (h + 1) * dim)
            q = hidden @ attention.self.query.weight[rows].T + attention.self.query.bias[rows]  # (T, D)
            k = hidden @ attention.self.key.weight[rows].T + attention.self.key.bias[rows]
            v = hidden @ attention.self.value.weight[rows].T + attention.self.value.bias[rows]
            scores = q @ k.T / math.sqrt(dim)  # (T, T)
            allow = allow_by_head.get(h)
            if allow is None:
                weights = torch.softmax(scores, dim=-1)
            else:
                masked = scores.masked_fill(~allow, float("-inf"))
                open_rows = allow.any(dim=-1, keepdim=True)
                weights = torch.softmax(masked.masked_fill(~open_rows, 0.0), dim=-1) * allow  # empty rows → 0
            per_head.append((q, k, v, scores, weights, weights @ v))
        concat = torch.cat([p[5] for p in per_head], dim=-1)  # (T, H·D)
        projected = concat @ attention.output.dense.weight.T + attention.output.dense.bias  # (T, E)
    return per_head, concat, projected


CASES = {
    "unmasked": (2, 5, None, []),
    "causal and a blocked key": (3, 1, "causal", [2]),
    "blocked key only": (5, 11, None, [2, 6]),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_trace_matches_an_independent_computation(model, eager, case):
    layer, head, preset, blocked_keys = CASES[case]
    plan = MaskPlan()
    if preset or blocked_keys:
        plan = MaskPlan(
            (
                rule(
                    [layer],
                    [head],
                    allow={"preset": preset} if preset else None,
                    block={"keys": blocked_keys} if blocked_keys else None,
                ),
            )
        )
    trace = trace_head(model, TEXT, plan, layer, head)
    assert trace.num_tokens == NUM_TOKENS
    if preset == "causal":
        allow = causal_without(NUM_TOKENS, blocked_keys)
    else:
        allow = torch.ones(NUM_TOKENS, NUM_TOKENS, dtype=torch.bool)
        allow[:, blocked_keys] = False
    ids = model.tokenize(TEXT)[0].cpu()
    per_head, concat, projected = reference_layer(eager, ids, layer, {head: allow})
    q, k, v, scores, weights, out = per_head[head]

    torch.testing.assert_close(trace.query, q, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(trace.key, k, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(trace.value, v, atol=1e-4, rtol=1e-4)
    assert trace.scaling == pytest.approx(1 / math.sqrt(q.shape[1]))
    torch.testing.assert_close(trace.scores, scores, atol=1e-4, rtol=1e-4)
    assert torch.equal(trace.allow, allow)
    assert torch.isneginf(trace.masked_scores[~allow]).all()
    torch.testing.assert_close(trace.masked_scores[allow], scores[allow], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(trace.weights, weights, atol=1e-5, rtol=1e-4)
    assert (trace.weights[~allow] == 0).all()
    torch.testing.assert_close(trace.head_output, out, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(trace.concat, concat, atol=1e-4, rtol=1e-4)
    start, stop = trace.head_columns
    torch.testing.assert_close(trace.concat[:, start:stop], out, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(trace.projected, projected, atol=1e-4, rtol=1e-4)
    assert trace.projection_name == f"encoder.layer.{layer}.attention.output.dense"
    assert trace.projection_after == "residual_layernorm"


@pytest.mark.slow
def test_unmasked_weights_equal_the_eager_models_attentions(model, eager):
    ids = model.tokenize(TEXT)[0].cpu()
    with torch.no_grad():
        attentions = eager(input_ids=ids, output_attentions=True).attentions  # L × (1, H, T, T)
    for layer, head in [(0, 0), (1, 7), (4, 3)]:
        trace = trace_head(model, TEXT, None, layer, head)
        torch.testing.assert_close(trace.weights, attentions[layer][0, head], atol=1e-5, rtol=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize(
    "plan",
    [
        MaskPlan(),
        MaskPlan((rule([2], [4], allow={"preset": "sliding_window", "size": 1}),)),
        MaskPlan((rule([0], "all", block={"keys": [1, 2]}), rule([2], [4], block={"queries": [3]}))),
    ],
    ids=["empty", "window", "earlier layer masked and a blocked row"],
)
def test_weights_equal_what_the_explorer_shows(model, plan):
    trace = trace_head(model, TEXT, plan, 2, 4)
    shown = model.run(TEXT, plan).attentions[2, 4]
    assert torch.equal(trace.weights, shown)


@pytest.mark.slow
def test_a_fully_blocked_row_gives_zero_weights_and_output(model):
    plan = MaskPlan((rule([1], [3], block={"queries": [6]}),))
    trace = trace_head(model, TEXT, plan, 1, 3)
    assert not trace.allow[6].any()
    assert (trace.weights[6] == 0).all()
    assert (trace.head_output[6] == 0).all()
    assert not trace.weights.isnan().any()
    others = torch.arange(NUM_TOKENS) != 6
    torch.testing.assert_close(trace.weights[others].sum(dim=-1), torch.ones(NUM_TOKENS - 1))


@pytest.mark.slow
def test_a_gate_scales_that_heads_columns_of_the_concatenation(model):
    ungated = trace_head(model, TEXT, None, 4, 0)
    gated = trace_head(model, TEXT, MaskPlan((rule([4], [5], gate=0.25),)), 4, 0)
    columns = slice(5 * 32, 6 * 32)
    torch.testing.assert_close(gated.concat[:, columns], ungated.concat[:, columns] * 0.25)
    torch.testing.assert_close(gated.concat[:, : columns.start], ungated.concat[:, : columns.start])
    gated_self = trace_head(model, TEXT, MaskPlan((rule([4], [5], gate=0.25),)), 4, 5)
    assert gated_self.gate == 0.25
    torch.testing.assert_close(gated_self.concat[:, columns], gated_self.head_output * 0.25)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("layer", "head", "text"),
    [(6, 0, TEXT), (0, 12, TEXT), (-1, 0, TEXT), (0, 0, "   "), (True, 0, TEXT)],
)
def test_bad_input_raises_value_error(model, layer, head, text):
    with pytest.raises(ValueError):
        trace_head(model, text, None, layer, head)


# -- other architectures: the output projection is found, and the numbers are still the model's own


def tiny_decoder(kind: str):
    tokenizer = load_model().tokenizer
    config = tiny_config(kind, tokenizer)
    return from_config(config, tokenizer, name=f"tiny-{kind}")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("kind", "projection"),
    [("gpt2", "transformer.h.1.attn.c_proj"), ("llama", "model.layers.1.self_attn.o_proj")],
)
def test_decoders_find_their_output_projection(kind, projection):
    model = tiny_decoder(kind)
    plan = MaskPlan((rule([1], [2], block={"keys": [0]}),))
    trace = trace_head(model, TEXT, plan, 1, 2)
    assert trace.projection_name == projection
    assert trace.projection_after == "residual"
    assert torch.equal(trace.weights, model.run(TEXT, plan).attentions[1, 2])
    causal = torch.ones(NUM_TOKENS, NUM_TOKENS).tril().bool()
    causal[:, 0] = False
    assert torch.equal(trace.allow, causal)

    # The projection's real output in an ordinary forward, caught by a hook on a model only this test uses.
    module = model.model.get_submodule(projection)
    seen = []
    handle = module.register_forward_hook(lambda _m, _inputs, output: seen.append(output.detach()))
    try:
        model.run(TEXT, plan)
    finally:
        handle.remove()
    torch.testing.assert_close(trace.projected, seen[0][0], atol=1e-5, rtol=1e-4)


@pytest.mark.slow
def test_grouped_query_heads_share_their_key_value_head():
    model = tiny_decoder("llama")  # 4 query heads, 2 key/value heads: heads 2 and 3 read kv head 1
    two, three = trace_head(model, TEXT, None, 0, 2), trace_head(model, TEXT, None, 0, 3)
    assert torch.equal(two.key, three.key) and torch.equal(two.value, three.value)
    assert not torch.equal(two.query, three.query)


def test_find_output_projection_rejects_foreign_modules():
    with pytest.raises(ValueError, match="not part of this model"):
        find_output_projection(torch.nn.Sequential(torch.nn.Linear(2, 2)), torch.nn.Linear(2, 2))
