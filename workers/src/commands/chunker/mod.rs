//! `tilecast chunker`: watches the ingest location (a directory or a bucket prefix), and for
//! each complete new file claims it by content hash, plans its jobs and publishes them with
//! confirms. Runs the ledger in the same process unless `--no-ledger`.
//!
//! The ingest location is listed every `--poll-interval` seconds; with `--events-queue` the
//! chunker also takes S3 bucket notifications (MinIO, Ceph) from RabbitMQ and handles a new
//! object at once, the listing then only reconciling missed events. A local file is taken once
//! its size and modification time have not changed for `--stable-for` seconds; an object is
//! complete once listed (a multipart upload appears only when completed). Hidden names and
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
//! Watching and choosing files is here; [`submit`] claims, plans and publishes one file.

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

mod submit;

use crate::commands::ledger::{LedgerArgs, Service as LedgerService};
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
    /// Seconds between listings of the ingest location (with --events-queue, listings only
    /// reconcile missed events and can be rare).
    #[arg(long, env = "TILECAST_POLL_INTERVAL", default_value_t = 1.0)]
    pub poll_interval: f64,
    /// Seconds a local file's size and mtime must stay unchanged before it is taken.
    #[arg(long, env = "TILECAST_STABLE_FOR", default_value_t = 2.0)]
    pub stable_for: f64,
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
            };
            let (h, store) = (health.clone(), out.clone());
            tokio::spawn(async move { LedgerService::new(store, h, false).serve(l.clone()).await });
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
    /// The file itself is the problem (unreadable, not GRIB2/NetCDF): do not retry it.
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

impl Watcher {
    fn metrics(&self) -> &Metrics {
        &self.health.metrics
    }

    async fn watch(&self) -> anyhow::Result<()> {
        let mut seen: HashMap<String, Seen> = HashMap::new();
        let mut session: Option<Session> = None;
        let poll = Duration::from_secs_f64(self.args.poll_interval.max(0.05));
        let mut next_list = Instant::now();
        loop {
            if Instant::now() >= next_list {
                self.list(&mut seen);
                next_list = Instant::now() + poll;
            }
            if session
                .as_ref()
                .is_some_and(|s| !s.conn.status().connected())
            {
                session = None;
            }
            if session.is_none() {
                // Keep trying for as long as it takes: files wait in the ingest location.
                match self.connect().await {
                    Ok(s) => session = Some(s),
                    Err(e) => {
                        tracing::warn!(component = "chunker", error = %format!("{e:#}"), "broker unavailable; retrying")
                    }
                }
            }
            self.health.set_ready(session.is_some());
            if let Some(s) = session.as_ref() {
                if let Err(e) = self.submit_ready(&mut seen, s).await {
                    self.health.set_ready(false);
                    tracing::warn!(component = "chunker", error = %format!("{e:#}"), "broker error, will retry");
                    session = None;
                }
            }
            // Sleep until the next listing, or less if an event names a new object.
            let wait = next_list.saturating_duration_since(Instant::now());
            let event = match session.as_mut().and_then(|s| s.events.as_mut()) {
                Some(events) => tokio::time::timeout(wait, events.next()).await.ok(),
                None => {
                    tokio::time::sleep(if session.is_some() {
                        wait
                    } else {
                        wait.max(Duration::from_secs(1))
                    })
                    .await;
                    None
                }
            };
            match event {
                None => {}
                Some(Some(Ok(d))) => {
                    self.on_event(&d.data, &mut seen);
                    // An event is only a hint (the listing is the truth), so it is acked now.
                    if d.ack(BasicAckOptions::default()).await.is_err() {
                        session = None;
                    }
                }
                Some(_) => session = None,
            }
        }
    }

    async fn connect(&self) -> anyhow::Result<Session> {
        let conn = amqp::connect(&self.args.amqp, "chunker").await?;
        let (ch, names) = amqp::confirm_channel(&conn, &self.args.amqp).await?;
        let events = match &self.args.events_queue {
            None => None,
            Some(q) => {
                let ech = conn.create_channel().await?;
                ech.basic_qos(16, Default::default()).await?;
                ech.queue_declare(
                    q.as_str().into(),
                    QueueDeclareOptions {
                        durable: true,
                        ..Default::default()
                    },
                    amqp::quorum(&[]),
                )
                .await
                .with_context(|| format!("declaring the events queue {q}"))?;
                if let Some(x) = &self.args.events_exchange {
                    ech.queue_bind(
                        q.as_str().into(),
                        x.as_str().into(),
                        self.args.events_routing_key.as_str().into(),
                        QueueBindOptions::default(),
                        FieldTable::default(),
                    )
                    .await
                    .with_context(|| format!("binding {q} to the events exchange {x}"))?;
                }
                let c = ech
                    .basic_consume(
                        q.as_str().into(),
                        "chunker-events".into(),
                        BasicConsumeOptions::default(),
                        FieldTable::default(),
                    )
                    .await?;
                Some(c)
            }
        };
        Ok(Session {
            conn,
            ch,
            names,
            events,
        })
    }

