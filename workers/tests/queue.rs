//! The distributed pipeline against the real RabbitMQ on this machine (TILECAST_TEST_AMQP_URL,
//! default amqp://guest:guest@127.0.0.1:5672/%2f): chunker, ledger and a pool of one-shot
//! worker processes. Each test uses its own queue prefix and directories. A broker that
//! cannot be reached fails the test.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

mod common;

use common::*;

#[test]
fn end_to_end_outputs_equal_local_render() {
    let mut c = Cluster::new("e2e");
    // The base URL travels in the job messages: the workers' TileJSON documents must be the
    // local render's.
    let flags = ["--zoom", "0-3", "--base-url", "https://tiles.example/wx"];
    c.chunker(&flags);
    c.pool(2, &["--idle-exit", "30"]);
    let files = sample_files();
    for f in &files {
        c.drop_file(f, f.file_name().unwrap().to_str().unwrap());
    }
    c.wait_manifests(files.len(), Duration::from_secs(120));
    assert_same_as_local(&c, &files, &flags);
    let d = c.depths();
    assert_eq!((d["render"], d["render.dead"]), (0, 0), "{d:?}");
}

#[test]
fn kill_9_of_workers_loses_nothing() {
    kill_9_loses_nothing("fork");
}

#[test]
fn kill_9_of_exec_workers_loses_nothing() {
    kill_9_loses_nothing("exec");
}

/// SIGKILL at random to the pool's processes (`--spawn fork`: the fork server or a job's
/// process; `exec`: a worker) while 341 one-tile jobs run.
fn kill_9_loses_nothing(spawn: &str) {
    let mut c = Cluster::new(&format!("kill{spawn}"));
    // 341 one-tile jobs (z0-z4 of a global field); a generous delivery limit, since a job
    // whose worker is killed is redelivered with its count raised.
    c.chunker(&[
        "--zoom",
        "0-4",
        "--job-tiles",
        "1",
        "--delivery-limit",
        "50",
    ]);
    let worker = ["--idle-exit", "30", "--delivery-limit", "50"];
    c.pool_with(2, &["--spawn", spawn], &worker);
    let file = samples().join("global_t2m.grib2");
    c.drop_file(&file, "global_t2m.grib2");
    let pool = c.pid("pool");
    let start = Instant::now();
    let mut kills = 0;
    let mut seed: u64 = 0x2545F4914F6CDD1D;
    while c.manifests().is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(240),
            "run did not complete\n{}",
            c.logs()
        );
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        // Ticks of 50-200 ms: the fork pool renders these jobs in about 2 s.
        std::thread::sleep(Duration::from_millis(50 + seed % 150));
        // The fork server and the jobs' processes it forked: killing the first kills the
        // others with it.
        let kids = descendants(pool);
        if let Some(&victim) = kids.get((seed % kids.len().max(1) as u64) as usize) {
            signal(victim, libc::SIGKILL);
            kills += 1;
        }
    }
    assert!(kills >= 10, "only {kills} kills happened");
    let plan_jobs = {
        let m: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&c.manifests()[0]).unwrap()).unwrap();
        assert!(m["failed"].as_array().unwrap().is_empty(), "{m}");
        m["layers"][0]["tile_count"].as_u64().unwrap()
    };
    assert!(plan_jobs > 200, "{plan_jobs} tiles");
    let (_keep, local) = local_render(&[c.ingest().join("global_t2m.grib2")], &["--zoom", "0-4"]);
    c.wait_render_queue_empty(Duration::from_secs(30));
    assert_same(&tree(&c.out()), &local);
    let d = c.depths();
    assert_eq!(
        (d["render"], d["render.dead"]),
        (0, 0),
        "{d:?} after {kills} kills"
    );
    eprintln!("{kills} workers killed; every job completed");
}

/// Sets section 5's count of packed values to a wrong number: the message still parses, but
/// its field cannot be decoded.
fn corrupt_packed_count(src: &Path, dst: &Path) {
    let mut b = std::fs::read(src).unwrap();
    let mut pos = 16;
    loop {
        let len = u32::from_be_bytes(b[pos..pos + 4].try_into().unwrap()) as usize;
        if b[pos + 4] == 5 {
            let n = u32::from_be_bytes(b[pos + 5..pos + 9].try_into().unwrap());
            b[pos + 5..pos + 9].copy_from_slice(&(n + 7).to_be_bytes());
            break;
        }
        pos += len;
    }
    std::fs::write(dst, b).unwrap();
}

