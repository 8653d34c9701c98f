"""The Explorer's research instruments in headless Chromium: run a sweep, see its progress and its heatmap,
click a cell and see the Explorer apply it; stop a long sweep; download figures as PNG and SVG.

Screenshots go to ``artifacts/screenshots/instruments-*.png``.
"""

from __future__ import annotations

import struct

import pytest

from tests.e2e.browser import wait_still
from tests.e2e.test_explorer import APP, UPDATE_TIMEOUT_S, Explorer, wait_until

pytestmark = pytest.mark.slow

SWEEP_TIMEOUT_S = 120.0  # 78 plans on a busy 2-core machine
# 255 tokens: a preset sweep of 255 plans in chunks of ~57 (the float budget), several seconds even on a fast
# machine, so Stop lands while the sweep runs; it takes effect at the next chunk's progress report.
LONG_TEXT = " ".join(["the cat sat on the mat and looked at the dog"] * 23)
# The sweep the tests run and share (the store keeps it for every session): long enough (~150 tokens, a few
# seconds) that the page draws its progress bar on a busy machine, where a sub-second sweep's progress and
# result can reach the browser in one batch and never show; not LONG_TEXT, whose sweep the Stop test runs.
SWEEP_TEXT = " ".join(["a quick brown fox jumps over the lazy dog"] * 16)

# Set when a progress bar appears anywhere on the page (it may come and go between two polls).
_WATCH_PROGRESS_JS = """
() => {
  window.__sawProgress = false;
  const bar = '.st-key-ix_progress_box [data-testid="stProgress"]';
  new MutationObserver(() => {
    if (document.querySelector(bar)) window.__sawProgress = true;
  }).observe(document.body, { childList: true, subtree: true });
}
"""

# The page position of the sweep heatmap's cell (layer, head) (head -1: the whole layer), or null.
_CELL_JS = """
([layer, head]) => {
  const gd = document.querySelector('.st-key-ix_heatmap .js-plotly-plot');
  if (!gd || !gd._fullData) return null;
  const cells = gd._fullData.find((t) => t.name === 'cells');
  const i = cells.customdata.findIndex((c) => c[0] === layer && c[1] === head);
  if (i < 0) return null;
  const box = gd.getBoundingClientRect(), xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
  return {
    x: box.x + xa._offset + xa.l2p(xa.d2l(cells.x[i])),
    y: box.y + ya._offset + ya.l2p(ya.d2l(cells.y[i])),
    shapes: gd._fullLayout.shapes.map((s) => s.name),
  };
}
"""


# The sweep heatmap's drawn width or its camera's format, or null while a rerun briefly shows an old chart
# and its replacement together.
_ONE_CHART_JS = """
(what) => {
  const charts = document.querySelectorAll('.st-key-ix_heatmap .js-plotly-plot');
  if (charts.length !== 1 || !charts[0]._fullLayout) return null;
  return what === 'width' ? charts[0]._fullLayout.width : charts[0]._context.toImageButtonOptions.format;
}
"""


@pytest.fixture(scope="module")
def app_url(streamlit_server) -> str:
    return streamlit_server(APP)


def heatmap_shown(page) -> bool:
    return page.evaluate(_CELL_JS, [0, 0]) is not None


def run_sweep_unless_shown(explorer: Explorer) -> None:
    """Run the sweep, unless the shared store already holds it (a test above ran it): then its heatmap shows.

    Which of the two is only known once the tab has drawn: Run sweep enabled, or the heatmap there.
    """
    page = explorer.page
    run = page.locator(".st-key-ix_run button")
    wait_until(page, lambda: heatmap_shown(page) or run.is_enabled(), bool, "the heatmap or Run sweep")
    if not heatmap_shown(page):
        run_sweep(explorer)


def run_sweep(explorer: Explorer) -> None:
    """Press Run sweep, and wait until a progress bar has shown and the heatmap is drawn."""
    page = explorer.page
    page.evaluate(_WATCH_PROGRESS_JS)
    explorer.press("ix_run")
    page.wait_for_function("() => window.__sawProgress === true", timeout=SWEEP_TIMEOUT_S * 1000)
    wait_until(page, lambda: heatmap_shown(page), bool, "the sweep heatmap", SWEEP_TIMEOUT_S)
    explorer.idle(SWEEP_TIMEOUT_S)


