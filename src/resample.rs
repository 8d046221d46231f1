//! Resampling a field onto the pixels of a tile.
//!
//! Each pixel is located on the native grid at its centre. Where a pixel is smaller than a grid
//! cell the value is interpolated (bilinear by default, or nearest); where it covers several
//! cells (low zooms) the cells under the pixel are averaged with a summed-area table, so low
//! zooms do not alias. Missing values (NaN) never leak in: bilinear uses the valid neighbours
//! only and is missing when the nearest point is; an average is missing when fewer than half
//! the cells under the pixel are valid.

use serde::{Deserialize, Serialize};

use crate::grid::{Grid, GridKind, GridPos};
use crate::tiling::{TileId, Tiling, TILE_SIZE};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash, Default)]
#[serde(rename_all = "lowercase")]
pub enum Resample {
    #[default]
    Bilinear,
    Nearest,
}

/// Longitudes of a tile's pixel columns and latitudes of its pixel rows (pixel centres). Both
/// tilings are separable, so the (costly) inverse Mercator runs 256 times per tile, not
/// 65536.
fn pixel_centres(tiling: Tiling, t: TileId) -> (Vec<f64>, Vec<f64>) {
    let n = TILE_SIZE;
    let (ox, oy) = ((t.x as usize * n) as f64, (t.y as usize * n) as f64);
    let lons = (0..n)
        .map(|px| tiling.pixel_to_lonlat(t.z, ox + px as f64 + 0.5, oy).0)
        .collect();
    let lats = (0..n)
        .map(|py| tiling.pixel_to_lonlat(t.z, ox, oy + py as f64 + 0.5).1)
        .collect();
    (lons, lats)
}

/// Pixels between exactly located lattice points on projected and curvilinear grids.
const LATTICE: usize = 16;
/// Largest interpolation error accepted for a lattice block, in grid cells or, where a pixel
/// covers more than a cell, in pixel footprints.
const LATTICE_TOLERANCE: f64 = 0.01;

/// One pixel column (or row) of a tile on a lat/lon grid, located once.
struct Axis {
    /// Footprint in cells.
    d: f64,
    /// Interpolation neighbours and the weight of `b`.
    a: usize,
    b: usize,
    f: f32,
    /// Nearest cell.
    near: usize,
    /// Cells under the footprint (columns unwrapped, rows clamped).
    span: (i64, i64),
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
}

