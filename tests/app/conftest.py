"""AppTest helpers: the app script, a check that no traceback reached the page, readers of what it shows."""

import base64
import json
from pathlib import Path

import numpy as np
import plotly.io as pio
import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "app.py")


@pytest.fixture
def app() -> AppTest:
    """Return the app (not yet run), with a generous timeout for the first model load."""
    return AppTest.from_file(APP, default_timeout=120)


def no_exceptions(at: AppTest) -> AppTest:
    """Return ``at`` after checking that no traceback reached the page."""
    assert not at.exception, [e.value for e in at.exception]
    return at


def caption_text(at) -> str:
    return "\n".join(c.value for c in at.caption)


def component_data(at, key: str) -> dict:
    """Return the data the custom component ``key`` (a painter, the head overview) sent to the browser."""
    (component,) = [c for c in at.get("bidi_component") if c.proto.id.endswith(f"-{key}")]
    return json.loads(component.proto.json)


def plotly_figure(at, key: str):
    """Return the plotly figure that the chart ``key`` sent to the browser."""
    (chart,) = [c for c in at.get("plotly_chart") if c.proto.id and key in c.proto.id]
    return pio.from_json(chart.proto.spec)


def heatmap_values(trace) -> np.ndarray:
    """Return a heatmap trace's z as an array (plotly 7 ships numpy arrays as typed base64)."""
    z = trace.z
    if isinstance(z, dict):
        flat = np.frombuffer(base64.b64decode(z["bdata"]), dtype=z["dtype"])
        shape = [int(x) for x in str(z.get("shape", flat.size)).split(",")]
        return flat.reshape(shape).astype(float)
    return np.asarray(z, dtype=float)


def open_tab(at, label: str):
    """Return ``at`` rerun with the tab ``label`` open (only the open tab is built)."""
    at.session_state["ex_tab"] = label
    return no_exceptions(at.run())
