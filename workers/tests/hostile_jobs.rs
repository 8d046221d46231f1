//! Hostile messages and failing workers against the real broker: jobs naming files outside
//! the worker's `--ingest` roots or reserved names, dead letters built to make the ledger read
//! a device or a FIFO, SIGTERM in the middle of a render, a job past its deadline, and a
//! frozen (SIGSTOPped) worker. Each must end as a dead letter with a reason or a job back on
//! the queue, never as a read outside the roots, a blocked ledger or a lost job.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use lapin::types::{AMQPValue, FieldTable, LongString};
use tilecast::render::palette::PaletteSpec;
use tilecast::run::job::Job;
use tilecast::settings::RenderSettings;

/// The jobs of a sample copied into the cluster's ingest directory.
fn jobs_of(c: &Cluster, sample: &str, zoom: (u8, u8)) -> Vec<Job> {
    // In a hidden folder, which the chunker ignores but a worker may read.
    let dir = c.ingest().join(".jobs");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(sample);
    std::fs::copy(samples().join(sample), &path).unwrap();
    let path = path.canonicalize().unwrap();
    let settings = RenderSettings {
        zoom: Some(zoom),
        ..Default::default()
    };
    let (_, plan) = tilecast::run::local::plan_file(&path, &settings, 100_000).unwrap();
    Job::from_plan(&plan, &c.out().to_string_lossy())
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Files in the output's temporary directory, and result records written for `run`.
fn leftovers(c: &Cluster, run: &str) -> (usize, usize) {
    let results = c.out().join(".tilecast").join(run).join("results");
    (
        c.temporaries(),
        std::fs::read_dir(results).map_or(0, |rd| rd.count()),
    )
}

#[test]
fn jobs_outside_the_roots_or_with_reserved_names_are_dead_lettered_unread() {
    let mut c = Cluster::new("roots");
    chunker_ready(&mut c);
    let good = jobs_of(&c, "global_t2m.grib2", (0, 1)).remove(0);
    let link = c.ingest().join("link.grib2");
    std::os::unix::fs::symlink("/etc/passwd", &link).unwrap();
    let ingest = c.ingest().to_string_lossy().into_owned();
    let mut bad: Vec<(&str, Job)> = Vec::new();
    let mut with = |what: &'static str, f: &dyn Fn(&mut Job)| {
        let mut j = good.clone();
        f(&mut j);
        j.id = format!("{}-{}", j.id, bad.len());
        bad.push((what, j));
    };
    with("existing file outside", &|j| {
        j.source.uri = "/etc/shadow".into()
    });
    with("missing file outside", &|j| {
        j.source.uri = "/etc/no-such-file".into()
    });
    with("dot-dot", &|j| {
        j.source.uri = format!("{ingest}/../../../etc/passwd")
    });
    with("link out", &|j| {
        j.source.uri = link.to_string_lossy().into_owned()
    });
    with("reserved run", &|j| j.run = ".tilecast".into());
    with("palette path", &|j| {
        j.settings.palette = Some(PaletteSpec::Builtin("/dev/zero".into()))
    });
    with("other output", &|j| {
        j.out = "/tmp/tilecast-elsewhere".into()
    });
    // A 188-byte message declaring 20000 x 20000 points, inside the roots.
    let huge = c.ingest().join(".jobs/constant.grib2");
    std::fs::write(&huge, crafted::constant_field_declaring(20000)).unwrap();
    let huge = huge.to_string_lossy().into_owned();
    with("huge grid", &|j| {
        j.source.uri = huge.clone();
        j.fields[0].location = tilecast::decode::FieldSource::Grib2 {
            offset: 0,
            length: 188,
            sub_field: 0,
        };
    });
    for (_, j) in &bad {
        c.publish_raw(&serde_json::to_vec(j).unwrap());
    }
    c.publish_raw(&good.to_json());
    let n = (bad.len() + 1).to_string();
    let o = c
        .command(&["worker", "--max-jobs", &n, "--idle-exit", "5"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let dead = c.dead_letters();
    assert_eq!(dead.len(), bad.len(), "{dead:?}\n{}", c.logs());
    let reason_of = |what: &str| {
        let id = &bad.iter().find(|(w, _)| *w == what).unwrap().1.id;
        let (_, r) = dead
            .iter()
            .find(|(body, _)| String::from_utf8_lossy(body).contains(id.as_str()))
            .unwrap_or_else(|| panic!("{what} not dead-lettered: {dead:?}"));
        r.clone()
    };
    for what in [
        "existing file outside",
        "missing file outside",
        "dot-dot",
        "link out",
    ] {
        assert!(
            reason_of(what).contains("source refused"),
            "{what}: {}",
            reason_of(what)
        );
    }
    // Nothing tells whether a file outside the roots exists, or how large it is.
    assert_eq!(
        reason_of("existing file outside").replace("/etc/shadow", "X"),
        reason_of("missing file outside").replace("/etc/no-such-file", "X")
    );
    assert!(reason_of("reserved run").contains("not starting with '.'"));
    assert!(reason_of("palette path").contains("not a built-in palette"));
    assert!(reason_of("other output").contains("this worker to"));
    let r = reason_of("huge grid");
    assert!(
        r.contains("grid points 400000000") && r.contains("--max-field-points"),
        "{r}"
    );
    let pngs = walk(&c.out().join(".tilecast"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .count();
    assert_eq!(pngs, 0, "a job wrote into the bookkeeping");
    assert!(!Path::new("/tmp/tilecast-elsewhere").exists());
    // The good job, after all of them, was rendered.
    let (_, results) = leftovers(&c, &good.run);
    assert_eq!(results, 1, "{}", c.logs());
}

#[test]
fn a_file_declaring_a_huge_grid_is_recorded_as_failed_and_the_next_file_renders() {
    let mut c = Cluster::new("hugefile");
    c.chunker(&["--zoom", "0-1"]);
    c.pool(1, &["--idle-exit", "30"]);
    let dir = c.dir.path().to_path_buf();
    crafted::huge_netcdf(&dir.join("huge.nc"), &dir.join("huge_2d.nc"));
    for name in ["huge.nc", "huge_2d.nc"] {
        c.drop_file(&dir.join(name), name);
    }
    std::fs::write(
        dir.join("constant.grib2"),
        crafted::constant_field_declaring(20000),
    )
    .unwrap();
    c.drop_file(&dir.join("constant.grib2"), "constant.grib2");
    c.drop_file(&samples().join("global_t2m.grib2"), "global_t2m.grib2");
    c.wait_manifests(4, Duration::from_secs(60));
    let mut failed = 0;
    for m in c.manifests() {
        let m: serde_json::Value = serde_json::from_slice(&std::fs::read(&m).unwrap()).unwrap();
        let key = m["source"]["key"].as_str().unwrap().to_string();
        if key == "global_t2m.grib2" {
            assert_eq!(m["layers"].as_array().unwrap().len(), 1, "{m}");
            continue;
        }
        let error = m["failed"][0]["error"].as_str().unwrap_or_default();
        assert!(
            error.contains(&key) && error.contains("grid points"),
            "{key}: {m}"
        );
        failed += 1;
    }
    assert_eq!(failed, 3);
    assert!(!c.logs().contains("memory allocation"), "{}", c.logs());
}

/// Starts the chunker (with its ledger) and waits until it is ready: the topology exists.
fn chunker_ready(c: &mut Cluster) -> u16 {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    c.chunker(&["--metrics-addr", &addr]);
    let (code, _) = wait_http(port, "/readyz", Duration::from_secs(30));
    assert_eq!(code, 200, "{}", c.logs());
    port
}

type Headers = Vec<(String, AMQPValue)>;

fn header(k: &str, v: &str) -> (String, AMQPValue) {
    (k.into(), AMQPValue::LongString(LongString::from(v)))
}

#[test]
fn hostile_dead_letters_and_results_never_stall_or_bloat_the_ledger() {
    let mut c = Cluster::new("ledger");
    let port = chunker_ready(&mut c);
    let fifo = c.dir.path().join("fifo.json");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let job = jobs_of(&c, "global_t2m.grib2", (0, 0)).remove(0);
    let mut bodies: Vec<(Vec<u8>, Headers)> = Vec::new();
    for palette in ["/dev/zero", fifo.to_str().unwrap()] {
        let mut v: serde_json::Value = serde_json::from_slice(&job.to_json()).unwrap();
        v["settings"]["palette"] = palette.into();
        bodies.push((serde_json::to_vec(&v).unwrap(), vec![]));
    }
    let traversal = vec![
        header("x-tilecast-run", "../../etc"),
        header("x-tilecast-job", "passwd"),
        header("x-tilecast-reason", &"x".repeat(100_000)),
    ];
    bodies.push((b"\xff not json".to_vec(), traversal));
    bodies.push((vec![b'['; 200_000], vec![]));
    for (body, headers) in &bodies {
        let mut t = FieldTable::default();
        for (k, v) in headers {
            t.insert(k.as_str().into(), v.clone());
        }
        c.publish_to(&format!("{}.dead", c.prefix), "", body, t);
    }
    // Results naming paths outside the bookkeeping.
    let results = format!("{}.results", c.prefix);
    let mut r = serde_json::json!({"version": 1, "job": "j", "run": "../../x", "layer": "l",
        "tiles": 0, "bytes": 0, "entry": null});
    c.publish_to(
        "",
        &results,
        r.to_string().as_bytes(),
        FieldTable::default(),
    );
    r["run"] = ".tilecast".into();
    c.publish_to(
        "",
        &results,
        r.to_string().as_bytes(),
        FieldTable::default(),
    );
    let rejected = || ledger_rejected(port);
    wait_for(
        &c,
        "hostile messages consumed",
        Duration::from_secs(20),
        || rejected() >= (bodies.len() + 2) as f64,
    );
    let start = Instant::now();
    let (code, _) = http_get(port, "/healthz");
    assert_eq!(code, 200);
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "/healthz took {:?}",
        start.elapsed()
    );
    let d = c.depths();
    assert_eq!((d["dead.events"], d["results"]), (0, 0), "{d:?}");
    let status = std::fs::read_to_string(format!("/proc/{}/status", c.pid("chunker"))).unwrap();
    let rss_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap();
    assert!(rss_kb < 300 * 1024, "chunker resident {rss_kb} kB");
    assert!(!c.out().join("etc").exists() && !c.dir.path().join("etc").exists());
}

/// A one-job run of the Lambert sample at zooms 0-8: several seconds of rendering.
fn long_job(name: &str) -> Cluster {
    let mut c = Cluster::new(name);
    c.chunker(&["--zoom", "0-8", "--job-tiles", "100000"]);
    c.drop_file(&samples().join("lambert_t850.grib2"), "lambert_t850.grib2");
    wait_for(&c, "the job published", Duration::from_secs(30), || {
        c.depths()["render"] > 0
    });
    c
}

/// Starts a worker (extra args) and waits until it holds the job.
fn worker_holding_the_job(c: &Cluster, label: &str, extra: &[&str]) -> std::process::Child {
    let log = std::fs::File::create(c.dir.path().join(format!("logs/{label}.log"))).unwrap();
    let mut args = vec!["worker", "--idle-exit", "10"];
    args.extend_from_slice(extra);
    let w = c.command(&args).stderr(log).spawn().unwrap();
    wait_for(
        c,
        "the worker took the job",
        Duration::from_secs(30),
        || c.depths()["render"] == 0,
    );
    std::thread::sleep(Duration::from_millis(500));
    w
}

/// The job returns to the queue, and a fresh worker completes the run.
fn back_on_the_queue_then_done(c: &Cluster) {
    wait_for(
        c,
        "the job back on the queue",
        Duration::from_secs(10),
        || c.depths()["render"] == 1,
    );
    let o = c.command(&["worker", "--idle-exit", "5"]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    c.wait_manifests(1, Duration::from_secs(60));
}

fn run_of(c: &Cluster) -> String {
    let runs: Vec<String> = std::fs::read_dir(c.out().join(".tilecast"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().join("plan.json").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    runs[0].clone()
}

#[test]
fn sigterm_stops_the_render_within_a_second_and_writes_nothing() {
    let c = long_job("term");
    let run = run_of(&c);
    let mut w = worker_holding_the_job(&c, "worker1", &[]);
    let t = Instant::now();
    signal(w.id(), libc::SIGTERM);
    let status = w.wait().unwrap();
    let stopped = t.elapsed();
    assert_eq!(status.code(), Some(143), "{}", c.logs());
    assert!(
        stopped < Duration::from_millis(1500),
        "stopped after {stopped:?}"
    );
    assert!(
        c.manifests().is_empty(),
        "the job finished before SIGTERM; make it longer"
    );
    assert_eq!(
        leftovers(&c, &run),
        (0, 0),
        "temporary files or a result were written"
    );
    back_on_the_queue_then_done(&c);
}

#[test]
fn a_job_past_its_deadline_is_stopped_and_requeued() {
    let c = long_job("deadline");
    let run = run_of(&c);
    let t = Instant::now();
    let mut w = worker_holding_the_job(&c, "worker1", &["--job-timeout", "1"]);
    let status = w.wait().unwrap();
    assert_eq!(status.code(), Some(124), "{}", c.logs());
    assert!(
        t.elapsed() < Duration::from_secs(6),
        "took {:?}",
        t.elapsed()
    );
    assert!(c.logs().contains("--job-timeout"), "{}", c.logs());
    assert_eq!(leftovers(&c, &run), (0, 0));
    back_on_the_queue_then_done(&c);
}

#[test]
fn a_frozen_worker_loses_its_job_after_the_heartbeat_timeout() {
    let mut c = long_job("frozen");
    // Heartbeats every 2 s: the broker gives up on a silent peer after about two of them.
    c.env.push((
        "TILECAST_AMQP_URL".into(),
        format!("{}?heartbeat=2", amqp_url()),
    ));
    let mut frozen = worker_holding_the_job(&c, "frozen", &[]);
    signal(frozen.id(), libc::SIGSTOP);
    let t = Instant::now();
    wait_for(
        &c,
        "the frozen worker's job back on the queue",
        Duration::from_secs(30),
        || c.depths()["render"] == 1,
    );
    eprintln!(
        "job returned {:.1} s after SIGSTOP",
        t.elapsed().as_secs_f64()
    );
    let o = c.command(&["worker", "--idle-exit", "5"]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    c.wait_manifests(1, Duration::from_secs(60));
    signal(frozen.id(), libc::SIGKILL);
    let _ = frozen.wait();
    let d = c.depths();
    assert_eq!((d["render"], d["render.dead"]), (0, 0), "{d:?}");
}

/// Result messages for a planned job whose layer entry names files outside the job's layer
/// (tiles on another origin, an image up the tree, another layer's name) or that name
/// another layer of the plan are refused before the real result arrives: the run completes
/// with its workers' entries, and its manifest and catalog point at its own files only.
#[test]
fn results_naming_files_outside_their_layer_are_refused() {
    let mut c = Cluster::new("forged");
    let port = chunker_ready(&mut c);
    let file = samples().join("global_t2m.grib2");
    // The same file rendered locally has the run id and the entries the workers will write.
    let (_keep, local) = local_render(std::slice::from_ref(&file), &[]);
    let (manifest_path, manifest) = local
        .iter()
        .find(|(p, _)| p.ends_with("manifest.json"))
        .unwrap();
    let run = manifest_path
        .iter()
        .next()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let entry: serde_json::Value =
        serde_json::from_slice::<serde_json::Value>(manifest).unwrap()["layers"][0].clone();
    let layer = entry["name"].as_str().unwrap().to_string();
    // No pool yet: the jobs wait on the queue while the forged results arrive.
    c.drop_file(&file, "global_t2m.grib2");
    let plan_path = c.out().join(".tilecast").join(&run).join("plan.json");
    wait_for(&c, "the plan", Duration::from_secs(30), || {
        plan_path.exists()
    });
    let plan: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&plan_path).unwrap()).unwrap();
    let job = plan["layers"][0]["jobs"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(plan["layers"][0]["name"], layer.as_str());
    let mut forged = Vec::new();
    let mut e = entry.clone();
    e["tiles"] = "https://evil.example/{z}/{x}/{y}.png".into();
    forged.push((layer.clone(), e));
    let mut e = entry.clone();
    e["image"] = serde_json::json!({"url": format!("{layer}/../../x.png"), "image_type": "SCALAR",
        "image_unscale": [0.0, 1.0], "bounds": [0.0, 0.0, 1.0, 1.0], "width": 1, "height": 1});
    forged.push((layer.clone(), e));
    let mut e = entry.clone();
    e["name"] = "another_layer".into();
    forged.push((layer.clone(), e));
    // Well-formed for another layer, but not this job's.
    let mut e = entry.clone();
    for k in ["tiles", "data_tiles", "full_image", "tilejson"] {
        e[k] = e[k]
            .as_str()
            .unwrap()
            .replacen(&layer, "another_layer", 1)
            .into();
    }
    e["name"] = "another_layer".into();
    forged.push(("another_layer".into(), e));
    let before = ledger_rejected(port);
    for (name, entry) in &forged {
        let r = serde_json::json!({"version": 1, "job": job, "run": run, "layer": name,
            "tiles": 1, "bytes": 1, "entry": entry});
        c.publish_to(
            "",
            &format!("{}.results", c.prefix),
            r.to_string().as_bytes(),
            FieldTable::default(),
        );
    }
    wait_for(
        &c,
        "forged results refused",
        Duration::from_secs(20),
        || ledger_rejected(port) >= before + forged.len() as f64,
    );
    c.pool(1, &[]);
    c.wait_manifests(1, Duration::from_secs(120));
    let written = std::fs::read_to_string(&c.manifests()[0]).unwrap();
    let catalog = std::fs::read_to_string(c.out().join("catalog.json")).unwrap();
    for text in [&written, &catalog] {
        assert!(
            !text.contains("evil.example")
                && !text.contains("another_layer")
                && !text.contains(".."),
            "{text}"
        );
    }
    let m: serde_json::Value = serde_json::from_str(&written).unwrap();
    assert_eq!(
        m["layers"][0]["tiles"],
        format!("{layer}/{{z}}/{{x}}/{{y}}.png")
    );
}

/// The chunker's count of messages its ledger could not use.
fn ledger_rejected(port: u16) -> f64 {
    let (_, text) = http_get(port, "/metrics");
    text.lines()
        .find(|l| l.starts_with("tilecast_ledger_rejected_messages_total "))
        .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .unwrap_or(0.0)
}
