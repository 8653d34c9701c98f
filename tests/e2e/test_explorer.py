"""The Explorer page of the real app driven in headless Chromium: paint, label clicks, presets, gates, focus.

Each check reads what the browser shows (the painter's ``data-blocked``, the plotly data of the focused
head's heatmap, the address bar) and compares it with a reference computed here with numpy from the weights
the page showed before the edit. Every edit here masks the focused head only, and a head's input does not
depend on masks in its own layer, so a masked row must be exactly the unmasked row with the blocked keys
removed and renormalised. Screenshots of every step go to ``artifacts/screenshots/explorer-*.png``.

The app is loaded as ``/?text=...``: the Explorer is the default page, so it lives at the root.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, quote, urlparse
from xml.etree import ElementTree

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from maskattn import MaskPlan
from maskattn.figures import PRESENTATION_THEME
from tests.e2e.browser import IDLE_JS, poll, wait_still
from tests.e2e.painter_driver import PainterDriver
from ui.share import unpack_plan

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[2]
APP = REPO_ROOT / "app.py"
TEXT = "The cat sat on the mat."
LOAD_TIMEOUT_S = 90.0  # the first session of a server loads the model
UPDATE_TIMEOUT_S = 20.0
ATOL = 1e-4  # float32 weights; masked and unmasked runs may take different attention kernels
LAYERS, HEADS = 6, 12  # the bundled all-MiniLM-L6-v2


# Plotly keeps the decoded traces in _fullData; NaN (a blocked cell) does not survive JSON, so send null.
_HEATMAP_JS = """
(key) => {
  const gd = document.querySelector(`.st-key-${key} .js-plotly-plot`);
  if (!gd || !gd._fullData) return null;
  const grab = (name) => {
    const trace = gd._fullData.find((t) => t.name === name);
    return trace ? Array.from(trace.z, (row) => Array.from(row, (v) => (Number.isNaN(v) ? null : v))) : null;
  };
  // Blocked cells are drawn by kind ('blocked' painted here, 'blocked by a rule', ...): one overlay of all.
  const kinds = gd._fullData.filter((t) => t.type === 'heatmap' && t.name.startsWith('blocked'));
  const layers = kinds.map((t) => grab(t.name));
  const first = (i, j) => layers.map((g) => g[i][j]).find((x) => x !== null) ?? null;
  const blocked = layers.length === 0 ? null : layers[0].map((row, i) => row.map((v, j) => first(i, j)));
  return { weights: grab('weights'), blocked, title: gd._fullLayout.title.text };
}
"""

# Streamlit scrolls its main area, not the document.
_PAGE_HEIGHT_JS = """
() => {
  const main = document.querySelector('[data-testid="stMain"]');
  return Math.ceil(main ? main.scrollHeight : document.documentElement.scrollHeight);
}
"""

# How wide each chart was built, how wide plotly drew it, and how wide the column around it is.
_FIT_JS = """
(key) => {
  const gd = document.querySelector(`.st-key-${key} .js-plotly-plot`);
  const column = gd && gd.closest('[data-testid="stColumn"]');
  if (!gd || !column) return null;
  return { built: gd.layout.width, drawn: gd._fullLayout.width, shown: gd.getBoundingClientRect().width,
           column: column.getBoundingClientRect().width };
}
"""


# What sticks out past the window's right edge: the outermost such elements of the main area.
_OVERFLOW_JS = """
() => {
  const edge = document.documentElement.clientWidth + 1;
  return Array.from(document.querySelectorAll('[data-testid="stMain"] *'))
    .filter((el) => el.getBoundingClientRect().right > edge && el.getBoundingClientRect().width > 0)
    .filter((el) => el.parentElement.getBoundingClientRect().right <= edge)
    .map((el) => `${el.tagName} ${el.dataset.testid} ${Math.round(el.getBoundingClientRect().right)}`);
}
"""


def wait_until(
    page, read: Callable[[], object], ok: Callable[[object], bool], what: str, timeout=UPDATE_TIMEOUT_S
):
    """Return ``read()`` once ``ok`` accepts it (read again each animation frame of ``page``)."""
    return poll(page, read, ok, what, timeout)


def settled_box(locator, timeout: float = UPDATE_TIMEOUT_S) -> dict:
    """Return the locator's bounding box once the page holds still (an expander opening, a reflow)."""
    locator.scroll_into_view_if_needed()
    wait_still(locator.page, timeout * 1000)
    return locator.bounding_box()


def nan_grid(rows: list[list[float | None]] | None) -> np.ndarray | None:
    return None if rows is None else np.array([[np.nan if v is None else v for v in r] for r in rows], float)


