//! The ledger's state: which jobs of each open run are accounted for, and the manifest of a
//! run as soon as every job has a result or is dead.
//!
//! State is kept in memory and rebuilt from the bookkeeping ([`crate::run::books`]) when a
//! run is first met, so recording a result costs no store request and a run's records are
//! read once per ledger process, not once per result: a run of n jobs costs O(n) requests in
//! all. A run whose jobs stop reporting for a while is re-read from the bookkeeping
//! ([`Ledger::recheck`]), which covers result messages lost with a broker restart and results
//! taken by another ledger. The `tilecast ledger` command feeds it from the broker.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant, SystemTime};

use crate::error::Result;
use crate::io::store::PutMeta;
use crate::run::archive;
use crate::run::books::Books;
use crate::run::job::JobResult;
use crate::run::manifest::{assemble, manifest_bytes};
use crate::run::plan::RunPlan;

/// Threads reading a run's records when it is first met: on a bucket each is a request.
const READERS: usize = 16;

/// Where a run stands after an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    /// Jobs are still waiting for a result or a death.
    Open { waiting: usize },
    /// The manifest was written just now.
    Completed,
    /// The manifest was already there.
    Complete,
    /// No plan: not a run of this output store.
    Unknown,
    /// A result about another layer than the one the plan gives its job: not taken.
    Refused,
}

struct OpenRun {
    plan: RunPlan,
    /// Jobs of the plan with neither a result nor a death, and the index of each one's layer
    /// in the plan.
    waiting: HashMap<String, usize>,
    results: BTreeMap<String, JobResult>,
    dead: BTreeMap<String, String>,
    /// When the plan was written, for the age of the oldest open run.
    planned: Option<SystemTime>,
    /// When this ledger last learned something about the run.
    touched: Instant,
}

impl OpenRun {
    /// Whether `r` is about the layer the plan gives its job, if it is waiting (a result
    /// naming another layer would put its entry, and its files, under that layer's name).
    fn fits_plan(&self, r: &JobResult) -> bool {
        self.waiting
            .get(&r.job)
            .is_none_or(|&l| self.plan.layers[l].name == r.layer)
    }

    fn accept_result(&mut self, r: JobResult) {
        if self.waiting.remove(&r.job).is_some() {
            self.results.insert(r.job.clone(), r);
        }
        self.touched = Instant::now();
    }

    fn accept_dead(&mut self, job: &str, reason: String) {
        if self.waiting.remove(job).is_some() {
            self.dead.insert(job.to_string(), reason);
        }
        self.touched = Instant::now();
    }
}

/// The ledger of one output store.
pub struct Ledger {
    books: Books,
    open: HashMap<String, OpenRun>,
    /// Runs known to have their manifest: never read again.
    complete: HashSet<String>,
    /// Plan-to-manifest times of runs completed since [`Ledger::take_run_durations`].
    durations: Vec<Duration>,
}

impl Ledger {
    pub fn new(books: Books) -> Ledger {
        Ledger {
            books,
            open: HashMap::new(),
            complete: HashSet::new(),
            durations: Vec::new(),
        }
    }

    pub fn books(&self) -> &Books {
        &self.books
    }

    /// Records a job's result, which its worker stored before publishing it. Costs no store
    /// request unless the run is new to this ledger, or this result completes it.
    pub fn record_result(&mut self, r: JobResult) -> Result<RunState> {
        let run = r.run.clone();
        match self.load(&run)? {
            RunState::Open { .. } => {}
            state => return Ok(state),
        }
        let open = self.open.get_mut(&run).expect("loaded");
        if !open.fits_plan(&r) {
            return Ok(RunState::Refused);
        }
        open.accept_result(r);
        self.settle(&run)
    }

