//! Executing jobs: the one path from a [`Job`] to its tiles, its layer's full-frame image,
//! whole-field images, legend and TileJSON documents, and its [`JobResult`] or [`Failure`].
//!
//! The worker runs [`execute`] on a job from the queue; `tilecast render` runs the same
//! function on every job of its own plan ([`crate::run::local`]). Both read fields through a
//! [`JobInput`], so the outputs, the results and the reasons jobs fail are the same whichever
//! shape ran them. Progress is published through [`Progress`] counters a caller may poll, and
//! a caller stops the work through it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use rayon::prelude::*;

use crate::decode::{Field, FieldInfo, WindFrame};
use crate::error::{Error, Result};
use crate::geo::tiling::TILE_SIZE;
use crate::geo::wind;
use crate::io::pmtiles::tile_id;
use crate::io::store::{PutMeta, Store};
use crate::render::encode::{data_pixels, indexed_png, rgba_png};
use crate::render::range::RangeSource;
use crate::render::resample::Sampler;
use crate::run::archive::part::{self, PartTile};
use crate::run::archive::{part_key, COLOUR_ARCHIVE, DATA_ARCHIVE};
use crate::run::catalog::series;
use crate::run::images::{self, Components};
use crate::run::job::{Job, JobResult, StageSeconds, JOB_VERSION};
use crate::run::layer::{self, Styling};
use crate::run::manifest::{GridEntry, LayerEntry, LegendUrls};
use crate::run::plan::{SourceRef, TileRange};
use crate::run::publish::{DataEncoding, LayerDocs};
use crate::settings::Images;

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

    pub(crate) fn check(&self) -> Result<()> {
        if self.stopped() {
            Err(Error::Stopped)
        } else {
            Ok(())
        }
    }
}

fn pretty<T: serde::Serialize>(v: &T) -> Vec<u8> {
    let mut s = serde_json::to_vec_pretty(v).expect("serialisable");
    s.push(b'\n');
    s
}

/// Where a job's fields come from: the worker reads them from its ingest roots (local
/// files or a bucket), `tilecast render` from the file it planned.
pub trait JobInput: Sync {
    /// Reads and decodes one of the job's fields. Errors name the file and the field's index
    /// in the whole file.
    fn read(&self, job: &Job, source: &SourceRef) -> Result<InputField>;
}

/// A decoded field and the seconds spent fetching its bytes (0 when they were local).
pub struct InputField {
    pub field: Field,
    pub fetch_seconds: f64,
}

/// A job's field made ready to render: sampler, styling and bounds, and the seconds spent
/// getting there.
pub struct Prepared {
    pub info: FieldInfo,
    pub sampler: Sampler,
    pub style: Styling,
    pub bounds: [f64; 4],
    /// A wind layer's u and v, kept when its meta job writes whole-field images.
    pub components: Option<Components>,
    /// A wind layer's component frame, as the manifest reports it.
    pub wind_frame: Option<String>,
    pub seconds: StageSeconds,
}

