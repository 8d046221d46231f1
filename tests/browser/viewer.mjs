// The viewer's browser test driver (workers/tests/viewer.rs runs it; README "Viewer"): opens
// tilecast's viewer in Debian's chromium through playwright-core and uses it as a person
// would (the URL fragment, the mouse, the keyboard, the buttons), saving a screenshot of
// each state.
//
//   node viewer.mjs (--url URL | --root DIR --port N) --case CASE.json --artefacts DIR
//   node viewer.mjs --root DIR --port 0 --readme OUT.png [--variable V]   (the README's
//                                                            screenshot only)
//
// `--url` is a running server of the output tree (`tilecast serve`); `--root` starts the
// static server of tests/browser/server.mjs on it (the static-host case, where the viewer
// files are those `tilecast render` published). The case: {series, steps: [valid times of
// the series], points: [[lon, lat] x 3], view: {zoom, lat, lon}}. States, in order:
//   colour   the series' first step, colour tiles, Mercator, opacity 1, no outlines, at
//            an integer zoom: each point's screen pixel must lie within the per-channel range
//            of the 3x3 colour-tile pixels around the pixel the screen shows there (linear
//            resampling mixes at most those), read from the tile with png.mjs;
//   hover    the mouse over the first point: the readout's value, units and data-tile pixel
//            (checked against `tilecast extract` by the caller);
//   time     the slider moved one step with the keyboard: the second step's tiles must have
//            been requested, the hash must say its time, the picture must change, and the
//            points must show the second step's colour tiles;
//   data     the "Data (GPU)" button: the layer becomes a `color-relief` of the data tiles,
//            data tiles are requested and each point is within DATA_TOLERANCE of the colour
//            tile there;
//   globe    the "Globe" button: space around a disc of data.
// Throughout: no page error, no console error or warning of the page's own, no failed or
// >= 400 request, and no request to another origin. Prints {chromium, maplibre, states,
// failures} as JSON.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { PMTiles } from 'pmtiles';
import { readPng } from './png.mjs';
import { serve } from './server.mjs';

const CHROMIUM = process.env.TILECAST_CHROMIUM || '/usr/bin/chromium';
const ARGS = ['--use-gl=angle', '--use-angle=swiftshader', '--enable-unsafe-swiftshader'];
const VIEWPORT = { width: 1000, height: 650 };
const README_VIEWPORT = { width: 1200, height: 720 };
// Per channel, beyond the range of the tile pixels a screen pixel mixes.
const COLOUR_SLACK = 3;
// color-relief interpolates the legend's stops on the GPU, the colour tiles use a 256-entry
// table of the same palette: close, not equal.
const DATA_TOLERANCE = 24;
// The viewer's space colour (viewer.css --space).
const SPACE = [0x0b, 0x10, 0x20];

function args() {
  const a = {};
  for (let i = 2; i < process.argv.length; i += 2) a[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
  if (!a.url && !(a.root && a.port)) throw new Error('give --url, or --root and --port');
  if (a.variable && !a.readme) throw new Error('--variable goes with --readme');
  if (!a.readme && !(a.case && a.artefacts)) throw new Error('missing --case and --artefacts (or --readme)');
  return a;
}

const dist = (a, b) => Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);

/** The tile and pixel of Web Mercator zoom `z` under [lon, lat]. */
function tilePixel(z, lon, lat) {
  const n = 2 ** z;
  const fx = ((((lon + 180) % 360) + 360) % 360) / 360 * n;
  const r = (lat * Math.PI) / 180;
  const fy = ((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2) * n;
  const [x, y] = [Math.floor(fx), Math.floor(fy)];
  return { z, x, y, px: Math.floor((fx - x) * 256), py: Math.floor((fy - y) * 256) };
}

// A `--format pmtiles` layer's template: its tiles are in the archive at the captured URL.
const PMTILES = /^pmtiles:\/\/(.+)\/\{z\}\/\{x\}\/\{y\}$/;
const archives = new Map();

/** What the page's requests for the tiles of `template` start with. */
function requestPrefix(template) {
  const m = PMTILES.exec(template);
  return m ? m[1] : template.replace(/\{z\}.*$/, '');
}

/** The PNG bytes of tile `t` of `template` (read from its archive for a pmtiles template). */
async function tileBytes(template, t) {
  const m = PMTILES.exec(template);
  if (m) {
    if (!archives.has(m[1])) archives.set(m[1], new PMTiles(m[1]));
    const url = `${m[1]} tile ${t.z}/${t.x}/${t.y}`;
    const tile = await archives.get(m[1]).getZxy(t.z, t.x, t.y);
    if (!tile) throw new Error(`${url}: not in the archive`);
    return { url, bytes: Buffer.from(tile.data) };
  }
  const url = template.replace('{z}', t.z).replace('{x}', t.x).replace('{y}', t.y);
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`${url}: HTTP ${res.status}`);
  return { url, bytes: Buffer.from(await res.arrayBuffer()) };
}

