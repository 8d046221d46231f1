//! Executing plans: rendering a job's tiles (and, for a layer's first job, its full-frame
//! image, legend and TileJSON), assembling the manifest from job results, and the local
//! `render_file` that does all of it in one process.
//!
//! The worker and `tilecast render` run the same functions on the same plan, so they write
//! the same bytes. Progress is published through [`Progress`] counters a caller may poll.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use rayon::prelude::*;

use crate::decode::{inventory, Catalog, Field, FieldInfo, Inventory};
use crate::encode::{data_pixels, indexed_png, rgba_png};
use crate::error::{Error, Result};
use crate::job::{JobResult, StageSeconds, JOB_VERSION};
use crate::layer::{self, Styling};
use crate::legend;
use crate::manifest::{self, FailedField, GridEntry, LayerEntry, LegendUrls, Manifest, TileJson};
use crate::plan::{self, LayerPlan, RunPlan, TileRange};
use crate::resample::Sampler;
use crate::settings::RenderSettings;
use crate::store::{PutMeta, Store};
use crate::tiling::TILE_SIZE;

pub use crate::plan::run_id;

/// Counters a caller can poll from another thread to draw a progress bar, and the caller's
/// way to stop the work: rendering checks [`Progress::stopped`] between tiles.
#[derive(Debug, Default)]
pub struct Progress {
    pub tiles_planned: AtomicU64,
    pub tiles_done: AtomicU64,
    pub layers_done: AtomicU64,
    stop: AtomicBool,
}

impl Progress {
    /// Asks the work to stop: tiles not yet started are not rendered, and the job ends with
    /// [`Error::Stopped`] before writing anything more (within a tile's time).
    pub fn request_stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    fn check(&self) -> Result<()> {
        if self.stopped() {
            Err(Error::Stopped)
        } else {
            Ok(())
        }
    }
}

/// What one run produced.
#[derive(Debug)]
pub struct RunReport {
    pub run: String,
    /// Where the run was written: `<out>/<run>`.
    pub location: String,
    /// Fields in the file (decodable or not).
    pub fields: usize,
    pub layers: usize,
    pub tiles: u64,
    pub bytes: u64,
    pub failed: Vec<FailedField>,
    pub seconds: f64,
}

fn pretty<T: serde::Serialize>(v: &T) -> Vec<u8> {
    let mut s = serde_json::to_vec_pretty(v).expect("serialisable");
    s.push(b'\n');
    s
}

/// A layer's field made ready to render: sampler, styling and bounds.
pub struct Prepared {
    pub info: FieldInfo,
    pub sampler: Sampler,
    pub style: Styling,
    pub bounds: [f64; 4],
}

/// Combines a layer's decoded fields (u and v give wind speed) and prepares them.
pub fn prepare(mut fields: Vec<Field>, settings: &RenderSettings) -> Result<Prepared> {
    let first = fields.remove(0);
    let field = match fields.pop() {
        Some(v) => layer::wind_speed(first, &v),
        None => first,
    };
    let style = layer::style(&field, settings)?;
    let bounds = field.grid.bounds();
    Ok(Prepared {
        info: field.info,
        sampler: Sampler::new(field.grid, field.values, settings.resample),
        style,
        bounds,
    })
}

