// Head overview: one image of every head's attention (tiles = heads, rows = layers), a button per tile.
//
// Streamlit runs this default export again on every `data` change and only cleans up on unmount, so all
// state lives on the root DOM node (`root.__ho`), and every handler is assigned, never stacked.
//
// Geometry (ui/head_overview.py, maskattn/overview.py): the image is `cols` x `rows` cells; tile (l, h) is
// the n x n cells at column pad + h*stride, row pad + l*stride of the framed plot (pad = gap on every side,
// room for the outlines). Everything over the image is placed in percent of the plot, so only the plot's
// size is set in pixels: as wide as the column allows, at most data.tile_px per tile.
//
// Protocol: a click on a tile sends the trigger "pick" = [layer, head] once; the page answers with the new
// focus. The root's data-drawn counts finished draws (the image decoded): a benchmark or a test waits on it.

const SVG_NS = "http://www.w3.org/2000/svg";

export default function (component) {
  const { parentElement, data, setTriggerValue } = component;
  const root = parentElement.querySelector(".ho-root");
  if (!root || !data || typeof data !== "object") return undefined;
  const s = root.__ho || (root.__ho = createState(root));
  s.trigger = setTriggerValue; // the latest closure: Streamlit hands a new one on each run
  applyData(s, data);
  return () => {
    if (s.resizeObserver) s.resizeObserver.disconnect();
    s.resizeObserver = null;
  };
}

function createState(root) {
  const q = (sel) => root.querySelector(sel);
  const s = {
    root,
    plot: q(".ho-plot"),
    img: q(".ho-img"),
    tiles: q(".ho-tiles"),
    heads: q(".ho-heads"),
    layers: q(".ho-layers"),
    ramp: q(".ho-ramp"),
    ticks: q(".ho-ticks"),
    title: q(".ho-title"),
    note: q(".ho-note"),
    save: q(".ho-save"),
    tip: q(".ho-tip"),
    data: null,
    buttons: [],
    drawn: 0,
    shape: "",
    resizeObserver: null,
  };
  s.save.onclick = () => saveFigure(s);
  s.tiles.onpointerleave = () => {
    s.tip.hidden = true;
  };
  return s;
}

function applyData(s, data) {
  s.data = data;
  const { layers, heads } = data;
  const shape = `${layers}x${heads}x${data.tile}x${data.gap}`;
  if (shape !== s.shape) {
    s.shape = shape;
    buildTiles(s);
  }
  const c = data.colors || {};
  const style = s.root.style;
  style.setProperty("--ho-gap-colour", c.gap || "#d9d9d9");
  style.setProperty("--ho-focus", c.focus || "#111");
  style.setProperty("--ho-marked", c.marked || "#f28e2b");
  style.setProperty("--ho-highlight", c.highlight || "#2ca02c");
  style.setProperty("--ho-badge", c.badge || "#b8002e");
  style.setProperty("--ho-font-px", `${Number(data.font_px) || 12}px`);
  s.root.dataset.font = String(Number(data.font_px) || 12);
  markTiles(s);
  drawScale(s);
  s.note.textContent = data.note || "";
  const w = data.words || {};
  s.save.textContent = `⤓ ${w.save || "Save"} ${String(data.export?.format || "png").toUpperCase()}`;
  relayout(s);
  if (!s.resizeObserver && typeof ResizeObserver === "function") {
    // The column's width: Streamlit lays the page out after this runs, and a window resize moves it again.
    s.resizeObserver = new ResizeObserver(() => relayout(s));
    s.resizeObserver.observe(s.root);
  }
  const stamp = () => {
    s.root.dataset.drawn = String(++s.drawn);
  };
  if (s.img.getAttribute("src") !== data.png) {
    s.img.src = data.png;
    s.img.decode().then(stamp, stamp); // a broken image still counts as drawn (tests see it as wrong)
  } else {
    stamp();
  }
}

