"""Every architecture of the zoo: exactly Hugging Face eager's attention under plans, or refused at load.

The reference is HF's own eager model on the same weights, with the plan's blocked cells added as −∞ to the
mask *inside* HF's eager attention code (``eager_attention_forward`` of the model's module, patched for the
call; for architectures that compute attention in their own classes, the mask argument of that class), so
HF's causal, sliding-window, softcap, sink and position-bias terms stay HF's. A gated head's output is scaled
where HF's attention hands it back, before the output projection. Attention calls are numbered in the order
they run, per stack, and stacks are told apart by module names, not by anything maskattn computes. The cells
each case blocks are written out here directly, not compiled by ``MaskPlan``.
"""

from __future__ import annotations

import copy
import sys
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
import torch

from maskattn import MaskedModel, MaskPlan, ModelLoadError, from_config, load_model, rule
from tests import support_matrix
from tests.tiny_models import EXACT, ZOO, TinyArch, config_of, peaked, transformers_at_least

TEXT = "The quick brown fox jumps over the lazy dog."
ATOL = 1e-5
EXACT_ARCHS = [a for a in ZOO if a.expect == EXACT]
REFUSED_ARCHS = [a for a in ZOO if a.expect != EXACT]
_CROSS_NAMES = ("encoder_attn", "EncDecAttention", "crossattention", "cross_attn")
# Architectures that compute attention in their own classes: (class, index of the mask argument or its
# keyword, the output projection's attribute).
_OWN_CODE = {
    "MPNetSelfAttention": (1, "o"),
    "BloomAttention": ("attention_mask", "dense"),
    "GPTNeoSelfAttention": ("attention_mask", "out_proj"),
}

Slot = tuple[str, int]  # (stack, layer)


@dataclass
class Pair:
    """Our model and HF's eager model with the same weights."""

    arch: TinyArch
    ours: MaskedModel
    eager: torch.nn.Module

    @property
    def kind(self) -> str:
        return self.ours.kind

    def inputs(self) -> dict[str, torch.Tensor]:
        ids = self.ours.tokenize(TEXT)[0]
        inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
        if self.kind == "seq2seq":
            start = self.eager.config.decoder_start_token_id
            inputs["decoder_input_ids"] = torch.cat([torch.tensor([[start]]), ids[:, :-1]], dim=1)
        return inputs


def build(arch: TinyArch, tokenizer) -> Pair:
    ours = from_config(config_of(arch, tokenizer), tokenizer, name=arch.name)
    peaked(ours.model)
    eager = type(ours.model)._from_config(config_of(arch, tokenizer), attn_implementation="eager")
    eager.load_state_dict(ours.model.state_dict())
    eager.eval()
    assert eager.config is not ours.model.config
    assert eager.config._attn_implementation == "eager"
    return Pair(arch, ours, eager)


@pytest.fixture(scope="module")
def pairs(bert_tokenizer) -> Callable[[TinyArch], Pair]:
    built: dict[str, Pair] = {}

    def get(arch: TinyArch) -> Pair:
        if arch.name not in built:
            built[arch.name] = build(arch, bert_tokenizer)
        return built[arch.name]

    return get


# -- the reference -------------------------------------------------------------------------------------------


def _default_stack(kind: str) -> str:
    return "decoder" if kind == "causal_lm" else "encoder"


