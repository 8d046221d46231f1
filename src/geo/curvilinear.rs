//! Locating lon/lat on curvilinear grids: 2-D longitude and latitude arrays with no projection
//! tilecast can invert analytically (CF auxiliary coordinates without a usable grid_mapping).
//!
//! Points go into buckets of a coarse lon/lat raster; a query finds the nearest point in its
//! bucket neighbourhood, then solves the inverse of the bilinear map on the four cells around
//! it. This is exact for the cell the point falls in, which is what bilinear resampling needs.

use std::collections::HashMap;

use crate::geo::grid::{norm180, GridPos};

/// 2-D coordinates plus the search structure.
#[derive(Debug, Clone)]
pub struct Curvilinear {
    nx: usize,
    ny: usize,
    lon: Vec<f64>,
    lat: Vec<f64>,
    bucket_deg: f64,
    buckets: HashMap<(i32, i32), Vec<u32>>,
}

impl Curvilinear {
    /// Builds the search structure. `lon`/`lat` are row-major `ny` × `nx` in degrees.
    pub fn new(nx: usize, ny: usize, lon: Vec<f64>, lat: Vec<f64>) -> Curvilinear {
        let lon: Vec<f64> = lon.into_iter().map(norm180).collect();
        // Bucket size: a few typical cell spacings, so a query checks few points.
        let mut spacing = 0.0;
        let mut count = 0usize;
        for j in (0..ny).step_by((ny / 16).max(1)) {
            for i in (0..nx.saturating_sub(1)).step_by((nx / 16).max(1)) {
                let k = j * nx + i;
                let d = angular(lon[k], lat[k], lon[k + 1], lat[k + 1]);
                if d.is_finite() {
                    spacing += d;
                    count += 1;
                }
            }
        }
        let bucket_deg = if count > 0 {
            (spacing / count as f64 * 4.0).clamp(0.01, 10.0)
        } else {
            1.0
        };
        let mut buckets: HashMap<(i32, i32), Vec<u32>> = HashMap::new();
        for k in 0..nx * ny {
            if lon[k].is_finite() && lat[k].is_finite() {
                buckets
                    .entry(key(lon[k], lat[k], bucket_deg))
                    .or_default()
                    .push(k as u32);
            }
        }
        Curvilinear {
            nx,
            ny,
            lon,
            lat,
            bucket_deg,
            buckets,
        }
    }

    pub fn lonlat(&self, i: f64, j: f64) -> (f64, f64) {
        let (i0, j0) = (
            (i.floor().max(0.0) as usize).min(self.nx.saturating_sub(2)),
            (j.floor().max(0.0) as usize).min(self.ny.saturating_sub(2)),
        );
        let (fi, fj) = (i - i0 as f64, j - j0 as f64);
        let k = |i: usize, j: usize| (j * self.nx + i).min(self.lon.len() - 1);
        let (a, b, c, d) = (k(i0, j0), k(i0 + 1, j0), k(i0, j0 + 1), k(i0 + 1, j0 + 1));
        let ref_lon = self.lon[a];
        let ul = |m: usize| ref_lon + norm180(self.lon[m] - ref_lon);
        let lon =
            (1.0 - fj) * ((1.0 - fi) * ul(a) + fi * ul(b)) + fj * ((1.0 - fi) * ul(c) + fi * ul(d));
        let lat = (1.0 - fj) * ((1.0 - fi) * self.lat[a] + fi * self.lat[b])
            + fj * ((1.0 - fi) * self.lat[c] + fi * self.lat[d]);
        (norm180(lon), lat)
    }

    pub fn rows_go_north(&self) -> bool {
        let mid = self.nx / 2;
        self.lat[(self.ny - 1) * self.nx + mid] > self.lat[mid]
    }

    pub fn columns_go_east(&self) -> bool {
        let row = (self.ny / 2) * self.nx;
        norm180(self.lon[row + self.nx - 1] - self.lon[row]) > 0.0
    }

