//! `tilecast worker`: take a job, render it, write it, report it, ack, exit.
//!
//! One delivery per process by default (`--max-jobs`), so an orchestrator that starts fresh
//! workers gets a clean process per job. A delivery is one job or a batch of small jobs of
//! one run ([`tilecast::run::batch`]), rendered in order, each reported as a job alone; a
//! batch delivered again after its worker was lost is split into its jobs unrendered. Rendering runs on a blocking thread (rayon inside)
//! while the async side keeps the broker's heartbeats flowing. Outcomes and exit codes follow
//! docs/ARCHITECTURE.md: done or already done → ack, exit 0; idle past `--idle-exit` → exit 0; permanent
//! error → the job goes to the dead-letter exchange with the reason in headers, ack, exit 0;
//! transient error → the job is published again with its failed deliveries counted in a
//! header (or, past `--delivery-limit`, dead-lettered), acked, exit 75; SIGTERM → rendering
//! stops between tiles (within a second), no result is written, the channel closes so the job
//! returns to the queue, exit 143; past `--job-timeout` → the same stop, then the job is
//! retried or dead-lettered as for a transient error, exit 124.
//! How outcomes reach the broker is [`report`]; how a job runs to its outcome, [`outcome`].
//!
//! Job sources are read only under `--ingest` (see [`crate::infra::sources::Roots`]) and outputs
//! only under `--out`.

mod outcome;
mod report;

pub use outcome::{Outcome, Runner};
pub use report::{JobIds, Reporter};

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use futures_lite::StreamExt;
use lapin::options::{BasicCancelOptions, BasicConsumeOptions, BasicQosOptions};
use lapin::types::FieldTable;
use tilecast::run::batch;
use tilecast::run::execute::Progress;

use crate::commands::pool;
use crate::infra::amqp::{self, AmqpArgs};
use crate::infra::http::{self, Health};
use crate::infra::metrics::Metrics;
use crate::infra::storage::S3Args;

/// Exit code of a transient failure (EX_TEMPFAIL): the job was requeued.
pub const EXIT_TRANSIENT: u8 = 75;
/// Exit code after SIGTERM (128 + 15).
pub const EXIT_SIGTERM: u8 = 143;
/// Exit code when a job ran past `--job-timeout` (as timeout(1)): the job was requeued.
pub const EXIT_TIMEOUT: u8 = 124;
/// How long a stopped render may take to reach its next tile boundary before the process
/// exits anyway.
const STOP_GRACE: Duration = Duration::from_secs(1);

#[derive(Args, Clone)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub amqp: AmqpArgs,
    /// Output root (the chunker's `--out`: a path, file://path or s3://bucket/prefix); jobs
    /// for another root are refused.
    #[arg(long, short, env = "TILECAST_OUT")]
    pub out: String,
    /// Locations job sources may be read from (the chunker's `--ingest`: directories,
    /// file://paths or s3://bucket/prefix, comma-separated). A job naming anything else is
    /// dead-lettered unread.
    #[arg(long, env = "TILECAST_INGEST", required = true, value_delimiter = ',')]
    pub ingest: Vec<String>,
    /// Seconds one job may take; past it rendering stops, the job returns to the queue and
    /// the worker exits 124. Keep it below the broker's consumer_timeout (30 min) and the
    /// chart's activeDeadlineSeconds.
    #[arg(long, env = "TILECAST_JOB_TIMEOUT", default_value_t = 600.0, value_parser = crate::positive_seconds)]
    pub job_timeout: f64,
    #[command(flatten)]
    pub s3: S3Args,
    /// Where NetCDF objects read from a bucket are cached (default: $TMPDIR/tilecast-cache).
    #[arg(long, env = "TILECAST_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Size of that cache in MB (the file in use is kept whatever its size).
    #[arg(long, env = "TILECAST_CACHE_MB", default_value_t = 1024)]
    pub cache_mb: u64,
    /// Deliveries (a job, or a batch of small jobs) to take before exiting (1: a fresh
    /// process per delivery).
    #[arg(long, env = "TILECAST_MAX_JOBS", default_value_t = 1)]
    pub max_jobs: u64,
    /// Exit 0 after this many seconds without a job.
    #[arg(long, env = "TILECAST_IDLE_EXIT", default_value_t = 30.0)]
    pub idle_exit: f64,
    /// Start and connect, then wait for a line on standard input before taking a job (exit 0
    /// if it closes first), and write a line to standard output once the last job has
    /// rendered, before reporting it: how `tilecast pool --standby` keeps workers connected
    /// ahead of need without a second job per process.
    #[arg(long, env = "TILECAST_WORKER_STANDBY")]
    pub standby: bool,
    /// Serve /metrics, /healthz and /readyz here while the worker lives (for debugging;
    /// the ledger keeps the metrics that outlive workers); a `--spawn fork` pool serves them
    /// for as long as it runs, counting its jobs' outcomes.
    #[arg(long, env = "TILECAST_WORKER_METRICS_ADDR")]
    pub metrics_addr: Option<std::net::SocketAddr>,
}