@contextmanager
def _plan_inside_eager(
    pair: Pair, blocked: dict[Slot, torch.Tensor], gates: dict[Slot, torch.Tensor]
) -> Iterator:
    """Add ``blocked`` ((H, Q, K) bool per slot) as −∞ inside HF's eager attention; scale gated heads."""
    names = {module: name for name, module in pair.eager.named_modules()}
    counters: dict[str, int] = defaultdict(int)
    current: list[Slot] = []

    def slot_of(module: torch.nn.Module) -> Slot:
        name = names[module]
        if any(part in name for part in _CROSS_NAMES):
            stack = "cross"
        elif pair.kind == "seq2seq" and "decoder" in name.split("."):
            stack = "decoder"
        else:
            stack = _default_stack(pair.kind)
        slot = (stack, counters[stack])
        counters[stack] += 1
        return slot

    def with_plan(mask: torch.Tensor | None, slot: Slot) -> torch.Tensor | None:
        if slot not in blocked:
            return mask
        extra = torch.zeros(blocked[slot].shape).masked_fill(blocked[slot], float("-inf"))[
            None
        ]  # (1, H, Q, K)
        if mask is not None and mask.dtype == torch.bool:
            mask = torch.zeros(mask.shape).masked_fill(~mask, float("-inf"))
        return extra if mask is None else mask + extra

    modeling = sys.modules[type(pair.eager).__module__]
    original = getattr(modeling, "eager_attention_forward", None)

    def eager_with_plan(module, query, key, value, attention_mask, *args, **kwargs):
        slot = slot_of(module)
        out, weights = original(module, query, key, value, with_plan(attention_mask, slot), *args, **kwargs)
        if slot in gates:
            out = out * gates[slot].to(out.dtype)[None, None, :, None]  # (B, Q, H, D)
        return out, weights

    handles = []
    for module in pair.eager.modules():
        own = _OWN_CODE.get(type(module).__name__)
        if own is None:
            continue
        where, projection = own

        def mask_hook(module, args, kwargs, where=where):
            slot = slot_of(module)
            current.append(slot)
            if isinstance(where, int):
                args = (*args[:where], with_plan(args[where], slot), *args[where + 1 :])
            else:
                kwargs = {**kwargs, where: with_plan(kwargs.get(where), slot)}
            return args, kwargs

        def gate_hook(projection_module, args, num_heads=pair.ours.num_heads):
            slot = current[-1]
            if slot not in gates:
                return None
            z = args[0]  # (B, T, H·D)
            heads = z.unflatten(-1, (num_heads, -1)) * gates[slot][:, None]  # (B, T, H, D)
            return (heads.flatten(-2), *args[1:])

        handles.append(module.register_forward_pre_hook(mask_hook, with_kwargs=True))
        handles.append(getattr(module, projection).register_forward_pre_hook(gate_hook))
    if original is not None and not handles:
        modeling.eager_attention_forward = eager_with_plan
    try:
        yield
    finally:
        if original is not None:
            modeling.eager_attention_forward = original
        for handle in handles:
            handle.remove()


@torch.inference_mode()
def reference(pair: Pair, blocked=None, gates=None) -> dict[str, torch.Tensor]:
    """Return HF eager's attentions per stack, last hidden state (and logits) under the written-out plan."""
    with _plan_inside_eager(pair, blocked or {}, gates or {}):
        out = pair.eager(**pair.inputs(), output_attentions=True, output_hidden_states=True)
    stacked = {}
    if pair.kind == "seq2seq":
        stacked["encoder"] = torch.stack([a[0] for a in out.encoder_attentions])
        stacked["decoder"] = torch.stack([a[0] for a in out.decoder_attentions])
        stacked["cross"] = torch.stack([a[0] for a in out.cross_attentions])
        stacked["hidden"] = out.encoder_last_hidden_state[0]
    else:
        stacked[_default_stack(pair.kind)] = torch.stack([a[0] for a in out.attentions])
        stacked["hidden"] = out.last_hidden_state[0] if pair.kind == "encoder" else out.hidden_states[-1][0]
    if pair.kind != "encoder":
        stacked["logits"] = out.logits[0]
    return stacked


# -- the plans, with their cells written out -----------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """A plan and the same plan written out as blocked cells and gates per slot.

    Cells are chosen where the unmasked model puts its weight, so the plan is felt (weights here are
    peaked enough that a cell picked blindly often carries 1e-30 of a row). Key 0 is never blocked: a causal
    row 0 has no other key.
    """

    name: str
    build: Callable  # (pair, unmasked reference) -> (plan, blocked, gates)


def _sizes(pair: Pair) -> tuple[int, int, int, str]:
    tokens = pair.inputs()["input_ids"].shape[1]
    return pair.ours.num_layers, pair.ours.num_heads, tokens, _default_stack(pair.kind)


def _heaviest_key(attentions: torch.Tensor) -> int:
    """Return the key ≥ 1 that gets the most weight in ``attentions (…, Q, K)``."""
    return int(attentions.sum(dim=tuple(range(attentions.dim() - 1)))[1:].argmax()) + 1


def _heaviest_cells(weights: torch.Tensor, rows: range) -> list[list[int]]:
    """Return ``[query, key]`` of each row's heaviest key ≥ 1 in ``weights (Q, K)`` (causal rows: k ≤ q)."""
    return [[q, int(weights[q, 1:].argmax()) + 1] for q in rows]


