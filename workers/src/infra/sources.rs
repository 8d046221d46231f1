//! Reading a job's input, and only from the locations the worker is configured to read
//! (`--ingest`): a job naming any other file or object is refused before anything is opened,
//! so its dead-letter reason says nothing about what exists outside those roots.
//!
//! Only the byte range of a GRIB field (a ranged GET on a bucket,
//! a seek on a local file), or a whole NetCDF file, which the netCDF library needs on disk:
//! from a bucket it goes through a bounded cache directory shared by the jobs of a pod.
//!
//! Ranged reads of an object carry the ETag it had when planned (`If-Match`), and cached
//! NetCDF files are checked against the job's sha256, so a replaced object is never decoded
//! with another file's offsets.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tilecast::decode::Dataset;
use tilecast::error::StoreFault;
use tilecast::io::input::read_range;
use tilecast::io::store::Store;
use tilecast::run::execute::{InputField, JobInput};
use tilecast::run::job::Job;
use tilecast::run::plan::SourceRef;
use tilecast::{Error, Result};

use crate::infra::s3::S3Store;
use crate::infra::storage::{Location, S3Args};

/// The locations a worker may read job sources from.
#[derive(Debug, Clone)]
pub struct Roots {
    /// Local roots as given (made absolute) and with symbolic links resolved, and bucket
    /// prefixes.
    roots: Vec<Location>,
}

impl Roots {
    /// From `--ingest` values: directories, file:// paths or s3://bucket/prefix.
    pub fn new(specs: &[String]) -> anyhow::Result<Roots> {
        anyhow::ensure!(
            !specs.is_empty(),
            "no --ingest location: a worker reads job sources only from its ingest locations"
        );
        let mut roots = Vec::new();
        for s in specs {
            match Location::parse(s)? {
                Location::Local(p) => {
                    anyhow::ensure!(!p.as_os_str().is_empty(), "an empty --ingest location");
                    let abs = std::path::absolute(&p)?;
                    if let Ok(real) = std::fs::canonicalize(&abs) {
                        if real != abs {
                            roots.push(Location::Local(real));
                        }
                    }
                    roots.push(Location::Local(abs));
                }
                s3 => roots.push(s3),
            }
        }
        Ok(Roots { roots })
    }

    /// The location of a job's source when it lies inside a root. Refusals name only what
    /// the job itself said, never whether anything exists outside the roots.
    pub fn admit(&self, uri: &str) -> Result<Location> {
        let refuse = |why: &str| {
            Error::store(
                uri,
                "admit",
                StoreFault::Refused,
                format!("source refused: {why}"),
            )
        };
        let location =
            Location::parse(uri).map_err(|_| refuse("not a path, file:// path or s3:// URL"))?;
        match &location {
            Location::Local(path) => {
                use std::path::Component;
                let plain = path.is_absolute()
                    && path
                        .components()
                        .all(|c| matches!(c, Component::RootDir | Component::Normal(_)));
                if !plain {
                    return Err(refuse(
                        "a local source must be an absolute path without . or ..",
                    ));
                }
                let under = |p: &Path| {
                    self.roots.iter().any(
                        |r| matches!(r, Location::Local(root) if p.starts_with(root) && p != root),
                    )
                };
                if !under(path) {
                    return Err(refuse("outside the locations this worker reads (--ingest)"));
                }
                // Inside a root by name; a symbolic link must not lead out of it.
                if let Ok(real) = std::fs::canonicalize(path) {
                    if !under(&real) {
                        return Err(refuse("a link out of the locations this worker reads"));
                    }
                }
            }
            Location::S3 { bucket, prefix } => {
                let clean = !prefix.is_empty()
                    && prefix
                        .split('/')
                        .all(|s| !s.is_empty() && s != "." && s != "..");
                let under = self.roots.iter().any(|r| match r {
                    Location::S3 {
                        bucket: b,
                        prefix: p,
                    } => b == bucket && (p.is_empty() || prefix.starts_with(&format!("{p}/"))),
                    Location::Local(_) => false,
                });
                if !clean || !under {
                    return Err(refuse("outside the locations this worker reads (--ingest)"));
                }
            }
        }
        Ok(location)
    }
}

/// Opens job sources, keeping one client per bucket.
pub struct Sources {
    s3: S3Args,
    buckets: Mutex<HashMap<String, Arc<S3Store>>>,
    cache: Cache,
    roots: Roots,
}

impl Sources {
    pub fn new(s3: S3Args, cache_dir: PathBuf, cache_max_bytes: u64, roots: Roots) -> Sources {
        Sources {
            s3,
            buckets: Mutex::new(HashMap::new()),
            cache: Cache {
                dir: cache_dir,
                max_bytes: cache_max_bytes,
            },
            roots,
        }
    }

