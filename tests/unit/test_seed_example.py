"""The seed document's example runs on our module, with the mistakes fixed (see shared/seeds/NOTES.md)."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from examples.seed_example import main, run_seed_example, seed_blocked_mask

REPO = Path(__file__).resolve().parents[2]
ROWS = [2, 3, 4]  # the seed's mask[0, 2:5] = True


@pytest.fixture(scope="module")
def eval_result():
    return run_seed_example(seed=0)


@pytest.fixture(scope="module", params=[False, True], ids=["eval", "train"])
def result(request, eval_result):
    return run_seed_example(seed=0, training=True) if request.param else eval_result


def test_seed_mask_is_converted_to_our_polarity(eval_result):
    seed_mask = torch.zeros(10, 20, 20, dtype=torch.bool)  # the seed's own lines, True = blocked
    seed_mask[0, 2:5] = True
    assert torch.equal(seed_blocked_mask(), seed_mask)
    assert torch.equal(eval_result["blocked"], seed_mask)
    allow = eval_result["allow"]
    assert torch.equal(allow, ~seed_mask)
    assert allow.sum().item() == 10 * 20 * 20 - 3 * 20  # only 3 rows of 20 keys are blocked


def test_shapes_and_configuration(result):
    module = result["module"]
    assert (module.num_heads, module.d_model, module.d_k, module.d_v, module.dropout) == (2, 512, 64, 64, 0.1)
    assert module.training == result["training"]
    assert result["query"].shape == result["key"].shape == result["value"].shape == (10, 20, 512)
    assert result["out"].shape == (10, 20, 512)
    assert result["weights"].shape == (10, 2, 20, 20)
    # The seed's fc maps d_v·heads → d_model; ours receives exactly that width.
    assert module.w_o.weight.shape == (512, 2 * 64)


def test_no_nan_anywhere(result):
    assert result["out"].isfinite().all() and result["weights"].isfinite().all()


def test_fully_blocked_rows_give_weights_zero_and_output_bias(result):
    weights, out, module = result["weights"], result["out"], result["module"]
    assert result["blocked_item"] == 0 and list(result["blocked_queries"]) == ROWS
    assert torch.all(weights[0, :, ROWS] == 0)
    # No head contributes, so only the output projection's bias remains (also with dropout: 0 stays 0).
    torch.testing.assert_close(out[0, ROWS], module.w_o.bias.detach().expand(len(ROWS), -1))


def test_other_rows_sum_to_one(result):
    sums = result["weights"].sum(-1)  # (B, H, T)
    open_rows = torch.ones(10, 20, dtype=torch.bool)
    open_rows[0, ROWS] = False
    torch.testing.assert_close(sums.permute(0, 2, 1)[open_rows], torch.ones(10 * 20 - 3, 2))


def test_only_the_blocked_rows_differ_from_an_unmasked_run(eval_result):
    result = eval_result  # eval mode: deterministic
    module = result["module"]
    with torch.no_grad():
        unmasked, _ = module(result["query"], result["key"], result["value"])
    differs = (result["out"] - unmasked).abs().amax(-1) > 1e-6  # (B, T)
    expected = torch.zeros(10, 20, dtype=torch.bool)
    expected[0, ROWS] = True
    assert torch.equal(differs, expected)


def test_reproducible_by_seed_and_leaves_global_rng_alone(eval_result):
    state = torch.get_rng_state()
    again = run_seed_example(seed=0)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(again["out"], eval_result["out"]) and torch.equal(
        again["weights"], eval_result["weights"]
    )
    assert not torch.equal(run_seed_example(seed=1)["out"], eval_result["out"])


def test_main_prints_shapes_and_explanation(capsys):
    main()
    printed = capsys.readouterr().out
    assert "out:     (10, 20, 512)" in printed
    assert "weights: (10, 2, 20, 20)" in printed
    assert "weights sum to 0.0; output == bias: True" in printed
    assert "any NaN: False" in printed
    assert "allow = ~mask" in printed


@pytest.mark.slow  # a fresh interpreter imports torch: seconds, not milliseconds
def test_runs_as_a_script_from_anywhere(tmp_path):
    script = REPO / "examples" / "seed_example.py"
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "weights sum to 0.0; output == bias: True" in done.stdout