function buildTiles(s) {
  const { layers, heads } = s.data;
  s.tiles.replaceChildren();
  s.heads.replaceChildren();
  s.layers.replaceChildren();
  s.buttons = [];
  for (let l = 0; l < layers; l++) {
    const row = [];
    for (let h = 0; h < heads; h++) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "ho-tile";
      b.dataset.layer = String(l);
      b.dataset.head = String(h);
      const badge = document.createElement("span");
      badge.className = "ho-badge";
      b.append(badge);
      b.onclick = () => pick(s, l, h);
      b.onkeydown = (ev) => moveFocus(s, l, h, ev);
      b.onpointerenter = (ev) => showTip(s, l, h, ev);
      b.onpointermove = (ev) => placeTip(s, ev);
      b.onfocus = () => showTip(s, l, h, null);
      b.onblur = () => {
        s.tip.hidden = true;
      };
      s.tiles.append(b);
      row.push(b);
    }
    s.buttons.push(row);
  }
  const { tile, gap } = s.data;
  const stride = tile + gap;
  const { across, down } = frameCells(s.data);
  for (let h = 0; h < heads; h++) {
    const label = document.createElement("span");
    label.textContent = `h${h}`;
    label.style.left = `${((gap + h * stride + tile / 2) / across) * 100}%`;
    s.heads.append(label);
  }
  for (let l = 0; l < layers; l++) {
    const label = document.createElement("span");
    label.textContent = `L${l}`;
    label.style.top = `${((gap + l * stride + tile / 2) / down) * 100}%`;
    s.layers.append(label);
  }
  for (let l = 0; l < layers; l++) {
    for (let h = 0; h < heads; h++) {
      const st = s.buttons[l][h].style;
      st.left = `${((gap + h * stride) / across) * 100}%`;
      st.top = `${((gap + l * stride) / down) * 100}%`;
      st.width = `${(tile / across) * 100}%`;
      st.height = `${(tile / down) * 100}%`;
    }
  }
  const img = s.img.style;
  img.left = `${(gap / across) * 100}%`;
  img.top = `${(gap / down) * 100}%`;
  img.width = `${((across - 2 * gap) / across) * 100}%`;
  img.height = `${((down - 2 * gap) / down) * 100}%`;
}

const key = (lh) => `${lh[0]}.${lh[1]}`;

function markTiles(s) {
  const d = s.data;
  const marked = new Set((d.marked || []).map(key));
  const highlight = new Set((d.highlight || []).map(key));
  const badges = new Map((d.badges || []).map(([l, h, text]) => [`${l}.${h}`, text]));
  const focus = Array.isArray(d.focus) ? key(d.focus) : null;
  for (const row of s.buttons) {
    for (const b of row) {
      const k = `${b.dataset.layer}.${b.dataset.head}`;
      b.classList.toggle("is-marked", marked.has(k));
      b.classList.toggle("is-highlight", highlight.has(k));
      b.classList.toggle("is-focus", k === focus);
      b.setAttribute("aria-pressed", k === focus ? "true" : "false");
      b.tabIndex = k === (focus || "0.0") ? 0 : -1; // one tab stop: the arrow keys move between tiles
      b.setAttribute("aria-label", tipText(s, Number(b.dataset.layer), Number(b.dataset.head)));
      b.firstChild.textContent = badges.get(k) || "";
    }
  }
  // What a test reads without knowing the layout.
  s.root.dataset.focus = focus || "";
  s.root.dataset.marked = [...marked].join(" ");
  s.root.dataset.highlight = [...highlight].join(" ");
  s.root.dataset.badges = [...badges.keys()].join(" ");
}

function drawScale(s) {
  const d = s.data;
  const stops = (d.ramp || []).map(([w, colour]) => `${colour} ${w * 100}%`);
  s.ramp.style.background = `linear-gradient(to top, ${stops.join(", ")})`;
  const zmax = Number(d.zmax) || 1;
  s.ticks.replaceChildren(
    ...(d.ticks || []).map((t) => {
      const label = document.createElement("span");
      label.textContent = String(t);
      label.style.bottom = `${(t / zmax) * 100}%`;
      return label;
    }),
  );
  s.title.textContent = (d.words || {}).weight || "weight";
}

// Frame cells across and down (the tiles plus the gaps and the pad on each side).
function frameCells(d) {
  const stride = d.tile + d.gap;
  return { across: d.heads * stride + d.gap, down: d.layers * stride + d.gap };
}

function relayout(s) {
  const d = s.data;
  if (!d) return;
  const { across, down } = frameCells(d);
  const side = s.layers.getBoundingClientRect().width + s.ramp.parentElement.getBoundingClientRect().width;
  const avail = Math.max(40, s.root.clientWidth - side - 8);
  const cell = Math.min((Number(d.tile_px) || 80) / d.tile, avail / across);
  const width = Math.max(1, Math.floor(cell * across));
  const height = Math.max(1, Math.round((width * down) / across));
  if (s.plot.style.width !== `${width}px`) s.plot.style.width = `${width}px`;
  if (s.plot.style.height !== `${height}px`) s.plot.style.height = `${height}px`;
  const tilePx = (width / across) * d.tile;
  s.root.dataset.tilePx = String(Math.round(tilePx));
  s.root.style.setProperty("--ho-tile-px", `${tilePx}px`);
}

