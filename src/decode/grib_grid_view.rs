//! GRIB2 grids on a rotated pole or seen from space: rotated lat/lon (template 3.1), NCEP's
//! rotated lat/lon for RAP and NAM (3.32769, ecCodes' `kwbc` local template), and space
//! view (3.90). Offsets are 0-based into the template (section 3 from octet 15).

use super::grib_grid::{angle_unit, corners, earth, need, scanning, steps, GridError};
use super::grib_grid_rows::rotation;
use crate::decode::bytes::{i32sm_at, u32_at, u8_at};
use crate::geo::geostationary::Geostationary;
use crate::geo::grid::{Grid, GridKind};
use crate::geo::projection::Projection;
use crate::geo::rotated::RotatedPole;

fn size(t: &[u8], template: u16) -> Result<(usize, usize), GridError> {
    let nx = need(u32_at(t, 16), "Ni")? as usize;
    let ny = need(u32_at(t, 20), "Nj")? as usize;
    if nx == 0 || ny == 0 || nx == u32::MAX as usize || ny == u32::MAX as usize {
        return Err(GridError::Unsupported {
            template,
            detail: format!(" with {nx}x{ny} points (reduced rows)"),
        });
    }
    let points = nx as u64 * ny as u64;
    let limit = crate::limits::get().max_field_points;
    if points > limit {
        return Err(GridError::TooLarge { points, limit });
    }
    Ok((nx, ny))
}

/// A grid regular in rotated degrees whose first point is at rotated (x0, y0).
fn rotated_grid(
    nx: usize,
    ny: usize,
    pole: RotatedPole,
    (x0, y0): (f64, f64),
    (dx, dy): (f64, f64),
    (i_neg, j_pos): (bool, bool),
) -> Result<(Grid, String), GridError> {
    if !(dx > 0.0 && dy > 0.0 && dx.is_finite() && dy.is_finite()) {
        return Err(GridError::Corrupt(format!(
            "rotated grid steps {dx} x {dy} degrees"
        )));
    }
    let grid = Grid {
        nx,
        ny,
        kind: GridKind::Projected {
            projection: Projection::Rotated(pole),
            x0,
            y0,
            dx: if i_neg { -dx } else { dx },
            dy: if j_pos { dy } else { -dy },
        },
    };
    let text = grid.describe();
    Ok((grid, text))
}

/// Template 3.1: coordinates are rotated; steps from the first and last points as in 3.0.
pub(super) fn rotated_latlon(t: &[u8]) -> Result<(Grid, String), GridError> {
    let _ = earth(t, 1)?;
    let (nx, ny) = size(t, 1)?;
    let u = angle_unit(t);
    let [la1, lo1, la2, lo2] = corners(t, u)?;
    let scan = scanning(1, need(u8_at(t, 57), "scanning mode")?)?;
    let (dx, dy) = steps(t, u, (nx, ny), [la1, lo1, la2, lo2], scan.0);
    let pole = rotation(t, u)?;
    let lo1 = crate::geo::grid::norm180(lo1);
    rotated_grid(nx, ny, pole, (lo1, la1), (dx, dy), scan)
}

/// Template 3.32769 (NCEP): the first point in geographic coordinates, the grid's centre
/// (which becomes rotated 0, 0) and steps in rotated degrees.
pub(super) fn ncep_rotated(t: &[u8]) -> Result<(Grid, String), GridError> {
    let _ = earth(t, 32769)?;
    let (nx, ny) = size(t, 32769)?;
    let deg = |off: usize, what: &str| need(i32sm_at(t, off), what).map(|v| v as f64 * 1e-6);
    let la1 = deg(32, "La1")?;
    let lo1 = deg(36, "Lo1")?;
    let lat0 = deg(41, "centre latitude")?;
    let lon0 = deg(45, "centre longitude")?;
    // NCEP writes the increments of this template in nano-degrees (RAP 13 km: 121813000).
    let dx = need(u32_at(t, 49), "Di")? as f64 * 1e-9;
    let dy = need(u32_at(t, 53), "Dj")? as f64 * 1e-9;
    let scan = scanning(32769, need(u8_at(t, 57), "scanning mode")?)?;
    let pole = RotatedPole {
        south_lat: lat0 - 90.0,
        south_lon: lon0,
        angle: 0.0,
    };
    let first = pole.to_rotated(lo1, la1);
    rotated_grid(nx, ny, pole, first, (dx, dy), scan)
}

