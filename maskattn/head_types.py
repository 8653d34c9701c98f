"""What each head is doing: one score in [0, 1] per head for each head type, from its attention weights.

Each detector is a small pure function of ``attentions (L, H, T, T)`` (rows = queries, the weights a run used)
and, where it needs them, the token ids ``(T,)``; each returns ``(L, H)``, a share of attention mass averaged
over the queries it is defined for (Clark et al. 2019; Olsson et al. 2022; TransformerLens ``head_detector``):

- ``previous_token`` — weight on key i−1; ``next_token`` — on key i+1; ``self_token`` — on key i.
- ``first_token`` — weight on key 0 (the [CLS] / BOS sink).
- ``delimiter`` — weight on delimiter tokens ([SEP], EOS: ids given by the caller).
- ``broad`` — row entropy divided by the log of the number of keys the query may attend to (1 = uniform).
- ``duplicate_token`` — weight on earlier copies of the query's own token (queries that have one).
- ``induction`` — weight on the token right after an earlier copy of the query's token (where there is one);
  measured on a random token sequence repeated twice (``probe_text``), where only induction finds it.

Shapes: L layers, H heads, T tokens (queries and keys: self-attention).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

TYPES = (
    "previous_token",
    "next_token",
    "self_token",
    "first_token",
    "delimiter",
    "broad",
    "duplicate_token",
    "induction",
)


def _check(attentions: torch.Tensor) -> None:
    if attentions.dim() != 4 or attentions.shape[-1] != attentions.shape[-2]:
        raise ValueError(f"attentions must be (L, H, T, T), got {tuple(attentions.shape)}")


def _diagonal_mass(attentions: torch.Tensor, offset: int) -> torch.Tensor:
    """Return ``(L, H)``: mean over queries i of the weight on key i + offset (where that key exists)."""
    _check(attentions)
    T = attentions.shape[-1]
    if abs(offset) >= T:
        return attentions.new_zeros(attentions.shape[:2])
    return torch.diagonal(attentions, offset=offset, dim1=-2, dim2=-1).mean(dim=-1)  # (L, H)


def previous_token(attentions: torch.Tensor) -> torch.Tensor:
    """Return ``(L, H)``: the mean weight query i gives key i − 1 (queries 1…T−1)."""
    return _diagonal_mass(attentions, -1)


def next_token(attentions: torch.Tensor) -> torch.Tensor:
    """Return ``(L, H)``: the mean weight query i gives key i + 1 (queries 0…T−2)."""
    return _diagonal_mass(attentions, 1)


def self_token(attentions: torch.Tensor) -> torch.Tensor:
    """Return ``(L, H)``: the mean weight query i gives itself."""
    return _diagonal_mass(attentions, 0)


def first_token(attentions: torch.Tensor) -> torch.Tensor:
    """Return ``(L, H)``: the mean weight on key 0 (the [CLS] or BOS sink)."""
    _check(attentions)
    return attentions[..., 0].mean(dim=-1)  # (L, H)


def _masked_rows(attentions: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """Return ``(L, H)``: mean over queries with any chosen key of the weight on ``keys (T, T)`` bool."""
    _check(attentions)
    rows = keys.any(dim=-1)  # (T,) queries that have a chosen key
    if not bool(rows.any()):
        return attentions.new_zeros(attentions.shape[:2])
    queries, chosen = keys.nonzero(as_tuple=True)  # (N,), (N,): only the chosen cells are read
    picked = attentions[..., queries, chosen]  # (L, H, N)
    mass = attentions.new_zeros(attentions.shape[:-1]).index_add_(-1, queries, picked)  # (L, H, T)
    return mass[..., rows].mean(dim=-1)  # (L, H)


def delimiter(
    attentions: torch.Tensor, token_ids: torch.Tensor, delimiter_ids: Sequence[int]
) -> torch.Tensor:
    """Return ``(L, H)``: the mean weight on keys whose token is a delimiter ([SEP], EOS); 0 if none."""
    ids = _ids(token_ids, attentions)
    wanted = torch.tensor(list(delimiter_ids), dtype=ids.dtype, device=ids.device)
    is_delimiter = torch.isin(ids, wanted)  # (T,)
    return attentions[..., is_delimiter].sum(dim=-1).mean(dim=-1)  # (L, H)


def broad(attentions: torch.Tensor, allowed: torch.Tensor | None = None) -> torch.Tensor:
    """Return ``(L, H)``: mean over queries of entropy / log(number of keys allowed); 1 = uniform.

    ``allowed`` broadcasts to ``(L, H, T, T)`` (True = may attend: the model's mask and the plan's); without
    it every key counts. Queries with fewer than two allowed keys have no spread to measure and are left out.
    """
    _check(attentions)
    if allowed is None:
        allowed = torch.ones(attentions.shape[-2:], dtype=torch.bool, device=attentions.device)
    count = allowed.sum(dim=-1).expand(attentions.shape[:-1]).to(attentions.dtype)  # (L, H, T)
    entropy = torch.special.entr(attentions).sum(dim=-1)  # (L, H, T): −Σ p log p, 0 where p = 0
    defined = count > 1.5
    score = torch.where(defined, entropy / torch.log(count.clamp(min=2.0)), torch.zeros_like(entropy))
    used = defined.to(attentions.dtype).sum(dim=-1)  # (L, H)
    return (score.sum(dim=-1) / used.clamp(min=1.0)).clamp(0.0, 1.0)


def _earlier_copies(ids: torch.Tensor) -> torch.Tensor:
    """Return ``(T, T)`` bool: key j < query i holds the same token as query i."""
    same = ids[:, None] == ids[None, :]  # (T, T)
    return same & torch.ones_like(same).tril(diagonal=-1)


def duplicate_token(attentions: torch.Tensor, token_ids: torch.Tensor) -> torch.Tensor:
    """Return ``(L, H)``: the weight on earlier copies of the query's token (queries that have one)."""
    return _masked_rows(attentions, _earlier_copies(_ids(token_ids, attentions)))


