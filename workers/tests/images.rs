//! Whole-field images (`render --images equirect`) decode, with the `imageUnscale` the
//! manifest states, to the values `tilecast extract` writes, within the quantisation step:
//! pixel for grid point on regular lat/lon grids, and bilinearly between grid points at each
//! pixel's stated longitude and latitude on projected ones. Pixels are placed only by the
//! manifest's `bounds`, `width` and `height`, so a mirrored, shifted or stretched image fails.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use tilecast::decode::Dataset;
use tilecast::render::encode::decode_rgba;

mod common;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tilecast"))
}

fn own(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../sample-data")
        .join(name)
}

/// Renders `file` with images into a new directory; returns it with the run's manifest.
fn render(file: &Path, extra: &[&str]) -> (tempfile::TempDir, PathBuf, Value) {
    let out = tempfile::Builder::new()
        .prefix("tilecast-images-")
        .tempdir()
        .unwrap();
    let o = bin()
        .arg("render")
        .arg(file)
        .arg("--out")
        .arg(out.path())
        .args(["--zoom", "0-1", "--images", "equirect", "--quiet"])
        .args(extra)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let run = run_dir(out.path());
    let m = serde_json::from_slice(&std::fs::read(run.join("manifest.json")).unwrap()).unwrap();
    (out, run, m)
}

/// `tilecast extract` of one field: (ny, nx) and the values.
fn extract(file: &Path, field: u64) -> (usize, usize, Vec<f64>) {
    let dir = tempfile::tempdir().unwrap();
    let npy = dir.path().join("v.npy");
    let o = bin()
        .arg("extract")
        .arg(file)
        .args(["--field", &field.to_string(), "--out"])
        .arg(&npy)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (shape, values) = tilecast::io::npy::read(&std::fs::read(&npy).unwrap()).unwrap();
    (shape[0], shape[1], values)
}

/// A decoded image: its manifest entry's numbers and its pixels.
struct Image {
    width: usize,
    height: usize,
    bounds: [f64; 4],
    min: f64,
    max: f64,
    px: Vec<u8>,
}

impl Image {
    fn read(run: &Path, entry: &Value, image_type: &str) -> Image {
        assert_eq!(entry["image_type"], image_type);
        let f = |v: &Value| v.as_f64().unwrap();
        let (w, h) = (
            entry["width"].as_u64().unwrap() as usize,
            entry["height"].as_u64().unwrap() as usize,
        );
        let png = std::fs::read(run.join(entry["url"].as_str().unwrap())).unwrap();
        let (pw, ph, px) = decode_rgba(&png).unwrap();
        assert_eq!((pw, ph), (w, h));
        let b: Vec<f64> = entry["bounds"].as_array().unwrap().iter().map(f).collect();
        let u = entry["image_unscale"].as_array().unwrap();
        Image {
            width: w,
            height: h,
            bounds: [b[0], b[1], b[2], b[3]],
            min: f(&u[0]),
            max: f(&u[1]),
            px,
        }
    }

    /// Longitude and latitude of pixel (x, y)'s centre, from the stated bounds.
    fn lonlat(&self, x: usize, y: usize) -> (f64, f64) {
        let [w, s, e, n] = self.bounds;
        let fx = if self.width > 1 {
            x as f64 / (self.width - 1) as f64
        } else {
            0.0
        };
        let fy = if self.height > 1 {
            y as f64 / (self.height - 1) as f64
        } else {
            0.0
        };
        (w + (e - w) * fx, n - (n - s) * fy)
    }

    /// The decoded value of channel `c` at (x, y), `None` where A = 0.
    fn value(&self, x: usize, y: usize, c: usize) -> Option<f64> {
        let p = &self.px[(y * self.width + x) * 4..][..4];
        match p[3] {
            0 => None,
            255 => Some(self.min + (self.max - self.min) * p[c] as f64 / 255.0),
            a => panic!("alpha {a}"),
        }
    }

    fn step(&self) -> f64 {
        (self.max - self.min) / 255.0
    }
}

/// Values of the grid points, as `extract` writes them, at (i, j); NaN outside.
struct Points {
    nx: usize,
    ny: usize,
    v: Vec<f64>,
}

impl Points {
    fn of(file: &Path, field: u64) -> Points {
        let (ny, nx, v) = extract(file, field);
        Points { nx, ny, v }
    }

    fn at(&self, i: usize, j: usize) -> f64 {
        self.v[j * self.nx + i]
    }
}

