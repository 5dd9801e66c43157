'use strict';
// The explorer page: draws the matrices the server computes (POST /api/pass, /api/step).
// Plain JS, no libraries. Every heatmap is a canvas with one pixel per cell (scaled by CSS
// or drawn at an integer scale for feature maps); hovering links rows to windows and pixels.

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

const state = {
  pixels: null,      // 784 numbers in 0–255, what is sent
  trueLabel: null,   // known for a test image
  label: null,       // the label of the backward pass (null: the prediction)
  pass: null,
  seq: 0,
  steps: 0,
  testIndex: null,
  page: 0,
  passes: 0,
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
// A colour function and its range for one matrix.
function scaleFor(m) {
  let lo = Infinity, hi = -Infinity;
  for (const v of m.data) { if (v < lo) lo = v; if (v > hi) hi = v; }
  if (m.id === 'x' || m.id === 'a0') return { lo, hi, color: (v) => { const g = Math.round(255 * (v - lo) / ((hi - lo) || 1)); return [g, g, g]; }, gray: true };
  if (m.signed) {
    const a = Math.max(Math.abs(lo), Math.abs(hi)) || 1;
    return { lo: -a, hi: a, color: (v) => ramp(DIVERGING, v / a) };
  }
  const a = hi > 0 ? hi : 1;
  return { lo: 0, hi: a, color: (v) => ramp(SEQUENTIAL, v / a) };
}
const fmt = (v) => (v === 0 ? '0' : Math.abs(v) >= 100 || Math.abs(v) < 1e-3 ? v.toExponential(2) : v.toPrecision(3));

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
const SPACES = {
  C1: { ids: ['a0', 'z1', 'y1', 'da0', 'dz1', 'dy1'],
    win: (r) => ({ maps: ['x'], c: null, y: (r / 28) | 0, x: r % 28, h: 5, w: 5 }),
    out: (r) => ({ maps: ['out1', 'dout1'], c: null, y: (r / 28) | 0, x: r % 28, h: 1, w: 1 }),
    say: (r) => `row ${r} = output pixel (${(r / 28) | 0}, ${r % 28}) of the six C1 maps; its 25 columns are the 5×5 window of x there` },
  S2: { ids: ['a1', 'da1'],
    win: (r) => { const c = (r / 196) | 0, k = r % 196; return { maps: ['out1', 'dout1'], c, y: 2 * ((k / 14) | 0), x: 2 * (k % 14), h: 2, w: 2 }; },
    out: (r) => ({ maps: ['z2', 'dz2'], c: (r / 196) | 0, y: ((r % 196) / 14) | 0, x: r % 14, h: 1, w: 1 }),
    say: (r) => `row ${r} = map ${(r / 196) | 0}, window (${((r % 196) / 14) | 0}, ${r % 14}): the 2×2 block whose max is one S2 pixel` },
  C3: { ids: ['a2', 'z3', 'y3', 'da2', 'dz3', 'dy3'],
    win: (r) => ({ maps: ['z2', 'dz2'], c: null, y: (r / 10) | 0, x: r % 10, h: 5, w: 5 }),
    out: (r) => ({ maps: ['out3', 'dout3'], c: null, y: (r / 10) | 0, x: r % 10, h: 1, w: 1 }),
    say: (r) => `row ${r} = output pixel (${(r / 10) | 0}, ${r % 10}) of the 16 C3 maps; 150 columns = 6 maps × 5×5 window` },
  S4: { ids: ['a3', 'da3'],
    win: (r) => { const c = (r / 25) | 0, k = r % 25; return { maps: ['out3', 'dout3'], c, y: 2 * ((k / 5) | 0), x: 2 * (k % 5), h: 2, w: 2 }; },
    out: (r) => ({ maps: ['z4', 'dz4'], c: (r / 25) | 0, y: ((r % 25) / 5) | 0, x: r % 5, h: 1, w: 1 }),
    say: (r) => `row ${r} = map ${(r / 25) | 0}, window (${((r % 25) / 5) | 0}, ${r % 5})` },
};
const SPACE_OF = {};
for (const [name, s] of Object.entries(SPACES)) for (const id of s.ids) SPACE_OF[id] = name;
// A feature-map pixel (c, i, j) back to the row of the matrices that made it.
const MAP_ROW = {
  out1: ['C1', (c, i, j) => i * 28 + j], dout1: ['C1', (c, i, j) => i * 28 + j],
  z2: ['S2', (c, i, j) => c * 196 + i * 14 + j], dz2: ['S2', (c, i, j) => c * 196 + i * 14 + j],
  out3: ['C3', (c, i, j) => i * 10 + j], dout3: ['C3', (c, i, j) => i * 10 + j],
  z4: ['S4', (c, i, j) => c * 25 + i * 5 + j], dz4: ['S4', (c, i, j) => c * 25 + i * 5 + j],
};

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
    const [r, g, b] = sc.color(m.data[i]);
    img.data[4 * i] = r; img.data[4 * i + 1] = g; img.data[4 * i + 2] = b; img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  const { sx, sy } = fitCells(rows, cols);
  c.style.width = `${cols * sx}px`;
  c.style.height = `${rows * sy}px`;
  const host = el('div', { class: 'overlay-host' }, c);
  const extra = [];
  if (m.argmax) {
    // Each row's argmax as its own strip: which of the 4 window cells won.
    // Windows that are all zero (ReLU cut them) tie; their first maximum is drawn dim.
    const windows = m.id.startsWith('d') ? (state.pass && state.pass.forward.find((f) => f.id === m.id.slice(1))) : m;
    const s = el('canvas', { width: 4, height: rows, title: 'argmax of each row' });
    const sctx = s.getContext('2d');
    const simg = sctx.createImageData(4, rows);
    for (let r = 0; r < rows; r++) {
      const k = m.argmax[r];
      const dead = windows && Math.max(...windows.data.slice(4 * r, 4 * r + 4)) === 0;
      for (let q = 0; q < 4; q++) simg.data.set(q === k ? (dead ? [120, 100, 70, 255] : [255, 170, 0, 255]) : [40, 44, 60, 255], 4 * (r * 4 + q));
    }
    sctx.putImageData(simg, 0, 0);
    s.style.width = `${4 * sx}px`; s.style.height = `${rows * sy}px`;
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
    el('a', { href: `/derivation#${m.section}`, target: '_blank', title: 'its section of docs/derivation.md', text: m.formula }),
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
    const [r, g, b] = sc.color(data[off + i * W + j]);
    ctx.fillStyle = `rgb(${r},${g},${b})`;
    ctx.fillRect(j * k, i * k, k, k);
  }
  if (opts.windows) {
    // The max-pool routing: 2×2 windows, and a dot on the cell each live window's max came from.
    ctx.strokeStyle = 'rgba(60,70,100,.35)';
    ctx.lineWidth = 1;
    for (let t = 2; t < H; t += 2) { ctx.beginPath(); ctx.moveTo(0, t * k + 0.5); ctx.lineTo(W * k, t * k + 0.5); ctx.stroke(); }
    for (let t = 2; t < W; t += 2) { ctx.beginPath(); ctx.moveTo(t * k + 0.5, 0); ctx.lineTo(t * k + 0.5, H * k); ctx.stroke(); }
    const c = off / (H * W), per = (H / 2) * (W / 2);
    ctx.fillStyle = '#111';
    for (let q = 0; q < per; q++) {
      if (opts.live && !opts.live[c * per + q]) continue;
      const a = opts.windows[c * per + q], wi = (q / (W / 2)) | 0, wj = q % (W / 2);
      const i = 2 * wi + (a >> 1), j = 2 * wj + (a & 1);
      ctx.beginPath(); ctx.arc(j * k + k / 2, i * k + k / 2, Math.max(1, k / 5), 0, 2 * Math.PI); ctx.fill();
    }
  }
}

