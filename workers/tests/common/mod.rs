//! Shared by the broker and bucket tests: a test's own queue prefix, directories and
//! processes ([`Cluster`]); output trees and their comparison with `tilecast render` are in
//! [`compare`], a minimal HTTP client in [`http`], waiting, signals and driving the broker
//! in [`control`], the rendered Helm chart in [`chart`].
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lapin::options::{
    BasicGetOptions, BasicPublishOptions, ExchangeDeleteOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties};

pub mod browser;
pub mod chart;
mod compare;
mod control;
pub mod crafted;
mod http;
pub mod s3;

// Not every test binary uses every helper.
#[allow(unused_imports)]
pub use compare::*;
pub use control::*;
#[allow(unused_imports)]
pub use http::*;

pub fn amqp_url() -> String {
    std::env::var("TILECAST_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_tilecast"))
}

pub fn samples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../sample-data")
}

/// The real sample files, `../shared/sample-data` (override with TILECAST_SHARED_SAMPLES);
/// missing is a failure.
pub fn shared_samples() -> PathBuf {
    let p = std::env::var_os("TILECAST_SHARED_SAMPLES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/sample-data")
        });
    assert!(
        p.join("README.md").exists(),
        "shared samples missing at {}",
        p.display()
    );
    p
}

pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// One test's world: directories, queue prefix and the processes it started.
pub struct Cluster {
    pub prefix: String,
    pub dir: tempfile::TempDir,
    pub procs: Vec<(String, Child)>,
    /// Environment added to every process (after the defaults, so it can override them).
    pub env: Vec<(String, String)>,
}

impl Cluster {
    pub fn new(name: &str) -> Cluster {
        // Fail early and clearly when the broker is not there.
        rt().block_on(async {
            Connection::connect(&amqp_url(), ConnectionProperties::default()).await
        })
        .unwrap_or_else(|e| panic!("RabbitMQ not reachable at {}: {e}", amqp_url()));
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let dir = tempfile::Builder::new()
            .prefix("tilecast-queue-")
            .tempdir()
            .unwrap();
        for d in ["in", "out", "logs"] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        Cluster {
            prefix: format!("t{}_{name}_{nanos}", std::process::id()),
            dir,
            procs: Vec::new(),
            env: Vec::new(),
        }
    }

    pub fn ingest(&self) -> PathBuf {
        self.dir.path().join("in")
    }

