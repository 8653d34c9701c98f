"""compare_semantics against plain softmax references, and its findings against the numbers they describe."""

from __future__ import annotations

import math

import pytest
import torch

from maskattn import masks
from maskattn.stepthrough import Finding, compare_semantics, random_inputs, seeded_module

T, E, H = 6, 24, 2


def reference_scores(module, x: torch.Tensor, head: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(scores (T, T), v (T, Dv))`` of ``head`` computed from the module's weights by hand."""
    d, dv = module.d_k, module.d_v
    q = (x[0] @ module.w_q.weight.T + module.w_q.bias)[:, head * d : (head + 1) * d]
    k = (x[0] @ module.w_k.weight.T + module.w_k.bias)[:, head * d : (head + 1) * d]
    v = (x[0] @ module.w_v.weight.T + module.w_v.bias)[:, head * dv : (head + 1) * dv]
    return q @ k.T / math.sqrt(d), v


def painted_allow() -> torch.Tensor:
    """Return causal allow with key 1 blocked everywhere and row 4 blocked entirely."""
    allow = masks.causal().dense(T)
    allow[:, 1] = False
    allow[4] = False
    return allow


@pytest.fixture
def setup():
    module = seeded_module(E, H, seed=3)
    x = random_inputs(T, E, seed=5)
    return module, x


@pytest.mark.parametrize("head", [0, 1])
def test_three_semantics_match_plain_softmax_references(setup, head):
    module, x = setup
    allow = painted_allow()
    result = compare_semantics(module, x, allow, head)
    scores, v = reference_scores(module, x, head)
    plain = torch.softmax(scores, dim=-1)
    open_rows = allow.any(dim=-1)
    correct = torch.zeros(T, T)
    correct[open_rows] = torch.softmax(scores.masked_fill(~allow, float("-inf"))[open_rows], dim=-1)
    with torch.no_grad():
        torch.testing.assert_close(result.weights["none"], plain, atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(result.weights["pre_softmax"], correct, atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(result.weights["post_softmax"], plain * allow, atol=1e-6, rtol=1e-5)
        for name in ("none", "pre_softmax", "post_softmax"):
            torch.testing.assert_close(
                result.head_outputs[name], result.weights[name] @ v, atol=1e-5, rtol=1e-5
            )


def test_row_sums_tell_the_semantics_apart(setup):
    module, x = setup
    allow = painted_allow()
    result = compare_semantics(module, x, allow, 0)
    partially_blocked = allow.any(dim=-1) & ~allow.all(dim=-1)
    assert torch.allclose(result.row_sums("none"), torch.ones(T))
    assert torch.allclose(result.row_sums("pre_softmax")[allow.any(dim=-1)], torch.ones(5))
    assert result.row_sums("pre_softmax")[4] == 0  # fully blocked: weights 0, never NaN
    assert (result.row_sums("post_softmax")[partially_blocked] < 1 - 1e-3).all()
    assert (result.head_outputs["pre_softmax"][4] == 0).all()


def test_findings_state_the_numbers(setup):
    module, x = setup
    allow = painted_allow()
    result = compare_semantics(module, x, allow, 1, limit=2)
    plain = result.weights["none"]
    kinds = [f.kind for f in result.findings]
    assert kinds[0] == "rows_sum_to_one"
    assert result.findings[0].count == 5 and result.findings[0].value < 1e-5

    row_sums = [f for f in result.findings if f.kind == "row_sum"]
    assert len(row_sums) == 2  # the limit
    wrong = result.row_sums("post_softmax")
    partial = [q for q in range(T) if allow[q].any() and not allow[q].all()]
    lowest = sorted(partial, key=lambda q: float(wrong[q]))[:2]
    assert [f.query for f in row_sums] == lowest
    for finding in row_sums:
        # The row keeps what its allowed keys had before zeroing: 1 minus the blocked keys' softmax mass.
        assert finding.value == pytest.approx(
            1 - float(plain[finding.query][~allow[finding.query]].sum()), abs=1e-5
        )

    masses = [f for f in result.findings if f.kind == "blocked_mass"]
    for finding in masses:
        blocked_keys = (~allow[finding.query]).nonzero().flatten().tolist()
        assert finding.key in blocked_keys
        assert finding.value == pytest.approx(float(plain[finding.query, blocked_keys].max()))
    assert [f.query for f in result.findings if f.kind == "fully_blocked"] == [4]


def test_nothing_blocked_is_said_once(setup):
    module, x = setup
    result = compare_semantics(module, x, torch.ones(T, T, dtype=torch.bool), 0)
    assert result.findings == [Finding("nothing_blocked")]
    assert torch.equal(result.weights["none"], result.weights["pre_softmax"])
    assert torch.equal(result.weights["none"], result.weights["post_softmax"])


def test_seeded_parts_are_reproducible_and_leave_the_global_generator_alone():
    state = torch.random.get_rng_state()
    a, b = seeded_module(E, H, seed=7), seeded_module(E, H, seed=7)
    assert torch.equal(a.w_q.weight, b.w_q.weight) and torch.equal(a.w_o.weight, b.w_o.weight)
    assert not torch.equal(a.w_q.weight, seeded_module(E, H, seed=8).w_q.weight)
    assert torch.equal(random_inputs(T, E, 1), random_inputs(T, E, 1))
    assert torch.equal(torch.random.get_rng_state(), state)
    # Variance-preserving weights: a projection keeps the input's scale (std near 1.25 for gain 1.25).
    inputs = random_inputs(512, 256, seed=1)[0]  # not the module's seed: the same draws would correlate
    with torch.no_grad():
        projected = seeded_module(256, 4, seed=2).w_q(inputs)
    assert 1.1 < float(projected.std()) < 1.4


@pytest.mark.parametrize(
    ("x_shape", "allow", "head"),
    [
        ((2, T, E), torch.ones(T, T, dtype=torch.bool), 0),
        ((1, T, E + 1), torch.ones(T, T, dtype=torch.bool), 0),
        ((1, T, E), torch.ones(T, T + 1, dtype=torch.bool), 0),
        ((1, T, E), torch.ones(T, T), 0),
        ((1, T, E), torch.ones(T, T, dtype=torch.bool), H),
        ((1, T, E), torch.ones(T, T, dtype=torch.bool), -1),
    ],
    ids=[
        "batch of 2",
        "wrong width",
        "allow not square",
        "allow not bool",
        "head too large",
        "negative head",
    ],
)
def test_bad_input_raises_value_error(x_shape, allow, head):
    with pytest.raises(ValueError):
        compare_semantics(seeded_module(E, H, 0), torch.zeros(x_shape), allow, head)


def test_seeded_module_rejects_bad_seeds():
    for seed in (-1, 1.5, True):
        with pytest.raises(ValueError):
            seeded_module(E, H, seed)
