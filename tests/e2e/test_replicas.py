"""Beyond one server: two replicas of the app behind nginx (``python -m deploy.replicas``), two browsers.

The test starts the shipped launcher with two replicas behind a local nginx, on free loopback ports, and
checks that the proxy keeps each browser on one replica (its cookie, every request in nginx's access log, the
replica's own count of sessions) while two browsers on different replicas paint their own masks, and a reload
comes back to the same replica with the same mask. All browsers here share 127.0.0.1, so the proxy's key must
not be the client address; which replica a fresh cookie lands on is chance, so the second browser is given a
cookie that an HTTP probe found to land on the other replica (64 probes fail to find one with odds 2^-64).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pytest

from deploy.replicas import wait_healthy
from tests.e2e.browser import poll
from tests.e2e.conftest import VIEWPORT
from tests.e2e.streamlit_server import free_port
from tests.e2e.test_explorer import LOAD_TIMEOUT_S, UPDATE_TIMEOUT_S
from tests.e2e.test_sessions import Session, open_tab_before_after

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[2]
COOKIE = "maskattn_replica"
START_TIMEOUT_S = 240.0  # two replicas start at once on a busy 2-core machine
FIRST_LOAD_TIMEOUT_S = 2 * LOAD_TIMEOUT_S  # each replica loads the model for its first session
PROBES = 64
_LOG_LINE = re.compile(r"key=(\S+) upstream=(\S+) status=(\d+) \"(\S+) (\S+)")


@dataclass
class Replicas:
    """A running ``python -m deploy.replicas``: its proxy's address, replica ports and run folder."""

    launcher: subprocess.Popen
    url: str
    ports: list[int]
    run_dir: Path

    def upstream(self, port: int) -> str:
        return f"127.0.0.1:{port}"

    def log(self) -> list[tuple[str, str, str, str, str]]:
        """Return nginx's access log as (key, upstream, status, method, path), one per finished request."""
        text = (self.run_dir / "access.log").read_text()
        return [match.groups() for match in map(_LOG_LINE.search, text.splitlines()) if match]

    def upstreams_of(self, key: str, path_prefix: str = "") -> set[str]:
        return {up for k, up, _, _, path in self.log() if k == key and path.startswith(path_prefix)}

    def active_sessions(self) -> dict[str, int]:
        """Return each replica's count of connected sessions, asked of the replica itself (not via nginx)."""
        counts = {}
        for port in self.ports:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/metrics", timeout=10) as reply:
                text = reply.read().decode()
            counts[self.upstream(port)] = int(re.search(r"^active_sessions (\d+)$", text, re.M).group(1))
        return counts

    def pids(self) -> list[int]:
        """Return the PIDs of every replica and of nginx's master, from their pid files."""
        files = [self.run_dir / f"replica-{port}.pid" for port in self.ports] + [self.run_dir / "nginx.pid"]
        return [int(path.read_text()) for path in files]

    def stop(self) -> None:
        """Stop the launcher by its PID: it stops nginx and the replicas before it exits."""
        if self.launcher.poll() is None:
            os.kill(self.launcher.pid, signal.SIGTERM)
        self.launcher.wait(timeout=60)