def induction(attentions: torch.Tensor, token_ids: torch.Tensor) -> torch.Tensor:
    """Return ``(L, H)``: the weight on the token after an earlier copy of the query's token (where one is).

    Key j + 1 for every j < i with ids[j] = ids[i] and j + 1 < i: on a repeated random sequence that is the
    token that came next last time, which an induction head copies (Olsson et al. 2022).
    """
    ids = _ids(token_ids, attentions)
    copies = _earlier_copies(ids)  # (T, T) [i, j]: j is an earlier copy of token i
    after = torch.zeros_like(copies)
    after[:, 1:] = copies[:, :-1]  # [i, j + 1]
    after &= torch.ones_like(after).tril(diagonal=-1)  # the key after the copy is still before the query
    return _masked_rows(attentions, after)


def _ids(token_ids: torch.Tensor, attentions: torch.Tensor) -> torch.Tensor:
    ids = torch.as_tensor(token_ids).reshape(-1).to(attentions.device)
    if ids.shape[0] != attentions.shape[-1]:
        raise ValueError(f"token_ids must have T={attentions.shape[-1]} entries, got {ids.shape[0]}")
    return ids


@dataclass(frozen=True)
class HeadTypes:
    """Per head type, an ``(L, H)`` score in [0, 1]."""

    scores: dict[str, torch.Tensor]

    def __getitem__(self, name: str) -> torch.Tensor:
        return self.scores[name]

    def top(self, name: str) -> tuple[int, int, float]:
        """Return ``(layer, head, score)`` of the head scoring highest on ``name``."""
        grid = self.scores[name]
        index = int(grid.argmax())
        layer, head = divmod(index, grid.shape[1])
        return layer, head, float(grid[layer, head])

    def to_dict(self) -> dict[str, list[list[float]]]:
        return {name: grid.tolist() for name, grid in self.scores.items()}


