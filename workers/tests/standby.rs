//! `tilecast worker --standby` against the real broker (TILECAST_TEST_AMQP_URL, default
//! amqp://guest:guest@127.0.0.1:5672/%2f): how `tilecast pool` keeps workers connected ahead
//! of need. A standby worker takes no job until a line arrives on its standard input, then
//! takes one, writes `rendered` on its standard output once it has rendered it, reports it
//! and exits 0; one whose standard input closes first exits 0 without taking a job.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::time::Duration;

use common::*;
use tilecast::run::job::Job;
use tilecast::settings::RenderSettings;

/// The one-tile jobs of a z0-z1 render of the global sample, read from the ingest directory.
fn jobs(c: &Cluster) -> Vec<Job> {
    let path = c.ingest().join("global_t2m.grib2");
    std::fs::copy(samples().join("global_t2m.grib2"), &path).unwrap();
    let settings = RenderSettings {
        zoom: Some((0, 1)),
        ..Default::default()
    };
    let (_, plan) = tilecast::run::local::plan_file(&path, &settings, 1).unwrap();
    Job::from_plan(&plan, &c.out().to_string_lossy())
}

#[test]
fn a_standby_worker_takes_a_job_only_once_released_and_says_when_it_has_rendered() {
    let c = Cluster::new("standby");
    // A plain worker declares the topology and finds nothing to do.
    let st = c
        .command(&["worker", "--idle-exit", "0.1"])
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let jobs = jobs(&c);
    let n = jobs.len() as u32;
    assert!(n > 1);
    for j in &jobs {
        c.publish_raw(&j.to_json());
    }
    assert_eq!(c.depths()["render"], n);

    let mut w = c
        .command(&["worker", "--standby", "--idle-exit", "10"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // Connected and waiting, it takes nothing.
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        c.depths()["render"],
        n,
        "a standby worker took a job unreleased"
    );
    assert!(
        w.try_wait().unwrap().is_none(),
        "a standby worker exited unreleased"
    );
    w.stdin.as_mut().unwrap().write_all(b"go\n").unwrap();
    let mut line = String::new();
    BufReader::new(w.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "rendered\n");
    assert!(w.wait().unwrap().success());
    // One job, reported and recorded; the others wait.
    assert_eq!(c.depths()["render"], n - 1);
    assert_eq!(c.depths()["results"], 1);
    let results = c.out().join(".tilecast").join(&jobs[0].run).join("results");
    assert_eq!(std::fs::read_dir(results).unwrap().count(), 1);

    // Standard input closing before a release: exit 0, no job taken.
    let mut w = c
        .command(&["worker", "--standby"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    drop(w.stdin.take());
    assert!(w.wait().unwrap().success());
    assert_eq!(c.depths()["render"], n - 1);
}
