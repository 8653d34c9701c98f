"""Incremental recompute: an edit touching only layers ℓ… reuses what the unmasked run fed into layer ℓ.

Each transformer layer of a loaded model gets one forward pre-hook, registered once at load, that stores the
layer's inputs only inside a ``recording()`` block of this thread; everywhere else it does nothing. A replay
calls layers ℓ… with those inputs under a new plan. Whatever ``find_layer_stack`` guesses about a model's
layout is checked against a full forward before it is used (``MaskedModel``), so a wrong guess turns
incremental runs off rather than giving a wrong result.

Shapes: B batch (a batch of plans replays one recorded input, expanded), T tokens, E model width,
P chosen positions, V vocabulary.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class LayerInput:
    """What one transformer layer was called with in the unmasked run."""

    hidden: torch.Tensor  # (1, T, E) the hidden states entering the layer
    args: tuple  # the positional arguments after the hidden states
    kwargs: dict  # keyword arguments: the model's own mask, rotary position embeddings, …
    hidden_keyword: str | None  # the keyword they came in under (None: the first positional argument)

    def call(self, layer: torch.nn.Module, hidden: torch.Tensor) -> torch.Tensor:
        """Return the hidden states ``layer`` gives for ``hidden (1, T, E)``, everything else as recorded."""
        if self.hidden_keyword is None:
            out = layer(hidden, *self.args, **self.kwargs)
        else:
            out = layer(*self.args, **{**self.kwargs, self.hidden_keyword: hidden})
        return out[0] if isinstance(out, tuple | list) else out  # older layers return (hidden, …)


_RECORD: ContextVar[dict[int, LayerInput] | None] = ContextVar("maskattn_layer_inputs", default=None)


@contextmanager
def recording() -> Iterator[dict[int, LayerInput]]:
    """Collect, per layer index, the inputs every hooked layer gets in this thread until the block ends."""
    record: dict[int, LayerInput] = {}
    token = _RECORD.set(record)
    try:
        yield record
    finally:
        _RECORD.reset(token)


def is_recording() -> bool:
    """Return whether this thread is inside a ``recording()`` block."""
    return _RECORD.get() is not None


def layer_input_recorder(index: int) -> Callable:
    """Return a forward pre-hook storing layer ``index``'s inputs inside ``recording()`` (else a no-op)."""

    def hook(module: torch.nn.Module, args: tuple, kwargs: dict) -> None:
        record = _RECORD.get()
        if record is None:
            return
        kwargs = dict(kwargs)
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

    def run_from(
        self, first: int, layer_inputs: tuple[LayerInput, ...]
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Return ``(hidden (T, E), logits (T, V) | None)`` running layers ``first``… from recorded inputs."""
        hidden = layer_inputs[first].hidden  # (1, T, E)
        for index in range(first, len(self.layers)):
            hidden = layer_inputs[index].call(self.layers[index], hidden)  # (1, T, E)
        if self.norm is not None:
            hidden = self.norm(hidden)
        logits = self.head(hidden)[0] if self.head is not None else None  # (T, V)
        return hidden[0], logits

    def run_batch_from(
        self, first: int, layer_inputs: tuple[LayerInput, ...], batch: int, positions: list[int] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Return ``(hidden (B, T, E), logits (B, P, V) | None)``: layers ``first``… on ``batch`` copies.

        The recorded input of layer ``first`` is expanded to the batch; every other recorded argument (the
        model's own mask, rotary tables) keeps its batch dimension of 1 and broadcasts, which
        ``MaskedModel`` checks once per model against single runs. ``positions`` (None: all) are the rows
        the head is applied to, so a sweep never holds ``B × T × V`` logits.
        """
        hidden = layer_inputs[first].hidden.expand(batch, -1, -1)  # (B, T, E)
        for index in range(first, len(self.layers)):
            hidden = layer_inputs[index].call(self.layers[index], hidden)  # (B, T, E)
        if self.norm is not None:
            hidden = self.norm(hidden)
        if self.head is None:
            return hidden, None
        picked = hidden if positions is None else hidden[:, positions]  # (B, P, E)
        return hidden, self.head(picked)  # (B, P, V)


def _is_norm(module: torch.nn.Module) -> bool:
    return "norm" in type(module).__name__.lower()


def find_layer_stack(model: torch.nn.Module, num_layers: int, with_head: bool) -> LayerStack | None:
    """Return the layer list, final norm and LM head of ``model`` (None when its layout is not recognised).

    The layers are the first ``ModuleList`` of ``num_layers`` modules in the base model (``encoder.layer``,
    ``h``, ``layers``); the final norm is a norm module registered after that list, beside it or beside one of
    its parents; the head is the one child of the full model besides the base model.
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
