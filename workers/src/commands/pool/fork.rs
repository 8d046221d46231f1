//! `tilecast pool --spawn fork`: one broker connection, up to N jobs taken at once, each run
//! in a process forked by the fork server ([`super::zygote`]).
//!
//! The pool consumes with a prefetch of N, hands each delivery to the fork server, and when
//! the job's process has finished, sends its outcome on and acks exactly as a worker does
//! ([`Reporter`]): a result, a dead letter, or the job published again with its failure
//! counted. A process that dies without an outcome (a crash, a SIGKILL, the OOM killer) is a
//! failed delivery, counted like a transient error, so a job that always kills its process
//! is dead-lettered after `--delivery-limit` failures with the signal named. Past
//! `--job-timeout` the process gets SIGTERM (it stops between tiles), then SIGKILL a second
//! later, and the job is a failed delivery.
//!
//! If the fork server dies, its job processes die with it: their jobs are failed deliveries
//! and a new fork server starts. If the broker fails, the running jobs are stopped (they
//! return to the queue with the connection) and the pool connects again, backing off up to
//! 10 s. SIGTERM or SIGINT: no more jobs are taken, running ones are stopped; a job that had
//! finished is reported and acked, the others return to the queue; then the pool exits 0.

use std::collections::{HashMap, VecDeque};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_lite::StreamExt;
use futures_util::stream::FuturesUnordered;
use lapin::options::{BasicCancelOptions, BasicConsumeOptions, BasicQosOptions};
use lapin::types::FieldTable;
use tilecast::run::batch;
use tilecast::run::job::Job;
use tokio::signal::unix::{signal, Signal, SignalKind};

use super::server::Server;
use super::zygote::{Event, Request};
use super::PoolArgs;
use crate::commands::worker::{JobIds, Outcome, Reporter, WorkerArgs};
use crate::infra::amqp;
use crate::infra::http::{self, Health};
use crate::infra::metrics::Metrics;

/// How long a stopped job's process has to reach a tile boundary before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(1);

/// A delivery (a job or a batch) handed to the fork server.
struct Running {
    delivery: lapin::message::Delivery,
    /// Its jobs (none when the message does not parse).
    jobs: Vec<Job>,
    ids: JobIds,
    pid: i32,
    started: Instant,
    /// When the pool next acts on it: the job timeout, then SIGKILL after the grace.
    deadline: Instant,
    /// Stopped by the pool (timeout, shutdown, broker lost), with why.
    stopped: Option<String>,
}

pub async fn supervise(args: &PoolArgs, worker: WorkerArgs) -> anyhow::Result<ExitCode> {
    let health = Health::new(Arc::new(Metrics::new()));
    if let Some(addr) = worker.metrics_addr {
        let h = health.clone();
        tokio::spawn(async move {
            if let Err(e) = http::serve(addr, h).await {
                tracing::warn!(component = "pool", "cannot serve metrics on {addr}: {e:#}");
            }
        });
    }
    let mut server = Server::start(args)?;
    let code = sessions(args, worker, &mut server, &health).await;
    server.close().await;
    code
}

/// Sessions with the broker, one after another, until SIGTERM or SIGINT.
async fn sessions(
    args: &PoolArgs,
    worker: WorkerArgs,
    server: &mut Server,
    health: &Health,
) -> anyhow::Result<ExitCode> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let name = format!("pool-{}", std::process::id());
    let mut running: HashMap<u64, Running> = HashMap::new();
    let mut backoff = Duration::ZERO;
    let mut next_id = 0u64;
    loop {
        let conn = tokio::select! {
            c = amqp::connect(&worker.amqp, &name) => c,
            _ = term.recv() => return Ok(ExitCode::SUCCESS),
            _ = int.recv() => return Ok(ExitCode::SUCCESS),
        };
        let result = match conn {
            Ok(conn) => {
                let mut s = Session {
                    args,
                    worker: &worker,
                    name: &name,
                    server,
                    running: &mut running,
                    next_id: &mut next_id,
                    health,
                };
                let r = amqp::while_connected(&conn, s.run(&conn, (&mut term, &mut int))).await;
                health.set_ready(false);
                if r.is_err() {
                    // The deliveries died with the channel: stop their jobs (a job that
                    // finishes anyway is found done when it comes back).
                    stop_all(server, &mut running, None).await;
                }
                amqp::close(&conn, "pool stopping").await;
                r
            }
            Err(e) => Err(e),
        };
        match result {
            // Only a signal ends a session without an error.
            Ok(()) => return Ok(ExitCode::SUCCESS),
            Err(e) => {
                backoff = (backoff * 2).clamp(Duration::from_millis(250), Duration::from_secs(10));
                tracing::warn!(component = "pool", error = %format!("{e:#}"),
                    "broker connection lost; connecting again in {:.2} s", backoff.as_secs_f64());
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = term.recv() => return Ok(ExitCode::SUCCESS),
                    _ = int.recv() => return Ok(ExitCode::SUCCESS),
                }
            }
        }
    }
}

