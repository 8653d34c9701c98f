"""masked_attention and MaskedMultiheadAttention against independent references.

References: ``torch.nn.functional.scaled_dot_product_attention`` (SDPA), an explicit softmax written here with
einsum, numbers computed by hand, and ``torch.nn.MultiheadAttention``. Our masks are **True = may attend**;
``nn.MultiheadAttention``'s boolean ``attn_mask`` is **True = blocked**, so it gets ``~allow``.

Shapes: B batch, H heads, Q/L queries, K/S keys, D query/key head dim, Dv value head dim, E d_model.
"""

import math
import re

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from maskattn import attention
from maskattn.attention import MODES, MaskedMultiheadAttention, expand_allow, masked_attention
from maskattn.masks import causal, padding_batch

B, H, Q, K, D = 2, 3, 5, 7, 8


def qkv(batch=B, heads=H, num_q=Q, num_k=K, dim=D, dim_v=None, dtype=torch.float64):
    """Return random ``q (B, H, Q, D)``, ``k (B, H, K, D)``, ``v (B, H, K, Dv)``."""
    dim_v = dim if dim_v is None else dim_v
    return (
        torch.randn(batch, heads, num_q, dim, dtype=dtype),
        torch.randn(batch, heads, num_k, dim, dtype=dtype),
        torch.randn(batch, heads, num_k, dim_v, dtype=dtype),
    )


def allow_without_blocked_rows(*shape: int, density: float = 0.5) -> torch.Tensor:
    """Return a random bool mask of ``shape`` where every row (last dim) allows at least one key."""
    allow = torch.rand(shape) < density
    one_key = torch.randint(shape[-1], (*shape[:-1], 1))
    return allow.scatter(-1, one_key, True)


def explicit_attention(q, k, v, allow=None, scale=None):
    """Return ``(out, weights)`` of softmax(q·kᵀ·scale, blocked = −∞)·v, without the code under test."""
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = torch.einsum("bhqd,bhkd->bhqk", q, k) * scale
    if allow is not None:
        scores = torch.where(allow, scores, torch.tensor(float("-inf"), dtype=scores.dtype))
    # Softmax by hand (not torch.softmax): shift by the row max, exponentiate, normalise.
    exp = (scores - scores.amax(-1, keepdim=True)).exp()
    weights = exp / exp.sum(-1, keepdim=True)
    return torch.einsum("bhqk,bhkv->bhqv", weights, v), weights


# ------------------------------------------------------------------------------------------------------------
# masked_attention vs SDPA and an explicit softmax
# ------------------------------------------------------------------------------------------------------------


def test_no_mask_matches_sdpa():
    q, k, v = qkv()
    out, weights = masked_attention(q, k, v)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v))
    torch.testing.assert_close(weights, explicit_attention(q, k, v)[1])
    assert out.shape == (B, H, Q, D) and weights.shape == (B, H, Q, K)


@pytest.mark.parametrize(
    "mask_shape",
    [(B, H, Q, K), (Q, K), (B, 1, Q, K), (1, H, 1, K), (1, 1, Q, K), (B, H, 1, K)],
    ids=str,
)
def test_random_masks_match_sdpa_and_explicit_softmax(mask_shape):
    q, k, v = qkv()
    allow = allow_without_blocked_rows(*mask_shape)
    out, weights = masked_attention(q, k, v, allow)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=allow))
    ref_out, ref_weights = explicit_attention(q, k, v, allow)
    torch.testing.assert_close(out, ref_out)
    torch.testing.assert_close(weights, ref_weights)
    full_allow = allow.expand(B, H, Q, K)
    assert torch.all(weights[~full_allow] == 0)  # exact zeros where blocked
    torch.testing.assert_close(weights.sum(-1), torch.ones(B, H, Q, dtype=weights.dtype))


@pytest.mark.parametrize("scale", [0.1, 1.0, 2.5])
def test_custom_scale_matches_sdpa(scale):
    q, k, v = qkv()
    allow = allow_without_blocked_rows(B, 1, Q, K)
    out, weights = masked_attention(q, k, v, allow, scale=scale)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=allow, scale=scale))
    torch.testing.assert_close(weights, explicit_attention(q, k, v, allow, scale=scale)[1])


@pytest.mark.parametrize(("num_q", "num_k", "dim", "dim_v"), [(3, 9, 4, 6), (9, 3, 6, 2), (1, 1, 5, 5)])
def test_q_ne_k_and_dv_ne_d_match_sdpa(num_q, num_k, dim, dim_v):
    q, k, v = qkv(num_q=num_q, num_k=num_k, dim=dim, dim_v=dim_v)
    allow = allow_without_blocked_rows(B, H, num_q, num_k)
    out, weights = masked_attention(q, k, v, allow)
    assert out.shape == (B, H, num_q, dim_v) and weights.shape == (B, H, num_q, num_k)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=allow))


def test_causal_preset_matches_sdpa_is_causal():
    q, k, v = qkv(num_q=6, num_k=6)
    out, _ = masked_attention(q, k, v, causal().dense(6))
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, is_causal=True))


def test_float32_matches_sdpa():
    q, k, v = qkv(dtype=torch.float32)
    allow = allow_without_blocked_rows(Q, K)
    out, weights = masked_attention(q, k, v, allow)
    assert out.dtype == weights.dtype == torch.float32
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=allow))


