"""Many plans in one call (``run_many``) and the sweeps built on it, checked against separate runs.

Every batched result is compared with ``MaskedModel.run`` of the same plan, which ``test_hf_reference.py``
ties to Hugging Face's eager attention; mean ablation, which no plan expresses, is compared with HF's eager
model whose output projection gets a forward pre-hook replacing the head's slice by its mean over positions.
"""

from __future__ import annotations

import csv
import io
import json

import pytest
import torch

import maskattn as ma
from maskattn import MaskPlan, SweepCancelled, from_config, metrics, rule, sweeps
from tests.tiny_models import tiny_config

from .conftest import TEXT, Arch
from .test_incremental import assert_same_run


def mixed_plans(num_layers: int) -> list[MaskPlan]:
    """Return plans touching different lowest layers, with blocks, presets and gates, and two no-ops."""
    last = num_layers - 1
    return [
        MaskPlan(),
        MaskPlan((rule([last], [0], gate=0.0),)),
        MaskPlan((rule([0], [1], block={"keys": [2], "cells": [[4, 1]]}),)),
        MaskPlan(
            (rule([1], "all", allow={"preset": "sliding_window", "size": 2}), rule([last], [1], gate=0.5))
        ),
        MaskPlan((rule([], "all", gate=0.0),)),
        MaskPlan((rule([0], [0, 2], gate=0.0), rule([last], "all", block={"queries": [3]}))),
        MaskPlan((rule([1], [1], gate=0.0),)),
    ]


@pytest.mark.parametrize("budget", [ma.engine.BATCH_BUDGET_FLOATS, 1], ids=["one-chunk", "chunks-of-one"])
def test_run_many_equals_separate_runs(arch: Arch, budget: int) -> None:
    model = arch.masked
    plans = mixed_plans(model.num_layers)
    batched = model.run_many(TEXT, plans, budget_floats=budget)
    assert len(batched) == len(plans)
    for plan, got in zip(plans, batched, strict=True):
        want = model.run(TEXT, plan)
        assert got.plan == plan
        assert got.recomputed_from == want.recomputed_from
        assert_same_run(got, want)
    assert model._batch_replay is True
    assert batched[2].token_change.max() > 1e-5  # the plans did something, so equality says something


def test_run_many_without_incremental_equals_full_runs(arch: Arch) -> None:
    model = arch.masked
    plans = mixed_plans(model.num_layers)[1:4]
    for plan, got in zip(plans, model.run_many(TEXT, plans, incremental=False), strict=True):
        assert got.recomputed_from == 0
        assert_same_run(got, model.run(TEXT, plan, incremental=False))


def test_run_many_falls_back_to_batched_full_forwards(bert_tokenizer) -> None:
    model = from_config(tiny_config("gpt2", bert_tokenizer, initializer_range=0.2), bert_tokenizer)
    model.run(TEXT)  # the unmasked run: incremental checked
    model._batch_replay = "pretend a batched replay failed"
    plans = mixed_plans(model.num_layers)
    for plan, got in zip(plans, model.run_many(TEXT, plans), strict=True):
        assert got.recomputed_from in (0, model.num_layers)
        assert_same_run(got, model.run(TEXT, plan))


def test_progress_counts_every_plan_and_false_cancels(arch_cache) -> None:
    model = arch_cache("gpt2").masked
    plans = mixed_plans(model.num_layers)
    seen: list[tuple[int, int]] = []
    model.run_many(TEXT, plans, budget_floats=1, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(i, len(plans)) for i in range(len(plans) + 1)]  # (0, N) first: the total, before work

    calls: list[int] = []

    def stop_after_two(done: int, total: int) -> bool:
        calls.append(done)
        return done < 2

    with pytest.raises(SweepCancelled) as cancelled:
        sweeps.head_importance(model, TEXT, progress=stop_after_two, budget_floats=1)
    assert (cancelled.value.done, cancelled.value.total) == (
        2,
        model.num_layers * model.num_heads + model.num_layers,
    )
    assert calls == [0, 1, 2]


