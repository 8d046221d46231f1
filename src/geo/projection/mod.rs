//! Map projections of the native grids: Lambert conformal conic, polar stereographic and
//! Mercator, on a sphere or an ellipsoid.
//!
//! Formulas are Snyder's (USGS Professional Paper 1395, "Map Projections: A Working Manual",
//! 1987), written for the ellipsoid so a sphere is the case `e = 0`. GRIB2 states the figure
//! of the earth per grid (code table 3.2); NetCDF CF files state it in the grid mapping. The
//! forward direction (lon/lat to metres) is what rendering needs per pixel; the inverse serves
//! grid bounds and round-trip tests.

use std::f64::consts::{FRAC_PI_2, FRAC_PI_4, PI};

use serde::Serialize;

use crate::geo::geostationary::Geostationary;
use crate::geo::rotated::RotatedPole;

mod axes;

pub use axes::AxesForward;

/// A figure of the earth: semi-major axis and eccentricity.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Earth {
    /// Semi-major axis in metres.
    pub a: f64,
    /// Inverse flattening; `None` for a sphere.
    pub inv_f: Option<f64>,
}

impl Earth {
    pub fn sphere(radius: f64) -> Earth {
        Earth {
            a: radius,
            inv_f: None,
        }
    }

    pub fn ellipsoid(a: f64, b: f64) -> Earth {
        if (a - b).abs() < 1e-6 {
            return Earth::sphere(a);
        }
        Earth {
            a,
            inv_f: Some(a / (a - b)),
        }
    }

    /// First eccentricity.
    pub fn e(&self) -> f64 {
        match self.inv_f {
            None => 0.0,
            Some(inv_f) => {
                let f = 1.0 / inv_f;
                (2.0 * f - f * f).sqrt()
            }
        }
    }
}

/// The projections tilecast renders from. Angles are stored in degrees.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "name", rename_all = "snake_case")]
pub enum Projection {
    LambertConformal {
        earth: Earth,
        /// Central meridian (GRIB2 LoV).
        lon0: f64,
        /// Latitude of origin.
        lat0: f64,
        lat1: f64,
        lat2: f64,
    },
    PolarStereographic {
        earth: Earth,
        /// Straight vertical longitude (GRIB2 LoV).
        lon0: f64,
        /// Latitude of true scale (GRIB2 LaD), signed: negative for a south-pole projection.
        lat_ts: f64,
        south: bool,
    },
    Mercator {
        earth: Earth,
        lon0: f64,
        /// Latitude of true scale (GRIB2 LaD).
        lat_ts: f64,
    },
    /// Rotated lat/lon: x and y are rotated longitude and latitude in degrees.
    Rotated(RotatedPole),
    /// Geostationary view: x and y are scan angles in radians.
    Geostationary(Geostationary),
}

/// Wraps an angle difference in radians into [-pi, pi).
fn wrap_pi(x: f64) -> f64 {
    (x + PI).rem_euclid(2.0 * PI) - PI
}

/// Snyder (7-9): isometric-latitude function t.
fn tfn(phi: f64, e: f64) -> f64 {
    let es = e * phi.sin();
    (FRAC_PI_4 - phi / 2.0).tan() / ((1.0 - es) / (1.0 + es)).powf(e / 2.0)
}

/// Snyder (14-15): m = cos(phi) / sqrt(1 - e^2 sin^2 phi).
fn mfn(phi: f64, e: f64) -> f64 {
    let es = e * phi.sin();
    phi.cos() / (1.0 - es * es).sqrt()
}

/// Snyder (7-9) inverted by iteration: latitude from t.
fn phi_from_t(t: f64, e: f64) -> f64 {
    let mut phi = FRAC_PI_2 - 2.0 * t.atan();
    if e == 0.0 {
        return phi;
    }
    for _ in 0..15 {
        let es = e * phi.sin();
        let next = FRAC_PI_2 - 2.0 * (t * ((1.0 - es) / (1.0 + es)).powf(e / 2.0)).atan();
        if (next - phi).abs() < 1e-12 {
            return next;
        }
        phi = next;
    }
    phi
}

/// Precomputed constants of a Lambert conformal projection (Snyder 15-1 to 15-5).
#[derive(Clone, Copy)]
struct Lcc {
    a: f64,
    e: f64,
    n: f64,
    f: f64,
    rho0: f64,
    lon0: f64,
}

/// The parameters an [`Lcc`] was made from, bit for bit.
type LccKey = [u64; 6];

thread_local! {
    /// The last Lambert constants made on this thread: a tile locates all its pixels on one
    /// grid, and making the constants (three `powf`, two `tan`, logarithms) cost several
    /// times the projection itself.
    static LAST_LCC: std::cell::Cell<Option<(LccKey, Lcc)>> = const { std::cell::Cell::new(None) };
}

