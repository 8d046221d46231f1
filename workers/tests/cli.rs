//! The `tilecast` binary as users run it: exit codes, errors on bad input, byte-identical
//! reruns, skipped empty tiles, wind-speed layers, `--help` and environment variables.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tilecast"))
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn samples() -> PathBuf {
    root().join("sample-data")
}

fn shared() -> PathBuf {
    common::shared_samples()
}

fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("tilecast-cli-")
        .tempdir()
        .unwrap()
}

fn output(cmd: &mut Command) -> Output {
    cmd.output().expect("run tilecast")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The one run directory (the one with a manifest) of an output directory.
fn run_dir(out: &Path) -> PathBuf {
    let runs: Vec<PathBuf> = std::fs::read_dir(out)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("manifest.json").is_file())
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    runs[0].clone()
}

/// Every file under `dir`, relative, with its bytes, sorted.
fn tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((
                    p.strip_prefix(dir).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                ));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn render_of_samples_succeeds_and_is_byte_identical_across_runs() {
    let (a, b) = (tempdir(), tempdir());
    for out in [&a, &b] {
        let o = output(
            bin()
                .arg("render")
                .arg(samples())
                .arg("--out")
                .arg(out.path())
                .args(["--zoom", "0-2"]),
        );
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(stderr(&o).contains("rendered 6 files"), "{}", stderr(&o));
    }
    let (ta, tb) = (tree(a.path()), tree(b.path()));
    assert!(ta.len() > 50, "only {} files", ta.len());
    assert_eq!(ta.len(), tb.len());
    for ((pa, ba), (pb, bb)) in ta.iter().zip(&tb) {
        assert_eq!(pa, pb);
        assert!(ba == bb, "{} differs between runs", pa.display());
    }
    // No temporary files left behind.
    assert!(ta
        .iter()
        .all(|(p, _)| !p.to_string_lossy().contains(".tmp-")));
}

#[test]
fn render_writes_the_documented_layout_and_a_wind_speed_layer() {
    let out = tempdir();
    // Nearest-neighbour at a zoom finer than the 2-degree grid: every pixel is a grid point,
    // so the speed must be the magnitude of the two components there. Data tiles at zoom 2
    // are above the grid's native zoom (0): asked for with --data-zoom.
    let o = output(
        bin()
            .arg("render")
            .arg(samples().join("global_uv10.grib2"))
            .arg("--out")
            .arg(out.path())
            .args([
                "--zoom",
                "0-2",
                "--resample",
                "nearest",
                "--data-zoom",
                "all",
            ]),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let run = run_dir(out.path());
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["version"], 1);
    let layers = m["layers"].as_array().unwrap();
    let names: Vec<&str> = layers.iter().map(|l| l["name"].as_str().unwrap()).collect();
    assert_eq!(layers.len(), 3, "{names:?}");
    let wind = layers
        .iter()
        .find(|l| l["variable"] == "wind_speed")
        .expect("wind speed layer");
    assert_eq!(wind["derived_from"], serde_json::json!([0, 1]));
    assert_eq!(wind["palette"], "wind_speed");
    for l in layers {
        let name = l["name"].as_str().unwrap();
        for f in [
            "tilejson.json",
            "data/tilejson.json",
            "legend.png",
            "legend.json",
            "full.png",
            "0/0/0.png",
            "data/0/0/0.png",
        ] {
            assert!(run.join(name).join(f).exists(), "{name}/{f} missing");
        }
        let tj: serde_json::Value =
            serde_json::from_slice(&std::fs::read(run.join(name).join("tilejson.json")).unwrap())
                .unwrap();
        assert_eq!(tj["tilejson"], "3.0.0");
    }
    // Wind speed is the magnitude of the two components.
    let values = |name: &str| -> Vec<f64> {
        let l = layers.iter().find(|l| l["name"] == name).unwrap();
        let (s, off) = (l["scale"].as_f64().unwrap(), l["offset"].as_f64().unwrap());
        let bytes = std::fs::read(run.join(name).join("data/2/1/1.png")).unwrap();
        let (_, _, px) = tilecast::render::encode::decode_rgba(&bytes).unwrap();
        px.chunks(4)
            .map(|p| off + s * (p[0] as f64 * 256.0 + p[1] as f64))
            .collect()
    };
    let (u, v, w) = (
        values(names[0]),
        values(names[1]),
        values(wind["name"].as_str().unwrap()),
    );
    for k in (0..u.len()).step_by(97) {
        assert!(
            (u[k].hypot(v[k]) - w[k]).abs() < 0.01,
            "pixel {k}: |({}, {})| != {}",
            u[k],
            v[k],
            w[k]
        );
    }
}