def test_run_many_refuses_bad_mean_ablation(arch_cache) -> None:
    model = arch_cache("gpt2").masked
    with pytest.raises(ValueError, match="one entry per plan"):
        model.run_many(TEXT, [MaskPlan()], mean_ablate=[])
    with pytest.raises(ValueError, match=r"shape \(2, 4\)"):
        model.run_many(TEXT, [MaskPlan()], mean_ablate=[torch.zeros(3, 4, dtype=torch.bool)])


# -- mean ablation against Hugging Face eager with a hook --------------------------------------------------


@torch.inference_mode()
def eager_mean_ablated(arch: Arch, heads: list[tuple[int, int]]) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Return ``(hidden (T, E), logits | None)``: HF eager, ``heads``' outputs replaced by their mean."""
    head_dim = arch.masked.hidden_size // arch.masked.num_heads
    handles = []
    for layer, head in heads:

        def mean_slice(module, args, head=head):
            z = args[0].clone()  # (1, T, H·D): the heads' outputs side by side, before the output projection
            part = z[..., head * head_dim : (head + 1) * head_dim]  # (1, T, D)
            z[..., head * head_dim : (head + 1) * head_dim] = part.mean(dim=1, keepdim=True)
            return (z, *args[1:])

        handles.append(arch.out_proj(arch.eager, layer).register_forward_pre_hook(mean_slice))
    try:
        hidden, logits, _ = arch.eager_run(arch.ids())
    finally:
        for handle in handles:
            handle.remove()
    return hidden, logits


def test_mean_ablation_equals_a_hooked_eager_model(arch: Arch) -> None:
    model = arch.masked
    L, H = model.num_layers, model.num_heads
    choices = [[(0, 1)], [(L - 1, H - 1)], [(1, 0), (1, 2), (L - 1, 0)]]
    means = []
    for heads in choices:
        mask = torch.zeros(L, H, dtype=torch.bool)
        for layer, head in heads:
            mask[layer, head] = True
        means.append(mask)
    results = model.run_many(TEXT, [MaskPlan()] * len(choices), mean_ablate=means)
    for heads, got in zip(choices, results, strict=True):
        hidden, logits = eager_mean_ablated(arch, heads)
        torch.testing.assert_close(got.hidden, hidden, atol=1e-5, rtol=1e-5)
        if logits is not None:
            torch.testing.assert_close(got.logits, logits, atol=1e-4, rtol=1e-5)
        assert got.recomputed_from == min(layer for layer, _ in heads)
        assert got.token_change.max() > 1e-5


