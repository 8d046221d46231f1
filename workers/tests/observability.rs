//! What operators watch, against the real parts: the chunker's (and its ledger's) and a fork
//! pool's `/metrics` pass `promtool check metrics`, a real Prometheus scrapes both and sees
//! the counts of real runs, every metric family they export is on the chart's Grafana
//! dashboard and every panel's query runs on that Prometheus; a one-shot worker serves its
//! metrics while it lives; the chart's alert rules pass `promtool check rules`.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

mod common;

use common::*;

/// A Prometheus instant query: the HTTP status and the body.
fn prom_query(port: u16, query: &str) -> (u16, String) {
    let q: String = query
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"_-.".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    http_get(port, &format!("/api/v1/query?query={q}"))
}

/// A Prometheus query's first value, if any.
fn prom_value(port: u16, query: &str) -> Option<f64> {
    let (status, body) = prom_query(port, query);
    if status != 200 {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    v["data"]["result"][0]["value"][1].as_str()?.parse().ok()
}

#[test]
fn metrics_pass_promtool_and_a_real_prometheus_sees_the_counts() {
    let mut c = Cluster::new("metrics");
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    c.chunker(&["--zoom", "0-2", "--metrics-addr", &addr]);
    let pool_port = free_port();
    let pool_addr = format!("127.0.0.1:{pool_port}");
    // A real Prometheus scraping the chunker every second.
    let prom_port = free_port();
    let cfg = c.dir.path().join("prometheus.yml");
    std::fs::write(
        &cfg,
        format!("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: tilecast\n    static_configs:\n      - targets: ['{addr}', '127.0.0.1:{pool_port}']\n"),
    )
    .unwrap();
    let data = c.dir.path().join("prometheus-data");
    let cfg_arg = format!("--config.file={}", cfg.display());
    let data_arg = format!("--storage.tsdb.path={}", data.display());
    let listen = format!("--web.listen-address=127.0.0.1:{prom_port}");
    let log = std::fs::File::create(c.dir.path().join("logs/prometheus.log")).unwrap();
    let prom = Command::new("prometheus")
        .args([cfg_arg.as_str(), data_arg.as_str(), listen.as_str()])
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("prometheus (Debian package prometheus) must be installed");
    c.procs.push(("prometheus".into(), prom));

    let (status, _) = wait_http(port, "/healthz", Duration::from_secs(20));
    assert_eq!(status, 200);
    let (status, _) = wait_http(port, "/readyz", Duration::from_secs(20));
    assert_eq!(status, 200, "not ready: {}", c.logs());
    c.pool(2, &["--idle-exit", "30", "--metrics-addr", &pool_addr]);
    c.drop_file(&samples().join("global_uv10.grib2"), "global_uv10.grib2");
    c.drop_file(&samples().join("lambert_t850.grib2"), "lambert_t850.grib2");
    c.wait_manifests(2, Duration::from_secs(60));

    // Expected counts from the runs' plans and manifests.
    let (mut jobs, mut tiles) = (0u64, 0u64);
    for m in c.manifests() {
        let plan = c.plan_of(&m);
        jobs += plan.job_count() as u64;
        let man: serde_json::Value = serde_json::from_slice(&std::fs::read(&m).unwrap()).unwrap();
        tiles += man["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["tile_count"].as_u64().unwrap())
            .sum::<u64>();
    }
    let (status, text) = http_get(port, "/metrics");
    assert_eq!(status, 200);
    promtool_check_metrics(&text);
    assert!(
        text.contains(&format!(
            "tilecast_job_results_total{{outcome=\"done\"}} {jobs}"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("tilecast_tiles_written_total {tiles}")),
        "{text}"
    );
    assert!(text.contains("tilecast_files_claimed_total 2"), "{text}");
    // End-to-end latency of every rendered job, the duration of both runs, ledger lag.
    for series in [
        format!("tilecast_job_latency_seconds_count {jobs}"),
        "tilecast_run_duration_seconds_count 2".into(),
        "tilecast_queue_messages{queue=\"results\"} ".into(),
        "tilecast_dead_letters_total{reason=\"permanent\"} 0".into(),
    ] {
        assert!(text.contains(&series), "{series}\n{text}");
    }
    assert!(
        text.contains("tilecast_stage_duration_seconds_bucket{stage=\"render\""),
        "{text}"
    );

    // Prometheus scraped the same numbers: the ledger's and the pool's counts of the jobs
    // done, and the ledger's of the tiles.
    let start = Instant::now();
    loop {
        let done = |instance: &str| {
            let q = format!(
                "sum(tilecast_job_results_total{{outcome=\"done\",instance=\"{instance}\"}})"
            );
            prom_value(prom_port, &q)
        };
        let (ledger, pool) = (done(&addr), done(&pool_addr));
        let q = format!("sum(tilecast_tiles_written_total{{instance=\"{addr}\"}})");
        let written = prom_value(prom_port, &q);
        let want = Some(jobs as f64);
        if ledger == want && pool == want && written == Some(tiles as f64) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "Prometheus saw done={ledger:?} (ledger), {pool:?} (pool), tiles={written:?}; expected {jobs} and {tiles}\n{}",
            c.logs()
        );
        std::thread::sleep(Duration::from_millis(500));
    }

    // Every metric family the processes export is on the dashboard, and every panel's query
    // runs on this Prometheus; the core panels show data.
    let (_, pool_text) = http_get(pool_port, "/metrics");
    let families = metric_families(&format!("{text}\n{pool_text}"));
    let exprs = dashboard_queries();
    let missing: Vec<_> = families
        .iter()
        .filter(|f| !exprs.iter().any(|e| e.contains(f.as_str())))
        .collect();
    assert!(
        missing.is_empty(),
        "metrics on no dashboard panel: {missing:?}"
    );
    for e in &exprs {
        let (status, body) = prom_query(prom_port, e);
        assert_eq!(status, 200, "{e}: {body}");
        assert!(body.contains("\"status\":\"success\""), "{e}: {body}");
    }
    let core = [
        "sum by (outcome) (rate(tilecast_job_results_total[5m]))",
        "max by (queue) (tilecast_queue_consumers)",
        "sum(increase(tilecast_jobs_published_total[1h]))",
    ];
    for e in core {
        assert!(exprs.iter().any(|x| x == e), "{e} is not on the dashboard");
    }
    // Rates need two scrapes of a series.
    let start = Instant::now();
    while let Some(e) = core.iter().find(|e| prom_value(prom_port, e).is_none()) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{e} shows no data"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The metric families (`# TYPE` lines) of a Prometheus exposition.
fn metric_families(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# TYPE ")?.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// Every query of the Grafana dashboard the chart ships.
fn dashboard_queries() -> Vec<String> {
    let dash = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../charts/tilecast/files/grafana-dashboard.json");
    let d: serde_json::Value = serde_json::from_slice(&std::fs::read(dash).unwrap()).unwrap();
    d["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["targets"].as_array().unwrap())
        .map(|t| t["expr"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_worker_serves_metrics_while_it_lives() {
    let mut c = Cluster::new("wmetrics");
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    c.start(
        "worker",
        &["worker", "--idle-exit", "20", "--metrics-addr", &addr],
    );
    let (status, text) = wait_http(port, "/metrics", Duration::from_secs(20));
    assert_eq!(status, 200);
    promtool_check_metrics(&text);
    assert!(text.contains("tilecast_build_info{version="), "{text}");
    assert_eq!(wait_http(port, "/readyz", Duration::from_secs(10)).0, 200);
}

#[test]
fn alert_rules_pass_promtool() {
    let rules =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../charts/tilecast/files/alerts.yaml");
    let o = Command::new("promtool")
        .arg("check")
        .arg("rules")
        .arg(&rules)
        .output()
        .expect("promtool");
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("SUCCESS: 5 rules found"));
}
