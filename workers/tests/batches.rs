//! Batches (docs/ARCHITECTURE.md 3.5, 3.9) against the real RabbitMQ: the chunker puts
//! consecutive small jobs of a file in one message, a pool renders each message in one
//! process and reports every job alone, and a batch whose process dies, or that comes back
//! after its worker was lost, goes on as single jobs.

use std::time::{Duration, Instant};

use lapin::options::BasicGetOptions;
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Connection, ConnectionProperties};

mod common;

use common::*;

#[test]
fn small_jobs_travel_in_batches_one_process_per_batch_each_job_reported_alone() {
    let mut c = Cluster::new("forkbatch");
    // z0-3 in jobs of at most 4 tiles: the default --batch-tiles 16 puts 3 or 4 in a message.
    c.chunker(&["--zoom", "0-3", "--job-tiles", "4"]);
    c.pool(2, &[]);
    c.drop_file(&samples().join("global_t2m.grib2"), "global_t2m.grib2");
    c.wait_manifests(1, Duration::from_secs(60));
    let jobs = c.results_recorded();
    let messages = messages_published(&c);
    assert!(
        jobs >= 20 && messages * 3 <= jobs,
        "{jobs} jobs in {messages} messages"
    );
    // Every job has its own result and its own line; the jobs of a batch share a process.
    let done = done_lines(&c);
    assert_eq!(done.len(), jobs, "{}", c.logs());
    let mut pids: Vec<u64> = done.iter().map(|d| d["pid"].as_u64().unwrap()).collect();
    pids.sort_unstable();
    pids.dedup();
    assert_eq!(pids.len(), messages, "{}", c.logs());
    let batched: u64 = done.iter().map(|d| d["batch"].as_u64().unwrap()).sum();
    assert!(batched > jobs as u64, "no job said it came in a batch");
    assert_same_as_local(
        &c,
        &[c.ingest().join("global_t2m.grib2")],
        &["--zoom", "0-3"],
    );
}

#[test]
fn a_batch_whose_process_is_killed_goes_on_as_single_jobs() {
    let mut c = Cluster::new("forkbatchkill");
    c.chunker(&["--zoom", "0-3", "--job-tiles", "4"]);
    c.pool(1, &[]);
    c.drop_file(&samples().join("global_t2m.grib2"), "global_t2m.grib2");
    // The first job's process to appear runs the file's first batch: killed at once.
    let t0 = Instant::now();
    let victim = loop {
        let kids = children(c.pid("pool"));
        if let Some(job) = kids.first().and_then(|&z| children(z).first().copied()) {
            break job;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "no job's process\n{}",
            c.logs()
        );
        std::thread::sleep(Duration::from_millis(1));
    };
    signal(victim, libc::SIGKILL);
    c.wait_manifests(1, Duration::from_secs(60));
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&c.manifests()[0]).unwrap()).unwrap();
    assert_eq!(m["failed"], serde_json::json!([]), "{m}");
    // Each job of the killed batch was published again alone, its failure counted.
    let log = std::fs::read_to_string(c.dir.path().join("logs/pool.log")).unwrap();
    let requeued: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("job requeued after failed delivery 1"))
        .collect();
    assert!(requeued.len() >= 3, "{log}");
    assert!(
        log.contains(&format!(
            "the job's process {victim} was killed by signal 9"
        )),
        "{log}"
    );
    // Those copies were single jobs: each ran in a process of its own.
    let singles = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["outcome"] == "done" || v["outcome"] == "already done")
        .filter(|v| v["batch"] == 1)
        .count();
    assert!(singles >= requeued.len(), "{log}");
    assert_same_as_local(
        &c,
        &[c.ingest().join("global_t2m.grib2")],
        &["--zoom", "0-3"],
    );
}