const MAP_SCALE = { x: 6, out1: 3, dout1: 4, z2: 5, dz2: 5, out3: 6, dout3: 7, z4: 10, dz4: 10 };
const OPS = { W1: '·', b1: '+', z1: '=', y1: '→', out1: '→', z2: '→', W3: '·', b3: '+', z3: '=', y3: '→', out3: '→', z4: '→',
  W5: '·', z5: '+ b =', a5: '→', W6: '·', z6: '+ b =', a6: '→', W7: '·', z7: '+ b =', P: '→' };
const LAYERS = {
  input: ['Input', 'the 28×28 image padded to 32×32 and normalised: (p/255 − 0.1307)/0.3081', 'input'],
  C1: ['C1', 'convolution 1→6, 5×5: im2col, one matrix product, bias, ReLU, back to maps', 'c1'],
  S2: ['S2', 'max-pool 2×2, stride 2: one row per window, the max of each row', 's2'],
  C3: ['C3', 'convolution 6→16, 5×5: each row of a⁽²⁾ holds 6 maps × 25 pixels', 'c3'],
  S4: ['S4', 'max-pool 2×2, stride 2', 's4'],
  C5: ['C5', 'convolution 16→120, 5×5: the kernel covers the whole 5×5 map, so a⁽⁴⁾ is one row', 'c5'],
  F6: ['F6', 'fully connected 120→84, ReLU', 'f6-and-f7'],
  F7: ['F7', 'fully connected 84→10: the logits', 'f6-and-f7'],
  softmax: ['Softmax', 'the probabilities', 'softmax-and-the-loss'],
};
const BACK = {
  F7: ['F7', '∇z⁽⁷⁾ = P − Y starts it all (N = 1)', 'f7'], F6: ['F6', 'through the ReLU: keep ∇ where z > 0', 'f6'],
  C5: ['C5', '∇W = aᵀ·∇z, ∇b = column sums of ∇z, ∇a = ∇z·Wᵀ', 'c5-1'],
  S4: ['S4', 'the max-pool routing: each window passes its gradient to its argmax (dots), zero elsewhere', 's4-1'],
  C3: ['C3', 'col2im adds the overlapping copies back', 'c3-1'],
  S2: ['S2', 'the max-pool routing on C1\'s 28×28 maps', 's2-1'], C1: ['C1', '∇W⁽¹⁾ = a⁽⁰⁾ᵀ·∇z⁽¹⁾: 784 rows summed', 'c1-1'],
};

