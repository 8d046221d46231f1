//! A delivery's jobs run to their outcomes, on the worker's side of the broker: for each job
//! the output root checked, an earlier result looked up (a redelivery reports it again), the
//! job executed, and its result record written once every tile is stored. Shared by
//! `tilecast worker` and the processes `tilecast pool` forks per delivery, which send the
//! [`Outcome`]s to the pool as JSON.

use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use tilecast::io::store::Store;
use tilecast::run::books::Books;
use tilecast::run::execute::{self, Progress};
use tilecast::run::job::{Job, JobResult};

use super::WorkerArgs;
use crate::infra::metrics::Metrics;
use crate::infra::sources::{Roots, Sources};
use crate::infra::storage::Location;

/// How one job ended.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "outcome", content = "detail", rename_all = "snake_case")]
pub enum Outcome {
    /// Rendered now, with the result it recorded.
    Done(Box<JobResult>),
    /// A result was already recorded (a redelivery): reported again, not rendered.
    AlreadyDone(Box<JobResult>),
    /// The job can never succeed (bad message, unreadable field, foreign output root): it is
    /// dead-lettered with this reason.
    Permanent(String),
    /// The job may succeed on another delivery (a store or source failing, a stop).
    Transient(String),
}

impl Outcome {
    /// The same transient failure for each of `n` jobs (at least one: a message that did not
    /// parse still has an outcome).
    pub fn transient_for(n: usize, why: &str) -> Vec<Outcome> {
        (0..n.max(1))
            .map(|_| Outcome::Transient(why.to_string()))
            .collect()
    }

    /// How a job that ended with a result is logged (`done`, `already done`); `None` for a
    /// failure, which is logged as it is sent on.
    pub fn done_label(&self) -> Option<&'static str> {
        match self {
            Outcome::Done(_) => Some("done"),
            Outcome::AlreadyDone(_) => Some("already done"),
            Outcome::Permanent(_) | Outcome::Transient(_) => None,
        }
    }

    /// Counts the outcome in the job metrics of a worker's or a pool's endpoint: results
    /// (with their stage times) and permanent failures; a transient failure is a delivery
    /// that will come back, not an outcome yet.
    pub fn count(&self, metrics: &Metrics) {
        match self {
            Outcome::Done(r) | Outcome::AlreadyDone(r) => metrics.record_result(r, &r.outcome),
            Outcome::Permanent(_) => metrics
                .job_results
                .with_label_values(&["dead_lettered"])
                .inc(),
            Outcome::Transient(_) => {}
        }
    }
}

/// What jobs run with, from a worker's flags: the output root (canonical), its store and
/// bookkeeping, and the sources jobs may read.
pub struct Runner {
    out_root: String,
    store: Arc<dyn Store>,
    books: Books,
    sources: Sources,
}

impl Runner {
    pub fn new(args: &WorkerArgs) -> anyhow::Result<Runner> {
        let roots = Roots::new(&args.ingest)?;
        let location = Location::parse(&args.out)?;
        let store = location.open(&args.s3)?;
        let cache_dir = args
            .cache_dir
            .clone()
            .unwrap_or_else(|| std::env::temp_dir().join("tilecast-cache"));
        Ok(Runner {
            out_root: location.canonical(),
            books: Books::new(store.clone()),
            store,
            sources: Sources::new(
                args.s3.clone(),
                cache_dir,
                args.cache_mb.saturating_mul(1 << 20),
                roots,
            ),
        })
    }

    /// Runs a delivery's jobs, in order, to one outcome each; adds the seconds spent reading
    /// and writing result records to `books_seconds`. Blocking. Once a job fails transiently
    /// (or a stop is asked for), the jobs after it are not run: they are transient failures
    /// too, sent on with it (a store that failed one job would likely fail the next, each
    /// after its retries).
    pub fn execute_all(
        &self,
        jobs: &[Job],
        progress: &Progress,
        books_seconds: &mut f64,
    ) -> Vec<Outcome> {
        let mut outcomes: Vec<Outcome> = Vec::with_capacity(jobs.len());
        let mut first_transient: Option<(String, String)> = None;
        for job in jobs {
            let outcome = match &first_transient {
                Some((id, e)) => {
                    Outcome::Transient(format!("not run: job {id} of its batch failed first: {e}"))
                }
                None if progress.stopped() => {
                    Outcome::Transient(tilecast::Error::Stopped.to_string())
                }
                None => execute(
                    job,
                    &self.out_root,
                    (&self.books, books_seconds),
                    &self.sources,
                    self.store.as_ref(),
                    progress,
                ),
            };
            if let (None, Outcome::Transient(e)) = (&first_transient, &outcome) {
                first_transient = Some((job.id.clone(), e.clone()));
            }
            outcomes.push(outcome);
        }
        outcomes
    }
}

fn execute(
    job: &Job,
    out_root: &str,
    (books, books_seconds): (&Books, &mut f64),
    sources: &Sources,
    out: &dyn Store,
    progress: &Progress,
) -> Outcome {
    let job_root = Location::parse(&job.out).map(|l| l.canonical());
    if job_root.as_deref().ok() != Some(out_root) {
        return Outcome::Permanent(format!(
            "job writes to {}, this worker to {out_root}",
            job.out
        ));
    }
    let t0 = Instant::now();
    let recorded = books.read_result(&job.run, &job.id);
    *books_seconds += t0.elapsed().as_secs_f64();
    match recorded {
        Ok(Some(mut r)) => {
            r.outcome = "already_done".into();
            return Outcome::AlreadyDone(Box::new(r));
        }
        Ok(None) => {}
        // A result record that does not parse vouches for nothing: render again, rewrite it.
        Err(e) if e.is_permanent() => {
            tracing::warn!(run = %job.run, job = %job.id, error = %e, "unreadable result record; rendering the job again");
        }
        Err(e) => return Outcome::Transient(chain(e)),
    }
    let result = match execute::execute(job, sources, out, progress) {
        execute::Outcome::Done(r) => *r,
        execute::Outcome::Failed(f) if f.permanent => return Outcome::Permanent(f.reason),
        execute::Outcome::Failed(f) => return Outcome::Transient(f.reason),
    };
    if progress.stopped() {
        return Outcome::Transient(tilecast::Error::Stopped.to_string());
    }
    // Only after every tile is stored: a result means the job's outputs are all there.
    let t0 = Instant::now();
    let written = books.write_result(&result);
    *books_seconds += t0.elapsed().as_secs_f64();
    match written {
        Ok(()) => Outcome::Done(Box::new(result)),
        Err(e) => Outcome::Transient(chain(e)),
    }
}

/// An error and its causes, as one line.
fn chain(e: tilecast::Error) -> String {
    format!("{:#}", anyhow::Error::from(e))
}
