"""Screenshots of every page at 800, 1280 and 1920 px, in English and 中文, normal and presentation mode.

    python -m tests.e2e.screenshots OUTDIR [--pages explorer,mask_lab,learn] [--widths 800,1280,1920]

Starts its own server on 127.0.0.1, writes ``OUTDIR/<page>_<width>_<lang>_<mode>.png`` (whole pages) and
stops the server. For looking at the layout by eye: nothing here asserts.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from tests.e2e import streamlit_server as server
from tests.e2e.browser import CHROMIUM_ARGS, COMPONENT_ROOTS, IDLE_JS, wait_still
from ui.lessons import tr

REPO_ROOT = Path(__file__).resolve().parents[2]
PAGES = {"explorer": "", "mask_lab": "mask_lab", "learn": "learn"}
LOAD_MS = 120_000
# Every painter and head overview drawn, every plotly figure laid out, and nothing greyed out as stale.
SETTLED_JS = f"""
() => {{
  {COMPONENT_ROOTS}
  return document.querySelectorAll('[data-stale="true"]').length === 0
    && Array.from(document.querySelectorAll('.js-plotly-plot')).every((gd) => gd._fullLayout)
    && componentRoots('[data-testid="grid-painter"]').every((p) => p.dataset.rows)
    && componentRoots('[data-testid="head-overview"]').every((o) => o.dataset.drawn);
}}
"""
# Every page has a plotly figure or the head overview near the top.
FIGURE_SHOWN_JS = f"""
() => {{
  {COMPONENT_ROOTS}
  return document.querySelector('.js-plotly-plot') !== null
    || componentRoots('[data-testid="head-overview"]').length > 0;
}}
"""


def shoot(page, url: str, path: Path, presentation: bool, lang: str) -> None:
    """Open ``url``, switch presentation mode on when asked, and save a full-page screenshot."""
    page.goto(url)
    page.locator("h1").first.wait_for(timeout=LOAD_MS)
    page.wait_for_function(IDLE_JS, timeout=LOAD_MS)
    if presentation:
        toggle = tr("sidebar.presentation", lang)
        page.locator('[data-testid="stSidebar"]').get_by_text(toggle, exact=True).click()
        page.wait_for_function(IDLE_JS, timeout=LOAD_MS)
    # The figures' columns report their width after the first run, which reruns the page once: wait for the
    # painter and the figures of that second run.
    page.wait_for_function(SETTLED_JS, timeout=LOAD_MS)
    # Plotly draws a chart once it is on screen: wait for the first figure to be there.
    page.wait_for_function(FIGURE_SHOWN_JS, timeout=LOAD_MS)
    page.wait_for_function(SETTLED_JS, timeout=LOAD_MS)
    wait_still(page, LOAD_MS)
    # Streamlit scrolls inside its main block, so a "full page" shot is one screen: grow the window instead.
    tall = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    width = page.viewport_size["width"]
    page.set_viewport_size({"width": width, "height": min(max(900, int(tall)), 6000)})
    wait_still(page, LOAD_MS)
    page.screenshot(path=str(path))
    page.set_viewport_size({"width": width, "height": 900})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--pages", default=",".join(PAGES))
    parser.add_argument("--widths", default="800,1280,1920")
    parser.add_argument("--langs", default="en,zh")
    parser.add_argument("--modes", default="normal,presentation")
    args = parser.parse_args()
    args.outdir.mkdir(parents=True, exist_ok=True)
    log = Path(tempfile.mkdtemp()) / "streamlit.log"
    process, base = server.start(REPO_ROOT / "app.py", log, 120.0)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
            for width in (int(w) for w in args.widths.split(",")):
                for mode in args.modes.split(","):
                    for lang in args.langs.split(","):
                        # A fresh context per shot: presentation mode and language live in the session.
                        context = browser.new_context(viewport={"width": width, "height": 900})
                        page = context.new_page()
                        for name in args.pages.split(","):
                            path = args.outdir / f"{name}_{width}_{lang}_{mode}.png"
                            shoot(
                                page, f"{base}/{PAGES[name]}?lang={lang}", path, mode == "presentation", lang
                            )
                            print(path, flush=True)
                        context.close()
            browser.close()
    finally:
        server.stop(process)


if __name__ == "__main__":
    main()
