//! `tilecast chunker`: watches the ingest location (a directory or a bucket prefix), and for
//! each complete new file claims it by content hash, plans its jobs and publishes them with
//! confirms. Runs the ledger in the same process unless `--no-ledger`.
//!
//! The ingest location is listed every `--poll-interval` seconds; with `--events-queue` the
//! chunker also takes S3 bucket notifications (MinIO, Ceph) from RabbitMQ and handles a new
//! object at once, the listing then only reconciling missed events. A local file is taken as
//! soon as the kernel reports its writer closed it or it was renamed into place
//! (`--take-on-close`, [`notify`]), or else once its size and modification time have not
//! changed for `--stable-for` seconds; an object is complete once listed (a multipart upload
//! appears only when completed). Hidden names and
//! temporary names (`.tmp`, `.part`, `.partial`, `.filepart`, `.crdownload`, trailing `~`)
//! are ignored.
//!
//! Claims are exclusive creates in the output store, keyed by run (content hash and
//! settings): the same content under two keys is one run, and of two chunker replicas only
//! one submits a file. A claim whose owner goes quiet for `--claim-lease` seconds before
//! submitting is taken over. A file counts as submitted only after the broker confirmed every
//! job; a crash before that republishes the same job ids on restart, which is harmless.
//! Memory stays bounded: a file is hashed as a stream and indexed a GRIB2 message at a time
//! (an object is first streamed to a spool file).
//!
//! The flags, the start-up and the file rules are here; [`watch`] lists the ingest location,
//! takes bucket events and chooses the files that are ready; [`submit`] claims, plans and
//! publishes one file.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use clap::Args;
use futures_lite::StreamExt;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use tilecast::io::store::{ObjectInfo, Store};
use tilecast::run::publish::BaseUrl;
use tilecast::settings::RenderSettings;

mod notify;
mod submit;
mod watch;

use crate::commands::ledger::{DepthArgs, LedgerArgs, Service as LedgerService};
use crate::commands::render::{PublishFlags, RenderFlags};
use crate::infra::amqp::{self, AmqpArgs};
use crate::infra::http::{self, Health};
use crate::infra::metrics::Metrics;
use crate::infra::signals::shutdown;
use crate::infra::storage::{Location, S3Args};
use tilecast::run::books::{Books, IngestRecord};

