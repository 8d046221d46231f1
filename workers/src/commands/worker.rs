//! `tilecast worker`: take a job, render it, write it, report it, ack, exit.
//!
//! One job per process by default (`--max-jobs`), so an orchestrator that starts fresh
//! workers gets a clean process per job. Rendering runs on a blocking thread (rayon inside)
//! while the async side keeps the broker's heartbeats flowing. Outcomes and exit codes follow
//! docs/ARCHITECTURE.md: done or already done → ack, exit 0; idle past `--idle-exit` → exit 0; permanent
//! error → the job goes to the dead-letter exchange with the reason in headers, ack, exit 0;
//! transient error → the job is published again with its failed deliveries counted in a
//! header (or, past `--delivery-limit`, dead-lettered), acked, exit 75; SIGTERM → rendering
//! stops between tiles (within a second), no result is written, the channel closes so the job
//! returns to the queue, exit 143; past `--job-timeout` → the same stop, then the job is
//! retried or dead-lettered as for a transient error, exit 124.
//!
//! The worker counts failed deliveries itself ([`crate::infra::headers`]) rather than nacking
//! with requeue: from RabbitMQ 4.3 a requeuing `basic.nack` no longer raises the quorum
//! queue's delivery count, so a job failing transiently for ever would never reach
//! `x-delivery-limit`.
//!
//! Job sources are read only under `--ingest` (see [`crate::infra::sources::Roots`]) and outputs
//! only under `--out`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use futures_lite::StreamExt;
use lapin::options::{BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicQosOptions};
use lapin::types::FieldTable;
use tilecast::run::execute::{self, Progress};
use tilecast::run::job::{Job, JobResult, RESULT_TYPE};

use crate::commands::pool;
use crate::infra::amqp::{self, AmqpArgs, Names, RENDER_KEY};
use crate::infra::headers::{self, DeathReason};
use crate::infra::http::{self, Health};
use crate::infra::metrics::Metrics;
use crate::infra::sources::{Roots, Sources};
use crate::infra::storage::{Location, S3Args};
use std::sync::Arc;
use tilecast::io::store::Store;
use tilecast::run::books::Books;

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
    /// Jobs to take before exiting (1: a fresh process per job).
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
    /// the ledger keeps the metrics that outlive workers).
    #[arg(long, env = "TILECAST_WORKER_METRICS_ADDR")]
    pub metrics_addr: Option<std::net::SocketAddr>,
}

