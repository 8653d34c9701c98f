"""Three architectures, each as a maskattn model plus Hugging Face's own ``eager`` model on the same weights.

- ``bert``: the real default model (sentence-transformers/all-MiniLM-L6-v2, BERT, 6 layers × 12 heads).
- ``gpt2``: a tiny random GPT-2 LM (2 layers × 4 heads, causal, learned positions, ``Conv1D`` projections).
- ``llama``: a tiny random Llama LM, 3 layers, grouped-query attention (4 query heads on 2 key/value heads),
  rotary positions.

The tiny models use the default model's BERT tokenizer (offline) and its vocabulary size. Their weights are
drawn with ``initializer_range=0.2`` rather than 0.02, so attention is peaked enough for a mask in one layer
to change later layers by more than rounding.

Every reference is ``eager`` built from its own deep copy of the config and loaded with the maskattn model's
``state_dict``; the fixtures assert both implementations, so a shared config cannot switch the reference to
ours.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import torch
from transformers import AutoTokenizer

from maskattn import MaskedModel, from_config, load_model
from maskattn.loading import default_model_path
from tests.tiny_models import tiny_config

TEXT = "The quick brown fox jumps over the lazy dog."


@dataclass(frozen=True)
class Arch:
    """One architecture under test: our model, the eager reference, each layer's output projection."""

    name: str
    masked: MaskedModel
    eager: torch.nn.Module
    out_proj: Callable[[torch.nn.Module, int], torch.nn.Module]  # (model, layer) → the head-concat projection
    num_kv_heads: int

    @property
    def is_lm(self) -> bool:
        return self.masked.kind != "encoder"

    def ids(self, text: str = TEXT) -> torch.Tensor:
        """Return ``(1, T)`` token ids of ``text`` as the model reads it."""
        return self.masked.tokenize(text)[0]

    @torch.inference_mode()
    def eager_run(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        zero_heads: tuple[tuple[int, int], ...] = (),
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """Return ``(hidden (T, E), logits (T, V) | None, attentions (L, H, T, T))`` of the eager model.

        ``zero_heads`` lists ``(layer, head)`` pairs whose slice of the output projection's input is zeroed by
        a plain forward pre-hook (the hooks are removed before returning).
        """
        head_dim = self.masked.hidden_size // self.masked.num_heads
        handles = []
        for layer, head in zero_heads:

            def zero_slice(module, args, head=head):
                z = args[0].clone()  # (1, T, H·D): the heads' outputs side by side
                z[..., head * head_dim : (head + 1) * head_dim] = 0.0
                return (z, *args[1:])

            handles.append(self.out_proj(self.eager, layer).register_forward_pre_hook(zero_slice))
        try:
            mask = torch.ones_like(input_ids) if attention_mask is None else attention_mask
            out = self.eager(
                input_ids=input_ids, attention_mask=mask, output_attentions=True, output_hidden_states=True
            )
        finally:
            for handle in handles:
                handle.remove()
        logits = out.logits[0] if self.is_lm else None
        attentions = torch.stack([a[0] for a in out.attentions])  # (L, H, T, T)
        # hidden_states[-1] is the last hidden state after any final norm, as RunResult.hidden is.
        return out.hidden_states[-1][0], logits, attentions


def _eager_twin(masked: MaskedModel) -> torch.nn.Module:
    """Return Hugging Face's eager implementation of ``masked``'s model, with a copied config and weights."""
    config = copy.deepcopy(masked.model.config)
    eager = type(masked.model)._from_config(config, attn_implementation="eager")
    eager.load_state_dict(masked.model.state_dict())
    eager.eval()
    assert eager.config is not masked.model.config
    assert eager.config._attn_implementation == "eager"
    assert masked.model.config._attn_implementation == "maskattn"
    return eager


@pytest.fixture(scope="session")
def bert_tokenizer():
    return AutoTokenizer.from_pretrained(default_model_path())


def make_arch(name: str, tokenizer) -> Arch:
    """Return the architecture ``name`` with its eager twin."""
    if name == "bert":
        masked = load_model()
        return Arch(
            name, masked, _eager_twin(masked), lambda m, i: m.encoder.layer[i].attention.output.dense, 12
        )
    if name == "gpt2":
        config = tiny_config("gpt2", tokenizer, initializer_range=0.2)
        masked = from_config(config, tokenizer, name="tiny-gpt2")
        return Arch(name, masked, _eager_twin(masked), lambda m, i: m.transformer.h[i].attn.c_proj, 4)
    if name == "llama":
        config = tiny_config("llama", tokenizer, num_hidden_layers=3, initializer_range=0.2)
        masked = from_config(config, tokenizer, name="tiny-llama")
        return Arch(name, masked, _eager_twin(masked), lambda m, i: m.model.layers[i].self_attn.o_proj, 2)
    raise ValueError(f"unknown architecture {name!r}")


ARCH_NAMES = ["bert", "gpt2", "llama"]
LM_NAMES = ["gpt2", "llama"]


@pytest.fixture(scope="session")
def arch_cache(bert_tokenizer) -> Callable[[str], Arch]:
    """Return a getter building each architecture once per session (no test changes a model)."""
    built: dict[str, Arch] = {}

    def get(name: str) -> Arch:
        if name not in built:
            built[name] = make_arch(name, bert_tokenizer)
        return built[name]

    return get


@pytest.fixture(params=ARCH_NAMES)
def arch(request, arch_cache) -> Arch:
    """Each of the three architectures."""
    return arch_cache(request.param)


@pytest.fixture(params=LM_NAMES)
def lm_arch(request, arch_cache) -> Arch:
    """The language models (both causal): GPT-2 and Llama."""
    return arch_cache(request.param)