def _empty(pair, unmasked):
    return MaskPlan(), {}, {}


def _key_everywhere(pair, unmasked):
    layers, heads, tokens, stack = _sizes(pair)
    key = _heaviest_key(unmasked[stack][0])
    grid = torch.zeros(heads, tokens, tokens, dtype=torch.bool)
    grid[:, :, key] = True
    plan = MaskPlan((rule("all", "all", block={"keys": [key]}),))
    return plan, {(stack, layer): grid for layer in range(layers)}, {}


def _cells_one_head(pair, unmasked):
    _, heads, tokens, stack = _sizes(pair)
    cells = _heaviest_cells(unmasked[stack][0, 1], range(2, tokens))
    grid = torch.zeros(heads, tokens, tokens, dtype=torch.bool)
    for q, k in cells:
        grid[1, q, k] = True
    return MaskPlan((rule([0], [1], block={"cells": cells}),)), {(stack, 0): grid}, {}


def _gate_zero(pair, unmasked):
    _, heads, _, stack = _sizes(pair)
    gate = torch.ones(heads)
    gate[2] = 0.0
    return MaskPlan((rule([0], [2], gate=0.0),)), {}, {(stack, 0): gate}


def _combination(pair, unmasked):
    _, heads, tokens, stack = _sizes(pair)
    upper = torch.ones(tokens, tokens, dtype=torch.bool).triu(1)  # what "causal" blocks
    first = torch.zeros(heads, tokens, tokens, dtype=torch.bool)
    first[[0, 3]] = upper
    key = _heaviest_key(unmasked[stack][1])
    second = torch.zeros(heads, tokens, tokens, dtype=torch.bool)
    second[:, :, key] = True
    gate = torch.ones(heads)
    gate[3] = 0.5
    plan = MaskPlan(
        (
            rule([0], [0, 3], allow={"preset": "causal"}),
            rule([1], "all", block={"keys": [key]}),
            rule([1], [3], gate=0.5),
        )
    )
    return plan, {(stack, 0): first, (stack, 1): second}, {(stack, 1): gate}


CASES = [
    Case("empty", _empty),
    Case("key-on-all-heads", _key_everywhere),
    Case("cells-on-one-head", _cells_one_head),
    Case("gate-0", _gate_zero),
    Case("combination", _combination),
]


def assert_matches(result, want: dict[str, torch.Tensor]) -> None:
    for stack in result.stacks:
        got = result.stack_attentions[stack]
        assert got.shape == want[stack].shape, stack
        torch.testing.assert_close(got, want[stack], atol=ATOL, rtol=0, msg=lambda m, s=stack: f"{s}: {m}")
    assert set(result.stacks) == set(want) - {"hidden", "logits"}
    torch.testing.assert_close(result.hidden, want["hidden"], atol=ATOL, rtol=0)
    if "logits" in want:
        torch.testing.assert_close(result.logits, want["logits"], atol=1e-4, rtol=1e-5)


