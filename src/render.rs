//! Local rendering of whole files: every layer's tiles, data tiles, full-frame image, legend
//! and TileJSON, then the run manifest, written last and atomically.
//!
//! Layers render in parallel (rayon), and so do the tiles within a layer. Each layer decodes
//! its own fields and drops them when done, so memory follows the layers in flight, not the
//! file. Progress is published through [`Progress`] counters that a caller may poll.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::decode::{Dataset, Field};
use crate::encode::{data_pixels, indexed_png, rgba_png};
use crate::error::{Error, Result};
use crate::layer::{self, LayerSpec};
use crate::legend;
use crate::manifest::{self, FailedField, GridEntry, LayerEntry, LegendUrls, Manifest, TileJson};
use crate::resample::Sampler;
use crate::settings::RenderSettings;
use crate::tiling::{TileId, TILE_SIZE};

/// Counters a caller can poll from another thread to draw a progress bar.
#[derive(Debug, Default)]
pub struct Progress {
    pub tiles_planned: AtomicU64,
    pub tiles_done: AtomicU64,
    pub layers_done: AtomicU64,
}

/// What one run produced.
#[derive(Debug)]
pub struct RunReport {
    pub run: String,
    pub dir: PathBuf,
    /// Fields in the file (decodable or not).
    pub fields: usize,
    pub layers: usize,
    pub tiles: u64,
    pub bytes: u64,
    pub failed: Vec<FailedField>,
    pub seconds: f64,
}

/// Hex sha256 of a file's bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let d = Sha256::digest(bytes);
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// The run id: stable for the same input bytes and settings.
pub fn run_id(source_sha256: &str, settings: &RenderSettings) -> String {
    let mut h = Sha256::new();
    h.update(source_sha256.as_bytes());
    h.update(serde_json::to_vec(settings).expect("settings serialise"));
    h.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Writes `bytes` to `path` through a temporary name and a rename, so readers never see a
/// partial file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, "create directory", e))?;
    }
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(|e| Error::io(&tmp, "write", e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, "rename", e))
}

/// Renders one file into `<out>/<run>/`.
pub fn render_file(
    path: &Path,
    settings: &RenderSettings,
    out: &Path,
    progress: &Progress,
) -> Result<RunReport> {
    let start = Instant::now();
    settings.validate()?;
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, "read", e))?;
    let sha = sha256_hex(&bytes);
    let size = bytes.len() as u64;
    drop(bytes);
    let ds = Dataset::open(path)?;
    let run = run_id(&sha, settings);
    let dir = out.join(&run);
    let specs = layer::plan(ds.entries());

    let mut failed: Vec<FailedField> = ds
        .entries()
        .iter()
        .filter_map(|e| {
            e.info.as_ref().err().map(|err| FailedField {
                field: e.index,
                layer: None,
                error: err.to_string(),
            })
        })
        .collect();

    let results: Vec<(usize, Result<LayerEntry>)> = specs
        .par_iter()
        .enumerate()
        .map(|(k, spec)| (k, render_layer(&ds, spec, settings, &dir, progress)))
        .collect();
    let mut layers = Vec::new();
    for (k, r) in results {
        match r {
            Ok(entry) => layers.push(entry),
            Err(e) => failed.push(FailedField {
                field: specs[k].sources[0],
                layer: Some(specs[k].name.clone()),
                error: e.to_string(),
            }),
        }
    }
    failed.sort_by(|a, b| (a.field, &a.layer).cmp(&(b.field, &b.layer)));
    let tiles = layers.iter().map(|l| l.tile_count).sum();
    let layer_bytes: u64 = layers.iter().map(|l| l.bytes).sum();
    let m = Manifest {
        version: manifest::MANIFEST_VERSION,
        generator: format!("tilecast {}", env!("CARGO_PKG_VERSION")),
        run: run.clone(),
        source: manifest::Source {
            key: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            sha256: sha,
            format: match ds.format() {
                crate::decode::Format::Grib2 => "grib2".into(),
                crate::decode::Format::NetCdf => "netcdf".into(),
            },
            bytes: size,
        },
        settings: settings.clone(),
        layers,
        failed: failed.clone(),
    };
    let json = pretty(&m);
    write_atomic(&dir.join("manifest.json"), &json)?;
    Ok(RunReport {
        run,
        dir,
        fields: ds.entries().len(),
        layers: m.layers.len(),
        tiles,
        bytes: layer_bytes + json.len() as u64,
        failed,
        seconds: start.elapsed().as_secs_f64(),
    })
}

fn pretty<T: serde::Serialize>(v: &T) -> Vec<u8> {
    let mut s = serde_json::to_vec_pretty(v).expect("serialisable");
    s.push(b'\n');
    s
}

/// Decodes a layer's field (deriving wind speed from u and v).
pub fn layer_field(ds: &Dataset, spec: &LayerSpec) -> Result<Field> {
    let first = ds.decode(spec.sources[0])?;
    if spec.is_wind_speed() {
        let v = ds.decode(spec.sources[1])?;
        Ok(layer::wind_speed(first, &v))
    } else {
        Ok(first)
    }
}

