// The browser test's map page: builds one MapLibre GL JS map from the case in the URL
// fragment, as a map author would from tilecast's published documents, and reports through
// `window.tilecast`:
//   ready   a promise of {idle: true} once the map is idle with its source loaded, or
//           {idle: false, why} (style or TileJSON failed, timed out)
//   errors  every `error` event MapLibre fired: {message, status, url}
//   probe(points)  screen positions of [lon, lat] points, with whether each is visible
//   space()  on the globe, screen positions just outside its outline, in 16 directions
//
// Case: {tilejson, kind: "raster" | "color-relief" | "style", projection: "mercator" | "globe",
//        center: [lon, lat], zoom, background: "#rrggbb", ramp?: [[value, "#rrggbb"], ...],
//        style?: URL of a run's style.json, source?: its layer to check}
// For "style" the map loads the run's style.json as it is; once it has loaded, only the
// background colour, the layer's opacity (1) and resampling (nearest) are set, so pixels can
// be checked exactly as in the other cases.
// For "color-relief" the page reads the data TileJSON itself and copies its raster-dem
// factors into the source, as the README tells map authors to, and makes the value that
// missing pixels decode to (-baseShift, one step below the layer's minimum) transparent.
//
// Both layers resample with `nearest`, so every pixel of a tile magnified on screen is one
// tile pixel: a palette colour, which the driver can check exactly. The globe's atmosphere
// is off for the same reason (it whitens colours towards the limb).
// `pmtiles://<archive URL>/{z}/{x}/{y}` tile URLs (the TileJSON of a `--format pmtiles`
// layer) are read by the `pmtiles` package's protocol, with HTTP range requests.
'use strict';

maplibregl.addProtocol('pmtiles', new pmtiles.Protocol().tile);

const kase = JSON.parse(decodeURIComponent(location.hash.slice(1)));
const errors = [];
let settle;
const ready = new Promise((resolve) => { settle = resolve; });
window.tilecast = { errors, ready, probe: () => [] };

let dem;

async function source() {
  if (kase.kind === 'raster') {
    return { type: 'raster', url: kase.tilejson, tileSize: 256 };
  }
  const response = await fetch(kase.tilejson);
  if (!response.ok) throw new Error(`data TileJSON: HTTP ${response.status}`);
  const tj = await response.json();
  dem = tj;
  return {
    type: 'raster-dem',
    url: kase.tilejson,
    tileSize: 256,
    encoding: 'custom',
    redFactor: tj.redFactor,
    greenFactor: tj.greenFactor,
    blueFactor: tj.blueFactor,
    baseShift: tj.baseShift,
  };
}

function layer() {
  if (kase.kind === 'raster') {
    return {
      id: 'data', type: 'raster', source: 'data',
      paint: { 'raster-fade-duration': 0, resampling: 'nearest' },
    };
  }
  // MapLibre ignores alpha when it decodes a DEM, so a missing pixel (R = G = 0, A = 0)
  // decodes to -baseShift, code 0, which tilecast keeps one step below the layer's minimum:
  // that value is transparent and the ramp starts one step (greenFactor) above it, at the
  // minimum (code 1), so no valid value is lost.
  const missing = -dem.baseShift;
  const first = missing + dem.greenFactor;
  const stops = [missing, 'rgba(0, 0, 0, 0)'];
  for (const [value, colour] of kase.ramp) {
    const v = Math.max(value, first);
    if (v > stops[stops.length - 2]) stops.push(v, colour);
  }
  return {
    id: 'data',
    type: 'color-relief',
    source: 'data',
    paint: { 'color-relief-color': ['interpolate', ['linear'], ['elevation'], ...stops], resampling: 'nearest' },
  };
}

async function main() {
  const map = kase.kind === 'style' ? styled() : new maplibregl.Map({
    container: 'map',
    center: kase.center,
    zoom: kase.zoom,
    attributionControl: false,
    fadeDuration: 0,
    style: {
      version: 8,
      projection: { type: kase.projection },
      sky: { 'atmosphere-blend': 0 },
      sources: { data: await source() },
      layers: [
        { id: 'background', type: 'background', paint: { 'background-color': kase.background } },
        layer(),
      ],
    },
  });
  map.on('error', (e) => {
    const err = e.error || {};
    const id = e.tile && e.tile.tileID && e.tile.tileID.canonical;
    errors.push({
      message: String(err.message || err), status: err.status ?? null, url: err.url ?? null,
      tile: id ? [id.z, id.x, id.y] : null,
    });
  });
  window.tilecast.probe = (points) => probe(map, points);
  window.tilecast.space = () => space(map);
  let done = false;
  const finish = (result) => {
    if (done) return;
    done = true;
    clearInterval(nudge);
    clearTimeout(timer);
    settle(result);
  };
  const timer = setTimeout(() => finish({
    idle: false,
    why: `no idle map after 60 s (source loaded ${map.getSource(sourceId) ? map.isSourceLoaded(sourceId) : 'absent'}, tiles loaded ${map.areTilesLoaded()})`,
  }), 60000);
  map.on('idle', () => {
    if (map.isSourceLoaded(sourceId) && map.areTilesLoaded()) finish({ idle: true });
  });
  // When every tile has failed MapLibre may stop drawing without firing 'idle'
  // (tiles loaded, no frame pending): ask for one more frame, which ends with 'idle'.
  const nudge = setInterval(() => {
    if (map.loaded()) map.triggerRepaint();
  }, 500);
}

