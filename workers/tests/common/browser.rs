//! What the browser tests need from the machine: Debian's chromium, node, and the npm
//! packages `tests/browser/package-lock.json` pins (MapLibre GL JS, playwright-core). Missing
//! any of them is a failure that says how to install it, never a skip.

use std::path::{Path, PathBuf};
use std::process::Command;

/// `tests/browser`: the drivers and their npm package.
pub fn package() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/browser")
}

pub fn chromium() -> PathBuf {
    std::env::var_os("TILECAST_CHROMIUM").map_or_else(|| "/usr/bin/chromium".into(), PathBuf::from)
}

pub fn node() -> PathBuf {
    std::env::var_os("TILECAST_NODE").map_or_else(|| "node".into(), PathBuf::from)
}

/// `<target>/browser-artefacts/<name>`, emptied.
pub fn artefacts(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("browser-artefacts")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn read_json(p: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .unwrap()
}

/// Fails (never skips) without chromium, node or the pinned packages, saying how to install them.
pub fn require_tools() {
    const HOW: &str = "run `scripts/setup --test` (installs Debian's chromium, nodejs and npm, \
                       and runs `npm ci` in tests/browser)";
    assert!(
        chromium().exists(),
        "no chromium at {} (set TILECAST_CHROMIUM to use another): {HOW}",
        chromium().display()
    );
    let v = Command::new(node()).arg("--version").output();
    assert!(
        v.as_ref().is_ok_and(|o| o.status.success()),
        "node ({}) does not run: {HOW}",
        node().display()
    );
    let lock = read_json(&package().join("package-lock.json"));
    for m in ["maplibre-gl", "playwright-core"] {
        let p = package().join("node_modules").join(m).join("package.json");
        assert!(p.exists(), "{} missing: {HOW}", p.display());
        let (installed, locked) = (
            read_json(&p)["version"].clone(),
            &lock["packages"][format!("node_modules/{m}")]["version"],
        );
        assert_eq!(&installed, locked, "{m} is not the locked version: {HOW}");
    }
}

/// Runs the driver `script` of `tests/browser` with `args`; it must exit 0 and print one JSON
/// document, its result. Says how long it took and where the artefacts are.
pub fn drive(script: &str, args: &[std::ffi::OsString], artefacts: &Path) -> serde_json::Value {
    let started = std::time::Instant::now();
    let o = Command::new(node())
        .arg(package().join(script))
        .args(args)
        .arg("--artefacts")
        .arg(artefacts)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let result: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    eprintln!(
        "{script}: chromium {}, maplibre-gl {}, {:.1} s; artefacts in {}",
        result["chromium"],
        result["maplibre"],
        started.elapsed().as_secs_f64(),
        artefacts.display()
    );
    result
}