impl Lcc {
    /// [`Lcc::new`], reusing this thread's last constants when the parameters are the same.
    fn of(earth: &Earth, lon0: f64, lat0: f64, lat1: f64, lat2: f64) -> Lcc {
        let key = [
            earth.a.to_bits(),
            earth.inv_f.map_or(u64::MAX, f64::to_bits),
            lon0.to_bits(),
            lat0.to_bits(),
            lat1.to_bits(),
            lat2.to_bits(),
        ];
        LAST_LCC.with(|last| match last.get() {
            Some((k, c)) if k == key => c,
            _ => {
                let c = Lcc::new(earth, lon0, lat0, lat1, lat2);
                last.set(Some((key, c)));
                c
            }
        })
    }

    fn new(earth: &Earth, lon0: f64, lat0: f64, lat1: f64, lat2: f64) -> Lcc {
        let e = earth.e();
        let (p0, p1, p2) = (lat0.to_radians(), lat1.to_radians(), lat2.to_radians());
        let (m1, m2) = (mfn(p1, e), mfn(p2, e));
        let (t1, t2) = (tfn(p1, e), tfn(p2, e));
        let n = if (p1 - p2).abs() > 1e-10 {
            (m1.ln() - m2.ln()) / (t1.ln() - t2.ln())
        } else {
            p1.sin()
        };
        let f = m1 / (n * t1.powf(n));
        let rho0 = earth.a * f * tfn(p0, e).powf(n);
        Lcc {
            a: earth.a,
            e,
            n,
            f,
            rho0,
            lon0: lon0.to_radians(),
        }
    }
}

impl Projection {
    /// Projects lon/lat in degrees to metres. Returns `None` where the projection is undefined
    /// (the opposite pole of a conic or stereographic projection).
    pub fn forward(&self, lon: f64, lat: f64) -> Option<(f64, f64)> {
        let (lam, phi) = (lon.to_radians(), lat.to_radians());
        match self {
            Projection::LambertConformal {
                earth,
                lon0,
                lat0,
                lat1,
                lat2,
            } => {
                let c = Lcc::of(earth, *lon0, *lat0, *lat1, *lat2);
                if (phi + c.n.signum() * FRAC_PI_2).abs() < 1e-10 {
                    return None;
                }
                let rho = c.a * c.f * tfn(phi, c.e).powf(c.n);
                let theta = c.n * wrap_pi(lam - c.lon0);
                Some((rho * theta.sin(), c.rho0 - rho * theta.cos()))
            }
            Projection::PolarStereographic {
                earth,
                lon0,
                lat_ts,
                south,
            } => {
                let s = if *south { -1.0 } else { 1.0 };
                let (phi, lam, lam0) = (s * phi, s * lam, s * lon0.to_radians());
                if (phi + FRAC_PI_2).abs() < 1e-10 {
                    return None;
                }
                let rho = polar_rho(earth, s * lat_ts.to_radians(), tfn(phi, earth.e()));
                let d = lam - lam0;
                Some((s * rho * d.sin(), -s * rho * d.cos()))
            }
            Projection::Mercator {
                earth,
                lon0,
                lat_ts,
            } => {
                if phi.abs() >= FRAC_PI_2 - 1e-10 {
                    return None;
                }
                let e = earth.e();
                let k = earth.a * mfn(lat_ts.to_radians(), e);
                Some((k * wrap_pi(lam - lon0.to_radians()), -k * tfn(phi, e).ln()))
            }
            Projection::Rotated(r) => Some(r.to_rotated(lon, lat)),
            Projection::Geostationary(g) => g.forward(lon, lat),
        }
    }

    /// Inverse of [`Projection::forward`]: metres to lon/lat in degrees (lon in [-180, 180)).
    pub fn inverse(&self, x: f64, y: f64) -> (f64, f64) {
        let (lam, phi) = match self {
            Projection::Rotated(r) => return r.to_geographic(x, y),
            Projection::Geostationary(g) => return g.inverse(x, y),
            Projection::LambertConformal {
                earth,
                lon0,
                lat0,
                lat1,
                lat2,
            } => {
                let c = Lcc::of(earth, *lon0, *lat0, *lat1, *lat2);
                let sn = c.n.signum();
                let dy = c.rho0 - y;
                let rho = sn * (x * x + dy * dy).sqrt();
                let theta = (sn * x).atan2(sn * dy);
                let phi = if rho == 0.0 {
                    sn * FRAC_PI_2
                } else {
                    phi_from_t((rho / (c.a * c.f)).powf(1.0 / c.n), c.e)
                };
                (theta / c.n + c.lon0, phi)
            }
            Projection::PolarStereographic {
                earth,
                lon0,
                lat_ts,
                south,
            } => {
                let s = if *south { -1.0 } else { 1.0 };
                let (x, y) = (s * x, s * y);
                let e = earth.e();
                let rho = (x * x + y * y).sqrt();
                let unit = polar_rho(earth, s * lat_ts.to_radians(), 1.0);
                let phi = phi_from_t(rho / unit, e);
                let lam = s * lon0.to_radians() + x.atan2(-y);
                (s * lam, s * phi)
            }
            Projection::Mercator {
                earth,
                lon0,
                lat_ts,
            } => {
                let e = earth.e();
                let k = earth.a * mfn(lat_ts.to_radians(), e);
                (x / k + lon0.to_radians(), phi_from_t((-y / k).exp(), e))
            }
        };
        (wrap_pi(lam).to_degrees(), phi.to_degrees())
    }
}