// Which rows of a pooling window matrix have a positive maximum (the others are all-zero
// ReLU outputs: their gradient dies at the ReLU whichever cell "wins").
function liveRows(id) {
  const m = state.pass && state.pass.forward.find((f) => f.id === id);
  if (!m) return null;
  const live = new Uint8Array(m.shape[0]);
  for (let r = 0; r < live.length; r++) live[r] = Math.max(...m.data.slice(4 * r, 4 * r + 4)) > 0 ? 1 : 0;
  return live;
}

function renderGroup(target, list, meta, cls, argmaxOf) {
  const groups = new Map();
  for (const m of list) { if (!groups.has(m.layer)) groups.set(m.layer, []); groups.get(m.layer).push(m); }
  for (const [layer, ms] of groups) {
    const [name, what, section] = meta[layer] || [layer, '', ''];
    const card = el('section', { class: `layer ${cls}`, id: `${cls}-${layer}` },
      el('header', {}, el('h3', {}, el('a', { href: `/derivation#${section}`, target: '_blank', text: name })), el('span', { class: 'what', text: what })));
    const row = el('div', { class: 'panels' });
    for (const m of ms) {
      let panel;
      if (m.shape.length === 3) {
        const src = m.id === 'dout1' ? 'a1' : m.id === 'dout3' ? 'a3' : null;
        panel = mapsPanel(m, MAP_SCALE[m.id] || 4, src ? { windows: argmaxOf(src), live: liveRows(src) } : {});
      } else panel = matrixPanel(m);
      const op = cls === 'forward' && OPS[m.id];
      row.append(op ? el('div', { class: 'with-op' }, el('div', { class: 'op', text: op }), panel) : panel);
    }
    card.append(row);
    target.append(card);
  }
}

