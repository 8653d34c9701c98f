"""Many users at once: sessions on ONE Streamlit server keep their masks apart and do not wait on each other.

The app shares the loaded models and the run cache between sessions (``st.cache_resource``) and keeps each
plan in the session's own state; these tests check that sharing never leaks one user's mask or results into
another's page, and that a slow run in one session leaves the others responsive. Screenshots go to
``artifacts/screenshots/sessions-*.png``.
"""

from __future__ import annotations

import time
from urllib.parse import parse_qs, quote, urlparse

import numpy as np
import pytest

from tests.e2e.conftest import VIEWPORT
from tests.e2e.painter_driver import PainterDriver
from tests.e2e.test_explorer import (
    APP,
    ATOL,
    HEADS,
    LAYERS,
    LOAD_TIMEOUT_S,
    UPDATE_TIMEOUT_S,
    Explorer,
    renormalised,
)
from tests.model_folders import save_gpt2_folder

pytestmark = pytest.mark.slow

# Each page logs its painter's acknowledged gesture revision (``data-ack``, rewritten on every draw) with the
# wall-clock ms (both pages share the machine's clock): an edit is in flight from its click until the painter
# shows that the server took it in. Not the script-run state: a quick rerun's running → notRunning can reach
# the DOM in one render, so no change at all (a busy run once logged none).
_ACK_LOG_JS = """
(root) => {
  window.__acks = [];
  new MutationObserver(() => window.__acks.push([Number(root.dataset.ack), Date.now()]))
    .observe(root, {attributes: true, attributeFilter: ['data-ack']});
}
"""

_TAKE_ACK_LOG_JS = "() => window.__acks.splice(0)"

SPINNER = "[data-testid='stSpinner']"


class Session(Explorer):
    """The Explorer in one browser context (so one Streamlit session), opened at a full address."""

    def __init__(self, page, address: str, focus: tuple[int, int] = (0, 0)) -> None:
        self.page = page
        self.focus = focus
        self.errors: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        page.goto(address)
        self.driver = PainterDriver(page, "ex_token_painter", timeout_ms=UPDATE_TIMEOUT_S * 1000)
        self.painter, self.canvas = self.driver.root, self.driver.canvas
        self.painter.wait_for(timeout=LOAD_TIMEOUT_S * 1000)
        self.canvas.wait_for(timeout=UPDATE_TIMEOUT_S * 1000)
        self.idle(LOAD_TIMEOUT_S)

    def text(self) -> str:
        return self.page.locator(".st-key-ex_text textarea").input_value()

    def cell_point(self, row: int, col: int) -> tuple[float, float]:
        """Return where to click cell (row, col) of the painter, once the painter stopped moving."""
        return self.driver.cell_point(row, col)

    def check_shows_only(self, text: str, blocked: np.ndarray, unmasked: np.ndarray, foreign: list) -> None:
        """Check the painter, the address bar and the focus heatmap show this session's mask and nothing else.

        ``unmasked`` is the focused head before any edit; ``foreign`` lists the other session's cells, which
        must be neither painted here nor missing weight here.
        """
        layer, head = self.focus
        self.wait_painted(blocked)
        shown = self.wait_heatmap_blocked(blocked)
        assert f"Layer {layer} · head {head}" in shown["title"]
        np.testing.assert_allclose(
            shown["weights"], renormalised(unmasked, blocked), atol=ATOL, equal_nan=True
        )
        for row, col in foreign:
            assert shown["weights"][row, col] > 0, (
                f"the other session's cell {(row, col)} lost its weight here"
            )
        assert self.text() == text and self.link_text() == text

        compiled = self.link_plan().compile(LAYERS, HEADS, blocked.shape[0])
        masked = {i for i, mask in enumerate(compiled) if mask is not None and mask.allow is not None}
        assert masked == {layer}, f"the link masks layers {masked}, not only this session's layer {layer}"
        allow = compiled[layer].allow.numpy()
        assert np.array_equal(~allow[head], blocked), "the link holds exactly this session's painted cells"
        assert allow[np.arange(HEADS) != head].all(), "the link masks no other head"


def open_tab_before_after(session: Session) -> np.ndarray:
    """Open the focused head's heatmap and return its unmasked weights."""
    session.tab("Before / after")
    rows, cols = session.shape
    return session.wait_heatmap_blocked(np.zeros((rows, cols), dtype=bool))["weights"]


def answered_at(log: list, rev: int) -> float:
    """Return the wall-clock ms at which a page's painter first showed gesture ``rev`` taken in."""
    times = [t for ack, t in log if ack >= rev]
    assert times, f"the painter never showed gesture {rev} taken in: {log}"
    return times[0]


@pytest.fixture(scope="module")
def app_url(streamlit_server) -> str:
    return streamlit_server(APP)


@pytest.fixture
def two_pages(chromium_browser):
    """Yield two pages in two browser contexts: two users, two Streamlit sessions."""
    contexts = [chromium_browser.new_context(viewport=VIEWPORT) for _ in range(2)]
    yield [context.new_page() for context in contexts]
    for context in contexts:
        context.close()


