"""The seed document's masked multi-head attention example, with its mistakes fixed, on maskattn's module.

Run it with ``python examples/seed_example.py``; import ``run_seed_example`` to get the tensors.

The seed builds num_heads=2, d_model=512, d_k=d_v=64, dropout=0.1, feeds random (10, 20, 512)
query/key/value and the mask ``mask = torch.zeros(10, 20, 20, dtype=torch.bool); mask[0, 2:5] = True``, in
which True means **blocked** (PyTorch ``nn.MultiheadAttention``'s polarity). maskattn speaks one polarity,
True = **may attend**, so the seed's mask is converted once, here, at the edge: ``allow = ~mask``. In batch
item 0, queries 2–4 then may attend to no key at all: their weights are 0 and the heads add nothing, so their
output is just the output projection's bias: a defined result, never NaN.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    # Run as a script (python examples/seed_example.py): make this repository's maskattn importable.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from maskattn.attention import MaskedMultiheadAttention

NUM_HEADS = 2
D_MODEL = 512
D_K = 64
D_V = 64
DROPOUT = 0.1
BATCH = 10
SEQUENCE = 20
BLOCKED_ITEM = 0  # the seed's mask[0, 2:5] = True: batch item 0 …
BLOCKED_QUERIES = (2, 3, 4)  # … queries 2, 3 and 4 may attend nothing

EXPLANATION = (
    "The seed's mask says True = blocked; ours says True = may attend, so allow = ~mask. "
    f"In batch item {BLOCKED_ITEM}, queries {BLOCKED_QUERIES[0]}–{BLOCKED_QUERIES[-1]} may attend to no key: "
    "their attention weights are 0 (not NaN), the heads contribute 0, and their output equals the output "
    "projection's bias. Every other query row's weights sum to 1."
)


def seed_blocked_mask() -> torch.Tensor:
    """Return the seed's ``(10, 20, 20)`` mask in the seed's own polarity: True = blocked."""
    mask = torch.zeros(BATCH, SEQUENCE, SEQUENCE, dtype=torch.bool)
    mask[BLOCKED_ITEM, BLOCKED_QUERIES[0] : BLOCKED_QUERIES[-1] + 1] = True
    return mask


def run_seed_example(seed: int = 0, *, training: bool = False) -> dict[str, Any]:
    """Return the seed example's module, inputs, masks and results, reproducible by ``seed``.

    Keys: ``module`` (MaskedMultiheadAttention), ``query``/``key``/``value`` (B, T, d_model), ``blocked`` (the
    seed's mask, True = blocked, (B, T, T)), ``allow`` (ours, True = may attend), ``out`` (B, T, d_model),
    ``weights`` (B, H, T, T), ``blocked_item`` and ``blocked_queries`` (where every key is blocked),
    ``training`` (dropout on when True, as in the seed, which never calls ``.eval()``), ``explanation``.
    The caller's global random state is left as it was.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        module = MaskedMultiheadAttention(D_MODEL, NUM_HEADS, d_k=D_K, d_v=D_V, dropout=DROPOUT)
        module.train(training)
        query = torch.randn(BATCH, SEQUENCE, D_MODEL)
        key = torch.randn(BATCH, SEQUENCE, D_MODEL)
        value = torch.randn(BATCH, SEQUENCE, D_MODEL)
        blocked = seed_blocked_mask()
        allow = ~blocked  # the one polarity conversion: seed's True = blocked → our True = may attend
        with torch.no_grad():
            out, weights = module(query, key, value, allow)  # (B, T, d_model), (B, H, T, T)
    return {
        "module": module,
        "query": query,
        "key": key,
        "value": value,
        "blocked": blocked,
        "allow": allow,
        "out": out,
        "weights": weights,
        "blocked_item": BLOCKED_ITEM,
        "blocked_queries": BLOCKED_QUERIES,
        "training": training,
        "explanation": EXPLANATION,
    }


def main() -> None:
    """Print the example's shapes, what happens to the fully blocked rows, and why."""
    result = run_seed_example()
    out, weights, module = result["out"], result["weights"], result["module"]
    item, rows = result["blocked_item"], list(result["blocked_queries"])
    print(f"query, key, value: {tuple(result['query'].shape)}  (batch, sequence, d_model)")
    print(f"seed's mask (True = blocked): {tuple(result['blocked'].shape)}; ours: allow = ~mask")
    print(f"out:     {tuple(out.shape)}  (batch, sequence, d_model)")
    print(f"weights: {tuple(weights.shape)}  (batch, heads, queries, keys)")
    blocked_weight_sum = weights[item, :, rows].sum().item()
    equals_bias = torch.allclose(out[item, rows], module.w_o.bias.detach().expand(len(rows), -1))
    print(f"batch item {item}, queries {rows}: weights sum to {blocked_weight_sum:.1f}; ", end="")
    print(f"output == bias: {equals_bias}")
    print(f"any NaN: {bool(out.isnan().any() or weights.isnan().any())}")
    print()
    print(result["explanation"])


if __name__ == "__main__":
    main()
