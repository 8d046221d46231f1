//! Where outputs (and the bookkeeping of distributed runs) are written: a local directory
//! here, or an object-store bucket (implemented in the `workers` crate, which owns the async
//! runtime and the S3 client).
//!
//! A [`Store`] is addressed by `/`-separated keys relative to its root, the same keys whether
//! the root is `/data/out` or `s3://bucket/prefix`. Every write is atomic: a reader sees the
//! old object, the whole new one, or nothing. [`LocalStore`] gets that from a temporary file
//! in `<root>/.tilecast/tmp` (same file system, outside the published tree) and a rename.

use std::collections::HashSet;
use std::io::ErrorKind;
use std::ops::Range;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use crate::error::{Error, Result, StoreFault};

/// `Cache-Control` of objects whose key never names different bytes: tiles, images and the
/// per-run metadata (a run id is a hash of the input bytes and the settings).
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// What a writer says about an object besides its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PutMeta {
    pub content_type: &'static str,
    pub cache_control: Option<&'static str>,
}

impl PutMeta {
    /// A PNG tile or image.
    pub const PNG: PutMeta = PutMeta {
        content_type: "image/png",
        cache_control: Some(IMMUTABLE),
    };
    /// Published JSON (manifest, TileJSON, legend stops).
    pub const JSON: PutMeta = PutMeta {
        content_type: "application/json",
        cache_control: Some(IMMUTABLE),
    };
    /// A PMTiles archive ([`crate::run::archive`]).
    pub const PMTILES: PutMeta = PutMeta {
        content_type: "application/vnd.pmtiles",
        cache_control: Some(IMMUTABLE),
    };
    /// Internal bookkeeping, never served.
    pub const PRIVATE: PutMeta = PutMeta {
        content_type: "application/json",
        cache_control: Some("no-store"),
    };

    /// The metadata for a published key, from its extension.
    pub fn for_key(key: &str) -> PutMeta {
        if key.ends_with(".png") {
            PutMeta::PNG
        } else {
            PutMeta::JSON
        }
    }
}

/// One object as a listing or a HEAD shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Key relative to the store's root.
    pub key: String,
    pub size: u64,
    pub modified: Option<SystemTime>,
    /// The object-store ETag (None for local files). Changes whenever the content may have.
    pub etag: Option<String>,
}

/// An object's bytes and its version: an ETag in a bucket, a content hash in a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned {
    pub bytes: Vec<u8>,
    pub version: String,
}

