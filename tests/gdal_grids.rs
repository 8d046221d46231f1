//! Rendered data tiles of the Gaussian, reduced, rotated, space-view and HEALPix grids
//! against a reference warp of the same field (RMSE at most 1% of the value range, in both
//! tilings): gdalwarp where GDAL reads the grid (regular Gaussian, WMO rotated lat/lon),
//! else a scipy warp of ecCodes' values at ecCodes' coordinates.

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
fn grids_gdal_cannot_read_match_a_warp_of_eccodes_points() {
    // GDAL 3.6 reads the space-view sample too, but places it off by tens of kilometres
    // ("Point outside of projection domain" on its corners), where ecCodes, pyproj's geos
    // and tilecast agree to 1e-12 degrees (tests/grids.rs): its reference is ecCodes' points.
    // Grids of many points are compared in one tiling, to keep the triangulations short.
    let both = |w, g| vec![(Tiling::WebMercator, w), (Tiling::Geographic, g)];
    for (rel, zooms) in [
        ("grids/earthkit__O32_global.grib2", both(2, 1)),
        ("grids/iristd__reduced_gg.grib2", both(2, 2)),
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
