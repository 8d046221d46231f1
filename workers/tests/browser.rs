//! The browser test (issue #11): tilecast's published documents loaded as they are by
//! MapLibre GL JS (pinned in `tests/browser/package-lock.json`) in Debian's chromium, driven
//! by playwright-core (`tests/browser/run.mjs`) over a local HTTP server.
//!
//! Three real samples, a global lat/lon grid, HRRR's Lambert grid and the AQM Alaska
//! polar-stereographic grid across the antimeridian, are rendered with `--base-url` pointing at
//! that server. Each colour TileJSON, and each data TileJSON as a `raster-dem` source with a
//! `color-relief` layer, is shown in Mercator and globe projection. Where the grid is comes from
//! the grid itself (tilecast's decoder and geometry, not its tiles): data probes are points
//! well inside the grid with values all around, background probes are points well outside it
//! or amid missing values. Each screenshot must show, at every visible data probe, the palette
//! colour of a value the grid has around it, and the background at every background probe and
//! around the globe, with no page error, console error, MapLibre error, failed request or
//! tile requested outside the TileJSON's bounds. Every 404 the driver accepted as an empty
//! tile is checked here to hold no data. The same page given a TileJSON rendered without
//! `--base-url` (tile URLs relative to the document) must fail. Screenshots and the driver's
//! JSON result go to `<target>/browser-artefacts/maps/`. `TILECAST_CHROMIUM` and `TILECAST_NODE`
//! override `/usr/bin/chromium` and `node`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};
use tilecast::decode::{Dataset, Field};
use tilecast::geo::grid::Grid;

mod common;

use common::browser::{artefacts, drive, require_tools};
use common::{bin, free_port, samples, shared_samples};

/// Pure magenta: far from every palette used here (the driver checks the distance).
const BACKGROUND: &str = "#ff00ff";
/// The `color-relief` ramp (viridis), spread over the layer's value range.
const RELIEF: [&str; 5] = ["#440154", "#3b528b", "#21918c", "#5ec962", "#fde725"];

struct Sample {
    name: &'static str,
    file: PathBuf,
    /// Map centre override (the TileJSON's `center` otherwise) and zooms, Mercator and globe:
    /// `k + 0.3`, so MapLibre draws zoom `k + 1` tiles (256 px) magnified, never from a mipmap.
    center: Option<[f64; 2]>,
    zoom: f64,
    globe_zoom: f64,
}

/// Renders `file` into `out` and returns its manifest.
fn render(file: &Path, out: &Path, base_url: Option<&str>) -> Value {
    match base_url {
        Some(b) => render_with(file, out, &["--base-url", b]),
        None => render_with(file, out, &[]),
    }
}