/// A place to put and get objects by key. Implementations are blocking and thread-safe;
/// errors name the object's full location.
pub trait Store: Send + Sync {
    /// The root, as a user wrote it: `/data/out` or `s3://bucket/prefix`.
    fn root(&self) -> String;
    /// Writes an object atomically, replacing any previous one.
    fn put(&self, key: &str, bytes: Vec<u8>, meta: PutMeta) -> Result<()>;
    /// Starts writing an object; may return before it is stored (a bucket uploads many at
    /// once). [`Store::flush`] waits for every such write. By default, [`Store::put`].
    fn put_async(&self, key: &str, bytes: Vec<u8>, meta: PutMeta) -> Result<()> {
        self.put(key, bytes, meta)
    }
    /// Waits for every write started with [`Store::put_async`]; the first failure is
    /// returned once all have ended. Only then are those objects known to be stored.
    fn flush(&self) -> Result<()> {
        Ok(())
    }
    /// Creates an object only if the key is free; false if it already exists. Atomic: of two
    /// concurrent creators exactly one gets true.
    fn put_new(&self, key: &str, bytes: Vec<u8>) -> Result<bool>;
    /// The whole object, or None if there is none.
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>>;
    /// The whole object and its version, the token [`Store::put_if`] compares against.
    fn get_versioned(&self, key: &str) -> Result<Option<Versioned>>;
    /// Writes an object only if it is still at `expected` (`None`: only if there is none);
    /// false when another writer changed it first. Of two writers that read the same version,
    /// exactly one succeeds: the way shared documents (the catalog) are updated without
    /// losing a concurrent writer's change.
    fn put_if(
        &self,
        key: &str,
        bytes: Vec<u8>,
        meta: PutMeta,
        expected: Option<&str>,
    ) -> Result<bool>;
    /// Deletes an object; deleting one that does not exist is not an error.
    fn delete(&self, key: &str) -> Result<()>;
    /// A byte range of an object. `etag`, when given, must still be the object's ETag: a
    /// replaced object is reported as an error, not read.
    fn get_range(&self, key: &str, range: Range<u64>, etag: Option<&str>) -> Result<Vec<u8>>;
    fn head(&self, key: &str) -> Result<Option<ObjectInfo>>;
    /// Every object whose key starts with `prefix` (all levels).
    fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>>;
    /// The names of the "directories" directly under `prefix` (which ends with `/` or is empty).
    fn list_dirs(&self, prefix: &str) -> Result<Vec<String>>;
    /// Stores the local file `src` under `key` as a stream, never whole in memory (a bucket
    /// gets a multipart upload), atomically: readers see no part of it before all of it.
    /// `src` is consumed: it may be moved into place or left for the caller to remove.
    fn upload(&self, key: &str, src: &Path, meta: PutMeta) -> Result<()>;
    /// Copies an object into a local file as a stream; returns the object as it was read.
    fn download(&self, key: &str, dest: &Path) -> Result<ObjectInfo>;
    /// The local directory behind the store, if it is one.
    fn local_root(&self) -> Option<&Path> {
        None
    }
    /// The full location of a key, for messages and job sources.
    fn url(&self, key: &str) -> String {
        let root = self.root();
        if root.is_empty() || root.ends_with('/') {
            format!("{root}{key}")
        } else {
            format!("{root}/{key}")
        }
    }
}

/// A directory on a local (or mounted) file system.
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
    /// Directories this store has made or found, so a put does not ask the file system again
    /// (two failing `mkdir`s and two `stat`s a file were a third of a pyramid's system
    /// calls). Another process may remove one; a put that then finds it missing makes it
    /// again.
    known_dirs: Arc<RwLock<HashSet<PathBuf>>>,
}

/// The version of a local object: the SHA-256 of its bytes, in hex.
fn content_version(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Where temporary files of a local output root go: `<out>/.tilecast/tmp`.
pub fn tmp_dir(root: &Path) -> PathBuf {
    root.join(".tilecast").join("tmp")
}

impl LocalStore {
    pub fn new(root: impl Into<PathBuf>) -> LocalStore {
        LocalStore {
            root: root.into(),
            known_dirs: Arc::default(),
        }
    }

    /// Makes a directory (and its parents) unless this store already knows it exists.
    fn ensure_dir(&self, dir: &Path) -> Result<()> {
        if self.known_dirs.read().is_ok_and(|d| d.contains(dir)) {
            return Ok(());
        }
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, "create directory", e))?;
        if let Ok(mut d) = self.known_dirs.write() {
            d.insert(dir.to_path_buf());
        }
        Ok(())
    }

    /// Makes a directory that was found missing although known, and remembers it again.
    fn remake_dir(&self, dir: &Path) -> Result<()> {
        if let Ok(mut d) = self.known_dirs.write() {
            d.remove(dir);
        }
        self.ensure_dir(dir)
    }

    /// The path of a key; keys that would leave the root are refused.
    pub fn path(&self, key: &str) -> Result<PathBuf> {
        let rel = Path::new(key);
        let escapes = key.is_empty()
            || rel
                .components()
                .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir));
        if escapes {
            return Err(Error::store(
                self.url(key),
                "resolve",
                StoreFault::Refused,
                "a key must be a relative path inside the store",
            ));
        }
        Ok(self.root.join(rel))
    }

    /// Writes `bytes` to a new temporary file in the store's temporary directory.
    fn temp(&self, bytes: &[u8]) -> Result<PathBuf> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let tmp = tmp_dir(&self.root);
        self.ensure_dir(&tmp)?;
        // The process id is asked each time, never cached: a process forked after a cached
        // id (a pool's job processes) would name its files as its parent does.
        let name = format!(
            "{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let t = tmp.join(name);
        let mut written = std::fs::write(&t, bytes);
        // Another process's render may have removed the (empty) directory meanwhile.
        for _ in 0..3 {
            match &written {
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    self.remake_dir(&tmp)?;
                    written = std::fs::write(&t, bytes);
                }
                _ => break,
            }
        }
        if let Err(e) = written {
            // A full disk leaves a partial file: never leave it behind.
            let _ = std::fs::remove_file(&t);
            return Err(Error::io(&t, "write", e));
        }
        Ok(t)
    }

    fn parent_dir(&self, path: &Path) -> Result<()> {
        match path.parent() {
            Some(parent) => self.ensure_dir(parent),
            None => Ok(()),
        }
    }

    fn info(&self, key: String, meta: &std::fs::Metadata) -> ObjectInfo {
        ObjectInfo {
            key,
            size: meta.len(),
            modified: meta.modified().ok(),
            etag: None,
        }
    }

    fn walk(&self, dir: &Path, rel: &str, out: &mut Vec<ObjectInfo>) -> Result<()> {
        let rd = match std::fs::read_dir(dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io(dir, "list", e)),
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let key = format!("{rel}{name}");
            let Ok(meta) = e.metadata() else { continue };
            if meta.is_dir() {
                self.walk(&e.path(), &format!("{key}/"), out)?;
            } else if meta.is_file() {
                out.push(self.info(key, &meta));
            }
        }
        Ok(())
    }
}

