//! Native grid geometry: where each value of a field sits on the earth.
//!
//! Values stay in the order the file stores them (row-major, `ny` rows of `nx`), the order
//! ecCodes' `values` key and netCDF4-python return. A [`Grid`] maps between that index space
//! and longitude/latitude: point `(i, j)` is at native coordinates `(x0 + i*dx, y0 + j*dy)`,
//! degrees for a lat/lon grid and projected metres otherwise, with `dx`/`dy` signed so every
//! scanning direction is the same arithmetic. Curvilinear grids (2-D lat/lon arrays without a
//! known projection) are located by a search instead; see [`crate::geo::curvilinear`].

use serde::Serialize;

use crate::geo::curvilinear::Curvilinear;
use crate::geo::projection::{AxesForward, Projection};
use crate::geo::rows::Rows;

/// Where a field's values are.
#[derive(Debug, Clone, Serialize)]
pub struct Grid {
    pub nx: usize,
    pub ny: usize,
    pub kind: GridKind,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum GridKind {
    /// Regular in longitude and latitude (degrees).
    LatLon {
        lon0: f64,
        lat0: f64,
        dlon: f64,
        dlat: f64,
    },
    /// Regular in projected metres.
    Projected {
        projection: Projection,
        x0: f64,
        y0: f64,
        dx: f64,
        dy: f64,
    },
    /// 2-D longitude/latitude arrays.
    Curvilinear(#[serde(skip)] Box<Curvilinear>),
    /// Rows of points along parallels, each with its own count (Gaussian, reduced lat/lon,
    /// HEALPix); `nx` is the number of points per row when all rows are equal, else the
    /// total with `ny` 1.
    Rows(Box<Rows>),
}

/// A fractional position in index space: `i` along a row, `j` across rows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GridPos {
    pub i: f64,
    pub j: f64,
}

impl Grid {
    pub fn len(&self) -> usize {
        self.nx * self.ny
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True for lat/lon grids whose rows go all the way round, so column `nx-1` neighbours
    /// column 0 and interpolation must wrap across the seam.
    pub fn wraps(&self) -> bool {
        match &self.kind {
            GridKind::LatLon { dlon, .. } => {
                let span = self.nx as f64 * dlon.abs();
                (span - 360.0).abs() < dlon.abs() * 0.5
            }
            _ => false,
        }
    }

    /// Number of columns one full turn of longitude spans (for wrapping grids).
    pub fn period(&self) -> f64 {
        match &self.kind {
            GridKind::LatLon { dlon, .. } => 360.0 / dlon.abs(),
            _ => f64::INFINITY,
        }
    }

    /// Fractional index of lon/lat (degrees), or `None` outside the grid. "Outside" means
    /// more than half a cell beyond the outermost points: each value stands for a cell
    /// centred on its point, as in GDAL's georeferencing of GRIB and CF grids.
    pub fn locate(&self, lon: f64, lat: f64) -> Option<GridPos> {
        let (nx, ny) = (self.nx as f64, self.ny as f64);
        let pos = match &self.kind {
            GridKind::LatLon { .. } => {
                return Some(GridPos {
                    i: self.locate_lon(lon)?,
                    j: self.locate_lat(lat)?,
                })
            }
            GridKind::Curvilinear(c) => return c.locate(lon, lat),
            GridKind::Rows(r) => {
                let (lon, lat) = r.to_native(lon, lat);
                let j = r.row_pos(lat)?;
                let row = (j.round().max(0.0) as usize).min(r.lats.len() - 1);
                return Some(GridPos {
                    i: r.col_pos(row, lon)?,
                    j,
                });
            }
            GridKind::Projected {
                projection: Projection::Rotated(_),
                x0,
                y0,
                dx,
                dy,
            } => {
                let (x, y) = projection_forward(&self.kind, lon, lat)?;
                // Rotated longitudes wrap: take the turn that lands on the grid.
                let period = 360.0 / dx.abs();
                let mut i = ((x - x0) / dx).rem_euclid(period);
                if i > nx - 0.5 {
                    i -= period;
                }
                GridPos {
                    i,
                    j: (y - y0) / dy,
                }
            }
            GridKind::Projected { projection, .. } => {
                let (x, y) = projection.forward(lon, lat)?;
                return self.locate_xy(x, y);
            }
        };
        let inside_i = self.wraps() || (pos.i >= -0.5 && pos.i <= nx - 0.5);
        let inside_j = pos.j >= -0.5 && pos.j <= ny - 0.5;
        (inside_i && inside_j).then_some(pos)
    }

    /// On a projected grid other than rotated lat/lon, the fractional index of a point in
    /// the projection's metres (or radians), or `None` outside the grid, as
    /// [`Grid::locate`]; `None` for other grids.
    pub fn locate_xy(&self, x: f64, y: f64) -> Option<GridPos> {
        let GridKind::Projected {
            projection,
            x0,
            y0,
            dx,
            dy,
        } = &self.kind
        else {
            return None;
        };
        if matches!(projection, Projection::Rotated(_)) {
            return None;
        }
        let pos = GridPos {
            i: (x - x0) / dx,
            j: (y - y0) / dy,
        };
        let (nx, ny) = (self.nx as f64, self.ny as f64);
        let inside = pos.i >= -0.5 && pos.i <= nx - 0.5 && pos.j >= -0.5 && pos.j <= ny - 0.5;
        inside.then_some(pos)
    }

    /// On a projected grid whose projection separates ([`Projection::forward_axes`]) and
    /// can use [`Grid::locate_xy`], the projection at every point of `lons` × `lats`.
    pub fn forward_axes(&self, lons: &[f64], lats: &[f64]) -> Option<AxesForward> {
        match &self.kind {
            GridKind::Projected { projection, .. } => projection.forward_axes(lons, lats),
            _ => None,
        }
    }

    /// For lat/lon grids, the column of a longitude (`None` outside the grid): a lat/lon
    /// grid's columns depend on longitude only, so a tile locates 256 columns, not 65536
    /// pixels. `None` for other grids too.
    pub fn locate_lon(&self, lon: f64) -> Option<f64> {
        let GridKind::LatLon { lon0, dlon, .. } = &self.kind else {
            return None;
        };
        let nx = self.nx as f64;
        let period = 360.0 / dlon.abs();
        let mut i = ((lon - lon0) / dlon).rem_euclid(period);
        if self.wraps() {
            return Some(i);
        }
        if i > nx - 0.5 {
            // Past the east edge: maybe just west of the first column instead.
            i -= period;
        }
        (i >= -0.5 && i <= nx - 0.5).then_some(i)
    }

    /// For lat/lon grids, the row of a latitude (`None` outside the grid or for other grids).
    pub fn locate_lat(&self, lat: f64) -> Option<f64> {
        let GridKind::LatLon { lat0, dlat, .. } = &self.kind else {
            return None;
        };
        let j = (lat - lat0) / dlat;
        (j >= -0.5 && j <= self.ny as f64 - 0.5).then_some(j)
    }

    /// Longitude/latitude (degrees) of the fractional index position.
    pub fn lonlat(&self, i: f64, j: f64) -> (f64, f64) {
        match &self.kind {
            GridKind::LatLon {
                lon0,
                lat0,
                dlon,
                dlat,
            } => (lon0 + i * dlon, lat0 + j * dlat),
            GridKind::Projected {
                projection,
                x0,
                y0,
                dx,
                dy,
            } => projection.inverse(x0 + i * dx, y0 + j * dy),
            GridKind::Curvilinear(c) => c.lonlat(i, j),
            GridKind::Rows(r) => {
                let last = r.lats.len() - 1;
                let row = (j.round().max(0.0) as usize).min(last);
                let lat = if last == 0 {
                    r.lats[0]
                } else {
                    let k = (j.floor().max(0.0) as usize).min(last - 1);
                    r.lats[k] + (j - k as f64) * (r.lats[k + 1] - r.lats[k])
                };
                r.to_geographic(r.lon0[row] + i * r.dlon[row], lat.clamp(-90.0, 90.0))
            }
        }
    }

    /// Geographic lon/lat of the `k`-th value in the file's order (NaN for a point with
    /// none, such as a space-view pixel off the earth's disk).
    pub fn point_lonlat(&self, k: usize) -> (f64, f64) {
        match &self.kind {
            GridKind::Rows(r) => {
                let pos = match &r.order {
                    Some(o) => o.iter().position(|&f| f as usize == k).unwrap_or(k),
                    None => k,
                };
                let (lon, lat) = r.native_lonlat(pos);
                r.to_geographic(lon, lat)
            }
            _ => self.lonlat((k % self.nx) as f64, (k / self.nx) as f64),
        }
    }

    /// Every point's geographic lon/lat in the file's order.
    pub fn all_lonlat(&self) -> Vec<(f64, f64)> {
        match &self.kind {
            GridKind::Rows(r) => {
                let mut out = vec![(f64::NAN, f64::NAN); r.len()];
                for pos in 0..r.len() {
                    let (lon, lat) = r.native_lonlat(pos);
                    let k = r.order.as_ref().map_or(pos, |o| o[pos] as usize);
                    out[k] = r.to_geographic(lon, lat);
                }
                out
            }
            _ => (0..self.len()).map(|k| self.point_lonlat(k)).collect(),
        }
    }

    /// The grid's spacing in degrees of latitude (projected metres at 111.32 km a degree,
    /// scan angles at the sub-satellite point), for choosing zoom levels and image sizes.
    pub fn cell_degrees(&self) -> f64 {
        match &self.kind {
            GridKind::LatLon { dlon, dlat, .. } => dlon.abs().min(dlat.abs()),
            GridKind::Projected {
                projection: Projection::Rotated(_),
                dx,
                dy,
                ..
            } => dx.abs().min(dy.abs()),
            GridKind::Projected {
                projection: Projection::Geostationary(g),
                dx,
                dy,
                ..
            } => dx.abs().min(dy.abs()) * (g.h - g.earth.a) / 111_320.0,
            GridKind::Projected { dx, dy, .. } => dx.abs().min(dy.abs()) / 111_320.0,
            GridKind::Rows(r) => r.spacing(),
            GridKind::Curvilinear(_) => {
                let b = self.bounds();
                let mut w = b[2] - b[0];
                if w <= 0.0 {
                    w += 360.0;
                }
                (w / self.nx as f64).min((b[3] - b[1]) / self.ny as f64)
            }
        }
    }

    /// Whether row `j+1` lies north of row `j` (the full-frame image is drawn north-up).
    pub fn rows_go_north(&self) -> bool {
        match &self.kind {
            GridKind::LatLon { dlat, .. } => *dlat > 0.0,
            GridKind::Projected { dy, .. } => *dy > 0.0,
            GridKind::Curvilinear(c) => c.rows_go_north(),
            GridKind::Rows(r) => r.lats.len() > 1 && r.lats[1] > r.lats[0],
        }
    }

    /// Whether column `i+1` lies east of column `i`.
    pub fn columns_go_east(&self) -> bool {
        match &self.kind {
            GridKind::LatLon { dlon, .. } => *dlon > 0.0,
            GridKind::Projected { dx, .. } => *dx > 0.0,
            GridKind::Curvilinear(c) => c.columns_go_east(),
            GridKind::Rows(r) => r.dlon[0] > 0.0,
        }
    }

    /// Geographic bounds `[west, south, east, north]` in degrees, west > east when the grid
    /// crosses the antimeridian. Found by walking the grid's outline (cell edges) and checking
    /// whether a pole lies inside.
    pub fn bounds(&self) -> [f64; 4] {
        if let GridKind::LatLon {
            lat0,
            dlat,
            lon0,
            dlon,
            ..
        } = &self.kind
        {
            let lats = [lat0 - 0.5 * dlat, lat0 + (self.ny as f64 - 0.5) * dlat];
            let south = lats[0].min(lats[1]).max(-90.0);
            let north = lats[0].max(lats[1]).min(90.0);
            if self.wraps() {
                return [-180.0, south, 180.0, north];
            }
            let a = lon0 - 0.5 * dlon;
            let b = lon0 + (self.nx as f64 - 0.5) * dlon;
            let (w, e) = (a.min(b), a.max(b));
            return [norm180(w), south, norm180(e), north];
        }
        if let GridKind::Rows(r) = &self.kind {
            return rows_bounds(r);
        }
        let (nx, ny) = (self.nx as f64, self.ny as f64);
        let mut lons = Vec::new();
        let (mut south, mut north) = (90.0f64, -90.0f64);
        let steps = 64;
        for k in 0..=steps {
            let t = k as f64 / steps as f64;
            for (i, j) in [
                (-0.5 + t * nx, -0.5),
                (-0.5 + t * nx, ny - 0.5),
                (-0.5, -0.5 + t * ny),
                (nx - 0.5, -0.5 + t * ny),
            ] {
                let (lon, lat) = self.lonlat(i, j);
                if lon.is_finite() && lat.is_finite() {
                    lons.push(lon);
                    south = south.min(lat);
                    north = north.max(lat);
                }
            }
        }
        let has_north_pole = self.locate(0.0, 90.0).is_some();
        let has_south_pole = self.locate(0.0, -90.0).is_some();
        if has_north_pole {
            north = 90.0;
        }
        if has_south_pole {
            south = -90.0;
        }
        if has_north_pole || has_south_pole || lons.is_empty() {
            return [-180.0, south, 180.0, north];
        }
        let (w, e) = lon_extent(&mut lons);
        [w, south, e, north]
    }
}

/// Projects with a projected grid's projection (`None` for other kinds).
fn projection_forward(kind: &GridKind, lon: f64, lat: f64) -> Option<(f64, f64)> {
    match kind {
        GridKind::Projected { projection, .. } => projection.forward(lon, lat),
        _ => None,
    }
}

/// Bounds of a rows grid: its rows' ends half a step out, the caps to the poles.
fn rows_bounds(r: &Rows) -> [f64; 4] {
    let n = r.lats.len();
    let half = if n > 1 {
        0.5 * (r.lats[0] - r.lats[1]).abs()
    } else {
        0.5
    };
    let mut lons = Vec::new();
    let (mut south, mut north) = (90.0f64, -90.0f64);
    let any_full = r.full.iter().any(|f| *f);
    for row in 0..n {
        let c = r.counts[row] as f64;
        if c == 0.0 {
            continue;
        }
        let d = r.dlon[row];
        let edges = [-0.5, c - 0.5];
        let steps = if r.rotation.is_some() { 16 } else { 1 };
        for dl in [-half, half] {
            let lat = (r.lats[row] + dl).clamp(-90.0, 90.0);
            for k in 0..=steps {
                let t = edges[0] + (edges[1] - edges[0]) * k as f64 / steps as f64;
                let (lon, la) = r.to_geographic(r.lon0[row] + t * d, lat);
                south = south.min(la);
                north = north.max(la);
                if !any_full || r.rotation.is_some() {
                    lons.push(lon);
                }
            }
        }
    }
    if r.caps.0 && r.rotation.is_none() && r.counts[0] > 0 {
        north = 90.0;
    }
    if r.caps.1 && r.rotation.is_none() && r.counts[n - 1] > 0 {
        south = -90.0;
    }
    if lons.is_empty() {
        return [-180.0, south, 180.0, north];
    }
    let (w, e) = lon_extent(&mut lons);
    [w, south, e, north]
}

/// Normalises a longitude to [-180, 180).
pub fn norm180(lon: f64) -> f64 {
    (lon + 180.0).rem_euclid(360.0) - 180.0
}

/// Smallest longitude interval covering all `lons` (degrees): the complement of the largest
/// gap between sorted longitudes. Returns `(west, east)` in [-180, 180), west > east when the
/// interval crosses the antimeridian.
fn lon_extent(lons: &mut [f64]) -> (f64, f64) {
    for l in lons.iter_mut() {
        *l = norm180(*l);
    }
    lons.sort_by(f64::total_cmp);
    let n = lons.len();
    let mut best_gap = lons[0] + 360.0 - lons[n - 1];
    let (mut w, mut e) = (lons[0], lons[n - 1]);
    for k in 1..n {
        let gap = lons[k] - lons[k - 1];
        if gap > best_gap {
            best_gap = gap;
            w = lons[k];
            e = lons[k - 1];
        }
    }
    if best_gap < 1e-9 {
        return (-180.0, 180.0);
    }
    (w, e)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A regular lat/lon grid (also for other modules' tests).
    pub(crate) fn latlon(nx: usize, ny: usize, lon0: f64, lat0: f64, dlon: f64, dlat: f64) -> Grid {
        Grid {
            nx,
            ny,
            kind: GridKind::LatLon {
                lon0,
                lat0,
                dlon,
                dlat,
            },
        }
    }

    #[test]
    fn global_0_360_grid_wraps_across_antimeridian() {
        let g = latlon(360, 181, 0.0, 90.0, 1.0, -1.0);
        assert!(g.wraps());
        let p = g.locate(-0.25, 0.0).unwrap();
        assert!((p.i - 359.75).abs() < 1e-9 && (p.j - 90.0).abs() < 1e-9);
        let p = g.locate(179.5, 45.0).unwrap();
        assert!((p.i - 179.5).abs() < 1e-9 && (p.j - 45.0).abs() < 1e-9);
        assert_eq!(g.bounds(), [-180.0, -90.0, 180.0, 90.0]);
    }

    #[test]
    fn minus180_grid_and_regional_edges() {
        let g = latlon(180, 91, -180.0, -90.0, 2.0, 2.0);
        assert!(g.wraps());
        assert!((g.locate(179.0, 0.0).unwrap().i - 179.5).abs() < 1e-9);
        // Regional grid west of Greenwich: 10W..10E at 1 degree, 21 columns.
        let r = latlon(21, 11, 350.0, 40.0, 1.0, 1.0);
        assert!(!r.wraps());
        assert!((r.locate(-10.4, 45.0).unwrap().i - -0.4).abs() < 1e-9);
        assert!(r.locate(-10.6, 45.0).is_none());
        assert!((r.locate(10.4, 45.0).unwrap().i - 20.4).abs() < 1e-9);
        assert!(r.locate(10.6, 45.0).is_none());
        let b = r.bounds();
        assert!((b[0] - -10.5).abs() < 1e-9 && (b[2] - 10.5).abs() < 1e-9);
    }

    #[test]
    fn regional_grid_across_antimeridian_has_west_greater_than_east() {
        let r = latlon(41, 11, 160.0, 0.0, 1.0, 1.0);
        let b = r.bounds();
        assert!(
            (b[0] - 159.5).abs() < 1e-9 && (b[2] - -159.5).abs() < 1e-9,
            "{b:?}"
        );
        assert!((r.locate(-165.0, 5.0).unwrap().i - 35.0).abs() < 1e-9);
    }
}
