//! The ledger's cost per result, for runs of 100, 1,000 and 10,000 one-tile jobs: store
//! requests (by kind) and CPU time per result, through a store that counts every request.
//!
//! Two scenarios per size:
//! - *streaming*: workers record results one by one and the ledger hears of each as it is
//!   recorded, with a recheck tick every 100 results (as a 5 s tick at 20 results/s);
//! - *restart*: the ledger restarts when half the run is recorded, rebuilds what it knew
//!   from the bookkeeping, then hears the rest.
//!
//! Run with `cargo bench --bench ledger`; it prints a table (numbers in benches/README.md).
//! Flat per-result columns from 100 to 10,000 jobs mean the ledger's cost does not grow with
//! the run.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tilecast::io::store::{LocalStore, ObjectInfo, PutMeta, Store, Versioned};
use tilecast::run::books::Books;
use tilecast::run::execute::{execute, Outcome, Progress};
use tilecast::run::job::{Job, JobResult};
use tilecast::run::ledger::{Ledger, RunState};
use tilecast::run::local::plan_file;
use tilecast::settings::RenderSettings;
use tilecast::Result;

/// Delegates to a store and counts requests by kind.
struct Counting {
    inner: Arc<dyn Store>,
    counts: [AtomicU64; 5],
}

impl Counting {
    fn count(&self, k: usize) {
        self.counts[k].fetch_add(1, Ordering::Relaxed);
    }

    fn take(&self) -> [u64; 5] {
        std::array::from_fn(|k| self.counts[k].swap(0, Ordering::Relaxed))
    }
}

impl Store for Counting {
    fn root(&self) -> String {
        self.inner.root()
    }
    fn put(&self, key: &str, bytes: Vec<u8>, meta: PutMeta) -> Result<()> {
        self.count(1);
        self.inner.put(key, bytes, meta)
    }
    fn put_new(&self, key: &str, bytes: Vec<u8>) -> Result<bool> {
        self.count(1);
        self.inner.put_new(key, bytes)
    }
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.count(0);
        self.inner.get(key)
    }
    fn get_versioned(&self, key: &str) -> Result<Option<Versioned>> {
        self.count(0);
        self.inner.get_versioned(key)
    }
    fn put_if(
        &self,
        key: &str,
        bytes: Vec<u8>,
        meta: PutMeta,
        expected: Option<&str>,
    ) -> Result<bool> {
        self.count(1);
        self.inner.put_if(key, bytes, meta, expected)
    }
    fn delete(&self, key: &str) -> Result<()> {
        self.count(1);
        self.inner.delete(key)
    }
    fn get_range(&self, key: &str, range: Range<u64>, etag: Option<&str>) -> Result<Vec<u8>> {
        self.count(0);
        self.inner.get_range(key, range, etag)
    }
    fn head(&self, key: &str) -> Result<Option<ObjectInfo>> {
        self.count(2);
        self.inner.head(key)
    }
    fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        self.count(3);
        self.inner.list(prefix)
    }
    fn list_dirs(&self, prefix: &str) -> Result<Vec<String>> {
        self.count(3);
        self.inner.list_dirs(prefix)
    }
    fn upload(&self, key: &str, src: &Path, meta: PutMeta) -> Result<()> {
        self.count(1);
        self.inner.upload(key, src, meta)
    }
    fn download(&self, key: &str, dest: &Path) -> Result<ObjectInfo> {
        self.count(4);
        self.inner.download(key, dest)
    }
}

/// CPU seconds of this process (every thread).
fn cpu() -> f64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut t) };
    t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9
}

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-data/global_t2m.grib2")
}

/// A run of `n` one-tile jobs of one layer, its plan in the books, and the results its
/// workers would record (the first, which writes the layer's metadata, really rendered).
fn setup(n: usize, dir: &Path) -> (Arc<LocalStore>, Vec<JobResult>) {
    let settings = RenderSettings {
        zoom: Some((0, 7)),
        ..Default::default()
    };
    let (inventory, mut plan) = plan_file(&sample(), &settings, 1).expect("plan");
    plan.layers.truncate(1);
    plan.layers[0].jobs.truncate(n);
    assert_eq!(
        plan.layers[0].jobs.len(),
        n,
        "the sample plans too few jobs"
    );
    let store = Arc::new(LocalStore::new(dir));
    Books::new(store.clone())
        .write_plan(&plan)
        .expect("plan written");
    let jobs = Job::from_plan(&plan, &dir.to_string_lossy());
    let first = match execute(&jobs[0], &inventory, store.as_ref(), &Progress::default()) {
        Outcome::Done(r) => *r,
        Outcome::Failed(f) => panic!("{}", f.reason),
    };
    let mut results = vec![first.clone()];
    for j in &jobs[1..] {
        results.push(JobResult {
            job: j.id.clone(),
            entry: None,
            tiles: 1,
            bytes: 4096,
            ..first.clone()
        });
    }
    (store, results)
}

struct Row {
    requests: [u64; 5],
    cpu: f64,
}

/// Workers record the run's results one by one; the ledger hears of each. With `restart`,
/// the ledger is down for the first half and its first tick then rebuilds what it missed;
/// without, it ticks every 100 results.
fn scenario(n: usize, restart: bool) -> Row {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (store, results) = setup(n, dir.path());
    let counting = Arc::new(Counting {
        inner: store.clone(),
        counts: Default::default(),
    });
    let worker_books = Books::new(store);
    let mut ledger = Ledger::new(Books::new(counting.clone()));
    let tick = Duration::from_secs(3600);
    let mut cpu_used = 0.0;
    let mut last = RunState::Unknown;
    for (i, r) in results.into_iter().enumerate() {
        worker_books.write_result(&r).expect("result recorded");
        if restart && i < n / 2 {
            continue;
        }
        let t0 = cpu();
        if (restart && i == n / 2) || (!restart && i % 100 == 99) {
            ledger.recheck(tick).expect("recheck");
        }
        last = ledger.record_result(r).expect("recorded");
        cpu_used += cpu() - t0;
    }
    assert_eq!(last, RunState::Completed);
    Row {
        requests: counting.take(),
        cpu: cpu_used,
    }
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` runs a quick pass.
    let quick = !std::env::args().any(|a| a == "--bench");
    let sizes: &[usize] = if quick { &[100] } else { &[100, 1_000, 10_000] };
    println!(
        "{:<10} {:>7} {:>9} {:>8} {:>8} {:>8} {:>8} {:>10} {:>12}",
        "scenario", "jobs", "requests", "get", "put", "head", "list", "req/result", "cpu µs/result"
    );
    for &n in sizes {
        for (name, row) in [
            ("streaming", scenario(n, false)),
            ("restart", scenario(n, true)),
        ] {
            let total: u64 = row.requests.iter().sum();
            let [get, put, head, list, other] = row.requests;
            assert_eq!(other, 0);
            println!(
                "{:<10} {:>7} {:>9} {:>8} {:>8} {:>8} {:>8} {:>10.4} {:>12.2}",
                name,
                n,
                total,
                get,
                put,
                head,
                list,
                total as f64 / n as f64,
                row.cpu / n as f64 * 1e6
            );
        }
    }
}
