//! The ledger: consumes job results and dead-letter events, records them in the run's
//! bookkeeping, and writes a run's `manifest.json` as soon as every job has a result or is
//! dead. It runs inside the chunker process or alone (`tilecast ledger`), and keeps the
//! metrics that outlive workers (outcomes, stage durations, tiles, queue depths).
//!
//! State lives in the output store (see [`crate::books`]), so a restarted ledger loses
//! nothing; it also rechecks open runs periodically, which covers results whose messages were
//! lost with a broker restart.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use clap::Args;
use futures_lite::StreamExt;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use tilecast::job::{is_name, Job, JobResult};

use crate::amqp::{self, AmqpArgs, Names};
use crate::books::Books;
use crate::http::{self, Health};
use crate::metrics::Metrics;
use crate::storage::{Location, S3Args};
use tilecast::store::Store;

#[derive(Args, Clone)]
pub struct LedgerArgs {
    #[command(flatten)]
    pub amqp: AmqpArgs,
    /// Output root: where runs and their bookkeeping are (a path, file://path or
    /// s3://bucket/prefix).
    #[arg(long, short, env = "TILECAST_OUT")]
    pub out: String,
    #[command(flatten)]
    pub s3: S3Args,
    /// Seconds between rechecks of open runs and polls of queue depths.
    #[arg(long, env = "TILECAST_LEDGER_RECHECK", default_value_t = 5.0)]
    pub recheck: f64,
    /// Address for /metrics, /healthz and /readyz.
    #[arg(long, env = "TILECAST_METRICS_ADDR", default_value = "0.0.0.0:9464")]
    pub metrics_addr: SocketAddr,
}

