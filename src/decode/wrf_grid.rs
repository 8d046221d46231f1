//! The horizontal grid of WRF output: the projection its `MAP_PROJ` family of global
//! attributes describes, checked point by point against the file's own `XLAT`/`XLONG`.
//!
//! WRF works on a sphere of radius 6 370 000 m. `MAP_PROJ` 1 is Lambert conformal
//! (`TRUELAT1`, `TRUELAT2`, `STAND_LON`), 2 polar stereographic (true at `TRUELAT1`,
//! the south pole's when it is negative), 3 Mercator (true at `TRUELAT1`), 6 a regular
//! latitude/longitude grid (WRF's "Cassini" code) whose spacing is `DX`/`DY` metres
//! of a great circle, rotated when `POLE_LAT` is not 90 (see [`rotation`]). The grid's origin is the mean over all mass points of their projected
//! position less their index times `DX`/`DY`: the least-squares anchor, which averages out
//! the rounding of the stored coordinates (the first point alone is off by as much as any).
//!
//! Every point of the grid is then compared with `XLAT`/`XLONG`. WRF computes and stores
//! them in single precision: in the samples they scatter up to 2e-5 degrees (2 m) around
//! the exact grid. A point further than [`TOLERANCE_DEG`] (or a tenth of a cell on a grid
//! finer than 1 km) means the attributes do not describe the grid (another projection code,
//! edited attributes, ...): the grid is then curvilinear, from `XLAT`/`XLONG` themselves.
//!
//! **Moving nests.** When `XLAT`/`XLONG` have a `Time` dimension and differ between times
//! (a nest following a storm), each time gets its own grid, built and checked the same way,
//! and each field uses the grid of its own time; a field without a `Time` dimension uses the
//! first time's. Coordinates equal to the time before share its grid, so a fixed domain
//! has one grid for the whole file.

use super::cf::VarMeta;
use crate::geo::curvilinear::Curvilinear;
use crate::geo::grid::{norm180, Grid, GridKind};
use crate::geo::projection::{Earth, Projection};
use crate::geo::rotated::RotatedPole;

/// WRF's earth radius (`EARTH_RADIUS_M` of WRF's `module_llxy`).
pub const RADIUS: f64 = 6_370_000.0;

/// Largest distance (degrees of arc) between a point of a projected grid and the file's
/// coordinates for the two to be taken as the same grid.
pub const TOLERANCE_DEG: f64 = 1e-4;

/// The grids of a file whose coordinates have `times` slices of `ny` × `nx` points
/// (`times` = 1 for 2-D coordinates), read one at a time by `slice(t)` as (lon, lat). A
/// slice equal to the one before shares its grid. Returns the grids and the grid of each
/// time; `None` when a slice cannot be read.
pub fn grids(
    globals: &VarMeta,
    nx: usize,
    ny: usize,
    times: usize,
    mut slice: impl FnMut(usize) -> Option<(Vec<f64>, Vec<f64>)>,
) -> Option<(Vec<Grid>, Vec<usize>)> {
    let mut grids = Vec::new();
    let mut of_time = Vec::with_capacity(times);
    let mut last: Option<(Vec<f64>, Vec<f64>)> = None;
    for t in 0..times.max(1) {
        let (lon, lat) = slice(t)?;
        if lon.len() != nx * ny || lat.len() != nx * ny {
            return None;
        }
        if last.as_ref() != Some(&(lon.clone(), lat.clone())) {
            grids.push(grid(globals, nx, ny, &lon, &lat));
            last = Some((lon, lat));
        }
        of_time.push(grids.len() - 1);
    }
    Some((grids, of_time))
}

/// The grid of one set of coordinates: the projected (or lat/lon) grid the attributes
/// describe where every point agrees, else curvilinear.
pub fn grid(globals: &VarMeta, nx: usize, ny: usize, lon: &[f64], lat: &[f64]) -> Grid {
    regular(globals, nx, ny, lon, lat)
        .filter(|g| agrees(g, lon, lat))
        .unwrap_or_else(|| Grid {
            nx,
            ny,
            kind: GridKind::Curvilinear(Box::new(Curvilinear::new(
                nx,
                ny,
                lon.to_vec(),
                lat.to_vec(),
            ))),
        })
}