@pytest.fixture(scope="module")
def replicas(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("replicas")
    ports: list[int] = []
    while len(ports) < 3:  # nginx's and two replicas', all different
        port = free_port()
        ports += [port] if port not in ports else []
    command = [
        sys.executable, "-m", "deploy.replicas", "--port", str(ports[0]),
        "--replica-ports", f"{ports[1]},{ports[2]}", "--run-dir", str(run_dir),
    ]  # fmt: skip
    launcher_log = run_dir / "launcher.log"
    with launcher_log.open("w") as log:
        launcher = subprocess.Popen(command, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)
    deployment = Replicas(launcher, f"http://127.0.0.1:{ports[0]}", ports[1:], run_dir)
    try:
        wait_healthy(deployment.url, launcher, launcher_log, START_TIMEOUT_S)
    except RuntimeError as error:
        deployment.stop()
        pytest.fail(f"{error}\n{launcher_log.read_text(errors='replace')[-4000:]}", pytrace=False)
    yield deployment
    deployment.stop()


def probe_key(replicas: Replicas, pace_page, avoid: str) -> tuple[str, str]:
    """Return (cookie, upstream) of a fresh cookie the proxy sends to a replica other than ``avoid``."""
    for _ in range(PROBES):
        with urllib.request.urlopen(f"{replicas.url}/_stcore/health", timeout=10) as reply:
            cookies = reply.headers.get_all("Set-Cookie") or []
        ours = [cookie for cookie in cookies if cookie.startswith(f"{COOKIE}=")]
        assert len(ours) == 1, f"the proxy set no affinity cookie (or several): {cookies}"
        key = ours[0].split(";")[0].split("=", 1)[1]
        # nginx writes the line as the request ends, which may be a moment after the reply arrives.
        upstream = poll(
            pace_page,
            lambda key=key: replicas.upstreams_of(key),
            bool,
            "the probe's log line",
            UPDATE_TIMEOUT_S,
        ).pop()
        if upstream != avoid:
            return key, upstream
    raise AssertionError(f"{PROBES} fresh cookies all landed on {avoid}")


def cookie_of(context) -> str:
    values = [cookie["value"] for cookie in context.cookies() if cookie["name"] == COOKIE]
    assert len(values) == 1, f"the browser holds {len(values)} {COOKIE} cookies: {context.cookies()}"
    return values[0]


def test_two_browsers_on_two_replicas_each_keep_their_own_mask(
    replicas: Replicas, chromium_browser, save_screenshot
):
    contexts = [chromium_browser.new_context(viewport=VIEWPORT) for _ in range(2)]
    try:
        text_a, text_b = "The cat sat on the mat.", "Paris is the capital of France."
        address_a, address_b = (
            f"{replicas.url}/?text={quote(text_a)}",
            f"{replicas.url}/?text={quote(text_b)}",
        )

        # A is a browser like any other: the proxy picks its replica and sets its cookie.
        a = Session(contexts[0].new_page(), address_a)
        a.idle(FIRST_LOAD_TIMEOUT_S)
        key_a = cookie_of(contexts[0])
        (upstream_a,) = replicas.upstreams_of(key_a)
        sessions = poll(
            a.page, replicas.active_sessions, lambda n: sum(n.values()) == 1, "A's session", UPDATE_TIMEOUT_S
        )
        assert sessions[upstream_a] == 1, f"A's requests went to {upstream_a}, its session is on {sessions}"

        # B carries a cookie that lands on the other replica.
        key_b, upstream_b = probe_key(replicas, a.page, avoid=upstream_a)
        contexts[1].add_cookies([{"name": COOKIE, "value": key_b, "url": replicas.url}])
        b = Session(contexts[1].new_page(), address_b, focus=(0, 0))
        b.idle(FIRST_LOAD_TIMEOUT_S)
        assert cookie_of(contexts[1]) == key_b, "the proxy replaced a cookie the browser already had"
        poll(
            a.page, replicas.active_sessions, lambda n: n == {upstream_a: 1, upstream_b: 1},
            "one session on each replica", UPDATE_TIMEOUT_S,
        )  # fmt: skip

        # Each paints its own cells; neither sees the other's.
        unmasked_a, unmasked_b = open_tab_before_after(a), open_tab_before_after(b)
        blocked_a, blocked_b = np.zeros(a.shape, dtype=bool), np.zeros(b.shape, dtype=bool)
        cells_a, cells_b = [(2, 1), (5, 3)], [(3, 4), (6, 2)]
        for cell_a, cell_b in zip(cells_a, cells_b, strict=True):
            a.page.mouse.click(*a.cell_point(*cell_a))
            b.page.mouse.click(*b.cell_point(*cell_b))
            blocked_a[cell_a] = blocked_b[cell_b] = True
            a.check_shows_only(text_a, blocked_a, unmasked_a, foreign=cells_b)
            b.check_shows_only(text_b, blocked_b, unmasked_b, foreign=cells_a)

        # A reload is a new websocket: it must reach the same replica, and the page shows the same mask.
        for session, unmasked, blocked, text in (
            (a, unmasked_a, blocked_a, text_a),
            (b, unmasked_b, blocked_b, text_b),
        ):
            session.page.reload()
            session.painter.wait_for(timeout=LOAD_TIMEOUT_S * 1000)
            session.idle(LOAD_TIMEOUT_S)
            session.tab("Before / after")
            session.check_shows_only(text, blocked, unmasked, foreign=[])
        # The first websockets closed with the reloads: nginx has logged where each one went.
        streams = poll(
            a.page,
            lambda: (
                replicas.upstreams_of(key_a, "/_stcore/stream"),
                replicas.upstreams_of(key_b, "/_stcore/stream"),
            ),
            lambda found: all(found),
            "the closed websockets in nginx's log",
            UPDATE_TIMEOUT_S,
        )
        assert streams == ({upstream_a}, {upstream_b}), f"websockets went to {streams}"
        poll(
            a.page, replicas.active_sessions, lambda n: n == {upstream_a: 1, upstream_b: 1},
            "the reloaded sessions, one on each replica", UPDATE_TIMEOUT_S,
        )  # fmt: skip

        save_screenshot(a.page, "replicas-a")
        save_screenshot(b.page, "replicas-b")
        a.assert_no_errors()
        b.assert_no_errors()
    finally:
        for context in contexts:
            context.close()

    # Every request of each browser (page, static files, health, host config, websocket) went to its replica.
    for key, upstream in ((key_a, upstream_a), (key_b, upstream_b)):
        assert replicas.upstreams_of(key) == {upstream}, (
            f"requests with cookie {key} went to several replicas"
        )
    paths = {path.split("?")[0] for k, _, _, _, path in replicas.log() if k == key_a}
    assert {"/", "/_stcore/health", "/_stcore/host-config", "/_stcore/stream"} <= paths, sorted(paths)
    assert not [line for line in replicas.log() if line[2].startswith("5")], "the proxy answered with a 5xx"

    # Stopping the launcher stops nginx and both replicas.
    pids = replicas.pids()
    replicas.stop()
    alive = [pid for pid in pids if Path(f"/proc/{pid}").exists()]
    assert replicas.launcher.returncode is not None and not alive, f"still running after the stop: {alive}"