def renormalised(weights: np.ndarray, blocked: np.ndarray) -> np.ndarray:
    """Return each row of ``weights`` over its unblocked keys, rescaled to sum 1 (NaN where blocked)."""
    kept = np.where(blocked, 0.0, weights)
    return np.where(blocked, np.nan, kept / kept.sum(axis=1, keepdims=True))


class Explorer:
    """The Explorer page in one browser session: its controls, and what it shows."""

    def __init__(self, page, base_url: str, text: str = TEXT) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        page.goto(f"{base_url}/?text={quote(text)}")
        self.driver = PainterDriver(page, "ex_token_painter", timeout_ms=UPDATE_TIMEOUT_S * 1000)
        self.painter, self.canvas = self.driver.root, self.driver.canvas
        self.painter.wait_for(timeout=LOAD_TIMEOUT_S * 1000)
        self.canvas.wait_for(timeout=UPDATE_TIMEOUT_S * 1000)
        self.idle(LOAD_TIMEOUT_S)

    # -- waiting and reading -------------------------------------------------------------------------------

    def idle(self, timeout: float = UPDATE_TIMEOUT_S) -> None:
        """Wait until Streamlit has no script run going."""
        self.page.wait_for_function(IDLE_JS, timeout=timeout * 1000)

    @property
    def shape(self) -> tuple[int, int]:
        return self.driver.shape

    def painted(self) -> np.ndarray:
        """Return the (T, T) grid the token painter shows as blocked."""
        return self.driver.blocked()

    def wait_painted(self, expected: np.ndarray) -> None:
        want = f"the painter to show\n{expected.astype(int)}"
        wait_until(self.page, self.painted, lambda grid: np.array_equal(grid, expected), want)

    @property
    def overview(self):
        """The head overview's root (its data-* attributes say what it draws)."""
        return self.page.locator(".st-key-ex_overview [data-testid='head-overview']")

    def overview_state(self) -> dict | None:
        """Return what the overview draws: ``focus`` "l.h", ``marked`` "l.h l.h", ``font``, ``drawn``..."""
        if self.overview.count() == 0:
            return None
        return self.overview.evaluate("(root) => ({...root.dataset})")

    def overview_tile(self, layer: int, head: int):
        return self.overview.locator(f".ho-tile[data-layer='{layer}'][data-head='{head}']")

    def heatmap(self, key: str = "ex_focus_fig") -> dict:
        """Return the focused head's weights (NaN where blocked), the blocked overlay and the title."""
        data = self.page.evaluate(_HEATMAP_JS, key)
        if data is None:
            return {}
        weights, blocked = nan_grid(data["weights"]), nan_grid(data["blocked"])
        return {"weights": weights, "blocked": blocked, "title": data["title"]}

    def wait_heatmap_blocked(self, blocked: np.ndarray) -> dict:
        """Wait until the focus heatmap draws exactly ``blocked`` as blocked; return it."""

        def shows(fig: dict) -> bool:
            return (
                bool(fig)
                and fig["weights"].shape == blocked.shape
                and np.array_equal(np.isnan(fig["weights"]), blocked)
            )

        try:
            wait_until(self.page, self.heatmap, shows, "the focus heatmap to block the cells")
        except AssertionError as timeout:
            raise AssertionError(f"{timeout}\n{self.disagreement(blocked)}") from None
        self.idle()
        return self.heatmap()

    def disagreement(self, blocked: np.ndarray) -> str:
        """Say where the painter, the link's plan and the heatmap stand, for a wait that timed out."""

        def cells(grid: np.ndarray) -> list[tuple[int, ...]]:
            return [tuple(map(int, c)) for c in np.argwhere(grid)][:12]

        shown = self.heatmap().get("weights")
        rev, ack = (self.painter.get_attribute(f"data-{name}") for name in ("rev", "ack"))
        layer, head = self.focus_inputs()
        compiled = self.link_plan().compile(LAYERS, HEADS, blocked.shape[0])[layer]
        in_plan = np.zeros_like(blocked) if compiled is None else ~compiled.allow[head].numpy()
        alerts = self.page.locator("[data-testid='stException'], [data-testid='stAlert']").all_inner_texts()
        return (
            f"wanted blocked: {cells(blocked)}\n"
            f"heatmap blocks: {None if shown is None else cells(np.isnan(shown))}\n"
            f"painter shows: {cells(self.painted())} (gesture {rev}, the server took in {ack})\n"
            f"link plan blocks (layer {layer}, head {head}): {cells(in_plan)}\n"
            f"alerts on the page: {alerts}; page errors: {self.errors}"
        )

    def link_params(self) -> dict[str, list[str]]:
        return parse_qs(urlparse(self.page.url).query)

    def link_plan(self) -> MaskPlan:
        """Return the plan the address bar holds (an empty plan when it has no ``plan=``)."""
        params = self.link_params()
        return unpack_plan(params["plan"][0]) if "plan" in params else MaskPlan()

    def link_text(self) -> str:
        """Return the text the address bar holds ("" when it has no ``text=``)."""
        return self.link_params().get("text", [""])[0]

    def focus_inputs(self) -> tuple[int, int]:
        layer = self.page.locator(".st-key-ex_layer input").input_value()
        head = self.page.locator(".st-key-ex_head input").input_value()
        return int(layer), int(head)

    # -- acting --------------------------------------------------------------------------------------------

    def click_cell(self, row: int, col: int) -> None:
        self.driver.click_cell(row, col)

    def click_column_label(self, col: int) -> None:
        self.driver.click_col_label(col)

    def tab(self, name: str) -> None:
        """Open tab ``name`` and wait for its content (only the open tab is built, on the next rerun)."""
        self.page.get_by_role("tab", name=name).click()
        # Opening or leaving Heads & edges reruns the page, which draws the work area anew
        # (pages/explorer.py): until that run ends the old tab panel is still there.
        panels = self.page.locator("[data-testid='stTabs'] [role='tabpanel']:visible")

        def built() -> bool:
            return panels.count() == 1 and bool(panels.first.inner_text().strip())

        wait_until(self.page, built, bool, f"the {name!r} tab to be built")
        self.idle()

    def expand(self, label: str) -> None:
        self.page.locator("[data-testid='stExpander'] summary", has_text=label).click()

    def choose(self, key: str, option: str) -> None:
        """Pick ``option`` in the selectbox ``key``."""
        opener = self.page.locator(f".st-key-{key} button[aria-label='Open']")
        choice = self.page.get_by_role("option", name=option, exact=True)
        settled_box(opener)
        # Right after its expander opens, the first click on the list button can be lost, and a rerun
        # (a column reporting its new width) closes an open list: open it again and pick again.
        deadline = time.monotonic() + UPDATE_TIMEOUT_S
        while True:
            try:
                if not choice.is_visible():
                    opener.click()
                    choice.wait_for(timeout=1_000)
                choice.click(timeout=2_000)
                break
            except PlaywrightTimeoutError:
                if time.monotonic() > deadline:
                    raise
        field = self.page.locator(f".st-key-{key} input[role='combobox']")
        wait_until(self.page, field.input_value, lambda value: value == option, f"{key} to show {option!r}")
        self.idle()

    def press(self, key: str) -> None:
        button = self.page.locator(f".st-key-{key} button")
        button.scroll_into_view_if_needed()
        button.click()

    def shot(self, save_screenshot, name: str) -> None:
        """Save the whole page as ``explorer-<name>.png``, the window stretched to show all of it."""
        self.idle()
        size = self.page.viewport_size
        height = max(size["height"], min(self.page.evaluate(_PAGE_HEIGHT_JS), 2400))
        self.page.set_viewport_size({"width": size["width"], "height": height})
        wait_still(self.page, UPDATE_TIMEOUT_S * 1000)  # plotly and the painter redraw for the new size
        save_screenshot(self.page, f"explorer-{name}")
        self.page.set_viewport_size(size)
        wait_still(self.page, UPDATE_TIMEOUT_S * 1000)

    def assert_no_errors(self) -> None:
        assert not self.errors, f"the page reported errors: {self.errors}"


