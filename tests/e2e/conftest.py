"""Shared fixtures for the browser tests: a Streamlit server per app script, headless Chromium, screenshots.

The tests need Debian's chromium on PATH and the playwright Python package (never `playwright install`);
without them they fail with a message saying so, rather than skip.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e import streamlit_server as server
from tests.e2e.browser import CHROMIUM_ARGS

REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT_DIR = REPO_ROOT / "artifacts" / "screenshots"
VIEWPORT = {"width": 1280, "height": 800}
SERVER_START_TIMEOUT_S = 60.0


@pytest.fixture(scope="session")
def streamlit_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[Path], str]]:
    """Yield ``start(script) -> base URL``: one headless server per script on 127.0.0.1, stopped at the end.

    The server runs from the repository root with it on PYTHONPATH, so scripts import ``ui`` and ``maskattn``.
    """
    processes: dict[Path, tuple[subprocess.Popen, str]] = {}
    log_dir = tmp_path_factory.mktemp("streamlit-logs")

    def start(script: Path) -> str:
        script = Path(script).resolve()
        if script not in processes:
            try:
                processes[script] = server.start(
                    script, log_dir / f"{script.stem}.log", SERVER_START_TIMEOUT_S
                )
            except RuntimeError as error:
                pytest.fail(str(error), pytrace=False)
        return processes[script][1]

    yield start
    for process, _url in processes.values():
        server.stop(process)


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
