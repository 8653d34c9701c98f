// Grid painter: a canvas of R x C cells that the user paints with the mouse (or a finger).
//
// Streamlit runs this default export again on every `data` change and only cleans up on unmount, so all
// state lives on the root DOM node (`root.__gp`), which survives reruns while the html/css are unchanged,
// and every handler is assigned (`el.onpointerdown = ...`), never stacked with addEventListener.
//
// Protocol (see ui/painter_codec.py): one setStateValue("grid", {bits, rows, cols, rev}) per finished gesture;
// Python answers with data.ack_rev = the newest rev it took in. While we have sent a newer rev than that, the
// grid in `data` is an older answer and is ignored, so a slow rerun never paints over a fresh stroke.
//
// Undo: by default the painter keeps its own history of grids. When the page owns the history
// (data.external_undo, e.g. the Explorer's plan history), ↶ Undo and Ctrl+Z only send an "undo" trigger,
// enabled while data.can_undo says there is something to undo, and the page answers with the grid to show.

const MIN_CELL = 8; // the smallest cell a short grid gets (a longer one scrolls, or is zoomed to fit)
const MAX_CELL = 36;
// Long grids (long texts): by default the cells shrink to this to fit the width, so the whole mask shows;
// − / + step through ZOOM_STEPS (CSS px per cell) and the grid scrolls inside a bounded viewport.
const MIN_FIT_CELL = 1;
const ZOOM_STEPS = [1, 2, 3, 4, 6, 8, 12, 16, 24, 36];
// A gesture the server has not answered after this long is said to be waiting (a normal edit answers sooner).
const WAIT_NOTE_MS = 700;
const MAX_CANVAS_PX = 8192; // the grid's full size (the scroll extent, a tall grid's too) stays bounded
const MAX_ROW_LABEL_PX = 120;
const MAX_COL_LABEL_PX = 96;
const UNDO_DEPTH = 64;

// Sequential white -> dark blue (ColorBrewer "Blues"), readable on light and dark themes.
const BLUES = [
  [255, 255, 255], [222, 235, 247], [198, 219, 239], [158, 202, 225], [107, 174, 214],
  [66, 146, 198], [33, 113, 181], [8, 81, 156], [8, 48, 107],
];
// 256 colours interpolated between the stops of a ramp ([[r, g, b], ...], low to high).
function makeLut(stops) {
  return Array.from({ length: 256 }, (_, i) => {
    const t = (i / 255) * (stops.length - 1);
    const k = Math.min(Math.floor(t), stops.length - 2);
    const f = t - k;
    const [a, b] = [stops[k], stops[k + 1]];
    return [0, 1, 2].map((j) => Math.round(a[j] + (b[j] - a[j]) * f));
  });
}
const LUT = makeLut(BLUES);
// Blocked cells: a veil then diagonal stripes, so they read as blocked over any value colour. Painted here:
// grey with dark stripes; blocked by a rule of the plan (fixed 1): orange; by the model's own mask (fixed
// 2): pale, stripes the other way. The figures draw the same (maskattn/figures.py, painter.css swatches).
const BLOCK_STYLES = {
  painted: { veil: "rgba(172, 174, 182, 0.78)", hatch: "rgba(24, 24, 30, 0.85)", flip: false },
  rule: { veil: "rgba(250, 176, 118, 0.85)", hatch: "rgba(160, 60, 0, 0.9)", flip: false },
  model: { veil: "rgba(222, 222, 226, 0.92)", hatch: "rgba(110, 110, 120, 0.8)", flip: true },
};
const FIXED_KINDS = { 1: "rule", 2: "model" };
const MARK_COLOUR = "#f76707";
const FOCUS_COLOUR = "#111111";
const HOVER_COLOUR = "#d6336c";
const HOVER_BAND = "rgba(214, 51, 108, 0.13)";

const clamp = (x, lo, hi) => Math.max(lo, Math.min(hi, x));
const bitsToArray = (bits) => Uint8Array.from(bits, (ch) => (ch === "1" ? 1 : 0));
const ASCII = new TextDecoder("ascii");
// 16k cells become their '0'/'1' string in well under a millisecond ('0' is 48).
const arrayToBits = (arr) => ASCII.decode(Uint8Array.from(arr, (b) => (b ? 49 : 48)));

// The bytes (a binary string) of a base64 text from Python; null if it is not base64 text.
function binaryOf(b64) {
  if (typeof b64 !== "string") return null;
  try {
    return atob(b64);
  } catch {
    return null;
  }
}

// The inverse of painter_codec.pack_codes: n codes of `bits` (1 or 2) bits each, packed from each byte's
// most significant bits, in base64; null if the text is not exactly that.
function unpackCodes(b64, n, bits) {
  const bin = binaryOf(b64);
  if (bin === null) return null;
  const perByte = 8 / bits;
  if (bin.length !== Math.ceil(n / perByte)) return null;
  const mask = (1 << bits) - 1;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = (bin.charCodeAt((i / perByte) | 0) >> (8 - bits * ((i % perByte) + 1))) & mask;
  }
  return out;
}

function decodeValues(b64, n) {
  const bin = binaryOf(b64);
  if (bin === null || bin.length !== 2 * n) return null;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (bin.charCodeAt(2 * i) | (bin.charCodeAt(2 * i + 1) << 8)) / 65535;
  return out;
}

function shownLabel(label) {
  // A token that is only whitespace would be an invisible label.
  return label.trim() === "" ? "␣" : label;
}

function createState(root) {
  return {
    root,
    canvas: root.querySelector("canvas"),
    scroll: root.querySelector(".gp-scroll"),
    space: root.querySelector(".gp-space"),
    tip: root.querySelector(".gp-tip"),
    hint: root.querySelector(".gp-hint"),
    count: root.querySelector(".gp-count"),
    wait: root.querySelector(".gp-wait"),
    waitTimer: 0,
    legend: root.querySelector(".gp-legend"),
    toolButtons: root.querySelectorAll("[data-tool]"),
    zoomBox: root.querySelector(".gp-zoom"),
    zoomButtons: root.querySelectorAll("[data-zoom]"),
    undoButton: root.querySelector(".gp-undo"),
    rows: 0,
    cols: 0,
    bits: new Uint8Array(0),
    values: null,
    marked: null,
    fixed: null, // per cell 0 free, 1 blocked by a rule, 2 blocked by the model: drawn, never painted
    scale: 1,
    focus: null,
    rowLabels: [],
    colLabels: [],
    words: {},
    cellPx: null,
    zoom: null, // null: fit the width (long grids) or the default size; else the user's cell size in CSS px
    long: false, // the grid does not fit the width at MIN_CELL: zoom controls show
    pickable: false,
    rev: 0, // newest gesture counter sent to Python
    awaitingReply: false, // a gesture went out and Python's answer to it has not come back yet
    history: [], // bit strings to undo to (when the painter keeps its own history)
    externalUndo: false, // the page keeps the history: undo is a trigger to Python
    canUndo: false, // with externalUndo: whether the page has something to undo
    drag: null,
    hover: null,
    tool: "paint",
    layout: null,
    frame: 0,
    send: null,
    trigger: null,
  };
}

