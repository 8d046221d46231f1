//! The catalog from the outside: a four-step time series rendered locally and through the
//! distributed pipeline (files dropped one by one), concurrent writers on a directory and on
//! the S3 test server, prune on both, and the same colours for a quantity in K and in °C.
//!
//! The series is made with ecCodes (TILECAST_PYTHON) from the real `global_t2m.grib2`: four
//! files 6 hours apart, each with the temperature (a quantity with a fixed range) shifted by
//! 4 K per step and a visibility field (nothing fixes its range) that grows each step.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::s3::Moto;
use common::*;
use serde_json::Value;

const MAKE_SERIES: &str = r#"
import sys, eccodes
src, out = sys.argv[1], sys.argv[2]
for k in range(4):
    with open(src, "rb") as f:
        t = eccodes.codes_grib_new_from_file(f)
    eccodes.codes_set(t, "forecastTime", 6 * k)
    vals = eccodes.codes_get_values(t)
    eccodes.codes_set_values(t, vals + 4.0 * k)
    vis = eccodes.codes_clone(t)
    eccodes.codes_set(vis, "parameterCategory", 19)
    eccodes.codes_set(vis, "parameterNumber", 0)
    eccodes.codes_set_values(vis, (vals - 200.0) * 100.0 * (1 + k))
    with open(f"{out}/series_f{6*k:03d}.grib2", "wb") as f:
        eccodes.codes_write(t, f)
        eccodes.codes_write(vis, f)
"#;

/// The same temperatures as `global_t2m.grib2`, in °C, as a CF NetCDF file.
const MAKE_CELSIUS: &str = r#"
import sys, eccodes, numpy as np, netCDF4
src, out = sys.argv[1], sys.argv[2]
with open(src, "rb") as f:
    t = eccodes.codes_grib_new_from_file(f)
nx, ny = eccodes.codes_get(t, "Ni"), eccodes.codes_get(t, "Nj")
lats = eccodes.codes_get_array(t, "distinctLatitudes")
lons = eccodes.codes_get_array(t, "distinctLongitudes")
vals = eccodes.codes_get_values(t).reshape(ny, nx)
if eccodes.codes_get(t, "jScansPositively") == 0:
    lats = lats[::-1] if lats[0] < lats[-1] else lats
with netCDF4.Dataset(out, "w") as d:
    d.createDimension("lat", ny); d.createDimension("lon", nx)
    la = d.createVariable("lat", "f8", ("lat",)); la.units = "degrees_north"; la[:] = lats
    lo = d.createVariable("lon", "f8", ("lon",)); lo.units = "degrees_east"; lo[:] = lons
    v = d.createVariable("tas", "f4", ("lat", "lon")); v.units = "Celsius"
    v.standard_name = "air_temperature"; v[:] = vals - 273.15
"#;

/// Reads an output key, `None` when absent.
type Read<'a> = dyn Fn(&str) -> Option<Vec<u8>> + 'a;

fn python(script: &str, args: &[&Path]) {
    let py = std::env::var("TILECAST_PYTHON").unwrap_or_else(|_| "python3".into());
    let st = Command::new(&py)
        .arg("-c")
        .arg(script)
        .args(args)
        .status()
        .unwrap_or_else(|e| panic!("{py}: {e} (ecCodes and netCDF4 in TILECAST_PYTHON needed)"));
    assert!(st.success(), "{py} failed (ecCodes and netCDF4 needed)");
}

/// The four series files, in time order.
fn series_files(dir: &Path) -> Vec<PathBuf> {
    python(MAKE_SERIES, &[&samples().join("global_t2m.grib2"), dir]);
    (0..4)
        .map(|k| dir.join(format!("series_f{:03}.grib2", 6 * k)))
        .collect()
}

