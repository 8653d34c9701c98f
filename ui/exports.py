"""Files the Explorer offers for download, built only when asked for. Pure: no Streamlit import."""

from __future__ import annotations

import io

import numpy as np
import plotly.graph_objects as go

from maskattn import RunResult
from maskattn import figures as fig


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


def figure_html(figure: go.Figure) -> str:
    """Return ``figure`` as a standalone HTML page (plotly.js inlined), in the figures' own template.

    ``st.plotly_chart`` may leave Streamlit's plotly template on the figure; its placeholder colours
    ("#000038" = background) mean something only to Streamlit's front end, and exported as they are they
    would paint text and background near-black.
    """
    if figure.layout.template is not None and "#000038" in str(figure.layout.template.to_plotly_json()):
        figure = go.Figure(figure)
        figure.update_layout(template=fig.DEFAULT_THEME.template)
    return fig.figure_html(figure)