/// Renders the tiles of `ranges` into `<run>/<layer>/` of `out`. Returns (tiles written,
/// bytes, stage seconds). Tiles with no data at all are not written. Writes may still be in
/// flight on return: see [`Store::flush`] ([`run_job`] flushes).
pub fn render_tiles(
    p: &Prepared,
    layer: &str,
    ranges: &[TileRange],
    settings: &RenderSettings,
    out: &dyn Store,
    run: &str,
    progress: &Progress,
) -> Result<(u64, u64, StageSeconds)> {
    let tiles: Vec<_> = ranges.iter().flat_map(|r| r.tiles()).collect();
    let written: Vec<(u64, [f64; 3])> = tiles
        .par_iter()
        .map(|&t| {
            progress.check()?;
            let t0 = Instant::now();
            let values = p.sampler.tile(settings.tiling, t);
            let t1 = Instant::now();
            progress.tiles_done.fetch_add(1, Ordering::Relaxed);
            if values.iter().all(|v| v.is_nan()) {
                return Ok((0, [(t1 - t0).as_secs_f64(), 0.0, 0.0]));
            }
            let idx: Vec<u8> = values.iter().map(|&v| p.style.table.index(v)).collect();
            let colour = indexed_png(TILE_SIZE, TILE_SIZE, &idx, &p.style.table.entries)?;
            let data = rgba_png(TILE_SIZE, TILE_SIZE, &data_pixels(&values, p.style.data))?;
            let t2 = Instant::now();
            let rel = format!("{}/{}/{}.png", t.z, t.x, t.y);
            let size = colour.len() as u64 + data.len() as u64;
            out.put_async(&format!("{run}/{layer}/{rel}"), colour, PutMeta::PNG)?;
            out.put_async(&format!("{run}/{layer}/data/{rel}"), data, PutMeta::PNG)?;
            let t3 = Instant::now();
            let secs = [
                (t1 - t0).as_secs_f64(),
                (t2 - t1).as_secs_f64(),
                (t3 - t2).as_secs_f64(),
            ];
            Ok((size, secs))
        })
        .collect::<Result<_>>()?;
    let (mut count, mut bytes) = (0u64, 0u64);
    let mut seconds = StageSeconds::default();
    for (n, [r, e, wr]) in written {
        seconds.render += r;
        seconds.encode += e;
        seconds.write += wr;
        if n > 0 {
            count += 1;
            bytes += n;
        }
    }
    Ok((count, bytes, seconds))
}

/// Writes a layer's full-frame image, legend and TileJSON; returns its manifest entry (tile
/// count and bytes cover these files only; [`assemble`] adds the tiles).
pub fn render_meta(
    p: &Prepared,
    layer: &LayerPlan,
    settings: &RenderSettings,
    out: &dyn Store,
    run: &str,
) -> Result<LayerEntry> {
    let put = |name: &str, bytes: &[u8]| {
        let key = format!("{run}/{}/{name}", layer.name);
        out.put_async(&key, bytes.to_vec(), PutMeta::for_key(&key))
    };
    let grid = p.sampler.grid();
    let full = p.sampler.full_frame();
    let idx: Vec<u8> = full.iter().map(|&v| p.style.table.index(v)).collect();
    let full_png = indexed_png(grid.nx, grid.ny, &idx, &p.style.table.entries)?;
    put("full.png", &full_png)?;
    let info = &p.info;
    let legend_png = legend::legend_png(&info.long_name, &info.units, &p.style.table)?;
    put("legend.png", &legend_png)?;
    let legend_json = pretty(&legend::legend_json(
        &info.long_name,
        &info.units,
        &p.style.palette,
        &p.style.table,
    ));
    put("legend.json", &legend_json)?;
    let name = &layer.name;
    let tiling = settings.tiling;
    let bounds = p.bounds;
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
        minzoom: layer.minzoom,
        maxzoom: layer.maxzoom,
        bounds,
        center: [
            center_lon(bounds),
            (bounds[1] + bounds[3]) / 2.0,
            layer.minzoom as f64,
        ],
        attribution: String::new(),
        crs: tiling.crs().into(),
        legend: url("legend.png"),
    };
    let tilejson_bytes = pretty(&tilejson);
    put("tilejson.json", &tilejson_bytes)?;
    let bytes =
        (full_png.len() + legend_png.len() + legend_json.len() + tilejson_bytes.len()) as u64;
    let data = p.style.data;
    Ok(LayerEntry {
        name: name.clone(),
        field: layer.sources[0].field,
        derived_from: (layer.sources.len() > 1)
            .then(|| layer.sources.iter().map(|s| s.field).collect()),
        variable: info.variable.clone(),
        long_name: info.long_name.clone(),
        units: info.units.clone(),
        standard_name: info.standard_name.clone(),
        level: info.level.clone(),
        reference_time: info.reference_time.clone(),
        valid_time: info.valid_time.clone(),
        grid: GridEntry {
            description: info.grid.clone(),
            nx: grid.nx,
            ny: grid.ny,
            definition: serde_json::to_value(&grid.kind).unwrap_or(serde_json::Value::Null),
        },
        packing: info.packing.clone(),
        bounds,
        tiling: tiling.name().into(),
        crs: tiling.crs().into(),
        minzoom: layer.minzoom,
        maxzoom: layer.maxzoom,
        tiles: format!("{name}/{{z}}/{{x}}/{{y}}.png"),
        data_tiles: format!("{name}/data/{{z}}/{{x}}/{{y}}.png"),
        scale: data.scale,
        offset: data.offset,
        data_encoding: manifest::DataEncoding {
            formula: "value = offset + scale * (R * 256 + G); A = 0 where missing".into(),
            scale: data.scale,
            offset: data.offset,
            units: info.units.clone(),
        },
        palette: p.style.palette.name.clone(),
        range: [p.style.table.min, p.style.table.max],
        value_min: p.style.value_range.map(|r| r.0),
        value_max: p.style.value_range.map(|r| r.1),
        legend: LegendUrls {
            png: format!("{name}/legend.png"),
            json: format!("{name}/legend.json"),
        },
        full_image: format!("{name}/full.png"),
        tilejson: format!("{name}/tilejson.json"),
        tile_count: 0,
        bytes,
    })
}

