"""What the browser tests and the browser benchmark share about driving chromium on a Streamlit page."""

import time

# Headless, and nothing that reaches out: no background fetches, no component updates, no GPU process.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]

# True once Streamlit has finished its script run and shows no running-status widget.
IDLE_JS = """
() => {
  const app = document.querySelector('[data-testid="stApp"]');
  return app !== null && app.dataset.testScriptState === 'notRunning'
    && document.querySelector('[data-testid="stStatusWidget"]') === null;
}
"""

# Resolves on the browser's next animation frame: the pace of polling a value only Python can judge.
NEXT_FRAME_JS = "() => new Promise((resolve) => requestAnimationFrame(() => resolve(true)))"

# The painter and the head overview live in open shadow roots, which document.querySelectorAll does not
# enter: ``componentRoots(selector)`` finds the matching element inside each component's host. Page JS that
# needs it puts this line first.
COMPONENT_ROOTS = """
const componentRoots = (selector) => Array.from(
  document.querySelectorAll('[data-testid="stBidiComponentIsolated"]'),
  (host) => host.shadowRoot && host.shadowRoot.querySelector(selector),
).filter(Boolean);
"""

# True once the page's layout holds still: the scroll position, the size of the main block and every
# plotly figure's and head overview's drawn size unchanged over several animation frames
# (``window.__still`` counts them).
STILL_JS = """
(frames) => {
  const plots = Array.from(document.querySelectorAll('.js-plotly-plot'));
  if (plots.some((gd) => !gd._fullLayout)) { window.__still = 0; return false; }
  const main = document.querySelector('[data-testid="stMain"]');
  const r = main ? main.getBoundingClientRect() : { width: 0, height: 0 };
  COMPONENT_ROOTS
  const overviews = componentRoots('[data-testid="head-overview"] .ho-plot');
  const now = [window.scrollX, window.scrollY, r.width, r.height,
               ...plots.map((gd) => `${gd._fullLayout.width}x${gd._fullLayout.height}`),
               ...overviews.map((o) => `${o.style.width}x${o.style.height}`)].join();
  window.__still = now === window.__stillLast ? (window.__still || 0) + 1 : 0;
  window.__stillLast = now;
  return window.__still >= frames;
}
""".replace("COMPONENT_ROOTS", COMPONENT_ROOTS)


def poll(page, read, ok, what: str, timeout_s: float):
    """Return ``read()`` once ``ok`` accepts it, read again each animation frame; fail after ``timeout_s``.

    For values only Python can judge (numbers compared with numpy); a condition the page can test itself
    goes to ``page.wait_for_function`` instead.
    """
    deadline = time.monotonic() + timeout_s
    value = None
    while time.monotonic() < deadline:
        value = read()
        if ok(value):
            return value
        page.evaluate(NEXT_FRAME_JS)
    raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}; last value:\n{value}")


def wait_still(page, timeout_ms: float, frames: int = 5) -> None:
    """Wait until the page is idle and its layout and figures hold still (for a screenshot or a click)."""
    page.wait_for_function(IDLE_JS, timeout=timeout_ms)
    page.wait_for_function(STILL_JS, arg=frames, polling="raf", timeout=timeout_ms)
