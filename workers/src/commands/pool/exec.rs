//! `tilecast pool --spawn exec`: each job in a `tilecast worker` process the pool starts, as a
//! Kubernetes Job controller would. With `--standby S` (default N) the pool also keeps S
//! workers started, connected and waiting (`tilecast worker --standby`): a worker that has
//! rendered its job says so on its standard output, and the pool at once releases a waiting
//! one with a line on its standard input, so the next job starts while the finished worker
//! still reports, acks and exits, and process start and connection happen ahead of need.
//! Still one job per process, and never more than N jobs rendering. `--standby 0` starts a
//! worker only when one exits.
//!
//! A worker that fails quickly (non-zero exit within a second) delays the next start by a
//! backoff that doubles up to 10 s, so a broken broker does not become a fork loop. SIGTERM
//! or SIGINT is passed on to every worker; the pool exits when they have.

use std::collections::{HashMap, VecDeque};
use std::process::{ExitCode, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{ChildStdin, Command};
use tokio::sync::mpsc;

use super::{PoolArgs, RELEASE, RENDERED};

#[derive(Clone, Copy, PartialEq, Debug)]
enum State {
    /// Started, not yet released: connecting or waiting.
    Standby,
    /// May take and render a job.
    Active,
    /// Has rendered its job; reporting it and exiting.
    Finishing,
}

struct Worker {
    state: State,
    stdin: Option<ChildStdin>,
    started: Instant,
}

enum Event {
    Rendered(u32),
    Exited(u32, std::io::Result<ExitStatus>),
}

pub async fn supervise(args: PoolArgs) -> anyhow::Result<ExitCode> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut procs: HashMap<u32, Worker> = HashMap::new();
    // Standby workers in the order they started: the oldest is the likeliest connected.
    let mut waiting: VecDeque<u32> = VecDeque::new();
    let mut backoff = Duration::ZERO;
    let mut next_start = Instant::now();
    let workers = usize::from(args.workers);
    let standby = args.standby.unwrap_or(workers);
    loop {
        // Release waiting workers into free places, then start workers up to the target.
        let active = procs.values().filter(|w| w.state == State::Active).count();
        for _ in active..workers {
            let Some(pid) = waiting.pop_front() else {
                break;
            };
            release(pid, procs.get_mut(&pid).expect("waiting worker")).await;
        }
        let live = procs
            .values()
            .filter(|w| w.state != State::Finishing)
            .count();
        let wanted = workers + standby;
        if live < wanted && Instant::now() >= next_start {
            for _ in live..wanted {
                let (pid, w) = start(&args, standby > 0, &tx)?;
                if w.state == State::Standby {
                    waiting.push_back(pid);
                }
                procs.insert(pid, w);
            }
            continue;
        }
        let restart = tokio::time::sleep_until(next_start.into());
        tokio::select! {
            Some(event) = rx.recv() => match event {
                Event::Rendered(pid) => {
                    if let Some(w) = procs.get_mut(&pid).filter(|w| w.state == State::Active) {
                        w.state = State::Finishing;
                        w.stdin = None;
                    }
                }
                Event::Exited(pid, status) => {
                    let Some(w) = procs.remove(&pid) else { continue };
                    waiting.retain(|p| *p != pid);
                    tracing::debug!(component = "pool", pid, "worker exited");
                    let failed_fast = match &status {
                        Ok(s) => !s.success() && w.started.elapsed() < Duration::from_secs(1),
                        Err(_) => true,
                    };
                    if let Ok(s) = &status {
                        if !s.success() {
                            tracing::warn!(component = "pool", pid, status = %s, "worker exited with {s}");
                        }
                    }
                    if failed_fast {
                        backoff = (backoff * 2).clamp(Duration::from_millis(250), Duration::from_secs(10));
                        next_start = Instant::now() + backoff;
                    } else {
                        backoff = Duration::ZERO;
                    }
                }
            },
            _ = restart, if live < wanted => {}
            _ = term.recv() => return stop(&procs, &mut rx).await,
            _ = int.recv() => return stop(&procs, &mut rx).await,
        }
    }
}

/// Starts a worker (a standby one when the pool keeps standbys) and the task that reports
/// its lines and its exit.
fn start(
    args: &PoolArgs,
    standby: bool,
    tx: &mpsc::UnboundedSender<Event>,
) -> anyhow::Result<(u32, Worker)> {
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.arg("worker");
    if standby {
        cmd.arg("--standby")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
    }
    let mut child = cmd.args(&args.worker_args).kill_on_drop(false).spawn()?;
    let pid = child.id().unwrap_or(0);
    tracing::debug!(component = "pool", pid, standby, "worker started");
    let stdin = child.stdin.take();
    let stdout = child.stdout.take();
    let tx = tx.clone();
    tokio::spawn(async move {
        if let Some(out) = stdout {
            let mut lines = BufReader::new(out).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if line.as_bytes() == RENDERED.trim_ascii_end() {
                    let _ = tx.send(Event::Rendered(pid));
                }
            }
        }
        let status = child.wait().await;
        let _ = tx.send(Event::Exited(pid, status));
    });
    let state = if standby {
        State::Standby
    } else {
        State::Active
    };
    let started = Instant::now();
    Ok((
        pid,
        Worker {
            state,
            stdin,
            started,
        },
    ))
}

/// Lets a standby worker take a job. One that died meanwhile is counted active until its
/// exit is seen, which frees its place.
async fn release(pid: u32, w: &mut Worker) {
    w.state = State::Active;
    if let Some(stdin) = w.stdin.as_mut() {
        let _ = stdin.write_all(RELEASE).await;
        let _ = stdin.flush().await;
    }
    tracing::debug!(component = "pool", pid, "worker released");
}

/// SIGTERM to every worker (each returns its job to the queue), then wait for them.
async fn stop(
    procs: &HashMap<u32, Worker>,
    rx: &mut mpsc::UnboundedReceiver<Event>,
) -> anyhow::Result<ExitCode> {
    for pid in procs.keys() {
        // SAFETY: kill(2) with a pid this process spawned and has not yet reaped (its
        // exit has not been received).
        unsafe {
            libc::kill(*pid as libc::pid_t, libc::SIGTERM);
        }
    }
    let mut left = procs.len();
    while left > 0 {
        match rx.recv().await {
            Some(Event::Exited(..)) => left -= 1,
            Some(Event::Rendered(_)) => {}
            None => break,
        }
    }
    Ok(ExitCode::SUCCESS)
}