struct Session<'a> {
    args: &'a PoolArgs,
    worker: &'a WorkerArgs,
    name: &'a str,
    server: &'a mut Server,
    running: &'a mut HashMap<u64, Running>,
    next_id: &'a mut u64,
    /// `--metrics-addr`'s readiness and job counts.
    health: &'a Health,
}

impl Session<'_> {
    async fn run(
        &mut self,
        conn: &lapin::Connection,
        (term, int): (&mut Signal, &mut Signal),
    ) -> anyhow::Result<()> {
        let (ch, names) = amqp::worker_channel(conn, &self.worker.amqp).await?;
        let workers = self.args.workers;
        let places = usize::from(workers);
        let taken = places + usize::from(self.args.prefetch);
        ch.basic_qos(
            workers.saturating_add(self.args.prefetch),
            BasicQosOptions::default(),
        )
        .await?;
        let mut consumer = ch
            .basic_consume(
                names.render.as_str().into(),
                self.name.into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        tracing::info!(component = "pool", workers, "pool connected; taking jobs");
        self.health.set_ready(true);
        let reporter = Reporter {
            ch: &ch,
            names: &names,
            delivery_limit: u64::from(self.worker.amqp.delivery_limit),
            who: self.name,
        };
        let timeout = Duration::from_secs_f64(self.worker.job_timeout);
        // Deliveries taken ahead of a free place (`--prefetch`); unacked, so they return to
        // the queue with the connection should the pool go.
        let mut waiting = VecDeque::new();
        // Outcomes being sent on and acked (a publish confirm takes the broker's disk
        // flush): concurrently, so a job finishing meanwhile is not kept waiting.
        let mut settling = FuturesUnordered::new();
        loop {
            let deadline = self.running.values().map(|r| r.deadline).min();
            let wake = deadline.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                d = consumer.next(), if self.running.len() + waiting.len() < taken => {
                    let d = match d {
                        Some(d) => d.context("receiving a job")?,
                        None => anyhow::bail!("the broker closed the consumer"),
                    };
                    let jobs = batch::parse_message(&d.data).unwrap_or_default();
                    if d.redelivered && jobs.len() > 1 {
                        // A batch back from a consumer that was lost while holding it: its
                        // jobs go on alone, so a job that kills its process dies alone.
                        let why = "its batch was delivered again after its worker was lost";
                        reporter.retry_or_bury(&d, &jobs, &JobIds::of(&jobs), why).await?;
                        continue;
                    }
                    waiting.push_back((d, jobs));
                    self.start_waiting(&mut waiting, places, timeout).await;
                }
                ev = self.server.events.recv() => match ev {
                    Some(Event::Started { id, pid }) => {
                        if let Some(r) = self.running.get_mut(&id) {
                            r.pid = pid;
                        }
                    }
                    Some(Event::Finished { id, status, outcome }) => {
                        let Some(r) = self.running.remove(&id) else { continue };
                        let finished = Instant::now();
                        // The next job starts before this one is reported.
                        self.start_waiting(&mut waiting, places, timeout).await;
                        let outcomes = judge(&r, status, &outcome);
                        for o in &outcomes {
                            o.count(&self.health.metrics);
                        }
                        let (reporter, who) = (&reporter, self.name);
                        settling.push(async move {
                            reporter.settle(&r.delivery, &r.jobs, &outcomes, &r.ids).await?;
                            log_done(who, &r, &outcomes, finished);
                            anyhow::Ok(())
                        });
                    }
                    None => self.replace_server(&reporter).await?,
                },
                Some(settled) = settling.next(), if !settling.is_empty() => settled?,
                _ = tokio::time::sleep_until(wake.into()), if deadline.is_some() => {
                    self.past_deadlines(timeout).await;
                }
                _ = term.recv() => break,
                _ = int.recv() => break,
            }
        }
        // Stopping: the outcomes being sent on are sent (or fail with the broker) first.
        while settling.next().await.is_some() {}
        self.stop(&ch, &reporter).await
    }

    /// Hands waiting deliveries to the fork server while places are free.
    async fn start_waiting(
        &mut self,
        waiting: &mut VecDeque<(lapin::message::Delivery, Vec<Job>)>,
        places: usize,
        timeout: Duration,
    ) {
        while self.running.len() < places {
            let Some((d, jobs)) = waiting.pop_front() else {
                return;
            };
            *self.next_id += 1;
            let id = *self.next_id;
            let ids = JobIds::of(&jobs);
            let job = d.data.clone();
            self.server.send(Request::Run { id, job }).await;
            let now = Instant::now();
            let r = Running {
                delivery: d,
                jobs,
                ids,
                pid: 0,
                started: now,
                deadline: now + timeout,
                stopped: None,
            };
            self.running.insert(id, r);
        }
    }

    /// The fork server died, and every job's process with it: each of their jobs is a
    /// failed delivery. Then a new fork server, after a pause if the last one died young.
    async fn replace_server(&mut self, reporter: &Reporter<'_>) -> anyhow::Result<()> {
        tracing::error!(
            component = "pool",
            jobs = self.running.len(),
            "the fork server died"
        );
        for (_, r) in self.running.drain() {
            let why = "the fork server died while the job ran (its process died with it)";
            reporter
                .retry_or_bury(&r.delivery, &r.jobs, &r.ids, why)
                .await?;
        }
        if self.server.started.elapsed() < Duration::from_secs(1) {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        *self.server = Server::start(self.args)?;
        Ok(())
    }

    /// SIGTERM to jobs past `--job-timeout`, SIGKILL to those still alive a grace later.
    async fn past_deadlines(&mut self, timeout: Duration) {
        let now = Instant::now();
        let mut signals = Vec::new();
        for (id, r) in self.running.iter_mut().filter(|(_, r)| r.deadline <= now) {
            if r.stopped.is_none() {
                let why = format!(
                    "still running after --job-timeout {} s",
                    timeout.as_secs_f64()
                );
                tracing::error!(component = "pool", job = %r.ids.id, pid = r.pid, outcome = "timeout",
                    "job {why}: stopping it");
                r.stopped = Some(why);
                r.deadline = now + STOP_GRACE;
                signals.push((*id, libc::SIGTERM));
            } else {
                r.deadline = now + Duration::from_secs(3600);
                signals.push((*id, libc::SIGKILL));
            }
        }
        for (id, signal) in signals {
            self.server.send(Request::Signal { id, signal }).await;
        }
    }

    /// Takes no more jobs, stops the running ones, reports those that finished anyway.
    async fn stop(&mut self, ch: &lapin::Channel, reporter: &Reporter<'_>) -> anyhow::Result<()> {
        let _ = ch
            .basic_cancel(self.name.into(), BasicCancelOptions::default())
            .await;
        tracing::info!(component = "pool", jobs = self.running.len(), "stopping");
        stop_all(self.server, self.running, Some(reporter)).await;
        Ok(())
    }
}

