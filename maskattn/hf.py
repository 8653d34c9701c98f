"""Run Hugging Face transformers with our masked attention: a mask and a gate per layer and head, per call.

The loaded model is never changed after loading. Per-call masks travel as a forward keyword argument
(``maskattn_call``) that transformers hands to every attention layer; our registered attention function
(``transformers.AttentionInterface``, name ``"maskattn"``) intersects them with the model's own mask and
records the weights it used. A matching ``AttentionMaskInterface`` entry makes the model's own padding/causal
masks reach it as a dense boolean mask (True = may attend), never skipped.

Shapes: B batch (always 1 here), H query heads, H_kv key/value heads (fewer under grouped-query attention),
T tokens, D head dim, L layers.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from transformers import AttentionInterface
from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

from .attention import masked_attention
from .plan import LayerMask, MaskPlan

ATTN_IMPLEMENTATION = "maskattn"


@dataclass
class CallState:
    """Everything one forward call needs and produces; it lives for that call only, so threads never mix."""

    layers: list[LayerMask | None]
    weights: dict[int, torch.Tensor] = field(default_factory=dict)  # layer -> (B, H, T, T)
    capture_layer: int | None = None  # keep this layer's q, k, v, mask and head outputs (the step-through)
    captured: dict[str, Any] = field(default_factory=dict)


def maskattn_attention(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float | None = None,
    dropout: float = 0.0,
    maskattn_call: CallState | None = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(out (B, T, H, D), weights (B, H, T, T))``: one layer's attention under this call's plan."""
    num_heads, num_kv_heads = query.shape[1], key.shape[1]
    if num_kv_heads != num_heads:
        # Grouped-query attention: query head h reads kv head h // (H / H_kv); plan head h = query head h.
        key = key.repeat_interleave(num_heads // num_kv_heads, dim=1)  # (B, H, T, D)
        value = value.repeat_interleave(num_heads // num_kv_heads, dim=1)  # (B, H, T, D)

    allow = attention_mask  # (B, 1, Q, K) bool from our mask builder, or None
    if allow is not None and allow.dtype != torch.bool:
        allow = allow > torch.finfo(allow.dtype).min / 2  # additive 0 / most-negative → bool
    if allow is not None and bool(allow.all()):
        allow = None  # the model's own mask blocks nothing (no padding, not causal): skip the masking passes

    layer = maskattn_call.layers[module.layer_idx] if maskattn_call is not None else None
    if layer is not None and layer.allow is not None:
        q_len, k_len = query.shape[2], key.shape[2]
        plan_allow = layer.allow[:, -q_len:, -k_len:][None]  # (1, H, Q, K)
        allow = plan_allow if allow is None else allow & plan_allow

    out, weights = masked_attention(
        query, key, value, allow, scale=scaling, dropout_p=dropout if module.training else 0.0
    )  # (B, H, Q, D), (B, H, Q, K)
    if maskattn_call is not None and maskattn_call.capture_layer == module.layer_idx:
        maskattn_call.captured.update(
            module=module,
            query=query,
            key=key,
            value=value,
            allow=allow,
            scaling=scaling,
            heads=out,
            gate=None if layer is None else layer.gate,
        )
    if layer is not None and layer.gate is not None:
        out = out * layer.gate.to(out.dtype)[None, :, None, None]  # the head's output z, before o_proj
    if maskattn_call is not None:
        maskattn_call.weights[module.layer_idx] = weights
    return out.transpose(1, 2).contiguous(), weights  # (B, Q, H, D)


def maskattn_mask(*args: Any, **kwargs: Any) -> torch.Tensor | None:
    """Return the model's own mask as dense bool (True = may attend), never skipped: causality is explicit."""
    kwargs["allow_is_causal_skip"] = False
    kwargs["allow_is_bidirectional_skip"] = False
    return sdpa_mask(*args, **kwargs)


AttentionInterface.register(ATTN_IMPLEMENTATION, maskattn_attention)
AttentionMaskInterface.register(ATTN_IMPLEMENTATION, maskattn_mask)


@dataclass(frozen=True)
class Prediction:
    """Top-k predicted tokens at one position, with probabilities."""

    position: int
    tokens: tuple[str, ...]
    probs: tuple[float, ...]


@dataclass(frozen=True)
class RunResult:
    """What one masked run of a model on one text gives back (tensors on the CPU, float32)."""

    tokens: list[str]  # model tokens, special tokens included
    labels: list[str]  # the same tokens, readable (decoded one by one)
    attentions: torch.Tensor  # (L, H, T, T) the weights actually used, after masking
    hidden: torch.Tensor  # (T, hidden_size) last hidden state
    dropped_tokens: int  # tokens cut off the end of a text longer than the maximum (0: none)
    plan: MaskPlan
    seconds: float  # time of the masked forward (only the recomputed layers when incremental)
    embedding: torch.Tensor | None = None  # (hidden_size,) mean-pooled sentence embedding (encoders)
    embedding_cosine: float | None = None  # cosine to the unmasked run's embedding
    token_change: torch.Tensor | None = (
        None  # (T,) 1 − cosine of each token's hidden state vs the unmasked run
    )
    predictions: tuple[Prediction, ...] = ()  # top-k (causal: next token; MLM: [MASK] positions)
    baseline_predictions: tuple[Prediction, ...] = ()
    kl_divergence: float | None = None  # KL(unmasked ‖ masked) of those predictions, averaged over positions
    logits: torch.Tensor | None = None  # (T, vocab) for LM models
    recomputed_from: int = (
        0  # layers below this one were taken from the cached unmasked run (L: none recomputed)
    )

    @property
    def num_tokens(self) -> int:
        return len(self.tokens)

    @property
    def truncated(self) -> bool:
        """Whether the text was longer than the maximum and its end was dropped."""
        return self.dropped_tokens > 0


class ModelLoadError(ValueError):
    """A model id or folder that cannot be loaded here (offline, unknown, unsupported)."""


# ------------------------------------------------------------------------------------------------------------
# Incremental recompute: an edit touching only layers ℓ… reuses what the unmasked run fed into layer ℓ.
# ------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerInput:
    """What one transformer layer was called with in the unmasked run, minus this call's ``maskattn_call``."""

    hidden: torch.Tensor  # (1, T, E) the hidden states entering the layer
    args: tuple  # the positional arguments after the hidden states
    kwargs: dict  # keyword arguments: the model's own mask, rotary position embeddings, …
    hidden_keyword: str | None  # the keyword they came in under (None: the first positional argument)

    def call(self, layer: torch.nn.Module, hidden: torch.Tensor, call: CallState) -> torch.Tensor:
        """Return the hidden states ``layer`` gives for ``hidden (1, T, E)``, everything else as recorded."""
        if self.hidden_keyword is None:
            out = layer(hidden, *self.args, **self.kwargs, maskattn_call=call)
        else:
            out = layer(*self.args, **{**self.kwargs, self.hidden_keyword: hidden}, maskattn_call=call)
        return out[0] if isinstance(out, tuple | list) else out  # older layers return (hidden, …)


# Set only while the unmasked run of one call records its layer inputs: a ContextVar is per thread (and per
# asyncio task), so a concurrent run of another session never records into it and the hooks stay inert for it.
_LAYER_INPUTS: ContextVar[dict[int, LayerInput] | None] = ContextVar("maskattn_layer_inputs", default=None)


def _layer_input_recorder(index: int) -> Callable:
    """Return a forward pre-hook storing layer ``index``'s inputs when this context records (else a no-op)."""

    def hook(module: torch.nn.Module, args: tuple, kwargs: dict) -> None:
        record = _LAYER_INPUTS.get()
        if record is None:
            return
        kwargs = {k: v for k, v in kwargs.items() if k != "maskattn_call"}
        if args:
            hidden, args, keyword = args[0], tuple(args[1:]), None
        elif isinstance(kwargs.get("hidden_states"), torch.Tensor):
            keyword = "hidden_states"
            hidden = kwargs.pop(keyword)
        else:
            return  # a layer called some other way: left unrecorded, so this text runs in full
        if not isinstance(hidden, torch.Tensor):
            return
        # A copy: the recorded tensor must stay what entered the layer even if a layer updated it in place.
        record[index] = LayerInput(hidden.clone(), args, kwargs, keyword)

    return hook


@dataclass(frozen=True)
class LayerStack:
    """The pieces of a model that run after the embeddings: its layers, the final norm and the LM head."""

    layers: tuple[torch.nn.Module, ...]
    norm: torch.nn.Module | None  # applied to the last layer's output (GPT-2 ln_f, Llama norm; BERT: none)
    head: torch.nn.Module | None  # hidden states → logits (LM models)


def _is_norm(module: torch.nn.Module) -> bool:
    return "norm" in type(module).__name__.lower()


def find_layer_stack(model: torch.nn.Module, num_layers: int, with_head: bool) -> LayerStack | None:
    """Return the layer list, final norm and LM head of ``model`` (None when its layout is not recognised).

    The layers are the first ``ModuleList`` of ``num_layers`` modules in the base model (``encoder.layer``,
    ``h``, ``layers``); the final norm is a norm module registered after that list, beside it or beside one of
    its parents; the head is the one child of the full model besides the base model. Whatever this guesses is
    checked against a full forward before it is used (``MaskedModel._check_incremental``).
    """
    base = getattr(model, "base_model", model)
    found = next(
        (
            (name, module)
            for name, module in base.named_modules()
            if isinstance(module, torch.nn.ModuleList) and len(module) == num_layers
        ),
        None,
    )
    if found is None:
        return None
    path, layer_list = found
    norms = []
    parts = path.split(".")
    for depth in range(len(parts)):
        parent = base.get_submodule(".".join(parts[:depth]))
        names = [name for name, _ in parent.named_children()]
        after = names[names.index(parts[depth]) + 1 :]
        norms += [getattr(parent, name) for name in after if _is_norm(getattr(parent, name))]
    if len(norms) > 1:
        return None
    head = None
    if with_head:
        others = [child for child in model.children() if child is not base]
        if len(others) != 1:
            return None
        head = others[0]
    return LayerStack(tuple(layer_list), norms[0] if norms else None, head)


@dataclass(frozen=True)
class _Baseline:
    """The unmasked run of one text, kept so every edit on that text compares to it and can start from it."""

    input_ids: torch.Tensor  # (1, T)
    dropped_tokens: int
    hidden: torch.Tensor  # (T, E) on the model's device
    logits: torch.Tensor | None  # (T, V) on the model's device
    attentions: torch.Tensor  # (L, H, T, T) CPU float32
    seconds: float
    layer_inputs: tuple[LayerInput, ...] | None  # per layer; None when not recorded
    strings: tuple[tuple[str, ...], tuple[str, ...]]  # token strings and readable labels (decoding is slow)


BASELINE_CACHE_SIZE = 8


class MaskedModel:
    """A loaded Hugging Face model whose attention runs through maskattn; immutable after loading.

    ``run`` is safe to call from several threads at once: each call's masks, gates and recorded weights live
    in that call's own ``CallState``. At load time each transformer layer gets one forward pre-hook that
    records its inputs only inside this library's unmasked runs (a per-thread ``ContextVar``); it changes no
    computation.
    """

    def __init__(self, model: Any, tokenizer: Any, name: str, *, max_length: int | None = None) -> None:
        if model.config._attn_implementation != ATTN_IMPLEMENTATION:
            raise ValueError(
                f"model must use attn_implementation={ATTN_IMPLEMENTATION!r}, "
                f"got {model.config._attn_implementation!r}"
            )
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.name = name
        config = model.config
        self.num_layers: int = config.num_hidden_layers
        self.num_heads: int = config.num_attention_heads
        self.hidden_size: int = config.hidden_size
        limits = [
            getattr(config, "max_position_embeddings", None),
            getattr(config, "n_positions", None),
            max_length,
        ]
        tokenizer_max = getattr(tokenizer, "model_max_length", None)
        if tokenizer_max and tokenizer_max < 1_000_000:
            limits.append(tokenizer_max)
        self.max_length: int = min(x for x in limits if x) if any(limits) else 512
        architectures = " ".join(config.architectures or [type(model).__name__])
        self.kind = (
            "causal_lm"
            if "CausalLM" in type(model).__name__ or "LMHead" in type(model).__name__
            else "masked_lm"
            if "MaskedLM" in type(model).__name__
            else "encoder"
        )
        self.is_causal = bool(getattr(config, "is_decoder", False)) or self.kind == "causal_lm"
        self.architectures = architectures
        self._baselines: OrderedDict[tuple[str, int], _Baseline] = OrderedDict()
        self._lock = threading.Lock()

        self._stack = find_layer_stack(model, self.num_layers, with_head=self.kind != "encoder")
        # None: not checked yet; True: checked equal to a full forward; a string: why incremental is off.
        self._incremental: bool | str | None = None if self._stack else "layer list not recognised"
        if self._stack is not None:
            for index, layer in enumerate(self._stack.layers):
                layer.register_forward_pre_hook(_layer_input_recorder(index), with_kwargs=True)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def incremental_available(self) -> bool | None:
        """Return whether edits can reuse cached lower layers (None until the first unmasked run tells)."""
        return self._incremental if self._incremental in (None, True) else False

    def token_limit(self, max_tokens: int | None = None) -> int:
        """Return how many tokens a run keeps: the model's maximum, or ``max_tokens`` if that is smaller."""
        if max_tokens is None:
            return self.max_length
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
            raise ValueError(f"max_tokens must be a positive integer, got {max_tokens!r}")
        return min(self.max_length, max_tokens)

    def tokenize(self, text: str, max_tokens: int | None = None) -> tuple[torch.Tensor, int]:
        """Return ``(input_ids (1, T), dropped)`` for ``text``, special tokens included.

        A text longer than ``token_limit(max_tokens)`` loses its end (the special tokens stay); ``dropped``
        says how many tokens went.
        """
        if not isinstance(text, str) or not text.strip():
            raise ValueError("the text is empty: type a sentence")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as err:  # a lone surrogate: the tokenizer would raise TypeError
            raise ValueError(
                f"the text is not valid Unicode: {err.reason} at character {err.start} ({text[err.start]!r})"
            ) from None
        limit = self.token_limit(max_tokens)
        full = self.tokenizer(text, add_special_tokens=True)["input_ids"]
        ids = self.tokenizer(text, add_special_tokens=True, truncation=True, max_length=limit)["input_ids"]
        if not ids:
            raise ValueError(f"the text {text[:40]!r} gives no tokens for this model")
        return torch.tensor([ids], device=self.device), len(full) - len(ids)

    def token_strings(self, ids: torch.Tensor) -> tuple[list[str], list[str]]:
        """Return the model's token strings and readable labels of ``ids (T,)``."""
        id_list = ids.tolist()
        tokens = self.tokenizer.convert_ids_to_tokens(id_list)
        labels = []
        for token_id, token in zip(id_list, tokens, strict=True):
            text = self.tokenizer.decode([token_id])
            labels.append(text.strip() or token if not token.startswith("##") else token)
        return tokens, labels

    # -- forwards --------------------------------------------------------------------------------------------

    @torch.inference_mode()
    def _forward(
        self, input_ids: torch.Tensor, plan: MaskPlan
    ) -> tuple[torch.Tensor, torch.Tensor | None, dict]:
        """Return ``(hidden (T, E), logits (T, V) | None, weights per layer)`` of one full masked forward."""
        num_tokens = input_ids.shape[1]
        call = CallState(plan.compile(self.num_layers, self.num_heads, num_tokens, device=self.device))
        attention_mask = torch.ones_like(input_ids)
        if self.kind == "encoder":
            out = self.model(input_ids=input_ids, attention_mask=attention_mask, maskattn_call=call)
            hidden, logits = out.last_hidden_state[0], None
        else:
            out = self.model(
                input_ids=input_ids,
                attention_mask=attention_mask,
                output_hidden_states=True,
                use_cache=False,
                maskattn_call=call,
            )
            hidden, logits = out.hidden_states[-1][0], out.logits[0]
        return hidden, logits, call.weights

    @torch.inference_mode()
    def _forward_from(
        self, first: int, layer_inputs: tuple[LayerInput, ...], plan: MaskPlan
    ) -> tuple[torch.Tensor, torch.Tensor | None, dict]:
        """Return what ``_forward`` returns, running layers ``first``… from their recorded input."""
        stack = self._stack
        num_tokens = layer_inputs[first].hidden.shape[1]
        call = CallState(plan.compile(self.num_layers, self.num_heads, num_tokens, device=self.device))
        hidden = layer_inputs[first].hidden  # (1, T, E)
        for index in range(first, self.num_layers):
            hidden = layer_inputs[index].call(stack.layers[index], hidden, call)  # (1, T, E)
        if stack.norm is not None:
            hidden = stack.norm(hidden)
        logits = stack.head(hidden)[0] if stack.head is not None else None  # (T, V)
        return hidden[0], logits, call.weights

    def _attentions(self, weights: dict, first: int = 0, below: torch.Tensor | None = None) -> torch.Tensor:
        """Return ``(L, H, T, T)`` CPU float32: layers ``first``… from ``weights``, lower from ``below``."""
        computed = torch.stack([weights[i][0] for i in range(first, self.num_layers)]).float().cpu()
        return computed if first == 0 else torch.cat([below[:first], computed])

    # -- the unmasked run ------------------------------------------------------------------------------------

    def _baseline(self, text: str, input_ids: torch.Tensor, dropped: int) -> _Baseline:
        """Return the unmasked run of ``text`` (cached: every edit of a plan on this text compares to it)."""
        key = (text, input_ids.shape[1])  # the same text cut at another limit is another run
        with self._lock:
            if key in self._baselines:
                self._baselines.move_to_end(key)
                return self._baselines[key]
        record: dict[int, LayerInput] | None = {} if self._incremental in (None, True) else None
        token = _LAYER_INPUTS.set(record)
        try:
            start = time.perf_counter()
            hidden, logits, weights = self._forward(input_ids, MaskPlan())
            self._synchronize()
            seconds = time.perf_counter() - start
        finally:
            _LAYER_INPUTS.reset(token)
        layer_inputs = None
        if record is not None and sorted(record) == list(range(self.num_layers)):
            layer_inputs = tuple(record[i] for i in range(self.num_layers))
        strings = tuple(tuple(part) for part in self.token_strings(input_ids[0]))
        baseline = _Baseline(
            input_ids, dropped, hidden, logits, self._attentions(weights), seconds, layer_inputs, strings
        )
        if layer_inputs is not None and self._incremental is None:
            self._check_incremental(baseline)
        with self._lock:
            self._baselines[key] = baseline
            while len(self._baselines) > BASELINE_CACHE_SIZE:
                self._baselines.popitem(last=False)
        return baseline

    def _check_incremental(self, baseline: _Baseline) -> None:
        """Turn incremental runs on only if replaying all layers from recorded inputs equals the full run."""
        try:
            hidden, logits, weights = self._forward_from(0, baseline.layer_inputs, MaskPlan())
        except Exception as err:  # any failure to replay means: not this model; full runs still work
            self._incremental = f"replaying the layers failed: {type(err).__name__}: {err}"
            return
        same = torch.allclose(hidden, baseline.hidden, rtol=1e-4, atol=1e-5)
        if logits is not None or baseline.logits is not None:
            same = (
                same and logits is not None and torch.allclose(logits, baseline.logits, rtol=1e-4, atol=1e-4)
            )
        same = same and torch.allclose(self._attentions(weights), baseline.attentions, atol=1e-5)
        self._incremental = True if same else "replaying the layers did not reproduce the full forward"

    def clear_cache(self) -> None:
        """Forget the cached unmasked runs (they are recomputed on the next run of each text)."""
        with self._lock:
            self._baselines.clear()

    def baseline(self, text: str, *, top_k: int = 5, max_tokens: int | None = None) -> RunResult:
        """Return the unmasked run of ``text`` (cached)."""
        _check_top_k(top_k)
        input_ids, dropped = self.tokenize(text, max_tokens)
        return self._baseline_result(self._baseline(text, input_ids, dropped), top_k)

    def _baseline_result(self, baseline: _Baseline, top_k: int, *, copy: bool = True) -> RunResult:
        """Return the cached unmasked run as a result; ``copy``: tensors a caller may change without harm."""
        hidden, logits, attentions = _copies(baseline) if copy else _tensors(baseline)
        return self._result(
            baseline.input_ids,
            baseline.dropped_tokens,
            MaskPlan(),
            baseline.seconds,
            hidden,
            logits,
            attentions,
            top_k,
            recomputed_from=self.num_layers,
            strings=baseline.strings,
        )

    # -- the public run --------------------------------------------------------------------------------------

    def run(
        self,
        text: str,
        plan: MaskPlan | None = None,
        *,
        top_k: int = 5,
        incremental: bool = True,
        max_tokens: int | None = None,
    ) -> RunResult:
        """Return the masked run of ``text`` under ``plan``, with its effect against the unmasked run.

        With ``incremental`` (the default) a plan whose lowest touched layer is ℓ reruns only layers ℓ…L−1
        from the unmasked run's cached input of layer ℓ (equal to a full run; checked once per model against
        one), and the empty plan returns the cached unmasked run. ``incremental=False`` always runs the whole
        model. ``max_tokens`` cuts the text shorter than the model's maximum (``RunResult.dropped_tokens``).
        """
        _check_top_k(top_k)
        plan = plan or MaskPlan()
        input_ids, dropped = self.tokenize(text, max_tokens)
        plan.check_fits(self.num_layers, self.num_heads, input_ids.shape[1])
        if not plan and incremental:
            return _finite(self._baseline_result(self._baseline(text, input_ids, dropped), top_k))
        baseline = self._baseline(text, input_ids, dropped) if plan else None

        first = plan.first_layer(self.num_layers)
        reuse = incremental and baseline is not None and baseline.layer_inputs is not None and first > 0
        reuse = reuse and self._incremental is True
        start = time.perf_counter()
        if reuse and first == self.num_layers:  # the plan names no layer: nothing to recompute
            hidden, logits, attentions = _copies(baseline)
        elif reuse:
            hidden, logits, weights = self._forward_from(first, baseline.layer_inputs, plan)
            attentions = self._attentions(weights, first, baseline.attentions)
        else:
            first = 0
            hidden, logits, weights = self._forward(input_ids, plan)
            attentions = self._attentions(weights)
        self._synchronize()
        seconds = time.perf_counter() - start
        result = self._result(
            input_ids,
            dropped,
            plan,
            seconds,
            hidden,
            logits,
            attentions,
            top_k,
            recomputed_from=first,
            strings=baseline.strings if baseline is not None else None,
        )
        if baseline is None:
            return _finite(result)
        return _finite(_with_effect(result, self._baseline_result(baseline, top_k, copy=False)))

    # -- assembling results ----------------------------------------------------------------------------------

    def _synchronize(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize()

    def _prediction_positions(self, input_ids: torch.Tensor) -> list[int]:
        num_tokens = input_ids.shape[1]
        if self.kind == "masked_lm":
            mask_id = self.tokenizer.mask_token_id
            found = (input_ids[0] == mask_id).nonzero().flatten().tolist() if mask_id is not None else []
            # Without a [MASK] in the text, show what the model reconstructs at the last real token.
            return found or [max(num_tokens - 2, 0)]
        return [num_tokens - 1]

    def _top_k(self, logits: torch.Tensor, positions: list[int], k: int) -> tuple[Prediction, ...]:
        out = []
        for pos in positions:
            probs = torch.softmax(logits[pos].float(), dim=-1)
            top = torch.topk(probs, min(k, probs.shape[-1]))
            tokens = [self.tokenizer.decode([int(i)]).strip() for i in top.indices]
            out.append(Prediction(pos, tuple(tokens), tuple(float(p) for p in top.values)))
        return tuple(out)

    def _result(
        self,
        input_ids: torch.Tensor,
        dropped_tokens: int,
        plan: MaskPlan,
        seconds: float,
        hidden: torch.Tensor,
        logits: torch.Tensor | None,
        attentions: torch.Tensor,
        top_k: int,
        *,
        recomputed_from: int,
        strings: tuple[tuple[str, ...], tuple[str, ...]] | None = None,
    ) -> RunResult:
        tokens, labels = map(list, strings) if strings is not None else self.token_strings(input_ids[0])
        embedding = hidden.float().mean(dim=0).cpu() if self.kind == "encoder" else None
        predictions = ()
        if logits is not None:
            predictions = self._top_k(logits, self._prediction_positions(input_ids), top_k)
        return RunResult(
            tokens=tokens,
            labels=labels,
            attentions=attentions,
            hidden=hidden.float().cpu(),
            dropped_tokens=dropped_tokens,
            plan=plan,
            seconds=seconds,
            embedding=embedding,
            embedding_cosine=1.0 if embedding is not None else None,
            token_change=torch.zeros(len(tokens)),
            predictions=predictions,
            baseline_predictions=predictions,
            kl_divergence=0.0 if logits is not None else None,
            logits=None if logits is None else logits.float().cpu(),
            recomputed_from=recomputed_from,
        )


def _tensors(baseline: _Baseline) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    return baseline.hidden, baseline.logits, baseline.attentions


def _copies(baseline: _Baseline) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """Return copies of the cached run's tensors: results handed out must not alias the cache."""
    logits = None if baseline.logits is None else baseline.logits.clone()
    return baseline.hidden.clone(), logits, baseline.attentions.clone()


def _check_top_k(top_k: Any) -> None:
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise ValueError(f"top_k must be a positive integer, got {top_k!r}")


def _with_effect(result: RunResult, baseline: RunResult) -> RunResult:
    """Return ``result`` with its effect on the output measured against the unmasked ``baseline``."""
    token_change = 1.0 - torch.cosine_similarity(result.hidden, baseline.hidden, dim=-1)  # (T,)
    cosine = None
    if result.embedding is not None and baseline.embedding is not None:
        cosine = float(torch.cosine_similarity(result.embedding, baseline.embedding, dim=0))
    kl = None
    if result.logits is not None and baseline.logits is not None:
        positions = [p.position for p in result.predictions]
        log_p = torch.log_softmax(baseline.logits[positions], dim=-1)  # (P, V) unmasked
        log_q = torch.log_softmax(result.logits[positions], dim=-1)  # (P, V) masked
        # KL is never negative; rounding can make a no-op plan's KL −1e-9, which a reader takes for a bug.
        kl = max(float((log_p.exp() * (log_p - log_q)).sum(dim=-1).mean()), 0.0)
    return replace(
        result,
        embedding_cosine=cosine,
        token_change=token_change.clamp(min=0.0),
        baseline_predictions=baseline.predictions,
        kl_divergence=kl,
    )


def _finite(result: RunResult) -> RunResult:
    """Return ``result`` if every number in it is finite; else raise ValueError saying which is not.

    A backstop: the plan's bounds on gates keep a run finite; a model whose own weights overflow is not.
    """
    numbers = {
        "attentions": result.attentions,
        "hidden states": result.hidden,
        "logits": result.logits,
        "token changes": result.token_change,
        "embedding": result.embedding,
        "embedding cosine": result.embedding_cosine,
        "KL divergence": result.kl_divergence,
    }
    for name, value in numbers.items():
        if value is None:
            continue
        scalar = isinstance(value, float)
        if not (math.isfinite(value) if scalar else bool(torch.isfinite(value).all())):
            raise ValueError(
                f"the run's {name} {'is' if scalar else 'are'} not finite (NaN or infinite): the model "
                "overflows under this plan"
            )
    return result
