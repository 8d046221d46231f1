//! Driving a [`Cluster`]: waiting for a condition, signals to its processes and to a pool's
//! workers, a seeded random source for faults (a failing run is replayed from its seed), the
//! broker through `rabbitmqctl`, what each queue holds, delivered or not, and `promtool`'s
//! check of a metrics exposition.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use super::Cluster;

/// The four queues of a test's topology, by suffix.
pub const QUEUES: [&str; 4] = ["render", "render.dead", "dead.events", "results"];

/// xorshift64*, seeded through splitmix64 so that any seed (0 too) gives a good stream.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng((z ^ (z >> 31)) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// Uniform in `[lo, hi)`.
    pub fn between(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True `percent` times in a hundred.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// A duration uniform in `[lo_ms, hi_ms)` milliseconds.
    pub fn millis(&mut self, lo_ms: u64, hi_ms: u64) -> Duration {
        Duration::from_millis(lo_ms + self.below(hi_ms - lo_ms))
    }
}

/// The seed of a randomised test: `TILECAST_CHAOS_SEED` when set, a fresh one otherwise.
pub fn chaos_seed() -> u64 {
    std::env::var("TILECAST_CHAOS_SEED")
        .ok()
        .map(|s| s.parse().expect("TILECAST_CHAOS_SEED is a u64"))
        .unwrap_or_else(|| {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap();
            t.as_nanos() as u64 ^ ((std::process::id() as u64) << 32)
        })
}

/// The child processes of `pid` (a pool's current workers).
pub fn children(pid: u32) -> Vec<u32> {
    let path = format!("/proc/{pid}/task/{pid}/children");
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect()
}

/// A process's children and their children (a `--spawn fork` pool's fork server and job
/// processes; an exec pool's workers).
pub fn descendants(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for kid in children(pid) {
        out.push(kid);
        out.extend(children(kid));
    }
    out
}

/// Sends `signal` to a process.
pub fn signal(pid: u32, signal: i32) {
    // SAFETY: kill(2) has no memory effects; a pid that is gone gives ESRCH.
    unsafe {
        libc::kill(pid as libc::pid_t, signal);
    }
}

/// Runs `rabbitmqctl ARGS` and returns its output; a failure fails the test.
pub fn rabbitmqctl(args: &[&str]) -> String {
    let o = Command::new("rabbitmqctl").args(args).output();
    let o = o.expect("rabbitmqctl");
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "rabbitmqctl {args:?}: {out}{err}");
    out
}

/// Polls `done` every 250 ms until it holds; after `timeout` the test fails with the logs.
pub fn wait_for(c: &Cluster, what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < timeout,
            "{what}: not after {timeout:?}\n{}",
            c.logs()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

impl Cluster {
    /// Sends `signal` to the process started as `label`, waits for it to exit and forgets
    /// it. False when there is no such process.
    pub fn kill(&mut self, label: &str, sig: i32) -> bool {
        let Some(i) = self.procs.iter().position(|(l, _)| l == label) else {
            return false;
        };
        let (_, mut child) = self.procs.remove(i);
        signal(child.id(), sig);
        let _ = child.wait();
        true
    }

    pub fn running(&self, label: &str) -> bool {
        self.procs.iter().any(|(l, _)| l == label)
    }

    /// Messages in each queue of the topology, ready or delivered and not yet acked (the
    /// passive declare of [`Cluster::depths`] counts only ready ones).
    pub fn queue_totals(&self) -> BTreeMap<String, u64> {
        let listing = rabbitmqctl(&[
            "list_queues",
            "-q",
            "--no-table-headers",
            "name",
            "messages",
        ]);
        let mut out: BTreeMap<String, u64> = QUEUES.iter().map(|q| (q.to_string(), 0)).collect();
        for line in listing.lines() {
            let mut cols = line.split_whitespace();
            let (Some(name), Some(n)) = (cols.next(), cols.next()) else {
                continue;
            };
            let own = name
                .strip_prefix(self.prefix.as_str())
                .and_then(|q| q.strip_prefix('.'));
            if let Some(q) = own.filter(|q| out.contains_key(*q)) {
                out.insert(q.to_string(), n.parse().unwrap_or(u64::MAX));
            }
        }
        out
    }
}

/// `promtool check metrics` on an exposition.
pub fn promtool_check_metrics(text: &str) {
    use std::io::Write;
    use std::process::Stdio;
    let mut p = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus) must be installed");
    p.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let o = p.wait_with_output().unwrap();
    assert!(
        o.status.success(),
        "promtool check metrics failed:\n{}{}\n{text}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.trim().is_empty(), "promtool reported problems: {out}");
}