#[derive(Args, Clone)]
pub struct ChunkerArgs {
    #[command(flatten)]
    pub amqp: AmqpArgs,
    /// Where files arrive: a directory, file://path or s3://bucket/prefix.
    #[arg(long, env = "TILECAST_INGEST")]
    pub ingest: String,
    /// Output root shared with workers and the ledger: a directory, file://path or
    /// s3://bucket/prefix.
    #[arg(long, short, env = "TILECAST_OUT")]
    pub out: String,
    #[command(flatten)]
    pub s3: S3Args,
    #[command(flatten)]
    pub render: RenderFlags,
    #[command(flatten)]
    pub publish: PublishFlags,
    /// Tiles per job (about a second of one core at the default).
    #[arg(long, env = "TILECAST_JOB_TILES", default_value_t = tilecast::run::plan::DEFAULT_JOB_TILES)]
    pub job_tiles: usize,
    /// Consecutive small jobs of a file are published as one message (a batch, which one
    /// worker process renders) while their tiles add up to at most this, a meta job's full
    /// image and documents counting as one tile; 0 publishes every job alone. Batches cost
    /// a file of many small layers one delivery, process and ack per batch, not per job.
    #[arg(long, env = "TILECAST_BATCH_TILES", default_value_t = 16)]
    pub batch_tiles: u64,
    /// Seconds between listings of the ingest location (with --events-queue, listings only
    /// reconcile missed events and can be rare).
    #[arg(long, env = "TILECAST_POLL_INTERVAL", default_value_t = 1.0)]
    pub poll_interval: f64,
    /// Seconds a local file's size and mtime must stay unchanged before it is taken (unless
    /// --take-on-close takes it sooner).
    #[arg(long, env = "TILECAST_STABLE_FOR", default_value_t = 2.0)]
    pub stable_for: f64,
    /// Take a local file as soon as the kernel reports that its writer closed it or that it
    /// was renamed into place (inotify), if it has not changed since, instead of waiting
    /// --stable-for. Set false for writers that close and reopen a file while writing it.
    #[arg(long, env = "TILECAST_TAKE_ON_CLOSE", default_value_t = true, action = clap::ArgAction::Set)]
    pub take_on_close: bool,
    /// RabbitMQ queue of S3 bucket notification events (declared, durable). Objects they
    /// name are handled at once.
    #[arg(long, env = "TILECAST_EVENTS_QUEUE")]
    pub events_queue: Option<String>,
    /// Existing exchange the object store publishes events to; the events queue is bound to
    /// it.
    #[arg(long, env = "TILECAST_EVENTS_EXCHANGE", requires = "events_queue")]
    pub events_exchange: Option<String>,
    /// Routing key of that binding (`#` matches everything on a topic exchange; use the
    /// store's routing key for a direct exchange; ignored by fanout exchanges).
    #[arg(long, env = "TILECAST_EVENTS_ROUTING_KEY", default_value = "#")]
    pub events_routing_key: String,
    /// This chunker's name in claims (default: the host name). A restarted chunker with the
    /// same name resumes its own unfinished claims at once.
    #[arg(long, env = "TILECAST_INSTANCE")]
    pub instance: Option<String>,
    /// Seconds after which another chunker's unfinished claim is taken over.
    #[arg(long, env = "TILECAST_CLAIM_LEASE", default_value_t = 900.0)]
    pub claim_lease: f64,
    /// Directory objects are streamed to for hashing and indexing (default: $TMPDIR).
    #[arg(long, env = "TILECAST_SPOOL_DIR")]
    pub spool_dir: Option<PathBuf>,
    /// Largest object (MB of 2^20 bytes) streamed to the spool directory; a bigger one is
    /// recorded as a file that cannot be processed, with an error naming its size. Keep it
    /// within the spool directory's space (the chart sizes both from
    /// storage.largestObjectMiB).
    #[arg(long, env = "TILECAST_MAX_OBJECT_MB", default_value_t = 4096, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_object_mb: u64,
    /// Do not run the ledger in this process (run `tilecast ledger` separately).
    #[arg(long, env = "TILECAST_NO_LEDGER")]
    pub no_ledger: bool,
    /// Seconds between ledger rechecks of open runs and polls of queue depths.
    #[arg(long, env = "TILECAST_LEDGER_RECHECK", default_value_t = 5.0)]
    pub recheck: f64,
    #[command(flatten)]
    pub retention: crate::commands::prune::RetentionArgs,
    #[command(flatten)]
    pub depths: DepthArgs,
    /// Address for /metrics, /healthz and /readyz.
    #[arg(long, env = "TILECAST_METRICS_ADDR", default_value = "0.0.0.0:9464")]
    pub metrics_addr: SocketAddr,
}

pub fn run(args: ChunkerArgs) -> anyhow::Result<ExitCode> {
    let settings = args.render.settings()?;
    let base_url = args.publish.base_url()?;
    let ingest_location = Location::parse(&args.ingest)?;
    let out_location = Location::parse(&args.out)?;
    if let Location::Local(p) = &out_location {
        std::fs::create_dir_all(p).with_context(|| format!("creating {}", p.display()))?;
    }
    anyhow::ensure!(
        inside(&out_location.canonical(), &ingest_location.canonical()) != Some(String::new()),
        "the output location {} is the ingest location: give outputs their own prefix",
        out_location.canonical()
    );
    let ingest = ingest_location.open(&args.s3)?;
    let out = out_location.open(&args.s3)?;
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
                s3: args.s3.clone(),
                recheck: args.recheck,
                metrics_addr: args.metrics_addr,
                retention: args.retention.clone(),
                depths: args.depths.clone(),
            };
            let (h, store) = (health.clone(), out.clone());
            let rule = args.retention.rule();
            let service = LedgerService::new(store, h, false, rule).with_management(&l.depths)?;
            tokio::spawn(async move { service.serve(l.clone()).await });
        }
        let watcher = Watcher {
            instance: args.instance.clone().unwrap_or_else(host_name),
            outputs_inside: inside(&out_location.canonical(), &ingest_location.canonical()),
            ingest_location,
            out_root: out_location.canonical(),
            ingest,
            books: Books::new(out),
            settings,
            base_url,
            args: args.clone(),
            health: health.clone(),
        };
        tokio::select! {
            r = http::serve(args.metrics_addr, health.clone()) => r.map(|_| ExitCode::SUCCESS),
            r = watcher.watch() => r.map(|_| ExitCode::SUCCESS),
            _ = shutdown() => Ok(ExitCode::SUCCESS),
        }
    })
}

fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "chunker".into())
}