/// Stops every running job and waits for its process (SIGKILL after the grace). A job that
/// finished is reported when there is a `reporter`; the others stay unacked, and return to
/// the queue when the connection closes.
async fn stop_all(
    server: &mut Server,
    running: &mut HashMap<u64, Running>,
    reporter: Option<&Reporter<'_>>,
) {
    for (id, r) in running.iter_mut() {
        r.stopped
            .get_or_insert_with(|| "stopped by the pool".into());
        let signal = libc::SIGTERM;
        server.send(Request::Signal { id: *id, signal }).await;
    }
    let mut killed = false;
    let mut until = Instant::now() + STOP_GRACE;
    while !running.is_empty() {
        tokio::select! {
            ev = server.events.recv() => match ev {
                Some(Event::Finished { id, status, outcome }) => {
                    let Some(r) = running.remove(&id) else { continue };
                    let finished = Instant::now();
                    let outcomes = judge(&r, status, &outcome);
                    let all_done = outcomes
                        .iter()
                        .all(|o| matches!(o, Outcome::Done(_) | Outcome::AlreadyDone(_)));
                    if let (Some(rep), true) = (reporter, all_done) {
                        if rep.settle(&r.delivery, &r.jobs, &outcomes, &r.ids).await.is_ok() {
                            log_done(rep.who, &r, &outcomes, finished);
                        }
                    }
                }
                Some(Event::Started { .. }) => {}
                None => break,
            },
            _ = tokio::time::sleep_until(until.into()) => {
                if killed {
                    break;
                }
                for id in running.keys() {
                    server.send(Request::Signal { id: *id, signal: libc::SIGKILL }).await;
                }
                killed = true;
                until = Instant::now() + STOP_GRACE;
            }
        }
    }
    running.clear();
}

