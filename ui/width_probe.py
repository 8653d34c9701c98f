"""How wide a column is in the browser: a tiny inline component (components v2, no iframe) that reports it.

Plotly figures here have exact pixel sizes (square cells, the colour bar next to the matrix), and a figure
wider than its column is squeezed into a tall empty frame. The script cannot know a column's width, so this
element, drawn at the top of the column, sends it once it is laid out and again when it changes by 16 px or
more (a window resize, the sidebar opening); each report reruns the script once, never while a run goes.
"""

from __future__ import annotations

from collections.abc import Mapping

import streamlit as st

_JS = """
export default function ({ parentElement, setStateValue }) {
  const root = parentElement.querySelector(".wp-root");
  if (!root) return undefined;
  const p = root.__wp || (root.__wp = { sent: 0 });
  p.send = setStateValue;
  p.gone = false;
  // A report reruns the script, or the fragment the probe is drawn in. Sent while a run is going (the
  // user just opened another page, say), it reaches the server after that run and names a fragment the
  // new page does not have, and Streamlit then leaves the page empty. So a report waits for the app to be
  // idle, and a probe unmounted meanwhile sends nothing.
  const busy = () => {
    const app = document.querySelector('[data-testid="stApp"]');
    const state = app ? app.dataset.testScriptState : undefined;
    return (state !== undefined && state !== "notRunning") || root.closest('[data-stale="true"]') !== null;
  };
  const report = () => {
    clearTimeout(p.retry);
    if (p.gone) return;
    const width = Math.round(root.getBoundingClientRect().width);
    if (width > 0 && Math.abs(width - p.sent) >= 16) {
      if (busy()) {
        p.retry = setTimeout(report, 200);
        return;
      }
      p.sent = width;
      p.send("width", width);
    }
  };
  if (!p.observer && typeof ResizeObserver !== "undefined") {
    p.observer = new ResizeObserver(report);
    p.observer.observe(root);
  }
  report();
  return () => {
    p.gone = true;
    clearTimeout(p.retry);
    if (p.observer) p.observer.disconnect();
    p.observer = null;
  };
}
"""

_PROBE = st.components.v2.component(
    "maskattn_width_probe",
    html='<div class="wp-root" style="width: 100%; height: 0"></div>',
    js=_JS,
)


def column_width(key: str, default: int) -> int:
    """Return the width in CSS px of the column this is drawn in, as last reported (else ``default``)."""
    _PROBE(key=key, on_width_change=lambda: None)
    state = st.session_state.get(key)
    width = state.get("width") if isinstance(state, Mapping) else None
    return int(width) if isinstance(width, int | float) and 120 <= width <= 10_000 else default