export default function (component) {
  const { parentElement, data, setStateValue, setTriggerValue } = component;
  const root = parentElement.querySelector(".gp-root");
  if (!root) return undefined;
  const s = root.__gp || (root.__gp = createState(root));
  s.redraw = () => draw(s); // for timing from a console or a benchmark
  // The latest closures: Streamlit hands new ones on each run (form and fragment ids can change).
  s.send = setStateValue;
  s.trigger = setTriggerValue;
  bindHandlers(s);
  applyData(s, data);
  relayout(s);
  return () => {
    if (s.resizeObserver) s.resizeObserver.disconnect();
    s.resizeObserver = null;
  };
}

function applyData(s, data) {
  if (!data || typeof data !== "object") return;
  const rows = data.rows | 0;
  const cols = data.cols | 0;
  const shapeChanged = rows !== s.rows || cols !== s.cols;
  const ack = data.ack_rev | 0;
  s.ack = ack; // shown as data-ack: a test that waits on the server can say which gesture it never took in
  s.rowLabels = (data.row_labels || []).map(String);
  s.colLabels = (data.col_labels || []).map(String);
  s.values = decodeValues(data.values, rows * cols);
  s.valuesMax = Number(data.values_max) > 0 ? Number(data.values_max) : 1; // the ramp's top, in real units
  // The page may ask for another ramp (presentation mode): the same one its figures use.
  const ramp = Array.isArray(data.ramp) && data.ramp.length >= 2 ? data.ramp : BLUES;
  if (s.ramp !== JSON.stringify(ramp)) {
    s.ramp = JSON.stringify(ramp);
    s.lut = makeLut(ramp);
    s.rampCss = `linear-gradient(to right, ${ramp.map(([r, g, b]) => `rgb(${r}, ${g}, ${b})`).join(", ")})`;
  }
  s.marked = unpackCodes(data.marked, rows * cols, 1);
  s.fixed = unpackCodes(data.fixed, rows * cols, 2);
  const scale = Number(data.scale) >= 1 ? Math.min(2, Number(data.scale)) : 1;
  if (scale !== s.scale) {
    s.scale = scale;
    s.root.style.setProperty("--gp-scale", String(scale));
  }
  s.focus = Array.isArray(data.focus) ? { r: data.focus[0], c: data.focus[1] } : null;
  s.words = data.words || {};
  s.cellPx = data.cell_px || null;
  s.pickable = !!data.pickable;
  s.externalUndo = !!data.external_undo;
  s.canUndo = !!data.can_undo;
  if (s.externalUndo) s.history = [];
  if (!s.pickable) s.tool = "paint";
  const packed = unpackCodes(data.blocked, rows * cols, 1);
  const incoming = packed && arrayToBits(packed); // compared with, and kept as, the '0'/'1' string we send
  if (shapeChanged) {
    // New text or a new grid: whatever was being painted belongs to the old one.
    s.rows = rows;
    s.cols = cols;
    s.drag = null;
    s.hover = null;
    s.history = [];
    s.zoom = null; // a new text starts fitted
    s.bits = incoming ? bitsToArray(incoming) : new Uint8Array(rows * cols);
    s.rev = Math.max(s.rev, ack);
    s.awaitingReply = false; // gestures on the old grid are answered by the new one
  } else if (incoming && !s.drag && ack >= s.rev) {
    // Python has seen every gesture we sent; if its grid differs (a reset, a preset, a refusal), it wins.
    s.rev = ack;
    const current = arrayToBits(s.bits);
    if (incoming !== current) {
      // A refusal answers our own gesture: undo should not bring the refused grid back. A reset is news.
      if (!s.awaitingReply) pushHistory(s, current);
      s.bits = bitsToArray(incoming);
    }
    s.awaitingReply = false;
  }
  renderLegend(s);
  s.hint.textContent = s.words.hint || "";
  s.hint.hidden = !s.words.hint;
  syncChrome(s);
}

// ---------------------------------------------------------------------------------------------- layout

function labelFont(s, cell) {
  // Presentation mode (scale > 1) lifts the floor and the ceiling: labels must read from the back row.
  const px = clamp(Math.round(cell * 0.6 * s.scale), Math.round(8 * s.scale), Math.round(13 * s.scale));
  return { px, css: `${px}px ${s.fontFamily}` };
}