# ------------------------------------------------------------------------------------------------------------
# Hand-computed tiny case: 1 batch, 1 head, 2 queries, 2 keys, D = 1 (so the default scale 1/√D is 1)
# ------------------------------------------------------------------------------------------------------------
#   q = [[1], [0]],  k = [[0], [ln 3]],  v = [[4, 0], [0, 8]]
#   scores = q·kᵀ = [[0, ln 3], [0, 0]]
#   unmasked:  row 0 softmax([0, ln 3]) = [1, 3] / 4 = [1/4, 3/4]  → out = 1/4·[4, 0] + 3/4·[0, 8] = [1, 6]
#              row 1 softmax([0, 0])    = [1/2, 1/2]               → out = [2, 4]
#   allow = [[■, ■], [⬚, ■]]:
#       pre_softmax:  row 1 = softmax([−∞, 0]) = [0, 1]            → out = [0, 8]
#       post_softmax: row 1 = [1/2, 1/2] with key 0 zeroed = [0, 1/2] → out = [0, 4]   (row sums to 1/2)
#   allow = [[⬚, ⬚], [■, ■]]: row 0 attends nothing → weights [0, 0], out [0, 0]


def tiny():
    q = torch.tensor([[[[1.0], [0.0]]]], dtype=torch.float64)  # (1, 1, 2, 1)
    k = torch.tensor([[[[0.0], [math.log(3.0)]]]], dtype=torch.float64)  # (1, 1, 2, 1)
    v = torch.tensor([[[[4.0, 0.0], [0.0, 8.0]]]], dtype=torch.float64)  # (1, 1, 2, 2)
    return q, k, v


def as_tensor(rows):
    return torch.tensor([[rows]], dtype=torch.float64)


def test_tiny_unmasked_by_hand():
    out, weights = masked_attention(*tiny())
    torch.testing.assert_close(weights, as_tensor([[0.25, 0.75], [0.5, 0.5]]))
    torch.testing.assert_close(out, as_tensor([[1.0, 6.0], [2.0, 4.0]]))


def test_tiny_pre_softmax_by_hand():
    allow = torch.tensor([[True, True], [False, True]])
    out, weights = masked_attention(*tiny(), allow, mode="pre_softmax")
    torch.testing.assert_close(weights, as_tensor([[0.25, 0.75], [0.0, 1.0]]))
    torch.testing.assert_close(out, as_tensor([[1.0, 6.0], [0.0, 8.0]]))


def test_tiny_post_softmax_by_hand():
    allow = torch.tensor([[True, True], [False, True]])
    out, weights = masked_attention(*tiny(), allow, mode="post_softmax")
    torch.testing.assert_close(weights, as_tensor([[0.25, 0.75], [0.0, 0.5]]))
    torch.testing.assert_close(out, as_tensor([[1.0, 6.0], [0.0, 4.0]]))


def test_tiny_fully_blocked_row_by_hand():
    allow = torch.tensor([[False, False], [True, True]])
    for mode in MODES:
        out, weights = masked_attention(*tiny(), allow, mode=mode)
        torch.testing.assert_close(weights, as_tensor([[0.0, 0.0], [0.5, 0.5]]))
        torch.testing.assert_close(out, as_tensor([[0.0, 0.0], [2.0, 4.0]]))


# ------------------------------------------------------------------------------------------------------------
# Fully blocked rows: weights 0, out 0, never NaN, finite gradients
# ------------------------------------------------------------------------------------------------------------


@pytest.fixture(params=["from the mask", "from one column"])
def zeroing(request, monkeypatch):
    """Find fully blocked rows both ways: from ``allow`` (short texts) and from one weights column (long)."""
    monkeypatch.setattr(attention, "SMALL_WEIGHTS", 1 << 40 if request.param == "from the mask" else 0)


def blocked_rows_case():
    """Return q, k, v and a mask where (b=0, all heads, query 1) and (b=1, head 2, query 3) allow no key."""
    q, k, v = qkv()
    allow = allow_without_blocked_rows(B, H, Q, K)
    allow[0, :, 1] = False
    allow[1, 2, 3] = False
    blocked_rows = ~allow.any(-1)  # (B, H, Q)
    return q, k, v, allow, blocked_rows


@pytest.mark.usefixtures("zeroing")
@pytest.mark.parametrize("mode", MODES)
def test_fully_blocked_rows_give_zero_and_no_nan(mode):
    q, k, v, allow, blocked_rows = blocked_rows_case()
    out, weights = masked_attention(q, k, v, allow, mode=mode)
    assert not out.isnan().any() and not weights.isnan().any()
    assert torch.all(weights[blocked_rows] == 0) and torch.all(out[blocked_rows] == 0)
    assert blocked_rows.sum() == H + 1
    # The other rows are untouched by the blocked ones: they match SDPA on the same mask.
    if mode == "pre_softmax":
        ref = F.scaled_dot_product_attention(q, k, v, attn_mask=allow)
        torch.testing.assert_close(out[~blocked_rows], ref[~blocked_rows])
        torch.testing.assert_close(
            weights.sum(-1)[~blocked_rows], torch.ones_like(weights.sum(-1)[~blocked_rows])
        )