/** Per-channel [min, max] of the tile pixels within one pixel of (px, py) (edges clamped). */
async function tileRange(template, t) {
  const { url, bytes } = await tileBytes(template, t);
  const img = readPng(bytes);
  const lo = [255, 255, 255];
  const hi = [0, 0, 0];
  for (let dy = -1; dy <= 1; dy++) {
    for (let dx = -1; dx <= 1; dx++) {
      const [x, y] = [Math.min(255, Math.max(0, t.px + dx)), Math.min(255, Math.max(0, t.py + dy))];
      if (img.alpha(x, y) !== 255) throw new Error(`${url}: pixel ${x},${y} is not opaque`);
      img.rgb(x, y).forEach((c, k) => { lo[k] = Math.min(lo[k], c); hi[k] = Math.max(hi[k], c); });
    }
  }
  return { url, lo, hi, centre: img.rgb(t.px, t.py) };
}

/** Screen pixels of the case's points and the lon/lat each pixel's centre shows. */
function where(page, points) {
  return page.evaluate((pts) => {
    const { map } = window.tilecastViewer;
    return pts.map(([lon, lat]) => {
      const p = map.project([lon, lat]);
      const [x, y] = [Math.floor(p.x), Math.floor(p.y)];
      const c = map.unproject([x + 0.5, y + 0.5]);
      return { x, y, lon: c.lng, lat: c.lat };
    });
  }, points);
}

const SETTLE_MS = 60000;

/** Waits until the viewer has shown its step and the map is idle. */
async function settle(page) {
  const idle = page.evaluate(() => window.tilecastViewer.idle());
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the viewer was not idle within ${SETTLE_MS / 1000} s`)), SETTLE_MS);
  });
  try {
    await Promise.race([idle, late]);
  } finally {
    clearTimeout(timer);
  }
}

async function shot(page, file) {
  return readPng(await page.screenshot({ path: file }));
}

/** Checks each point's screen pixel against the colour tile of `layer` there. */
async function colours(page, img, points, template, zoom, failures, label) {
  const out = [];
  for (const p of await where(page, points)) {
    const t = tilePixel(zoom, p.lon, p.lat);
    const r = await tileRange(template, t);
    const rgb = img.rgb(p.x, p.y);
    const ok = rgb.every((c, k) => c >= r.lo[k] - COLOUR_SLACK && c <= r.hi[k] + COLOUR_SLACK);
    if (!ok) failures.push(`${label}: screen pixel ${p.x},${p.y} is ${rgb}, the tile ${r.url} has ${r.lo}..${r.hi} around ${t.px},${t.py}`);
    out.push({ ...p, rgb, tile: r.url, tile_pixel: [t.px, t.py], tile_lo: r.lo, tile_hi: r.hi, tile_rgb: r.centre });
  }
  return out;
}

async function open(browser, base, hash, viewport) {
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1 });
  const page = await context.newPage();
  const log = { requests: [], responses: [], failed: [], console: [], errors: [] };
  page.on('request', (r) => log.requests.push(r.url()));
  page.on('response', (r) => log.responses.push({ url: r.url(), status: r.status() }));
  page.on('requestfailed', (r) => log.failed.push({ url: r.url(), error: r.failure()?.errorText }));
  page.on('console', (m) => log.console.push({ type: m.type(), text: m.text(), url: m.location().url }));
  page.on('pageerror', (e) => log.errors.push(String(e)));
  page.on('crash', () => log.errors.push('the page crashed'));
  await page.goto(`${base}/#${hash}`);
  await page.waitForFunction(() => window.tilecastViewer?.map, null, { timeout: 30000 });
  await settle(page);
  return { context, page, log };
}