/// Renders `file` into `out` with `flags` besides z0-4 and returns its manifest.
fn render_with(file: &Path, out: &Path, flags: &[&str]) -> Value {
    let mut c = Command::new(bin());
    c.arg("render")
        .arg(file)
        .arg("--out")
        .arg(out)
        .args(["--zoom", "0-4", "--quiet"])
        .args(flags);
    let o = c.output().unwrap();
    assert!(
        o.status.success(),
        "render {}: {}",
        file.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    let key = String::from_utf8_lossy(&o.stdout).to_string();
    let manifests: Vec<PathBuf> = std::fs::read_dir(out)
        .unwrap()
        .flatten()
        .map(|e| e.path().join("manifest.json"))
        .filter(|p| p.exists())
        .collect();
    let m = manifests
        .iter()
        .map(|p| serde_json::from_slice::<Value>(&std::fs::read(p).unwrap()).unwrap())
        .find(|m| {
            m["source"]["key"]
                .as_str()
                .is_some_and(|k| k.ends_with(file.file_name().unwrap().to_str().unwrap()))
        })
        .unwrap_or_else(|| {
            panic!(
                "no manifest for {} in {}: {key}",
                file.display(),
                out.display()
            )
        });
    assert_eq!(m["layers"].as_array().unwrap().len(), 1, "{m}");
    m
}

/// The least and greatest value within `r` cells of (i, j), or `None` if any is missing or
/// off the grid.
fn values_around(grid: &Grid, values: &[f32], i: f64, j: f64, r: isize) -> Option<[f64; 2]> {
    let (nx, ny) = (grid.nx as isize, grid.ny as isize);
    let (ci, cj) = (i.round() as isize, j.round() as isize);
    let mut range = [f64::INFINITY, f64::NEG_INFINITY];
    for jj in cj - r..=cj + r {
        for ii in ci - r..=ci + r {
            let ii = if grid.wraps() { ii.rem_euclid(nx) } else { ii };
            if ii < 0 || jj < 0 || ii >= nx || jj >= ny {
                return None;
            }
            let v = f64::from(values[(jj * nx + ii) as usize]);
            if !v.is_finite() {
                return None;
            }
            range = [range[0].min(v), range[1].max(v)];
        }
    }
    Some(range)
}

/// Whether every value within `r` cells of (i, j) on the grid is missing.
fn missing_around(grid: &Grid, values: &[f32], i: f64, j: f64, r: isize) -> bool {
    let (nx, ny) = (grid.nx as isize, grid.ny as isize);
    let (ci, cj) = (i.round() as isize, j.round() as isize);
    (cj - r..=cj + r).all(|jj| {
        (ci - r..=ci + r).all(|ii| {
            let ii = if grid.wraps() { ii.rem_euclid(nx) } else { ii };
            (0..nx).contains(&ii)
                && (0..ny).contains(&jj)
                && values[(jj * nx + ii) as usize].is_nan()
        })
    })
}

/// Probes, `[lon, lat]`: a lattice over twice the grid's index range, kept where the answer
/// is clear. Data probes are at least `m` cells inside the edges (5% of the grid, 3 cells at
/// least: several screen pixels at the zooms shown) with a value in every cell within `r` (2%
/// of the grid, 2 cells at least), and come with the least and greatest of those values.
/// Background probes are more than `m` cells outside the edges (and not located in the grid),
/// or have every cell within `r` missing.
struct Probes {
    data: Vec<[f64; 2]>,
    ranges: Vec<[f64; 2]>,
    background: Vec<[f64; 2]>,
}

fn probes(grid: &Grid, values: &[f32]) -> Probes {
    let (nx, ny) = (grid.nx as f64, grid.ny as f64);
    let (mx, my) = ((nx * 0.05).max(3.0), (ny * 0.05).max(3.0));
    let r = (nx.max(ny) * 0.02).round().max(2.0) as isize;
    let mut p = Probes {
        data: Vec::new(),
        ranges: Vec::new(),
        background: Vec::new(),
    };
    let steps = 48;
    for a in 0..=steps {
        for b in 0..=steps {
            let i = -0.5 * nx + 2.0 * nx * f64::from(a) / f64::from(steps);
            let j = -0.5 * ny + 2.0 * ny * f64::from(b) / f64::from(steps);
            let (lon, lat) = grid.lonlat(i, j);
            if !(lon.is_finite() && lat.is_finite() && lat.abs() <= 84.0) {
                continue;
            }
            let i = if grid.wraps() { i.rem_euclid(nx) } else { i };
            let inside_i = grid.wraps() || (i >= mx && i <= nx - 1.0 - mx);
            let inside = inside_i && j >= my && j <= ny - 1.0 - my;
            let outside_i = !grid.wraps() && (i < -mx || i > nx - 1.0 + mx);
            let outside = outside_i || j < -my || j > ny - 1.0 + my;
            let at = [(lon * 1e4).round() / 1e4, (lat * 1e4).round() / 1e4];
            if let Some(range) = inside
                .then(|| values_around(grid, values, i, j, r))
                .flatten()
            {
                p.data.push(at);
                p.ranges.push(range);
            } else if inside && missing_around(grid, values, i, j, r)
                || outside && grid.locate(lon, lat).is_none()
            {
                p.background.push(at);
            }
        }
    }
    p
}

/// Whether Web Mercator tile z/x/y holds a point well inside the grid (2 cells from its edges)
/// with a value: a tile like that must exist.
fn tile_has_data(grid: &Grid, values: &[f32], [z, x, y]: [u32; 3]) -> bool {
    let n = f64::from(1u32 << z);
    let steps = 32;
    (0..steps * steps).any(|k| {
        let fx = (f64::from(x) + (f64::from(k % steps) + 0.5) / f64::from(steps)) / n;
        let fy = (f64::from(y) + (f64::from(k / steps) + 0.5) / f64::from(steps)) / n;
        let lon = fx * 360.0 - 180.0;
        let lat = (std::f64::consts::PI * (1.0 - 2.0 * fy))
            .sinh()
            .atan()
            .to_degrees();
        grid.locate(lon, lat).is_some_and(|p| {
            let (nx, ny) = (grid.nx as f64, grid.ny as f64);
            let edge = grid.wraps() || (p.i >= 2.0 && p.i <= nx - 3.0);
            edge && p.j >= 2.0
                && p.j <= ny - 3.0
                && values_around(grid, values, p.i, p.j, 0).is_some()
        })
    })
}

fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .unwrap()
}