#[test]
fn poison_jobs_are_dead_lettered_with_a_reason_and_the_rest_completes() {
    let mut c = Cluster::new("poison");
    // Both layers' jobs (21 tiles and a meta job each) in one batch: the bad field's job is
    // dead-lettered alone and the other one's rendered.
    c.chunker(&["--zoom", "0-2", "--batch-tiles", "64"]);
    c.pool(2, &["--idle-exit", "30"]);
    // Give the chunker a moment to declare the topology.
    std::thread::sleep(Duration::from_millis(1500));
    c.publish_raw(b"{this is not json");
    let mut v3: serde_json::Value = serde_json::json!({"version": 3, "id": "x"});
    c.publish_raw(&serde_json::to_vec(&v3).unwrap());
    v3["version"] = serde_json::json!(1);
    c.publish_raw(&serde_json::to_vec(&v3).unwrap()); // version 1 but missing members
                                                      // One field that cannot be decoded, then one that can.
    let bad = c.dir.path().join("mixed.grib2");
    corrupt_packed_count(&samples().join("sst_missing.grib2"), &bad);
    let mut bytes = std::fs::read(&bad).unwrap();
    bytes.extend(std::fs::read(samples().join("global_t2m.grib2")).unwrap());
    std::fs::write(&bad, bytes).unwrap();
    c.drop_file(&bad, "mixed.grib2");
    c.wait_manifests(1, Duration::from_secs(60));
    c.wait_render_queue_empty(Duration::from_secs(10));
    let dead = c.dead_letters();
    assert_eq!(dead.len(), 4, "{dead:?}");
    let reasons: Vec<&String> = dead.iter().map(|(_, r)| r).collect();
    // The bad field's job left its batch alone: its dead letter is that job's message.
    let field_0 = dead.iter().find(|(_, r)| r.contains("packed values"));
    let field_0 = tilecast::run::job::Job::parse(&field_0.expect("field 0's dead letter").0);
    assert_eq!(field_0.map(|j| j.fields[0].field).ok(), Some(0));
    let chunker = std::fs::read_to_string(c.dir.path().join("logs/chunker.log")).unwrap();
    assert!(
        chunker.contains("2 jobs published in 1 message\""),
        "{chunker}"
    );
    for want in [
        "malformed",
        "version 3",
        "missing field",
        "field 0: ",
        "packed values",
    ] {
        assert!(
            reasons.iter().any(|r| r.contains(want)),
            "{want}: {reasons:?}"
        );
    }
    // The failing field is listed with its reason and its number in the file; the other
    // field rendered.
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&c.manifests()[0]).unwrap()).unwrap();
    assert_eq!(m["layers"].as_array().unwrap().len(), 1, "{m}");
    assert_eq!(m["layers"][0]["field"], 1, "{m}");
    assert_eq!(m["failed"].as_array().unwrap().len(), 1, "{m}");
    assert_eq!(m["failed"][0]["field"], 0, "{m}");
    let error = m["failed"][0]["error"].as_str().unwrap();
    assert!(
        error.contains("field 0: ") && error.contains("packed values"),
        "{m}"
    );
    assert!(!error.contains("field 1"), "{m}");
    // One executor: `tilecast render` of the same file writes the same bytes, the manifest
    // and its failed[] included, and exits 1 for the failed field.
    let (code, _keep, local) =
        local_render_exit(&[c.ingest().join("mixed.grib2")], &["--zoom", "0-2"]);
    assert_eq!(code, Some(1));
    assert_same(&tree(&c.out()), &local);
    // No crash loop: workers that dead-lettered exited 0 and the pool kept going.
    assert!(!c.logs().contains("exited with"), "{}", c.logs());
}

#[test]
fn duplicates_make_one_set_of_outputs() {
    let mut c = Cluster::new("dup");
    c.chunker(&["--zoom", "0-2"]);
    c.pool(2, &["--idle-exit", "30"]);
    let f = samples().join("global_uv10.grib2");
    c.drop_file(&f, "a.grib2");
    c.wait_manifests(1, Duration::from_secs(60));
    c.drop_file(&f, "b.grib2");
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        c.logs().contains("already submitted; skipped"),
        "{}",
        c.logs()
    );
    assert_eq!(c.manifests().len(), 1);
    let before = tree(&c.out());
    let tile = before
        .keys()
        .find(|k| k.to_string_lossy().ends_with("/0/0/0.png"))
        .unwrap()
        .clone();
    let mtime = std::fs::metadata(c.out().join(&tile))
        .unwrap()
        .modified()
        .unwrap();
    // Publish every job of the run again: each is already done and acked without rendering.
    let plan = c.plan_of(&c.manifests()[0]);
    for j in tilecast::run::job::Job::from_plan(&plan, &c.out().to_string_lossy()) {
        c.publish_raw(&j.to_json());
    }
    c.wait_render_queue_empty(Duration::from_secs(30));
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(tree(&c.out()), before, "outputs changed");
    assert_eq!(
        std::fs::metadata(c.out().join(&tile))
            .unwrap()
            .modified()
            .unwrap(),
        mtime,
        "a tile was rendered again"
    );
    assert_eq!(c.depths()["render.dead"], 0);
}

