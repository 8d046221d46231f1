//! Rendered data tiles of the Gaussian, reduced, rotated, space-view and HEALPix grids
//! against a reference warp of the same field (RMSE at most 1% of the value range, in both
//! tilings): gdalwarp where GDAL reads the grid (fine regular Gaussian, WMO rotated lat/lon,
//! GRIB1 rotated and polar stereographic), else a scipy warp of ecCodes' values at ecCodes'
//! coordinates (or a NetCDF variable's at its coordinates, through pyproj).

mod common;

use common::gdal::{check, check_against, Reference};
use tilecast::geo::tiling::Tiling;

fn shared(rel: &str) -> std::path::PathBuf {
    common::shared_samples().join(rel)
}

#[test]
fn grids_gdal_reads_match_gdal() {
    // GDAL spaces a Gaussian grid's rows evenly (its origin is 89.704 for N80), which is
    // within a tenth of a row of the Gaussian latitudes.
    let gg = shared("unsupported/cfgrib__regular_gg_ml_g2.grib");
    check(&gg, Tiling::WebMercator, 2);
    check(&gg, Tiling::Geographic, 2);
    let hrdps = shared("grids/gribrs__20260219T00Z_MSC_HRDPS_CAPE_Sfc_RLatLon0.0225_PT000H.grib2");
    check(&hrdps, Tiling::WebMercator, 5);
    check(&hrdps, Tiling::Geographic, 4);
    let uk = shared("unsupported/iris__sensible_pole.grib2");
    check(&uk, Tiling::WebMercator, 5);
}

#[test]
fn grib1_grids_match_gdal() {
    // GDAL spaces the rows of this coarse N48 Gaussian grid evenly (up to half a degree off
    // the Gaussian latitudes), which alone costs 2% of the range: its reference is the
    // points warp instead (below).
    let ukv = shared("grids/iristd__uk_wrongparam.grib1");
    check(&ukv, Tiling::WebMercator, 6);
    check(&ukv, Tiling::Geographic, 5);
    check(
        &shared("grids/cfgrib__lambert_grid.grib"),
        Tiling::WebMercator,
        6,
    );
    check(
        &shared("grids/iristd__ST4.2013052210.01h"),
        Tiling::Geographic,
        4,
    );
}

#[test]
fn netcdf_rotated_and_geostationary_grids_match_warps_of_their_points() {
    // GDAL 3.6 takes the rotated coordinates of a CF rotated-pole file for geographic ones,
    // so the reference is the file's values at the points pyproj puts them.
    let eur = shared("grids/geocat__tas_rotated_grid_EUR11.nc");
    check_against(&eur, Reference::NetCdfPoints("tas"), Tiling::WebMercator, 4);
    check_against(&eur, Reference::NetCdfPoints("tas"), Tiling::Geographic, 3);
    // GDAL 3.6 misplaces the GOES cut-out too (its packed int16 x/y): pyproj's geos on the
    // file's grid mapping is the reference.
    let goes = shared("grids/fieldglass__goes16_abi_cmip.nc");
    check_against(
        &goes,
        Reference::NetCdfPoints("CMI"),
        Tiling::WebMercator,
        8,
    );
}

#[test]
fn grids_gdal_cannot_read_match_a_warp_of_eccodes_points() {
    // GDAL 3.6 reads the space-view sample too, but places it off by tens of kilometres
    // ("Point outside of projection domain" on its corners), where ecCodes, pyproj's geos
    // and tilecast agree to 1e-12 degrees (tests/grids.rs): its reference is ecCodes' points.
    // Grids of many points are compared in one tiling, to keep the triangulations short.
    let both = |w, g| vec![(Tiling::WebMercator, w), (Tiling::Geographic, g)];
    for (rel, zooms) in [
        ("grids/earthkit__O32_global.grib2", both(2, 1)),
        ("grids/iristd__reduced_gg.grib2", both(2, 2)),
        // Coarse N48 rows near the poles (20 points, 18 degrees apart) interpolate
        // differently along rows than across Delaunay triangles: compared where Web Mercator
        // stops, 85 degrees.
        (
            "grids/cfgrib__reduced_gg.grib",
            vec![(Tiling::WebMercator, 2)],
        ),
        ("grids/iristd__regular_gg.grib1", both(2, 2)),
        ("grids/iristd__reduced_ll_missing.grib1", both(2, 1)),
        // (The GRIB1 SEVIRI full disk is the same space-view geometry as ukv_chan9, checked
        // point by point in tests/grib1.rs; at the zoom of its 3 km pixels it is 39 tiles of
        // 200,000-point triangulations, too slow for the suite.)
        ("unsupported/earthkit__healpix_H8.grib2", both(1, 1)),
        ("unsupported/iris__ukv_chan9.grib2", both(6, 5)),
        (
            "unsupported/pygrib__reduced_latlon_surface.grib2",
            vec![(Tiling::WebMercator, 2)],
        ),
        (
            "grids/grib2io__rap.tsoil.gdt32769.grib2",
            vec![(Tiling::Geographic, 2)],
        ),
    ] {
        for (tiling, z) in zooms {
            check_against(&shared(rel), Reference::Points, tiling, z);
        }
    }
}
