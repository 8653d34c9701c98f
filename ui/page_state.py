"""What the pages keep between reruns, as plain objects. Pure: no Streamlit.

The pages store these in ``st.session_state`` under the keys named here and replace them whole (the objects
are immutable), so every change is one assignment a test can make and check.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

import numpy as np

from maskattn import MaskPlan, make_preset
from maskattn.realign import realign

from .editing import Scope, Target, scope_targets

EXPLORER_KEY = "ex_state"  # an ExplorerState
LAB_BLOCKED_KEY = "ml_blocked"  # the Mask Lab's painted (T, T) grid, True = blocked
HISTORY_LIMIT = 50  # plan edits the Explorer can undo


@dataclass(frozen=True)
class Snapshot:
    """A plan with the text and tokens its token indices refer to (None: not known yet), for undo."""

    plan: MaskPlan
    text: str | None = None
    tokens: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ExplorerState:
    """The Explorer's plan with its undo history, the focused head, and the heads picked in the head grid.

    ``text`` and ``tokens`` are those the plan was made on: when the page's text gives other tokens, ``refit``
    moves the plan's token indices with their tokens, as one undoable edit that undo takes back, text and all.
    """

    plan: MaskPlan = field(default_factory=MaskPlan)
    focus: tuple[int, int] = (0, 0)
    chosen: frozenset[tuple[int, int]] = frozenset()
    history: tuple[Snapshot, ...] = ()  # older plans, the last one first to come back
    text: str | None = None
    tokens: tuple[str, ...] | None = None

    @property
    def can_undo(self) -> bool:
        return bool(self.history)

    def _snapshot(self) -> Snapshot:
        return Snapshot(self.plan, self.text, self.tokens)

    def _pushed(self) -> tuple[Snapshot, ...]:
        return (*self.history, self._snapshot())[-HISTORY_LIMIT:]

    def with_plan(self, plan: MaskPlan) -> ExplorerState:
        """Return the state with ``plan``, the old one kept for undo (the same state for an equal plan)."""
        if plan.key() == self.plan.key():
            return self
        return replace(self, plan=plan, history=self._pushed())

    def opened(self, plan: MaskPlan, text: str, focus: tuple[int, int]) -> ExplorerState:
        """Return the state a link (an exercise, browser Back) describes; undo brings this one back."""
        if plan.key() == self.plan.key() and text == self.text:
            return self.focused(*focus)
        return replace(self, plan=plan, text=text, tokens=None, focus=focus, history=self._pushed())

    def refit(self, text: str, tokens: tuple[str, ...]) -> tuple[ExplorerState, tuple[str, ...]]:
        """Return the state on ``text`` (whose tokens are ``tokens``) and notes on what of the plan moved.

        The plan's token indices follow their tokens (``maskattn.realign``); a change is undoable, and undo
        restores the old text with the old plan.
        """
        if tokens == self.tokens:
            return (self if text == self.text else replace(self, text=text)), ()
        moved = realign(self.plan, self.tokens, tokens)
        if not moved.changed:
            return replace(self, text=text, tokens=tokens), ()
        return replace(self, plan=moved.plan, text=text, tokens=tokens, history=self._pushed()), moved.notes

    def undo(self) -> ExplorerState:
        """Return the state before the last edit (the same state when there is none)."""
        if not self.history:
            return self
        last = self.history[-1]
        return replace(self, plan=last.plan, text=last.text, tokens=last.tokens, history=self.history[:-1])

    def reset(self) -> ExplorerState:
        """Return the state with an empty plan (undoable) and no heads chosen."""
        return replace(self.with_plan(MaskPlan()), chosen=frozenset())

    def focused(self, layer: int, head: int) -> ExplorerState:
        return replace(self, focus=(int(layer), int(head)))

    def within(self, num_layers: int, num_heads: int) -> ExplorerState:
        """Return the state with the focus moved inside a model of this size (a smaller model, a link)."""
        layer, head = self.focus
        return self.focused(min(layer, num_layers - 1), min(head, num_heads - 1))

    def with_chosen(self, heads: Iterable[tuple[int, int]]) -> ExplorerState:
        return replace(self, chosen=frozenset((int(layer), int(head)) for layer, head in heads))

    def picked(self, num_layers: int, num_heads: int) -> np.ndarray:
        """Return the chosen heads as an ``(L, H)`` bool grid (heads outside the model left out)."""
        grid = np.zeros((num_layers, num_heads), dtype=bool)
        for layer, head in self.chosen:
            if layer < num_layers and head < num_heads:
                grid[layer, head] = True
        return grid

    def targets(self, scope: Scope, num_layers: int) -> list[Target]:
        """Return the (layers, heads) an edit with ``scope`` applies to; ValueError when none are chosen."""
        return scope_targets(scope, self.focus, self.chosen, num_layers)


def query_param_changes(
    current: Mapping[str, str], wanted: Mapping[str, str], *, keep: Iterable[str] = ()
) -> tuple[set[str], dict[str, str]]:
    """Return ``(stale, changed)``: the URL parameters to delete and those to set for ``wanted``.

    Parameters named in ``keep`` (another page's, such as the language) are never stale.
    """
    stale = set(current) - set(wanted) - set(keep)
    changed = {name: value for name, value in wanted.items() if current.get(name) != value}
    return stale, changed


def preset_blocked(name: str, num_tokens: int) -> np.ndarray:
    """Return the ``(T, T)`` cells that preset ``name`` with its default parameters blocks."""
    return (~make_preset(name).dense(num_tokens)).numpy()


def fitted_blocked(blocked: np.ndarray, num_tokens: int) -> np.ndarray:
    """Return ``blocked`` cut or padded (with allowed cells) to ``(num_tokens, num_tokens)``."""
    old = np.asarray(blocked, dtype=bool)
    if old.shape == (num_tokens, num_tokens):
        return old
    new = np.zeros((num_tokens, num_tokens), dtype=bool)
    keep = min(num_tokens, old.shape[0])
    new[:keep, :keep] = old[:keep, :keep]
    return new
