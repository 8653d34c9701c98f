"""The models the benchmarks compare: ours (maskattn) and Hugging Face eager / sdpa on the same weights.

``minilm`` is the app's default model; ``tiny-gpt2`` and ``tiny-llama-gqa`` are small random decoders (the
second with grouped-query attention) built from configs, with a word-level tokenizer so the vocabulary, and
with it the LM head, stays small and the attention dominates.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch

from benchmarks.texts import WORDS
from maskattn import DEFAULT_MODEL_ID, MaskedModel, from_config
from maskattn.adapter import ATTN_IMPLEMENTATION
from maskattn.loading import default_model_path

MODEL_NAMES = ("minilm", "tiny-gpt2", "tiny-llama-gqa")
TINY_VOCAB = 1024
TINY_POSITIONS = 1024


@dataclass
class ModelTrio:
    """One set of weights, three ways to run it."""

    name: str
    ours: MaskedModel
    eager: Any  # Hugging Face model, attn_implementation="eager"
    sdpa: Any  # Hugging Face model, attn_implementation="sdpa"

    @property
    def tokenizer(self) -> Any:
        return self.ours.tokenizer


def tiny_tokenizer() -> Any:
    """Return a word-level fast tokenizer over the benchmark words (no special tokens are added)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"[UNK]": 0, "[PAD]": 1}
    for word in WORDS:
        vocab.setdefault(word, len(vocab))
    backend = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="[UNK]", pad_token="[PAD]")


def tiny_config(name: str) -> Any:
    """Return the config of a tiny random decoder: ``tiny-gpt2`` or ``tiny-llama-gqa``."""
    from tests.tiny_models import tiny_config as zoo_config

    sizes = {"vocab_size": TINY_VOCAB, "max_position_embeddings": TINY_POSITIONS, "num_hidden_layers": 4}
    if name == "tiny-gpt2":
        return zoo_config("gpt2", **sizes, hidden_size=64, bos_token_id=None, eos_token_id=None)
    if name == "tiny-llama-gqa":
        return zoo_config(
            "llama",
            **sizes,
            hidden_size=64,
            intermediate_size=128,
            num_attention_heads=8,
            num_key_value_heads=2,
        )
    raise ValueError(f"unknown tiny model {name!r}; expected one of {MODEL_NAMES[1:]}")


def load_ours(name: str) -> MaskedModel:
    """Return our masked model ``name`` (one of ``MODEL_NAMES``).

    The default model is re-wrapped without the sentence-transformers cap of 256 tokens that ``load_model``
    applies, so T = 512 (its position limit) can be measured; for T <= 256 nothing changes. It is loaded the
    way ``load_model`` loads it (same class, weights and attention), not through it, so its layers carry one
    set of ``MaskedModel`` hooks, as in the app.
    """
    if name == "minilm":
        from transformers import AutoModel, AutoTokenizer

        path = default_model_path()
        model = AutoModel.from_pretrained(path, attn_implementation=ATTN_IMPLEMENTATION, dtype=torch.float32)
        return MaskedModel(model, AutoTokenizer.from_pretrained(path), DEFAULT_MODEL_ID, max_length=512)
    return from_config(tiny_config(name), tiny_tokenizer(), name=name, seed=0)


def reference_model(ours: MaskedModel, attn_implementation: str) -> Any:
    """Return a Hugging Face model with ``ours``' weights using ``attn_implementation`` (eager, sdpa)."""
    config = copy.deepcopy(ours.model.config)
    model = type(ours.model)._from_config(config, attn_implementation=attn_implementation)
    missing, unexpected = model.load_state_dict(ours.model.state_dict(), strict=False)
    if missing or unexpected:
        raise ValueError(f"weights do not match: missing {missing}, unexpected {unexpected}")
    return model.to(ours.device).eval()


def load_trio(name: str) -> ModelTrio:
    """Return ours, eager and sdpa for model ``name``, all on the same weights and device."""
    ours = load_ours(name)
    return ModelTrio(name, ours, reference_model(ours, "eager"), reference_model(ours, "sdpa"))


@torch.inference_mode()
def hf_forward(model: Any, input_ids: torch.Tensor, *, attentions: bool) -> torch.Tensor:
    """Return the last hidden state ``(T, E)`` of a plain Hugging Face forward, asking for what ours computes.

    Decoders are asked for hidden states and logits as ``MaskedModel`` asks for them: both do the same work.
    """
    mask = torch.ones_like(input_ids)
    if "LMHead" in type(model).__name__ or "CausalLM" in type(model).__name__:
        out = model(
            input_ids=input_ids, attention_mask=mask, output_attentions=attentions, output_hidden_states=True,
            use_cache=False,
        )  # fmt: skip
        return out.hidden_states[-1][0]
    out = model(input_ids=input_ids, attention_mask=mask, output_attentions=attentions)
    return out.last_hidden_state[0]
