// One time step of a series on the map: its documents (colour and data TileJSON, legend JSON)
// read once and kept, and the MapLibre source and layer that draw it, either the colour tiles
// (`raster`) or the data tiles coloured on the GPU (`raster-dem` with the custom encoding and
// a `color-relief` layer with the legend's stops; ARCHITECTURE §3.2, §3.3, §3.15).
//
// Tile templates are resolved against their TileJSON's URL here, since MapLibre does not
// resolve relative ones: the same code works on a static host (relative URLs) and through
// `tilecast serve` or a render with `--base-url` (absolute ones). A layer rendered with
// `--format pmtiles` has `pmtiles://<archive>/{z}/{x}/{y}` templates (ARCHITECTURE §3.18):
// the archive's URL is resolved the same way, and the `pmtiles` protocol (viewer.js) reads
// the tiles from the archive with range requests.

import { resolveTemplate } from './catalog.js';

const documents = new Map();

async function json(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  try {
    return await response.json();
  } catch (e) {
    throw new Error(`${url}: not JSON (${e.message})`);
  }
}

const PMTILES = /^pmtiles:\/\/(.+)\/\{z\}\/\{x\}\/\{y\}$/;

/**
 * The `pmtiles` protocol MapLibre reads archives with (viewer.js registers it). The value
 * reader takes its archives from it too (`archive`), so each archive's header and
 * directories are fetched once.
 */
export const archives = new pmtiles.Protocol();

/** The reader of the PMTiles archive at `url`, the one MapLibre's protocol uses. */
export function archive(url) {
  let a = archives.get(url);
  if (!a) {
    a = new pmtiles.PMTiles(url);
    archives.add(a);
  }
  return a;
}

function tileSet(tj, url) {
  if (!Array.isArray(tj.tiles) || !tj.tiles.length) throw new Error(`${url}: no tiles`);
  const archive = PMTILES.exec(tj.tiles[0]);
  const resolved = archive ? new URL(archive[1], url).href : null;
  return {
    tilejson: url,
    template: resolved ? `pmtiles://${resolved}/{z}/{x}/{y}` : resolveTemplate(tj.tiles[0], url),
    archive: resolved,
    minzoom: tj.minzoom ?? 0,
    maxzoom: tj.maxzoom ?? 22,
    bounds: tj.bounds,
    crs: tj.crs,
  };
}

/**
 * The documents of a catalog layer: `{colour, data, legend}`, where `colour` and `data` are
 * tile sets ({tilejson, template, archive, minzoom, maxzoom, bounds, crs}; `archive` is the
 * PMTiles archive's URL, or null for tile files); `data` also has MapLibre's
 * factors and `scale`, `offset` and `units`, and is null when the layer has no data TileJSON.
 */
export function layerDocuments(layer) {
  const key = `${layer.run}/${layer.name}`;
  if (!documents.has(key)) {
    const p = (async () => {
      const [tj, dtj, legend] = await Promise.all([
        json(layer.tilejson),
        layer.data_tilejson ? json(layer.data_tilejson) : null,
        layer.legend_json ? json(layer.legend_json).catch(() => null) : null,
      ]);
      let data = null;
      if (dtj) {
        const enc = dtj.data_encoding || {};
        data = {
          ...tileSet(dtj, layer.data_tilejson),
          redFactor: dtj.redFactor,
          greenFactor: dtj.greenFactor,
          blueFactor: dtj.blueFactor,
          baseShift: dtj.baseShift,
          scale: enc.scale ?? dtj.greenFactor,
          offset: enc.offset ?? -dtj.baseShift,
          units: enc.units ?? layer.units,
        };
      }
      return { colour: tileSet(tj, layer.tilejson), data, legend };
    })();
    p.catch(() => documents.delete(key));
    documents.set(key, p);
  }
  return documents.get(key);
}

/** `#rrggbb[aa]` as [r, g, b, a] (a in 0..1). */
function rgba(hex) {
  const v = [1, 3, 5, 7].map((i) => parseInt(hex.slice(i, i + 2) || 'ff', 16));
  return [v[0], v[1], v[2], v[3] / 255];
}

function css([r, g, b, a]) {
  return `rgba(${Math.round(r)}, ${Math.round(g)}, ${Math.round(b)}, ${Math.round(a * 1000) / 1000})`;
}

/** The legend's colour at `v`: linear between stops, its end colours beyond them. */
function colourAt(stops, v) {
  if (v <= stops[0].value) return rgba(stops[0].color);
  for (let i = 1; i < stops.length; i++) {
    const [a, b] = [stops[i - 1], stops[i]];
    if (v <= b.value) {
      const t = b.value > a.value ? (v - a.value) / (b.value - a.value) : 1;
      const [ca, cb] = [rgba(a.color), rgba(b.color)];
      return ca.map((c, k) => c + t * (cb[k] - c));
    }
  }
  return rgba(stops[stops.length - 1].color);
}

/**
 * The `color-relief-color` expression for a data tile set and the legend's stops (field
 * units). MapLibre ignores alpha when it decodes a DEM, so a missing pixel decodes to code 0,
 * `-baseShift`, one step below the layer's minimum: that value is transparent and the colours
 * start one step above it, at code 1, with the legend's colour there.
 */
export function reliefColour(data, stops) {
  const missing = -data.baseShift;
  const first = missing + data.greenFactor;
  const out = ['interpolate', ['linear'], ['elevation'], missing, 'rgba(0, 0, 0, 0)', first, css(colourAt(stops, first))];
  for (const s of stops) {
    if (s.value > first) out.push(s.value, css(rgba(s.color)));
  }
  return out;
}

/** The source of a step in `mode` ("colour" or "data"). */
export function source(docs, mode) {
  if (mode === 'data') {
    const d = docs.data;
    return {
      type: 'raster-dem',
      tiles: [d.template],
      tileSize: 256,
      minzoom: d.minzoom,
      maxzoom: d.maxzoom,
      bounds: d.bounds,
      encoding: 'custom',
      redFactor: d.redFactor,
      greenFactor: d.greenFactor,
      blueFactor: d.blueFactor,
      baseShift: d.baseShift,
    };
  }
  const c = docs.colour;
  return { type: 'raster', tiles: [c.template], tileSize: 256, minzoom: c.minzoom, maxzoom: c.maxzoom, bounds: c.bounds };
}

/** The map layer of a step drawing source `id` in `mode` at `opacity`. */
export function layer(id, docs, mode, opacity) {
  if (mode === 'data') {
    return {
      id,
      type: 'color-relief',
      source: id,
      paint: {
        'color-relief-color': reliefColour(docs.data, docs.legend.stops),
        'color-relief-opacity': opacity,
      },
    };
  }
  return { id, type: 'raster', source: id, paint: { 'raster-opacity': opacity, 'raster-fade-duration': 0 } };
}

/** The paint property that holds a step layer's opacity in `mode`. */
export function opacityProperty(mode) {
  return mode === 'data' ? 'color-relief-opacity' : 'raster-opacity';
}