function hashOf(c, extra) {
  const v = c.view;
  return `series=${c.series}&time=${c.steps[0]}&mode=colour&projection=mercator&opacity=1&lines=0`
    + `&map=${v.zoom}/${v.lat}/${v.lon}${extra || ''}`;
}

async function run(browser, base, c, artefacts) {
  const failures = [];
  const states = {};
  const { context, page, log } = await open(browser, base, hashOf(c), VIEWPORT);
  const docs = await page.evaluate(async (series) => {
    const v = window.tilecastViewer;
    return v.documents(series);
  }, c.series);
  // MapLibre's zoom z shows a world 512 * 2^z pixels wide: 256-pixel tiles of zoom z + 1.
  const zoom = c.view.zoom + 1;
  states.maplibre = await page.evaluate(() => maplibregl.getVersion());

  // colour
  let img = await shot(page, path.join(artefacts, 'colour.png'));
  states.colour = { points: await colours(page, img, c.points, docs[0].colour, zoom, failures, 'colour') };
  const before = img;

  // hover
  const [first] = await where(page, c.points.slice(0, 1));
  await page.mouse.move(first.x + 0.5, first.y + 0.5);
  await page.waitForFunction(() => ['value', 'missing', 'outside', 'error'].includes(document.getElementById('readout').dataset.state), null, { timeout: 15000 });
  states.hover = await page.evaluate(() => ({
    ...document.getElementById('readout').dataset,
    text: document.getElementById('readout').innerText,
  }));
  await page.screenshot({ path: path.join(artefacts, 'hover.png') });
  if (states.hover.state !== 'value') failures.push(`hover: the readout says ${JSON.stringify(states.hover)}`);

  // time: the slider, with the keyboard
  const second = docs[1];
  await page.focus('#time');
  await page.keyboard.press('ArrowRight');
  await settle(page);
  img = await shot(page, path.join(artefacts, 'time.png'));
  const hash = await page.evaluate(() => location.hash);
  if (!hash.includes(`time=${c.steps[1]}`)) failures.push(`time: the hash does not say ${c.steps[1]}: ${hash}`);
  const stepTiles = log.requests.filter((u) => u.startsWith(requestPrefix(second.colour)));
  if (!stepTiles.length) failures.push(`time: no tile of the second step (${second.colour}) was requested`);
  let changed = 0;
  for (let y = 0; y < img.height; y += 4) {
    for (let x = 320; x < img.width; x += 4) if (dist(img.rgb(x, y), before.rgb(x, y)) > 8) changed++;
  }
  states.time = { hash, second_step_tiles: stepTiles.length, changed_samples: changed,
    points: await colours(page, img, c.points, second.colour, zoom, failures, 'time') };
  if (changed < 50) failures.push(`time: the picture hardly changed (${changed} samples differ)`);

  // data: the GPU mode
  const colourShot = img;
  await page.click('#mode-data');
  await settle(page);
  img = await shot(page, path.join(artefacts, 'data.png'));
  const types = await page.evaluate(() => window.tilecastViewer.map.getStyle().layers
    .filter((l) => l.id.startsWith('step:')).map((l) => [l.type, l.paint?.['color-relief-opacity'] ?? l.paint?.['raster-opacity']]));
  const shown = types.filter(([, o]) => o > 0).map(([t]) => t);
  if (shown.length !== 1 || shown[0] !== 'color-relief') failures.push(`data: shown layers ${JSON.stringify(types)}`);
  const dataTiles = log.requests.filter((u) => /\/data\/\d+\/\d+\/\d+\.png$/.test(u) || /\/data\.pmtiles$/.test(u)).length;
  if (!dataTiles) failures.push('data: no data tile requested');
  const pts = await where(page, c.points);
  states.data = {
    layers: types,
    data_tiles: dataTiles,
    points: pts.map((p) => {
      const [rgb, want] = [img.rgb(p.x, p.y), colourShot.rgb(p.x, p.y)];
      if (dist(rgb, want) > DATA_TOLERANCE) failures.push(`data: pixel ${p.x},${p.y} is ${rgb}, the colour tiles show ${want}`);
      return { ...p, rgb, colour_tiles: want };
    }),
  };

  // globe
  await page.click('#projection-globe');
  await settle(page);
  img = await shot(page, path.join(artefacts, 'globe.png'));
  const projection = await page.evaluate(() => window.tilecastViewer.map.getProjection()?.type);
  const cx = Math.round(img.width / 2);
  const cy = Math.round(img.height / 2);
  const space = (x, y) => dist(img.rgb(x, y), SPACE) <= 6;
  const row = [];
  for (let x = 320; x < img.width; x++) row.push(space(x, cy));
  const disc = row.indexOf(false);
  const discEnd = row.lastIndexOf(false);
  states.globe = { projection, centre: img.rgb(cx, cy), disc: [disc + 320, discEnd + 320],
    corners: [[img.width - 2, 1], [img.width - 2, img.height - 2]].map(([x, y]) => img.rgb(x, y)) };
  if (projection !== 'globe') failures.push(`globe: the map's projection is ${projection}`);
  if (space(cx, cy)) failures.push('globe: no globe at the centre');
  if (!space(img.width - 2, 1) || !space(img.width - 2, img.height - 2) || !space(cx, 1) || !space(cx, img.height - 2)) {
    failures.push(`globe: no space around the globe: ${JSON.stringify(states.globe)}`);
  }
  if (disc <= 0 || row.slice(disc, discEnd + 1).some((s) => s)) failures.push(`globe: the middle row is not one disc: ${JSON.stringify(states.globe)}`);
  await context.close();

  // The page's conduct throughout.
  const origin = new URL(base).origin;
  for (const u of log.requests) if (!u.startsWith(origin) && !u.startsWith('data:') && !u.startsWith('blob:')) failures.push(`request to another origin: ${u}`);
  for (const r of log.responses) if (r.status >= 400) failures.push(`HTTP ${r.status} for ${r.url}`);
  for (const f of log.failed) {
    // MapLibre cancels the requests of tiles it no longer needs: tile files, or the range
    // requests the pmtiles protocol makes for them.
    const cancelled = f.error === 'net::ERR_ABORTED' && /(\/\d+\/\d+\/\d+\.png|\.pmtiles)$/.test(f.url);
    if (!cancelled) failures.push(`request failed: ${f.url}: ${f.error}`);
  }
  for (const m of log.console) {
    // SwiftShader's own performance notes are not the page's.
    if ((m.type === 'error' || m.type === 'warning') && !/performance warning/i.test(m.text)) failures.push(`console ${m.type}: ${m.text} (${m.url})`);
  }
  for (const e of log.errors) failures.push(`page error: ${e}`);
  states.requests = log.requests.length;
  return { states, failures };
}