/// The projection of `MAP_PROJ` 1-3, or `None`.
pub fn projection(globals: &VarMeta) -> Option<Projection> {
    let earth = Earth::sphere(RADIUS);
    let num = |k: &str| globals.number(k).filter(|v| v.is_finite());
    let lat1 = num("TRUELAT1")?;
    let lon0 = num("STAND_LON")?;
    match num("MAP_PROJ")? as i64 {
        1 => Some(Projection::LambertConformal {
            earth,
            lon0,
            lat0: lat1,
            lat1,
            lat2: num("TRUELAT2").unwrap_or(lat1),
        }),
        2 => Some(Projection::PolarStereographic {
            earth,
            lon0,
            lat_ts: lat1,
            south: lat1 < 0.0,
        }),
        // Mercator's x is linear in longitude: any central meridian gives the same grid
        // once anchored, and the domain's own centre keeps it clear of the seam.
        3 => Some(Projection::Mercator {
            earth,
            lon0: num("CEN_LON").unwrap_or(lon0),
            lat_ts: lat1,
        }),
        _ => None,
    }
}

/// The regular grid the global attributes describe, anchored on the points; `None` when
/// they describe none this module builds.
fn regular(globals: &VarMeta, nx: usize, ny: usize, lon: &[f64], lat: &[f64]) -> Option<Grid> {
    let dx = globals.number("DX").filter(|d| d.is_finite() && *d > 0.0)?;
    let dy = globals.number("DY").filter(|d| d.is_finite() && *d > 0.0)?;
    if let Some(projection) = projection(globals) {
        let mut xy = Vec::with_capacity(lon.len());
        for (&lo, &la) in lon.iter().zip(lat) {
            xy.push(projection.forward(lo, la)?);
        }
        let (x0, y0) = anchor(nx, &xy, dx, dy);
        return Some(Grid {
            nx,
            ny,
            kind: GridKind::Projected {
                projection,
                x0,
                y0,
                dx,
                dy,
            },
        });
    }
    if globals.number("MAP_PROJ")? as i64 != 6 {
        return None;
    }
    // WRF's longitude step: `loninc = dx * 360 / (2 pi R)`, and the same for latitude.
    let per_metre = 360.0 / (2.0 * std::f64::consts::PI * RADIUS);
    let (dlon, dlat) = (dx * per_metre, dy * per_metre);
    let pole = rotation(globals);
    // Longitudes (rotated ones on a rotated grid) unwrapped from the first point's, so a
    // domain across the antimeridian (or the rotated one) averages correctly.
    let native: Vec<(f64, f64)> = lon
        .iter()
        .zip(lat)
        .map(|(&lo, &la)| match &pole {
            Some(p) => p.to_rotated(lo, la),
            None => (lo, la),
        })
        .collect();
    let first = native.first()?.0;
    let xy: Vec<(f64, f64)> = native
        .into_iter()
        .map(|(x, y)| (first + norm180(x - first), y))
        .collect();
    let (x0, y0) = anchor(nx, &xy, dlon, dlat);
    let kind = match pole {
        Some(p) => GridKind::Projected {
            projection: Projection::Rotated(p),
            x0,
            y0,
            dx: dlon,
            dy: dlat,
        },
        None => GridKind::LatLon {
            lon0: x0,
            lat0: y0,
            dlon,
            dlat,
        },
    };
    Some(Grid { nx, ny, kind })
}

/// The rotation of a `MAP_PROJ` 6 grid whose `POLE_LAT` is not 90. In WRF's
/// `rotate_coords` the computational north pole lies at geographic latitude `POLE_LAT`,
/// longitude 180 - `STAND_LON`, and the geographic north pole at computational longitude
/// `POLE_LON`.
fn rotation(globals: &VarMeta) -> Option<RotatedPole> {
    let pole_lat = globals.number("POLE_LAT").unwrap_or(90.0);
    if (pole_lat.abs() - 90.0).abs() < 1e-6 {
        return None;
    }
    let stand_lon = globals.number("STAND_LON").unwrap_or(0.0);
    let pole_lon = globals.number("POLE_LON").unwrap_or(0.0);
    Some(RotatedPole::from_north_pole(
        pole_lat,
        180.0 - stand_lon,
        pole_lon,
    ))
}

