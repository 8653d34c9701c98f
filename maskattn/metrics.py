"""Output metrics a sweep measures each plan by, written once for batches and for single runs.

- ``embedding_distance()`` — 1 − cosine of the mean-pooled sentence embedding to the unmasked run's
  (sentence encoders; ``1 - RunResult.embedding_cosine``).
- ``kl_at(position)`` — KL(unmasked ‖ masked) of the next-token (or masked-token) distribution at a position.
- ``logit_difference(position, token_a, token_b)`` — logit of ``token_a`` minus logit of ``token_b`` there.

A metric is plain data (it goes into a sweep's JSON) with two ways to evaluate it: ``batch`` on a batch of
outputs against the unmasked output (what ``MaskedModel.outputs_many`` hands it), ``of_result`` on a
``RunResult`` (the check that a sweep cell equals a separate ``run``). Negative positions count from the end.

Shapes: B batch, T tokens, E model width, P chosen positions, V vocabulary.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import torch

from .results import RunResult

Kind = Literal["embedding_distance", "kl", "logit_difference"]
KINDS: tuple[Kind, ...] = ("embedding_distance", "kl", "logit_difference")


@dataclass(frozen=True)
class Metric:
    """What a sweep measures: a kind and, for LM metrics, a position and two token ids."""

    kind: Kind
    position: int = -1
    token_a: int | None = None
    token_b: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"metric kind must be one of {list(KINDS)}, got {self.kind!r}")
        if isinstance(self.position, bool) or not isinstance(self.position, int):
            raise ValueError(f"metric position must be an integer, got {self.position!r}")
        if self.kind == "logit_difference":
            for name in ("token_a", "token_b"):
                value = getattr(self, name)
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise ValueError(f"logit_difference needs a token id {name}, got {value!r}")

    @property
    def needs_logits(self) -> bool:
        return self.kind != "embedding_distance"

    @property
    def label(self) -> str:
        """Return a short readable name (a table's header)."""
        if self.kind == "embedding_distance":
            return "1 − cos(embedding)"
        if self.kind == "kl":
            return f"KL at {self.position}"
        return f"logit[{self.token_a}] − logit[{self.token_b}] at {self.position}"

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    def resolve(self, num_tokens: int) -> int:
        """Return the position as a non-negative index into ``num_tokens`` tokens (ValueError if outside)."""
        position = self.position + num_tokens if self.position < 0 else self.position
        if not 0 <= position < num_tokens:
            raise ValueError(f"metric position {self.position} is outside the text's {num_tokens} tokens")
        return position

    def check_model(self, has_logits: bool, vocab_size: int) -> None:
        """Raise ValueError if this metric cannot be measured on a model (no logits, token id too large)."""
        if self.needs_logits and not has_logits:
            raise ValueError(f"the metric {self.kind!r} needs a language model; this model gives no logits")
        if self.kind == "embedding_distance" and has_logits:
            raise ValueError("embedding_distance is for sentence encoders; use kl or logit_difference")
        for token in (self.token_a, self.token_b):
            if token is not None and token >= vocab_size:
                raise ValueError(f"token id {token} is outside the vocabulary of {vocab_size}")

    def batch(
        self,
        hidden: torch.Tensor,
        logits: torch.Tensor | None,
        base_hidden: torch.Tensor,
        base_logits: torch.Tensor | None,
    ) -> torch.Tensor:
        """Return ``(B,)``: the metric of each output against the unmasked one.

        ``hidden (B, T, E)`` and ``base_hidden (1, T, E)``; ``logits (B, 1, V)`` and ``base_logits (1, 1, V)``
        are the logits at this metric's position only.
        """
        if self.kind == "embedding_distance":
            pooled = hidden.float().mean(dim=1)  # (B, E)
            base = base_hidden.float().mean(dim=1)  # (1, E)
            return 1.0 - torch.cosine_similarity(pooled, base, dim=-1)  # (B,)
        row = logits[:, 0].float()  # (B, V)
        if self.kind == "kl":
            log_p = torch.log_softmax(base_logits[:, 0].float(), dim=-1)  # (1, V) unmasked
            log_q = torch.log_softmax(row, dim=-1)  # (B, V) masked
            return (log_p.exp() * (log_p - log_q)).sum(dim=-1).clamp(min=0.0)  # (B,)
        return row[:, self.token_a] - row[:, self.token_b]  # (B,)

    def of_result(self, result: RunResult, baseline: RunResult) -> float:
        """Return the metric of one run against the unmasked run (the reference for a sweep cell)."""
        if self.kind == "embedding_distance":
            return 1.0 - float(torch.cosine_similarity(result.embedding, baseline.embedding, dim=0))
        position = self.resolve(result.logits.shape[0])
        picked = result.logits[None, position : position + 1]  # (1, 1, V)
        base = baseline.logits[None, position : position + 1]
        return float(self.batch(result.hidden[None], picked, baseline.hidden[None], base)[0])


def embedding_distance() -> Metric:
    """Return the metric 1 − cosine of the mean-pooled sentence embedding (encoders)."""
    return Metric("embedding_distance")


def kl_at(position: int = -1) -> Metric:
    """Return the metric KL(unmasked ‖ masked) of the predicted distribution at ``position`` (LMs)."""
    return Metric("kl", position)


def logit_difference(position: int, token_a: int, token_b: int) -> Metric:
    """Return the metric logit(token_a) − logit(token_b) at ``position`` (LMs)."""
    return Metric("logit_difference", position, token_a, token_b)


def from_dict(data: dict[str, Any]) -> Metric:
    """Return the metric a ``Metric.to_dict`` wrote."""
    return Metric(**data)
