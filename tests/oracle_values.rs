//! Decoded values against the reference decoders: every field of every supported sample file
//! must match ecCodes (GRIB2) or netCDF4-python (NetCDF): identical NaN positions and a max
//! absolute difference within half the packing's precision (GRIB2) or 1e-5 relative (NetCDF).
//! The deliberately corrupted file keeps a clear per-field error naming file and field.

mod common;

use std::path::Path;

use tilecast::decode::Dataset;

fn compare_file(file: &Path, script: &str) {
    let tmp = common::tempdir();
    let oracle = common::oracle(script, file, tmp.path());
    assert!(
        oracle["error"].is_null(),
        "{}: oracle error {}",
        file.display(),
        oracle["error"]
    );
    let fields = oracle["fields"].as_array().expect("fields");
    let ds = Dataset::open(file).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        ds.entries().len(),
        fields.len(),
        "{}: field count",
        file.display()
    );
    let mut checked = 0;
    for f in fields {
        let i = f["index"].as_u64().unwrap() as usize;
        let npy = f["npy"]
            .as_str()
            .unwrap_or_else(|| panic!("{}: oracle has no array for field {i}", file.display()));
        let field = ds.decode(i).unwrap_or_else(|e| panic!("{e}"));
        let (shape, want) = common::read_npy(&tmp.path().join(npy));
        assert_eq!(
            shape,
            vec![field.grid.ny, field.grid.nx],
            "{}: field {i} shape",
            file.display()
        );
        let scale = want
            .iter()
            .filter(|v| v.is_finite())
            .fold(0f64, |m, v| m.max(v.abs()));
        let tol = match f["precision"].as_f64() {
            Some(p) => p.max(1e-5 * scale),
            None => 1e-5 * scale.max(1.0),
        };
        let mut worst = 0f64;
        for (k, (&got, &want)) in field.values.iter().zip(&want).enumerate() {
            assert_eq!(
                got.is_nan(),
                want.is_nan(),
                "{}: field {i}: point {k} missing in one decoder only ({got} vs {want})",
                file.display()
            );
            if !want.is_nan() {
                worst = worst.max((got as f64 - want).abs());
            }
        }
        assert!(
            worst <= tol,
            "{}: field {i}: max difference {worst} > {tol}",
            file.display()
        );
        if script == "eccodes_dump.py" {
            check_valid_time(file, i, f, field.info.valid_time.as_deref());
        }
        // WRF's times are the oracle's reading of `Times`.
        if oracle["wrf"] == true {
            assert_eq!(
                field.info.valid_time.as_deref(),
                f["valid_time"].as_str(),
                "{}: field {i} valid time",
                file.display()
            );
        }
        checked += 1;
    }
    assert!(checked > 0, "{}: nothing compared", file.display());
}

/// The valid time matches ecCodes' validityDate/validityTime; where ecCodes has none, so
/// must we.
fn check_valid_time(file: &Path, i: usize, f: &serde_json::Value, got: Option<&str>) {
    let want = match (f["validityDate"].as_i64(), f["validityTime"].as_i64()) {
        (Some(d), Some(t)) => Some(format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:00Z",
            d / 10000,
            d / 100 % 100,
            d % 100,
            t / 100,
            t % 100
        )),
        (None, None) => None,
        (d, t) => panic!(
            "{}: field {i}: ecCodes gives validityDate {d:?} but validityTime {t:?}",
            file.display()
        ),
    };
    assert_eq!(
        got,
        want.as_deref(),
        "{}: field {i} valid time (None: ecCodes has no validity date)",
        file.display()
    );
}

fn all_in(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e != "md" && e != "py"))
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no files in {}", dir.display());
    v
}

#[test]
fn shared_grib2_files_match_eccodes() {
    for f in all_in(&common::shared_samples().join("grib2")) {
        compare_file(&f, "eccodes_dump.py");
    }
}

#[test]
fn shared_netcdf_files_match_netcdf4() {
    for f in all_in(&common::shared_samples().join("netcdf")) {
        compare_file(&f, "netcdf_dump.py");
    }
}

/// The NetCDF files of grids/: WRF output (Lambert, Mercator, a moving nest, staggered
/// winds), CF rotated-pole and geostationary grids.
pub const NETCDF_GRIDS: &[&str] = &[
    "salem__wrf_d01_allvars_cropped.nc",
    "salem__wrf_mercator.nc",
    "wrfpython__ci_test_file.nc",
    "geocat__tas_rotated_grid_EUR11.nc",
    "iristd__rotPole_landAreaFraction.nc",
    "fieldglass__goes16_abi_cmip.nc",
];