def score_heads(
    attentions: torch.Tensor,
    token_ids: torch.Tensor,
    *,
    delimiter_ids: Sequence[int] = (),
    allowed: torch.Tensor | None = None,
    probe: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> HeadTypes:
    """Return every head type's ``(L, H)`` scores of ``attentions (L, H, T, T)`` on ``token_ids (T,)``.

    ``allowed`` (broadcasting to the attentions) says which keys each query may attend to, for ``broad``.
    ``probe`` is ``(attentions, token_ids)`` of the repeated random sequence: duplicate-token and induction
    are scored on it when given (a natural text has few repeats), on the text itself otherwise.
    """
    detectors: dict[str, Callable[[], torch.Tensor]] = {
        "previous_token": lambda: previous_token(attentions),
        "next_token": lambda: next_token(attentions),
        "self_token": lambda: self_token(attentions),
        "first_token": lambda: first_token(attentions),
        "delimiter": lambda: delimiter(attentions, token_ids, delimiter_ids),
        "broad": lambda: broad(attentions, allowed),
        "duplicate_token": lambda: duplicate_token(*(probe or (attentions, token_ids))),
        "induction": lambda: induction(*(probe or (attentions, token_ids))),
    }
    return HeadTypes({name: detect().float().clamp(0.0, 1.0) for name, detect in detectors.items()})


def probe_text(tokenizer: Any, num_tokens: int, seed: int = 0) -> str:
    """Return a text that tokenizes to ``num_tokens`` tokens: a random token sequence repeated twice.

    Words are drawn, with a seeded generator, from the vocabulary's tokens that are one token on their own
    (no sub-word pieces, no special tokens); the same ``num_tokens`` lets a plan made for a text of that
    length apply to the probe. An odd count gets one more random word at the end.
    """
    specials = len(tokenizer("a", add_special_tokens=True)["input_ids"]) - 1
    words_wanted = num_tokens - specials
    if words_wanted < 2:
        raise ValueError(
            f"a probe needs room for two words besides {specials} special tokens, got {num_tokens}"
        )
    generator = torch.Generator().manual_seed(seed)
    vocab = tokenizer.get_vocab()
    special_ids = set(getattr(tokenizer, "all_special_ids", []))
    order = torch.randperm(len(vocab), generator=generator).tolist()
    id_to_token = {i: t for t, i in vocab.items()}
    words: list[str] = []
    half = words_wanted // 2 + words_wanted % 2
    for index in order:
        token = id_to_token.get(index)
        if token is None or index in special_ids or not token.isascii() or not token.isalpha():
            continue
        word = tokenizer.convert_tokens_to_string([token]).strip()
        if not word.isalpha() or len(tokenizer(" " + word, add_special_tokens=False)["input_ids"]) != 1:
            continue
        if word.lower() in (w.lower() for w in words):
            continue
        words.append(word)
        if len(words) == half:
            break
    repeated = words[: words_wanted // 2]
    sequence = repeated + repeated + words[words_wanted // 2 :][: words_wanted % 2]
    text = " ".join(sequence)
    got = len(tokenizer(text, add_special_tokens=True)["input_ids"])
    if got != num_tokens:
        raise ValueError(f"the probe text has {got} tokens, wanted {num_tokens}")
    return text


def model_head_types(
    model: Any, text: str, plan: Any = None, *, seed: int = 0, max_tokens: int | None = None
) -> HeadTypes:
    """Return the head types of ``model`` on ``text`` under ``plan`` (None: unmasked).

    Two runs, both under the plan: the text (every type but duplicate-token and induction) and a probe of the
    same length (``probe_text``: a random token sequence repeated twice) for duplicate-token and induction.
    Allowed keys for ``broad`` are the non-zero ones a query could see: causal models see keys ≤ i, and the
    plan's blocked cells are the ones the run gave exactly 0.
    """
    result = model.run(text, plan, max_tokens=max_tokens)
    ids = model.tokenize(text, max_tokens)[0][0].cpu()  # (T,)
    probe_words = probe_text(model.tokenizer, len(ids), seed)
    probe = model.run(probe_words, plan, max_tokens=max_tokens)
    probe_ids = model.tokenize(probe_words, max_tokens)[0][0].cpu()  # (T,)
    T = len(ids)
    allowed = torch.ones(T, T, dtype=torch.bool)
    if model.is_causal:
        allowed = allowed.tril()
    if plan:
        allowed = allowed & _plan_allowed(model, plan, T)
    tokenizer = model.tokenizer
    delimiters = {getattr(tokenizer, name, None) for name in ("sep_token_id", "eos_token_id")} - {None}
    return score_heads(
        result.attentions,
        ids,
        delimiter_ids=sorted(delimiters),
        allowed=allowed,
        probe=(probe.attentions, probe_ids),
    )


def _plan_allowed(model: Any, plan: Any, num_tokens: int) -> torch.Tensor:
    """Return ``(L, H, T, T)`` bool: what the plan lets each head's queries attend to."""
    compiled = plan.compile(model.num_layers, model.num_heads, num_tokens)
    out = torch.ones(model.num_layers, model.num_heads, num_tokens, num_tokens, dtype=torch.bool)
    for layer, mask in enumerate(compiled):
        if mask is not None and mask.allow is not None:
            out[layer] = mask.allow.cpu()
    return out
