//! Planning a run: which layers a file yields and how their tiles split into jobs.
//!
//! The plan is the single description both shapes of tilecast execute: `tilecast render`
//! runs every job in-process, the chunker publishes them to RabbitMQ. A job is one layer ×
//! a set of tile ranges, sized to about a second of work: all the low zooms together, then
//! rectangles of the higher zooms. Planning reads grids, never values.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use std::path::Path;

use crate::decode::{FieldSource, FileFields, Format};
use crate::error::{Error, Result};
use crate::geo::tiling::{TileId, Tiling};
use crate::run::layer;
use crate::run::manifest::{FailedField, Source};
use crate::run::publish::BaseUrl;
use crate::settings::RenderSettings;

pub const PLAN_VERSION: u32 = 1;

/// Default number of tiles per job: about a second of one core.
pub const DEFAULT_JOB_TILES: usize = 128;

/// A field a layer is made from: its index in the file and where its bytes are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceRef {
    pub field: usize,
    pub location: FieldSource,
}

/// An inclusive rectangle of tiles at one zoom.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TileRange {
    pub z: u8,
    pub x0: u32,
    pub x1: u32,
    pub y0: u32,
    pub y1: u32,
}

impl TileRange {
    pub fn len(&self) -> usize {
        ((self.x1 - self.x0 + 1) as usize) * ((self.y1 - self.y0 + 1) as usize)
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    pub fn tiles(&self) -> impl Iterator<Item = TileId> + '_ {
        (self.x0..=self.x1)
            .flat_map(move |x| (self.y0..=self.y1).map(move |y| TileId { z: self.z, x, y }))
    }

    /// Within the tile matrix of `tiling` at its zoom.
    pub fn is_valid(&self, tiling: Tiling) -> bool {
        if self.z > crate::settings::MAX_ZOOM {
            return false;
        }
        let (cols, rows) = tiling.matrix(self.z);
        self.x0 <= self.x1 && self.y0 <= self.y1 && self.x1 < cols && self.y1 < rows
    }
}

/// One job of a layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobPart {
    pub id: String,
    pub tiles: Vec<TileRange>,
    /// This job also writes the layer's full-frame image, legend and TileJSON documents, and
    /// returns the layer's manifest entry.
    pub meta: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerPlan {
    pub name: String,
    pub sources: Vec<SourceRef>,
    pub minzoom: u8,
    pub maxzoom: u8,
    /// The highest zoom of the layer's data tiles; absent in plans from before data tiles
    /// stopped at the native zoom (then `maxzoom`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_maxzoom: Option<u8>,
    pub jobs: Vec<JobPart>,
    /// The sources of the first layer (by valid time, then plan order) of the same series in
    /// this file, when that is another layer: a colour range taken from the data is taken
    /// from that layer's data, so every step of the file proposes the same range for the
    /// series (see [`crate::run::catalog::series::agreed_range`]). Not in any job id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series_lead: Option<Vec<SourceRef>>,
}

/// Everything needed to render a file and to know when the run is complete.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunPlan {
    pub version: u32,
    pub run: String,
    pub source: Source,
    /// Where workers read the file from (a path or URI).
    pub source_uri: String,
    /// The object-store ETag of the bytes that were planned: workers read byte ranges only
    /// while the object still has it, so a replaced object is never read with old offsets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_etag: Option<String>,
    pub settings: RenderSettings,
    /// The public URL of the output root, for the TileJSON documents: publication metadata,
    /// in no run id or job id. The caller sets it after planning ([`plan_run`] leaves it
    /// `None`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<BaseUrl>,
    pub layers: Vec<LayerPlan>,
    /// Fields the inventory already knows cannot be rendered.
    pub failed: Vec<FailedField>,
}

impl RunPlan {
    pub fn job_count(&self) -> usize {
        self.layers.iter().map(|l| l.jobs.len()).sum()
    }
}

