//! The tilecast headers of job, result and dead-letter messages (docs/ARCHITECTURE.md §3.8):
//! when a job was first published, how many of its deliveries failed, how often it went back
//! to the queue and why it died. The worker counts failed deliveries itself instead of relying
//! on the broker's `x-delivery-limit`, whose count RabbitMQ 4.3 stopped raising for
//! `basic.nack` with requeue; the broker's own count (`x-delivery-count`, raised when a worker
//! is lost holding the job) is added to it.

use std::time::{SystemTime, UNIX_EPOCH};

use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};

/// Unix milliseconds when the chunker first published the job; copied to every republished
/// copy, result and dead letter, so the ledger can measure end-to-end latency.
pub const PUBLISHED: &str = "x-tilecast-published";
/// On a job: its deliveries that failed before this copy was published.
pub const ATTEMPTS: &str = "x-tilecast-attempts";
/// On a result or a worker's dead letter: how many times the job went back to the queue.
pub const REQUEUES: &str = "x-tilecast-requeues";
/// On a worker's dead letter: `permanent` or `delivery_limit` (a [`DeathReason`]).
pub const DEATH: &str = "x-tilecast-death";
/// Set by quorum queues on a redelivery: deliveries of this copy that were returned.
pub const BROKER_DELIVERY_COUNT: &str = "x-delivery-count";

/// Why a job is dead: the `reason` label of `tilecast_dead_letters_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeathReason {
    /// The worker found the job unusable (bad message, refused source, bad field, limit).
    Permanent,
    /// Its deliveries failed `--delivery-limit` + 1 times (counted by the worker or, for lost
    /// workers, by the broker).
    DeliveryLimit,
    /// The broker's other reasons: `rejected`, `expired`, `maxlen`.
    Rejected,
    Expired,
    Maxlen,
    /// Anything else, including dead letters without a reason.
    Other,
}

impl DeathReason {
    pub const ALL: [DeathReason; 6] = [
        DeathReason::Permanent,
        DeathReason::DeliveryLimit,
        DeathReason::Rejected,
        DeathReason::Expired,
        DeathReason::Maxlen,
        DeathReason::Other,
    ];

    pub fn label(self) -> &'static str {
        match self {
            DeathReason::Permanent => "permanent",
            DeathReason::DeliveryLimit => "delivery_limit",
            DeathReason::Rejected => "rejected",
            DeathReason::Expired => "expired",
            DeathReason::Maxlen => "maxlen",
            DeathReason::Other => "other",
        }
    }

    /// From a dead letter's headers: the worker's [`DEATH`], else the broker's
    /// `x-first-death-reason`.
    pub fn of(headers: &FieldTable) -> DeathReason {
        let worker = text(headers, DEATH);
        let broker = text(headers, "x-first-death-reason");
        match worker.as_deref().or(broker.as_deref()) {
            Some("permanent") => DeathReason::Permanent,
            Some("delivery_limit") => DeathReason::DeliveryLimit,
            Some("rejected") => DeathReason::Rejected,
            Some("expired") => DeathReason::Expired,
            Some("maxlen") => DeathReason::Maxlen,
            _ => DeathReason::Other,
        }
    }
}

/// A header as text, if it is a string.
pub fn text(headers: &FieldTable, key: &str) -> Option<String> {
    match headers.inner().get(key)? {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.as_str().to_string()),
        _ => None,
    }
}

/// A header as a non-negative count, whatever integer type the sender chose; negative or
/// other values are absent.
pub fn count(headers: &FieldTable, key: &str) -> Option<u64> {
    let v: i128 = match headers.inner().get(key)? {
        AMQPValue::ShortShortInt(v) => (*v).into(),
        AMQPValue::ShortShortUInt(v) => (*v).into(),
        AMQPValue::ShortInt(v) => (*v).into(),
        AMQPValue::ShortUInt(v) => (*v).into(),
        AMQPValue::LongInt(v) => (*v).into(),
        AMQPValue::LongUInt(v) => (*v).into(),
        AMQPValue::LongLongInt(v) => (*v).into(),
        AMQPValue::Timestamp(v) => (*v).into(),
        _ => return None,
    };
    u64::try_from(v).ok()
}

