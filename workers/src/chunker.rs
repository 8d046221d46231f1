//! `tilecast chunker`: watches the ingest directory, and for each complete new file claims it
//! by content hash, plans its jobs and publishes them with confirms. Runs the ledger in the
//! same process unless `--no-ledger`.
//!
//! A file is taken once its size and modification time have not changed for `--stable-for`
//! seconds; hidden files and temporary names (`.tmp`, `.part`, `.partial`, `.filepart`,
//! `.crdownload`, trailing `~`) are ignored. A file counts as submitted only after the broker
//! confirmed every job; a crash before that republishes the same job ids on restart, which is
//! harmless. Memory stays bounded: the file is hashed as a stream and indexed a GRIB2 message
//! at a time.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use clap::Args;
use lapin::types::FieldTable;
use tilecast::decode::{inventory, Catalog};
use tilecast::job::{Job, JOB_TYPE};
use tilecast::plan::{plan_run, sha256_file, source_of, RunPlan};

use crate::amqp::{self, log, AmqpArgs, RENDER_KEY};
use crate::books::Books;
use crate::http::{self, Health};
use crate::ledger::{self, Ledger, LedgerArgs};
use crate::metrics::Metrics;
use crate::render::RenderFlags;

#[derive(Args, Clone)]
pub struct ChunkerArgs {
    #[command(flatten)]
    pub amqp: AmqpArgs,
    /// Directory watched for incoming files.
    #[arg(long, env = "TILECAST_INGEST")]
    pub ingest: PathBuf,
    /// Output root shared with workers and the ledger.
    #[arg(long, short, env = "TILECAST_OUT")]
    pub out: PathBuf,
    #[command(flatten)]
    pub render: RenderFlags,
    /// Tiles per job (about a second of one core at the default).
    #[arg(long, env = "TILECAST_JOB_TILES", default_value_t = tilecast::plan::DEFAULT_JOB_TILES)]
    pub job_tiles: usize,
    /// Seconds between scans of the ingest directory.
    #[arg(long, env = "TILECAST_POLL_INTERVAL", default_value_t = 1.0)]
    pub poll_interval: f64,
    /// Seconds a file's size and mtime must stay unchanged before it is taken.
    #[arg(long, env = "TILECAST_STABLE_FOR", default_value_t = 2.0)]
    pub stable_for: f64,
    /// Do not run the ledger in this process (run `tilecast ledger` separately).
    #[arg(long, env = "TILECAST_NO_LEDGER")]
    pub no_ledger: bool,
    /// Seconds between ledger rechecks of open runs and polls of queue depths.
    #[arg(long, env = "TILECAST_LEDGER_RECHECK", default_value_t = 5.0)]
    pub recheck: f64,
    /// Address for /metrics, /healthz and /readyz.
    #[arg(long, env = "TILECAST_METRICS_ADDR", default_value = "0.0.0.0:9464")]
    pub metrics_addr: SocketAddr,
}

pub fn run(args: ChunkerArgs) -> anyhow::Result<ExitCode> {
    let settings = args.render.settings()?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let health = Health::new(Arc::new(Metrics::new()));
        if !args.no_ledger {
            let l = LedgerArgs {
                amqp: args.amqp.clone(),
                out: args.out.clone(),
                recheck: args.recheck,
                metrics_addr: args.metrics_addr,
            };
            let h = health.clone();
            tokio::spawn(async move { Ledger::new(&l, h, false).serve(l.clone()).await });
        }
        tokio::select! {
            r = http::serve(args.metrics_addr, health.clone()) => r.map(|_| ExitCode::SUCCESS),
            r = watch(&args, &settings, &health) => r.map(|_| ExitCode::SUCCESS),
            _ = ledger::shutdown() => Ok(ExitCode::SUCCESS),
        }
    })
}