@pytest.mark.parametrize("mode", MODES)
def test_gradients_are_finite_through_fully_blocked_rows(mode):
    q, k, v, allow, blocked_rows = blocked_rows_case()
    q, k, v = (t.requires_grad_() for t in (q, k, v))
    out, weights = masked_attention(q, k, v, allow, mode=mode)
    (out.square().sum() + weights.sum()).backward()
    for t in (q, k, v):
        assert t.grad.isfinite().all()
    # A query that attends nothing has no influence on anything: its gradient is exactly 0.
    assert torch.all(q.grad[blocked_rows] == 0)
    assert q.grad[~blocked_rows].abs().sum() > 0


@pytest.mark.usefixtures("zeroing")
def test_a_nan_in_a_row_with_keys_left_stays_nan_while_blocked_rows_become_zero():
    # Both are NaN after the softmax; only the blocked row is defined as 0. An overflow (here an infinite
    # query) must stay visible, for a run to refuse it, and not pass for a head that attends nothing.
    q, k, v, allow, blocked_rows = blocked_rows_case()
    q[0, 0, 0] = float("inf")  # query 0 of head 0 keeps its keys: its scores are ±inf and NaN
    out, weights = masked_attention(q, k, v, allow)
    assert weights[0, 0, 0].isnan().all() and out[0, 0, 0].isnan().all()
    assert torch.all(weights[blocked_rows] == 0) and torch.all(out[blocked_rows] == 0)
    others = ~blocked_rows
    others[0, 0, 0] = False
    assert not weights[others].isnan().any()


@pytest.mark.usefixtures("zeroing")
@pytest.mark.parametrize("where", ["q", "k", "bias", "sinks"])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf"), 3e38], ids=str)
def test_a_row_of_weights_is_finite_or_nan_as_a_whole(where, value):
    # What lets a run's finiteness check read one weight per row: whatever number goes wrong in the scores,
    # the softmax spreads it over the whole row (one sum), and a row without keys is zeroed whole.
    generator = torch.Generator().manual_seed(3)
    saw_nan_rows = False
    for trial in range(12):
        q, k, v, allow, _ = blocked_rows_case()
        softcap = 5.0 if trial % 2 else None
        terms = {"bias": torch.randn(B, H, Q, K), "sinks": torch.randn(H), "softcap": softcap}
        target = {"q": q, "k": k}.get(where, terms.get(where))
        flat = target.view(-1)
        flat[torch.randint(flat.numel(), (1 + trial % 3,), generator=generator)] = value
        heads = slice(1, 3) if trial % 3 == 2 else None
        mask = allow[:, heads] if heads is not None else allow
        _, weights = masked_attention(q, k, v, mask, allow_heads=heads, **terms)
        finite_rows = weights.isfinite().all(-1)
        nan_rows = weights.isnan().all(-1)
        assert torch.all(finite_rows | nan_rows), (where, value, trial)
        saw_nan_rows |= bool(nan_rows.any())
    assert saw_nan_rows or not math.isnan(value)  # a NaN always reaches some row: the check has teeth


WEIGHTS_OUT_CASES = {
    "no mask": {},
    "mask with blocked rows": {"allow": "blocked"},
    "post_softmax": {"allow": "blocked", "mode": "post_softmax"},
    "softcap, bias and sinks": {"allow": "blocked", "softcap": 2.0, "bias": "bias", "sinks": "sinks"},
}


@pytest.mark.usefixtures("zeroing")
@pytest.mark.parametrize("case", WEIGHTS_OUT_CASES.values(), ids=WEIGHTS_OUT_CASES.keys())
def test_weights_written_into_weights_out_are_the_same_numbers(case):
    # The stacked path computes scores and softmax inside the caller's tensor: it must not change a bit.
    q, k, v, allow, blocked_rows = blocked_rows_case()
    kwargs = dict(case)
    if kwargs.get("allow") == "blocked":
        kwargs["allow"] = allow
    if kwargs.get("bias") == "bias":
        kwargs["bias"] = torch.randn(1, H, Q, K, dtype=q.dtype)
    if kwargs.get("sinks") == "sinks":
        kwargs["sinks"] = torch.randn(H, dtype=q.dtype)
    out_ref, weights_ref = masked_attention(q, k, v, **kwargs)
    stack = torch.full((3, B, H, Q, K), 7.0, dtype=q.dtype)  # a caller's stack; slot 1 is this layer's
    with torch.inference_mode():
        out, weights = masked_attention(q, k, v, weights_out=stack[1], **kwargs)
    assert weights.data_ptr() == stack[1].data_ptr()
    assert torch.equal(stack[1], weights_ref) and torch.equal(out, out_ref)
    assert torch.all(stack[0] == 7.0) and torch.all(stack[2] == 7.0)  # the other layers' slots untouched
    if set(case) <= {"allow"}:  # and against the independent softmax (its blocked rows are NaN)
        open_rows = ~blocked_rows if "allow" in case else torch.ones_like(blocked_rows)
        _, explicit = explicit_attention(q, k, v, kwargs.get("allow"))
        torch.testing.assert_close(stack[1][open_rows], explicit[open_rows])


