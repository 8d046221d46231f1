//! Rendered data tiles against GDAL: `gdalwarp -r bilinear` of the same field to the same tile
//! bounds. Data tiles, decoded with the manifest's scale/offset, must agree with RMSE at most
//! 1% of the layer's value range, for a global lat/lon field in both tilings and for Lambert
//! fields. GDAL's georeferencing of GRIB grids is independent of tilecast's, so this also
//! checks grids, projections, scanning directions and the 0..360 longitude convention.

mod common;

use std::path::Path;
use std::process::Command;

use tilecast::geo::tiling::{TileId, Tiling};
use tilecast::io::store::LocalStore;
use tilecast::render::encode::decode_rgba;
use tilecast::run::execute::Progress;
use tilecast::run::local::render_file;
use tilecast::settings::RenderSettings;

struct Stats {
    rmse: f64,
    range: f64,
    compared: usize,
    tiles: usize,
}

/// Renders `file` and compares every data tile of zoom `z` with gdalwarp reading `source`
/// (the file itself, or a GDAL subdataset name for NetCDF variables).
fn compare(file: &Path, source: &str, tiling: Tiling, z: u8) -> Stats {
    let out = common::tempdir();
    let settings = RenderSettings {
        tiling,
        zoom: Some((z, z)),
        ..Default::default()
    };
    let report = render_file(
        file,
        &settings,
        None,
        &LocalStore::new(out.path()),
        &Progress::default(),
    )
    .expect("render");
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(std::path::Path::new(&report.location).join("manifest.json")).unwrap(),
    )
    .unwrap();
    let layer = &manifest["layers"][0];
    let (scale, offset) = (
        layer["scale"].as_f64().unwrap(),
        layer["offset"].as_f64().unwrap(),
    );
    let range = layer["value_max"].as_f64().unwrap() - layer["value_min"].as_f64().unwrap();
    let data_dir = std::path::Path::new(&report.location)
        .join(layer["name"].as_str().unwrap())
        .join("data");
    let (mut sum_sq, mut compared, mut tiles, mut ours_valid) = (0f64, 0usize, 0usize, 0usize);
    let (cols, rows) = tiling.matrix(z);
    for x in 0..cols {
        for y in 0..rows {
            let path = data_dir.join(format!("{z}/{x}/{y}.png"));
            if !path.exists() {
                continue;
            }
            tiles += 1;
            let (_, _, px) = decode_rgba(&std::fs::read(&path).unwrap()).unwrap();
            let reference = gdalwarp(source, tiling, TileId { z, x, y }, out.path());
            for (k, want) in reference.iter().enumerate() {
                let p = &px[k * 4..k * 4 + 4];
                if p[3] == 0 {
                    continue;
                }
                ours_valid += 1;
                if want.is_nan() {
                    continue;
                }
                let got = offset + scale * (p[0] as f64 * 256.0 + p[1] as f64);
                sum_sq += (got - *want as f64).powi(2);
                compared += 1;
            }
        }
    }
    assert!(tiles > 0, "no tiles rendered");
    assert!(
        compared as f64 >= 0.9 * ours_valid as f64,
        "GDAL has no value for {} of our {ours_valid} valid pixels",
        ours_valid - compared
    );
    Stats {
        rmse: (sum_sq / compared.max(1) as f64).sqrt(),
        range,
        compared,
        tiles,
    }
}