/// Compares every pixel of a lat/lon image with the grid point at its centre: each pixel
/// centre must be a grid point (lat/lon images are not resampled). `expect` gives the
/// expected value from the grid index. Returns (pixels compared, pixels missing).
fn compare_latlon(
    img: &Image,
    c: usize,
    definition: &Value,
    expect: impl Fn(usize, usize) -> f64,
) -> (usize, usize) {
    let f = |k: &str| definition[k].as_f64().unwrap();
    let (lon0, lat0, dlon, dlat) = (f("lon0"), f("lat0"), f("dlon"), f("dlat"));
    let nx = (360.0 / dlon.abs()).round();
    let (mut compared, mut missing) = (0, 0);
    for y in 0..img.height {
        for x in 0..img.width {
            let (lon, lat) = img.lonlat(x, y);
            let fi = ((lon - lon0) / dlon).rem_euclid(nx);
            let fj = (lat - lat0) / dlat;
            assert!(
                (fi - fi.round()).abs() < 1e-6 && (fj - fj.round()).abs() < 1e-6,
                "pixel ({x}, {y}) at ({lon}, {lat}) is between grid points ({fi}, {fj})"
            );
            let (i, j) = (fi.round() as usize % nx as usize, fj.round() as usize);
            let want = expect(i, j);
            match img.value(x, y, c) {
                None => {
                    assert!(
                        want.is_nan(),
                        "pixel ({x}, {y}) missing, extract has {want}"
                    );
                    missing += 1;
                }
                Some(got) => {
                    assert!(
                        (got - want).abs() <= img.step() / 2.0 + 1e-9,
                        "pixel ({x}, {y}) at ({lon}, {lat}): {got} vs extract's {want} (step {})",
                        img.step()
                    );
                    compared += 1;
                }
            }
        }
    }
    (compared, missing)
}

/// The run directory (the one with a manifest) of an output directory.
fn run_dir(out: &Path) -> PathBuf {
    std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.join("manifest.json").exists())
        .expect("a run")
}

#[test]
fn lat_lon_images_decode_to_extracted_values_pixel_for_point() {
    // 0..359 N→S; -180..178 stored from 180; a bitmap of missing points; S→N NetCDF.
    for (name, layers) in [
        ("global_t2m.grib2", 1),
        ("global_uv10.grib2", 3),
        ("sst_missing.grib2", 1),
        ("era_like.nc", 4),
    ] {
        let file = own(name);
        let (_out, run, m) = render(&file, &[]);
        let entries = m["layers"].as_array().unwrap();
        assert_eq!(entries.len(), layers, "{name}");
        for l in entries {
            let img = Image::read(&run, &l["image"], "SCALAR");
            // A global lat/lon image runs from -180 to 180 and from 90 to -90.
            assert_eq!(img.bounds, [-180.0, -90.0, 180.0, 90.0], "{name}");
            let def = &l["grid"]["definition"];
            let (compared, missing) = match l["derived_from"].as_array() {
                None => {
                    let p = Points::of(&file, l["field"].as_u64().unwrap());
                    assert_eq!(
                        img.width,
                        p.nx + 1,
                        "{name}: one column repeats -180 at 180"
                    );
                    assert_eq!(img.height, p.ny);
                    compare_latlon(&img, 0, def, |i, j| p.at(i, j))
                }
                Some(uv) => {
                    let u = Points::of(&file, uv[0].as_u64().unwrap());
                    let v = Points::of(&file, uv[1].as_u64().unwrap());
                    let speed = compare_latlon(&img, 0, def, |i, j| u.at(i, j).hypot(v.at(i, j)));
                    let vec = Image::read(&run, &l["vector_image"], "VECTOR");
                    assert_eq!(vec.min, -vec.max, "one symmetric range");
                    assert_eq!(
                        (vec.bounds, vec.width, vec.height),
                        (img.bounds, img.width, img.height)
                    );
                    let cu = compare_latlon(&vec, 0, def, |i, j| u.at(i, j));
                    let cv = compare_latlon(&vec, 1, def, |i, j| v.at(i, j));
                    assert_eq!(cu, cv);
                    assert_eq!(cu, speed);
                    assert!(l.get("vector_image_skipped").is_none());
                    speed
                }
            };
            assert_eq!(compared + missing, img.width * img.height);
            assert!(
                compared > img.width * img.height / 3,
                "{name}: {compared} compared"
            );
            if name == "sst_missing.grib2" {
                assert!(missing > 1000, "land is missing: {missing}");
            }
        }
    }
}

/// Bilinear interpolation between the four grid points around (i, j), `None` unless all
/// four are inside and valid (where the renderer's interpolation is plain bilinear).
fn bilinear(p: &Points, i: f64, j: f64) -> Option<f64> {
    let (i0, j0) = (i.floor(), j.floor());
    if i0 < 0.0 || j0 < 0.0 || i0 as usize + 1 >= p.nx || j0 as usize + 1 >= p.ny {
        return None;
    }
    let (fi, fj) = (i - i0, j - j0);
    let (i0, j0) = (i0 as usize, j0 as usize);
    let q = [
        (p.at(i0, j0), (1.0 - fi) * (1.0 - fj)),
        (p.at(i0 + 1, j0), fi * (1.0 - fj)),
        (p.at(i0, j0 + 1), (1.0 - fi) * fj),
        (p.at(i0 + 1, j0 + 1), fi * fj),
    ];
    if q.iter().any(|(v, _)| v.is_nan()) {
        return None;
    }
    Some(q.iter().map(|(v, w)| v * w).sum())
}

