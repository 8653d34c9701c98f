"""Incremental recompute: a plan touching layers ℓ… reruns them from the unmasked run's input of layer ℓ.

The reference is always the same plan run through the whole model (``incremental=False``), which the tests in
``test_hf_reference.py`` tie to Hugging Face's eager attention.
"""

from __future__ import annotations

import pytest
import torch

from maskattn import MaskPlan, buffers, from_config, rule
from maskattn.replay import LayerStack
from tests.tiny_models import tiny_config

from .conftest import TEXT, Arch

OTHER_TEXT = "A short sentence, then another one about masks."


def plan_from(layer: int, num_layers: int) -> MaskPlan:
    """Return a plan whose lowest layer is ``layer``: a block and a gate there, a window in the last layer."""
    return MaskPlan(
        (
            rule([layer], [0, 1], block={"keys": [2], "cells": [[4, 1]]}),
            rule([layer], [1], gate=0.0),
            rule([num_layers - 1], "all", allow={"preset": "sliding_window", "size": 3}),
        )
    )


def assert_same_run(got, want) -> None:
    torch.testing.assert_close(got.attentions, want.attentions, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(got.hidden, want.hidden, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(got.token_change, want.token_change, atol=1e-5, rtol=0)
    if want.logits is not None:
        torch.testing.assert_close(got.logits, want.logits, atol=1e-4, rtol=1e-5)
        assert got.kl_divergence == pytest.approx(want.kl_divergence, abs=1e-6)
        assert [p.tokens for p in got.predictions] == [p.tokens for p in want.predictions]
    if want.embedding_cosine is not None:
        assert got.embedding_cosine == pytest.approx(want.embedding_cosine, abs=1e-6)


@pytest.mark.parametrize("text", [TEXT, OTHER_TEXT], ids=["text", "other-text"])
def test_incremental_equals_a_full_run_from_every_layer(arch: Arch, text: str) -> None:
    model = arch.masked
    for layer in range(model.num_layers):
        plan = plan_from(layer, model.num_layers)
        incremental = model.run(text, plan)
        full = model.run(text, plan, incremental=False)
        assert incremental.recomputed_from == layer
        assert full.recomputed_from == 0
        assert_same_run(incremental, full)
        assert incremental.token_change.max() > 1e-5  # the plan did something, so equality says something
    assert model.incremental_available is True


def test_layers_below_the_plan_keep_the_unmasked_weights(arch: Arch) -> None:
    model = arch.masked
    last = model.num_layers - 1
    baseline = model.baseline(TEXT)
    result = model.run(TEXT, MaskPlan((rule([last], [0], block={"keys": [1]}),)))
    assert result.recomputed_from == last
    assert torch.equal(result.attentions[:last], baseline.attentions[:last])
    assert (result.attentions[last, 0, :, 1] == 0).all()


def test_plans_touching_no_layer_and_the_empty_plan_recompute_nothing(arch: Arch) -> None:
    model = arch.masked
    baseline = model.baseline(TEXT)
    for plan in (MaskPlan(), MaskPlan((rule([], "all", gate=0.0),))):
        result = model.run(TEXT, plan)
        assert result.recomputed_from == model.num_layers
        assert torch.equal(result.hidden, baseline.hidden)
        assert torch.equal(result.attentions, baseline.attentions)
        assert_same_run(result, model.run(TEXT, plan, incremental=False))


def test_a_layout_that_does_not_replay_exactly_falls_back_to_full_runs(bert_tokenizer) -> None:
    config = tiny_config("gpt2", bert_tokenizer, initializer_range=0.2)
    model = from_config(config, bert_tokenizer)
    assert model._stack.norm is model.model.transformer.ln_f
    # Pretend the final norm was not found: a replay would then differ from the full forward.
    model._stack = LayerStack(model._stack.layers, None, model._stack.head)
    plan = plan_from(1, 2)
    result = model.run(TEXT, plan)
    assert model.incremental_available is False
    assert result.recomputed_from == 0
    assert_same_run(result, model.run(TEXT, plan, incremental=False))


def test_layer_inputs_are_only_recorded_for_the_unmasked_run(arch: Arch) -> None:
    from maskattn import replay

    model = arch.masked
    model.run(TEXT, plan_from(0, model.num_layers), incremental=False)
    assert not replay.is_recording()  # the recorder is off again outside the unmasked run
    with torch.inference_mode():
        model.model(input_ids=arch.ids())  # a plain forward of the model records nothing and works as before
    assert not replay.is_recording()


def test_results_handed_out_do_not_share_tensors_with_the_cache(arch: Arch) -> None:
    model = arch.masked
    no_layer = MaskPlan((rule([], "all", gate=0.0),))
    # A replay of the last layer: its lower layers are copied from the cache into the tensor its layer wrote.
    replayed = model.run(TEXT, MaskPlan((rule([model.num_layers - 1], [1], gate=0.5),)))
    replayed.attentions.zero_()
    for plan in (MaskPlan(), no_layer):
        spoiled = model.run(TEXT, plan)
        spoiled.attentions.zero_()  # a caller changing its result in place…
        spoiled.hidden.zero_()
        if spoiled.logits is not None:
            spoiled.logits.zero_()
    last = model.num_layers - 1
    plan = MaskPlan((rule([last], [0], gate=0.0),))
    assert_same_run(model.run(TEXT, plan), model.run(TEXT, plan, incremental=False))  # …changes no later run
    assert model.run(TEXT).attentions.sum(dim=-1).allclose(torch.ones(1))


@pytest.fixture
def every_result_pooled(monkeypatch):
    """Pool every result buffer, as the engine does for 72 MiB ones, so tiny models exercise the reuse."""
    monkeypatch.setattr(buffers.RESULT_BUFFERS, "min_bytes", 1)


def test_a_result_kept_by_the_caller_never_changes_when_the_model_runs_again(
    arch: Arch, every_result_pooled
) -> None:
    # Results' memory is reused once nothing refers to it: a result still held, or just a view of one, must
    # keep its numbers through full, incremental, batched and unmasked runs of the same sizes.
    model = arch.masked
    kept = model.run(TEXT, plan_from(1, model.num_layers))
    snapshot = {name: getattr(kept, name).clone() for name in ("attentions", "hidden", "token_change")}
    view = model.run(TEXT, plan_from(0, model.num_layers)).attentions[-1]  # the result itself dropped
    view_snapshot = view.clone()
    for layer in range(model.num_layers):
        model.run(TEXT, plan_from(layer, model.num_layers))
        model.run(TEXT, plan_from(layer, model.num_layers), incremental=False)
    model.run_many(TEXT, [plan_from(0, model.num_layers), MaskPlan()])
    model.baseline(TEXT)
    for name, values in snapshot.items():
        assert torch.equal(getattr(kept, name), values), name
    assert torch.equal(view, view_snapshot)
    del kept, view
    # The pool is in play: a result dropped gives its memory to the next run of the same sizes.
    first = model.run(TEXT, plan_from(1, model.num_layers))
    address, nbytes = first.attentions.data_ptr(), first.attentions.nbytes
    del first
    assert buffers.RESULT_BUFFERS.idle_bytes() >= nbytes
    again = model.run(TEXT, plan_from(1, model.num_layers))
    assert again.attentions.data_ptr() == address
    assert_same_run(again, model.run(TEXT, plan_from(1, model.num_layers), incremental=False))