/// Template 3.90: space view. Pixel (i, j) is seen at scan angles
/// `x = (i - (Xp - Xo)) * rx`, `y = ((Yp - Yo) - j) * ry` (rows southwards unless j scans
/// positively), where `rx = 2 asin(1/Nr) / dx` is the apparent angular size of the earth
/// over its diameter in grid lengths, as ecCodes' geo iterator computes it.
pub(super) fn space_view(t: &[u8]) -> Result<(Grid, String), GridError> {
    let earth = earth(t, 90)?;
    let (nx, ny) = size(t, 90)?;
    let lap = need(i32sm_at(t, 24), "sub-satellite latitude")? as f64 * 1e-6;
    let lop = need(i32sm_at(t, 28), "sub-satellite longitude")? as f64 * 1e-6;
    if lap != 0.0 {
        return Err(GridError::Unsupported {
            template: 90,
            detail: format!(" with the satellite off the equator (latitude {lap})"),
        });
    }
    let dx = need(u32_at(t, 33), "dx")? as f64;
    let dy = need(u32_at(t, 37), "dy")? as f64;
    let xp = need(u32_at(t, 41), "Xp")? as f64 / 1000.0;
    let yp = need(u32_at(t, 45), "Yp")? as f64 / 1000.0;
    let (i_neg, j_pos) = scanning(90, need(u8_at(t, 49), "scanning mode")?)?;
    let nr = need(u32_at(t, 54), "Nr")?;
    if nr == u32::MAX {
        return Err(GridError::Unsupported {
            template: 90,
            detail: " (orthographic view: camera altitude Nr missing)".into(),
        });
    }
    let nr = nr as f64 / 1e6;
    let xo = need(u32_at(t, 58), "Xo")? as f64;
    let yo = need(u32_at(t, 62), "Yo")? as f64;
    space_view_grid(
        earth,
        (nx, ny),
        lop,
        (dx, dy),
        (xp, yp),
        (xo, yo),
        nr,
        (i_neg, j_pos),
    )
}

/// A space-view grid from its GRIB parameters (shared with GRIB edition 1): `d` the earth's
/// apparent diameter in grid lengths, `p` the sub-satellite point and `o` the sector origin in
/// grid lengths, `nr` the satellite's distance in earth radii.
#[allow(clippy::too_many_arguments)]
pub fn space_view_grid(
    earth: crate::geo::projection::Earth,
    (nx, ny): (usize, usize),
    lop: f64,
    (dx, dy): (f64, f64),
    (xp, yp): (f64, f64),
    (xo, yo): (f64, f64),
    nr: f64,
    (i_neg, j_pos): (bool, bool),
) -> Result<(Grid, String), GridError> {
    if !(nr > 1.0 && dx > 0.0 && dy > 0.0 && nr.is_finite()) {
        return Err(GridError::Corrupt(format!(
            "space view with camera at {nr} earth radii and {dx} x {dy} grid lengths"
        )));
    }
    let angular = 2.0 * (1.0 / nr).asin();
    let b = earth.a * (1.0 - earth.e().powi(2)).sqrt();
    let rx = angular / dx;
    let ry = (b / earth.a) * angular / dy;
    let xpa = if i_neg {
        (nx as f64 - 1.0) - (xp - xo)
    } else {
        xp - xo
    };
    let ypa = if j_pos {
        yp - yo
    } else {
        (ny as f64 - 1.0) - (yp - yo)
    };
    // ecCodes walks rows from iy = ny-1 down to 0: stored row r is iy = ny-1-r.
    let y0 = (ny as f64 - 1.0 - ypa) * ry;
    let g = Geostationary {
        earth,
        lon0: lop,
        h: nr * earth.a,
        sweep_x: false,
    };
    let grid = Grid {
        nx,
        ny,
        kind: GridKind::Projected {
            projection: Projection::Geostationary(g),
            x0: -xpa * rx,
            y0,
            dx: rx,
            dy: -ry,
        },
    };
    let text = grid.describe();
    Ok((grid, text))
}
