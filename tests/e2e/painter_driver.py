"""One driver for the grid painter in a browser page: where its cells and labels are, and gestures on them.

Every page object that paints (the Explorer, the Mask Lab, the painter's harness) goes through this. The
painter's root carries its geometry (``data-cell``, ``data-grid-left``, ``data-grid-top``: the cell size and
the grid's offset inside the canvas) and its grid (``data-rows``, ``data-cols``, ``data-blocked``). A page
that reflows (an expander opening, a rerun, a font loading) moves the canvas and makes the painter refit its
cells, so every gesture first waits until the canvas and the geometry hold still over several animation
frames, then measures; clicks are made relative to the canvas, which Playwright locates again at the moment
of the click.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# True once the canvas box and the painter's geometry are unchanged over ``frames`` animation frames.
_STILL_JS = """
([root, canvas, frames]) => {
  const r = canvas.getBoundingClientRect();
  const d = root.dataset;
  const now = [r.x, r.y, r.width, r.height, d.cell, d.gridLeft, d.gridTop].join();
  const s = root.__still || (root.__still = { last: null, frames: 0 });
  s.frames = now === s.last ? s.frames + 1 : 0;
  s.last = now;
  return d.cell !== undefined && r.width > 0 && s.frames >= frames;
}
"""


@dataclass(frozen=True)
class Geometry:
    """Where the grid lies inside the canvas, in CSS pixels."""

    cell: float
    left: float  # room of the row labels
    top: float  # room of the column labels

    def cell_offset(self, row: int, col: int) -> dict[str, float]:
        return {"x": self.left + (col + 0.5) * self.cell, "y": self.top + (row + 0.5) * self.cell}

    def row_label_offset(self, row: int) -> dict[str, float]:
        return {"x": self.left / 2, "y": self.top + (row + 0.5) * self.cell}

    def col_label_offset(self, col: int) -> dict[str, float]:
        return {"x": self.left + (col + 0.5) * self.cell, "y": self.top / 2}


class PainterDriver:
    """The painter under ``.st-key-<key>`` in ``page``."""

    def __init__(self, page, key: str, *, timeout_ms: float = 20_000) -> None:
        self.page = page
        self.root = page.locator(f".st-key-{key} [data-testid='grid-painter']")
        self.canvas = page.locator(f".st-key-{key} canvas")
        self.timeout_ms = timeout_ms

    # -- reading

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.root.get_attribute("data-rows")), int(self.root.get_attribute("data-cols"))

    def blocked(self) -> np.ndarray:
        """Return the grid the painter shows as blocked (painted), ``(rows, cols)`` bool."""
        bits = self.root.get_attribute("data-blocked") or ""
        return np.array([b == "1" for b in bits], dtype=bool).reshape(self.shape)

    def geometry(self, frames: int = 5) -> Geometry:
        """Return the grid's geometry once the canvas and the painter's layout hold still."""
        self.root.wait_for(timeout=self.timeout_ms)
        box, viewport = self.canvas.bounding_box(), self.page.viewport_size
        if box is not None and box["height"] <= viewport["height"]:
            # Bring a canvas that fits into view; a taller one stays where it is (scrolling it to its
            # middle would push its first rows off the screen).
            self.canvas.scroll_into_view_if_needed(timeout=self.timeout_ms)
        root, canvas = self.root.element_handle(), self.canvas.element_handle()
        self.page.wait_for_function(
            _STILL_JS, arg=[root, canvas, frames], polling="raf", timeout=self.timeout_ms
        )
        return Geometry(
            *(float(self.root.get_attribute(f"data-{n}")) for n in ("cell", "grid-left", "grid-top"))
        )

    def point(self, offset: dict[str, float]) -> tuple[float, float]:
        """Return the page coordinates of ``offset`` inside the canvas, measured now."""
        box = self.canvas.bounding_box()
        return box["x"] + offset["x"], box["y"] + offset["y"]

    def cell_point(self, row: int, col: int) -> tuple[float, float]:
        """Return the page coordinates of cell (row, col)'s centre, once the layout holds still."""
        return self.point(self.geometry().cell_offset(row, col))

    @property
    def zoom(self) -> str:
        """Return ``""`` for a grid that fits, ``"fit"`` for a long one shrunk to fit, else its cell size."""
        return self.root.get_attribute("data-zoom") or ""

    def press_zoom(self, way: str) -> None:
        """Press the painter's zoom button ``way`` ("in", "out" or "fit")."""
        self.root.locator(f"[data-zoom='{way}']").click(timeout=self.timeout_ms)

    def show_cell(self, row: int, col: int) -> dict[str, float]:
        """Scroll a zoomed grid's viewport (and the page) so cell (row, col) is in sight; return its offset.

        The viewport is at most about a window high, so once it is on screen, centring the cell inside it
        puts the cell on screen too.
        """
        offset = self.geometry().cell_offset(row, col)  # where the cell lies on the unscrolled grid
        scrolled = self.root.evaluate(
            """(root, [x, y]) => {
              const view = root.querySelector('.gp-scroll');
              view.scrollIntoView({ block: 'center' });
              view.scrollLeft = x - view.clientWidth / 2;
              view.scrollTop = y - view.clientHeight / 2;
              return [view.scrollLeft, view.scrollTop];
            }""",
            [offset["x"], offset["y"]],
        )
        self.geometry()  # the page has moved: wait until it holds still again
        # The canvas stays in sight while the grid scrolls under it, so the cell is that much up and left.
        return {"x": offset["x"] - scrolled[0], "y": offset["y"] - scrolled[1]}

    # -- gestures

    def _click(self, offset: dict[str, float], modifier: str | None) -> None:
        self.canvas.click(
            position=offset, modifiers=[modifier] if modifier else None, timeout=self.timeout_ms
        )

    def click_cell(self, row: int, col: int, modifier: str | None = None) -> None:
        if self.zoom and self.zoom != "fit":
            # A zoomed-in grid scrolls inside its viewport: click where the cell is on screen now.
            x, y = self.point(self.show_cell(row, col))
            keyboard = self.page.keyboard
            if modifier:
                keyboard.down(modifier)
            self.page.mouse.click(x, y)
            if modifier:
                keyboard.up(modifier)
            return
        self._click(self.geometry().cell_offset(row, col), modifier)

    def click_row_label(self, row: int) -> None:
        self._click(self.geometry().row_label_offset(row), None)

    def click_col_label(self, col: int) -> None:
        self._click(self.geometry().col_label_offset(col), None)

    def drag(
        self, start: tuple[int, int], end: tuple[int, int], *, steps: int = 12, shift: bool = False
    ) -> None:
        """Press on cell ``start``, move to cell ``end`` in ``steps`` moves, release (shift: a rectangle)."""
        geometry = self.geometry()
        first, last = self.point(geometry.cell_offset(*start)), self.point(geometry.cell_offset(*end))
        self.drag_points(first, last, steps=steps, shift=shift)

    def drag_points(
        self, first: tuple[float, float], last: tuple[float, float], *, steps: int = 12, shift: bool = False
    ) -> None:
        """Press at page point ``first``, move to ``last`` in ``steps`` moves, release (shift: held)."""
        mouse, keyboard = self.page.mouse, self.page.keyboard
        if shift:
            keyboard.down("Shift")
        mouse.move(*first)
        mouse.down()
        mouse.move(*last, steps=steps)
        mouse.up()
        if shift:
            keyboard.up("Shift")
