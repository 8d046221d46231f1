// Geographic context without network access: Natural Earth's 110m countries (public
// domain), as the pinned npm package `world-atlas` ships them in TopoJSON, turned into the
// GeoJSON MapLibre draws (land fill under the data, coastlines and borders over it).
//
// TopoJSON (https://github.com/topojson/topojson-specification): shared arcs of quantised,
// delta-encoded positions; a ring lists arc indices, `~i` meaning arc i reversed; consecutive
// arcs of a ring share their joining position, kept once.

/** The positions of every arc, decoded with the topology's transform. */
function decodeArcs(topology) {
  const t = topology.transform;
  return topology.arcs.map((arc) => {
    let [x, y] = [0, 0];
    return arc.map((p) => {
      if (!t) return [p[0], p[1]];
      x += p[0];
      y += p[1];
      return [x * t.scale[0] + t.translate[0], y * t.scale[1] + t.translate[1]];
    });
  });
}

// The topology is made for spherical projections: a ring may jump across the antimeridian
// (Russia, Fiji) or run around a pole (Antarctica). On a plane such a ring would be drawn
// as a band across the world, so its longitudes are made continuous (past ±180 where needed,
// which MapLibre draws on the neighbouring world copy) and a ring around a pole is closed
// along that pole.
function ring(indices, arcs) {
  const out = [];
  for (const i of indices) {
    const arc = i >= 0 ? arcs[i] : arcs[~i].slice().reverse();
    out.push(...(out.length ? arc.slice(1) : arc));
  }
  let shift = 0;
  const flat = out.map(([lon, lat], k) => {
    if (k > 0) {
      const jump = lon + shift - (out[k - 1][0] + shift);
      if (jump > 180) shift -= 360;
      else if (jump < -180) shift += 360;
    }
    return [lon + shift, lat];
  });
  if (flat.length && shift !== 0) {
    // Around a pole: the ring ends a whole turn from where it started.
    const pole = flat.reduce((sum, p) => sum + p[1], 0) < 0 ? -85.06 : 85.06;
    const [first, last] = [flat[0], flat[flat.length - 1]];
    flat.push([last[0], pole], [first[0], pole], first);
  }
  return flat;
}

function geometry(g, arcs) {
  if (g.type === 'Polygon') return { type: 'Polygon', coordinates: g.arcs.map((r) => ring(r, arcs)) };
  if (g.type === 'MultiPolygon') {
    return { type: 'MultiPolygon', coordinates: g.arcs.map((p) => p.map((r) => ring(r, arcs))) };
  }
  return null;
}

/** The countries of a world-atlas topology as a GeoJSON FeatureCollection. */
export function countries(topology) {
  const arcs = decodeArcs(topology);
  const features = [];
  for (const g of topology.objects.countries.geometries) {
    const geom = geometry(g, arcs);
    if (geom) features.push({ type: 'Feature', properties: { name: g.properties?.name ?? '' }, geometry: geom });
  }
  return { type: 'FeatureCollection', features };
}

/** Fetches the embedded outlines next to this module. */
export async function loadCountries() {
  const url = new URL('countries-110m.json', import.meta.url);
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return countries(await response.json());
}
