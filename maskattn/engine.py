"""Run a Hugging Face model with a mask and a gate per layer and head, per call: ``MaskedModel``.

The loaded model is never changed after loading. Each forward's plan is compiled per attention stack into a
``CallState`` that ``adapter.calling`` makes current for that forward only; our registered attention function
intersects it with the model's own mask and records the weights it used. The unmasked run of each text is
cached: every edit compares to it, and an edit that touches only layers ℓ… replays them from its layer inputs.

Shapes: L layers, H heads, T tokens (Td: an encoder–decoder's decoder input), E model width, V vocabulary.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import torch

from . import ports
from .adapter import ATTN_IMPLEMENTATION, CallState, Capture, calling
from .anatomy import DECODER, Anatomy, examine
from .plan import MaskPlan
from .replay import LayerInput, LayerStack, find_layer_stack, layer_input_recorder, recording
from .results import Prediction, RunResult, check_finite, with_effect

BASELINE_CACHE_SIZE = 8


@dataclass(frozen=True)
class _Inputs:
    """The token ids one text gives: the encoder's (or only) input, and an encoder–decoder's decoder input."""

    input_ids: torch.Tensor  # (1, T)
    decoder_ids: torch.Tensor | None  # (1, Td): the text shifted right by one (teacher forcing)
    dropped: int


@dataclass(frozen=True)
class _Forward:
    """What one forward gives: last hidden state of the default stack, logits, weights per (stack, layer)."""

    hidden: torch.Tensor  # (T, E) on the model's device
    logits: torch.Tensor | None  # (T, V), an encoder–decoder's (Td, V)
    weights: dict[tuple[str, int], torch.Tensor]


@dataclass(frozen=True)
class _Baseline:
    """The unmasked run of one text, kept so every edit on that text compares to it and can start from it."""

    inputs: _Inputs
    forward: _Forward
    attentions: dict[str, torch.Tensor]  # stack -> (L, H, Q, K) CPU float32
    seconds: float
    layer_inputs: tuple[LayerInput, ...] | None  # per layer; None when not recorded
    strings: tuple[tuple[str, ...], tuple[str, ...]]  # token strings and readable labels (decoding is slow)
    decoder_labels: tuple[str, ...] | None


class MaskedModel:
    """A loaded Hugging Face model whose attention runs through maskattn; immutable after loading.

    Construction examines the model with one probe forward (``anatomy.examine``) and refuses, with
    ``ModelLoadError``, a model whose attention maskattn cannot mask exactly. ``run`` is safe to call from
    several threads at once: each call's masks, gates and recorded weights live in that call's own
    ``CallState``. Each transformer layer gets one forward pre-hook that records its inputs only inside this
    library's unmasked runs; it changes no computation.
    """

    def __init__(self, model: Any, tokenizer: Any, name: str, *, max_length: int | None = None) -> None:
        ported = ports.install(model)
        if model.config._attn_implementation != ATTN_IMPLEMENTATION and not ported:
            raise ValueError(
                f"model must use attn_implementation={ATTN_IMPLEMENTATION!r}, "
                f"got {model.config._attn_implementation!r}"
            )
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.name = name
        self.anatomy: Anatomy = examine(self.model)
        config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
        self.kind = self.anatomy.kind
        self.num_layers: int = self.anatomy.default.num_layers
        self.num_heads: int = self.anatomy.default.num_heads
        self.hidden_size: int = int(getattr(config, "hidden_size", None) or getattr(config, "d_model", 0))
        limits = [
            getattr(config, "max_position_embeddings", None),
            getattr(config, "n_positions", None),
            max_length,
        ]
        tokenizer_max = getattr(tokenizer, "model_max_length", None)
        if tokenizer_max and tokenizer_max < 1_000_000:
            limits.append(tokenizer_max)
        self.max_length: int = min(x for x in limits if x) if any(limits) else 512
        self.architectures = " ".join(model.config.architectures or [type(model).__name__])
        self.is_causal = bool(getattr(config, "is_decoder", False)) or self.kind == "causal_lm"
        self._baselines: OrderedDict[tuple[str, int], _Baseline] = OrderedDict()
        self._lock = threading.Lock()

        self._stack: LayerStack | None = None
        # None: not checked yet; True: checked equal to a full forward; a string: why incremental is off.
        self._incremental: bool | str | None = "encoder–decoder models always run in full"
        if self.kind != "seq2seq":
            self._stack = find_layer_stack(model, self.num_layers, with_head=self.kind != "encoder")
            self._incremental = None if self._stack else "layer list not recognised"
        if self._stack is not None:
            for index, layer in enumerate(self._stack.layers):
                layer.register_forward_pre_hook(layer_input_recorder(index), with_kwargs=True)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def stacks(self) -> tuple[str, ...]:
        """Return the names of the model's attention stacks, the default (what plan rules mean) first."""
        return tuple(s.name for s in self.anatomy.stacks)

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

    def _inputs(self, text: str, max_tokens: int | None) -> _Inputs:
        input_ids, dropped = self.tokenize(text, max_tokens)
        return _Inputs(input_ids, self._decoder_ids(input_ids), dropped)

    def _decoder_ids(self, input_ids: torch.Tensor) -> torch.Tensor | None:
        """Return an encoder–decoder's decoder input: ``input_ids (1, T)`` shifted right by one, else None."""
        if self.kind != "seq2seq":
            return None
        config = self.model.config
        start = getattr(config, "decoder_start_token_id", None)
        start = start if start is not None else config.pad_token_id
        return torch.cat([input_ids.new_tensor([[start]]), input_ids[:, :-1]], dim=1)  # (1, T)

    # -- forwards --------------------------------------------------------------------------------------------

    def _compile(self, plan: MaskPlan, inputs: _Inputs) -> dict[str, list]:
        """Return each stack's compiled ``plan`` on ``inputs`` (ValueError: the plan does not fit)."""
        encoder_len = inputs.input_ids.shape[1]
        decoder_len = encoder_len if inputs.decoder_ids is None else inputs.decoder_ids.shape[1]
        default = self.anatomy.default.name
        for i, rule in enumerate(plan.rules):
            if rule.stack is not None and rule.stack not in self.stacks:
                raise ValueError(
                    f"rules[{i}].stack: this model has no {rule.stack!r} attention; it has: "
                    f"{', '.join(self.stacks)}"
                )
        masks = {}
        for stack in self.anatomy.stacks:
            # Encoder self-attention reads the text; the decoder's queries are the decoder input, and so are
            # its self-attention keys, while cross-attention keys are the encoder's tokens.
            queries = encoder_len if stack.name == default or self.kind != "seq2seq" else decoder_len
            keys = decoder_len if stack.name == DECODER and self.kind == "seq2seq" else encoder_len
            masks[stack.name] = plan.compile(
                stack.num_layers, stack.num_heads, queries, self.device,
                num_keys=keys, stack=stack.name, default_stack=default,
            )  # fmt: skip
        return masks

    def _call_state(self, masks: dict[str, list], first: int = 0) -> CallState:
        """Return the per-call state of compiled ``masks`` for a forward starting at layer ``first``."""
        next_layer = dict.fromkeys(self.stacks, first)
        return CallState(stacks=self.anatomy.modules, masks=masks, next_layer=next_layer)

    @torch.inference_mode()
    def _forward(self, inputs: _Inputs, call: CallState) -> _Forward:
        """Return one full forward of the model under ``call``."""
        kwargs: dict[str, Any] = {
            "input_ids": inputs.input_ids,
            "attention_mask": torch.ones_like(inputs.input_ids),
        }
        if self.kind != "encoder":
            kwargs.update(output_hidden_states=True, use_cache=False)
        if inputs.decoder_ids is not None:
            kwargs["decoder_input_ids"] = inputs.decoder_ids
        with calling(call):
            out = self.model(**kwargs)
        if self.kind == "encoder":
            return _Forward(out.last_hidden_state[0], None, call.weights)
        if self.kind == "seq2seq":
            return _Forward(out.encoder_last_hidden_state[0], out.logits[0], call.weights)
        return _Forward(out.hidden_states[-1][0], out.logits[0], call.weights)

    def forward(
        self, input_ids: torch.Tensor, plan: MaskPlan | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None, dict[tuple[str, int], torch.Tensor]]:
        """Return ``(hidden (T, E), logits | None, weights per (stack, layer))`` of one full masked forward.

        No cache, no result building: the forward alone, as the benchmarks time it.
        """
        inputs = _Inputs(input_ids, self._decoder_ids(input_ids), 0)
        forward = self._forward(inputs, self._call_state(self._compile(plan or MaskPlan(), inputs)))
        return forward.hidden, forward.logits, forward.weights

    @torch.inference_mode()
    def _forward_from(self, first: int, layer_inputs: tuple[LayerInput, ...], call: CallState) -> _Forward:
        """Return what ``_forward`` returns, running layers ``first``… from their recorded input."""
        with calling(call):
            hidden, logits = self._stack.run_from(first, layer_inputs)
        return _Forward(hidden, logits, call.weights)

    def capture(
        self, text: str, plan: MaskPlan | None, layer: int
    ) -> tuple[Capture, torch.Tensor, torch.Tensor]:
        """Return ``(capture, weights (H, T, T), input_ids (1, T))`` of default-stack ``layer``.

        One ordinary masked forward that keeps that layer's query, key, value, mask and head outputs (the
        step-through of a head).
        """
        inputs = self._inputs(text, None)
        call = self._call_state(self._compile(plan or MaskPlan(), inputs))
        call.capture_at = (self.anatomy.default.name, layer)
        self._forward(inputs, call)
        if call.captured is None:
            raise ValueError(f"layer {layer} did not run through maskattn's attention function")
        return call.captured, call.weights[call.capture_at][0], inputs.input_ids

    def _attentions(
        self, weights: dict, first: int = 0, below: dict[str, torch.Tensor] | None = None
    ) -> dict[str, torch.Tensor]:
        """Return per stack ``(L, H, Q, K)`` CPU float32: ``first``… from ``weights``, the rest ``below``."""
        out = {}
        for stack in self.anatomy.stacks:
            computed = torch.stack([weights[stack.name, i][0] for i in range(first, stack.num_layers)])
            computed = computed.float().cpu()
            out[stack.name] = computed if first == 0 else torch.cat([below[stack.name][:first], computed])
        return out

    # -- the unmasked run ------------------------------------------------------------------------------------

    def _baseline(self, text: str, inputs: _Inputs) -> _Baseline:
        """Return the unmasked run of ``text`` (cached: every edit of a plan on this text compares to it)."""
        key = (text, inputs.input_ids.shape[1])  # the same text cut at another limit is another run
        with self._lock:
            if key in self._baselines:
                self._baselines.move_to_end(key)
                return self._baselines[key]
        with recording() as record:
            start = time.perf_counter()
            forward = self._forward(inputs, self._call_state(self._compile(MaskPlan(), inputs)))
            self._synchronize()
            seconds = time.perf_counter() - start
        layer_inputs = None
        if self._incremental in (None, True) and sorted(record) == list(range(self.num_layers)):
            layer_inputs = tuple(record[i] for i in range(self.num_layers))
        strings = tuple(tuple(part) for part in self.token_strings(inputs.input_ids[0]))
        decoder_labels = None
        if inputs.decoder_ids is not None:
            decoder_labels = tuple(self.token_strings(inputs.decoder_ids[0])[1])
        baseline = _Baseline(
            inputs, forward, self._attentions(forward.weights), seconds, layer_inputs, strings, decoder_labels
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
            empty = self._call_state(self._compile(MaskPlan(), baseline.inputs))
            replay = self._forward_from(0, baseline.layer_inputs, empty)
        except Exception as err:  # any failure to replay means: not this model; full runs still work
            self._incremental = f"replaying the layers failed: {type(err).__name__}: {err}"
            return
        full = baseline.forward
        same = torch.allclose(replay.hidden, full.hidden, rtol=1e-4, atol=1e-5)
        if replay.logits is not None or full.logits is not None:
            same = (
                same and replay.logits is not None and torch.allclose(replay.logits, full.logits, 1e-4, 1e-4)
            )
        replayed = self._attentions(replay.weights)
        same = same and all(torch.allclose(replayed[s], baseline.attentions[s], atol=1e-5) for s in replayed)
        self._incremental = True if same else "replaying the layers did not reproduce the full forward"

    def clear_cache(self) -> None:
        """Forget the cached unmasked runs (they are recomputed on the next run of each text)."""
        with self._lock:
            self._baselines.clear()

    def baseline(self, text: str, *, top_k: int = 5, max_tokens: int | None = None) -> RunResult:
        """Return the unmasked run of ``text`` (cached)."""
        _check_top_k(top_k)
        return self._baseline_result(self._baseline(text, self._inputs(text, max_tokens)), top_k)

    def _baseline_result(self, baseline: _Baseline, top_k: int, *, copy: bool = True) -> RunResult:
        """Return the cached unmasked run as a result; ``copy``: tensors a caller may change without harm."""
        forward, attentions = baseline.forward, baseline.attentions
        if copy:
            forward, attentions = _copy(forward), {s: a.clone() for s, a in attentions.items()}
        return self._result(
            baseline,
            MaskPlan(),
            baseline.seconds,
            forward,
            attentions,
            top_k,
            recomputed_from=self.num_layers,
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
        An encoder–decoder's decoder reads the same text shifted right by one token.
        """
        _check_top_k(top_k)
        plan = plan or MaskPlan()
        inputs = self._inputs(text, max_tokens)
        masks = self._compile(plan, inputs)  # checks the plan fits before the unmasked run is paid for
        baseline = self._baseline(text, inputs)
        if not plan and incremental:
            return check_finite(self._baseline_result(baseline, top_k))

        first = plan.first_layer(self.num_layers)
        reuse = incremental and baseline.layer_inputs is not None and first > 0 and self._incremental is True
        start = time.perf_counter()
        if reuse and first == self.num_layers:  # the plan names no layer: nothing to recompute
            forward = _copy(baseline.forward)
            attentions = {s: a.clone() for s, a in baseline.attentions.items()}
        elif reuse:
            forward = self._forward_from(first, baseline.layer_inputs, self._call_state(masks, first))
            attentions = self._attentions(forward.weights, first, baseline.attentions)
        else:
            first = 0
            forward = self._forward(inputs, self._call_state(masks))
            attentions = self._attentions(forward.weights)
        self._synchronize()
        seconds = time.perf_counter() - start
        result = self._result(baseline, plan, seconds, forward, attentions, top_k, recomputed_from=first)
        return check_finite(with_effect(result, self._baseline_result(baseline, top_k, copy=False)))

    # -- assembling results ----------------------------------------------------------------------------------

    def _synchronize(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize()

    def _prediction_positions(self, inputs: _Inputs) -> list[int]:
        if self.kind == "masked_lm":
            mask_id = self.tokenizer.mask_token_id
            ids = inputs.input_ids[0]
            found = (ids == mask_id).nonzero().flatten().tolist() if mask_id is not None else []
            # Without a [MASK] in the text, show what the model reconstructs at the last real token.
            return found or [max(ids.shape[0] - 2, 0)]
        ids = inputs.decoder_ids if inputs.decoder_ids is not None else inputs.input_ids
        return [ids.shape[1] - 1]

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
        baseline: _Baseline,
        plan: MaskPlan,
        seconds: float,
        forward: _Forward,
        attentions: dict[str, torch.Tensor],
        top_k: int,
        *,
        recomputed_from: int,
    ) -> RunResult:
        tokens, labels = map(list, baseline.strings)
        hidden, logits = forward.hidden, forward.logits
        embedding = hidden.float().mean(dim=0).cpu() if self.kind == "encoder" else None
        predictions = ()
        if logits is not None:
            predictions = self._top_k(logits, self._prediction_positions(baseline.inputs), top_k)
        default = self.anatomy.default.name
        return RunResult(
            tokens=tokens,
            labels=labels,
            attentions=attentions[default],
            hidden=hidden.float().cpu(),
            dropped_tokens=baseline.inputs.dropped,
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
            default_stack=default,
            stack_attentions=attentions,
            decoder_labels=None if baseline.decoder_labels is None else list(baseline.decoder_labels),
        )


def _copy(forward: _Forward) -> _Forward:
    """Return a copy of a cached forward's tensors: results handed out must not alias the cache."""
    logits = None if forward.logits is None else forward.logits.clone()
    return _Forward(forward.hidden.clone(), logits, forward.weights)


def _check_top_k(top_k: Any) -> None:
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise ValueError(f"top_k must be a positive integer, got {top_k!r}")
