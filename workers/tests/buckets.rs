//! The pipeline on S3-compatible object storage: moto's S3 server on localhost (installed by
//! `scripts/setup --test`) for the ingest and output buckets, the real RabbitMQ for the
//! queues. Outputs are compared byte for byte with `tilecast render` on local files; moto's
//! request recorder shows what workers read; a proxy in front of moto plays an outage.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use common::s3::{bucket_cluster, Bucket, Moto, Proxy};
use common::*;

/// A cluster whose ingest and output are buckets `ingest` and `tiles` on `endpoint`.
fn start_chunker(c: &mut Cluster, label: &str, metrics_port: u16, extra: &[&str]) {
    let addr = format!("127.0.0.1:{metrics_port}");
    let mut args = vec![
        "chunker",
        "--ingest",
        "s3://ingest/drop",
        "--poll-interval",
        "0.3",
        "--recheck",
        "1",
        "--metrics-addr",
        &addr,
    ];
    args.extend_from_slice(extra);
    c.start(label, &args);
}

/// A counter or gauge of a /metrics endpoint (0 when absent).
fn metric(port: u16, name: &str) -> f64 {
    let (_, body) = wait_http(port, "/metrics", Duration::from_secs(30));
    body.lines()
        .filter(|l| l.starts_with(name) && !l.starts_with('#'))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// The planned byte ranges of every GRIB2 field of a run's plan, as [start, end).
fn planned_ranges(plan: &serde_json::Value) -> BTreeSet<(u64, u64)> {
    plan["layers"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|l| l["sources"].as_array().unwrap().iter())
        .filter(|s| s["location"]["format"] == "grib2")
        .map(|s| {
            let o = s["location"]["offset"].as_u64().unwrap();
            (o, o + s["location"]["length"].as_u64().unwrap())
        })
        .collect()
}

/// Uploads every sample file to `drop/` of the ingest bucket; returns the files.
fn upload_samples(ingest: &Bucket) -> Vec<PathBuf> {
    let files = sample_files();
    for f in &files {
        let name = f.file_name().unwrap().to_str().unwrap();
        ingest.put_file(&format!("drop/{name}"), f);
    }
    files
}

fn plan_for_key(out: &Bucket, key_name: &str) -> serde_json::Value {
    out.planned_runs("runs")
        .iter()
        .map(|r| {
            let b = out.get(&format!("runs/.tilecast/{r}/plan.json")).unwrap();
            serde_json::from_slice::<serde_json::Value>(&b).unwrap()
        })
        .find(|p| p["source"]["key"] == key_name)
        .unwrap_or_else(|| panic!("no plan for {key_name}"))
}

#[test]
fn files_uploaded_to_a_bucket_give_the_local_outputs_and_workers_read_only_their_ranges() {
    let moto = Moto::start();
    moto.create_bucket("ingest");
    moto.create_bucket("tiles");
    let (ingest, out) = (moto.client("ingest"), moto.client("tiles"));
    let mut c = bucket_cluster("s3e2e", &moto.endpoint());
    moto.start_recording();
    start_chunker(&mut c, "chunker", free_port(), &["--zoom", "0-3"]);
    c.pool(2, &["--idle-exit", "30"]);
    let files = upload_samples(&ingest);
    wait_for(&c, "a manifest per file", Duration::from_secs(240), || {
        out.manifests("runs").len() == files.len()
    });
    let (_keep, local) = local_render(&files, &["--zoom", "0-3"]);
    assert_same(&out.tree("runs"), &local);

    // Published objects say what they are and that they never change.
    let manifest = &out.manifests("runs")[0];
    let m: serde_json::Value = serde_json::from_slice(&out.get(manifest).unwrap()).unwrap();
    let run_dir = manifest.trim_end_matches("/manifest.json");
    let layer = m["layers"][0]["name"].as_str().unwrap();
    let immutable = Some("public, max-age=31536000, immutable".to_string());
    assert_eq!(
        out.headers(&format!("{run_dir}/{layer}/0/0/0.png")),
        (Some("image/png".into()), immutable.clone())
    );
    assert_eq!(
        out.headers(manifest),
        (Some("application/json".into()), immutable)
    );

    // Workers fetched only their fields' bytes: the chunker's one whole read per GRIB2
    // object, then ranged reads of exactly the planned messages.
    let requests = moto.recording();
    let mut ranged_total = 0;
    for f in files.iter().filter(|f| f.extension().unwrap() == "grib2") {
        let name = f.file_name().unwrap().to_str().unwrap();
        let planned = planned_ranges(&plan_for_key(&out, name));
        let path = format!("/ingest/drop/{name}");
        let gets: Vec<_> = requests
            .iter()
            .filter(|(m, p, _)| m == "GET" && p.split('?').next() == Some(path.as_str()))
            .collect();
        let whole = gets.iter().filter(|g| g.2.is_none()).count();
        assert_eq!(whole, 1, "{name}: whole-object reads {gets:?}");
        for (_, _, range) in gets.iter().filter(|g| g.2.is_some()) {
            let r = range.as_deref().unwrap().strip_prefix("bytes=").unwrap();
            let (a, b) = r.split_once('-').unwrap();
            let (a, b): (u64, u64) = (a.parse().unwrap(), b.parse().unwrap());
            assert!(
                planned.contains(&(a, b + 1)),
                "{name}: read {a}-{b}, not a planned field range {planned:?}"
            );
            ranged_total += 1;
        }
    }
    assert!(ranged_total > 0, "no ranged reads recorded: {requests:?}");
}

#[test]
fn render_reads_and_writes_buckets() {
    let moto = Moto::start();
    moto.create_bucket("ingest");
    moto.create_bucket("tiles");
    let ingest = moto.client("ingest");
    let file = samples().join("global_t2m.grib2");
    ingest.put_file("gfs/global_t2m.grib2", &file);
    let o = std::process::Command::new(bin())
        .args([
            "render",
            "s3://ingest/gfs",
            "--out",
            "s3://tiles/local",
            "--zoom",
            "0-2",
            "--quiet",
        ])
        .envs(moto.env())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (_keep, local) = local_render(&[file], &["--zoom", "0-2"]);
    assert_same(&moto.client("tiles").tree("local"), &local);
}

#[test]
fn duplicates_reuploads_and_aborted_multipart_uploads_make_one_run_per_content() {
    let moto = Moto::start();
    moto.create_bucket("ingest");
    moto.create_bucket("tiles");
    let (ingest, out) = (moto.client("ingest"), moto.client("tiles"));
    let mut c = bucket_cluster("s3dup", &moto.endpoint());
    let port = free_port();
    start_chunker(&mut c, "chunker", port, &["--zoom", "0-1"]);
    c.pool(2, &["--idle-exit", "30"]);
    let a = std::fs::read(samples().join("global_t2m.grib2")).unwrap();
    let b = std::fs::read(samples().join("lambert_t850.grib2")).unwrap();
    let changed = std::fs::read(samples().join("sst_missing.grib2")).unwrap();
    let runs = || out.planned_runs("runs").len();

    ingest.put("drop/a.grib2", a.clone());
    wait_for(&c, "run of a.grib2", Duration::from_secs(120), || {
        out.manifests("runs").len() == 1
    });
    // The same content under a second key, and the same key uploaded again.
    ingest.put("drop/copy-of-a.grib2", a.clone());
    ingest.put("drop/a.grib2", a.clone());
    // An aborted multipart upload never becomes an object.
    ingest.put_multipart("drop/aborted.grib2", &b, false);
    wait_for(&c, "the duplicate noticed", Duration::from_secs(60), || {
        metric(port, "tilecast_files_duplicate_total") >= 1.0
    });
    assert_eq!(runs(), 1, "{}", c.logs());
    // A completed multipart upload counts, once.
    ingest.put_multipart("drop/b.grib2", &b, true);
    // A key overwritten with new content is a new run.
    ingest.put("drop/a.grib2", changed);
    wait_for(&c, "three runs complete", Duration::from_secs(120), || {
        out.manifests("runs").len() == 3
    });
    assert_eq!(runs(), 3);
    assert_eq!(metric(port, "tilecast_files_claimed_total"), 3.0);
    let keys: BTreeSet<String> = out
        .manifests("runs")
        .iter()
        .map(|m| {
            let v: serde_json::Value = serde_json::from_slice(&out.get(m).unwrap()).unwrap();
            v["source"]["key"].as_str().unwrap().to_string()
        })
        .collect();
    // The first content and the new content of a.grib2, and b.grib2; the copy of a made no
    // run of its own.
    assert_eq!(keys, BTreeSet::from(["a.grib2".into(), "b.grib2".into()]));
    assert!(!ingest.list("drop").contains_key("drop/aborted.grib2"));
}

#[test]
fn two_chunkers_never_both_submit_a_file() {
    let moto = Moto::start();
    moto.create_bucket("ingest");
    moto.create_bucket("tiles");
    let (ingest, out) = (moto.client("ingest"), moto.client("tiles"));
    let mut c = bucket_cluster("s3two", &moto.endpoint());
    let (p1, p2) = (free_port(), free_port());
    start_chunker(
        &mut c,
        "chunker-1",
        p1,
        &["--zoom", "0-1", "--instance", "one"],
    );
    start_chunker(
        &mut c,
        "chunker-2",
        p2,
        &["--zoom", "0-1", "--instance", "two", "--no-ledger"],
    );
    c.pool(2, &["--idle-exit", "30"]);
    let files = upload_samples(&ingest);
    wait_for(&c, "a manifest per file", Duration::from_secs(240), || {
        out.manifests("runs").len() == files.len()
    });
    let claimed =
        metric(p1, "tilecast_files_claimed_total") + metric(p2, "tilecast_files_claimed_total");
    assert_eq!(claimed, files.len() as f64, "{}", c.logs());
    let published =
        metric(p1, "tilecast_jobs_published_total") + metric(p2, "tilecast_jobs_published_total");
    let planned: usize = out
        .planned_runs("runs")
        .iter()
        .map(|r| {
            let p: serde_json::Value =
                serde_json::from_slice(&out.get(&format!("runs/.tilecast/{r}/plan.json")).unwrap())
                    .unwrap();
            p["layers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l["jobs"].as_array().unwrap().len())
                .sum::<usize>()
        })
        .sum();
    assert_eq!(
        published, planned as f64,
        "every job published exactly once"
    );
}

#[test]
fn bucket_events_start_runs_and_hostile_events_are_ignored() {
    let moto = Moto::start();
    moto.create_bucket("ingest");
    moto.create_bucket("tiles");
    let (ingest, out) = (moto.client("ingest"), moto.client("tiles"));
    let mut c = bucket_cluster("s3events", &moto.endpoint());
    // An object already there when the chunker starts: its first listing finds it (the
    // reconciliation of events missed while it was down).
    ingest.put_file("drop/before.grib2", &samples().join("global_t2m.grib2"));
    let port = free_port();
    let (queue, exchange) = (
        format!("{}.s3events", c.prefix),
        format!("{}.bucket", c.prefix),
    );
    declare_fanout(&exchange);
    // Listings every hour: after the first, only events bring new objects.
    let addr = format!("127.0.0.1:{port}");
    c.start(
        "chunker",
        &[
            "chunker",
            "--ingest",
            "s3://ingest/drop",
            "--poll-interval",
            "3600",
            "--recheck",
            "1",
            "--metrics-addr",
            &addr,
            "--zoom",
            "0-1",
            "--events-queue",
            &queue,
            "--events-exchange",
            &exchange,
        ],
    );
    c.pool(1, &["--idle-exit", "30"]);
    wait_for(
        &c,
        "the object listed at start",
        Duration::from_secs(120),
        || out.manifests("runs").len() == 1,
    );
    ingest.put_file(
        "drop/after event.grib2",
        &samples().join("lambert_t850.grib2"),
    );
    publish(&exchange, b"not an event at all");
    publish(
        &exchange,
        br#"{"Records":[{"eventName":"s3:ObjectCreated:Put","s3":{"bucket":{"name":"elsewhere"},"object":{"key":"drop%2Fx.grib2"}}}]}"#,
    );
    publish(
        &exchange,
        br#"{"EventName":"s3:ObjectCreated:Put","Key":"ingest/drop/after event.grib2","Records":[{"eventVersion":"2.0",
            "eventSource":"minio:s3","eventName":"s3:ObjectCreated:Put","s3":{"bucket":{"name":"ingest"},
            "object":{"key":"drop%2Fafter+event.grib2","size":1,"eTag":"x"}}}]}"#,
    );
    wait_for(
        &c,
        "the announced object's run",
        Duration::from_secs(120),
        || out.manifests("runs").len() == 2,
    );
    assert_eq!(
        metric(port, "tilecast_bucket_events_total{outcome=\"invalid\"}"),
        1.0
    );
    assert_eq!(
        metric(port, "tilecast_bucket_events_total{outcome=\"ignored\"}"),
        1.0
    );
    assert_eq!(
        metric(port, "tilecast_bucket_events_total{outcome=\"accepted\"}"),
        1.0
    );
    delete_exchange(&exchange, &queue);
}

