//! GRIB2 section 3 (grid definition) to a [`Grid`].
//!
//! Templates here: 3.0 regular lat/lon, 3.10 Mercator, 3.20 polar stereographic and 3.30
//! Lambert conformal, in every scanning direction where rows are consecutive in i (flag
//! table 3.4 bits 1 and 2). Rows grids (reduced 3.0, Gaussian 3.40/3.41, HEALPix 3.150) are
//! in `grib_grid_rows`, rotated and space-view grids (3.1, 3.32769, 3.90) in `grib_grid_view`. Octet numbers in comments are the WMO ones (1-based);
//! code offsets are 0-based from the start of the section.

use super::{grib_grid_rows, grib_grid_view};
use crate::decode::bytes::{i32sm_at, i8sm_at, is_missing, u32_at, u8_at};
use crate::geo::grid::{Grid, GridKind};
use crate::geo::projection::{Earth, Projection};

/// Why a grid cannot be used, before the caller adds file and field.
#[derive(Debug)]
pub enum GridError {
    Unsupported {
        template: u16,
        detail: String,
    },
    Corrupt(String),
    /// More grid points than the configured limit ([`crate::limits`]).
    TooLarge {
        points: u64,
        limit: u64,
    },
}

pub(super) fn need<T>(v: Option<T>, what: &str) -> Result<T, GridError> {
    v.ok_or_else(|| GridError::Corrupt(format!("section 3 too short for {what}")))
}

/// Grid template number (octets 13-14).
pub fn template_number(s3: &[u8]) -> Option<u16> {
    crate::decode::bytes::u16_at(s3, 12)
}

/// Parses section 3 into a grid and a one-line description.
pub fn parse(s3: &[u8]) -> Result<(Grid, String), GridError> {
    let template = need(template_number(s3), "the template number")?;
    let t = &s3.get(14..).unwrap_or(&[]);
    match template {
        0 if u8_at(s3, 10).unwrap_or(0) != 0 => grib_grid_rows::reduced_latlon(s3, t),
        0 => latlon(t),
        1 => grib_grid_view::rotated_latlon(t),
        10 => projected(template, t, "mercator"),
        20 => projected(template, t, "polar_stereographic"),
        30 => projected(template, t, "lambert"),
        40 | 41 => grib_grid_rows::gaussian(s3, t, template),
        90 => grib_grid_view::space_view(t),
        150 => grib_grid_rows::healpix(s3, t),
        32769 => grib_grid_view::ncep_rotated(t),
        other => Err(GridError::Unsupported {
            template: other,
            detail: match other {
                32768.. => " (centre-local grid)".into(),
                _ => String::new(),
            },
        }),
    }
}

/// Scanning mode (flag table 3.4): (i negative, j positive). Alternating row direction
/// (bit 4) is handled after unpacking, see [`alternate_rows`].
pub(super) fn scanning(template: u16, mode: u8) -> Result<(bool, bool), GridError> {
    if mode & 0x20 != 0 {
        return Err(GridError::Unsupported {
            template,
            detail: " with column-major scanning (flag table 3.4 bit 3)".into(),
        });
    }
    Ok((mode & 0x80 != 0, mode & 0x40 != 0))
}