function relayout(s) {
  const style = getComputedStyle(s.root);
  s.fontFamily = style.fontFamily || "sans-serif";
  s.textColour = style.color || "#31333f";
  const rgb = s.textColour.match(/\d+(\.\d+)?/g) || [49, 51, 63];
  s.mutedColour = `rgba(${rgb[0]}, ${rgb[1]}, ${rgb[2]}, 0.5)`;
  s.dpr = window.devicePixelRatio || 1;
  const ctx = s.canvas.getContext("2d");
  const avail = Math.max(120, s.root.clientWidth || 600);
  const widest = (labels, font) => {
    ctx.font = font;
    let w = 0;
    for (const label of labels) w = Math.max(w, ctx.measureText(shownLabel(label)).width);
    return w;
  };
  const cornerFont = (font) => `${Math.max(9, font.px - 1)}px ${s.fontFamily}`;
  const leftFor = (font) =>
    Math.ceil(
      Math.max(
        Math.min(widest(s.rowLabels, font.css), MAX_ROW_LABEL_PX) + 10,
        widest([`${s.words.row || ""} ↓`, `${s.words.col || ""} →`], cornerFont(font)) + 12,
      ),
    );
  // 3: the grid's 2 px frame and its 1 px outline on the right, so the last column is never cut.
  const maxCell = Math.round(MAX_CELL * s.scale);
  const side = Math.max(1, s.rows, s.cols);
  const fitted = (left) => Math.floor((avail - left - 3) / Math.max(1, s.cols));
  // A grid that fits at MIN_CELL keeps its old sizes; a longer one shrinks to fit unless the user zoomed.
  s.long = !s.cellPx && fitted(leftFor(labelFont(s, MIN_CELL))) < MIN_CELL;
  const zoomed = s.long && s.zoom ? clamp(s.zoom, MIN_FIT_CELL, maxZoom(s)) : null;
  const fit = (left) =>
    s.cellPx || zoomed || clamp(fitted(left), s.long ? MIN_FIT_CELL : MIN_CELL, maxCell);
  // The label font follows the cell size and the left margin follows the font: settle in two passes, then
  // keep that font and shrink the cell if the final margin no longer leaves room.
  let cell = maxCell;
  for (let pass = 0; pass < 2; pass++) cell = fit(leftFor(labelFont(s, cell)));
  const font = labelFont(s, cell);
  const left = leftFor(font);
  cell = Math.min(cell, fit(left));
  if (s.long && !zoomed) cell = Math.max(cell, MIN_FIT_CELL);
  if (side * cell > MAX_CANVAS_PX) cell = Math.max(1, Math.floor(MAX_CANVAS_PX / side));
  const colWidest = widest(s.colLabels, font.css);
  // Short column labels (head numbers) read better level; tokens stand up.
  const upright = colWidest > cell - 4;
  const labelsTop = upright ? Math.ceil(Math.min(colWidest, MAX_COL_LABEL_PX)) + 10 : font.px + 10;
  // The corner holds two lines, "key →" over "query ↓".
  const gridTop = Math.max(labelsTop, 2 * (font.px + 4) + 8);
  s.layout = {
    cell,
    font,
    // Cells smaller than the font label every k-th token (the tooltip names each one).
    labelStep: Math.max(1, Math.ceil((font.px + 1) / cell)),
    upright,
    left,
    top: gridTop,
    width: left + cell * s.cols + 3,
    height: gridTop + cell * s.rows + 2,
  };
  const { width, height } = s.layout;
  // Where the grid sits inside the canvas (CSS px), for tests and for debugging in the inspector.
  s.root.dataset.cell = String(cell);
  s.root.dataset.zoom = s.long ? (zoomed ? String(zoomed) : "fit") : "";
  s.root.dataset.gridLeft = String(left);
  s.root.dataset.gridTop = String(gridTop);
  // The grid scrolls inside .gp-scroll (about a window high at most, never 2000 px down the page) over a
  // spacer of its full size; the canvas is only as large as what shows, stays put (sticky) and draws the
  // cells in sight, with the labels pinned to its left and top edges.
  s.scroll.style.maxHeight = s.long ? `${Math.max(320, Math.round(window.innerHeight * 0.8))}px` : "";
  s.space.style.width = `${width}px`;
  s.space.style.height = `${height}px`;
  const view = {
    width: Math.min(width, s.scroll.clientWidth || width),
    height: Math.min(height, s.scroll.clientHeight || height),
  };
  s.layout.view = view;
  s.canvas.style.width = `${view.width}px`;
  s.canvas.style.height = `${view.height}px`;
  s.canvas.width = Math.round(view.width * s.dpr);
  s.canvas.height = Math.round(view.height * s.dpr);
  if (!s.resizeObserver && typeof ResizeObserver !== "undefined") {
    let lastWidth = s.root.clientWidth;
    s.resizeObserver = new ResizeObserver(() => {
      if (s.root.clientWidth !== lastWidth) {
        lastWidth = s.root.clientWidth;
        relayout(s);
      }
    });
    s.resizeObserver.observe(s.root);
  }
  syncChrome(s); // the zoom controls follow the layout
  draw(s);
}

function scheduleDraw(s) {
  if (s.frame) return;
  s.frame = requestAnimationFrame(() => {
    s.frame = 0;
    draw(s);
  });
}

// ---------------------------------------------------------------------------------------------- drawing

function truncate(ctx, text, maxWidth) {
  if (ctx.measureText(text).width <= maxWidth) return text;
  let lo = 0;
  let hi = text.length;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (ctx.measureText(text.slice(0, mid) + "…").width <= maxWidth) lo = mid;
    else hi = mid - 1;
  }
  return text.slice(0, lo) + "…";
}

// What of the grid is in sight: the canvas position of cell (0, 0)'s corner and the visible cell ranges.
function visible(s) {
  const L = s.layout;
  const { cell, left, top, view } = L;
  const x0 = left - s.scroll.scrollLeft; // canvas x of column 0's left edge
  const y0 = top - s.scroll.scrollTop;
  const c0 = clamp(Math.floor((left - x0) / cell), 0, s.cols);
  const r0 = clamp(Math.floor((top - y0) / cell), 0, s.rows);
  const c1 = clamp(Math.ceil((view.width - x0) / cell), c0, s.cols);
  const r1 = clamp(Math.ceil((view.height - y0) / cell), r0, s.rows);
  return { x0, y0, c0, c1, r0, r1 };
}

