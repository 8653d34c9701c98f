"""Model folders as users have them on disk: a random GPT-2 LM saved with the bundled model's tokenizer.

No download: the tokenizer comes from the embedded default model, the weights from a seeded random init.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoTokenizer, GPT2LMHeadModel

from maskattn.loading import default_model_path
from tests.tiny_models import tiny_config


def save_gpt2_folder(
    folder: Path, *, layers: int = 2, heads: int = 4, width: int = 32, positions: int = 64
) -> GPT2LMHeadModel:
    """Save a random GPT-2 LM (safetensors) and the default tokenizer in ``folder``; return the model."""
    tokenizer = AutoTokenizer.from_pretrained(default_model_path())
    config = tiny_config(
        "gpt2", vocab_size=tokenizer.vocab_size, num_hidden_layers=layers, num_attention_heads=heads,
        hidden_size=width, max_position_embeddings=positions,
        bos_token_id=None, eos_token_id=None,  # GPT-2's own 50256 lies outside the BERT vocabulary
    )  # fmt: skip
    torch.manual_seed(0)
    model = GPT2LMHeadModel(config)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return model


def save_bart_folder(folder: Path) -> None:
    """Save a tiny random BART encoder–decoder (safetensors) and the default tokenizer in ``folder``."""
    from transformers import BartForConditionalGeneration

    tokenizer = AutoTokenizer.from_pretrained(default_model_path())
    torch.manual_seed(0)
    BartForConditionalGeneration(tiny_config("bart", tokenizer)).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
