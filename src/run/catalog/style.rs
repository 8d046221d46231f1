//! A MapLibre style per run (`<run>/style.json`, style specification version 8): one raster
//! source per Web Mercator layer, a neutral background, the first layer visible and the
//! others present but hidden, so `new maplibregl.Map({style: ".../style.json"})` shows the
//! run as it is and a page switches layers with `setLayoutProperty(id, "visibility", ...)`.
//!
//! Sources name their TileJSON by URL: absolute when the run was rendered with a base URL;
//! without one they are relative to the output root, which MapLibre resolves against the
//! page, so such a style loads as it is only from a page at the output root (or through
//! `tilecast serve`, which makes URLs absolute per request). Layers on the geographic
//! (EPSG:4326) tiling are left out: MapLibre draws Web Mercator tiles only.

use serde_json::{json, Value};

use crate::run::catalog::CatalogRun;
use crate::run::manifest::Manifest;

pub fn style_key(run: &str) -> String {
    format!("{run}/style.json")
}

/// The style of a run.
pub fn style(m: &Manifest, entry: &CatalogRun) -> Value {
    let mut sources = serde_json::Map::new();
    let mut layers = vec![json!({
        "id": "background",
        "type": "background",
        "paint": {"background-color": "#e8e8e8"}
    })];
    let shown: Vec<_> = entry
        .layers
        .iter()
        .filter(|l| l.tiling == "webmercator")
        .collect();
    for (k, l) in shown.iter().enumerate() {
        sources.insert(
            l.name.clone(),
            json!({"type": "raster", "url": l.tilejson, "tileSize": 256}),
        );
        layers.push(json!({
            "id": l.name,
            "type": "raster",
            "source": l.name,
            "layout": {"visibility": if k == 0 { "visible" } else { "none" }},
            "paint": {"raster-opacity": 0.85, "raster-fade-duration": 0},
            "metadata": {
                "tilecast:long_name": l.long_name,
                "tilecast:units": l.units,
                "tilecast:level": l.level.label,
                "tilecast:valid_time": l.valid_time,
                "tilecast:legend": l.legend_png,
            }
        }));
    }
    let (center, zoom) = match shown.first() {
        Some(l) => {
            let [w, s, e, n] = l.bounds;
            ([(w + e) / 2.0, (s + n) / 2.0], l.minzoom)
        }
        None => ([0.0, 0.0], 0),
    };
    json!({
        "version": 8,
        "name": format!("tilecast run {}", m.run),
        "metadata": {"tilecast:run": m.run, "tilecast:source": m.source.key},
        "center": center,
        "zoom": zoom,
        "sources": sources,
        "layers": layers,
    })
}
