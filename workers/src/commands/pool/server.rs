//! The fork server as the pool sees it: the `tilecast pool --fork-server` process, started
//! once with the worker's flags, its requests in and its events out
//! ([`super::zygote`] is the process itself).

use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::io::AsyncWriteExt;
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;

use super::zygote::{Event, Request};
use super::PoolArgs;

/// The fork server process and its events.
pub(super) struct Server {
    child: Child,
    stdin: ChildStdin,
    pub(super) events: mpsc::UnboundedReceiver<Event>,
    pub(super) started: Instant,
}

impl Server {
    pub(super) fn start(args: &PoolArgs) -> anyhow::Result<Server> {
        let mut cmd = Command::new(std::env::current_exe()?);
        cmd.args(["pool", "--fork-server", "--"])
            .args(&args.worker_args);
        // N jobs share the machine's cores: each job's process renders on its share of them
        // (one thread each for as many jobs as cores) unless RAYON_NUM_THREADS says otherwise.
        if std::env::var_os("RAYON_NUM_THREADS").is_none() {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            let threads = (cores / usize::from(args.workers)).max(1);
            cmd.env("RAYON_NUM_THREADS", threads.to_string());
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("starting the fork server")?;
        let stdin = child.stdin.take().context("fork server stdin")?;
        let mut stdout = child.stdout.take().context("fork server stdout")?;
        let (tx, events) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok(Some(e)) = Event::read(&mut stdout).await {
                if tx.send(e).is_err() {
                    break;
                }
            }
        });
        tracing::debug!(component = "pool", pid = child.id(), "fork server started");
        Ok(Server {
            child,
            stdin,
            events,
            started: Instant::now(),
        })
    }

    /// Closes its requests and waits for it to exit (it has no jobs left by then), so its
    /// CPU time, and its jobs', is counted as this process's children's.
    pub(super) async fn close(self) {
        let Server {
            mut child, stdin, ..
        } = self;
        drop(stdin);
        if tokio::time::timeout(Duration::from_secs(3), child.wait())
            .await
            .is_err()
        {
            let _ = child.kill().await;
        }
    }

    /// Sends a request; a fork server that is gone shows as the end of its events.
    pub(super) async fn send(&mut self, r: Request) {
        let _ = self.stdin.write_all(&r.encode()).await;
    }
}