fn render_layer(
    ds: &Dataset,
    spec: &LayerSpec,
    settings: &RenderSettings,
    dir: &Path,
    progress: &Progress,
) -> Result<LayerEntry> {
    let field = layer_field(ds, spec)?;
    let style = layer::style(&field, settings)?;
    let tiling = settings.tiling;
    let bounds = field.grid.bounds();
    let (zmin, zmax) = layer::zooms(settings, tiling, &field.grid, bounds);
    let tiles: Vec<TileId> = (zmin..=zmax)
        .flat_map(|z| tiling.tiles_covering(z, bounds))
        .collect();
    progress
        .tiles_planned
        .fetch_add(tiles.len() as u64, Ordering::Relaxed);
    let ldir = dir.join(&spec.name);
    let sampler = Sampler::new(&field.grid, &field.values, settings.resample);

    let written: Vec<Result<u64>> = tiles
        .par_iter()
        .map(|&t| {
            let values = sampler.tile(tiling, t);
            progress.tiles_done.fetch_add(1, Ordering::Relaxed);
            if values.iter().all(|v| v.is_nan()) {
                return Ok(0);
            }
            let idx: Vec<u8> = values.iter().map(|&v| style.table.index(v)).collect();
            let colour = indexed_png(TILE_SIZE, TILE_SIZE, &idx, &style.table.entries)?;
            let data = rgba_png(TILE_SIZE, TILE_SIZE, &data_pixels(&values, style.data))?;
            let rel = format!("{}/{}/{}.png", t.z, t.x, t.y);
            write_atomic(&ldir.join(&rel), &colour)?;
            write_atomic(&ldir.join("data").join(&rel), &data)?;
            Ok(colour.len() as u64 + data.len() as u64)
        })
        .collect();
    let mut tile_count = 0u64;
    let mut bytes = 0u64;
    for w in written {
        let n = w?;
        if n > 0 {
            tile_count += 1;
            bytes += n;
        }
    }

    let full = sampler.full_frame();
    let idx: Vec<u8> = full.iter().map(|&v| style.table.index(v)).collect();
    let full_png = indexed_png(field.grid.nx, field.grid.ny, &idx, &style.table.entries)?;
    write_atomic(&ldir.join("full.png"), &full_png)?;
    let info = &field.info;
    let legend_png = legend::legend_png(&info.long_name, &info.units, &style.table)?;
    write_atomic(&ldir.join("legend.png"), &legend_png)?;
    let legend_json = pretty(&legend::legend_json(
        &info.long_name,
        &info.units,
        &style.palette,
        &style.table,
    ));
    write_atomic(&ldir.join("legend.json"), &legend_json)?;
    let name = &spec.name;
    let url = |rel: &str| format!("{}{rel}", settings.base_url);
    let tilejson = TileJson {
        tilejson: "3.0.0",
        name: name.clone(),
        description: format!(
            "{} ({}) at {}, valid {}",
            info.long_name,
            info.units,
            info.level.label,
            info.valid_time.as_deref().unwrap_or("unknown")
        ),
        version: "1.0.0",
        scheme: "xyz",
        tiles: vec![url("{z}/{x}/{y}.png")],
        minzoom: zmin,
        maxzoom: zmax,
        bounds,
        center: [
            center_lon(bounds),
            (bounds[1] + bounds[3]) / 2.0,
            zmin as f64,
        ],
        attribution: String::new(),
        crs: tiling.crs().into(),
        legend: url("legend.png"),
    };
    let tilejson_bytes = pretty(&tilejson);
    write_atomic(&ldir.join("tilejson.json"), &tilejson_bytes)?;
    bytes += (full_png.len() + legend_png.len() + legend_json.len() + tilejson_bytes.len()) as u64;
    progress.layers_done.fetch_add(1, Ordering::Relaxed);

    Ok(LayerEntry {
        name: name.clone(),
        field: spec.sources[0],
        derived_from: spec.is_wind_speed().then(|| spec.sources.clone()),
        variable: info.variable.clone(),
        long_name: info.long_name.clone(),
        units: info.units.clone(),
        standard_name: info.standard_name.clone(),
        level: info.level.clone(),
        reference_time: info.reference_time.clone(),
        valid_time: info.valid_time.clone(),
        grid: GridEntry {
            description: info.grid.clone(),
            nx: field.grid.nx,
            ny: field.grid.ny,
            definition: serde_json::to_value(&field.grid.kind).unwrap_or(serde_json::Value::Null),
        },
        packing: info.packing.clone(),
        bounds,
        tiling: tiling.name().into(),
        crs: tiling.crs().into(),
        minzoom: zmin,
        maxzoom: zmax,
        tiles: format!("{name}/{{z}}/{{x}}/{{y}}.png"),
        data_tiles: format!("{name}/data/{{z}}/{{x}}/{{y}}.png"),
        scale: style.data.scale,
        offset: style.data.offset,
        data_encoding: manifest::DataEncoding {
            formula: "value = offset + scale * (R * 256 + G); A = 0 where missing",
            scale: style.data.scale,
            offset: style.data.offset,
            units: info.units.clone(),
        },
        palette: style.palette.name.clone(),
        range: [style.table.min, style.table.max],
        value_min: style.value_range.map(|r| r.0),
        value_max: style.value_range.map(|r| r.1),
        legend: LegendUrls {
            png: format!("{name}/legend.png"),
            json: format!("{name}/legend.json"),
        },
        full_image: format!("{name}/full.png"),
        tilejson: format!("{name}/tilejson.json"),
        tile_count,
        bytes,
    })
}

fn center_lon(b: [f64; 4]) -> f64 {
    let mut e = b[2];
    if e < b[0] {
        e += 360.0;
    }
    crate::grid::norm180((b[0] + e) / 2.0)
}
