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
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import torch

from . import buffers, ports
from .adapter import ATTN_IMPLEMENTATION, CallState, Capture, calling
from .anatomy import DECODER, Anatomy, examine
from .plan import LayerMask, MaskPlan
from .progress import Progress, report
from .replay import LayerInput, LayerStack, find_layer_stack, layer_input_recorder, recording
from .results import Prediction, RunResult, all_finite, check_finite, with_effect
from .words import Words, spans_from_word_ids, word_labels

BASELINE_CACHE_SIZE = 8
TOKENIZED_CACHE_SIZE = 32
# One chunk of a batch of plans holds about this many floats (1 GiB of float32) of attention scores, kept
# weights, activations and logits; a larger batch is run chunk by chunk.
BATCH_BUDGET_FLOATS = 2**28


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
    stacked: dict[str, torch.Tensor | None] | None = None  # stack -> (L, 1, H, Q, K) the weights are views of


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
    finite: bool  # every attention weight is finite (checked once, when cached)
    # top_k -> this run as a result sharing the cache's tensors, what every edit's effect is measured against
    # (built once: never handed out, so nothing can change it)
    compared: dict[int, RunResult] = field(default_factory=dict)


def _check_text(text: object) -> None:
    """Raise ValueError unless ``text`` is a non-blank string the tokenizer can take."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("the text is empty: type a sentence")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:  # a lone surrogate: the tokenizer would raise TypeError
        raise ValueError(
            f"the text is not valid Unicode: {err.reason} at character {err.start} ({text[err.start]!r})"
        ) from None


def _checked_ids(ids: list[int], text: str) -> list[int]:
    """Return a tokenisation's ``ids``, or raise ValueError when ``text`` gave none."""
    if not ids:
        raise ValueError(f"the text {text[:40]!r} gives no tokens for this model")
    return ids


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
        self._tokenized: OrderedDict[tuple[str, int], _Inputs] = OrderedDict()
        self._lock = threading.Lock()

        self._stack: LayerStack | None = None
        # None: not checked yet; True: checked equal to a full forward; a string: why incremental is off.
        self._incremental: bool | str | None = "encoder–decoder models always run in full"
        if self.kind != "seq2seq":
            self._stack = find_layer_stack(model, self.num_layers, with_head=self.kind != "encoder")
            self._incremental = None if self._stack else "layer list not recognised"
        # Whether a batch of plans may replay from one recorded layer input (None: not checked yet).
        self._batch_replay: bool | str | None = None
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
        _check_text(text)
        limit = self.token_limit(max_tokens)
        full = self.tokenizer(text, add_special_tokens=True)["input_ids"]
        ids = self.tokenizer(text, add_special_tokens=True, truncation=True, max_length=limit)["input_ids"]
        return torch.tensor([_checked_ids(ids, text)], device=self.device), len(full) - len(ids)

    def token_strings(self, ids: torch.Tensor) -> tuple[list[str], list[str]]:
        """Return the model's token strings and readable labels of ``ids (T,)``."""
        id_list = ids.tolist()
        tokens = self.tokenizer.convert_ids_to_tokens(id_list)
        labels = []
        for token_id, token in zip(id_list, tokens, strict=True):
            text = self.tokenizer.decode([token_id])
            labels.append(text.strip() or token if not token.startswith("##") else token)
        return tokens, labels

    def words(self, text: str, max_tokens: int | None = None) -> Words | None:
        """Return ``(spans, labels)``: the words of ``text`` as a run tokenises it (``maskattn.words``).

        None when the tokenizer cannot map tokens to words (only the fast, Rust-backed ones can). A text a
        run refuses raises the run's ValueError.
        """
        _check_text(text)
        kwargs = {"add_special_tokens": True, "truncation": True, "max_length": self.token_limit(max_tokens)}
        try:
            encoding = self.tokenizer(text, return_offsets_mapping=True, **kwargs)
            word_ids = encoding.word_ids()
        except (NotImplementedError, ValueError, AttributeError):  # a slow tokenizer
            _checked_ids(self.tokenizer(text, **kwargs)["input_ids"], text)
            return None
        spans = spans_from_word_ids(word_ids)
        _, labels = self.token_strings(torch.tensor(_checked_ids(encoding["input_ids"], text)))
        return spans, word_labels(labels, spans, text, encoding["offset_mapping"])

    def _inputs(self, text: str, max_tokens: int | None) -> _Inputs:
        """Return the token ids of ``text``, kept for the last few texts (every edit tokenises again)."""
        _check_text(text)
        key = (text, self.token_limit(max_tokens))  # checked first: both must be valid to be a key
        with self._lock:
            if key in self._tokenized:
                self._tokenized.move_to_end(key)
                return self._tokenized[key]
        input_ids, dropped = self.tokenize(text, max_tokens)
        inputs = _Inputs(input_ids, self._decoder_ids(input_ids), dropped)
        with self._lock:
            self._tokenized[key] = inputs
            while len(self._tokenized) > TOKENIZED_CACHE_SIZE:
                self._tokenized.popitem(last=False)
        return inputs

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

    def _check_plans(self, plans: Sequence[MaskPlan], inputs: _Inputs) -> None:
        """Raise ValueError naming the first plan that does not fit this model and text (nothing compiled)."""
        T = inputs.input_ids.shape[1]
        stack = self.anatomy.default
        for i, plan in enumerate(plans):
            try:
                plan.check_fits(
                    stack.num_layers, stack.num_heads, T, stack=stack.name, default_stack=stack.name
                )
            except ValueError as err:
                raise ValueError(f"plans[{i}]: {err}") from None

    def _call_state(self, masks: dict[str, list], first: int = 0, *, stacked: bool = False) -> CallState:
        """Return the per-call state of compiled ``masks`` for a forward starting at layer ``first``.

        ``stacked``: the layers write their weights straight into one (L, 1, H, Q, K) tensor per stack.
        """
        next_layer = dict.fromkeys(self.stacks, first)
        return CallState(
            stacks=self.anatomy.modules, masks=masks, next_layer=next_layer, stacked={} if stacked else None
        )

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
            return _Forward(out.last_hidden_state[0], None, call.weights, call.stacked)
        if self.kind == "seq2seq":
            return _Forward(out.encoder_last_hidden_state[0], out.logits[0], call.weights, call.stacked)
        return _Forward(out.hidden_states[-1][0], out.logits[0], call.weights, call.stacked)

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
        return _Forward(hidden, logits, call.weights, call.stacked)

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
        return call.captured, call.weights[call.capture_at][0], inputs.input_ids.clone()  # the ids are cached

    def _attentions(
        self,
        weights: dict,
        first: int = 0,
        below: dict[str, torch.Tensor] | None = None,
        stacked: dict[str, torch.Tensor | None] | None = None,
    ) -> dict[str, torch.Tensor]:
        """Return per stack ``(L, H, Q, K)`` CPU float32: ``first``… from ``weights``, the rest ``below``.

        Where the layers wrote into one ``stacked`` tensor that is already CPU float32, that tensor is the
        result (only the layers below ``first`` are copied in); otherwise each value is copied once.
        """
        out = {}
        for stack in self.anatomy.stacks:
            L = stack.num_layers
            missing = [i for i in range(first, L) if (stack.name, i) not in weights]
            if missing:
                raise RuntimeError(
                    f"layers {missing} of the {stack.name} attention did not run through maskattn"
                )
            buffer = (stacked or {}).get(stack.name)
            if buffer is not None and buffer.shape[1] == 1:
                buffer = buffer[:, 0]  # (L, H, Q, K)
                if buffer.dtype == torch.float32 and buffer.device.type == "cpu":
                    result = buffer
                else:  # a GPU or half-precision stack: one conversion and transfer of the recomputed layers
                    result = buffers.empty(tuple(buffer.shape))
                    result[first:].copy_(buffer[first:])
            else:  # per-layer weights (a batch row, a stack whose layers differ): stacked here
                computed = [weights[stack.name, i][0] for i in range(first, L)]  # (H, Q, K) each
                shape = computed[0].shape if computed else below[stack.name].shape[1:]
                result = buffers.empty((L, *shape))
                if computed and computed[0].dtype == torch.float32 and computed[0].device.type == "cpu":
                    torch.stack(computed, out=result[first:])
                elif computed:
                    result[first:].copy_(torch.stack(computed))
            if first:
                result[:first].copy_(below[stack.name][:first])
            out[stack.name] = result
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
            call = self._call_state(self._compile(MaskPlan(), inputs), stacked=True)
            forward = self._forward(inputs, call)
            self._synchronize()
            seconds = time.perf_counter() - start
        layer_inputs = None
        if self._incremental in (None, True) and sorted(record) == list(range(self.num_layers)):
            layer_inputs = tuple(record[i] for i in range(self.num_layers))
        strings = tuple(tuple(part) for part in self.token_strings(inputs.input_ids[0]))
        decoder_labels = None
        if inputs.decoder_ids is not None:
            decoder_labels = tuple(self.token_strings(inputs.decoder_ids[0])[1])
        attentions = self._attentions(forward.weights, stacked=forward.stacked)
        # The cache keeps the stacked CPU attentions only (on a GPU the per-layer weights are another copy).
        forward = replace(forward, weights={}, stacked=None)
        finite = all(all_finite(a) for a in attentions.values())
        baseline = _Baseline(
            inputs, forward, attentions, seconds, layer_inputs, strings, decoder_labels, finite
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
            empty = self._call_state(self._compile(MaskPlan(), baseline.inputs), stacked=True)
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
        replayed = self._attentions(replay.weights, stacked=replay.stacked)
        same = same and all(torch.allclose(replayed[s], baseline.attentions[s], atol=1e-5) for s in replayed)
        self._incremental = True if same else "replaying the layers did not reproduce the full forward"

    def clear_cache(self) -> None:
        """Forget the cached unmasked runs and tokenisations (recomputed on the next run of each text)."""
        with self._lock:
            self._baselines.clear()
            self._tokenized.clear()

    def baseline(self, text: str, *, top_k: int = 5, max_tokens: int | None = None) -> RunResult:
        """Return the unmasked run of ``text`` (cached)."""
        _check_top_k(top_k)
        return self._baseline_result(self._baseline(text, self._inputs(text, max_tokens)), top_k)

    def _baseline_result(self, baseline: _Baseline, top_k: int, *, copy: bool = True) -> RunResult:
        """Return the cached unmasked run as a result; ``copy``: tensors a caller may change without harm."""
        forward, attentions = _copied(baseline) if copy else (baseline.forward, baseline.attentions)
        return self._result(
            baseline,
            MaskPlan(),
            baseline.seconds,
            forward,
            attentions,
            top_k,
            recomputed_from=self.num_layers,
        )

    def _compared(self, baseline: _Baseline, top_k: int) -> RunResult:
        """Return the unmasked run as the result an edit's effect is measured against (kept per top_k)."""
        compared = baseline.compared.get(top_k)
        if compared is None:
            compared = self._baseline_result(baseline, top_k, copy=False)
            baseline.compared[top_k] = compared  # two threads may both build it: the same numbers either way
        return compared

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
            forward, attentions = _copied(baseline)
        elif reuse:
            call = self._call_state(masks, first, stacked=True)
            forward = self._forward_from(first, baseline.layer_inputs, call)
            attentions = self._attentions(forward.weights, first, baseline.attentions, forward.stacked)
        else:
            first = 0
            forward = self._forward(inputs, self._call_state(masks, stacked=True))
            attentions = self._attentions(forward.weights, stacked=forward.stacked)
        self._synchronize()
        seconds = time.perf_counter() - start
        result = self._result(baseline, plan, seconds, forward, attentions, top_k, recomputed_from=first)
        result = with_effect(result, self._compared(baseline, top_k))
        # Layers below ``first`` are copies of the unmasked run's, checked when it was cached.
        return check_finite(result, checked_layers=first if baseline.finite else 0)

    # -- many plans on one text ------------------------------------------------------------------------------

    def run_many(
        self,
        text: str,
        plans: Sequence[MaskPlan],
        *,
        mean_ablate: Sequence[torch.Tensor | None] | None = None,
        top_k: int = 5,
        incremental: bool = True,
        max_tokens: int | None = None,
        progress: Progress | None = None,
        budget_floats: int = BATCH_BUDGET_FLOATS,
    ) -> list[RunResult]:
        """Return ``[run(text, plan) for plan in plans]``, computed as batched forwards.

        Each batch element gets its own masks and gates (``LayerMask`` with a leading batch dimension). Plans
        are grouped by their lowest touched layer ℓ; each group replays layers ℓ… from the unmasked run's
        input of layer ℓ, expanded to the group (or runs whole batched forwards where replay is off), in
        chunks of at most ``budget_floats`` floats. ``mean_ablate`` gives per plan an ``(L, H)`` bool of heads
        whose output is replaced by its mean over positions (a library option, not part of the plan format).
        ``progress(done, total)`` once with 0 before any work, then after each chunk; returning False raises
        ``SweepCancelled``.
        ``seconds`` of each result is its chunk's time divided by the chunk's size. Encoder–decoder models
        (kind ``"seq2seq"``) simply loop over ``run``.
        """
        _check_top_k(top_k)
        plans = list(plans)
        means = self._check_mean_ablate(mean_ablate, len(plans))
        if self.kind == "seq2seq" or len(self.stacks) != 1:
            if any(m is not None for m in means):
                raise ValueError("mean ablation is not available for encoder–decoder models")
            results = []
            report(progress, 0, len(plans))
            for i, plan in enumerate(plans):
                results.append(
                    self.run(text, plan, top_k=top_k, incremental=incremental, max_tokens=max_tokens)
                )
                report(progress, i + 1, len(plans))
            return results
        inputs = self._inputs(text, max_tokens)
        self._check_plans(plans, inputs)
        baseline = self._baseline(text, inputs)
        base_result = self._compared(baseline, top_k)
        results: list[RunResult | None] = [None] * len(plans)
        chunks = self._batches(
            inputs, baseline, plans, means,
            incremental=incremental, keep_weights=True, positions=None, budget_floats=budget_floats,
            progress=progress,
        )  # fmt: skip
        for batch in chunks:
            for row, index in enumerate(batch.indices):
                if batch.hidden is None:  # nothing to recompute: the unmasked run, as ``run`` gives it
                    forward, attentions = _copied(baseline)
                else:
                    logits = None if batch.logits is None else batch.logits[row]
                    forward = _Forward(batch.hidden[row], logits, {})
                    weights = {slot: w[row : row + 1] for slot, w in batch.weights.items()}
                    attentions = self._attentions(weights, batch.first, baseline.attentions)
                if not plans[index] and means[index] is None and incremental:
                    results[index] = check_finite(self._baseline_result(baseline, top_k))
                    continue
                result = self._result(
                    baseline,
                    plans[index],
                    batch.seconds,
                    forward,
                    attentions,
                    top_k,
                    recomputed_from=batch.first,
                )
                results[index] = check_finite(with_effect(result, base_result))
        return results

    def outputs_many(
        self,
        text: str,
        plans: Sequence[MaskPlan],
        measure: Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor],
        *,
        mean_ablate: Sequence[torch.Tensor | None] | None = None,
        positions: Sequence[int] | None = None,
        incremental: bool = True,
        max_tokens: int | None = None,
        progress: Progress | None = None,
        budget_floats: int = BATCH_BUDGET_FLOATS,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(values (N,), baseline ())``: ``measure`` of each plan's output and of the unmasked one.

        What sweeps use: like ``run_many`` but no weights are kept and no ``RunResult`` is built.
        ``measure(hidden (B, T, E), logits (B, P, V) | None) -> (B,)`` sees the last hidden states and the
        logits at ``positions`` only (None: every position). Encoder–decoder models loop over ``run``.
        """
        plans = list(plans)
        means = self._check_mean_ablate(mean_ablate, len(plans))
        if self.kind == "seq2seq" or len(self.stacks) != 1:
            if any(m is not None for m in means):
                raise ValueError("mean ablation is not available for encoder–decoder models")
            pick = slice(None) if positions is None else list(positions)
            device = self.device

            def measured(r: RunResult) -> torch.Tensor:
                # Results are on the CPU; the metric's unmasked tensors are on the model's device.
                logits = None if r.logits is None else r.logits[None, pick].to(device)
                return measure(r.hidden[None].to(device), logits)[0].float().cpu()

            values = []
            report(progress, 0, len(plans))
            for i, plan in enumerate(plans):
                values.append(measured(self.run(text, plan, incremental=incremental, max_tokens=max_tokens)))
                report(progress, i + 1, len(plans))
            base = measured(self.baseline(text, max_tokens=max_tokens))
            return (torch.stack(values) if values else torch.zeros(0)), base
        inputs = self._inputs(text, max_tokens)
        self._check_plans(plans, inputs)
        baseline = self._baseline(text, inputs)
        pick = None if positions is None else list(positions)
        base_hidden = baseline.forward.hidden[None]  # (1, T, E)
        base_logits = baseline.forward.logits
        base_logits = (
            None if base_logits is None else base_logits[None] if pick is None else base_logits[None, pick]
        )
        base_value = measure(base_hidden, base_logits)[0].float().cpu()
        values = torch.zeros(len(plans))
        chunks = self._batches(
            inputs, baseline, plans, means,
            incremental=incremental, keep_weights=False, positions=pick, budget_floats=budget_floats,
            progress=progress,
        )  # fmt: skip
        for batch in chunks:
            if batch.hidden is None:
                values[list(batch.indices)] = base_value
            else:
                values[list(batch.indices)] = measure(batch.hidden, batch.logits).float().cpu()
        return values, base_value

    def _check_mean_ablate(self, mean_ablate: Sequence | None, count: int) -> list[torch.Tensor | None]:
        """Return one ``(L, H)`` bool (or None) per plan; ValueError naming what is wrong."""
        if mean_ablate is None:
            return [None] * count
        means = list(mean_ablate)
        if len(means) != count:
            raise ValueError(f"mean_ablate: one entry per plan, got {len(means)} for {count} plans")
        shape = (self.num_layers, self.num_heads)
        for i, m in enumerate(means):
            if m is not None and (
                not isinstance(m, torch.Tensor) or m.dtype != torch.bool or tuple(m.shape) != shape
            ):
                got = tuple(m.shape) if isinstance(m, torch.Tensor) else type(m).__name__
                raise ValueError(f"mean_ablate[{i}]: expected a bool tensor of shape {shape}, got {got}")
        return [None if m is None or not bool(m.any()) else m.to(self.device) for m in means]

    def _batches(
        self,
        inputs: _Inputs,
        baseline: _Baseline,
        plans: list[MaskPlan],
        means: list[torch.Tensor | None],
        *,
        incremental: bool,
        keep_weights: bool,
        positions: list[int] | None,
        budget_floats: int,
        progress: Progress | None,
    ) -> Iterator[_Batch]:
        """Yield ``_Batch``es covering every plan, grouped by first touched layer, chunked by the budget."""
        L = self.num_layers
        replay = (
            incremental and baseline.layer_inputs is not None and self._incremental is True
            and self._batch_replay_ok(baseline)
        )  # fmt: skip
        groups: dict[int, list[int]] = {}
        for i, plan in enumerate(plans):
            first = plan.first_layer(L)
            if means[i] is not None:
                first = min(first, int(means[i].any(dim=1).nonzero()[0]))
            if not replay and (first < L or not incremental or baseline.layer_inputs is None):
                first = 0  # as ``run``: without replay every plan runs the whole model
            groups.setdefault(first, []).append(i)
        total, done = len(plans), 0
        T = inputs.input_ids.shape[1]
        H, E = self.num_heads, max(self.hidden_size, 1)
        vocab = getattr(self._stack.head, "out_features", 0) if self._stack and self._stack.head else 0
        vocab = vocab or (self.model.config.get_text_config().vocab_size if self.kind != "encoder" else 0)
        P = T if positions is None else len(positions)
        per_element = 16 * T * E + 4 * H * T * T + (L * H * T * T if keep_weights else 0) + P * vocab
        size = max(1, budget_floats // per_element)
        report(progress, 0, total)  # before the first chunk, which may take a while: the total is known
        for first in sorted(groups):
            members = groups[first]
            for start in range(0, len(members), size):
                chunk = members[start : start + size]
                if first == L:
                    yield _Batch(tuple(chunk), L, 0.0, None, None, {})
                else:
                    began = time.perf_counter()
                    # Compiled per chunk, not all up front: N plans' (L, H, T, T) masks would not be bounded.
                    default = self.anatomy.default.name
                    compiled = [self._compile(plans[i], inputs)[default] for i in chunk]
                    masks = _stack_masks(compiled, [means[i] for i in chunk], L, H)
                    call = self._call_state({default: masks}, first)
                    call.keep_weights = keep_weights
                    hidden, logits = self._batched_forward(
                        inputs, baseline, first, call, len(chunk), positions, replay
                    )
                    self._synchronize()
                    seconds = (time.perf_counter() - began) / len(chunk)
                    yield _Batch(tuple(chunk), first, seconds, hidden, logits, call.weights)
                done += len(chunk)
                report(progress, done, total)

    @torch.inference_mode()
    def _batched_forward(
        self,
        inputs: _Inputs,
        baseline: _Baseline,
        first: int,
        call: CallState,
        batch: int,
        positions: list[int] | None,
        replay: bool,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Return ``(hidden (B, T, E), logits (B, P, V) | None)`` of ``batch`` elements under ``call``."""
        with calling(call):
            if replay:
                return self._stack.run_batch_from(first, baseline.layer_inputs, batch, positions)
            ids = inputs.input_ids.expand(batch, -1)  # (B, T)
            kwargs: dict[str, Any] = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
            if self.kind != "encoder":
                kwargs.update(output_hidden_states=True, use_cache=False)
            out = self.model(**kwargs)
        if self.kind == "encoder":
            return out.last_hidden_state, None
        logits = out.logits if positions is None else out.logits[:, positions]  # (B, P, V)
        return out.hidden_states[-1], logits

    def _batch_replay_ok(self, baseline: _Baseline) -> bool:
        """Return whether two copies replayed from layer 0 as one batch equal the unmasked run (once)."""
        if self._batch_replay is None:
            try:
                masks = {self.anatomy.default.name: [None] * self.num_layers}
                hidden, logits = self._batched_forward(
                    baseline.inputs, baseline, 0, self._call_state(masks), 2, None, True
                )
                full = baseline.forward
                same = all(torch.allclose(h, full.hidden, rtol=1e-4, atol=1e-5) for h in hidden)
                if full.logits is not None:
                    same = (
                        same
                        and logits is not None
                        and all(torch.allclose(g, full.logits, rtol=1e-4, atol=1e-4) for g in logits)
                    )
                self._batch_replay = True if same else "a batched replay did not reproduce the unmasked run"
            except Exception as err:  # any failure: batches run whole forwards instead
                self._batch_replay = f"a batched replay failed: {type(err).__name__}: {err}"
        return self._batch_replay is True

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


@dataclass(frozen=True)
class _Batch:
    """One chunk of a batch of plans: which plans, from which layer, and what the forward gave."""

    indices: tuple[int, ...]
    first: int  # layers below came from the unmasked run (L: nothing recomputed, ``hidden`` is None)
    seconds: float  # per element
    hidden: torch.Tensor | None  # (B, T, E)
    logits: torch.Tensor | None  # (B, P, V)
    weights: dict[tuple[str, int], torch.Tensor]  # (stack, layer) -> (B, H, Q, K), when kept


def _stack_masks(
    compiled: list[list[LayerMask | None]], means: list[torch.Tensor | None], num_layers: int, num_heads: int
) -> list[LayerMask | None]:
    """Return per layer one ``LayerMask`` with a leading batch dimension (None: no element touches it)."""
    out: list[LayerMask | None] = []
    for layer in range(num_layers):
        masks = [c[layer] for c in compiled]
        rows = [None if m is None else m[layer] for m in means]  # (H,) bool each
        allows = [m.allow if m is not None else None for m in masks]
        gates = [m.gate if m is not None else None for m in masks]
        if (
            all(a is None for a in allows)
            and all(g is None for g in gates)
            and all(r is None or not bool(r.any()) for r in rows)
        ):
            out.append(None)
            continue
        allow = gate = mean = None
        if any(a is not None for a in allows):
            shape = next(a for a in allows if a is not None).shape  # (H, Q, K)
            like = next(a for a in allows if a is not None)
            allow = torch.stack(
                [a if a is not None else like.new_ones(shape) for a in allows]
            )  # (B, H, Q, K)
        if any(g is not None for g in gates):
            like = next(g for g in gates if g is not None)
            gate = torch.stack([g if g is not None else like.new_ones(num_heads) for g in gates])  # (B, H)
        if any(r is not None for r in rows):
            like = next(r for r in rows if r is not None)
            mean = torch.stack([r if r is not None else like.new_zeros(num_heads) for r in rows])  # (B, H)
        out.append(LayerMask(allow, gate, mean))
    return out


def _copied(baseline: _Baseline) -> tuple[_Forward, dict[str, torch.Tensor]]:
    """Return copies of a cached run's forward and attentions: results handed out must not alias the cache."""
    forward = baseline.forward
    logits = None if forward.logits is None else buffers.clone(forward.logits)
    attentions = {s: buffers.clone(a) for s, a in baseline.attentions.items()}
    return _Forward(buffers.clone(forward.hidden), logits, forward.weights), attentions


def _check_top_k(top_k: Any) -> None:
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise ValueError(f"top_k must be a positive integer, got {top_k!r}")
