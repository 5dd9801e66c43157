'use strict';
// The heatmaps of the explorer page: colour scales, matrix and feature-map panels, and the
// links between them (an im2col row ↔ its window ↔ its output pixel). Plain JS, no libraries:
// every matrix is a canvas with one pixel per cell (scaled by CSS), feature maps are drawn at
// an integer scale so windows and markers stay crisp. Loaded before app.js, which owns `state`.

const $ = (s) => document.querySelector(s);
const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const k of kids) if (k != null) e.append(k);
  return e;
};


// ---------- colours ----------
const DIVERGING = [[-1, [178, 24, 43]], [-0.5, [239, 138, 98]], [-0.18, [253, 219, 199]], [0, [247, 247, 247]],
  [0.18, [209, 229, 240]], [0.5, [103, 169, 207]], [1, [33, 102, 172]]];
const SEQUENTIAL = [[0, [255, 255, 255]], [0.25, [218, 218, 235]], [0.5, [158, 154, 200]], [0.75, [106, 81, 163]], [1, [63, 0, 125]]];
function ramp(stops, t) {
  if (!(t >= stops[0][0])) t = stops[0][0];
  if (t > stops[stops.length - 1][0]) t = stops[stops.length - 1][0];
  for (let i = 1; i < stops.length; i++) {
    const [t1, c1] = stops[i];
    if (t <= t1) {
      const [t0, c0] = stops[i - 1];
      const u = (t - t0) / (t1 - t0 || 1);
      return [0, 1, 2].map((k) => Math.round(c0[k] + u * (c1[k] - c0[k])));
    }
  }
  return stops[stops.length - 1][1];
}
// A colour function and its range for one matrix (null: a max-pool tap in the padding, −∞).
const PADDING = [214, 208, 196];
function scaleFor(m) {
  let lo = Infinity, hi = -Infinity;
  for (const v of m.data) { if (v === null) continue; if (v < lo) lo = v; if (v > hi) hi = v; }
  if (lo === Infinity) { lo = 0; hi = 0; }
  if (m.id === 'x' || m.id === 'a0') return { lo, hi, color: (v) => { const g = Math.round(255 * (v - lo) / ((hi - lo) || 1)); return [g, g, g]; }, gray: true };
  if (m.signed) {
    const a = Math.max(Math.abs(lo), Math.abs(hi)) || 1;
    return { lo: -a, hi: a, color: (v) => ramp(DIVERGING, v / a) };
  }
  const a = hi > 0 ? hi : 1;
  return { lo: 0, hi: a, color: (v) => ramp(SEQUENTIAL, v / a) };
}
const fmt = (v) => (v === null ? '−∞ (padding)' : v === 0 ? '0' : Math.abs(v) >= 100 || Math.abs(v) < 1e-3 ? v.toExponential(2) : v.toPrecision(3));

function legend(sc) {
  const c = el('canvas', { width: 70, height: 1 });
  const ctx = c.getContext('2d');
  const img = ctx.createImageData(70, 1);
  for (let i = 0; i < 70; i++) {
    const [r, g, b] = sc.color(sc.lo + (sc.hi - sc.lo) * i / 69);
    img.data.set([r, g, b, 255], i * 4);
  }
  ctx.putImageData(img, 0, 0);
  return el('div', { class: 'legend' }, el('span', { text: fmt(sc.lo) }), c, el('span', { text: fmt(sc.hi) }));
}

// ---------- links between matrices: rows ↔ windows ↔ pixels ----------
// Each window layer's geometry comes with the pass (`links`): row r of its window matrices is
// output pixel (i, j), r = i·Wₒ + j (a convolution), or map c's, r = c·Hₒ·Wₒ + i·Wₒ + j (a
// pooling layer); its window starts at (i·sh − ph, j·sw − pw) in the input maps.
// A pooling layer's input maps also show its routing (ROUTED: map id → its link).
let SPACES = {}, SPACE_OF = {}, MAP_ROW = {}, ROUTED = {};
function space(l) {
  const [, Ho, Wo] = l.output_shape, [kh, kw] = l.kernel, [sh, sw] = l.stride, [ph, pw] = l.padding;
  const at = (r) => { const k = r % (Ho * Wo); return { c: l.per_channel ? (r / (Ho * Wo)) | 0 : null, i: (k / Wo) | 0, j: k % Wo }; };
  return { ids: l.rows,
    win: (r) => { const p = at(r); return { maps: l.input, c: p.c, y: p.i * sh - ph, x: p.j * sw - pw, h: kh, w: kw }; },
    out: (r) => { const p = at(r); return { maps: l.output, c: p.c, y: p.i, x: p.j, h: 1, w: 1 }; },
    row: (c, i, j) => (l.per_channel ? c * Ho * Wo : 0) + i * Wo + j,
    say: (r) => { const p = at(r); return `row ${r} = ${l.per_channel ? `map ${p.c}, window` : 'output pixel'} (${p.i}, ${p.j})${l.note}`; } };
}
function setLinks(list) {
  SPACES = {}; SPACE_OF = {}; MAP_ROW = {}; ROUTED = {};
  for (const l of list || []) {
    const s = space(l);
    SPACES[l.name] = s;
    for (const id of l.rows) SPACE_OF[id] = l.name;
    for (const id of l.output) MAP_ROW[id] = [l.name, s.row];
    if (l.per_channel) for (const id of l.input) ROUTED[id] = l;
  }
}

