//! Job messages of version 2, **batches**: several small jobs of one run in one message, so
//! a file of many small layers costs one delivery, one process and one ack per batch rather
//! than per job (docs/ARCHITECTURE.md 3.5). The jobs themselves, their ids, results and
//! bookkeeping are those of version 1: a batch only carries them.
//!
//! The chunker packs consecutive jobs of a plan into messages ([`pack`]) while their tiles add
//! up to at most a budget; a worker parses either version with [`parse_message`] and gets the
//! jobs.

use std::ops::Range;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::run::job::{check_size, Job, JobError, VersionOnly, JOB_TYPE, JOB_VERSION};
use crate::run::plan::TileRange;

/// The `version` of a batch message.
pub const BATCH_VERSION: u32 = 2;
/// The AMQP `type` of a batch message.
pub const BATCH_TYPE: &str = "tilecast.job.v2";
/// Jobs in one batch, at most.
pub const MAX_BATCH_JOBS: usize = 64;
/// What a meta job's full-frame image, legend and documents weigh, in tiles.
const META_WEIGHT: u64 = 1;

/// A batch as parsed, its version already read.
#[derive(Deserialize)]
struct Batch {
    jobs: Vec<Job>,
}

/// The jobs of a message of either version: one for version 1, 2 to [`MAX_BATCH_JOBS`]
/// version-1 jobs of one run and output root, with distinct ids, for version 2. Pure, like
/// [`Job::parse`]: nothing the message names is opened. Any error is permanent.
pub fn parse_message(body: &[u8]) -> Result<Vec<Job>, JobError> {
    check_size(body)?;
    let v: VersionOnly = serde_json::from_slice(body)?;
    match v.version {
        JOB_VERSION => Ok(vec![Job::parse(body)?]),
        BATCH_VERSION => {
            let b: Batch = serde_json::from_slice(body)?;
            check_batch(&b.jobs)?;
            Ok(b.jobs)
        }
        other => Err(JobError::Version(other)),
    }
}

fn check_batch(jobs: &[Job]) -> Result<(), JobError> {
    let invalid = |reason: String| JobError::Invalid {
        id: "?".into(),
        reason,
    };
    if jobs.len() < 2 || jobs.len() > MAX_BATCH_JOBS {
        return Err(invalid(format!(
            "a batch of {} jobs (2 to {MAX_BATCH_JOBS})",
            jobs.len()
        )));
    }
    let mut ids = std::collections::HashSet::new();
    for j in jobs {
        if j.version != JOB_VERSION {
            return Err(JobError::Version(j.version));
        }
        j.validate()?;
        if j.run != jobs[0].run || j.out != jobs[0].out {
            return Err(invalid(format!(
                "job {} of a batch of run {} belongs to run {} (or another output root)",
                j.id, jobs[0].run, j.run
            )));
        }
        if !ids.insert(j.id.as_str()) {
            return Err(invalid(format!("job {} twice in one batch", j.id)));
        }
    }
    Ok(())
}

