//! Locating a tile's pixels on a field's grid and sampling them: separably on lat/lon grids
//! (a column's and a row's position computed once), through a lattice of exactly located
//! points on projected and curvilinear grids, and the full-frame image on the native grid.

use super::lattice::Lattice;
use super::{lerp, masked_bilinear, Resample, Sampler};
use crate::geo::grid::GridKind;
use crate::geo::tiling::{TileId, Tiling, TILE_SIZE};

/// Longitudes of a tile's pixel columns and latitudes of its pixel rows (pixel centres). Both
/// tilings are separable, so the (costly) inverse Mercator runs 256 times per tile, not
/// 65536.
pub(super) fn pixel_centres(tiling: Tiling, t: TileId) -> (Vec<f64>, Vec<f64>) {
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

/// The grid columns a tile's pixels interpolate between, each listed once in the order the
/// pixels meet them, and per pixel the slots of its two columns (unused where the pixel is
/// off the grid or averages).
struct ColumnSlots {
    columns: Vec<usize>,
    of_pixel: Vec<(u32, u32)>,
}

impl ColumnSlots {
    fn new(cols: &[Option<Axis>]) -> ColumnSlots {
        let mut columns: Vec<usize> = Vec::with_capacity(2 * cols.len());
        let mut slot = |c: usize| -> u32 {
            // Pixels move along the grid monotonically, so a column met before is one of the
            // last two (the previous pixel's pair); one met earlier still (a grid whose
            // columns run west) is listed again, which costs a lookup, not a value.
            let n = columns.len();
            match (n >= 1 && columns[n - 1] == c, n >= 2 && columns[n - 2] == c) {
                (true, _) => (n - 1) as u32,
                (_, true) => (n - 2) as u32,
                _ => {
                    columns.push(c);
                    n as u32
                }
            }
        };
        let of_pixel = cols
            .iter()
            .map(|col| match col {
                Some(c) if c.d <= 1.0 => (slot(c.a), slot(c.b)),
                _ => (0, 0),
            })
            .collect();
        ColumnSlots { columns, of_pixel }
    }
}

impl Sampler {
    /// Samples one tile: `TILE_SIZE`² values, row-major from the north-west corner.
    pub fn tile(&self, tiling: Tiling, t: TileId) -> Vec<f32> {
        let (lons, lats) = pixel_centres(tiling, t);
        match self.grid.kind {
            GridKind::LatLon { .. } => self.tile_separable(&lons, &lats),
            GridKind::Rows(_) => self.tile_rows(&lons, &lats),
            _ => self.tile_general(&lons, &lats),
        }
    }

    /// [`Sampler::tile`] on any grid: each pixel located, its footprint from the positions of
    /// its neighbours.
    pub(super) fn tile_general(&self, lons: &[f64], lats: &[f64]) -> Vec<f32> {
        let n = lons.len();
        let lattice = Lattice::new(self, lons, lats);
        // Rows py - 1, py and py + 1 of positions.
        let (mut above, mut here, mut below) = (Vec::new(), Vec::new(), Vec::new());
        lattice.row(0, &mut here);
        if n > 1 {
            lattice.row(1, &mut below);
        }
        let mut out = vec![f32::NAN; n * n];
        for py in 0..n {
            // Footprint across rows from the next row (the previous one for the last).
            let other = if py + 1 < n { &below } else { &above };
            for px in 0..n {
                let Some(p) = here[px] else { continue };
                // Footprint in grid cells from the spacing of neighbouring pixel centres.
                let nb_x = if px + 1 < n {
                    here[px + 1]
                } else {
                    here[px - 1]
                };
                let nb_y = other[px];
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
            std::mem::swap(&mut above, &mut here);
            std::mem::swap(&mut here, &mut below);
            if py + 2 < n {
                lattice.row(py + 2, &mut below);
            }
        }
        out
    }

    /// [`Sampler::tile`] on a lat/lon grid, where a pixel's column depends only on its
    /// longitude and its row only on its latitude: everything per column (position,
    /// footprint, interpolation columns and weights, averaging span) and per row is worked
    /// out once, with the same arithmetic as the general path, so the values are identical.
    pub(super) fn tile_separable(&self, lons: &[f64], lats: &[f64]) -> Vec<f32> {
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
        let (mut slots, mut down) = (None, Vec::with_capacity(2 * n));
        for (py, row) in rows.iter().enumerate() {
            let Some(r) = row else { continue };
            let line = &mut out[py * n..(py + 1) * n];
            if r.d <= 1.0 && self.method == Resample::Bilinear {
                let slots = slots.get_or_insert_with(|| ColumnSlots::new(&cols));
                self.bilinear_line(&cols, slots, r, &mut down, line);
                continue;
            }
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

    /// One line of a separable tile whose row interpolates (no averaging across rows): each
    /// grid column the line uses is interpolated down once ([`ColumnSlots`]), then every
    /// pixel across its two columns, as [`Sampler::bilinear`] does, so the values are the
    /// same to the bit. A pixel next to a missing value takes [`masked_bilinear`].
    fn bilinear_line(
        &self,
        cols: &[Option<Axis>],
        slots: &ColumnSlots,
        r: &Axis,
        down: &mut Vec<f32>,
        line: &mut [f32],
    ) {
        let nx = self.grid.nx;
        let (r0, r1) = (
            &self.values[r.a * nx..(r.a + 1) * nx],
            &self.values[r.b * nx..(r.b + 1) * nx],
        );
        let rn = &self.values[r.near * nx..(r.near + 1) * nx];
        down.clear();
        down.extend(slots.columns.iter().map(|&c| lerp(r0[c], r1[c], r.f)));
        for ((out, col), &(sa, sb)) in line.iter_mut().zip(cols).zip(&slots.of_pixel) {
            let Some(c) = col else { continue };
            if c.d > 1.0 {
                *out = self.average_spans(c.span, (r.span.0 as usize, r.span.1 as usize));
                continue;
            }
            let v = lerp(down[sa as usize], down[sb as usize], c.f);
            *out = if !v.is_nan() {
                v
            } else if rn[c.near].is_nan() {
                // Inside a missing area: the nearest corner is missing.
                f32::NAN
            } else {
                masked_bilinear([r0[c.a], r0[c.b], r1[c.a], r1[c.b]], c.f, r.f)
            };
        }
    }

    /// Grid positions of the pixels of a tile whose pixel centres lie at `lons` (columns) ×
    /// `lats` (rows), row-major, through the tile's [`Lattice`].
    #[cfg(test)]
    pub(super) fn positions(
        &self,
        lons: &[f64],
        lats: &[f64],
    ) -> Vec<Option<crate::geo::grid::GridPos>> {
        let lattice = Lattice::new(self, lons, lats);
        let mut row = Vec::new();
        let mut pos = Vec::with_capacity(lons.len() * lats.len());
        for py in 0..lats.len() {
            lattice.row(py, &mut row);
            pos.extend_from_slice(&row);
        }
        pos
    }

    /// The native grid drawn north-up, one pixel per point (the full-frame image): width,
    /// height and values. Rows grids are drawn a row per line at the longest row's length.
    pub fn full_frame(&self) -> (usize, usize, Vec<f32>) {
        if let GridKind::Rows(_) = self.grid.kind {
            return self.rows_frame();
        }
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
        (nx, ny, out)
    }
}
