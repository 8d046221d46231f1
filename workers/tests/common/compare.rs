//! Output trees and their comparison with `tilecast render` of the same files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::*;

/// Every file under `dir` except the bookkeeping, with its bytes.
pub fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(dir).unwrap().to_path_buf();
            if rel.starts_with(".tilecast") {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// `tilecast render` of the same files with the same flags, for comparison; it must succeed.
pub fn local_render(
    files: &[PathBuf],
    flags: &[&str],
) -> (tempfile::TempDir, BTreeMap<PathBuf, Vec<u8>>) {
    let (code, out, t) = local_render_exit(files, flags);
    assert_eq!(code, Some(0));
    (out, t)
}

/// `tilecast render` of `files` with `flags`: its exit code and what it wrote.
pub fn local_render_exit(
    files: &[PathBuf],
    flags: &[&str],
) -> (Option<i32>, tempfile::TempDir, BTreeMap<PathBuf, Vec<u8>>) {
    let out = tempfile::Builder::new()
        .prefix("tilecast-local-")
        .tempdir()
        .unwrap();
    let o = Command::new(bin())
        .arg("render")
        .args(files)
        .arg("--out")
        .arg(out.path())
        .args(flags)
        .arg("--quiet")
        .output()
        .unwrap();
    eprintln!("{}", String::from_utf8_lossy(&o.stderr));
    let t = tree(out.path());
    (o.status.code(), out, t)
}

/// Once the render queue is empty, the output tree equals a local render of the ingested
/// copies of `files` with `flags`.
pub fn assert_same_as_local(c: &Cluster, files: &[PathBuf], flags: &[&str]) {
    let ingested: Vec<PathBuf> = files
        .iter()
        .map(|f| c.ingest().join(f.file_name().unwrap()))
        .collect();
    let (_keep, local) = local_render(&ingested, flags);
    c.wait_render_queue_empty(Duration::from_secs(10));
    assert_same(&tree(&c.out()), &local);
}

pub fn assert_same(distributed: &BTreeMap<PathBuf, Vec<u8>>, local: &BTreeMap<PathBuf, Vec<u8>>) {
    let extra: Vec<_> = distributed
        .keys()
        .filter(|k| !local.contains_key(*k))
        .collect();
    let missing: Vec<_> = local
        .keys()
        .filter(|k| !distributed.contains_key(*k))
        .collect();
    assert!(
        extra.is_empty() && missing.is_empty(),
        "extra files {extra:?}, missing files {missing:?}"
    );
    for (k, v) in local {
        assert!(
            &distributed[k] == v,
            "{} differs from tilecast render",
            k.display()
        );
    }
}

pub fn sample_files() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(samples())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "grib2" || x == "nc"))
        .collect();
    v.sort();
    v
}
