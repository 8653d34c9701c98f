"""maskattn runs against Hugging Face's own ``eager`` attention on the same weights, on three architectures.

Each masked run is compared with something HF eager computes by itself: the unmasked forward, a key padded
out with ``attention_mask``, a head ablated by zeroing its slice of the output projection's input with a hook.
Head indices in plans, heatmaps and gates are query heads, also under grouped-query attention (Llama: 4 query
heads, 2 key/value heads).
"""

from __future__ import annotations

import pytest
import torch

from maskattn import MaskPlan, rule

from .conftest import TEXT, Arch

ATOL = 1e-5


def close(got: torch.Tensor, want: torch.Tensor, atol: float = ATOL) -> None:
    torch.testing.assert_close(got, want, atol=atol, rtol=1e-5)


@pytest.mark.parametrize("incremental", [True, False], ids=["incremental", "full"])
def test_no_plan_equals_eager(arch: Arch, incremental: bool) -> None:
    result = arch.masked.run(TEXT, incremental=incremental)
    hidden, logits, attentions = arch.eager_run(arch.ids())
    assert (
        result.attentions.shape
        == attentions.shape
        == (
            arch.masked.num_layers,
            arch.masked.num_heads,
            len(result.tokens),
            len(result.tokens),
        )
    )
    close(result.attentions, attentions)
    close(result.hidden, hidden)
    if arch.is_lm:
        close(result.logits, logits, atol=1e-4)
    else:
        assert result.logits is None and logits is None


def test_blocking_a_key_everywhere_equals_padding_it_out(arch: Arch) -> None:
    key = 3  # "brown": not the first token, so no causal row is left empty
    input_ids = arch.ids()
    num_tokens = input_ids.shape[1]
    result = arch.masked.run(TEXT, MaskPlan((rule("all", "all", block={"keys": [key]}),)))
    padded = torch.ones_like(input_ids)
    padded[0, key] = 0
    hidden, logits, attentions = arch.eager_run(input_ids, attention_mask=padded)

    assert (result.attentions[:, :, :, key] == 0).all()
    close(result.attentions, attentions)
    others = [t for t in range(num_tokens) if t != key]
    close(result.hidden[others], hidden[others])
    if arch.is_lm:
        close(result.logits[others], logits[others], atol=1e-4)
    # And it really is a change: the unmasked run differs.
    assert not torch.allclose(result.hidden, arch.masked.baseline(TEXT).hidden, atol=1e-3)


def gate_cases(arch: Arch) -> list[tuple[int, int]]:
    """Return (layer, head) pairs to ablate: a head sharing its key/value head with another under GQA."""
    last_layer, last_head = arch.masked.num_layers - 1, arch.masked.num_heads - 1
    return [(0, 1), (last_layer, last_head)]


@pytest.mark.parametrize("case", [0, 1], ids=["layer0-head1", "last-layer-last-head"])
def test_gate_zero_equals_zeroing_the_heads_slice_before_the_output_projection(arch: Arch, case: int) -> None:
    layer, head = gate_cases(arch)[case]
    result = arch.masked.run(TEXT, MaskPlan((rule([layer], [head], gate=0.0),)))
    hidden, logits, attentions = arch.eager_run(arch.ids(), zero_heads=((layer, head),))
    close(result.hidden, hidden)
    close(result.attentions, attentions)  # a gate changes a head's output, not its weights
    if arch.is_lm:
        close(result.logits, logits, atol=1e-4)
    assert not torch.allclose(result.hidden, arch.masked.baseline(TEXT).hidden, atol=1e-4)


def test_gqa_gates_one_query_head_not_its_key_value_group(arch_cache) -> None:
    arch = arch_cache("llama")
    group = arch.masked.num_heads // arch.num_kv_heads
    assert group == 2  # query heads 0, 1 read key/value head 0; heads 2, 3 read key/value head 1
    for head in range(arch.masked.num_heads):
        result = arch.masked.run(TEXT, MaskPlan((rule([1], [head], gate=0.0),)))
        hidden, _, _ = arch.eager_run(arch.ids(), zero_heads=((1, head),))
        close(result.hidden, hidden)
    # Gating two heads of one group equals zeroing both slices; gating one is not gating its group.
    both = arch.masked.run(TEXT, MaskPlan((rule([1], [0, 1], gate=0.0),)))
    close(both.hidden, arch.eager_run(arch.ids(), zero_heads=((1, 0), (1, 1)))[0])
    one = arch.masked.run(TEXT, MaskPlan((rule([1], [0], gate=0.0),)))
    assert not torch.allclose(one.hidden, both.hidden, atol=1e-4)


def test_a_half_gate_equals_halving_the_heads_slice(arch: Arch) -> None:
    layer, head = 0, 1
    result = arch.masked.run(TEXT, MaskPlan((rule([layer], [head], gate=0.5),)))
    head_dim = arch.masked.hidden_size // arch.masked.num_heads
    proj = arch.out_proj(arch.eager, layer)

    def halve(module, args):
        z = args[0].clone()
        z[..., head * head_dim : (head + 1) * head_dim] *= 0.5
        return (z,)

    handle = proj.register_forward_pre_hook(halve)
    try:
        hidden, _, _ = arch.eager_run(arch.ids())
    finally:
        handle.remove()
    close(result.hidden, hidden)


