// Values under the cursor, read from a layer's data tiles (ARCHITECTURE §3.2): the tile at the
// data TileJSON's maxzoom covering the point, decoded without premultiplication or colour
// conversion, `value = offset + scale * (R * 256 + G)`, alpha 0 for no data. Decoded tiles
// are cached (a bounded number, least recently used out first); a tile the server does not
// have (404, or 204 from `tilecast serve`), or its PMTiles archive does not hold, holds no
// data. Tiles of a `--format pmtiles` layer are read from its archive with the `pmtiles`
// reader MapLibre's protocol also uses (layers.js), which keeps the archive's header and
// directories.

import { archive } from './layers.js';

const TILE = 256;
const CACHE_TILES = 96;
const MERCATOR_LAT = 85.0511287798066;

/** What a point reads: `{state: 'value' | 'missing' | 'outside', value?, tile?, pixel?}`. */
export class ValueReader {
  constructor() {
    this.cache = new Map();
  }

  /**
   * The value at `lon`, `lat` in the layer of `data` ({template, maxzoom, bounds, scale,
   * offset}, from the layer's data TileJSON).
   */
  async read(data, lon, lat) {
    const [w, s, e, n] = data.bounds || [-180, -MERCATOR_LAT, 180, MERCATOR_LAT];
    const wrapped = ((((lon + 180) % 360) + 360) % 360) - 180;
    const inLon = w <= e ? wrapped >= w && wrapped <= e : wrapped >= w || wrapped <= e;
    if (Math.abs(lat) > MERCATOR_LAT || lat < s || lat > n || !inLon) return { state: 'outside' };
    const z = data.maxzoom;
    const size = 2 ** z;
    const fx = ((wrapped + 180) / 360) * size;
    const r = (lat * Math.PI) / 180;
    const fy = ((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2) * size;
    const x = Math.min(size - 1, Math.floor(fx));
    const y = Math.min(size - 1, Math.max(0, Math.floor(fy)));
    const px = Math.min(TILE - 1, Math.floor((fx - x) * TILE));
    const py = Math.min(TILE - 1, Math.max(0, Math.floor((fy - y) * TILE)));
    const url = data.template.replace('{z}', z).replace('{x}', x).replace('{y}', y);
    const pixels = await this.tile(url, data.archive ? () => this.fromArchive(data.archive, z, x, y) : null);
    const tile = [z, x, y];
    if (!pixels) return { state: 'missing', tile, pixel: [px, py] };
    const i = (py * TILE + px) * 4;
    if (pixels[i + 3] === 0) return { state: 'missing', tile, pixel: [px, py] };
    const code = pixels[i] * 256 + pixels[i + 1];
    return { state: 'value', value: data.offset + data.scale * code, code, tile, pixel: [px, py] };
  }

  /**
   * The RGBA bytes of the tile at `url`, or null when the server has no such tile; `read`,
   * when given, fetches its PNG bytes (null if none) instead of `url`.
   */
  tile(url, read) {
    let p = this.cache.get(url);
    if (p) {
      this.cache.delete(url);
    } else {
      p = (read ? read() : fetchPng(url)).then((png) => (png ? decode(png, url) : null));
      // A failed fetch is not kept: the next move tries again.
      p.catch(() => this.cache.delete(url));
    }
    this.cache.set(url, p);
    while (this.cache.size > CACHE_TILES) this.cache.delete(this.cache.keys().next().value);
    return p;
  }

  /** The PNG bytes of tile z/x/y of the PMTiles archive at `url`, or null if it has none. */
  async fromArchive(url, z, x, y) {
    const t = await archive(url).getZxy(z, x, y);
    return t ? new Blob([t.data], { type: 'image/png' }) : null;
  }
}

/** The PNG at `url` as a Blob, or null when the server has no such tile. */
async function fetchPng(url) {
  const response = await fetch(url);
  if (response.status === 404 || response.status === 204) return null;
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.blob();
}

/** The RGBA bytes of a tile's PNG (`url` names it in errors). */
async function decode(png, url) {
  const bitmap = await createImageBitmap(png, {
    premultiplyAlpha: 'none',
    colorSpaceConversion: 'none',
  });
  if (bitmap.width !== TILE || bitmap.height !== TILE) {
    throw new Error(`${url}: a ${bitmap.width}×${bitmap.height} tile, not ${TILE}×${TILE}`);
  }
  const canvas = typeof OffscreenCanvas === 'function'
    ? new OffscreenCanvas(TILE, TILE)
    : Object.assign(document.createElement('canvas'), { width: TILE, height: TILE });
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  // Valid pixels are opaque, so the canvas's premultiplied storage leaves their R and G as
  // they are; a missing pixel (alpha 0) is read from its alpha alone.
  return ctx.getImageData(0, 0, TILE, TILE).data;
}

/** A value in the legend's display units (`display {scale, offset}`), as text. */
export function formatValue(value, display, units) {
  const shown = display ? value * display.scale + display.offset : value;
  const unit = display ? display.units : units;
  return `${roundTo(shown)}${unit ? ` ${unit}` : ''}`;
}

/** Enough digits to tell neighbouring values apart, no more. */
export function roundTo(v) {
  const a = Math.abs(v);
  const digits = a >= 1000 ? 0 : a >= 100 ? 1 : a >= 1 ? 2 : a >= 0.01 ? 4 : 6;
  return (Object.is(Math.round(v * 10 ** digits), -0) ? 0 : v).toFixed(digits);
}
