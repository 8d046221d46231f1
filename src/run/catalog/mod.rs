//! The catalog of an output root: `catalog.json`, every complete run and its layers, the
//! layers grouped into series, and the STAC and MapLibre documents made from them.
//!
//! ```text
//! <out>/catalog.json                  the catalog (this module's [`Catalog`], version 1)
//! <out>/stac/catalog.json             STAC 1.1 root catalog: one child per series
//! <out>/stac/<series>/collection.json STAC Collection of a series: its items, its time extent
//! <out>/<run>/<layer>/item.json       STAC Item of one layer (written with the run)
//! <out>/<run>/style.json              MapLibre style of the run's Web Mercator layers
//! ```
//!
//! A run enters the catalog when it completes, before its manifest is written, so a ledger
//! or a render that stops in between adds it again (adding is idempotent), and leaves it when
//! it is pruned ([`prune`]). `catalog.json` and the STAC documents that change as runs come
//! and go are replaced with conditional writes ([`Store::put_if`]): two ledgers, or a ledger
//! and a `tilecast render`, completing runs at once never lose each other's entries. The
//! series are recomputed from the runs at every change, so they can never disagree with them,
//! and nothing in the catalog depends on time or on the order runs completed in: the same
//! runs make the same bytes, whoever wrote them.

pub mod prune;
pub mod series;
pub mod stac;
pub mod style;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::decode::Level;
use crate::error::{Error, Result};
use crate::io::store::{PutMeta, Store};
use crate::run::manifest::{ImageEntry, LayerEntry, Manifest, Source};
use crate::run::publish::{client_bounds, BaseUrl};

pub use series::{series_id, Series, SeriesStep};

/// Where the catalog is, relative to the output root.
pub const CATALOG_KEY: &str = "catalog.json";
pub const CATALOG_VERSION: u32 = 1;

/// `Cache-Control` of documents that change as runs come and go.
pub const SHORT_LIVED: &str = "public, max-age=30";

/// Published JSON that is replaced over time (catalog, STAC collections).
pub const CHANGING_JSON: PutMeta = PutMeta {
    content_type: "application/json",
    cache_control: Some(SHORT_LIVED),
};

/// `catalog.json`: every complete run, and its layers grouped into series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Catalog {
    pub version: u32,
    pub generator: String,
    /// Complete runs, by run id.
    pub runs: BTreeMap<String, CatalogRun>,
    /// The runs' layers grouped into series, by series id (made from `runs`).
    pub series: BTreeMap<String, Series>,
}

impl Default for Catalog {
    fn default() -> Catalog {
        Catalog {
            version: CATALOG_VERSION,
            generator: format!("tilecast {}", env!("CARGO_PKG_VERSION")),
            runs: BTreeMap::new(),
            series: BTreeMap::new(),
        }
    }
}

/// A complete run as the catalog lists it. URLs are absolute when the run was rendered with
/// a base URL, and relative to the output root (where `catalog.json` is) otherwise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatalogRun {
    pub run: String,
    pub source: Source,
    /// The earliest reference time of its layers.
    pub reference_time: Option<String>,
    pub manifest: String,
    pub style: String,
    pub layers: Vec<CatalogLayer>,
    /// Fields of the file that could not be rendered (listed in the manifest).
    pub failed: usize,
}

/// One layer of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatalogLayer {
    pub name: String,
    pub series: String,
    pub variable: String,
    pub long_name: String,
    pub units: String,
    pub level: Level,
    pub reference_time: Option<String>,
    pub valid_time: Option<String>,
    pub tiling: String,
    pub crs: String,
    pub minzoom: u8,
    pub maxzoom: u8,
    /// The data tiles' highest zoom, as in the manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_maxzoom: Option<u8>,
    /// Bounds every client accepts (as in the TileJSON).
    pub bounds: [f64; 4],
    pub palette: String,
    pub range: [f64; 2],
    pub tilejson: String,
    pub data_tilejson: Option<String>,
    /// The layer's PMTiles archives (`--format pmtiles|both`), URLs as the others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pmtiles: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_pmtiles: Option<String>,
    pub legend_png: String,
    pub legend_json: String,
    pub full_image: String,
    pub stac_item: String,
    /// The whole-field image and its encoding (`--images equirect`), URL as the others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageEntry>,
    /// A wind layer's u/v image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vector_image: Option<ImageEntry>,
}

