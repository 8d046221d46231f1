//! Submitting one file: skip it if its content was handled before, hash it, claim its run,
//! plan its jobs (or resume a claimed plan), publish them with confirms, and record it.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use lapin::types::FieldTable;
use tilecast::decode::{inventory, FileFields};
use tilecast::run::batch;
use tilecast::run::job::Job;
use tilecast::run::plan::{plan_run, run_id, sha256_file, source_of, RunPlan};
use tilecast::settings::RenderSettings;

use super::{Candidate, Failure, Session, Stages, Watcher};
use crate::infra::amqp::{self, RENDER_KEY};
use crate::infra::headers;
use tilecast::run::books::{Claim, IngestRecord};

impl Watcher {
    /// Claims, plans and publishes one file; returns a summary for the log.
    /// Adds the seconds of each step to `took`.
    pub(super) async fn handle(
        &self,
        c: &Candidate,
        session: &Session,
        took: &mut Stages,
    ) -> Result<String, Failure> {
        let later = |e: anyhow::Error| Failure::Later(e);
        let file = |e: anyhow::Error| Failure::File(e);
        // Bookkeeping that cannot be read or written now is tried again later.
        let books = |e: tilecast::Error| Failure::Later(e.into());
        let mut t = Instant::now();
        let lap = |t: &mut Instant| {
            let s = t.elapsed().as_secs_f64();
            *t = Instant::now();
            s
        };
        let record = self.books.ingest_record(&c.key).or_else(|e| {
            // A record that exists but does not parse is not the file's fault: the file is
            // handled again and the record rewritten.
            if e.is_permanent() {
                tracing::warn!(component = "chunker", key = %c.key, error = %e, "unreadable ingest record; handling the file again");
                Ok(None)
            } else {
                Err(books(e))
            }
        })?;
        if let Some(r) = record {
            if r.size == c.size && r.fingerprint == c.fingerprint {
                return Ok(if r.run.is_empty() {
                    "handled before (not a file tilecast reads); skipped".into()
                } else {
                    format!("handled before as run {}; skipped", r.run)
                });
            }
        }
        took.books += lap(&mut t);
        // A local file is read in place; an object is streamed to a spool file first.
        let mut spool = None;
        let (path, uri, etag) = match self.ingest.local_root() {
            Some(root) => {
                // The listing skips symbolic links, but a file can be replaced by one after
                // it: the file is read by its real path, which must be inside the ingest
                // directory (workers accept only plain absolute paths inside their roots).
                let p = root.join(&c.key);
                let real = std::fs::canonicalize(&p)
                    .with_context(|| format!("{}: resolving its path", p.display()))
                    .map_err(later)?;
                let real_root = std::fs::canonicalize(root)
                    .with_context(|| format!("{}: resolving the ingest directory", root.display()))
                    .map_err(later)?;
                if !real.starts_with(&real_root) {
                    return Err(file(anyhow::anyhow!(
                        "{}: a symbolic link out of the ingest directory {} (to {}); not read",
                        p.display(),
                        root.display(),
                        real.display()
                    )));
                }
                let uri = real.to_string_lossy().into_owned();
                (real, uri, None)
            }
            None => {
                // Spooling an object larger than the scratch space would get the pod evicted,
                // and the restarted chunker would resume the same claim: refuse it instead.
                let max = self.args.max_object_mb.saturating_mul(1 << 20);
                if c.size > max {
                    return Err(file(anyhow::anyhow!(
                        "{}: {} bytes is more than --max-object-mb {} MB (the spool space); \
                         raise it and the chart's storage.largestObjectMiB to read it",
                        self.ingest.url(&c.key),
                        c.size,
                        self.args.max_object_mb
                    )));
                }
                let dir = tempfile::Builder::new()
                    .prefix("tilecast-spool-")
                    .tempdir_in(
                        self.args
                            .spool_dir
                            .clone()
                            .unwrap_or_else(std::env::temp_dir),
                    )
                    .context("creating a spool directory")
                    .map_err(later)?;
                let name = c.key.rsplit('/').next().unwrap_or("object");
                let p = dir.path().join(name);
                spool = Some(dir);
                let (store, key, dest) = (self.ingest.clone(), c.key.clone(), p.clone());
                let info = tokio::task::spawn_blocking(move || store.download(&key, &dest))
                    .await
                    .map_err(|e| later(e.into()))?
                    .map_err(Failure::of_store)?;
                (p, self.ingest.url(&c.key), info.etag)
            }
        };
        let hashed = {
            let p = path.clone();
            match tokio::task::spawn_blocking(move || sha256_file(&p))
                .await
                .map_err(|e| later(e.into()))?
            {
                Ok(h) => h,
                // A device or FIFO in the ingest location is a bad file; a read error may pass.
                Err(e) if e.is_permanent() => return Err(file(e.into())),
                Err(e) => return Err(later(e.into())),
            }
        };
        let (sha, size) = hashed;
        took.hash += lap(&mut t);
        let run = run_id(&sha, &self.settings);
        let record = IngestRecord {
            key: c.key.clone(),
            size: c.size,
            fingerprint: c.fingerprint.clone(),
            run: run.clone(),
        };
        if self.books.is_submitted(&run).map_err(books)? {
            self.metrics().files_duplicate.inc();
            self.books.write_ingest_record(&record).map_err(books)?;
            return Ok(format!(
                "same content as run {run}, already submitted; skipped"
            ));
        }
        let lease = Duration::from_secs_f64(self.args.claim_lease.max(0.0));
        let claim = self
            .books
            .claim(&run, &self.instance, &c.key, lease)
            .map_err(books)?;
        if let Claim::Held(owner) = &claim {
            return Err(later(anyhow::anyhow!(
                "run {run} is claimed by chunker {owner}"
            )));
        }
        let existing = match claim {
            Claim::Fresh => None,
            // A plan that does not parse is made again (and rewritten).
            _ => match self.books.read_plan(&run) {
                Err(e) if e.is_permanent() => None,
                r => r.map_err(books)?,
            },
        };
        took.books += lap(&mut t);
        let plan = match existing {
            // A resumed plan keeps the base URL it was made with: some of its jobs may be out.
            Some(p) => p,
            None => {
                let (settings, job_tiles) = (self.settings.clone(), self.args.job_tiles);
                let p = tokio::task::spawn_blocking(move || {
                    plan_file(&path, sha, size, uri, etag, &settings, job_tiles)
                })
                .await
                .map_err(|e| later(e.into()))?
                // Only a file that can never be planned is recorded as bad; a read that
                // failed is tried again.
                .map_err(|e| {
                    if e.is_permanent() {
                        file(e.into())
                    } else {
                        later(e.into())
                    }
                })?;
                let p = RunPlan {
                    base_url: self.base_url.clone(),
                    ..p
                };
                took.plan += lap(&mut t);
                self.books.write_plan(&p).map_err(books)?;
                p
            }
        };
        drop(spool);
        let jobs = Job::from_plan(&plan, &self.out_root);
        took.books += lap(&mut t);
        let messages = publish(&jobs, self.args.batch_tiles, session)
            .await
            .map_err(Failure::Broker)?;
        took.publish += lap(&mut t);
        self.books.mark_submitted(&plan.run).map_err(books)?;
        self.books.write_ingest_record(&record).map_err(books)?;
        took.books += lap(&mut t);
        self.metrics().jobs_published.inc_by(jobs.len() as u64);
        let resumed = match claim {
            Claim::Fresh => {
                self.metrics().files_claimed.inc();
                String::new()
            }
            Claim::Ours => " again (resumed an unfinished submission)".into(),
            Claim::TakenOver(owner) => format!(" (took over from chunker {owner})"),
            Claim::Held(_) => unreachable!("returned above"),
        };
        Ok(format!(
            "run {}: {} layers, {} jobs published in {messages} {}{resumed}{}",
            plan.run,
            plan.layers.len(),
            jobs.len(),
            if messages == 1 { "message" } else { "messages" },
            if plan.failed.is_empty() {
                String::new()
            } else {
                format!(", {} fields cannot be rendered", plan.failed.len())
            }
        ))
    }
}

