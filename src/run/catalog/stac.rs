//! STAC 1.1 documents of the catalog, for titiler, pystac, QGIS and WeatherLayers Cloud: a
//! root Catalog with one Collection per series, and an Item per layer.
//!
//! Items are written with their run (`<run>/<layer>/item.json`) and never change. The root
//! catalog and the collections are functions of `catalog.json`: [`sync`] rewrites them from
//! the catalog as it is, and starts again if the catalog changed meanwhile, so the last
//! writer always leaves them matching the catalog. Links are relative, so the tree can be
//! served from any URL; items also carry the forecast extension's reference time and
//! web-map-links' `xyz` and `tilejson` links.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::error::Result;
use crate::io::store::Store;
use crate::run::catalog::{
    pretty, Catalog, CatalogLayer, Series, CATALOG_KEY, CHANGING_JSON, MAX_ATTEMPTS,
};
use crate::run::manifest::{LayerEntry, Manifest};

pub const STAC_VERSION: &str = "1.1.0";
const FORECAST_EXT: &str = "https://stac-extensions.github.io/forecast/v0.2.0/schema.json";
const WEB_MAP_LINKS_EXT: &str =
    "https://stac-extensions.github.io/web-map-links/v1.2.0/schema.json";

/// The root STAC catalog's key.
pub const ROOT_KEY: &str = "stac/catalog.json";

pub fn item_key(run: &str, layer: &str) -> String {
    format!("{run}/{layer}/item.json")
}

pub fn collection_key(series: &str) -> String {
    format!("stac/{series}/collection.json")
}