@pytest.mark.usefixtures("zeroing")
def test_mask_blocking_everything_gives_all_zeros():
    q, k, v = qkv()
    out, weights = masked_attention(q, k, v, torch.zeros(Q, K, dtype=torch.bool))
    assert torch.all(out == 0) and torch.all(weights == 0)


# ------------------------------------------------------------------------------------------------------------
# allow_heads: a mask of a few heads is applied to those heads only
# ------------------------------------------------------------------------------------------------------------

HEAD_RANGES = {"first": slice(0, 1), "last two": slice(1, 3), "every head": slice(0, H), "none": slice(2, 2)}


def head_range_case(heads: slice):
    """Return q, k, v, the mask of ``heads`` (a row of its first head blocked) and that as a whole mask."""
    q, k, v = qkv()
    some = range(H)[heads]
    part = allow_without_blocked_rows(B, len(some), Q, K)
    if len(some):
        part[0, 0, 1] = False
    whole = torch.ones(B, H, Q, K, dtype=torch.bool)
    whole[:, heads] = part
    return q, k, v, part, whole


@pytest.mark.usefixtures("zeroing")
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("heads", HEAD_RANGES.values(), ids=HEAD_RANGES.keys())
def test_a_mask_of_a_range_of_heads_gives_the_numbers_of_the_whole_mask(mode, heads):
    q, k, v, part, whole = head_range_case(heads)
    out_whole, weights_whole = masked_attention(q, k, v, whole, mode=mode)
    out, weights = masked_attention(q, k, v, part, mode=mode, allow_heads=heads)
    assert torch.equal(out, out_whole) and torch.equal(weights, weights_whole)
    stack = torch.full((2, B, H, Q, K), 7.0, dtype=q.dtype)  # the stacked path: in place, on views
    with torch.inference_mode():
        out_into, _ = masked_attention(q, k, v, part, mode=mode, allow_heads=heads, weights_out=stack[0])
    assert torch.equal(stack[0], weights_whole) and torch.equal(out_into, out_whole)
    assert torch.all(stack[1] == 7.0)
    if mode == "pre_softmax":  # and against the explicit softmax on the whole mask, rows with keys
        _, explicit = explicit_attention(q, k, v, whole)
        open_rows = whole.any(-1)
        torch.testing.assert_close(weights[open_rows], explicit[open_rows])
        assert torch.all(weights[~open_rows] == 0)


@pytest.mark.parametrize("heads", HEAD_RANGES.values(), ids=HEAD_RANGES.keys())
def test_a_mask_of_a_range_of_heads_gives_the_gradients_of_the_whole_mask(heads):
    q, k, v, part, whole = head_range_case(heads)
    grads = []
    for allow, allow_heads in ((whole, None), (part, heads)):
        leaves = [t.clone().requires_grad_() for t in (q, k, v)]
        out, weights = masked_attention(*leaves, allow, allow_heads=allow_heads)
        (out.square().sum() + weights.sum()).backward()
        grads.append([t.grad for t in leaves])
    for mine, reference in zip(*grads, strict=True):
        assert torch.equal(mine, reference)


@pytest.mark.parametrize(
    ("allow_heads", "allow_shape", "message"),
    [
        (slice(0, 3, 2), (B, 2, Q, K), "step 1"),
        ([0, 1], (B, 2, Q, K), "slice"),
        (slice(0, 2), (B, 3, Q, K), "allow of allow_heads"),
    ],
    ids=["step-2", "a-list", "head-count"],
)
def test_a_wrong_head_range_is_refused(allow_heads, allow_shape, message):
    q, k, v = qkv()
    with pytest.raises(ValueError, match=message):
        masked_attention(q, k, v, torch.ones(allow_shape, dtype=torch.bool), allow_heads=allow_heads)


# ------------------------------------------------------------------------------------------------------------
# post_softmax: the seed's formula 2 (softmax first, blocked weights zeroed after)
# ------------------------------------------------------------------------------------------------------------


def test_post_softmax_equals_softmax_then_zero():
    q, k, v = qkv()
    allow = allow_without_blocked_rows(B, H, Q, K)
    out, weights = masked_attention(q, k, v, allow, mode="post_softmax")
    _, unmasked = explicit_attention(q, k, v)
    by_hand = unmasked * allow  # zero the blocked weights after the softmax
    torch.testing.assert_close(weights, by_hand)
    torch.testing.assert_close(out, torch.einsum("bhqk,bhkv->bhqv", by_hand, v))


def test_post_softmax_rows_sum_below_one_where_keys_are_blocked():
    q, k, v = qkv()
    allow = allow_without_blocked_rows(B, H, Q, K)
    allow[0, 0, 0] = True  # one row with nothing blocked
    _, weights = masked_attention(q, k, v, allow, mode="post_softmax")
    sums = weights.sum(-1)
    some_blocked = ~allow.all(-1)
    assert some_blocked.any()
    assert torch.all(sums[some_blocked] < 1 - 1e-9)
    torch.testing.assert_close(sums[~some_blocked], torch.ones_like(sums[~some_blocked]))
    # And it is a different operation from correct masking.
    pre_out, _ = masked_attention(q, k, v, allow)
    post_out, _ = masked_attention(q, k, v, allow, mode="post_softmax")
    assert not torch.allclose(pre_out, post_out)