/// Publishes jobs, small ones in batches of at most `batch_tiles` tiles, in windows, so the
/// number of unconfirmed messages stays bounded. Returns the number of messages.
async fn publish(jobs: &[Job], batch_tiles: u64, s: &Session) -> anyhow::Result<usize> {
    // Every job of the file carries the time it was first published, for the ledger's
    // end-to-end latency; a resumed submission publishes afresh, with a new time.
    let mut published = FieldTable::default();
    headers::set_count(&mut published, headers::PUBLISHED, headers::now_ms());
    let messages = batch::pack(jobs, batch_tiles);
    for window in messages.chunks(256) {
        let mut confirms = Vec::with_capacity(window.len());
        for m in window {
            let props = amqp::properties(m.kind, &m.id, published.clone());
            let c =
                s.ch.basic_publish(
                    s.names.jobs_exchange.as_str().into(),
                    RENDER_KEY.into(),
                    lapin::options::BasicPublishOptions {
                        mandatory: true,
                        ..Default::default()
                    },
                    &m.body,
                    props,
                )
                .await?;
            confirms.push(c);
        }
        for c in confirms {
            amqp::check_confirm(c.await?, &s.names.jobs_exchange, RENDER_KEY)?;
        }
    }
    Ok(messages.len())
}

fn plan_file(
    path: &Path,
    sha256: String,
    size: u64,
    uri: String,
    etag: Option<String>,
    settings: &RenderSettings,
    job_tiles: usize,
) -> tilecast::Result<RunPlan> {
    let inv = inventory(path)?;
    let source = source_of(path, sha256, size, inv.format());
    let spool = path.to_string_lossy().into_owned();
    let mut plan = plan_run(&inv, source, uri.clone(), settings, job_tiles)?;
    plan.source_etag = etag;
    if spool != uri {
        // An object is planned from a spool copy: its fields are named by the object's URI,
        // as the workers name them, never by a temporary path.
        for f in &mut plan.failed {
            f.error = f.error.replace(&spool, &uri);
        }
    }
    Ok(plan)
}