    fn bucket(&self, uri: &str, bucket: &str) -> Result<Arc<S3Store>> {
        let mut map = self.buckets.lock().expect("not poisoned");
        if let Some(s) = map.get(bucket) {
            return Ok(s.clone());
        }
        let s = Arc::new(
            S3Store::new(bucket, "", &self.s3).map_err(|e| Error::Store {
                url: uri.to_string(),
                op: "connect",
                fault: StoreFault::Unavailable,
                message: format!("{e:#}"),
                source: Some(e.into()),
            })?,
        );
        map.insert(bucket.to_string(), s.clone());
        Ok(s)
    }

    /// The dataset holding one field of the job's file: for GRIB (either edition), that
    /// field's message, with fields numbered as in the file.
    pub fn open(&self, job: &Job, source: &SourceRef) -> Result<Dataset> {
        let uri = &job.source.uri;
        let location = self.roots.admit(uri)?;
        let message = |offset: u64, length: u64| -> Result<std::ops::Range<u64>> {
            let max = tilecast::limits::get().max_message_bytes();
            if length > max {
                return Err(Error::OverLimit {
                    path: PathBuf::from(uri),
                    subject: format!("field {}", source.field),
                    what: "message bytes",
                    declared: length,
                    limit: max,
                    flag: "--max-field-points",
                });
            }
            Ok(offset..offset.saturating_add(length))
        };
        match (location, source.location.grib_message()) {
            (Location::Local(path), Some((offset, length, sub_field))) => {
                let bytes = read_range(&path, message(offset, length)?)?;
                let first = source.field.saturating_sub(sub_field);
                Ok(Dataset::from_grib_message(&path, bytes, offset, first))
            }
            (Location::Local(path), None) => Dataset::open(&path),
            (Location::S3 { bucket, prefix }, Some((offset, length, sub_field))) => {
                let store = self.bucket(uri, &bucket)?;
                let range = message(offset, length)?;
                let bytes = store.get_range(&prefix, range, job.source.etag.as_deref())?;
                let first = source.field.saturating_sub(sub_field);
                Ok(Dataset::from_grib_message(
                    Path::new(uri),
                    bytes,
                    offset,
                    first,
                ))
            }
            (Location::S3 { bucket, prefix }, None) => {
                let store = self.bucket(uri, &bucket)?;
                let path = self.cache.fetch(&store, &prefix, &job.source.sha256)?;
                Dataset::open(&path)
            }
        }
    }
}

/// A job's fields, read from the ingest roots: one GRIB message by byte range, or a whole
/// NetCDF file (through the cache when it is in a bucket).
impl JobInput for Sources {
    fn read(&self, job: &Job, source: &SourceRef) -> Result<InputField> {
        let t0 = std::time::Instant::now();
        let ds = self.open(job, source)?;
        let fetch_seconds = t0.elapsed().as_secs_f64();
        Ok(InputField {
            field: ds.decode_at(source.field, &source.location)?,
            fetch_seconds,
        })
    }
}

/// Whole objects by content hash, least recently used evicted past `max_bytes` (the file in
/// use is always kept, however large).
struct Cache {
    dir: PathBuf,
    max_bytes: u64,
}

