"""(c) Edit latency in the browser: paint one cell in the Explorer, time until the heatmaps are redrawn.

The app runs as users run it (``streamlit run app.py`` on 127.0.0.1, a free port) and headless Debian
Chromium opens the Explorer, the default page, with the text in the link (``/?text=...``). Each edit is one
click on a cell of the painter (``.st-key-ex_token_painter canvas``), a cell never painted before, so every
edit is a new plan and a real recompute (no cache hit). Timestamps are taken inside the page
(``performance.now()``), so the numbers do not include Playwright's round trips:

- ``up``: the pointer-up that ends the gesture (the painter sends the grid to Python on it);
- ``start`` / ``done``: ``[data-testid=stApp]``'s ``data-test-script-state`` turning ``running`` and then
  ``notRunning`` (the rerun the edit caused, as the front end sees it);
- ``painter``: the painter's last redraw after the rerun (its root's ``data-blocked`` attribute is rewritten
  by every draw, so a MutationObserver sees each one, even when the bits are unchanged);
- ``overview``: the head overview's last finished draw after the rerun (its root's ``data-drawn``, rewritten
  once its image is decoded);
- ``busy``: the summed length of the browser's main-thread long tasks (> 50 ms) from mouse-up to the end: the
  part of the latency spent in the browser itself (parsing the update, React, plotly, the canvas).

``edit_ms`` = max(done, painter, overview) − up: from mouse-up to the redrawn heatmaps, the app idle again.
After each edit the page must show the cell as blocked (checked on the painter's ``data-blocked``).
"""

from __future__ import annotations

import random
import shutil
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path

from benchmarks.texts import text_of_tokens
from benchmarks.timing import percentile
from tests.e2e import streamlit_server
from tests.e2e.browser import CHROMIUM_ARGS

REPO_ROOT = Path(__file__).resolve().parents[1]
VIEWPORT = {"width": 1280, "height": 1400}
PAINTER = ".st-key-ex_token_painter"
SERVER_TIMEOUT_S = 90.0
LOAD_TIMEOUT_MS = 240_000
EDIT_TIMEOUT_MS = 60_000
SETTLE_S = 0.3  # quiet time after the rerun, to catch redraws that land after the script finished

# Records what the page does, in page time. Runs once per page load; `root` is the painter's .gp-root.
_INSTRUMENT_JS = """
(root) => {
  const log = [];
  window.__bench = log;
  const stamp = (kind, detail) => log.push({t: performance.now(), kind, detail});
  const app = document.querySelector('[data-testid="stApp"]');
  new MutationObserver(() => stamp("state", app.getAttribute("data-test-script-state")))
    .observe(app, {attributes: true, attributeFilter: ["data-test-script-state"]});
  new MutationObserver(() => stamp("painter", null))
    .observe(root, {attributes: true, attributeFilter: ["data-blocked"]});
  window.addEventListener("pointerup", () => stamp("up", null), true);
  // Main-thread tasks over 50 ms: how long the browser itself was busy (rendering, parsing the update).
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) log.push({t: e.startTime, kind: "longtask", detail: e.duration});
  }).observe({type: "longtask"});
  const hook = () => {
    for (const gd of document.querySelectorAll(".js-plotly-plot")) {
      if (gd.__benchHooked || typeof gd.on !== "function") continue;
      gd.__benchHooked = true;
      const holder = gd.closest("[class*='st-key-']");
      const key = holder ? [...holder.classList].find((c) => c.startsWith("st-key-")) : "plot";
      gd.on("plotly_afterplot", () => stamp("plot", key));
    }
  };
  // The head overview (in its component's shadow root) counts its finished draws in data-drawn.
  const hookOverview = () => {
    const host = document.querySelector('.st-key-ex_overview [data-testid="stBidiComponentIsolated"]');
    const overview = host && host.shadowRoot && host.shadowRoot.querySelector('.ho-root');
    if (!overview || overview.__benchHooked) return;
    overview.__benchHooked = true;
    new MutationObserver(() => stamp("overview", null))
      .observe(overview, {attributes: true, attributeFilter: ["data-drawn"]});
  };
  hook();
  hookOverview();
  new MutationObserver(() => { hook(); hookOverview(); })
    .observe(document.body, {childList: true, subtree: true});
}
"""

