//! The Helm chart rendered for tests (`tests/packaging/render_chart.py`, Helm v4 through
//! helm-python-sdk from the test virtualenv): the objects of the default values and of every
//! `charts/tilecast/ci/*-values.yaml`.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The Python of the test virtualenv (`TILECAST_PYTHON`, set up by scripts/setup --test).
pub fn python() -> String {
    std::env::var("TILECAST_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// `render_chart.py`'s report: `sets` (values label → objects) and the render errors it
/// provokes.
pub fn render_chart() -> Value {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("rendered.json");
    let o = Command::new(python())
        .arg(repo().join("tests/packaging/render_chart.py"))
        .arg(repo().join("charts/tilecast"))
        .arg(&out)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} (scripts/setup --test): {e}", python()));
    assert!(
        o.status.success(),
        "render_chart.py failed (is helm-python-sdk installed? set TILECAST_PYTHON):\n{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap()
}

/// The objects rendered for a values label, of one kind.
pub fn objects<'a>(rendered: &'a Value, label: &str, kind: &str) -> Vec<&'a Value> {
    rendered["sets"][label]
        .as_array()
        .unwrap_or_else(|| panic!("no rendering for {label}"))
        .iter()
        .filter(|o| o["kind"] == kind)
        .collect()
}
