//! `tilecast ledger`: consumes job results and dead-letter events, hands them to the run
//! ledger ([`tilecast::run::ledger`]), which writes a run's `manifest.json` as soon as every
//! job has a result or is dead, and keeps the metrics that outlive workers (outcomes, stage
//! durations, tiles, requeues, dead letters by reason, end-to-end latency, queue depths).
//! It runs inside the chunker process or alone.
//!
//! The ledger's state is rebuilt from the bookkeeping in the output store, so a restarted
//! ledger loses nothing; runs nothing was heard of for `--recheck` seconds are re-read, which
//! covers results whose messages were lost with a broker restart.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use clap::Args;
use futures_lite::StreamExt;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use tilecast::io::store::Store;
use tilecast::run::batch;
use tilecast::run::books::Books;
use tilecast::run::catalog::prune::{prune, Rule};
use tilecast::run::job::{is_name, JobResult};
use tilecast::run::ledger::{Ledger, RunState};

use crate::commands::prune::RetentionArgs;
use crate::infra::amqp::{self, AmqpArgs, Names};
use crate::infra::headers::{self, DeathReason};
use crate::infra::http::{self, Health};
use crate::infra::management::Management;
use crate::infra::metrics::{Metrics, POLLED_QUEUES};
use crate::infra::signals::shutdown;
use crate::infra::storage::{blocking, Location, S3Args};

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
    /// Seconds between looks for new runs and polls of queue depths; a run nothing was heard
    /// of for this long is re-read from the bookkeeping.
    #[arg(long, env = "TILECAST_LEDGER_RECHECK", default_value_t = 5.0)]
    pub recheck: f64,
    /// Address for /metrics, /healthz and /readyz.
    #[arg(long, env = "TILECAST_METRICS_ADDR", default_value = "0.0.0.0:9464")]
    pub metrics_addr: SocketAddr,
    #[command(flatten)]
    pub retention: RetentionArgs,
    #[command(flatten)]
    pub depths: DepthArgs,
}

/// Where queue depths come from besides AMQP.
#[derive(Args, Clone, Debug)]
pub struct DepthArgs {
    /// RabbitMQ management API URL with the vhost (http://user:pass@host:15672/%2f): adds the
    /// unacknowledged messages of each queue (tilecast_queue_messages_unacked), which AMQP
    /// cannot tell. Without it, ready messages and consumers are still polled.
    #[arg(long, env = "TILECAST_MANAGEMENT_URL", hide_env_values = true)]
    pub management_url: Option<String>,
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
        let service = Service::new(store, health.clone(), true, args.retention.rule());
        let service = service.with_management(&args.depths)?;
        tokio::select! {
            r = server => r.map(|_| ExitCode::SUCCESS),
            r = service.serve(args.clone()) => r.map(|_| ExitCode::SUCCESS),
            _ = shutdown() => Ok(ExitCode::SUCCESS),
        }
    })
}

/// The ledger on the broker: results and dead letters in, manifests and metrics out.
pub struct Service {
    ledger: Mutex<Ledger>,
    health: Arc<Health>,
    /// Whether this ledger's broker session decides the process's readiness.
    owns_readiness: bool,
    /// Runs to remove after each completed run (`--prune-keep`, `--prune-older-than`).
    retention: Option<Rule>,
    /// The management API, for unacknowledged counts.
    management: Option<Management>,
    /// Whether the last management API poll failed (logged once per failing streak).
    management_failing: std::sync::atomic::AtomicBool,
    /// Whether the viewer is in the output store (published at start-up, else retried at
    /// every recheck until it is: a store outage at start must not leave it half written).
    viewer: std::sync::atomic::AtomicBool,
    /// Whether publishing it has failed already (logged once).
    viewer_failing: std::sync::atomic::AtomicBool,
}

impl Service {
    pub fn new(
        store: Arc<dyn Store>,
        health: Arc<Health>,
        owns_readiness: bool,
        retention: Option<Rule>,
    ) -> Service {
        Service {
            ledger: Mutex::new(Ledger::new(Books::new(store))),
            health,
            owns_readiness,
            retention,
            management: None,
            management_failing: false.into(),
            viewer: false.into(),
            viewer_failing: false.into(),
        }
    }

    /// Also polls unacknowledged counts from the management API, when given one.
    pub fn with_management(mut self, args: &DepthArgs) -> anyhow::Result<Service> {
        self.management = args
            .management_url
            .as_deref()
            .map(Management::new)
            .transpose()?;
        Ok(self)
    }