/// How one job ended.
enum Outcome {
    /// Rendered now, with the result it recorded.
    Done(Box<JobResult>),
    /// A result was already recorded (a redelivery): reported again, not rendered.
    AlreadyDone(Box<JobResult>),
    Permanent(String),
    Transient(anyhow::Error),
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
    let roots = Roots::new(&args.ingest)?;
    let out_location = Location::parse(&args.out)?;
    let out_root = out_location.canonical();
    let store = out_location.open(&args.s3)?;
    let books = Arc::new(Books::new(store.clone()));
    let cache_dir = args
        .cache_dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join("tilecast-cache"));
    let sources = Arc::new(Sources::new(
        args.s3.clone(),
        cache_dir,
        args.cache_mb.saturating_mul(1 << 20),
        roots,
    ));
    if args.standby {
        tokio::select! {
            go = pool::released() => if !go {
                let _ = conn.close(200, "the pool is gone".into()).await;
                return Ok(ExitCode::SUCCESS);
            },
            _ = sigterm.recv() => {
                let _ = conn.close(200, "SIGTERM".into()).await;
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
    let broker = Broker {
        conn: &conn,
        ch: &ch,
        tag: &tag,
        names: &names,
        delivery_limit: u64::from(args.amqp.delivery_limit),
    };
    let job_timeout = Duration::from_secs_f64(args.job_timeout);
    let idle = Duration::from_secs_f64(args.idle_exit.max(0.0));
    let mut done = 0u64;
    while done < args.max_jobs {
        let next = tokio::select! {
            d = tokio::time::timeout(idle, consumer.next()) => d,
            _ = sigterm.recv() => {
                let _ = conn.close(200, "SIGTERM".into()).await;
                return Ok(ExitCode::from(EXIT_SIGTERM));
            }
        };
        let delivery = match next {
            Err(_) => {
                tracing::info!(worker = %name, "no job for {:.1} s; exiting", idle.as_secs_f64());
                let _ = conn.close(200, "idle".into()).await;
                return Ok(ExitCode::SUCCESS);
            }
            Ok(None) => anyhow::bail!("the broker closed the consumer"),
            Ok(Some(d)) => d.context("receiving a job")?,
        };
        let received = born.elapsed();
        let job_headers = delivery.properties.headers().clone().unwrap_or_default();
        let failed_before = headers::failed_before(&job_headers);
        let last = done + 1 == args.max_jobs;
        let body = delivery.data.clone();
        let job = Job::parse(&body);
        let started = Instant::now();
        let (outcome, books_seconds) = match &job {
            Err(e) => (Outcome::Permanent(e.to_string()), 0.0),
            Ok(job) => {
                let progress = Arc::new(Progress::default());
                let (job_id, run_id) = (job.id.clone(), job.run.clone());
                let (job, root, books, sources, store, p) = (
                    job.clone(),
                    out_root.clone(),
                    books.clone(),
                    sources.clone(),
                    store.clone(),
                    progress.clone(),
                );
                let mut task = tokio::task::spawn_blocking(move || {
                    let mut books_seconds = 0.0;
                    let books = (books.as_ref(), &mut books_seconds);
                    let o = execute(&job, &root, books, &sources, store.as_ref(), &p);
                    (o, books_seconds)
                });
                tokio::select! {
                    r = &mut task => r.unwrap_or_else(|e| (Outcome::Transient(anyhow::anyhow!("render task failed: {e}")), 0.0)),
                    _ = sigterm.recv() => {
                        // Stop between tiles and write nothing more; leave the job unacked:
                        // closing returns it to the queue.
                        progress.request_stop();
                        let _ = tokio::time::timeout(STOP_GRACE, &mut task).await;
                        let _ = conn.close(200, "SIGTERM".into()).await;
                        tracing::warn!(worker = %name, outcome = "stopped", "SIGTERM: job stopped and returned to the queue");
                        return Ok(ExitCode::from(EXIT_SIGTERM));
                    }
                    _ = tokio::time::sleep(job_timeout) => {
                        progress.request_stop();
                        let _ = tokio::time::timeout(STOP_GRACE, &mut task).await;
                        let why = format!("still running after --job-timeout {:.0} s", job_timeout.as_secs_f64());
                        tracing::error!(worker = %name, job = %job_id, outcome = "timeout",
                            "job {why}: stopped");
                        let ids = (job_id.as_str(), run_id.as_str());
                        return Ok(broker.retry_or_bury(&delivery, &body, ids, &why, EXIT_TIMEOUT).await);
                    }
                }
            }
        };
        let executed = started.elapsed();
        if last && args.standby {
            pool::rendered();
        }
        let id = job
            .as_ref()
            .map(|j| j.id.clone())
            .unwrap_or_else(|_| "?".into());
        let run = job
            .as_ref()
            .map(|j| j.run.clone())
            .unwrap_or_else(|_| "?".into());
        let layer = job
            .as_ref()
            .map(|j| j.layer.clone())
            .unwrap_or_else(|_| "?".into());
        let field = job
            .as_ref()
            .map(|j| {
                j.fields
                    .iter()
                    .map(|f| f.field.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_else(|_| "?".into());
        if last {
            // No further delivery may arrive once this one is acked: it would come back with
            // its delivery count raised when this process exits.
            let _ = ch
                .basic_cancel(tag.as_str().into(), BasicCancelOptions::default())
                .await;
        }
        match outcome {
            Outcome::Done(r) | Outcome::AlreadyDone(r) => {
                let what = if r.outcome == "already_done" {
                    "already done"
                } else {
                    "done"
                };
                health.metrics.record_result(&r, &r.outcome);
                let report_headers = headers::report(&job_headers, failed_before);
                let props = amqp::properties(RESULT_TYPE, &r.job, report_headers);
                let report = serde_json::to_vec(&r)?;
                let sent = publish_then_ack(&ch, "", &names.results, &report, props, &delivery);
                if let Err(e) = sent.await {
                    return Ok(broker_lost(&conn, &id, e.context("reporting the result")).await);
                }
                tracing::info!(
                    worker = %name, run = %run, job = %id, layer = %layer, field = %field, outcome = what,
                    seconds = started.elapsed().as_secs_f64(),
                    execute_ms = executed.as_secs_f64() * 1e3,
                    books_ms = books_seconds * 1e3,
                    connected_ms = connected.as_secs_f64() * 1e3,
                    released_ms = released.as_secs_f64() * 1e3,
                    received_ms = received.as_secs_f64() * 1e3,
                    acked_ms = born.elapsed().as_secs_f64() * 1e3,
                    "job {what} in {:.3} s", started.elapsed().as_secs_f64()
                );
            }
            Outcome::Permanent(reason) => {
                health
                    .metrics
                    .job_results
                    .with_label_values(&["dead_lettered"])
                    .inc();
                let h = dead_letter_headers(
                    &job_headers,
                    (&id, &run),
                    &reason,
                    DeathReason::Permanent,
                    failed_before,
                );
                let props = amqp::properties(tilecast::run::job::JOB_TYPE, &id, h);
                let sent = publish_then_ack(&ch, &names.dead_exchange, "", &body, props, &delivery);
                if let Err(e) = sent.await {
                    return Ok(broker_lost(&conn, &id, e.context("dead-lettering the job")).await);
                }
                tracing::error!(
                    worker = %name, run = %run, job = %id, layer = %layer, field = %field, outcome = "dead_lettered",
                    reason = %reason, "job failed permanently and was dead-lettered: {reason}"
                );
            }
            Outcome::Transient(e) => {
                tracing::warn!(
                    worker = %name, run = %run, job = %id, layer = %layer, field = %field, outcome = "transient",
                    failed_before, "job failed: {e:#}"
                );
                let why = format!("{e:#}");
                let ids = (id.as_str(), run.as_str());
                return Ok(broker
                    .retry_or_bury(&delivery, &body, ids, &why, EXIT_TRANSIENT)
                    .await);
            }
        }
        done += 1;
    }
    let _ = conn.close(200, "done".into()).await;
    Ok(ExitCode::SUCCESS)
}

/// Publishes `body` with confirms, then acks the job it reports.
async fn publish_then_ack(
    ch: &lapin::Channel,
    exchange: &str,
    key: &str,
    body: &[u8],
    props: lapin::BasicProperties,
    delivery: &lapin::message::Delivery,
) -> anyhow::Result<()> {
    amqp::publish_confirmed(ch, exchange, key, body, props).await?;
    delivery
        .ack(BasicAckOptions::default())
        .await
        .context("acking the job")?;
    Ok(())
}

/// The broker failed while a job was being reported: the unacked job returns to the queue
/// when the connection closes (a redelivery finds its result and reports it again), and the
/// process exits 75.
async fn broker_lost(conn: &lapin::Connection, job: &str, e: anyhow::Error) -> ExitCode {
    tracing::warn!(job = %job, outcome = "transient", error = %format!("{e:#}"), "broker failed while reporting the job; it returns to the queue");
    let _ = conn.close(200, "broker error".into()).await;
    ExitCode::from(EXIT_TRANSIENT)
}

/// What a worker needs to send a failed job on: its connection, channel, topology and the
/// delivery limit.
struct Broker<'a> {
    conn: &'a lapin::Connection,
    ch: &'a lapin::Channel,
    /// The consumer's tag.
    tag: &'a str,
    names: &'a Names,
    delivery_limit: u64,
}

impl Broker<'_> {
    /// A delivery failed without the job being at fault (a transient error, or past
    /// `--job-timeout`). The job is published again with the failure counted in
    /// `x-tilecast-attempts`, or, once it has failed more than `--delivery-limit` times, sent to
    /// the dead-letter exchange; then this delivery is acked and the process exits `code`.
    /// Should the broker fail meanwhile, the connection closes and the unacked job returns.
    async fn retry_or_bury(
        &self,
        delivery: &lapin::message::Delivery,
        body: &[u8],
        (job, run): (&str, &str),
        error: &str,
        code: u8,
    ) -> ExitCode {
        // The process ends after this job: no further delivery may arrive once it is acked,
        // or it would return when the connection closes, counted as a failed delivery.
        let _ = self
            .ch
            .basic_cancel(self.tag.into(), BasicCancelOptions::default())
            .await;
        let job_headers = delivery.properties.headers().clone().unwrap_or_default();
        let failures = headers::failed_before(&job_headers) + 1;
        let id = if job == "?" { "unknown" } else { job };
        let sent = if failures > self.delivery_limit {
            let reason = format!(
                "delivery limit reached: failed on all {failures} deliveries (--delivery-limit {}); last error: {error}",
                self.delivery_limit
            );
            let h = dead_letter_headers(
                &job_headers,
                (job, run),
                &reason,
                DeathReason::DeliveryLimit,
                failures - 1,
            );
            let props = amqp::properties(tilecast::run::job::JOB_TYPE, id, h);
            let exchange = &self.names.dead_exchange;
            tracing::error!(job = %job, run = %run, outcome = "dead_lettered", failures,
                "job dead-lettered: {reason}");
            publish_then_ack(self.ch, exchange, "", body, props, delivery).await
        } else {
            // The new copy starts the broker's own count afresh.
            let mut h = headers::without(&job_headers, headers::BROKER_DELIVERY_COUNT);
            headers::set_count(&mut h, headers::ATTEMPTS, failures);
            let props = amqp::properties(tilecast::run::job::JOB_TYPE, id, h);
            let exchange = &self.names.jobs_exchange;
            tracing::warn!(job = %job, run = %run, outcome = "requeued", failures,
                limit = self.delivery_limit, "job requeued after failed delivery {failures}");
            publish_then_ack(self.ch, exchange, RENDER_KEY, body, props, delivery).await
        };
        match sent {
            Ok(()) => {
                let _ = self.conn.close(200, "job requeued".into()).await;
                ExitCode::from(code)
            }
            Err(e) => broker_lost(self.conn, job, e.context("sending the failed job on")).await,
        }
    }
}

/// Headers of a worker's dead letter: the reason, the job and run (`?` when unknown), why it
/// died, when it was published and how often it went back to the queue.
fn dead_letter_headers(
    job_headers: &FieldTable,
    (job, run): (&str, &str),
    reason: &str,
    death: DeathReason,
    requeues: u64,
) -> FieldTable {
    let mut h = headers::report(job_headers, requeues);
    headers::set_text(&mut h, "x-tilecast-reason", reason);
    headers::set_text(&mut h, "x-tilecast-job", job);
    headers::set_text(&mut h, "x-tilecast-run", run);
    headers::set_text(&mut h, headers::DEATH, death.label());
    h
}

/// Runs a job to its outcome; adds the seconds spent reading and writing its result record
/// to `books_seconds`. Blocking.
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
        Err(e) => return Outcome::Transient(e.into()),
    }
    let result = match execute::execute(job, sources, out, progress) {
        execute::Outcome::Done(r) => *r,
        execute::Outcome::Failed(f) if f.permanent => return Outcome::Permanent(f.reason),
        execute::Outcome::Failed(f) => return Outcome::Transient(anyhow::anyhow!(f.reason)),
    };
    if progress.stopped() {
        return Outcome::Transient(tilecast::Error::Stopped.into());
    }
    // Only after every tile is stored: a result means the job's outputs are all there.
    let t0 = Instant::now();
    let written = books.write_result(&result);
    *books_seconds += t0.elapsed().as_secs_f64();
    match written {
        Ok(()) => Outcome::Done(Box::new(result)),
        Err(e) => Outcome::Transient(e.into()),
    }
}
