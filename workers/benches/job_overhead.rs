//! Per-job overhead of one-shot workers against the local RabbitMQ, and jobs per second with
//! 1 and 2 concurrent workers (`cargo bench -p tilecast-workers --bench job_overhead`).
//!
//! Publishes the 341 one-tile jobs of a z0-z4 render of `sample-data/global_t2m.grib2`, then
//! runs `tilecast worker --max-jobs 1` processes back to back (one or two at a time) until
//! every job has a result. Each worker logs, from its own start: connected, job received,
//! acked; the process wall time (spawn to exit) is measured here. Needs the broker at
//! TILECAST_AMQP_URL (default amqp://guest:guest@127.0.0.1:5672/%2f).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lapin::options::BasicPublishOptions;
use lapin::{BasicProperties, Connection, ConnectionProperties};
use tilecast::run::job::Job;
use tilecast::run::local::plan_file;
use tilecast::settings::RenderSettings;

#[path = "../tests/common/mod.rs"]
mod common;

fn url() -> String {
    std::env::var("TILECAST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

#[derive(Default, Clone)]
struct Sample {
    wall_ms: f64,
    connected_ms: f64,
    received_ms: f64,
    acked_ms: f64,
    render_ms: f64,
}

fn parse(log: &str) -> Option<Sample> {
    let num = |key: &str| -> Option<f64> {
        let i = log.find(key)? + key.len();
        log[i..].trim_start().split([' ', ')']).next()?.parse().ok()
    };
    Some(Sample {
        wall_ms: 0.0,
        connected_ms: num("connected")?,
        received_ms: num("job received")?,
        acked_ms: num("acked")?,
        render_ms: num("done in")? * 1e3,
    })
}

fn publish(prefix: &str, jobs: &[Job]) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let conn = Connection::connect(&url(), ConnectionProperties::default())
            .await
            .expect("broker");
        let ch = conn.create_channel().await.unwrap();
        ch.confirm_select(Default::default()).await.unwrap();
        for j in jobs {
            ch.basic_publish(
                format!("{prefix}.jobs").as_str().into(),
                "render".into(),
                BasicPublishOptions {
                    mandatory: true,
                    ..Default::default()
                },
                &j.to_json(),
                BasicProperties::default().with_delivery_mode(2),
            )
            .await
            .unwrap()
            .await
            .unwrap();
        }
    });
}

fn results(out: &Path, run: &str) -> usize {
    std::fs::read_dir(out.join(".tilecast").join(run).join("results"))
        .map(|r| r.count())
        .unwrap_or(0)
}

fn main() {
    // `cargo test --benches` / `cargo bench --no-run` only build this.
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_tilecast"));
    let sample = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../sample-data/global_t2m.grib2")
        .canonicalize()
        .expect("the sample file");
    let ingest = sample.parent().unwrap().to_path_buf();
    let settings = RenderSettings {
        zoom: Some((0, 4)),
        ..Default::default()
    };
    let (_, plan) = plan_file(&sample, &settings, 1).unwrap();
    println!("{} one-tile jobs of {}", plan.job_count(), sample.display());
    println!(
        "{:>7} {:>9} {:>11} {:>11} {:>11} {:>11} {:>11} {:>11}",
        "workers",
        "jobs/s",
        "wall ms",
        "connect ms",
        "receive ms",
        "ack ms",
        "render ms",
        "overhead ms"
    );
    for workers in [1usize, 2] {
        let prefix = format!("bench_{}_{}", std::process::id(), workers);
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().to_path_buf();
        let jobs = Job::from_plan(&plan, &out.to_string_lossy());
        // Declare the topology with a worker that finds nothing to do yet.
        let st = Command::new(&bin)
            .args(["worker", "--idle-exit", "0.1", "--out"])
            .arg(&out)
            .env("TILECAST_QUEUE_PREFIX", &prefix)
            .env("TILECAST_INGEST", &ingest)
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(st.success());
        publish(&prefix, &jobs);
        let samples = Arc::new(Mutex::new(Vec::new()));
        let start = Instant::now();
        std::thread::scope(|s| {
            for _ in 0..workers {
                let (bin, out, prefix, samples, run, n, ingest) = (
                    &bin,
                    &out,
                    &prefix,
                    samples.clone(),
                    &plan.run,
                    jobs.len(),
                    &ingest,
                );
                s.spawn(move || {
                    while results(out, run) < n {
                        let t = Instant::now();
                        let o = Command::new(bin)
                            .args(["worker", "--idle-exit", "1", "--out"])
                            .arg(out)
                            .env("TILECAST_QUEUE_PREFIX", prefix)
                            .env("TILECAST_INGEST", ingest)
                            .output()
                            .unwrap();
                        let wall = t.elapsed().as_secs_f64() * 1e3;
                        if let Some(mut smp) = parse(&String::from_utf8_lossy(&o.stderr)) {
                            smp.wall_ms = wall;
                            samples.lock().unwrap().push(smp);
                        }
                    }
                });
            }
        });
        let total = start.elapsed();
        let v = samples.lock().unwrap().clone();
        let n = v.len() as f64;
        let mean = |f: fn(&Sample) -> f64| v.iter().map(f).sum::<f64>() / n;
        println!(
            "{workers:>7} {:>9.1} {:>11.1} {:>11.1} {:>11.1} {:>11.1} {:>11.1} {:>11.1}",
            jobs.len() as f64 / total.as_secs_f64(),
            mean(|s| s.wall_ms),
            mean(|s| s.connected_ms),
            mean(|s| s.received_ms),
            mean(|s| s.acked_ms),
            mean(|s| s.render_ms),
            mean(|s| s.wall_ms - s.render_ms),
        );
        common::delete_topology(&prefix);
        std::thread::sleep(Duration::from_millis(200));
    }
}
