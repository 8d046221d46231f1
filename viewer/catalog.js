// The catalog as the viewer reads it (ARCHITECTURE §3.14): every URL resolved against the
// catalog's own URL (relative on a static host, already absolute through `tilecast serve` or
// with `--base-url`), series grouped by variable and level for the picker, and the time steps
// of a series for one reference time or the latest forecast of each valid time.

/** `u` resolved against `base`; null stays null. */
export function resolve(u, base) {
  return u == null ? null : new URL(u, base).href;
}

/**
 * A tile URL template resolved against `base` with its `{z}`, `{x}` and `{y}` kept as they are
 * (`new URL` would percent-encode the braces, which MapLibre would then not replace).
 */
export function resolveTemplate(template, base) {
  const marked = template.replace(/\{([zxy])\}/g, '__tilecast_$1__');
  return new URL(marked, base).href.replace(/__tilecast_([zxy])__/g, '{$1}');
}

const LAYER_URLS = ['tilejson', 'data_tilejson', 'legend_png', 'legend_json', 'full_image', 'stac_item'];

/** A level in words: "2 m", "850 hPa", "surface". */
export function levelWords(level) {
  if (!level) return 'no level';
  if (level.value != null) {
    const units = level.units ? ` ${level.units.replace(/^hpa$/i, 'hPa').replace(/^pa$/i, 'Pa')}` : '';
    return `${level.value}${units}`;
  }
  return (level.kind || level.label || 'no level').replace(/_/g, ' ');
}

/** Fetches and reads `catalog.json` at `url`. */
export async function loadCatalog(url) {
  const response = await fetch(url, { cache: 'no-cache' });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  let doc;
  try {
    doc = await response.json();
  } catch (e) {
    throw new Error(`${url}: not JSON (${e.message})`);
  }
  if (doc.version !== 1 || typeof doc.runs !== 'object' || typeof doc.series !== 'object') {
    throw new Error(`${url}: not a tilecast catalog (version ${doc.version})`);
  }
  return readCatalog(doc, response.url || url);
}

/** The catalog document with its URLs resolved and its series grouped. */
export function readCatalog(doc, url) {
  const layers = new Map();
  for (const run of Object.values(doc.runs || {})) {
    for (const l of run.layers || []) {
      const layer = { ...l, run: run.run };
      for (const k of LAYER_URLS) layer[k] = resolve(l[k], url);
      layers.set(`${run.run}/${l.name}`, layer);
    }
  }
  const series = new Map();
  for (const s of Object.values(doc.series || {})) {
    const steps = (s.steps || [])
      .map((st) => ({ ...st, layer: layers.get(`${st.run}/${st.layer}`) }))
      .filter((st) => st.layer);
    if (!steps.length) continue;
    const first = steps[0].layer;
    series.set(s.id, {
      id: s.id,
      variable: s.variable,
      longName: s.long_name || s.variable,
      units: s.units,
      level: s.level,
      levelWords: levelWords(s.level),
      tiling: s.tiling,
      crs: first.crs,
      geographic: s.tiling === 'geographic' || first.crs === 'EPSG:4326',
      steps,
      references: [...new Set(steps.map((st) => st.reference_time))].sort(newestFirst),
    });
  }
  return { url, generator: doc.generator, series, groups: group(series) };
}

/** Reference times newest first, a missing one last. */
function newestFirst(a, b) {
  if (a === b) return 0;
  if (a == null) return 1;
  if (b == null) return -1;
  return a < b ? 1 : -1;
}

/** Series grouped by variable (long name), then sorted by level, for the picker. */
function group(series) {
  const groups = new Map();
  for (const s of series.values()) {
    const key = `${s.longName} (${s.variable})`;
    if (!groups.has(key)) groups.set(key, { label: s.longName, variable: s.variable, series: [] });
    groups.get(key).series.push(s);
  }
  const levelOrder = (s) => [s.level?.kind || '', s.level?.value ?? -Infinity];
  for (const g of groups.values()) {
    g.series.sort((a, b) => {
      const [ka, va] = levelOrder(a);
      const [kb, vb] = levelOrder(b);
      return ka.localeCompare(kb) || va - vb || a.tiling.localeCompare(b.tiling);
    });
  }
  return [...groups.values()].sort((a, b) => a.label.localeCompare(b.label));
}

/**
 * The steps shown for `reference` ("latest", or a reference time): for "latest", the newest
 * forecast of each valid time (ties: the greater run id, as the catalog's latest run); else
 * that reference time's steps. In valid-time order.
 */
export function stepsOf(series, reference) {
  let steps = series.steps;
  if (reference === 'latest') {
    const best = new Map();
    for (const st of steps) {
      const cur = best.get(st.valid_time);
      const newer = !cur || newestFirst(st.reference_time, cur.reference_time) < 0
        || (st.reference_time === cur.reference_time && st.run > cur.run);
      if (newer) best.set(st.valid_time, st);
    }
    steps = [...best.values()];
  } else {
    steps = steps.filter((st) => String(st.reference_time) === String(reference));
  }
  return steps.sort((a, b) => String(a.valid_time).localeCompare(String(b.valid_time)));
}

/** The series a view opens with: the one asked for if it exists, else the Web Mercator
 * series with the most steps (the first by name on a tie), else any. */
export function defaultSeries(catalog, wanted) {
  if (wanted && catalog.series.has(wanted)) return catalog.series.get(wanted);
  const all = [...catalog.series.values()].sort((a, b) => a.id.localeCompare(b.id));
  const mercator = all.filter((s) => !s.geographic);
  const pool = mercator.length ? mercator : all;
  return pool.reduce((best, s) => (!best || s.steps.length > best.steps.length ? s : best), null);
}
