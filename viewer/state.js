// The view's whole state and its form in the URL fragment, so a view can be shared and
// reloaded: `#series=ID&reference=latest&time=ISO&mode=colour&projection=globe&opacity=0.9
// &lines=1&map=ZOOM/LAT/LON`. Unknown or malformed values fall back to the defaults.

export const DEFAULTS = Object.freeze({
  series: null,
  reference: 'latest',
  time: null,
  mode: 'colour',
  projection: 'mercator',
  opacity: 0.9,
  lines: true,
  map: null,
});

const MODES = ['colour', 'data'];
const PROJECTIONS = ['mercator', 'globe'];

/** The state in `hash` (with or without its leading `#`). */
export function readHash(hash) {
  const p = new URLSearchParams(hash.replace(/^#/, ''));
  const s = { ...DEFAULTS };
  if (p.get('series')) s.series = p.get('series');
  if (p.get('reference')) s.reference = p.get('reference');
  if (p.get('time')) s.time = p.get('time');
  if (MODES.includes(p.get('mode'))) s.mode = p.get('mode');
  if (PROJECTIONS.includes(p.get('projection'))) s.projection = p.get('projection');
  const opacity = Number(p.get('opacity'));
  if (p.has('opacity') && Number.isFinite(opacity)) s.opacity = Math.min(1, Math.max(0, opacity));
  if (p.has('lines')) s.lines = p.get('lines') !== '0';
  const m = (p.get('map') || '').split('/').map(Number);
  if (m.length === 3 && m.every(Number.isFinite) && Math.abs(m[1]) <= 90) {
    s.map = { zoom: Math.min(24, Math.max(0, m[0])), lat: m[1], lon: ((((m[2] + 180) % 360) + 360) % 360) - 180 };
  }
  return s;
}

/** The fragment (without `#`) for `state`. */
export function writeHash(state) {
  const p = new URLSearchParams();
  if (state.series) p.set('series', state.series);
  p.set('reference', state.reference);
  if (state.time) p.set('time', state.time);
  p.set('mode', state.mode);
  p.set('projection', state.projection);
  p.set('opacity', String(Math.round(state.opacity * 100) / 100));
  p.set('lines', state.lines ? '1' : '0');
  if (state.map) {
    const { zoom, lat, lon } = state.map;
    p.set('map', `${zoom.toFixed(2)}/${lat.toFixed(4)}/${lon.toFixed(4)}`);
  }
  // The separators stay readable: `/` and `:` need no escaping in a fragment.
  return p.toString().replace(/%2F/g, '/').replace(/%3A/g, ':');
}
