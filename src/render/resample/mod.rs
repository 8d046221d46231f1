//! Resampling a field onto the pixels of a tile.
//!
//! Each pixel is located on the native grid at its centre. Where a pixel is smaller than a grid
//! cell the value is interpolated (bilinear by default, or nearest); where it covers several
//! cells (low zooms) the cells under the pixel are averaged with a summed-area table, so low
//! zooms do not alias. Missing values (NaN) never leak in: bilinear uses the valid neighbours
//! only and is missing when the nearest point is; an average is missing when fewer than half
//! the cells under the pixel are valid.
//!
//! This module holds the field and its sampling primitives (point values, bilinear weights,
//! box averages); [`tile`] locates a tile's pixels on the grid and samples them, and
//! [`equirect`] samples the whole field onto its lon/lat image.

use serde::{Deserialize, Serialize};

mod equirect;
mod lattice;
mod rows;
mod tile;

use crate::geo::grid::{Grid, GridKind, GridPos};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash, Default)]
#[serde(rename_all = "lowercase")]
pub enum Resample {
    #[default]
    Bilinear,
    Nearest,
}

/// A field prepared for sampling: its grid, values and summed-area tables.
pub struct Sampler {
    grid: Grid,
    values: Vec<f32>,
    wraps: bool,
    period: f64,
    method: Resample,
    /// Prefix sums of values (NaN as 0) and of valid counts, (ny+1) x (nx+1).
    sum: Vec<f64>,
    count: Vec<u32>,
    /// Per-row prefix sums on rows grids (which have no 2-D tables).
    row_sums: Option<rows::RowSums>,
}

impl Sampler {
    pub fn new(grid: Grid, values: Vec<f32>, method: Resample) -> Sampler {
        if let GridKind::Rows(r) = &grid.kind {
            let values = rows::row_order(r, values);
            let row_sums = Some(rows::RowSums::new(r, &values));
            return Sampler {
                wraps: false,
                period: f64::INFINITY,
                grid,
                values,
                method,
                sum: Vec::new(),
                count: Vec::new(),
                row_sums,
            };
        }
        let (nx, ny) = (grid.nx, grid.ny);
        let w = nx + 1;
        let mut sum = vec![0.0f64; w * (ny + 1)];
        let mut count = vec![0u32; w * (ny + 1)];
        for j in 0..ny {
            let (mut row_sum, mut row_count) = (0.0f64, 0u32);
            for i in 0..nx {
                let v = values[j * nx + i];
                if !v.is_nan() {
                    row_sum += v as f64;
                    row_count += 1;
                }
                let k = (j + 1) * w + i + 1;
                sum[k] = sum[k - w] + row_sum;
                count[k] = count[k - w] + row_count;
            }
        }
        Sampler {
            wraps: grid.wraps(),
            period: grid.period(),
            grid,
            values,
            method,
            sum,
            count,
            row_sums: None,
        }
    }

    /// Point sample at geographic lon/lat (NaN outside the grid or missing).
    pub fn at(&self, lon: f64, lat: f64) -> f32 {
        if let GridKind::Rows(r) = &self.grid.kind {
            let (lon, lat) = r.to_native(lon, lat);
            return self.rows_point(lon, lat);
        }
        match self.grid.locate(lon, lat) {
            Some(p) => self.point(p),
            None => f32::NAN,
        }
    }

    pub fn grid(&self) -> &Grid {
        &self.grid
    }

    pub fn values(&self) -> &[f32] {
        &self.values
    }

    #[inline]
    fn value(&self, i: usize, j: usize) -> f32 {
        self.values[j * self.grid.nx + i]
    }

    /// Column index for an integer position, wrapped or clamped.
    #[inline]
    fn col(&self, i: i64) -> usize {
        let nx = self.grid.nx as i64;
        if self.wraps {
            i.rem_euclid(nx) as usize
        } else {
            i.clamp(0, nx - 1) as usize
        }
    }

    #[inline]
    fn row(&self, j: i64) -> usize {
        j.clamp(0, self.grid.ny as i64 - 1) as usize
    }

