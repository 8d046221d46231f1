//! One-line descriptions of grids for inventories and `inspect`, e.g. `regular_ll 1440x721
//! (0.2500x0.2500 deg)`, `rotated_ll 421x461 (0.0250x0.0250 deg, south pole -40.00
//! 10.00)` or `reduced_gg O32 (5248 points, 64 rows)`.

use crate::geo::grid::{Grid, GridKind};
use crate::geo::projection::Projection;

impl Grid {
    /// The grid's type, size and parameters on one line.
    pub fn describe(&self) -> String {
        let (nx, ny) = (self.nx, self.ny);
        match &self.kind {
            GridKind::LatLon { dlon, dlat, .. } => format!(
                "regular_ll {nx}x{ny} ({:.4}x{:.4} deg)",
                dlon.abs(),
                dlat.abs()
            ),
            GridKind::Projected {
                projection, dx, dy, ..
            } => match projection {
                Projection::Rotated(r) => format!(
                    "rotated_ll {nx}x{ny} ({:.4}x{:.4} deg, south pole {:.2} {:.2}, angle {})",
                    dx.abs(),
                    dy.abs(),
                    r.south_lat,
                    r.south_lon,
                    r.angle
                ),
                Projection::Geostationary(g) => format!(
                    "space_view {nx}x{ny} ({:.2}x{:.2} microradians, sub-satellite longitude \
                     {:.2}, {:.0} km from the earth's centre, sweep {})",
                    dx.abs() * 1e6,
                    dy.abs() * 1e6,
                    g.lon0,
                    g.h / 1e3,
                    if g.sweep_x { "x" } else { "y" }
                ),
                p => {
                    let name = match p {
                        Projection::LambertConformal { .. } => "lambert",
                        Projection::PolarStereographic { .. } => "polar_stereographic",
                        _ => "mercator",
                    };
                    format!(
                        "{name} {nx}x{ny} ({:.1}x{:.1} km)",
                        dx.abs() / 1e3,
                        dy.abs() / 1e3
                    )
                }
            },
            GridKind::Curvilinear(_) => format!("curvilinear {nx}x{ny}"),
            GridKind::Rows(r) => {
                let rot = match &r.rotation {
                    Some(p) => format!(", south pole {:.2} {:.2}", p.south_lat, p.south_lon),
                    None => String::new(),
                };
                format!(
                    "{} ({} points, {} rows{rot})",
                    r.name,
                    r.len(),
                    r.lats.len()
                )
            }
        }
    }
}