/// Takes the one message of the render queue; unless `ack`, closes the connection without
/// acking it: the broker delivers it again with `redelivered` set, as after a worker lost
/// holding it.
fn take(c: &Cluster, ack: bool) -> Vec<u8> {
    wait_for(
        c,
        "the file's jobs published",
        Duration::from_secs(30),
        || {
            std::fs::read_to_string(c.dir.path().join("logs/chunker.log"))
                .unwrap_or_default()
                .contains("jobs published")
        },
    );
    let queue = format!("{}.render", c.prefix);
    rt().block_on(async move {
        let conn = Connection::connect(&amqp_url(), ConnectionProperties::default())
            .await
            .unwrap();
        let ch = conn.create_channel().await.unwrap();
        let t0 = Instant::now();
        let body = loop {
            let got = ch
                .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: false })
                .await
                .unwrap();
            if let Some(m) = got {
                if ack {
                    m.delivery.ack(Default::default()).await.unwrap();
                }
                break m.delivery.data.clone();
            }
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "no message on {queue}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        conn.close(0, "lost".into()).await.unwrap();
        body
    })
}

/// A file of two small fields (z0-1: 5 tiles each), one batch.
fn two_field_file(c: &Cluster) -> std::path::PathBuf {
    let path = c.dir.path().join("two.grib2");
    let mut bytes = std::fs::read(samples().join("sst_missing.grib2")).unwrap();
    bytes.extend(std::fs::read(samples().join("global_t2m.grib2")).unwrap());
    std::fs::write(&path, bytes).unwrap();
    path
}

fn a_batch_delivered_again_is_split_into_single_jobs(spawn: &str) {
    let mut c = Cluster::new(&format!("redelivered{spawn}"));
    c.chunker(&["--zoom", "0-1"]);
    c.drop_file(&two_field_file(&c), "two.grib2");
    let body = take(&c, false);
    let jobs = tilecast::run::batch::parse_message(&body).unwrap();
    assert_eq!(jobs.len(), 2, "one batch of both layers' jobs");
    c.pool_with(1, &["--spawn", spawn], &[]);
    c.wait_manifests(1, Duration::from_secs(60));
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&c.manifests()[0]).unwrap()).unwrap();
    assert_eq!(m["failed"], serde_json::json!([]), "{m}");
    let log = std::fs::read_to_string(c.dir.path().join("logs/pool.log")).unwrap();
    for j in &jobs {
        assert!(
            log.lines().any(|l| l.contains(&j.id)
                && l.contains("its batch was delivered again after its worker was lost")),
            "job {} not sent on alone\n{log}",
            j.id
        );
    }
    // Each rendered alone, in a process of its own.
    let done = done_lines(&c);
    assert_eq!(done.len(), 2, "{log}");
    assert!(done.iter().all(|d| d["batch"] == 1), "{log}");
    assert_same_as_local(&c, &[c.ingest().join("two.grib2")], &["--zoom", "0-1"]);
}

#[test]
fn a_batch_delivered_again_to_a_fork_pool_is_split_into_single_jobs() {
    a_batch_delivered_again_is_split_into_single_jobs("fork");
}

#[test]
fn a_batch_delivered_again_to_a_worker_is_split_into_single_jobs() {
    a_batch_delivered_again_is_split_into_single_jobs("exec");
}

/// A batch dead-lettered whole (by the broker past its delivery limit, or by a worker from
/// before batches) is the death of each of its jobs: the run completes with both layers
/// among its failures.
#[test]
fn a_dead_batch_is_the_death_of_each_of_its_jobs() {
    let mut c = Cluster::new("deadbatch");
    c.chunker(&["--zoom", "0-1"]);
    c.drop_file(&two_field_file(&c), "two.grib2");
    let body = take(&c, true);
    let mut h = FieldTable::default();
    h.insert(
        "x-first-death-reason".into(),
        AMQPValue::LongString("delivery_limit".into()),
    );
    c.publish_to(&format!("{}.dead", c.prefix), "", &body, h);
    c.wait_manifests(1, Duration::from_secs(30));
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&c.manifests()[0]).unwrap()).unwrap();
    assert_eq!(m["layers"], serde_json::json!([]), "{m}");
    let failed = m["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 2, "{m}");
    for f in failed {
        assert!(
            f["error"]
                .as_str()
                .unwrap()
                .contains("delivery limit reached"),
            "{m}"
        );
    }
}