    pub fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(bin());
        c.args(args)
            .env("TILECAST_AMQP_URL", amqp_url())
            .env("TILECAST_QUEUE_PREFIX", &self.prefix)
            .env("TILECAST_OUT", self.out())
            // Workers read job sources only from here (the chunker is given --ingest).
            .env("TILECAST_INGEST", self.ingest())
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null());
        c
    }

    /// Starts a long-running process, logging to logs/<label>.log (appended to, so a
    /// restarted process's log follows its predecessor's).
    pub fn start(&mut self, label: &str, args: &[&str]) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("logs").join(format!("{label}.log")))
            .unwrap();
        let child = self
            .command(args)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.procs.push((label.to_string(), child));
    }

    pub fn chunker(&mut self, extra: &[&str]) {
        let ingest = self.ingest().to_string_lossy().into_owned();
        let mut args = vec![
            "chunker",
            "--ingest",
            &ingest,
            "--stable-for",
            "0.3",
            "--poll-interval",
            "0.2",
            "--recheck",
            "1",
        ];
        if !extra.contains(&"--metrics-addr") {
            // An ephemeral port, so chunkers of consecutive tests never collide.
            args.extend_from_slice(&["--metrics-addr", "127.0.0.1:0"]);
        }
        args.extend_from_slice(extra);
        self.start("chunker", &args);
    }

    pub fn pool(&mut self, workers: usize, worker_args: &[&str]) {
        self.pool_with(workers, &[], worker_args);
    }

    /// A pool with flags of its own (`--spawn exec`, `--prefetch`).
    pub fn pool_with(&mut self, workers: usize, pool_flags: &[&str], worker_args: &[&str]) {
        let n = workers.to_string();
        let mut args = vec!["pool", "--workers", &n];
        args.extend_from_slice(pool_flags);
        args.push("--");
        args.extend_from_slice(worker_args);
        self.start("pool", &args);
    }

    pub fn pid(&self, label: &str) -> u32 {
        self.procs
            .iter()
            .find(|(l, _)| l == label)
            .map(|(_, c)| c.id())
            .expect("process started")
    }

    pub fn logs(&self) -> String {
        let mut s = String::new();
        for e in std::fs::read_dir(self.dir.path().join("logs")).unwrap() {
            let p = e.unwrap().path();
            s += &format!(
                "==== {}\n{}\n",
                p.display(),
                std::fs::read_to_string(&p).unwrap_or_default()
            );
        }
        s
    }

    pub fn drop_file(&self, src: &Path, name: &str) {
        // Written under a temporary name and renamed, as a well-behaved uploader does.
        let tmp = self.ingest().join(format!("{name}.part"));
        std::fs::copy(src, &tmp).unwrap();
        std::fs::rename(&tmp, self.ingest().join(name)).unwrap();
    }

    /// Result records written so far, all runs together.
    pub fn results_recorded(&self) -> usize {
        let Ok(runs) = std::fs::read_dir(self.out().join(".tilecast")) else {
            return 0;
        };
        runs.flatten()
            .filter_map(|r| std::fs::read_dir(r.path().join("results")).ok())
            .map(|d| d.count())
            .sum()
    }

    /// Files left in the output root's temporary directory.
    pub fn temporaries(&self) -> usize {
        std::fs::read_dir(self.out().join(".tilecast/tmp")).map_or(0, |d| d.count())
    }

    pub fn manifests(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(self.out())
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.path().join("manifest.json"))
                    .filter(|p| p.exists())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    /// The run plan behind a manifest (from the run's bookkeeping).
    pub fn plan_of(&self, manifest: &Path) -> tilecast::run::plan::RunPlan {
        let run = manifest.parent().unwrap().file_name().unwrap();
        let path = self.out().join(".tilecast").join(run).join("plan.json");
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    }

    pub fn wait_manifests(&self, n: usize, timeout: Duration) {
        let start = Instant::now();
        while self.manifests().len() < n {
            if start.elapsed() > timeout {
                panic!(
                    "only {} of {n} manifests after {timeout:?}\n{}",
                    self.manifests().len(),
                    self.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Ready messages in each queue of the topology.
    pub fn depths(&self) -> BTreeMap<String, u32> {
        let prefix = self.prefix.clone();
        rt().block_on(async move {
            let conn = Connection::connect(&amqp_url(), ConnectionProperties::default())
                .await
                .unwrap();
            let mut out = BTreeMap::new();
            for q in QUEUES {
                // A queue not declared yet counts as empty (a passive declare of it closes
                // the channel, hence a channel per queue).
                let ch = conn.create_channel().await.unwrap();
                let name = format!("{prefix}.{q}");
                let opts = QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                };
                let n = match ch
                    .queue_declare(name.as_str().into(), opts, FieldTable::default())
                    .await
                {
                    Ok(d) => d.message_count(),
                    Err(_) => 0,
                };
                out.insert(q.to_string(), n);
            }
            out
        })
    }

    pub fn wait_render_queue_empty(&self, timeout: Duration) {
        let start = Instant::now();
        while self.depths()["render"] > 0 {
            assert!(
                start.elapsed() < timeout,
                "render queue not drained\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    pub fn publish_raw(&self, body: &[u8]) {
        let jobs = format!("{}.jobs", self.prefix);
        self.publish_to(&jobs, "render", body, FieldTable::default());
    }

    /// Publishes `body` to `exchange` ("" is the default exchange, which routes by queue
    /// name) with `headers`, confirmed and routed.
    pub fn publish_to(&self, exchange: &str, key: &str, body: &[u8], headers: FieldTable) {
        let body = body.to_vec();
        let (exchange, key) = (exchange.to_string(), key.to_string());
        rt().block_on(async move {
            let conn = Connection::connect(&amqp_url(), ConnectionProperties::default())
                .await
                .unwrap();
            let ch = conn.create_channel().await.unwrap();
            ch.confirm_select(Default::default()).await.unwrap();
            let props = BasicProperties::default()
                .with_delivery_mode(2)
                .with_content_type("application/json".into())
                .with_headers(headers);
            let c = ch
                .basic_publish(
                    exchange.as_str().into(),
                    key.as_str().into(),
                    BasicPublishOptions {
                        mandatory: true,
                        ..Default::default()
                    },
                    &body,
                    props,
                )
                .await
                .unwrap()
                .await
                .unwrap();
            assert!(
                c.is_ack() && c.take_message().is_none(),
                "publish not routed"
            );
        });
    }

    /// Dead-lettered messages: (body, x-tilecast-reason or broker reason).
    pub fn dead_letters(&self) -> Vec<(Vec<u8>, String)> {
        let prefix = self.prefix.clone();
        rt().block_on(async move {
            let conn = Connection::connect(&amqp_url(), ConnectionProperties::default())
                .await
                .unwrap();
            let ch = conn.create_channel().await.unwrap();
            let mut out = Vec::new();
            while let Some(m) = ch
                .basic_get(
                    format!("{prefix}.render.dead").as_str().into(),
                    BasicGetOptions { no_ack: true },
                )
                .await
                .unwrap()
            {
                let headers = m.delivery.properties.headers().clone().unwrap_or_default();
                let reason = ["x-tilecast-reason", "x-first-death-reason"]
                    .iter()
                    .find_map(|k| match headers.inner().get(*k)? {
                        lapin::types::AMQPValue::LongString(s) => {
                            Some(String::from_utf8_lossy(s.as_bytes()).into_owned())
                        }
                        other => Some(format!("{other:?}")),
                    })
                    .unwrap_or_default();
                out.push((m.delivery.data.clone(), reason));
            }
            out
        })
    }

    pub fn stop(&mut self) {
        for (_, c) in &mut self.procs {
            unsafe {
                libc::kill(c.id() as i32, libc::SIGTERM);
            }
        }
        for (_, c) in &mut self.procs {
            let deadline = Instant::now() + Duration::from_secs(10);
            while c.try_wait().unwrap().is_none() {
                if Instant::now() > deadline {
                    let _ = c.kill();
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.wait();
        }
        self.procs.clear();
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop();
        delete_topology(&self.prefix);
    }
}

/// Deletes the queues and exchanges of a queue prefix (best effort).
pub fn delete_topology(prefix: &str) {
    let prefix = prefix.to_string();
    rt().block_on(async move {
        let Ok(conn) = Connection::connect(&amqp_url(), ConnectionProperties::default()).await
        else {
            return;
        };
        let Ok(ch) = conn.create_channel().await else {
            return;
        };
        for q in QUEUES {
            let name = format!("{prefix}.{q}");
            let _ = ch
                .queue_delete(name.as_str().into(), QueueDeleteOptions::default())
                .await;
        }
        for x in ["jobs", "dead"] {
            let name = format!("{prefix}.{x}");
            let _ = ch
                .exchange_delete(name.as_str().into(), ExchangeDeleteOptions::default())
                .await;
        }
    });
}

/// The pool's "job done" log records.
pub fn done_lines(c: &Cluster) -> Vec<serde_json::Value> {
    std::fs::read_to_string(c.dir.path().join("logs/pool.log"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["outcome"] == "done")
        .collect()
}

/// The number of messages the chunker says it published a file's jobs in.
pub fn messages_published(c: &Cluster) -> usize {
    let log = std::fs::read_to_string(c.dir.path().join("logs/chunker.log")).unwrap();
    let at = log.find(" jobs published in ").expect("a published file") + 19;
    let n = log[at..].split(' ').next().unwrap();
    n.parse().unwrap_or_else(|_| panic!("{log}"))
}
