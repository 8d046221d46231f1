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
//! Types read: 0 lat/lon (regular, or reduced: Ni missing and a list of points per row),
//! 1 Mercator, 3 Lambert conformal, 4 Gaussian (regular or reduced), 5 polar stereographic,
//! 10 rotated lat/lon, 14 rotated Gaussian and 90 space view. The geometry is the one
//! ecCodes' geo iterator computes: a polar stereographic grid is true at 60 degrees, a
//! Lambert grid's origin latitude is its first standard parallel, and the list of points per
//! row (PL) follows the vertical coordinates (PV) from octet 5 on, as ecCodes reads it.

use crate::decode::bytes::{i24sm_at, ibm_f64_at, u16_at, u24_at, u8_at};
use crate::decode::grib_grid::{projected_from_first_point, GridError};
use crate::geo::grid::{Grid, GridKind};
use crate::geo::projection::{Earth, Projection};
use crate::geo::rotated::RotatedPole;
use crate::geo::rows::Rows;

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
fn dims(s2: &[u8]) -> Result<(usize, usize), GridError> {
    let nx = need(u16_at(s2, 6), "Ni")? as usize;
    let ny = need(u16_at(s2, 8), "Nj")? as usize;
    if nx == 0 || ny == 0 {
        return Err(GridError::Corrupt(format!(
            "implausible grid size {nx}x{ny}"
        )));
    }
    check_points(nx as u64 * ny as u64)?;
    Ok((nx, ny))
}

fn check_points(points: u64) -> Result<(), GridError> {
    let limit = crate::limits::get().max_field_points;
    if points > limit {
        return Err(GridError::TooLarge { points, limit });
    }
    Ok(())
}

/// Whether Ni is missing: rows of different lengths, listed in the PL.
fn reduced(s2: &[u8]) -> bool {
    u16_at(s2, 6) == Some(u16::MAX)
}

/// The list of points in each of `rows` rows: after the NV vertical coordinates, which
/// start at octet 5's value (or after the grid definition when octet 5 is 255).
fn points_per_row(s2: &[u8], kind: u8, rows: usize) -> Result<Vec<u32>, GridError> {
    let nv = need(u8_at(s2, 3), "NV")? as usize;
    let definition = if matches!(kind, 10 | 14) { 42 } else { 32 };
    let start = match need(u8_at(s2, 4), "the PV/PL location")? {
        255 => definition,
        loc => (loc as usize).saturating_sub(1),
    } + 4 * nv;
    let list = s2.get(start..start + 2 * rows).ok_or_else(|| {
        GridError::Corrupt(format!(
            "reduced grid: a list of {rows} row lengths at octet {} does not fit section 2 \
             of {} octets",
            start + 1,
            s2.len()
        ))
    })?;
    let pl: Vec<u32> = list
        .chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]) as u32)
        .collect();
    check_points(pl.iter().map(|&p| p as u64).sum())?;
    Ok(pl)
}

/// The grid of `rows`; `regular` is its Ni x Nj when every row has Ni points.
fn rows_grid(rows: Rows, regular: Option<(usize, usize)>) -> Result<(Grid, String), GridError> {
    check_points(rows.len() as u64)?;
    let (nx, ny) = regular.unwrap_or((rows.len(), 1));
    if nx * ny != rows.len() || rows.is_empty() {
        return Err(GridError::Corrupt(format!(
            "{} points in rows for a {nx}x{ny} grid",
            rows.len()
        )));
    }
    let grid = Grid {
        nx,
        ny,
        kind: GridKind::Rows(Box::new(rows)),
    };
    let text = grid.describe();
    Ok((grid, text))
}

/// The rotation of types 10 and 14: octets 33-35 and 36-38 the southern pole (millidegrees),
/// 39-42 the angle of rotation (an IBM float, degrees).
fn rotation(s2: &[u8]) -> Result<RotatedPole, GridError> {
    Ok(RotatedPole {
        south_lat: deg(s2, 32, "latitude of the southern pole")?,
        south_lon: deg(s2, 35, "longitude of the southern pole")?,
        // + 0.0: a sign bit on a zero angle (0x80000000) is no rotation, not -0.
        angle: ibm_f64_at(s2, 38).filter(|a| a.is_finite()).unwrap_or(0.0) + 0.0,
    })
}

/// Parses a GDS into a grid and a one-line description.
pub fn parse(s2: &[u8]) -> Result<(Grid, String), GridError> {
    let kind = need(kind(s2), "the grid type")?;
    match kind {
        0 | 10 => latlon(s2, kind),
        1 | 3 | 5 => projected(s2, kind),
        4 | 14 => gaussian(s2, kind),
        90 => space_view(s2),
        50 | 60 | 70 | 80 => Err(unsupported(kind, "spherical harmonics")),
        other => Err(unsupported(other, "grid type not read")),
    }
}

