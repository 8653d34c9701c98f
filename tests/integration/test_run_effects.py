"""What ``MaskedModel.run`` reports besides weights: effects against the unmasked run, truncation, errors."""

from __future__ import annotations

import json
import time

import huggingface_hub.constants
import pytest
import torch

from maskattn import MaskPlan, ModelLoadError, load_model, rule

from .conftest import TEXT, Arch

PLAN = MaskPlan(
    (
        rule("all", "all", block={"keys": [3]}),
        rule([0], [1], block={"queries": [2], "cells": [[5, 1]]}),
        rule([1], "all", allow={"preset": "sliding_window", "size": 3}),
        rule([1], [0], gate=0.0),
    )
)


def test_plan_survives_a_json_round_trip_with_the_same_result(arch: Arch) -> None:
    again = MaskPlan.from_json(PLAN.to_json())
    assert again == PLAN
    first, second = arch.masked.run(TEXT, PLAN), arch.masked.run(TEXT, again)
    assert torch.equal(first.attentions, second.attentions)
    assert torch.equal(first.hidden, second.hidden)


def test_empty_plan_has_no_effect(arch: Arch) -> None:
    result = arch.masked.run(TEXT, MaskPlan())
    assert torch.equal(result.token_change, torch.zeros(len(result.tokens)))
    if arch.is_lm:
        assert result.embedding_cosine is None and result.kl_divergence == 0.0
        assert result.predictions == result.baseline_predictions
    else:
        assert result.embedding_cosine == 1.0 and result.kl_divergence is None
        torch.testing.assert_close(result.embedding, result.hidden.mean(dim=0))


def test_a_plan_reports_its_effect_against_the_unmasked_run(arch: Arch) -> None:
    result = arch.masked.run(TEXT, PLAN)
    baseline = arch.masked.baseline(TEXT)
    expected_change = 1 - torch.cosine_similarity(result.hidden, baseline.hidden, dim=-1)
    torch.testing.assert_close(result.token_change, expected_change.clamp(min=0))
    assert result.token_change.max() > 1e-4
    if not arch.is_lm:
        expected = torch.cosine_similarity(result.hidden.mean(0), baseline.hidden.mean(0), dim=0)
        assert result.embedding_cosine == pytest.approx(float(expected), abs=1e-6)
        assert result.embedding_cosine < 1.0


def test_lm_predictions_and_kl(lm_arch: Arch) -> None:
    result = lm_arch.masked.run(TEXT, PLAN, top_k=4)
    baseline = lm_arch.masked.baseline(TEXT, top_k=4)
    last = len(result.tokens) - 1
    for predictions, logits in (
        (result.predictions, result.logits),
        (result.baseline_predictions, baseline.logits),
    ):
        (prediction,) = predictions
        assert prediction.position == last  # causal LM: the next token after the text
        probs = torch.softmax(logits[last], dim=-1)
        top = torch.topk(probs, 4)
        assert prediction.probs == pytest.approx(top.values.tolist(), abs=1e-6)
        assert list(prediction.tokens) == [
            lm_arch.masked.tokenizer.decode([int(i)]).strip() for i in top.indices
        ]
    log_p = torch.log_softmax(baseline.logits[last], dim=-1)
    log_q = torch.log_softmax(result.logits[last], dim=-1)
    expected_kl = float((log_p.exp() * (log_p - log_q)).sum())
    assert result.kl_divergence == pytest.approx(expected_kl, rel=1e-4, abs=1e-7)
    assert result.kl_divergence > 0.0
    # A plan that changes nothing (gate 1 everywhere) gives KL 0, never a negative rounding error.
    no_op = lm_arch.masked.run(TEXT, MaskPlan((rule("all", "all", gate=1.0),)))
    assert no_op.kl_divergence == pytest.approx(0.0, abs=1e-9) and no_op.kl_divergence >= 0.0