#[test]
fn netcdf_grid_files_match_netcdf4() {
    for name in NETCDF_GRIDS {
        compare_file(
            &common::shared_samples().join("grids").join(name),
            "netcdf_dump.py",
        );
    }
}

#[test]
fn own_sample_files_match_the_oracles() {
    for f in all_in(&common::own_samples()) {
        let script = if f.extension().is_some_and(|e| e == "nc") {
            "netcdf_dump.py"
        } else {
            "eccodes_dump.py"
        };
        compare_file(&f, script);
    }
}

/// The deliberately corrupted ERA5 file (see the samples' README) keeps a clear error: its
/// first message's length is broken, so that entry is a structure error naming the file,
/// and the file still opens; its second message decodes (`tests/grib1.rs`). Every other file
/// in unsupported/ now decodes (`tests/grids.rs`).
#[test]
fn corrupted_era5_file_keeps_a_clear_error() {
    let name = "cfgrib__era5-levels-corrupted.grib";
    let f = common::shared_samples().join("unsupported").join(name);
    let ds = Dataset::open(&f).unwrap_or_else(|e| panic!("{e}"));
    let first = ds
        .entries()
        .first()
        .expect("an entry for the broken message");
    let err = match &first.info {
        Ok(_) => ds
            .decode(first.index)
            .expect_err("the broken message must not decode")
            .to_string(),
        Err(err) => err.to_string(),
    };
    assert!(err.contains(name), "error does not name the file: {err}");
    assert!(
        err.contains("field 0: "),
        "error does not name the field: {err}"
    );
}

/// Every grid point's position against ecCodes' geo iterator, for one field of each grid in
/// the GRIB2 samples: lat/lon in both scanning directions and both longitude conventions,
/// Lambert, polar stereographic and Mercator (the NDFD Mercator grid spans 250 degrees, more
/// than GDAL can warp, so this is its outside check).
#[test]
fn grid_geometry_matches_eccodes() {
    let files = [
        "grib2/cfgrib__ds.waveh.5.grib",
        "grib2/cfgrib__regular_ll_msl.grib",
        "grib2/geocat__200711210135_NCV_FLIGHTCAT_A.grb2",
        "grib2/gribberish__aifs-single-t500.grib2",
        "grib2/gribberish__aqm.t12z.ave_1hr_o3-AK-polar-stereographic.grib2",
        "grib2/gribberish__hrrr.t06z.wrfsfcf01-TMP.grib2",
        "grib2/iris__uk_t.grib2",
        "grib2/pygrib__eta.grb",
        "grib2/pygrib__ngm.grb",
        "grib2/wgrib2__gdaswave.t00z.wcoast.0p16.f000.grib2",
    ];
    let tmp = common::tempdir();
    for rel in files {
        let file = common::shared_samples().join(rel);
        let out = tmp.path().join("latlon.npy");
        common::run(
            std::process::Command::new(common::python())
                .arg(common::root().join("tests/oracle/eccodes_latlon.py"))
                .arg(&file)
                .arg("0")
                .arg(&out),
        );
        let (shape, ll) = common::read_npy(&out);
        let grid = Dataset::open(&file).unwrap().decode(0).unwrap().grid;
        assert_eq!(shape, vec![2, grid.ny, grid.nx], "{rel}");
        let n = grid.nx * grid.ny;
        let mut worst = 0f64;
        for k in (0..n).step_by(7).chain([n - 1]) {
            let (i, j) = ((k % grid.nx) as f64, (k / grid.nx) as f64);
            let (lon, lat) = grid.lonlat(i, j);
            let dlat = lat - ll[k];
            let dlon = (lon - ll[n + k] + 540.0).rem_euclid(360.0) - 180.0;
            // Longitude differences shrink towards the poles; compare distances in degrees.
            let d = dlat.hypot(dlon * lat.to_radians().cos());
            worst = worst.max(d);
        }
        // ecCodes steps by Di as stored, rounded to micro-degrees (1/6 degree is 0.166667);
        // tilecast spaces points evenly between the first and last: they part by up to
        // 5e-5 degrees (5 m, 3e-4 of a cell) at the far edge of the 1/6-degree grid.
        assert!(
            worst < 1e-4,
            "{rel}: points differ from ecCodes by up to {worst} degrees"
        );
        eprintln!("{rel}: max position difference {worst:.2e} degrees");
    }
}
