// The browser test's driver (workers/tests/browser.rs runs it; README "Browser test"):
// serves an output tree and the map page over HTTP, opens each case in Debian's chromium
// through playwright-core, waits for the map's `idle` event, saves a screenshot and checks it.
//
//   node run.mjs --root DIR --port N --cases CASES.json --artefacts DIR
//
// Prints one JSON document: {chromium, maplibre, cases: [{name, ok, failures, ...}]}. A case
// fails on:
// - a map that is not idle with its source loaded within 60 s;
// - a data probe (a point well inside the grid with values all around it, `ranges` giving
//   their least and greatest) whose pixel is not the palette colour of a value in that range;
// - a background probe (a point well outside the grid or amid missing values) or, on the
//   globe, a space probe (just outside the globe's outline) whose pixel is not the background;
// - fewer visible probes than `min_visible` asks for (8 space probes on the globe by default);
// - a page error, a console error, a MapLibre `error` event or a failed request;
// - a tile requested outside the TileJSON's bounds or zoom range.
// The one exception: a 404 for a tile inside the bounds is an empty tile, which tilecast does
// not write (a static host answers 404; MapLibre logs it and fires an `error` event, both
// accepted for that URL only). Those tiles are listed in `empty_tiles` so the caller can
// check against the grid that none of them should have held data.
import { readFile, mkdir, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { readPng } from './png.mjs';
import { serve } from './server.mjs';

const CHROMIUM = process.env.TILECAST_CHROMIUM || '/usr/bin/chromium';
// WebGL without a GPU: ANGLE on SwiftShader, the same on every machine.
const ARGS = ['--use-gl=angle', '--use-angle=swiftshader', '--enable-unsafe-swiftshader'];
const VIEWPORT = { width: 800, height: 600 };
// A data pixel is within this distance (RGB, 0-255) of the palette's polyline: linear
// resampling blends neighbouring stops, never anything else.
const DATA_TOLERANCE = 12;
// A background pixel is within this distance of the background colour.
const BACKGROUND_TOLERANCE = 6;
// The background must be at least this far from every palette colour for the check to mean
// anything.
const SEPARATION = 60;

function args() {
  const a = {};
  for (let i = 2; i < process.argv.length; i += 2) a[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
  for (const k of ['root', 'port', 'cases', 'artefacts']) {
    if (!a[k]) throw new Error(`missing --${k}`);
  }
  return a;
}

const hex = (s) => [1, 3, 5].map((i) => parseInt(s.slice(i, i + 2), 16));
const dist = (a, b) => Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);

/**
 * Where a colour sits on a palette, `[[value, "#rrggbb"], ...]` in value order, read as the
 * polyline through its colours: the distance to the nearest segment, and every value range
 * whose colours lie within `tolerance` of the colour (each segment's closest point, give or
 * take how far along the segment the tolerance reaches).
 */
function onPalette(c, palette, tolerance) {
  let distance = Infinity;
  const values = [];
  for (let i = 0; i < palette.length; i++) {
    const [va, ha] = palette[i];
    const [vb, hb] = palette[Math.min(i + 1, palette.length - 1)];
    const [a, b] = [hex(ha), hex(hb)];
    const ab = [b[0] - a[0], b[1] - a[1], b[2] - a[2]];
    const len = Math.hypot(...ab);
    const t = len ? Math.max(0, Math.min(1, ((c[0] - a[0]) * ab[0] + (c[1] - a[1]) * ab[1] + (c[2] - a[2]) * ab[2]) / len ** 2)) : 0;
    const d = dist(c, [a[0] + t * ab[0], a[1] + t * ab[1], a[2] + t * ab[2]]);
    distance = Math.min(distance, d);
    if (d <= tolerance) {
      const reach = len ? Math.sqrt(tolerance ** 2 - d ** 2) / len : 0;
      const v = (f) => va + Math.max(0, Math.min(1, f)) * (vb - va);
      values.push([v(t - reach), v(t + reach)]);
    }
  }
  return { distance, values };
}

/**
 * Whether a data pixel shows a value the grid has there: a palette colour (within
 * DATA_TOLERANCE) of a value between the least and the greatest value around the probe
 * (`range`), clamped to the palette (colours stop changing beyond it), give or take one of
 * the 256 steps of a tilecast palette.
 */
function showsValue(c, palette, range) {
  const { values } = onPalette(c, palette, DATA_TOLERANCE);
  if (!values.length) return false;
  if (!range) return true;
  const [first, last] = [palette[0][0], palette[palette.length - 1][0]];
  const step = (last - first) / 255;
  const clamp = (v) => Math.max(first, Math.min(last, v));
  const [lo, hi] = [clamp(range[0]) - step, clamp(range[1]) + step];
  return values.some(([a, b]) => a <= hi && b >= lo);
}

/** The tile template as a pattern matching z/x/y, or null for a relative template (MapLibre
 * does not resolve one against the TileJSON's URL, so it can match no tile request). */
function tilePattern(template) {
  if (!/^https?:\/\//.test(template)) return null;
  const names = [];
  const re = template.split(/(\{[zxy]\})/).map((part) => {
    if (/^\{[zxy]\}$/.test(part)) {
      names.push(part[1]);
      return '(\\d+)';
    }
    return part.replace(/[.*+?^$(){}|[\]\\]/g, '\\$&');
  }).join('');
  const regex = new RegExp(`^${re}$`);
  return {
    test: (url) => regex.test(url),
    zxy: (url) => {
      const m = url.match(regex);
      if (!m) return null;
      const v = Object.fromEntries(names.map((n, i) => [n, Number(m[i + 1])]));
      return [v.z, v.x, v.y];
    },
  };
}

/** Whether tile z/x/y meets `bounds` [w, s, e, n], the way MapLibre's TileBounds decides. */
function inBounds([z, x, y], [w, s, e, n]) {
  const n2 = 2 ** z;
  const mx = (lon) => ((lon + 180) / 360) * n2;
  const my = (lat) => {
    const r = (Math.max(-85.051129, Math.min(85.051129, lat)) * Math.PI) / 180;
    return ((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2) * n2;
  };
  return x >= Math.floor(mx(w)) && x < Math.ceil(mx(e)) && y >= Math.floor(my(n)) && y < Math.ceil(my(s));
}

async function runCase(browser, base, kase, artefacts) {
  const started = Date.now();
  const failures = [];
  const tj = await (await fetch(kase.tilejson)).json();
  const pattern = tilePattern(tj.tiles[0]);
  const context = await browser.newContext({ viewport: VIEWPORT, deviceScaleFactor: 1 });
  const page = await context.newPage();
  const responses = [];
  const failed = [];
  const console_ = [];
  const pageErrors = [];
  page.on('response', (r) => responses.push({
    url: r.url(), status: r.status(), range: r.request().headers().range ?? null,
    content_range: r.headers()['content-range'] ?? null,
  }));
  page.on('requestfailed', (r) => failed.push({ url: r.url(), error: r.failure()?.errorText }));
  page.on('console', (m) => console_.push({ type: m.type(), text: m.text(), url: m.location().url }));
  page.on('pageerror', (e) => pageErrors.push(String(e)));

  const page_ = {
    tilejson: kase.tilejson, kind: kase.kind, projection: kase.projection, center: kase.center,
    zoom: kase.zoom, background: kase.background, ramp: kase.ramp, style: kase.style,
    source: kase.source,
  };
  await page.goto(`${base}/_page/index.html#${encodeURIComponent(JSON.stringify(page_))}`);
  const ready = await page.evaluate(() => window.tilecast.ready);
  if (!ready.idle) failures.push(`map not idle: ${ready.why}`);
  const shot = path.join(artefacts, `${kase.name}.png`);
  const img = readPng(await page.screenshot({ path: shot }));
  const errors = await page.evaluate(() => window.tilecast.errors);
  const probed = {};
  for (const [k, pts] of Object.entries(kase.probes)) {
    probed[k] = await page.evaluate((p) => window.tilecast.probe(p), pts);
  }
  probed.space = await page.evaluate(() => window.tilecast.space());
  await context.close();

  // Pixels.
  const bg = hex(kase.background);
  const palette = kase.palette.map(([v, h]) => [v, h.slice(0, 7)]);
  if (onPalette(bg, palette, 0).distance < SEPARATION) failures.push(`background ${kase.background} is too close to the palette`);
  const counts = {};
  for (const [k, pts] of Object.entries(probed)) {
    const bad = [];
    let visible = 0;
    pts.forEach((p, i) => {
      if (!p.visible) return;
      visible++;
      const c = img.rgb(p.x, p.y);
      const ok = k === 'data'
        ? showsValue(c, palette, kase.ranges?.[i]) && dist(c, bg) > SEPARATION
        : dist(c, bg) <= BACKGROUND_TOLERANCE;
      if (!ok) {
        const values = k === 'data' ? onPalette(c, palette, DATA_TOLERANCE).values : undefined;
        bad.push({ lonlat: kase.probes[k]?.[i], px: [p.x, p.y], rgb: c, around: kase.ranges?.[i], values });
      }
    });
    counts[k] = { visible, bad: bad.length };
    const min = kase.min_visible?.[k] ?? (k === 'space' && kase.projection === 'globe' ? 8 : 0);
    if (visible < min) failures.push(`${k} probes: ${visible} visible, expected at least ${min}`);
    if (bad.length) {
      const what = k === 'data' ? 'not the colour of a value around them' : 'not the background';
      failures.push(`${k} probes: ${bad.length} of ${visible} ${what}, e.g. ${JSON.stringify(bad.slice(0, 3))}`);
    }
  }

  // Requests, errors and logs.
  const accepted = new Set();
  const emptyTiles = [];
  let tiles = 0;
  for (const r of responses) {
    const zxy = pattern && pattern.zxy(r.url);
    if (zxy) {
      tiles++;
      const inside = zxy[0] >= tj.minzoom && zxy[0] <= tj.maxzoom && inBounds(zxy, tj.bounds);
      if (!inside) failures.push(`tile ${zxy.join('/')} requested outside the TileJSON's bounds and zooms (HTTP ${r.status})`);
      if (r.status === 404 && inside) {
        emptyTiles.push(zxy);
        accepted.add(r.url);
      } else if (r.status !== 200) failures.push(`HTTP ${r.status} for tile ${r.url}`);
    } else if (r.status >= 400) {
      failures.push(`HTTP ${r.status} for ${r.url}`);
    }
  }
  for (const f of failed) {
    // MapLibre cancels requests for tiles it no longer needs.
    const cancelled = f.error === 'net::ERR_ABORTED' && pattern && pattern.test(f.url);
    if (!cancelled) failures.push(`request failed: ${f.url}: ${f.error}`);
  }
  for (const e of errors) {
    if (!(e.status === 404 && accepted.has(e.url))) {
      failures.push(`MapLibre error: ${e.message}${e.tile ? ` (tile ${e.tile.join('/')})` : ''}`);
    }
  }
  for (const m of console_) {
    const emptyTile = m.text.startsWith('Failed to load resource') && accepted.has(m.url);
    if (m.type === 'error' && !emptyTile) failures.push(`console error: ${m.text} (${m.url})`);
  }
  for (const e of pageErrors) failures.push(`page error: ${e}`);
  return {
    name: kase.name,
    ok: failures.length === 0,
    failures,
    screenshot: shot,
    probes: counts,
    tile_requests: tiles,
    // Partial answers (HTTP 206): range requests, as the PMTiles protocol reads an archive.
    partial_responses: responses.filter((r) => r.status === 206).length,
    ranges: responses.filter((r) => r.range).map((r) => `${r.range} -> ${r.status} ${r.content_range}`),
    empty_tiles: emptyTiles,
    console: console_.filter((m) => m.type !== 'error' || !accepted.has(m.url)),
    ms: Date.now() - started,
  };
}

async function main() {
  const a = args();
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no chromium at ${CHROMIUM}: install Debian's chromium (apt-get install chromium), or set TILECAST_CHROMIUM`);
  }
  const cases = JSON.parse(await readFile(a.cases, 'utf8'));
  await mkdir(a.artefacts, { recursive: true });
  const server = await serve(a.root, Number(a.port));
  const base = `http://127.0.0.1:${a.port}`;
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
  const results = [];
  try {
    for (const kase of cases) results.push(await runCase(browser, base, kase, a.artefacts));
  } finally {
    await browser.close();
    server.close();
  }
  const pkg = JSON.parse(await readFile(new URL('./node_modules/maplibre-gl/package.json', import.meta.url)));
  const out = { chromium: browser.version(), maplibre: pkg.version, cases: results };
  await writeFile(path.join(a.artefacts, 'result.json'), JSON.stringify(out, null, 2));
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => {
  process.stderr.write(`browser test driver: ${e.stack || e}\n`);
  process.exit(1);
});
