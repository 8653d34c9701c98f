"""``check_finite``: a run with a NaN or an infinity anywhere is refused, naming the part that has it.

Tensors up to ``ONE_CHECK_NUMBERS`` numbers are summed as one first; a failure there must still name the right
one, a sum that overflows while every number is finite must pass, and large tensors are looked at alone.
Attention weights go wrong a row at a time (``test_attention``: a row is finite or NaN as a whole), so
they are spoiled here a row at a time.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from maskattn import MaskPlan, RunResult
from maskattn.results import ONE_CHECK_NUMBERS, check_finite

T, E, L, H = 4, 8, 2, 3


def finite_result(num_tokens: int = T) -> RunResult:
    tokens = [f"t{i}" for i in range(num_tokens)]
    attentions = torch.full((L, H, num_tokens, num_tokens), 1.0 / num_tokens)
    return RunResult(
        tokens,
        tokens,
        attentions,
        torch.randn(num_tokens, E),
        0,
        MaskPlan(),
        0.1,
        embedding=torch.randn(E),
        embedding_cosine=0.9,
        token_change=torch.rand(num_tokens),
        stack_attentions={"encoder": attentions},
    )


def spoiled(result: RunResult, part: str, value: float) -> RunResult:
    """Return ``result`` with one number of ``part`` set to ``value`` (a copy: the original is left alone);
    of the attentions, one row (layer 0, head 1, query 1), as a softmax that meets such a number leaves it."""
    tensor = getattr(result, part).clone()
    changes = {part: tensor}
    if part == "attentions":
        tensor[0, 1, 1] = value
        changes["stack_attentions"] = {"encoder": tensor}
    else:
        tensor.view(-1)[1] = value
    return replace(result, **changes)


def test_a_finite_run_passes():
    result = finite_result()
    assert check_finite(result) is result


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize(
    ("part", "name"),
    [
        ("attentions", "attentions"),
        ("hidden", "hidden states"),
        ("token_change", "token changes"),
        ("embedding", "embedding"),
    ],
)
@pytest.mark.parametrize("num_tokens", [T, 128], ids=["small", "attentions-alone"])
def test_a_number_that_is_not_finite_is_refused_by_name(part, name, value, num_tokens):
    result = finite_result(num_tokens)
    if num_tokens == 128:  # at this length the attentions are too large to join the one sum
        assert result.attentions.numel() > ONE_CHECK_NUMBERS
    with pytest.raises(ValueError, match=f"^the run's {name} are not finite"):
        check_finite(spoiled(result, part, value))


def test_finite_numbers_whose_sum_overflows_pass():
    # Each number is finite, their sum is not: the one-sum check must look again, not refuse.
    big = torch.finfo(torch.float32).max
    result = finite_result()
    result = replace(result, hidden=torch.full((T, E), big), embedding=torch.full((E,), big))
    assert check_finite(result) is result


def test_layers_known_finite_are_not_looked_at_again():
    result = spoiled(finite_result(), "attentions", float("nan"))  # the NaN is in layer 0
    assert check_finite(result, checked_layers=1) is result
    with pytest.raises(ValueError, match="attentions are not finite"):
        check_finite(result)