    /// Applies the retention rule after a run completed.
    fn retain(&self) {
        let Some(rule) = self.retention else { return };
        let store = self.ledger().books().store().clone();
        match prune(store.as_ref(), rule, SystemTime::now(), false) {
            Ok(p) if !p.runs.is_empty() => {
                tracing::info!(component = "ledger", runs = %p.runs.join(","), objects = p.objects,
                    "pruned old runs");
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(component = "ledger", error = %e, "pruning old runs"),
        }
    }

    /// Writes the viewer beside the catalog it reads (`crate::site`) until it is there: at
    /// start-up and then at each recheck after a failure, which is logged once; the ledger
    /// goes on meanwhile, since manifests matter more than the page.
    fn publish_viewer(&self) {
        use std::sync::atomic::Ordering::Relaxed;
        if self.viewer.load(Relaxed) {
            return;
        }
        let store = self.ledger().books().store().clone();
        match blocking(|| crate::site::publish(store.as_ref())) {
            Ok(()) => {
                self.viewer.store(true, Relaxed);
                tracing::info!(component = "ledger", key = "index.html", "viewer published");
            }
            Err(e) if !self.viewer_failing.swap(true, Relaxed) => {
                tracing::warn!(component = "ledger", error = %format!("{e:#}"),
                    "publishing the viewer; retrying at each recheck")
            }
            Err(_) => {}
        }
    }

    fn metrics(&self) -> &Metrics {
        &self.health.metrics
    }

    /// Runs forever, reconnecting whenever the broker goes away.
    pub async fn serve(&self, args: LedgerArgs) -> anyhow::Result<()> {
        self.publish_viewer();
        loop {
            if let Err(e) = self.session(&args).await {
                if self.owns_readiness {
                    self.health.set_ready(false);
                }
                tracing::warn!(component = "ledger", error = %format!("{e:#}"), "broker session ended; reconnecting");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }

    async fn session(&self, args: &LedgerArgs) -> anyhow::Result<()> {
        let conn = amqp::connect(&args.amqp, "ledger").await?;
        amqp::while_connected(&conn, self.consume(&conn, args)).await
    }

    /// Takes results and dead letters, and rechecks, on one connection.
    async fn consume(&self, conn: &lapin::Connection, args: &LedgerArgs) -> anyhow::Result<()> {
        let (ch, names) = amqp::confirm_channel(conn, &args.amqp).await?;
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
        let recheck = Duration::from_secs_f64(args.recheck.max(0.1));
        let mut tick = tokio::time::interval(recheck);
        loop {
            tokio::select! {
                d = results.next() => {
                    let d = d.ok_or_else(|| anyhow::anyhow!("results consumer closed"))??;
                    blocking(|| self.on_result(&d));
                    d.ack(BasicAckOptions::default()).await?;
                }
                d = dead.next() => {
                    let d = d.ok_or_else(|| anyhow::anyhow!("dead-letter consumer closed"))??;
                    if blocking(|| self.on_dead(&d)) {
                        // Its record could not be written: the death is its only trace, so
                        // the event goes back to the queue, after a pause.
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        d.nack(BasicNackOptions { requeue: true, ..Default::default() }).await?;
                    } else {
                        d.ack(BasicAckOptions::default()).await?;
                    }
                }
                _ = tick.tick() => {
                    blocking(|| self.recheck(recheck));
                    self.publish_viewer();
                    self.poll_depths(&ch, &names).await?;
                }
            }
        }
    }

    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().expect("not poisoned")
    }

    fn on_result(&self, d: &Delivery) {
        let r = match JobResult::parse(&d.data) {
            Ok(r) => r,
            Err(e) => {
                self.metrics().ledger_rejected.inc();
                tracing::warn!(component = "ledger", error = %e, "ignoring a malformed result message");
                return;
            }
        };
        self.metrics().record_result(&r, &r.outcome);
        let h = d.properties.headers().clone().unwrap_or_default();
        let requeues = headers::count(&h, headers::REQUEUES).unwrap_or(0);
        self.metrics().job_requeues.inc_by(requeues);
        if r.outcome == "done" {
            if let Some(s) = headers::seconds_since_published(&h) {
                self.metrics().job_latency.observe(s);
            }
        }
        let (run, job) = (r.run.clone(), r.job.clone());
        tracing::debug!(component = "ledger", run = %run, job = %job, "result recorded");
        let state = self.ledger().record_result(r);
        self.report(&run, Some(&job), state);
    }

    /// Records a dead letter; true when it should be delivered again (a transient failure
    /// to record it).
    fn on_dead(&self, d: &Delivery) -> bool {
        let h = d.properties.headers().clone().unwrap_or_default();
        self.metrics()
            .dead_letters
            .with_label_values(&[DeathReason::of(&h).label()])
            .inc();
        self.metrics()
            .job_requeues
            .inc_by(headers::requeues_of_dead(&h));
        // Parsing is pure (nothing the message names is read), and every name is checked
        // before it becomes part of a bookkeeping key. A worker's dead letter is one job,
        // named in its headers; the broker's (delivery limit) or an older worker's may be a
        // batch, whose jobs all died with it (those with a stored result count as done).
        let jobs = batch::parse_message(&d.data).unwrap_or_default();
        let run = header(d, "x-tilecast-run")
            .filter(|r| is_name(r))
            .or_else(|| jobs.first().map(|j| j.run.clone()));
        let ids: Vec<String> = match header(d, "x-tilecast-job").filter(|r| is_name(r)) {
            Some(id) => vec![id],
            None => jobs.iter().map(|j| j.id.clone()).collect(),
        };
        self.metrics()
            .job_results
            .with_label_values(&["dead_lettered"])
            .inc_by(ids.len().max(1) as u64);
        let reason: String = header(d, "x-tilecast-reason")
            .or_else(|| broker_reason(d))
            .unwrap_or_else(|| "dead-lettered".into())
            .chars()
            .take(tilecast::run::execute::MAX_REASON_CHARS)
            .collect();
        let Some(run) = run.filter(|_| !ids.is_empty()) else {
            self.metrics().ledger_rejected.inc();
            tracing::warn!(component = "ledger", reason = %reason, "dead letter without a valid run and job: ignored");
            return false;
        };
        let mut again = false;
        for id in ids {
            tracing::warn!(component = "ledger", run = %run, job = %id, reason = %reason, "job is dead");
            let state = self.ledger().record_dead(&run, &id, &reason);
            again |= matches!(&state, Err(e) if !e.is_permanent());
            self.report(&run, Some(&id), state);
        }
        again
    }

    /// Looks for new runs and re-reads quiet ones; updates the run gauges.
    fn recheck(&self, idle: Duration) {
        let mut ledger = self.ledger();
        let swept = ledger.books().sweep_tmp(Duration::from_secs(3600));
        if swept > 0 {
            tracing::info!(
                component = "ledger",
                files = swept,
                "removed stale temporary files"
            );
        }
        match ledger.recheck(idle) {
            Ok(changed) => {
                drop(ledger);
                for (run, state) in changed {
                    self.report(&run, None, Ok(state));
                }
            }
            Err(e) => {
                drop(ledger);
                tracing::warn!(component = "ledger", error = %e, "rechecking runs");
            }
        }
        let (open, oldest) = self.ledger().open_runs();
        self.metrics().runs_open.set(open as i64);
        self.metrics().oldest_open_run_age.set(oldest.as_secs_f64());
    }

    /// Logs and counts what an event did to its run.
    fn report(&self, run: &str, job: Option<&str>, state: tilecast::Result<RunState>) {
        let job = job.unwrap_or("");
        match state {
            Ok(RunState::Completed) => {
                self.metrics().runs_completed.inc();
                for took in self.ledger().take_run_durations() {
                    self.metrics().run_duration.observe(took.as_secs_f64());
                }
                let now = SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .unwrap_or_default();
                self.metrics().last_run_completed.set(now.as_secs_f64());
                tracing::info!(component = "ledger", run = %run, "run complete: manifest written");
                self.retain();
            }
            Ok(RunState::Unknown) => {
                self.metrics().ledger_rejected.inc();
                tracing::warn!(component = "ledger", run = %run, job = %job, "no plan for this run: event ignored");
            }
            Ok(RunState::Refused) => {
                self.metrics().ledger_rejected.inc();
                tracing::warn!(component = "ledger", run = %run, job = %job,
                    "a result about another layer than its job's: ignored");
            }
            Ok(RunState::Open { .. } | RunState::Complete) => {}
            Err(e) => {
                // The event stays recorded by its worker (results) or is lost (a death whose
                // record could not be written); the recheck of quiet runs finds the former.
                tracing::warn!(component = "ledger", run = %run, job = %job, error = %e,
                    transient = !e.is_permanent(), "recording an event failed");
            }
        }
    }

    /// Ready messages and consumers of each polled queue (a passive declare), and their
    /// unacknowledged messages from the management API when there is one.
    async fn poll_depths(&self, ch: &lapin::Channel, names: &Names) -> anyhow::Result<()> {
        for label in POLLED_QUEUES {
            let q = match label {
                "render" => &names.render,
                "dead" => &names.dead,
                "results" => &names.results,
                _ => &names.dead_events,
            };
            let opts = QueueDeclareOptions {
                passive: true,
                ..Default::default()
            };
            let d = ch
                .queue_declare(q.as_str().into(), opts, FieldTable::default())
                .await?;
            let m = self.metrics();
            m.queue_messages
                .with_label_values(&[label])
                .set(d.message_count() as f64);
            m.queue_consumers
                .with_label_values(&[label])
                .set(d.consumer_count() as f64);
            let Some(api) = &self.management else {
                continue;
            };
            use std::sync::atomic::Ordering::Relaxed;
            match api.queue(q).await {
                Ok(c) => {
                    m.queue_unacked
                        .with_label_values(&[label])
                        .set(c.messages_unacknowledged as f64);
                    self.management_failing.store(false, Relaxed);
                }
                Err(e) => {
                    if !self.management_failing.swap(true, Relaxed) {
                        tracing::warn!(component = "ledger", error = %format!("{e:#}"),
                            "cannot read unacknowledged counts from the management API");
                    }
                }
            }
        }
        Ok(())
    }
}

/// A text header of a delivery.
fn header(d: &Delivery, key: &str) -> Option<String> {
    headers::text(d.properties.headers().as_ref()?, key)
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