def test_mean_ablation_sweep_values_equal_the_hooked_eager_metric(arch: Arch) -> None:
    model = arch.masked
    metric = sweeps.default_metric(model)
    result = sweeps.head_importance(model, TEXT, ablation="mean", whole_layers=False)
    baseline = model.baseline(TEXT)
    T = arch.ids().shape[1]
    for cell in result.cells[:: max(1, len(result.cells) // 12)]:
        hidden, logits = eager_mean_ablated(arch, list(cell.mean_ablate))
        if metric.kind == "embedding_distance":
            want = 1.0 - float(torch.cosine_similarity(hidden.mean(0), baseline.hidden.mean(0), dim=0))
        else:
            p = metric.resolve(T)
            want = float(
                metric.batch(hidden[None], logits[None, p : p + 1], None, baseline.logits[None, p : p + 1])
            )
        assert cell.plan == MaskPlan()
        assert cell.value == pytest.approx(want, abs=2e-5)


# -- sweeps equal separate runs -----------------------------------------------------------------------------


def test_zero_ablation_sweep_equals_separate_runs(arch: Arch) -> None:
    model = arch.masked
    L, H = model.num_layers, model.num_heads
    result = sweeps.head_importance(model, TEXT)
    assert len(result.cells) == L * H + L
    baseline = model.baseline(TEXT)
    metric = result.metric
    for cell in result.cells:
        layer, head = cell.coords["layer"], cell.coords["head"]
        assert cell.plan == MaskPlan((rule([layer], "all" if head == "all" else [head], gate=0.0),))
        want = metric.of_result(model.run(TEXT, cell.plan), baseline)
        assert cell.value == pytest.approx(want, abs=1e-5)
        assert cell.effect == pytest.approx(cell.value - result.baseline)
    grid = result.grid(L, H)
    assert grid.shape == (L, H) and not grid.isnan().any()
    assert float(grid.max()) > 1e-4
    layers, per_layer = result.curve("layer")
    assert layers == list(range(L)) and per_layer.shape == (L,)


@pytest.mark.parametrize("name", ["gpt2", "llama"])
def test_logit_difference_and_kl_sweeps_equal_separate_runs(arch_cache, name: str) -> None:
    model = arch_cache(name).masked
    baseline = model.baseline(TEXT)
    for metric in (metrics.logit_difference(-1, 1000, 2000), metrics.kl_at(4)):
        result = sweeps.head_importance(model, TEXT, metric=metric, whole_layers=False)
        assert result.baseline == pytest.approx(metric.of_result(baseline, baseline), abs=1e-6)
        for cell in result.cells:
            assert cell.value == pytest.approx(
                metric.of_result(model.run(TEXT, cell.plan), baseline), abs=1e-4
            )


@pytest.mark.parametrize("name", ["bert", "gpt2", "llama"])
def test_knockout_slides_a_window_and_equals_separate_runs(arch_cache, name: str) -> None:
    model = arch_cache(name).masked
    result = sweeps.attention_knockout(model, TEXT, sources=[1, 2], target=6, window=2)
    L = model.num_layers
    assert [c.coords["layer"] for c in result.cells] == list(range(L))
    assert [c.coords["last_layer"] for c in result.cells] == [min(i + 1, L - 1) for i in range(L)]
    baseline = model.baseline(TEXT)
    for cell in result.cells:
        (knockout,) = cell.plan.rules
        assert knockout.block.cells == ((6, 1), (6, 2))
        assert knockout.layers == tuple(range(cell.coords["layer"], cell.coords["last_layer"] + 1))
        want = result.metric.of_result(model.run(TEXT, cell.plan), baseline)
        assert cell.value == pytest.approx(want, abs=1e-5)
    assert max(c.value for c in result.cells) > 1e-6


def test_preset_sweep_on_chosen_heads_equals_separate_runs(arch_cache) -> None:
    model = arch_cache("llama").masked
    T = model.tokenize(TEXT)[0].shape[1]
    result = sweeps.preset_sweep(
        model, TEXT, "sliding_window", "size", params={"two_sided": False}, layers=[1, 2], heads=[0, 3]
    )
    sizes, effects = result.curve("size")
    assert sizes == list(range(1, T + 1))
    baseline = model.baseline(TEXT)
    for cell in result.cells:
        (chosen,) = cell.plan.rules
        assert (chosen.layers, chosen.heads) == ((1, 2), (0, 3))
        assert chosen.allow == {"preset": "sliding_window", "two_sided": False, "size": cell.coords["size"]}
        assert cell.value == pytest.approx(
            result.metric.of_result(model.run(TEXT, cell.plan), baseline), abs=1e-5
        )
    assert effects[-1] == pytest.approx(0.0, abs=1e-6)  # a window as long as the text blocks nothing
    assert effects[0] > effects[-1]


def test_a_sweep_on_top_of_a_plan_measures_against_that_plan(arch_cache) -> None:
    model = arch_cache("bert").masked
    base = MaskPlan((rule([2], [3], block={"keys": [1]}),))
    result = sweeps.head_importance(model, TEXT, plan=base)
    baseline = model.baseline(TEXT)
    metric = result.metric
    assert result.baseline == pytest.approx(metric.of_result(model.run(TEXT, base), baseline), abs=1e-6)
    cell = result.cells[5]
    assert cell.plan.rules[0] == base.rules[0]
    assert cell.value == pytest.approx(metric.of_result(model.run(TEXT, cell.plan), baseline), abs=1e-5)
    assert cell.effect == pytest.approx(cell.value - result.baseline)


def test_exports_carry_every_cell_and_its_plan(arch_cache) -> None:
    model = arch_cache("gpt2").masked
    result = sweeps.head_importance(model, TEXT, ablation="mean")
    rows = list(csv.DictReader(io.StringIO(result.to_csv())))
    assert len(rows) == len(result.cells)
    for row, cell in zip(rows, result.cells, strict=True):
        assert (row["layer"], row["head"]) == (str(cell.coords["layer"]), str(cell.coords["head"]))
        assert float(row["value"]) == cell.value
        assert MaskPlan.from_json(row["plan"]) == cell.plan
        assert [tuple(p) for p in json.loads(row["mean_ablate"])] == list(cell.mean_ablate)
    data = json.loads(result.to_json())
    assert data["kind"] == "head_importance" and data["options"]["ablation"] == "mean"
    assert metrics.from_dict(data["metric"]) == result.metric
    assert [c["value"] for c in data["cells"]] == [c.value for c in result.cells]
    assert data["cells"][-1]["head"] == "all" and len(data["cells"][-1]["mean_ablate"]) == model.num_heads


def test_sweeps_are_pure_functions_of_their_arguments(arch_cache) -> None:
    model = arch_cache("llama").masked
    first = sweeps.attention_knockout(model, TEXT, [1], 5)
    model.run(TEXT, MaskPlan((rule([0], [0], gate=0.0),)))  # other calls in between change nothing
    assert sweeps.attention_knockout(model, TEXT, [1], 5).to_json() == first.to_json()


def test_metrics_that_do_not_fit_the_model_are_refused(arch_cache) -> None:
    bert, gpt2 = arch_cache("bert").masked, arch_cache("gpt2").masked
    with pytest.raises(ValueError, match="needs a language model"):
        sweeps.head_importance(bert, TEXT, metric=metrics.kl_at(-1))
    with pytest.raises(ValueError, match="for sentence encoders"):
        sweeps.head_importance(gpt2, TEXT, metric=metrics.embedding_distance())
    with pytest.raises(ValueError, match="outside the text"):
        sweeps.head_importance(gpt2, TEXT, metric=metrics.kl_at(99))
    with pytest.raises(ValueError, match="outside the vocabulary"):
        sweeps.head_importance(gpt2, TEXT, metric=metrics.logit_difference(-1, 0, 10**9))
    with pytest.raises(ValueError, match="token id token_b"):
        metrics.logit_difference(-1, 3, -1)


def test_an_encoder_decoder_loops_over_run(bert_tokenizer) -> None:
    model = from_config(tiny_config("bart", bert_tokenizer, init_std=0.2), bert_tokenizer)
    assert model.kind == "seq2seq"
    plans = [MaskPlan((rule([1], [0], gate=0.0),)), MaskPlan((rule([0], "all", block={"keys": [2]}),))]
    for plan, got in zip(plans, model.run_many(TEXT, plans), strict=True):
        assert_same_run(got, model.run(TEXT, plan))
    result = sweeps.head_importance(model, TEXT, whole_layers=False)
    baseline = model.baseline(TEXT)
    cell = result.cells[3]
    assert cell.value == pytest.approx(
        result.metric.of_result(model.run(TEXT, cell.plan), baseline), abs=1e-5
    )
    with pytest.raises(ValueError, match="encoder–decoder"):
        sweeps.head_importance(model, TEXT, ablation="mean")
