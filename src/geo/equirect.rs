//! The equirectangular (plate carrée) pixel grid of a field's whole-field image: regular in
//! longitude and latitude, north row first, west column first.
//!
//! Pixel `(x, y)` has its centre at `lon = west + x * dlon`, `lat = north - y * dlat`, so the
//! image's bounds are the centres of its first and last pixels. A regular lat/lon grid keeps
//! its own points: the image only reorders its columns and rows (north first, longitudes
//! increasing from the first at or after -180), with one more column repeating the first
//! when a global grid has points at both -180 and 180. Any other grid is resampled onto
//! pixels about as far apart as its points, covering its extent. An extent across the
//! antimeridian has `east > 180`, so that `east - west` is always the image's span.

use crate::geo::grid::{norm180, Grid, GridKind};

/// Most pixels a resampled image gets, as a multiple of the field's points: enough for about
/// native resolution at any latitude of a regional projected grid.
const MAX_PIXELS_PER_POINT: usize = 4;
/// Longest side of a resampled image: WebGL's `MAX_TEXTURE_SIZE` on most desktop GPUs.
const MAX_SIDE: usize = 16384;

/// The pixel grid of a field's whole-field image.
#[derive(Debug, Clone, PartialEq)]
pub struct Equirect {
    pub width: usize,
    pub height: usize,
    /// Longitude of column 0's centre, in [-180, 180).
    pub west: f64,
    /// Latitude of row 0's centre.
    pub north: f64,
    /// Degrees between column centres and between row centres (both positive).
    pub dlon: f64,
    pub dlat: f64,
    pub placement: Placement,
}

/// How the image's pixels relate to the field's points.
#[derive(Debug, Clone, PartialEq)]
pub enum Placement {
    /// Each pixel is a grid point: column `x` is grid column `columns[x]`, row `y` grid row
    /// `rows[y]`.
    Points {
        columns: Vec<usize>,
        rows: Vec<usize>,
    },
    /// Pixels are sampled from the field at their centres.
    Resampled,
}

impl Equirect {
    /// The image layout for a field on `grid`.
    pub fn of(grid: &Grid) -> Equirect {
        match &grid.kind {
            GridKind::LatLon {
                lon0,
                lat0,
                dlon,
                dlat,
            } => Self::points(grid, *lon0, *lat0, *dlon, *dlat),
            _ => Self::resampled(grid),
        }
    }

    /// `[west, south, east, north]`: the centres of the first and last columns and rows.
    /// `east` exceeds 180 when the image crosses the antimeridian.
    pub fn bounds(&self) -> [f64; 4] {
        [
            self.west,
            self.lat(self.height - 1),
            self.lon(self.width - 1),
            self.north,
        ]
    }

    /// Longitude of column `x`'s centre (beyond 180 past the antimeridian).
    pub fn lon(&self, x: usize) -> f64 {
        self.west + x as f64 * self.dlon
    }

    /// Latitude of row `y`'s centre.
    pub fn lat(&self, y: usize) -> f64 {
        self.north - y as f64 * self.dlat
    }

    /// A regular lat/lon grid: its own points, reordered.
    fn points(grid: &Grid, lon0: f64, lat0: f64, dlon: f64, dlat: f64) -> Equirect {
        let (nx, ny) = (grid.nx, grid.ny);
        let step = dlon.abs();
        // Grid columns from west to east, then rows from north to south.
        let eastward: Vec<usize> = if dlon > 0.0 {
            (0..nx).collect()
        } else {
            (0..nx).rev().collect()
        };
        let rows: Vec<usize> = if dlat < 0.0 {
            (0..ny).collect()
        } else {
            (0..ny).rev().collect()
        };
        let lon_of = |i: usize| norm180(lon0 + i as f64 * dlon);
        let north = lat0 + rows[0] as f64 * dlat;
        let dlat = if ny > 1 { dlat.abs() } else { 1.0 };
        let tol = step * 1e-6;
        let (west, columns) = if grid.wraps() {
            // Start at the column nearest east of -180 (a point at 180 counts as -180).
            let k = (0..nx)
                .min_by(|&a, &b| {
                    let key = |i: usize| {
                        let l = lon_of(eastward[i]);
                        if l >= 180.0 - tol {
                            l - 360.0
                        } else {
                            l
                        }
                    };
                    key(a).total_cmp(&key(b))
                })
                .unwrap_or(0);
            let mut columns: Vec<usize> = (0..nx).map(|x| eastward[(k + x) % nx]).collect();
            let mut west = lon_of(columns[0]);
            if west >= 180.0 - tol {
                west -= 360.0;
            }
            if (west + 180.0).abs() <= tol {
                // Points at -180 and 180: the image spans the whole turn, first and last
                // columns the same meridian.
                west = -180.0;
                columns.push(columns[0]);
            }
            (west, columns)
        } else {
            (lon_of(eastward[0]), eastward)
        };
        Equirect {
            width: columns.len(),
            height: ny,
            west,
            north,
            dlon: if columns.len() > 1 {
                step
            } else {
                dlon.abs().max(f64::MIN_POSITIVE)
            },
            dlat,
            placement: Placement::Points { columns, rows },
        }
    }

