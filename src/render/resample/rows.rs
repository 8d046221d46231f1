//! Sampling fields on rows grids (Gaussian, reduced, HEALPix; [`crate::geo::rows`]) from
//! their own rows, with no detour through a regular grid.
//!
//! A point between two rows is interpolated linearly along each row at its longitude (each
//! row with its own spacing, wrapping on full rows) and then linearly between the rows; over
//! a polar cap the outer row's value is blended towards the row's mean at the pole, so the
//! field is continuous there. Where a pixel covers more than a row or a
//! point (low zooms), the points under it are averaged from per-row prefix sums. Missing
//! values follow the rules of the regular grids: bilinear uses the valid neighbours only and
//! is missing where the nearest point is; an average needs half its points valid.

use super::{Resample, Sampler};
use crate::geo::grid::norm180;
use crate::geo::rows::Rows;

/// Per-row prefix sums: entry `starts[r] + r + c` holds the sum (count) of the row's first
/// `c` points.
pub(super) struct RowSums {
    sum: Vec<f64>,
    count: Vec<u32>,
}

impl RowSums {
    pub(super) fn new(rows: &Rows, values: &[f32]) -> RowSums {
        let n = rows.len() + rows.lats.len();
        let (mut sum, mut count) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for r in 0..rows.lats.len() {
            let (mut s, mut c) = (0.0f64, 0u32);
            sum.push(s);
            count.push(c);
            for &v in &values[rows.starts[r]..rows.starts[r + 1]] {
                if !v.is_nan() {
                    s += v as f64;
                    c += 1;
                }
                sum.push(s);
                count.push(c);
            }
        }
        RowSums { sum, count }
    }

    /// Sum and count of points `a..=b` of row `r` (in range).
    fn range(&self, rows: &Rows, r: usize, a: usize, b: usize) -> (f64, u32) {
        let base = rows.starts[r] + r;
        (
            self.sum[base + b + 1] - self.sum[base + a],
            self.count[base + b + 1] - self.count[base + a],
        )
    }
}

/// Values of a file-ordered field put in row order.
pub(super) fn row_order(rows: &Rows, values: Vec<f32>) -> Vec<f32> {
    match &rows.order {
        Some(order) => order
            .iter()
            .map(|&k| values.get(k as usize).copied().unwrap_or(f32::NAN))
            .collect(),
        None => values,
    }
}

impl Sampler {
    fn rows(&self) -> &Rows {
        match &self.grid.kind {
            crate::geo::grid::GridKind::Rows(r) => r,
            _ => unreachable!("rows sampling on a grid without rows"),
        }
    }

    #[inline]
    fn row_value(&self, r: usize, c: usize) -> f32 {
        self.values[self.rows().starts[r] + c]
    }

    /// Linear interpolation along row `r` at fractional position `c`: (value, whether the
    /// nearest point is missing).
    fn along(&self, r: usize, c: f64) -> (f32, bool) {
        let rows = self.rows();
        let n = rows.counts[r] as i64;
        let idx = |k: i64| -> usize {
            if rows.full[r] {
                k.rem_euclid(n) as usize
            } else {
                k.clamp(0, n - 1) as usize
            }
        };
        let k0 = c.floor();
        let f = (c - k0) as f32;
        let (a, b) = (idx(k0 as i64), idx(k0 as i64 + 1));
        let near = if f < 0.5 { a } else { b };
        let nv = self.row_value(r, near);
        if nv.is_nan() {
            return (f32::NAN, true);
        }
        if self.method == Resample::Nearest {
            return (nv, false);
        }
        let (va, vb) = (self.row_value(r, a), self.row_value(r, b));
        let v = match (va.is_nan(), vb.is_nan()) {
            (false, false) => va + (vb - va) * f,
            (false, true) => va,
            (true, false) => vb,
            (true, true) => f32::NAN,
        };
        (v, false)
    }

