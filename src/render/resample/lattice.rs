//! Locating a tile's pixels on projected and curvilinear grids: exactly on a lattice every
//! [`LATTICE`] pixels and interpolated in between, as GDAL's approximate transformer does; a
//! block whose centre or edge midpoints are off the interpolation by more than
//! [`LATTICE_TOLERANCE`], or that touches the grid's edge, is located pixel by pixel.
//!
//! On lat/lon grids each pixel column and row is located once instead (the grid is
//! separable), exactly.
//!
//! Exact positions on conic, polar stereographic and Mercator grids come from the projection
//! worked out per pixel row and column ([`AxesForward`]): the same bits as projecting each
//! pixel, for a fraction of the `powf` and `tan` calls.
//!
//! The lattice and each block's verdict are worked out once per tile; positions are then
//! given a row at a time, so sampling a tile holds three rows of them (18 KiB), not all
//! 65,536 (1.5 MiB, which a process rendering one job would have to fault in afresh).

use super::Sampler;
use crate::geo::grid::{GridKind, GridPos};
use crate::geo::projection::AxesForward;

/// Pixels between exactly located lattice points.
const LATTICE: usize = 16;
/// Largest interpolation error accepted for a lattice block, in grid cells or, where a pixel
/// covers more than a cell, in pixel footprints.
const LATTICE_TOLERANCE: f64 = 0.01;

/// Each pixel column's and row's position on a lat/lon grid (`None` off the grid).
type Axes = (Vec<Option<f64>>, Vec<Option<f64>>);

/// A tile's lattice on a grid.
pub(super) struct Lattice<'a> {
    s: &'a Sampler,
    lons: &'a [f64],
    lats: &'a [f64],
    knots: Vec<usize>,
    /// Per block, row-major (`knots.len() - 1` a side): its four corners when interpolating
    /// inside it is accurate enough, else `None` (its pixels are located exactly).
    usable: Vec<Option<[GridPos; 4]>>,
    /// The block of each pixel column and row.
    block_col: Vec<usize>,
    block_row: Vec<usize>,
    /// On a lat/lon grid: each column's and row's exact position, and no blocks.
    separable: Option<Axes>,
    /// On a projected grid whose projection separates: the projection of every pixel,
    /// worked out per row and per column.
    axes: Option<AxesForward>,
}

impl<'a> Lattice<'a> {
    /// The lattice of a tile whose pixel centres lie at `lons` (columns) × `lats` (rows).
    pub fn new(s: &'a Sampler, lons: &'a [f64], lats: &'a [f64]) -> Lattice<'a> {
        if let GridKind::LatLon { .. } = s.grid.kind {
            let is = lons.iter().map(|&lon| s.grid.locate_lon(lon)).collect();
            let js = lats.iter().map(|&lat| s.grid.locate_lat(lat)).collect();
            return Lattice {
                s,
                lons,
                lats,
                knots: Vec::new(),
                usable: Vec::new(),
                block_col: Vec::new(),
                block_row: Vec::new(),
                separable: Some((is, js)),
                axes: None,
            };
        }
        let n = lons.len();
        let axes = s.grid.forward_axes(lons, lats);
        let mut knots: Vec<usize> = (0..n).step_by(LATTICE).collect();
        if knots.last() != Some(&(n - 1)) {
            knots.push(n - 1);
        }
        let k = knots.len();
        let exact = |px: usize, py: usize| locate(s, axes.as_ref(), lons, lats, px, py);
        let lattice: Vec<Option<GridPos>> = knots
            .iter()
            .flat_map(|&py| knots.iter().map(move |&px| (px, py)))
            .map(|(px, py)| exact(px, py))
            .collect();
        let mut usable = Vec::with_capacity((k - 1) * (k - 1));
        for by in 0..k - 1 {
            let (y0, y1) = (knots[by], knots[by + 1]);
            for bx in 0..k - 1 {
                let (x0, x1) = (knots[bx], knots[bx + 1]);
                let corners = [
                    lattice[by * k + bx],
                    lattice[by * k + bx + 1],
                    lattice[(by + 1) * k + bx],
                    lattice[(by + 1) * k + bx + 1],
                ];
                usable.push(match corners {
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
                                let p = interp(px, py, (x0, x1, y0, y1), &c4);
                                (p.i - m.i).abs() < tol && (p.j - m.j).abs() < tol
                            })
                        });
                        ok.then_some(c4)
                    }
                    _ => None,
                });
            }
        }
        // A block covers its first knot up to the next one, the last block both its knots.
        let blocks = |len: usize| -> Vec<usize> {
            (0..len)
                .map(|p| {
                    knots
                        .partition_point(|&kn| kn <= p)
                        .saturating_sub(1)
                        .min(k - 2)
                })
                .collect()
        };
        let (block_col, block_row) = (blocks(n), blocks(lats.len()));
        Lattice {
            s,
            lons,
            lats,
            knots,
            usable,
            block_col,
            block_row,
            separable: None,
            axes,
        }
    }

    /// The positions of the pixels of row `py`, into `out` (cleared first): `None` off the
    /// grid.
    pub fn row(&self, py: usize, out: &mut Vec<Option<GridPos>>) {
        out.clear();
        if let Some((is, js)) = &self.separable {
            let j = js[py];
            out.extend(is.iter().map(|i| Some(GridPos { i: (*i)?, j: j? })));
            return;
        }
        let k = self.knots.len();
        let (nx, ny) = (self.s.grid.nx as f64, self.s.grid.ny as f64);
        let by = self.block_row[py];
        let (y0, y1) = (self.knots[by], self.knots[by + 1]);
        out.extend((0..self.lons.len()).map(|px| {
            let bx = self.block_col[px];
            match &self.usable[by * (k - 1) + bx] {
                Some(c4) => {
                    let (x0, x1) = (self.knots[bx], self.knots[bx + 1]);
                    let p = interp(px, py, (x0, x1, y0, y1), c4);
                    (p.i >= -0.5 && p.i <= nx - 0.5 && p.j >= -0.5 && p.j <= ny - 0.5).then_some(p)
                }
                None => locate(self.s, self.axes.as_ref(), self.lons, self.lats, px, py),
            }
        }));
    }
}

/// The exact position of pixel (`px`, `py`): through the separated projection when there is
/// one (the same bits as [`crate::geo::grid::Grid::locate`]).
fn locate(
    s: &Sampler,
    axes: Option<&AxesForward>,
    lons: &[f64],
    lats: &[f64],
    px: usize,
    py: usize,
) -> Option<GridPos> {
    match axes {
        Some(a) => a.at(px, py).and_then(|(x, y)| s.grid.locate_xy(x, y)),
        None => s.grid.locate(lons[px], lats[py]),
    }
}

/// The position of pixel (`px`, `py`) interpolated bilinearly between the corners of its
/// block (`x0..x1` × `y0..y1`).
fn interp(
    px: usize,
    py: usize,
    (x0, x1, y0, y1): (usize, usize, usize, usize),
    c: &[GridPos; 4],
) -> GridPos {
    let fx = (px - x0) as f64 / (x1 - x0) as f64;
    let fy = (py - y0) as f64 / (y1 - y0) as f64;
    let f = |a: f64, b: f64, c2: f64, d: f64| {
        (1.0 - fy) * ((1.0 - fx) * a + fx * b) + fy * ((1.0 - fx) * c2 + fx * d)
    };
    GridPos {
        i: f(c[0].i, c[1].i, c[2].i, c[3].i),
        j: f(c[0].j, c[1].j, c[2].j, c[3].j),
    }
}