/// The public URL of an output key: absolute under a base URL, else the key itself
/// (relative to the output root).
pub fn url(base: Option<&BaseUrl>, key: &str) -> String {
    match base {
        Some(b) => b.join(key),
        None => key.to_string(),
    }
}

impl CatalogLayer {
    pub fn of(m: &Manifest, l: &LayerEntry) -> CatalogLayer {
        let base = m.base_url.as_ref();
        let key = |rel: &str| format!("{}/{rel}", m.run);
        let tiling = crate::geo::tiling::Tiling::from_name(&l.tiling).unwrap_or_default();
        CatalogLayer {
            name: l.name.clone(),
            series: series_id(l),
            variable: l.variable.clone(),
            long_name: l.long_name.clone(),
            units: l.units.clone(),
            level: l.level.clone(),
            reference_time: l.reference_time.clone(),
            valid_time: l.valid_time.clone(),
            tiling: l.tiling.clone(),
            crs: l.crs.clone(),
            minzoom: l.minzoom,
            maxzoom: l.maxzoom,
            data_maxzoom: l.data_maxzoom,
            bounds: client_bounds(l.bounds, tiling),
            palette: l.palette.clone(),
            range: l.range,
            tilejson: url(base, &key(&l.tilejson)),
            data_tilejson: l.data_tilejson.as_ref().map(|t| url(base, &key(t))),
            pmtiles: l.pmtiles.as_ref().map(|t| url(base, &key(t))),
            data_pmtiles: l.data_pmtiles.as_ref().map(|t| url(base, &key(t))),
            legend_png: url(base, &key(&l.legend.png)),
            legend_json: url(base, &key(&l.legend.json)),
            full_image: url(base, &key(&l.full_image)),
            stac_item: url(base, &stac::item_key(&m.run, &l.name)),
            image: l.image.clone().map(|i| ImageEntry {
                url: url(base, &key(&i.url)),
                ..i
            }),
            vector_image: l.vector_image.clone().map(|i| ImageEntry {
                url: url(base, &key(&i.url)),
                ..i
            }),
        }
    }
}

impl CatalogRun {
    pub fn of(m: &Manifest) -> CatalogRun {
        let base = m.base_url.as_ref();
        let layers: Vec<CatalogLayer> = m.layers.iter().map(|l| CatalogLayer::of(m, l)).collect();
        CatalogRun {
            run: m.run.clone(),
            source: m.source.clone(),
            reference_time: layers.iter().filter_map(|l| l.reference_time.clone()).min(),
            manifest: url(base, &format!("{}/manifest.json", m.run)),
            style: url(base, &style::style_key(&m.run)),
            layers,
            failed: m.failed.len(),
        }
    }
}

/// `2026-11-30T16:02:01Z`.
pub fn rfc3339(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t)
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// Parses [`rfc3339`]'s form (and any RFC 3339 time).
pub fn parse_time(s: &str) -> Option<SystemTime> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| SystemTime::from(t.with_timezone(&chrono::Utc)))
}

impl Catalog {
    /// Recomputes the series from the runs.
    fn reindex(&mut self) {
        self.series = series::group(&self.runs);
    }

    /// The series a set of runs has layers in.
    pub fn series_of<'a>(&self, runs: impl IntoIterator<Item = &'a String>) -> BTreeSet<String> {
        runs.into_iter()
            .filter_map(|r| self.runs.get(r))
            .flat_map(|r| r.layers.iter().map(|l| l.series.clone()))
            .collect()
    }
}

/// Reads the catalog (an empty one if there is none).
pub fn read(store: &dyn Store) -> Result<Catalog> {
    Ok(read_json(store, CATALOG_KEY)?.unwrap_or_default())
}

