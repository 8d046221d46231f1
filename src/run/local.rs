//! `tilecast render`'s engine: plans a local file and runs every job of the plan in this
//! process, layers and tiles in parallel on rayon, through the executor the workers run
//! ([`crate::run::execute`]). Each layer is prepared once for all its jobs.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Instant;

use rayon::prelude::*;

use crate::decode::{inventory, FileFields, Inventory};
use crate::error::Result;
use crate::io::store::{PutMeta, Store};
use crate::run::archive;
use crate::run::catalog::{self, prune};
use crate::run::execute::{
    execute_prepared, prepare, Failure, InputField, JobInput, Outcome, Progress,
};
use crate::run::job::Job;
use crate::run::manifest::{assemble, manifest_bytes, FailedField};
use crate::run::plan::{self, RunPlan, SourceRef, TileRange};
use crate::run::publish::BaseUrl;
use crate::settings::RenderSettings;

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

/// A local file's fields, read a message (GRIB) or a slice (NetCDF) at a time.
impl JobInput for Inventory {
    fn read(&self, _job: &Job, source: &SourceRef) -> Result<InputField> {
        Ok(InputField {
            field: self.decode(source.field)?,
            fetch_seconds: 0.0,
        })
    }
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

/// Renders one local file into `<out>/<run>/`, in this process. `base_url` is the public URL
/// of `out` for the TileJSON documents (`None`: relative URLs); it changes no other byte.
pub fn render_file(
    path: &Path,
    settings: &RenderSettings,
    base_url: Option<&BaseUrl>,
    out: &dyn Store,
    progress: &Progress,
) -> Result<RunReport> {
    let start = Instant::now();
    let (ds, mut plan) = plan_file(path, settings, plan::DEFAULT_JOB_TILES)?;
    plan.base_url = base_url.cloned();
    // Keeps `tilecast prune` off this run while its tiles are being (re)written.
    let _active = Active::mark(out, &plan.run)?;
    let jobs = Job::from_plan(&plan, out.url("").trim_end_matches('/'));
    let planned: usize = jobs.iter().flat_map(|j| &j.tiles).map(TileRange::len).sum();
    progress
        .tiles_planned
        .fetch_add(planned as u64, Ordering::Relaxed);
    // The plan lists jobs layer by layer, every layer with at least one.
    let mut rest = &jobs[..];
    let layers: Vec<&[Job]> = plan
        .layers
        .iter()
        .map(|l| {
            let (these, others) = rest.split_at(l.jobs.len());
            rest = others;
            these
        })
        .collect();
    let outcomes: Vec<(&Job, Outcome)> = layers
        .par_iter()
        .flat_map_iter(|jobs| {
            let outcomes = run_layer(jobs, &ds, out, progress);
            progress.layers_done.fetch_add(1, Ordering::Relaxed);
            jobs.iter().zip(outcomes)
        })
        .collect();
    let mut results = BTreeMap::new();
    let mut dead = BTreeMap::new();
    for (job, outcome) in outcomes {
        match outcome {
            Outcome::Done(r) => {
                results.insert(job.id.clone(), *r);
            }
            Outcome::Failed(f) => {
                dead.insert(job.id.clone(), f.reason);
            }
        }
    }
    // A stopped render is unfinished, not failed: it gets no manifest.
    progress.check()?;
    let mut m = assemble(&plan, &results, &dead).expect("every job has a result or an error");
    // The archives from the jobs' parts, as the ledger assembles them in a distributed run.
    archive::assemble_run(out, &plan, &mut m)?;
    let json = manifest_bytes(&m);
    let bytes = json.len() as u64;
    catalog::record_run(out, &m)?;
    // Written last: a reader that finds the manifest finds every tile it lists.
    out.put(&format!("{}/manifest.json", plan.run), json, PutMeta::JSON)?;
    archive::delete_parts(out, &plan.run)?;
    if let Some(root) = out.local_root() {
        // No empty bookkeeping folder of the run is left behind.
        let _ = std::fs::remove_dir(root.join(".tilecast").join(&plan.run));
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

/// The outcomes of one layer's jobs: the layer is prepared once (every job of a layer reads
/// the same fields, so a worker preparing it per job reaches the same result or error).
fn run_layer(
    jobs: &[Job],
    input: &dyn JobInput,
    out: &dyn Store,
    progress: &Progress,
) -> Vec<Outcome> {
    match prepare(&jobs[0], input, out) {
        Err(e) => {
            let f = Failure::of(&e);
            jobs.iter().map(|_| Outcome::Failed(f.clone())).collect()
        }
        Ok(p) => jobs
            .par_iter()
            .map(|j| match execute_prepared(&p, j, out, progress) {
                Ok(r) => Outcome::Done(Box::new(r)),
                Err(e) => Outcome::Failed(Failure::of(&e)),
            })
            .collect(),
    }
}

/// The active marker of a render in progress ([`prune::active_key`]), removed when the render
/// ends, whichever way it ends.
struct Active<'a> {
    out: &'a dyn Store,
    key: String,
}

impl<'a> Active<'a> {
    fn mark(out: &'a dyn Store, run: &str) -> Result<Active<'a>> {
        let key = prune::active_key(run);
        let marker = prune::ActiveMarker {
            pid: std::process::id(),
            started: catalog::rfc3339(std::time::SystemTime::now()),
        };
        let bytes = serde_json::to_vec(&marker).expect("serialisable");
        out.put(&key, bytes, PutMeta::PRIVATE)?;
        Ok(Active { out, key })
    }
}

impl Drop for Active<'_> {
    fn drop(&mut self) {
        let _ = self.out.delete(&self.key);
        if let Some(root) = self.out.local_root() {
            // Leave no empty bookkeeping directories behind a local render.
            for d in ["active", "tmp"] {
                let _ = std::fs::remove_dir(root.join(".tilecast").join(d));
            }
        }
    }
}
