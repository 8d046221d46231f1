//! Turning grid-relative winds to earth-relative ones.
//!
//! A grid-relative u is resolved along the grid's x axis and v along its y axis (GRIB flag
//! table 3.3 bit 5; WRF's U and V): on a Lambert, polar-stereographic or rotated grid those
//! axes lean away from east and north by an angle that changes across the grid. The angle at
//! a point is the bearing of the grid's +y axis, clockwise from true north: it is measured
//! from the grid's own inverse transform over a tiny step, with the ellipsoid's radii of
//! curvature so east and north distances compare, which reproduces the meridian convergence
//! of every projection (for Lambert, n·(λ−λ0)) to about 1e-9 radians. Then
//! `u_e = u cos θ + v sin θ`, `v_n = −u sin θ + v cos θ`, and the speed is unchanged.

use crate::geo::grid::{Grid, GridKind};
use crate::geo::projection::{Earth, Projection};

/// The bearing (radians, clockwise from true north) of the grid's +y axis at each point in
/// the file's order; `None` for grids whose axes are east and north (regular lat/lon) or
/// have no defined axes.
pub fn y_axis_bearings(grid: &Grid) -> Option<Vec<f64>> {
    match &grid.kind {
        GridKind::LatLon { .. } => None,
        GridKind::Projected {
            projection,
            x0,
            y0,
            dx,
            dy,
        } => {
            let earth = earth_of(projection);
            let step = match projection {
                Projection::Rotated(_) => 1e-5,
                Projection::Geostationary(_) => 1e-8,
                _ => 1.0,
            };
            let mut out = Vec::with_capacity(grid.len());
            for j in 0..grid.ny {
                for i in 0..grid.nx {
                    let (x, y) = (x0 + i as f64 * dx, y0 + j as f64 * dy);
                    let a = projection.inverse(x, y - step);
                    let b = projection.inverse(x, y + step);
                    out.push(bearing(&earth, a, b));
                }
            }
            Some(out)
        }
        GridKind::Rows(r) => {
            let rot = r.rotation?;
            let points = grid.all_lonlat();
            Some(
                points
                    .iter()
                    .map(|&(lon, lat)| {
                        let (rlon, rlat) = rot.to_rotated(lon, lat);
                        -rot.north_angle(rlon, rlat)
                    })
                    .collect(),
            )
        }
        GridKind::Curvilinear(_) => {
            let mut out = Vec::with_capacity(grid.len());
            for j in 0..grid.ny {
                for i in 0..grid.nx {
                    let (i, j) = (i as f64, j as f64);
                    let a = grid.lonlat(i, j - 0.25);
                    let b = grid.lonlat(i, j + 0.25);
                    out.push(bearing(&Earth::sphere(6_371_229.0), a, b));
                }
            }
            Some(out)
        }
    }
}

/// Turns grid-relative `u`, `v` (file order) to east and north in place; false (and nothing
/// changed) when the grid's axes are already east and north.
pub fn to_earth(grid: &Grid, u: &mut [f32], v: &mut [f32]) -> bool {
    let Some(bearings) = y_axis_bearings(grid) else {
        return false;
    };
    for ((u, v), t) in u.iter_mut().zip(v.iter_mut()).zip(bearings) {
        let (s, c) = t.sin_cos();
        let (gu, gv) = (*u as f64, *v as f64);
        *u = (gu * c + gv * s) as f32;
        *v = (-gu * s + gv * c) as f32;
    }
    true
}

fn earth_of(p: &Projection) -> Earth {
    match p {
        Projection::LambertConformal { earth, .. }
        | Projection::PolarStereographic { earth, .. }
        | Projection::Mercator { earth, .. } => *earth,
        Projection::Geostationary(g) => g.earth,
        Projection::Rotated(_) => Earth::sphere(6_371_229.0),
    }
}

/// Bearing (radians, clockwise from north) of the short step from lon/lat `a` to `b`.
fn bearing(earth: &Earth, a: (f64, f64), b: (f64, f64)) -> f64 {
    let lat = 0.5 * (a.1 + b.1).to_radians();
    let e2 = earth.e().powi(2);
    let w = (1.0 - e2 * lat.sin().powi(2)).sqrt();
    // Meridional and prime-vertical radii of curvature.
    let m = earth.a * (1.0 - e2) / w.powi(3);
    let n = earth.a / w;
    let dlon = (b.0 - a.0 + 540.0).rem_euclid(360.0) - 180.0;
    let east = n * lat.cos() * dlon.to_radians();
    let north = m * (b.1 - a.1).to_radians();
    east.atan2(north)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambert_bearing_is_the_cone_constant_times_the_longitude_offset() {
        // Tangent cone at 25 N: n = sin(25 deg).
        let p = Projection::LambertConformal {
            earth: Earth::sphere(6_371_229.0),
            lon0: -95.0,
            lat0: 25.0,
            lat1: 25.0,
            lat2: 25.0,
        };
        let (x0, y0) = p.forward(-120.0, 20.0).unwrap();
        let grid = Grid {
            nx: 40,
            ny: 30,
            kind: GridKind::Projected {
                projection: p,
                x0,
                y0,
                dx: 50_000.0,
                dy: 50_000.0,
            },
        };
        let b = y_axis_bearings(&grid).unwrap();
        let n = 25f64.to_radians().sin();
        for k in [0, 17, 600, 1199] {
            let (lon, _) = grid.point_lonlat(k);
            let want = n * (lon + 95.0).to_radians();
            assert!((b[k] - want).abs() < 1e-8, "{k}: {} vs {want}", b[k]);
        }
        // A wind along grid +x leans south of east where the y axis leans east of north
        // (east of the central meridian) and north of east west of it; the speed is kept.
        let (mut u, mut v) = (vec![10.0f32; 1200], vec![0.0f32; 1200]);
        assert!(to_earth(&grid, &mut u, &mut v));
        for k in [0, 600, 1199] {
            assert_eq!((v[k] as f64).signum(), -b[k].signum(), "{k}");
            assert!((u[k].hypot(v[k]) - 10.0).abs() < 1e-4);
        }
    }
}