fn dims(t: &[u8], template: u16) -> Result<(usize, usize), GridError> {
    if is_missing(t, 16, 4) || is_missing(t, 20, 4) {
        return Err(GridError::Unsupported {
            template,
            detail: " (reduced grid: rows of different lengths)".into(),
        });
    }
    let nx = need(u32_at(t, 16), "Ni")? as usize;
    let ny = need(u32_at(t, 20), "Nj")? as usize;
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

/// Angle unit of templates 3.0, 3.1, 3.40 and 3.41: micro-degrees unless a basic angle and
/// its subdivisions are given (octets 39-46).
pub(super) fn angle_unit(t: &[u8]) -> f64 {
    let basic = u32_at(t, 24).unwrap_or(0);
    let sub = u32_at(t, 28).unwrap_or(0);
    if basic == 0 || basic == u32::MAX || sub == 0 || sub == u32::MAX {
        1e-6
    } else {
        basic as f64 / sub as f64
    }
}

/// First and last points `[La1, Lo1, La2, Lo2]` of templates 3.0-3.41 in degrees.
pub(super) fn corners(t: &[u8], unit: f64) -> Result<[f64; 4], GridError> {
    Ok([
        need(i32sm_at(t, 32), "La1")? as f64 * unit,
        need(i32sm_at(t, 36), "Lo1")? as f64 * unit,
        need(i32sm_at(t, 41), "La2")? as f64 * unit,
        need(i32sm_at(t, 45), "Lo2")? as f64 * unit,
    ])
}

/// Steps (degrees, positive) of a template 3.0/3.1 grid from its first and last points:
/// exact for grids like 1/6 degree whose Di is rounded to micro-degrees, and present even
/// when Di is flagged missing; Di and Dj (octets 64-71) only for a single column or row.
pub(super) fn steps(
    t: &[u8],
    unit: f64,
    (nx, ny): (usize, usize),
    [la1, lo1, la2, lo2]: [f64; 4],
    i_neg: bool,
) -> (f64, f64) {
    let stored = |off: usize| {
        u32_at(t, off)
            .filter(|&v| v != u32::MAX)
            .map(|v| v as f64 * unit)
            .unwrap_or(1.0)
    };
    let dlon = if nx > 1 {
        let mut span = if i_neg { lo1 - lo2 } else { lo2 - lo1 };
        if span <= 0.0 {
            span += 360.0;
        }
        span / (nx - 1) as f64
    } else {
        stored(49)
    };
    let dlat = if ny > 1 {
        (la2 - la1).abs() / (ny - 1) as f64
    } else {
        stored(53)
    };
    (dlon, dlat)
}

/// Template 3.0. Coordinates use micro-degrees unless a basic angle is given (octets 39-46).
fn latlon(t: &[u8]) -> Result<(Grid, String), GridError> {
    let (nx, ny) = dims(t, 0)?;
    let unit = angle_unit(t);
    let [la1, lo1, la2, lo2] = corners(t, unit)?;
    let (i_neg, j_pos) = scanning(0, need(u8_at(t, 57), "scanning mode")?)?;
    let (dlon, dlat) = steps(t, unit, (nx, ny), [la1, lo1, la2, lo2], i_neg);
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

/// Figure of the earth, octets 15-30 (code table 3.2).
pub(super) fn earth(t: &[u8], template: u16) -> Result<Earth, GridError> {
    let shape = need(u8_at(t, 0), "shape of the earth")?;
    let scaled = |off: usize| -> Option<f64> {
        let scale = i8sm_at(t, off)?;
        let value = u32_at(t, off + 1)?;
        Some(value as f64 / 10f64.powi(scale))
    };
    Ok(match shape {
        0 => Earth::sphere(6_367_470.0),
        1 => Earth::sphere(need(scaled(1), "earth radius")?),
        2 => Earth::ellipsoid(6_378_160.0, 6_356_775.0),
        3 => Earth::ellipsoid(
            need(scaled(6), "major axis")? * 1000.0,
            need(scaled(11), "minor axis")? * 1000.0,
        ),
        4 => Earth {
            a: 6_378_137.0,
            inv_f: Some(298.257_222_101),
        },
        5 => Earth {
            a: 6_378_137.0,
            inv_f: Some(298.257_223_563),
        },
        6 => Earth::sphere(6_371_229.0),
        7 => Earth::ellipsoid(
            need(scaled(6), "major axis")?,
            need(scaled(11), "minor axis")?,
        ),
        8 => Earth::sphere(6_371_200.0),
        9 => Earth::ellipsoid(6_377_563.396, 6_356_256.909),
        other => {
            return Err(GridError::Unsupported {
                template,
                detail: format!(" with shape of the earth {other} (code table 3.2)"),
            })
        }
    })
}

/// A projected grid anchored on its first point (lon/lat degrees) with steps in metres,
/// signed by the scanning directions (shared by GRIB editions 1 and 2).
pub(crate) fn projected_from_first_point(
    (nx, ny): (usize, usize),
    projection: Projection,
    (lo1, la1): (f64, f64),
    (dx, dy): (f64, f64),
    (i_neg, j_pos): (bool, bool),
) -> Result<Grid, GridError> {
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
    Ok(grid)
}

/// Templates 3.10, 3.20 and 3.30.
fn projected(template: u16, t: &[u8], name: &str) -> Result<(Grid, String), GridError> {
    let e = earth(t, template)?;
    let (nx, ny) = dims(t, template)?;
    let deg = |off: usize, what: &str| need(i32sm_at(t, off), what).map(|v| v as f64 * 1e-6);
    let la1 = deg(24, "La1")?;
    let lo1 = deg(28, "Lo1")?;
    let (projection, dx, dy, mode) = match template {
        10 => {
            let lad = deg(33, "LaD")?;
            let lo2 = deg(41, "Lo2")?;
            let mut span = lo2 - lo1;
            if span <= 0.0 {
                span += 360.0;
            }
            let p = Projection::Mercator {
                earth: e,
                lon0: lo1 + span / 2.0,
                lat_ts: lad,
            };
            let dx = need(u32_at(t, 50), "Di")? as f64 * 1e-3;
            let dy = need(u32_at(t, 54), "Dj")? as f64 * 1e-3;
            (p, dx, dy, need(u8_at(t, 45), "scanning mode")?)
        }
        20 => {
            let lad = deg(33, "LaD")?;
            let lov = deg(37, "LoV")?;
            let south = need(u8_at(t, 49), "projection centre")? & 0x80 != 0;
            let p = Projection::PolarStereographic {
                earth: e,
                lon0: lov,
                lat_ts: if south { -lad.abs() } else { lad.abs() },
                south,
            };
            let dx = need(u32_at(t, 41), "Dx")? as f64 * 1e-3;
            let dy = need(u32_at(t, 45), "Dy")? as f64 * 1e-3;
            (p, dx, dy, need(u8_at(t, 50), "scanning mode")?)
        }
        _ => {
            let lad = deg(33, "LaD")?;
            let lov = deg(37, "LoV")?;
            let latin1 = deg(51, "Latin1")?;
            let latin2 = deg(55, "Latin2")?;
            let p = Projection::LambertConformal {
                earth: e,
                lon0: lov,
                lat0: lad,
                lat1: latin1,
                lat2: latin2,
            };
            let dx = need(u32_at(t, 41), "Dx")? as f64 * 1e-3;
            let dy = need(u32_at(t, 45), "Dy")? as f64 * 1e-3;
            (p, dx, dy, need(u8_at(t, 50), "scanning mode")?)
        }
    };
    let (i_neg, j_pos) = scanning(template, mode)?;
    let grid =
        projected_from_first_point((nx, ny), projection, (lo1, la1), (dx, dy), (i_neg, j_pos))?;
    Ok((
        grid,
        format!("{name} {nx}x{ny} ({:.1}x{:.1} km)", dx / 1e3, dy / 1e3),
    ))
}

/// Whether vector components are resolved along the grid's x and y axes rather than east
/// and north: the resolution and component flags (flag table 3.3, bit 5 = 0x08; octet 55 of
/// template 3.0, octet 47 of 3.10, 3.20 and 3.30). `None` for other templates or a section
/// too short to say.
pub fn components_relative_to_grid(s3: &[u8]) -> Option<bool> {
    let off = match template_number(s3)? {
        0 | 1 | 40 | 41 | 32769 => 14 + 40,
        10 | 20 | 30 | 90 => 14 + 32,
        150 => 14 + 16,
        _ => return None,
    };
    u8_at(s3, off).map(|flags| flags & 0x08 != 0)
}

/// Whether odd rows run in the opposite direction (flag table 3.4 bit 4, "boustrophedon").
pub fn alternate_rows(s3: &[u8]) -> bool {
    let off = match template_number(s3) {
        Some(0 | 1 | 40 | 41 | 32769) => 14 + 57,
        Some(10) => 14 + 45,
        Some(90) => 14 + 49,
        Some(20) | Some(30) => 14 + 50,
        _ => return false,
    };
    u8_at(s3, off).is_some_and(|m| m & 0x10 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{Dataset, WindFrame};

    fn sample(name: &str) -> Vec<u8> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-data");
        std::fs::read(dir.join(name)).unwrap()
    }

    /// Byte offsets of section 3 of each message (sections 1 to 7 follow the 16-byte
    /// section 0, each starting with its length and number).
    fn section3_offsets(file: &[u8]) -> Vec<usize> {
        let mut out = Vec::new();
        let mut msg = 0;
        while msg + 16 <= file.len() {
            let total = u64::from_be_bytes(file[msg + 8..msg + 16].try_into().unwrap()) as usize;
            let mut at = msg + 16;
            while at + 5 <= msg + total - 4 {
                let len = u32_at(file, at).unwrap() as usize;
                if file[at + 4] == 3 {
                    out.push(at);
                }
                at += len;
            }
            msg += total;
        }
        out
    }

    #[test]
    fn resolution_and_component_flags_say_which_winds_are_grid_relative() {
        // eccodes: uvRelativeToGrid 0 for the lat/lon winds, 1 for the Lambert grid.
        for (name, want) in [("global_uv10.grib2", false), ("lambert_t850.grib2", true)] {
            let file = sample(name);
            let offsets = section3_offsets(&file);
            assert!(!offsets.is_empty(), "{name}");
            for at in offsets {
                let s3 = &file[at..];
                assert_eq!(components_relative_to_grid(s3), Some(want), "{name}");
            }
        }
        // The same winds marked grid-relative (bit 5 set) say so in their field metadata.
        let dir = tempfile::tempdir().unwrap();
        let mut file = sample("global_uv10.grib2");
        let path = dir.path().join("uv.grib2");
        for frame in [WindFrame::Earth, WindFrame::Grid] {
            std::fs::write(&path, &file).unwrap();
            let ds = Dataset::open(&path).unwrap();
            for e in ds.entries() {
                assert_eq!(e.info.as_ref().unwrap().wind_frame, Some(frame));
            }
            for at in section3_offsets(&file.clone()) {
                file[at + 14 + 40] |= 0x08;
            }
        }
    }
}