function draw(s) {
  const L = s.layout;
  if (!L) return;
  const ctx = s.canvas.getContext("2d");
  const { cell, left, top, view } = L;
  const { cols, bits } = s;
  ctx.setTransform(s.dpr, 0, 0, s.dpr, 0, 0);
  ctx.clearRect(0, 0, view.width, view.height);
  const seen = visible(s);
  const { x0, y0, c0, c1, r0, r1 } = seen;

  // Everything of the grid is clipped to its area, right of the row labels and below the column labels.
  ctx.save();
  ctx.beginPath();
  ctx.rect(left - 1, top - 1, view.width - left + 1, view.height - top + 1);
  ctx.clip();

  // Cells: the value colour underneath, so a painted cell still shows what it covers. Each layer is an
  // image with one pixel per cell, scaled up without smoothing: one drawImage instead of R*C fillRects.
  ctx.imageSmoothingEnabled = false;
  if (c1 > c0 && r1 > r0) {
    const [w, h] = [c1 - c0, r1 - r0];
    ctx.drawImage(valueImage(s), c0, r0, w, h, x0 + c0 * cell, y0 + r0 * cell, w * cell, h * cell);
  }
  if (cell >= 10) {
    ctx.beginPath();
    for (let r = Math.max(1, r0); r < r1; r++) {
      ctx.moveTo(x0 + c0 * cell, y0 + r * cell + 0.5);
      ctx.lineTo(x0 + c1 * cell, y0 + r * cell + 0.5);
    }
    for (let c = Math.max(1, c0); c < c1; c++) {
      ctx.moveTo(x0 + c * cell + 0.5, y0 + r0 * cell);
      ctx.lineTo(x0 + c * cell + 0.5, y0 + r1 * cell);
    }
    ctx.strokeStyle = "rgba(0, 0, 0, 0.07)";
    ctx.lineWidth = 1;
    ctx.stroke();
  }

  // Painted cells: a grey veil and one set of diagonal stripes over them, so painted regions read as one
  // hatched shape rather than as low values.
  drawBlocked(s, ctx, seen, "painted", (i) => s.bits[i] && !(s.fixed && s.fixed[i]));
  if (s.fixed) {
    for (const [code, kind] of Object.entries(FIXED_KINDS)) {
      const value = Number(code);
      drawBlocked(s, ctx, seen, kind, (i) => s.fixed[i] === value);
    }
  }

  if (s.marked) {
    ctx.strokeStyle = MARK_COLOUR;
    ctx.lineWidth = cell >= 16 ? 3 : 2;
    const inset = ctx.lineWidth / 2 + 0.5;
    for (let r = r0; r < r1; r++) {
      for (let c = c0; c < c1; c++) {
        if (!s.marked[r * cols + c]) continue;
        const x = x0 + c * cell;
        const y = y0 + r * cell;
        ctx.strokeRect(x + inset, y + inset, cell - 2 * inset, cell - 2 * inset);
      }
    }
  }

  ctx.strokeStyle = "rgba(0, 0, 0, 0.35)";
  ctx.lineWidth = 1;
  ctx.strokeRect(x0 - 0.5, y0 - 0.5, s.cols * cell + 1, s.rows * cell + 1);

  if (s.focus) {
    const x = x0 + s.focus.c * cell;
    const y = y0 + s.focus.r * cell;
    ctx.lineWidth = 3;
    ctx.strokeStyle = FOCUS_COLOUR;
    ctx.strokeRect(x - 1.5, y - 1.5, cell + 3, cell + 3);
    ctx.lineWidth = 1;
    ctx.strokeStyle = "#ffffff";
    ctx.strokeRect(x + 0.5, y + 0.5, cell - 1, cell - 1);
  }

  const d = s.drag;
  if (d && d.kind === "rect") {
    const [r0, r1] = [Math.min(d.r0, d.r1), Math.max(d.r0, d.r1)];
    const [c0, c1] = [Math.min(d.c0, d.c1), Math.max(d.c0, d.c1)];
    ctx.setLineDash([4, 3]);
    ctx.lineWidth = 2;
    ctx.strokeStyle = d.paint ? "#1c1c24" : "#1971c2";
    ctx.strokeRect(x0 + c0 * cell + 1, y0 + r0 * cell + 1, (c1 - c0 + 1) * cell - 2, (r1 - r0 + 1) * cell - 2);
    ctx.setLineDash([]);
  }

  const h = s.hover;
  if (h && h.kind === "cell" && !d) {
    ctx.lineWidth = 2;
    ctx.strokeStyle = HOVER_COLOUR;
    ctx.strokeRect(x0 + h.c * cell + 1, y0 + h.r * cell + 1, cell - 2, cell - 2);
  }
  ctx.restore();

  drawLabels(s, ctx, seen);
  s.root.dataset.blocked = arrayToBits(bits);
}

function cellImage(canvas, rows, cols, fill) {
  // A cols x rows canvas whose pixel (c, r) is fill(i) = [r, g, b, a] of cell i = r * cols + c.
  if (canvas.width !== cols || canvas.height !== rows) {
    canvas.width = cols;
    canvas.height = rows;
  }
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(cols, rows);
  for (let i = 0; i < rows * cols; i++) image.data.set(fill(i), 4 * i);
  ctx.putImageData(image, 0, 0);
  return canvas;
}

function valueImage(s) {
  // Rebuilt only when Python sends other values; hover and paint redraws reuse it.
  if (s.valueCanvas && s.valueCanvasOf === s.values && s.valueCanvasShape === `${s.rows}x${s.cols}`) {
    return s.valueCanvas;
  }
  const white = [255, 255, 255, 255];
  s.valueCanvas = cellImage(s.valueCanvas || document.createElement("canvas"), s.rows, s.cols, (i) =>
    s.values ? [...(s.lut || LUT)[Math.round(s.values[i] * 255)], 255] : white,
  );
  s.valueCanvasOf = s.values;
  s.valueCanvasShape = `${s.rows}x${s.cols}`;
  return s.valueCanvas;
}

function hatchPattern(ctx, spacing, dpr, width, style) {
  // One tile of the diagonal stripes, drawn in device pixels; a pattern fill is far cheaper than stroking
  // hundreds of long antialiased lines (which cost ~100 ms at 128 tokens on a 2x screen).
  const size = Math.max(2, Math.round(spacing * dpr));
  const tile = document.createElement("canvas");
  tile.width = size;
  tile.height = size;
  const t = tile.getContext("2d");
  t.strokeStyle = style.hatch;
  t.lineWidth = width * dpr;
  t.beginPath();
  for (const shift of [-size, 0, size]) {
    if (style.flip) {
      t.moveTo(shift, 0);
      t.lineTo(shift + size, size);
    } else {
      t.moveTo(shift, size);
      t.lineTo(shift + size, 0);
    }
  }
  t.stroke();
  return ctx.createPattern(tile, "repeat");
}

function stripedVeil(s, seen, kind) {
  // The kind's veil with its stripes over the cells in sight (device pixels), rebuilt when they move. The
  // stripes' phase follows the grid, so they stay put on their cells while the grid scrolls.
  const { cell } = s.layout;
  const { dpr } = s;
  const W = Math.round((seen.c1 - seen.c0) * cell * dpr);
  const H = Math.round((seen.r1 - seen.r0) * cell * dpr);
  const key = `${W}x${H}|${cell}|${dpr}|${seen.c0},${seen.r0}`;
  s.veils = s.veils || {};
  const cached = s.veils[kind];
  if (cached && cached.key === key) return cached.canvas;
  const veil = cached ? cached.canvas : document.createElement("canvas");
  veil.width = Math.max(1, W);
  veil.height = Math.max(1, H);
  const ctx = veil.getContext("2d");
  const style = BLOCK_STYLES[kind];
  ctx.fillStyle = style.veil;
  ctx.fillRect(0, 0, W, H);
  const spacing = clamp(Math.round(cell / 3), 4, 8);
  const pattern = hatchPattern(ctx, spacing, dpr, cell >= 16 ? 1.25 : 1, style);
  const size = Math.max(2, Math.round(spacing * dpr));
  const shift = (k) => -((((k * cell * dpr) % size) + size) % size);
  if (pattern.setTransform) pattern.setTransform(new DOMMatrix([1, 0, 0, 1, shift(seen.c0), shift(seen.r0)]));
  ctx.fillStyle = pattern;
  ctx.fillRect(0, 0, W, H);
  s.veils[kind] = { key, canvas: veil };
  return veil;
}

