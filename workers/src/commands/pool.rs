//! `tilecast pool`: keeps N one-shot worker processes running, starting a new one whenever
//! one exits, the way a Kubernetes Job controller or Deployment does. The single-machine
//! deployment, and the harness of the distributed tests.
//!
//! A worker that fails quickly (non-zero exit within a second) is replaced after a backoff
//! that doubles up to 10 s, so a broken broker does not become a fork loop. SIGTERM or SIGINT
//! is passed on to every worker; the pool exits when they have.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;
use tokio::process::{Child, Command};
use tokio::task::JoinSet;

#[derive(Args, Clone)]
pub struct PoolArgs {
    /// Worker processes to keep running.
    #[arg(long, env = "TILECAST_WORKERS", default_value_t = 2)]
    pub workers: usize,
    /// Arguments for each `tilecast worker` (after `--`); the environment is inherited, so
    /// TILECAST_* variables work too.
    #[arg(last = true)]
    pub worker_args: Vec<String>,
}

pub fn run(args: PoolArgs) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(supervise(args))
}

fn spawn(args: &PoolArgs) -> anyhow::Result<Child> {
    let exe = std::env::current_exe()?;
    Ok(Command::new(exe)
        .arg("worker")
        .args(&args.worker_args)
        .kill_on_drop(false)
        .spawn()?)
}

async fn supervise(args: PoolArgs) -> anyhow::Result<ExitCode> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut set: JoinSet<(usize, Instant, std::io::Result<std::process::ExitStatus>)> =
        JoinSet::new();
    let mut pids: Vec<Option<u32>> = vec![None; args.workers];
    let mut backoff = vec![Duration::ZERO; args.workers];
    let start_slot =
        |slot: usize, set: &mut JoinSet<_>, pids: &mut [Option<u32>]| -> anyhow::Result<()> {
            let mut child = spawn(&args)?;
            pids[slot] = child.id();
            tracing::debug!(
                component = "pool",
                slot,
                pid = child.id().unwrap_or(0),
                "worker started"
            );
            set.spawn(async move {
                let started = Instant::now();
                let status = child.wait().await;
                (slot, started, status)
            });
            Ok(())
        };
    for slot in 0..args.workers {
        start_slot(slot, &mut set, &mut pids)?;
    }
    loop {
        tokio::select! {
            Some(done) = set.join_next() => {
                let (slot, started, status) = done?;
                tracing::debug!(component = "pool", slot, pid = pids[slot].unwrap_or(0), "worker exited");
                pids[slot] = None;
                let failed_fast = match &status {
                    Ok(s) => !s.success() && started.elapsed() < Duration::from_secs(1),
                    Err(_) => true,
                };
                backoff[slot] = if failed_fast {
                    (backoff[slot] * 2).clamp(Duration::from_millis(250), Duration::from_secs(10))
                } else {
                    Duration::ZERO
                };
                if let Ok(s) = &status {
                    if !s.success() {
                        tracing::warn!(component = "pool", slot, status = %s, restart_in = ?backoff[slot], "worker exited with {s}");
                    }
                }
                if !backoff[slot].is_zero() {
                    tokio::select! {
                        _ = tokio::time::sleep(backoff[slot]) => {}
                        _ = term.recv() => return stop(&pids, &mut set).await,
                        _ = int.recv() => return stop(&pids, &mut set).await,
                    }
                }
                start_slot(slot, &mut set, &mut pids)?;
            }
            _ = term.recv() => return stop(&pids, &mut set).await,
            _ = int.recv() => return stop(&pids, &mut set).await,
        }
    }
}

/// SIGTERM to every worker (each returns its job to the queue), then wait for them.
async fn stop(
    pids: &[Option<u32>],
    set: &mut JoinSet<(usize, Instant, std::io::Result<std::process::ExitStatus>)>,
) -> anyhow::Result<ExitCode> {
    for pid in pids.iter().flatten() {
        // SAFETY: kill(2) with a pid this process spawned and has not yet reaped.
        unsafe {
            libc::kill(*pid as libc::pid_t, libc::SIGTERM);
        }
    }
    while set.join_next().await.is_some() {}
    Ok(ExitCode::SUCCESS)
}
