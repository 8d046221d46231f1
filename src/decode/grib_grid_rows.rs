//! GRIB2 grids made of rows ([`crate::geo::rows`]): reduced lat/lon (template 3.0 with a
//! list of points per row), Gaussian regular and reduced (3.40) and rotated (3.41), and
//! HEALPix (3.150). Offsets are 0-based into the template (section 3 from octet 15).

use super::grib_grid::{angle_unit, corners, earth, need, scanning, GridError};
use crate::decode::bytes::{f32_at, i32sm_at, is_missing, u32_at, u8_at};
use crate::geo::grid::{Grid, GridKind};
use crate::geo::rotated::RotatedPole;
use crate::geo::rows::Rows;

/// Points in the grid according to section 3 (octets 7-10).
fn declared_points(s3: &[u8]) -> Result<usize, GridError> {
    let n = need(u32_at(s3, 6), "the number of data points")? as u64;
    let limit = crate::limits::get().max_field_points;
    if n > limit {
        return Err(GridError::TooLarge { points: n, limit });
    }
    Ok(n as usize)
}

/// The optional list of numbers at the end of section 3 (octet 11: bytes per number, octet
/// 12: interpretation, code table 3.11): the points in each of `rows` rows.
fn points_per_row(
    s3: &[u8],
    template: u16,
    fixed: usize,
    rows: usize,
) -> Result<Vec<u32>, GridError> {
    let width = u8_at(s3, 10).unwrap_or(0) as usize;
    if width == 0 || u8_at(s3, 11) != Some(1) {
        return Err(GridError::Unsupported {
            template,
            detail: " (rows of different lengths without a list of points per row)".into(),
        });
    }
    let start = 14 + fixed;
    let end = start + rows * width;
    let list = s3.get(start..end).ok_or_else(|| {
        GridError::Corrupt(format!(
            "list of points per row: {rows} numbers of {width} bytes do not fit section 3"
        ))
    })?;
    Ok(list
        .chunks_exact(width)
        .map(|c| {
            c.iter()
                .fold(0u64, |a, &b| (a << 8) | b as u64)
                .min(u32::MAX as u64) as u32
        })
        .collect())
}

/// Rotation of templates 3.1 and 3.41 (octets 73-84).
pub(super) fn rotation(t: &[u8], unit: f64) -> Result<RotatedPole, GridError> {
    Ok(RotatedPole {
        south_lat: need(i32sm_at(t, 58), "latitude of the southern pole")? as f64 * unit,
        south_lon: need(u32_at(t, 62), "longitude of the southern pole")? as f64 * unit,
        angle: f32_at(t, 66)
            .map(|a| a as f64)
            .filter(|a| a.is_finite())
            .unwrap_or(0.0),
    })
}

/// Checks the rows against the declared points and makes the grid.
fn finish(
    rows: Rows,
    s3: &[u8],
    regular: Option<(usize, usize)>,
) -> Result<(Grid, String), GridError> {
    let declared = declared_points(s3)?;
    if rows.len() != declared {
        return Err(GridError::Corrupt(format!(
            "{} rows hold {} points but section 3 declares {declared}",
            rows.lats.len(),
            rows.len()
        )));
    }
    let (nx, ny) = regular.unwrap_or((rows.len(), 1));
    let grid = Grid {
        nx,
        ny,
        kind: GridKind::Rows(Box::new(rows)),
    };
    let text = grid.describe();
    Ok((grid, text))
}

/// Template 3.0 with a list of points per row: reduced lat/lon.
pub(super) fn reduced_latlon(s3: &[u8], t: &[u8]) -> Result<(Grid, String), GridError> {
    let rows = need(u32_at(t, 20), "Nj")? as usize;
    if rows == 0 || rows > 1 << 20 {
        return Err(GridError::Corrupt(format!("{rows} rows")));
    }
    let (i_neg, _) = scanning(0, need(u8_at(t, 57), "scanning mode")?)?;
    if i_neg {
        return Err(GridError::Unsupported {
            template: 0,
            detail: " (reduced grid scanning westwards)".into(),
        });
    }
    let pl = points_per_row(s3, 0, 58, rows)?;
    let [la1, lo1, la2, lo2] = corners(t, angle_unit(t))?;
    let r = Rows::reduced_latlon((la1, la2), &pl, (lo1, lo2)).map_err(GridError::Corrupt)?;
    finish(r, s3, None)
}

/// Templates 3.40 (Gaussian) and 3.41 (rotated Gaussian), regular or reduced.
pub(super) fn gaussian(s3: &[u8], t: &[u8], template: u16) -> Result<(Grid, String), GridError> {
    let _ = earth(t, template)?;
    declared_points(s3)?;
    let rows = need(u32_at(t, 20), "Nj")? as usize;
    let n = need(u32_at(t, 53), "N")? as usize;
    if rows == 0 || n == 0 || rows > 2 * n || n > crate::geo::gaussian::MAX_ORDER {
        return Err(GridError::Corrupt(format!(
            "Gaussian grid N={n} with {rows} rows"
        )));
    }
    let (i_neg, _) = scanning(template, need(u8_at(t, 57), "scanning mode")?)?;
    let u = angle_unit(t);
    let [la1, lo1, la2, lo2] = corners(t, u)?;
    let rot = if template == 41 {
        Some(rotation(t, u)?)
    } else {
        None
    };
    let fixed = if template == 41 { 70 } else { 58 };
    let reduced = is_missing(t, 16, 4) || u8_at(s3, 10).unwrap_or(0) != 0;
    if reduced {
        if i_neg {
            return Err(GridError::Unsupported {
                template,
                detail: " (reduced grid scanning westwards)".into(),
            });
        }
        let pl = points_per_row(s3, template, fixed, rows)?;
        let r = Rows::gaussian(n, rows, Some(&pl), 0, (la1, la2), (lo1, lo2), None, rot)
            .map_err(GridError::Corrupt)?;
        return finish(r, s3, None);
    }
    let ni = need(u32_at(t, 16), "Ni")? as usize;
    let di = u32_at(t, 49)
        .filter(|&v| v != u32::MAX)
        .map(|v| v as f64 * u);
    let mut r = Rows::gaussian(n, rows, None, ni, (la1, la2), (lo1, lo2), di, rot)
        .map_err(GridError::Corrupt)?;
    if i_neg {
        for d in r.dlon.iter_mut() {
            *d = -*d;
        }
    }
    finish(r, s3, Some((ni, rows)))
}

/// Template 3.150: HEALPix.
pub(super) fn healpix(s3: &[u8], t: &[u8]) -> Result<(Grid, String), GridError> {
    let nside = need(u32_at(t, 17), "Nside")? as usize;
    let position = need(u8_at(t, 25), "grid point position")?;
    if position != 4 {
        return Err(GridError::Unsupported {
            template: 150,
            detail: format!(" with grid point position {position} (only cell centres, 4)"),
        });
    }
    let nested = match need(u8_at(t, 26), "ordering")? {
        0 => false,
        1 => true,
        o => {
            return Err(GridError::Unsupported {
                template: 150,
                detail: format!(" with ordering {o} (code table 3.12)"),
            })
        }
    };
    // Checked before anything of the grid's size is built.
    let points = 12 * (nside as u64).pow(2);
    let limit = crate::limits::get().max_field_points;
    if points > limit {
        return Err(GridError::TooLarge { points, limit });
    }
    let r = Rows::healpix(nside, nested).map_err(GridError::Corrupt)?;
    finish(r, s3, None)
}
