// The explorer page in a real browser (Debian's chromium through playwright-core), twice:
//
// 1. LeNet-5: start the server on a free port, draw a digit with the mouse, wait for the
//    prediction, check that the forward panels render, that the backward panels change with
//    the label, that "One step" moves the probabilities, and save a screenshot.
// 2. An --arch network (padding, stride 2, an overlapping max-pool, batch norm, an average
//    pool) on 3×20×20 images: train it for two steps with `lenet5 train` on a tiny image
//    folder written here, serve it, draw on the canvas (resampled to 20×20, gray in 3
//    channels), check every layer's card, the label and the step, save a second screenshot.
// 3. A residual network on the same folder: each block's two paths side by side with their
//    matrices, the sum, and in the backward each path's term of ∇x and their sum; a row of
//    an inner convolution boxes its window in the block's input; a third screenshot.
//
//   node tests/browser/explorer.mjs
//
// Environment: EXPLORER_BIN (default target/release/lenet5, run as `lenet5 serve`), EXPLORER_CHECKPOINT,
// MNIST_DIR (test images to pick from), EXPLORER_METRICS (a metrics CSV), SCREENSHOT
// (default docs/explorer.png), SCREENSHOT_ARCH (default docs/explorer-arch.png), SCREENSHOT_RESIDUAL
// (default docs/explorer-residual.png), CHROMIUM
// (default /usr/bin/chromium).

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, mkdirSync, writeFileSync } from 'node:fs';
import { crc32, deflateSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const bin = resolve(root, process.env.EXPLORER_BIN || 'target/release/lenet5');
const screenshot = resolve(root, process.env.SCREENSHOT || 'docs/explorer.png');
const screenshotArch = resolve(root, process.env.SCREENSHOT_ARCH || 'docs/explorer-arch.png');
const screenshotResidual = resolve(root, process.env.SCREENSHOT_RESIDUAL || 'docs/explorer-residual.png');
const failures = [];
let passed = 0;
function check(what, ok, detail = '') {
  if (ok) { passed += 1; console.log(`ok   ${what}`); } else { failures.push(what); console.log(`FAIL ${what} ${detail}`); }
}

function startServer(args) {
  const child = spawn(bin, ['serve', '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((ok, fail) => {
    let out = '';
    const timer = setTimeout(() => fail(new Error(`the server printed no URL in 60 s: ${out}`)), 60000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) { clearTimeout(timer); ok({ child, url: m[1] }); }
    });
    child.on('exit', (code) => { clearTimeout(timer); fail(new Error(`the server exited with ${code}: ${out}`)); });
  });
}

const lenetArgs = [];
if (process.env.EXPLORER_CHECKPOINT) lenetArgs.push('--checkpoint', process.env.EXPLORER_CHECKPOINT);
if (process.env.MNIST_DIR) lenetArgs.push('--data', process.env.MNIST_DIR);
if (process.env.EXPLORER_METRICS) lenetArgs.push('--metrics', process.env.EXPLORER_METRICS);
const servers = [];
// The servers go with this script, however it ends.
process.on('exit', () => servers.forEach((c) => c.kill()));
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(1));
const { child, url } = await startServer(lenetArgs);
servers.push(child);
console.log(`server: ${url}`);
const profile = mkdtempSync(join(tmpdir(), 'explorer-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run'],
  viewport: { width: 1600, height: 1000 },
  deviceScaleFactor: 1,
});
const page = context.pages()[0] || await context.newPage();
const errors = [];
page.on('pageerror', (e) => errors.push(String(e)));
page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });

const body = (key) => page.evaluate((k) => document.body.dataset[k], key);
// Waits until document.body.dataset[key] equals `eq` or, as a number, exceeds `gt`.
const waitBody = (key, { eq, gt }, timeout = 30000) =>
  page.waitForFunction(([k, e, g]) => {
    const v = document.body.dataset[k];
    return e !== null ? v === e : v !== undefined && Number(v) > g;
  }, [key, eq ?? null, gt ?? null], { timeout });

