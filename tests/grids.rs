//! The GRIB2 grids beyond regular lat/lon and the classic projections, against the
//! reference decoders: Gaussian (regular, reduced, octahedral), reduced lat/lon, rotated
//! lat/lon (WMO 3.1 and NCEP 3.32769), space view and HEALPix. Every field's values match
//! ecCodes within the packing precision with the same missing points, and every point's
//! longitude and latitude match ecCodes' geo iterator (pyproj for 3.32769, which ecCodes'
//! iterator lacks) to 1e-5 degrees.

mod common;

use std::process::Command;

use tilecast::decode::Dataset;

/// Every GRIB2 sample of these grids, from `unsupported/` (what the first release refused)
/// and `grids/`.
const FILES: &[&str] = &[
    "unsupported/cfgrib__regular_gg_ml_g2.grib",
    "unsupported/earthkit__healpix_H8.grib2",
    "unsupported/iris__sensible_pole.grib2",
    "unsupported/iris__ukv_chan9.grib2",
    "unsupported/pygrib__rap.wrfnat.grib2",
    "unsupported/pygrib__reduced_latlon_surface.grib2",
    "grids/cfgrib__alternate-scanning.grib",
    "grids/cfgrib__regular_gg_ml.grib",
    "grids/earthkit__O32_global.grib2",
    "grids/geocat__MET9_IR108_cosmode_0909210000.grb2",
    "grids/grib2io__rap.tsoil.gdt32769.grib2",
    "grids/gribrs__20260219T00Z_MSC_HRDPS_CAPE_Sfc_RLatLon0.0225_PT000H.grib2",
    "grids/iristd__reduced_gg.grib2",
];

#[test]
fn values_match_eccodes() {
    for rel in FILES {
        let file = common::shared_samples().join(rel);
        let tmp = common::tempdir();
        let oracle = common::oracle("eccodes_dump.py", &file, tmp.path());
        assert!(oracle["error"].is_null(), "{rel}: {}", oracle["error"]);
        let fields = oracle["fields"].as_array().unwrap();
        let ds = Dataset::open(&file).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ds.entries().len(), fields.len(), "{rel}: field count");
        for f in fields {
            let i = f["index"].as_u64().unwrap() as usize;
            let field = ds.decode(i).unwrap_or_else(|e| panic!("{e}"));
            let (_, want) = common::read_npy(&tmp.path().join(f["npy"].as_str().unwrap()));
            assert_eq!(field.values.len(), want.len(), "{rel}: field {i} size");
            let tol = f["precision"].as_f64().unwrap_or(0.0).max(1e-5);
            let mut worst = 0f64;
            for (k, (&got, &want)) in field.values.iter().zip(&want).enumerate() {
                assert_eq!(got.is_nan(), want.is_nan(), "{rel}: field {i} point {k}");
                if !want.is_nan() {
                    worst = worst.max((got as f64 - want).abs());
                }
            }
            assert!(worst <= tol, "{rel}: field {i}: {worst} > {tol}");
        }
    }
}

#[test]
fn every_point_is_where_the_reference_puts_it() {
    for rel in FILES {
        let file = common::shared_samples().join(rel);
        let tmp = common::tempdir();
        let out = tmp.path().join("ll.npy");
        let ncep = rel.contains("rap.");
        let script = if ncep {
            "tests/oracle/ncep_rotated_latlon.py"
        } else {
            "tests/oracle/eccodes_latlon.py"
        };
        common::run(
            Command::new(common::python())
                .arg(common::root().join(script))
                .arg(&file)
                .arg("0")
                .arg(&out),
        );
        let (_, ll) = common::read_npy(&out);
        let n = ll.len() / 2;
        let keys: serde_json::Value = if ncep {
            serde_json::Value::Null
        } else {
            let text = std::fs::read_to_string(format!("{}.json", out.display())).unwrap();
            serde_json::from_str(&text).unwrap()
        };
        let grid = Dataset::open(&file).unwrap().decode(0).unwrap().grid;
        let ours = grid.all_lonlat();
        assert_eq!(ours.len(), n, "{rel}: points");
        let allowance = ecc_1406(&keys, grid.nx);
        let (mut worst, mut off_disk) = (0f64, 0);
        for (k, &(lon, lat)) in ours.iter().enumerate() {
            let (want_lat, want_lon) = (ll[k], ll[n + k]);
            if keys["gridType"] == "space_view" && want_lat == 0.0 && want_lon == 0.0 {
                // ecCodes puts pixels off the earth's disk at (0, 0); we have none there.
                assert!(
                    lat.is_nan() && lon.is_nan(),
                    "{rel}: point {k} off the disk"
                );
                off_disk += 1;
                continue;
            }
            let dlat = lat - want_lat;
            let dlon = (lon - want_lon + 540.0).rem_euclid(360.0) - 180.0;
            let d = dlat.hypot(dlon * want_lat.to_radians().cos()) - allowance(k);
            worst = worst.max(d);
        }
        assert!(
            worst < 1e-5,
            "{rel}: points differ from the reference by {worst} degrees"
        );
        eprintln!("{rel}: worst {worst:.1e} degrees, {off_disk} points off the disk");
    }
}