def test_long_text_is_truncated_and_says_so(arch: Arch) -> None:
    model = arch.masked
    long_text = " ".join(["fox"] * (model.max_length + 20))
    result = model.run(long_text, MaskPlan((rule([model.num_layers - 1], [0], block={"keys": [1]}),)))
    assert result.truncated
    assert len(result.tokens) == model.max_length
    assert result.tokens[0] == "[CLS]" and result.tokens[-1] == "[SEP]"  # truncation keeps the special tokens
    assert result.attentions.shape[-1] == model.max_length
    full_length = len(model.tokenizer(long_text)["input_ids"])
    assert result.dropped_tokens == full_length - model.max_length > 0
    assert not model.run(TEXT).truncated and model.run(TEXT).dropped_tokens == 0


def test_max_tokens_cuts_a_run_shorter_than_the_model_allows(arch: Arch) -> None:
    model = arch.masked
    whole = model.run(TEXT)
    plan = MaskPlan((rule([model.num_layers - 1], [0], block={"keys": [1]}),))
    cut = model.run(TEXT, plan, max_tokens=5)
    assert cut.num_tokens == 5 and cut.dropped_tokens == whole.num_tokens - 5
    # The cut text is its own run: the same as running the first tokens alone, special tokens kept.
    alone = model.run(TEXT, plan, max_tokens=5, incremental=False)
    torch.testing.assert_close(cut.attentions, alone.attentions, atol=1e-6, rtol=0)
    assert cut.tokens[:4] == whole.tokens[:4] and cut.tokens[-1] == whole.tokens[-1] == "[SEP]"
    assert model.run(TEXT, max_tokens=10_000).num_tokens == whole.num_tokens
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="max_tokens"):
            model.run(TEXT, max_tokens=bad)


def test_max_length_of_each_model(arch: Arch) -> None:
    # The default model was trained on 256 tokens (sentence_bert_config.json); tiny ones have 64 positions.
    assert arch.masked.max_length == {"bert": 256, "gpt2": 64, "llama": 64}[arch.name]


@pytest.mark.parametrize("text", ["", "   \n\t", None, 42])
def test_empty_or_non_text_is_a_value_error(arch: Arch, text) -> None:
    with pytest.raises(ValueError, match="empty"):
        arch.masked.run(text)


def test_a_plan_that_does_not_fit_is_a_value_error(arch: Arch) -> None:
    model = arch.masked
    with pytest.raises(ValueError, match=rf"layers.*{model.num_layers} layers"):
        model.run(TEXT, MaskPlan((rule([model.num_layers], [0], gate=0.0),)))
    with pytest.raises(ValueError, match=rf"heads.*{model.num_heads} heads"):
        model.run(TEXT, MaskPlan((rule([0], [model.num_heads], gate=0.0),)))
    with pytest.raises(ValueError, match="past the text"):
        model.run(TEXT, MaskPlan((rule([0], [0], block={"keys": [99]}),)))
    with pytest.raises(ValueError, match="top_k"):
        model.run(TEXT, top_k=0)


def test_plan_from_json_file_text_runs(arch_cache) -> None:
    model = arch_cache("bert").masked
    text = json.dumps({"version": 1, "rules": [{"layers": [5], "heads": [0], "gate": 0.0}]})
    result = model.run(TEXT, MaskPlan.from_json(text))
    assert result.embedding_cosine < 1.0


def test_unknown_model_id_is_a_clear_load_error_quickly() -> None:
    start = time.perf_counter()
    with pytest.raises(ModelLoadError, match="not/a-real-model-id-xyz") as caught:
        load_model("not/a-real-model-id-xyz")
    assert time.perf_counter() - start < 20  # offline: no minute of retries
    assert isinstance(caught.value, ValueError)


def test_unknown_model_id_offline_mode(monkeypatch) -> None:
    # huggingface_hub reads HF_HUB_OFFLINE once at import, so the constant is patched as well as the variable.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    start = time.perf_counter()
    with pytest.raises(ModelLoadError, match=r"cannot load 'not/a-real-model-id-xyz'"):
        load_model("not/a-real-model-id-xyz")
    assert time.perf_counter() - start < 10


def test_missing_local_folder_is_a_load_error(tmp_path) -> None:
    with pytest.raises(ModelLoadError, match="cannot load"):
        load_model(tmp_path / "no-such-model")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="cannot load"):
        load_model(tmp_path / "empty")