/// Reads the job's fields, combines them (u and v give wind speed) and styles the result.
/// Depends on the job's layer only, not its tiles: every job of a layer prepares the same.
/// A colour range that would come from the data is the one the layer's series agreed on
/// (`out`'s `.tilecast/ranges/`, [`series::agreed_range`]): the first step's.
pub fn prepare(job: &Job, input: &dyn JobInput, out: &dyn Store) -> Result<Prepared> {
    let t0 = Instant::now();
    let mut fetch = 0.0;
    let mut fields = Vec::with_capacity(job.fields.len());
    for s in &job.fields {
        let f = input.read(job, s)?;
        fetch += f.fetch_seconds;
        fields.push(f.field);
    }
    let first = fields.remove(0);
    let keep = job.meta && !job.settings.images.is_none();
    let mut components = None;
    let mut wind_frame = None;
    let field = match fields.pop() {
        Some(v) => {
            let mut frames = [first.info.wind_frame, v.info.wind_frame];
            wind_frame = Some(frame_name(frames, false));
            if keep {
                let (mut u, mut vv) = (first.values.clone(), v.values.clone());
                // Grid-relative components turn to east and north for the vector image
                // (the speed is the same either way).
                if frames == [Some(WindFrame::Grid); 2]
                    && wind::to_earth(&first.grid, &mut u, &mut vv)
                {
                    frames = [Some(WindFrame::Earth); 2];
                    wind_frame = Some(frame_name(frames, true));
                }
                components = Some(Components { u, v: vv, frames });
            }
            layer::wind_speed(first, &v)
        }
        None => first,
    };
    let mut style = layer::style(&field, &job.settings, None)?;
    if style.range_source == RangeSource::Data {
        let id = series::id_of(
            &field.info.variable,
            &field.info.level.label,
            job.settings.tiling.name(),
            &serde_json::to_value(&field.grid.kind).unwrap_or(serde_json::Value::Null),
            field.grid.nx,
            field.grid.ny,
        );
        let mine = [style.table.min, style.table.max];
        // Every step of the file proposes its first step's range, so which one reaches the
        // series' record first changes nothing; once the record exists, nobody proposes.
        let propose = || match &job.series_lead {
            Some(lead) => Ok(lead_range(job, input, lead)?.unwrap_or(mine)),
            None => Ok(mine),
        };
        let [lo, hi] = series::agreed_range(out, &id, &field.info.units, propose)?;
        // The first step too: every step's legend then says the range is the series'.
        style = layer::style(&field, &job.settings, Some((lo, hi)))?;
    }
    let bounds = field.grid.bounds();
    let sampler = Sampler::new(field.grid, field.values, job.settings.resample);
    Ok(Prepared {
        wind_frame,
        info: field.info,
        sampler,
        style,
        bounds,
        components,
        seconds: StageSeconds {
            fetch,
            decode: t0.elapsed().as_secs_f64() - fetch,
            ..Default::default()
        },
    })
}

/// The manifest's words for a wind layer's component frame.
fn frame_name(frames: [Option<WindFrame>; 2], turned: bool) -> String {
    match frames {
        _ if turned => "earth (turned from grid-relative)",
        [Some(WindFrame::Earth), Some(WindFrame::Earth)] => "earth",
        f if f.contains(&Some(WindFrame::Grid)) => "grid",
        _ => "unknown",
    }
    .into()
}

/// The data-driven colour range of the series' first layer in the file (`None` when that
/// layer's range does not come from its data).
fn lead_range(job: &Job, input: &dyn JobInput, lead: &[SourceRef]) -> Result<Option<[f64; 2]>> {
    let mut fields = lead
        .iter()
        .map(|s| input.read(job, s).map(|f| f.field))
        .collect::<Result<Vec<_>>>()?;
    let first = fields.remove(0);
    let field = match fields.pop() {
        Some(v) => layer::wind_speed(first, &v),
        None => first,
    };
    let style = layer::style(&field, &job.settings, None)?;
    Ok((style.range_source == RangeSource::Data).then_some([style.table.min, style.table.max]))
}

/// Why a job failed, as recorded in the manifest's `failed[]` and a dead letter's headers.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// The error's message, at most [`MAX_REASON_CHARS`] characters.
    pub reason: String,
    /// Retrying cannot help: the job is dead-lettered rather than requeued.
    pub permanent: bool,
}

/// Longest failure reason kept: a reason travels in a message header and the manifest.
pub const MAX_REASON_CHARS: usize = 2000;

impl Failure {
    /// The error's text; for an I/O error with the operating system's reason ("...: write:
    /// No space left on device (os error 28)"), which its text alone leaves out.
    pub fn of(e: &Error) -> Failure {
        let reason = match e {
            Error::Io { source, .. } => format!("{e}: {source}"),
            _ => e.to_string(),
        };
        Failure {
            reason: reason.chars().take(MAX_REASON_CHARS).collect(),
            permanent: e.is_permanent(),
        }
    }
}

/// How a job ended.
#[derive(Debug)]
pub enum Outcome {
    Done(Box<JobResult>),
    Failed(Failure),
}

/// Runs a job from its fields to its result: the executor of both shapes of tilecast.
pub fn execute(job: &Job, input: &dyn JobInput, out: &dyn Store, progress: &Progress) -> Outcome {
    match prepare(job, input, out).and_then(|p| execute_prepared(&p, job, out, progress)) {
        Ok(r) => Outcome::Done(Box::new(r)),
        Err(e) => Outcome::Failed(Failure::of(&e)),
    }
}

