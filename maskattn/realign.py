"""Move a plan's token indices onto a new text: the mask follows the tokens it was made on.

A plan names tokens by index (``block`` keys, queries and cells; the ``global_tokens`` preset's indices). When
the text changes, index 6 may now be another token, or past the end. ``realign`` matches the old and new
token sequences (``difflib.SequenceMatcher``: the longest runs of equal tokens) and moves every index whose
token is still there; an index whose token is gone is dropped, and a rule left with nothing to do is dropped
whole. Positional presets (causal, windows, prefixes) mean positions, not tokens, and stay as they are.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, replace

from .plan import Block, MaskPlan, Rule

TOKEN_PRESETS = {"global_tokens": "indices"}  # presets whose parameter names tokens, and that parameter
MAX_NAMED = 4  # tokens a note names before it says "and N more"


@dataclass(frozen=True)
class Realigned:
    """A plan moved onto new tokens, and what happened to each rule it changed, in words."""

    plan: MaskPlan
    notes: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.notes)


def index_map(old: Sequence[str], new: Sequence[str]) -> dict[int, int]:
    """Return ``{old index: new index}`` for the tokens of ``old`` that ``new`` still has, in order."""
    matcher = difflib.SequenceMatcher(None, list(old), list(new), autojunk=False)
    moves: dict[int, int] = {}
    for tag, i0, i1, j0, _ in matcher.get_opcodes():
        if tag == "equal":
            moves.update({i0 + k: j0 + k for k in range(i1 - i0)})
    return moves


def _named(indices: Sequence[int], tokens: Sequence[str]) -> str:
    def one(i: int) -> str:
        return f"'{tokens[i]}' ({i})" if 0 <= i < len(tokens) else str(i)

    shown = ", ".join(one(i) for i in indices[:MAX_NAMED])
    return shown + (f" and {len(indices) - MAX_NAMED} more" if len(indices) > MAX_NAMED else "")


class _Mover:
    """Moves indices with ``moves`` and remembers which moved and which were dropped."""

    def __init__(self, moves: dict[int, int]) -> None:
        self.moves = moves
        self.moved: set[int] = set()
        self.dropped: set[int] = set()

    def one(self, i: int) -> int | None:
        j = self.moves.get(i)
        if j is None:
            self.dropped.add(i)
        elif j != i:
            self.moved.add(i)
        return j

    def many(self, indices: Sequence[int]) -> tuple[int, ...]:
        return tuple(j for j in (self.one(i) for i in indices) if j is not None)


def _realign_rule(rule: Rule, mover: _Mover) -> Rule | None:
    """Return ``rule`` with its token indices moved (None when nothing of it is left)."""
    block = rule.block
    if block is not None:
        cells = tuple(
            (q, k) for q, k in ((mover.one(q), mover.one(k)) for q, k in block.cells) if None not in (q, k)
        )
        block = Block(keys=mover.many(block.keys), queries=mover.many(block.queries), cells=cells)
        if not (block.keys or block.queries or block.cells):
            block = None
    allow = rule.allow
    if allow is not None and allow.get("preset") in TOKEN_PRESETS:
        param = TOKEN_PRESETS[allow["preset"]]
        if param in allow:
            indices = mover.many(allow[param])
            allow = {**allow, param: list(indices)} if indices else None
    if block is None and allow is None and rule.gate is None:
        return None
    return replace(rule, block=block, allow=allow)


def realign(plan: MaskPlan, old: Sequence[str] | None, new: Sequence[str]) -> Realigned:
    """Return ``plan`` with the token indices it names moved from the tokens ``old`` onto ``new``.

    ``old`` None: the plan was made on ``new`` itself (a link); only indices past its end are dropped.
    """
    old = list(new) if old is None else list(old)
    moves = index_map(old, new) if old != list(new) else {i: i for i in range(len(new))}
    rules: list[Rule] = []
    notes: list[str] = []
    for i, rule in enumerate(plan.rules):
        mover = _Mover(moves)
        moved = _realign_rule(rule, mover)
        if moved is not None:
            rules.append(moved)
        if not (mover.moved or mover.dropped):
            continue
        parts = []
        if mover.moved:
            pairs = sorted(mover.moved)
            targets = ", ".join(str(moves[p]) for p in pairs[:MAX_NAMED])
            parts.append(f"{_named(pairs, old)} moved to {targets}")
        if mover.dropped:
            parts.append(f"{_named(sorted(mover.dropped), old)} not in the new text")
        fate = "dropped: " if moved is None else ""
        notes.append(f"rule {i}: {fate}" + "; ".join(parts))
    return Realigned(MaskPlan(tuple(rules), plan.description), tuple(notes))
