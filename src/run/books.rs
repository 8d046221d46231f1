//! The bookkeeping of distributed runs, kept in the output store next to the outputs
//! (a local directory or a bucket prefix), under `.tilecast/`:
//!
//! ```text
//! claims/<run>[~<n>]        the chunker took this file: created only if absent; ~n are
//!                           takeovers of a claim whose owner went quiet for --claim-lease
//! ingest/<hash of key>.json an ingest object (key, size, etag) and the run it became, so a
//!                           restarted chunker does not fetch and hash it again
//! <run>/plan.json           the run plan: layers and job ids (written before any job)
//! <run>/submitted           every job was confirmed by the broker
//! <run>/results/<job>.json  a job's result (written by the worker after its tiles)
//! <run>/dead/<job>.json     a dead-lettered job and why (written by the ledger)
//! active/<run>              a `tilecast render` of this run is in progress
//! pruning/<run>             a prune is removing this run (run::catalog::prune)
//! ranges/<series>.json      the colour range every step of a series shares
//! locks/<hash of key>       lock files of conditional writes (local directories only)
//! ```
//!
//! Keeping this state in the output store rather than in a process makes every part
//! restartable: a redelivered job finds its result and is not rendered again, and a restarted
//! ledger ([`crate::run::ledger`]) rebuilds what it knew from these records. Errors are the
//! core's: a store that may answer later is transient, and a record that exists but does not
//! parse is a permanent [`Error::Corrupt`] naming its key, never taken for an absent one.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::error::{Error, Result};
use crate::io::store::{tmp_dir, PutMeta, Store};
use crate::run::job::JobResult;
use crate::run::plan::RunPlan;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub struct Books {
    store: Arc<dyn Store>,
}

/// Why a job died, as the ledger records it.
#[derive(Serialize, Deserialize)]
pub struct DeadRecord {
    pub job: String,
    pub reason: String,
}

/// Who holds a run's claim, and since when (seconds since the epoch, the owner's clock).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ClaimRecord {
    pub owner: String,
    pub at: u64,
    pub key: String,
}

/// What [`Books::claim`] found.
#[derive(Debug, PartialEq)]
pub enum Claim {
    /// This chunker created the claim.
    Fresh,
    /// The claim is this chunker's own from before a restart: resume the submission.
    Ours,
    /// The previous owner went quiet for longer than the lease: this chunker took over.
    TakenOver(String),
    /// Another chunker holds the claim and is within its lease.
    Held(String),
}

/// An ingest object that has been handled, and the run it became.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct IngestRecord {
    pub key: String,
    pub size: u64,
    /// ETag of the object, or the modification time of a local file.
    pub fingerprint: String,
    pub run: String,
}

const ROOT: &str = ".tilecast";

