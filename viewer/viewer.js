// tilecast's viewer: every series of an output root's catalog on a MapLibre map or globe,
// stepped through time, with the legend and the value under the cursor (README "Viewer").
//
// A time step is shown by adding its source and layer at opacity 0, waiting until its tiles
// have loaded, and only then raising it and lowering the previous one; the next step is
// preloaded the same way, so stepping and playing never show a half-loaded picture. At most
// the shown step, the one being loaded and the next stay on the map.
//
// For tests and debugging, `window.tilecastViewer` exposes the map, the state and `idle()`,
// a promise of the next moment the shown step is fully drawn.

import { defaultSeries, loadCatalog, stepsOf } from './catalog.js';
import { loadCountries } from './land.js';
import { archives, layer, layerDocuments, opacityProperty, source } from './layers.js';
import { readHash, writeHash } from './state.js';
import {
  fillReferences, fillSeries, lonLatWords, notice, press, readout, showLegend, showTime, status,
} from './ui.js';
import { formatValue, roundTo, ValueReader } from './values.js';

const $ = (id) => document.getElementById(id);
const PLAY_DWELL_MS = 1000;
const LOAD_TIMEOUT_MS = 30000;
const COLOURS = { ocean: '#26303b', land: '#3a4451', lines: 'rgba(236, 240, 244, 0.7)' };

const state = readHash(location.hash);
const reader = new ValueReader();
let catalog;
let map;
let series;
let steps = [];
let index = 0;
let playing = false;
let generation = 0;
/** Step layers on the map: id -> {key, mode}. */
const onMap = new Map();
let shownId = null;
let shownDocs = null;
/** The generation of the `show` under way, 0 when none, -1 before the first (`idle()`). */
let showing = -1;

window.tilecastViewer = { state, idle, documents, get map() { return map; } };

/** The resolved tile templates of a series' steps as shown (tests and debugging). */
async function documents(seriesId) {
  const s = catalog.series.get(seriesId);
  if (!s) throw new Error(`no series ${seriesId}`);
  return Promise.all(stepsOf(s, state.reference).map(async (step) => {
    const d = await layerDocuments(step.layer);
    return { layer: step.layer.name, valid_time: step.valid_time, colour: d.colour.template, data: d.data?.template ?? null };
  }));
}

function slotId(step, mode) {
  return `step:${mode}:${step.run}/${step.layer.name}`;
}

/** Writes the state into the URL fragment (without a history entry per change). */
function saveState() {
  if (map) {
    const c = map.getCenter();
    state.map = { zoom: map.getZoom(), lat: c.lat, lon: c.lng };
  }
  history.replaceState(null, '', `#${writeHash(state)}`);
}

/** Resolves once no step is being shown and the map is idle with the shown step loaded. */
function idle() {
  return new Promise((resolve) => {
    const check = () => {
      if (showing || (shownId && map.getSource(shownId) && !map.isSourceLoaded(shownId))) return;
      map.off('idle', check);
      resolve();
    };
    map.on('idle', check);
    map.triggerRepaint();
  });
}

/** Resolves true once source `id` has loaded the tiles in view, false after a timeout or
 * when it was removed meanwhile. */
function loaded(id) {
  return new Promise((resolve) => {
    let done = false;
    const finish = (ok) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      map.off('idle', check);
      resolve(ok);
    };
    const check = () => {
      if (!map.getSource(id)) finish(false);
      else if (map.isSourceLoaded(id)) finish(true);
    };
    const timer = setTimeout(() => finish(false), LOAD_TIMEOUT_MS);
    map.on('idle', check);
    map.triggerRepaint();
  });
}

/** Adds a step's source and layer (hidden) unless they are on the map already. */
function ensure(step, docs, mode) {
  const id = slotId(step, mode);
  if (!onMap.has(id)) {
    map.addSource(id, source(docs, mode));
    map.addLayer(layer(id, docs, mode, 0), 'land-lines');
    onMap.set(id, { mode });
  }
  return id;
}

function remove(id) {
  if (map.getLayer(id)) map.removeLayer(id);
  if (map.getSource(id)) map.removeSource(id);
  onMap.delete(id);
}

function setOpacity(id, value) {
  const entry = onMap.get(id);
  if (entry) map.setPaintProperty(id, opacityProperty(entry.mode), value);
}

/** Shows `steps[i]`, keeping what is shown until it has loaded; preloads the step after it. */
async function show(i) {
  const gen = ++generation;
  showing = gen;
  try {
    await showStep(i, gen);
  } finally {
    if (showing === gen) showing = 0;
    map.triggerRepaint();
  }
}