fn ignored(name: &str) -> bool {
    let lower = name.to_lowercase();
    name.starts_with('.')
        || name.ends_with('~')
        || [
            ".tmp",
            ".part",
            ".partial",
            ".filepart",
            ".crdownload",
            ".swp",
        ]
        .iter()
        .any(|s| lower.ends_with(s))
}

/// What the chunker remembers of a file between scans.
struct Seen {
    size: u64,
    mtime: SystemTime,
    since: Instant,
    done: bool,
    /// Counted in `tilecast_files_seen_total`.
    counted: bool,
}

async fn watch(
    args: &ChunkerArgs,
    settings: &tilecast::settings::RenderSettings,
    health: &Health,
) -> anyhow::Result<()> {
    let metrics = &health.metrics;
    let books = Books::new(&args.out);
    let mut seen: HashMap<PathBuf, Seen> = HashMap::new();
    let mut session: Option<(lapin::Connection, lapin::Channel, amqp::Names)> = None;
    let stable = Duration::from_secs_f64(args.stable_for.max(0.0));
    loop {
        let mut ready = Vec::new();
        if let Ok(rd) = std::fs::read_dir(&args.ingest) {
            for e in rd.flatten() {
                let path = e.path();
                let name = e.file_name().to_string_lossy().into_owned();
                let Ok(meta) = e.metadata() else { continue };
                if !meta.is_file() || ignored(&name) {
                    continue;
                }
                let (size, mtime) = (
                    meta.len(),
                    meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                );
                let s = seen.entry(path.clone()).or_insert(Seen {
                    size,
                    mtime,
                    since: Instant::now(),
                    done: false,
                    counted: false,
                });
                if s.size != size || s.mtime != mtime {
                    *s = Seen {
                        size,
                        mtime,
                        since: Instant::now(),
                        done: false,
                        counted: false,
                    };
                }
                if !s.done && s.since.elapsed() >= stable {
                    if !s.counted {
                        metrics.files_seen.inc();
                        s.counted = true;
                    }
                    ready.push(path);
                }
            }
        } else {
            log(
                "chunker",
                &format!("cannot read ingest directory {}", args.ingest.display()),
            );
        }
        ready.sort();
        if session
            .as_ref()
            .is_some_and(|(conn, _, _)| !conn.status().connected())
        {
            session = None;
        }
        health.set_ready(session.is_some());
        // Connect eagerly, so /readyz tells whether the broker is reachable before files come.
        let pending = if ready.is_empty() {
            vec![None]
        } else {
            ready.into_iter().map(Some).collect()
        };
        for path in pending {
            if session.is_none() {
                // Keep trying for as long as it takes: files wait in the ingest directory.
                let connected = async {
                    let conn = amqp::connect(&args.amqp, "chunker").await?;
                    let (ch, names) = amqp::confirm_channel(&conn, &args.amqp).await?;
                    anyhow::Ok((conn, ch, names))
                };
                match connected.await {
                    Ok(s) => {
                        session = Some(s);
                        health.set_ready(true);
                    }
                    Err(e) => {
                        log("chunker", &format!("broker unavailable: {e:#}; retrying"));
                        break;
                    }
                }
            }
            let Some(path) = path else { break };
            let (_, ch, names) = session.as_ref().expect("connected above");
            match submit(&path, args, settings, &books, ch, names, metrics).await {
                Ok(msg) => {
                    log("chunker", &format!("{}: {msg}", path.display()));
                    if let Some(s) = seen.get_mut(&path) {
                        s.done = true;
                    }
                }
                Err(Failure::Broker(e)) => {
                    health.set_ready(false);
                    log(
                        "chunker",
                        &format!("{}: broker error, will retry: {e:#}", path.display()),
                    );
                    session = None;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    break;
                }
                Err(Failure::File(e)) => {
                    metrics.files_invalid.inc();
                    log(
                        "chunker",
                        &format!("{}: cannot be processed: {e:#}", path.display()),
                    );
                    if let Some(s) = seen.get_mut(&path) {
                        s.done = true;
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_secs_f64(args.poll_interval.max(0.05))).await;
    }
}

enum Failure {
    /// The broker went away or refused: retry the file after reconnecting.
    Broker(anyhow::Error),
    /// The file itself is the problem (unreadable, not GRIB2/NetCDF): do not retry it.
    File(anyhow::Error),
}

/// Plans a file and publishes its jobs; returns a summary for the log.
async fn submit(
    path: &Path,
    args: &ChunkerArgs,
    settings: &tilecast::settings::RenderSettings,
    books: &Books,
    ch: &lapin::Channel,
    names: &amqp::Names,
    metrics: &Metrics,
) -> Result<String, Failure> {
    let file = |e: anyhow::Error| Failure::File(e);
    let (plan, fresh) = {
        let path = path.to_path_buf();
        let (settings, job_tiles) = (settings.clone(), args.job_tiles);
        let (sha, size) = sha256_file(&path)
            .with_context(|| format!("reading {}", path.display()))
            .map_err(file)?;
        let run = tilecast::plan::run_id(&sha, &settings);
        let fresh = books.claim(&run).map_err(file)?;
        if !fresh && books.is_submitted(&run) {
            metrics.files_duplicate.inc();
            return Ok(format!(
                "same content as run {run}, already submitted; skipped"
            ));
        }
        let plan = match (!fresh).then(|| books.read_plan(&run)).flatten() {
            Some(p) => p,
            None => {
                let p = tokio::task::spawn_blocking(move || {
                    plan_file(&path, sha, size, &settings, job_tiles)
                })
                .await
                .map_err(|e| file(e.into()))?
                .map_err(file)?;
                books.write_plan(&p).map_err(file)?;
                p
            }
        };
        (plan, fresh)
    };
    let out = std::path::absolute(&args.out).unwrap_or_else(|_| args.out.clone());
    let jobs = Job::from_plan(&plan, &out.to_string_lossy());
    // Publish in windows so the number of unconfirmed messages stays bounded.
    for window in jobs.chunks(256) {
        let mut confirms = Vec::with_capacity(window.len());
        for j in window {
            let props = amqp::properties(JOB_TYPE, &j.id, FieldTable::default());
            let c = ch
                .basic_publish(
                    names.jobs_exchange.as_str().into(),
                    RENDER_KEY.into(),
                    lapin::options::BasicPublishOptions {
                        mandatory: true,
                        ..Default::default()
                    },
                    &j.to_json(),
                    props,
                )
                .await
                .map_err(|e| Failure::Broker(e.into()))?;
            confirms.push(c);
        }
        for c in confirms {
            let confirm = c.await.map_err(|e| Failure::Broker(e.into()))?;
            amqp::check_confirm(confirm, &names.jobs_exchange, RENDER_KEY)
                .map_err(Failure::Broker)?;
        }
    }
    books.mark_submitted(&plan.run).map_err(file)?;
    metrics.jobs_published.inc_by(jobs.len() as u64);
    if fresh {
        metrics.files_claimed.inc();
    }
    Ok(format!(
        "run {}: {} layers, {} jobs published{}{}",
        plan.run,
        plan.layers.len(),
        jobs.len(),
        if fresh {
            ""
        } else {
            " again (resumed an unfinished submission)"
        },
        if plan.failed.is_empty() {
            String::new()
        } else {
            format!(", {} fields cannot be rendered", plan.failed.len())
        }
    ))
}

fn plan_file(
    path: &Path,
    sha256: String,
    size: u64,
    settings: &tilecast::settings::RenderSettings,
    job_tiles: usize,
) -> anyhow::Result<RunPlan> {
    let inv = inventory(path)?;
    let source = source_of(path, sha256, size, inv.format());
    let uri = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    Ok(plan_run(
        &inv,
        source,
        uri.to_string_lossy().into_owned(),
        settings,
        job_tiles,
    )?)
}