    /// Point sample at native lon/lat on a rows grid.
    pub(super) fn rows_point(&self, lon: f64, lat: f64) -> f32 {
        match self.rows().row_pos(lat) {
            Some(j) => self.rows_point_at(lon, j),
            None => f32::NAN,
        }
    }

    /// Point sample at native longitude `lon` and fractional row `j`.
    fn rows_point_at(&self, lon: f64, j: f64) -> f32 {
        let rows = self.rows();
        let last = rows.lats.len() - 1;
        let r0 = (j.floor().max(0.0) as usize).min(last);
        let r1 = (r0 + 1).min(last);
        let fj = (j - r0 as f64).clamp(0.0, 1.0);
        let near_row = if fj < 0.5 { r0 } else { r1 };
        let sample = |r: usize| rows.col_pos(r, lon).map(|c| self.along(r, c));
        let Some((nv, near_missing)) = sample(near_row) else {
            return f32::NAN;
        };
        if near_missing {
            return f32::NAN;
        }
        if self.method == Resample::Nearest {
            return nv;
        }
        // Over a polar cap: from the outer row towards the row's mean at the pole, so the
        // field is continuous there.
        let cap_row = if j < 0.0 && rows.caps.0 {
            Some(0)
        } else if j > last as f64 && rows.caps.1 {
            Some(last)
        } else {
            None
        };
        if let Some(r) = cap_row {
            return self.towards_pole(r, j, nv);
        }
        if r0 == r1 {
            return nv;
        }
        let (a, b) = (sample(r0), sample(r1));
        let (mut s, mut w) = (0.0f64, 0.0f64);
        for (v, wt) in [(a, 1.0 - fj), (b, fj)] {
            if let Some((v, _)) = v {
                if !v.is_nan() {
                    s += v as f64 * wt;
                    w += wt;
                }
            }
        }
        if w > 0.0 {
            (s / w) as f32
        } else {
            nv
        }
    }

    /// `v` (outer row `r`'s value at the point) blended towards the row's mean by how far the
    /// fractional row `j` lies from the row towards the pole.
    fn towards_pole(&self, r: usize, j: f64, v: f32) -> f32 {
        let rows = self.rows();
        let l = &rows.lats;
        if l.len() < 2 {
            return v;
        }
        let step = if r == 0 { l[1] - l[0] } else { l[r] - l[r - 1] };
        let lat = l[r] + (j - r as f64) * step;
        let pole = 90f64.copysign(l[r]);
        let t = ((lat - l[r]) / (pole - l[r])).clamp(0.0, 1.0);
        let sums = self.row_sums.as_ref().expect("row sums");
        let n = rows.counts[r] as usize;
        let (sum, count) = sums.range(rows, r, 0, n - 1);
        if count == 0 {
            return v;
        }
        let mean = sum / count as f64;
        (v as f64 * (1.0 - t) + mean * t) as f32
    }

    /// Mean of the points within `dlon` degrees (centred on `lon`) on the rows within `dj`
    /// rows of `j`; missing when fewer than half are valid.
    fn rows_average(&self, lon: f64, j: f64, dlon: f64, dj: f64) -> f32 {
        let rows = self.rows();
        let sums = self.row_sums.as_ref().expect("row sums");
        let last = rows.lats.len() as i64 - 1;
        let (j0, j1) = Self::span(j, dj);
        let (j0, j1) = (j0.clamp(0, last) as usize, j1.clamp(0, last) as usize);
        let (mut sum, mut count, mut cells) = (0.0f64, 0u32, 0u32);
        for r in j0..=j1 {
            let n = rows.counts[r] as i64;
            let Some(c) = rows.col_pos(r, lon) else {
                continue;
            };
            let width = (dlon / rows.dlon[r].abs()).min(n as f64);
            let (a, b) = Self::span(c, width);
            if rows.full[r] {
                let a0 = a.rem_euclid(n);
                let len = (b - a + 1).min(n);
                let end = a0 + len - 1;
                let parts = if end < n {
                    [(a0, end), (0, -1)]
                } else {
                    [(a0, n - 1), (0, end - n)]
                };
                for (x, y) in parts {
                    if y >= x {
                        let (s, k) = sums.range(rows, r, x as usize, y as usize);
                        sum += s;
                        count += k;
                        cells += (y - x + 1) as u32;
                    }
                }
            } else {
                let (x, y) = (a.clamp(0, n - 1), b.clamp(0, n - 1));
                let (s, k) = sums.range(rows, r, x as usize, y as usize);
                sum += s;
                count += k;
                cells += (y - x + 1) as u32;
            }
        }
        if count == 0 || count * 2 < cells {
            f32::NAN
        } else {
            (sum / count as f64) as f32
        }
    }

