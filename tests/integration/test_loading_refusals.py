"""Folders that cannot work are refused when they load, with what is missing, never after a text fails."""

from __future__ import annotations

import pytest

from maskattn import ModelLoadError, load_model
from tests.model_folders import save_gpt2_folder

TOKENIZER_FILES = {"tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"}


def test_a_folder_without_tokenizer_files_is_refused_naming_what_it_holds(tmp_path) -> None:
    save_gpt2_folder(tmp_path)
    for file in tmp_path.iterdir():
        if file.name in TOKENIZER_FILES:
            file.unlink()
    with pytest.raises(ModelLoadError, match="no usable tokenizer") as caught:
        load_model(tmp_path)
    assert "model.safetensors" in str(caught.value) and "tokenizer.json" in str(caught.value)


def test_the_same_folder_with_its_tokenizer_loads(tmp_path) -> None:
    save_gpt2_folder(tmp_path)
    assert load_model(tmp_path).tokenize("The cat sat.")[0].shape[1] > 0
