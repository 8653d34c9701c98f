"""(g) A class on one server: N browser sessions paint their own masks at once.

One ``streamlit run app.py`` on 127.0.0.1 and one headless Chromium with N contexts (N separate sessions,
as N students' browsers), each on the Explorer with the same text of T tokens. A round clicks one new cell
in every session's painter, one session after the other without waiting, so N edits queue on the server
together; then it waits for every session to finish its rerun and redraw. Each session paints its own
random cells (its own seed).

Per N it records:

- ``cpu_per_edit_s``: the server process's CPU time (user + system, from ``/proc``) over the painting
  rounds, divided by the edits answered. CPU time, not wall time: Chromium's share of the same cores does
  not count, so the figure holds on a busy machine;
- ``edit_p50_ms`` / ``edit_p95_ms``: mouse-up to the session's page idle and redrawn (as the ``browser``
  suite times one edit), over all sessions' edits;
- ``kb_per_update_p50``: websocket bytes the session received for one edit;
- ``rss_mb_before`` / ``rss_mb_after``: the server's resident memory before the sessions open and after the
  rounds (from ``/proc``): flat across class sizes, or the server keeps what it should let go;
- ``errors``: edits never answered within the timeout, exceptions shown, or a lost connection; ``failures``
  says, for each, what the page showed (the painter's sent and acknowledged revisions, the script state);
- ``cross_talk``: sessions whose painter, at the end, shows any cell but the ones that session painted.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Iterable
from pathlib import Path

from benchmarks.browser import (
    _GEOMETRY_JS,
    _INSTRUMENT_JS,
    EDIT_TIMEOUT_MS,
    LOAD_TIMEOUT_MS,
    PAINTER,
    REPO_ROOT,
    SERVER_TIMEOUT_S,
    SETTLE_S,
    _timings,
)
from benchmarks.texts import text_of_tokens
from benchmarks.timing import percentile
from tests.e2e import streamlit_server
from tests.e2e.browser import CHROMIUM_ARGS

SESSIONS = (1, 10, 30)
ROUNDS = 3
VIEWPORT = {"width": 1280, "height": 1000}
_FAILED = '[data-testid="stException"], [data-testid="stConnectionStatus"]'
# An edit is answered once the painter shows the server took its gesture in (data-ack, the newest revision
# Python acknowledged) and the app is idle. Not the script state's running -> notRunning alone: a rerun
# queued behind another can run without the front end's state attribute changing.
_ANSWERED_JS = """
([root, rev]) => Number(root.dataset.ack) >= rev
  && document.querySelector('[data-testid="stApp"]').dataset.testScriptState === "notRunning"
"""


def server_cpu_s(pid: int) -> float:
    """Return the CPU seconds (user + system) process ``pid`` has used so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime: fields 14, 15