/// Runs one job of a prepared layer.
#[allow(clippy::too_many_arguments)]
pub fn run_job(
    p: &Prepared,
    run: &str,
    layer: &LayerPlan,
    job: &plan::JobPart,
    settings: &RenderSettings,
    out: &dyn Store,
    progress: &Progress,
    mut seconds: StageSeconds,
) -> Result<JobResult> {
    let (tiles, mut bytes, s) =
        render_tiles(p, &layer.name, &job.tiles, settings, out, run, progress)?;
    seconds.render += s.render;
    seconds.encode += s.encode;
    seconds.write += s.write;
    progress.check()?;
    let entry = if job.meta {
        let e = render_meta(p, layer, settings, out, run)?;
        bytes += e.bytes;
        Some(e)
    } else {
        None
    };
    // A result vouches for its outputs: every one is stored before it exists.
    let t0 = Instant::now();
    out.flush()?;
    progress.check()?;
    seconds.write += t0.elapsed().as_secs_f64();
    Ok(JobResult {
        version: JOB_VERSION,
        job: job.id.clone(),
        run: run.to_string(),
        layer: layer.name.clone(),
        tiles,
        bytes,
        entry,
        seconds,
        outcome: "done".into(),
    })
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
        version: manifest::MANIFEST_VERSION,
        generator: format!("tilecast {}", env!("CARGO_PKG_VERSION")),
        run: plan.run.clone(),
        source: plan.source.clone(),
        settings: plan.settings.clone(),
        layers,
        failed,
    })
}

/// Serialises a manifest as written to `manifest.json`.
pub fn manifest_bytes(m: &Manifest) -> Vec<u8> {
    pretty(m)
}

/// Plans a local file: reads it once for its hash and once, a message at a time, for its
/// inventory; never holds it in memory.
pub fn plan_file(
    path: &Path,
    settings: &RenderSettings,
    job_tiles: usize,
) -> Result<(Inventory, RunPlan)> {
    let (sha256, size) = plan::sha256_file(path)?;
    let ds = inventory(path)?;
    let source = plan::source_of(path, sha256, size, ds.format());
    let plan = plan::plan_run(
        &ds,
        source,
        path.to_string_lossy().into_owned(),
        settings,
        job_tiles,
    )?;
    Ok((ds, plan))
}