pub fn run(args: WorkerArgs) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let code = rt.block_on(work(args));
    // A render that did not stop in time must not keep the process alive.
    rt.shutdown_background();
    code
}

async fn work(args: WorkerArgs) -> anyhow::Result<ExitCode> {
    let born = Instant::now();
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let name = format!("worker-{}", std::process::id());
    let conn = tokio::select! {
        c = amqp::connect(&args.amqp, &name) => c?,
        _ = sigterm.recv() => return Ok(ExitCode::from(EXIT_SIGTERM)),
    };
    let (ch, names) = amqp::worker_channel(&conn, &args.amqp).await?;
    ch.basic_qos(1, BasicQosOptions::default()).await?;
    let connected = born.elapsed();
    let health = Health::new(Arc::new(Metrics::new()));
    if let Some(addr) = args.metrics_addr {
        let h = health.clone();
        tokio::spawn(async move {
            if let Err(e) = http::serve(addr, h).await {
                tracing::warn!("cannot serve metrics on {addr}: {e:#}");
            }
        });
    }
    health.set_ready(true);
    let tag = name.clone();
    let runner = Arc::new(Runner::new(&args)?);
    if args.standby {
        tokio::select! {
            go = pool::released() => if !go {
                amqp::close(&conn, "the pool is gone").await;
                return Ok(ExitCode::SUCCESS);
            },
            _ = sigterm.recv() => {
                amqp::close(&conn, "SIGTERM").await;
                return Ok(ExitCode::from(EXIT_SIGTERM));
            }
        }
    }
    let released = born.elapsed();
    let mut consumer = ch
        .basic_consume(
            names.render.as_str().into(),
            tag.as_str().into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let reporter = Reporter {
        ch: &ch,
        names: &names,
        delivery_limit: u64::from(args.amqp.delivery_limit),
        who: &name,
    };
    let job_timeout = Duration::from_secs_f64(args.job_timeout);
    let idle = Duration::from_secs_f64(args.idle_exit.max(0.0));
    let mut done = 0u64;
    while done < args.max_jobs {
        let next = tokio::select! {
            d = tokio::time::timeout(idle, consumer.next()) => d,
            _ = sigterm.recv() => {
                amqp::close(&conn, "SIGTERM").await;
                return Ok(ExitCode::from(EXIT_SIGTERM));
            }
        };
        let delivery = match next {
            Err(_) => {
                tracing::info!(worker = %name, "no job for {:.1} s; exiting", idle.as_secs_f64());
                amqp::close(&conn, "idle").await;
                return Ok(ExitCode::SUCCESS);
            }
            Ok(None) => anyhow::bail!("the broker closed the consumer"),
            Ok(Some(d)) => d.context("receiving a job")?,
        };
        let received = born.elapsed();
        let jobs = batch::parse_message(&delivery.data).map_err(|e| e.to_string());
        let ids = JobIds::of(jobs.as_deref().unwrap_or_default());
        if let (true, Ok(js)) = (delivery.redelivered, &jobs) {
            if js.len() > 1 {
                // A batch back from a worker that was lost while holding it: its jobs go on
                // alone, so a job that kills its process dies alone.
                let why = "its batch was delivered again after its worker was lost";
                let split = reporter.retry_or_bury(&delivery, js, &ids, why);
                if let Err(e) = amqp::while_connected(&conn, split).await {
                    return Ok(broker_lost(&conn, &ids.id, e).await);
                }
                continue;
            }
        }
        let last = done + 1 == args.max_jobs;
        let started = Instant::now();
        let mut timed_out = false;
        let (outcomes, books_seconds) = match &jobs {
            Err(e) => (vec![Outcome::Permanent(e.clone())], 0.0),
            Ok(jobs) => {
                let progress = Arc::new(Progress::default());
                let (js, runner, p) = (jobs.clone(), runner.clone(), progress.clone());
                let mut task = tokio::task::spawn_blocking(move || {
                    let mut books_seconds = 0.0;
                    let o = runner.execute_all(&js, &p, &mut books_seconds);
                    (o, books_seconds)
                });
                tokio::select! {
                    r = &mut task => r.unwrap_or_else(|e| {
                        (Outcome::transient_for(jobs.len(), &format!("render task failed: {e}")), 0.0)
                    }),
                    _ = sigterm.recv() => {
                        // Stop between tiles and write nothing more; leave the job unacked:
                        // closing returns it to the queue.
                        progress.request_stop();
                        let _ = tokio::time::timeout(STOP_GRACE, &mut task).await;
                        amqp::close(&conn, "SIGTERM").await;
                        tracing::warn!(worker = %name, outcome = "stopped", "SIGTERM: job stopped and returned to the queue");
                        return Ok(ExitCode::from(EXIT_SIGTERM));
                    }
                    _ = tokio::time::sleep(job_timeout) => {
                        progress.request_stop();
                        let _ = tokio::time::timeout(STOP_GRACE, &mut task).await;
                        let why = format!("still running after --job-timeout {} s", args.job_timeout);
                        tracing::error!(worker = %name, job = %ids.id, outcome = "timeout",
                            "job {why}: stopped");
                        timed_out = true;
                        (Outcome::transient_for(jobs.len(), &why), 0.0)
                    }
                }
            }
        };
        let executed = started.elapsed();
        if last && args.standby {
            pool::rendered();
        }
        let transient = outcomes.iter().any(|o| matches!(o, Outcome::Transient(_)));
        if last || transient {
            // No further delivery may arrive once this one is acked: it would come back with
            // its delivery count raised when this process exits.
            let cancel = ch.basic_cancel(tag.as_str().into(), BasicCancelOptions::default());
            let _ = amqp::while_connected(&conn, async { Ok(cancel.await?) }).await;
        }
        for o in &outcomes {
            o.count(&health.metrics);
        }
        let jobs = jobs.unwrap_or_default();
        let settled = reporter.settle(&delivery, &jobs, &outcomes, &ids);
        if let Err(e) = amqp::while_connected(&conn, settled).await {
            return Ok(broker_lost(&conn, &ids.id, e).await);
        }
        for (job, outcome) in jobs.iter().zip(&outcomes) {
            let Some(what) = outcome.done_label() else {
                continue;
            };
            let ids = JobIds::of_job(job);
            tracing::info!(
                worker = %name, run = %ids.run, job = %ids.id, layer = %ids.layer, field = %ids.field, outcome = what,
                seconds = started.elapsed().as_secs_f64(),
                execute_ms = executed.as_secs_f64() * 1e3,
                books_ms = books_seconds * 1e3,
                connected_ms = connected.as_secs_f64() * 1e3,
                released_ms = released.as_secs_f64() * 1e3,
                received_ms = received.as_secs_f64() * 1e3,
                acked_ms = born.elapsed().as_secs_f64() * 1e3,
                batch = jobs.len(),
                "job {what} in {:.3} s", started.elapsed().as_secs_f64()
            );
        }
        if transient {
            // Past --job-timeout or a transient failure: the job was sent on; this process
            // ends, as a crashed one would.
            amqp::close(&conn, "job requeued").await;
            return Ok(ExitCode::from(if timed_out {
                EXIT_TIMEOUT
            } else {
                EXIT_TRANSIENT
            }));
        }
        done += 1;
    }
    amqp::close(&conn, "done").await;
    Ok(ExitCode::SUCCESS)
}

/// The broker failed while a job was being reported: the unacked job returns to the queue
/// when the connection closes (a redelivery finds its result and reports it again), and the
/// process exits 75.
async fn broker_lost(conn: &lapin::Connection, job: &str, e: anyhow::Error) -> ExitCode {
    tracing::warn!(job = %job, outcome = "transient", error = %format!("{e:#}"), "broker failed while reporting the job; it returns to the queue");
    amqp::close(conn, "broker error").await;
    ExitCode::from(EXIT_TRANSIENT)
}
