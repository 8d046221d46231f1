//! Retention: removing old runs, from the catalog first and then their objects, never a run
//! that is still being rendered.
//!
//! A run is chosen when it is not among the `keep` newest runs (by reference time) of any of
//! its series, and (with `older_than`) its manifest was written longer ago than that (the
//! manifest's modification time, as the store reports it). A chosen
//! run is skipped while it is in progress: its manifest is not written yet (the ledger
//! records the catalog entry just before it), or a `tilecast render` of the same file holds
//! an active marker (`.tilecast/active/<run>`, younger than [`ACTIVE_LEASE`]).
//!
//! Removal is resumable: a tombstone (`.tilecast/pruning/<run>`) is written before the run
//! leaves the catalog and deleted after its last object, and every prune first finishes the
//! runs it finds tombstoned. Objects go in this order: the run's bookkeeping (so no ledger
//! completes it again), its claims, its manifest (so no reader takes it for complete), then
//! everything else under `<run>/`.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::io::store::{PutMeta, Store};
use crate::run::catalog::{self, parse_time, Catalog};

/// How long an active marker of a `tilecast render` keeps its run from being pruned.
pub const ACTIVE_LEASE: Duration = Duration::from_secs(6 * 3600);

/// What to keep.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Rule {
    /// Keep the newest N runs of every series.
    pub keep: Option<usize>,
    /// Remove only runs whose manifest was written longer ago than this.
    pub older_than: Option<Duration>,
}

/// What a prune did (or, dry, would do).
#[derive(Debug, Default, Serialize)]
pub struct Pruned {
    pub runs: Vec<String>,
    /// Chosen runs left alone, and why.
    pub skipped: Vec<(String, String)>,
    pub objects: usize,
}

/// A `tilecast render` in progress (`.tilecast/active/<run>`).
#[derive(Debug, Serialize, Deserialize)]
pub struct ActiveMarker {
    pub pid: u32,
    pub started: String,
}

pub fn active_key(run: &str) -> String {
    format!(".tilecast/active/{run}")
}

fn tombstone_key(run: &str) -> String {
    format!(".tilecast/pruning/{run}")
}

/// The runs `keep` removes (every run when there is no `keep`); the age is checked after.
pub fn select(cat: &Catalog, rule: Rule) -> BTreeSet<String> {
    if rule.keep.is_none() && rule.older_than.is_none() {
        return BTreeSet::new();
    }
    let mut kept = BTreeSet::new();
    if let Some(n) = rule.keep {
        for s in cat.series.values() {
            kept.extend(s.runs.iter().take(n).cloned());
        }
    }
    cat.runs
        .keys()
        .filter(|r| rule.keep.is_none() || !kept.contains(*r))
        .cloned()
        .collect()
}

/// Whether the run's manifest was written longer ago than `age` (false if it has none or the
/// store gives no time).
fn older_than(store: &dyn Store, run: &str, age: Duration, now: SystemTime) -> Result<bool> {
    Ok(store
        .head(&format!("{run}/manifest.json"))?
        .and_then(|o| o.modified)
        .and_then(|t| now.duration_since(t).ok())
        .is_some_and(|a| a > age))
}

/// Why a run cannot be removed now, if it cannot.
fn in_progress(store: &dyn Store, run: &str, now: SystemTime) -> Result<Option<String>> {
    if store.head(&format!("{run}/manifest.json"))?.is_none() {
        return Ok(Some("its manifest is not written yet".into()));
    }
    if let Some(bytes) = store.get(&active_key(run))? {
        let started = serde_json::from_slice::<ActiveMarker>(&bytes)
            .ok()
            .and_then(|m| parse_time(&m.started));
        let fresh = started
            .and_then(|t| now.duration_since(t).ok())
            .is_none_or(|age| age < ACTIVE_LEASE);
        if fresh {
            return Ok(Some("a tilecast render of it is in progress".into()));
        }
    }
    Ok(None)
}

/// Removes what `rule` chooses (with `dry_run`, only says what it would remove).
pub fn prune(store: &dyn Store, rule: Rule, now: SystemTime, dry_run: bool) -> Result<Pruned> {
    let mut out = Pruned::default();
    if !dry_run {
        // Finish what an earlier prune started.
        for o in store.list(".tilecast/pruning/")? {
            let run = o.key.rsplit('/').next().unwrap_or_default().to_string();
            out.objects += delete_run(store, &run)?;
            out.runs.push(run);
        }
    }
    let cat = catalog::read(store)?;
    let mut chosen = BTreeSet::new();
    for run in select(&cat, rule) {
        if let Some(age) = rule.older_than {
            if !older_than(store, &run, age, now)? {
                continue;
            }
        }
        match in_progress(store, &run, now)? {
            Some(why) => out.skipped.push((run, why)),
            None => {
                chosen.insert(run);
            }
        }
    }
    if dry_run || chosen.is_empty() {
        out.runs.extend(chosen);
        return Ok(out);
    }
    for run in &chosen {
        store.put(&tombstone_key(run), b"{}".to_vec(), PutMeta::PRIVATE)?;
    }
    catalog::remove_runs(store, &chosen)?;
    for run in chosen {
        // A render of the same file may have started since it was chosen: leave it be.
        if let Some(why) = in_progress(store, &run, now)?.filter(|w| !w.contains("manifest")) {
            store.delete(&tombstone_key(&run))?;
            out.skipped.push((run, why));
            continue;
        }
        out.objects += delete_run(store, &run)?;
        out.runs.push(run);
    }
    Ok(out)
}

/// Deletes every object of a run, in the order the module documents; returns how many.
fn delete_run(store: &dyn Store, run: &str) -> Result<usize> {
    let mut keys: Vec<String> = store
        .list(&format!(".tilecast/{run}/"))?
        .into_iter()
        .map(|o| o.key)
        .collect();
    keys.extend(
        store
            .list(&format!(".tilecast/claims/{run}"))?
            .into_iter()
            .map(|o| o.key),
    );
    let mut n = delete_all(store, &keys)?;
    store.delete(&format!("{run}/manifest.json"))?;
    let rest: Vec<String> = store
        .list(&format!("{run}/"))?
        .into_iter()
        .map(|o| o.key)
        .collect();
    n += delete_all(store, &rest)?;
    store.delete(&tombstone_key(run))?;
    Ok(n)
}

fn delete_all(store: &dyn Store, keys: &[String]) -> Result<usize> {
    keys.par_iter()
        .with_max_len(1)
        .map(|k| store.delete(k))
        .collect::<Result<Vec<()>>>()
        .map(|v| v.len())
}
