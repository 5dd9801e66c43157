'use strict';
// The explorer page: the input (drawing or test image), the calls to POST /api/pass and
// /api/step, the prediction, the label, one SGD step; the panels come from panels.js.

const state = {
  info: null,        // GET /api/info: the network, its image shape [C, H, W] and classes
  image: [1, 28, 28],
  pixels: null,      // C·H·W numbers in 0–255 (784 for LeNet-5), what is sent
  trueLabel: null,   // known for a test image
  label: null,       // the label of the backward pass (null: the prediction)
  pass: null,
  seq: 0,
  steps: 0,
  testIndex: null,
  page: 0,
  passes: 0,
};


// The forward and backward cards' titles and texts, by layer (from /api/info's cards).
let forwardMeta = {}, backMeta = {};
const className = (d) => (state.info && state.info.classes[d] !== undefined ? state.info.classes[d] : String(d));

// ---------- prediction bars ----------
function bars(p, after) {
  const host = $('#bars');
  host.replaceChildren();
  const pred = argmax(p);
  for (let d = 0; d < p.length; d++) {
    const bar = el('div', { class: `bar${d === pred ? ' pred' : ''}${d === state.trueLabel ? ' truth' : ''}` });
    const i1 = el('i'); i1.style.width = `${100 * p[d]}%`; bar.append(i1);
    let text = `${(100 * p[d]).toFixed(1)}%`;
    if (after) {
      const i2 = el('i', { class: 'after' }); i2.style.width = `${100 * after[d]}%`; bar.append(i2);
      text = `${(100 * p[d]).toFixed(1)} → ${(100 * after[d]).toFixed(1)}%`;
    }
    host.append(el('span', { text: className(d), title: className(d) }), bar, el('span', { class: 'muted', text }));
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
    document.body.dataset.rendered = String(seq);
  } catch (e) {
    $('#prediction-text').textContent = `error: ${e.message}`;
  }
}