@pytest.fixture(scope="module")
def app_url(streamlit_server) -> str:
    return streamlit_server(APP)


@pytest.fixture
def explorer(page, app_url) -> Explorer:
    explorer = Explorer(page, app_url)
    explorer.tab("Before / after")
    return explorer


def test_painted_cells_and_labels_are_blocked_in_the_focus_heatmap(explorer: Explorer, save_screenshot):
    page = explorer.page
    rows, cols = explorer.shape
    assert rows == cols >= 6
    assert "plan" not in parse_qs(urlparse(page.url).query)
    unmasked = explorer.wait_heatmap_blocked(np.zeros((rows, cols), dtype=bool))["weights"]
    assert unmasked.shape == (rows, cols) and not np.isnan(unmasked).any()
    np.testing.assert_allclose(unmasked.sum(axis=1), 1.0, atol=ATOL)
    explorer.shot(save_screenshot, "loaded")

    # One cell: query 3 may no longer attend to key 5.
    blocked = np.zeros((rows, cols), dtype=bool)
    blocked[3, 5] = True
    explorer.click_cell(3, 5)
    explorer.wait_painted(blocked)
    shown = explorer.wait_heatmap_blocked(blocked)
    np.testing.assert_allclose(shown["weights"], renormalised(unmasked, blocked), atol=ATOL, equal_nan=True)
    np.testing.assert_allclose(np.nansum(shown["weights"], axis=1), 1.0, atol=ATOL)
    overlay = shown["blocked"]
    assert overlay is not None and np.array_equal(~np.isnan(overlay), blocked), "the grey 'blocked' overlay"
    assert "plan=" in page.url
    allow = explorer.link_plan().compile(LAYERS, HEADS, rows)[0].allow  # (H, T, T) of layer 0
    assert np.array_equal(~allow[0].numpy(), blocked), "the link holds the painted cell of layer 0 head 0"
    assert allow[1:].all(), "the other heads of layer 0 are untouched"
    explorer.shot(save_screenshot, "paint-cell")

    # A key's label: nobody attends to key 2 in this head any more.
    blocked[:, 2] = True
    explorer.click_column_label(2)
    explorer.wait_painted(blocked)
    shown = explorer.wait_heatmap_blocked(blocked)
    np.testing.assert_allclose(shown["weights"], renormalised(unmasked, blocked), atol=ATOL, equal_nan=True)
    assert np.array_equal(~explorer.link_plan().compile(LAYERS, HEADS, rows)[0].allow[0].numpy(), blocked)
    explorer.shot(save_screenshot, "label-column")

    # Undo takes back the label click only.
    blocked[:, 2] = False
    blocked[3, 5] = True
    explorer.press("ex_undo")
    explorer.wait_painted(blocked)
    shown = explorer.wait_heatmap_blocked(blocked)
    np.testing.assert_allclose(shown["weights"], renormalised(unmasked, blocked), atol=ATOL, equal_nan=True)
    explorer.shot(save_screenshot, "undo")

    # Reset empties the plan and the link.
    explorer.press("ex_reset")
    blocked[:] = False
    explorer.wait_painted(blocked)
    shown = explorer.wait_heatmap_blocked(blocked)
    np.testing.assert_allclose(shown["weights"], unmasked, atol=ATOL)
    wait_until(page, lambda: page.url, lambda url: "plan=" not in url, "the link to drop its plan")
    explorer.assert_no_errors()