    /// Records that a job died and why; the record is stored first (it is the only trace
    /// of the death). A job that is not in the run's plan is not recorded, and a job whose
    /// result is stored (a batch that died after some of its jobs were done, a notice not
    /// yet heard) counts as done: one read of its result record per death.
    pub fn record_dead(&mut self, run: &str, job: &str, reason: &str) -> Result<RunState> {
        match self.load(run)? {
            RunState::Open { .. } => {}
            state => return Ok(state),
        }
        let open = self.open.get_mut(run).expect("loaded");
        if open.waiting.contains_key(job) {
            let stored = match self.books.read_result(run, job) {
                Ok(r) => r.filter(|r| open.fits_plan(r)),
                // A record that does not parse vouches for nothing.
                Err(e) if e.is_permanent() => None,
                Err(e) => return Err(e),
            };
            match stored {
                Some(r) => open.accept_result(r),
                None => {
                    self.books.write_dead(run, job, reason)?;
                    open.accept_dead(job, reason.to_string());
                }
            }
        }
        self.settle(run)
    }

    /// Finds runs this ledger has not met (one listing of the bookkeeping, plus two requests
    /// per new run), and re-reads the records of open runs nothing was heard of for `idle`.
    /// Returns the runs that changed state, with their state.
    pub fn recheck(&mut self, idle: Duration) -> Result<Vec<(String, RunState)>> {
        let mut changed = Vec::new();
        for run in self.books.run_dirs()? {
            if self.complete.contains(&run) || self.open.contains_key(&run) {
                continue;
            }
            let state = self.load(&run)?;
            if state == RunState::Completed || matches!(state, RunState::Open { .. }) {
                changed.push((run, state));
            }
        }
        let stale: Vec<String> = self
            .open
            .iter()
            .filter(|(_, o)| o.touched.elapsed() >= idle)
            .map(|(run, _)| run.clone())
            .collect();
        for run in stale {
            let before = self.waiting(&run);
            self.reread(&run)?;
            let state = self.settle(&run)?;
            if state == RunState::Completed || self.waiting(&run) != before {
                changed.push((run, state));
            }
        }
        Ok(changed)
    }

    /// Open runs, and the age of the oldest (from its plan's time).
    pub fn open_runs(&self) -> (usize, Duration) {
        let oldest = self
            .open
            .values()
            .filter_map(|o| o.planned?.elapsed().ok())
            .max()
            .unwrap_or_default();
        (self.open.len(), oldest)
    }

    /// How long the runs completed since the last call took, from their plan to their
    /// manifest (runs whose plan time the store does not give are left out).
    pub fn take_run_durations(&mut self) -> Vec<Duration> {
        std::mem::take(&mut self.durations)
    }

    fn waiting(&self, run: &str) -> Option<usize> {
        self.open.get(run).map(|o| o.waiting.len())
    }

    /// Brings a run into memory if it is not there: its manifest (if any), its plan and the
    /// records of its jobs.
    fn load(&mut self, run: &str) -> Result<RunState> {
        if self.complete.contains(run) {
            return Ok(RunState::Complete);
        }
        if let Some(o) = self.open.get(run) {
            return Ok(RunState::Open {
                waiting: o.waiting.len(),
            });
        }
        if self.books.has_manifest(run)? {
            // A ledger stopped between a manifest and deleting the run's parts left them (one
            // listing, empty for runs without archives).
            archive::delete_parts(self.books.store().as_ref(), run)?;
            self.complete.insert(run.to_string());
            return Ok(RunState::Complete);
        }
        let Some(plan) = self.books.read_plan(run)? else {
            return Ok(RunState::Unknown);
        };
        let planned = self.books.plan_time(run)?;
        let waiting = plan
            .layers
            .iter()
            .enumerate()
            .flat_map(|(i, l)| l.jobs.iter().map(move |j| (j.id.clone(), i)))
            .collect();
        self.open.insert(
            run.to_string(),
            OpenRun {
                plan,
                waiting,
                results: BTreeMap::new(),
                dead: BTreeMap::new(),
                planned,
                touched: Instant::now(),
            },
        );
        self.reread(run)?;
        self.settle(run)
    }