    /// Point sample at a grid position.
    #[inline]
    fn point(&self, p: GridPos) -> f32 {
        match self.method {
            Resample::Nearest => {
                self.value(self.col(p.i.round() as i64), self.row(p.j.round() as i64))
            }
            Resample::Bilinear => {
                let (i0, j0) = (p.i.floor(), p.j.floor());
                let (fi, fj) = ((p.i - i0) as f32, (p.j - j0) as f32);
                let (i0, j0) = (i0 as i64, j0 as i64);
                let (c0, c1) = (self.col(i0), self.col(i0 + 1));
                let (r0, r1) = (self.row(j0), self.row(j0 + 1));
                self.bilinear(c0, c1, fi, r0, r1, fj)
            }
        }
    }

    /// Bilinear interpolation between columns `c0`, `c1` (weight `fi` on `c1`) and rows `r0`,
    /// `r1` (weight `fj` on `r1`), over the valid corners only; missing where the nearest
    /// corner is. Four valid corners are interpolated down each column first, then across:
    /// the order tile lines use to share the columns' work between pixels.
    #[inline]
    fn bilinear(&self, c0: usize, c1: usize, fi: f32, r0: usize, r1: usize, fj: f32) -> f32 {
        let corners = [
            self.value(c0, r0),
            self.value(c1, r0),
            self.value(c0, r1),
            self.value(c1, r1),
        ];
        let v = lerp(
            lerp(corners[0], corners[2], fj),
            lerp(corners[1], corners[3], fj),
            fi,
        );
        if v.is_nan() {
            masked_bilinear(corners, fi, fj)
        } else {
            v
        }
    }

    /// Sum and count over columns `i0..=i1` (already in range) and rows `j0..=j1`.
    #[inline]
    fn box_sum(&self, i0: usize, i1: usize, j0: usize, j1: usize) -> (f64, u32) {
        let w = self.grid.nx + 1;
        let at = |i: usize, j: usize| j * w + i;
        let s = self.sum[at(i1 + 1, j1 + 1)] - self.sum[at(i0, j1 + 1)] - self.sum[at(i1 + 1, j0)]
            + self.sum[at(i0, j0)];
        let c = self.count[at(i1 + 1, j1 + 1)] + self.count[at(i0, j0)]
            - self.count[at(i0, j1 + 1)]
            - self.count[at(i1 + 1, j0)];
        (s, c)
    }

    /// The cells whose centres fall in the footprint `c ± d/2` along one axis (at least the
    /// nearest one).
    #[inline]
    fn span(c: f64, d: f64) -> (i64, i64) {
        let (lo, hi) = ((c - d / 2.0).ceil() as i64, (c + d / 2.0).floor() as i64);
        if hi < lo {
            let r = c.round() as i64;
            (r, r)
        } else {
            (lo, hi)
        }
    }

    /// Columns of a footprint centred at `i`, `di` cells wide.
    #[inline]
    fn col_span(&self, i: f64, di: f64) -> (i64, i64) {
        Self::span(i, di.min(self.grid.nx as f64))
    }

    /// Rows of a footprint centred at `j`, `dj` cells high, clamped to the grid.
    #[inline]
    fn row_span(&self, j: f64, dj: f64) -> (usize, usize) {
        let ny = self.grid.ny as i64;
        let (j0, j1) = Self::span(j, dj);
        (j0.clamp(0, ny - 1) as usize, j1.clamp(0, ny - 1) as usize)
    }

    /// Mean of the cells whose centres fall in the footprint `p ± (di, dj)/2`.
    fn average(&self, p: GridPos, di: f64, dj: f64) -> f32 {
        self.average_spans(self.col_span(p.i, di), self.row_span(p.j, dj))
    }

    /// Mean over columns `i0..=i1` (wrapped or clamped) and rows `j0..=j1`; missing when
    /// fewer than half the cells are valid.
    fn average_spans(&self, (i0, i1): (i64, i64), (j0, j1): (usize, usize)) -> f32 {
        let nx = self.grid.nx as i64;
        let (sum, count, cells) = if self.wraps {
            let a = i0.rem_euclid(nx);
            let len = (i1 - i0 + 1).min(nx);
            let b = a + len - 1;
            let rows = (j1 - j0 + 1) as u32;
            if b < nx {
                let (s, c) = self.box_sum(a as usize, b as usize, j0, j1);
                (s, c, len as u32 * rows)
            } else {
                let (s1, c1) = self.box_sum(a as usize, nx as usize - 1, j0, j1);
                let (s2, c2) = self.box_sum(0, (b - nx) as usize, j0, j1);
                (s1 + s2, c1 + c2, len as u32 * rows)
            }
        } else {
            let (a, b) = (i0.clamp(0, nx - 1) as usize, i1.clamp(0, nx - 1) as usize);
            let (s, c) = self.box_sum(a, b, j0, j1);
            (s, c, ((b - a + 1) * (j1 - j0 + 1)) as u32)
        };
        if count == 0 || count * 2 < cells {
            f32::NAN
        } else {
            (sum / count as f64) as f32
        }
    }
}

