//! How many worker Jobs KEDA starts for the chart's own ScaledJob: a deterministic
//! simulation of KEDA's ScaledJob arithmetic (kedacore/keda `pkg/scaling/scaledjob/metrics.go`
//! and `pkg/scaling/executor/scale_jobs.go`) against worker pods that behave as
//! `tilecast worker --max-jobs M --idle-exit I` does, for a burst of messages.
//!
//! Each poll KEDA reads the trigger's queue length q (the RabbitMQ scaler: over AMQP a
//! passive declare, which counts ready messages; over HTTP the management API's `messages`,
//! ready plus unacknowledged, refreshed by the broker every 5 s), takes
//! `maxScale = ceil(min(q / value, maxReplicaCount))`, counts unfinished Jobs (`running`) and
//! those without a running pod (`pending`), and creates `min(q, effective)` Jobs where
//! `effective` is, by strategy: default `maxScale - running`; accurate
//! `maxReplicaCount - running` if `maxScale + running - pending > maxReplicaCount`, else
//! `maxScale - pending`; eager `min(maxReplicaCount - running - pending, maxScale)`.
//! Nothing is created when q is 0 (activation value 0).
//!
//! Every parameter of the chart's case comes from the rendered default values; the pod
//! start-up (3 s) and the job cost (2.14 s: 2.1 CPU-seconds measured per 512-tile job of a
//! 0.25° global field, chart README "Job size and pod start-up") are the two inputs from
//! outside the chart.

mod common;

use common::chart::{objects, render_chart};
use serde_json::Value;

const POD_START: f64 = 3.0;
const JOB_SECONDS: f64 = 2.14;
/// RabbitMQ's default `collect_statistics_interval`: how stale management API counts are.
const STATS_EVERY: f64 = 5.0;
/// Simulation step: 50 ms.
const DT: f64 = 0.05;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Strategy {
    Default,
    Accurate,
    Eager,
}

#[derive(Clone, Debug)]
struct Scaling {
    poll: f64,
    max_replicas: u64,
    strategy: Strategy,
    /// Whether the trigger's count includes unacknowledged messages (HTTP), which then is
    /// as stale as the management API's statistics.
    counts_unacked: bool,
    /// The trigger's target value: messages per Job.
    value: u64,
    max_jobs: u64,
    idle_exit: f64,
}

impl Scaling {
    /// The chart's ScaledJob for its default values.
    fn of_chart() -> Scaling {
        let rendered = render_chart();
        let sj = objects(&rendered, "default values", "ScaledJob");
        assert_eq!(sj.len(), 1, "the default values render one ScaledJob");
        let spec = &sj[0]["spec"];
        let num = |v: &Value| -> f64 {
            v.as_f64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                .unwrap_or_else(|| panic!("not a number: {v}"))
        };
        let trigger = &spec["triggers"][0]["metadata"];
        let args: Vec<&str> = spec["jobTargetRef"]["template"]["spec"]["containers"][0]["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        let arg = |flag: &str| -> f64 {
            let i = args.iter().position(|a| *a == flag).unwrap_or_else(|| {
                panic!("the worker's args {args:?} lack {flag}");
            });
            args[i + 1].parse().unwrap()
        };
        let strategy = match spec["scalingStrategy"]["strategy"]
            .as_str()
            .unwrap_or("default")
        {
            "default" => Strategy::Default,
            "accurate" => Strategy::Accurate,
            "eager" => Strategy::Eager,
            other => panic!("strategy {other} is not simulated"),
        };
        Scaling {
            poll: num(&spec["pollingInterval"]),
            max_replicas: num(&spec["maxReplicaCount"]) as u64,
            strategy,
            counts_unacked: trigger["protocol"] == "http"
                && trigger["excludeUnacknowledged"] != "true",
            value: num(&trigger["value"]) as u64,
            max_jobs: arg("--max-jobs") as u64,
            idle_exit: arg("--idle-exit"),
        }
    }

    /// KEDA's number of Jobs to create for queue length `q`.
    fn to_create(&self, q: u64, running: u64, pending: u64) -> u64 {
        if q == 0 {
            return 0;
        }
        let max_scale = (q as f64 / self.value as f64)
            .min(self.max_replicas as f64)
            .ceil() as i64;
        let (r, p, m) = (running as i64, pending as i64, self.max_replicas as i64);
        let effective = match self.strategy {
            Strategy::Default => max_scale - r,
            Strategy::Accurate if max_scale + r - p > m => m - r,
            Strategy::Accurate => max_scale - p,
            Strategy::Eager => (m - r - p).min(max_scale),
        };
        effective.clamp(0, q as i64) as u64
    }
}

/// A Kubernetes Job's one pod.
struct Pod {
    started: f64,
    taken: u64,
    busy_until: Option<f64>,
    idle_since: f64,
    finished: bool,
}

#[derive(Debug, Default)]
struct Report {
    jobs_started: u64,
    /// Jobs whose pod exited without taking a message.
    idle_jobs: u64,
    drained_at: f64,
    zero_at: f64,
    /// Jobs started after every message was acknowledged.
    started_after_drain: u64,
    /// Polls where Jobs were started: (t, ready, unacked, started, unfinished after).
    polls: Vec<(f64, u64, u64, u64, u64)>,
}