impl Sampler {
    pub fn new(grid: Grid, values: Vec<f32>, method: Resample) -> Sampler {
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
    /// corner is.
    #[inline]
    fn bilinear(&self, c0: usize, c1: usize, fi: f32, r0: usize, r1: usize, fj: f32) -> f32 {
        let nearest = self.value(
            if fi < 0.5 { c0 } else { c1 },
            if fj < 0.5 { r0 } else { r1 },
        );
        if nearest.is_nan() {
            return f32::NAN;
        }
        let q = [
            (self.value(c0, r0), (1.0 - fi) * (1.0 - fj)),
            (self.value(c1, r0), fi * (1.0 - fj)),
            (self.value(c0, r1), (1.0 - fi) * fj),
            (self.value(c1, r1), fi * fj),
        ];
        let (mut s, mut w) = (0.0f32, 0.0f32);
        for (v, wt) in q {
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

    /// Samples one tile: `TILE_SIZE`² values, row-major from the north-west corner.
    pub fn tile(&self, tiling: Tiling, t: TileId) -> Vec<f32> {
        let (lons, lats) = pixel_centres(tiling, t);
        if let GridKind::LatLon { .. } = self.grid.kind {
            return self.tile_separable(&lons, &lats);
        }
        self.tile_general(&lons, &lats)
    }

    /// [`Sampler::tile`] on any grid: each pixel located, its footprint from the positions of
    /// its neighbours.
    fn tile_general(&self, lons: &[f64], lats: &[f64]) -> Vec<f32> {
        let n = lons.len();
        let pos = self.positions(lons, lats);
        let mut out = vec![f32::NAN; n * n];
        for py in 0..n {
            for px in 0..n {
                let Some(p) = pos[py * n + px] else { continue };
                // Footprint in grid cells from the spacing of neighbouring pixel centres.
                let nb_x = if px + 1 < n {
                    pos[py * n + px + 1]
                } else {
                    pos[py * n + px - 1]
                };
                let nb_y = if py + 1 < n {
                    pos[(py + 1) * n + px]
                } else {
                    pos[(py - 1) * n + px]
                };
                let (mut di, mut dj) = (0.0f64, 0.0f64);
                for q in [nb_x, nb_y].into_iter().flatten() {
                    let mut d = (q.i - p.i).abs();
                    if self.wraps && d > self.period / 2.0 {
                        d = (self.period - d).abs();
                    }
                    di = di.max(d);
                    dj = dj.max((q.j - p.j).abs());
                }
                out[py * n + px] = if di > 1.0 || dj > 1.0 {
                    self.average(p, di, dj)
                } else {
                    self.point(p)
                };
            }
        }
        out
    }

    /// [`Sampler::tile`] on a lat/lon grid, where a pixel's column depends only on its
    /// longitude and its row only on its latitude: everything per column (position,
    /// footprint, interpolation columns and weights, averaging span) and per row is worked
    /// out once, with the same arithmetic as the general path, so the values are identical.
    fn tile_separable(&self, lons: &[f64], lats: &[f64]) -> Vec<f32> {
        let n = lons.len();
        let is: Vec<Option<f64>> = lons.iter().map(|&lon| self.grid.locate_lon(lon)).collect();
        let js: Vec<Option<f64>> = lats.iter().map(|&lat| self.grid.locate_lat(lat)).collect();
        // Footprint along an axis: the distance to the next pixel (the previous one for the
        // last), 0 where that pixel is off the grid.
        let foot = |v: &[Option<f64>], k: usize, wraps: bool| -> f64 {
            let nb = if k + 1 < n { v[k + 1] } else { v[k - 1] };
            match (v[k], nb) {
                (Some(p), Some(q)) => {
                    let mut d = (q - p).abs();
                    if wraps && d > self.period / 2.0 {
                        d = (self.period - d).abs();
                    }
                    d
                }
                _ => 0.0,
            }
        };
        let cols: Vec<Option<Axis>> = (0..n)
            .map(|k| {
                is[k].map(|i| {
                    let d = foot(&is, k, self.wraps);
                    let (i0, f) = (i.floor(), (i - i.floor()) as f32);
                    let near = self.col(i.round() as i64);
                    let span = self.col_span(i, d);
                    Axis {
                        d,
                        a: self.col(i0 as i64),
                        b: self.col(i0 as i64 + 1),
                        f,
                        near,
                        span,
                    }
                })
            })
            .collect();
        let rows: Vec<Option<Axis>> = (0..n)
            .map(|k| {
                js[k].map(|j| {
                    let d = foot(&js, k, false);
                    let (j0, f) = (j.floor(), (j - j.floor()) as f32);
                    let (lo, hi) = self.row_span(j, d);
                    Axis {
                        d,
                        a: self.row(j0 as i64),
                        b: self.row(j0 as i64 + 1),
                        f,
                        near: self.row(j.round() as i64),
                        span: (lo as i64, hi as i64),
                    }
                })
            })
            .collect();
        let mut out = vec![f32::NAN; n * n];
        for (py, row) in rows.iter().enumerate() {
            let Some(r) = row else { continue };
            let line = &mut out[py * n..(py + 1) * n];
            for (px, col) in cols.iter().enumerate() {
                let Some(c) = col else { continue };
                line[px] = if c.d > 1.0 || r.d > 1.0 {
                    self.average_spans(c.span, (r.span.0 as usize, r.span.1 as usize))
                } else {
                    match self.method {
                        Resample::Nearest => self.value(c.near, r.near),
                        Resample::Bilinear => self.bilinear(c.a, c.b, c.f, r.a, r.b, r.f),
                    }
                };
            }
        }
        out
    }

    /// Grid positions of the pixels of a tile whose pixel centres lie at `lons` (columns) ×
    /// `lats` (rows). Lat/lon grids are separable, so each column and row is located once.
    /// Other grids are located exactly on a lattice every [`LATTICE`] pixels and
    /// interpolated in between, as GDAL's approximate transformer does; a block whose centre
    /// or edge midpoints are off the interpolation by more than [`LATTICE_TOLERANCE`], or
    /// that touches the grid's edge, is located pixel by pixel.
    fn positions(&self, lons: &[f64], lats: &[f64]) -> Vec<Option<GridPos>> {
        let n = lons.len();
        if let GridKind::LatLon { .. } = self.grid.kind {
            let is: Vec<Option<f64>> = lons.iter().map(|&lon| self.grid.locate_lon(lon)).collect();
            let js: Vec<Option<f64>> = lats.iter().map(|&lat| self.grid.locate_lat(lat)).collect();
            let mut pos = Vec::with_capacity(n * n);
            for j in &js {
                for i in &is {
                    pos.push(match (i, j) {
                        (Some(i), Some(j)) => Some(GridPos { i: *i, j: *j }),
                        _ => None,
                    });
                }
            }
            return pos;
        }
        let exact = |px: usize, py: usize| self.grid.locate(lons[px], lats[py]);
        let mut knots: Vec<usize> = (0..n).step_by(LATTICE).collect();
        if knots.last() != Some(&(n - 1)) {
            knots.push(n - 1);
        }
        let k = knots.len();
        let lattice: Vec<Option<GridPos>> = knots
            .iter()
            .flat_map(|&py| knots.iter().map(move |&px| (px, py)))
            .map(|(px, py)| exact(px, py))
            .collect();
        let (nx, ny) = (self.grid.nx as f64, self.grid.ny as f64);
        let mut pos = vec![None; n * n];
        for by in 0..k - 1 {
            let (y0, y1) = (knots[by], knots[by + 1]);
            let rows = if by + 2 == k { y0..=y1 } else { y0..=y1 - 1 };
            for bx in 0..k - 1 {
                let (x0, x1) = (knots[bx], knots[bx + 1]);
                let cols = if bx + 2 == k { x0..=x1 } else { x0..=x1 - 1 };
                let corners = [
                    lattice[by * k + bx],
                    lattice[by * k + bx + 1],
                    lattice[(by + 1) * k + bx],
                    lattice[(by + 1) * k + bx + 1],
                ];
                let interp = |px: usize, py: usize, c: &[GridPos; 4]| {
                    let fx = (px - x0) as f64 / (x1 - x0) as f64;
                    let fy = (py - y0) as f64 / (y1 - y0) as f64;
                    let f = |a: f64, b: f64, c2: f64, d: f64| {
                        (1.0 - fy) * ((1.0 - fx) * a + fx * b) + fy * ((1.0 - fx) * c2 + fx * d)
                    };
                    GridPos {
                        i: f(c[0].i, c[1].i, c[2].i, c[3].i),
                        j: f(c[0].j, c[1].j, c[2].j, c[3].j),
                    }
                };
                let usable = match corners {
                    [Some(a), Some(b), Some(c), Some(d)] => {
                        let c4 = [a, b, c, d];
                        let (mx, my) = ((x0 + x1) / 2, (y0 + y1) / 2);
                        // Tolerance in grid cells, or in pixel footprints where a pixel covers
                        // several cells (low zooms average over the footprint anyway).
                        let foot = ((b.i - a.i).hypot(b.j - a.j) / (x1 - x0) as f64).max(1.0);
                        let tol = LATTICE_TOLERANCE * foot;
                        // The centre alone is blind to conformal maps (the error terms in x
                        // and y cancel there), so the edge midpoints are checked too.
                        let ok = [(mx, my), (mx, y0), (x0, my)].iter().all(|&(px, py)| {
                            exact(px, py).is_some_and(|m| {
                                let p = interp(px, py, &c4);
                                (p.i - m.i).abs() < tol && (p.j - m.j).abs() < tol
                            })
                        });
                        ok.then_some(c4)
                    }
                    _ => None,
                };
                for py in rows.clone() {
                    for px in cols.clone() {
                        pos[py * n + px] = match &usable {
                            Some(c4) => {
                                let p = interp(px, py, c4);
                                (p.i >= -0.5 && p.i <= nx - 0.5 && p.j >= -0.5 && p.j <= ny - 0.5)
                                    .then_some(p)
                            }
                            None => exact(px, py),
                        };
                    }
                }
            }
        }
        pos
    }

    /// The native grid drawn north-up, one pixel per point (the full-frame image).
    pub fn full_frame(&self) -> Vec<f32> {
        let (nx, ny) = (self.grid.nx, self.grid.ny);
        let flip_rows = self.grid.rows_go_north();
        let flip_cols = !self.grid.columns_go_east();
        let mut out = Vec::with_capacity(nx * ny);
        for r in 0..ny {
            let j = if flip_rows { ny - 1 - r } else { r };
            for c in 0..nx {
                let i = if flip_cols { nx - 1 - c } else { c };
                out.push(self.value(i, j));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid::GridKind;

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
        use crate::projection::{Earth, Projection};
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
