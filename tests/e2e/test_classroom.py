"""The Mask Lab and Learn pages of the real app in headless Chromium: English, Chinese, presentation mode.

Each test drives the page like a student (preset pills, a painted cell, the language switch, an exercise
button), checks what the browser shows against numbers computed here, and saves screenshots at 1280 × 800 and
at 800 px width to ``artifacts/screenshots/classroom-*.png``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from maskattn.figures import PRESENTATION_THEME
from tests.e2e.browser import IDLE_JS, poll, wait_still
from tests.e2e.painter_driver import PainterDriver

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[2]
APP = REPO_ROOT / "app.py"
LOAD_TIMEOUT_MS = 90_000  # the first session of a server loads the model
UPDATE_TIMEOUT_MS = 20_000
NARROW = {"width": 800, "height": 1000}


# The z of a named trace of a plotly chart under `.st-key-<key>` (NaN → null, which JSON keeps). The chart is
# scrolled into view on each read: Streamlit draws a plotly chart once it is on screen, and a rerun (the first
# load's width report) can replace the element between two reads.
_TRACE_JS = """
([key, name]) => {
  document.querySelector(`.st-key-${key}`)?.scrollIntoView({ block: "nearest" });
  const gd = document.querySelector(`.st-key-${key} .js-plotly-plot`);
  if (!gd || !gd._fullData) return null;
  const trace = gd._fullData.find((t) => t.name === name);
  return trace ? Array.from(trace.z, (row) => Array.from(row, (v) => (Number.isNaN(v) ? null : v))) : null;
}
"""

_FONT_JS = """
(key) => {
  const gd = document.querySelector(`.st-key-${key} .js-plotly-plot`);
  return gd && gd._fullLayout ? gd._fullLayout.font.size : null;
}
"""


class Classroom:
    """One browser session on the app: open a page, wait for it, read what it shows, save screenshots."""

    def __init__(self, page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url
        self.errors: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        # The root first: the very first request of a fresh server must go through app.py's navigation.
        page.goto(base_url)
        page.get_by_text("maskattn", exact=True).wait_for(timeout=LOAD_TIMEOUT_MS)
        self.idle(LOAD_TIMEOUT_MS)

    def idle(self, timeout: int = UPDATE_TIMEOUT_MS) -> None:
        self.page.wait_for_function(IDLE_JS, timeout=timeout)

    def open(self, path: str) -> None:
        self.page.goto(f"{self.base_url}/{path}")
        self.page.locator("h1").first.wait_for(timeout=LOAD_TIMEOUT_MS)
        self.idle(LOAD_TIMEOUT_MS)
        self.check_clean()

    def check_clean(self) -> None:
        assert self.page.locator('[data-testid="stException"]').count() == 0, self.page.inner_text("body")[
            :2000
        ]
        assert self.errors == []

    def title(self) -> str:
        return self.page.locator("h1").first.inner_text().strip()

    def click_text(self, text: str, then, timeout: int = UPDATE_TIMEOUT_MS) -> None:
        """Click the control labelled ``text``; wait until ``then`` shows and the run is over.

        ``then`` is a locator for what the click's rerun draws: waiting for it (not for a moment of idle,
        which may come before the rerun starts) is what tells the click has taken effect.
        """
        self.page.get_by_text(text, exact=True).first.click()
        then.wait_for(timeout=timeout)
        self.idle(timeout)

    def trace(self, key: str, name: str, shows=lambda z: True) -> np.ndarray:
        """Return the trace ``name`` of chart ``key`` (NaN: null) once it is drawn and ``shows`` accepts it.

        Polled, and scrolled into view on each read: on a busy machine a chart below the fold may not be
        drawn yet when the page is idle.
        """

        def read() -> np.ndarray | None:
            z = self.page.evaluate(_TRACE_JS, [key, name])
            return (
                None if z is None else np.array([[np.nan if v is None else v for v in r] for r in z], float)
            )

        def drawn(z: np.ndarray | None) -> bool:
            return z is not None and shows(z)

        return poll(self.page, read, drawn, f"{key}'s {name}", UPDATE_TIMEOUT_MS / 1000)

    def shot(self, save_screenshot, name: str, anchor: str | None = None) -> Path:
        if anchor is not None:
            self.page.get_by_text(anchor, exact=True).first.scroll_into_view_if_needed()
        wait_still(self.page, UPDATE_TIMEOUT_MS)  # plotly draws after the script is idle
        self.check_clean()
        return save_screenshot(self.page, f"classroom-{name}")

    def presentation(self, on: bool = True) -> None:
        toggle = self.page.locator(".st-key-presentation input")
        if toggle.is_checked() != on:
            self.page.locator(".st-key-presentation label").first.click()  # in either language
        # The projector CSS hides Streamlit's toolbar: the rerun's output has arrived once it is gone.
        self.page.locator('[data-testid="stToolbar"]').wait_for(state="hidden" if on else "visible")
        wait_still(self.page, UPDATE_TIMEOUT_MS)  # the run is over and the figures are redrawn


@pytest.fixture
def classroom(page, streamlit_server) -> Classroom:
    return Classroom(page, streamlit_server(APP))


def test_mask_lab_three_semantics(classroom, save_screenshot):
    classroom.open("mask_lab")
    page = classroom.page
    assert classroom.title() == "Mask Lab"
    assert page.get_by_text("Formula 2:").first.is_visible()
    classroom.shot(save_screenshot, "mask-lab-en")

    # The default causal mask: formula 2 keeps softmax weights over all keys, then zeroes the blocked ones.
    plain = classroom.trace("ml_weights_none", "weights")
    zeroed = classroom.trace("ml_weights_post_softmax", "weights")
    correct = classroom.trace("ml_weights_pre_softmax", "weights")
    blocked = np.triu(np.ones((6, 6), dtype=bool), 1)
    np.testing.assert_array_equal(np.isnan(correct), blocked)  # blocked cells are drawn as the grey overlay
    np.testing.assert_allclose(np.nansum(correct, axis=1), 1.0, atol=1e-4)
    np.testing.assert_allclose(
        np.nansum(zeroed, axis=1), np.where(blocked, 0.0, plain).sum(axis=1), atol=1e-4
    )
    classroom.shot(save_screenshot, "mask-lab-en-weights", anchor="Head 0: attention weights")

    # Paint one more cell: query x5 may no longer attend to key x0.
    PainterDriver(page, "ml_painter", timeout_ms=UPDATE_TIMEOUT_MS).click_cell(5, 0)
    page.get_by_text("16 of 36 cells blocked", exact=False).first.wait_for(timeout=UPDATE_TIMEOUT_MS)
    classroom.idle()
    correct = classroom.trace("ml_weights_pre_softmax", "weights", shows=lambda z: np.isnan(z[5, 0]))
    assert not np.isnan(correct[5, 1])

    # A preset pill replaces the mask; Clear leaves nothing blocked.
    classroom.click_text("Clear", page.get_by_text("Nothing is blocked yet", exact=False))
    classroom.click_text("Sliding window", page.get_by_text("12 of 36 cells blocked", exact=False).first)
    classroom.check_clean()


def test_mask_lab_step_through(classroom, save_screenshot):
    classroom.open("mask_lab")
    page = classroom.page
    checked = page.get_by_text("These weights are the ones the Explorer shows", exact=False)
    classroom.click_text("Step through a real head", checked, timeout=LOAD_TIMEOUT_MS)
    # The default step-through blocks the key "cat" (index 2): drawn as the overlay, the rest renormalised.
    weights = classroom.trace("ml_tr_weights", "weights")
    assert np.isnan(weights[:, 2]).all() and not np.isnan(np.delete(weights, 2, axis=1)).any()
    np.testing.assert_allclose(np.nansum(weights, axis=1), 1.0, atol=1e-4)
    classroom.shot(save_screenshot, "mask-lab-trace-en")
    classroom.shot(save_screenshot, "mask-lab-trace-en-scores", anchor="6 · scores + M (9 × 9)")
    classroom.shot(save_screenshot, "mask-lab-trace-en-output", anchor="Columns shown")


def test_mask_lab_in_chinese_and_presentation_mode(classroom, save_screenshot):
    classroom.open("mask_lab")
    page = classroom.page
    classroom.click_text("中文", page.get_by_role("heading", name="掩码实验室"))
    assert "lang=zh" in page.url
    assert page.get_by_text("正确的掩码").first.is_visible()
    classroom.shot(save_screenshot, "mask-lab-zh")
    classroom.shot(save_screenshot, "mask-lab-zh-weights", anchor="第 0 个头：注意力权重")

    classroom.presentation(True)
    size = page.evaluate(_FONT_JS, "ml_rowsums")
    assert size == PRESENTATION_THEME.font_size
    classroom.shot(save_screenshot, "mask-lab-zh-presentation")
    classroom.click_text("EN", page.get_by_role("heading", name="Mask Lab"))
    classroom.shot(save_screenshot, "mask-lab-en-presentation")


def test_learn_page(classroom, save_screenshot):
    classroom.open("learn")
    page = classroom.page
    assert classroom.title() == "Learn: masked multi-head attention"
    page.locator(".katex-html").first.wait_for(state="visible", timeout=UPDATE_TIMEOUT_MS)  # KaTeX drew
    classroom.shot(save_screenshot, "learn-en")
    classroom.shot(save_screenshot, "learn-en-mistakes", anchor="5 · The seed's mistakes, and the fix")
    classroom.shot(save_screenshot, "learn-en-example", anchor="7 · The seed's example, fixed and run live")
    classroom.shot(save_screenshot, "learn-en-example-numbers", anchor="tensor")
    assert page.get_by_text("the weights sum to", exact=False).first.is_visible()
    classroom.shot(save_screenshot, "learn-en-exercises", anchor="8 · Exercises")

    # An exercise opens the Explorer in the same session, with its text, plan and focused head.
    page.locator(".st-key-learn_ex_subject button").click()
    page.wait_for_url("**focus=3.1**", timeout=UPDATE_TIMEOUT_MS)  # the Explorer is the default page: "/"
    page.get_by_role("heading", name="Explorer").wait_for(timeout=UPDATE_TIMEOUT_MS)
    page.locator(".st-key-ex_token_painter canvas").wait_for(timeout=LOAD_TIMEOUT_MS)
    classroom.idle()
    assert page.locator(".st-key-ex_layer input").input_value() == "3"
    assert page.locator(".st-key-ex_head input").input_value() == "1"
    assert (
        "The keys to the cabinet are on the table." in page.locator(".st-key-ex_text textarea").input_value()
    )
    classroom.shot(save_screenshot, "learn-exercise-opens-explorer")


def test_learn_in_chinese_and_presentation_mode(classroom, save_screenshot):
    classroom.open("learn?lang=zh")
    assert classroom.title() == "学习：带掩码的多头注意力"
    classroom.shot(save_screenshot, "learn-zh")
    classroom.shot(save_screenshot, "learn-zh-mistakes", anchor="5 · 原文的错误与修正")
    classroom.presentation(True)
    assert "lang=zh" in classroom.page.url  # the restyle rerun keeps the language in the link
    classroom.shot(save_screenshot, "learn-zh-presentation")
    classroom.shot(
        save_screenshot, "learn-zh-presentation-example", anchor="7 · 修正后的原文示例（实时运行）"
    )


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_narrow_window(chromium_browser, streamlit_server, save_screenshot, lang):
    context = chromium_browser.new_context(viewport=NARROW)
    try:
        classroom = Classroom(context.new_page(), streamlit_server(APP))
        classroom.open(f"mask_lab?lang={lang}")
        page = classroom.page
        switch = page.locator(".st-key-i18n_lang")
        box, viewport = switch.bounding_box(), page.viewport_size
        assert box["x"] + box["width"] <= viewport["width"]  # the language switch is not cut off
        classroom.shot(save_screenshot, f"mask-lab-{lang}-800")
        classroom.shot(save_screenshot, f"mask-lab-{lang}-800-weights", anchor=(
            "Head 0: attention weights" if lang == "en" else "第 0 个头：注意力权重"))  # fmt: skip
        classroom.open(f"learn?lang={lang}")
        classroom.shot(save_screenshot, f"learn-{lang}-800")
        classroom.shot(save_screenshot, f"learn-{lang}-800-multihead", anchor=(
            "4 · Multi-head attention" if lang == "en" else "4 · 多头注意力"))  # fmt: skip
        classroom.shot(save_screenshot, f"learn-{lang}-800-mistakes", anchor=(
            "5 · The seed's mistakes, and the fix" if lang == "en" else "5 · 原文的错误与修正"))  # fmt: skip
    finally:
        context.close()