def test_an_edit_reruns_the_work_area_alone(page, app_url):
    # Issue 15, item 1: a paint reruns the Explorer's work area (a fragment), and the browser is sent only
    # what that draws. The text box above it holds the raw text, which nothing in the work area repeats (the
    # link carries it URL-encoded), so its bytes in a message mean the whole page was sent again. The
    # language switch reruns the whole page: the probe sees the text box then, so it would see a whole-page
    # edit.
    received: list[bytes] = []

    def listen(socket) -> None:
        def take(data) -> None:
            received.append(data if isinstance(data, bytes) else data.encode())

        socket.on("framereceived", take)

    page.on("websocket", listen)
    explorer = Explorer(page, app_url)
    sent_text = lambda: sum(TEXT.encode() in frame for frame in received)  # noqa: E731
    assert sent_text(), "the first run sends the text box"
    blocked = np.zeros(explorer.shape, dtype=bool)
    blocked[2, 4] = True
    received.clear()
    explorer.click_cell(2, 4)
    explorer.wait_painted(blocked)
    wait_until(page, lambda: len(explorer.link_plan().rules), lambda n: n == 1, "the paint in the link")
    explorer.idle()
    wait_still(page, UPDATE_TIMEOUT_S * 1000)
    assert received, "the edit was answered"
    assert sent_text() == 0, "a paint sent the text box again: the whole page reran"

    received.clear()
    page.locator(".st-key-i18n_lang button", has_text="中文").click()
    wait_until(page, sent_text, bool, "the language switch to send the whole page, text box included")
    explorer.idle()
    assert explorer.painted()[2, 4], "the paint survives the whole-page rerun"
    explorer.assert_no_errors()


def test_undoing_a_new_text_brings_the_old_one_back_into_the_text_box(explorer: Explorer):
    # The undo button is in the work area's fragment, the text box above it: undoing a text's refit must
    # rerun the whole page, or the box would keep showing the new text under the old text's plan.
    page, box = explorer.page, explorer.page.locator(".st-key-ex_text textarea")
    explorer.click_cell(1, 2)
    wait_until(page, lambda: len(explorer.link_plan().rules), lambda n: n == 1, "the paint in the link")
    explorer.idle()
    box.fill("A dog sat on the mat.")
    box.press("Control+Enter")
    wait_until(page, explorer.link_text, lambda text: text.startswith("A dog"), "the new text in the link")
    explorer.idle()
    explorer.press("ex_undo")
    wait_until(page, box.input_value, lambda text: text == TEXT, "the old text back in the box")
    wait_until(page, explorer.link_text, lambda text: text == TEXT, "and in the link")
    explorer.idle()
    assert explorer.painted()[1, 2], "with its paint"
    explorer.assert_no_errors()