#[test]
fn projected_images_decode_to_extracted_values_at_each_pixel_centre() {
    let shared = common::shared_samples();
    for (file, crosses) in [
        (own("lambert_t850.grib2"), false),
        (own("lambert_tas.nc"), false),
        (
            shared.join("grib2/gribberish__aqm.t12z.ave_1hr_o3-AK-polar-stereographic.grib2"),
            true,
        ),
    ] {
        let (_out, run, m) = render(&file, &[]);
        let l = &m["layers"][0];
        let img = Image::read(&run, &l["image"], "SCALAR");
        let [w, s, e, n] = img.bounds;
        assert!(
            s < n && w < e && (-180.0..180.0).contains(&w),
            "{:?}",
            img.bounds
        );
        assert_eq!(e > 180.0, crosses, "{}: {:?}", file.display(), img.bounds);
        let field = l["field"].as_u64().unwrap();
        let p = Points::of(&file, field);
        let grid = Dataset::open(&file)
            .unwrap()
            .decode(field as usize)
            .unwrap()
            .grid;
        let (mut compared, mut outside) = (0, 0);
        for y in 0..img.height {
            for x in 0..img.width {
                let (lon, lat) = img.lonlat(x, y);
                let got = img.value(x, y, 0);
                let Some(pos) = grid.locate(lon, lat) else {
                    assert!(got.is_none(), "pixel ({x}, {y}) off the grid has a value");
                    outside += 1;
                    continue;
                };
                let Some(want) = bilinear(&p, pos.i, pos.j) else {
                    continue;
                };
                let got =
                    got.unwrap_or_else(|| panic!("pixel ({x}, {y}) missing, expected {want}"));
                assert!(
                    (got - want).abs() <= img.step() / 2.0 + 1e-4,
                    "{}: pixel ({x}, {y}) at ({lon}, {lat}): {got} vs {want} (step {})",
                    file.display(),
                    img.step()
                );
                compared += 1;
            }
        }
        let all = img.width * img.height;
        assert!(
            compared > all / 3,
            "{}: {compared} of {all} compared",
            file.display()
        );
        // The image covers the grid's extent snugly: little of it lies off the grid, except
        // for a cone or polar grid whose outline is no lon/lat rectangle.
        assert!(
            outside < all / 2,
            "{}: {outside} of {all} off the grid",
            file.display()
        );
    }
}

/// Grid-relative winds (CF `x_wind`/`y_wind` on a Lambert grid) are turned to east and north
/// for their vector image: the manifest says so, and the speed of every pixel's (u, v) is the
/// speed image's (turning keeps the speed; nearest resampling, so both images hold the same
/// points; the angles themselves are checked against pyproj in tests/grids.rs).
#[test]
fn grid_relative_winds_are_turned_for_the_vector_image() {
    let file =
        common::shared_samples().join("netcdf/opendrift__AROME_MetCoOp_00_DEF_20160114_subset.nc");
    let (_out, run, m) = render(&file, &["--resample", "nearest"]);
    let winds: Vec<&Value> = m["layers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["derived_from"].is_array())
        .collect();
    assert!(!winds.is_empty());
    for l in winds {
        assert_eq!(l["wind_frame"], "earth (turned from grid-relative)", "{l}");
        assert!(l.get("vector_image_skipped").is_none(), "{l}");
        let speed = Image::read(&run, &l["image"], "SCALAR");
        let vec = Image::read(&run, &l["vector_image"], "VECTOR");
        assert_eq!((speed.width, speed.height), (vec.width, vec.height));
        let tol = 2.0 * (vec.max - vec.min) / 255.0 + (speed.max - speed.min) / 255.0;
        let mut compared = 0;
        for y in 0..vec.height {
            for x in 0..vec.width {
                if let (Some(s), Some(u), Some(v)) =
                    (speed.value(x, y, 0), vec.value(x, y, 0), vec.value(x, y, 1))
                {
                    assert!((u.hypot(v) - s).abs() <= tol, "({x}, {y}): {u} {v} vs {s}");
                    compared += 1;
                }
            }
        }
        assert!(compared > 1000, "{compared} pixels compared");
    }
}

/// Without `--images` nothing of this is written or listed.
#[test]
fn images_are_off_by_default() {
    let out = tempfile::tempdir().unwrap();
    let o = bin()
        .arg("render")
        .arg(own("global_uv10.grib2"))
        .arg("--out")
        .arg(out.path())
        .args(["--zoom", "0-0", "--quiet"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let run = run_dir(out.path());
    let m = std::fs::read_to_string(run.join("manifest.json")).unwrap();
    assert!(
        !m.contains("image_unscale") && !m.contains("\"images\""),
        "{m}"
    );
    let m: Value = serde_json::from_str(&m).unwrap();
    let layers = m["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 3);
    for l in layers {
        let dir = run.join(l["name"].as_str().unwrap());
        assert!(dir.join("full.png").exists(), "{}", dir.display());
        assert!(!dir.join("image.png").exists() && !dir.join("vector_image.png").exists());
    }
}
