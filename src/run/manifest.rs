//! The run manifest (`manifest.json`, version 1); the per-layer TileJSON documents are made
//! in [`crate::run::publish`].
//!
//! These are contracts other programs read (see docs/ARCHITECTURE.md): field names only ever gain
//! members within a version. Nothing time-dependent goes in, so identical inputs, settings and
//! base URL give byte-identical manifests.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::decode::Level;
use crate::run::job::JobResult;
use crate::run::plan::RunPlan;
use crate::run::publish::BaseUrl;
pub use crate::run::publish::DataEncoding;
use crate::settings::RenderSettings;

pub const MANIFEST_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub version: u32,
    pub generator: String,
    pub run: String,
    pub source: Source,
    pub settings: RenderSettings,
    /// The public URL of the output root the TileJSON documents were written for (`null`:
    /// their URLs are relative).
    #[serde(default)]
    pub base_url: Option<BaseUrl>,
    pub layers: Vec<LayerEntry>,
    pub failed: Vec<FailedField>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Source {
    pub key: String,
    pub sha256: String,
    pub format: String,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailedField {
    pub field: usize,
    pub layer: Option<String>,
    pub error: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GridEntry {
    pub description: String,
    pub nx: usize,
    pub ny: usize,
    pub definition: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LegendUrls {
    pub png: String,
    pub json: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerEntry {
    pub name: String,
    /// Field index in the file; for derived layers (wind speed) the first source field.
    pub field: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub derived_from: Option<Vec<usize>>,
    pub variable: String,
    pub long_name: String,
    pub units: String,
    pub standard_name: Option<String>,
    pub level: Level,
    pub reference_time: Option<String>,
    pub valid_time: Option<String>,
    pub grid: GridEntry,
    pub packing: String,
    /// The data's true extent, [west, south, east, north] degrees; west > east across the
    /// antimeridian (the TileJSON documents carry bounds every client accepts instead).
    pub bounds: [f64; 4],
    pub tiling: String,
    pub crs: String,
    pub minzoom: u8,
    pub maxzoom: u8,
    /// The highest zoom of the data tiles (absent in manifests written before data tiles
    /// stopped at the native zoom: then `maxzoom`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_maxzoom: Option<u8>,
    pub tiles: String,
    pub data_tiles: String,
    pub scale: f64,
    pub offset: f64,
    pub data_encoding: DataEncoding,
    pub palette: String,
    pub range: [f64; 2],
    pub value_min: Option<f64>,
    pub value_max: Option<f64>,
    pub legend: LegendUrls,
    pub full_image: String,
    /// The colour tiles' TileJSON.
    pub tilejson: String,
    /// The data tiles' TileJSON (absent from entries written by workers older than it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_tilejson: Option<String>,
    /// The colour tiles' PMTiles archive (`--format pmtiles|both`; absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pmtiles: Option<String>,
    /// The data tiles' PMTiles archive (`--format pmtiles|both`; absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_pmtiles: Option<String>,
    pub tile_count: u64,
    pub bytes: u64,
    /// The whole-field image (`--images equirect`; absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageEntry>,
    /// A wind layer's u/v image (`--images equirect`, earth-relative components only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vector_image: Option<ImageEntry>,
    /// Why a wind layer has no `vector_image` although images were asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vector_image_skipped: Option<String>,
    /// A wind layer's components: `earth`, `grid`, `unknown`, or `earth (turned from
    /// grid-relative)` when tilecast turned them for the vector image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wind_frame: Option<String>,
}

impl LayerEntry {
    /// Checks that the entry describes `layer` and names only that layer's own files, as the
    /// executor writes them (`<layer>/...`, plain relative paths): a result message is
    /// untrusted (ARCHITECTURE 3.11), and these paths go into the manifest, the catalog and
    /// the STAC items, where clients follow them.
    pub fn check_own_files(&self, layer: &str) -> Result<(), String> {
        use crate::run::archive::{COLOUR_ARCHIVE, DATA_ARCHIVE};
        if self.name != layer {
            return Err(format!("its entry describes layer {:?}", self.name));
        }
        let exact = |what: &str, got: &str, want: String| {
            if got == want {
                Ok(())
            } else {
                Err(format!("its entry's {what} is {got:?}, not {want:?}"))
            }
        };
        let n = layer;
        exact("tiles", &self.tiles, format!("{n}/{{z}}/{{x}}/{{y}}.png"))?;
        exact(
            "data_tiles",
            &self.data_tiles,
            format!("{n}/data/{{z}}/{{x}}/{{y}}.png"),
        )?;
        exact("legend png", &self.legend.png, format!("{n}/legend.png"))?;
        exact("legend json", &self.legend.json, format!("{n}/legend.json"))?;
        exact("full_image", &self.full_image, format!("{n}/full.png"))?;
        exact("tilejson", &self.tilejson, format!("{n}/tilejson.json"))?;
        let optional = [
            (
                "data_tilejson",
                &self.data_tilejson,
                format!("{n}/data/tilejson.json"),
            ),
            ("pmtiles", &self.pmtiles, format!("{n}/{COLOUR_ARCHIVE}")),
            (
                "data_pmtiles",
                &self.data_pmtiles,
                format!("{n}/{DATA_ARCHIVE}"),
            ),
        ];
        for (what, got, want) in optional {
            if let Some(got) = got {
                exact(what, got, want)?;
            }
        }
        for image in [&self.image, &self.vector_image].into_iter().flatten() {
            let file = image.url.strip_prefix(&format!("{n}/"));
            let plain = file.is_some_and(|f| {
                !f.is_empty()
                    && f.split('/')
                        .all(|seg| !matches!(seg, "" | "." | "..") && !seg.contains([':', '\\']))
            });
            if !plain {
                return Err(format!(
                    "its entry's image is {:?}, not a file of {n}/",
                    image.url
                ));
            }
        }
        Ok(())
    }
}

/// A whole-field image as WeatherLayers GL's data properties describe it
/// ([`crate::run::images`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageEntry {
    /// Key relative to the run directory.
    pub url: String,
    /// `SCALAR` (value in R) or `VECTOR` (u in R, v in G): WeatherLayers GL's `imageType`.
    pub image_type: String,
    /// `[min, max]`: `value = min + (max - min) * byte / 255`; WeatherLayers GL's
    /// `imageUnscale`.
    pub image_unscale: [f64; 2],
    /// `[west, south, east, north]`: the centres of the first and last pixels; `east` is
    /// above 180 for an image across the antimeridian.
    pub bounds: [f64; 4],
    pub width: usize,
    pub height: usize,
}

/// The manifest of a run once every job has a result or is dead (`None` before that).
/// Layers with a dead job are listed as failed with the first job's reason, in plan order.
pub fn assemble(
    plan: &RunPlan,
    results: &BTreeMap<String, JobResult>,
    dead: &BTreeMap<String, String>,
) -> Option<Manifest> {
    let mut layers = Vec::new();
    let mut failed = plan.failed.clone();
    for l in &plan.layers {
        if let Some(reason) = l.jobs.iter().find_map(|j| dead.get(&j.id)) {
            failed.push(FailedField {
                field: l.sources[0].field,
                layer: Some(l.name.clone()),
                error: reason.clone(),
            });
            continue;
        }
        let rs: Vec<&JobResult> = l
            .jobs
            .iter()
            .map(|j| results.get(&j.id))
            .collect::<Option<_>>()?;
        let mut entry = rs.iter().find_map(|r| r.entry.clone())?;
        entry.tile_count = rs.iter().map(|r| r.tiles).sum();
        entry.bytes = rs.iter().map(|r| r.bytes).sum();
        layers.push(entry);
    }
    failed.sort_by(|a, b| (a.field, &a.layer).cmp(&(b.field, &b.layer)));
    Some(Manifest {
        version: MANIFEST_VERSION,
        generator: format!("tilecast {}", env!("CARGO_PKG_VERSION")),
        run: plan.run.clone(),
        source: plan.source.clone(),
        settings: plan.settings.clone(),
        base_url: plan.base_url.clone(),
        layers,
        failed,
    })
}

/// Serialises a manifest as written to `manifest.json`.
pub fn manifest_bytes(m: &Manifest) -> Vec<u8> {
    let mut s = serde_json::to_vec_pretty(m).expect("manifests serialise");
    s.push(b'\n');
    s
}
