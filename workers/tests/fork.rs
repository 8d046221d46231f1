//! `tilecast pool --spawn fork` (the default) against the real RabbitMQ: each job in a
//! process of its own forked by the fork server, a process that dies or overruns counted as
//! a failed delivery, and SIGTERM returning running jobs to the queue.

use std::path::Path;
use std::time::{Duration, Instant};

mod common;

use common::*;

/// The pool's fork server (its only child).
fn fork_server(c: &Cluster) -> u32 {
    let kids = children(c.pid("pool"));
    assert_eq!(kids.len(), 1, "the pool's children: {kids:?}\n{}", c.logs());
    kids[0]
}

/// A cluster whose one job holds every tile of `zooms` of a global field, with one delivery
/// limit for the queue and the pool's count (whoever declares the queue first).
fn one_job(name: &str, zooms: &str, delivery_limit: &str, worker: &[&str]) -> Cluster {
    let mut c = Cluster::new(name);
    c.env = vec![("TILECAST_DELIVERY_LIMIT".into(), delivery_limit.into())];
    c.chunker(&["--zoom", zooms, "--job-tiles", "100000"]);
    c.pool(1, worker);
    c
}

/// The run's manifest, once written, lists the one job's layer among its failures.
fn assert_run_failed_its_job(c: &Cluster) {
    c.wait_manifests(1, Duration::from_secs(30));
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&c.manifests()[0]).unwrap()).unwrap();
    assert_eq!(m["failed"].as_array().map(Vec::len), Some(1), "{m}");
}

#[test]
fn every_job_runs_in_a_process_of_its_own_forked_by_the_fork_server() {
    let mut c = Cluster::new("forked");
    c.chunker(&["--zoom", "0-3", "--job-tiles", "8", "--batch-tiles", "0"]);
    c.pool(2, &[]);
    let file = samples().join("global_t2m.grib2");
    c.drop_file(&file, "global_t2m.grib2");
    c.wait_manifests(1, Duration::from_secs(60));
    let zygote = fork_server(&c);
    let pool = c.pid("pool");
    let done = done_lines(&c);
    // Every job's result record, written by its process.
    let jobs = c.results_recorded();
    assert!(jobs >= 11, "{jobs} jobs\n{}", c.logs());
    assert_eq!(done.len(), jobs, "{}", c.logs());
    let mut pids: Vec<u64> = done.iter().map(|d| d["pid"].as_u64().unwrap()).collect();
    pids.sort_unstable();
    pids.dedup();
    assert_eq!(pids.len(), done.len(), "a process ran two jobs: {pids:?}");
    assert!(
        !pids.contains(&u64::from(pool)) && !pids.contains(&u64::from(zygote)),
        "a job ran in the pool ({pool}) or the fork server ({zygote}): {pids:?}"
    );
    let pool_log = std::fs::read_to_string(c.dir.path().join("logs/pool.log")).unwrap();
    assert!(!pool_log.contains("worker started"), "{pool_log}");
    assert_same_as_local(
        &c,
        &[c.ingest().join("global_t2m.grib2")],
        &["--zoom", "0-3"],
    );
    // The fork server outlives its jobs: still the same process, still the pool's child.
    assert_eq!(fork_server(&c), zygote);
}

