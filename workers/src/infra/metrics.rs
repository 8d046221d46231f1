//! Prometheus metrics of the long-lived parts (chunker, ledger) and, for debugging, of a
//! worker while it lives. One [`Metrics`] value per process, with its own registry (no
//! globals), passed to whatever counts. Names follow Prometheus conventions with the
//! `tilecast_` prefix; labels are bounded (stage, outcome, queue).
//!
//! Workers live for seconds, so what matters is counted from the result records and dead
//! letters the ledger consumes: outcomes, per-stage durations, tiles and bytes written,
//! requeues, dead letters by reason and end-to-end latency. Every labelled counter starts
//! with each of its label values at 0, so `increase()` sees the first event and alerts on
//! "no results" have a series to test.

use prometheus::{
    Encoder, Gauge, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec,
    IntGauge, Opts, Registry, TextEncoder,
};
use tilecast::run::job::JobResult;

use crate::infra::headers::DeathReason;

/// The queues whose depths the ledger polls: label and queue-name suffix.
pub const POLLED_QUEUES: [&str; 4] = ["render", "dead", "results", "dead_events"];

pub struct Metrics {
    registry: Registry,
    pub files_seen: IntCounter,
    pub files_claimed: IntCounter,
    pub files_duplicate: IntCounter,
    pub files_invalid: IntCounter,
    pub ledger_rejected: IntCounter,
    pub jobs_published: IntCounter,
    pub events: IntCounterVec,
    pub job_results: IntCounterVec,
    pub stage_seconds: HistogramVec,
    pub tiles_written: IntCounter,
    pub bytes_written: IntCounter,
    pub runs_completed: IntCounter,
    pub runs_open: IntGauge,
    pub oldest_open_run_age: Gauge,
    pub last_run_completed: Gauge,
    pub queue_messages: GaugeVec,
    pub queue_unacked: GaugeVec,
    pub queue_consumers: GaugeVec,
    pub dead_letters: IntCounterVec,
    pub job_requeues: IntCounter,
    pub job_latency: Histogram,
    pub run_duration: Histogram,
    pub broker_up: IntGauge,
}

fn vec_gauge(r: &Registry, name: &str, help: &str, label: &str) -> GaugeVec {
    let g = GaugeVec::new(Opts::new(name, help), &[label]).expect("valid metric");
    r.register(Box::new(g.clone())).expect("unique metric");
    g
}

fn histogram(r: &Registry, name: &str, help: &str, buckets: &[f64]) -> Histogram {
    let h = Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets.to_vec()))
        .expect("valid metric");
    r.register(Box::new(h.clone())).expect("unique metric");
    h
}

fn counter(r: &Registry, name: &str, help: &str) -> IntCounter {
    let c = IntCounter::new(name, help).expect("valid metric");
    r.register(Box::new(c.clone())).expect("unique metric");
    c
}

