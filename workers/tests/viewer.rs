//! The viewer (issue #12) in a real browser: `tilecast render` of a real time series publishes
//! the viewer beside its catalog; `tilecast serve` of that tree shows it in Debian's chromium,
//! driven by playwright-core (`tests/browser/viewer.mjs`), and so does a static HTTP server of
//! the same tree (node's http, `tests/browser/server.mjs`, as any static host or bucket website
//! would serve it: the copy `render` published, with relative URLs).
//!
//! The series is `sample-data/era_like.nc`'s 2 m temperature: two valid times, 6 hours
//! apart, on a regular 2° grid. The driver checks what the page shows (colour-tile pixels at
//! three points, the slider's step, the data tiles on the GPU, the globe, a page without
//! errors); this file checks the value the page reads under the cursor against the field as
//! `tilecast extract` writes it. Screenshots of each state and the driver's JSON result go to
//! `<target>/browser-artefacts/viewer/` (through `serve`) and `viewer-static/`; the same run
//! rendered with `--format pmtiles` (archives only) goes through `serve` into
//! `viewer-pmtiles/`.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};

mod common;

use common::browser::{artefacts, drive, require_tools};
use common::{bin, free_port, samples};

/// era_like.nc's grid (sample-data/README.md): 180 × 91 points, 2° apart, longitudes 0..358,
/// latitudes -90..90 (rows south to north, as stored and as `extract` writes them).
const NX: usize = 180;
const NY: usize = 91;
const STEP_DEG: f64 = 2.0;

/// Three points well inside the data, right of the control panel in a 1000 × 650 view.
const POINTS: [[f64; 2]; 3] = [[0.0, 10.0], [60.0, 45.0], [110.0, -20.0]];

fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .unwrap()
}

/// The centre of pixel (px, py) of Web Mercator tile z/x/y, as [lon, lat].
fn pixel_centre(z: u32, x: u32, y: u32, px: u32, py: u32) -> [f64; 2] {
    let n = f64::from(1u32 << z);
    let fx = (f64::from(x) + (f64::from(px) + 0.5) / 256.0) / n;
    let fy = (f64::from(y) + (f64::from(py) + 0.5) / 256.0) / n;
    let lat = (std::f64::consts::PI * (1.0 - 2.0 * fy))
        .sinh()
        .atan()
        .to_degrees();
    [fx * 360.0 - 180.0, lat]
}

/// The tile and pixel of zoom `z` under [lon, lat].
fn tile_pixel(z: u32, [lon, lat]: [f64; 2]) -> [u32; 5] {
    let n = f64::from(1u32 << z);
    let fx = (lon + 180.0).rem_euclid(360.0) / 360.0 * n;
    let r = lat.to_radians();
    let fy = (1.0 - (r.tan() + 1.0 / r.cos()).ln() / std::f64::consts::PI) / 2.0 * n;
    let (x, y) = (fx.floor(), fy.floor());
    [
        z,
        x as u32,
        y as u32,
        ((fx - x) * 256.0).floor() as u32,
        ((fy - y) * 256.0).floor() as u32,
    ]
}

/// The four grid values around [lon, lat]: their least and greatest (bilinear resampling
/// makes a pixel's value a weighted mean of exactly these), and their bilinear
/// interpolation there (what a pixel smaller than a cell gets, README "Outputs").
fn around(values: &[f64], [lon, lat]: [f64; 2]) -> [f64; 3] {
    let (i, j) = (lon.rem_euclid(360.0) / STEP_DEG, (lat + 90.0) / STEP_DEG);
    let (i0, j0) = (i.floor() as usize, j.floor() as usize);
    let (fi, fj) = (i - i0 as f64, j - j0 as f64);
    let mut range = [f64::INFINITY, f64::NEG_INFINITY];
    let mut v = [0.0; 4];
    let corners = [(i0, j0), (i0 + 1, j0), (i0, j0 + 1), (i0 + 1, j0 + 1)];
    for (k, (ii, jj)) in corners.into_iter().enumerate() {
        v[k] = values[jj.min(NY - 1) * NX + ii % NX];
        assert!(
            v[k].is_finite(),
            "the grid has no value at column {ii}, row {jj}"
        );
        range = [range[0].min(v[k]), range[1].max(v[k])];
    }
    let south = v[0] * (1.0 - fi) + v[1] * fi;
    let north = v[2] * (1.0 - fi) + v[3] * fi;
    [range[0], range[1], south * (1.0 - fj) + north * fj]
}