function render(p) {
  panels.clear(); clearMarks();
  const predEl = $('#prediction');
  predEl.textContent = className(p.prediction);
  predEl.classList.toggle('wrong', state.trueLabel !== null && state.trueLabel !== p.prediction);
  const conf = (100 * p.probabilities[p.prediction]).toFixed(1);
  const P = p.forward.find((m) => m.id === 'P');
  $('#softmax-formula').textContent = P.formula;
  $('#prediction-text').textContent = state.trueLabel === null ? `${conf}% sure` :
    `${conf}% sure · true label ${className(state.trueLabel)}${state.trueLabel === p.prediction ? ' ✓' : ' ✗ misclassified'}`;
  $('#loss').textContent = p.loss.toFixed(4);
  const values = p.forward.concat(p.backward).reduce((n, m) => n + m.data.length, 0);
  $('#timing').textContent = `${p.forward.length + p.backward.length} matrices, ${values.toLocaleString('en')} numbers, computed in ${p.elapsed_ms.toFixed(1)} ms`;
  bars(p.probabilities, null);
  for (const b of document.querySelectorAll('#labels button')) b.classList.toggle('on', Number(b.dataset.label) === p.label);
  $('#backward-label').textContent = `for label ${className(p.label)}`;
  const x = p.forward.find((m) => m.id === 'x');
  const pre = $('#pre32');
  const [, H, W] = x.shape, k = Math.max(1, Math.floor(128 / Math.max(H, W)));
  pre.width = W * k; pre.height = H * k;
  drawMap(pre.getContext('2d'), x.data, 0, H, W, k, scaleFor(x), {});
  register('x', { kind: 'maps', hosts: [pre.parentElement], k });
  const fwd = $('#forward'), back = $('#backward');
  fwd.replaceChildren(); back.replaceChildren();
  const argmaxOf = (id) => (p.forward.find((m) => m.id === id) || {}).argmax;
  setLinks(p.links);
  renderGroup(fwd, p.forward, forwardMeta, 'forward', argmaxOf);
  renderGroup(back, p.backward, backMeta, 'backward', argmaxOf);
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
      rows.push(el('div', {}, `P[${className(d)}] `, el('span', { text: `${(100 * before[d]).toFixed(2)}% → ` }),
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
// MNIST's own preprocessing, for any H×W: the ink's bounding box scaled to 20/28 of the
// image (area averaging), then shifted so its centre of mass is at the centre. For C
// channels the gray image is repeated in each (channels first, as the network reads it).
function drawingPixels() {
  const [C, H, W] = state.image;
  const src = dctx.getImageData(0, 0, 280, 280).data;
  let x0 = 280, y0 = 280, x1 = -1, y1 = -1;
  for (let y = 0; y < 280; y++) for (let x = 0; x < 280; x++) if (src[4 * (y * 280 + x)] > 10) {
    if (x < x0) x0 = x; if (x > x1) x1 = x; if (y < y0) y0 = y; if (y > y1) y1 = y;
  }
  if (x1 < 0) return null;
  const side = Math.max(x1 - x0 + 1, y1 - y0 + 1), s = (20 / 28) * Math.min(H, W) / side;
  const ox = W / 2 - (x1 - x0 + 1) * s / 2, oy = H / 2 - (y1 - y0 + 1) * s / 2;
  const n = H * W, acc = new Float64Array(n);
  for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) {
    const v = src[4 * (y * 280 + x)];
    if (!v) continue;
    const tx = Math.min(W - 1, Math.floor(ox + (x - x0) * s)), ty = Math.min(H - 1, Math.floor(oy + (y - y0) * s));
    acc[ty * W + tx] += v * s * s;
  }
  let m = 0, cx = 0, cy = 0;
  for (let i = 0; i < n; i++) { m += acc[i]; cx += acc[i] * ((i % W) + 0.5); cy += acc[i] * (((i / W) | 0) + 0.5); }
  const dx = Math.round(W / 2 - cx / m), dy = Math.round(H / 2 - cy / m);
  const gray = new Array(n).fill(0);
  for (let i = 0; i < n; i++) {
    const x = (i % W) + dx, y = ((i / W) | 0) + dy;
    if (x >= 0 && x < W && y >= 0 && y < H) gray[y * W + x] = Math.min(255, Math.round(acc[i]));
  }
  const out = [];
  for (let c = 0; c < C; c++) out.push(...gray);
  return out;
}
function fromDrawing() {
  const px = drawingPixels();
  if (!px) return;
  if (state.testIndex === null) $('#source').textContent = 'drawing';
  setPixels(px);
}
// C×H×W pixels (channels first) as RGBA: gray for one channel, the first three as RGB.
function rgba(px, img) {
  const [C, H, W] = state.image, n = H * W, g = C >= 3 ? [0, n, 2 * n] : [0, 0, 0];
  for (let i = 0; i < n; i++) img.data.set([px[g[0] + i], px[g[1] + i], px[g[2] + i], 255], 4 * i);
}
function setPixels(px) {
  state.pixels = px;
  const [, H, W] = state.image;
  const cv = $('#pre28');
  cv.width = W; cv.height = H;
  const c = cv.getContext('2d');
  const img = c.createImageData(W, H);
  rgba(px, img);
  c.putImageData(img, 0, 0);
  compute();
}
$('#clear').addEventListener('click', () => {
  clearDraw(); state.pixels = null; state.testIndex = null; state.trueLabel = null; state.label = null;
  $('#source').textContent = 'drawing';
});

// ---------- labels ----------
function labelButtons(classes) {
  classes.forEach((name, d) => {
    const b = el('button', { type: 'button', text: name.length <= 3 ? name : String(d), title: name, 'data-label': String(d) });
    b.addEventListener('click', () => { state.label = d; compute(); });
    $('#labels').append(b);
  });
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
    const [, H, W] = state.image;
    for (const t of r.images) {
      const c = el('canvas', { width: W, height: H });
      const ctx = c.getContext('2d');
      const img = ctx.createImageData(W, H);
      rgba(t.pixels, img);
      ctx.putImageData(img, 0, 0);
      const wrongOne = t.prediction !== t.label;
      const th = el('div', { class: `thumb${wrongOne ? ' wrong' : ''}`, title: `#${t.index}: label ${className(t.label)}, predicted ${className(t.prediction)}`, 'data-index': String(t.index) },
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
  $('#source').textContent = `test image #${t.index}, label ${className(t.label)}`;
  clearDraw(); $('#draw-hint').hidden = true;
  const [, H, W] = state.image;
  const small = dctx.createImageData(W, H);
  rgba(t.pixels, small);
  const c = el('canvas', { width: W, height: H });
  c.getContext('2d').putImageData(small, 0, 0);
  dctx.imageSmoothingEnabled = false;
  dctx.drawImage(c, 0, 0, 280, 280);
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
function strip(info) {
  const s = $('#strip');
  // Short names: `3 maxpool` for `layer 3 maxpool(3,s=2)`; a preset's stage keeps its name.
  const short = (t) => t.replace(/^layer /, '').replace(/\(.*$/, '');
  s.append(el('a', { href: '#forward-input', text: 'x' }));
  for (const c of info.layers) s.append(el('a', { href: `#forward-${anchor(c.title)}`, text: short(c.title), title: c.title }));
  s.append(el('a', { href: '#forward-softmax', text: 'softmax' }));
  for (const c of [...info.layers].reverse()) s.append(el('a', { class: 'back', href: `#backward-${anchor(c.title)}`, text: `∇${short(c.title)}`, title: c.title }));
}
// The cards: one per layer (a preset's: one per stage), as the server words them.
function layerMeta(info) {
  const [C, H, W] = info.image, p = info.preprocess;
  const norm = C === 1 ? `(p/255 − ${p.mean[0].toPrecision(4)})/${p.std[0].toPrecision(4)}` : '(p/255 − mean)/std per channel';
  const image = C === 1 ? `${H}×${W}` : `${C}×${H}×${W}`;
  forwardMeta = {
    input: ['Input', `the ${image} image${p.pad ? ` padded by ${p.pad} and` : ','} normalised as in training: ${norm}`, 'input'],
    softmax: ['Softmax', 'the probabilities', 'softmax-and-the-loss'],
  };
  backMeta = {};
  for (const c of info.layers) {
    forwardMeta[c.title] = [c.title, c.what, c.section];
    backMeta[c.title] = [c.back_title, c.back_what, c.back_section];
  }
}
// The page of a network other than LeNet-5 (whose page the derivation's notation titles).
function archTitles(info) {
  const [C, H, W] = info.image;
  document.title = `${info.arch} — every matrix — lenet5-rs explorer`;
  $('#title').textContent = 'Every matrix of an --arch network';
  $("#subtitle-net").textContent = `${info.arch} —`;
  $('#draw-hint').textContent = `draw something (sent as ${C}×${H}×${W})`;
}
async function init() {
  clearDraw();
  const info = await api('/api/info');
  state.info = info;
  state.image = info.image;
  strip(info);
  labelButtons(info.classes);
  info.classes.forEach((name, d) => $('#label-filter').append(el('option', { value: String(d), text: name })));
  const [C, H, W] = info.image, [, H2, W2] = info.input;
  $('#pre28-caption').textContent = `${H}×${W} sent${C > 1 ? `, ${C} channels (a drawing: gray in each)` : ''}`;
  $('#pre32-caption').textContent = `x: ${H2}×${W2}, ${info.preprocess.pad ? 'padded, ' : ''}normalised`;
  layerMeta(info);
  if (!info.lenet5) archTitles(info);
  $('#model-info').textContent = `${info.lenet5 ? info.model : `${info.layers.length} layers`} · ${info.parameters.toLocaleString('en')} parameters · ${info.checkpoint ? `weights: ${info.checkpoint}` : 'random weights'}`;
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