fn simulate(s: &Scaling, burst: u64, job_seconds: f64) -> Report {
    let (mut ready, mut unacked, mut acked) = (burst, 0u64, 0u64);
    let mut pods: Vec<Pod> = Vec::new();
    let mut report = Report::default();
    let mut stats = (ready, unacked);
    let (poll_ticks, stats_ticks) = (
        (s.poll / DT).round() as u64,
        (STATS_EVERY / DT).round() as u64,
    );
    let mut drained: Option<f64> = None;
    for tick in 0..(7200.0 / DT) as u64 {
        let t = tick as f64 * DT;
        for p in pods.iter_mut().filter(|p| !p.finished && t >= p.started) {
            if let Some(until) = p.busy_until {
                if t + 1e-9 >= until {
                    unacked -= 1;
                    acked += 1;
                    p.busy_until = None;
                    p.idle_since = t;
                }
            }
            if p.busy_until.is_none() {
                if p.taken == s.max_jobs {
                    p.finished = true;
                } else if ready > 0 {
                    ready -= 1;
                    unacked += 1;
                    p.taken += 1;
                    p.busy_until = Some(t + job_seconds);
                } else if t - p.idle_since >= s.idle_exit {
                    p.finished = true;
                    report.idle_jobs += u64::from(p.taken == 0);
                }
            }
        }
        if acked == burst && drained.is_none() {
            drained = Some(t);
        }
        if tick % stats_ticks == 0 {
            stats = (ready, unacked);
        }
        if tick % poll_ticks == 0 {
            let q = if s.counts_unacked {
                stats.0 + stats.1
            } else {
                ready
            };
            let running = pods.iter().filter(|p| !p.finished).count() as u64;
            let pending = pods.iter().filter(|p| !p.finished && t < p.started).count() as u64;
            let n = s.to_create(q, running, pending);
            for _ in 0..n {
                pods.push(Pod {
                    started: t + POD_START,
                    taken: 0,
                    busy_until: None,
                    idle_since: t + POD_START,
                    finished: false,
                });
            }
            report.jobs_started += n;
            if drained.is_some() {
                report.started_after_drain += n;
            }
            if n > 0 {
                report.polls.push((t, ready, unacked, n, running + n));
            }
        }
        if let Some(d) = drained {
            if pods.iter().all(|p| p.finished) {
                report.drained_at = d;
                if report.zero_at < d {
                    report.zero_at = t;
                }
                // Keep polling a while: nothing may start once the queue is empty.
                if t > d + s.idle_exit + 4.0 * s.poll {
                    return report;
                }
            } else {
                report.zero_at = 0.0;
            }
        }
    }
    panic!("the burst of {burst} never drained and scaled to zero: {report:?}");
}

fn print(title: &str, s: &Scaling, burst: u64, r: &Report) {
    println!("\n== {title}: burst of {burst} messages, {s:?}");
    println!("   t(s)  ready  unacked  Jobs started  Jobs unfinished");
    for (t, ready, unacked, n, unfinished) in &r.polls {
        println!("{t:7.1} {ready:6} {unacked:8} {n:13} {unfinished:16}");
    }
    println!(
        "Jobs started {}, idle Jobs {}, burst done at {:.1} s, zero Jobs at {:.1} s",
        r.jobs_started, r.idle_jobs, r.drained_at, r.zero_at
    );
}

#[test]
fn the_charts_scaledjob_starts_no_more_jobs_than_messages_and_scales_to_zero() {
    let s = Scaling::of_chart();
    assert_eq!(s.value, s.max_jobs, "one Job per --max-jobs messages");
    for burst in [1, 10, 100, 1000, 5000] {
        let r = simulate(&s, burst, JOB_SECONDS);
        print("chart defaults", &s, burst, &r);
        for &(t, ready, unacked, n, unfinished) in &r.polls {
            assert!(n <= ready, "t={t}: {n} Jobs for {ready} ready messages");
            assert!(
                unfinished <= ready + unacked,
                "t={t}: {unfinished} Jobs for {} messages",
                ready + unacked
            );
        }
        assert_eq!(r.idle_jobs, 0, "Jobs that never took a message");
        assert_eq!(r.started_after_drain, 0, "Jobs started after the burst");
        assert!(
            r.jobs_started <= burst.div_ceil(s.max_jobs) + s.max_replicas,
            "{} Jobs for {burst} messages of {} each",
            r.jobs_started,
            s.max_jobs
        );
        // The last pods leave --idle-exit after the queue empties (plus one job, one poll and
        // a pod start at most).
        assert!(
            r.zero_at - r.drained_at <= s.idle_exit + JOB_SECONDS + s.poll + POD_START,
            "scaled to zero {:.1} s after the burst",
            r.zero_at - r.drained_at
        );
    }
}

#[test]
fn the_previous_accurate_http_scaling_started_a_second_job_per_message() {
    // The chart before issue 17: accurate strategy, HTTP trigger (ready + unacked), one job
    // per pod. With jobs longer than a poll, 10 messages start 20 Jobs, 10 of them idle until
    // --idle-exit: what the issue modelled, and what the simulation must be able to show.
    let old = Scaling {
        poll: 5.0,
        max_replicas: 20,
        strategy: Strategy::Accurate,
        counts_unacked: true,
        value: 1,
        max_jobs: 1,
        idle_exit: 30.0,
    };
    let r = simulate(&old, 10, 10.0);
    print("previous chart, 10 s jobs", &old, 10, &r);
    assert_eq!((r.jobs_started, r.idle_jobs), (20, 10), "{r:?}");
    // The same jobs under the chart's scaling start one Job per message at most.
    let mut now = Scaling::of_chart();
    now.max_jobs = 1;
    now.value = 1;
    let r = simulate(&now, 10, 10.0);
    print("chart scaling, one job per pod, 10 s jobs", &now, 10, &r);
    assert_eq!((r.jobs_started, r.idle_jobs), (10, 0), "{r:?}");
}
