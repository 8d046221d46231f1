//! Grids made of rows of points along parallels, each row with its own number of points:
//! Gaussian grids (regular, reduced and octahedral), reduced lat/lon grids and HEALPix in
//! ring or nested order, optionally in a rotated lat/lon system.
//!
//! Row `r` sits at latitude `lats[r]` (strictly monotonic) and holds `counts[r]` points at
//! longitudes `lon0[r] + c * dlon[r]`; a *full* row goes all the way round, so its last
//! point neighbours its first. Values are addressed in *row order*, row after row; a file
//! whose order differs (HEALPix nested) carries the permutation in [`Rows::order`].
//! Coordinates are in the rotated system when [`Rows::rotation`] is set.
//!
//! Constructors follow ecCodes' geo iterators, so each point sits where ecCodes puts it:
//! rows of a sub-area reduced Gaussian grid start at the first multiple of `360/pl` east of
//! the area's west edge, and HEALPix rings are offset by half a step where the scheme says.

use serde::Serialize;

use crate::geo::gaussian;
use crate::geo::grid::norm180;
use crate::geo::rotated::RotatedPole;

/// Rows of points; see the module documentation.
#[derive(Debug, Clone, Serialize)]
pub struct Rows {
    /// Short description, e.g. `reduced_gg N48` or `healpix H8 nested`.
    pub name: String,
    #[serde(skip)]
    pub lats: Vec<f64>,
    #[serde(skip)]
    pub lon0: Vec<f64>,
    #[serde(skip)]
    pub dlon: Vec<f64>,
    #[serde(skip)]
    pub counts: Vec<u32>,
    /// Row `r`'s first point in row order; one more entry than rows.
    #[serde(skip)]
    pub starts: Vec<usize>,
    #[serde(skip)]
    pub full: Vec<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotation: Option<RotatedPole>,
    /// For each point in row order, its index in the file's order (HEALPix nested).
    #[serde(skip)]
    pub order: Option<Vec<u32>>,
    /// Whether the grid reaches the north (south) pole: its first (last) row is the
    /// closest to the pole of a global grid, so the cap beyond it is the grid's too.
    #[serde(skip)]
    pub caps: (bool, bool),
}