/// Runs a job whose layer is already prepared ([`prepare`]); `tilecast render` prepares a
/// layer once for all its jobs. Every output is stored when this returns: a result vouches
/// for its outputs.
pub fn execute_prepared(
    p: &Prepared,
    job: &Job,
    out: &dyn Store,
    progress: &Progress,
) -> Result<JobResult> {
    let mut seconds = p.seconds.clone();
    let (tiles, mut bytes, s) = render_tiles(p, job, out, progress)?;
    seconds.render += s.render;
    seconds.encode += s.encode;
    seconds.write += s.write;
    progress.check()?;
    let entry = if job.meta {
        let e = render_meta(p, job, out)?;
        bytes += e.bytes;
        Some(e)
    } else {
        None
    };
    let t0 = Instant::now();
    out.flush()?;
    progress.check()?;
    seconds.write += t0.elapsed().as_secs_f64();
    Ok(JobResult {
        version: JOB_VERSION,
        job: job.id.clone(),
        run: job.run.clone(),
        layer: job.layer.clone(),
        tiles,
        bytes,
        entry,
        seconds,
        outcome: "done".into(),
    })
}

/// Renders the job's tiles into `<run>/<layer>/`. Returns (tiles written, bytes, stage
/// seconds). Tiles with no data at all are not written. Writes may still be in flight on
/// return: see [`Store::flush`].
fn render_tiles(
    p: &Prepared,
    job: &Job,
    out: &dyn Store,
    progress: &Progress,
) -> Result<(u64, u64, StageSeconds)> {
    let settings = &job.settings;
    let (run, layer) = (&job.run, &job.layer);
    let data_maxzoom = job.data_maxzoom();
    let tiles: Vec<_> = job.tiles.iter().flat_map(TileRange::tiles).collect();
    let format = settings.format;
    let written: Vec<(u64, [f64; 3], Option<PartTile>)> = tiles
        .par_iter()
        .map(|&t| {
            progress.check()?;
            let t0 = Instant::now();
            let values = p.sampler.tile(settings.tiling, t);
            let t1 = Instant::now();
            progress.tiles_done.fetch_add(1, Ordering::Relaxed);
            if values.iter().all(|v| v.is_nan()) {
                return Ok((0, [(t1 - t0).as_secs_f64(), 0.0, 0.0], None));
            }
            let idx = p.style.table.indices(&values);
            let colour = indexed_png(TILE_SIZE, TILE_SIZE, &idx, &p.style.table.entries)?;
            // Data tiles stop at the layer's data maxzoom; clients overzoom them.
            let data = (t.z <= data_maxzoom)
                .then(|| rgba_png(TILE_SIZE, TILE_SIZE, &data_pixels(&values, p.style.data)))
                .transpose()?;
            let t2 = Instant::now();
            let size = colour.len() as u64 + data.as_ref().map_or(0, |d| d.len() as u64);
            // Archives get the tiles through the job's part, written once all are rendered.
            let part = format.archives().then(|| PartTile {
                id: tile_id(t.z, t.x, t.y),
                colour: colour.clone(),
                data: data.clone(),
            });
            if format.dirs() {
                let rel = format!("{}/{}/{}.png", t.z, t.x, t.y);
                out.put_async(&format!("{run}/{layer}/{rel}"), colour, PutMeta::PNG)?;
                if let Some(data) = data {
                    out.put_async(&format!("{run}/{layer}/data/{rel}"), data, PutMeta::PNG)?;
                }
            }
            let t3 = Instant::now();
            let secs = [
                (t1 - t0).as_secs_f64(),
                (t2 - t1).as_secs_f64(),
                (t3 - t2).as_secs_f64(),
            ];
            Ok((size, secs, part))
        })
        .collect::<Result<_>>()?;
    let (mut count, mut bytes) = (0u64, 0u64);
    let mut seconds = StageSeconds::default();
    let mut parts = Vec::new();
    for (n, [r, e, wr], part) in written {
        seconds.render += r;
        seconds.encode += e;
        seconds.write += wr;
        if n > 0 {
            count += 1;
            bytes += n;
        }
        parts.extend(part);
    }
    if format.archives() {
        let t0 = Instant::now();
        let key = part_key(run, layer, &job.id);
        out.put_async(&key, part::encode(parts), PutMeta::PRIVATE)?;
        seconds.write += t0.elapsed().as_secs_f64();
    }
    Ok((count, bytes, seconds))
}