/// Deliveries of this job that failed before the current one: the worker's count carried by
/// the copy, plus the broker's returns of the copy.
pub fn failed_before(headers: &FieldTable) -> u64 {
    count(headers, ATTEMPTS)
        .unwrap_or(0)
        .saturating_add(count(headers, BROKER_DELIVERY_COUNT).unwrap_or(0))
}

/// Times a dead-lettered job went back to the queue: the worker's [`REQUEUES`] when the worker
/// dead-lettered it; for the broker's dead letters, every failed delivery but the last.
pub fn requeues_of_dead(headers: &FieldTable) -> u64 {
    count(headers, REQUEUES).unwrap_or_else(|| failed_before(headers).saturating_sub(1))
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Seconds from the job's first publication to now, when the job says when that was.
pub fn seconds_since_published(headers: &FieldTable) -> Option<f64> {
    let published = count(headers, PUBLISHED)?;
    Some(now_ms().saturating_sub(published) as f64 / 1e3)
}

pub fn set_count(headers: &mut FieldTable, key: &str, v: u64) {
    headers.insert(
        ShortString::from(key),
        AMQPValue::LongLongInt(v.min(i64::MAX as u64) as i64),
    );
}

pub fn set_text(headers: &mut FieldTable, key: &str, v: &str) {
    headers.insert(
        ShortString::from(key),
        AMQPValue::LongString(LongString::from(v)),
    );
}

/// `headers` without `key`.
pub fn without(headers: &FieldTable, key: &str) -> FieldTable {
    let mut m = headers.inner().clone();
    m.remove(key);
    FieldTable::from(m)
}

/// The headers a result or a dead letter of this delivery carries: when the job was
/// published and how often it went back to the queue.
pub fn report(job_headers: &FieldTable, requeues: u64) -> FieldTable {
    let mut h = FieldTable::default();
    if let Some(p) = count(job_headers, PUBLISHED) {
        set_count(&mut h, PUBLISHED, p);
    }
    set_count(&mut h, REQUEUES, requeues);
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(pairs: &[(&str, AMQPValue)]) -> FieldTable {
        let mut t = FieldTable::default();
        for (k, v) in pairs {
            t.insert(ShortString::from(*k), v.clone());
        }
        t
    }

    #[test]
    fn failed_deliveries_add_the_workers_count_and_the_brokers() {
        assert_eq!(failed_before(&FieldTable::default()), 0);
        let t = table(&[
            (ATTEMPTS, AMQPValue::LongLongInt(2)),
            (BROKER_DELIVERY_COUNT, AMQPValue::LongInt(1)),
        ]);
        assert_eq!(failed_before(&t), 3);
        // A negative or non-numeric count is no count.
        let t = table(&[
            (ATTEMPTS, AMQPValue::LongInt(-4)),
            (BROKER_DELIVERY_COUNT, AMQPValue::LongString("x".into())),
        ]);
        assert_eq!(failed_before(&t), 0);
    }

    #[test]
    fn death_reasons_come_from_the_worker_then_the_broker() {
        let t = table(&[(DEATH, AMQPValue::LongString("delivery_limit".into()))]);
        assert_eq!(DeathReason::of(&t), DeathReason::DeliveryLimit);
        let t = table(&[(
            "x-first-death-reason",
            AMQPValue::LongString("delivery_limit".into()),
        )]);
        assert_eq!(DeathReason::of(&t), DeathReason::DeliveryLimit);
        let t = table(&[(
            "x-first-death-reason",
            AMQPValue::LongString("expired".into()),
        )]);
        assert_eq!(DeathReason::of(&t), DeathReason::Expired);
        assert_eq!(DeathReason::of(&FieldTable::default()), DeathReason::Other);
    }

    #[test]
    fn a_broker_dead_letter_was_requeued_once_less_than_it_failed() {
        // The broker dead-lettered a copy returned 6 times after two worker-counted failures.
        let t = table(&[
            (ATTEMPTS, AMQPValue::LongLongInt(2)),
            (BROKER_DELIVERY_COUNT, AMQPValue::LongInt(6)),
        ]);
        assert_eq!(requeues_of_dead(&t), 7);
        let t = table(&[(REQUEUES, AMQPValue::LongLongInt(5))]);
        assert_eq!(requeues_of_dead(&t), 5);
    }
}