pub fn run(args: LedgerArgs) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let health = Health::new(Arc::new(Metrics::new()));
        let server = http::serve(args.metrics_addr, health.clone());
        let store = Location::parse(&args.out)?.open(&args.s3)?;
        let ledger = Ledger::new(store, health.clone(), true);
        tokio::select! {
            r = server => r.map(|_| ExitCode::SUCCESS),
            r = ledger.serve(args.clone()) => r.map(|_| ExitCode::SUCCESS),
            _ = shutdown() => Ok(ExitCode::SUCCESS),
        }
    })
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("signal handler");
    let mut int = signal(SignalKind::interrupt()).expect("signal handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

pub struct Ledger {
    books: Books,
    /// Runs known to have their manifest (not asked again).
    complete: Mutex<HashSet<String>>,
    health: Arc<Health>,
    /// Whether this ledger's broker session decides the process's readiness.
    owns_readiness: bool,
}

impl Ledger {
    pub fn new(store: Arc<dyn Store>, health: Arc<Health>, owns_readiness: bool) -> Ledger {
        Ledger {
            books: Books::new(store),
            complete: Mutex::new(HashSet::new()),
            health,
            owns_readiness,
        }
    }

    fn metrics(&self) -> &Metrics {
        &self.health.metrics
    }

    /// Runs forever, reconnecting whenever the broker goes away.
    pub async fn serve(&self, args: LedgerArgs) -> anyhow::Result<()> {
        loop {
            if let Err(e) = self.session(&args).await {
                if self.owns_readiness {
                    self.health.set_ready(false);
                }
                amqp::warn(
                    "ledger",
                    &format!("broker session ended: {e:#}; reconnecting"),
                );
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }

    async fn session(&self, args: &LedgerArgs) -> anyhow::Result<()> {
        let conn = amqp::connect(&args.amqp, "ledger").await?;
        let (ch, names) = amqp::confirm_channel(&conn, &args.amqp).await?;
        ch.basic_qos(64, BasicQosOptions::default()).await?;
        let mut results = ch
            .basic_consume(
                names.results.as_str().into(),
                "ledger-results".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        let mut dead = ch
            .basic_consume(
                names.dead_events.as_str().into(),
                "ledger-dead".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        if self.owns_readiness {
            self.health.set_ready(true);
        }
        let mut tick = tokio::time::interval(Duration::from_secs_f64(args.recheck.max(0.1)));
        loop {
            tokio::select! {
                d = results.next() => {
                    let d = d.ok_or_else(|| anyhow::anyhow!("results consumer closed"))??;
                    let run = self.on_result(&d);
                    d.ack(BasicAckOptions::default()).await?;
                    if let Some(run) = run { self.check(&run); }
                }
                d = dead.next() => {
                    let d = d.ok_or_else(|| anyhow::anyhow!("dead-letter consumer closed"))??;
                    let run = self.on_dead(&d);
                    d.ack(BasicAckOptions::default()).await?;
                    if let Some(run) = run { self.check(&run); }
                }
                                _ = tick.tick() => {
                    let swept = self.books.sweep_tmp(Duration::from_secs(3600));
                    if swept > 0 {
                        amqp::log("ledger", &format!("removed {swept} stale temporary files"));
                    }
                    let open = self.open_runs();
                    for run in &open { self.check(run); }
                    self.gauge_runs(&open);
                    self.poll_depths(&ch, &names).await?;
                }
            }
        }
    }

    fn on_result(&self, d: &Delivery) -> Option<String> {
        match JobResult::parse(&d.data) {
            Ok(r) => {
                self.metrics().record_result(&r, &r.outcome);
                // The worker wrote this record before publishing; write it again in case the
                // ledger and worker do not share a store view yet.
                if !matches!(self.books.read_result(&r.run, &r.job), Ok(Some(_))) {
                    if let Err(e) = self.books.write_result(&r) {
                        amqp::warn(
                            "ledger",
                            &format!("recording result of job {}: {e:#}", r.job),
                        );
                    }
                }
                Some(r.run)
            }
            Err(e) => {
                self.metrics().ledger_rejected.inc();
                amqp::warn(
                    "ledger",
                    &format!("ignoring a malformed result message: {e}"),
                );
                None
            }
        }
    }

    fn on_dead(&self, d: &Delivery) -> Option<String> {
        self.metrics()
            .job_results
            .with_label_values(&["dead_lettered"])
            .inc();
        // Parsing is pure (nothing the message names is read), and every name is checked
        // before it becomes part of a bookkeeping key.
        let job = Job::parse(&d.data).ok();
        let run = header(d, "x-tilecast-run")
            .filter(|r| is_name(r))
            .or_else(|| job.as_ref().map(|j| j.run.clone()));
        let id = header(d, "x-tilecast-job")
            .filter(|r| is_name(r))
            .or_else(|| job.as_ref().map(|j| j.id.clone()));
        let reason: String = header(d, "x-tilecast-reason")
            .or_else(|| broker_reason(d))
            .unwrap_or_else(|| "dead-lettered".into())
            .chars()
            .take(2000)
            .collect();
        match (run, id) {
            (Some(run), Some(id)) if matches!(self.books.read_plan(&run), Ok(Some(_))) => {
                if let Err(e) = self.books.write_dead(&run, &id, &reason) {
                    amqp::warn("ledger", &format!("recording dead job {id}: {e:#}"));
                }
                tracing::warn!(component = "ledger", run = %run, job = %id, reason = %reason, "job is dead: {reason}");
                Some(run)
            }
            (run, id) => {
                self.metrics().ledger_rejected.inc();
                amqp::warn(
                    "ledger",
                    &format!(
                        "dead letter not from a known run (run {run:?}, job {id:?}): {reason}"
                    ),
                );
                None
            }
        }
    }

    /// Runs with a plan and no manifest, leaving out those known to be complete. A store
    /// error is logged and gives no runs (the next tick asks again).
    fn open_runs(&self) -> Vec<String> {
        let known = self.complete.lock().expect("not poisoned").clone();
        match self.books.open_runs(&known) {
            Ok((open, complete)) => {
                self.complete.lock().expect("not poisoned").extend(complete);
                open
            }
            Err(e) => {
                amqp::warn("ledger", &format!("listing open runs: {e:#}"));
                Vec::new()
            }
        }
    }

    fn check(&self, run: &str) {
        if self.complete.lock().expect("not poisoned").contains(run) {
            return;
        }
        match self.books.has_manifest(run) {
            Ok(true) => {
                self.complete
                    .lock()
                    .expect("not poisoned")
                    .insert(run.to_string());
                return;
            }
            Ok(false) => {}
            Err(e) => {
                amqp::warn("ledger", &format!("run {run}: {e:#}"));
                return;
            }
        }
        match self.books.try_complete(run) {
            Ok(true) => {
                self.complete
                    .lock()
                    .expect("not poisoned")
                    .insert(run.to_string());
                self.metrics().runs_completed.inc();
                let now = SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .unwrap_or_default();
                self.metrics().last_run_completed.set(now.as_secs_f64());
                tracing::info!(component = "ledger", run = %run, "run complete: manifest written");
            }
            Ok(false) => {}
            Err(e) => amqp::warn("ledger", &format!("run {run}: writing the manifest: {e:#}")),
        }
    }

    /// Open runs and the age of the oldest (its plan's modification time).
    fn gauge_runs(&self, open: &[String]) {
        self.metrics().runs_open.set(open.len() as i64);
        let oldest = open
            .iter()
            .filter_map(|r| self.books.plan_age(r))
            .fold(0.0f64, |a, b| a.max(b.as_secs_f64()));
        self.metrics().oldest_open_run_age.set(oldest);
    }

    async fn poll_depths(&self, ch: &lapin::Channel, names: &Names) -> anyhow::Result<()> {
        for (label, q) in [("render", &names.render), ("dead", &names.dead)] {
            let opts = QueueDeclareOptions {
                passive: true,
                ..Default::default()
            };
            let d = ch
                .queue_declare(q.as_str().into(), opts, FieldTable::default())
                .await?;
            self.metrics()
                .queue_messages
                .with_label_values(&[label])
                .set(d.message_count() as f64);
        }
        Ok(())
    }
}

fn header(d: &Delivery, key: &str) -> Option<String> {
    let headers = d.properties.headers().as_ref()?;
    match headers.inner().get(key)? {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.as_str().to_string()),
        _ => None,
    }
}

/// The broker's reason for a dead letter (`x-first-death-reason`: rejected, delivery_limit...).
fn broker_reason(d: &Delivery) -> Option<String> {
    header(d, "x-first-death-reason").map(|r| match r.as_str() {
        "delivery_limit" => {
            "delivery limit reached: the job failed or its worker died on every attempt".to_string()
        }
        other => format!("dead-lettered by the broker: {other}"),
    })
}