/// Snyder (21-33)/(21-34): radius on a north-polar stereographic plane for isometric `t`,
/// scaled so the scale is true at latitude `phi_c` (radians).
fn polar_rho(earth: &Earth, phi_c: f64, t: f64) -> f64 {
    let e = earth.e();
    if (phi_c - FRAC_PI_2).abs() < 1e-10 {
        let k = ((1.0 + e).powf(1.0 + e) * (1.0 - e).powf(1.0 - e)).sqrt();
        2.0 * earth.a * t / k
    } else {
        earth.a * mfn(phi_c, e) * t / tfn(phi_c, e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Projections of every kind that separates, on a sphere and an ellipsoid (also the
    /// lattice test's, in `axes`).
    pub(super) fn projections() -> Vec<Projection> {
        let wgs84 = Earth::ellipsoid(6378137.0, 6356752.314245);
        let sphere = Earth::sphere(6371229.0);
        vec![
            Projection::LambertConformal {
                earth: sphere,
                lon0: -97.5,
                lat0: 38.5,
                lat1: 38.5,
                lat2: 38.5,
            },
            Projection::LambertConformal {
                earth: wgs84,
                lon0: 15.0,
                lat0: 63.3,
                lat1: 45.0,
                lat2: 70.0,
            },
            Projection::PolarStereographic {
                earth: sphere,
                lon0: -105.0,
                lat_ts: 60.0,
                south: false,
            },
            Projection::PolarStereographic {
                earth: wgs84,
                lon0: 0.0,
                lat_ts: -71.0,
                south: true,
            },
            Projection::Mercator {
                earth: wgs84,
                lon0: -100.0,
                lat_ts: 20.0,
            },
        ]
    }

    #[test]
    fn known_values() {
        // Snyder's numerical example for the ellipsoidal LCC (p. 296): Clarke 1866,
        // standard parallels 33 and 45, origin 23N 96W; point 35N 75W.
        let clarke = Earth::ellipsoid(6378206.4, 6356583.8);
        let p = Projection::LambertConformal {
            earth: clarke,
            lon0: -96.0,
            lat0: 23.0,
            lat1: 33.0,
            lat2: 45.0,
        };
        let (x, y) = p.forward(-75.0, 35.0).unwrap();
        assert!((x - 1894410.9).abs() < 1.0, "x {x}");
        assert!((y - 1564649.5).abs() < 1.0, "y {y}");
        // Snyder's polar stereographic ellipsoid example (p. 315): International 1924,
        // south pole, true scale at 71S, central meridian 100W; point 75S 150E.
        let intl = Earth {
            a: 6378388.0,
            inv_f: Some(297.0),
        };
        let p = Projection::PolarStereographic {
            earth: intl,
            lon0: -100.0,
            lat_ts: -71.0,
            south: true,
        };
        let (x, y) = p.forward(150.0, -75.0).unwrap();
        assert!((x - -1540033.6).abs() < 1.0, "x {x}");
        assert!((y - -560526.4).abs() < 1.0, "y {y}");
    }

    proptest! {
        #[test]
        fn round_trip(lon in -179.0f64..179.0, lat in -80.0f64..80.0, which in 0usize..5) {
            let p = &projections()[which];
            // Stay in the hemisphere where each conic/azimuthal projection is well defined.
            let lat = match p {
                Projection::PolarStereographic { south: true, .. } => -lat.abs().max(1.0),
                Projection::PolarStereographic { south: false, .. } => lat.abs().max(1.0),
                Projection::LambertConformal { .. } => lat.abs().max(1.0),
                _ => lat,
            };
            let (x, y) = p.forward(lon, lat).unwrap();
            let (lon2, lat2) = p.inverse(x, y);
            let dlon = ((lon2 - lon + 540.0) % 360.0) - 180.0;
            prop_assert!(dlon.abs() < 1e-7 && (lat2 - lat).abs() < 1e-7,
                "{p:?}: ({lon},{lat}) -> ({x},{y}) -> ({lon2},{lat2})");
        }
    }
}