fn read_json<T: DeserializeOwned>(store: &dyn Store, key: &str) -> Result<Option<T>> {
    store.get(key)?.map(|b| parse(store, key, &b)).transpose()
}

/// A catalog document's bytes parsed; one that does not parse is a permanent error naming it.
fn parse<T: DeserializeOwned>(store: &dyn Store, key: &str, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| Error::Corrupt {
        path: store.url(key).into(),
        reason: format!("unreadable catalog document: {e}"),
    })
}

fn pretty<T: Serialize>(v: &T) -> Vec<u8> {
    let mut s = serde_json::to_vec_pretty(v).expect("serialisable");
    s.push(b'\n');
    s
}

/// Most attempts at a conditional update before giving up (each one lost to another writer).
const MAX_ATTEMPTS: u32 = 200;

/// Replaces the JSON document at `key` by `change(current)` with a conditional write,
/// reading again and retrying when another writer replaced it in between. `change` returns
/// `None` when there is nothing to change.
pub fn update_json<T, F>(store: &dyn Store, key: &str, meta: PutMeta, mut change: F) -> Result<()>
where
    T: Serialize + DeserializeOwned + Default,
    F: FnMut(T) -> Option<T>,
{
    for attempt in 0..MAX_ATTEMPTS {
        let current = store.get_versioned(key)?;
        let (doc, version) = match &current {
            None => (T::default(), None),
            Some(v) => (parse(store, key, &v.bytes)?, Some(v.version.as_str())),
        };
        let Some(new) = change(doc) else {
            return Ok(());
        };
        if store.put_if(key, pretty(&new), meta, version)? {
            return Ok(());
        }
        // Another writer got there first: back off a little, more each time, and retry.
        let jitter = u64::from(std::process::id() % 7) + u64::from(attempt % 5);
        std::thread::sleep(Duration::from_millis(
            (u64::from(attempt.min(20)) * 5) + jitter,
        ));
    }
    Err(Error::store(
        store.url(key),
        "update",
        crate::error::StoreFault::Unavailable,
        format!("{MAX_ATTEMPTS} conditional writes in a row lost to other writers"),
    ))
}

/// Publishes a complete run: its STAC items and style (immutable, beside its tiles), then its
/// entry in the catalog and the STAC collections of its series. Called by `tilecast render`
/// and the ledger before the manifest is written; calling it again changes nothing.
pub fn record_run(store: &dyn Store, m: &Manifest) -> Result<()> {
    let entry = CatalogRun::of(m);
    for l in &m.layers {
        let layer = entry
            .layers
            .iter()
            .find(|c| c.name == l.name)
            .expect("one catalog layer per manifest layer");
        let item = stac::item(m, l, layer);
        store.put(
            &stac::item_key(&m.run, &l.name),
            pretty(&item),
            PutMeta::JSON,
        )?;
    }
    store.put(
        &style::style_key(&m.run),
        pretty(&style::style(m, &entry)),
        PutMeta::JSON,
    )?;
    let touched: BTreeSet<String> = entry.layers.iter().map(|l| l.series.clone()).collect();
    update_json(store, CATALOG_KEY, CHANGING_JSON, |mut c: Catalog| {
        if c.runs.get(&m.run) == Some(&entry) {
            return None;
        }
        c.runs.insert(m.run.clone(), entry.clone());
        c.reindex();
        Some(c)
    })?;
    stac::sync(store, &touched)
}

/// Removes runs from the catalog (not their objects: [`prune`] does both). Returns the
/// series they had layers in.
pub fn remove_runs(store: &dyn Store, runs: &BTreeSet<String>) -> Result<BTreeSet<String>> {
    let mut touched = BTreeSet::new();
    update_json(store, CATALOG_KEY, CHANGING_JSON, |mut c: Catalog| {
        touched = c.series_of(runs);
        let before = c.runs.len();
        c.runs.retain(|r, _| !runs.contains(r));
        if c.runs.len() == before {
            return None;
        }
        c.reindex();
        Some(c)
    })?;
    stac::sync(store, &touched)?;
    Ok(touched)
}
