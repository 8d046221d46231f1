//! Tiling schemes: OGC WebMercatorQuad (EPSG:3857, XYZ numbering, y = 0 at the north) and
//! WorldCRS84Quad (EPSG:4326, two tiles at zoom 0), 256-pixel tiles.
//!
//! A pixel stands for the area it covers and is sampled at its centre, so neighbouring tiles
//! sample disjoint, evenly spaced points of the same continuous surface and show no seams.

use serde::{Deserialize, Serialize};

use crate::geo::grid::norm180;

/// Tile edge in pixels.
pub const TILE_SIZE: usize = 256;

/// Web Mercator's latitude limit (the square world).
pub const MERCATOR_MAX_LAT: f64 = 85.051_128_779_806_59;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash, Default)]
#[serde(rename_all = "lowercase")]
pub enum Tiling {
    #[default]
    WebMercator,
    Geographic,
}

/// A tile address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TileId {
    pub z: u8,
    pub x: u32,
    pub y: u32,
}

impl Tiling {
    pub fn name(self) -> &'static str {
        match self {
            Tiling::WebMercator => "webmercator",
            Tiling::Geographic => "geographic",
        }
    }

    /// The tiling [`Tiling::name`] names.
    pub fn from_name(name: &str) -> Option<Tiling> {
        [Tiling::WebMercator, Tiling::Geographic]
            .into_iter()
            .find(|t| t.name() == name)
    }

    pub fn crs(self) -> &'static str {
        match self {
            Tiling::WebMercator => "EPSG:3857",
            Tiling::Geographic => "EPSG:4326",
        }
    }

    /// Tiles across and down at zoom `z`.
    pub fn matrix(self, z: u8) -> (u32, u32) {
        let n = 1u32 << z;
        match self {
            Tiling::WebMercator => (n, n),
            Tiling::Geographic => (2 * n, n),
        }
    }

    /// Longitude/latitude of a position in global pixel coordinates at zoom `z`
    /// (`px` from the west edge, `py` from the north edge; fractional values allowed).
    #[inline]
    pub fn pixel_to_lonlat(self, z: u8, px: f64, py: f64) -> (f64, f64) {
        let (cols, rows) = self.matrix(z);
        let width = (cols as usize * TILE_SIZE) as f64;
        let height = (rows as usize * TILE_SIZE) as f64;
        let lon = px / width * 360.0 - 180.0;
        let lat = match self {
            Tiling::WebMercator => {
                let yn = std::f64::consts::PI * (1.0 - 2.0 * py / height);
                yn.sinh().atan().to_degrees()
            }
            Tiling::Geographic => 90.0 - py / height * 180.0,
        };
        (lon, lat)
    }

    /// Global pixel coordinates of a lon/lat at zoom `z` (inverse of [`Self::pixel_to_lonlat`]).
    pub fn lonlat_to_pixel(self, z: u8, lon: f64, lat: f64) -> (f64, f64) {
        let (cols, rows) = self.matrix(z);
        let width = (cols as usize * TILE_SIZE) as f64;
        let height = (rows as usize * TILE_SIZE) as f64;
        let px = (lon + 180.0) / 360.0 * width;
        let py = match self {
            Tiling::WebMercator => {
                let lat = lat.clamp(-MERCATOR_MAX_LAT, MERCATOR_MAX_LAT).to_radians();
                (1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0 * height
            }
            Tiling::Geographic => (90.0 - lat) / 180.0 * height,
        };
        (px, py)
    }

    /// Bounds of a tile as `[west, south, east, north]` degrees.
    pub fn tile_bounds(self, t: TileId) -> [f64; 4] {
        let s = TILE_SIZE as f64;
        let (w, n) = self.pixel_to_lonlat(t.z, t.x as f64 * s, t.y as f64 * s);
        let (e, so) = self.pixel_to_lonlat(t.z, (t.x + 1) as f64 * s, (t.y + 1) as f64 * s);
        [w, so, e, n]
    }

    /// Bounds in the tiling's own CRS units (metres for EPSG:3857, degrees for 4326).
    pub fn tile_bounds_native(self, t: TileId) -> [f64; 4] {
        match self {
            Tiling::Geographic => self.tile_bounds(t),
            Tiling::WebMercator => {
                let half = std::f64::consts::PI * 6_378_137.0;
                let size = 2.0 * half / (1u64 << t.z) as f64;
                let w = -half + t.x as f64 * size;
                let n = half - t.y as f64 * size;
                [w, n - size, w + size, n]
            }
        }
    }

    /// Tiles at zoom `z` that intersect `[west, south, east, north]` (west > east when the
    /// bounds cross the antimeridian), in (x, y) order.
    pub fn tiles_covering(self, z: u8, bounds: [f64; 4]) -> Vec<TileId> {
        self.covering_rects(z, bounds)
            .into_iter()
            .flat_map(|[x0, x1, y0, y1]| {
                (x0..=x1).flat_map(move |x| (y0..=y1).map(move |y| TileId { z, x, y }))
            })
            .collect()
    }

    /// How many tiles [`Self::tiles_covering`] lists, counted without listing them.
    pub fn count_covering(self, z: u8, bounds: [f64; 4]) -> u64 {
        self.covering_rects(z, bounds)
            .iter()
            .map(|[x0, x1, y0, y1]| (x1 - x0 + 1) as u64 * (y1 - y0 + 1) as u64)
            .sum()
    }

    /// The tiles at zoom `z` that intersect the bounds as inclusive rectangles
    /// `[x0, x1, y0, y1]`, in x order: one, or two when the bounds cross the antimeridian.
    pub fn covering_rects(self, z: u8, bounds: [f64; 4]) -> Vec<[u32; 4]> {
        let [w, s, e, n] = bounds;
        let (cols, rows) = self.matrix(z);
        let s_px = TILE_SIZE as f64;
        let (_, y0) = self.lonlat_to_pixel(z, 0.0, n);
        let (_, y1) = self.lonlat_to_pixel(z, 0.0, s);
        let ty0 = ((y0 / s_px).floor().max(0.0) as u32).min(rows - 1);
        let ty1 = (((y1 / s_px).ceil() as u32).max(ty0 + 1)).min(rows) - 1;
        let col = |lon: f64| {
            ((lon + 180.0) / 360.0 * cols as f64)
                .floor()
                .clamp(0.0, cols as f64 - 1.0) as u32
        };
        let full = (e - w).abs() >= 360.0 - 1e-9 || (w <= -180.0 && e >= 180.0);
        let columns: Vec<(u32, u32)> = if full {
            vec![(0, cols - 1)]
        } else {
            let (w, e) = (
                norm180(w),
                if e >= 180.0 { 180.0 - 1e-9 } else { norm180(e) },
            );
            let (cw, ce) = (col(w), col(e));
            if w <= e {
                vec![(cw, ce)]
            } else if cw <= ce + 1 {
                // Across the antimeridian, the two pieces meet: every column.
                vec![(0, cols - 1)]
            } else {
                vec![(0, ce), (cw, cols - 1)]
            }
        };
        columns
            .into_iter()
            .map(|(x0, x1)| [x0, x1, ty0, ty1])
            .collect()
    }

    /// Zoom where a tile pixel is no coarser than `deg` degrees of longitude at the equator:
    /// the native resolution of a grid with that spacing.
    pub fn native_zoom(self, deg: f64) -> u8 {
        let base = match self {
            Tiling::WebMercator => 360.0,
            Tiling::Geographic => 180.0,
        };
        if deg.is_nan() || deg <= 0.0 {
            return 0;
        }
        let z = (base / (TILE_SIZE as f64 * deg)).log2().ceil();
        z.clamp(0.0, 14.0) as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webmercator_round_trip_and_bounds() {
        let t = Tiling::WebMercator;
        let b = t.tile_bounds(TileId { z: 0, x: 0, y: 0 });
        assert!((b[0] + 180.0).abs() < 1e-9 && (b[3] - MERCATOR_MAX_LAT).abs() < 1e-9);
        let (px, py) = t.lonlat_to_pixel(5, 12.5, 47.25);
        let (lon, lat) = t.pixel_to_lonlat(5, px, py);
        assert!((lon - 12.5).abs() < 1e-9 && (lat - 47.25).abs() < 1e-9);
    }

    #[test]
    fn geographic_has_two_tiles_at_zoom_0() {
        let g = Tiling::Geographic;
        assert_eq!(g.matrix(0), (2, 1));
        assert_eq!(
            g.tile_bounds(TileId { z: 0, x: 1, y: 0 }),
            [0.0, -90.0, 180.0, 90.0]
        );
        assert_eq!(g.tiles_covering(0, [-180.0, -90.0, 180.0, 90.0]).len(), 2);
    }

    #[test]
    fn covering_crosses_the_antimeridian() {
        let t = Tiling::WebMercator;
        let tiles = t.tiles_covering(2, [170.0, -10.0, -170.0, 10.0]);
        let xs: Vec<u32> = tiles.iter().map(|t| t.x).collect();
        assert_eq!(xs, vec![0, 0, 3, 3]);
        assert_eq!(t.count_covering(2, [170.0, -10.0, -170.0, 10.0]), 4);
    }

    #[test]
    fn counts_need_no_listing_even_at_the_deepest_zoom() {
        let t = Tiling::WebMercator;
        let regional = [-100.0, 30.0, -90.0, 40.0];
        for z in 0..=8 {
            assert_eq!(
                t.count_covering(z, regional),
                t.tiles_covering(z, regional).len() as u64
            );
        }
        assert!(t.count_covering(24, regional) > 1 << 36);
        assert_eq!(
            Tiling::Geographic.count_covering(24, [-180.0, -90.0, 180.0, 90.0]),
            2 * (1u64 << 48)
        );
    }

    #[test]
    fn native_zoom_from_spacing() {
        assert_eq!(Tiling::WebMercator.native_zoom(0.25), 3);
        assert_eq!(Tiling::WebMercator.native_zoom(1.0), 1);
        assert_eq!(Tiling::Geographic.native_zoom(0.25), 2);
    }
}