    /// Reads the records of the run's waiting jobs that the bookkeeping lists.
    fn reread(&mut self, run: &str) -> Result<()> {
        let open = self.open.get_mut(run).expect("loaded");
        let done = self.books.recorded(run, "results")?;
        let dead = self.books.recorded(run, "dead")?;
        let ids: Vec<&String> = open
            .waiting
            .keys()
            .filter(|j| done.contains(*j) || dead.contains(*j))
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        let books = &self.books;
        let read = |id: &str| -> Result<Record> {
            Ok(if let Some(r) = books.read_result(run, id)? {
                Record::Done(Box::new(r))
            } else if let Some(reason) = books.read_dead(run, id)? {
                Record::Dead(reason)
            } else {
                Record::Missing
            })
        };
        let per_thread = ids.len().div_ceil(READERS).max(1);
        let records: Vec<(String, Result<Record>)> = std::thread::scope(|scope| {
            let handles: Vec<_> = ids
                .chunks(per_thread)
                .map(|chunk| {
                    scope.spawn(move || {
                        chunk
                            .iter()
                            .map(|id| (id.to_string(), read(id)))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("record reader panicked"))
                .collect()
        });
        for (id, record) in records {
            match record? {
                // A record under a job's key names that job and run, or it is not its record.
                Record::Done(r) if r.job == id && r.run == run && open.fits_plan(&r) => {
                    open.accept_result(*r)
                }
                Record::Done(_) | Record::Missing => {}
                Record::Dead(reason) => open.accept_dead(&id, reason),
            }
        }
        Ok(())
    }

    /// Writes the run's manifest when no job is waiting any more.
    fn settle(&mut self, run: &str) -> Result<RunState> {
        let open = self.open.get(run).expect("loaded");
        if !open.waiting.is_empty() {
            return Ok(RunState::Open {
                waiting: open.waiting.len(),
            });
        }
        let mut m = assemble(&open.plan, &open.results, &open.dead)
            .expect("every job has a result or is dead");
        let store = self.books.store().as_ref();
        // Every tile was written before its job's result, so the archives (from the jobs'
        // parts), the catalog entry and then the manifest come last: a ledger stopped in
        // between settles the run again, and the same parts give the same archives.
        archive::assemble_run(store, &open.plan, &mut m)?;
        crate::run::catalog::record_run(store, &m)?;
        store.put(
            &format!("{run}/manifest.json"),
            manifest_bytes(&m),
            PutMeta::JSON,
        )?;
        if open.plan.settings.format.archives() {
            archive::delete_parts(store, run)?;
        }
        if let Some(o) = self.open.remove(run) {
            self.durations
                .extend(o.planned.and_then(|p| p.elapsed().ok()));
        }
        self.complete.insert(run.to_string());
        Ok(RunState::Completed)
    }
}

/// A job's record in the books.
enum Record {
    Done(Box<JobResult>),
    Dead(String),
    Missing,
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::io::store::LocalStore;
    use crate::run::job::JobResult;
    use crate::settings::RenderSettings;

    /// A job whose result is stored when its death is heard of (a batch dead-lettered whole
    /// after some of its jobs were done) counts as done: no dead record, no failure.
    #[test]
    fn a_death_of_a_job_whose_result_is_stored_counts_as_done() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn crate::io::store::Store> = Arc::new(LocalStore::new(dir.path()));
        let books = Books::new(store.clone());
        let sample =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-data/global_t2m.grib2");
        let settings = RenderSettings {
            zoom: Some((0, 1)),
            ..RenderSettings::default()
        };
        let (_, plan) = crate::run::local::plan_file(&sample, &settings, 1).unwrap();
        let layer = &plan.layers[0];
        assert!(layer.jobs.len() >= 3);
        books.write_plan(&plan).unwrap();
        let (done, dead) = (&layer.jobs[1].id, &layer.jobs[2].id);
        books
            .write_result(&JobResult {
                version: 1,
                job: done.clone(),
                run: plan.run.clone(),
                layer: layer.name.clone(),
                tiles: 1,
                bytes: 1,
                entry: None,
                seconds: Default::default(),
                outcome: "done".into(),
            })
            .unwrap();
        let mut ledger = Ledger::new(Books::new(store));
        let waiting = layer.jobs.len();
        let state = ledger.record_dead(&plan.run, done, "batch died").unwrap();
        assert!(matches!(state, RunState::Open { waiting: w } if w == waiting - 1));
        assert_eq!(books.read_dead(&plan.run, done).unwrap(), None);
        let state = ledger.record_dead(&plan.run, dead, "batch died").unwrap();
        assert!(matches!(state, RunState::Open { waiting: w } if w == waiting - 2));
        assert_eq!(
            books.read_dead(&plan.run, dead).unwrap().as_deref(),
            Some("batch died")
        );
    }
}