async function showStep(i, gen) {
  index = Math.max(0, Math.min(steps.length - 1, i));
  const step = steps[index];
  state.time = step?.valid_time ?? null;
  showTime(steps, index, playing);
  saveState();
  if (!step) return;
  let docs;
  try {
    docs = await layerDocuments(step.layer);
  } catch (e) {
    if (gen === generation) status(`Cannot read layer ${step.layer.name}: ${e.message}`);
    return;
  }
  if (gen !== generation) return;
  status(null);
  showLegend(step.layer, docs.legend);
  shownDocs = docs;
  if (series.geographic) {
    for (const id of [...onMap.keys()]) remove(id);
    shownId = null;
    notice(
      'This layer uses the geographic tiling (EPSG:4326, WorldCRS84Quad). MapLibre GL JS draws '
        + 'Web Mercator tiles only, so it is not drawn here rather than drawn in the wrong place. '
        + 'Its TileJSON, for a client that reads this tiling:',
      { href: step.layer.tilejson, text: step.layer.tilejson },
    );
    return;
  }
  let mode = state.mode;
  if (mode === 'data' && !(docs.data && docs.legend?.stops?.length)) {
    notice('This layer has no data tiles or legend stops to colour on the GPU; showing its colour tiles.');
    mode = 'colour';
  } else {
    notice(null);
  }
  const id = ensure(step, docs, mode);
  if (id !== shownId) {
    const ok = await loaded(id);
    if (gen !== generation) return;
    if (!ok && map.getSource(id)) status(`Tiles of ${step.layer.name} are slow to load or failing.`);
  }
  setOpacity(id, state.opacity);
  for (const other of onMap.keys()) if (other !== id) setOpacity(other, 0);
  shownId = id;
  const keep = new Set([id]);
  if (steps.length > 1) {
    const next = steps[(index + 1) % steps.length];
    try {
      const nextDocs = await layerDocuments(next.layer);
      if (gen !== generation) return;
      keep.add(ensure(next, nextDocs, mode));
    } catch {
      // The next step is read again when it is shown, and its error reported then.
    }
  }
  for (const other of [...onMap.keys()]) if (!keep.has(other)) remove(other);
}

async function play() {
  playing = !playing;
  showTime(steps, index, playing);
  while (playing && steps.length > 1) {
    const started = performance.now();
    await show((index + 1) % steps.length);
    const rest = PLAY_DWELL_MS - (performance.now() - started);
    if (rest > 0) await new Promise((r) => setTimeout(r, rest));
  }
}

function stopPlaying() {
  if (playing) {
    playing = false;
    showTime(steps, index, playing);
  }
}

/** Chooses a series (and reference time), then the step nearest the state's valid time. */
function selectSeries(id, reference) {
  series = defaultSeries(catalog, id);
  state.series = series.id;
  $('series').value = series.id;
  state.reference = fillReferences(series, reference);
  steps = stepsOf(series, state.reference);
  const at = steps.findIndex((s) => s.valid_time === state.time);
  return show(at >= 0 ? at : 0);
}

// The value under the cursor, read from the shown step's data tiles; one read at a time,
// the latest position read next.
let pending = null;
let reading = false;
async function readValue(lngLat) {
  pending = lngLat;
  if (reading) return;
  reading = true;
  while (pending) {
    const { lng, lat } = pending;
    pending = null;
    const where = lonLatWords(((((lng + 180) % 360) + 360) % 360) - 180, lat);
    const docs = shownDocs;
    if (!docs?.data || series.geographic) {
      readout('No values for this layer', where, { state: 'none', value: null, lon: lng, lat, tile: null, pixel: null });
      continue;
    }
    try {
      const r = await reader.read(docs.data, lng, lat);
      if (r.state === 'value') {
        const display = docs.legend?.display;
        const field = `${roundTo(r.value)} ${docs.data.units || ''}`.trim();
        const main = display ? formatValue(r.value, display) : field;
        readout(main, display && display.units !== docs.data.units ? `${field} · ${where}` : where,
          { state: 'value', value: r.value, lon: lng, lat, tile: r.tile.join('/'), pixel: r.pixel.join('/') });
      } else {
        readout(r.state === 'missing' ? 'No data' : 'Outside the layer', where,
          { state: r.state, value: null, lon: lng, lat, tile: r.tile?.join('/'), pixel: r.pixel?.join('/') });
      }
    } catch (e) {
      readout('Value unavailable', `${where} · ${e.message}`, { state: 'error', value: null, lon: lng, lat, tile: null, pixel: null });
    }
  }
  reading = false;
}