fn declare_fanout(exchange: &str) {
    let x = exchange.to_string();
    rt().block_on(async move {
        let conn = lapin::Connection::connect(&amqp_url(), Default::default())
            .await
            .unwrap();
        let ch = conn.create_channel().await.unwrap();
        ch.exchange_declare(
            x.as_str().into(),
            lapin::ExchangeKind::Fanout,
            lapin::options::ExchangeDeclareOptions {
                durable: true,
                ..Default::default()
            },
            Default::default(),
        )
        .await
        .unwrap();
    });
}

fn publish(exchange: &str, body: &[u8]) {
    let (x, body) = (exchange.to_string(), body.to_vec());
    rt().block_on(async move {
        let conn = lapin::Connection::connect(&amqp_url(), Default::default())
            .await
            .unwrap();
        let ch = conn.create_channel().await.unwrap();
        ch.confirm_select(Default::default()).await.unwrap();
        let confirm = ch
            .basic_publish(
                x.as_str().into(),
                "".into(),
                Default::default(),
                &body,
                lapin::BasicProperties::default().with_delivery_mode(2),
            )
            .await
            .unwrap()
            .await
            .unwrap();
        assert!(confirm.is_ack());
    });
}

fn delete_exchange(exchange: &str, queue: &str) {
    let (x, q) = (exchange.to_string(), queue.to_string());
    rt().block_on(async move {
        let conn = lapin::Connection::connect(&amqp_url(), Default::default())
            .await
            .unwrap();
        let ch = conn.create_channel().await.unwrap();
        let _ = ch.queue_delete(q.as_str().into(), Default::default()).await;
        let _ = ch
            .exchange_delete(x.as_str().into(), Default::default())
            .await;
    });
}