// Arrow keys (and Home / End) move the keyboard focus between tiles; Enter or Space picks, as on a button.
const STEPS = { ArrowLeft: [0, -1], ArrowRight: [0, 1], ArrowUp: [-1, 0], ArrowDown: [1, 0] };

function moveFocus(s, l, h, ev) {
  const { layers, heads } = s.data;
  let to = null;
  if (STEPS[ev.key]) to = [l + STEPS[ev.key][0], h + STEPS[ev.key][1]];
  else if (ev.key === "Home") to = [l, 0];
  else if (ev.key === "End") to = [l, heads - 1];
  if (!to) return;
  ev.preventDefault();
  const [nl, nh] = [Math.max(0, Math.min(layers - 1, to[0])), Math.max(0, Math.min(heads - 1, to[1]))];
  for (const row of s.buttons) for (const b of row) b.tabIndex = -1;
  s.buttons[nl][nh].tabIndex = 0;
  s.buttons[nl][nh].focus();
}

function pick(s, l, h) {
  // Ring the tile at once; the page's answer (the same focus) follows with the rerun.
  for (const row of s.buttons) for (const b of row) b.classList.remove("is-focus");
  s.buttons[l][h].classList.add("is-focus");
  if (s.trigger) s.trigger("pick", [l, h]);
}

function tipText(s, l, h) {
  const w = s.data.words || {};
  const k = `${l}.${h}`;
  const name = (w.head_name || "layer {layer}, head {head}").replace("{layer}", l).replace("{head}", h);
  const lines = [name];
  if ((s.data.marked || []).some((lh) => key(lh) === k)) lines[0] += ` · ${w.marked}`;
  const note = (s.data.notes || []).find(([nl, nh]) => nl === l && nh === h);
  if (note) lines.push(note[2]);
  lines.push(w.click || "click to focus");
  return lines.join("\n");
}

function showTip(s, l, h, ev) {
  s.tip.textContent = tipText(s, l, h);
  s.tip.hidden = false;
  if (ev) {
    placeTip(s, ev);
  } else {
    const b = s.buttons[l][h].getBoundingClientRect();
    placeAt(s, b.right, b.bottom);
  }
}

function placeTip(s, ev) {
  placeAt(s, ev.clientX, ev.clientY);
}

function placeAt(s, x, y) {
  const box = s.root.getBoundingClientRect();
  const tip = s.tip;
  const left = Math.min(x - box.left + 14, box.width - tip.offsetWidth - 4);
  tip.style.left = `${Math.max(0, left)}px`;
  tip.style.top = `${y - box.top + 14}px`;
}

// -- saving: the same drawing as SVG markup, rasterised for PNG

