"""Shared fixtures for the browser tests: a Streamlit server per app script, headless Chromium, screenshots.

The tests need Debian's chromium on PATH and the playwright Python package (never `playwright install`);
without them they fail with a message saying so, rather than skip.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT_DIR = REPO_ROOT / "artifacts" / "screenshots"
VIEWPORT = {"width": 1280, "height": 800}
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
SERVER_START_TIMEOUT_S = 60.0


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_healthy(url: str, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"streamlit exited with code {process.returncode} before it was healthy; log:\n"
                f"{log_path.read_text(errors='replace')[-4000:]}",
                pytrace=False,
            )
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    pytest.fail(
        f"streamlit at {url} not healthy after {SERVER_START_TIMEOUT_S:.0f}s; log: {log_path}", pytrace=False
    )


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    os.kill(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def streamlit_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[Path], str]]:
    """Yield ``start(script) -> base URL``: one headless server per script on 127.0.0.1, stopped at the end.

    The server runs from the repository root with it on PYTHONPATH, so scripts import ``ui`` and ``maskattn``.
    """
    processes: dict[Path, tuple[subprocess.Popen, str]] = {}
    log_dir = tmp_path_factory.mktemp("streamlit-logs")

    def start(script: Path) -> str:
        script = Path(script).resolve()
        if script in processes:
            return processes[script][1]
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        log_path = log_dir / f"{script.stem}-{port}.log"
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
        }
        command = [
            sys.executable, "-m", "streamlit", "run", str(script),
            "--server.headless", "true",
            "--server.port", str(port),
            "--server.address", "127.0.0.1",
            "--browser.gatherUsageStats", "false",
            "--server.fileWatcherType", "none",
        ]  # fmt: skip
        with log_path.open("w") as log:
            process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        processes[script] = (process, url)
        _wait_until_healthy(url, process, log_path)
        return url

    yield start
    for process, _url in processes.values():
        _stop(process)


@pytest.fixture(scope="session")
def chromium_browser():
    """Yield a headless Debian chromium driven by Playwright; fail (not skip) when either is missing."""
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail(
            "chromium not found on PATH: the browser tests need Debian's chromium "
            "(apt-get install chromium); do not `playwright install`",
            pytrace=False,
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:
        pytest.fail(
            f"playwright is not importable ({error}); pip install -r requirements-dev.txt", pytrace=False
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium_browser):
    """Yield a fresh page (its own context, so its own Streamlit session) at 1280 x 800."""
    context = chromium_browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(scope="session")
def save_screenshot() -> Callable[..., Path]:
    """Return ``save(page_or_locator, name) -> path`` writing ``artifacts/screenshots/<name>.png``."""
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)

    def save(target, name: str) -> Path:
        path = SCREENSHOT_DIR / f"{name}.png"
        target.screenshot(path=str(path))
        return path

    return save