impl Metrics {
    pub fn new() -> Metrics {
        let r = Registry::new();
        let job_results = IntCounterVec::new(
            Opts::new(
                "tilecast_job_results_total",
                "Job results recorded, by outcome (done, already_done, dead_lettered).",
            ),
            &["outcome"],
        )
        .expect("valid metric");
        r.register(Box::new(job_results.clone()))
            .expect("unique metric");
        let events = IntCounterVec::new(
            Opts::new(
                "tilecast_bucket_events_total",
                "Bucket notification events, by outcome (accepted, ignored, invalid).",
            ),
            &["outcome"],
        )
        .expect("valid metric");
        r.register(Box::new(events.clone())).expect("unique metric");
        let stage_seconds = HistogramVec::new(
            HistogramOpts::new(
                "tilecast_stage_duration_seconds",
                "Time per job spent in each stage, from workers' result records.",
            )
            .buckets(vec![
                // Up to 600 s: a store request is retried for up to --s3-retry-timeout (120 s)
                // and a job may run until --job-timeout (600 s).
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                60.0, 120.0, 300.0, 600.0,
            ]),
            &["stage"],
        )
        .expect("valid metric");
        r.register(Box::new(stage_seconds.clone()))
            .expect("unique metric");
        for outcome in ["done", "already_done", "dead_lettered"] {
            job_results.with_label_values(&[outcome]);
        }
        let queue_messages = vec_gauge(
            &r,
            "tilecast_queue_messages",
            "Messages ready (waiting for a consumer) in a queue, polled from the broker.",
            "queue",
        );
        let queue_unacked = vec_gauge(
            &r,
            "tilecast_queue_messages_unacked",
            "Messages delivered and not yet acknowledged in a queue, from the management API (only with --management-url).",
            "queue",
        );
        let queue_consumers = vec_gauge(
            &r,
            "tilecast_queue_consumers",
            "Consumers of a queue, polled from the broker.",
            "queue",
        );
        let dead_letters = IntCounterVec::new(
            Opts::new(
                "tilecast_dead_letters_total",
                "Dead letters the ledger consumed, by reason (permanent, delivery_limit, rejected, expired, maxlen, other).",
            ),
            &["reason"],
        )
        .expect("valid metric");
        r.register(Box::new(dead_letters.clone()))
            .expect("unique metric");
        for reason in DeathReason::ALL {
            dead_letters.with_label_values(&[reason.label()]);
        }
        let gauge = |name: &str, help: &str| {
            let g = Gauge::new(name, help).expect("valid metric");
            r.register(Box::new(g.clone())).expect("unique metric");
            g
        };
        let int_gauge = |name: &str, help: &str| {
            let g = IntGauge::new(name, help).expect("valid metric");
            r.register(Box::new(g.clone())).expect("unique metric");
            g
        };
        let build = prometheus::IntGaugeVec::new(
            Opts::new("tilecast_build_info", "Build information; always 1."),
            &["version"],
        )
        .expect("valid metric");
        r.register(Box::new(build.clone())).expect("unique metric");
        build.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
        let started = gauge(
            "tilecast_start_time_seconds",
            "Unix time this process started.",
        );
        started.set(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
        );
        Metrics {
            events,
            files_seen: counter(
                &r,
                "tilecast_files_seen_total",
                "Complete files found in the ingest location.",
            ),
            files_claimed: counter(
                &r,
                "tilecast_files_claimed_total",
                "Files claimed and submitted as a new run.",
            ),
            files_duplicate: counter(
                &r,
                "tilecast_files_duplicate_total",
                "Files skipped because their content was already submitted.",
            ),
            ledger_rejected: counter(
                &r,
                "tilecast_ledger_rejected_messages_total",
                "Result or dead-letter messages the ledger could not use (malformed, or naming no run it knows); acked and logged, never retried.",
            ),
            files_invalid: counter(
                &r,
                "tilecast_files_invalid_total",
                "Files that could not be read or are not GRIB/NetCDF.",
            ),
            jobs_published: counter(
                &r,
                "tilecast_jobs_published_total",
                "Jobs published and confirmed by the broker.",
            ),
            tiles_written: counter(
                &r,
                "tilecast_tiles_written_total",
                "Tiles written (colour and data tile pairs), from job results.",
            ),
            bytes_written: counter(
                &r,
                "tilecast_bytes_written_total",
                "Bytes written by jobs, from job results.",
            ),
            runs_completed: counter(
                &r,
                "tilecast_runs_completed_total",
                "Runs whose manifest the ledger wrote.",
            ),
            runs_open: int_gauge(
                "tilecast_runs_open",
                "Runs planned whose manifest is not written yet.",
            ),
            oldest_open_run_age: gauge(
                "tilecast_oldest_open_run_age_seconds",
                "Age of the oldest run without a manifest (0 when none).",
            ),
            last_run_completed: gauge(
                "tilecast_last_run_completed_timestamp_seconds",
                "Unix time this ledger last completed a run; 0 until it completes one.",
            ),
            broker_up: int_gauge(
                "tilecast_broker_up",
                "1 while connected to the broker with the topology declared.",
            ),
            job_requeues: counter(
                &r,
                "tilecast_job_requeues_total",
                "Times finished jobs went back to the queue (transient failures, timeouts, lost workers), counted when the job's result or dead letter arrives.",
            ),
            job_latency: histogram(
                &r,
                "tilecast_job_latency_seconds",
                "From a job's first publication by the chunker to the ledger receiving its result (rendered jobs).",
                &[
                    0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
                    7200.0,
                ],
            ),
            run_duration: histogram(
                &r,
                "tilecast_run_duration_seconds",
                "From a run's plan to its manifest, for runs the ledger completed.",
                &[
                    10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0, 7200.0,
                    21600.0,
                ],
            ),
            job_results,
            stage_seconds,
            queue_messages,
            queue_unacked,
            queue_consumers,
            dead_letters,
            registry: r,
        }
    }

    /// Counts a result record received by the ledger.
    pub fn record_result(&self, r: &JobResult, outcome: &str) {
        self.job_results.with_label_values(&[outcome]).inc();
        if outcome != "done" {
            return;
        }
        self.tiles_written.inc_by(r.tiles);
        self.bytes_written.inc_by(r.bytes);
        let s = &r.seconds;
        for (stage, v) in [
            ("fetch", s.fetch),
            ("decode", s.decode),
            ("render", s.render),
            ("encode", s.encode),
            ("write", s.write),
        ] {
            self.stage_seconds.with_label_values(&[stage]).observe(v);
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .expect("text encoding");
        String::from_utf8(buf).expect("utf-8")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}