function drawBlocked(s, ctx, seen, kind, isBlocked) {
  // Blocked cells of one kind as rectangles blitted from its striped veil, which lies over the cells in
  // sight, so stripes run on across neighbouring cells. A run of cells in a row is one rectangle, and the
  // same run in the rows below extends it (a blocked key column is one blit). No compositing modes: in
  // software rendering those cost tens of ms per frame at 128 tokens.
  const { cols, dpr } = s;
  const cell = s.layout.cell;
  const { x0, y0 } = seen;
  if (seen.c1 <= seen.c0 || seen.r1 <= seen.r0) return;
  const veil = stripedVeil(s, seen, kind);
  const unit = cell * dpr;
  const blit = (c0, c1, r0, r1) =>
    ctx.drawImage(
      veil,
      (c0 - seen.c0) * unit,
      (r0 - seen.r0) * unit,
      (c1 - c0) * unit,
      (r1 - r0) * unit,
      x0 + c0 * cell,
      y0 + r0 * cell,
      (c1 - c0) * cell,
      (r1 - r0) * cell,
    );
  let open = new Map(); // run c0 * 65536 + c1 -> first row it appeared in, for runs still growing downwards
  for (let r = seen.r0; r <= seen.r1; r++) {
    const next = new Map();
    for (let c = seen.c0; r < seen.r1 && c < seen.c1; ) {
      if (!isBlocked(r * cols + c)) {
        c++;
        continue;
      }
      let end = c;
      while (end < seen.c1 && isBlocked(r * cols + end)) end++;
      const run = c * 65536 + end;
      next.set(run, open.has(run) ? open.get(run) : r);
      c = end;
    }
    for (const [run, firstRow] of open) {
      if (next.has(run)) continue;
      blit(Math.floor(run / 65536), run % 65536, firstRow, r);
    }
    open = next;
  }
}

function drawLabels(s, ctx, seen) {
  const L = s.layout;
  const { cell, left, top, font, view } = L;
  const { x0, y0 } = seen;
  const h = s.hover;
  const hotRow = h && (h.kind === "cell" || h.kind === "row") ? h.r : -1;
  const hotCol = h && (h.kind === "cell" || h.kind === "col") ? h.c : -1;
  const focusRow = s.focus ? s.focus.r : -1;
  const focusCol = s.focus ? s.focus.c : -1;
  const labelFill = (hot) => (hot ? HOVER_BAND : null);

  const step = L.labelStep;
  ctx.textBaseline = "middle";
  ctx.save(); // row labels: left of the grid, below the column labels, following the grid's scroll
  ctx.beginPath();
  ctx.rect(0, top, left, view.height - top);
  ctx.clip();
  for (let r = seen.r0; r < seen.r1; r++) {
    const y = y0 + r * cell;
    const fill = labelFill(r === hotRow);
    if (fill) {
      ctx.fillStyle = fill;
      ctx.fillRect(0, y, left - 2, cell);
    }
    if (r % step) continue;
    const full = rowFullyPainted(s, r);
    ctx.font = (r === hotRow || r === focusRow ? "600 " : "") + font.css;
    ctx.fillStyle = full ? s.mutedColour : s.textColour;
    ctx.textAlign = "right";
    const text = truncate(ctx, shownLabel(s.rowLabels[r] || ""), left - 10);
    ctx.fillText(text, left - 5, y + cell / 2 + 0.5);
    if (full) strike(ctx, left - 5, y + cell / 2, ctx.measureText(text).width, "right");
  }
  ctx.restore();
  ctx.save(); // column labels: above the grid, right of the row labels
  ctx.beginPath();
  ctx.rect(left, 0, view.width - left, top);
  ctx.clip();
  for (let c = seen.c0; c < seen.c1; c++) {
    const x = x0 + c * cell;
    const fill = labelFill(c === hotCol);
    if (fill) {
      ctx.fillStyle = fill;
      ctx.fillRect(x, 0, cell, top - 2);
    }
    if (c % step) continue;
    const full = colFullyPainted(s, c);
    ctx.font = (c === hotCol || c === focusCol ? "600 " : "") + font.css;
    ctx.fillStyle = full ? s.mutedColour : s.textColour;
    const text = truncate(ctx, shownLabel(s.colLabels[c] || ""), (L.upright ? top : cell + 20) - 10);
    const width = ctx.measureText(text).width;
    if (L.upright) {
      ctx.save();
      ctx.translate(x + cell / 2 + 0.5, top - 5);
      ctx.rotate(-Math.PI / 2);
      ctx.textAlign = "left";
      ctx.fillText(text, 0, 0);
      if (full) strike(ctx, 0, 0, width, "left");
      ctx.restore();
    } else {
      ctx.textAlign = "center";
      ctx.fillText(text, x + cell / 2, top - 5 - font.px / 2);
      if (full) strike(ctx, x + cell / 2 - width / 2, top - 5 - font.px / 2, width, "left");
    }
  }
  ctx.restore();

  // Corner: which axis is which ("key →" over "query ↓").
  ctx.font = `${Math.max(9, font.px - 1)}px ${s.fontFamily}`;
  ctx.fillStyle = s.mutedColour;
  ctx.textAlign = "right";
  const cornerRight = left - 5;
  const lineHeight = font.px + 4;
  if (s.words.row) ctx.fillText(`${s.words.row} ↓`, cornerRight, top - 4 - lineHeight / 2);
  if (s.words.col) ctx.fillText(`${s.words.col} →`, cornerRight, top - 4 - (3 * lineHeight) / 2);
}

function strike(ctx, x, y, width, align) {
  // A fully painted row or column gets its label struck through, like a crossed-out token.
  const x0 = align === "right" ? x - width : x;
  ctx.save();
  ctx.strokeStyle = ctx.fillStyle;
  ctx.lineWidth = 1;
  ctx.beginPath();
  ctx.moveTo(x0, y + 0.5);
  ctx.lineTo(x0 + width, y + 0.5);
  ctx.stroke();
  ctx.restore();
}