/// The message id of a batch: the first 16 bytes of sha256 over its job ids, in hex (a name).
pub fn batch_id(jobs: &[Job]) -> String {
    let mut h = Sha256::new();
    for j in jobs {
        h.update(j.id.as_bytes());
        h.update([0]);
    }
    h.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What a job weighs when batching: its tiles, plus [`META_WEIGHT`] for a meta job.
pub fn weight(job: &Job) -> u64 {
    let tiles: usize = job.tiles.iter().map(TileRange::len).sum();
    tiles as u64 + if job.meta { META_WEIGHT } else { 0 }
}

/// One message to publish: a job alone (version 1) or a batch (version 2).
pub struct Message {
    /// The AMQP `type`: [`JOB_TYPE`] or [`BATCH_TYPE`].
    pub kind: &'static str,
    /// The `message_id`: the job's id, or the [`batch_id`].
    pub id: String,
    pub body: Vec<u8>,
    /// Which of the packed jobs it carries.
    pub jobs: Range<usize>,
}

/// `jobs` in messages, in order: a message takes the next job while the weights add up to at
/// most `budget`, it holds fewer than [`MAX_BATCH_JOBS`] and its body stays within the
/// message limit; a job heavier than the budget goes alone, and a budget of 0 sends every
/// job alone. Each job is serialised once; a batch's body is its jobs' bodies in the batch
/// envelope.
pub fn pack(jobs: &[Job], budget: u64) -> Vec<Message> {
    let mut bodies: Vec<Vec<u8>> = jobs.iter().map(Job::to_json).collect();
    let ranges = group(jobs, &bodies, budget);
    ranges
        .into_iter()
        .map(|r| match r.len() {
            1 => Message {
                kind: JOB_TYPE,
                id: jobs[r.start].id.clone(),
                body: std::mem::take(&mut bodies[r.start]),
                jobs: r,
            },
            _ => {
                let mut body = format!("{{\"version\":{BATCH_VERSION},\"jobs\":[").into_bytes();
                for (k, b) in bodies[r.clone()].iter().enumerate() {
                    if k > 0 {
                        body.push(b',');
                    }
                    body.extend_from_slice(b);
                }
                body.extend_from_slice(b"]}");
                Message {
                    kind: BATCH_TYPE,
                    id: batch_id(&jobs[r.clone()]),
                    body,
                    jobs: r,
                }
            }
        })
        .collect()
}

/// The ranges of [`pack`], from the jobs' weights and their bodies' sizes.
fn group(jobs: &[Job], bodies: &[Vec<u8>], budget: u64) -> Vec<Range<usize>> {
    // The batch envelope, generously.
    const ENVELOPE: usize = 64;
    let mut out = Vec::new();
    let mut start = 0;
    let (mut load, mut bytes) = (0u64, ENVELOPE);
    for (i, (j, body)) in jobs.iter().zip(bodies).enumerate() {
        let (w, b) = (weight(j), body.len() + 1);
        let fits = load + w <= budget
            && i - start < MAX_BATCH_JOBS
            && bytes + b <= crate::limits::MAX_MESSAGE_BYTES;
        if i > start && !fits {
            out.push(start..i);
            start = i;
            (load, bytes) = (0, ENVELOPE);
        }
        load += w;
        bytes += b;
    }
    if start < jobs.len() {
        out.push(start..jobs.len());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::job::tests::job;

    /// The body of a batch of any `jobs`, as serde writes it.
    fn batch_json(jobs: &[Job]) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({"version": BATCH_VERSION, "jobs": jobs})).unwrap()
    }

    fn ranges(jobs: &[Job], budget: u64) -> Vec<Range<usize>> {
        pack(jobs, budget).into_iter().map(|m| m.jobs).collect()
    }

    fn jobs(n: usize) -> Vec<Job> {
        (0..n)
            .map(|i| Job {
                id: format!("{i:032x}"),
                tiles: vec![TileRange {
                    z: 0,
                    x0: 0,
                    x1: 0,
                    y0: 0,
                    y1: 0,
                }],
                ..job()
            })
            .collect()
    }

    #[test]
    fn a_batch_round_trips_and_a_single_job_is_a_batch_of_one() {
        let js = jobs(3);
        assert_eq!(parse_message(&batch_json(&js)).unwrap(), js);
        let packed = pack(&js, 1000);
        assert_eq!(packed.len(), 1);
        assert_eq!(
            (packed[0].kind, &packed[0].id),
            (BATCH_TYPE, &batch_id(&js))
        );
        assert_eq!(parse_message(&packed[0].body).unwrap(), js);
        let alone = pack(&js, 0);
        assert_eq!((alone[1].kind, &alone[1].id), (JOB_TYPE, &js[1].id));
        assert_eq!(alone[1].body, js[1].to_json());
        assert_eq!(
            parse_message(&js[1].to_json()).unwrap(),
            vec![js[1].clone()]
        );
        let id = batch_id(&js);
        assert!(crate::run::job::is_name(&id) && id.len() == 32);
        assert_ne!(id, batch_id(&js[..2]));
    }

    #[test]
    fn bad_batches_are_refused() {
        let js = jobs(3);
        let refused = |body: Vec<u8>, what: &str| {
            let e = parse_message(&body).unwrap_err().to_string();
            assert!(e.contains(what), "{e}");
        };
        refused(batch_json(&js[..1]), "a batch of 1 jobs");
        refused(batch_json(&jobs(MAX_BATCH_JOBS + 1)), "a batch of 65 jobs");
        let mut other = js.clone();
        other[2].run = "another-run".into();
        refused(batch_json(&other), "belongs to run another-run");
        let mut twice = js.clone();
        twice[2].id = twice[0].id.clone();
        refused(batch_json(&twice), "twice in one batch");
        let mut bad = js.clone();
        bad[1].layer = "../up".into();
        refused(batch_json(&bad), "names of 1-200 characters");
        let mut future = js.clone();
        future[0].version = 3;
        refused(batch_json(&future), "unsupported job version 3");
        refused(br#"{"version": 2, "jobs": "no"}"#.to_vec(), "malformed");
        refused(br#"{"version": 9}"#.to_vec(), "unsupported job version 9");
        let big = vec![b' '; crate::limits::MAX_MESSAGE_BYTES + 1];
        refused(big, "at most");
    }

    #[test]
    fn groups_follow_the_budget_the_job_limit_and_plan_order() {
        // job() is one meta job of one tile: weight 2.
        let js = jobs(10);
        assert_eq!(weight(&js[0]), 2);
        assert_eq!(ranges(&js, 6), vec![0..3, 3..6, 6..9, 9..10]);
        assert_eq!(
            ranges(&js, 0),
            (0..10).map(|i| i..i + 1).collect::<Vec<_>>()
        );
        assert_eq!(ranges(&js, 1), ranges(&js, 0));
        assert_eq!(ranges(&js, 1000), vec![0..10]);
        assert_eq!(pack(&jobs(MAX_BATCH_JOBS + 1), 1 << 20).len(), 2);
        assert!(pack(&[], 16).is_empty());
        // A heavy job goes alone, and its neighbours batch around it.
        let mut mixed = jobs(5);
        mixed[2].tiles[0] = TileRange {
            z: 2,
            x0: 0,
            x1: 1,
            y0: 0,
            y1: 3,
        };
        assert_eq!(weight(&mixed[2]), 9);
        assert_eq!(ranges(&mixed, 4), vec![0..2, 2..3, 3..5]);
    }
}