/// A layer's job results, and the jobs that failed with their reasons.
type LayerOutcome = (Vec<JobResult>, Vec<(String, String)>);

/// Renders one local file into `<out>/<run>/`, in this process.
pub fn render_file(
    path: &Path,
    settings: &RenderSettings,
    out: &dyn Store,
    progress: &Progress,
) -> Result<RunReport> {
    let start = Instant::now();
    let (ds, plan) = plan_file(path, settings, plan::DEFAULT_JOB_TILES)?;
    for l in &plan.layers {
        let n: usize = l
            .jobs
            .iter()
            .flat_map(|j| &j.tiles)
            .map(TileRange::len)
            .sum();
        progress
            .tiles_planned
            .fetch_add(n as u64, Ordering::Relaxed);
    }
    let outcomes: Vec<LayerOutcome> = plan
        .layers
        .par_iter()
        .map(|l| {
            let t0 = Instant::now();
            let prepared = l
                .sources
                .iter()
                .map(|s| ds.decode(s.field))
                .collect::<Result<Vec<_>>>()
                .and_then(|fields| prepare(fields, &plan.settings));
            let seconds = StageSeconds {
                decode: t0.elapsed().as_secs_f64(),
                ..Default::default()
            };
            let out = match prepared {
                Err(e) => (
                    Vec::new(),
                    l.jobs
                        .iter()
                        .map(|j| (j.id.clone(), e.to_string()))
                        .collect(),
                ),
                Ok(p) => {
                    let rs: Vec<Result<JobResult>> = l
                        .jobs
                        .par_iter()
                        .map(|j| {
                            run_job(
                                &p,
                                &plan.run,
                                l,
                                j,
                                &plan.settings,
                                out,
                                progress,
                                seconds.clone(),
                            )
                        })
                        .collect();
                    let mut ok = Vec::new();
                    let mut dead = Vec::new();
                    for (j, r) in l.jobs.iter().zip(rs) {
                        match r {
                            Ok(r) => ok.push(r),
                            Err(e) => dead.push((j.id.clone(), e.to_string())),
                        }
                    }
                    (ok, dead)
                }
            };
            progress.layers_done.fetch_add(1, Ordering::Relaxed);
            out
        })
        .collect();
    let mut results = BTreeMap::new();
    let mut dead = BTreeMap::new();
    for (ok, bad) in outcomes {
        for r in ok {
            results.insert(r.job.clone(), r);
        }
        dead.extend(bad);
    }
    // A stopped render is unfinished, not failed: it gets no manifest.
    progress.check()?;
    let m = assemble(&plan, &results, &dead).expect("every job has a result or an error");
    let json = manifest_bytes(&m);
    let bytes = json.len() as u64;
    // Written last: a reader that finds the manifest finds every tile it lists.
    out.put(&format!("{}/manifest.json", plan.run), json, PutMeta::JSON)?;
    if let Some(root) = out.local_root() {
        // Leave no empty bookkeeping directories behind a local render.
        let _ = std::fs::remove_dir(crate::store::tmp_dir(root));
        let _ = std::fs::remove_dir(root.join(".tilecast"));
    }
    Ok(RunReport {
        location: out.url(&plan.run),
        run: plan.run.clone(),
        fields: ds.entries().len(),
        layers: m.layers.len(),
        tiles: m.layers.iter().map(|l| l.tile_count).sum(),
        bytes: m.layers.iter().map(|l| l.bytes).sum::<u64>() + bytes,
        failed: m.failed.clone(),
        seconds: start.elapsed().as_secs_f64(),
    })
}

fn center_lon(b: [f64; 4]) -> f64 {
    let mut e = b[2];
    if e < b[0] {
        e += 360.0;
    }
    crate::grid::norm180((b[0] + e) / 2.0)
}
