//! `tilecast render` on GRIB edition 1: every GRIB1 sample renders every field (and a wind
//! speed layer per u/v pair) into tiles, legends and a manifest naming the file `grib1`; the
//! deliberately corrupted ERA5 file renders its readable message and lists the broken one in
//! `failed[]`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The GRIB1 samples: grib1/ and the GRIB1 files of grids/ (by the edition of their first
/// message; tests/grib1.rs checks that list against the samples' README).
fn grib1_samples() -> Vec<PathBuf> {
    let mut v = Vec::new();
    for dir in ["grib1", "grids"] {
        for e in std::fs::read_dir(common::shared_samples().join(dir)).unwrap() {
            let p = e.unwrap().path();
            let b = std::fs::read(&p).unwrap();
            if b.starts_with(b"GRIB") && b.get(7) == Some(&1) {
                v.push(p);
            }
        }
    }
    v.sort();
    assert_eq!(v.len(), 14);
    v
}

fn render(inputs: &[PathBuf], out: &Path) -> std::process::Output {
    Command::new(common::bin())
        .arg("render")
        .args(inputs)
        .arg("--out")
        .arg(out)
        .args(["--zoom", "0-1"])
        .output()
        .expect("run tilecast")
}

/// The manifests under `out`, by source key.
fn manifests(out: &Path) -> Vec<serde_json::Value> {
    let mut v: Vec<serde_json::Value> = std::fs::read_dir(out)
        .unwrap()
        .flatten()
        .map(|e| e.path().join("manifest.json"))
        .filter(|p| p.is_file())
        .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
        .collect();
    v.sort_by_key(|m| m["source"]["key"].as_str().unwrap().to_string());
    v
}

#[test]
fn every_grib1_sample_renders_into_tiles() {
    let out = tempfile::tempdir().unwrap();
    let out = out.path();
    // Named one by one: a directory's files are picked by extension, and the Stage IV file
    // is named `.01h`.
    let samples = grib1_samples();
    let o = render(&samples, out);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    let ms = manifests(out);
    assert_eq!(ms.len(), samples.len(), "{stderr}");
    let mut layers = 0;
    for m in &ms {
        let key = m["source"]["key"].as_str().unwrap();
        assert_eq!(m["source"]["format"], "grib1", "{key}");
        assert_eq!(
            m["failed"].as_array().unwrap().len(),
            0,
            "{key}: {}",
            m["failed"]
        );
        let run = out.join(m["run"].as_str().unwrap());
        for l in m["layers"].as_array().unwrap() {
            let name = l["name"].as_str().unwrap();
            assert!(
                l["tile_count"].as_u64().unwrap() > 0,
                "{key}/{name}: no tiles"
            );
            for f in [
                "legend.png",
                "full.png",
                "tilejson.json",
                "data/tilejson.json",
            ] {
                assert!(run.join(name).join(f).is_file(), "{key}/{name}/{f}");
            }
            let tile = run.join(name).join("0/0/0.png");
            let (_, _, px) =
                tilecast::render::encode::decode_rgba(&std::fs::read(&tile).unwrap()).unwrap();
            assert!(
                px.chunks(4).any(|p| p[3] > 0),
                "{key}/{name}: an empty tile 0/0/0"
            );
            layers += 1;
        }
    }
    // 32 fields, and wind speed for the 6 u/v pairs on one level and time of
    // uv_on_different_levels and the pair of the rotated grid.
    assert_eq!(layers, 32 + 6 + 1);
}

#[test]
fn the_corrupted_era5_file_renders_its_readable_message() {
    let tmp = tempfile::tempdir().unwrap();
    let file = common::shared_samples().join("unsupported/cfgrib__era5-levels-corrupted.grib");
    let o = render(&[file], tmp.path());
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let m = &manifests(tmp.path())[0];
    let failed = m["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["field"], 0);
    assert!(failed[0]["error"]
        .as_str()
        .unwrap()
        .contains("broken length"));
    let layers = m["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1);
    assert_eq!(
        (layers[0]["field"].as_u64(), layers[0]["variable"].as_str()),
        (Some(1), Some("t"))
    );
}