def test_the_painters_undo_is_the_plans_and_a_focus_change_is_not_undone(explorer: Explorer, save_screenshot):
    # Issue 13, items 1 and 9: one history. ↶ Undo after a focus change takes back the last plan edit (the
    # paint on head 0), never pastes head 0's grid onto head 1; with nothing left, it is disabled.
    page = explorer.page
    rows, cols = explorer.shape
    undo = page.locator(".st-key-ex_token_painter .gp-undo")
    assert undo.is_disabled()
    blocked = np.zeros((rows, cols), dtype=bool)
    blocked[3, 5] = True
    explorer.click_cell(3, 5)
    explorer.wait_painted(blocked)
    wait_until(page, lambda: len(explorer.link_plan().rules), lambda n: n == 1, "one paint rule")

    page.locator(".st-key-ex_head [data-testid='stNumberInputStepUp']").click()
    wait_until(page, explorer.focus_inputs, lambda lh: lh == (0, 1), "the focus to move to head 1")
    explorer.wait_painted(np.zeros((rows, cols), dtype=bool))
    explorer.idle()
    wait_until(page, undo.is_enabled, bool, "↶ Undo enabled: the paint on head 0 can be taken back")
    undo.click()
    wait_until(page, explorer.link_plan, lambda plan: not plan, "the plan to be empty again")
    explorer.idle()
    assert explorer.focus_inputs() == (0, 1)
    assert not explorer.painted().any(), "head 1 stays unpainted"
    assert undo.is_disabled() and page.locator(".st-key-ex_undo button").is_disabled()

    # Ctrl+Z on the painter is the same undo, and so is the page's button.
    explorer.click_cell(1, 1)
    wait_until(page, lambda: len(explorer.link_plan().rules), lambda n: n == 1, "a paint rule on head 1")
    explorer.idle()
    explorer.painter.focus()
    page.keyboard.press("Control+z")
    wait_until(page, explorer.link_plan, lambda plan: not plan, "Ctrl+Z to empty the plan")
    explorer.wait_painted(np.zeros((rows, cols), dtype=bool))
    explorer.shot(save_screenshot, "undo-after-focus")
    explorer.assert_no_errors()


def test_paint_with_no_chosen_heads_lands_nowhere(explorer: Explorer):
    # Issue 13, item 13: "chosen heads" with none chosen warns, and the paint does not go to the focused head.
    page = explorer.page
    rows, cols = explorer.shape
    page.locator(".st-key-ex_scope").get_by_text("chosen heads").click()
    warning = page.locator("[data-testid='stAlert']", has_text="no heads are chosen")
    warning.wait_for(timeout=UPDATE_TIMEOUT_S * 1000)
    explorer.idle()
    explorer.click_cell(2, 2)
    explorer.wait_painted(np.zeros((rows, cols), dtype=bool))  # the painter snaps back
    explorer.idle()
    assert not explorer.link_plan() and warning.is_visible()
    explorer.assert_no_errors()


def test_gating_a_picked_head_outlines_lists_it_and_moves_the_embedding(explorer: Explorer, save_screenshot):
    page = explorer.page
    explorer.tab("Overview")
    explorer.expand("Heads: pick, focus, gate")
    head_grid = PainterDriver(page, "ex_head_painter", timeout_ms=UPDATE_TIMEOUT_S * 1000)
    heads = head_grid.root
    heads.wait_for()
    assert head_grid.shape == (LAYERS, HEADS)
    # The expander is still opening and reruns reflow the page: measured once it holds still, clicked
    # relative to the canvas where it is at the moment of the click.
    explorer.idle()
    head_grid.click_cell(2, 5)
    picked = np.zeros((LAYERS, HEADS), dtype=int)
    picked[2, 5] = 1
    bits = "".join(map(str, picked.ravel()))
    wait_until(
        page, lambda: heads.get_attribute("data-blocked"), lambda shown: shown == bits, "head (2, 5) picked"
    )
    gate = page.locator(".st-key-ex_gate_apply button")
    wait_until(page, gate.is_enabled, bool, "the 'Gate chosen' button to be enabled")
    assert float(page.locator(".st-key-ex_gate_value input[type='range']").input_value()) == 0.0
    explorer.press("ex_gate_apply")

    wait_until(
        page,
        explorer.overview_state,
        lambda o: o is not None and o["marked"] == "2.5",
        "the overview to outline layer 2 head 5, and only it",
    )
    assert explorer.overview_tile(2, 5).evaluate("(b) => getComputedStyle(b).outlineStyle") == "solid"
    gates = [(rule.layers, rule.heads, rule.gate) for rule in explorer.link_plan().rules]
    assert gates == [((2,), (5,), 0.0)]
    explorer.shot(save_screenshot, "gate-overview")

    explorer.tab("Plan & share")
    assert "layer 2 · head 5: gate × 0" in page.locator(".st-key-ex_split").inner_text()
    explorer.tab("Effect")
    metric = page.locator("[data-testid='stMetric']", has_text="cosine to unmasked")
    cosine = float(metric.locator("[data-testid='stMetricValue']").inner_text())
    assert 0.0 < cosine < 1.0, "silencing a head must move the sentence embedding"
    explorer.shot(save_screenshot, "gate-effect")
    explorer.assert_no_errors()