/// Bilinear interpolation where a corner (`[c0r0, c1r0, c0r1, c1r1]`) is missing: the mean
/// of the valid corners weighted as interpolation would weigh them; missing where the nearest
/// corner is.
#[inline]
pub(super) fn masked_bilinear(corners: [f32; 4], fi: f32, fj: f32) -> f32 {
    let nearest = corners[usize::from(fi >= 0.5) + 2 * usize::from(fj >= 0.5)];
    if nearest.is_nan() {
        return f32::NAN;
    }
    let weights = [
        (1.0 - fi) * (1.0 - fj),
        fi * (1.0 - fj),
        (1.0 - fi) * fj,
        fi * fj,
    ];
    let (mut s, mut w) = (0.0f32, 0.0f32);
    for (v, wt) in corners.into_iter().zip(weights) {
        if !v.is_nan() {
            s += v * wt;
            w += wt;
        }
    }
    if w > 0.0 {
        s / w
    } else {
        nearest
    }
}

/// `a` moved towards `b` by `f`: the one interpolation step every bilinear value is made of.
#[inline]
pub(super) fn lerp(a: f32, b: f32, f: f32) -> f32 {
    a * (1.0 - f) + b * f
}

#[cfg(test)]
mod tests {
    use super::tile::pixel_centres;
    use super::*;
    use crate::geo::grid::GridKind;
    use crate::geo::tiling::{TileId, Tiling, TILE_SIZE};

    fn global(nx: usize, ny: usize, f: impl Fn(f64, f64) -> f32) -> (Grid, Vec<f32>) {
        let dlon = 360.0 / nx as f64;
        let dlat = 180.0 / (ny - 1) as f64;
        let g = Grid {
            nx,
            ny,
            kind: GridKind::LatLon {
                lon0: 0.0,
                lat0: 90.0,
                dlon,
                dlat: -dlat,
            },
        };
        let mut v = Vec::new();
        for j in 0..ny {
            for i in 0..nx {
                v.push(f(i as f64 * dlon, 90.0 - j as f64 * dlat));
            }
        }
        (g, v)
    }