function wireControls() {
  $('series').addEventListener('change', (e) => {
    stopPlaying();
    selectSeries(e.target.value, 'latest');
  });
  $('reference').addEventListener('change', (e) => {
    stopPlaying();
    selectSeries(series.id, e.target.value);
  });
  $('time').addEventListener('input', (e) => {
    stopPlaying();
    show(Number(e.target.value));
  });
  $('prev').addEventListener('click', () => { stopPlaying(); show((index - 1 + steps.length) % steps.length); });
  $('next').addEventListener('click', () => { stopPlaying(); show((index + 1) % steps.length); });
  $('play').addEventListener('click', play);
  for (const mode of ['colour', 'data']) {
    $(`mode-${mode}`).addEventListener('click', () => {
      state.mode = mode;
      press('mode', mode);
      show(index);
    });
  }
  for (const projection of ['mercator', 'globe']) {
    $(`projection-${projection}`).addEventListener('click', () => {
      state.projection = projection;
      press('projection', projection);
      map.setProjection({ type: projection });
      saveState();
    });
  }
  $('opacity').addEventListener('input', (e) => {
    state.opacity = Number(e.target.value);
    $('opacity-label').value = `${Math.round(state.opacity * 100)} %`;
    if (shownId) setOpacity(shownId, state.opacity);
    saveState();
  });
  $('lines').addEventListener('change', (e) => {
    state.lines = e.target.checked;
    map.setLayoutProperty('land-lines', 'visibility', state.lines ? 'visible' : 'none');
    saveState();
  });
  $('collapse').addEventListener('click', () => {
    const collapsed = $('panel').classList.toggle('collapsed');
    $('collapse').setAttribute('aria-expanded', String(!collapsed));
  });
  document.addEventListener('keydown', (e) => {
    if (e.target.closest('select, input, textarea') || e.altKey || e.ctrlKey || e.metaKey) return;
    if (e.key === ' ') { e.preventDefault(); play(); }
    if (e.key === 'ArrowLeft' && steps.length > 1) { stopPlaying(); show((index - 1 + steps.length) % steps.length); }
    if (e.key === 'ArrowRight' && steps.length > 1) { stopPlaying(); show((index + 1) % steps.length); }
  });
  map.on('mousemove', (e) => readValue(e.lngLat));
  map.on('click', (e) => readValue(e.lngLat));
  map.on('moveend', saveState);
  window.addEventListener('hashchange', () => applyHash(readHash(location.hash)));
}

/** Applies a state typed or pasted into the address bar. */
function applyHash(next) {
  Object.assign(state, next);
  showControls();
  map.setProjection({ type: state.projection });
  map.setLayoutProperty('land-lines', 'visibility', state.lines ? 'visible' : 'none');
  if (state.map) map.jumpTo({ center: [state.map.lon, state.map.lat], zoom: state.map.zoom });
  stopPlaying();
  selectSeries(state.series, state.reference);
}

function showControls() {
  press('mode', state.mode);
  press('projection', state.projection);
  $('opacity').value = String(state.opacity);
  $('opacity-label').value = `${Math.round(state.opacity * 100)} %`;
  $('lines').checked = state.lines;
}

/** Where the map opens: the state's position, else the first step's extent. */
function initialView(first) {
  if (state.map) return { center: [state.map.lon, state.map.lat], zoom: state.map.zoom };
  const b = first?.layer?.bounds;
  if (!b || b[2] - b[0] >= 300) return { center: [0, 20], zoom: 1 };
  return { bounds: [[b[0], b[1]], [b[2], b[3]]], fitBoundsOptions: { padding: 40 } };
}

async function main() {
  showControls();
  const catalogUrl = new URL('catalog.json', location.href).href;
  let land = { type: 'FeatureCollection', features: [] };
  try {
    [catalog, land] = await Promise.all([
      loadCatalog(catalogUrl),
      loadCountries().catch((e) => {
        status(`Land outlines unavailable: ${e.message}`);
        return land;
      }),
    ]);
  } catch (e) {
    status(`No catalog to show: ${e.message}. Render something into this directory first (tilecast render FILE --out DIR).`);
    return;
  }
  if (!catalog.series.size) {
    status('The catalog lists no complete run yet.');
    return;
  }
  const first = defaultSeries(catalog, state.series);
  fillSeries(catalog, first.id);
  // Layers rendered with `--format pmtiles` name their tiles pmtiles://<archive>/{z}/{x}/{y}.
  maplibregl.addProtocol('pmtiles', archives.tile);
  map = new maplibregl.Map({
    container: 'map',
    ...initialView(first.steps[0]),
    attributionControl: { compact: true, customAttribution: 'Land: Natural Earth' },
    fadeDuration: 0,
    style: {
      version: 8,
      projection: { type: state.projection },
      sources: { land: { type: 'geojson', data: land } },
      layers: [
        { id: 'background', type: 'background', paint: { 'background-color': COLOURS.ocean } },
        { id: 'land', type: 'fill', source: 'land', paint: { 'fill-color': COLOURS.land } },
        {
          id: 'land-lines', type: 'line', source: 'land',
          layout: { visibility: state.lines ? 'visible' : 'none' },
          paint: { 'line-color': COLOURS.lines, 'line-width': 0.7 },
        },
      ],
    },
  });
  map.addControl(new maplibregl.NavigationControl({ visualizePitch: true }), 'top-right');
  map.addControl(new maplibregl.ScaleControl(), 'bottom-left');
  map.on('error', (e) => {
    // A tile the layer does not have is a 404 on a static host: an empty tile, not a fault.
    if (e.error?.status === 404 && e.tile) return;
    status(`Map: ${e.error?.message || e.error || 'error'}`);
    console.error(e.error || e);
  });
  await new Promise((r) => map.once('load', r));
  wireControls();
  await selectSeries(first.id, state.reference);
}

main().catch((e) => {
  status(`The viewer failed: ${e.message}`);
  console.error(e);
});