const isFixed = (s, i) => !!(s.fixed && s.fixed[i]);

// Fully blocked: every cell painted or fixed (a label click then unpaints the painted ones).
function rowFullyPainted(s, r) {
  for (let c = 0; c < s.cols; c++) if (!s.bits[r * s.cols + c] && !isFixed(s, r * s.cols + c)) return false;
  return s.cols > 0;
}

function colFullyPainted(s, c) {
  for (let r = 0; r < s.rows; r++) if (!s.bits[r * s.cols + c] && !isFixed(s, r * s.cols + c)) return false;
  return s.rows > 0;
}

// ---------------------------------------------------------------------------------------------- chrome

function counts(s) {
  // Every blocked cell once: a fixed cell counts for what fixes it, even if it is painted as well.
  const n = { painted: 0, rule: 0, model: 0 };
  for (let i = 0; i < s.bits.length; i++) {
    const kind = s.fixed && FIXED_KINDS[s.fixed[i]];
    if (kind) n[kind] += 1;
    else n.painted += s.bits[i];
  }
  return n;
}

const fill = (template, values) => String(template).replace(/\{(\w+)\}/g, (_, k) => String(values[k] ?? ""));

function countText(s) {
  const w = s.words;
  const n = counts(s);
  const total = s.rows * s.cols;
  const text = fill(w.count || "{n} of {total} blocked", { n: n.painted + n.rule + n.model, total });
  if (!n.rule && !n.model) return text;
  const parts = [fill(w.painted_part || "{n} painted", { n: n.painted })];
  if (n.rule) parts.push(fill(w.rule_part || "{n} by rules", { n: n.rule }));
  if (n.model) parts.push(fill(w.model_part || "{n} by the model", { n: n.model }));
  return `${text}: ${parts.join(", ")}`;
}

function syncChrome(s) {
  const { root } = s;
  root.dataset.rows = String(s.rows);
  root.dataset.cols = String(s.cols);
  root.dataset.rev = String(s.rev);
  root.dataset.ack = String(s.ack | 0);
  root.dataset.tool = s.tool;
  root.dataset.blocked = arrayToBits(s.bits);
  s.count.textContent = countText(s);
  syncWaiting(s);
  for (const button of s.toolButtons) {
    button.hidden = !s.pickable;
    button.setAttribute("aria-pressed", String(button.dataset.tool === s.tool));
  }
  s.undoButton.disabled = s.externalUndo ? !s.canUndo : s.history.length === 0;
  if (s.zoomBox) {
    s.zoomBox.hidden = !s.long;
    const cell = s.layout ? s.layout.cell : 0;
    for (const button of s.zoomButtons) {
      const way = button.dataset.zoom;
      button.disabled =
        way === "fit" ? s.zoom === null : way === "in" ? cell >= maxZoom(s) : cell <= MIN_FIT_CELL;
    }
  }
  root.classList.toggle("gp-picking", s.tool === "pick");
}

// Gestures sent that Python has not taken in yet: a busy server answers each in turn. After WAIT_NOTE_MS
// the toolbar says how many wait, so a student knows the figures are coming and the clicks were not lost.
function syncWaiting(s) {
  const waiting = s.awaitingReply ? Math.max(0, s.rev - (s.ack | 0)) : 0;
  s.root.dataset.waiting = String(waiting);
  if (!s.wait) return;
  if (waiting === 0) {
    clearTimeout(s.waitTimer);
    s.waitTimer = 0;
    s.wait.hidden = true;
    return;
  }
  const show = () => {
    s.waitTimer = 0;
    const now = s.awaitingReply ? Math.max(0, s.rev - (s.ack | 0)) : 0;
    const w = s.words;
    s.wait.textContent =
      now === 1
        ? w.waiting_one || "1 edit waiting for the server…"
        : fill(w.waiting || "{n} edits waiting for the server…", { n: now });
    s.wait.hidden = now === 0;
  };
  if (!s.wait.hidden) show(); // already on screen: keep the count current
  else if (!s.waitTimer) s.waitTimer = setTimeout(show, WAIT_NOTE_MS);
}

function renderLegend(s) {
  // Only what this grid draws: the value scale, painted, marked, focus.
  const items = [];
  const item = (swatchClass, text) => {
    const span = document.createElement("span");
    span.className = "gp-legend-item";
    const swatch = document.createElement("span");
    swatch.className = `gp-swatch ${swatchClass}`;
    span.append(swatch, document.createTextNode(text));
    items.push(span);
  };
  const w = s.words;
  if (s.values) {
    item("gp-swatch-scale", `0 → ${s.valuesMax === 1 ? "1" : s.valuesMax.toPrecision(2)}`);
    items[items.length - 1].firstChild.style.background = s.rampCss || "";
  }
  item("gp-swatch-painted", w.painted_legend || w.painted || "painted");
  const has = (code) => !!(s.fixed && s.fixed.some((v) => v === code));
  if (has(1)) item("gp-swatch-rule", w.rule || "blocked by a rule");
  if (has(2)) item("gp-swatch-model", w.model || "blocked by the model");
  if (s.marked && s.marked.some((b) => b)) item("gp-swatch-marked", w.marked || "marked");
  if (s.focus) item("gp-swatch-focus", w.focus || "focus");
  s.legend.replaceChildren(...items);
  // The toolbar's own words (another language, another grid).
  for (const button of s.toolButtons) {
    const text = button.dataset.tool === "pick" ? w.focus_tool || "◎ Focus" : w.paint_tool || "✎ Paint";
    button.textContent = text;
  }
  for (const button of s.zoomButtons) {
    if (button.dataset.zoom === "fit") button.textContent = w.zoom_fit || "Fit";
    button.title = w.zoom_help || "Zoom: − and + change the cell size, Fit shows the whole grid";
  }
  s.undoButton.textContent = w.undo || "↶ Undo";
  s.undoButton.title = w.undo_help || "Undo the last change (Ctrl+Z)";
}

function pushHistory(s, bits) {
  if (s.externalUndo) return; // the page's history holds this change
  s.history.push(bits);
  if (s.history.length > UNDO_DEPTH) s.history.shift();
}

