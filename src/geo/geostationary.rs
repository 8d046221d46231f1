//! The view from a geostationary satellite (GRIB2 template 3.90 "space view", GRIB1 type 90,
//! CF `geostationary`): a point's coordinates are the two scan angles (radians) of the ray
//! from the satellite to it.
//!
//! The satellite sits on the equator at `lon0`, `h` metres from the earth's centre. A ray
//! leaves it in direction `d`; its scan angles depend on which axis the instrument sweeps:
//! - sweep `y` (Meteosat, the CGMS LRIT/HRIT convention GRIB uses):
//!   `d = (-cos x cos y, sin x cos y, sin y)`;
//! - sweep `x` (GOES ABI): `d = (-cos x cos y, sin x, cos x sin y)`.
//!
//! The inverse intersects the ray with the ellipsoid; a ray that misses the earth has no
//! longitude and latitude (NaN), and a point on the far side is not visible (`None`).

use serde::Serialize;

use crate::geo::projection::Earth;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Geostationary {
    pub earth: Earth,
    /// Sub-satellite longitude, degrees.
    pub lon0: f64,
    /// Distance of the satellite from the earth's centre, metres.
    pub h: f64,
    /// True when the instrument sweeps along x (GOES); false for y (Meteosat, GRIB).
    pub sweep_x: bool,
}

impl Geostationary {
    fn axes(&self) -> (f64, f64) {
        let a = self.earth.a;
        let e2 = self.earth.e().powi(2);
        (a, a * (1.0 - e2).sqrt())
    }

    /// Scan angles (radians) of lon/lat (degrees); `None` where the point is not visible.
    pub fn forward(&self, lon: f64, lat: f64) -> Option<(f64, f64)> {
        let (a, b) = self.axes();
        let phi = lat.to_radians();
        let lam = (lon - self.lon0).to_radians();
        // Geocentric latitude and radius of the point on the ellipsoid.
        let phic = ((b * b) / (a * a) * phi.tan()).atan();
        let e2 = 1.0 - (b * b) / (a * a);
        let r = b / (1.0 - e2 * phic.cos().powi(2)).sqrt();
        let p = [
            r * phic.cos() * lam.cos(),
            r * phic.cos() * lam.sin(),
            r * phic.sin(),
        ];
        // Visible when the satellite is above the tangent plane at the point.
        let vis = (self.h - p[0]) * p[0] / (a * a) - p[1] * p[1] / (a * a) - p[2] * p[2] / (b * b);
        if vis <= 0.0 {
            return None;
        }
        let v = [p[0] - self.h, p[1], p[2]];
        let n = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
        let d = [v[0] / n, v[1] / n, v[2] / n];
        Some(if self.sweep_x {
            (d[1].asin(), d[2].atan2(-d[0]))
        } else {
            (d[1].atan2(-d[0]), d[2].asin())
        })
    }

    /// Lon/lat (degrees) seen at scan angles `x`, `y` (radians); NaN off the earth's disk.
    pub fn inverse(&self, x: f64, y: f64) -> (f64, f64) {
        let (a, b) = self.axes();
        let d = if self.sweep_x {
            [-x.cos() * y.cos(), x.sin(), x.cos() * y.sin()]
        } else {
            [-x.cos() * y.cos(), x.sin() * y.cos(), y.sin()]
        };
        let k = (a * a) / (b * b);
        let qa = d[0] * d[0] + d[1] * d[1] + k * d[2] * d[2];
        let qb = 2.0 * self.h * d[0];
        let qc = self.h * self.h - a * a;
        let disc = qb * qb - 4.0 * qa * qc;
        if disc < 0.0 || qa <= 0.0 {
            return (f64::NAN, f64::NAN);
        }
        let t = (-qb - disc.sqrt()) / (2.0 * qa);
        let p = [self.h + t * d[0], t * d[1], t * d[2]];
        let lat = (k * p[2] / p[0].hypot(p[1])).atan().to_degrees();
        let lon = self.lon0 + p[1].atan2(p[0]).to_degrees();
        (crate::geo::grid::norm180(lon), lat)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn goes(sweep_x: bool) -> Geostationary {
        Geostationary {
            earth: Earth::ellipsoid(6_378_137.0, 6_356_752.314_14),
            lon0: -75.0,
            h: 35_786_023.0 + 6_378_137.0,
            sweep_x,
        }
    }

    #[test]
    fn round_trips_and_the_far_side_is_hidden() {
        for sweep_x in [true, false] {
            let g = goes(sweep_x);
            assert_eq!(g.forward(-75.0, 0.0), Some((0.0, 0.0)));
            for (lon, lat) in [(-100.0, 30.0), (-60.0, -45.0), (-20.0, 10.0), (-75.0, 70.0)] {
                let (x, y) = g.forward(lon, lat).unwrap();
                let (lo, la) = g.inverse(x, y);
                assert!(
                    (lo - lon).abs() < 1e-9 && (la - lat).abs() < 1e-9,
                    "{lo} {la}"
                );
            }
            assert!(g.forward(105.0, 0.0).is_none());
            assert!(g.inverse(0.2, 0.2).0.is_nan());
        }
    }

    #[test]
    fn sweep_axes_differ_off_the_axes() {
        let (ax, ay) = goes(true).forward(-40.0, 40.0).unwrap();
        let (bx, by) = goes(false).forward(-40.0, 40.0).unwrap();
        assert!((ax - bx).abs() > 1e-4 && (ay - by).abs() > 1e-4);
        // Known GOES-16 value (PUG volume 4, 5.1.2.8.1 example): lat 33.846162,
        // lon -84.690932 is at x = -0.024052 rad, y = 0.095340 rad.
        let (x, y) = goes(true).forward(-84.690932, 33.846162).unwrap();
        assert!(
            (x - -0.024052).abs() < 1e-6 && (y - 0.095340).abs() < 1e-6,
            "{x} {y}"
        );
    }
}