fn polygon(b: [f64; 4]) -> Value {
    let [w, s, e, n] = b;
    json!({"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]})
}

/// The STAC Item of one layer.
pub fn item(m: &Manifest, l: &LayerEntry, c: &CatalogLayer) -> Value {
    let rel_collection = format!("../../{}", collection_key(&c.series));
    let mut links = vec![
        json!({"rel": "collection", "href": rel_collection, "type": "application/json"}),
        json!({"rel": "parent", "href": rel_collection, "type": "application/json"}),
        json!({"rel": "root", "href": format!("../../{ROOT_KEY}"), "type": "application/json"}),
        json!({"rel": "tilejson", "href": "tilejson.json", "type": "application/json",
               "title": "Colour tiles (TileJSON)"}),
    ];
    // No tile files with `--format pmtiles`: the archives are assets instead (3.18).
    if c.tiling == "webmercator" && m.settings.format.dirs() {
        // The template is absolute when the run has a base URL, as web-map-links expects.
        let tiles = c.tilejson.trim_end_matches("tilejson.json").to_string() + "{z}/{x}/{y}.png";
        links.push(json!({"rel": "xyz", "href": tiles, "type": "image/png",
                          "title": c.long_name}));
    }
    let datetime = c.valid_time.clone().or_else(|| c.reference_time.clone());
    let mut properties = json!({
        "datetime": datetime,
        "title": format!("{} at {}", c.long_name, c.level.label),
        "forecast:variable": c.variable,
        "tilecast:run": m.run,
        "tilecast:layer": c.name,
        "tilecast:series": c.series,
        "tilecast:units": c.units,
        "tilecast:level": c.level,
        "tilecast:range": c.range,
        "tilecast:palette": c.palette,
        "tilecast:tiling": c.tiling,
        "tilecast:minzoom": c.minzoom,
        "tilecast:maxzoom": c.maxzoom,
    });
    if datetime.is_none() {
        // STAC needs a time: an undated field gets an open interval.
        properties["start_datetime"] = json!("0001-01-01T00:00:00Z");
        properties["end_datetime"] = json!("9999-12-31T23:59:59Z");
    }
    if let Some(r) = &c.reference_time {
        properties["forecast:reference_datetime"] = json!(r);
    }
    let mut assets = json!({
        "tilejson": {"href": "tilejson.json", "type": "application/json",
                     "roles": ["tiles", "metadata"], "title": "Colour tiles (TileJSON 3.0.0)"},
        "legend": {"href": "legend.png", "type": "image/png", "roles": ["legend"],
                   "title": "Legend"},
        "legend_json": {"href": "legend.json", "type": "application/json",
                        "roles": ["legend", "metadata"], "title": "Legend stops"},
        "full": {"href": "full.png", "type": "image/png", "roles": ["visual"],
                 "title": "The native grid, one pixel per point"},
        "manifest": {"href": "../manifest.json", "type": "application/json",
                     "roles": ["metadata"], "title": "Run manifest"},
    });
    for (name, image) in [("image", &l.image), ("vector_image", &l.vector_image)] {
        if let Some(i) = image {
            let rel = i
                .url
                .strip_prefix(&format!("{}/", c.name))
                .unwrap_or(&i.url);
            assets[name] = json!({"href": rel, "type": "image/png", "roles": ["data"],
                "title": format!("Whole field, {} (WeatherLayers GL)", i.image_type),
                "tilecast:image_unscale": i.image_unscale, "tilecast:bounds": i.bounds});
        }
    }
    // The archives (3.18), relative to the item as the other assets.
    let archives = [
        ("pmtiles", &l.pmtiles, "Colour tiles (PMTiles v3)"),
        ("data_pmtiles", &l.data_pmtiles, "Data tiles (PMTiles v3)"),
    ];
    for (name, archive, title) in archives {
        if let Some(a) = archive {
            let rel = a.strip_prefix(&format!("{}/", c.name)).unwrap_or(a);
            assets[name] = json!({"href": rel, "type": "application/vnd.pmtiles",
                "roles": ["tiles", "data"], "title": title});
        }
    }
    if l.data_tilejson.is_some() {
        assets["data_tilejson"] = json!({"href": "data/tilejson.json", "type": "application/json",
            "roles": ["data", "metadata"], "title": "Data tiles (TileJSON 3.0.0, with encoding)"});
    }
    json!({
        "type": "Feature",
        "stac_version": STAC_VERSION,
        "stac_extensions": [FORECAST_EXT, WEB_MAP_LINKS_EXT],
        "id": format!("{}_{}", m.run, c.name),
        "collection": c.series,
        "geometry": polygon(c.bounds),
        "bbox": c.bounds,
        "properties": properties,
        "links": links,
        "assets": assets,
    })
}

/// The STAC Collection of a series.
pub fn collection(cat: &Catalog, s: &Series) -> Value {
    let layers: Vec<&CatalogLayer> = s
        .steps
        .iter()
        .filter_map(|st| {
            cat.runs
                .get(&st.run)?
                .layers
                .iter()
                .find(|l| l.name == st.layer)
        })
        .collect();
    let mut bbox = [180.0f64, 90.0, -180.0, -90.0];
    for l in &layers {
        bbox = [
            bbox[0].min(l.bounds[0]),
            bbox[1].min(l.bounds[1]),
            bbox[2].max(l.bounds[2]),
            bbox[3].max(l.bounds[3]),
        ];
    }
    let times: Vec<&String> = s
        .steps
        .iter()
        .filter_map(|st| st.valid_time.as_ref())
        .collect();
    let interval = json!([times.iter().min(), times.iter().max()]);
    let mut links = vec![
        json!({"rel": "root", "href": "../catalog.json", "type": "application/json"}),
        json!({"rel": "parent", "href": "../catalog.json", "type": "application/json"}),
    ];
    for st in &s.steps {
        links.push(json!({"rel": "item", "type": "application/geo+json",
                          "href": format!("../../{}", item_key(&st.run, &st.layer))}));
    }
    json!({
        "type": "Collection",
        "stac_version": STAC_VERSION,
        "stac_extensions": [FORECAST_EXT],
        "id": s.id,
        "title": format!("{} at {} ({})", s.long_name, s.level.label, s.tiling),
        "description": format!(
            "{} ({}) at {} on one grid, {} tiling: every time step of every run.",
            s.long_name, s.units, s.level.label, s.tiling
        ),
        "license": "other",
        "extent": {"spatial": {"bbox": [bbox]}, "temporal": {"interval": [interval]}},
        "summaries": {"forecast:variable": [s.variable], "tilecast:units": [s.units]},
        "tilecast:latest_run": s.latest_run,
        "links": links,
    })
}

/// The root STAC catalog.
pub fn root(cat: &Catalog) -> Value {
    let mut links =
        vec![json!({"rel": "root", "href": "./catalog.json", "type": "application/json"})];
    for s in cat.series.values() {
        links.push(json!({"rel": "child", "type": "application/json",
                          "href": format!("./{}/collection.json", s.id),
                          "title": format!("{} at {}", s.long_name, s.level.label)}));
    }
    json!({
        "type": "Catalog",
        "stac_version": STAC_VERSION,
        "id": "tilecast",
        "description": "Every complete tilecast run in this output root, one collection per series.",
        "links": links,
    })
}

/// Rewrites the root catalog and the collections of `touched` series from the catalog (a
/// series no longer in it loses its collection), until the catalog did not change meanwhile.
pub fn sync(store: &dyn Store, touched: &BTreeSet<String>) -> Result<()> {
    for _ in 0..MAX_ATTEMPTS {
        let Some(found) = store.get_versioned(CATALOG_KEY)? else {
            return Ok(());
        };
        let cat: Catalog = super::parse(store, CATALOG_KEY, &found.bytes)?;
        for id in touched {
            match cat.series.get(id) {
                Some(s) => store.put(
                    &collection_key(id),
                    pretty(&collection(&cat, s)),
                    CHANGING_JSON,
                )?,
                None => store.delete(&collection_key(id))?,
            }
        }
        store.put(ROOT_KEY, pretty(&root(&cat)), CHANGING_JSON)?;
        let now = store.get_versioned(CATALOG_KEY)?.map(|v| v.version);
        if now.as_deref() == Some(found.version.as_str()) {
            return Ok(());
        }
    }
    Ok(())
}