def test_a_sweep_shows_progress_and_a_heatmap_whose_cell_applies_to_the_plan(page, app_url, save_screenshot):
    explorer = Explorer(page, app_url, text=SWEEP_TEXT)
    explorer.tab("Heads & edges")
    run_sweep(explorer)
    assert page.locator(".st-key-ix_progress_box").count() == 0  # gone once the sweep is done
    page.set_viewport_size({"width": 1280, "height": 1400})
    page.locator("[data-testid='stMain']").evaluate("(main) => main.scrollTo(0, 0)")
    wait_still(page, UPDATE_TIMEOUT_S * 1000)
    save_screenshot(page, "instruments-sweep")  # docs/sweeps.png in the README
    page.set_viewport_size({"width": 1280, "height": 800})

    page.locator(".st-key-ix_heatmap").scroll_into_view_if_needed()
    wait_still(page, UPDATE_TIMEOUT_S * 1000)
    cell = page.evaluate(_CELL_JS, [2, 5])
    page.mouse.click(cell["x"], cell["y"])

    def gated() -> list:
        return [(r.layers, r.heads, r.gate) for r in explorer.link_plan().rules]

    wait_until(page, gated, lambda rules: rules == [((2,), (5,), 0.0)], "the link's plan to gate L2 h5")
    wait_until(page, explorer.focus_inputs, lambda lh: lh == (2, 5), "the focus to move to L2 h5")
    explorer.idle()
    assert page.get_by_role("heading", name="Mask of layer 2 · head 5").is_visible()
    assert "1 rule(s)" in page.locator("[data-testid='stCaptionContainer']", has_text="rule(s)").inner_text()
    assert page.locator("[data-testid='stAlert']", has_text="earlier plan").is_visible()
    explorer.tab("Overview")
    wait_until(
        page,
        explorer.overview_state,
        lambda overview: overview is not None and overview["marked"] == "2.5",
        "the overview to outline the gated head",
    )
    explorer.assert_no_errors()


def test_stop_ends_a_long_sweep_and_keeps_nothing(page, app_url, save_screenshot):
    explorer = Explorer(page, app_url, text=LONG_TEXT)
    explorer.tab("Heads & edges")
    page.locator(".st-key-ix_kind button", has_text="Preset parameter").click()
    explorer.idle()
    explorer.press("ix_run")
    stop = page.locator(".st-key-ix_stop button")
    stop.wait_for(timeout=SWEEP_TIMEOUT_S * 1000)
    save_screenshot(page, "instruments-progress")
    stop.click()
    # "…stopped after n of N plans" or "…stopped before its first batch…", as the click lands.
    stopped = page.locator("[data-testid='stAlert']", has_text="The sweep was stopped")
    stopped.wait_for(timeout=2 * SWEEP_TIMEOUT_S * 1000)
    assert "nothing of it was kept" in stopped.inner_text()
    explorer.idle(SWEEP_TIMEOUT_S)
    assert page.locator(".st-key-ix_curve").count() == 0
    assert page.locator(".st-key-ix_run button").is_enabled()  # nothing was stored: it can run again
    explorer.assert_no_errors()


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", data[:16]
    return struct.unpack(">II", data[16:24])


def test_figures_download_as_paper_png_and_as_svg(page, app_url, tmp_path):
    explorer = Explorer(page, app_url, text=SWEEP_TEXT)
    explorer.tab("Heads & edges")
    run_sweep_unless_shown(explorer)
    chart = page.locator(".st-key-ix_heatmap .js-plotly-plot")
    width = wait_until(page, lambda: page.evaluate(_ONE_CHART_JS, "width"), bool, "one sweep heatmap")

    def camera(name: str) -> bytes:
        chart.hover()
        button = page.locator(".st-key-ix_heatmap .modebar-btn[data-title^='Download plot']")
        with page.expect_download(timeout=UPDATE_TIMEOUT_S * 1000) as download:
            button.click()
        path = tmp_path / name
        download.value.save_as(path)
        assert download.value.suggested_filename.startswith("head_importance")
        return path.read_bytes()

    png = camera("figure.png")
    assert png_size(png)[0] == 4 * width  # 4× the screen: paper resolution
    page.locator("[data-testid='stSidebar'] button", has_text="SVG").click()
    explorer.idle()
    wait_until(
        page,
        lambda: page.evaluate(_ONE_CHART_JS, "format"),
        lambda fmt: fmt == "svg",
        "the chart to save SVG",
    )
    svg = camera("figure.svg").decode()
    assert svg.lstrip().startswith("<svg") and "</svg>" in svg and 'class="main-svg"' in svg
    explorer.assert_no_errors()
