"""Attention of architectures that compute it in their own code, rerouted through maskattn's function.

Each port is the architecture's own attention forward from transformers 5.x with its score-and-softmax step
replaced by ``adapter.maskattn_attention``, which applies the same terms in the same order (scaling, the
architecture's additive bias, its mask) plus this call's plan. A port is installed on the module instances
once at load and carries no per-call state. Tests compare every port with the untouched eager model.

Shapes: B batch, H heads, T tokens (Q queries, K keys), D head dim, E model width.
"""

from __future__ import annotations

import math
import types
from collections.abc import Callable

import torch
import torch.nn.functional as F

from .adapter import maskattn_attention

# Architectures whose attention classes are looked up in their own dictionary by implementation name: they
# load as "eager" and their eager classes are ported.
LOAD_AS_EAGER = frozenset({"gpt_neo"})


def _mpnet_forward(
    self, hidden_states, attention_mask=None, position_bias=None, output_attentions=False, **kw
):
    """``MPNetSelfAttention.forward``: relative position bias added to the scaled scores, then the mask."""
    hidden_shape = (*hidden_states.shape[:-1], -1, self.attention_head_size)
    q = self.q(hidden_states).view(hidden_shape).transpose(1, 2)  # (B, H, T, D)
    k = self.k(hidden_states).view(hidden_shape).transpose(1, 2)  # (B, H, T, D)
    v = self.v(hidden_states).view(hidden_shape).transpose(1, 2)  # (B, H, T, D)
    out, weights = maskattn_attention(
        self, q, k, v, attention_mask, scaling=1.0 / math.sqrt(self.attention_head_size),
        position_bias=position_bias,
    )  # fmt: skip
    o = self.o(out.reshape(*hidden_states.shape[:-1], self.all_head_size))  # (B, T, E)
    return (o, weights) if output_attentions else (o,)


def _gpt_neo_attn(self, query, key, value, attention_mask=None):
    """``GPTNeoSelfAttention._attn``: unscaled scores, its causal (or local) band, then the padding mask."""
    query_length, key_length = query.size(-2), key.size(-2)
    band = self.bias[:, :, key_length - query_length : key_length, :key_length]  # (1, 1, Q, K) bool
    allow = band
    if attention_mask is not None and attention_mask.dtype == torch.bool:
        allow = band & attention_mask
    elif attention_mask is not None:
        allow = band & (attention_mask > torch.finfo(attention_mask.dtype).min / 2)  # additive 0 / min
    out, weights = maskattn_attention(self, query.float(), key.float(), value, allow, scaling=1.0)
    return out.transpose(1, 2), weights  # (B, H, Q, D) as the caller merges heads from


def _bloom_forward(
    self, hidden_states, residual, alibi, attention_mask, layer_past=None, use_cache=False,
    output_attentions=False, **kwargs,
):  # fmt: skip
    """``BloomAttention.forward``: ALiBi as an additive bias on the scaled scores, then the causal mask."""
    from transformers.models.bloom.modeling_bloom import dropout_add

    batch_size, q_length, _ = hidden_states.shape
    query, key, value = self._reshape(self.query_key_value(hidden_states))  # 3 × (B, H, T, D)
    if layer_past is not None:
        key, value = layer_past.update(key, value, self.layer_idx)
    bias = alibi.view(batch_size, self.num_heads, 1, -1)  # (B, H, 1, K)
    out, weights = maskattn_attention(
        self, query, key, value, attention_mask, scaling=self.inv_norm_factor, position_bias=bias
    )  # (B, Q, H, D)
    context = out.reshape(batch_size, q_length, self.num_heads * self.head_dim)  # (B, T, E)
    if self.pretraining_tp > 1 and self.slow_but_exact:
        slices = self.hidden_size / self.pretraining_tp
        output = torch.zeros_like(context)
        for i in range(self.pretraining_tp):
            part = slice(int(i * slices), int((i + 1) * slices))
            output = output + F.linear(context[:, :, part], self.dense.weight[:, part])
    else:
        output = self.dense(context)
    return dropout_add(output, residual, self.hidden_dropout, self.training), weights


# class name → (method name, replacement)
_PORTS: dict[str, tuple[str, Callable]] = {
    "MPNetSelfAttention": ("forward", _mpnet_forward),
    "GPTNeoSelfAttention": ("_attn", _gpt_neo_attn),
    "BloomAttention": ("forward", _bloom_forward),
}


def install(model: torch.nn.Module) -> int:
    """Reroute the attention of every module ``model`` has a port for; return how many were ported."""
    count = 0
    for module in model.modules():
        port = _PORTS.get(type(module).__name__)
        if port is not None:
            name, function = port
            setattr(module, name, types.MethodType(function, module))
            count += 1
    return count
