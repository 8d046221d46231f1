//! The run manifest (`manifest.json`, version 1) and per-layer TileJSON documents.
//!
//! These are contracts other programs read (see docs/ARCHITECTURE.md): field names only ever gain
//! members within a version. Nothing time-dependent goes in, so identical inputs and settings
//! give byte-identical manifests.

use serde::{Deserialize, Serialize};

use crate::decode::Level;
use crate::settings::RenderSettings;

pub const MANIFEST_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub version: u32,
    pub generator: String,
    pub run: String,
    pub source: Source,
    pub settings: RenderSettings,
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
pub struct DataEncoding {
    pub formula: String,
    pub scale: f64,
    pub offset: f64,
    pub units: String,
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
    /// [west, south, east, north] degrees; west > east across the antimeridian.
    pub bounds: [f64; 4],
    pub tiling: String,
    pub crs: String,
    pub minzoom: u8,
    pub maxzoom: u8,
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
    pub tilejson: String,
    pub tile_count: u64,
    pub bytes: u64,
}

/// TileJSON 3.0.0 for a layer's colour tiles.
#[derive(Debug, Clone, Serialize)]
pub struct TileJson {
    pub tilejson: &'static str,
    pub name: String,
    pub description: String,
    pub version: &'static str,
    pub scheme: &'static str,
    pub tiles: Vec<String>,
    pub minzoom: u8,
    pub maxzoom: u8,
    pub bounds: [f64; 4],
    pub center: [f64; 3],
    pub attribution: String,
    /// Not part of TileJSON: the tile matrix set, since geographic tiles are not Web Mercator.
    pub crs: String,
    pub legend: String,
}