# Where the painter's grid is on screen, and which of its cells can be clicked without scrolling.
_GEOMETRY_JS = """
(root) => {
  const canvas = root.querySelector("canvas");
  const scroll = root.querySelector(".gp-scroll");
  const box = canvas.getBoundingClientRect();
  const view = scroll.getBoundingClientRect();
  const cell = Number(root.dataset.cell);
  const left = Number(root.dataset.gridLeft), top = Number(root.dataset.gridTop);
  const rows = Number(root.dataset.rows), cols = Number(root.dataset.cols);
  const x0 = box.left + left, y0 = box.top + top;
  const firstCol = Math.max(0, Math.ceil((view.left - x0) / cell));
  const lastCol = Math.min(cols - 1, Math.floor((Math.min(view.right, innerWidth) - x0) / cell) - 1);
  const firstRow = Math.max(0, Math.ceil((Math.max(view.top, 0) - y0) / cell));
  const lastRow = Math.min(rows - 1, Math.floor((Math.min(view.bottom, innerHeight) - y0) / cell) - 1);
  return {x0, y0, cell, rows, cols, firstRow, lastRow, firstCol, lastCol, blocked: root.dataset.blocked};
}
"""

_DONE_JS = """
() => {
  const log = window.__bench || [];
  const up = log.findIndex((e) => e.kind === "up");
  if (up < 0) return false;
  const start = log.findIndex((e, i) => i > up && e.kind === "state" && e.detail === "running");
  return start >= 0 && log.some((e, i) => i > start && e.kind === "state" && e.detail === "notRunning");
}
"""


def _timings(events: list[dict]) -> dict[str, float]:
    """Return the phases of one edit (ms after mouse-up) from the page's event log."""
    up = next(e["t"] for e in events if e["kind"] == "up")
    start = next(
        (e["t"] for e in events if e["kind"] == "state" and e["detail"] == "running" and e["t"] >= up), None
    )
    done = next(
        (
            e["t"]
            for e in events
            if start is not None and e["kind"] == "state" and e["detail"] == "notRunning" and e["t"] >= start
        ),
        None,
    )
    # A rerun queued behind another can run without the front end's script state changing (seen with 10
    # sessions at once): then only the redraws time the edit.
    since = up if start is None else start

    def last(kind: str) -> float:
        return max((e["t"] for e in events if e["kind"] == kind and e["t"] >= since), default=done or up)

    painter, overview = last("painter"), last("overview")
    settled = max(e["t"] for e in events)
    end = max(done or up, painter, overview)
    busy = sum(e["detail"] for e in events if e["kind"] == "longtask" and up <= e["t"] <= end)
    plots: dict[str, float] = {}
    for e in events:
        if e["kind"] == "plot" and e["t"] >= since:
            plots[e["detail"]] = e["t"] - up  # the last redraw of each chart
    return {
        "plots": plots,
        "start_ms": None if start is None else start - up,
        "done_ms": None if done is None else done - up,
        "painter_ms": painter - up,
        "overview_ms": overview - up,
        "edit_ms": end - up,
        "settled_ms": settled - up,
        "busy_ms": busy,
    }


def _pick_cells(geometry: dict, count: int, seed: int) -> list[tuple[int, int]]:
    """Return ``count`` distinct visible cells, never on the diagonal, in a reproducible order."""
    cells = [
        (r, c)
        for r in range(geometry["firstRow"], geometry["lastRow"] + 1)
        for c in range(geometry["firstCol"], geometry["lastCol"] + 1)
        if r != c
    ]
    if len(cells) < count:
        raise RuntimeError(f"only {len(cells)} painter cells are visible, need {count}; enlarge VIEWPORT")
    return random.Random(seed).sample(cells, count)


