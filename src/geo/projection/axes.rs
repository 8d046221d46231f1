//! [`Projection::forward`] on a lattice whose columns share a longitude and rows a latitude
//! (a Web Mercator tile's pixel centres): the latitude's terms once per row, the
//! longitude's once per column, then per point the same arithmetic as `forward`, so the
//! same bits for a fraction of the `powf`, `tan`, `sin` and `cos` calls.

use std::f64::consts::FRAC_PI_2;

use super::{mfn, polar_rho, tfn, wrap_pi, Lcc, Projection};

/// [`Projection::forward`] on a lattice of longitudes × latitudes
/// ([`Projection::forward_axes`]).
pub struct AxesForward {
    /// Per row: rho (conic, polar) or y (Mercator); `None` where the projection is undefined.
    rows: Vec<Option<f64>>,
    /// Per column: sin and cos of the angle about the pole (conic, polar), or (x, 0)
    /// (Mercator).
    cols: Vec<(f64, f64)>,
    kind: AxesKind,
}

enum AxesKind {
    Conic { rho0: f64 },
    Polar { s: f64 },
    Mercator,
}

impl AxesForward {
    /// Metres at column `col`, row `row`: `forward(lons[col], lats[row])`.
    pub fn at(&self, col: usize, row: usize) -> Option<(f64, f64)> {
        let r = self.rows[row]?;
        let (a, b) = self.cols[col];
        Some(match self.kind {
            AxesKind::Conic { rho0 } => (r * a, rho0 - r * b),
            AxesKind::Polar { s } => (s * r * a, -s * r * b),
            AxesKind::Mercator => (a, r),
        })
    }
}

impl Projection {
    /// [`Projection::forward`] at every point of a lattice whose columns share a longitude
    /// (`lons`) and rows a latitude (`lats`), as a Web Mercator tile's pixel centres do: the
    /// latitude's terms once per row and the longitude's once per column (the `powf`, `tan`
    /// and `sin`/`cos` that dominate), then per point the same arithmetic as `forward`, so
    /// the same bits. `None` for projections that do not separate (rotated, geostationary).
    pub fn forward_axes(&self, lons: &[f64], lats: &[f64]) -> Option<AxesForward> {
        let rad = |v: &[f64]| v.iter().map(|d| d.to_radians()).collect::<Vec<_>>();
        let (lams, phis) = (rad(lons), rad(lats));
        let (rows, cols, kind) = match self {
            Projection::LambertConformal {
                earth,
                lon0,
                lat0,
                lat1,
                lat2,
            } => {
                let c = Lcc::of(earth, *lon0, *lat0, *lat1, *lat2);
                let rows = phis.iter().map(|&phi| {
                    ((phi + c.n.signum() * FRAC_PI_2).abs() >= 1e-10)
                        .then(|| c.a * c.f * tfn(phi, c.e).powf(c.n))
                });
                let theta = |lam: f64| c.n * wrap_pi(lam - c.lon0);
                let cols = lams.iter().map(|&lam| (theta(lam).sin(), theta(lam).cos()));
                (
                    rows.collect(),
                    cols.collect(),
                    AxesKind::Conic { rho0: c.rho0 },
                )
            }
            Projection::PolarStereographic {
                earth,
                lon0,
                lat_ts,
                south,
            } => {
                let s = if *south { -1.0 } else { 1.0 };
                let lam0 = s * lon0.to_radians();
                let rows = phis.iter().map(|&phi| {
                    let phi = s * phi;
                    ((phi + FRAC_PI_2).abs() >= 1e-10)
                        .then(|| polar_rho(earth, s * lat_ts.to_radians(), tfn(phi, earth.e())))
                });
                let cols = lams
                    .iter()
                    .map(|&lam| ((s * lam - lam0).sin(), (s * lam - lam0).cos()));
                (rows.collect(), cols.collect(), AxesKind::Polar { s })
            }
            Projection::Mercator {
                earth,
                lon0,
                lat_ts,
            } => {
                let e = earth.e();
                let k = earth.a * mfn(lat_ts.to_radians(), e);
                let rows = phis
                    .iter()
                    .map(|&phi| (phi.abs() < FRAC_PI_2 - 1e-10).then(|| -k * tfn(phi, e).ln()));
                let cols = lams
                    .iter()
                    .map(|&lam| (k * wrap_pi(lam - lon0.to_radians()), 0.0));
                (rows.collect(), cols.collect(), AxesKind::Mercator)
            }
            Projection::Rotated(_) | Projection::Geostationary(_) => return None,
        };
        Some(AxesForward { rows, cols, kind })
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::projections;
    use super::super::{Earth, Projection};

    #[test]
    fn the_same_bits_as_projecting_each_point() {
        // The round-trip tests' projections, and a southern cone.
        let mut projections = projections();
        projections.push(Projection::LambertConformal {
            earth: Earth::ellipsoid(6378137.0, 6356752.314245),
            lon0: 150.0,
            lat0: -30.0,
            lat1: -20.0,
            lat2: -40.0,
        });
        // Every longitude, latitudes up to both poles (where some are undefined).
        let lons: Vec<f64> = (0..=144).map(|i| -180.0 + 2.5 * i as f64 + 0.123).collect();
        let mut lats: Vec<f64> = (0..=72).map(|i| -90.0 + 2.5 * i as f64).collect();
        lats.extend([-89.9999, 0.0, 45.678, 89.9999]);
        for p in &projections {
            let axes = p.forward_axes(&lons, &lats).unwrap();
            for (row, &lat) in lats.iter().enumerate() {
                for (col, &lon) in lons.iter().enumerate() {
                    let want = p.forward(lon, lat).map(|(x, y)| (x.to_bits(), y.to_bits()));
                    let got = axes.at(col, row).map(|(x, y)| (x.to_bits(), y.to_bits()));
                    assert_eq!(got, want, "{p:?} at ({lon}, {lat})");
                }
            }
        }
    }
}