/** The README's screenshot: the viewer as a user first opens it (on the first series of
 * `variable`, when given), the cursor on a point. */
async function readme(browser, base, out, variable) {
  let hash = '';
  if (variable) {
    const catalog = await (await fetch(`${base}/catalog.json`)).json();
    const series = Object.values(catalog.series).find((s) => s.variable === variable);
    if (!series) throw new Error(`no series of ${variable} in ${base}/catalog.json`);
    hash = `series=${series.id}`;
  }
  const { context, page } = await open(browser, base, hash, README_VIEWPORT);
  await page.mouse.move(760, 300);
  await page.waitForFunction(() => document.getElementById('readout').dataset.state, null, { timeout: 15000 });
  await page.waitForTimeout(300);
  await page.screenshot({ path: out });
  await context.close();
}

async function main() {
  const a = args();
  if (!existsSync(CHROMIUM)) throw new Error(`no chromium at ${CHROMIUM}: install Debian's chromium, or set TILECAST_CHROMIUM`);
  let server;
  let base = a.url?.replace(/\/$/, '');
  if (!base) {
    server = await serve(a.root, Number(a.port));
    base = `http://127.0.0.1:${server.address().port}`;
  }
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
  try {
    if (a.readme) {
      await readme(browser, base, a.readme, a.variable);
      return;
    }
    const c = JSON.parse(await readFile(a.case, 'utf8'));
    await mkdir(a.artefacts, { recursive: true });
    const result = await run(browser, base, c, a.artefacts);
    await readme(browser, base, path.join(a.artefacts, 'readme.png'));
    const out = { chromium: browser.version(), maplibre: result.states.maplibre, base, ...result };
    await writeFile(path.join(a.artefacts, 'result.json'), JSON.stringify(out, null, 2));
    process.stdout.write(JSON.stringify(out) + '\n');
  } finally {
    await browser.close();
    server?.close();
  }
}

main().catch((e) => {
  process.stderr.write(`viewer test driver: ${e.stack || e}\n`);
  process.exit(1);
});