/// Types 0 and 10: octets 18-23 the last point, 24-25 Di, 26-27 Dj (millidegrees); type 10
/// in rotated coordinates.
fn latlon(s2: &[u8], kind: u8) -> Result<(Grid, String), GridError> {
    let la1 = deg(s2, 10, "La1")?;
    let lo1 = deg(s2, 13, "Lo1")?;
    let la2 = deg(s2, 17, "La2")?;
    let lo2 = deg(s2, 20, "Lo2")?;
    let (i_neg, j_pos) = scanning(kind, need(u8_at(s2, 27), "scanning mode")?)?;
    if reduced(s2) {
        if kind != 0 || i_neg {
            return Err(unsupported(
                kind,
                "reduced rotated or westward-scanning grid",
            ));
        }
        let rows = need(u16_at(s2, 8), "Nj")? as usize;
        let pl = points_per_row(s2, kind, rows)?;
        let r = Rows::reduced_latlon((la1, la2), &pl, (lo1, lo2)).map_err(GridError::Corrupt)?;
        return rows_grid(r, None);
    }
    let (nx, ny) = dims(s2)?;
    let increment = |off: usize| {
        u16_at(s2, off)
            .filter(|&v| v != u16::MAX)
            .map(|v| v as f64 / 1000.0)
    };
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
    let dx = if i_neg { -dlon } else { dlon };
    let dy = if j_pos { dlat } else { -dlat };
    let kind = if kind == 10 {
        GridKind::Projected {
            projection: Projection::Rotated(rotation(s2)?),
            x0: crate::geo::grid::norm180(lo1),
            y0: la1,
            dx,
            dy,
        }
    } else {
        GridKind::LatLon {
            lon0: lo1,
            lat0: la1,
            dlon: dx,
            dlat: dy,
        }
    };
    let grid = Grid { nx, ny, kind };
    let text = grid.describe();
    Ok((grid, text))
}

/// Types 4 and 14 (rotated): octets 26-27 N, the number of parallels between a pole and the
/// equator; regular with Ni points a row, or reduced with a PL.
fn gaussian(s2: &[u8], kind: u8) -> Result<(Grid, String), GridError> {
    let rows = need(u16_at(s2, 8), "Nj")? as usize;
    let n = need(u16_at(s2, 25), "N")? as usize;
    if rows == 0 || n == 0 || rows > 2 * n || n > crate::geo::gaussian::MAX_ORDER {
        return Err(GridError::Corrupt(format!(
            "Gaussian grid N={n} with {rows} rows"
        )));
    }
    let la1 = deg(s2, 10, "La1")?;
    let lo1 = deg(s2, 13, "Lo1")?;
    let la2 = deg(s2, 17, "La2")?;
    let lo2 = deg(s2, 20, "Lo2")?;
    let (i_neg, _) = scanning(kind, need(u8_at(s2, 27), "scanning mode")?)?;
    let rot = if kind == 14 {
        Some(rotation(s2)?)
    } else {
        None
    };
    if reduced(s2) {
        if i_neg {
            return Err(unsupported(kind, "reduced grid scanning westwards"));
        }
        let pl = points_per_row(s2, kind, rows)?;
        let r = Rows::gaussian(n, rows, Some(&pl), 0, (la1, la2), (lo1, lo2), None, rot)
            .map_err(GridError::Corrupt)?;
        return rows_grid(r, None);
    }
    let (ni, _) = dims(s2)?;
    let given = flags(s2).unwrap_or(0) & 0x80 != 0;
    let di = u16_at(s2, 23)
        .filter(|&v| given && v != u16::MAX)
        .map(|v| v as f64 / 1000.0);
    let mut r = Rows::gaussian(n, rows, None, ni, (la1, la2), (lo1, lo2), di, rot)
        .map_err(GridError::Corrupt)?;
    if i_neg {
        for d in r.dlon.iter_mut() {
            *d = -*d;
        }
    }
    rows_grid(r, Some((ni, rows)))
}

/// Type 90: octets 11-16 the sub-satellite point, 18-20 and 21-23 the earth's apparent
/// diameter in grid lengths, 24-25 and 26-27 the sub-satellite point in grid lengths, 32-34
/// the camera's distance from the earth's centre (10^-6 earth radii), 35-36 and 37-38 the
/// origin of the sector image.
fn space_view(s2: &[u8]) -> Result<(Grid, String), GridError> {
    let (nx, ny) = dims(s2)?;
    let lap = deg(s2, 10, "sub-satellite latitude")?;
    if lap != 0.0 {
        return Err(unsupported(
            90,
            "space view with the satellite off the equator",
        ));
    }
    let lop = deg(s2, 13, "sub-satellite longitude")?;
    let e = earth(need(flags(s2), "the resolution flags")?);
    let dx = need(u24_at(s2, 17), "dx")? as f64;
    let dy = need(u24_at(s2, 20), "dy")? as f64;
    let xp = need(u16_at(s2, 23), "Xp")? as f64;
    let yp = need(u16_at(s2, 25), "Yp")? as f64;
    let scan = scanning(90, need(u8_at(s2, 27), "scanning mode")?)?;
    let nr = need(u24_at(s2, 31), "Nr")?;
    if nr == 0xff_ffff {
        return Err(unsupported(
            90,
            "orthographic view: camera distance Nr missing",
        ));
    }
    let xo = need(u16_at(s2, 34), "Xo")? as f64;
    let yo = need(u16_at(s2, 36), "Yo")? as f64;
    crate::decode::grib_grid_view::space_view_grid(
        e,
        (nx, ny),
        lop,
        (dx, dy),
        (xp, yp),
        (xo, yo),
        nr as f64 / 1e6,
        scan,
    )
}