#[test]
fn empty_tiles_are_not_written() {
    // A Lambert field over North America: at zoom 3 most of the world's 64 tiles are empty.
    let out = tempdir();
    let o = output(
        bin()
            .arg("render")
            .arg(samples().join("lambert_t850.grib2"))
            .arg("--out")
            .arg(out.path())
            .args(["--zoom", "3"]),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let files = tree(out.path());
    let colour: Vec<_> = files
        .iter()
        .filter(|(p, _)| {
            p.to_string_lossy().contains("/3/") && !p.to_string_lossy().contains("/data/")
        })
        .collect();
    assert!(
        !colour.is_empty() && colour.len() < 12,
        "{} colour tiles at z3",
        colour.len()
    );
    for (_, bytes) in colour {
        let (_, _, px) = tilecast::render::encode::decode_rgba(bytes).unwrap();
        assert!(
            px.chunks(4).any(|p| p[3] > 0),
            "a written tile is fully transparent"
        );
    }
}

#[test]
fn bad_files_give_clear_errors_and_exit_codes_never_panics() {
    let dir = tempdir();
    let d = dir.path();
    let cases: Vec<(PathBuf, &str)> = {
        let mut v = Vec::new();
        let empty = d.join("empty.grib2");
        std::fs::write(&empty, b"").unwrap();
        v.push((empty, "empty file"));
        let random = d.join("random.grib2");
        let mut x: u64 = 0x9E3779B97F4A7C15;
        let bytes: Vec<u8> = (0..10_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        std::fs::write(&random, &bytes).unwrap();
        v.push((random, "not a GRIB or NetCDF file"));
        let mislabelled = d.join("actually_netcdf.grib2");
        std::fs::copy(samples().join("era_like.nc"), &mislabelled).unwrap();
        v.push((mislabelled, ""));
        let truncated = d.join("truncated.grib2");
        let full = std::fs::read(samples().join("global_t2m.grib2")).unwrap();
        std::fs::write(&truncated, &full[..full.len() / 2]).unwrap();
        v.push((truncated, "truncated"));
        let nc_trunc = d.join("truncated.nc");
        let full = std::fs::read(samples().join("era_like.nc")).unwrap();
        std::fs::write(&nc_trunc, &full[..full.len() / 3]).unwrap();
        v.push((nc_trunc, ""));
        v
    };
    for (file, expect) in cases {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        for args in [vec!["inspect"], vec!["render", "--zoom", "0-1", "--out"]] {
            let mut cmd = bin();
            cmd.args(&args);
            if args[0] == "render" {
                cmd.arg(d.join("out"));
            }
            let o = output(cmd.arg(&file));
            let err = stderr(&o);
            assert!(!err.contains("panicked"), "{name}: panic: {err}");
            if name == "actually_netcdf.grib2" {
                assert!(
                    o.status.success(),
                    "{name}: content decides the format: {err}"
                );
                continue;
            }
            let code = o.status.code().expect("exit code");
            assert!(code == 1 || code == 3, "{name} {args:?}: exit {code}");
            let text = format!("{err}{}", String::from_utf8_lossy(&o.stdout));
            assert!(
                text.contains(&name),
                "{name}: error does not name the file: {text}"
            );
            assert!(
                text.contains(expect),
                "{name}: expected {expect:?} in {text}"
            );
        }
    }
}

#[test]
fn truncation_at_every_point_never_panics() {
    // Cut a real multi-field file at many offsets, including inside every section.
    let full = std::fs::read(shared().join("grib2/pygrib__ngm.grb")).unwrap();
    let dir = tempdir();
    let path = dir.path().join("cut.grb");
    for cut in (0..full.len())
        .step_by(97)
        .chain([full.len() - 1, full.len() - 4])
    {
        std::fs::write(&path, &full[..cut]).unwrap();
        let o = output(bin().arg("inspect").arg("--json").arg(&path));
        assert!(
            !stderr(&o).contains("panicked"),
            "cut at {cut}: {}",
            stderr(&o)
        );
        assert!(matches!(o.status.code(), Some(0 | 1 | 3)), "cut at {cut}");
    }
}

#[test]
fn unsupported_fields_are_listed_and_the_rest_renders() {
    let dir = tempdir();
    // One file holding a supported field followed by three whose grid template is made
    // one tilecast does not read (3.204, curvilinear orthogonal).
    let mut bytes = std::fs::read(samples().join("global_t2m.grib2")).unwrap();
    let mut other =
        std::fs::read(shared().join("unsupported/cfgrib__regular_gg_ml_g2.grib")).unwrap();
    set_grid_template(&mut other, 204);
    bytes.extend(other);
    let mixed = dir.path().join("mixed.grib2");
    std::fs::write(&mixed, &bytes).unwrap();
    let out = dir.path().join("out");
    let o = output(
        bin()
            .args(["render", "--zoom", "0-1", "--out"])
            .arg(&out)
            .arg(&mixed),
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("field 1") && err.contains("3.204"), "{err}");
    let run = run_dir(&out);
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["layers"].as_array().unwrap().len(), 1);
    assert_eq!(m["failed"].as_array().unwrap().len(), 3);
}

/// Sets the grid definition template number of every GRIB2 message in `bytes` (messages
/// may have padding between them).
fn set_grid_template(bytes: &mut [u8], template: u16) {
    let be32 = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
    let mut msg = 0;
    let mut patched = 0;
    while let Some(k) = bytes[msg..].windows(4).position(|w| w == b"GRIB") {
        msg += k;
        let len = u64::from_be_bytes(bytes[msg + 8..msg + 16].try_into().unwrap()) as usize;
        let mut at = msg + 16;
        while at + 5 <= msg + len && &bytes[at..at + 4] != b"7777" {
            let n = be32(&bytes[at..]);
            if bytes[at + 4] == 3 {
                bytes[at + 12..at + 14].copy_from_slice(&template.to_be_bytes());
                patched += 1;
            }
            at += n;
        }
        msg += len;
    }
    assert!(patched > 0, "no section 3 found");
}

#[test]
fn extract_writes_npy_and_inspect_lists_fields() {
    let dir = tempdir();
    let npy = dir.path().join("v.npy");
    let o = output(
        bin()
            .arg("extract")
            .arg(samples().join("sst_missing.grib2"))
            .args(["--field", "0", "--out"])
            .arg(&npy),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let (shape, values) = tilecast::io::npy::read(&std::fs::read(&npy).unwrap()).unwrap();
    assert_eq!(shape, vec![91, 180]);
    assert!(values.iter().any(|v| v.is_nan()) && values.iter().any(|v| *v > 290.0));
    let o = output(
        bin()
            .arg("inspect")
            .arg("--json")
            .arg(samples().join("global_uv10.grib2")),
    );
    let inv: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(inv["fields"].as_array().unwrap().len(), 2);
    assert_eq!(inv["fields"][0]["level"]["label"], "10m");
    let o = output(
        bin()
            .arg("extract")
            .arg(samples().join("sst_missing.grib2"))
            .args(["--field", "7", "--out"])
            .arg(&npy),
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no field 7"), "{}", stderr(&o));
    // Coordinates: (ny, nx, 2) on a regular grid, (n, 2) with (n,) values on a reduced one.
    let ll = dir.path().join("ll.npy");
    for (file, values_shape, ll_shape) in [
        (
            samples().join("sst_missing.grib2"),
            vec![91, 180],
            vec![91, 180, 2],
        ),
        (
            shared().join("grids/earthkit__O32_global.grib2"),
            vec![5248],
            vec![5248, 2],
        ),
    ] {
        let o = output(
            bin()
                .arg("extract")
                .arg(&file)
                .args(["--field", "0", "--out"])
                .arg(&npy)
                .arg("--lonlat")
                .arg(&ll),
        );
        assert!(o.status.success(), "{}", stderr(&o));
        let (shape, _) = tilecast::io::npy::read(&std::fs::read(&npy).unwrap()).unwrap();
        assert_eq!(shape, values_shape);
        let (shape, c) = tilecast::io::npy::read(&std::fs::read(&ll).unwrap()).unwrap();
        assert_eq!(shape, ll_shape);
        assert!(c
            .chunks(2)
            .all(|p| (-180.0..=360.0).contains(&p[0]) && p[1].abs() <= 90.0));
    }
}

#[test]
fn help_everywhere_and_flags_from_environment() {
    // Every subcommand's help says what it does, shows its usage line, and ends well.
    for (sub, says) in [
        ("", "Turn GRIB2 and NetCDF weather fields into map tiles"),
        (
            "render",
            "Render files into colour tiles, data tiles, images, legends",
        ),
        ("inspect", "List the fields of a file with their metadata"),
        (
            "extract",
            "Write one field's decoded values as a float32 .npy array",
        ),
        (
            "chunker",
            "plan each new file into jobs and publish them to RabbitMQ",
        ),
        (
            "worker",
            "Take one job (or --max-jobs) from RabbitMQ, render it",
        ),
        (
            "ledger",
            "write each run's manifest when all its jobs are accounted for",
        ),
        ("pool", "each in a process of its own"),
    ] {
        let o = output(bin().args((!sub.is_empty()).then_some(sub)).arg("--help"));
        assert_eq!(o.status.code(), Some(0), "{sub} --help");
        let help = String::from_utf8_lossy(&o.stdout)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        assert!(help.contains(says), "{sub} --help lacks {says:?}: {help}");
        let usage = format!("Usage: tilecast {sub}").trim_end().to_string();
        assert!(
            help.contains(&usage),
            "{sub} --help lacks {usage:?}: {help}"
        );
        assert!(!help.contains("(later)"), "{sub} --help: {help}");
    }
    let o = output(bin().arg("render").arg("--help"));
    let help = String::from_utf8_lossy(&o.stdout);
    for env in [
        "TILECAST_OUT",
        "TILECAST_ZOOM",
        "TILECAST_TILING",
        "TILECAST_PALETTE",
        "TILECAST_RANGE",
        "TILECAST_RESAMPLE",
        "TILECAST_FORMAT",
    ] {
        assert!(help.contains(env), "{env} not documented in --help");
    }
    // A flag given only through the environment takes effect.
    let out = tempdir();
    let o = output(
        bin()
            .arg("render")
            .arg(samples().join("global_t2m.grib2"))
            .env("TILECAST_OUT", out.path())
            .env("TILECAST_ZOOM", "1-1")
            .env("TILECAST_TILING", "geographic"),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let run = run_dir(out.path());
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["layers"][0]["tiling"], "geographic");
    assert_eq!(m["layers"][0]["minzoom"], 1);
    let out = tempdir();
    let o = output(
        bin()
            .arg("render")
            .arg(samples().join("global_t2m.grib2"))
            .env("TILECAST_OUT", out.path())
            .env("TILECAST_ZOOM", "1-1")
            .env("TILECAST_FORMAT", "both"),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let run = run_dir(out.path());
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["settings"]["format"], "both");
    let archive = m["layers"][0]["pmtiles"].as_str().unwrap();
    assert!(run.join(archive).exists(), "{archive}");
    // PMTiles address square pyramids: geographic tiles (2×1 at z0) cannot go in one.
    let o = output(
        bin()
            .arg("render")
            .arg(samples().join("global_t2m.grib2"))
            .args(["--format", "pmtiles", "--tiling", "geographic"]),
    );
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("webmercator"), "{}", stderr(&o));
    let o = output(bin().arg("render").arg(samples()).args(["--format", "zip"]));
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--format"), "{}", stderr(&o));
    // Bad settings are a usage error, not a crash.
    let o = output(bin().arg("render").arg(samples()).args(["--zoom", "5-2"]));
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let o = output(
        bin()
            .arg("render")
            .arg(samples())
            .args(["--palette", "nope"]),
    );
    assert_eq!(o.status.code(), Some(3));
    assert!(stderr(&o).contains("nope"));
}