// Picks another label and checks that the backward panel `canvasId` changes and that every
// panel of `backIds` is drawn; then one SGD step must raise that label's probability and
// draw `stepPanels` weight changes.
async function labelAndStep(canvasId, nextLabel, backIds, stepPanels) {
  const snapshot = () => page.evaluate((id) => {
    const c = document.querySelector(`#backward canvas[data-id="${id}"]`);
    return c ? c.toDataURL() : null;
  }, canvasId);
  const label0 = Number(await body('label'));
  const before = await snapshot();
  const other = nextLabel(label0);
  await page.click(`#labels button[data-label="${other}"]`);
  await waitBody('label', { eq: String(other) });
  const after = await snapshot();
  check(`the backward panels change with the label (${label0} → ${other})`, before && after && before !== after);
  const drawn = await page.$$eval('#backward figure.panel', (fs) => fs.map((f) => f.dataset.id));
  check('every backward matrix has a panel', backIds.every((id) => drawn.includes(id)), JSON.stringify(drawn));

  const probs = JSON.parse(await body('probs'));
  await page.fill('#lr', '0.05');
  await page.click('#step');
  await waitBody('steps', { eq: '1' });
  const moved = JSON.parse(await body('after'));
  const delta = Math.max(...moved.map((p, i) => Math.abs(p - probs[i])));
  check(`one step moves the probabilities (max |ΔP| = ${delta.toExponential(2)}, P[${other}] ${probs[other].toFixed(4)} → ${moved[other].toFixed(4)})`, delta > 1e-5 && moved[other] > probs[other]);
  const deltaPanels = await page.$$eval('#step-panels figure.panel', (fs) => fs.length);
  check('the weight changes of every parameter are drawn', deltaPanels === stepPanels, String(deltaPanels));
}

async function lenetScenario() {
  await page.goto(url);
  await waitBody('ready', { eq: '1' });
  check('the page loads', true);

  await drawSeven();
  await waitBody('passes', { gt: 0 });
  await page.waitForFunction(() => /^[0-9]$/.test(document.querySelector('#prediction').textContent));
  const prediction = await page.textContent('#prediction');
  check(`a drawn digit gets a prediction (${prediction})`, /^[0-9]$/.test(prediction));
  // Wait for the last drawing update to settle.
  await page.waitForTimeout(400);

  // Forward panels: present, with their sizes, not blank.
  const forward = await page.evaluate(() => {
    const ids = [...document.querySelectorAll('#forward figure.panel')].map((f) => f.dataset.id);
    const a0 = document.querySelector('#forward canvas[data-id="a0"]');
    const spread = (id) => {
      const c = document.querySelector(`#forward canvas[data-id="${id}"]`);
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      const seen = new Set();
      for (let i = 0; i < d.length; i += 4) seen.add(`${d[i]},${d[i + 1]},${d[i + 2]}`);
      return seen.size;
    };
    return { ids, a0: a0 && [a0.width, a0.height], colours: ['a0', 'z1', 'out1', 'W5', 'x'].map(spread) };
  });
  const want = ['x', 'a0', 'W1', 'z1', 'y1', 'out1', 'a1', 'z2', 'a2', 'W3', 'z3', 'out3', 'a3', 'z4', 'a4', 'W5', 'z5', 'a5', 'W6', 'z6', 'W7', 'z7', 'P'];
  check('every forward matrix has a panel', want.every((id) => forward.ids.includes(id)), JSON.stringify(forward.ids));
  check('a⁽⁰⁾ = im2col(x) is drawn 784×25', forward.a0 && forward.a0[0] === 25 && forward.a0[1] === 784, JSON.stringify(forward.a0));
  check('the forward heatmaps are not blank', forward.colours.every((n) => n > 3), JSON.stringify(forward.colours));
  const links = await page.$$eval('#forward figcaption a', (as) => as.map((a) => a.getAttribute('href')));
  check('each panel links to its section of the derivation', links.length >= want.length && links.every((h) => h.startsWith('/derivation#')));

  // Hovering a row of a⁽⁰⁾ highlights its window in x and its output pixel.
  const a0 = await page.locator('#forward canvas[data-id="a0"]').boundingBox();
  await page.mouse.move(a0.x + a0.width / 2, a0.y + a0.height * 0.45);
  const hover = await page.evaluate(() => ({ lens: !document.querySelector('#lens').hidden, boxes: document.querySelectorAll('.hl').length }));
  check('hovering an im2col row shows the lens and highlights', hover.lens && hover.boxes >= 8, JSON.stringify(hover));
  await page.mouse.move(5, 5);

  // Backward: change the label, the gradients change; one step moves the probabilities.
  await labelAndStep('dW7', (label) => (label + 3) % 10,
    ['dz7', 'dW7', 'db7', 'da6', 'dW5', 'da3', 'dout3', 'dW3', 'da1', 'dout1', 'dW1', 'da0'], 10);

  // With test images: pick a misclassified one for the screenshot.
  if (process.env.MNIST_DIR) {
    await waitBody('thumbs', { gt: 0 }, 120000);
    await page.check('#only-wrong');
    await page.waitForFunction(() => document.querySelector('#picker-count').textContent.includes('misclassified'), null, { timeout: 120000 });
    const thumbs = await page.$$('.thumb');
    if (thumbs.length > 0) {
      const n = Number(await body('passes'));
      await thumbs[0].click();
      await waitBody('passes', { gt: n });
      const text = await page.textContent('#prediction-text');
      check(`a misclassified test image is marked (${text})`, text.includes('misclassified'));
      await page.fill('#lr', '0.001');
      await page.click('#step');
      await waitBody('steps', { eq: '1' });
    }
  }
  const shapes = await page.$$eval('#shapes tr', (rs) => rs.length);
  check('the shapes table is shown', shapes > 10, String(shapes));
  check('no errors in the page', errors.length === 0, errors.join('\n'));

  await page.evaluate(() => { window.scrollTo(0, 0); document.querySelector('.side').scrollTop = 0; });
  const rows = await page.locator('#forward canvas[data-id="a0"]').boundingBox();
  await page.mouse.move(rows.x + rows.width * 0.5, rows.y + rows.height * 0.5);
  mkdirSync(dirname(screenshot), { recursive: true });
  await page.screenshot({ path: screenshot });
  console.log(`screenshot: ${screenshot}`);
  if (process.env.FULL_SCREENSHOT) await page.screenshot({ path: resolve(root, process.env.FULL_SCREENSHOT), fullPage: true });
}