impl Store for LocalStore {
    fn root(&self) -> String {
        self.root.to_string_lossy().into_owned()
    }

    fn put(&self, key: &str, bytes: Vec<u8>, _meta: PutMeta) -> Result<()> {
        let path = self.path(key)?;
        self.parent_dir(&path)?;
        let t = self.temp(&bytes)?;
        let mut renamed = std::fs::rename(&t, &path);
        // The parent may have been removed as empty by another process meanwhile.
        for _ in 0..3 {
            match &renamed {
                Err(e) if e.kind() == ErrorKind::NotFound && t.exists() => {
                    if let Some(parent) = path.parent() {
                        self.remake_dir(parent)?;
                    }
                    renamed = std::fs::rename(&t, &path);
                }
                _ => break,
            }
        }
        renamed.map_err(|e| {
            let _ = std::fs::remove_file(&t);
            Error::io(&path, "rename", e)
        })
    }

    fn upload(&self, key: &str, src: &Path, _meta: PutMeta) -> Result<()> {
        let path = self.path(key)?;
        self.parent_dir(&path)?;
        // A rename is atomic on one file system; from another, copy beside the target first.
        let mut renamed = std::fs::rename(src, &path);
        if let (Err(e), Some(parent)) = (&renamed, path.parent()) {
            // The parent may have been removed as empty by another process meanwhile.
            if e.kind() == ErrorKind::NotFound && src.exists() {
                self.remake_dir(parent)?;
                renamed = std::fs::rename(src, &path);
            }
        }
        if renamed.is_ok() {
            return Ok(());
        }
        let t = self.temp(&[])?;
        if let Err(e) = std::fs::copy(src, &t) {
            let _ = std::fs::remove_file(&t);
            return Err(Error::io(&t, "copy", e));
        }
        std::fs::rename(&t, &path).map_err(|e| {
            let _ = std::fs::remove_file(&t);
            Error::io(&path, "rename", e)
        })
    }