    /// Any other grid: pixels about as far apart as the grid's points over its extent.
    fn resampled(grid: &Grid) -> Equirect {
        let [w, s, mut e, n] = grid.bounds();
        let whole_turn = w <= -180.0 && e >= 180.0;
        if e <= w {
            e += 360.0;
        }
        let (span_lon, span_lat) = (e - w, (n - s).max(1e-9));
        let mut d = match &grid.kind {
            GridKind::Projected { .. } | GridKind::Rows(_) => grid.cell_degrees(),
            _ => (span_lon / grid.nx as f64).min(span_lat / grid.ny as f64),
        };
        if !(d.is_finite() && d > 0.0) {
            d = span_lat;
        }
        // Coarser where the extent would need too many pixels.
        let cap = (grid.len() * MAX_PIXELS_PER_POINT).max(1) as f64;
        let pixels = (span_lon / d) * (span_lat / d);
        if pixels > cap {
            d *= (pixels / cap).sqrt();
        }
        d = d.max(span_lon.max(span_lat) / MAX_SIDE as f64);
        let height = ((span_lat / d).ceil() as usize).clamp(1, MAX_SIDE);
        let dlat = span_lat / height as f64;
        let (width, west, dlon) = if whole_turn {
            // Column centres from -180 to 180 inclusive, like a global lat/lon grid.
            let cells = ((360.0 / d).round() as usize).clamp(1, MAX_SIDE - 1);
            (cells + 1, -180.0, 360.0 / cells as f64)
        } else {
            let width = ((span_lon / d).ceil() as usize).clamp(1, MAX_SIDE);
            let dlon = span_lon / width as f64;
            (width, norm180(w + dlon / 2.0), dlon)
        };
        Equirect {
            width,
            height,
            west,
            north: n - dlat / 2.0,
            dlon,
            dlat,
            placement: Placement::Resampled,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geo::grid::tests::latlon;
    use crate::geo::projection::{Earth, Projection};

    /// Every pixel of a lat/lon image is the grid point at its centre.
    fn check_points(g: &Grid) -> Equirect {
        let e = Equirect::of(g);
        let Placement::Points { columns, rows } = &e.placement else {
            panic!("lat/lon grids keep their points");
        };
        assert_eq!((columns.len(), rows.len()), (e.width, e.height));
        for (x, &i) in columns.iter().enumerate() {
            for (y, &j) in rows.iter().enumerate() {
                let (lon, lat) = g.lonlat(i as f64, j as f64);
                let dl = norm180(lon - e.lon(x));
                assert!(dl.abs() < 1e-9, "column {x}: {lon} vs {}", e.lon(x));
                assert!((lat - e.lat(y)).abs() < 1e-9, "row {y}");
            }
        }
        e
    }

    #[test]
    fn a_global_0_360_grid_is_reordered_to_minus_180_180_north_first() {
        // Points 0..359, south to north: -180 and 180 are both points.
        let e = check_points(&latlon(360, 181, 0.0, -90.0, 1.0, 1.0));
        assert_eq!((e.width, e.height), (361, 181));
        assert_eq!(e.bounds(), [-180.0, -90.0, 180.0, 90.0]);
        let Placement::Points { columns, rows } = &e.placement else {
            unreachable!()
        };
        assert_eq!((columns[0], columns[180], columns[360]), (180, 0, 180));
        assert_eq!((rows[0], rows[180]), (180, 0));
    }

    #[test]
    fn a_global_grid_off_the_antimeridian_and_a_westward_one() {
        // Points at 0.5, 1.5, ...: no point at ±180, so no repeated column.
        let e = check_points(&latlon(360, 180, 0.5, 89.5, 1.0, -1.0));
        assert_eq!(e.width, 360);
        assert_eq!(e.bounds(), [-179.5, -89.5, 179.5, 89.5]);
        // Columns stored east to west.
        let e = check_points(&latlon(180, 91, 178.0, 90.0, -2.0, -2.0));
        assert_eq!(e.bounds(), [-180.0, -90.0, 180.0, 90.0]);
    }

    #[test]
    fn a_regional_grid_across_the_antimeridian_runs_past_180() {
        let e = check_points(&latlon(41, 11, 160.0, 0.0, 1.0, 1.0));
        assert_eq!(e.bounds(), [160.0, 0.0, 200.0, 10.0]);
        let e = check_points(&latlon(21, 11, 350.0, 40.0, 1.0, 1.0));
        assert_eq!(e.bounds(), [-10.0, 40.0, 10.0, 50.0]);
    }

    #[test]
    fn a_projected_grid_is_resampled_at_about_its_spacing() {
        let projection = Projection::PolarStereographic {
            earth: Earth::sphere(6_371_229.0),
            lon0: -150.0,
            lat_ts: 60.0,
            south: false,
        };
        // Alaska-like, 6 km: crosses the antimeridian without covering the pole.
        let (x0, y0) = projection.forward(-180.0, 45.0).unwrap();
        let g = Grid {
            nx: 600,
            ny: 400,
            kind: GridKind::Projected {
                projection,
                x0,
                y0,
                dx: 6000.0,
                dy: 6000.0,
            },
        };
        let b = g.bounds();
        let e = Equirect::of(&g);
        assert_eq!(e.placement, Placement::Resampled);
        let [w, s, east, n] = e.bounds();
        assert!(east > 180.0 && w < 180.0, "{:?}", e.bounds());
        assert!((w - e.dlon / 2.0 - b[0]).abs() < 1e-9);
        assert!((east + e.dlon / 2.0 - 360.0 - b[2]).abs() < 1e-9);
        assert!((n + e.dlat / 2.0 - b[3]).abs() < 1e-9);
        assert!((s - e.dlat / 2.0 - b[1]).abs() < 1e-9);
        assert!(e.width * e.height <= MAX_PIXELS_PER_POINT * g.len());
        assert!(e.dlat < 0.1 && e.dlat > 0.03, "{}", e.dlat);
    }
}
