//! The GRIB1 grid description section (GDS) to a [`Grid`].
//!
//! Octets (1-based, WMO FM 92 GRIB edition 1, section 2): 4 NV (vertical coordinate values),
//! 5 where the PV or PL list starts (255: none), 6 the grid type (code table 6), then the grid:
//! for every type here 7-8 Ni (Nx), 9-10 Nj (Ny), 11-13 and 14-16 the first point (millidegrees,
//! sign and magnitude), 17 the resolution and component flags (code table 7: 0x80 increments
//! given, 0x40 earth oblate (IAU 1965, 6378.160 x 6356.775 km) rather than a sphere of radius
//! 6367.47 km, 0x08 vector components along the grid's x and y), 28 the scanning mode (code
//! table 8: 0x80 i negative, 0x40 j positive, 0x20 j consecutive).
//!
//! Types read: 0 regular lat/lon, 1 Mercator, 3 Lambert conformal, 5 polar stereographic.
//! The geometry is the one ecCodes' geo iterator computes: a polar stereographic grid is true
//! at 60 degrees; a Lambert grid's origin latitude is its first standard parallel.

use crate::decode::bytes::{i24sm_at, u16_at, u24_at, u8_at};
use crate::decode::grib_grid::GridError;
use crate::geo::grid::{Grid, GridKind};
use crate::geo::projection::{Earth, Projection};

fn need<T>(v: Option<T>, what: &str) -> Result<T, GridError> {
    v.ok_or_else(|| GridError::Corrupt(format!("section 2 too short for {what}")))
}

fn unsupported(kind: u8, detail: &str) -> GridError {
    GridError::Unsupported {
        template: kind.into(),
        detail: format!(" ({detail})"),
    }
}

/// The grid type (octet 6, code table 6).
pub fn kind(s2: &[u8]) -> Option<u8> {
    u8_at(s2, 5)
}

/// The resolution and component flags (octet 17).
pub fn flags(s2: &[u8]) -> Option<u8> {
    u8_at(s2, 16)
}

/// Whether vector components are resolved along the grid's x and y (flag 0x08).
pub fn components_relative_to_grid(s2: &[u8]) -> Option<bool> {
    flags(s2).map(|f| f & 0x08 != 0)
}

/// Degrees from a signed 24-bit millidegree value at `off`.
fn deg(s2: &[u8], off: usize, what: &str) -> Result<f64, GridError> {
    need(i24sm_at(s2, off), what).map(|v| v as f64 / 1000.0)
}

/// The figure of the earth from the resolution and component flags.
fn earth(flags: u8) -> Earth {
    if flags & 0x40 != 0 {
        Earth::ellipsoid(6_378_160.0, 6_356_775.0)
    } else {
        Earth::sphere(6_367_470.0)
    }
}

/// Scanning mode: (i negative, j positive); column-major storage is refused.
fn scanning(kind: u8, mode: u8) -> Result<(bool, bool), GridError> {
    if mode & 0x20 != 0 {
        return Err(unsupported(
            kind,
            "with j consecutive (column-major) scanning",
        ));
    }
    Ok((mode & 0x80 != 0, mode & 0x40 != 0))
}

/// Ni and Nj, checked against the grid point limit.
fn dims(s2: &[u8], kind: u8) -> Result<(usize, usize), GridError> {
    let nx = need(u16_at(s2, 6), "Ni")?;
    let ny = need(u16_at(s2, 8), "Nj")?;
    if nx == u16::MAX {
        return Err(unsupported(kind, "reduced grid: rows of different lengths"));
    }
    let (nx, ny) = (nx as usize, ny as usize);
    if nx == 0 || ny == 0 {
        return Err(GridError::Corrupt(format!(
            "implausible grid size {nx}x{ny}"
        )));
    }
    let points = nx as u64 * ny as u64;
    let limit = crate::limits::get().max_field_points;
    if points > limit {
        return Err(GridError::TooLarge { points, limit });
    }
    Ok((nx, ny))
}

/// Parses a GDS into a grid and a one-line description.
pub fn parse(s2: &[u8]) -> Result<(Grid, String), GridError> {
    let kind = need(kind(s2), "the grid type")?;
    match kind {
        0 => latlon(s2),
        1 | 3 | 5 => projected(s2, kind),
        4 => Err(unsupported(kind, "Gaussian")),
        10 => Err(unsupported(kind, "rotated lat/lon")),
        14 => Err(unsupported(kind, "rotated Gaussian")),
        90 => Err(unsupported(kind, "space view")),
        50 | 60 | 70 | 80 => Err(unsupported(kind, "spherical harmonics")),
        other => Err(unsupported(other, "grid type not read")),
    }
}

/// Type 0: octets 18-23 the last point, 24-25 Di, 26-27 Dj (millidegrees).
fn latlon(s2: &[u8]) -> Result<(Grid, String), GridError> {
    let (nx, ny) = dims(s2, 0)?;
    let la1 = deg(s2, 10, "La1")?;
    let lo1 = deg(s2, 13, "Lo1")?;
    let la2 = deg(s2, 17, "La2")?;
    let lo2 = deg(s2, 20, "Lo2")?;
    let increment = |off: usize| {
        u16_at(s2, off)
            .filter(|&v| v != u16::MAX)
            .map(|v| v as f64 / 1000.0)
    };
    let (i_neg, j_pos) = scanning(0, need(u8_at(s2, 27), "scanning mode")?)?;
    // From the first and last points, as for GRIB2: millidegree increments are rounded.
    let dlon = if nx > 1 {
        let mut span = if i_neg { lo1 - lo2 } else { lo2 - lo1 };
        if span <= 0.0 {
            span += 360.0;
        }
        span / (nx - 1) as f64
    } else {
        increment(23).unwrap_or(1.0)
    };
    let dlat = if ny > 1 {
        (la2 - la1).abs() / (ny - 1) as f64
    } else {
        increment(25).unwrap_or(1.0)
    };
    if !(dlon.is_finite() && dlat.is_finite()) || dlon <= 0.0 || (ny > 1 && dlat <= 0.0) {
        return Err(GridError::Corrupt(format!(
            "lat/lon grid with first point ({la1}, {lo1}) and last point ({la2}, {lo2})"
        )));
    }
    let grid = Grid {
        nx,
        ny,
        kind: GridKind::LatLon {
            lon0: lo1,
            lat0: la1,
            dlon: if i_neg { -dlon } else { dlon },
            dlat: if j_pos { dlat } else { -dlat },
        },
    };
    Ok((
        grid,
        format!("regular_ll {nx}x{ny} ({dlon:.4}x{dlat:.4} deg)"),
    ))
}

