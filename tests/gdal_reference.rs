//! Rendered data tiles against GDAL: `gdalwarp -r bilinear` of the same field to the same tile
//! bounds. Data tiles, decoded with the manifest's scale/offset, must agree with RMSE at most
//! 1% of the layer's value range, for a global lat/lon field in both tilings and for Lambert
//! fields. GDAL's georeferencing of GRIB grids is independent of tilecast's, so this also
//! checks grids, projections, scanning directions and the 0..360 longitude convention.

mod common;

use common::gdal::{check, check_source};
use tilecast::geo::tiling::Tiling;

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