function escapeXml(text) {
  return String(text).replace(/[<>&"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

// `scale` enlarges the drawing (width and height, not the viewBox), so a PNG is rasterised at its full size.
function figureSvg(d, scale = 1) {
  const { across, down } = frameCells(d);
  const cell = (Number(d.tile_px) || 80) / d.tile; // saved at the largest tile size, whatever the window
  const font = Number(d.font_px) || 12;
  const left = Math.round(font * 3);
  const top = Math.round(font * 2.2);
  const right = Math.round(font * 7.5);
  const plotW = across * cell;
  const plotH = down * cell;
  const width = Math.ceil(left + plotW + right);
  const height = Math.ceil(top + plotH + font);
  const stride = d.tile + d.gap;
  const c = d.colors || {};
  const x = (col) => left + col * cell;
  const y = (row) => top + row * cell;
  const tileBox = (l, h, margin) => ({
    x: x(d.gap + h * stride - margin),
    y: y(d.gap + l * stride - margin),
    side: (d.tile + 2 * margin) * cell,
  });
  const rect = (b, colour, w, dash) =>
    `<rect x="${b.x}" y="${b.y}" width="${b.side}" height="${b.side}" fill="none" stroke="${colour}" ` +
    `stroke-width="${w}"${dash ? ' stroke-dasharray="2 3"' : ""}/>`;
  const parts = [
    `<svg xmlns="${SVG_NS}" width="${width * scale}" height="${height * scale}" viewBox="0 0 ${width} ${height}" ` +
      `font-family="${escapeXml(d.font_family || "sans-serif")}" font-size="${font}">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<rect x="${left}" y="${top}" width="${plotW}" height="${plotH}" fill="${c.gap || "#d9d9d9"}"/>`,
    `<image href="${d.png}" x="${x(d.gap)}" y="${y(d.gap)}" width="${(across - 2 * d.gap) * cell}" ` +
      `height="${(down - 2 * d.gap) * cell}" preserveAspectRatio="none" image-rendering="pixelated" ` +
      `style="image-rendering: pixelated"/>`,
  ];
  // As on screen (head_overview.css): each outline its own width in pixels outside the tile, one around the
  // other; a rect's stroke is centred on its edge, hence the half widths.
  const marked = new Set((d.marked || []).map(key));
  const highlighted = new Set((d.highlight || []).map(key));
  const px = (widthsInside, width) => (widthsInside + width / 2) / cell; // in cells
  for (const [l, h] of d.marked || []) parts.push(rect(tileBox(l, h, px(0, 2)), c.marked, 2));
  for (const [l, h] of d.highlight || []) {
    const inside = marked.has(`${l}.${h}`) ? 2 : 0;
    parts.push(rect(tileBox(l, h, px(inside, 2.5)), c.highlight, 2.5, true));
  }
  if (Array.isArray(d.focus)) {
    const [l, h] = d.focus;
    const inside = (marked.has(key(d.focus)) ? 2 : 0) + (highlighted.has(key(d.focus)) ? 2.5 : 0);
    parts.push(rect(tileBox(l, h, px(inside, 3)), c.focus, 3));
  }
  for (const [l, h, text] of d.badges || []) {
    const b = tileBox(l, h, 0);
    parts.push(
      `<text x="${b.x + 2}" y="${b.y + font * 0.8}" font-size="${Math.max(8, Math.round(font * 0.75))}" ` +
        `fill="${c.badge}">${escapeXml(text)}</text>`,
    );
  }
  for (let h = 0; h < d.heads; h++) {
    const cx = x(d.gap + h * stride + d.tile / 2);
    parts.push(`<text x="${cx}" y="${top - font * 0.5}" text-anchor="middle">h${h}</text>`);
  }
  for (let l = 0; l < d.layers; l++) {
    const cy = y(d.gap + l * stride + d.tile / 2);
    parts.push(`<text x="${left - 6}" y="${cy}" text-anchor="end" dominant-baseline="middle">L${l}</text>`);
  }
  // The colour bar: the weights' stops bottom (0) to top (zmax), its ticks, its title.
  const barX = left + plotW + font;
  const barW = Math.round(font);
  const stops = (d.ramp || []).map(([w, colour]) => `<stop offset="${w}" stop-color="${colour}"/>`);
  parts.push(
    `<defs><linearGradient id="ho-ramp" x1="0" y1="1" x2="0" y2="0">${stops.join("")}</linearGradient></defs>`,
    `<rect x="${barX}" y="${top}" width="${barW}" height="${plotH}" fill="url(#ho-ramp)"/>`,
  );
  const zmax = Number(d.zmax) || 1;
  for (const t of d.ticks || []) {
    const ty = top + plotH * (1 - t / zmax);
    parts.push(`<text x="${barX + barW + 4}" y="${ty}" dominant-baseline="middle">${t}</text>`);
  }
  const titleX = barX + barW + font * 3.6;
  const titleY = top + plotH / 2;
  parts.push(
    `<text x="${titleX}" y="${titleY}" text-anchor="middle" transform="rotate(90 ${titleX} ${titleY})">` +
      `${escapeXml((d.words || {}).weight || "weight")}</text>`,
    "</svg>",
  );
  return { svg: parts.join(""), width, height };
}

function download(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function saveFigure(s) {
  const d = s.data;
  const exp = d.export || { format: "png", scale: 4, filename: "overview" };
  if (exp.format === "svg") {
    download(new Blob([figureSvg(d).svg], { type: "image/svg+xml" }), `${exp.filename}.svg`);
    return;
  }
  const scale = Number(exp.scale) || 1;
  const { svg, width, height } = figureSvg(d, scale);
  const svgBlob = new Blob([svg], { type: "image/svg+xml" });
  const image = new Image();
  const url = URL.createObjectURL(svgBlob);
  image.onload = () => {
    const canvas = document.createElement("canvas");
    canvas.width = width * scale;
    canvas.height = height * scale;
    const ctx = canvas.getContext("2d");
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(image, 0, 0, canvas.width, canvas.height);
    URL.revokeObjectURL(url);
    canvas.toBlob((png) => png && download(png, `${exp.filename}.png`), "image/png");
  };
  image.onerror = () => URL.revokeObjectURL(url);
  image.src = url;
}