// ---------- prediction bars ----------
function bars(p, after) {
  const host = $('#bars');
  host.replaceChildren();
  const pred = argmax(p);
  for (let d = 0; d < 10; d++) {
    const bar = el('div', { class: `bar${d === pred ? ' pred' : ''}${d === state.trueLabel ? ' truth' : ''}` });
    const i1 = el('i'); i1.style.width = `${100 * p[d]}%`; bar.append(i1);
    let text = `${(100 * p[d]).toFixed(1)}%`;
    if (after) {
      const i2 = el('i', { class: 'after' }); i2.style.width = `${100 * after[d]}%`; bar.append(i2);
      text = `${(100 * p[d]).toFixed(1)} → ${(100 * after[d]).toFixed(1)}%`;
    }
    host.append(el('span', { text: String(d) }), bar, el('span', { class: 'muted', text }));
  }
}
const argmax = (v) => v.reduce((b, x, i) => (x > v[b] ? i : b), 0);

// ---------- the pass ----------
async function api(path, body) {
  const r = await fetch(path, body ? { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {});
  const j = await r.json();
  if (!r.ok) throw new Error(j.error || r.statusText);
  return j;
}

async function compute() {
  if (!state.pixels) return;
  const seq = ++state.seq;
  try {
    const p = await api('/api/pass', { pixels: state.pixels, label: state.label });
    if (seq !== state.seq) return;
    state.pass = p;
    render(p);
  } catch (e) {
    $('#prediction-text').textContent = `error: ${e.message}`;
  }
}

function render(p) {
  panels.clear(); clearMarks();
  const predEl = $('#prediction');
  predEl.textContent = p.prediction;
  predEl.classList.toggle('wrong', state.trueLabel !== null && state.trueLabel !== p.prediction);
  const conf = (100 * p.probabilities[p.prediction]).toFixed(1);
  $('#prediction-text').textContent = state.trueLabel === null ? `${conf}% sure` :
    `${conf}% sure · true label ${state.trueLabel}${state.trueLabel === p.prediction ? ' ✓' : ' ✗ misclassified'}`;
  $('#loss').textContent = p.loss.toFixed(4);
  const values = p.forward.concat(p.backward).reduce((n, m) => n + m.data.length, 0);
  $('#timing').textContent = `${p.forward.length + p.backward.length} matrices, ${values.toLocaleString('en')} numbers, computed in ${p.elapsed_ms.toFixed(1)} ms`;
  bars(p.probabilities, null);
  for (const b of document.querySelectorAll('#labels button')) b.classList.toggle('on', Number(b.dataset.label) === p.label);
  $('#backward-label').textContent = `for label ${p.label}`;
  const x = p.forward.find((m) => m.id === 'x');
  const pre = $('#pre32');
  drawMap(pre.getContext('2d'), x.data, 0, 32, 32, 4, scaleFor(x), {});
  register('x', { kind: 'maps', hosts: [pre.parentElement], k: 4 });
  const fwd = $('#forward'), back = $('#backward');
  fwd.replaceChildren(); back.replaceChildren();
  const argmaxOf = (id) => (p.forward.find((m) => m.id === id) || {}).argmax;
  renderGroup(fwd, p.forward, LAYERS, 'forward', argmaxOf);
  renderGroup(back, p.backward, BACK, 'backward', argmaxOf);
  $('#step-panels').replaceChildren();
  $('#step-result').replaceChildren();
  state.steps = 0;
  state.passes += 1;
  document.body.dataset.passes = String(state.passes);
  document.body.dataset.prediction = String(p.prediction);
  document.body.dataset.label = String(p.label);
  document.body.dataset.elapsed = String(p.elapsed_ms);
  document.body.dataset.probs = JSON.stringify(p.probabilities);
  delete document.body.dataset.steps;
}

// ---------- one step ----------
async function oneStep() {
  if (!state.pass) return;
  const lr = Number($('#lr').value);
  state.steps += 1;
  try {
    const s = await api('/api/step', { pixels: state.pixels, label: state.pass.label, lr, steps: state.steps });
    bars(s.before, s.after);
    const rows = [];
    const before = s.before, after = s.after;
    const show = [...new Set([s.label, argmax(before), argmax(after)])];
    for (const d of show) {
      const up = after[d] >= before[d];
      rows.push(el('div', {}, `P[${d}] `, el('span', { text: `${(100 * before[d]).toFixed(2)}% → ` }),
        el('b', { class: up ? 'up' : 'down', text: `${(100 * after[d]).toFixed(2)}%` }), d === s.label ? ' (the label)' : ''));
    }
    rows.push(el('div', { class: 'muted', text: `loss ${s.loss_before.toFixed(4)} → ${s.loss_after.toFixed(4)} after ${s.steps} step${s.steps > 1 ? 's' : ''} at η = ${s.lr}` }));
    $('#step-result').replaceChildren(el('div', { class: 'steps' }, ...rows));
    const host = $('#step-panels');
    host.replaceChildren(el('h2', { class: 'part', id: 'step-title', text: `Weight changes after ${s.steps} SGD step${s.steps > 1 ? 's' : ''} (η = ${s.lr}, label ${s.label})` }));
    const card = el('section', { class: 'layer step' },
      el('header', {}, el('h3', { text: 'ΔW, Δb' }), el('span', { class: 'what', text: 'W_after − W_before of each layer, in the derivation\'s layout; for one step ΔW = −η·∇W' })));
    const row = el('div', { class: 'panels' });
    for (const m of s.deltas) row.append(matrixPanel(m));
    card.append(row);
    host.append(card);
    document.body.dataset.steps = String(s.steps);
    document.body.dataset.after = JSON.stringify(after);
  } catch (e) {
    state.steps -= 1;
    $('#step-result').replaceChildren(el('div', { class: 'error', text: e.message }));
  }
}

// ---------- drawing ----------
const draw = $('#draw');
const dctx = draw.getContext('2d', { willReadFrequently: true });
function clearDraw() {
  dctx.fillStyle = '#000'; dctx.fillRect(0, 0, 280, 280);
  $('#draw-hint').hidden = false;
}
let drawing = false, last = null, timer = null;
function pos(e) { const r = draw.getBoundingClientRect(); return [(e.clientX - r.left) * 280 / r.width, (e.clientY - r.top) * 280 / r.height]; }
draw.addEventListener('pointerdown', (e) => {
  drawing = true; last = pos(e); draw.setPointerCapture(e.pointerId);
  $('#draw-hint').hidden = true;
  if (state.testIndex !== null) { state.testIndex = null; state.trueLabel = null; state.label = null; $('#source').textContent = 'drawing (edited test image)'; }
  stroke(last, last);
});
draw.addEventListener('pointermove', (e) => {
  if (!drawing) return;
  const p = pos(e); stroke(last, p); last = p;
  if (!timer) timer = setTimeout(() => { timer = null; fromDrawing(); }, 150);
});
const end = () => { if (drawing) { drawing = false; fromDrawing(); } };
draw.addEventListener('pointerup', end);
draw.addEventListener('pointercancel', end);
function stroke(a, b) {
  dctx.strokeStyle = '#fff'; dctx.lineWidth = 20; dctx.lineCap = 'round'; dctx.lineJoin = 'round';
  dctx.beginPath(); dctx.moveTo(a[0], a[1]); dctx.lineTo(b[0], b[1]); dctx.stroke();
}
// MNIST's own preprocessing: the ink's bounding box scaled to 20×20 (area averaging), then
// shifted so its centre of mass is at the centre of the 28×28 image.
function drawingPixels() {
  const src = dctx.getImageData(0, 0, 280, 280).data;
  let x0 = 280, y0 = 280, x1 = -1, y1 = -1;
  for (let y = 0; y < 280; y++) for (let x = 0; x < 280; x++) if (src[4 * (y * 280 + x)] > 10) {
    if (x < x0) x0 = x; if (x > x1) x1 = x; if (y < y0) y0 = y; if (y > y1) y1 = y;
  }
  if (x1 < 0) return null;
  const side = Math.max(x1 - x0 + 1, y1 - y0 + 1), s = 20 / side;
  const ox = 14 - (x1 - x0 + 1) * s / 2, oy = 14 - (y1 - y0 + 1) * s / 2;
  const acc = new Float64Array(784);
  for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) {
    const v = src[4 * (y * 280 + x)];
    if (!v) continue;
    const tx = Math.min(27, Math.floor(ox + (x - x0) * s)), ty = Math.min(27, Math.floor(oy + (y - y0) * s));
    acc[ty * 28 + tx] += v * s * s;
  }
  let m = 0, cx = 0, cy = 0;
  for (let i = 0; i < 784; i++) { m += acc[i]; cx += acc[i] * ((i % 28) + 0.5); cy += acc[i] * (((i / 28) | 0) + 0.5); }
  const dx = Math.round(14 - cx / m), dy = Math.round(14 - cy / m);
  const out = new Array(784).fill(0);
  for (let i = 0; i < 784; i++) {
    const x = (i % 28) + dx, y = ((i / 28) | 0) + dy;
    if (x >= 0 && x < 28 && y >= 0 && y < 28) out[y * 28 + x] = Math.min(255, Math.round(acc[i]));
  }
  return out;
}
function fromDrawing() {
  const px = drawingPixels();
  if (!px) return;
  if (state.testIndex === null) $('#source').textContent = 'drawing';
  setPixels(px);
}
function setPixels(px) {
  state.pixels = px;
  const c = $('#pre28').getContext('2d');
  const img = c.createImageData(28, 28);
  px.forEach((v, i) => img.data.set([v, v, v, 255], 4 * i));
  c.putImageData(img, 0, 0);
  compute();
}
$('#clear').addEventListener('click', () => {
  clearDraw(); state.pixels = null; state.testIndex = null; state.trueLabel = null; state.label = null;
  $('#source').textContent = 'drawing';
});