/// Types 1 (Mercator), 3 (Lambert conformal) and 5 (polar stereographic).
fn projected(s2: &[u8], kind: u8) -> Result<(Grid, String), GridError> {
    let (nx, ny) = dims(s2, kind)?;
    let la1 = deg(s2, 10, "La1")?;
    let lo1 = deg(s2, 13, "Lo1")?;
    let e = earth(need(flags(s2), "the resolution flags")?);
    let metres = |off: usize, what: &str| need(u24_at(s2, off), what).map(f64::from);
    let (projection, dx, dy, name) = match kind {
        1 => {
            let lo2 = deg(s2, 20, "Lo2")?;
            let mut span = lo2 - lo1;
            if span <= 0.0 {
                span += 360.0;
            }
            let p = Projection::Mercator {
                earth: e,
                lon0: lo1 + span / 2.0,
                lat_ts: deg(s2, 23, "Latin")?,
            };
            let dx = metres(28, "Di")?;
            (p, dx, metres(31, "Dj")?, "mercator")
        }
        5 => {
            let south = need(u8_at(s2, 26), "projection centre")? & 0x80 != 0;
            let p = Projection::PolarStereographic {
                earth: e,
                lon0: deg(s2, 17, "LoV")?,
                lat_ts: if south { -60.0 } else { 60.0 },
                south,
            };
            let dx = metres(20, "Dx")?;
            (p, dx, metres(23, "Dy")?, "polar_stereographic")
        }
        _ => {
            let latin1 = deg(s2, 28, "Latin1")?;
            let p = Projection::LambertConformal {
                earth: e,
                lon0: deg(s2, 17, "LoV")?,
                lat0: latin1,
                lat1: latin1,
                lat2: deg(s2, 31, "Latin2")?,
            };
            let dx = metres(20, "Dx")?;
            (p, dx, metres(23, "Dy")?, "lambert")
        }
    };
    let (i_neg, j_pos) = scanning(kind, need(u8_at(s2, 27), "scanning mode")?)?;
    if !(dx > 0.0 && dy > 0.0) {
        return Err(GridError::Corrupt(format!("grid spacing {dx} x {dy} m")));
    }
    let (x0, y0) = projection.forward(lo1, la1).ok_or_else(|| {
        GridError::Corrupt(format!(
            "first grid point ({la1}, {lo1}) cannot be projected"
        ))
    })?;
    let grid = Grid {
        nx,
        ny,
        kind: GridKind::Projected {
            projection,
            x0,
            y0,
            dx: if i_neg { -dx } else { dx },
            dy: if j_pos { dy } else { -dy },
        },
    };
    let text = format!("{name} {nx}x{ny} ({:.1}x{:.1} km)", dx / 1e3, dy / 1e3);
    Ok((grid, text))
}

#[cfg(test)]
mod tests {
    use super::super::sections::build::latlon_gds;
    use super::*;

    fn message(e: GridError) -> String {
        match e {
            GridError::Unsupported { template, detail } => format!("{template}{detail}"),
            GridError::Corrupt(r) => r,
            GridError::TooLarge { points, .. } => format!("{points} points"),
        }
    }

    #[test]
    fn a_lat_lon_gds_is_a_lat_lon_grid() {
        let (g, text) = parse(&latlon_gds(3, 2)).unwrap();
        assert_eq!((g.nx, g.ny), (3, 2));
        assert_eq!(text, "regular_ll 3x2 (1.0000x1.0000 deg)");
        assert_eq!(g.lonlat(2.0, 1.0), (2.0, 59.0));
    }

    #[test]
    fn hostile_sections_are_errors() {
        let gds = latlon_gds(3, 2);
        // Cut anywhere before the scanning mode (octet 28; the reserved octets after it are
        // not needed).
        for cut in 0..28 {
            assert!(parse(&gds[..cut]).is_err(), "cut {cut}");
        }
        let mut reduced = gds.clone();
        reduced[6..8].copy_from_slice(&[0xff, 0xff]);
        assert!(message(parse(&reduced).unwrap_err()).contains("reduced"));
        let mut empty = gds.clone();
        empty[8..10].copy_from_slice(&[0, 0]);
        assert!(message(parse(&empty).unwrap_err()).contains("implausible"));
        let mut huge = gds.clone();
        huge[6..10].copy_from_slice(&[0xff, 0xfe, 0xff, 0xfe]);
        assert!(message(parse(&huge).unwrap_err()).contains("points"));
        let mut sh = gds.clone();
        sh[5] = 50;
        assert_eq!(message(parse(&sh).unwrap_err()), "50 (spherical harmonics)");
        let mut columns = gds;
        columns[27] = 0x20;
        assert!(message(parse(&columns).unwrap_err()).contains("column-major"));
    }
}
