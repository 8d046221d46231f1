//! Embeds the viewer's third-party files: MapLibre GL JS (its script, stylesheet and licence),
//! the `pmtiles` reader (its script; the licence of the `fflate` it bundles; its own licence,
//! which its package does not carry, is `viewer/pmtiles.LICENSE.txt`) and Natural Earth's
//! 110m countries from `world-atlas` (and its licence), as installed by
//! `npm ci` in `viewer/` from its lockfile. They are copied into `OUT_DIR`, where
//! `src/site.rs` includes them; the viewer's own files are included from `viewer/` directly.
//!
//! The build fails, saying how to install them, when they are missing or when an installed
//! package is not the version the lockfile pins (a stale `node_modules` would otherwise ship
//! another MapLibre than the one the browser test checks).

use std::path::{Path, PathBuf};
use std::process::exit;

/// `(package, file inside it, name in OUT_DIR)`.
const FILES: [(&str, &str, &str); 7] = [
    ("maplibre-gl", "dist/maplibre-gl.js", "maplibre-gl.js"),
    ("maplibre-gl", "dist/maplibre-gl.css", "maplibre-gl.css"),
    ("maplibre-gl", "LICENSE.txt", "maplibre-gl.LICENSE.txt"),
    ("pmtiles", "dist/pmtiles.js", "pmtiles.js"),
    ("fflate", "LICENSE", "fflate.LICENSE.txt"),
    ("world-atlas", "countries-110m.json", "countries-110m.json"),
    ("world-atlas", "LICENSE", "world-atlas.LICENSE.txt"),
];

const HOW: &str = "run `scripts/setup` (or `npm ci --prefix viewer`)";

fn fail(msg: String) -> ! {
    eprintln!("error: the viewer's npm packages: {msg}: {HOW}");
    exit(1)
}

fn read_json(p: &Path) -> serde_json::Value {
    let bytes = std::fs::read(p).unwrap_or_else(|e| fail(format!("{}: {e}", p.display())));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| fail(format!("{}: {e}", p.display())))
}

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo"));
    let viewer = manifest.join("../viewer");
    let lock_path = viewer.join("package-lock.json");
    println!("cargo:rerun-if-changed={}", lock_path.display());
    let lock = read_json(&lock_path);
    let modules = viewer.join("node_modules");
    let mut checked = Vec::new();
    for (package, file, name) in FILES {
        let dir = modules.join(package);
        if !checked.contains(&package) {
            let pj = dir.join("package.json");
            println!("cargo:rerun-if-changed={}", pj.display());
            if !pj.exists() {
                fail(format!("{} is missing", pj.display()));
            }
            let installed = read_json(&pj)["version"].clone();
            let locked = &lock["packages"][format!("node_modules/{package}")]["version"];
            if locked.is_null() {
                fail(format!("{package} is not in {}", lock_path.display()));
            }
            if &installed != locked {
                fail(format!(
                    "{package} {installed} is installed, the lockfile pins {locked}"
                ));
            }
            checked.push(package);
        }
        let src = dir.join(file);
        println!("cargo:rerun-if-changed={}", src.display());
        std::fs::copy(&src, out.join(name))
            .unwrap_or_else(|e| fail(format!("{}: {e}", src.display())));
    }
}