def test_an_overview_tile_focuses_its_head_and_a_preset_masks_it(explorer: Explorer, save_screenshot):
    page = explorer.page
    rows, cols = explorer.shape
    explorer.tab("Overview")
    settled_box(explorer.overview)
    assert explorer.overview_state()["focus"] == "0.0"
    tile = settled_box(explorer.overview_tile(3, 7))
    page.mouse.click(tile["x"] + tile["width"] / 2, tile["y"] + tile["height"] / 2)

    wait_until(page, explorer.focus_inputs, lambda lh: lh == (3, 7), "the Layer/Head inputs to show 3, 7")
    explorer.idle()
    assert page.get_by_role("heading", name="Mask of layer 3 · head 7").is_visible()
    wait_until(page, explorer.overview_state, lambda o: o["focus"] == "3.7", "the overview to ring L3 h7")
    assert parse_qs(urlparse(page.url).query)["focus"] == ["3.7"]
    explorer.tab("Before / after")
    unmasked = explorer.wait_heatmap_blocked(np.zeros((rows, cols), dtype=bool))
    assert "Layer 3 · head 7" in unmasked["title"]
    unmasked = unmasked["weights"]
    explorer.shot(save_screenshot, "overview-focus")

    # The preset goes to the focused head only, so layer 3's input is unchanged and the reference is exact.
    explorer.expand("Presets")
    explorer.choose("ex_preset", "Causal")
    explorer.press("ex_preset_apply")
    upper = np.triu(np.ones((rows, cols), dtype=bool), k=1)
    shown = explorer.wait_heatmap_blocked(upper)
    np.testing.assert_allclose(shown["weights"], renormalised(unmasked, upper), atol=ATOL, equal_nan=True)
    np.testing.assert_allclose(np.nansum(shown["weights"], axis=1), 1.0, atol=ATOL)
    assert np.array_equal(~np.isnan(shown["blocked"]), upper)
    plan = explorer.link_plan()
    rules = [(rule.layers, rule.heads, rule.allow) for rule in plan.rules]
    assert rules == [((3,), (7,), {"preset": "causal"})]
    compiled = plan.compile(LAYERS, HEADS, rows)
    masked_layers = [i for i, mask in enumerate(compiled) if mask is not None and mask.allow is not None]
    assert masked_layers == [3]
    allow = compiled[3].allow.numpy()  # (H, T, T)
    assert np.array_equal(~allow[7], upper)
    assert allow[np.arange(HEADS) != 7].all(), "the other heads of layer 3 are untouched"
    # Preset cells are locked, not painted: the painter keeps its own grid empty.
    assert not explorer.painted().any()
    explorer.shot(save_screenshot, "preset-causal")
    explorer.assert_no_errors()


@pytest.mark.parametrize("image_format", ["png", "svg"])
def test_the_overview_saves_itself_in_the_sidebars_format(explorer: Explorer, image_format: str):
    page = explorer.page
    explorer.tab("Overview")
    save = explorer.overview.locator(".ho-save")
    if image_format == "svg":
        page.locator("[data-testid='stSidebar']").get_by_text("SVG", exact=True).click()
    wait_until(page, save.inner_text, lambda text: text.endswith(image_format.upper()), "the save button")
    with page.expect_download(timeout=UPDATE_TIMEOUT_S * 1000) as saving:
        save.click()
    saved = saving.value
    assert saved.suggested_filename == f"overview.{image_format}"
    content = Path(saved.path()).read_bytes()
    if image_format == "svg":
        svg = ElementTree.fromstring(content)
        ns = "{http://www.w3.org/2000/svg}"
        (tiles,) = svg.iter(f"{ns}image")
        assert tiles.get("href").startswith("data:image/png;base64,")
        labels = [t.text for t in svg.iter(f"{ns}text")]
        assert [f"h{h}" for h in range(HEADS)] + [f"L{lyr}" for lyr in range(LAYERS)] == [
            t for t in labels if t and t[0] in "hL" and t[1:].isdigit()
        ]
        assert [r.get("stroke") for r in svg.iter(f"{ns}rect") if r.get("stroke")] == ["#111111"], "focus"
        return
    image = Image.open(io.BytesIO(content)).convert("RGB")
    width = explorer.overview.locator(".ho-plot").evaluate("(p) => parseFloat(p.style.width)")
    assert image.width > 4 * width * 0.9, "saved at paper resolution, not the screen's"
    colours = {tuple(c) for c in np.asarray(image).reshape(-1, 3)[::7]}
    assert (217, 217, 217) in colours and (17, 17, 17) in colours, "the gaps and the focus ring are drawn"
    assert len(colours) > 40, "the tiles' weights are drawn, not a blank image"