#[test]
fn a_job_whose_process_is_killed_every_time_is_dead_lettered_naming_the_signal() {
    let c = one_job("forkkill", "0-4", "2", &[]);
    let file = samples().join("global_t2m.grib2");
    c.drop_file(&file, "global_t2m.grib2");
    let zygote = {
        let t0 = Instant::now();
        loop {
            let kids = children(c.pid("pool"));
            if kids.len() == 1 {
                break kids[0];
            }
            assert!(t0.elapsed() < Duration::from_secs(10), "no fork server");
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    let t0 = Instant::now();
    let mut kills = 0;
    let mut dead = Vec::new();
    while dead.is_empty() {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "not dead-lettered after {kills} kills\n{}",
            c.logs()
        );
        for job in children(zygote) {
            signal(job, libc::SIGKILL);
            kills += 1;
        }
        std::thread::sleep(Duration::from_millis(5));
        if kills >= 3 {
            dead = c.dead_letters();
        }
    }
    assert_eq!(dead.len(), 1, "{dead:?}");
    let reason = &dead[0].1;
    assert!(
        reason.contains("failed on all 3 deliveries")
            && reason.contains("was killed by signal 9 before reporting"),
        "{reason}"
    );
    assert_run_failed_its_job(&c);
    // The pool and its fork server lived through it.
    assert_eq!(fork_server(&c), zygote);
}

#[test]
fn past_the_job_timeout_the_jobs_process_is_stopped_and_the_delivery_fails() {
    let c = one_job("forktimeout", "0-5", "1", &["--job-timeout", "0.05"]);
    // The queues exist once the pool has connected.
    wait_for(&c, "the pool to connect", Duration::from_secs(30), || {
        std::fs::read_to_string(c.dir.path().join("logs/pool.log"))
            .unwrap_or_default()
            .contains("taking jobs")
    });
    let file = samples().join("global_t2m.grib2");
    c.drop_file(&file, "global_t2m.grib2");
    let mut dead = Vec::new();
    wait_for(&c, "a dead letter", Duration::from_secs(60), || {
        dead = c.dead_letters();
        !dead.is_empty()
    });
    let reason = &dead[0].1;
    assert!(
        reason.contains("failed on all 2 deliveries")
            && reason.contains("still running after --job-timeout 0.05 s"),
        "{reason}"
    );
    // Stopped between tiles: no temporary file, no result record; the run completes with
    // the job among its failures.
    assert_eq!(c.temporaries(), 0);
    assert!(done_lines(&c).is_empty());
    assert_run_failed_its_job(&c);
}

#[test]
fn sigterm_to_the_pool_returns_the_running_job_to_the_queue_and_exits_promptly() {
    let mut c = one_job("forkterm", "0-5", "5", &[]);
    let file = samples().join("global_t2m.grib2");
    c.drop_file(&file, "global_t2m.grib2");
    let pool = c.pid("pool");
    wait_for(&c, "a job's process", Duration::from_secs(30), || {
        children(pool)
            .first()
            .is_some_and(|&z| !children(z).is_empty())
    });
    let zygote = children(pool)[0];
    let job = children(zygote)[0];
    let t0 = Instant::now();
    signal(pool, libc::SIGTERM);
    let child = &mut c.procs.iter_mut().find(|(l, _)| l == "pool").unwrap().1;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(t0.elapsed() < Duration::from_secs(5), "pool still running");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(status.code(), Some(0), "{}", c.logs());
    assert!(t0.elapsed() < Duration::from_secs(4), "{:?}", t0.elapsed());
    // The job's process and the fork server are gone (the pool waited for both).
    for pid in [job, zygote] {
        assert!(!Path::new(&format!("/proc/{pid}")).exists(), "{pid} left");
    }
    assert_eq!(c.temporaries(), 0);
    assert!(
        done_lines(&c).is_empty(),
        "the job finished before the signal"
    );
    // The job went back to the queue: a new pool renders it.
    c.pool(1, &[]);
    c.wait_manifests(1, Duration::from_secs(60));
    let d = c.depths();
    assert_eq!((d["render"], d["render.dead"]), (0, 0), "{d:?}");
}

/// Given the worker's `--metrics-addr`, a fork pool serves /metrics (promtool-clean),
/// /healthz and /readyz for as long as it runs, and counts every job it reported.
#[test]
fn a_fork_pool_serves_metrics_that_count_its_jobs() {
    let mut c = Cluster::new("forkmetrics");
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    c.chunker(&["--zoom", "0-2", "--job-tiles", "4"]);
    c.pool(2, &["--metrics-addr", &addr]);
    assert_eq!(wait_http(port, "/readyz", Duration::from_secs(20)).0, 200);
    c.drop_file(&samples().join("global_t2m.grib2"), "global_t2m.grib2");
    c.wait_manifests(1, Duration::from_secs(60));
    let jobs = c.results_recorded();
    assert!(jobs >= 5, "{jobs} jobs");
    // The last job's count may follow its result by the report's round trip.
    wait_for(&c, "every job counted", Duration::from_secs(10), || {
        done_count(&http_get(port, "/metrics").1) == jobs as f64
    });
    let (status, text) = http_get(port, "/metrics");
    assert_eq!(status, 200);
    promtool_check_metrics(&text);
    assert!(
        text.contains("tilecast_stage_duration_seconds_count{stage=\"render\"}"),
        "{text}"
    );
    assert_eq!(http_get(port, "/healthz").0, 200);
}

/// `tilecast_job_results_total{outcome="done"}` in an exposition.
fn done_count(text: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with("tilecast_job_results_total{outcome=\"done\"}"))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(-1.0)
}