/// `tilecast serve` of an output tree, killed when dropped.
struct Serve(Child, String);

impl Serve {
    fn start(root: &Path) -> Serve {
        let addr = format!("127.0.0.1:{}", free_port());
        let mut child = Command::new(bin())
            .arg("serve")
            .arg(root)
            .args(["--addr", &addr])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        // Its first line says where it serves, once the socket is bound.
        let mut out = child.stdout.take().unwrap();
        let (mut line, mut b) = (Vec::new(), [0u8; 1]);
        while out.read(&mut b).unwrap_or(0) == 1 && b[0] != b'\n' {
            line.push(b[0]);
        }
        let line = String::from_utf8_lossy(&line).into_owned();
        assert!(line.starts_with("serving "), "serve printed {line:?}");
        Serve(child, format!("http://{addr}/"))
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Where the driver finds the page: a running server's URL, or a tree it serves statically.
enum Host<'a> {
    Url(&'a str),
    Static(&'a Path),
}

fn run_driver(host: Host, case: &Value, artefacts: &Path) -> Value {
    let case_file = artefacts.join("case.json");
    std::fs::write(&case_file, serde_json::to_vec(case).unwrap()).unwrap();
    let mut args: Vec<std::ffi::OsString> = match host {
        Host::Url(u) => vec!["--url".into(), u.into()],
        Host::Static(root) => vec![
            "--root".into(),
            root.into(),
            "--port".into(),
            free_port().to_string().into(),
        ],
    };
    args.extend(["--case".into(), case_file.into()]);
    drive("viewer.mjs", &args, artefacts)
}

/// Runs the driver with its artefacts in `<target>/browser-artefacts/<name>/` and asserts
/// that it found nothing wrong; returns its result.
fn drive_clean(host: Host, case: &Value, name: &str) -> Value {
    let result = run_driver(host, case, &artefacts(name));
    assert!(
        result["failures"].as_array().unwrap().is_empty(),
        "{name}: {:#}",
        result["failures"]
    );
    result
}

/// `tilecast render` of era_like.nc at z0-3 into `out` with `flags`; the viewer is published
/// next to the catalog. Returns the driver's case for the t2m series and its steps.
fn render_series(out: &Path, flags: &[&str]) -> (Value, Vec<Value>) {
    let o = Command::new(bin())
        .arg("render")
        .arg(samples().join("era_like.nc"))
        .arg("--out")
        .arg(out)
        .args(["--zoom", "0-3", "--quiet"])
        .args(flags)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for key in [
        "index.html",
        "viewer/viewer.js",
        "viewer/maplibre-gl.js",
        "viewer/pmtiles.js",
        "viewer/pmtiles.LICENSE.txt",
        "catalog.json",
    ] {
        assert!(out.join(key).is_file(), "{key} is not in the output tree");
    }
    let catalog = read_json(&out.join("catalog.json"));
    let (id, series) = catalog["series"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(_, s)| s["variable"] == "t2m")
        .expect("a t2m series");
    let steps: Vec<Value> = series["steps"].as_array().unwrap().clone();
    assert_eq!(steps.len(), 2, "{series}");
    let case = json!({
        "series": id,
        "steps": steps.iter().map(|s| s["valid_time"].clone()).collect::<Vec<_>>(),
        "points": POINTS,
        "view": {"zoom": 1, "lat": 20, "lon": 30},
    });
    (case, steps)
}

/// A layer rendered as PMTiles archives only (`--format pmtiles`: no tile files, TileJSON
/// templates `pmtiles://<archive>/{z}/{x}/{y}`) shows, steps, reads values and draws its data
/// tiles on the GPU through `tilecast serve` (which answers the archives' range requests)
/// exactly as tile files do: the driver reads the tiles it checks from the archives.
#[test]
fn the_viewer_shows_a_series_rendered_as_pmtiles_archives() {
    require_tools();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let (case, steps) = render_series(&out, &["--format", "pmtiles"]);
    let layer = format!(
        "{}/{}",
        steps[0]["run"].as_str().unwrap(),
        steps[0]["layer"].as_str().unwrap()
    );
    assert!(out.join(&layer).join("tiles.pmtiles").is_file());
    assert!(
        !out.join(&layer).join("0").exists(),
        "tile files were written"
    );
    let server = Serve::start(&out);
    let result = drive_clean(Host::Url(&server.1), &case, "viewer-pmtiles");
    assert_eq!(result["states"]["hover"]["state"], "value", "{result}");
}

#[test]
fn the_viewer_shows_a_time_series_reads_values_and_draws_data_tiles_and_a_globe() {
    require_tools();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let file = samples().join("era_like.nc");
    let (case, steps) = render_series(&out, &[]);
    // A static host first (what `render` published, relative URLs), then `tilecast serve`
    // (the embedded page, absolute URLs), whose hover result is checked below.
    drive_clean(Host::Static(&out), &case, "viewer-static");
    let server = Serve::start(&out);
    let result = drive_clean(Host::Url(&server.1), &case, "viewer");
    assert_eq!(result["maplibre"], "5.24.1");

    // The value under the cursor: the data tile pixel the page read is the one under the
    // point it reports, and its value is the field there to within the quantisation step.
    let hover = &result["states"]["hover"];
    let num = |k: &str| -> f64 { hover[k].as_str().unwrap().parse().unwrap() };
    let (lon, lat, value) = (num("lon"), num("lat"), num("value"));
    assert!(
        (lon - POINTS[0][0]).abs() < 0.5 && (lat - POINTS[0][1]).abs() < 0.5,
        "{hover}"
    );
    let layer = steps[0]["layer"].as_str().unwrap();
    let run = steps[0]["run"].as_str().unwrap();
    let data_tj = read_json(&out.join(run).join(layer).join("data/tilejson.json"));
    let z = data_tj["maxzoom"].as_u64().unwrap() as u32;
    let [tz, tx, ty, px, py] = tile_pixel(z, [lon, lat]);
    let read = format!("{tz}/{tx}/{ty} {px}/{py}");
    let shown = format!(
        "{} {}",
        hover["tile"].as_str().unwrap(),
        hover["pixel"].as_str().unwrap()
    );
    assert_eq!(
        shown, read,
        "the page read another pixel than the one under {lon}, {lat}"
    );
    let npy = tmp.path().join("t2m.npy");
    let o = Command::new(bin())
        .arg("extract")
        .arg(&file)
        .args(["--field", "0", "--out"])
        .arg(&npy)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (shape, values) = tilecast::io::npy::read(&std::fs::read(&npy).unwrap()).unwrap();
    assert_eq!(shape, [NY, NX]);
    let [lo, hi, bilinear] = around(&values, pixel_centre(tz, tx, ty, px, py));
    // A code rounds to the nearest step (half a scale either way); f32 arithmetic adds far
    // less than the 1e-4 K allowed on top.
    let half = data_tj["data_encoding"]["scale"].as_f64().unwrap() / 2.0 + 1e-4;
    assert!(
        value >= lo - half && value <= hi + half,
        "the page reads {value} at {lon}, {lat}; the grid has {lo}..{hi} around the pixel centre \
         (± {half})"
    );
    assert!(
        (value - bilinear).abs() <= half,
        "the page reads {value} at {lon}, {lat}; the grid interpolates to {bilinear} at the pixel \
         centre (± {half})"
    );
    assert!(
        hover["text"].as_str().unwrap().contains("°C"),
        "the readout shows display units: {hover}"
    );
}