fn corrupt(url: &str, e: serde_json::Error) -> Error {
    Error::Corrupt {
        path: PathBuf::from(url),
        reason: format!("unreadable bookkeeping record: {e}"),
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Books {
    pub fn new(store: Arc<dyn Store>) -> Books {
        Books { store }
    }

    fn key(run: &str, rest: &str) -> String {
        format!("{ROOT}/{run}/{rest}")
    }

    fn put(&self, key: &str, bytes: Vec<u8>) -> Result<()> {
        self.store.put(key, bytes, PutMeta::PRIVATE)
    }

    /// A record, `None` when absent; a record that does not parse is an error naming it.
    fn get_json<T: for<'de> Deserialize<'de>>(&self, key: &str) -> Result<Option<T>> {
        match self.store.get(key)? {
            None => Ok(None),
            Some(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|e| corrupt(&self.store.url(key), e)),
        }
    }

    /// The store the books are kept in.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Claims a run for `owner`; see [`Claim`]. A claim older than `lease` whose run is not
    /// submitted is taken over by creating the next generation, which is itself exclusive.
    pub fn claim(&self, run: &str, owner: &str, key: &str, lease: Duration) -> Result<Claim> {
        let record = |at| {
            serde_json::to_vec(&ClaimRecord {
                owner: owner.to_string(),
                at,
                key: key.to_string(),
            })
            .expect("serialisable")
        };
        let base = format!("{ROOT}/claims/{run}");
        if self.store.put_new(&base, record(now_secs()))? {
            return Ok(Claim::Fresh);
        }
        // The newest generation decides.
        let generation = |k: &str| -> Option<u64> {
            let rest = k.strip_prefix(&base)?;
            if rest.is_empty() {
                Some(0)
            } else {
                rest.strip_prefix('~')?.parse().ok()
            }
        };
        let Some((n, current)) = self
            .store
            .list(&base)?
            .iter()
            .filter_map(|o| generation(&o.key).map(|n| (n, o.key.clone())))
            .max()
        else {
            return Err(Error::store(
                self.store.url(&base),
                "list",
                crate::error::StoreFault::Unavailable,
                "the claim exists but is not listed yet",
            ));
        };
        // A claim whose record is empty or does not parse names no owner that could still be
        // working: it is taken over like an expired one.
        let held = self
            .get_json::<ClaimRecord>(&current)
            .or_else(|e| if e.is_permanent() { Ok(None) } else { Err(e) })?
            .unwrap_or_else(|| ClaimRecord {
                owner: "unknown (unreadable claim)".into(),
                at: 0,
                key: String::new(),
            });
        if held.owner == owner {
            return Ok(Claim::Ours);
        }
        if now_secs().saturating_sub(held.at) <= lease.as_secs() {
            return Ok(Claim::Held(held.owner));
        }
        if self
            .store
            .put_new(&format!("{base}~{}", n + 1), record(now_secs()))?
        {
            Ok(Claim::TakenOver(held.owner))
        } else {
            Ok(Claim::Held("another chunker taking over".into()))
        }
    }

    fn ingest_key(key: &str) -> String {
        let h = Sha256::digest(key.as_bytes());
        let hex: String = h[..16].iter().map(|b| format!("{b:02x}")).collect();
        format!("{ROOT}/ingest/{hex}.json")
    }

    /// The record of an ingest key, if it was handled before.
    pub fn ingest_record(&self, key: &str) -> Result<Option<IngestRecord>> {
        Ok(self
            .get_json::<IngestRecord>(&Self::ingest_key(key))?
            .filter(|r| r.key == key))
    }

    pub fn write_ingest_record(&self, r: &IngestRecord) -> Result<()> {
        self.put(
            &Self::ingest_key(&r.key),
            serde_json::to_vec(r).expect("records serialise"),
        )
    }

    pub fn write_plan(&self, plan: &RunPlan) -> Result<()> {
        self.put(
            &Self::key(&plan.run, "plan.json"),
            serde_json::to_vec_pretty(plan).expect("plans serialise"),
        )
    }

    pub fn read_plan(&self, run: &str) -> Result<Option<RunPlan>> {
        self.get_json(&Self::key(run, "plan.json"))
    }

    pub fn mark_submitted(&self, run: &str) -> Result<()> {
        self.put(&Self::key(run, "submitted"), Vec::new())
    }

    pub fn is_submitted(&self, run: &str) -> Result<bool> {
        Ok(self.store.head(&Self::key(run, "submitted"))?.is_some())
    }

    pub fn write_result(&self, r: &JobResult) -> Result<()> {
        let key = Self::key(&r.run, &format!("results/{}.json", r.job));
        self.put(&key, serde_json::to_vec(r).expect("results serialise"))
    }

    pub fn read_result(&self, run: &str, job: &str) -> Result<Option<JobResult>> {
        self.get_json(&Self::key(run, &format!("results/{job}.json")))
    }

    pub fn write_dead(&self, run: &str, job: &str, reason: &str) -> Result<()> {
        let rec = DeadRecord {
            job: job.to_string(),
            reason: reason.to_string(),
        };
        let key = Self::key(run, &format!("dead/{job}.json"));
        self.put(&key, serde_json::to_vec(&rec).expect("records serialise"))
    }

    pub fn read_dead(&self, run: &str, job: &str) -> Result<Option<String>> {
        Ok(self
            .get_json::<DeadRecord>(&Self::key(run, &format!("dead/{job}.json")))?
            .map(|d| d.reason))
    }

    /// The job ids with a record under `<run>/<dir>/`.
    pub fn recorded(&self, run: &str, dir: &str) -> Result<HashSet<String>> {
        let prefix = Self::key(run, &format!("{dir}/"));
        Ok(self
            .store
            .list(&prefix)?
            .into_iter()
            .filter_map(|o| {
                o.key
                    .strip_prefix(&prefix)?
                    .strip_suffix(".json")
                    .map(str::to_string)
            })
            .collect())
    }

    /// Removes temporary files and folders older than `age` from a local output root (left
    /// by processes killed mid-write; a live writer renames its file within milliseconds).
    /// Buckets have none. Returns how many were removed.
    pub fn sweep_tmp(&self, age: Duration) -> usize {
        let Some(root) = self.store.local_root() else {
            return 0;
        };
        let Ok(rd) = std::fs::read_dir(tmp_dir(root)) else {
            return 0;
        };
        rd.flatten()
            .filter(|e| {
                e.metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|a| a > age)
            })
            .filter(|e| {
                // A PMTiles assembly's work directory (crate::run::archive) is a folder.
                let p = e.path();
                if p.is_dir() {
                    std::fs::remove_dir_all(p).is_ok()
                } else {
                    std::fs::remove_file(p).is_ok()
                }
            })
            .count()
    }

    /// When the run was planned (its plan's modification time), if the store keeps times.
    pub fn plan_time(&self, run: &str) -> Result<Option<SystemTime>> {
        Ok(self
            .store
            .head(&Self::key(run, "plan.json"))?
            .and_then(|i| i.modified))
    }

    pub fn has_manifest(&self, run: &str) -> Result<bool> {
        Ok(self.store.head(&format!("{run}/manifest.json"))?.is_some())
    }

    /// Every run the bookkeeping has a folder for (one listing).
    pub fn run_dirs(&self) -> Result<Vec<String>> {
        Ok(self
            .store
            .list_dirs(&format!("{ROOT}/"))?
            .into_iter()
            .filter(|r| {
                !matches!(
                    r.as_str(),
                    "claims" | "ingest" | "tmp" | "locks" | "active" | "pruning" | "ranges"
                )
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::store::LocalStore;

    fn books(dir: &std::path::Path) -> Books {
        Books::new(Arc::new(LocalStore::new(dir)))
    }

    #[test]
    fn sweep_removes_only_old_temporary_files() {
        let dir = tempfile::tempdir().unwrap();
        let books = books(dir.path());
        let tmp = tmp_dir(dir.path());
        std::fs::create_dir_all(&tmp).unwrap();
        let old = std::fs::File::create(tmp.join("old")).unwrap();
        old.set_modified(SystemTime::now() - Duration::from_secs(7200))
            .unwrap();
        std::fs::write(tmp.join("fresh"), b"x").unwrap();
        assert_eq!(books.sweep_tmp(Duration::from_secs(3600)), 1);
        assert!(!tmp.join("old").exists() && tmp.join("fresh").exists());
    }

    #[test]
    fn claims_are_exclusive_resumable_and_taken_over_after_the_lease() {
        let dir = tempfile::tempdir().unwrap();
        let books = books(dir.path());
        let lease = Duration::from_secs(600);
        assert_eq!(books.claim("r", "a", "k", lease).unwrap(), Claim::Fresh);
        assert_eq!(books.claim("r", "a", "k", lease).unwrap(), Claim::Ours);
        assert_eq!(
            books.claim("r", "b", "k", lease).unwrap(),
            Claim::Held("a".into())
        );
        // With a zero lease (and a second gone by) b takes over, and then holds it.
        std::thread::sleep(Duration::from_millis(1100));
        let zero = Duration::ZERO;
        assert_eq!(
            books.claim("r", "b", "k", zero).unwrap(),
            Claim::TakenOver("a".into())
        );
        assert_eq!(books.claim("r", "b", "k", zero).unwrap(), Claim::Ours);
        assert_eq!(
            books.claim("r", "a", "k", lease).unwrap(),
            Claim::Held("b".into())
        );
    }

    #[test]
    fn an_unreadable_claim_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let claims = dir.path().join(".tilecast/claims");
        std::fs::create_dir_all(&claims).unwrap();
        std::fs::write(claims.join("r"), b"").unwrap();
        let books = books(dir.path());
        assert!(matches!(
            books
                .claim("r", "a", "k", Duration::from_secs(600))
                .unwrap(),
            Claim::TakenOver(_)
        ));
        assert_eq!(
            books
                .claim("r", "a", "k", Duration::from_secs(600))
                .unwrap(),
            Claim::Ours
        );
    }

    #[test]
    fn ingest_records_round_trip_by_key() {
        let dir = tempfile::tempdir().unwrap();
        let books = books(dir.path());
        let r = IngestRecord {
            key: "gfs/f000.grib2".into(),
            size: 10,
            fingerprint: "\"abc\"".into(),
            run: "0123".into(),
        };
        books.write_ingest_record(&r).unwrap();
        assert_eq!(books.ingest_record("gfs/f000.grib2").unwrap(), Some(r));
        assert_eq!(books.ingest_record("gfs/f001.grib2").unwrap(), None);
    }
}