/// ecCodes' lat/lon iterator steps latitudes by the stored Dj, rounded to micro-degrees, and
/// pins the last row to La2 (ECC-1406); tilecast spaces rows evenly between La1 and La2. On
/// rotated grids whose Dj was rounded (0.109998 for 0.11), row j differs by j times the
/// rounding: that much is ecCodes' drift, allowed on top of the tolerance.
fn ecc_1406(keys: &serde_json::Value, nx: usize) -> impl Fn(usize) -> f64 {
    let get = |k: &str| keys[k].as_f64();
    let drift = match (
        get("latitudeOfFirstGridPointInDegrees"),
        get("latitudeOfLastGridPointInDegrees"),
        get("jDirectionIncrementInDegrees"),
        get("Nj"),
    ) {
        (Some(a), Some(b), Some(dj), Some(nj)) if keys["gridType"] == "rotated_ll" && nj > 1.0 => {
            ((b - a).abs() / (nj - 1.0) - dj).abs()
        }
        _ => 0.0,
    };
    move |k: usize| {
        let j = (k / nx.max(1)) as f64;
        drift * j
    }
}

/// The reduced and HEALPix samples render, and a pixel over a grid point is that point's
/// value (the sampling uses each row's own spacing).
#[test]
fn rows_grids_sample_their_own_points() {
    use tilecast::geo::grid::GridKind;
    use tilecast::render::resample::{Resample, Sampler};
    for rel in [
        "grids/earthkit__O32_global.grib2",
        "unsupported/earthkit__healpix_H8.grib2",
        "unsupported/pygrib__reduced_latlon_surface.grib2",
    ] {
        let file = common::shared_samples().join(rel);
        let field = Dataset::open(&file).unwrap().decode(0).unwrap();
        assert!(matches!(field.grid.kind, GridKind::Rows(_)), "{rel}");
        let points = field.grid.all_lonlat();
        let s = Sampler::new(field.grid.clone(), field.values.clone(), Resample::Bilinear);
        let mut checked = 0;
        let step = (points.len() / 200).max(1);
        for (k, &(lon, lat)) in points.iter().enumerate().step_by(step) {
            let want = field.values[k];
            let got = s.at(lon, lat);
            if want.is_nan() {
                assert!(
                    got.is_nan(),
                    "{rel}: point {k} should be missing, got {got}"
                );
                continue;
            }
            assert!(
                (got - want).abs() <= 1e-3 * want.abs().max(1.0),
                "{rel}: point {k} at ({lon}, {lat}): {got} vs {want}"
            );
            checked += 1;
        }
        assert!(checked > 20, "{rel}: only {checked} points checked");
    }
}

/// Every file of `unsupported/` but the deliberately corrupted one is checked here.
#[test]
fn every_formerly_unsupported_grib2_sample_is_checked() {
    let dir = common::shared_samples().join("unsupported");
    for e in std::fs::read_dir(&dir).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        if name.ends_with(".md") || name == "cfgrib__era5-levels-corrupted.grib" {
            continue;
        }
        let rel = format!("unsupported/{name}");
        assert!(FILES.contains(&rel.as_str()), "{rel} is not in FILES");
    }
}