impl Cache {
    fn fetch(&self, store: &S3Store, key: &str, sha256: &str) -> Result<PathBuf> {
        let io = |p: &Path, op, e| Error::Io {
            path: p.to_path_buf(),
            op,
            source: e,
        };
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::store(
                store.url(key),
                "cache",
                StoreFault::Refused,
                format!("invalid sha256 {sha256:?} in the job"),
            ));
        }
        std::fs::create_dir_all(&self.dir).map_err(|e| io(&self.dir, "create directory", e))?;
        let path = self.dir.join(format!("{sha256}.nc"));
        if path.exists() {
            // Mark it recently used.
            let _ = std::fs::File::open(&path)
                .and_then(|f| f.set_modified(std::time::SystemTime::now()));
            return Ok(path);
        }
        let part = self
            .dir
            .join(format!(".{sha256}.{}.part", std::process::id()));
        store.download(key, &part)?;
        let (got, _) = tilecast::run::plan::sha256_file(&part)?;
        if got != sha256 {
            let _ = std::fs::remove_file(&part);
            return Err(Error::store(
                store.url(key),
                "get",
                StoreFault::Replaced,
                format!(
                    "the object's content changed after its jobs were planned (sha256 {got}, planned {sha256})"
                ),
            ));
        }
        std::fs::rename(&part, &path).map_err(|e| io(&path, "rename", e))?;
        self.evict(&path);
        Ok(path)
    }

    /// Removes the least recently used files until the cache fits (never `keep`).
    fn evict(&self, keep: &Path) {
        let Ok(rd) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let mut files: Vec<(std::time::SystemTime, u64, PathBuf)> = rd
            .flatten()
            // Hidden names are downloads in progress, perhaps another worker's.
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
            .filter_map(|e| {
                let m = e.metadata().ok()?;
                let modified = m.modified().ok()?;
                m.is_file().then(|| (modified, m.len(), e.path()))
            })
            .collect();
        let mut total: u64 = files.iter().map(|f| f.1).sum();
        files.sort();
        for (_, len, p) in files {
            if total <= self.max_bytes {
                break;
            }
            if p != keep && std::fs::remove_file(&p).is_ok() {
                total -= len;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Cache, Roots, Sources};
    use std::time::{Duration, SystemTime};
    use tilecast::run::execute::JobInput;

    /// A worker reads a GRIB field by its message's byte range: a GRIB1 message (one field),
    /// a multi-field GRIB2 message and both in one file give the fields the whole file gives,
    /// numbered as in the file.
    #[test]
    fn grib_fields_of_either_edition_are_read_by_their_message() {
        let shared = std::env::var_os("TILECAST_SHARED_SAMPLES")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| {
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/sample-data")
            });
        assert!(
            shared.join("README.md").exists(),
            "set TILECAST_SHARED_SAMPLES"
        );
        let dir = tempfile::tempdir().unwrap();
        let ingest = dir.path().canonicalize().unwrap().join("ingest");
        std::fs::create_dir(&ingest).unwrap();
        let mut bytes =
            std::fs::read(shared.join("grids/earthkit__rotated_wind_20x20.grib")).unwrap();
        bytes.extend(std::fs::read(shared.join("grib2/pygrib__eta.grb")).unwrap());
        bytes.extend(
            std::fs::read(shared.join("grib1/cfgrib__fields_with_missing_values.grib")).unwrap(),
        );
        let file = ingest.join("mixed.grib");
        std::fs::write(&file, &bytes).unwrap();
        let settings = tilecast::settings::RenderSettings {
            zoom: Some((0, 0)),
            ..Default::default()
        };
        let (_, plan) = tilecast::run::local::plan_file(&file, &settings, 1000).unwrap();
        assert_eq!(plan.source.format, "grib");
        let jobs = tilecast::run::job::Job::from_plan(&plan, "/nowhere");
        let s3 = super::super::storage::S3Args {
            s3_endpoint: None,
            s3_path_style: false,
            s3_retry_timeout: 1.0,
        };
        let roots = Roots::new(&[ingest.to_string_lossy().into_owned()]).unwrap();
        let sources = Sources::new(s3, dir.path().join("cache"), 1 << 20, roots);
        let whole = tilecast::decode::Dataset::open(&file).unwrap();
        let mut seen = std::collections::BTreeSet::new();
        for job in &jobs {
            for source in &job.fields {
                let got = sources.read(job, source).unwrap().field;
                let want = whole.decode(source.field).unwrap();
                assert_eq!(got.info.index, source.field);
                assert_eq!(got.info.variable, want.info.variable);
                let same = got
                    .values
                    .iter()
                    .zip(&want.values)
                    .all(|(a, b)| a == b || a.is_nan() && b.is_nan());
                assert!(
                    same && got.values.len() == want.values.len(),
                    "field {}",
                    source.field
                );
                seen.insert(serde_json::to_value(&source.location).unwrap()["format"].to_string());
            }
        }
        assert_eq!(seen.len(), 2, "{seen:?}");
    }

    #[test]
    fn the_cache_evicts_least_recently_used_files_but_never_the_one_in_use() {
        let dir = tempfile::tempdir().unwrap();
        let now = SystemTime::now();
        let file = |name: &str, len: usize, age: u64| {
            let p = dir.path().join(name);
            std::fs::write(&p, vec![0u8; len]).unwrap();
            std::fs::File::options()
                .write(true)
                .open(&p)
                .unwrap()
                .set_modified(now - Duration::from_secs(age))
                .unwrap();
            p
        };
        file("old.nc", 400, 300);
        file("mid.nc", 400, 200);
        file(".download.part", 400, 500);
        let new = file("new.nc", 400, 100);
        let cache = Cache {
            dir: dir.path().to_path_buf(),
            max_bytes: 900,
        };
        cache.evict(&new);
        let left = |n: &str| dir.path().join(n).exists();
        // 1200 bytes of cached files: the oldest goes, in-progress downloads are not counted.
        assert!(!left("old.nc") && left("mid.nc") && left("new.nc") && left(".download.part"));
        // A file larger than the whole cache stays while in use.
        let big = file("big.nc", 2000, 0);
        cache.evict(&big);
        assert!(left("big.nc") && !left("mid.nc") && !left("new.nc"));
    }
}