const panels = new Map(); // id → [{ kind, ... }]
function register(id, p) { if (!panels.has(id)) panels.set(id, []); panels.get(id).push(p); }
let marks = [];
function clearMarks() { for (const m of marks) m.remove(); marks = []; }
function box(host, x, y, w, h, cls = 'hl') {
  const d = el('div', { class: cls });
  Object.assign(d.style, { left: `${x}px`, top: `${y}px`, width: `${w}px`, height: `${h}px` });
  host.append(d);
  marks.push(d);
}
function markMaps(spec) {
  for (const id of spec.maps) for (const p of panels.get(id) || []) {
    if (p.kind !== 'maps') continue;
    p.hosts.forEach((host, c) => {
      if (spec.c !== null && spec.c !== c) return;
      box(host, spec.x * p.k - 1, spec.y * p.k - 1, spec.w * p.k + 2, spec.h * p.k + 2);
    });
  }
}
function markRow(space, r) {
  clearMarks();
  const s = SPACES[space];
  for (const id of s.ids) for (const p of panels.get(id) || []) {
    if (p.kind === 'matrix') box(p.host, 0, r * p.sy - 0.5, p.cols * p.sx, Math.max(p.sy, 2), 'hl row');
  }
  markMaps(s.win(r));
  markMaps(s.out(r));
}

const lens = $('#lens');
function showLens(e, html) {
  lens.innerHTML = html;
  lens.hidden = false;
  const x = Math.min(e.clientX + 16, window.innerWidth - 330), y = Math.min(e.clientY + 14, window.innerHeight - 90);
  Object.assign(lens.style, { left: `${x}px`, top: `${y}px` });
}
function hideLens() { lens.hidden = true; clearMarks(); }
const symbol = (m) => m.formula.split(' = ')[0];

// ---------- panels ----------
function fitCells(rows, cols) {
  if (rows === 1) return { sx: Math.max(2, Math.min(22, 480 / cols)), sy: 16 };
  const maxW = cols > 100 ? 330 : 260, maxH = rows > 300 ? 420 : 300;
  let sx = Math.min(maxW / cols, 18), sy = Math.min(maxH / rows, 18);
  if (rows <= 30 && cols <= 30) { const s = Math.min(sx, sy); sx = s; sy = s; }
  return { sx, sy };
}