def test_the_overview_is_one_tab_stop_and_the_arrow_keys_move_between_heads(page, app_url):
    explorer = Explorer(page, app_url)
    assert explorer.overview.locator(".ho-tile[tabindex='0']").count() == 1, "one tab stop, not 72"
    assert explorer.overview_tile(0, 0).get_attribute("tabindex") == "0", "the focused head's tile"
    explorer.overview_tile(0, 0).focus()
    for key in ("ArrowDown", "ArrowDown", "ArrowRight", "End", "ArrowLeft", "Enter"):
        page.keyboard.press(key)
    wait_until(page, explorer.focus_inputs, lambda lh: lh == (2, HEADS - 2), "the keys to focus L2 h10")
    wait_until(page, explorer.overview_state, lambda o: o["focus"] == f"2.{HEADS - 2}", "the overview's ring")
    assert explorer.overview_tile(2, HEADS - 2).get_attribute("tabindex") == "0"
    explorer.assert_no_errors()


def assert_painter_fits(explorer: Explorer) -> dict:
    """Check the token painter ends inside its column; return the canvas's box."""
    canvas = explorer.canvas.bounding_box()
    column = explorer.page.locator(".st-key-ex_split [data-testid='stColumn']").first.bounding_box()
    assert canvas["x"] + canvas["width"] <= column["x"] + column["width"] + 0.5, "the painter overflows"
    return canvas


def check_figures_fit(explorer: Explorer) -> None:
    """Check that the overview, the focus heatmap and the painter fit their columns, unsqueezed."""
    page = explorer.page
    explorer.tab("Before / after")
    key = "ex_focus_fig"
    fit = wait_until(page, lambda: page.evaluate(_FIT_JS, key), lambda f: f and f["shown"] > 0, key)
    # Built no wider than its column, and drawn at the size it was built (not squeezed by Streamlit).
    assert fit["built"] <= fit["column"] + 0.5, (key, fit)
    assert fit["drawn"] == fit["built"], (key, fit)
    assert_painter_fits(explorer)
    explorer.tab("Overview")
    frame = settled_box(explorer.overview.locator(".ho-frame"))
    column = page.locator(".st-key-ex_overview").evaluate(
        "(el) => el.closest('[data-testid=\"stColumn\"]').getBoundingClientRect().toJSON()"
    )
    assert frame["x"] + frame["width"] <= column["x"] + column["width"] + 0.5, (frame, column)
    assert int(explorer.overview_state()["tilePx"]) >= 16, "the tiles stay big enough to click"
    assert page.evaluate(_OVERFLOW_JS) == [], "the page is wider than the window"


@pytest.mark.parametrize("width", [1280, 800])
def test_figures_fit_their_columns(chromium_browser, app_url, save_screenshot, width: int):
    """At 1280 px the columns sit side by side, at 800 px they stack; both also in presentation mode."""
    context = chromium_browser.new_context(viewport={"width": width, "height": 800})
    try:
        page = context.new_page()
        explorer = Explorer(page, app_url)
        check_figures_fit(explorer)
        save_screenshot(page, f"explorer-{width}")  # what a user sees first, at 800 px high
        explorer.shot(save_screenshot, f"{width}-whole-page")
        page.locator(".st-key-presentation label").click()
        wait_until(
            page,
            explorer.overview_state,
            lambda o: o is not None and o["font"] == str(PRESENTATION_THEME.font_size),
            "the overview in the presentation theme",
        )
        explorer.idle()
        check_figures_fit(explorer)
        save_screenshot(page, f"explorer-{width}-presentation")
        explorer.shot(save_screenshot, f"{width}-presentation-whole-page")
        explorer.assert_no_errors()
    finally:
        context.close()


def test_browser_back_walks_the_plan_history(explorer: Explorer):
    # Issue 13, item 6: every edit added a history entry, yet Back changed neither the address nor the view.
    page = explorer.page
    rows, cols = explorer.shape
    explorer.click_cell(2, 1)
    first = np.zeros((rows, cols), dtype=bool)
    first[2, 1] = True
    explorer.wait_heatmap_blocked(first)
    explorer.click_cell(3, 2)
    both = first.copy()
    both[3, 2] = True
    explorer.wait_heatmap_blocked(both)
    assert len(explorer.link_plan().rules) >= 1

    page.go_back()  # one edit back: the second cell is free again, in the view and in the address
    explorer.wait_heatmap_blocked(first)
    explorer.wait_painted(first)
    assert explorer.link_plan().compile(LAYERS, HEADS, rows)[0].allow[0].logical_not().sum() == 1
    page.go_back()  # and the first edit: nothing blocked, no plan in the address
    explorer.wait_heatmap_blocked(np.zeros((rows, cols), dtype=bool))
    assert not explorer.link_plan()
    page.go_forward()  # Forward brings the edit back
    explorer.wait_heatmap_blocked(first)
    explorer.assert_no_errors()


