"""The pages/ folder on a fresh server: a first request that deep-links to a page renders the whole app.

Streamlit runs a fresh server whose app has a top-level ``pages/`` folder in its older multipage mode until a
run calls ``st.navigation``, so a deep link as the very first request runs the page file without ``app.py``
(``ui/frame.py`` says how the app copes). Each case here starts its own server, so its first request is the
deep link, and checks the page has the shared sidebar, our navigation titles, and no error or "Page not
found".
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e import streamlit_server as server
from tests.e2e.browser import IDLE_JS
from ui.frame import PAGES

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[2]
LOAD_TIMEOUT_MS = 90_000  # a fresh server loads the model for its first page
NAV_TITLES = [p.title for p in PAGES]


@pytest.fixture
def fresh_server(tmp_path, request):
    """Return a server started for this test alone, so the test's request is the server's first.

    A failing test prints the end of the server's log: an exception on the page shows only our frames, the
    log has Streamlit's too (a "dictionary changed size during iteration" inside ``st.number_input`` once
    failed this test on a loaded machine, and its log was gone).
    """
    log = tmp_path / "streamlit.log"
    process, url = server.start(REPO_ROOT / "app.py", log, 120.0)
    failed_before = request.session.testsfailed
    yield url
    server.stop(process)
    if request.session.testsfailed > failed_before:  # pytest counts the failure before its teardown
        print(f"--- the end of the server's log ({log}):\n{log.read_text(errors='replace')[-6000:]}")


def assert_whole_app(page, heading: str) -> None:
    """Check the page shows ``heading``, the shared sidebar and our navigation, and no error or lost page."""
    page.locator("h1", has_text=heading).wait_for(timeout=LOAD_TIMEOUT_MS)  # Learn's title goes on
    page.wait_for_function(IDLE_JS, timeout=LOAD_TIMEOUT_MS)
    sidebar = page.locator('[data-testid="stSidebar"]')
    # Waits on conditions, as long as the page load may take on a busy machine (expect's default is 5 s).
    expect(sidebar.get_by_text("maskattn", exact=True)).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    expect(sidebar.get_by_text("Presentation mode", exact=True)).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    # Our navigation, titled; the icon's name comes first in each link's text.
    expect(sidebar.locator('[data-testid="stPageLink"]')).to_have_text(
        [re.compile(rf"{re.escape(t)}$") for t in NAV_TITLES], timeout=LOAD_TIMEOUT_MS
    )
    # Streamlit's own list of pages (file names such as "mask lab") stays hidden in both modes.
    expect(page.locator('[data-testid="stSidebarNav"]')).to_have_count(0)
    body = page.inner_text("body")
    assert "Page not found" not in body and "Running the app's main page" not in body, body[:2000]
    assert page.locator('[data-testid="stException"]').count() == 0, body[:2000]
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0, body[:2000]


@pytest.mark.parametrize(
    ("path", "heading"),
    [("", "Explorer"), ("explorer", "Explorer"), ("mask_lab", "Mask Lab"), ("learn", "Learn")],
)
def test_first_request_deep_link_renders_the_whole_app(fresh_server, page, path, heading):
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{fresh_server}/{path}")
    assert_whole_app(page, heading)
    # Our navigation works from there, in whichever mode the server is.
    target = "Learn" if heading != "Learn" else "Mask Lab"
    page.locator('[data-testid="stSidebar"] [data-testid="stPageLink"]').get_by_text(
        target, exact=True
    ).click()
    assert_whole_app(page, target)
    assert errors == []
