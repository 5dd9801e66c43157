// The explorer page in a real browser (Debian's chromium through playwright-core):
// start the server on a free port, draw a digit with the mouse, wait for the prediction,
// check that the forward panels render, that the backward panels change with the label,
// that "One step" moves the probabilities, and save a screenshot.
//
//   node tests/browser/explorer.mjs
//
// Environment: EXPLORER_BIN (default target/release/lenet5, run as `lenet5 serve`), EXPLORER_CHECKPOINT,
// MNIST_DIR (test images to pick from), EXPLORER_METRICS (a metrics CSV), SCREENSHOT
// (default docs/explorer.png), CHROMIUM (default /usr/bin/chromium).

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const bin = resolve(root, process.env.EXPLORER_BIN || 'target/release/lenet5');
const screenshot = resolve(root, process.env.SCREENSHOT || 'docs/explorer.png');
const failures = [];
let passed = 0;
function check(what, ok, detail = '') {
  if (ok) { passed += 1; console.log(`ok   ${what}`); } else { failures.push(what); console.log(`FAIL ${what} ${detail}`); }
}

function startServer() {
  const args = ['serve', '--port', '0'];
  if (process.env.EXPLORER_CHECKPOINT) args.push('--checkpoint', process.env.EXPLORER_CHECKPOINT);
  if (process.env.MNIST_DIR) args.push('--data', process.env.MNIST_DIR);
  if (process.env.EXPLORER_METRICS) args.push('--metrics', process.env.EXPLORER_METRICS);
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'inherit'] });
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

const { child, url } = await startServer();
// The server goes with this script, however it ends.
process.on('exit', () => child.kill());
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(1));
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

try {
  await page.goto(url);
  await waitBody('ready', { eq: '1' });
  check('the page loads', true);

  // Draw a "7": a bar and a diagonal, with many mouse moves.
  const box = await page.locator('#draw').boundingBox();
  const at = (x, y) => [box.x + x * box.width, box.y + y * box.height];
  await page.mouse.move(...at(0.25, 0.22));
  await page.mouse.down();
  await page.mouse.move(...at(0.75, 0.22), { steps: 15 });
  await page.mouse.move(...at(0.45, 0.85), { steps: 20 });
  await page.mouse.up();
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

  // Backward: change the label, the gradients change.
  const snapshot = () => page.evaluate(() => {
    const c = document.querySelector('#backward canvas[data-id="dW7"]');
    return c ? c.toDataURL() : null;
  });
  const label0 = Number(await body('label'));
  const before = await snapshot();
  const other = (label0 + 3) % 10;
  await page.click(`#labels button[data-label="${other}"]`);
  await waitBody('label', { eq: String(other) });
  const after = await snapshot();
  check(`the backward panels change with the label (${label0} → ${other})`, before && after && before !== after);
  const backIds = await page.$$eval('#backward figure.panel', (fs) => fs.map((f) => f.dataset.id));
  check('every backward matrix has a panel', ['dz7', 'dW7', 'db7', 'da6', 'dW5', 'da3', 'dout3', 'dW3', 'da1', 'dout1', 'dW1', 'da0'].every((id) => backIds.includes(id)), JSON.stringify(backIds));

  // One step moves the probabilities.
  const probs = JSON.parse(await body('probs'));
  await page.fill('#lr', '0.05');
  await page.click('#step');
  await waitBody('steps', { eq: '1' });
  const moved = JSON.parse(await body('after'));
  const delta = Math.max(...moved.map((p, i) => Math.abs(p - probs[i])));
  check(`one step moves the probabilities (max |ΔP| = ${delta.toExponential(2)}, P[${other}] ${probs[other].toFixed(4)} → ${moved[other].toFixed(4)})`, delta > 1e-5 && moved[other] > probs[other]);
  const deltaPanels = await page.$$eval('#step-panels figure.panel', (fs) => fs.length);
  check('the weight changes are drawn', deltaPanels === 10, String(deltaPanels));

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
} catch (e) {
  failures.push(String(e));
  console.log(`FAIL ${e}`);
} finally {
  await context.close();
  child.kill();
  rmSync(profile, { recursive: true, force: true });
}
console.log(`${passed} passed, ${failures.length} failed`);
process.exit(failures.length ? 1 : 0);