def test_two_sessions_painting_at_once_see_only_their_own_mask(two_pages, app_url, save_screenshot):
    text_a, text_b = "The cat sat on the mat.", "Paris is the capital of France."
    a = Session(two_pages[0], f"{app_url}/?text={quote(text_a)}")
    b = Session(two_pages[1], f"{app_url}/?text={quote(text_b)}&focus=2.3", focus=(2, 3))
    unmasked_a, unmasked_b = open_tab_before_after(a), open_tab_before_after(b)
    assert a.shape == b.shape, "equal shapes: a leaked plan would fit the other text, so it would show"
    for session in (a, b):
        session.painter.evaluate(_ACK_LOG_JS)

    # Each round both users paint one cell, the second click right after the first: both reruns overlap.
    cells_a, cells_b = [(2, 1), (4, 0), (6, 5)], [(3, 4), (1, 6), (5, 2)]
    blocked_a = np.zeros(a.shape, dtype=bool)
    blocked_b = np.zeros(b.shape, dtype=bool)
    overlapped = []
    for cell_a, cell_b in zip(cells_a, cells_b, strict=True):
        point_a, point_b = a.cell_point(*cell_a), b.cell_point(*cell_b)
        rev_a = int(a.painter.evaluate("(root) => root.dataset.rev")) + 1  # the gesture's revision
        a.page.mouse.click(*point_a)
        b.page.mouse.click(*point_b)
        b_sent = time.time() * 1000  # b's pointer-up is done: its gesture is on its way
        blocked_a[cell_a] = blocked_b[cell_b] = True
        a.check_shows_only(text_a, blocked_a, unmasked_a, foreign=cells_b)
        b.check_shows_only(text_b, blocked_b, unmasked_b, foreign=cells_a)
        # Both edits were in flight at once when b's gesture left before a's answer came back.
        overlapped.append(b_sent < answered_at(a.page.evaluate(_TAKE_ACK_LOG_JS), rev_a))
        b.page.evaluate(_TAKE_ACK_LOG_JS)
    assert any(overlapped), "b's edit never left before a's was answered: the test did not paint at once"

    save_screenshot(a.page, "sessions-a")
    save_screenshot(b.page, "sessions-b")
    a.assert_no_errors()
    b.assert_no_errors()


# A randomly initialised GPT-2 deep enough that one run of LONG_TEXT takes seconds on a small CPU: the
# Explorer's "Running the model…" spinner shows, and another session must be served meanwhile.
SLOW_LAYERS, SLOW_HEADS, SLOW_WIDTH = 48, 4, 768  # ~360 M parameters: under the default size limit
LONG_TEXT = " ".join(
    f"Line {i}: the quick brown fox jumps over the lazy dog by the river." for i in range(28)
)


def slow_model_folder(folder) -> str:
    """Save a deliberately slow but real causal LM (safetensors and the default tokenizer) in ``folder``."""
    save_gpt2_folder(folder, layers=SLOW_LAYERS, heads=SLOW_HEADS, width=SLOW_WIDTH, positions=512)
    return str(folder)


def test_a_slow_run_shows_a_spinner_and_does_not_hold_up_another_session(
    two_pages, app_url, tmp_path, save_screenshot
):
    text_b = "Paris is the capital of France."
    b = Session(two_pages[1], f"{app_url}/?text={quote(text_b)}")
    unmasked_b = open_tab_before_after(b)
    paint_b = b.cell_point(3, 4)  # B's page stays put from here on: measured now, clicked later
    model = slow_model_folder(tmp_path / "slow-gpt2")
    a = Session(two_pages[0], f"{app_url}/?model={quote(model)}&text={quote('A short warm-up.')}")
    assert model in a.page.locator("[data-testid='stCaptionContainer']", has_text="tokens").inner_text()

    # A new text is a run the cache has not seen: A's page shows the spinner until the slow model is done.
    running_a = a.page.locator(SPINNER, has_text="Running the model")
    field = a.page.locator(".st-key-ex_text textarea")
    field.fill(LONG_TEXT)
    field.press("Control+Enter")
    running_a.wait_for(timeout=UPDATE_TIMEOUT_S * 1000)
    spinner_seen = time.monotonic()

    # Meanwhile B paints a cell; its rerun must come back while A's run is still going.
    blocked_b = np.zeros(b.shape, dtype=bool)
    blocked_b[3, 4] = True
    b.page.mouse.click(*paint_b)
    b.check_shows_only(text_b, blocked_b, unmasked_b, foreign=[])
    b_done = time.monotonic() - spinner_seen
    assert running_a.is_visible(), (
        f"A's run ended before B's paint came back ({b_done:.1f} s after the spinner)"
    )

    running_a.wait_for(state="hidden", timeout=LOAD_TIMEOUT_S * 1000)
    a.idle(LOAD_TIMEOUT_S)
    for session in (a, b):
        assert session.page.locator("[data-testid='stException']").count() == 0
    assert a.text() == LONG_TEXT and a.link_text() == LONG_TEXT
    assert "plan" not in parse_qs(urlparse(a.page.url).query), "B's paint must not reach A's link"
    assert not a.painted().any(), "B's paint must not reach A's painter"

    save_screenshot(a.page, "sessions-slow-a")
    save_screenshot(b.page, "sessions-slow-b")
    a.assert_no_errors()
    b.assert_no_errors()
