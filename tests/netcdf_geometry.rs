//! Where the points of NetCDF fields are: every point of every field of the NetCDF files of
//! grids/ (WRF output, CF rotated-pole and geostationary grids), from `Grid::lonlat` of the
//! decoded grid, against `tests/oracle/netcdf_lonlat.py`: the file's own coordinates
//! (WRF's `XLAT`/`XLONG` at the field's time, the 2-D lat/lon of a CF file) and pyproj on
//! the CF grid mapping. Also: a file with data but no geolocation gets a clear error.
//!
//! Bounds, in degrees of arc (latitude difference and longitude difference times the
//! cosine of latitude), and what the samples give:
//! - pyproj on the grid mapping: 1e-5, the issue's bound (up to 2.3e-6: pyproj takes the
//!   coordinates as stored, EUR-11's rlon/rlat float32 roundings of an even 0.11-degree
//!   step and GOES's x/y unpacked to float32 by netCDF4; tilecast spaces points evenly).
//! - WRF's `XLAT`/`XLONG`: 3e-5 (up to 1.6e-5). WRF computes them in single precision and
//!   stores them as float32, so they scatter by a few float32 steps of a latitude (1.9e-6
//!   at 30 degrees) or longitude (7.6e-6 at 87 degrees) around the exact Lambert or
//!   Mercator grid their attributes describe, which is what tilecast builds.
//! - The 2-D lat/lon of `iristd__rotPole_landAreaFraction.nc`: 3e-4 (2.8e-4). The file's
//!   own latitudes and longitudes are that far (31 m, 1/1600 of its 0.44-degree cell) from
//!   the exact rotation of its own rlon/rlat about its own pole, by pyproj as by tilecast,
//!   which agree with each other to 1.8e-6.

mod common;

use tilecast::decode::Dataset;

/// Each file, and the grid type its fields must have (a projected grid, not the
/// curvilinear fallback that would match the file's coordinates trivially).
const FILES: &[(&str, &str)] = &[
    ("salem__wrf_d01_allvars_cropped.nc", "lambert"),
    ("salem__wrf_mercator.nc", "mercator"),
    ("wrfpython__ci_test_file.nc", "mercator"),
    ("geocat__tas_rotated_grid_EUR11.nc", "rotated_ll"),
    ("iristd__rotPole_landAreaFraction.nc", "rotated_ll"),
    ("fieldglass__goes16_abi_cmip.nc", "space_view"),
];

/// The bound for each kind of reference (see the module documentation).
fn bound(kind: &str) -> f64 {
    match kind {
        "pyproj" => 1e-5,
        "xlat" => 3e-5,
        "file" => 3e-4,
        other => panic!("unknown reference {other}"),
    }
}

#[test]
fn netcdf_grid_points_match_the_files_and_pyproj() {
    for &(name, kind) in FILES {
        let file = common::shared_samples().join("grids").join(name);
        let tmp = common::tempdir();
        common::run(
            std::process::Command::new(common::python())
                .arg(common::root().join("tests/oracle/netcdf_lonlat.py"))
                .arg(&file)
                .arg(tmp.path()),
        );
        let text = std::fs::read_to_string(tmp.path().join("lonlat.json")).unwrap();
        let oracle: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert!(oracle["error"].is_null(), "{name}: {}", oracle["error"]);
        let fields = oracle["fields"].as_array().unwrap();
        let ds = Dataset::open(&file).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ds.entries().len(), fields.len(), "{name}: field count");
        let mut worst: std::collections::BTreeMap<String, f64> = Default::default();
        let mut arrays: std::collections::HashMap<String, (Vec<usize>, Vec<f64>)> =
            Default::default();
        for f in fields {
            let i = f["index"].as_u64().unwrap() as usize;
            let info = ds.entries()[i]
                .info
                .as_ref()
                .unwrap_or_else(|e| panic!("{e}"));
            assert!(
                info.grid.starts_with(kind),
                "{name}: field {i} has grid {}, not {kind}",
                info.grid
            );
            let grid = ds.grid(i).unwrap();
            for reference in ["xlat", "file", "pyproj"] {
                let Some(npy) = f[reference].as_str() else {
                    continue;
                };
                let (shape, ll) = arrays
                    .entry(npy.to_string())
                    .or_insert_with(|| common::read_npy(&tmp.path().join(npy)));
                assert_eq!(*shape, vec![2, grid.ny, grid.nx], "{name}: field {i}");
                let d = max_distance(&grid, ll, name, i);
                let w = worst.entry(reference.to_string()).or_default();
                *w = w.max(d);
            }
        }
        assert!(!worst.is_empty(), "{name}: no reference coordinates");
        for (reference, d) in &worst {
            eprintln!("{name}: {reference}: max position difference {d:.2e} degrees");
            assert!(
                *d <= bound(reference),
                "{name}: points differ from {reference} by up to {d} degrees (bound {})",
                bound(reference)
            );
        }
    }
}

/// The largest distance (degrees) between the grid's points and `ll` (longitudes, then
/// latitudes); a point without a position must have none in both.
fn max_distance(grid: &tilecast::geo::grid::Grid, ll: &[f64], name: &str, i: usize) -> f64 {
    let n = grid.nx * grid.ny;
    let mut worst = 0f64;
    for k in 0..n {
        let (lon, lat) = grid.lonlat((k % grid.nx) as f64, (k / grid.nx) as f64);
        let (want_lon, want_lat) = (ll[k], ll[n + k]);
        assert_eq!(
            lon.is_nan() || lat.is_nan(),
            want_lon.is_nan() || want_lat.is_nan(),
            "{name}: field {i} point {k}: ({lon}, {lat}) against ({want_lon}, {want_lat})"
        );
        if want_lat.is_nan() {
            continue;
        }
        let dlon = (lon - want_lon + 540.0).rem_euclid(360.0) - 180.0;
        worst = worst.max((lat - want_lat).hypot(dlon * want_lat.to_radians().cos()));
    }
    worst
}

/// A file whose data variable has no coordinates, grid mapping or XLAT/XLONG: one entry,
/// the error "no geolocation for variable X" naming the file, not "no fields found".
#[test]
fn data_without_geolocation_is_a_clear_error() {
    let tmp = common::tempdir();
    let file = tmp.path().join("no_geolocation.nc");
    let script = r#"
import sys, netCDF4, numpy as np
ds = netCDF4.Dataset(sys.argv[1], "w")
ds.createDimension("rows", 3)
ds.createDimension("cols", 4)
ds.createDimension("time", 2)
t = ds.createVariable("temperature", "f4", ("time", "rows", "cols"))
t.units = "K"
t[:] = np.arange(24, dtype="f4").reshape(2, 3, 4)
ds.close()
"#;
    common::run(
        std::process::Command::new(common::python())
            .arg("-c")
            .arg(script)
            .arg(&file),
    );
    let ds = Dataset::open(&file).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ds.entries().len(), 1);
    let err = ds.decode(0).unwrap_err().to_string();
    assert!(
        err.contains(&file.display().to_string())
            && err.contains("field 0: no geolocation for variable temperature"),
        "{err}"
    );
    assert!(err.contains("(rows, cols)"), "{err}");
}