/// The outcomes of a finished job's process, one per job of its delivery (one for a
/// message that did not parse), from its wait status and what it wrote. A single transient
/// outcome for a batch (the fork failed) stands for every job of it; a process the pool
/// stopped failed with the pool's reason.
fn judge(r: &Running, status: i32, bytes: &[u8]) -> Vec<Outcome> {
    let expected = r.jobs.len().max(1);
    let reported = if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
        match serde_json::from_slice::<Vec<Outcome>>(bytes) {
            Ok(o) if o.len() == expected => Ok(o),
            Ok(o) => match o.as_slice() {
                // One failure for the whole delivery (its process could not be forked).
                [Outcome::Transient(why)] => Err(why.clone()),
                _ => Err(format!(
                    "the job's process {} sent {} outcomes for {expected} jobs",
                    r.pid,
                    o.len()
                )),
            },
            Err(e) => Err(format!(
                "the job's process {} sent an unreadable outcome: {e}",
                r.pid
            )),
        }
    } else if libc::WIFSIGNALED(status) {
        Err(format!(
            "the job's process {} was killed by signal {} before reporting",
            r.pid,
            libc::WTERMSIG(status)
        ))
    } else {
        Err(format!(
            "the job's process {} exited with {} before reporting",
            r.pid,
            libc::WEXITSTATUS(status)
        ))
    };
    match reported {
        Ok(outcomes) => outcomes
            .into_iter()
            .map(|o| match (o, &r.stopped) {
                (o @ (Outcome::Done(_) | Outcome::AlreadyDone(_) | Outcome::Permanent(_)), _) => o,
                (_, Some(why)) => Outcome::Transient(why.clone()),
                (o, None) => o,
            })
            .collect(),
        Err(why) => Outcome::transient_for(expected, r.stopped.as_ref().unwrap_or(&why)),
    }
}

/// The lines of a delivery's jobs done: `process_ms` from its delivery to its process's
/// report (fork, run, outcome), `report_ms` from there to the ack.
fn log_done(who: &str, r: &Running, outcomes: &[Outcome], finished: Instant) {
    for (job, outcome) in r.jobs.iter().zip(outcomes) {
        let Some(what) = outcome.done_label() else {
            continue;
        };
        let ids = JobIds::of_job(job);
        tracing::info!(
            worker = %who, pid = r.pid, run = %ids.run, job = %ids.id, layer = %ids.layer,
            field = %ids.field, outcome = what, seconds = r.started.elapsed().as_secs_f64(),
            process_ms = (finished - r.started).as_secs_f64() * 1e3,
            report_ms = finished.elapsed().as_secs_f64() * 1e3,
            batch = r.jobs.len(),
            "job {what} in {:.3} s", r.started.elapsed().as_secs_f64()
        );
    }
}
