"""AppTest helpers: the app script and a runner that fails on any exception shown in the page."""

from pathlib import Path

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