    /// Fractional index of lon/lat, or `None` outside the grid.
    pub fn locate(&self, lon: f64, lat: f64) -> Option<GridPos> {
        let lon = norm180(lon);
        let (bx, by) = key(lon, lat, self.bucket_deg);
        let mut best: Option<(f64, usize)> = None;
        for dy in -1..=1 {
            for dx in -1..=1 {
                let Some(list) = self.buckets.get(&(bx + dx, by + dy)) else {
                    continue;
                };
                for &k in list {
                    let d = angular(lon, lat, self.lon[k as usize], self.lat[k as usize]);
                    if best.is_none_or(|(bd, _)| d < bd) {
                        best = Some((d, k as usize));
                    }
                }
            }
        }
        let (_, k) = best?;
        let (ci, cj) = ((k % self.nx) as i64, (k / self.nx) as i64);
        // Try the four cells that share the nearest point.
        for (oi, oj) in [(-1, -1), (0, -1), (-1, 0), (0, 0)] {
            let (i0, j0) = (ci + oi, cj + oj);
            if i0 < 0 || j0 < 0 || i0 + 1 >= self.nx as i64 || j0 + 1 >= self.ny as i64 {
                continue;
            }
            if let Some((fi, fj)) = self.invert_cell(i0 as usize, j0 as usize, lon, lat) {
                if (-1e-9..=1.0 + 1e-9).contains(&fi) && (-1e-9..=1.0 + 1e-9).contains(&fj) {
                    return Some(GridPos {
                        i: i0 as f64 + fi,
                        j: j0 as f64 + fj,
                    });
                }
            }
        }
        // Within half a cell of an edge point: extend the edge cell, as for regular grids.
        let on_edge = ci == 0 || cj == 0 || ci + 1 == self.nx as i64 || cj + 1 == self.ny as i64;
        if on_edge {
            let (i0, j0) = (
                ci.clamp(0, self.nx as i64 - 2) as usize,
                cj.clamp(0, self.ny as i64 - 2) as usize,
            );
            if let Some((fi, fj)) = self.invert_cell(i0, j0, lon, lat) {
                let (i, j) = (i0 as f64 + fi, j0 as f64 + fj);
                let (nx, ny) = (self.nx as f64, self.ny as f64);
                if i >= -0.5 && i <= nx - 0.5 && j >= -0.5 && j <= ny - 0.5 {
                    return Some(GridPos { i, j });
                }
            }
        }
        None
    }

    /// Newton iteration for the bilinear coordinates of lon/lat inside cell (i0, j0).
    fn invert_cell(&self, i0: usize, j0: usize, lon: f64, lat: f64) -> Option<(f64, f64)> {
        let k = |i: usize, j: usize| j * self.nx + i;
        let idx = [k(i0, j0), k(i0 + 1, j0), k(i0, j0 + 1), k(i0 + 1, j0 + 1)];
        let x: Vec<f64> = idx.iter().map(|&m| norm180(self.lon[m] - lon)).collect();
        let y: Vec<f64> = idx.iter().map(|&m| self.lat[m] - lat).collect();
        if x.iter().chain(&y).any(|v| !v.is_finite()) {
            return None;
        }
        let (mut s, mut t) = (0.5, 0.5);
        for _ in 0..20 {
            let fx = (1.0 - t) * ((1.0 - s) * x[0] + s * x[1]) + t * ((1.0 - s) * x[2] + s * x[3]);
            let fy = (1.0 - t) * ((1.0 - s) * y[0] + s * y[1]) + t * ((1.0 - s) * y[2] + s * y[3]);
            let dxs = (1.0 - t) * (x[1] - x[0]) + t * (x[3] - x[2]);
            let dxt = (1.0 - s) * (x[2] - x[0]) + s * (x[3] - x[1]);
            let dys = (1.0 - t) * (y[1] - y[0]) + t * (y[3] - y[2]);
            let dyt = (1.0 - s) * (y[2] - y[0]) + s * (y[3] - y[1]);
            let det = dxs * dyt - dxt * dys;
            if det.abs() < 1e-20 {
                return None;
            }
            let ds = (fx * dyt - fy * dxt) / det;
            let dt = (fy * dxs - fx * dys) / det;
            s -= ds;
            t -= dt;
            if ds.abs() < 1e-10 && dt.abs() < 1e-10 {
                break;
            }
        }
        (s.is_finite() && t.is_finite()).then_some((s, t))
    }
}

fn key(lon: f64, lat: f64, size: f64) -> (i32, i32) {
    ((lon / size).floor() as i32, (lat / size).floor() as i32)
}

/// Approximate angular distance in degrees (equirectangular; fine at cell scale).
fn angular(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let dlon = norm180(lon2 - lon1) * ((lat1 + lat2) * 0.5).to_radians().cos();
    (dlon * dlon + (lat2 - lat1).powi(2)).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_points_of_a_rotated_grid() {
        // A 30x20 grid rotated by 20 degrees around (10E, 50N), 0.1 degree spacing.
        let (nx, ny) = (30, 20);
        let (mut lon, mut lat) = (Vec::new(), Vec::new());
        let r = 20f64.to_radians();
        for j in 0..ny {
            for i in 0..nx {
                let (u, v) = (i as f64 * 0.1, j as f64 * 0.1);
                lon.push(10.0 + u * r.cos() - v * r.sin());
                lat.push(50.0 + u * r.sin() + v * r.cos());
            }
        }
        let c = Curvilinear::new(nx, ny, lon, lat);
        for &(i, j) in &[(3.25, 4.5), (0.0, 0.0), (28.9, 18.2), (15.5, 10.0)] {
            let (lo, la) = c.lonlat(i, j);
            let p = c.locate(lo, la).expect("inside");
            assert!(
                (p.i - i).abs() < 1e-6 && (p.j - j).abs() < 1e-6,
                "{i},{j} -> {p:?}"
            );
        }
        assert!(c.locate(0.0, 0.0).is_none());
    }
}
