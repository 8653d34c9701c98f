"""Files the Explorer offers for download, built only when asked for. Pure: no Streamlit."""

from __future__ import annotations

import io

import numpy as np

from maskattn import RunResult


def attentions_npz(result: RunResult) -> bytes:
    """Return the run's attentions, tokens and plan as a compressed ``.npz`` that loads without pickle.

    Only plain arrays go in (float32, unicode strings), so ``np.load(..., allow_pickle=False)`` reads it: a
    downloaded file can be opened without trusting whoever made it.
    """
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        attentions=result.attentions.numpy(),
        tokens=np.array(result.tokens, dtype=str),
        plan_json=np.array(result.plan.to_json(), dtype=str),
    )
    return buffer.getvalue()