#[test]
fn broker_restart_mid_run_loses_nothing() {
    let mut c = Cluster::new("restart");
    // 1,365 one-tile jobs: the run must still be going when the broker stops.
    c.chunker(&["--zoom", "0-5", "--job-tiles", "1"]);
    c.pool(2, &["--idle-exit", "60"]);
    c.drop_file(&samples().join("global_t2m.grib2"), "global_t2m.grib2");
    // Wait until jobs are being done, then take the broker's application down and up.
    let start = Instant::now();
    while c.results_recorded() < 20 {
        assert!(start.elapsed() < Duration::from_secs(30), "{}", c.logs());
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        c.manifests().is_empty(),
        "the run finished before the broker went down"
    );
    rabbitmqctl(&["stop_app"]);
    // A file arriving while the broker is down is published once it is back.
    c.drop_file(&samples().join("global_uv10.grib2"), "global_uv10.grib2");
    std::thread::sleep(Duration::from_secs(3));
    rabbitmqctl(&["start_app"]);
    rabbitmqctl(&["await_startup"]);
    c.wait_manifests(2, Duration::from_secs(180));
    let logs = c.logs();
    assert!(
        logs.contains("broker session ended"),
        "the ledger never saw the broker go: {logs}"
    );
    let files = [
        c.ingest().join("global_t2m.grib2"),
        c.ingest().join("global_uv10.grib2"),
    ];
    let (_keep, local) = local_render(&files, &["--zoom", "0-5"]);
    c.wait_render_queue_empty(Duration::from_secs(30));
    assert_same(&tree(&c.out()), &local);
    let d = c.depths();
    assert_eq!((d["render"], d["render.dead"]), (0, 0), "{d:?}");
}

#[test]
fn a_failed_jobs_log_line_names_run_job_and_field_and_no_password() {
    // A broker user whose password must never appear in any log.
    let (user, password) = ("tilecast_logtest", "S3cr3t-Pa55word-7781");
    let ctl = |args: &[&str]| {
        Command::new("rabbitmqctl")
            .args(args)
            .output()
            .expect("rabbitmqctl")
    };
    let _ = ctl(&["delete_user", user]);
    assert!(ctl(&["add_user", user, password]).status.success());
    assert!(ctl(&["set_permissions", "-p", "/", user, ".*", ".*", ".*"])
        .status
        .success());
    let mut c = Cluster::new("logs");
    let url = format!("amqp://{user}:{password}@127.0.0.1:5672/%2f");
    let ingest = c.ingest().to_string_lossy().into_owned();
    for (label, args) in [
        (
            "chunker",
            vec![
                "chunker",
                "--ingest",
                ingest.as_str(),
                "--stable-for",
                "0.3",
                "--poll-interval",
                "0.2",
                "--metrics-addr",
                "127.0.0.1:0",
            ],
        ),
        (
            "pool",
            vec!["pool", "--workers", "1", "--", "--idle-exit", "30"],
        ),
    ] {
        let log =
            std::fs::File::create(c.dir.path().join("logs").join(format!("{label}.log"))).unwrap();
        let child = c
            .command(&args)
            .env("TILECAST_AMQP_URL", &url)
            .env("TILECAST_LOG_FORMAT", "json")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        c.procs.push((label.into(), child));
    }
    let bad = c.dir.path().join("corrupt.grib2");
    corrupt_packed_count(&samples().join("sst_missing.grib2"), &bad);
    c.drop_file(&bad, "corrupt.grib2");
    c.wait_manifests(1, Duration::from_secs(60));
    let logs = c.logs();
    let _ = ctl(&["delete_user", user]);
    assert!(
        !logs.contains(password),
        "a password reached the logs:\n{logs}"
    );
    let line = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["outcome"] == "dead_lettered")
        .unwrap_or_else(|| panic!("no JSON log line for the failed job:\n{logs}"));
    let run = c.manifests()[0]
        .parent()
        .unwrap()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert_eq!(line["run"], run.as_str(), "{line}");
    assert!(
        line["job"].as_str().is_some_and(|j| j.len() == 32),
        "{line}"
    );
    assert_eq!(line["field"], "0", "{line}");
    assert_eq!(line["level"], "ERROR", "{line}");
}