    #[test]
    fn separable_tiles_equal_the_general_path_bit_for_bit() {
        // A noisy field with missing patches, on a wrapping global grid and on a regional
        // one, at zooms where pixels average many cells and where they interpolate.
        let noisy = |lon: f64, lat: f64| {
            let v = ((lon * 12.9898 + lat * 78.233).sin() * 43758.5453).fract() as f32;
            if (lat > 30.0 && lat < 40.0 && lon > 100.0 && lon < 120.0) || v > 0.95 {
                f32::NAN
            } else {
                v
            }
        };
        let (global_grid, gv) = global(720, 361, noisy);
        let regional = Grid {
            nx: 300,
            ny: 200,
            kind: GridKind::LatLon {
                lon0: -20.0,
                lat0: 60.0,
                dlon: 0.1,
                dlat: -0.1,
            },
        };
        let rv: Vec<f32> = (0..200)
            .flat_map(|j| {
                (0..300).map(move |i| noisy(-20.0 + i as f64 * 0.1, 60.0 - j as f64 * 0.1))
            })
            .collect();
        for (grid, values) in [(global_grid, gv), (regional, rv)] {
            for method in [Resample::Bilinear, Resample::Nearest] {
                let s = Sampler::new(grid.clone(), values.clone(), method);
                for tiling in [Tiling::WebMercator, Tiling::Geographic] {
                    for t in [
                        (0, 0, 0),
                        (1, 0, 0),
                        (2, 1, 1),
                        (3, 4, 2),
                        (5, 16, 9),
                        (7, 63, 40),
                        (9, 250, 170),
                    ] {
                        let t = TileId {
                            z: t.0,
                            x: t.1,
                            y: t.2,
                        };
                        let (lons, lats) = pixel_centres(tiling, t);
                        let a = s.tile_separable(&lons, &lats);
                        let b = s.tile_general(&lons, &lats);
                        let same = a
                            .iter()
                            .zip(&b)
                            .all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()));
                        assert!(same, "{method:?} {tiling:?} {t:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn bilinear_reproduces_a_linear_field_and_wraps() {
        // Linear in latitude: bilinear must be exact anywhere, including across lon 0/360.
        let (g, v) = global(360, 181, |_, lat| lat as f32);
        let s = Sampler::new(g.clone(), v.clone(), Resample::Bilinear);
        let p = g.locate(-0.3, 10.25).unwrap();
        assert!((s.point(p) - 10.25).abs() < 1e-4);
    }

    #[test]
    fn low_zoom_averages_instead_of_aliasing() {
        // A checkerboard of +1/-1 at 0.25 degree averages to ~0 at zoom 0, not to +-1.
        let (g, v) = global(1440, 721, |lon, lat| {
            let k = (lon * 4.0).round() as i64 + (lat * 4.0).round() as i64;
            if k % 2 == 0 {
                1.0
            } else {
                -1.0
            }
        });
        let s = Sampler::new(g.clone(), v.clone(), Resample::Bilinear);
        let tile = s.tile(Tiling::Geographic, TileId { z: 0, x: 0, y: 0 });
        let max = tile
            .iter()
            .filter(|v| !v.is_nan())
            .fold(0f32, |m, v| m.max(v.abs()));
        assert!(max < 0.5, "max {max}");
    }

    #[test]
    fn lattice_positions_match_exact_ones_on_a_projected_grid() {
        use crate::geo::projection::{Earth, Projection};
        // A HRRR-like Lambert grid: 3 km, 1799 x 1059.
        let projection = Projection::LambertConformal {
            earth: Earth::sphere(6371229.0),
            lon0: -97.5,
            lat0: 38.5,
            lat1: 38.5,
            lat2: 38.5,
        };
        let (x0, y0) = projection.forward(-122.72, 21.14).unwrap();
        let g = Grid {
            nx: 1799,
            ny: 1059,
            kind: GridKind::Projected {
                projection,
                x0,
                y0,
                dx: 3000.0,
                dy: 3000.0,
            },
        };
        let s = Sampler::new(g.clone(), vec![0.0; 1799 * 1059], Resample::Bilinear);
        for t in [
            TileId { z: 3, x: 1, y: 3 },
            TileId { z: 6, x: 10, y: 24 },
            TileId {
                z: 9,
                x: 80,
                y: 195,
            },
        ] {
            let n = TILE_SIZE;
            let (lons, lats) = pixel_centres(Tiling::WebMercator, t);
            let approx = s.positions(&lons, &lats);
            let (mut worst, mut differ) = (0f64, 0);
            for py in 0..n {
                for px in 0..n {
                    match (approx[py * n + px], g.locate(lons[px], lats[py])) {
                        (Some(a), Some(b)) => {
                            // Error in cells, or in pixel footprints when pixels cover many cells.
                            let next = g.locate(lons[(px + 1).min(n - 1)], lats[py]).unwrap_or(b);
                            let foot = (next.i - b.i).hypot(next.j - b.j).max(1.0);
                            worst = worst
                                .max((a.i - b.i).abs() / foot)
                                .max((a.j - b.j).abs() / foot);
                        }
                        (None, None) => {}
                        _ => differ += 1,
                    }
                }
            }
            assert!(worst < 0.02, "{t:?}: off by {worst} cells (or footprints)");
            // Only pixels within the tolerance of the grid's edge may disagree on inside/outside.
            assert!(
                differ < 64,
                "{t:?}: {differ} pixels disagree on being inside the grid"
            );
        }
    }

    #[test]
    fn missing_values_stay_missing() {
        let (g, mut v) = global(36, 19, |_, _| 1.0);
        for x in v.iter_mut().take(36 * 10) {
            *x = f32::NAN; // northern half missing
        }
        let s = Sampler::new(g.clone(), v.clone(), Resample::Bilinear);
        let tile = s.tile(Tiling::Geographic, TileId { z: 2, x: 3, y: 0 });
        assert!(tile[0].is_nan());
        let tile = s.tile(Tiling::Geographic, TileId { z: 2, x: 3, y: 3 });
        assert!(tile.iter().all(|v| *v == 1.0));
    }
}