def _edit(page, root, cell: tuple[int, int]) -> dict[str, float]:
    """Paint one cell, wait for the rerun and the redraws, return the phases in ms."""
    geometry = root.evaluate(_GEOMETRY_JS)
    r, c = cell
    x = geometry["x0"] + (c + 0.5) * geometry["cell"]
    y = geometry["y0"] + (r + 0.5) * geometry["cell"]
    page.mouse.move(x, y)
    page.evaluate("() => { window.__bench.length = 0; }")
    page.mouse.down()
    page.mouse.up()
    page.wait_for_function(_DONE_JS, timeout=EDIT_TIMEOUT_MS, polling=20)
    # Quiet period: redraws after the script finished (plotly renders asynchronously) still count.
    count = -1
    while True:
        time.sleep(SETTLE_S)
        now = page.evaluate("() => window.__bench.length")
        if now == count:
            break
        count = now
    events = page.evaluate("() => window.__bench.slice()")
    bits = root.evaluate("(el) => el.dataset.blocked")
    if bits[r * geometry["cols"] + c] != "1":
        raise RuntimeError(f"cell {cell} is not shown as blocked after the edit")
    return _timings(events)


def measure_tokens(browser, base_url: str, tokenizer, T: int, edits: int, warmup: int, log) -> dict:
    """Return the latency row of ``edits`` timed edits (after ``warmup`` untimed ones) at T tokens."""
    text = text_of_tokens(tokenizer, T)
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        # The Explorer is the app's default page, served at "/" (a default page's url_path is not served).
        page.goto(f"{base_url}/?{urllib.parse.urlencode({'text': text})}")
        root = page.locator(f"{PAINTER} .gp-root")
        root.wait_for(timeout=LOAD_TIMEOUT_MS)
        page.wait_for_function(
            f"() => document.querySelector('[data-testid=stApp]').getAttribute('data-test-script-state') === "
            f"'notRunning' && document.querySelector('{PAINTER}')",
            timeout=LOAD_TIMEOUT_MS,
        )
        page.wait_for_function(
            "([el, T]) => el.dataset.rows === String(T)",
            arg=[root.element_handle(), T],
            timeout=LOAD_TIMEOUT_MS,
        )
        dialogs = page.locator("[data-testid=stDialog], .stDialog")
        if dialogs.count():
            # A modal ("Page not found", an error) would swallow every click on the painter.
            raise RuntimeError(f"a dialog covers the Explorer: {dialogs.first.inner_text()[:200]!r}")
        root.evaluate(_INSTRUMENT_JS)
        cells = _pick_cells(root.evaluate(_GEOMETRY_JS), warmup + edits, seed=T)
        phases = []
        for i, cell in enumerate(cells):
            timing = _edit(page, root, cell)
            if i >= warmup:
                phases.append(timing)
        log(f"  browser T={T}: {len(phases)} edits")
    finally:
        context.close()
    row: dict = {"T": T, "edits": len(phases)}
    for key in ("edit_ms", "painter_ms", "overview_ms", "done_ms", "start_ms", "settled_ms", "busy_ms"):
        values = [p[key] for p in phases]
        row[f"{key[:-3]}_p50_ms"] = percentile(values, 50)
        row[f"{key[:-3]}_p95_ms"] = percentile(values, 95)
    row["edit_ms_all"] = [round(p["edit_ms"], 1) for p in phases]
    charts = sorted({key for p in phases for key in p["plots"]})
    # Each chart's last redraw after mouse-up: which plotly figures the page redraws per edit, and when.
    row["charts_p50_ms"] = {
        k: percentile([p["plots"][k] for p in phases if k in p["plots"]], 50) for k in charts
    }
    return row


def run_suite(
    tokens: Iterable[int] = (32, 128), edits: int = 20, warmup: int = 2, log: Callable[[str], None] = print
) -> list[dict]:
    """Return one latency row per T; starts and stops its own Streamlit server and Chromium."""
    from playwright.sync_api import sync_playwright
    from transformers import AutoTokenizer

    from maskattn.loading import default_model_path

    executable = shutil.which("chromium")
    if executable is None:
        raise RuntimeError(
            "chromium not found on PATH (Debian's chromium is needed; never `playwright install`)"
        )
    tokenizer = AutoTokenizer.from_pretrained(default_model_path())
    with tempfile.TemporaryDirectory(prefix="maskattn-bench-") as tmp:
        log_path = Path(tmp) / "streamlit.log"
        process, url = streamlit_server.start(REPO_ROOT / "app.py", log_path, SERVER_TIMEOUT_S)
        log(f"  browser: app at {url}")
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
                try:
                    return [measure_tokens(browser, url, tokenizer, T, edits, warmup, log) for T in tokens]
                finally:
                    browser.close()
        finally:
            streamlit_server.stop(process)