// ---------- labels ----------
for (let d = 0; d < 10; d++) {
  const b = el('button', { type: 'button', text: String(d), 'data-label': String(d) });
  b.addEventListener('click', () => { state.label = d; compute(); });
  $('#labels').append(b);
}
$('#step').addEventListener('click', oneStep);
$('#reset-step').addEventListener('click', () => { if (state.pass) render(state.pass); });

// ---------- test images ----------
const PAGE = 48;
async function loadThumbs() {
  const wrong = $('#only-wrong').checked, label = $('#label-filter').value;
  const q = `/api/test?start=${state.page * PAGE}&count=${PAGE}&wrong=${wrong}${label ? `&label=${label}` : ''}`;
  $('#picker-count').textContent = 'loading…';
  try {
    const r = await api(q);
    $('#picker-count').textContent = `${r.matching} of ${r.total} test images · ${r.wrong} misclassified by this model`;
    const host = $('#thumbs');
    host.replaceChildren();
    for (const t of r.images) {
      const c = el('canvas', { width: 28, height: 28 });
      const ctx = c.getContext('2d');
      const img = ctx.createImageData(28, 28);
      t.pixels.forEach((v, i) => img.data.set([v, v, v, 255], 4 * i));
      ctx.putImageData(img, 0, 0);
      const wrongOne = t.prediction !== t.label;
      const th = el('div', { class: `thumb${wrongOne ? ' wrong' : ''}`, title: `#${t.index}: label ${t.label}, predicted ${t.prediction}`, 'data-index': String(t.index) },
        c, el('span', { class: 'tag', text: wrongOne ? `${t.label}→${t.prediction}` : String(t.label) }));
      th.addEventListener('click', () => pickTest(t, th));
      host.append(th);
    }
    document.body.dataset.thumbs = String(r.images.length);
  } catch (e) { $('#picker-count').textContent = `error: ${e.message}`; }
}
function pickTest(t, th) {
  for (const o of document.querySelectorAll('.thumb.sel')) o.classList.remove('sel');
  th.classList.add('sel');
  state.testIndex = t.index; state.trueLabel = t.label; state.label = t.label;
  $('#source').textContent = `test image #${t.index}, label ${t.label}`;
  clearDraw(); $('#draw-hint').hidden = true;
  const img = dctx.createImageData(280, 280);
  for (let y = 0; y < 280; y++) for (let x = 0; x < 280; x++) {
    const v = t.pixels[((y / 10) | 0) * 28 + ((x / 10) | 0)];
    img.data.set([v, v, v, 255], 4 * (y * 280 + x));
  }
  dctx.putImageData(img, 0, 0);
  setPixels(Array.from(t.pixels));
}
$('#only-wrong').addEventListener('change', () => { state.page = 0; loadThumbs(); });
$('#label-filter').addEventListener('change', () => { state.page = 0; loadThumbs(); });
$('#prev-page').addEventListener('click', () => { if (state.page > 0) { state.page -= 1; loadThumbs(); } });
$('#next-page').addEventListener('click', () => { state.page += 1; loadThumbs(); });