impl Rows {
    /// Builds and checks rows from their parts.
    fn build(
        name: String,
        lats: Vec<f64>,
        rows: Vec<(f64, f64, u32, bool)>,
        rotation: Option<RotatedPole>,
    ) -> Result<Rows, String> {
        if lats.is_empty() || lats.len() != rows.len() {
            return Err("no rows".into());
        }
        let ok = lats.windows(2).all(|w| w[1] < w[0]) || lats.windows(2).all(|w| w[1] > w[0]);
        if !ok || lats.iter().any(|l| !l.is_finite() || l.abs() > 90.0 + 1e-6) {
            return Err("row latitudes are not monotonic within -90..90".into());
        }
        let mut starts = Vec::with_capacity(rows.len() + 1);
        let mut total = 0usize;
        for &(lon0, dlon, n, _) in &rows {
            starts.push(total);
            if !(lon0.is_finite() && dlon.is_finite()) || (n > 1 && dlon == 0.0) {
                return Err(format!("row of {n} points with step {dlon}"));
            }
            total += n as usize;
        }
        starts.push(total);
        let polar = |l: f64| {
            90.0 - l.abs()
                < 1.5
                    * (180.0 / lats.len() as f64).min(if lats.len() > 1 {
                        (lats[0] - lats[1]).abs()
                    } else {
                        180.0
                    })
        };
        let all_full = rows.iter().all(|r| r.3 || r.2 == 0);
        let (first, last) = (lats[0], lats[lats.len() - 1]);
        let north_first = first > last || lats.len() == 1;
        let (n_edge, s_edge) = if north_first {
            (first, last)
        } else {
            (last, first)
        };
        let caps = (
            all_full && n_edge > 0.0 && polar(n_edge),
            all_full && s_edge < 0.0 && polar(s_edge),
        );
        let caps = if north_first { caps } else { (caps.1, caps.0) };
        Ok(Rows {
            name,
            lats,
            lon0: rows.iter().map(|r| r.0).collect(),
            dlon: rows.iter().map(|r| r.1).collect(),
            counts: rows.iter().map(|r| r.2).collect(),
            full: rows.iter().map(|r| r.3).collect(),
            starts,
            rotation,
            order: None,
            caps,
        })
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        *self.starts.last().unwrap_or(&0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A Gaussian grid of order `n` whose first row is the Gaussian latitude nearest
    /// `lat_first`, running towards `lat_last`. `pl` gives the points of each row (reduced);
    /// `None` makes `rows` rows of `ni` points `di` apart from `lon_first` (regular).
    #[allow(clippy::too_many_arguments)]
    pub fn gaussian(
        n: usize,
        rows: usize,
        pl: Option<&[u32]>,
        ni: usize,
        (lat_first, lat_last): (f64, f64),
        (lon_first, lon_last): (f64, f64),
        di: Option<f64>,
        rotation: Option<RotatedPole>,
    ) -> Result<Rows, String> {
        let gl = gaussian::latitudes(n).ok_or(format!("Gaussian order N={n}"))?;
        let nearest = |lat: f64| {
            (0..gl.len())
                .min_by(|&a, &b| (gl[a] - lat).abs().total_cmp(&(gl[b] - lat).abs()))
                .filter(|&k| (gl[k] - lat).abs() < 0.01 + 90.0 / n as f64)
        };
        let k0 = nearest(lat_first).ok_or(format!(
            "first latitude {lat_first} is no Gaussian latitude of N={n}"
        ))?;
        let south = lat_first >= lat_last;
        let idx: Vec<usize> = if south {
            (k0..gl.len()).take(rows).collect()
        } else {
            (0..=k0).rev().take(rows).collect()
        };
        if idx.len() != rows {
            return Err(format!(
                "{rows} rows from latitude {lat_first} do not fit a Gaussian grid of N={n}"
            ));
        }
        let lats: Vec<f64> = idx.iter().map(|&k| gl[k]).collect();
        let (name, parts) = match pl {
            Some(pl) => {
                if pl.len() != rows {
                    return Err(format!("{} row lengths for {rows} rows", pl.len()));
                }
                let max = *pl.iter().max().unwrap_or(&0) as f64;
                let w = lon_first.rem_euclid(360.0);
                let mut e = lon_last.rem_euclid(360.0);
                while e < w {
                    e += 360.0;
                }
                let global_lon = max > 0.0
                    && w.abs() < 1e-6
                    && (e - (360.0 - 360.0 / max)).abs() < 360.0 / max * 0.5 + 1e-6;
                let global_lat = (lat_first.abs() - gl[0]).abs() < 1e-3
                    && (lat_last.abs() - gl[0]).abs() < 1e-3
                    && rows == 2 * n;
                let parts: Vec<_> = pl
                    .iter()
                    .map(|&p| {
                        if p == 0 {
                            return (0.0, 1.0, 0, false);
                        }
                        let inc = 360.0 / p as f64;
                        if global_lon && global_lat {
                            return (0.0, inc, p, true);
                        }
                        let nw = (w / inc - 1e-9).ceil();
                        let ne = (e / inc + 1e-9).floor();
                        if nw > ne {
                            return (0.0, inc, 0, false);
                        }
                        let count = ((ne - nw + 1.0) as u32).min(p);
                        (norm180(nw * inc), inc, count, count == p)
                    })
                    .collect();
                let octahedral = pl
                    .iter()
                    .take(n.min(pl.len()))
                    .enumerate()
                    .all(|(k, &p)| p as usize == 20 + 4 * k);
                let tag = if octahedral && global_lat { "O" } else { "N" };
                (format!("reduced_gg {tag}{n}"), parts)
            }
            None => {
                if ni == 0 {
                    return Err("no points per row".into());
                }
                let step = di.filter(|d| *d > 0.0).unwrap_or_else(|| {
                    let mut span = lon_last - lon_first;
                    if span <= 0.0 {
                        span += 360.0;
                    }
                    if ni > 1 {
                        span / (ni - 1) as f64
                    } else {
                        360.0
                    }
                });
                let full = (ni as f64 * step - 360.0).abs() < step * 0.5;
                let step = if full { 360.0 / ni as f64 } else { step };
                let parts = vec![(lon_first, step, ni as u32, full); rows];
                (format!("regular_gg N{n}"), parts)
            }
        };
        let name = match rotation {
            Some(_) => format!("rotated_{}", name),
            None => name,
        };
        Rows::build(name, lats, parts, rotation)
    }

    /// A reduced lat/lon grid: rows `dlat` apart from `lat_first` towards `lat_last`, row `r`
    /// with `pl[r]` points between `lon_first` and `lon_last` (all the way round when the
    /// span is within two steps of 360 degrees).
    pub fn reduced_latlon(
        (lat_first, lat_last): (f64, f64),
        pl: &[u32],
        (lon_first, lon_last): (f64, f64),
    ) -> Result<Rows, String> {
        let rows = pl.len();
        if rows < 2 {
            return Err("a reduced lat/lon grid needs two rows".into());
        }
        let dlat = (lat_last - lat_first) / (rows - 1) as f64;
        let max = *pl.iter().max().unwrap_or(&1).max(&1) as f64;
        let span = if 360.0 - (lon_last - lon_first).abs() < 2.0 * 360.0 / max {
            None
        } else if lon_last < lon_first {
            Some(lon_last + 360.0 - lon_first)
        } else {
            Some(lon_last - lon_first)
        };
        let lats = (0..rows).map(|r| lat_first + r as f64 * dlat).collect();
        let parts = pl
            .iter()
            .map(|&p| match span {
                None => (lon_first, 360.0 / p.max(1) as f64, p, p > 0),
                Some(s) => (lon_first, s / (p.max(2) - 1) as f64, p, false),
            })
            .collect();
        Rows::build("reduced_ll".into(), lats, parts, None)
    }

    /// A HEALPix grid of `nside` (4·nside − 1 rings, 12·nside² points), ring or nested order.
    pub fn healpix(nside: usize, nested: bool) -> Result<Rows, String> {
        if nside == 0 || nside > 1 << 13 || (nested && !nside.is_power_of_two()) {
            return Err(format!("HEALPix Nside={nside} (nested needs a power of 2)"));
        }
        let n = nside as f64;
        let rings = 4 * nside - 1;
        let lat = |i: usize| -> f64 {
            // Ring i (1-based) from the north pole.
            let r = i.min(4 * nside - i) as f64;
            let z = if r < n {
                1.0 - r * r / (3.0 * n * n)
            } else {
                (4.0 * n - 2.0 * r) / (3.0 * n)
            };
            let l = 90.0 - z.clamp(-1.0, 1.0).acos().to_degrees();
            if i > 2 * nside {
                -l
            } else {
                l
            }
        };
        let mut lats = Vec::with_capacity(rings);
        let mut parts = Vec::with_capacity(rings);
        for i in 0..rings {
            let count = if i < nside {
                4 * (i + 1)
            } else if i < 3 * nside {
                4 * nside
            } else {
                4 * (rings - i)
            };
            let step = 360.0 / count as f64;
            let shifted = i < nside || i > 3 * nside - 1 || (i + nside) % 2 == 1;
            lats.push(if i + 1 == 2 * nside { 0.0 } else { lat(i + 1) });
            parts.push((
                if shifted { step / 2.0 } else { 0.0 },
                step,
                count as u32,
                true,
            ));
        }
        let order = if nested { "nested" } else { "ring" };
        let mut rows = Rows::build(format!("healpix H{nside} {order}"), lats, parts, None)?;
        rows.caps = (true, true);
        if nested {
            let k = nside.trailing_zeros();
            let npix = 12 * nside * nside;
            rows.order = Some(
                (0..npix)
                    .map(|p| ring_to_nested(nside, k, p) as u32)
                    .collect(),
            );
        }
        Ok(rows)
    }

    /// Native (possibly rotated) lon/lat of the point at `pos` in row order.
    pub fn native_lonlat(&self, pos: usize) -> (f64, f64) {
        let r = self.starts.partition_point(|&s| s <= pos).saturating_sub(1);
        let c = (pos - self.starts[r]) as f64;
        (self.lon0[r] + c * self.dlon[r], self.lats[r])
    }

    /// Geographic lon/lat of native lon/lat.
    pub fn to_geographic(&self, lon: f64, lat: f64) -> (f64, f64) {
        match &self.rotation {
            Some(r) => r.to_geographic(lon, lat),
            None => (lon, lat),
        }
    }

    /// Native lon/lat of geographic lon/lat.
    pub fn to_native(&self, lon: f64, lat: f64) -> (f64, f64) {
        match &self.rotation {
            Some(r) => r.to_rotated(lon, lat),
            None => (lon, lat),
        }
    }

    /// Fractional row of a native latitude; `None` beyond half a row spacing past the outer
    /// rows, except over a polar cap, which belongs to the grid (there `j` is below -0.5 or
    /// above rows − 0.5, by the outer rows' spacing).
    pub fn row_pos(&self, lat: f64) -> Option<f64> {
        let l = &self.lats;
        let n = l.len();
        let last = (n - 1) as f64;
        if n == 1 {
            return ((lat - l[0]).abs() <= 0.5 * self.dlon[0].abs()).then_some(0.0);
        }
        let desc = l[0] > l[1];
        // Index of the first row past `lat` in the direction of travel.
        let k = if desc {
            l.partition_point(|&x| x > lat)
        } else {
            l.partition_point(|&x| x < lat)
        };
        let j = if k == 0 {
            (lat - l[0]) / (l[1] - l[0])
        } else if k >= n {
            last + (lat - l[n - 1]) / (l[n - 1] - l[n - 2])
        } else {
            (k - 1) as f64 + (lat - l[k - 1]) / (l[k] - l[k - 1])
        };
        if j < -0.5 {
            return self.caps.0.then_some(j);
        }
        if j > last + 0.5 {
            return self.caps.1.then_some(j);
        }
        Some(j)
    }

    /// Fractional position of a native longitude in row `r`: wrapped into `[0, n)` on a full
    /// row; on a partial row `None` more than half a step outside its ends.
    pub fn col_pos(&self, r: usize, lon: f64) -> Option<f64> {
        let n = self.counts[r] as f64;
        if n == 0.0 {
            return None;
        }
        let d = self.dlon[r];
        let period = 360.0 / d.abs();
        let mut c = ((lon - self.lon0[r]) / d).rem_euclid(period);
        if self.full[r] {
            return Some(c.rem_euclid(n));
        }
        if c > n - 0.5 {
            c -= period;
        }
        (c >= -0.5 && c <= n - 0.5).then_some(c)
    }

    /// Typical spacing of points in degrees (the finest row's step or the row spacing).
    pub fn spacing(&self) -> f64 {
        let dlat = if self.lats.len() > 1 {
            (self.lats[0] - self.lats[self.lats.len() - 1]).abs() / (self.lats.len() - 1) as f64
        } else {
            f64::INFINITY
        };
        let dlon = self
            .dlon
            .iter()
            .zip(&self.counts)
            .filter(|(_, &n)| n > 1)
            .map(|(d, _)| d.abs())
            .fold(f64::INFINITY, f64::min);
        dlat.min(dlon)
    }
}

/// HEALPix ring index `p` to nested index (Górski et al. 2005, §4): the ring and position
/// give the base face and the pixel's (x, y) within it, whose bits interleave.
fn ring_to_nested(nside: usize, k: u32, p: usize) -> usize {
    const JRLL: [i64; 12] = [2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4];
    const JPLL: [i64; 12] = [1, 3, 5, 7, 0, 2, 4, 6, 1, 3, 5, 7];
    let ns = nside as i64;
    let (p, npix, ncap) = (p as i64, 12 * ns * ns, 2 * ns * (ns - 1));
    let isqrt = |v: i64| (v as f64 + 0.5).sqrt() as i64;
    let (iring, iphi, kshift, nr, face) = if p < ncap {
        let iring = (1 + isqrt(1 + 2 * p)) >> 1;
        let iphi = p + 1 - 2 * iring * (iring - 1);
        (iring, iphi, 0, iring, (iphi - 1) / iring)
    } else if p < npix - ncap {
        let ip = p - ncap;
        let tmp = ip >> (k + 2);
        let iring = tmp + ns;
        let iphi = ip - tmp * 4 * ns + 1;
        let kshift = (iring + ns) & 1;
        let ire = tmp + 1;
        let irm = 2 * ns + 2 - ire;
        let ifm = (iphi - ire / 2 + ns - 1) >> k;
        let ifp = (iphi - irm / 2 + ns - 1) >> k;
        let face = if ifp == ifm {
            ifp | 4
        } else if ifp < ifm {
            ifp
        } else {
            ifm + 8
        };
        (iring, iphi, kshift, ns, face)
    } else {
        let ip = npix - p;
        let nr = (1 + isqrt(2 * ip - 1)) >> 1;
        let iphi = 4 * nr + 1 - (ip - 2 * nr * (nr - 1));
        (4 * ns - nr, iphi, 0, nr, 8 + (iphi - 1) / nr)
    };
    let f = face as usize;
    let irt = iring - JRLL[f] * ns + 1;
    let mut ipt = 2 * iphi - JPLL[f] * nr - kshift - 1;
    if ipt >= 2 * ns {
        ipt -= 8 * ns;
    }
    let ix = ((ipt - irt) >> 1) as u64;
    let iy = ((-ipt - irt) >> 1) as u64;
    (f << (2 * k)) + (spread(ix) | (spread(iy) << 1)) as usize
}

/// The bits of `v` moved to the even bit positions.
fn spread(v: u64) -> u64 {
    let mut out = 0;
    for b in 0..32 {
        out |= ((v >> b) & 1) << (2 * b);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn healpix_sizes_and_nested_order_is_a_permutation() {
        for nside in [1, 2, 8] {
            let r = Rows::healpix(nside, true).unwrap();
            assert_eq!(r.len(), 12 * nside * nside);
            let mut seen = vec![false; r.len()];
            for &k in r.order.as_ref().unwrap() {
                assert!(!seen[k as usize]);
                seen[k as usize] = true;
            }
        }
        // Nside 1: the 12 base pixels are their own nested indices except for ring order of
        // the equatorial belt.
        let r = Rows::healpix(1, true).unwrap();
        assert_eq!(r.order.unwrap(), vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    }

    #[test]
    fn octahedral_rows_and_positions() {
        let pl: Vec<u32> = (0..32)
            .map(|k| 20 + 4 * k)
            .chain((0..32).rev().map(|k| 20 + 4 * k))
            .collect();
        let r = Rows::gaussian(
            32,
            64,
            Some(&pl),
            0,
            (87.8638, -87.8638),
            (0.0, 360.0 - 360.0 / 144.0),
            None,
            None,
        )
        .unwrap();
        assert_eq!(r.name, "reduced_gg O32");
        assert_eq!(r.len(), pl.iter().sum::<u32>() as usize);
        assert!(r.full.iter().all(|f| *f));
        assert_eq!(r.caps, (true, true));
        assert!(r.row_pos(89.9).unwrap() < -0.5);
        assert!(r.row_pos(-89.9).unwrap() > 63.5);
        assert!((r.col_pos(0, -18.0).unwrap() - 19.0).abs() < 1e-9);
    }
}