def test_modes_agree_without_a_mask():
    q, k, v = qkv()
    pre = masked_attention(q, k, v, mode="pre_softmax")
    post = masked_attention(q, k, v, mode="post_softmax")
    torch.testing.assert_close(pre, post)


# ------------------------------------------------------------------------------------------------------------
# Dropout: applied to the weights multiplied with v; the returned weights are from before dropout
# ------------------------------------------------------------------------------------------------------------


def test_dropout_changes_out_but_returns_pre_dropout_weights():
    q, k, v = qkv()
    allow = allow_without_blocked_rows(B, 1, Q, K)
    clean_out, clean_weights = masked_attention(q, k, v, allow)

    torch.manual_seed(123)
    out, weights = masked_attention(q, k, v, allow, dropout_p=0.5)
    torch.testing.assert_close(weights, clean_weights)
    assert not torch.allclose(out, clean_out)

    # Same random stream: dropout of the reference weights (scaled by 1/(1−p)), then ·v, gives the same out.
    torch.manual_seed(123)
    expected = F.dropout(explicit_attention(q, k, v, allow)[1], p=0.5) @ v
    torch.testing.assert_close(out, expected)


# ------------------------------------------------------------------------------------------------------------
# Bad input: ValueError naming the shapes
# ------------------------------------------------------------------------------------------------------------


def _bad(q=None, k=None, v=None, allow=None, **kwargs):
    q0, k0, v0 = qkv(dtype=torch.float32)
    return lambda: masked_attention(
        q0 if q is None else q, k0 if k is None else k, v0 if v is None else v, allow, **kwargs
    )


BAD_ATTENTION = [
    pytest.param(_bad(q=torch.zeros(Q, D)), "must be 4-D", id="q-2d"),
    pytest.param(_bad(k=torch.zeros(B, K, D)), f"got {(B, H, Q, D)}, {(B, K, D)}", id="k-3d"),
    pytest.param(_bad(k=torch.zeros(B, H + 1, K, D)), f"k must be (B={B}, H={H}, K, D={D})", id="heads"),
    pytest.param(_bad(k=torch.zeros(B, H, K, D + 1)), f"got {(B, H, K, D + 1)}", id="k-dim"),
    pytest.param(_bad(k=torch.zeros(B + 1, H, K, D)), f"got {(B + 1, H, K, D)}", id="batch"),
    pytest.param(_bad(v=torch.zeros(B, H, K + 1, D)), f"v must be (B={B}, H={H}, K={K}, Dv)", id="v-len"),
    pytest.param(_bad(allow=torch.ones(Q, K)), "allow must be a bool tensor", id="float-mask"),
    pytest.param(_bad(allow=torch.ones(Q, K, dtype=torch.int64)), "got dtype torch.int64", id="int-mask"),
    pytest.param(
        _bad(allow=torch.ones(Q + 1, K, dtype=torch.bool)),
        f"allow of shape {(Q + 1, K)} does not broadcast to {(B, H, Q, K)}",
        id="mask-shape",
    ),
    pytest.param(
        _bad(allow=torch.ones(2, B, H, Q, K, dtype=torch.bool)),
        f"allow of shape {(2, B, H, Q, K)} would enlarge the scores {(B, H, Q, K)}",
        id="mask-5d",
    ),
    pytest.param(
        _bad(mode="after"), "mode must be one of ('pre_softmax', 'post_softmax'), got 'after'", id="mode"
    ),
    pytest.param(_bad(dropout_p=1.0), "dropout_p must be in [0, 1), got 1.0", id="dropout-1"),
    pytest.param(_bad(dropout_p=-0.1), "got -0.1", id="dropout-neg"),
    pytest.param(
        _bad(weights_out=torch.empty(B, H, Q, K + 1)),
        f"weights_out must be {(B, H, Q, K)} torch.float32, got {(B, H, Q, K + 1)} torch.float32",
        id="weights-out-shape",
    ),
    pytest.param(
        _bad(weights_out=torch.empty(B, H, Q, K, dtype=torch.float64)),
        f"got {(B, H, Q, K)} torch.float64",
        id="weights-out-dtype",
    ),
]


def test_the_mask_shape_check_agrees_with_torch_broadcast_shapes():
    # Our check is written out for speed; torch's own broadcasting rule is the reference, over every shape
    # of up to 5 dims from sizes 0, 1, 2, 3 against targets with a size-1 dim (where "enlarge" can hide a
    # mismatch) and without one.
    from itertools import product

    from maskattn.attention import _check_broadcast

    for target in [(2, 3, 1, 3), (1, 2, 3)]:
        for ndim in range(1, 6):
            for shape in product((0, 1, 2, 3), repeat=ndim):
                try:
                    expected = "" if torch.broadcast_shapes(shape, target) == target else "would enlarge"
                except RuntimeError:
                    expected = "does not broadcast"
                try:
                    _check_broadcast(torch.empty(shape, dtype=torch.bool), target, "allow")
                    got = ""
                except ValueError as err:
                    got = "would enlarge" if "would enlarge" in str(err) else "does not broadcast"
                assert got == expected, (shape, target)