/// The bearing of each grid's y axis, which turns grid-relative winds to earth-relative ones,
/// against pyproj on the coordinate system GDAL reads from the file: Lambert, polar
/// stereographic and rotated lat/lon, GRIB2 and GRIB1, within 1e-6 radians at every point.
/// (WRF's own COSALPHA/SINALPHA agree within float32 precision, `tests/netcdf_geometry.rs`.)
#[test]
fn wind_turning_angles_match_pyproj() {
    use tilecast::geo::wind;
    for rel in [
        "grib2/gribberish__hrrr.t06z.wrfsfcf01-TMP.grib2",
        "grib2/gribberish__aqm.t12z.ave_1hr_o3-AK-polar-stereographic.grib2",
        "unsupported/iris__sensible_pole.grib2",
        "grids/geocat__MET9_IR108_cosmode_0909210000.grb2",
        // GRIB edition 1: the grid-relative u/v pairs on a rotated and a polar grid, and the
        // UK rotated grid.
        "grids/earthkit__rotated_wind_20x20.grib",
        "grib1/pygrib__CMC_reg_WIND_ISBL_300_ps60km_2010052400_P012.grib",
        "grids/iristd__uk_wrongparam.grib1",
    ] {
        let file = common::shared_samples().join(rel);
        let grid = Dataset::open(&file).unwrap().decode(0).unwrap().grid;
        let ours = wind::y_axis_bearings(&grid).expect("a grid with its own axes");
        let tmp = common::tempdir();
        let points = tmp.path().join("points.npy");
        let flat: Vec<f64> = grid
            .all_lonlat()
            .into_iter()
            .flat_map(|(lon, lat)| [lon, lat])
            .collect();
        let mut buf = Vec::new();
        tilecast::io::npy::write_f64(&mut buf, &[grid.len(), 2], &flat).unwrap();
        std::fs::write(&points, buf).unwrap();
        let out = tmp.path().join("north.npy");
        common::run(
            Command::new(common::python())
                .arg(common::root().join("tests/oracle/grid_north.py"))
                .arg(&file)
                .arg(&points)
                .arg(&out),
        );
        let (_, want) = common::read_npy(&out);
        assert_eq!(want.len(), ours.len(), "{rel}");
        let worst = ours
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0f64, f64::max);
        let spread = want.iter().fold(0f64, |m, b| m.max(b.abs()));
        assert!(
            spread > 0.01,
            "{rel}: a grid whose axes barely turn tests nothing"
        );
        assert!(
            worst < 1e-6,
            "{rel}: bearings differ by up to {worst} radians"
        );
        eprintln!("{rel}: worst {worst:.1e} rad over a spread of {spread:.3} rad");
    }
}

/// WRF writes the turning of its own grid: COSALPHA and SINALPHA, the cosine and sine of the
/// angle from true north to grid north, anticlockwise (float32). The bearing of the grid's y
/// axis computed from its MAP_PROJ projection is minus that angle.
#[test]
fn wrf_cosalpha_sinalpha_match_the_grid_bearings() {
    use tilecast::geo::wind;
    let file = common::shared_samples().join("grids/salem__wrf_d01_allvars_cropped.nc");
    let ds = Dataset::open(&file).unwrap();
    let find = |name: &str| {
        let e = ds
            .entries()
            .iter()
            .find(|e| e.info.as_ref().is_ok_and(|i| i.variable == name))
            .unwrap_or_else(|| panic!("no {name}"));
        ds.decode(e.index).unwrap()
    };
    let (cos, sin) = (find("COSALPHA"), find("SINALPHA"));
    let bearings = wind::y_axis_bearings(&cos.grid).expect("a Lambert grid");
    let mut worst = 0f64;
    for (k, b) in bearings.iter().enumerate() {
        let alpha = (sin.values[k] as f64).atan2(cos.values[k] as f64);
        worst = worst.max((alpha + b).abs());
    }
    assert!(
        bearings.iter().any(|b| b.abs() > 0.01),
        "no turning to test"
    );
    assert!(
        worst < 1e-4,
        "WRF's alpha differs from -bearing by {worst} radians"
    );
}