# Longer than the 256 tokens the app takes for the bundled model: the server cuts it there.
LONG_TEXT = " ".join(
    f"Sentence {i} says that the quick brown fox jumps over the lazy dog near river {i}." for i in range(24)
)


def test_a_256_token_text_fits_then_zooms_and_paints(page, app_url, save_screenshot):
    # Issue 15, item 4: at 256 tokens the painter was 2088 px tall with 8 px cells and a sideways scroll.
    explorer = Explorer(page, app_url, LONG_TEXT)
    explorer.tab("Before / after")
    driver = explorer.driver
    rows, cols = explorer.shape
    assert rows == cols == 256
    assert driver.zoom == "fit"
    canvas = assert_painter_fits(explorer)
    assert canvas["height"] < 800, "the whole mask shows at once"
    unmasked = explorer.wait_heatmap_blocked(np.zeros((rows, cols), dtype=bool))["weights"]
    explorer.shot(save_screenshot, "256-fit")

    while float(explorer.painter.get_attribute("data-cell")) < 12:
        driver.press_zoom("in")
    view = page.locator(".st-key-ex_token_painter .gp-scroll")
    full, shown = view.evaluate("(v) => [v.scrollHeight, v.clientHeight]")
    assert full > 2 * shown, "zoomed in, the grid scrolls inside the painter"
    # Far down the text: query 230 may no longer attend to key 3, and query 3 to key 230.
    blocked = np.zeros((rows, cols), dtype=bool)
    for cell in [(230, 3), (3, 230)]:
        explorer.click_cell(*cell)
        blocked[cell] = True
        explorer.wait_painted(blocked)
    shown = explorer.wait_heatmap_blocked(blocked)
    # Layer 0's input is the embedding, so its head 0 is the unmasked weights renormalised over what is left.
    np.testing.assert_allclose(shown["weights"], renormalised(unmasked, blocked), atol=ATOL, equal_nan=True)
    allow = explorer.link_plan().compile(LAYERS, HEADS, rows)[0].allow  # (H, T, T) of layer 0
    assert np.array_equal(~allow[0].numpy(), blocked)
    save_screenshot(page, "explorer-256-zoomed")
    driver.press_zoom("fit")
    wait_until(page, lambda: driver.zoom, lambda zoom: zoom == "fit", "the painter to fit again")
    explorer.wait_painted(blocked)  # zooming changes the view, never the plan
    explorer.assert_no_errors()


def test_painting_a_word_pair_blocks_every_token_pair_in_it(page, app_url, save_screenshot):
    # Issue 15, item 4: an option groups tokens into words. "international ##ization" is one word here.
    explorer = Explorer(page, app_url, "The internationalization of cats.")
    explorer.tab("Before / after")
    tokens = 8  # [CLS] the international ##ization of cats . [SEP]
    assert explorer.shape == (tokens, tokens)
    unmasked = explorer.wait_heatmap_blocked(np.zeros((tokens, tokens), dtype=bool))["weights"]
    page.locator(".st-key-ex_words label").click()
    wait_until(page, lambda: explorer.shape, lambda shape: shape == (7, 7), "the painter to show 7 words")
    explorer.click_cell(4, 2)  # query word "cats" -> key word "internationalization"
    blocked = np.zeros((tokens, tokens), dtype=bool)
    blocked[5, 2:4] = True  # the two token pairs it stands for
    shown = explorer.wait_heatmap_blocked(blocked)  # the figures stay per token
    np.testing.assert_allclose(shown["weights"], renormalised(unmasked, blocked), atol=ATOL, equal_nan=True)
    allow = explorer.link_plan().compile(LAYERS, HEADS, tokens)[0].allow  # (H, T, T) of layer 0
    assert np.array_equal(~allow[0].numpy(), blocked)
    words = np.zeros((7, 7), dtype=bool)
    words[4, 2] = True
    explorer.wait_painted(words)
    save_screenshot(page, "explorer-words")
    page.locator(".st-key-ex_words label").click()  # back to tokens: the same cells, one by one
    wait_until(page, lambda: explorer.shape, lambda shape: shape == (tokens, tokens), "the token painter")
    explorer.wait_painted(blocked)
    explorer.assert_no_errors()
