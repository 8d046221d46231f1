//! The ledger: consumes job results and dead-letter events, records them in the run's
//! bookkeeping, and writes a run's `manifest.json` as soon as every job has a result or is
//! dead. It runs inside the chunker process or alone (`tilecast ledger`).
//!
//! State lives in the output store (see [`crate::books`]), so a restarted ledger loses
//! nothing; it also rechecks open runs periodically, which covers results whose messages were
//! lost with a broker restart.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use futures_lite::StreamExt;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions};
use lapin::types::{AMQPValue, FieldTable};
use tilecast::job::{Job, JobResult};

use crate::amqp::{self, log, AmqpArgs};
use crate::books::Books;

#[derive(Args, Clone)]
pub struct LedgerArgs {
    #[command(flatten)]
    pub amqp: AmqpArgs,
    /// Output root: where runs and their bookkeeping are.
    #[arg(long, short, env = "TILECAST_OUT")]
    pub out: PathBuf,
    /// Seconds between rechecks of open runs.
    #[arg(long, env = "TILECAST_LEDGER_RECHECK", default_value_t = 5.0)]
    pub recheck: f64,
}

pub fn run(args: LedgerArgs) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    rt.block_on(async {
        tokio::select! {
            r = serve(args) => r.map(|_| ExitCode::SUCCESS),
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

/// Runs the ledger forever, reconnecting whenever the broker goes away.
pub async fn serve(args: LedgerArgs) -> anyhow::Result<()> {
    let books = Books::new(&args.out);
    loop {
        if let Err(e) = session(&args, &books).await {
            log(
                "ledger",
                &format!("broker session ended: {e:#}; reconnecting"),
            );
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

async fn session(args: &LedgerArgs, books: &Books) -> anyhow::Result<()> {
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
    let mut tick = tokio::time::interval(Duration::from_secs_f64(args.recheck.max(0.1)));
    loop {
        tokio::select! {
            d = results.next() => {
                let d = d.ok_or_else(|| anyhow::anyhow!("results consumer closed"))??;
                let run = on_result(books, &d);
                d.ack(BasicAckOptions::default()).await?;
                if let Some(run) = run { check(books, &run); }
            }
            d = dead.next() => {
                let d = d.ok_or_else(|| anyhow::anyhow!("dead-letter consumer closed"))??;
                let run = on_dead(books, &d);
                d.ack(BasicAckOptions::default()).await?;
                if let Some(run) = run { check(books, &run); }
            }
            _ = tick.tick() => {
                for run in books.open_runs() { check(books, &run); }
            }
        }
    }
}

fn on_result(books: &Books, d: &Delivery) -> Option<String> {
    match serde_json::from_slice::<JobResult>(&d.data) {
        Ok(r) => {
            // The worker wrote this record before publishing; write it again in case the
            // ledger and worker do not share a store view yet.
            if books.read_result(&r.run, &r.job).is_none() {
                if let Err(e) = books.write_result(&r) {
                    log(
                        "ledger",
                        &format!("recording result of job {}: {e:#}", r.job),
                    );
                }
            }
            Some(r.run)
        }
        Err(e) => {
            log(
                "ledger",
                &format!("ignoring a malformed result message: {e}"),
            );
            None
        }
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

fn on_dead(books: &Books, d: &Delivery) -> Option<String> {
    let job = Job::parse(&d.data).ok();
    let run = header(d, "x-tilecast-run")
        .filter(|r| r != "?")
        .or_else(|| job.as_ref().map(|j| j.run.clone()));
    let id = header(d, "x-tilecast-job")
        .filter(|r| r != "?")
        .or_else(|| job.as_ref().map(|j| j.id.clone()));
    let reason = header(d, "x-tilecast-reason")
        .or_else(|| broker_reason(d))
        .unwrap_or_else(|| "dead-lettered".into());
    match (run, id) {
        (Some(run), Some(id)) if books.read_plan(&run).is_some() => {
            if let Err(e) = books.write_dead(&run, &id, &reason) {
                log("ledger", &format!("recording dead job {id}: {e:#}"));
            }
            log(
                "ledger",
                &format!("job {id} of run {run} is dead: {reason}"),
            );
            Some(run)
        }
        (run, id) => {
            log(
                "ledger",
                &format!("dead letter not from a known run (run {run:?}, job {id:?}): {reason}"),
            );
            None
        }
    }
}

fn check(books: &Books, run: &str) {
    if books.has_manifest(run) {
        return;
    }
    match books.try_complete(run) {
        Ok(true) => log("ledger", &format!("run {run} complete: manifest written")),
        Ok(false) => {}
        Err(e) => log("ledger", &format!("run {run}: writing the manifest: {e:#}")),
    }
}