/// The cases of one sample rendered into `out` with `base` as its base URL: the colour
/// TileJSON, and the data TileJSON with `color-relief`, each in Mercator and globe projection.
fn sample_cases(s: &Sample, out: &Path, base: &str) -> (Vec<Value>, Field) {
    let m = render(&s.file, out, Some(base));
    let run = m["run"].as_str().unwrap();
    let layer = &m["layers"][0];
    let field = Dataset::open(&s.file)
        .unwrap()
        .decode(layer["field"].as_u64().unwrap() as usize)
        .unwrap();
    let p = probes(&field.grid, &field.values);
    let dir = out.join(run);
    let tj = read_json(&dir.join(layer["tilejson"].as_str().unwrap()));
    let center = s.center.unwrap_or([
        tj["center"][0].as_f64().unwrap(),
        tj["center"][1].as_f64().unwrap(),
    ]);
    let legend = read_json(
        &dir.join(layer["name"].as_str().unwrap())
            .join("legend.json"),
    );
    let palette: Vec<Value> = legend["stops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| json!([s["value"], s["color"]]))
        .collect();
    let url = |k: &str| format!("{base}/{run}/{}", layer[k].as_str().unwrap());
    // A global grid has no outside on a Mercator map.
    let min_visible = json!({"data": 20, "background": if s.name == "global" { 0 } else { 20 }});
    let case = |name: String, kind: &str, tilejson: String, projection: &str, zoom: f64| {
        json!({
            "name": name, "kind": kind, "tilejson": tilejson, "projection": projection,
            "center": center, "zoom": zoom, "background": BACKGROUND, "palette": palette,
            "probes": {"data": p.data, "background": p.background}, "ranges": p.ranges,
            "min_visible": min_visible,
        })
    };
    let mut cases = Vec::new();
    for (projection, zoom) in [("mercator", s.zoom), ("globe", s.globe_zoom)] {
        let name = format!("{}-{projection}", s.name);
        cases.push(case(name, "raster", url("tilejson"), projection, zoom));
    }
    // The run's own style.json, loaded as it is (its first layer is this one).
    let mut style = case(
        format!("{}-style-mercator", s.name),
        "style",
        url("tilejson"),
        "mercator",
        s.zoom,
    );
    style["style"] = json!(format!("{base}/{run}/style.json"));
    style["source"] = layer["name"].clone();
    cases.push(style);
    let (lo, hi) = (
        layer["value_min"].as_f64().unwrap(),
        layer["value_max"].as_f64().unwrap(),
    );
    let ramp: Vec<Value> = RELIEF
        .iter()
        .enumerate()
        .map(|(k, c)| json!([lo + (hi - lo) * k as f64 / (RELIEF.len() - 1) as f64, c]))
        .collect();
    for (projection, zoom) in [("mercator", s.zoom), ("globe", s.globe_zoom)] {
        let name = format!("{}-relief-{projection}", s.name);
        let mut relief = case(name, "color-relief", url("data_tilejson"), projection, zoom);
        relief["palette"] = json!(ramp);
        relief["ramp"] = json!(ramp);
        cases.push(relief);
    }
    (cases, field)
}

/// Runs the driver on `cases` over `root` served on `port`; its JSON result.
fn run_driver(root: &Path, port: u16, cases: &[Value], artefacts: &Path) -> Value {
    let cases_file = root.join("cases.json");
    std::fs::write(&cases_file, serde_json::to_vec(cases).unwrap()).unwrap();
    let args: [std::ffi::OsString; 6] = [
        "--root".into(),
        root.into(),
        "--port".into(),
        port.to_string().into(),
        "--cases".into(),
        cases_file.into(),
    ];
    let result = drive("run.mjs", &args, artefacts);
    for c in result["cases"].as_array().unwrap() {
        eprintln!(
            "{}: ok {}, probes {}, {} tile requests, {} empty tiles, {} ms, failures {}",
            c["name"].as_str().unwrap(),
            c["ok"],
            c["probes"],
            c["tile_requests"],
            c["empty_tiles"].as_array().unwrap().len(),
            c["ms"],
            c["failures"]
        );
    }
    result
}

#[test]
fn maplibre_shows_every_published_layer_where_its_grid_is_and_nothing_elsewhere() {
    require_tools();
    let shared = shared_samples().join("grib2");
    let all = [
        Sample {
            name: "global",
            file: samples().join("global_t2m.grib2"),
            center: Some([0.0, 20.0]),
            zoom: 0.3,
            globe_zoom: 1.3,
        },
        Sample {
            name: "lambert",
            file: shared.join("gribberish__hrrr.t06z.wrfsfcf01-TMP.grib2"),
            center: None,
            zoom: 2.3,
            globe_zoom: 2.3,
        },
        Sample {
            name: "alaska",
            file: shared.join("gribberish__aqm.t12z.ave_1hr_o3-AK-polar-stereographic.grib2"),
            center: None,
            zoom: 1.3,
            globe_zoom: 1.3,
        },
    ];
    let port = free_port();
    let root = tempfile::tempdir().unwrap();
    let base = format!("http://127.0.0.1:{port}/abs");
    let mut cases = Vec::new();
    let mut fields = std::collections::BTreeMap::new();
    for s in &all {
        let (c, field) = sample_cases(s, &root.path().join("abs"), &base);
        cases.extend(c);
        fields.insert(s.name, field);
    }
    // The negative case: the global layer rendered without a base URL, on the same page.
    let m = render(&all[0].file, &root.path().join("rel"), None);
    let mut relative = cases[0].clone();
    relative["name"] = json!("relative-tilejson");
    relative["tilejson"] = json!(format!(
        "http://127.0.0.1:{port}/rel/{}/{}",
        m["run"].as_str().unwrap(),
        m["layers"][0]["tilejson"].as_str().unwrap()
    ));
    cases.push(relative);

    let result = run_driver(root.path(), port, &cases, &artefacts("maps"));
    let results = result["cases"].as_array().unwrap();
    assert_eq!(results.len(), cases.len());
    let mut problems = Vec::new();
    for c in results.iter().filter(|c| c["name"] != "relative-tilejson") {
        let name = c["name"].as_str().unwrap();
        if c["ok"] != true {
            problems.push(format!("{name}: {}", c["failures"]));
        }
        let f = &fields[name.split('-').next().unwrap()];
        for t in c["empty_tiles"].as_array().unwrap() {
            let zxy: Vec<u32> = t
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as u32)
                .collect();
            if tile_has_data(&f.grid, &f.values, [zxy[0], zxy[1], zxy[2]]) {
                problems.push(format!("{name}: tile {zxy:?} holds data but was not found"));
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
    // The relative TileJSON fails, for what the map shows and for what the page logs.
    let rel = results
        .iter()
        .find(|c| c["name"] == "relative-tilejson")
        .unwrap();
    assert_eq!(rel["ok"], false, "{rel}");
    let failures = rel["failures"].to_string();
    assert!(failures.contains("data probes"), "{failures}");
    assert!(failures.contains("HTTP 404"), "{failures}");
}

/// A `tilecast serve` child, killed when dropped.
struct Serve(Child);

impl Serve {
    fn start(root: &Path, port: u16) -> Serve {
        let mut child = Command::new(bin())
            .arg("serve")
            .arg(root)
            .args(["--addr", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        // Its first line says where it serves; by then the socket is bound.
        let mut out = child.stdout.take().unwrap();
        let (mut line, mut b) = (Vec::new(), [0u8; 1]);
        while out.read(&mut b).unwrap_or(0) == 1 && b[0] != b'\n' {
            line.push(b[0]);
        }
        assert!(
            line.starts_with(b"serving "),
            "{}",
            String::from_utf8_lossy(&line)
        );
        Serve(child)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A `--format pmtiles` layer (no tile files, one archive) served by `tilecast serve`, which
/// answers range requests, shows in MapLibre through the `pmtiles` package's protocol: the
/// page loads the layer's TileJSON, whose tile URL is `pmtiles://<archive URL>/{z}/{x}/{y}`,
/// and the screenshot must pass the same pixel checks as the directory layers, read through
/// HTTP 206 answers.
#[test]
fn a_pmtiles_layer_shows_through_the_pmtiles_protocol_served_by_tilecast_serve() {
    require_tools();
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("pm");
    let file = samples().join("global_t2m.grib2");
    let m = render_with(&file, &data, &["--format", "pmtiles"]);
    let run = m["run"].as_str().unwrap();
    let layer = &m["layers"][0];
    let name = layer["name"].as_str().unwrap();
    assert!(
        !data.join(run).join(name).join("0").exists(),
        "tile files beside the archive"
    );
    let port = free_port();
    let _serve = Serve::start(&data, port);
    let field = Dataset::open(&file)
        .unwrap()
        .decode(layer["field"].as_u64().unwrap() as usize)
        .unwrap();
    let p = probes(&field.grid, &field.values);
    let legend = read_json(&data.join(run).join(name).join("legend.json"));
    let palette: Vec<Value> = legend["stops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| json!([s["value"], s["color"]]))
        .collect();
    let case = json!({
        "name": "pmtiles-mercator", "kind": "raster",
        "tilejson": format!("http://127.0.0.1:{port}/{run}/{name}/tilejson.json"),
        "projection": "mercator", "center": [0.0, 20.0], "zoom": 0.3,
        "background": BACKGROUND, "palette": palette,
        "probes": {"data": p.data, "background": p.background}, "ranges": p.ranges,
        // A global grid has no outside on a Mercator map.
        "min_visible": {"data": 20, "background": 0},
    });
    let result = run_driver(root.path(), free_port(), &[case], &artefacts("pmtiles"));
    let c = &result["cases"][0];
    assert_eq!(c["ok"], true, "{c}");
    assert!(
        c["partial_responses"].as_u64().unwrap() > 0,
        "no range request answered: {c}"
    );
}