#[test]
fn a_store_outage_mid_run_loses_no_job_and_no_manifest_points_at_missing_tiles() {
    let moto = Moto::start();
    moto.create_bucket("ingest");
    moto.create_bucket("tiles");
    let proxy = Proxy::start(moto.port);
    let (ingest, out) = (moto.client("ingest"), moto.client("tiles"));
    let mut c = bucket_cluster("s3outage", &proxy.endpoint());
    // Requests give up after 2 s of retries, so jobs also take the transient (requeue) path.
    c.env.push(("TILECAST_S3_RETRY_TIMEOUT".into(), "2".into()));
    // A job is tried at most (outage / retry timeout) + 1 times while the store is away; the
    // limit leaves room for that (in production: 5 x 120 s of outage by default).
    c.env.push(("TILECAST_DELIVERY_LIMIT".into(), "20".into()));
    start_chunker(
        &mut c,
        "chunker",
        free_port(),
        &["--zoom", "0-4", "--job-tiles", "8"],
    );
    c.pool(2, &["--idle-exit", "60"]);
    let files: Vec<PathBuf> = ["global_t2m.grib2", "lambert_tas.nc"]
        .iter()
        .map(|n| samples().join(n))
        .collect();
    for f in &files {
        let name = f.file_name().unwrap().to_str().unwrap();
        ingest.put_file(&format!("drop/{name}"), f);
    }
    // Wait until jobs are being written, then take the store away.
    wait_for(&c, "first results", Duration::from_secs(120), || {
        out.list("runs/.tilecast")
            .keys()
            .filter(|k| k.contains("/results/"))
            .count()
            >= 2
    });
    // Every manifest that appears must point at tiles that exist, at the moment it appears.
    let checked = std::sync::Arc::new(std::sync::Mutex::new(BTreeSet::<String>::new()));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let (out, checked, stop) = (out.clone(), checked.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                for m in out.manifests("runs") {
                    if checked.lock().unwrap().contains(&m) {
                        continue;
                    }
                    assert_manifest_complete(&out, &m);
                    checked.lock().unwrap().insert(m);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    proxy.stop();
    std::thread::sleep(Duration::from_secs(6));
    proxy.throttle();
    std::thread::sleep(Duration::from_secs(4));
    proxy.resume();
    wait_for(&c, "both manifests", Duration::from_secs(300), || {
        checked.lock().unwrap().len() == files.len()
    });
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    watcher
        .join()
        .expect("every manifest was complete when it appeared");
    let (_keep, local) = local_render(&files, &["--zoom", "0-4"]);
    assert_same(&out.tree("runs"), &local);
    let d = c.depths();
    assert_eq!(
        (d["render"], d["render.dead"]),
        (0, 0),
        "{d:?}\n{}",
        c.logs()
    );
    let logs = c.logs();
    assert!(
        logs.contains("requeued"),
        "no job took the transient path:\n{logs}"
    );
}

/// Every tile and file a manifest lists exists.
fn assert_manifest_complete(out: &Bucket, manifest: &str) {
    let m: serde_json::Value = serde_json::from_slice(&out.get(manifest).unwrap()).unwrap();
    let run = manifest.trim_end_matches("/manifest.json");
    let present = out.list(run);
    for l in m["layers"].as_array().unwrap() {
        let name = l["name"].as_str().unwrap();
        let tiles = present
            .keys()
            .filter(|k| {
                k.strip_prefix(&format!("{run}/{name}/")).is_some_and(|r| {
                    r.ends_with(".png") && !r.starts_with("data/") && r.matches('/').count() == 2
                })
            })
            .count();
        assert_eq!(
            tiles as u64,
            l["tile_count"].as_u64().unwrap(),
            "{manifest}: layer {name} lists more tiles than exist"
        );
        for f in [
            "legend.png",
            "legend.json",
            "tilejson.json",
            "data/tilejson.json",
            "full.png",
        ] {
            assert!(
                present.contains_key(&format!("{run}/{name}/{f}")),
                "{manifest}: {name}/{f} missing"
            );
        }
    }
}