function commit(s, before) {
  const bits = arrayToBits(s.bits);
  if (bits === before) return;
  pushHistory(s, before);
  s.rev += 1;
  s.awaitingReply = true;
  s.send("grid", { bits, rows: s.rows, cols: s.cols, rev: s.rev });
  syncChrome(s);
}

function undo(s) {
  if (s.externalUndo) {
    if (s.drag || !s.canUndo) return;
    s.canUndo = false; // until the page says again: one press, one step back
    s.trigger("undo", { rev: s.rev });
    syncChrome(s);
    return;
  }
  if (s.drag || s.history.length === 0) return;
  const before = arrayToBits(s.bits);
  s.bits = bitsToArray(s.history.pop());
  commit(s, before);
  s.history.pop(); // commit() recorded the undone grid; an undo is not itself undoable
  syncChrome(s);
  draw(s);
}

// ---------------------------------------------------------------------------------------------- zoom

function maxZoom(s) {
  const side = Math.max(1, s.rows, s.cols);
  return Math.max(MIN_FIT_CELL, Math.min(Math.round(MAX_CELL * s.scale), Math.floor(MAX_CANVAS_PX / side)));
}

function zoom(s, way) {
  // Steps through ZOOM_STEPS from the current cell size, keeping the grid point at the viewport's centre.
  if (!s.long || !s.layout || s.drag) return;
  const { cell, left, top } = s.layout;
  const view = s.scroll;
  const centre = {
    c: (view.scrollLeft + view.clientWidth / 2 - left) / cell,
    r: (view.scrollTop + view.clientHeight / 2 - top) / cell,
  };
  if (way === "fit") s.zoom = null;
  else if (way === "in") s.zoom = ZOOM_STEPS.find((px) => px > cell) ?? maxZoom(s);
  else s.zoom = [...ZOOM_STEPS].reverse().find((px) => px < cell) ?? MIN_FIT_CELL;
  if (s.zoom !== null) s.zoom = clamp(s.zoom, MIN_FIT_CELL, maxZoom(s));
  hideTip(s);
  relayout(s);
  const L = s.layout;
  view.scrollLeft = Math.max(0, L.left + centre.c * L.cell - view.clientWidth / 2);
  view.scrollTop = Math.max(0, L.top + centre.r * L.cell - view.clientHeight / 2);
  syncChrome(s);
}

// ---------------------------------------------------------------------------------------------- input

function locate(s, event) {
  const box = s.canvas.getBoundingClientRect();
  return { x: event.clientX - box.left, y: event.clientY - box.top };
}

function hitTest(s, x, y, clampToGrid = false) {
  const L = s.layout;
  if (!L) return null;
  const { cell, left, top } = L;
  const { x0, y0 } = visible(s);
  let c = Math.floor((x - x0) / cell);
  let r = Math.floor((y - y0) / cell);
  if (clampToGrid) return { kind: "cell", r: clamp(r, 0, s.rows - 1), c: clamp(c, 0, s.cols - 1) };
  const inRows = r >= 0 && r < s.rows;
  const inCols = c >= 0 && c < s.cols;
  if (inRows && inCols && x >= left && y >= top) return { kind: "cell", r, c };
  if (inRows && x >= 0 && x < left && y >= top) return { kind: "row", r };
  if (inCols && y >= 0 && y < top && x >= left) return { kind: "col", c };
  return null;
}

function setLine(s, line, paint) {
  // line: {kind: "row"|"col", index}
  const { rows, cols } = s;
  // Fixed cells stay as they are: they are blocked by something the painter cannot change.
  const set = (i) => {
    if (!isFixed(s, i)) s.bits[i] = paint;
  };
  if (line.kind === "row") for (let c = 0; c < cols; c++) set(line.index * cols + c);
  else for (let r = 0; r < rows; r++) set(r * cols + line.index);
}

function paintSegment(s, from, to, paint) {
  // Every cell on the straight line between two pointer samples, so a fast drag leaves no gaps.
  const steps = Math.max(Math.abs(to.r - from.r), Math.abs(to.c - from.c));
  for (let k = 0; k <= steps; k++) {
    const t = steps === 0 ? 0 : k / steps;
    const r = Math.round(from.r + (to.r - from.r) * t);
    const c = Math.round(from.c + (to.c - from.c) * t);
    if (!isFixed(s, r * s.cols + c)) s.bits[r * s.cols + c] = paint;
  }
}

function applyRect(s) {
  const d = s.drag;
  s.bits = d.base.slice();
  for (let r = Math.min(d.r0, d.r1); r <= Math.max(d.r0, d.r1); r++) {
    for (let c = Math.min(d.c0, d.c1); c <= Math.max(d.c0, d.c1); c++) {
      if (!isFixed(s, r * s.cols + c)) s.bits[r * s.cols + c] = d.paint;
    }
  }
}

function startGesture(s, event) {
  if (event.pointerType === "mouse" && event.button !== 0) return;
  const { x, y } = locate(s, event);
  const hit = hitTest(s, x, y);
  if (!hit) return;
  event.preventDefault();
  s.root.focus({ preventScroll: true });
  s.canvas.setPointerCapture(event.pointerId);
  const before = arrayToBits(s.bits);
  const base = s.bits.slice();
  hideTip(s);
  if (hit.kind === "cell" && s.pickable && (s.tool === "pick" || event.altKey)) {
    s.drag = { kind: "pick", r: hit.r, c: hit.c, before, base };
  } else if (hit.kind === "cell") {
    // A fixed cell counts as blocked: a stroke from it unblocks the painted cells it crosses.
    const i = hit.r * s.cols + hit.c;
    const paint = s.bits[i] || isFixed(s, i) ? 0 : 1;
    if (event.shiftKey) {
      s.drag = { kind: "rect", paint, r0: hit.r, c0: hit.c, r1: hit.r, c1: hit.c, before, base };
      applyRect(s);
    } else {
      s.drag = { kind: "stroke", paint, last: hit, before, base };
      paintSegment(s, hit, hit, paint);
    }
  } else {
    // A label: the first one decides, like a cell; dragging along the labels paints more whole lines.
    const line = hit.kind === "row" ? { kind: "row", index: hit.r } : { kind: "col", index: hit.c };
    const full = line.kind === "row" ? rowFullyPainted(s, line.index) : colFullyPainted(s, line.index);
    const paint = full ? 0 : 1;
    s.drag = { kind: line.kind, paint, last: line.index, before, base };
    setLine(s, line, paint);
  }
  s.root.dataset.dragging = "1";
  syncChrome(s);
  scheduleDraw(s);
}

