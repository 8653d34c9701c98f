"""Loading a model never runs code from the model's folder, never unpickles, and respects the size limit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel

from maskattn import ModelLoadError, load_model
from maskattn.loading import count_parameters
from tests.model_folders import save_gpt2_folder

# Imported by transformers only if it ran the folder's own code: it leaves a file behind as proof.
EVIL_MODULE = """
from pathlib import Path
Path(__file__).with_name("CODE_RAN").write_text("remote code ran")
from transformers import PretrainedConfig, PreTrainedModel
class EvilConfig(PretrainedConfig):
    model_type = "evil"
class EvilModel(PreTrainedModel):
    config_class = EvilConfig
"""


def test_a_folder_that_needs_its_own_code_is_refused_without_running_it(tmp_path: Path) -> None:
    (tmp_path / "modeling_evil.py").write_text(EVIL_MODULE)
    (tmp_path / "configuration_evil.py").write_text(EVIL_MODULE)
    config = {
        "model_type": "evil",
        "architectures": ["EvilModel"],
        "auto_map": {"AutoConfig": "configuration_evil.EvilConfig", "AutoModel": "modeling_evil.EvilModel"},
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match="custom code"):
        load_model(tmp_path)
    assert not (tmp_path / "CODE_RAN").exists()


def test_pickled_weights_are_refused_and_safetensors_load(tmp_path: Path) -> None:
    model = save_gpt2_folder(tmp_path)
    loaded = load_model(tmp_path)  # save_pretrained writes model.safetensors
    assert loaded.num_layers == 2
    (tmp_path / "model.safetensors").unlink()
    torch.save(model.state_dict(), tmp_path / "pytorch_model.bin")  # a pickle
    with pytest.raises(ModelLoadError, match="only safetensors weights are loaded"):
        load_model(tmp_path)


def test_a_model_over_the_size_limit_is_refused_from_its_config_alone(tmp_path: Path) -> None:
    save_gpt2_folder(tmp_path)
    size = count_parameters(GPT2Config.from_pretrained(tmp_path))
    reference = GPT2LMHeadModel(GPT2Config.from_pretrained(tmp_path))
    assert size == sum(p.numel() for p in reference.parameters())  # tied embeddings counted once
    (tmp_path / "model.safetensors").unlink()  # refused before the weights would be looked for
    with pytest.raises(ModelLoadError, match=f"has {size:,} parameters; models of at most {size - 1:,}"):
        load_model(tmp_path, max_parameters=size - 1)
    with pytest.raises(ModelLoadError, match=r"no file named model\.safetensors"):
        load_model(tmp_path, max_parameters=size)  # within the limit: it goes on to the (missing) weights