def server_rss_mb(pid: int) -> float:
    """Return the resident memory of process ``pid`` in MB (Linux ``/proc``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024  # kB
    raise RuntimeError(f"no VmRSS for process {pid}")


class Session:
    """One browser context on the Explorer: its page, its painter, the cells it painted, bytes it received."""

    def __init__(self, browser, url: str, T: int, seed: int) -> None:
        self.context = browser.new_context(viewport=VIEWPORT)
        self.page = self.context.new_page()
        self.received = 0
        self.page.on("websocket", self._count)
        self.page.goto(url)
        self.root = self.page.locator(f"{PAINTER} .gp-root")
        self.T, self.seed = T, seed
        self.painted: list[tuple[int, int]] = []

    def _count(self, socket) -> None:
        socket.on("framereceived", lambda payload: setattr(self, "received", self.received + len(payload)))

    def wait_loaded(self) -> None:
        self.root.wait_for(timeout=LOAD_TIMEOUT_MS)
        self.page.wait_for_function(
            "([el, T]) => el.dataset.rows === String(T) && document.querySelector('[data-testid=stApp]')"
            ".getAttribute('data-test-script-state') === 'notRunning'",
            arg=[self.root.element_handle(), self.T],
            timeout=LOAD_TIMEOUT_MS,
        )
        self.root.evaluate(_INSTRUMENT_JS)
        geometry = self.root.evaluate(_GEOMETRY_JS)
        cells = [
            (r, c)
            for r in range(geometry["firstRow"], geometry["lastRow"] + 1)
            for c in range(geometry["firstCol"], geometry["lastCol"] + 1)
            if r != c
        ]
        self.cells = random.Random(self.seed).sample(cells, ROUNDS)

    def click(self, round_index: int) -> None:
        """Paint this round's cell and return at once (the rerun runs on the server meanwhile)."""
        cell = self.cells[round_index]
        geometry = self.root.evaluate(_GEOMETRY_JS)
        x = geometry["x0"] + (cell[1] + 0.5) * geometry["cell"]
        y = geometry["y0"] + (cell[0] + 0.5) * geometry["cell"]
        self.page.evaluate("() => { window.__bench.length = 0; }")
        self.bytes_before = self.received
        self.rev = int(self.root.evaluate("(el) => el.dataset.rev")) + 1  # the gesture's revision
        self.page.mouse.click(x, y)
        self.painted.append(cell)

    def finish(self) -> dict | None:
        """Return this round's timings once the session's rerun is done and drawn; None if it never was
        (then ``self.failure`` says what the page showed)."""
        self.failure = None
        try:
            self.page.wait_for_function(
                _ANSWERED_JS, arg=[self.root.element_handle(), self.rev], timeout=EDIT_TIMEOUT_MS, polling=50
            )
        except Exception:  # Playwright's TimeoutError: the edit was never answered
            self.failure = self._state("the server never took the gesture in")
            return None
        count = -1
        while True:  # redraws after the script finished still count
            time.sleep(SETTLE_S)
            now = self.page.evaluate("() => window.__bench.length")
            if now == count:
                break
            count = now
        if self.page.locator(_FAILED).count():
            self.failure = self._state(self.page.locator(_FAILED).first.inner_text()[:200])
            return None
        timing = _timings(self.page.evaluate("() => window.__bench.slice()"))
        timing["kb"] = (self.received - self.bytes_before) / 1000
        return timing

    def _state(self, what: str) -> dict:
        """Return what the page shows, for an edit that failed: the painter's sent and acknowledged gesture
        revisions, whether it says it waits, the app's script state, and the kinds of events logged."""
        page_state = self.page.evaluate(
            "(el) => ({rev: el.dataset.rev, ack: el.dataset.ack, waiting: el.dataset.waiting,"
            " script: document.querySelector('[data-testid=stApp]').dataset.testScriptState,"
            " events: (window.__bench || []).map((e) => e.kind + (e.detail ? ':' + e.detail : ''))})",
            self.root.element_handle(),
        )
        return {"what": what, "cell": self.painted[-1], **page_state}

    def shows_only_its_cells(self) -> bool:
        bits = self.root.evaluate("(el) => el.dataset.blocked")
        cols = int(self.root.evaluate("(el) => el.dataset.cols"))
        shown = {(i // cols, i % cols) for i, bit in enumerate(bits) if bit == "1"}
        return shown == set(self.painted)

    def close(self) -> None:
        self.context.close()


def measure_class(browser, url: str, T: int, sessions: int, server_pid: int, log) -> dict:
    """Return the row of ``sessions`` sessions painting ``ROUNDS`` cells each at once."""
    class_ = []
    rss_before = server_rss_mb(server_pid)
    try:
        for i in range(sessions):  # opened one after the other, as students arrive
            class_.append(Session(browser, url, T, seed=1000 * sessions + i))
        for session in class_:
            session.wait_loaded()
        log(f"  classroom N={sessions}: {sessions} sessions loaded")
        timings, errors, failures = [], 0, []
        cpu_before, wall_before = server_cpu_s(server_pid), time.perf_counter()
        for round_index in range(ROUNDS):
            for session in class_:
                session.click(round_index)
            for session in class_:
                timing = session.finish()
                if timing is None:
                    errors += 1
                    failures.append(session.failure)
                    log(f"  classroom N={sessions}: an edit failed: {session.failure}")
                else:
                    timings.append(timing)
        cpu = server_cpu_s(server_pid) - cpu_before
        wall = time.perf_counter() - wall_before
        rss_after = server_rss_mb(server_pid)
        cross_talk = sum(not session.shows_only_its_cells() for session in class_)
    finally:
        for session in class_:
            session.close()
    edits = sessions * ROUNDS
    answered = len(timings)
    log(f"  classroom N={sessions}: {answered}/{edits} edits answered, {errors} errors")
    return {
        "T": T,
        "sessions": sessions,
        "edits": edits,
        "answered": answered,
        "errors": errors,
        "cross_talk": cross_talk,
        "cpu_per_edit_s": cpu / max(answered, 1),
        "edits_per_s": answered / wall,
        "edit_p50_ms": percentile([t["edit_ms"] for t in timings], 50) if timings else None,
        "edit_p95_ms": percentile([t["edit_ms"] for t in timings], 95) if timings else None,
        "kb_per_update_p50": percentile([t["kb"] for t in timings], 50) if timings else None,
        "rss_mb_before": rss_before,
        "rss_mb_after": rss_after,
        "failures": failures,
    }


def run_suite(
    sessions: Iterable[int] = SESSIONS, T: int = 32, log: Callable[[str], None] = print
) -> list[dict]:
    """Return one row per class size; starts and stops its own Streamlit server and Chromium."""
    from playwright.sync_api import sync_playwright
    from transformers import AutoTokenizer

    from maskattn.loading import default_model_path

    executable = shutil.which("chromium")
    if executable is None:
        raise RuntimeError("chromium not found on PATH (Debian's chromium; never `playwright install`)")
    text = text_of_tokens(AutoTokenizer.from_pretrained(default_model_path()), T)
    with tempfile.TemporaryDirectory(prefix="maskattn-class-") as tmp:
        log_path = Path(tmp) / "streamlit.log"
        process, url = streamlit_server.start(REPO_ROOT / "app.py", log_path, SERVER_TIMEOUT_S)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
                try:
                    page_url = f"{url}/?{urllib.parse.urlencode({'text': text})}"
                    return [measure_class(browser, page_url, T, n, process.pid, log) for n in sessions]
                finally:
                    browser.close()
        finally:
            streamlit_server.stop(process)
