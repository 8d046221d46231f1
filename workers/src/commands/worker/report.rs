//! A delivery's outcomes sent on to the broker, then the delivery acked: for each job, a
//! notice of the stored result record to the results queue, a permanent failure to the
//! dead-letter exchange with its reason, a transient one back to the jobs exchange with the
//! failure counted (or, past `--delivery-limit`, dead-lettered). A job of a batch is sent on
//! alone: its own body, so a job that fails never takes the rest of its batch with it. Every message is published with a confirm before the
//! job is acked, so a broker failing in between leaves the job unacked: it returns to the
//! queue when the connection closes, and its redelivery finds the result record and reports
//! it again. A notice the broker takes but cannot deliver (no results queue) is only
//! warned of: the record is stored, and the ledger finds it at its next recheck. Shared by
//! `tilecast worker` and `tilecast pool`.
//!
//! Failed deliveries are counted here ([`crate::infra::headers`]) rather than by nacking
//! with requeue: from RabbitMQ 4.3 a requeuing `basic.nack` no longer raises the quorum
//! queue's delivery count, so a job failing transiently for ever would never reach
//! `x-delivery-limit`.

use std::borrow::Cow;

use anyhow::Context;
use lapin::message::Delivery;
use lapin::options::BasicAckOptions;
use lapin::types::FieldTable;
use tilecast::run::batch;
use tilecast::run::job::{Job, JobResult, JOB_TYPE, RESULT_TYPE};

use super::outcome::Outcome;
use crate::infra::amqp::{self, Names, RENDER_KEY};
use crate::infra::headers::{self, DeathReason};

/// The job or batch a delivery carries, named for logs and headers (`?` where it did not
/// parse; a batch is named by its batch id and its jobs' count).
pub struct JobIds {
    pub id: String,
    pub run: String,
    pub layer: String,
    /// The source fields, comma-separated.
    pub field: String,
}

impl JobIds {
    /// A delivery's jobs: none when it did not parse, one, or a batch.
    pub fn of(jobs: &[Job]) -> JobIds {
        match jobs {
            [j] => JobIds::of_job(j),
            js @ [first, ..] => JobIds {
                id: batch::batch_id(js),
                run: first.run.clone(),
                layer: format!("{} layers", js.len()),
                field: "?".into(),
            },
            [] => JobIds {
                id: "?".into(),
                run: "?".into(),
                layer: "?".into(),
                field: "?".into(),
            },
        }
    }

    pub fn of_job(j: &Job) -> JobIds {
        JobIds {
            id: j.id.clone(),
            run: j.run.clone(),
            layer: j.layer.clone(),
            field: j
                .fields
                .iter()
                .map(|f| f.field.to_string())
                .collect::<Vec<_>>()
                .join(","),
        }
    }
}

/// Where outcomes go: a channel with confirms, the topology's names and the delivery limit.
pub struct Reporter<'a> {
    pub ch: &'a lapin::Channel,
    pub names: &'a Names,
    pub delivery_limit: u64,
    /// Who reports, for logs (`worker-<pid>`, `pool-<pid>`).
    pub who: &'a str,
}