def changed(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    return max(float((a[k] - b[k]).abs().max()) for k in a)


# -- the tests -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
@pytest.mark.parametrize("arch", EXACT_ARCHS, ids=lambda a: a.name)
def test_equals_hf_eager_with_the_plan_inside_its_attention(pairs, arch: TinyArch, case: Case) -> None:
    pair = pairs(arch)
    unmasked = reference(pair)
    plan, blocked, gates = case.build(pair, unmasked)
    want = reference(pair, blocked, gates)
    if plan:
        # A plan the reference does not feel would pass for any implementation: it must change something.
        assert changed(want, unmasked) > 1e-4
    assert_matches(pair.ours.run(TEXT, plan, incremental=False), want)
    assert_matches(pair.ours.run(TEXT, plan), want)  # incremental where the model allows it


@pytest.mark.parametrize("arch", EXACT_ARCHS, ids=lambda a: a.name)
def test_an_edit_of_the_last_layer_replays_only_that_layer_and_equals_a_full_run(
    pairs, arch: TinyArch
) -> None:
    pair = pairs(arch)
    last = pair.ours.num_layers - 1
    plan = MaskPlan((rule([last], [0], block={"keys": [3]}),))
    pair.ours.run(TEXT)  # the unmasked run, which an edit replays from
    incremental, full = pair.ours.run(TEXT, plan), pair.ours.run(TEXT, plan, incremental=False)
    if pair.ours.incremental_available:
        assert incremental.recomputed_from == last
    for stack in full.stacks:
        torch.testing.assert_close(
            incremental.stack_attentions[stack], full.stack_attentions[stack], atol=0, rtol=0
        )
    torch.testing.assert_close(incremental.hidden, full.hidden, atol=ATOL, rtol=0)


SEQ2SEQ_ARCHS = [a for a in EXACT_ARCHS if a.family == "encoder–decoder"]


@pytest.mark.parametrize("arch", SEQ2SEQ_ARCHS, ids=lambda a: a.name)
def test_decoder_and_cross_attention_are_their_own_stacks(pairs, arch: TinyArch) -> None:
    pair = pairs(arch)
    assert pair.ours.stacks == ("encoder", "decoder", "cross")
    layers, heads, tokens, _ = _sizes(pair)
    cross = torch.zeros(heads, tokens, tokens, dtype=torch.bool)
    cross[:, :, 2] = True
    decoder = torch.zeros(heads, tokens, tokens, dtype=torch.bool)
    decoder[1, 4, 2] = decoder[1, 5, 0] = True
    blocked = {("cross", layer): cross for layer in range(layers)} | {("decoder", 1): decoder}
    plan = MaskPlan(
        (
            rule("all", "all", block={"keys": [2]}, stack="cross"),
            rule([1], [1], block={"cells": [[4, 2], [5, 0]]}, stack="decoder"),
        )
    )
    want = reference(pair, blocked)
    unmasked = reference(pair)
    assert changed(want, unmasked) > 1e-4
    torch.testing.assert_close(want["encoder"], unmasked["encoder"])  # only the decoder side was masked
    result = pair.ours.run(TEXT, plan)
    assert_matches(result, want)
    view = result.view("cross")
    assert view.query_labels == result.decoder_labels and view.key_labels == result.labels
    assert (
        result.kl_divergence is not None and result.kl_divergence > 0
    )  # the effect is on the decoder's logits
    assert result.embedding is None


@pytest.mark.parametrize("arch", REFUSED_ARCHS, ids=lambda a: a.name)
def test_refused_at_load_in_one_sentence_naming_the_architecture(bert_tokenizer, arch: TinyArch) -> None:
    with pytest.raises(ModelLoadError) as caught:
        from_config(config_of(arch, bert_tokenizer), bert_tokenizer, name=arch.name)
    message = str(caught.value)
    assert arch.expect in message
    assert arch.architecture in message and "\n" not in message and message.endswith("refused")


# -- the reference catches wrong results ---------------------------------------------------------------------


def _pair_named(pairs, name: str) -> Pair:
    return pairs(next(a for a in ZOO if a.name == name))


def test_the_reference_catches_a_mask_on_the_wrong_key(pairs) -> None:
    pair = _pair_named(pairs, "llama")
    plan, blocked, _ = _key_everywhere(pair, reference(pair))
    key = plan.rules[0].block.keys[0]
    assert_matches(pair.ours.run(TEXT, plan), reference(pair, blocked))
    wrong = pair.ours.run(TEXT, MaskPlan((rule("all", "all", block={"keys": [key + 1]}),)))
    with pytest.raises(AssertionError):
        assert_matches(wrong, reference(pair, blocked))


_FALCON_ALIBI = pytest.param(
    "falcon-alibi",
    "bias",
    marks=pytest.mark.skipif(not transformers_at_least("5.25"), reason="Falcon is refused before 5.25"),
)


@pytest.mark.parametrize(
    ("name", "dropped"),
    [("gemma2", "softcap"), ("gpt-oss", "sinks"), ("t5", "bias"), ("bloom", "bias"), _FALCON_ALIBI],
)
def test_the_reference_catches_a_dropped_score_term(pairs, monkeypatch, name: str, dropped: str) -> None:
    """Drop one term in our attention math, as the versions before this one did: the comparison must fail."""
    from maskattn import adapter

    pair = _pair_named(pairs, name)
    real = adapter.masked_attention

    def without_term(*args, **kwargs):
        kwargs[dropped] = None
        return real(*args, **kwargs)

    monkeypatch.setattr(adapter, "masked_attention", without_term)
    pair.ours.clear_cache()
    try:
        with pytest.raises(AssertionError):
            assert_matches(pair.ours.run(TEXT, incremental=False), reference(pair))
    finally:
        monkeypatch.undo()
        pair.ours.clear_cache()


def test_a_copied_config_keeps_the_reference_eager(bert_tokenizer) -> None:
    arch = next(a for a in ZOO if a.name == "gpt2")
    config = config_of(arch, bert_tokenizer)
    ours = from_config(config, bert_tokenizer)
    assert config._attn_implementation != "maskattn"  # from_config works on its own copy
    assert ours.model.config._attn_implementation == "maskattn"
    assert copy.deepcopy(config)._attn_implementation == config._attn_implementation


# -- loading as a user does, and the README ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["t5-encoder", "bart", "gpt-neo"])
def test_a_saved_folder_loads_as_the_right_class_and_runs_exactly(tmp_path, pairs, name: str) -> None:
    pair = _pair_named(pairs, name)
    pair.eager.save_pretrained(tmp_path)  # the eager twin's weights and config, as a user's folder has them
    pair.ours.tokenizer.save_pretrained(tmp_path)
    loaded = load_model(tmp_path)
    assert type(loaded.model) is type(pair.ours.model)
    assert loaded.stacks == pair.ours.stacks
    assert_matches(loaded.run(TEXT), reference(pair))


@pytest.mark.parametrize(
    ("name", "unported", "refusal"),
    [
        # Its own dictionary of attention classes, without "maskattn" (GPT-Neo's, were it not ported).
        ("gpt-neo", True, r"^GPTNeoForCausalLM \(gpt_neo\) computes attention in its own code, not through"),
        # Attention written out in its own classes: the probe sees no call.
        ("megatron-bert", False, r"^MegatronBertModel \(megatron-bert\) computes attention in its own code"),
    ],
    ids=["own-class-dictionary", "no-interface-call"],
)
def test_a_folder_of_an_architecture_with_its_own_attention_classes_is_refused(
    tmp_path, bert_tokenizer, monkeypatch, name: str, unported: bool, refusal: str
) -> None:
    from transformers import AutoConfig, AutoModel, AutoModelForCausalLM

    from maskattn import ports

    arch = next(a for a in ZOO if a.name == name)
    config = config_of(arch, bert_tokenizer)
    auto = AutoModelForCausalLM if "CausalLM" in arch.architecture else AutoModel
    auto.from_config(config).save_pretrained(tmp_path)
    bert_tokenizer.save_pretrained(tmp_path)
    assert AutoConfig.from_pretrained(tmp_path).architectures == [arch.architecture]
    if unported:
        monkeypatch.setattr(ports, "LOAD_AS_EAGER", frozenset())
    with pytest.raises(ModelLoadError, match=refusal):
        load_model(tmp_path)


def test_a_text_and_image_model_is_refused_before_its_weights_load(tmp_path) -> None:
    from transformers import CLIPConfig

    CLIPConfig().save_pretrained(tmp_path)  # no weights in the folder: the refusal comes from the config
    with pytest.raises(ModelLoadError, match="reads text only"):
        load_model(tmp_path)


def test_the_readme_support_matrix_is_what_the_zoo_gives(bert_tokenizer) -> None:
    assert support_matrix.readme_table() == support_matrix.table(bert_tokenizer), (
        "README.md's support matrix is out of date: run python -m tests.support_matrix"
    )
