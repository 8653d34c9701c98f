"""What the pages keep between reruns, as plain objects. Pure: no Streamlit.

The pages store these in ``st.session_state`` under the keys named here and replace them whole (the objects
are immutable), so every change is one assignment a test can make and check.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

import numpy as np

from maskattn import MaskPlan, make_preset

from .editing import Scope, Target, scope_targets

EXPLORER_KEY = "ex_state"  # an ExplorerState; a page that sends people to a new Explorer state pops it
LAB_BLOCKED_KEY = "ml_blocked"  # the Mask Lab's painted (T, T) grid, True = blocked
HISTORY_LIMIT = 50  # plan edits the Explorer can undo


@dataclass(frozen=True)
class ExplorerState:
    """The Explorer's plan with its undo history, the focused head, and the heads picked in the head grid."""

    plan: MaskPlan = field(default_factory=MaskPlan)
    focus: tuple[int, int] = (0, 0)
    chosen: frozenset[tuple[int, int]] = frozenset()
    history: tuple[MaskPlan, ...] = ()  # older plans, the last one first to come back

    @property
    def can_undo(self) -> bool:
        return bool(self.history)

    def with_plan(self, plan: MaskPlan) -> ExplorerState:
        """Return the state with ``plan``, the old one kept for undo (the same state for an equal plan)."""
        if plan.key() == self.plan.key():
            return self
        return replace(self, plan=plan, history=(*self.history, self.plan)[-HISTORY_LIMIT:])

    def undo(self) -> ExplorerState:
        """Return the state with the plan before the last edit (the same state when there is none)."""
        if not self.history:
            return self
        return replace(self, plan=self.history[-1], history=self.history[:-1])

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