/// Hex sha256 and size of a regular file, read as a stream (a file is never held in memory).
pub fn sha256_file(path: &Path) -> Result<(String, u64)> {
    use std::io::Read;
    let (mut f, _) = crate::io::input::open_file(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut n = 0u64;
    loop {
        let k = f
            .read(&mut buf)
            .map_err(|e| crate::error::Error::io(path, "read", e))?;
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        n += k as u64;
    }
    Ok((hex(&h.finalize()), n))
}

/// The manifest's description of a source file.
pub fn source_of(path: &Path, sha256: String, bytes: u64, format: Format) -> Source {
    Source {
        key: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        sha256,
        format: format.name().into(),
        bytes,
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

/// The run id: stable for the same input bytes and settings.
pub fn run_id(source_sha256: &str, settings: &RenderSettings) -> String {
    let mut h = Sha256::new();
    h.update(source_sha256.as_bytes());
    h.update(serde_json::to_vec(settings).expect("settings serialise"));
    hex(&h.finalize()[..8])
}

/// A job id: the same source, layer, fields, tiles and settings always give the same id, so
/// publishing a plan twice publishes the same jobs.
pub fn job_id(
    source_sha256: &str,
    layer: &LayerPlan,
    tiles: &[TileRange],
    meta: bool,
    settings: &RenderSettings,
) -> String {
    let mut h = Sha256::new();
    h.update(source_sha256.as_bytes());
    h.update(layer.name.as_bytes());
    h.update(serde_json::to_vec(&layer.sources).expect("serialise"));
    h.update(serde_json::to_vec(tiles).expect("serialise"));
    h.update([meta as u8]);
    h.update(serde_json::to_vec(settings).expect("serialise"));
    hex(&h.finalize()[..16])
}

/// Plans a run over a file's catalog.
pub fn plan_run(
    ds: &dyn FileFields,
    source: Source,
    source_uri: String,
    settings: &RenderSettings,
    job_tiles: usize,
) -> Result<RunPlan> {
    settings.validate()?;
    let run = run_id(&source.sha256, settings);
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
    let mut layers = Vec::new();
    let max_tiles = crate::limits::get().max_tiles;
    let mut planned_tiles = 0u64;
    // Each planned layer's series id and valid time, in plan order.
    let mut series_keys: Vec<(String, Option<String>)> = Vec::new();
    for spec in layer::plan(ds.entries()) {
        if !crate::run::job::is_name(&spec.name) {
            // Its jobs could not be sent: the name is a path segment and a message member.
            failed.push(FailedField {
                field: spec.sources[0],
                error: format!(
                    "{}: field {}: layer name {:?} is not usable ({})",
                    ds.path().display(),
                    spec.sources[0],
                    spec.name.chars().take(64).collect::<String>(),
                    crate::run::job::NAME_RULE
                ),
                layer: Some(spec.name),
            });
            continue;
        }
        let grid = match ds.grid(spec.sources[0]) {
            Ok(g) => g,
            Err(e) => {
                failed.push(FailedField {
                    field: spec.sources[0],
                    layer: Some(spec.name),
                    error: e.to_string(),
                });
                continue;
            }
        };
        let bounds = grid.bounds();
        let (minzoom, maxzoom) = layer::zooms(settings, settings.tiling, &grid, bounds);
        let data_maxzoom =
            layer::data_maxzoom(settings, settings.tiling, &grid, bounds, (minzoom, maxzoom));
        // Counted before any tile is listed: a deep zoom range must not plan itself out of
        // memory.
        planned_tiles = (minzoom..=maxzoom).fold(planned_tiles, |n, z| {
            n.saturating_add(settings.tiling.count_covering(z, bounds))
        });
        if planned_tiles > max_tiles {
            return Err(Error::OverLimit {
                path: ds.path().to_owned(),
                subject: format!("plan (zoom {minzoom}-{maxzoom}, at layer {})", spec.name),
                what: "tiles",
                declared: planned_tiles,
                limit: max_tiles,
                flag: "--max-tiles",
            });
        }
        let sources = spec
            .sources
            .iter()
            .map(|&k| SourceRef {
                field: k,
                location: ds.entries()[k]
                    .info
                    .as_ref()
                    .expect("planned from decodable entries")
                    .source
                    .clone(),
            })
            .collect();
        let info = ds.entries()[spec.sources[0]]
            .info
            .as_ref()
            .expect("planned from decodable entries");
        let variable = if spec.sources.len() > 1 {
            "wind_speed"
        } else {
            info.variable.as_str()
        };
        series_keys.push((
            crate::run::catalog::series::id_of(
                variable,
                &info.level.label,
                settings.tiling.name(),
                &serde_json::to_value(&grid.kind).unwrap_or(serde_json::Value::Null),
                grid.nx,
                grid.ny,
            ),
            info.valid_time.clone(),
        ));
        let mut lp = LayerPlan {
            name: spec.name,
            sources,
            minzoom,
            maxzoom,
            data_maxzoom: Some(data_maxzoom),
            jobs: Vec::new(),
            series_lead: None,
        };
        let chunks = split(settings.tiling, bounds, minzoom, maxzoom, job_tiles.max(1));
        for (k, tiles) in chunks.into_iter().enumerate() {
            let meta = k == 0;
            let id = job_id(&source.sha256, &lp, &tiles, meta, settings);
            lp.jobs.push(JobPart { id, tiles, meta });
        }
        layers.push(lp);
    }
    set_series_leads(&mut layers, &series_keys);
    failed.sort_by(|a, b| (a.field, &a.layer).cmp(&(b.field, &b.layer)));
    Ok(RunPlan {
        version: PLAN_VERSION,
        run,
        source,
        source_uri,
        source_etag: None,
        settings: settings.clone(),
        base_url: None,
        layers,
        failed,
    })
}

/// Splits the tiles covering `bounds` at zooms `zmin..=zmax` into chunks of at most `budget`
/// tiles: whole zooms while they fit together, then rectangles. Always at least one chunk.
pub fn split(
    tiling: Tiling,
    bounds: [f64; 4],
    zmin: u8,
    zmax: u8,
    budget: usize,
) -> Vec<Vec<TileRange>> {
    let mut chunks: Vec<Vec<TileRange>> = Vec::new();
    let mut current: Vec<TileRange> = Vec::new();
    let mut count = 0usize;
    for z in zmin..=zmax {
        let ranges: Vec<TileRange> = tiling
            .covering_rects(z, bounds)
            .into_iter()
            .map(|[x0, x1, y0, y1]| TileRange { z, x0, x1, y0, y1 })
            .collect();
        let n: usize = ranges.iter().map(TileRange::len).sum();
        if count + n <= budget {
            current.extend(ranges);
            count += n;
            continue;
        }
        if !current.is_empty() {
            chunks.push(std::mem::take(&mut current));
            count = 0;
        }
        if n <= budget {
            current.extend(ranges);
            count = n;
            continue;
        }
        for r in ranges {
            let rows = (r.y1 - r.y0 + 1) as usize;
            let h = rows.min(budget);
            let w = (budget / h).max(1);
            let mut x = r.x0;
            while x <= r.x1 {
                let x1 = (x + w as u32 - 1).min(r.x1);
                let mut y = r.y0;
                while y <= r.y1 {
                    let y1 = (y + h as u32 - 1).min(r.y1);
                    chunks.push(vec![TileRange {
                        z,
                        x0: x,
                        x1,
                        y0: y,
                        y1,
                    }]);
                    y = y1 + 1;
                }
                x = x1 + 1;
            }
        }
    }
    if !current.is_empty() || chunks.is_empty() {
        chunks.push(current);
    }
    chunks
}

/// Points every layer at the first layer of its series in the file (earliest valid time,
/// then plan order), unless it is that layer.
fn set_series_leads(layers: &mut [LayerPlan], keys: &[(String, Option<String>)]) {
    let mut lead: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for (k, (id, time)) in keys.iter().enumerate() {
        let e = lead.entry(id).or_insert(k);
        if *time < keys[*e].1 {
            *e = k;
        }
    }
    for (k, (id, _)) in keys.iter().enumerate() {
        let l = lead[id.as_str()];
        if l != k {
            layers[k].series_lead = Some(layers[l].sources.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_cover_every_tile_once_within_budget() {
        let bounds = [-130.0, 20.0, -60.0, 55.0];
        let chunks = split(Tiling::WebMercator, bounds, 0, 7, 64);
        let mut seen = std::collections::BTreeSet::new();
        for c in &chunks {
            let n: usize = c.iter().map(TileRange::len).sum();
            assert!(n <= 64, "chunk of {n}");
            for r in c {
                for t in r.tiles() {
                    assert!(seen.insert(t), "{t:?} twice");
                }
            }
        }
        let want: std::collections::BTreeSet<TileId> = (0..=7)
            .flat_map(|z| Tiling::WebMercator.tiles_covering(z, bounds))
            .collect();
        assert_eq!(seen, want);
        assert!(
            chunks[0].iter().any(|r| r.z == 0),
            "low zooms come first, together"
        );
    }

    #[test]
    fn antimeridian_coverage_makes_two_rectangles() {
        let chunks = split(Tiling::WebMercator, [170.0, -10.0, -170.0, 10.0], 3, 3, 64);
        assert_eq!(chunks.len(), 1);
        assert_eq!(chunks[0].len(), 2);
    }
}
