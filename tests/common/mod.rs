//! Shared helpers of the integration tests: where sample files are, and running the
//! reference oracles (Python: ecCodes, netCDF4; GDAL command-line tools).
#![allow(dead_code)]

pub mod gdal;
pub mod views;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The project root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared/sample-data` (override with TILECAST_SHARED_SAMPLES). Missing is a failure:
/// these tests must never pass by skipping.
pub fn shared_samples() -> PathBuf {
    let p = std::env::var_os("TILECAST_SHARED_SAMPLES")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared/sample-data"));
    assert!(
        p.join("README.md").exists(),
        "shared sample data not found at {} (set TILECAST_SHARED_SAMPLES)",
        p.display()
    );
    p
}

/// The project's own sample files.
pub fn own_samples() -> PathBuf {
    root().join("sample-data")
}

/// Python with eccodes, numpy and netCDF4 (TILECAST_PYTHON, default `python3`).
pub fn python() -> String {
    std::env::var("TILECAST_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// A fresh temporary directory, removed when dropped.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("tilecast-test-")
        .tempdir()
        .expect("temp dir")
}

/// Runs an oracle script over `file` into `out`, returning its fields.json.
pub fn oracle(script: &str, file: &Path, out: &Path) -> serde_json::Value {
    let status = Command::new(python())
        .arg(root().join("tests/oracle").join(script))
        .arg(file)
        .arg(out)
        .status()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} (is python with eccodes/netCDF4 installed? run scripts/setup): {e}",
                python()
            )
        });
    assert!(status.success(), "{script} failed on {}", file.display());
    let text = std::fs::read_to_string(out.join("fields.json")).expect("oracle wrote fields.json");
    serde_json::from_str(&text).expect("oracle JSON")
}

/// Reads an .npy written by an oracle.
pub fn read_npy(path: &Path) -> (Vec<usize>, Vec<f64>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    tilecast::io::npy::read(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Runs a command and returns stdout, panicking with stderr on failure.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
