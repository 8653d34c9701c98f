"""Head-type detectors on constructed attention patterns: each planted head is found, and only by its type."""

from __future__ import annotations

import math

import pytest
import torch

from maskattn import head_types
from maskattn.head_types import TYPES, score_heads

T = 16
PERIOD = 7  # the probe: tokens 1…7 repeated, after a first token 0
IDS = torch.tensor([0, *range(10, 10 + PERIOD), *range(10, 10 + PERIOD), 99])  # (T,): 99 is the delimiter


def pattern(cells: list[tuple[int, int]], fallback: str = "self") -> torch.Tensor:
    """Return ``(T, T)`` weights: 1 at the given (query, key) cells; rows without one attend to themselves."""
    weights = torch.zeros(T, T)
    for q, k in cells:
        weights[q, k] = 1.0
    for q in range(T):
        if weights[q].sum() == 0:
            weights[q, q if fallback == "self" else 0] = 1.0
    return weights


def causal_uniform() -> torch.Tensor:
    allowed = torch.ones(T, T).tril()
    return allowed / allowed.sum(dim=-1, keepdim=True)  # (T, T)


PLANTED = {
    "previous_token": pattern([(q, q - 1) for q in range(1, T)]),
    "next_token": pattern([(q, q + 1) for q in range(T - 1)], fallback="first"),
    "self_token": pattern([(q, q) for q in range(T)]),
    "first_token": pattern([(q, 0) for q in range(T)]),
    "delimiter": pattern([(q, T - 1) for q in range(T)]),
    # earlier copy of the same token: query 1 + PERIOD + i looks at 1 + i
    "duplicate_token": pattern([(1 + PERIOD + i, 1 + i) for i in range(PERIOD)], fallback="first"),
    # the token after the earlier copy: query 1 + PERIOD + i looks at 2 + i
    "induction": pattern([(1 + PERIOD + i, 2 + i) for i in range(PERIOD)], fallback="first"),
}


def scores_of(weights: torch.Tensor, **kwargs) -> dict[str, float]:
    types = score_heads(weights[None, None], IDS, delimiter_ids=[99], **kwargs)
    return {name: float(types[name][0, 0]) for name in TYPES}


@pytest.mark.parametrize("planted", list(PLANTED))
def test_a_planted_head_scores_about_one_on_its_type(planted: str) -> None:
    scores = scores_of(PLANTED[planted])
    assert scores[planted] == pytest.approx(1.0, abs=1e-6)
    others = {name: s for name, s in scores.items() if name not in (planted, "broad")}
    assert scores["broad"] == pytest.approx(0.0, abs=1e-6)  # one key per row: no spread at all
    # Rows outside the planted stripe attend to themselves or to token 0, so those types get a share too.
    exempt = {"self_token", "first_token"}
    assert all(s < 0.5 for name, s in others.items() if name not in exempt), others


def test_a_uniform_head_scores_high_only_on_broad() -> None:
    uniform = torch.full((T, T), 1.0 / T)
    scores = scores_of(uniform)
    assert scores["broad"] == pytest.approx(1.0, abs=1e-6)
    assert all(s <= 1.0 / T + 1e-6 for name, s in scores.items() if name != "broad"), scores


def test_broad_divides_by_the_keys_a_query_may_attend_to() -> None:
    weights = causal_uniform()
    allowed = torch.ones(T, T, dtype=torch.bool).tril()
    assert scores_of(weights, allowed=allowed)["broad"] == pytest.approx(1.0, abs=1e-6)
    # Measured against all T keys, the early rows look narrow.
    expected = sum(math.log(q + 1) / math.log(T) for q in range(T)) / T
    assert scores_of(weights)["broad"] == pytest.approx(expected, abs=1e-5)


def test_an_induction_stripe_is_found_among_heads() -> None:
    heads = torch.stack([PLANTED[name] for name in ("previous_token", "induction", "duplicate_token")])
    attentions = torch.stack([heads, causal_uniform().expand(3, T, T)])  # (L=2, H=3, T, T)
    types = score_heads(attentions, IDS)
    assert types.top("induction")[:2] == (0, 1)
    assert types.top("duplicate_token")[:2] == (0, 2)
    assert types.top("previous_token")[:2] == (0, 0)
    assert types["induction"].shape == (2, 3)
    assert bool(((types["induction"] >= 0) & (types["induction"] <= 1)).all())


def test_duplicate_and_induction_come_from_the_probe_when_given() -> None:
    text_ids = torch.arange(T)  # no repeats in the text: nothing to score on it
    attentions = PLANTED["induction"][None, None]
    on_text = score_heads(attentions, text_ids)
    assert float(on_text["induction"][0, 0]) == 0.0
    on_probe = score_heads(attentions, text_ids, probe=(attentions, IDS))
    assert float(on_probe["induction"][0, 0]) == pytest.approx(1.0)


def test_detectors_refuse_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match=r"\(L, H, T, T\)"):
        head_types.previous_token(torch.zeros(2, 3, 4, 5))
    with pytest.raises(ValueError, match="T=16 entries"):
        head_types.induction(PLANTED["induction"][None, None], torch.arange(5))


def test_scoring_is_vectorised_over_layers_and_heads() -> None:
    generator = torch.Generator().manual_seed(0)
    attentions = torch.softmax(torch.randn(3, 4, T, T, generator=generator), dim=-1)
    types = score_heads(attentions, IDS, delimiter_ids=[99])
    for name in TYPES:
        one_by_one = torch.tensor(
            [
                [
                    float(score_heads(attentions[i : i + 1, j : j + 1], IDS, delimiter_ids=[99])[name])
                    for j in range(4)
                ]
                for i in range(3)
            ]
        )
        torch.testing.assert_close(types[name], one_by_one)