    fn put_new(&self, key: &str, bytes: Vec<u8>) -> Result<bool> {
        let path = self.path(key)?;
        self.parent_dir(&path)?;
        let t = self.temp(&bytes)?;
        // A hard link fails if the name exists: create-if-absent with the content in place.
        let mut linked = std::fs::hard_link(&t, &path);
        if let (Err(e), Some(parent)) = (&linked, path.parent()) {
            // The parent may have been removed as empty by another process meanwhile.
            if e.kind() == ErrorKind::NotFound {
                self.remake_dir(parent)?;
                linked = std::fs::hard_link(&t, &path);
            }
        }
        let _ = std::fs::remove_file(&t);
        match linked {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(Error::io(&path, "create", e)),
        }
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let path = self.path(key)?;
        match std::fs::read(&path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(&path, "read", e)),
        }
    }

    fn get_versioned(&self, key: &str) -> Result<Option<Versioned>> {
        Ok(self.get(key)?.map(|bytes| Versioned {
            version: content_version(&bytes),
            bytes,
        }))
    }

    fn put_if(
        &self,
        key: &str,
        bytes: Vec<u8>,
        meta: PutMeta,
        expected: Option<&str>,
    ) -> Result<bool> {
        let path = self.path(key)?;
        self.parent_dir(&path)?;
        // Writers of one key take turns on a lock file (released when it is closed, also
        // when the process dies); readers need no lock, since the write is a rename.
        let locks = self.root.join(".tilecast").join("locks");
        self.ensure_dir(&locks)?;
        let lock_path = locks.join(content_version(key.as_bytes()));
        let lock = match std::fs::File::create(&lock_path) {
            // The directory may have been removed by another process meanwhile.
            Err(e) if e.kind() == ErrorKind::NotFound => {
                self.remake_dir(&locks)?;
                std::fs::File::create(&lock_path)
            }
            created => created,
        }
        .map_err(|e| Error::io(&lock_path, "create", e))?;
        lock.lock().map_err(|e| Error::io(&lock_path, "lock", e))?;
        let current = self.get(key)?.map(|b| content_version(&b));
        if current.as_deref() != expected {
            return Ok(false);
        }
        self.put(key, bytes, meta)?;
        Ok(true)
    }

    fn delete(&self, key: &str) -> Result<()> {
        let path = self.path(key)?;
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io(&path, "delete", e)),
        }
        // Leave no empty directories behind, up to the root.
        let mut dir = path.parent();
        while let Some(d) = dir.filter(|d| *d != self.root && d.starts_with(&self.root)) {
            if std::fs::remove_dir(d).is_err() {
                break;
            }
            if let Ok(mut known) = self.known_dirs.write() {
                known.remove(d);
            }
            dir = d.parent();
        }
        Ok(())
    }

    fn get_range(&self, key: &str, range: Range<u64>, _etag: Option<&str>) -> Result<Vec<u8>> {
        let path = self.path(key)?;
        crate::io::input::read_range(&path, range)
    }

    fn head(&self, key: &str) -> Result<Option<ObjectInfo>> {
        let path = self.path(key)?;
        match std::fs::metadata(&path) {
            Ok(m) if m.is_file() => Ok(Some(self.info(key.to_string(), &m))),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(&path, "stat", e)),
        }
    }

    fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        // Walk from the deepest directory the prefix names, then filter by the rest.
        let dir = prefix.rfind('/').map_or("", |i| &prefix[..=i]);
        let start = if dir.is_empty() {
            self.root.clone()
        } else {
            self.path(dir.trim_end_matches('/'))?
        };
        let mut out = Vec::new();
        self.walk(&start, dir, &mut out)?;
        out.retain(|o| o.key.starts_with(prefix));
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    fn list_dirs(&self, prefix: &str) -> Result<Vec<String>> {
        let dir = if prefix.is_empty() {
            self.root.clone()
        } else {
            self.path(prefix.trim_end_matches('/'))?
        };
        let rd = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(&dir, "list", e)),
        };
        let mut names: Vec<String> = rd
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        Ok(names)
    }

    fn download(&self, key: &str, dest: &Path) -> Result<ObjectInfo> {
        let path = self.path(key)?;
        std::fs::copy(&path, dest).map_err(|e| Error::io(&path, "copy", e))?;
        self.head(key)?.ok_or_else(|| {
            Error::store(
                self.url(key),
                "download",
                StoreFault::NotFound,
                "the file disappeared while it was copied",
            )
        })
    }

    fn local_root(&self) -> Option<&Path> {
        Some(&self.root)
    }
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
