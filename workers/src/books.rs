//! The bookkeeping of distributed runs, kept next to the outputs in `<out>/.tilecast/`:
//!
//! ```text
//! claims/<run>              the chunker took this file (created exclusively)
//! <run>/plan.json           the run plan: layers and job ids (written before any job)
//! <run>/submitted           every job was confirmed by the broker
//! <run>/results/<job>.json  a job's result (written by the worker after its tiles)
//! <run>/dead/<job>.json     a dead-lettered job and why (written by the ledger)
//! ```
//!
//! Keeping this state in the output store rather than in a process makes every part
//! restartable: a redelivered job finds its result and is not rendered again, and a restarted
//! ledger finishes any run whose jobs are all accounted for.

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use anyhow::Context;
use tilecast::job::JobResult;
use tilecast::plan::RunPlan;
use tilecast::render::{assemble, manifest_bytes, tmp_dir, write_atomic};

pub struct Books {
    out: PathBuf,
    root: PathBuf,
}

/// Why a job died, as the ledger records it.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct DeadRecord {
    pub job: String,
    pub reason: String,
}

impl Books {
    pub fn new(out: &Path) -> Books {
        Books {
            out: out.to_path_buf(),
            root: out.join(".tilecast"),
        }
    }

    /// Writes through the output root's temporary directory.
    fn write(&self, path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
        Ok(write_atomic(path, bytes, &tmp_dir(&self.out))?)
    }

    fn run_dir(&self, run: &str) -> PathBuf {
        self.root.join(run)
    }

    /// Claims a run; false when it was already claimed.
    pub fn claim(&self, run: &str) -> anyhow::Result<bool> {
        let dir = self.root.join("claims");
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(dir.join(run))
        {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(e).with_context(|| format!("claiming run {run}")),
        }
    }

    pub fn write_plan(&self, plan: &RunPlan) -> anyhow::Result<()> {
        let bytes = serde_json::to_vec_pretty(plan)?;
        self.write(&self.run_dir(&plan.run).join("plan.json"), &bytes)
    }

    pub fn read_plan(&self, run: &str) -> Option<RunPlan> {
        let bytes = std::fs::read(self.run_dir(run).join("plan.json")).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    pub fn mark_submitted(&self, run: &str) -> anyhow::Result<()> {
        self.write(&self.run_dir(run).join("submitted"), b"")
    }

    pub fn is_submitted(&self, run: &str) -> bool {
        self.run_dir(run).join("submitted").exists()
    }

    pub fn write_result(&self, r: &JobResult) -> anyhow::Result<()> {
        let bytes = serde_json::to_vec(r)?;
        let path = self
            .run_dir(&r.run)
            .join("results")
            .join(format!("{}.json", r.job));
        self.write(&path, &bytes)
    }

    pub fn read_result(&self, run: &str, job: &str) -> Option<JobResult> {
        let bytes = std::fs::read(
            self.run_dir(run)
                .join("results")
                .join(format!("{job}.json")),
        )
        .ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    pub fn write_dead(&self, run: &str, job: &str, reason: &str) -> anyhow::Result<()> {
        let rec = DeadRecord {
            job: job.to_string(),
            reason: reason.to_string(),
        };
        let path = self.run_dir(run).join("dead").join(format!("{job}.json"));
        self.write(&path, &serde_json::to_vec(&rec)?)
    }

    fn read_dead(&self, run: &str, job: &str) -> Option<String> {
        let bytes =
            std::fs::read(self.run_dir(run).join("dead").join(format!("{job}.json"))).ok()?;
        serde_json::from_slice::<DeadRecord>(&bytes)
            .ok()
            .map(|d| d.reason)
    }

    /// Removes temporary files older than `age` (left by processes killed mid-write; a live
    /// writer renames its file within milliseconds). Returns how many were removed.
    pub fn sweep_tmp(&self, age: std::time::Duration) -> usize {
        let Ok(rd) = std::fs::read_dir(tmp_dir(&self.out)) else {
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
            .filter(|e| std::fs::remove_file(e.path()).is_ok())
            .count()
    }

    /// How long ago the run was planned.
    pub fn plan_age(&self, run: &str) -> Option<std::time::Duration> {
        let m = std::fs::metadata(self.run_dir(run).join("plan.json"))
            .ok()?
            .modified()
            .ok()?;
        m.elapsed().ok()
    }

    pub fn has_manifest(&self, run: &str) -> bool {
        self.out.join(run).join("manifest.json").exists()
    }

    /// Runs that have a plan but no manifest yet.
    pub fn open_runs(&self) -> Vec<String> {
        let Ok(rd) = std::fs::read_dir(&self.root) else {
            return Vec::new();
        };
        let mut runs: Vec<String> = rd
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|r| {
                r != "claims" && self.run_dir(r).join("plan.json").exists() && !self.has_manifest(r)
            })
            .collect();
        runs.sort();
        runs
    }

    /// Writes the run's manifest if every job is accounted for. Returns whether it did.
    pub fn try_complete(&self, run: &str) -> anyhow::Result<bool> {
        let Some(plan) = self.read_plan(run) else {
            return Ok(false);
        };
        let mut results = BTreeMap::new();
        let mut dead = BTreeMap::new();
        for j in plan.layers.iter().flat_map(|l| &l.jobs) {
            if let Some(r) = self.read_result(run, &j.id) {
                results.insert(j.id.clone(), r);
            } else if let Some(reason) = self.read_dead(run, &j.id) {
                dead.insert(j.id.clone(), reason);
            } else {
                return Ok(false);
            }
        }
        let Some(m) = assemble(&plan, &results, &dead) else {
            return Ok(false);
        };
        self.write(
            &self.out.join(run).join("manifest.json"),
            &manifest_bytes(&m),
        )?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweep_removes_only_old_temporary_files() {
        let dir = tempfile::tempdir().unwrap();
        let books = Books::new(dir.path());
        let tmp = tmp_dir(dir.path());
        std::fs::create_dir_all(&tmp).unwrap();
        let old = std::fs::File::create(tmp.join("old")).unwrap();
        old.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(7200))
            .unwrap();
        std::fs::write(tmp.join("fresh"), b"x").unwrap();
        assert_eq!(books.sweep_tmp(std::time::Duration::from_secs(3600)), 1);
        assert!(!tmp.join("old").exists() && tmp.join("fresh").exists());
    }
}
