//! The delivery limit against the real broker: a job that fails transiently on every
//! delivery (its source is in a bucket whose endpoint refuses connections) is tried
//! `--delivery-limit` + 1 times and then dead-lettered by the worker, which counts the failed
//! deliveries in the `x-tilecast-attempts` header of the copy it publishes again. That count
//! does not depend on the broker: RabbitMQ 4.3 no longer raises a quorum queue's delivery count
//! for a requeuing `basic.nack`, which the worker used before. The ledger counts the dead
//! letter by reason and the requeues, and its metrics show the queues' depths and consumers
//! (ready counts, which exclude a message being worked on, as KEDA's AMQP trigger sees them)
//! and, through the management API, unacknowledged messages.
//!
//! Result notices: the results queue is a classic one and a notice is transient, since the
//! result record in the books is the durable copy. A run completes when the broker refuses
//! every notice (the ledger reads the records at its recheck), and a quorum results queue
//! left by an earlier version is used as it is.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;
use lapin::options::BasicGetOptions;
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{Connection, ConnectionProperties};
use tilecast::run::job::Job;
use tilecast::settings::RenderSettings;

/// A job of the global sample whose source is `s3://unreachable/in/global_t2m.grib2`.
fn unreachable_job(c: &Cluster) -> Job {
    let path = c.ingest().join("global_t2m.grib2");
    std::fs::copy(samples().join("global_t2m.grib2"), &path).unwrap();
    let settings = RenderSettings {
        zoom: Some((0, 1)),
        ..Default::default()
    };
    let (_, plan) = tilecast::run::local::plan_file(&path, &settings, 100_000).unwrap();
    let mut job = Job::from_plan(&plan, &c.out().to_string_lossy()).remove(0);
    job.source.uri = "s3://unreachable/in/global_t2m.grib2".into();
    job
}

/// Headers of every message in `queue`, taken off it.
fn take_all(queue: &str) -> Vec<BTreeMap<String, String>> {
    let queue = queue.to_string();
    rt().block_on(async move {
        let conn = Connection::connect(&amqp_url(), ConnectionProperties::default())
            .await
            .unwrap();
        let ch = conn.create_channel().await.unwrap();
        let mut out = Vec::new();
        while let Some(m) = ch
            .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: true })
            .await
            .unwrap()
        {
            let h = m.delivery.properties.headers().clone().unwrap_or_default();
            let map = h
                .inner()
                .iter()
                .map(|(k, v)| {
                    let v = match v {
                        AMQPValue::LongString(s) => String::from_utf8_lossy(s.as_bytes()).into(),
                        other => format!("{other:?}"),
                    };
                    (k.to_string(), v)
                })
                .collect();
            out.push(map);
        }
        out
    })
}

/// Declares `queue` as a durable quorum queue.
async fn declare_quorum(ch: &lapin::Channel, queue: &str) {
    let mut args = FieldTable::default();
    args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString(LongString::from("quorum")),
    );
    let durable = lapin::options::QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    ch.queue_declare(queue.into(), durable, args).await.unwrap();
}

/// The value of an unlabelled or labelled sample in a Prometheus exposition.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