// ---------- info, shapes, plots ----------
function shapesTable(rows) {
  const max = Math.max(...rows.map((r) => r.bytes));
  const t = el('table', { class: 'shapes' }, el('tr', {}, ...['layer', 'matrix (N = 1)', 'shape', 'bytes', 'copied from', ''].map((h) => el('th', { text: h }))));
  for (const r of rows) {
    const bar = el('i'); bar.style.width = `${Math.max(1, 100 * r.bytes / max)}%`;
    t.append(el('tr', {}, el('td', { text: r.layer }), el('td', { text: r.what }), el('td', { text: r.shape.join('×') }),
      el('td', { class: 'num', text: r.bytes.toLocaleString('en') }), el('td', { class: 'num', text: r.source_bytes == null ? '' : r.source_bytes.toLocaleString('en') }),
      el('td', { class: 'barcell' }, bar)));
  }
  return t;
}
function strip() {
  const s = $('#strip');
  for (const l of ['input', 'C1', 'S2', 'C3', 'S4', 'C5', 'F6', 'F7', 'softmax']) s.append(el('a', { href: `#forward-${l}`, text: l === 'input' ? 'x' : l }));
  for (const l of ['F7', 'F6', 'C5', 'S4', 'C3', 'S2', 'C1']) s.append(el('a', { class: 'back', href: `#backward-${l}`, text: `∇${l}` }));
}
async function init() {
  strip();
  clearDraw();
  const info = await api('/api/info');
  $('#model-info').textContent = `${info.model} · ${info.parameters.toLocaleString('en')} parameters · ${info.checkpoint ? `weights: ${info.checkpoint}` : 'random weights'}`;
  if (info.notice) { $('#notice').textContent = info.notice; $('#notice').hidden = false; }
  $('#shapes').append(shapesTable(info.shapes));
  const plots = $('#plots');
  if (info.metrics || info.test_images) {
    plots.append(el('h2', { class: 'part', text: 'Training' }));
    const row = el('div', { class: 'plots' });
    if (info.metrics) row.append(el('img', { src: '/plot/metrics.svg', alt: 'loss and accuracy per epoch', width: '640' }));
    if (info.test_images) row.append(el('img', { src: '/plot/confusion.svg', alt: 'confusion matrix on the test images', width: '420', loading: 'lazy' }));
    plots.append(row);
  }
  document.body.dataset.ready = '1';
  if (info.test_images) { $('#picker-card').hidden = false; await loadThumbs(); }
}
init().catch((e) => { $('#model-info').textContent = `error: ${e.message}`; });