const sourceId = kase.kind === 'style' ? kase.source : 'data';

// A map of the run's style.json as it is, then made exact for pixel checks.
function styled() {
  const map = new maplibregl.Map({
    container: 'map',
    center: kase.center,
    zoom: kase.zoom,
    attributionControl: false,
    fadeDuration: 0,
    style: kase.style,
  });
  map.on('style.load', () => {
    map.setPaintProperty('background', 'background-color', kase.background);
    map.setPaintProperty(kase.source, 'raster-opacity', 1);
    map.setPaintProperty(kase.source, 'resampling', 'nearest');
  });
  return map;
}

// Screen position of each [lon, lat] and whether it is visible: on the canvas, and on the
// globe within 50 degrees of the centre (the camera looks straight down at it), where tiles
// are not foreshortened enough to be drawn from a coarser mipmap.
function probe(map, points) {
  const c = map.getCenter();
  const canvas = map.getCanvas();
  const [w, h] = [canvas.clientWidth, canvas.clientHeight];
  const rad = Math.PI / 180;
  return points.map(([lon, lat]) => {
    // The copy of the longitude nearest the centre (Mercator draws world copies).
    const near = c.lng + ((((lon - c.lng) % 360) + 540) % 360) - 180;
    const p = map.project([near, lat]);
    let visible = p.x >= 3 && p.y >= 3 && p.x <= w - 4 && p.y <= h - 4;
    if (kase.projection === 'globe') {
      const cos = Math.sin(lat * rad) * Math.sin(c.lat * rad)
        + Math.cos(lat * rad) * Math.cos(c.lat * rad) * Math.cos((lon - c.lng) * rad);
      visible = visible && Math.acos(Math.min(1, Math.max(-1, cos))) < 50 * rad;
    }
    return { x: Math.round(p.x), y: Math.round(p.y), visible };
  });
}

// The point `angle` degrees from (lon, lat) towards `bearing` (degrees clockwise from north).
function destination([lon, lat], bearing, angle) {
  const rad = Math.PI / 180;
  const [p, l, b, d] = [lat * rad, lon * rad, bearing * rad, angle * rad];
  const p2 = Math.asin(Math.sin(p) * Math.cos(d) + Math.cos(p) * Math.sin(d) * Math.cos(b));
  const l2 = l + Math.atan2(Math.sin(b) * Math.sin(d) * Math.cos(p), Math.cos(d) - Math.sin(p) * Math.sin(p2));
  return [l2 / rad, p2 / rad];
}

// On the globe: in 16 directions from the centre, the screen point 10% and 8 px beyond the
// globe's outline (the farthest any point of that great circle projects), where only the
// background may be. Points off the canvas are left out.
function space(map) {
  if (kase.projection !== 'globe') return [];
  const c = map.getCenter();
  const o = map.project(c);
  const canvas = map.getCanvas();
  const out = [];
  for (let k = 0; k < 16; k++) {
    const bearing = k * 22.5;
    let r = 0;
    for (let a = 0.5; a <= 90; a += 0.5) {
      const p = map.project(destination([c.lng, c.lat], bearing, a));
      r = Math.max(r, Math.hypot(p.x - o.x, p.y - o.y));
    }
    const [dx, dy] = [Math.sin(bearing * Math.PI / 180), -Math.cos(bearing * Math.PI / 180)];
    const x = Math.round(o.x + dx * (r * 1.1 + 8));
    const y = Math.round(o.y + dy * (r * 1.1 + 8));
    if (x >= 0 && y >= 0 && x < canvas.clientWidth && y < canvas.clientHeight) out.push({ x, y, visible: true });
  }
  return out;
}

main().catch((e) => settle({ idle: false, why: String(e && e.message ? e.message : e) }));