/// Types 1 (Mercator), 3 (Lambert conformal) and 5 (polar stereographic).
fn projected(s2: &[u8], kind: u8) -> Result<(Grid, String), GridError> {
    if reduced(s2) {
        return Err(unsupported(kind, "rows of different lengths"));
    }
    let (nx, ny) = dims(s2)?;
    let la1 = deg(s2, 10, "La1")?;
    let lo1 = deg(s2, 13, "Lo1")?;
    let e = earth(need(flags(s2), "the resolution flags")?);
    let metres = |off: usize, what: &str| need(u24_at(s2, off), what).map(f64::from);
    let (projection, dx, dy) = match kind {
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
            (p, dx, metres(31, "Dj")?)
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
            (p, dx, metres(23, "Dy")?)
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
            (p, dx, metres(23, "Dy")?)
        }
    };
    let (i_neg, j_pos) = scanning(kind, need(u8_at(s2, 27), "scanning mode")?)?;
    let grid =
        projected_from_first_point((nx, ny), projection, (lo1, la1), (dx, dy), (i_neg, j_pos))?;
    let text = grid.describe();
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

    /// A GDS of `kind` from octet 7 on (`body`), with NV 0 and no PV/PL.
    fn gds(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut b = vec![0, 255, kind];
        b.extend_from_slice(body);
        b.resize(b.len().max(39), 0);
        super::super::sections::build::section(&b)
    }

    fn mdeg(v: f64) -> [u8; 3] {
        let m =
            ((v * 1000.0).round().abs() as u32 | if v < 0.0 { 0x80_0000 } else { 0 }).to_be_bytes();
        [m[1], m[2], m[3]]
    }

    /// No sample is GRIB1 Mercator: a grid whose corners are where the projection puts them
    /// must have its last point at the declared La2/Lo2, on the sphere and on the ellipsoid.
    #[test]
    fn a_mercator_grid_ends_at_its_last_point() {
        for flags in [0x80u8, 0xC0] {
            let earth = earth(flags);
            let p = Projection::Mercator {
                earth,
                lon0: 0.0,
                lat_ts: 20.0,
            };
            let (x0, y0) = p.forward(-30.0, 10.0).unwrap();
            let (nx, ny, dx, dy) = (61u16, 41u16, 50_000.0, 45_000.0);
            let (lo2, la2) = p.inverse(x0 + 60.0 * dx, y0 + 40.0 * dy);
            let mut body = Vec::new();
            body.extend_from_slice(&nx.to_be_bytes());
            body.extend_from_slice(&ny.to_be_bytes());
            body.extend_from_slice(&mdeg(10.0));
            body.extend_from_slice(&mdeg(-30.0));
            body.push(flags);
            body.extend_from_slice(&mdeg(la2));
            body.extend_from_slice(&mdeg(lo2));
            body.extend_from_slice(&mdeg(20.0));
            body.push(0);
            body.push(0x40); // j positive: rows northwards
            body.extend_from_slice(&(dx as u32).to_be_bytes()[1..]);
            body.extend_from_slice(&(dy as u32).to_be_bytes()[1..]);
            let (g, text) = parse(&gds(1, &body)).unwrap();
            assert_eq!(text, "mercator 61x41 (50.0x45.0 km)");
            let (lon, lat) = g.lonlat(60.0, 40.0);
            assert!(
                (lon - lo2).abs() < 1e-3 && (lat - la2).abs() < 1e-3,
                "{lon} {lat}"
            );
            let (lon, lat) = g.lonlat(0.0, 0.0);
            assert!((lon + 30.0).abs() < 1e-9 && (lat - 10.0).abs() < 1e-9);
        }
    }

    #[test]
    fn hostile_sections_are_errors() {
        let gds = latlon_gds(3, 2);
        // Cut anywhere before the scanning mode (octet 28; the reserved octets after it are
        // not needed).
        for cut in 0..28 {
            assert!(parse(&gds[..cut]).is_err(), "cut {cut}");
        }
        // Reduced without a list of points per row, or with one that does not fit.
        let mut reduced = gds.clone();
        reduced[6..8].copy_from_slice(&[0xff, 0xff]);
        assert!(message(parse(&reduced).unwrap_err()).contains("list of 2 row lengths"));
        reduced[4] = 200;
        assert!(message(parse(&reduced).unwrap_err()).contains("octet 200"));
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