#[test]
fn a_job_failing_transiently_for_ever_is_dead_lettered_after_the_delivery_limit() {
    let mut c = Cluster::new("dlimit");
    // Nothing listens on this port: every read of the job's source fails, transiently.
    let closed = free_port();
    c.env
        .extend(s3::Moto::env_for(&format!("http://127.0.0.1:{closed}")));
    c.env
        .push(("TILECAST_INGEST".into(), "s3://unreachable/in".into()));
    c.env
        .push(("TILECAST_S3_RETRY_TIMEOUT".into(), "0.5".into()));
    c.env.push(("TILECAST_DELIVERY_LIMIT".into(), "2".into()));
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    c.start(
        "ledger",
        &["ledger", "--recheck", "0.5", "--metrics-addr", &addr],
    );
    assert_eq!(
        wait_http(port, "/readyz", Duration::from_secs(30)).0,
        200,
        "{}",
        c.logs()
    );
    let (_, before) = http_get(port, "/metrics");
    // Counters start at 0, so an alert on their increase sees the first event.
    assert_eq!(
        sample(
            &before,
            "tilecast_dead_letters_total{reason=\"delivery_limit\"}"
        ),
        Some(0.0),
        "{before}"
    );
    assert_eq!(
        sample(&before, "tilecast_job_results_total{outcome=\"done\"}"),
        Some(0.0)
    );
    let job = unreachable_job(&c);
    let mut published = FieldTable::default();
    published.insert("x-tilecast-published".into(), AMQPValue::LongLongInt(1_000));
    c.publish_to(
        &format!("{}.jobs", c.prefix),
        "render",
        &job.to_json(),
        published,
    );

    // One-shot workers, one after another, until one finds nothing to do.
    let mut codes = Vec::new();
    for _ in 0..6 {
        let o = c.command(&["worker", "--idle-exit", "2"]).output().unwrap();
        let code = o.status.code();
        codes.push(code);
        if code == Some(0) {
            break;
        }
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("unreachable"),
            "the failure names the source: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    assert_eq!(
        codes,
        vec![Some(75), Some(75), Some(75), Some(0)],
        "three failed deliveries (limit 2), then an idle worker\n{}",
        c.logs()
    );

    let dead = take_all(&format!("{}.render.dead", c.prefix));
    assert_eq!(dead.len(), 1, "{dead:?}");
    let d = &dead[0];
    assert_eq!(d["x-tilecast-death"], "delivery_limit", "{d:?}");
    assert_eq!(d["x-tilecast-job"], job.id);
    assert!(
        d["x-tilecast-reason"].contains("failed on all 3 deliveries"),
        "{d:?}"
    );
    // The worker dead-lettered it by its own count, not the broker by its count.
    assert!(!d.contains_key("x-first-death-reason"), "{d:?}");
    assert!(d["x-tilecast-published"].contains("1000"), "{d:?}");

    // The ledger saw one dead letter for the delivery limit, after two requeues.
    let start = std::time::Instant::now();
    let text = loop {
        let (_, text) = http_get(port, "/metrics");
        if sample(
            &text,
            "tilecast_dead_letters_total{reason=\"delivery_limit\"}",
        ) == Some(1.0)
        {
            break text;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{text}\n{}",
            c.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(
        sample(&text, "tilecast_job_requeues_total"),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "tilecast_dead_letters_total{reason=\"permanent\"}"),
        Some(0.0)
    );
    // Depths of the four queues, and the ledger consuming its two.
    let start = std::time::Instant::now();
    loop {
        let (_, text) = http_get(port, "/metrics");
        let v = |s: &str| sample(&text, s);
        let seen = (
            v("tilecast_queue_messages{queue=\"render\"}"),
            v("tilecast_queue_messages{queue=\"results\"}"),
            v("tilecast_queue_consumers{queue=\"results\"}"),
            v("tilecast_queue_consumers{queue=\"dead_events\"}"),
            v("tilecast_queue_consumers{queue=\"render\"}"),
        );
        if seen == (Some(0.0), Some(0.0), Some(1.0), Some(1.0), Some(0.0)) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{seen:?}\n{text}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    c.stop();
}

#[test]
fn the_ready_count_excludes_a_message_being_worked_on() {
    // What the KEDA trigger of the ScaledJob (AMQP) and tilecast_queue_messages count: ready
    // messages only, from a passive declare of the quorum queue. A job held unacked by a
    // consumer is not counted, so KEDA does not start a second Job for it.
    let c = Cluster::new("ready");
    let prefix = c.prefix.clone();
    rt().block_on(async move {
        let conn = Connection::connect(&amqp_url(), ConnectionProperties::default())
            .await
            .unwrap();
        let ch = conn.create_channel().await.unwrap();
        ch.confirm_select(Default::default()).await.unwrap();
        let q = format!("{prefix}.render");
        declare_quorum(&ch, &q).await;
        for body in [b"a", b"b"] {
            ch.basic_publish(
                "".into(),
                q.as_str().into(),
                Default::default(),
                body,
                Default::default(),
            )
            .await
            .unwrap()
            .await
            .unwrap();
        }
        let held = ch
            .basic_get(q.as_str().into(), BasicGetOptions { no_ack: false })
            .await
            .unwrap()
            .expect("a message");
        let passive = lapin::options::QueueDeclareOptions {
            passive: true,
            ..Default::default()
        };
        let other = conn.create_channel().await.unwrap();
        let d = other
            .queue_declare(q.as_str().into(), passive, FieldTable::default())
            .await
            .unwrap();
        assert_eq!(d.message_count(), 1, "one ready, one held unacked");
        held.delivery.ack(Default::default()).await.unwrap();
    });
}

#[test]
fn unacknowledged_counts_come_from_the_management_api() {
    // The management plugin is not enabled on the test broker: a stand-in answers
    // `GET /api/queues/<vhost>/<queue>` as RabbitMQ's HTTP API documents it, and records what
    // the ledger asked for.
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let api_port = listener.local_addr().unwrap().port();
    let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen = requests.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let mut head = Vec::new();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                    break;
                }
                head.push(line.trim_end().to_string());
            }
            let unacked = if head[0].contains(".render ") { 3 } else { 0 };
            let body = format!(
                r#"{{"messages":{unacked},"messages_ready":0,"messages_unacknowledged":{unacked},"consumers":1}}"#
            );
            seen.lock().unwrap().push(head.join("\n"));
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    let mut c = Cluster::new("mgmt");
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let url = format!("http://monitor:s%40cret@127.0.0.1:{api_port}/%2f");
    c.start(
        "ledger",
        &[
            "ledger",
            "--recheck",
            "0.5",
            "--metrics-addr",
            &addr,
            "--management-url",
            &url,
        ],
    );
    let start = std::time::Instant::now();
    loop {
        let (_, text) = wait_http(port, "/metrics", Duration::from_secs(20));
        let v = |q: &str| {
            sample(
                &text,
                &format!("tilecast_queue_messages_unacked{{queue=\"{q}\"}}"),
            )
        };
        if v("render") == Some(3.0) && v("results") == Some(0.0) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{text}\n{}",
            c.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let reqs = requests.lock().unwrap().clone();
    let render = reqs
        .iter()
        .find(|r| r.starts_with(&format!("GET /api/queues/%2f/{}.render HTTP/1.1", c.prefix)))
        .unwrap_or_else(|| panic!("{reqs:#?}"));
    // monitor:s@cret, percent-decoded from the URL, as HTTP Basic credentials.
    assert!(
        render
            .to_lowercase()
            .contains("authorization: basic bw9uaxrvcjpzqgnyzxq="),
        "{render}"
    );
    assert!(!c.logs().contains("s%40cret") && !c.logs().contains("s@cret"));
}

/// The type of every queue of `prefix`, from the broker.
fn queue_types(prefix: &str) -> BTreeMap<String, String> {
    rabbitmqctl(&["list_queues", "-q", "--no-table-headers", "name", "type"])
        .lines()
        .filter_map(|l| {
            let (name, kind) = l.split_once('\t')?;
            let q = name.strip_prefix(prefix)?.strip_prefix('.')?;
            Some((q.to_string(), kind.trim().to_string()))
        })
        .collect()
}

/// A small real file through chunker, ledger and pool; its outputs must be the local render's,
/// with nothing dead-lettered.
fn run_one_file(c: &mut Cluster) {
    let flags = ["--zoom", "0-1"];
    c.chunker(&flags);
    c.pool(2, &["--idle-exit", "30"]);
    let file = samples().join("lambert_t850.grib2");
    c.drop_file(&file, "lambert_t850.grib2");
    c.wait_manifests(1, Duration::from_secs(60));
    assert_same_as_local(c, &[file], &flags);
    assert!(c.dead_letters().is_empty(), "{}", c.logs());
}

#[test]
fn result_notices_go_to_a_classic_queue_and_an_earlier_quorum_one_still_serves() {
    let mut c = Cluster::new("notices");
    run_one_file(&mut c);
    let types = queue_types(&c.prefix);
    assert_eq!(
        types.get("results").map(String::as_str),
        Some("classic"),
        "{types:?}"
    );
    assert_eq!(
        types.get("render").map(String::as_str),
        Some("quorum"),
        "{types:?}"
    );
    assert!(
        !c.logs().contains("exists with other arguments"),
        "{}",
        c.logs()
    );
    c.stop();

    // A deployment upgraded from a version whose results queue was a quorum queue.
    let mut c = Cluster::new("quorum_results");
    let results = format!("{}.results", c.prefix);
    rt().block_on(async {
        let conn = Connection::connect(&amqp_url(), ConnectionProperties::default())
            .await
            .unwrap();
        let ch = conn.create_channel().await.unwrap();
        declare_quorum(&ch, &results).await;
    });
    run_one_file(&mut c);
    let logs = c.logs();
    assert!(
        logs.contains("the results queue exists with other arguments"),
        "no warning about the quorum results queue: {logs}"
    );
    assert_eq!(queue_types(&c.prefix)["results"], "quorum");
}

#[test]
fn a_run_completes_when_the_broker_refuses_every_result_notice() {
    let mut c = Cluster::new("refused_notices");
    // The broker nacks every message to the results queue (a length limit of 0 that rejects
    // publishes), from before any process starts.
    let policy = format!("{}_refuse", c.prefix);
    let pattern = format!("^{}\\.results$", c.prefix);
    rabbitmqctl(&[
        "set_policy",
        "--apply-to",
        "queues",
        &policy,
        &pattern,
        r#"{"max-length":0,"overflow":"reject-publish"}"#,
    ]);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_one_file(&mut c);
        let logs = c.logs();
        assert!(
            logs.contains("result notice not delivered"),
            "the notices were not refused: {logs}"
        );
        assert!(!logs.contains("job requeued"), "{logs}");
        let plan = c.plan_of(&c.manifests()[0]);
        assert_eq!(c.results_recorded(), plan.job_count(), "{logs}");
    }));
    rabbitmqctl(&["clear_policy", &policy]);
    if let Err(e) = outcome {
        std::panic::resume_unwind(e);
    }
}