    /// One tile on a rows grid: each pixel's native position, its footprint from its
    /// neighbours', then a point sample or an average.
    pub(super) fn tile_rows(&self, lons: &[f64], lats: &[f64]) -> Vec<f32> {
        let rows = self.rows();
        let n = lons.len();
        let native: Vec<Option<(f64, f64)>> = lats
            .iter()
            .flat_map(|&lat| lons.iter().map(move |&lon| (lon, lat)))
            .map(|(lon, lat)| {
                let (lo, la) = rows.to_native(lon, lat);
                rows.row_pos(la).map(|j| (lo, j))
            })
            .collect();
        let mut out = vec![f32::NAN; n * n];
        for py in 0..n {
            for px in 0..n {
                let Some((lon, j)) = native[py * n + px] else {
                    continue;
                };
                let nb_x = native[py * n + if px + 1 < n { px + 1 } else { px - 1 }];
                let nb_y = native[if py + 1 < n { py + 1 } else { py - 1 } * n + px];
                let (mut dl, mut dj) = (0.0f64, 0.0f64);
                for (qlon, qj) in [nb_x, nb_y].into_iter().flatten() {
                    dl = dl.max(norm180(qlon - lon).abs());
                    dj = dj.max((qj - j).abs());
                }
                let row = (j.round().max(0.0) as usize).min(rows.lats.len() - 1);
                let step = rows.dlon[row].abs();
                out[py * n + px] = if dj > 1.0 || dl > step {
                    self.rows_average(lon, j, dl, dj)
                } else {
                    self.rows_point_at(lon, j)
                };
            }
        }
        out
    }

    /// The grid drawn as rows of the longest row's length, north-up and east from the
    /// westernmost point, each pixel the nearest point of its row.
    pub(super) fn rows_frame(&self) -> (usize, usize, Vec<f32>) {
        let rows = self.rows();
        let width = *rows.counts.iter().max().unwrap_or(&1).max(&1) as usize;
        let height = rows.lats.len();
        let north_first = height < 2 || rows.lats[0] > rows.lats[1];
        let west = (0..height)
            .filter(|&r| rows.counts[r] > 0)
            .map(|r| rows.lon0[r])
            .fold(f64::INFINITY, f64::min);
        let span = (0..height)
            .filter(|&r| rows.counts[r] > 0)
            .map(|r| {
                if rows.full[r] {
                    360.0
                } else {
                    rows.lon0[r] + rows.dlon[r] * (rows.counts[r] as f64 - 1.0) - west
                }
            })
            .fold(0.0f64, f64::max);
        let step = if width > 1 { span / width as f64 } else { 0.0 };
        let mut out = Vec::with_capacity(width * height);
        for y in 0..height {
            let r = if north_first { y } else { height - 1 - y };
            for x in 0..width {
                let lon = west + (x as f64 + 0.5) * step;
                let v = match rows.col_pos(r, lon) {
                    Some(c) if rows.counts[r] > 0 => {
                        let n = rows.counts[r] as i64;
                        let k = c.round() as i64;
                        let k = if rows.full[r] {
                            k.rem_euclid(n)
                        } else {
                            k.clamp(0, n - 1)
                        };
                        self.row_value(r, k as usize)
                    }
                    _ => f32::NAN,
                };
                out.push(v);
            }
        }
        (width, height, out)
    }
}