function moveGesture(s, event) {
  const { x, y } = locate(s, event);
  const d = s.drag;
  if (!d) {
    updateHover(s, x, y, event);
    return;
  }
  if (d.kind === "stroke") {
    const hit = hitTest(s, x, y);
    if (!hit || hit.kind !== "cell") return;
    paintSegment(s, d.last, hit, d.paint);
    d.last = hit;
  } else if (d.kind === "rect") {
    const hit = hitTest(s, x, y, true);
    if (hit.r === d.r1 && hit.c === d.c1) return;
    d.r1 = hit.r;
    d.c1 = hit.c;
    applyRect(s);
  } else if (d.kind === "row" || d.kind === "col") {
    const { x0, y0 } = visible(s);
    const along = d.kind === "row" ? Math.floor((y - y0) / s.layout.cell) : Math.floor((x - x0) / s.layout.cell);
    const index = clamp(along, 0, (d.kind === "row" ? s.rows : s.cols) - 1);
    const [lo, hi] = [Math.min(index, d.last), Math.max(index, d.last)];
    for (let k = lo; k <= hi; k++) setLine(s, { kind: d.kind, index: k }, d.paint);
    d.last = index;
  } else {
    return;
  }
  syncChrome(s);
  scheduleDraw(s);
}

function endGesture(s, event, cancelled) {
  const d = s.drag;
  if (!d) return;
  s.drag = null;
  delete s.root.dataset.dragging;
  if (s.canvas.hasPointerCapture(event.pointerId)) s.canvas.releasePointerCapture(event.pointerId);
  if (cancelled) {
    s.bits = d.base;
  } else if (d.kind === "pick") {
    const { x, y } = locate(s, event);
    const hit = hitTest(s, x, y);
    if (hit && hit.kind === "cell" && hit.r === d.r && hit.c === d.c) {
      s.focus = { r: d.r, c: d.c };
      s.trigger("click", { row: d.r, col: d.c });
    }
  } else {
    commit(s, d.before);
  }
  syncChrome(s);
  draw(s);
}

function updateHover(s, x, y, event) {
  const hit = hitTest(s, x, y);
  const same = JSON.stringify(hit) === JSON.stringify(s.hover);
  s.hover = hit;
  if (!same) scheduleDraw(s);
  if (!hit) {
    hideTip(s);
    return;
  }
  showTip(s, hit, x, y);
}

function tipText(s, hit) {
  const w = s.words;
  const rowName = (r) => `${w.row || "row"} ${r} '${s.rowLabels[r] ?? ""}'`;
  const colName = (c) => `${w.col || "col"} ${c} '${s.colLabels[c] ?? ""}'`;
  if (hit.kind === "row") {
    let n = 0;
    for (let c = 0; c < s.cols; c++) n += s.bits[hit.r * s.cols + c] || isFixed(s, hit.r * s.cols + c) ? 1 : 0;
    return `${rowName(hit.r)}: ${fill(w.count || "{n} of {total} blocked", { n, total: s.cols })} · ${w.toggle_row || "click to toggle the row"}`;
  }
  if (hit.kind === "col") {
    let n = 0;
    for (let r = 0; r < s.rows; r++) n += s.bits[r * s.cols + hit.c] || isFixed(s, r * s.cols + hit.c) ? 1 : 0;
    return `${colName(hit.c)}: ${fill(w.count || "{n} of {total} blocked", { n, total: s.rows })} · ${w.toggle_col || "click to toggle the column"}`;
  }
  const i = hit.r * s.cols + hit.c;
  let text = `${rowName(hit.r)} ${w.link || "→"} ${colName(hit.c)}`;
  if (s.values) text += `: ${(s.values[i] * s.valuesMax).toFixed(3)}`;
  const flags = [];
  const kind = s.fixed && FIXED_KINDS[s.fixed[i]];
  if (kind) flags.push(w[kind] || kind);
  else if (s.bits[i]) flags.push(w.painted || "painted");
  if (s.marked && s.marked[i]) flags.push(w.marked || "marked");
  if (flags.length) text += ` (${flags.join(", ")})`;
  return text;
}

function showTip(s, hit, x, y) {
  const tip = s.tip;
  tip.textContent = tipText(s, hit);
  tip.hidden = false;
  // Canvas coordinates -> root coordinates (the canvas may be scrolled sideways inside .gp-scroll).
  const canvasBox = s.canvas.getBoundingClientRect();
  const rootBox = s.root.getBoundingClientRect();
  let left = canvasBox.left - rootBox.left + x + 14;
  const top = canvasBox.top - rootBox.top + y + 18;
  const maxLeft = rootBox.width - tip.offsetWidth - 4;
  if (left > maxLeft) left = Math.max(0, canvasBox.left - rootBox.left + x - tip.offsetWidth - 10);
  tip.style.left = `${left}px`;
  tip.style.top = `${top}px`;
}

function hideTip(s) {
  s.tip.hidden = true;
}

function bindHandlers(s) {
  const { canvas, root } = s;
  canvas.onpointerdown = (e) => startGesture(s, e);
  canvas.onpointermove = (e) => moveGesture(s, e);
  canvas.onpointerup = (e) => endGesture(s, e, false);
  canvas.onpointercancel = (e) => endGesture(s, e, true);
  canvas.onpointerleave = () => {
    if (s.drag) return;
    s.hover = null;
    hideTip(s);
    scheduleDraw(s);
  };
  canvas.oncontextmenu = (e) => e.preventDefault();
  s.scroll.onscroll = () => {
    hideTip(s);
    scheduleDraw(s);
  };
  root.onkeydown = (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "z") {
      e.preventDefault();
      undo(s);
    } else if (!e.ctrlKey && !e.metaKey && !e.altKey && (e.key === "+" || e.key === "=" || e.key === "-")) {
      if (!s.long) return;
      e.preventDefault();
      zoom(s, e.key === "-" ? "out" : "in");
    } else if (e.key === "Escape" && s.drag) {
      e.preventDefault();
      s.bits = s.drag.base;
      s.drag = null;
      delete root.dataset.dragging;
      syncChrome(s);
      draw(s);
    }
  };
  s.undoButton.onclick = () => undo(s);
  for (const button of s.zoomButtons) button.onclick = () => zoom(s, button.dataset.zoom);
  for (const button of s.toolButtons) {
    button.onclick = () => {
      s.tool = button.dataset.tool;
      syncChrome(s);
    };
  }
}