/// The least-squares origin of points `xy` (row-major, `nx` per row) spaced `dx`, `dy`.
fn anchor(nx: usize, xy: &[(f64, f64)], dx: f64, dy: f64) -> (f64, f64) {
    let (mut sx, mut sy) = (0.0, 0.0);
    for (k, &(x, y)) in xy.iter().enumerate() {
        sx += x - (k % nx) as f64 * dx;
        sy += y - (k / nx) as f64 * dy;
    }
    let n = xy.len().max(1) as f64;
    (sx / n, sy / n)
}

/// Whether every point of `grid` is where the file's coordinates put it.
fn agrees(grid: &Grid, lon: &[f64], lat: &[f64]) -> bool {
    let cell_deg = match &grid.kind {
        GridKind::Projected {
            projection: Projection::Rotated(_),
            dx,
            dy,
            ..
        } => dx.abs().min(dy.abs()),
        GridKind::Projected { dx, dy, .. } => dx.abs().min(dy.abs()) / 111_195.0,
        GridKind::LatLon { dlon, dlat, .. } => dlon.abs().min(dlat.abs()),
        GridKind::Curvilinear(_) | GridKind::Rows(_) => return true,
    };
    let tol = TOLERANCE_DEG.min(0.1 * cell_deg);
    lon.iter().zip(lat).enumerate().all(|(k, (&lo, &la))| {
        let (glon, glat) = grid.lonlat((k % grid.nx) as f64, (k / grid.nx) as f64);
        let dlon = norm180(glon - lo) * la.to_radians().cos();
        (glat - la).hypot(dlon) <= tol
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::cf::Attr;

    fn globals(pairs: &[(&str, f64)]) -> VarMeta {
        VarMeta {
            attrs: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), Attr::Numbers(vec![*v])))
                .collect(),
            ..Default::default()
        }
    }

    /// Coordinates of a grid, rounded to f32 as WRF stores them.
    fn coords(g: &Grid) -> (Vec<f64>, Vec<f64>) {
        (0..g.len())
            .map(|k| {
                let (lo, la) = g.lonlat((k % g.nx) as f64, (k / g.nx) as f64);
                (lo as f32 as f64, la as f32 as f64)
            })
            .unzip()
    }

    #[test]
    fn lambert_grid_is_rebuilt_and_a_wrong_one_falls_back() {
        let g = globals(&[
            ("MAP_PROJ", 1.0),
            ("DX", 30000.0),
            ("DY", 30000.0),
            ("TRUELAT1", 30.0),
            ("TRUELAT2", 60.0),
            ("STAND_LON", -98.0),
        ]);
        let truth = Grid {
            nx: 20,
            ny: 15,
            kind: GridKind::Projected {
                projection: projection(&g).unwrap(),
                x0: -300_000.0,
                y0: 1_000_000.0,
                dx: 30000.0,
                dy: 30000.0,
            },
        };
        let (lon, lat) = coords(&truth);
        let got = grid(&g, 20, 15, &lon, &lat);
        let GridKind::Projected { x0, y0, .. } = got.kind else {
            panic!("not projected: {}", got.describe())
        };
        assert!((x0 + 300_000.0).abs() < 1.0 && (y0 - 1_000_000.0).abs() < 1.0);
        // Another standard longitude does not match the points.
        let mut wrong = g.clone();
        wrong
            .attrs
            .insert("STAND_LON".into(), Attr::Numbers(vec![-90.0]));
        let got = grid(&wrong, 20, 15, &lon, &lat);
        assert!(matches!(got.kind, GridKind::Curvilinear(_)));
    }

    #[test]
    fn moving_nest_has_a_grid_per_time() {
        let g = globals(&[
            ("MAP_PROJ", 3.0),
            ("DX", 10000.0),
            ("DY", 10000.0),
            ("TRUELAT1", 0.0),
            ("STAND_LON", -89.0),
        ]);
        let at = |x0: f64| Grid {
            nx: 8,
            ny: 6,
            kind: GridKind::Projected {
                projection: projection(&g).unwrap(),
                x0,
                y0: 3_000_000.0,
                dx: 10000.0,
                dy: 10000.0,
            },
        };
        let slices = [coords(&at(0.0)), coords(&at(0.0)), coords(&at(30000.0))];
        let (got, of_time) = grids(&g, 8, 6, 3, |t| Some(slices[t].clone())).unwrap();
        assert_eq!((got.len(), of_time), (2, vec![0, 0, 1]));
        for (k, x) in [(0, 0.0), (1, 30000.0)] {
            let GridKind::Projected { x0, .. } = got[k].kind else {
                panic!("grid {k} not projected")
            };
            assert!((x0 - x).abs() < 1.0, "grid {k}: {x0}");
        }
    }

    /// WRF's `rotate_coords` from computational to geographic lat/lon (module_llxy), as
    /// the formula reads, against the rotation built from the same attributes.
    #[test]
    fn rotated_latlon_follows_wrf() {
        let (pole_lat, pole_lon, stand_lon) = (40.0f64, 180.0f64, -10.0f64);
        let wrf = |rlat: f64, rlon: f64| {
            let (pn, ln, l0) = (
                pole_lat.to_radians(),
                pole_lon.to_radians(),
                stand_lon.to_radians(),
            );
            let (rlat, rlon) = (rlat.to_radians(), rlon.to_radians());
            let sinphi = pn.cos() * rlat.cos() * (rlon - ln).cos() + pn.sin() * rlat.sin();
            let cosphi = (1.0 - sinphi * sinphi).sqrt();
            let coslam =
                (pn.sin() * rlat.cos() * (rlon - ln).cos() - pn.cos() * rlat.sin()) / cosphi;
            let sinlam = rlat.cos() * (rlon - ln).sin() / cosphi;
            let lon = sinlam.atan2(coslam) - ln - l0 + ln;
            (norm180(lon.to_degrees()), sinphi.asin().to_degrees())
        };
        let g = globals(&[
            ("POLE_LAT", pole_lat),
            ("POLE_LON", pole_lon),
            ("STAND_LON", stand_lon),
        ]);
        let pole = rotation(&g).unwrap();
        for (rlon, rlat) in [(180.0, 0.0), (170.0, -10.0), (195.0, 12.5), (150.0, 30.0)] {
            let (lon, lat) = pole.to_geographic(rlon, rlat);
            let (wlon, wlat) = wrf(rlat, rlon);
            assert!(
                norm180(lon - wlon).abs() < 1e-9 && (lat - wlat).abs() < 1e-9,
                "({rlon}, {rlat}): ({lon}, {lat}) vs WRF ({wlon}, {wlat})"
            );
        }
        // A 0.25-degree domain across rotated longitude 180 is rebuilt from its points.
        let metres = 2.0 * std::f64::consts::PI * RADIUS / 360.0 * 0.25;
        let mut g = g;
        for (k, v) in [("MAP_PROJ", 6.0), ("DX", metres), ("DY", metres)] {
            g.attrs.insert(k.into(), Attr::Numbers(vec![v]));
        }
        let truth = Grid {
            nx: 40,
            ny: 30,
            kind: GridKind::Projected {
                projection: Projection::Rotated(pole),
                x0: 175.0,
                y0: -5.0,
                dx: 0.25,
                dy: 0.25,
            },
        };
        let (lon, lat) = coords(&truth);
        let got = grid(&g, 40, 30, &lon, &lat);
        let GridKind::Projected { x0, y0, dx, .. } = got.kind else {
            panic!("not rotated: {}", got.describe())
        };
        assert!(
            (norm180(x0 - 175.0)).abs() < 1e-5
                && (y0 + 5.0).abs() < 1e-5
                && (dx - 0.25).abs() < 1e-12,
            "{x0} {y0} {dx}"
        );
    }

    #[test]
    fn latlon_grid_from_metres() {
        let g = globals(&[
            ("MAP_PROJ", 6.0),
            ("DX", 2.0 * std::f64::consts::PI * RADIUS / 360.0 * 0.25),
            ("DY", 2.0 * std::f64::consts::PI * RADIUS / 360.0 * 0.25),
            ("POLE_LAT", 90.0),
        ]);
        let (lon, lat): (Vec<f64>, Vec<f64>) = (0..12)
            .map(|k| {
                (
                    179.5 + (k % 4) as f64 * 0.25 - 360.0 * ((k % 4) >= 2) as u8 as f64,
                    10.0 + (k / 4) as f64 * 0.25,
                )
            })
            .unzip();
        let got = grid(&g, 4, 3, &lon, &lat);
        let GridKind::LatLon { lon0, dlon, .. } = got.kind else {
            panic!("not lat/lon: {}", got.describe())
        };
        assert!((lon0 - 179.5).abs() < 1e-9 && (dlon - 0.25).abs() < 1e-12);
    }
}