fn ignored_name(name: &str) -> bool {
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

/// The prefix of `inner` relative to `outer` (ending in `/`, or empty when they are the same)
/// when `inner` is inside `outer`; both canonical locations.
fn inside(inner: &str, outer: &str) -> Option<String> {
    let outer = outer.trim_end_matches('/');
    let rest = inner.trim_end_matches('/').strip_prefix(outer)?;
    if rest.is_empty() {
        return Some(String::new());
    }
    rest.strip_prefix('/').map(|r| format!("{r}/"))
}

/// Hidden or temporary names anywhere in the key, and "folder" marker objects.
fn ignored(key: &str) -> bool {
    key.is_empty() || key.ends_with('/') || key.split('/').any(ignored_name)
}

/// An ingest file or object as last listed.
#[derive(Clone, Debug)]
struct Candidate {
    key: String,
    size: u64,
    /// ETag, or the modification time of a local file: changes when the content may have.
    fingerprint: String,
}

impl Candidate {
    fn of(o: &ObjectInfo) -> Candidate {
        let fingerprint = o.etag.clone().unwrap_or_else(|| {
            o.modified
                .and_then(|m| m.duration_since(SystemTime::UNIX_EPOCH).ok())
                .map_or_else(String::new, |d| format!("mtime:{}", d.as_nanos()))
        });
        Candidate {
            key: o.key.clone(),
            size: o.size,
            fingerprint,
        }
    }
}

/// What the chunker remembers of a key between listings.
struct Seen {
    size: u64,
    fingerprint: String,
    since: Instant,
    /// The kernel reported the file closed after writing (or renamed into place) at this
    /// size and fingerprint.
    closed: bool,
    state: State,
    /// Counted in `tilecast_files_seen_total`.
    counted: bool,
}

#[derive(PartialEq)]
enum State {
    Waiting,
    Done,
    RetryAt(Instant),
}

/// A broker session: the confirm channel, and the events consumer if there is one.
struct Session {
    conn: lapin::Connection,
    ch: lapin::Channel,
    names: amqp::Names,
    events: Option<lapin::Consumer>,
}

struct Watcher {
    instance: String,
    /// Where the outputs are when they are inside the ingest location (relative key
    /// prefix ending in `/`): never taken as input.
    outputs_inside: Option<String>,
    ingest_location: Location,
    out_root: String,
    ingest: Arc<dyn Store>,
    books: Books,
    settings: RenderSettings,
    /// Public URL of the output root, put in the plans this chunker makes.
    base_url: Option<BaseUrl>,
    args: ChunkerArgs,
    health: Arc<Health>,
}

enum Failure {
    /// The broker went away or refused: retry the file after reconnecting.
    Broker(anyhow::Error),
    /// A store error, or another chunker holds the file's claim: retry the file later.
    Later(anyhow::Error),
    /// The file itself is the problem (unreadable, not GRIB/NetCDF): do not retry it.
    File(anyhow::Error),
}

impl Failure {
    fn of_store(e: tilecast::Error) -> Failure {
        if e.is_permanent() {
            Failure::File(e.into())
        } else {
            Failure::Later(e.into())
        }
    }
}

const RETRY_LATER: Duration = Duration::from_secs(10);

/// Seconds one submission spent in each step, for the log.
#[derive(Default)]
struct Stages {
    /// Reading the file's bytes for its content hash (and spooling an object).
    hash: f64,
    /// Inventorying and planning it.
    plan: f64,
    /// Publishing its jobs with confirms.
    publish: f64,
    /// Bookkeeping: ingest record, claim, plan, submitted mark.
    books: f64,
}

#[cfg(test)]
mod tests {
    use super::ignored;

    #[test]
    fn outputs_inside_the_ingest_location_are_found() {
        use super::inside;
        assert_eq!(
            inside("s3://b/in/tiles", "s3://b/in"),
            Some("tiles/".into())
        );
        assert_eq!(inside("s3://b/in", "s3://b/in/"), Some(String::new()));
        assert_eq!(inside("s3://b/input", "s3://b/in"), None);
        assert_eq!(inside("s3://other/in/x", "s3://b/in"), None);
        assert_eq!(inside("/data/in/out", "/data/in"), Some("out/".into()));
        assert_eq!(inside("/data/out", "/data/in"), None);
    }

    #[test]
    fn temporary_hidden_and_folder_keys_are_ignored() {
        for k in [
            "a.grib2.part",
            ".hidden.grib2",
            "x/.tmp/a.grib2",
            "gfs/",
            "a~",
            "b.nc.crdownload",
        ] {
            assert!(ignored(k), "{k}");
        }
        for k in ["a.grib2", "gfs/2026/f000.grib2", "x.nc"] {
            assert!(!ignored(k), "{k}");
        }
    }
}
