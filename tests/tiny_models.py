"""Tiny random models of the architectures people use, built from configs (no download), for tests.

Every model has 2 layers, 4 query heads and width 32, reads the bundled model's BERT tokenizer (its
vocabulary size, so every token id exists) and gets its weights redrawn at a scale where attention is far
from uniform (``peaked``). ``ZOO`` lists each architecture with what maskattn must do with it: mask it exactly
("exact") or refuse it at load with a message containing the given words.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import transformers
from packaging.version import Version
from transformers import AutoConfig

EXACT = "exact"

_BASE = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 64,
    "max_position_embeddings": 64,
}
_SEQ2SEQ = {
    "d_model": 32,
    "encoder_layers": 2,
    "decoder_layers": 2,
    "encoder_attention_heads": 4,
    "decoder_attention_heads": 4,
    "encoder_ffn_dim": 64,
    "decoder_ffn_dim": 64,
}
_T5 = {"d_model": 32, "d_kv": 8, "d_ff": 64, "num_layers": 2, "num_decoder_layers": 2, "num_heads": 4}
_GQA = {"num_key_value_heads": 2}


@dataclass(frozen=True)
class TinyArch:
    """One architecture of the zoo: how to build it and what maskattn must do with it."""

    name: str  # the test id
    model_type: str
    architecture: str  # the class ``config.architectures`` names (picks the head)
    expect: str  # EXACT, or words the refusal must contain
    family: str  # encoder, decoder, encoder–decoder: what the README's matrix groups by
    notes: str = ""  # what is special about it (the README's matrix shows it)
    overrides: dict[str, Any] = field(default_factory=dict)
    # Where the verdict changed with a transformers release: (that version, the README's verdict before it,
    # the verdict from it on). The tests check the installed version's verdict; the README shows both.
    by_version: tuple[str, str, str] | None = None


def _arch(name, model_type, architecture, family, notes="", expect=EXACT, by_version=None, **overrides):
    return TinyArch(name, model_type, architecture, expect, family, notes, overrides, by_version)


def transformers_at_least(version: str) -> bool:
    """Return whether the installed transformers is ``version`` or later."""
    return Version(transformers.__version__) >= Version(version)


# Falcon computed attention in its own classes (a dictionary without "maskattn") until transformers 5.25,
# which sends it through the attention interface, ALiBi as an additive float mask.
_FALCON_SINCE = "5.25"
_FALCON_EXPECT = EXACT if transformers_at_least(_FALCON_SINCE) else "own code"
_FALCON_BEFORE = (
    "refused: computes attention in its own code (rotary or ALiBi attention written out in its own classes), "
    "not through the attention interface"
)


def _falcon(name: str, notes: str, **overrides: Any) -> TinyArch:
    versions = (_FALCON_SINCE, _FALCON_BEFORE, f"{EXACT} (decoder)")
    return _arch(name, "falcon", "FalconForCausalLM", "decoder", notes, _FALCON_EXPECT, versions, **overrides)


ZOO: tuple[TinyArch, ...] = (
    # -- encoders --------------------------------------------------------------------------------------------
    _arch("bert", "bert", "BertModel", "encoder"),
    _arch("bert-mlm", "bert", "BertForMaskedLM", "encoder", "masked-LM head"),
    _arch("roberta", "roberta", "RobertaModel", "encoder"),
    _arch("xlm-roberta", "xlm-roberta", "XLMRobertaModel", "encoder"),
    _arch("electra", "electra", "ElectraModel", "encoder"),
    _arch("camembert", "camembert", "CamembertModel", "encoder"),
    _arch("data2vec-text", "data2vec-text", "Data2VecTextModel", "encoder"),
    _arch("ernie", "ernie", "ErnieModel", "encoder"),
    _arch("xlm-roberta-xl", "xlm-roberta-xl", "XLMRobertaXLModel", "encoder"),
    _arch(
        "modernbert",
        "modernbert",
        "ModernBertModel",
        "encoder",
        "local (sliding) and global layers",
        global_attn_every_n_layers=2,
        local_attention=4,
    ),
    _arch(
        "distilbert",
        "distilbert",
        "DistilBertModel",
        "encoder",
        "no layer_idx",
        dim=32,
        n_layers=2,
        n_heads=4,
        hidden_dim=64,
    ),
    _arch(
        "albert",
        "albert",
        "AlbertModel",
        "encoder",
        "one layer module shared by all layers",
        embedding_size=16,
    ),
    _arch("esm", "esm", "EsmModel", "encoder", "no layer_idx", mask_token_id=103),
    _arch("clip-text", "clip_text_model", "CLIPTextModel", "encoder", "causal text tower, no layer_idx"),
    _arch("mpnet", "mpnet", "MPNetModel", "encoder", "relative position bias; attention ported"),
    _arch(
        "deberta-v2",
        "deberta-v2",
        "DebertaV2Model",
        "encoder",
        "disentangled relative attention",
        expect="disentangled relative positions",
    ),
    _arch(
        "roformer", "roformer", "RoFormerModel", "encoder", "rotary, own attention code", expect="own code"
    ),
    _arch(
        "megatron-bert",
        "megatron-bert",
        "MegatronBertModel",
        "encoder",
        "own attention code",
        expect="own code",
    ),
    # -- decoders --------------------------------------------------------------------------------------------
    _arch("gpt2", "gpt2", "GPT2LMHeadModel", "decoder", "Conv1D projections"),
    _arch("gpt-neox", "gpt_neox", "GPTNeoXForCausalLM", "decoder", "partial rotary"),
    _arch("gptj", "gptj", "GPTJForCausalLM", "decoder", "rotary", rotary_dim=4),
    _arch("gpt-bigcode", "gpt_bigcode", "GPTBigCodeForCausalLM", "decoder", "multi-query", multi_query=True),
    _arch("opt", "opt", "OPTForCausalLM", "decoder", "", ffn_dim=64, word_embed_proj_dim=32),
    _arch("llama", "llama", "LlamaForCausalLM", "decoder", "grouped-query", **_GQA),
    _arch("mistral", "mistral", "MistralForCausalLM", "decoder", "sliding window", sliding_window=3, **_GQA),
    _arch("qwen2", "qwen2", "Qwen2ForCausalLM", "decoder", "grouped-query, q/k/v bias", **_GQA),
    _arch("qwen3", "qwen3", "Qwen3ForCausalLM", "decoder", "q/k norm", head_dim=8, **_GQA),
    _arch("gemma", "gemma", "GemmaForCausalLM", "decoder", "multi-query", num_key_value_heads=1, head_dim=8),
    _arch(
        "gemma2",
        "gemma2",
        "Gemma2ForCausalLM",
        "decoder",
        "logit softcapping, sliding window",
        head_dim=8,
        sliding_window=3,
        attn_logit_softcapping=2.0,
        **_GQA,
    ),
    _arch(
        "gemma3",
        "gemma3_text",
        "Gemma3ForCausalLM",
        "decoder",
        "sliding window, q/k norm",
        head_dim=8,
        sliding_window=3,
        **_GQA,
    ),
    _arch("phi", "phi", "PhiForCausalLM", "decoder", "partial rotary"),
    _arch("phi3", "phi3", "Phi3ForCausalLM", "decoder", "fused qkv", **_GQA),
    _arch(
        "starcoder2",
        "starcoder2",
        "Starcoder2ForCausalLM",
        "decoder",
        "sliding window",
        sliding_window=3,
        **_GQA,
    ),
    _arch(
        "mixtral",
        "mixtral",
        "MixtralForCausalLM",
        "decoder",
        "mixture of experts",
        num_local_experts=4,
        num_experts_per_tok=2,
        **_GQA,
    ),
    _arch(
        "qwen3-moe",
        "qwen3_moe",
        "Qwen3MoeForCausalLM",
        "decoder",
        "mixture of experts",
        head_dim=8,
        num_experts=4,
        num_experts_per_tok=2,
        moe_intermediate_size=32,
        **_GQA,
    ),
    _arch("olmo", "olmo", "OlmoForCausalLM", "decoder", ""),
    _arch("olmo2", "olmo2", "Olmo2ForCausalLM", "decoder", "q/k norm"),
    _arch("smollm3", "smollm3", "SmolLM3ForCausalLM", "decoder", "NoPE layers", **_GQA),
    _arch("cohere", "cohere", "CohereForCausalLM", "decoder", "parallel block", **_GQA),
    _arch("granite", "granite", "GraniteForCausalLM", "decoder", "attention multiplier", **_GQA),
    _arch("stablelm", "stablelm", "StableLmForCausalLM", "decoder", "partial rotary", **_GQA),
    _arch(
        "deepseek-v3",
        "deepseek_v3",
        "DeepseekV3ForCausalLM",
        "decoder",
        "multi-head latent attention, d_v ≠ d_k",
        num_key_value_heads=4,
        q_lora_rank=16,
        kv_lora_rank=16,
        qk_rope_head_dim=4,
        qk_nope_head_dim=4,
        v_head_dim=6,
        n_routed_experts=4,
        num_experts_per_tok=2,
        moe_intermediate_size=16,
        first_k_dense_replace=1,
        n_group=1,
        topk_group=1,
    ),
    _arch(
        "gpt-oss",
        "gpt_oss",
        "GptOssForCausalLM",
        "decoder",
        "attention sinks, sliding window, experts",
        head_dim=8,
        num_local_experts=4,
        num_experts_per_tok=2,
        sliding_window=3,
        **_GQA,
    ),
    _arch("bloom", "bloom", "BloomForCausalLM", "decoder", "ALiBi; attention ported", n_layer=2, n_head=4),
    _arch(
        "gpt-neo",
        "gpt_neo",
        "GPTNeoForCausalLM",
        "decoder",
        "global and local layers; attention ported",
        num_layers=2,
        num_heads=4,
        attention_types=[[["global", "local"], 1]],
        window_size=3,
    ),
    _falcon("falcon", "rotary, multi-query"),
    _falcon("falcon-alibi", "ALiBi in the mask", alibi=True, multi_query=False),
    _falcon(
        "falcon-40b", "new decoder architecture, grouped-query", new_decoder_architecture=True, num_kv_heads=2
    ),
    _arch(
        "qwen3-next",
        "qwen3_next",
        "Qwen3NextForCausalLM",
        "decoder",
        "linear-attention layers",
        expect="linear-attention",
        head_dim=8,
        num_experts=4,
        num_experts_per_tok=2,
        moe_intermediate_size=32,
        linear_num_value_heads=4,
        linear_num_key_heads=2,
        linear_key_head_dim=8,
        linear_value_head_dim=8,
        **_GQA,
    ),
    # -- encoder–decoders ------------------------------------------------------------------------------------
    _arch("t5", "t5", "T5ForConditionalGeneration", "encoder–decoder", "relative position bias", **_T5),
    _arch("t5-encoder", "t5", "T5EncoderModel", "encoder", "encoder-only folder of T5", **_T5),
    _arch("mt5", "mt5", "MT5ForConditionalGeneration", "encoder–decoder", "relative position bias", **_T5),
    _arch("umt5", "umt5", "UMT5ForConditionalGeneration", "encoder–decoder", "bias in every layer", **_T5),
    _arch(
        "longt5",
        "longt5",
        "LongT5ForConditionalGeneration",
        "encoder–decoder",
        "local attention encoder",
        expect="local and transient-global",
        **_T5,
    ),
    _arch("bart", "bart", "BartForConditionalGeneration", "encoder–decoder", "", **_SEQ2SEQ),
    _arch("mbart", "mbart", "MBartForConditionalGeneration", "encoder–decoder", "", **_SEQ2SEQ),
    _arch("marian", "marian", "MarianMTModel", "encoder–decoder", "", **_SEQ2SEQ),
    _arch("pegasus", "pegasus", "PegasusForConditionalGeneration", "encoder–decoder", "", **_SEQ2SEQ),
)


def config_of(arch: TinyArch, tokenizer: Any = None, **overrides: Any) -> Any:
    """Return a fresh config of ``arch`` sized tiny, with the tokenizer's vocabulary and special ids.

    ``overrides`` (standard names: ``num_hidden_layers``, ``hidden_size``, ``vocab_size`` …) change the size.
    """
    ids = {}
    if tokenizer is not None:
        ids = {
            "vocab_size": tokenizer.vocab_size,
            "pad_token_id": tokenizer.pad_token_id,
            "bos_token_id": tokenizer.cls_token_id,
            "eos_token_id": tokenizer.sep_token_id,
            "decoder_start_token_id": tokenizer.cls_token_id,
        }
    config = AutoConfig.for_model(arch.model_type, **{**_BASE, **ids, **arch.overrides, **overrides})
    config.architectures = [arch.architecture]
    return config


def tiny_config(name: str, tokenizer: Any = None, **overrides: Any) -> Any:
    """Return a fresh tiny config of the zoo's architecture ``name`` (``"gpt2"``, ``"llama"`` …)."""
    for arch in ZOO:
        if arch.name == name:
            return config_of(arch, tokenizer, **overrides)
    raise ValueError(f"no architecture {name!r} in the zoo; it has: {', '.join(a.name for a in ZOO)}")


@torch.no_grad()
def peaked(model: torch.nn.Module, seed: int = 0, scale: float = 0.3) -> torch.nn.Module:
    """Return ``model`` with every matrix redrawn from N(0, scale²): attention far from uniform."""
    generator = torch.Generator().manual_seed(seed)
    for parameter in model.parameters():
        if parameter.dim() >= 2:
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * scale)
    return model