    /// Lists the ingest location and updates what is known of each key.
    fn list(&self, seen: &mut HashMap<String, Seen>) {
        let objects = match self.ingest.list("") {
            Ok(o) => o,
            Err(e) => {
                tracing::warn!(component = "chunker", error = %e, "cannot list the ingest location");
                return;
            }
        };
        for o in objects.iter().filter(|o| self.wanted(&o.key)) {
            self.note(seen, Candidate::of(o));
        }
    }

    /// Whether a key of the ingest location may be an input.
    fn wanted(&self, key: &str) -> bool {
        !ignored(key)
            && !self
                .outputs_inside
                .as_deref()
                .is_some_and(|p| p.is_empty() || key.starts_with(p))
    }

    fn note(&self, seen: &mut HashMap<String, Seen>, c: Candidate) {
        let s = seen.entry(c.key.clone()).or_insert(Seen {
            size: c.size,
            fingerprint: c.fingerprint.clone(),
            since: Instant::now(),
            state: State::Waiting,
            counted: false,
        });
        if s.size != c.size || s.fingerprint != c.fingerprint {
            *s = Seen {
                size: c.size,
                fingerprint: c.fingerprint,
                since: Instant::now(),
                state: State::Waiting,
                counted: false,
            };
        }
    }

    /// Notes the objects an event names (their current state, by HEAD).
    fn on_event(&self, body: &[u8], seen: &mut HashMap<String, Seen>) {
        let created = match crate::infra::events::created(body) {
            Ok(c) => c,
            Err(e) => {
                self.metrics().events.with_label_values(&["invalid"]).inc();
                tracing::warn!(component = "chunker", error = %e, "ignoring a bucket event");
                return;
            }
        };
        let Location::S3 { bucket, prefix } = &self.ingest_location else {
            self.metrics().events.with_label_values(&["ignored"]).inc();
            return;
        };
        for c in created {
            let key = if prefix.is_empty() {
                Some(c.key.as_str())
            } else {
                c.key
                    .strip_prefix(prefix.as_str())
                    .and_then(|k| k.strip_prefix('/'))
            };
            let Some(key) = key.filter(|k| c.bucket == *bucket && self.wanted(k)) else {
                self.metrics().events.with_label_values(&["ignored"]).inc();
                continue;
            };
            self.metrics().events.with_label_values(&["accepted"]).inc();
            match self.ingest.head(key) {
                Ok(Some(o)) => self.note(seen, Candidate::of(&o)),
                Ok(None) => {
                    tracing::info!(component = "chunker", key = %key, "announced but not there (deleted?)")
                }
                Err(e) => {
                    tracing::warn!(component = "chunker", key = %key, error = %e, "the next listing retries")
                }
            }
        }
    }

    /// Submits every key that is ready, in key order.
    async fn submit_ready(
        &self,
        seen: &mut HashMap<String, Seen>,
        session: &Session,
    ) -> anyhow::Result<()> {
        let stable = Duration::from_secs_f64(self.args.stable_for.max(0.0));
        // Objects in a bucket are complete once listed; local files must stop changing.
        let settle = if self.ingest.local_root().is_some() {
            stable
        } else {
            Duration::ZERO
        };
        let now = Instant::now();
        let mut ready: Vec<Candidate> = seen
            .iter()
            .filter(|(_, s)| match s.state {
                State::Waiting => s.since.elapsed() >= settle,
                State::RetryAt(t) => now >= t,
                State::Done => false,
            })
            .map(|(k, s)| Candidate {
                key: k.clone(),
                size: s.size,
                fingerprint: s.fingerprint.clone(),
            })
            .collect();
        ready.sort_by(|a, b| a.key.cmp(&b.key));
        for c in ready {
            let s = seen.get_mut(&c.key).expect("listed");
            if !s.counted {
                s.counted = true;
                self.metrics().files_seen.inc();
            }
            let outcome = self.handle(&c, session).await;
            let s = seen.get_mut(&c.key).expect("listed");
            match outcome {
                Ok(msg) => {
                    tracing::info!(component = "chunker", key = %c.key, "{msg}");
                    s.state = State::Done;
                }
                Err(Failure::Broker(e)) => {
                    s.state = State::RetryAt(Instant::now());
                    return Err(e);
                }
                Err(Failure::Later(e)) => {
                    tracing::warn!(component = "chunker", key = %c.key, error = %format!("{e:#}"), "retrying later");
                    s.state = State::RetryAt(Instant::now() + RETRY_LATER);
                }
                Err(Failure::File(e)) => {
                    self.metrics().files_invalid.inc();
                    tracing::warn!(component = "chunker", key = %c.key, error = %format!("{e:#}"), "cannot be processed");
                    s.state = State::Done;
                    let _ = self.books.write_ingest_record(&IngestRecord {
                        key: c.key.clone(),
                        size: c.size,
                        fingerprint: c.fingerprint.clone(),
                        run: String::new(),
                    });
                }
            }
        }
        Ok(())
    }
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