@pytest.mark.parametrize(("call", "message"), BAD_ATTENTION)
def test_masked_attention_rejects_bad_input(call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call()


# ------------------------------------------------------------------------------------------------------------
# expand_allow: (L, S), (B, L, S), (B, H, L, S), size-1 dims broadcast
# ------------------------------------------------------------------------------------------------------------


def test_expand_allow_views():
    b, h, L, S = 2, 3, 4, 5
    assert expand_allow(None, b, h, L, S) is None
    two = torch.rand(L, S) < 0.5
    three = torch.rand(b, L, S) < 0.5
    four = torch.rand(b, h, L, S) < 0.5
    assert torch.equal(expand_allow(two, b, h, L, S).expand(b, h, L, S), two.expand(b, h, L, S))
    for bi in range(b):
        for hi in range(h):
            assert torch.equal(expand_allow(three, b, h, L, S).expand(b, h, L, S)[bi, hi], three[bi])
    assert torch.equal(expand_allow(four, b, h, L, S), four)
    pad = padding_batch([2, 5], S)  # (B, 1, 1, S): the library's own key-padding mask fits the module
    assert torch.equal(expand_allow(pad, b, h, L, S), pad)


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ((5, 5), "allow has shape (5, 5), expected (4, 5)"),
        ((3, 4, 5), "allow has shape (3, 4, 5), expected (2, 4, 5)"),
        ((2, 2, 4, 5), "allow has shape (2, 2, 4, 5), expected (2, 3, 4, 5)"),
        ((5,), "allow must be (L, S), (B, L, S) or (B, H, L, S), got (5,)"),
        ((1, 2, 3, 4, 5), "got (1, 2, 3, 4, 5)"),
    ],
)
def test_expand_allow_rejects_bad_shapes(shape, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        expand_allow(torch.ones(shape, dtype=torch.bool), 2, 3, 4, 5)


# ------------------------------------------------------------------------------------------------------------
# MaskedMultiheadAttention vs nn.MultiheadAttention(batch_first=True), weights copied by from_torch
# ------------------------------------------------------------------------------------------------------------

E, NH, L, S = 32, 4, 5, 7


def module_pair(bias=True):
    """Return ``(ours, torch_mha)``: the same weights, eval mode (no dropout)."""
    mha = nn.MultiheadAttention(E, NH, bias=bias, batch_first=True).eval()
    if bias:  # nn.MultiheadAttention starts its biases at 0; random ones make the bias copy observable
        with torch.no_grad():
            mha.in_proj_bias.normal_()
            mha.out_proj.bias.normal_()
    return MaskedMultiheadAttention.from_torch(mha).eval(), mha


def inputs(batch=B, num_q=L, num_k=S):
    return torch.randn(batch, num_q, E), torch.randn(batch, num_k, E), torch.randn(batch, num_k, E)


def torch_blocked_mask(allow: torch.Tensor) -> torch.Tensor:
    """Return our may-attend mask as nn.MultiheadAttention wants it: True = BLOCKED, (L, S) or (B·H, L, S)."""
    blocked = ~allow
    if allow.dim() == 2:
        return blocked  # (L, S)
    if allow.dim() == 3:
        blocked = blocked[:, None].expand(-1, NH, -1, -1)  # (B, H, L, S)
    return blocked.reshape(-1, *blocked.shape[-2:])  # (B·H, L, S), index b·H + h as torch lays heads out


def compare_with_torch(ours, mha, query, key, value, allow=None):
    out, weights = ours(query, key, value, allow)
    attn_mask = None if allow is None else torch_blocked_mask(allow)
    ref_out, ref_avg = mha(
        query, key, value, attn_mask=attn_mask, need_weights=True, average_attn_weights=True
    )
    _, ref_heads = mha(query, key, value, attn_mask=attn_mask, need_weights=True, average_attn_weights=False)
    torch.testing.assert_close(out, ref_out, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(weights.mean(dim=1), ref_avg, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(weights, ref_heads, atol=1e-5, rtol=1e-5)
    return out, weights


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
def test_module_no_mask_matches_torch(bias):
    ours, mha = module_pair(bias)
    assert (ours.w_q.bias is None) == (not bias) and (ours.w_o.bias is None) == (not bias)
    with torch.no_grad():
        compare_with_torch(ours, mha, *inputs())


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
@pytest.mark.parametrize("mask_shape", [(L, S), (B, L, S), (B, NH, L, S)], ids=["LS", "BLS", "BHLS"])
def test_module_masks_match_torch(mask_shape, bias):
    ours, mha = module_pair(bias)
    allow = allow_without_blocked_rows(*mask_shape)
    with torch.no_grad():
        compare_with_torch(ours, mha, *inputs(), allow)


def test_module_self_attention_with_causal_preset_matches_torch():
    ours, mha = module_pair()
    x = torch.randn(B, 6, E)
    with torch.no_grad():
        compare_with_torch(ours, mha, x, x, x, causal().dense(6))


def test_module_padding_batch_matches_torch_key_padding_mask():
    ours, mha = module_pair()
    query, key, value = inputs()
    allow = padding_batch([3, S], S)  # (B, 1, 1, S)
    with torch.no_grad():
        out, weights = ours(query, key, value, allow)
        # nn.MultiheadAttention's key_padding_mask is True = padding (blocked), shape (B, S).
        ref_out, ref_heads = mha(
            query, key, value, key_padding_mask=~allow[:, 0, 0], average_attn_weights=False
        )
    torch.testing.assert_close(out, ref_out, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(weights, ref_heads, atol=1e-5, rtol=1e-5)
    assert torch.all(weights[0, :, :, 3:] == 0)


def test_module_gradients_match_torch():
    ours, mha = module_pair()
    query, key, value = inputs()
    allow = allow_without_blocked_rows(B, L, S)
    ours(query, key, value, allow)[0].square().sum().backward()
    mha(query, key, value, attn_mask=torch_blocked_mask(allow))[0].square().sum().backward()
    w_q, w_k, w_v = mha.in_proj_weight.grad.chunk(3)
    torch.testing.assert_close(ours.w_q.weight.grad, w_q, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(ours.w_k.weight.grad, w_k, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(ours.w_v.weight.grad, w_v, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(ours.w_o.weight.grad, mha.out_proj.weight.grad, atol=1e-4, rtol=1e-4)


def test_module_fully_blocked_row_gives_output_bias():
    ours, _ = module_pair()
    query, key, value = inputs()
    allow = allow_without_blocked_rows(B, L, S)
    allow[1, 2] = False
    with torch.no_grad():
        out, weights = ours(query, key, value, allow)
    assert not out.isnan().any()
    assert torch.all(weights[1, :, 2] == 0)
    # The heads contribute 0 there, so only the output projection's bias is left.
    torch.testing.assert_close(out[1, 2], ours.w_o.bias)


def test_module_post_softmax_rows_sum_below_one():
    ours, _ = module_pair()
    allow = allow_without_blocked_rows(L, S)
    allow[0] = True
    with torch.no_grad():
        _, weights = ours(*inputs(), allow, mode="post_softmax")
    sums = weights.sum(-1)  # (B, H, L)
    assert torch.all(sums[:, :, 1:][~allow[1:].all(-1).expand(B, NH, -1)] < 1)
    torch.testing.assert_close(sums[:, :, 0], torch.ones(B, NH))


# ------------------------------------------------------------------------------------------------------------
# d_k / d_v honoured, against a per-head reference written from the module's own Linear weights
# ------------------------------------------------------------------------------------------------------------


def per_head_reference(m: MaskedMultiheadAttention, query, key, value, allow):
    """Return ``(out, weights)`` computed head by head from the module's weight tensors, plain torch ops."""
    dk, dv = m.d_k, m.d_v
    heads, weights = [], []
    for h in range(m.num_heads):
        rows_k = slice(h * dk, (h + 1) * dk)  # head h's rows of the query/key projections
        rows_v = slice(h * dv, (h + 1) * dv)
        q_h = query @ m.w_q.weight[rows_k].T + m.w_q.bias[rows_k]  # (B, L, dk)
        k_h = key @ m.w_k.weight[rows_k].T + m.w_k.bias[rows_k]  # (B, S, dk)
        v_h = value @ m.w_v.weight[rows_v].T + m.w_v.bias[rows_v]  # (B, S, dv)
        scores = q_h @ k_h.transpose(1, 2) / math.sqrt(dk)  # (B, L, S)
        scores = scores.masked_fill(~allow, float("-inf"))
        w = torch.softmax(scores, dim=-1)
        weights.append(w)
        heads.append(w @ v_h)  # (B, L, dv)
    concat = torch.cat(heads, dim=-1)  # (B, L, H·dv), head h in columns h·dv … (h+1)·dv
    return concat @ m.w_o.weight.T + m.w_o.bias, torch.stack(weights, dim=1)


def test_d_k_and_d_v_are_honoured():
    d_model, heads, d_k, d_v = 48, 4, 16, 8
    m = MaskedMultiheadAttention(d_model, heads, d_k=d_k, d_v=d_v).eval()
    assert (m.d_k, m.d_v) == (d_k, d_v)
    assert m.w_q.weight.shape == (heads * d_k, d_model) and m.w_q.bias.shape == (heads * d_k,)
    assert m.w_k.weight.shape == (heads * d_k, d_model)
    assert m.w_v.weight.shape == (heads * d_v, d_model)
    assert m.w_o.weight.shape == (d_model, heads * d_v) and m.w_o.bias.shape == (d_model,)

    batch, num_q, num_k = 3, 5, 6
    query = torch.randn(batch, num_q, d_model)
    key, value = torch.randn(batch, num_k, d_model), torch.randn(batch, num_k, d_model)
    allow = allow_without_blocked_rows(batch, num_q, num_k)
    with torch.no_grad():
        out, weights = m(query, key, value, allow)
        ref_out, ref_weights = per_head_reference(m, query, key, value, allow)
    assert out.shape == (batch, num_q, d_model) and weights.shape == (batch, heads, num_q, num_k)
    torch.testing.assert_close(out, ref_out, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(weights, ref_weights, atol=1e-5, rtol=1e-5)


def test_d_k_d_v_default_to_d_model_over_heads_and_allow_indivisible_d_model():
    m = MaskedMultiheadAttention(12, 3)
    assert (m.d_k, m.d_v) == (4, 4)
    odd = MaskedMultiheadAttention(10, 3, d_k=5, d_v=7)
    out, weights = odd(torch.randn(2, 4, 10), torch.randn(2, 6, 10), torch.randn(2, 6, 10))
    assert out.shape == (2, 4, 10) and weights.shape == (2, 3, 4, 6)


# ------------------------------------------------------------------------------------------------------------
# No hidden state, dropout in train mode, bad input
# ------------------------------------------------------------------------------------------------------------


def test_no_hidden_state_between_calls():
    ours, mha = module_pair()
    query, key, value = inputs()
    allow = allow_without_blocked_rows(B, L, S)
    with torch.no_grad():
        masked, _ = ours(query, key, value, allow)
        unmasked, weights = ours(query, key, value)
        ref_unmasked, _ = mha(query, key, value)
    torch.testing.assert_close(unmasked, ref_unmasked, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(masked, unmasked)
    assert torch.all(weights > 0)  # nothing blocked in the second call
    assert not any(
        isinstance(value, torch.Tensor) and value.dtype == torch.bool for value in vars(ours).values()
    )


def test_module_dropout_only_in_train_mode():
    m = MaskedMultiheadAttention(E, NH, dropout=0.5)
    query, key, value = inputs()
    m.eval()
    with torch.no_grad():
        a, wa = m(query, key, value)
        b, _ = m(query, key, value)
    torch.testing.assert_close(a, b)
    m.train()
    with torch.no_grad():
        c, wc = m(query, key, value)
    assert not torch.allclose(a, c)
    torch.testing.assert_close(wa, wc)  # weights are returned before dropout


def test_from_torch_copies_dropout_device_and_dtype():
    mha = nn.MultiheadAttention(E, NH, dropout=0.25, batch_first=True).double()
    ours = MaskedMultiheadAttention.from_torch(mha)
    assert ours.dropout == 0.25 and ours.w_q.weight.dtype == torch.float64
    torch.testing.assert_close(
        torch.cat([ours.w_q.weight, ours.w_k.weight, ours.w_v.weight]), mha.in_proj_weight
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kdim": 16}, "kdim and vdim equal embed_dim"),
        ({"add_bias_kv": True}, "add_bias_kv or add_zero_attn"),
        ({"add_zero_attn": True}, "add_bias_kv or add_zero_attn"),
    ],
)
def test_from_torch_rejects_what_it_cannot_copy(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        MaskedMultiheadAttention.from_torch(nn.MultiheadAttention(E, NH, batch_first=True, **kwargs))


BAD_MODULE_CALLS = [
    pytest.param((torch.zeros(L, E), torch.zeros(B, S, E), torch.zeros(B, S, E)), "batch-first", id="2d"),
    pytest.param(
        (torch.zeros(B, L, E + 1), torch.zeros(B, S, E), torch.zeros(B, S, E)),
        f"expected query (B, L, {E})",
        id="query-width",
    ),
    pytest.param(
        (torch.zeros(B, L, E), torch.zeros(B, S, E), torch.zeros(B, S + 1, E)),
        f"got {(B, L, E)}, {(B, S, E)}, {(B, S + 1, E)}",
        id="value-length",
    ),
    pytest.param(
        (torch.zeros(B, L, E), torch.zeros(B + 1, S, E), torch.zeros(B + 1, S, E)),
        "with the same B",
        id="batch",
    ),
    pytest.param(
        (
            torch.zeros(B, L, E),
            torch.zeros(B, S, E),
            torch.zeros(B, S, E),
            torch.ones(L + 1, S, dtype=torch.bool),
        ),
        f"allow has shape {(L + 1, S)}, expected {(L, S)}",
        id="mask-LS",
    ),
    pytest.param(
        (
            torch.zeros(B, L, E),
            torch.zeros(B, S, E),
            torch.zeros(B, S, E),
            torch.ones(B, NH + 1, L, S).bool(),
        ),
        f"expected {(B, NH, L, S)}",
        id="mask-BHLS",
    ),
    pytest.param(
        (torch.zeros(B, L, E), torch.zeros(B, S, E), torch.zeros(B, S, E), torch.ones(L, S)),
        "allow must be a bool tensor",
        id="mask-float",
    ),
]


@pytest.mark.parametrize(("args", "message"), BAD_MODULE_CALLS)
def test_module_rejects_bad_input(args, message):
    m = MaskedMultiheadAttention(E, NH)
    with pytest.raises(ValueError, match=re.escape(message)):
        m(*args)


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((10, 3), {}, "d_model 10 is not divisible by num_heads 3; pass d_k and d_v"),
        ((0, 2), {}, "d_model must be a positive integer, got 0"),
        ((8, -1), {}, "num_heads must be a positive integer, got -1"),
        ((8, 2), {"d_k": 0}, "d_k must be a positive integer, got 0"),
        ((8, 2), {"d_v": 2.5}, "d_v must be a positive integer, got 2.5"),
        ((8, 2), {"dropout": 1.5}, "dropout must be in [0, 1), got 1.5"),
    ],
)
def test_module_constructor_rejects_bad_sizes(args, kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        MaskedMultiheadAttention(*args, **kwargs)