fn render(files: &[&Path], out: &str, extra: &[&str], env: &[(String, String)]) {
    let o = Command::new(bin())
        .arg("render")
        .args(files)
        .args(["--out", out, "--zoom", "0-1", "--quiet"])
        .args(extra)
        .envs(env.iter().cloned())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

/// The catalog's two series have four steps each, and one range and one legend for all four
/// (the visibility field's own range grows with each step: its steps agreed on one range).
fn check_series(catalog: &Value, read: &dyn Fn(&str) -> Vec<u8>) {
    let series = catalog["series"].as_object().unwrap();
    assert_eq!(series.len(), 2, "{:?}", series.keys().collect::<Vec<_>>());
    for (id, s) in series {
        let steps = s["steps"].as_array().unwrap();
        assert_eq!(steps.len(), 4, "{id}");
        let times: BTreeSet<&str> = steps
            .iter()
            .map(|st| st["valid_time"].as_str().unwrap())
            .collect();
        assert_eq!(times.len(), 4, "{id}: {times:?}");
        let mut legends = BTreeSet::new();
        let mut ranges = BTreeSet::new();
        for st in steps {
            let run = &catalog["runs"][st["run"].as_str().unwrap()];
            let layer = run["layers"]
                .as_array()
                .unwrap()
                .iter()
                .find(|l| l["name"] == st["layer"])
                .unwrap();
            ranges.insert(layer["range"].to_string());
            legends.insert(read(layer["legend_json"].as_str().unwrap()));
            legends.insert(read(layer["legend_png"].as_str().unwrap()));
        }
        assert_eq!(ranges.len(), 1, "{id}: the steps have ranges {ranges:?}");
        assert_eq!(legends.len(), 2, "{id}: the steps' legends differ");
    }
}

#[test]
fn a_time_series_rendered_locally_and_distributed_makes_one_series_and_one_catalog() {
    let work = tempfile::tempdir().unwrap();
    let files = series_files(work.path());
    // Locally, one file per render, in time order.
    let local = work.path().join("local");
    for f in &files {
        render(&[f], local.to_str().unwrap(), &[], &[]);
    }
    let cat_bytes = std::fs::read(local.join("catalog.json")).unwrap();
    let cat = json(&cat_bytes);
    check_series(&cat, &|k| std::fs::read(local.join(k)).unwrap());
    // Distributed: dropped one by one into the ingest directory.
    let mut c = Cluster::new("series");
    // The same render settings as `render` (the zooms are part of the run id).
    c.chunker(&["--zoom", "0-1"]);
    c.pool(2, &[]);
    for (k, f) in files.iter().enumerate() {
        c.drop_file(f, f.file_name().unwrap().to_str().unwrap());
        c.wait_manifests(k + 1, Duration::from_secs(120));
    }
    c.wait_render_queue_empty(Duration::from_secs(10));
    let dist_bytes = std::fs::read(c.out().join("catalog.json")).unwrap();
    check_series(&json(&dist_bytes), &|k| {
        std::fs::read(c.out().join(k)).unwrap()
    });
    // The same runs make the same catalog, whoever wrote it (the chunker was given the
    // files' ingest paths, the render their work paths: the source keys differ).
    let strip = |v: &Value| {
        let mut v = v.clone();
        for r in v["runs"].as_object_mut().unwrap().values_mut() {
            r["source"]["key"] = Value::Null;
        }
        v
    };
    assert_eq!(strip(&json(&dist_bytes)), strip(&cat));
    c.stop();
}

#[test]
fn concurrent_renders_lose_no_catalog_entry_and_prune_removes_exactly_the_old_runs() {
    let work = tempfile::tempdir().unwrap();
    let files = series_files(work.path());
    let moto = Moto::start();
    moto.create_bucket("tiles");
    let dir = work.path().join("out");
    let targets = [dir.to_str().unwrap().to_string(), "s3://tiles/cat".into()];
    for out in &targets {
        // Four renders of the series and two other samples, all at once.
        let mut all: Vec<PathBuf> = files.clone();
        all.push(samples().join("global_uv10.grib2"));
        all.push(samples().join("lambert_t850.grib2"));
        let children: Vec<_> = all
            .iter()
            .map(|f| {
                Command::new(bin())
                    .arg("render")
                    .arg(f)
                    .args(["--out", out, "--zoom", "0", "--quiet"])
                    .envs(moto.env())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for mut ch in children {
            assert!(ch.wait().unwrap().success());
        }
    }
    let bucket = moto.client("tiles");
    let read_local = |k: &str| std::fs::read(dir.join(k)).ok();
    let read_s3 = |k: &str| bucket.get(&format!("cat/{k}"));
    let reads: [&Read<'_>; 2] = [&read_local, &read_s3];
    for read in reads {
        let cat = json(&read("catalog.json").unwrap());
        assert_eq!(cat["runs"].as_object().unwrap().len(), 6, "{cat:#}");
    }
    // Keep the two newest runs of every series: the series' first two steps go.
    let series_runs: Vec<String> = {
        let cat = json(&read_local("catalog.json").unwrap());
        let s = cat["series"]
            .as_object()
            .unwrap()
            .values()
            .find(|s| s["id"].as_str().unwrap().starts_with("tmp_2m"))
            .unwrap()
            .clone();
        s["runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(series_runs.len(), 4);
    let old: BTreeSet<&String> = series_runs[2..].iter().collect();
    for out in &targets {
        let o = Command::new(bin())
            .args(["prune", out, "--keep", "2"])
            .envs(moto.env())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(stdout.contains("removed 2 runs"), "{stdout}");
    }
    for read in reads {
        let cat = json(&read("catalog.json").unwrap());
        let runs: BTreeSet<&String> = cat["runs"].as_object().unwrap().keys().collect();
        assert_eq!(runs.len(), 4);
        assert!(runs.is_disjoint(&old), "{runs:?} still has one of {old:?}");
    }
    for run in &old {
        assert!(
            !dir.join(run).exists(),
            "{run} left objects in the directory"
        );
        assert!(
            bucket.list(&format!("cat/{run}/")).is_empty(),
            "{run} left objects"
        );
        assert!(bucket.list(&format!("cat/.tilecast/{run}/")).is_empty());
    }
}

#[test]
fn a_temperature_in_celsius_gets_the_colours_of_the_same_temperature_in_kelvin() {
    let work = tempfile::tempdir().unwrap();
    let nc = work.path().join("tas_celsius.nc");
    python(MAKE_CELSIUS, &[&samples().join("global_t2m.grib2"), &nc]);
    let out = work.path().join("out");
    let k = samples().join("global_t2m.grib2");
    render(&[&k, &nc], out.to_str().unwrap(), &[], &[]);
    let cat = json(&std::fs::read(out.join("catalog.json")).unwrap());
    let layers: Vec<Value> = cat["runs"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|r| r["layers"].as_array().unwrap().clone())
        .collect();
    assert_eq!(layers.len(), 2);
    let full = |l: &Value| {
        let bytes = std::fs::read(out.join(l["full_image"].as_str().unwrap())).unwrap();
        tilecast::render::encode::decode_rgba(&bytes).unwrap()
    };
    let (a, b) = (full(&layers[0]), full(&layers[1]));
    assert_eq!((a.0, a.1), (b.0, b.1), "the two grids differ");
    // Colours are compared per pixel: a one-step difference is a rounding at a boundary.
    let far =
        a.2.chunks(4)
            .zip(b.2.chunks(4))
            .filter(|(p, q)| p.iter().zip(q.iter()).any(|(x, y)| x.abs_diff(*y) > 24))
            .count();
    assert!(
        far * 1000 < a.2.len() / 4,
        "{far} pixels differ in colour between K and °C"
    );
}

/// Every layer name the README's Outputs section shows (`<name>_<YYYYMMDDTHHMMZ|notime>` in
/// backquotes) is one that rendering `sample-data/` makes, as the catalog lists them.
#[test]
fn the_readme_layer_names_are_what_render_makes() {
    let readme = std::fs::read_to_string(samples().join("../README.md")).unwrap();
    let section = readme
        .split("\n## Outputs")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("README has an Outputs section");
    let documented: BTreeSet<&str> = section
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|t| {
            let time = t.rsplit('_').next().unwrap_or("");
            t.contains('_')
                && t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
                && (time == "notime" || (time.len() == 14 && time.ends_with('Z')))
        })
        .collect();
    assert!(documented.len() >= 3, "{documented:?}");
    let out = tempfile::tempdir().unwrap();
    render(&[&samples()], out.path().to_str().unwrap(), &[], &[]);
    let cat = json(&std::fs::read(out.path().join("catalog.json")).unwrap());
    let made: BTreeSet<String> = cat["runs"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|r| r["layers"].as_array().unwrap().clone())
        .map(|l| l["name"].as_str().unwrap().to_string())
        .collect();
    for name in documented {
        assert!(
            made.contains(name),
            "README shows {name}; render makes {made:?}"
        );
    }
}