impl Reporter<'_> {
    /// Sends the `outcomes` of `delivery` on, one per job of `jobs` (one outcome and no job
    /// for a message that did not parse), and acks it. An error means the broker failed
    /// meanwhile: the delivery is unacked, and the caller closes the connection so it
    /// returns to the queue.
    pub async fn settle(
        &self,
        delivery: &Delivery,
        jobs: &[Job],
        outcomes: &[Outcome],
        ids: &JobIds,
    ) -> anyhow::Result<()> {
        let h = delivery.properties.headers().clone().unwrap_or_default();
        if let [outcome] = outcomes {
            self.send_on(&h, ids, outcome, || Cow::Borrowed(&delivery.data))
                .await?;
        } else {
            for (job, outcome) in jobs.iter().zip(outcomes) {
                let ids = JobIds::of_job(job);
                self.send_on(&h, &ids, outcome, || Cow::Owned(job.to_json()))
                    .await?;
            }
        }
        ack(delivery).await
    }

    /// A delivery failed without its jobs being at fault (a process that died, past
    /// `--job-timeout`, a batch delivered again after its worker was lost): each job is
    /// published again with the failure counted in `x-tilecast-attempts` (a batch's jobs
    /// each alone), or, once it has failed more than `--delivery-limit` times, sent to the
    /// dead-letter exchange; then the delivery is acked.
    pub async fn retry_or_bury(
        &self,
        delivery: &Delivery,
        jobs: &[Job],
        ids: &JobIds,
        error: &str,
    ) -> anyhow::Result<()> {
        let h = delivery.properties.headers().clone().unwrap_or_default();
        if jobs.len() > 1 {
            for job in jobs {
                self.again(&h, &job.to_json(), &JobIds::of_job(job), error)
                    .await?;
            }
        } else {
            self.again(&h, &delivery.data, ids, error).await?;
        }
        ack(delivery).await
    }

    /// One job's outcome (or a message's that did not parse); `body` makes its message,
    /// only for a failure (a result is reported by its record).
    async fn send_on<'b>(
        &self,
        h: &FieldTable,
        ids: &JobIds,
        outcome: &Outcome,
        body: impl FnOnce() -> Cow<'b, [u8]>,
    ) -> anyhow::Result<()> {
        match outcome {
            Outcome::Done(r) | Outcome::AlreadyDone(r) => self.notice(h, r).await,
            Outcome::Permanent(reason) => self.bury(h, &body(), ids, reason).await,
            Outcome::Transient(error) => self.again(h, &body(), ids, error).await,
        }
    }

    /// A notice of the stored result to the results queue, with the delivery's failure count
    /// carried on: transient, since the record is the durable copy.
    async fn notice(&self, job_headers: &FieldTable, r: &JobResult) -> anyhow::Result<()> {
        let failed_before = headers::failed_before(job_headers);
        let h = headers::report(job_headers, failed_before);
        let props = amqp::notice_properties(RESULT_TYPE, &r.job, h);
        let report = serde_json::to_vec(r)?;
        let results = &self.names.results;
        let confirm = amqp::publish(self.ch, "", results, &report, props)
            .await
            .context("reporting the result")?;
        if let Err(e) = amqp::check_confirm(confirm, "", results) {
            tracing::warn!(worker = %self.who, run = %r.run, job = %r.job, error = %e,
                "result notice not delivered; the ledger reads the result record at its next recheck");
        }
        Ok(())
    }

    /// A job that can never succeed, to the dead-letter exchange with the reason.
    async fn bury(
        &self,
        job_headers: &FieldTable,
        body: &[u8],
        ids: &JobIds,
        reason: &str,
    ) -> anyhow::Result<()> {
        let failed_before = headers::failed_before(job_headers);
        let h = dead_letter_headers(
            job_headers,
            (&ids.id, &ids.run),
            reason,
            DeathReason::Permanent,
            failed_before,
        );
        let props = amqp::properties(JOB_TYPE, &ids.id, h);
        amqp::publish_confirmed(self.ch, &self.names.dead_exchange, "", body, props)
            .await
            .context("dead-lettering the job")?;
        tracing::error!(
            worker = %self.who, run = %ids.run, job = %ids.id, layer = %ids.layer, field = %ids.field,
            outcome = "dead_lettered", reason = %reason,
            "job failed permanently and was dead-lettered: {reason}"
        );
        Ok(())
    }

    /// A failed delivery of one job (or of a message that did not parse): published again
    /// with the failure counted, or dead-lettered past the limit.
    async fn again(
        &self,
        job_headers: &FieldTable,
        body: &[u8],
        ids: &JobIds,
        error: &str,
    ) -> anyhow::Result<()> {
        let failures = headers::failed_before(job_headers) + 1;
        let (job, run) = (ids.id.as_str(), ids.run.as_str());
        let id = if job == "?" { "unknown" } else { job };
        tracing::warn!(
            worker = %self.who, run = %run, job = %job, layer = %ids.layer, field = %ids.field,
            outcome = "transient", failed_before = failures - 1, "job failed: {error}"
        );
        if failures > self.delivery_limit {
            let reason = format!(
                "delivery limit reached: failed on all {failures} deliveries (--delivery-limit {}); last error: {error}",
                self.delivery_limit
            );
            let h = dead_letter_headers(
                job_headers,
                (job, run),
                &reason,
                DeathReason::DeliveryLimit,
                failures - 1,
            );
            let props = amqp::properties(JOB_TYPE, id, h);
            tracing::error!(job = %job, run = %run, outcome = "dead_lettered", failures,
                "job dead-lettered: {reason}");
            let exchange = &self.names.dead_exchange;
            amqp::publish_confirmed(self.ch, exchange, "", body, props)
                .await
                .context("dead-lettering the failed job")
        } else {
            // The new copy starts the broker's own count afresh.
            let mut h = headers::without(job_headers, headers::BROKER_DELIVERY_COUNT);
            headers::set_count(&mut h, headers::ATTEMPTS, failures);
            let props = amqp::properties(JOB_TYPE, id, h);
            tracing::warn!(job = %job, run = %run, outcome = "requeued", failures,
                limit = self.delivery_limit, "job requeued after failed delivery {failures}");
            let exchange = &self.names.jobs_exchange;
            amqp::publish_confirmed(self.ch, exchange, RENDER_KEY, body, props)
                .await
                .context("requeueing the failed job")
        }
    }
}

async fn ack(delivery: &Delivery) -> anyhow::Result<()> {
    delivery
        .ack(BasicAckOptions::default())
        .await
        .context("acking the job")?;
    Ok(())
}

/// Headers of a dead letter: the reason, the job and run (`?` when unknown), why it died,
/// when it was published and how often it went back to the queue.
fn dead_letter_headers(
    job_headers: &FieldTable,
    (job, run): (&str, &str),
    reason: &str,
    death: DeathReason,
    requeues: u64,
) -> FieldTable {
    let mut h = headers::report(job_headers, requeues);
    headers::set_text(&mut h, "x-tilecast-reason", reason);
    headers::set_text(&mut h, "x-tilecast-job", job);
    headers::set_text(&mut h, "x-tilecast-run", run);
    headers::set_text(&mut h, headers::DEATH, death.label());
    h
}