/// gdalwarp of the first field (band 1) to one tile: 256x256 float32, NaN where GDAL has no data.
fn gdalwarp(source: &str, tiling: Tiling, t: TileId, tmp: &Path) -> Vec<f32> {
    let b = tiling.tile_bounds_native(t);
    let dst = tmp.join(format!("gdal_{}_{}_{}.bin", t.z, t.x, t.y));
    common::run(
        Command::new("gdalwarp")
            // GDAL converts GRIB temperatures to Celsius unless told not to.
            .args(["--config", "GRIB_NORMALIZE_UNITS", "NO"])
            .args(["-q", "-overwrite", "-t_srs", tiling.crs(), "-te"])
            .args(b.iter().map(|v| format!("{v:.10}")))
            .args([
                "-ts", "256", "256", "-r", "bilinear", "-ot", "Float32", "-of", "ENVI",
            ])
            .args(["-dstnodata", "nan", "-wo", "SOURCE_EXTRA=2"])
            .arg(source)
            .arg(&dst),
    );
    let bytes = std::fs::read(&dst).expect("gdalwarp output");
    // ENVI is band-sequential: band 1 (the first field) comes first.
    assert!(bytes.len() >= 256 * 256 * 4);
    bytes
        .chunks_exact(4)
        .take(256 * 256)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

fn check(file: &Path, tiling: Tiling, z: u8) {
    check_source(file, &file.to_string_lossy(), tiling, z)
}

fn check_source(file: &Path, source: &str, tiling: Tiling, z: u8) {
    let s = compare(file, source, tiling, z);
    eprintln!(
        "{} {:?} z{z}: {} tiles, {} pixels, RMSE {:.4} ({:.3}% of range {:.2})",
        file.display(),
        tiling,
        s.tiles,
        s.compared,
        s.rmse,
        100.0 * s.rmse / s.range,
        s.range
    );
    assert!(
        s.compared > 10_000,
        "too few pixels compared: {}",
        s.compared
    );
    assert!(
        s.rmse <= 0.01 * s.range,
        "RMSE {} > 1% of range {}",
        s.rmse,
        s.range
    );
}

#[test]
fn global_latlon_webmercator_matches_gdal() {
    let file = common::own_samples().join("global_t2m.grib2");
    check(&file, Tiling::WebMercator, 2);
    check(&file, Tiling::WebMercator, 4);
}

#[test]
fn global_latlon_geographic_matches_gdal() {
    let file = common::own_samples().join("global_t2m.grib2");
    check(&file, Tiling::Geographic, 1);
    check(&file, Tiling::Geographic, 3);
}

#[test]
fn real_gfs_field_matches_gdal_in_both_tilings() {
    let file = common::shared_samples().join("grib2/cfgrib__regular_ll_msl.grib");
    check(&file, Tiling::WebMercator, 3);
    check(&file, Tiling::Geographic, 2);
}

#[test]
fn lambert_fields_match_gdal() {
    check(
        &common::own_samples().join("lambert_t850.grib2"),
        Tiling::WebMercator,
        4,
    );
    check(
        &common::shared_samples().join("grib2/gribberish__hrrr.t06z.wrfsfcf01-TMP.grib2"),
        Tiling::WebMercator,
        6,
    );
    check(
        &common::shared_samples().join("grib2/gribberish__hrrr.t06z.wrfsfcf01-TMP.grib2"),
        Tiling::Geographic,
        5,
    );
}

#[test]
fn low_zoom_averages_agree_with_gdal_downsampling() {
    // 3 km cells under ~20 km pixels: tilecast averages, gdalwarp widens its kernel.
    check(
        &common::shared_samples().join("grib2/gribberish__hrrr.t06z.wrfsfcf01-TMP.grib2"),
        Tiling::WebMercator,
        3,
    );
    check(
        &common::shared_samples()
            .join("grib2/gribberish__gfs.t12z.pgrb2.0p25.f023-PV-TMP-missing.grib2"),
        Tiling::WebMercator,
        1,
    );
}

#[test]
fn polar_stereographic_field_matches_gdal() {
    check(
        &common::shared_samples()
            .join("grib2/gribberish__aqm.t12z.ave_1hr_o3-AK-polar-stereographic.grib2"),
        Tiling::WebMercator,
        5,
    );
}

#[test]
fn netcdf_projected_grids_match_gdal() {
    let arome =
        common::shared_samples().join("netcdf/opendrift__AROME_MetCoOp_00_DEF_20160114_subset.nc");
    check_source(
        &arome,
        &format!("NETCDF:\"{}\":x_wind_10m", arome.display()),
        Tiling::WebMercator,
        7,
    );
    let polar = common::shared_samples().join("netcdf/iris__polar_toa_brightness_temperature.nc");
    check_source(
        &polar,
        &format!("NETCDF:\"{}\":data", polar.display()),
        Tiling::WebMercator,
        4,
    );
}