def test_a_cell_blocked_in_one_head_changes_only_that_head_renormalised(arch: Arch) -> None:
    layer, head, (query, key) = 0, 1, (5, 2)  # key before query: allowed by the causal mask too
    baseline = arch.masked.baseline(TEXT).attentions[layer]  # (H, T, T)
    result = arch.masked.run(TEXT, MaskPlan((rule([layer], [head], block={"cells": [[query, key]]}),)))
    got = result.attentions[layer]
    others = [h for h in range(arch.masked.num_heads) if h != head]
    assert torch.equal(got[others], baseline[others])  # same layer input, so bit-for-bit the same weights
    assert got[head, query, key] == 0.0
    expected_row = baseline[head, query].clone()
    expected_row[key] = 0.0
    expected_row /= expected_row.sum()  # softmax over the remaining keys = the old weights renormalised
    close(got[head, query], expected_row)
    close(got[head].sum(dim=-1), torch.ones(len(result.tokens)))
    rows = [q for q in range(len(result.tokens)) if q != query]
    close(got[head, rows], baseline[head, rows])  # the other rows of that head see the same keys


def test_only_the_heads_a_plan_masks_take_the_masking_passes(arch: Arch, monkeypatch) -> None:
    # The speed-up this guards: without it every head of a painted layer is masked, with the same numbers.
    from maskattn import adapter

    seen = []
    kernel = adapter.masked_attention

    def spy(*args, **kwargs):
        seen.append((kwargs.get("allow_heads"), None if args[3] is None else args[3].shape[1]))
        return kernel(*args, **kwargs)

    monkeypatch.setattr(adapter, "masked_attention", spy)
    arch.masked.baseline(TEXT)  # cached first: only the masked run is recorded below
    seen.clear()
    result = arch.masked.run(TEXT, MaskPlan((rule([0], [1, 2], block={"keys": [2]}),)), incremental=False)
    heads = arch.masked.num_heads
    if arch.is_lm:  # the model's causal mask blocks cells in every head: every head is masked
        assert seen[0] == (None, heads)  # (B, H, Q, K): the causal mask and the plan's together
    else:  # an encoder without padding blocks nothing itself: only heads 1 and 2 are masked
        assert seen[0] == (slice(1, 3), 2)
    assert all(call == (None, 1 if arch.is_lm else None) for call in seen[1:])  # the untouched layers
    # And the numbers: the other heads of layer 0 are the unmasked run's, bit for bit; 1 and 2 lose key 2.
    baseline = arch.masked.baseline(TEXT).attentions[0]
    others = [h for h in range(heads) if h not in (1, 2)]
    assert torch.equal(result.attentions[0, others], baseline[others])
    assert torch.all(result.attentions[0, 1:3, :, 2] == 0)
    close(result.attentions[0, 1:3].sum(-1), torch.ones(2, len(result.tokens)))


def test_a_mask_in_layer_zero_changes_every_later_layer(arch: Arch) -> None:
    baseline = arch.masked.baseline(TEXT)
    result = arch.masked.run(TEXT, MaskPlan((rule([0], "all", block={"keys": [3]}),)))
    for layer in range(1, arch.masked.num_layers):
        change = (result.attentions[layer] - baseline.attentions[layer]).abs().max()
        assert change > 1e-3, f"layer {layer} unchanged ({change})"
    assert result.token_change.max() > 1e-4


def test_heatmap_head_h_is_query_head_h_under_gqa(arch_cache) -> None:
    arch = arch_cache("llama")
    result = arch.masked.run(TEXT)
    _, _, attentions = arch.eager_run(arch.ids())
    # Query heads 0 and 1 share key/value head 0 yet attend differently, and each matches its own eager head.
    assert not torch.allclose(result.attentions[:, 0], result.attentions[:, 1], atol=1e-3)
    for head in range(arch.masked.num_heads):
        close(result.attentions[:, head], attentions[:, head])
    # A key blocked in query head 1 only leaves head 0 (same key/value head) untouched.
    blocked = arch.masked.run(TEXT, MaskPlan((rule([0], [1], block={"keys": [4]}),)))
    assert torch.equal(blocked.attentions[0, 0], result.attentions[0, 0])
    assert (blocked.attentions[0, 1, :, 4] == 0).all() and (result.attentions[0, 1, 5:, 4] > 0).all()


def test_causal_models_attend_only_backwards(lm_arch: Arch) -> None:
    plan = MaskPlan((rule([0], [0], allow={"preset": "sliding_window", "size": 2}),))
    for result in (lm_arch.masked.run(TEXT), lm_arch.masked.run(TEXT, plan)):
        attentions = result.attentions  # (L, H, T, T)
        above = torch.triu(torch.ones_like(attentions[0, 0], dtype=torch.bool), diagonal=1)
        assert (attentions[..., above] == 0).all(), "weights above the diagonal: the model saw the future"
        close(attentions.sum(dim=-1), torch.ones(attentions.shape[:-1]))
    # A two-sided window intersected with causality: query 6 sees keys 4, 5, 6 only.
    row = lm_arch.masked.run(TEXT, plan).attentions[0, 0, 6]
    assert (row[[4, 5, 6]] > 0).all() and (row[:4] == 0).all() and (row[7:] == 0).all()


def test_the_encoder_attends_both_ways(arch_cache) -> None:
    attentions = arch_cache("bert").masked.run(TEXT).attentions
    above = torch.triu(torch.ones_like(attentions[0, 0], dtype=torch.bool), diagonal=1)
    assert (attentions[..., above] > 0).all()
