//! `tilecast pool`: renders jobs from RabbitMQ on one machine, N at a time, each in a
//! process of its own that exits after it, the way a Kubernetes Job controller runs
//! `tilecast worker`. The single-machine deployment, and the harness of the distributed
//! tests. Two ways to get the processes:
//!
//! - `--spawn fork` (default, [`fork`]): the pool holds one broker connection, takes up to N
//!   jobs, and runs each in a process forked from a fork server ([`zygote`]) that started
//!   once and has the binary and its libraries loaded, so a job's process costs a `fork`
//!   instead of an `exec`, a dynamic link and a broker connection (about 36 ms of CPU per job
//!   on the development machine, against a few ms). The process reports its outcome to the
//!   pool, which sends it on and acks as a worker does ([`crate::commands::worker::Reporter`]).
//!   A process that dies, or runs past `--job-timeout`, is a failed delivery.
//! - `--spawn exec` ([`exec`]): a `tilecast worker` process per job, with its own connection,
//!   exactly what a cluster runs; `--standby` keeps some started and connected ahead of need.
//!
//! Either way at most N deliveries (a job, or a batch of small jobs of one file) render at
//! once and no process renders a second delivery.

mod exec;
mod fork;
mod server;
mod zygote;

use std::process::ExitCode;

use clap::{Args, ValueEnum};
use tokio::io::{AsyncBufReadExt, BufReader};

/// How the pool gets a process per job.
#[derive(ValueEnum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum Spawn {
    /// Fork each job's process from a pre-loaded fork server; the pool holds the connection.
    Fork,
    /// Start a `tilecast worker` per job, with its own connection.
    Exec,
}

#[derive(Args, Clone)]
pub struct PoolArgs {
    /// Jobs rendering at once (each in its own process).
    #[arg(long, env = "TILECAST_WORKERS", default_value_t = 2,
          value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub workers: u16,
    /// How each job's process is made: forked from a pre-loaded fork server, the pool holding
    /// the broker connection (fork), or a `tilecast worker` started per job (exec).
    #[arg(long, env = "TILECAST_POOL_SPAWN", value_enum, default_value = "fork")]
    pub spawn: Spawn,
    /// With --spawn fork: jobs taken from the broker ahead of a free place, so the next one
    /// starts the moment a job ends (they wait unacked, and return to the queue if the pool
    /// goes).
    #[arg(long, env = "TILECAST_POOL_PREFETCH", default_value_t = 1,
          value_parser = clap::value_parser!(u16).range(0..=1024))]
    pub prefetch: u16,
    /// With --spawn exec: workers kept started and connected beyond those, each released as
    /// soon as a running worker has rendered its job (default: as many as --workers; 0: start
    /// a worker only when one exits).
    #[arg(long, env = "TILECAST_POOL_STANDBY")]
    pub standby: Option<usize>,
    /// Internal: be the fork server of a `--spawn fork` pool (requests on standard input,
    /// events on standard output).
    #[arg(long, hide = true)]
    pub fork_server: bool,
    /// The worker's flags (after `--`; see `tilecast worker --help`): the broker, --out,
    /// --ingest, --job-timeout, --delivery-limit and the rest. The environment is inherited,
    /// so TILECAST_* variables work too.
    #[arg(last = true)]
    pub worker_args: Vec<String>,
}

pub fn run(args: PoolArgs) -> anyhow::Result<ExitCode> {
    if args.fork_server {
        let (worker, limits) = crate::worker_settings(&args.worker_args)?;
        tilecast::limits::configure(limits);
        return zygote::serve(&worker);
    }
    // One thread: the pool's loop, the fork server's events and the broker's deliveries
    // (handed over by lapin's own I/O thread) wake no other runtime thread.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    match args.spawn {
        Spawn::Exec => rt.block_on(exec::supervise(args)),
        Spawn::Fork => {
            // The worker's flags are checked here, once, not in every job's process.
            let (worker, _) = crate::worker_settings(&args.worker_args)?;
            if args.standby.is_some() {
                tracing::warn!(component = "pool", "--standby applies to --spawn exec only");
            }
            rt.block_on(fork::supervise(&args, worker))
        }
    }
}

/// The line a standby worker waits for, and the one a worker writes when it has rendered.
const RELEASE: &[u8] = b"go\n";
const RENDERED: &[u8] = b"rendered\n";

/// In a `--standby` worker: waits until the pool releases it. False when standard input
/// closed first (the pool is gone).
pub async fn released() -> bool {
    let mut line = String::new();
    let mut stdin = BufReader::new(tokio::io::stdin());
    matches!(stdin.read_line(&mut line).await, Ok(n) if n > 0)
}

/// In a `--standby` worker: tells the pool its last job has rendered.
pub fn rendered() {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(RENDERED).and_then(|_| out.flush());
}