function matrixPanel(m) {
  const [rows, cols] = m.shape;
  const sc = scaleFor(m);
  const c = el('canvas', { width: cols, height: rows, 'data-id': m.id });
  const ctx = c.getContext('2d');
  const img = ctx.createImageData(cols, rows);
  for (let i = 0; i < m.data.length; i++) {
    const [r, g, b] = m.data[i] === null ? PADDING : sc.color(m.data[i]);
    img.data[4 * i] = r; img.data[4 * i + 1] = g; img.data[4 * i + 2] = b; img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  const { sx, sy } = fitCells(rows, cols);
  c.style.width = `${cols * sx}px`;
  c.style.height = `${rows * sy}px`;
  const host = el('div', { class: 'overlay-host' }, c);
  const extra = [];
  if (m.argmax) {
    // Each row's argmax as its own strip: which of the window's cells won.
    // Windows that are all zero (ReLU cut them) tie; their first maximum is drawn dim.
    const windows = m.id.startsWith('d') ? (state.pass && state.pass.forward.find((f) => f.id === m.id.slice(1))) : m;
    const s = el('canvas', { width: cols, height: rows, title: 'argmax of each row' });
    const sctx = s.getContext('2d');
    const simg = sctx.createImageData(cols, rows);
    for (let r = 0; r < rows; r++) {
      const k = m.argmax[r];
      const dead = windows && Math.max(...windows.data.slice(cols * r, cols * r + cols)) === 0;
      for (let q = 0; q < cols; q++) simg.data.set(q === k ? (dead ? [120, 100, 70, 255] : [255, 170, 0, 255]) : [40, 44, 60, 255], 4 * (r * cols + q));
    }
    sctx.putImageData(simg, 0, 0);
    s.style.width = `${cols * sx}px`; s.style.height = `${rows * sy}px`;
    extra.push(el('div', { class: 'overlay-host', title: 'argmax' }, s));
  }
  register(m.id, { kind: 'matrix', host, sx, sy, cols, rows });
  c.addEventListener('mousemove', (e) => {
    const col = Math.min(cols - 1, Math.floor(e.offsetX / sx)), row = Math.min(rows - 1, Math.floor(e.offsetY / sy));
    const v = m.data[row * cols + col];
    const space = SPACE_OF[m.id];
    if (space) markRow(space, row); else clearMarks();
    let html = `<b>${symbol(m)}</b>[${row}, ${col}] = ${fmt(v)}`;
    if (m.argmax) html += `<br>argmax of this row: column ${m.argmax[row]}`;
    if (space) html += `<br>${SPACES[space].say(row)}`;
    showLens(e, html);
  });
  c.addEventListener('mouseleave', hideLens);
  return figure(m, el('div', { class: 'panels' }, host, ...extra), sc);
}

function figure(m, body, sc) {
  const shape = m.shape.join('×');
  const cap = el('figcaption', {},
    m.section ? el('a', { href: `/derivation#${m.section}`, target: '_blank', title: 'its section of docs/derivation.md', text: m.formula }) : el('span', { text: m.formula }),
    el('span', { class: 'shape', text: shape }));
  return el('figure', { class: 'panel', 'data-id': m.id }, cap, body, legend(sc));
}

// Feature maps [C, H, W], drawn at an integer scale so windows and markers stay crisp.
function mapsPanel(m, k, opts = {}) {
  const [C, H, W] = m.shape;
  const sc = scaleFor(m);
  const wrap = el('div', { class: 'maps' });
  const hosts = [];
  for (let c = 0; c < C; c++) {
    const cv = el('canvas', { width: W * k, height: H * k, 'data-id': m.id });
    drawMap(cv.getContext('2d'), m.data, c * H * W, H, W, k, sc, opts);
    const host = el('div', { class: 'overlay-host' }, cv);
    hosts.push(host);
    wrap.append(host);
    cv.addEventListener('mousemove', (e) => {
      const i = Math.min(H - 1, Math.floor(e.offsetY / k)), j = Math.min(W - 1, Math.floor(e.offsetX / k));
      const v = m.data[c * H * W + i * W + j];
      let html = `<b>${symbol(m)}</b> map ${c}, pixel (${i}, ${j}) = ${fmt(v)}`;
      const link = MAP_ROW[m.id];
      if (link) { const r = link[1](c, i, j); markRow(link[0], r); html += `<br>${SPACES[link[0]].say(r)}`; } else clearMarks();
      showLens(e, html);
    });
    cv.addEventListener('mouseleave', hideLens);
  }
  register(m.id, { kind: 'maps', hosts, k });
  return figure(m, wrap, sc);
}

function drawMap(ctx, data, off, H, W, k, sc, opts) {
  for (let i = 0; i < H; i++) for (let j = 0; j < W; j++) {
    const v = data[off + i * W + j];
    const [r, g, b] = v === null ? PADDING : sc.color(v);
    ctx.fillStyle = `rgb(${r},${g},${b})`;
    ctx.fillRect(j * k, i * k, k, k);
  }
  if (opts.windows) {
    // The max-pool routing: the windows (when they tile the map), and a dot on the cell each
    // live window's max came from.
    const l = opts.link, [kh, kw] = l.kernel, [sh, sw] = l.stride, [ph, pw] = l.padding, [, Ho, Wo] = l.output_shape;
    ctx.strokeStyle = 'rgba(60,70,100,.35)';
    ctx.lineWidth = 1;
    if (kh === sh && kw === sw && ph === 0 && pw === 0) {
      for (let t = sh; t < H; t += sh) { ctx.beginPath(); ctx.moveTo(0, t * k + 0.5); ctx.lineTo(W * k, t * k + 0.5); ctx.stroke(); }
      for (let t = sw; t < W; t += sw) { ctx.beginPath(); ctx.moveTo(t * k + 0.5, 0); ctx.lineTo(t * k + 0.5, H * k); ctx.stroke(); }
    }
    const c = off / (H * W), per = Ho * Wo;
    ctx.fillStyle = '#111';
    for (let q = 0; q < per; q++) {
      if (opts.live && !opts.live[c * per + q]) continue;
      const a = opts.windows[c * per + q], wi = (q / Wo) | 0, wj = q % Wo;
      const i = wi * sh - ph + ((a / kw) | 0), j = wj * sw - pw + (a % kw);
      ctx.beginPath(); ctx.arc(j * k + k / 2, i * k + k / 2, Math.max(1, k / 5), 0, 2 * Math.PI); ctx.fill();
    }
  }
}

// Which rows of a pooling window matrix have a positive maximum (the others are all-zero
// ReLU outputs: their gradient dies at the ReLU whichever cell "wins").
function liveRows(id) {
  const m = state.pass && state.pass.forward.find((f) => f.id === id);
  if (!m) return null;
  const live = new Uint8Array(m.shape[0]);
  const cols = m.shape[1];
  for (let r = 0; r < live.length; r++) live[r] = Math.max(...m.data.slice(cols * r, cols * r + cols)) > 0 ? 1 : 0;
  return live;
}

// A layer name as an element id: `layer 0 conv(16,3,p=1)` → `layer-0-conv-16-3-p-1-`.
const anchor = (layer) => layer.replace(/[^A-Za-z0-9]+/g, '-');
// Feature maps without a scale of their own: an integer scale that keeps a map near 100 pixels.
const autoScale = (m) => Math.max(1, Math.min(10, Math.floor(100 / Math.max(m.shape[1], m.shape[2]))));

function renderGroup(target, list, meta, cls, argmaxOf) {
  const groups = new Map();
  for (const m of list) { if (!groups.has(m.layer)) groups.set(m.layer, []); groups.get(m.layer).push(m); }
  for (const [layer, ms] of groups) {
    const [name, what, section] = meta[layer] || [layer, '', ''];
    const title = section ? el('a', { href: `/derivation#${section}`, target: '_blank', text: name }) : name;
    const card = el('section', { class: `layer ${cls}`, id: `${cls}-${anchor(layer)}` },
      el('header', {}, el('h3', {}, title), el('span', { class: 'what', text: what })));
    // A run of matrices outside a residual block's paths is one row of panels; a run inside
    // them is the block's two paths side by side. In order: what comes before the paths
    // (∇y), the paths, what comes after (the sum y, or ∇x from its two terms).
    let row = null, paths = null;
    for (const m of ms) {
      const panel = panelFor(m, cls, argmaxOf);
      if (!m.lane) {
        if (!row) { row = el('div', { class: 'panels' }); card.append(row); }
        paths = null;
        row.append(panel);
        continue;
      }
      if (!paths) { paths = blockPaths(cls); card.append(paths.host); row = null; }
      paths.add(m.lane, panel);
    }
    target.append(card);
  }
}

function panelFor(m, cls, argmaxOf) {
  let panel;
  if (m.shape.length === 3) {
    // The gradient of a max-pool's input: where each window's gradient went.
    const link = cls === 'backward' && ROUTED[m.id], windows = link && argmaxOf(link.rows[0]);
    panel = mapsPanel(m, m.scale || autoScale(m), windows ? { windows, live: liveRows(link.rows[0]), link } : {});
  } else panel = matrixPanel(m);
  const op = cls === 'forward' && m.op;
  return op ? el('div', { class: 'with-op' }, el('div', { class: 'op', text: op }), panel) : panel;
}

// A residual block's two paths, body and shortcut, side by side; each inner layer under its
// own heading. A path with no layers is the identity.
function blockPaths(cls) {
  const lanes = {}, parts = new Map();
  const host = el('div', { class: 'paths' });
  for (const path of ['body', 'shortcut']) {
    const empty = cls === 'forward' ? 'the identity: x itself, unchanged' : 'the identity: ∇y passes to x unchanged';
    lanes[path] = el('div', { class: `path ${path}` }, el('h4', { text: path }), el('p', { class: 'identity muted', text: empty }));
    host.append(lanes[path]);
  }
  return {
    host,
    add(lane, panel) {
      const key = `${lane.path} ${lane.part}`;
      if (!parts.has(key)) {
        const panelsRow = el('div', { class: 'panels' });
        const part = el('div', { class: 'inner' }, el('h5', {}, el('span', { text: lane.part }), el('span', { class: 'what', text: lane.what })), panelsRow);
        const home = lanes[lane.path] || lanes.body;
        home.querySelector('.identity')?.remove();
        home.append(part);
        parts.set(key, panelsRow);
      }
      parts.get(key).append(panel);
    },
  };
}