/// Writes a layer's full-frame image, legend and both TileJSON documents; returns its
/// manifest entry (tile count and bytes cover these files only;
/// [`crate::run::manifest::assemble`] adds the tiles).
fn render_meta(p: &Prepared, job: &Job, out: &dyn Store) -> Result<LayerEntry> {
    let (run, settings) = (&job.run, &job.settings);
    let put = |name: &str, bytes: &[u8]| {
        let key = format!("{run}/{}/{name}", job.layer);
        out.put_async(&key, bytes.to_vec(), PutMeta::for_key(&key))
    };
    let grid = p.sampler.grid();
    let (width, height, full) = p.sampler.full_frame();
    let idx = p.style.table.indices(&full);
    let full_png = indexed_png(width, height, &idx, &p.style.table.entries)?;
    put("full.png", &full_png)?;
    let images = match settings.images {
        Images::None => None,
        Images::Equirect => Some(images::write(
            &p.sampler,
            p.components.as_ref(),
            settings.resample,
            &format!("{run}/{}", job.layer),
            &job.layer,
            out,
        )?),
    };
    let info = &p.info;
    let legend = layer::legend(info, &p.style);
    let legend_png = legend.png(&p.style.table)?;
    put("legend.png", &legend_png)?;
    let legend_json = pretty(&legend.json(&p.style.palette, &p.style.table));
    put("legend.json", &legend_json)?;
    let name = &job.layer;
    let tiling = settings.tiling;
    let bounds = p.bounds;
    let range = [p.style.table.min, p.style.table.max];
    let data_encoding = DataEncoding::of(p.style.data, &info.units);
    let (colour_tj, data_tj) = LayerDocs {
        run,
        layer: name,
        base_url: job.base_url.as_ref(),
        tiling,
        minzoom: job.minzoom,
        maxzoom: job.maxzoom,
        data_maxzoom: job.data_maxzoom(),
        bounds,
        info,
        range,
        data: &data_encoding,
        legend: &legend,
        format: settings.format,
    }
    .tilejsons();
    let colour_tj = pretty(&colour_tj);
    put("tilejson.json", &colour_tj)?;
    let data_tj = pretty(&data_tj);
    put("data/tilejson.json", &data_tj)?;
    let bytes =
        (full_png.len() + legend_png.len() + legend_json.len() + colour_tj.len() + data_tj.len())
            as u64
            + images.as_ref().map_or(0, |i| i.bytes);
    let (image, vector_image, vector_image_skipped) = match images {
        Some(i) => (Some(i.image), i.vector_image, i.vector_image_skipped),
        None => (None, None, None),
    };
    let data = p.style.data;
    let archives = settings.format.archives();
    Ok(LayerEntry {
        name: name.clone(),
        field: job.fields[0].field,
        derived_from: (job.fields.len() > 1).then(|| job.fields.iter().map(|s| s.field).collect()),
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
        minzoom: job.minzoom,
        maxzoom: job.maxzoom,
        data_maxzoom: Some(job.data_maxzoom()),
        tiles: format!("{name}/{{z}}/{{x}}/{{y}}.png"),
        data_tiles: format!("{name}/data/{{z}}/{{x}}/{{y}}.png"),
        scale: data.scale,
        offset: data.offset,
        data_encoding,
        palette: p.style.palette.name.clone(),
        range,
        value_min: p.style.value_range.map(|r| r.0),
        value_max: p.style.value_range.map(|r| r.1),
        legend: LegendUrls {
            png: format!("{name}/legend.png"),
            json: format!("{name}/legend.json"),
        },
        full_image: format!("{name}/full.png"),
        tilejson: format!("{name}/tilejson.json"),
        data_tilejson: Some(format!("{name}/data/tilejson.json")),
        pmtiles: archives.then(|| format!("{name}/{COLOUR_ARCHIVE}")),
        data_pmtiles: archives.then(|| format!("{name}/{DATA_ARCHIVE}")),
        tile_count: 0,
        bytes,
        image,
        vector_image,
        vector_image_skipped,
        wind_frame: p.wind_frame.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A full disk during a job names its cause in the failure reason (the manifest's
    /// `failed[]`, the render summary), not just "write".
    #[test]
    fn an_io_failure_keeps_the_systems_reason() {
        let e = Error::io(
            "/out/.tilecast/tmp/1-2",
            "write",
            std::io::Error::from_raw_os_error(28),
        );
        let f = Failure::of(&e);
        assert!(
            f.reason.starts_with("/out/.tilecast/tmp/1-2: write: "),
            "{}",
            f.reason
        );
        assert!(f.reason.contains("No space left on device"), "{}", f.reason);
    }
}