// Hovers near row `row` of the forward matrix `id` (a row can be under a pixel high: the
// row hit is read back from the lens); the highlight boxes in the forward maps `maps` (which
// map, left, top, width) and the scale the maps are drawn at.
async function windowOf(id, row, maps) {
  const c = page.locator(`#forward canvas[data-id="${id}"]`);
  await c.scrollIntoViewIfNeeded();
  const b = await c.boundingBox();
  const rows = await c.evaluate((e) => e.height);
  await page.mouse.move(b.x + b.width / 2, b.y + (row + 0.5) * (b.height / rows));
  return page.evaluate((maps) => {
    const fig = document.querySelector(`#forward figure.panel[data-id="${maps}"]`);
    const hosts = [...fig.querySelectorAll('.overlay-host')];
    const boxes = [];
    hosts.forEach((h, map) => { for (const d of h.querySelectorAll('.hl')) boxes.push({ map, at: parseFloat(d.style.left), top: parseFloat(d.style.top), w: parseFloat(d.style.width) }); });
    const cv = fig.querySelector('canvas');
    const [, , W] = state.pass.forward.find((m) => m.id === maps).shape;
    const lens = document.querySelector('#lens').textContent;
    return { boxes, k: cv.width / W, lens, row: Number((/\[(\d+), /.exec(lens) || [])[1]) };
  }, maps);
}

// A "7" drawn with the mouse: a bar and a diagonal, with many mouse moves.
async function drawSeven() {
  const box = await page.locator('#draw').boundingBox();
  const at = (x, y) => [box.x + x * box.width, box.y + y * box.height];
  await page.mouse.move(...at(0.25, 0.22));
  await page.mouse.down();
  await page.mouse.move(...at(0.75, 0.22), { steps: 15 });
  await page.mouse.move(...at(0.45, 0.85), { steps: 20 });
  await page.mouse.up();
}

// A PNG of an RGB image (8 bits per channel, no filter): pixels [r, g, b] by row.
function png(w, h, pixel) {
  const chunk = (type, data) => {
    const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4); crc.writeUInt32BE(crc32(td) >>> 0);
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(h, 4); ihdr[8] = 8; ihdr[9] = 2;
  const raw = Buffer.alloc(h * (1 + 3 * w));
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) raw.set(pixel(x, y), y * (1 + 3 * w) + 1 + 3 * x);
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

// A tiny image folder of 20×20 colour shapes (3 classes), and a network trained on it for
// two steps by `lenet5 train` (so the checkpoint carries its arch, input and classes).
const ARCH = 'conv(8,3,p=1) batchnorm relu maxpool(3,s=2,p=1) conv(12,3,s=2,p=1) relu avgpool(2) flatten dropout(0.25) linear(16) tanh linear(3)';
const work = mkdtempSync(join(tmpdir(), 'explorer-arch-'));
function archCheckpoint(arch = ARCH, name = 'arch') {
  const shapes = {
    circle: (x, y, k) => (Math.hypot(x - 10 + k % 3 - 1, y - 10) < 6 ? [240, 80 + 20 * k, 40] : [10, 20, 30]),
    square: (x, y, k) => (Math.abs(x - 10 + k % 2) < 5 && Math.abs(y - 10) < 5 ? [40, 200, 90 + 20 * k] : [20, 10, 30]),
    cross: (x, y, k) => (Math.abs(x - y + k % 3 - 1) < 2 || Math.abs(x + y - 19) < 2 ? [90 + 20 * k, 90, 240] : [30, 20, 10]),
  };
  for (const [split, count] of [['train', 6], ['test', 2]]) {
    for (const [name, f] of Object.entries(shapes)) {
      const dir = join(work, 'data', split, name);
      mkdirSync(dir, { recursive: true });
      for (let k = 0; k < count; k++) writeFileSync(join(dir, `${k}.png`), png(20, 20, (x, y) => f(x, y, k)));
    }
  }
  const out = join(work, `${name}.safetensors`);
  const r = spawnSync(bin, ['train', '--data', join(work, 'data'), '--arch', arch, '--epochs', '1', '--max-steps', '2',
    '--batch-size', '6', '--threads', '1', '--checkpoint-every', '0', '--out', out], { encoding: 'utf8', timeout: 120000 });
  if (r.status !== 0) throw new Error(`lenet5 train failed (${r.status}): ${r.stderr}`);
  return out;
}

async function archScenario() {
  const checkpoint = archCheckpoint();
  check('lenet5 train writes an --arch checkpoint on a 3×20×20 image folder', true);
  const server = await startServer(['--checkpoint', checkpoint, '--data', join(work, 'data')]);
  servers.push(server.child);
  console.log(`server (--arch): ${server.url}`);
  await page.goto(server.url);
  await waitBody('ready', { eq: '1' });
  const info = await page.evaluate(() => fetch('/api/info').then((r) => r.json()));
  check(`the page reads the network (${info.arch}; ${info.image.join('×')}; ${info.classes.join(', ')})`,
    !info.lenet5 && info.image.join() === '3,20,20' && info.classes.length === 3 && info.layers.length === 12, JSON.stringify(info.image));
  check('the title names the network', (await page.textContent('#subtitle-net')).includes('maxpool(3,s=2,p=1)'));
  // Only the test images' thumbnails: explore the drawing first.
  await page.waitForFunction(() => document.body.dataset.thumbs !== undefined, null, { timeout: 60000 });

  await drawSeven();
  await waitBody('passes', { gt: 0 });
  await page.waitForTimeout(400);
  const prediction = await page.textContent('#prediction');
  check(`a drawing gets a prediction among the classes (${prediction})`, info.classes.includes(prediction));
  const sent = await page.evaluate(() => ({ n: state.pixels.length, w: document.querySelector('#pre28').width, x: state.pass.forward.find((m) => m.id === 'x').shape }));
  check(`the drawing is resampled to 20×20 in 3 channels (${sent.n} numbers, x ${sent.x.join('×')})`, sent.n === 1200 && sent.w === 20 && sent.x.join() === '3,20,20', JSON.stringify(sent));

  const forward = await page.evaluate(() => {
    const cards = [...document.querySelectorAll('#forward section.layer h3')].map((h) => h.textContent);
    const ids = [...document.querySelectorAll('#forward figure.panel')].map((f) => f.dataset.id);
    const size = (id) => { const c = document.querySelector(`#forward canvas[data-id="${id}"]`); return c && [c.width, c.height]; };
    const spread = (id) => {
      const c = document.querySelector(`#forward canvas[data-id="${id}"]`);
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      const seen = new Set();
      for (let i = 0; i < d.length; i += 4) seen.add(`${d[i]},${d[i + 1]},${d[i + 2]}`);
      return seen.size;
    };
    const strips = document.querySelectorAll('#forward canvas[title="argmax of each row"]').length;
    return { cards, ids, a0: size('a0'), a3: size('a3'), colours: ['a0', 'z0', 'y0', 'a3', 'W9'].map(spread), strips };
  });
  check(`one card per layer, titled by position and spec (${forward.cards.length})`,
    forward.cards.length === 14 && info.layers.every((l) => forward.cards.includes(l.title)), JSON.stringify(forward.cards));
  const want = ['x', 'a0', 'W0', 'b0', 'z0', 'y0', 'g1', 'mu1', 'var1', 'y1', 'y2', 'a3', 'y3', 'a4', 'z4', 'y4', 'a6', 'y6', 'y7', 'y8', 'W9', 'y9', 'y10', 'W11', 'y11', 'P'];
  check('every layer\'s matrices have panels', want.every((id) => forward.ids.includes(id)), JSON.stringify(forward.ids));
  check('a⁽⁰⁾ = im2col(x) is drawn 400×27', forward.a0 && forward.a0[0] === 27 && forward.a0[1] === 400, JSON.stringify(forward.a0));
  check('the max-pool windows are 8·10·10 rows of 9 with their argmax strip', forward.a3 && forward.a3[0] === 9 && forward.a3[1] === 800 && forward.strips >= 1, JSON.stringify(forward));
  check('the heatmaps are not blank', forward.colours.every((n) => n > 3), JSON.stringify(forward.colours));

  // The row ↔ window links, from the server's geometry: hovering row r of a window matrix
  // boxes its window in the input maps, at the place the layer's spec says.
  // conv(12,3,s=2,p=1) on 8×10×10 → 5×5: row r = output (i, j) = (r / 5, r % 5), its window
  // starts at (2i − 1, 2j − 1) in all 8 maps.
  const conv4 = await windowOf('a4', 7, 'y3');
  const [ci, cj] = [(conv4.row / 5) | 0, conv4.row % 5];
  check(`a conv row (stride 2, padding 1) boxes its 3×3 window in every input map (row ${conv4.row})`, conv4.boxes.length === 8 &&
    conv4.boxes.every((b) => b.at === conv4.k * (2 * cj - 1) - 1 && b.top === conv4.k * (2 * ci - 1) - 1 && b.w === 3 * conv4.k + 2), JSON.stringify(conv4));
  // maxpool(3,s=2,p=1) on 8×20×20 → 10×10: row r = map r / 100, output (i, j), window from
  // (2i − 1, 2j − 1) in that map only.
  const pool3 = await windowOf('a3', 234, 'y2');
  const [pc, pi, pj] = [(pool3.row / 100) | 0, ((pool3.row % 100) / 10) | 0, pool3.row % 10];
  check(`a max-pool row boxes its 3×3 window in its own map (row ${pool3.row})`, pool3.boxes.length === 1 && pool3.boxes[0].map === pc &&
    pool3.boxes[0].at === pool3.k * (2 * pj - 1) - 1 && pool3.boxes[0].top === pool3.k * (2 * pi - 1) - 1 && pool3.lens.includes(`map ${pc}, window (${pi}, ${pj})`), JSON.stringify(pool3));
  await page.mouse.move(5, 5);

  await labelAndStep('dW11', (label) => (label + 1) % 3,
    ['dy11', 'dW11', 'db11', 'dx11', 'dx10', 'dW9', 'dx7', 'da6', 'dx6', 'dz4', 'dW4', 'da3', 'dx3', 'dg1', 'dbe1', 'dW0', 'da0', 'dx0'], 10);
  const shapes = await page.$$eval('#shapes tr', (rs) => rs.length);
  check('the shapes table is shown', shapes > 12, String(shapes));

  // The screenshot shows the drawing.
  await page.evaluate(() => { window.scrollTo(0, 0); document.querySelector('.side').scrollTop = 0; });
  const rows = await page.locator('#forward canvas[data-id="a0"]').boundingBox();
  await page.mouse.move(rows.x + rows.width * 0.5, rows.y + rows.height * 0.3);
  mkdirSync(dirname(screenshotArch), { recursive: true });
  await page.screenshot({ path: screenshotArch });
  console.log(`screenshot: ${screenshotArch}`);

  // The image folder's test images: colour thumbnails, one picked is explored with its label.
  await waitBody('thumbs', { gt: 0 }, 60000);
  const thumbs = await page.$$('.thumb');
  const n = Number(await body('passes'));
  await thumbs[thumbs.length - 1].click();
  await waitBody('passes', { gt: n });
  const picked = await page.evaluate(() => ({ text: document.querySelector('#prediction-text').textContent, source: document.querySelector('#source').textContent, x: state.pass.forward.find((m) => m.id === 'x').data }));
  const planes = [0, 1, 2].map((c) => picked.x.slice(400 * c, 400 * c + 400).join());
  check(`a test image of the folder is explored (${picked.source}; ${picked.text})`, thumbs.length === 6 && picked.text.includes('true label') && planes[0] !== planes[1], `${thumbs.length}`);
  await page.click('#step');
  await waitBody('steps', { eq: '1' });
  check('no errors in the page', errors.length === 0, errors.join('\n'));

  if (process.env.FULL_SCREENSHOT_ARCH) await page.screenshot({ path: resolve(root, process.env.FULL_SCREENSHOT_ARCH), fullPage: true });
}

// A residual network on the same folder: block 3 with the identity shortcut, block 5 with a
// 1×1 stride-2 projection.
const RES_ARCH = 'conv(8,3,p=1,bias=false) batchnorm relu res(conv(8,3,p=1,bias=false) batchnorm relu conv(8,3,p=1,bias=false) batchnorm) relu ' +
  'res(conv(12,3,s=2,p=1,bias=false) batchnorm relu conv(12,3,p=1,bias=false) batchnorm | conv(12,1,s=2,bias=false) batchnorm) relu gap flatten linear(3)';
async function residualScenario() {
  const checkpoint = archCheckpoint(RES_ARCH, 'residual');
  const server = await startServer(['--checkpoint', checkpoint]);
  servers.push(server.child);
  console.log(`server (residual): ${server.url}`);
  await page.goto(server.url);
  await waitBody('ready', { eq: '1' });
  const passes = Number(await body('passes') || 0);
  await drawSeven();
  await waitBody('passes', { gt: passes });
  // The drawing sends a pass per stroke update: wait until the last one sent is drawn, and
  // stays the last.
  const drawn = () => page.waitForFunction(() => document.body.dataset.rendered === String(state.seq), null, { timeout: 30000 });
  for (let seq = -1; seq !== await page.evaluate(() => state.seq);) { seq = await page.evaluate(() => state.seq); await drawn(); await page.waitForTimeout(300); }

  // Each block's card holds its two paths side by side, each inner layer under its heading,
  // and the sum below them.
  const block = (cls, i) => page.evaluate(([cls, i]) => {
    const card = [...document.querySelectorAll(`#${cls} section.layer`)].find((c) => c.querySelector('h3').textContent.replace(/^∇ /, '').startsWith(`layer ${i} res(`));
    if (!card) return null;
    const path = (name) => {
      const p = card.querySelector(`.paths .path.${name}`);
      return p && { parts: [...p.querySelectorAll('h5 span:first-child')].map((h) => h.textContent), ids: [...p.querySelectorAll('figure.panel')].map((f) => f.dataset.id), identity: !!p.querySelector('.identity') };
    };
    const below = [...card.querySelectorAll(':scope > .panels figure.panel')].map((f) => ({ id: f.dataset.id, formula: f.querySelector('figcaption').textContent }));
    const box = (sel) => { const e = card.querySelector(sel); if (!e) return null; const r = e.getBoundingClientRect(); return [r.left, r.width]; };
    return { body: path('body'), shortcut: path('shortcut'), below, bodyBox: box('.path.body'), shortcutBox: box('.path.shortcut') };
  }, [cls, i]);
  const b3 = await block('forward', 3), b5 = await block('forward', 5);
  check('a residual block\'s card draws its body layer by layer', b3 && b3.body.parts.join('|') === 'body 0 conv(8,3,p=1,bias=false)|body 1 batchnorm|body 2 relu|body 3 conv(8,3,p=1,bias=false)|body 4 batchnorm' &&
    ['a3b0', 'W3b0', 'z3b0', 'y3b0', 'y3b1', 'y3b2', 'a3b3', 'y3b4'].every((id) => b3.body.ids.includes(id)), JSON.stringify(b3));
  check('the identity shortcut is said, and the sum y = body + x is below the paths', b3.shortcut.identity && b3.shortcut.ids.length === 0 &&
    b3.below.length === 1 && b3.below[0].id === 'y3' && b3.below[0].formula.includes('y⁽³⁾ = y⁽³ᵇ⁴⁾ + x⁽³⁾'), JSON.stringify(b3));
  check('a projection block draws both paths side by side', b5 && !b5.shortcut.identity && ['a5s0', 'W5s0', 'y5s0', 'y5s1'].every((id) => b5.shortcut.ids.includes(id)) &&
    b5.shortcutBox[0] > b5.bodyBox[0] + b5.bodyBox[1] - 1 && b5.below[0].formula.includes('y⁽⁵⁾ = y⁽⁵ᵇ⁴⁾ + y⁽⁵ˢ¹⁾'), JSON.stringify(b5));
  // conv(12,3,s=2,p=1) in block 5's body reads the block's input, 8×20×20 (y4) → 10×10.
  const inner = await windowOf('a5b0', 37, 'y4');
  const [ii, ij] = [(inner.row / 10) | 0, inner.row % 10];
  check(`an inner convolution's row boxes its window in the block's input (row ${inner.row})`, inner.boxes.length === 8 &&
    inner.boxes.every((b) => b.at === inner.k * (2 * ij - 1) - 1 && b.top === inner.k * (2 * ii - 1) - 1) && inner.lens.includes('body 0 conv(12,3,s=2,p=1,bias=false)'), JSON.stringify(inner));
  await page.mouse.move(5, 5);

  // Backward: ∇y reaches the sum, goes down both paths, and ∇x is their two terms' sum.
  const g5 = await block('backward', 5), g3 = await block('backward', 3);
  check('the backward card shows ∇y, each path\'s term and ∇x = body\'s term + shortcut\'s term', g5 && g5.below.map((m) => m.id).join() === 'dy5,dx5' &&
    g5.body.ids.includes('dx5b0') && g5.shortcut.ids.includes('dx5s0') && g5.below[1].formula.includes('∇x⁽⁵⁾ = ∇x⁽⁵ᵇ⁰⁾ + ∇x⁽⁵ˢ⁰⁾'), JSON.stringify(g5));
  check('through the identity, ∇y itself is the second term', g3 && g3.shortcut.identity && g3.below[1].formula.includes('∇x⁽³⁾ = ∇x⁽³ᵇ⁰⁾ + ∇y⁽³⁾'), JSON.stringify(g3));
  const sums = await page.evaluate(() => {
    const m = (id) => state.pass.backward.find((x) => x.id === id).data;
    const [dx, body, short] = [m('dx5'), m('dx5b0'), m('dx5s0')];
    return Math.max(...dx.map((v, k) => Math.abs(v - body[k] - short[k])));
  });
  check(`the two terms the page shows add up to its ∇x (max difference ${sums.toExponential(1)})`, sums < 1e-5);
  await labelAndStep('dW9', (label) => (label + 1) % 3, ['dy9', 'dW9', 'dy5', 'dx5b4', 'dg5b4', 'dW5b3', 'dx5b0', 'dW5b0', 'dx5s1', 'dW5s0', 'dx5s0', 'dx5', 'dx3b0', 'dx3', 'dW0', 'dx0'], 20);
  check('no errors in the page', errors.length === 0, errors.join('\n'));

  // The screenshot: block 5 with both paths, a row of its strided convolution hovered.
  const card = page.locator('#forward section.layer', { hasText: 'layer 5 res(' }).first();
  await card.evaluate((e) => e.scrollIntoView({ block: 'start' }));
  await page.evaluate(() => window.scrollBy(0, -150));
  const a = await page.locator('#forward canvas[data-id="a5b0"]').boundingBox();
  await page.mouse.move(a.x + a.width / 2, a.y + a.height * 0.37);
  mkdirSync(dirname(screenshotResidual), { recursive: true });
  await page.screenshot({ path: screenshotResidual });
  console.log(`screenshot: ${screenshotResidual}`);
  if (process.env.FULL_SCREENSHOT_RESIDUAL) await page.screenshot({ path: resolve(root, process.env.FULL_SCREENSHOT_RESIDUAL), fullPage: true });
}

try {
  await lenetScenario();
  await archScenario();
  await residualScenario();
} catch (e) {
  failures.push(String(e));
  console.log(`FAIL ${e}`);
} finally {
  await context.close();
  servers.forEach((c) => c.kill());
  rmSync(profile, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
}
console.log(`${passed} passed, ${failures.length} failed`);
process.exit(failures.length ? 1 : 0);
