//! Gaussian latitudes: the rows of a Gaussian grid of order N sit at the 2N roots of the
//! Legendre polynomial P_2N(sin φ), which is what spectral models (IFS, GFS) transform on.
//!
//! The roots are found by Newton's method from Tricomi's asymptotic first guess, iterating
//! the three-term recurrence for P_n and its derivative until the step is below 1e-15, so
//! every latitude is exact to double precision (ecCodes solves the same equation; its
//! N640 and N1280 tables are these roots too).

use std::collections::HashMap;
use std::f64::consts::PI;
use std::sync::{Arc, Mutex, OnceLock};

/// The largest Gaussian order accepted: twice the finest grid any centre runs (ECMWF's
/// O2560/N2560), so a hostile file cannot ask for hours of root-finding. N8000 takes about a
/// second, once per process.
pub const MAX_ORDER: usize = 8_000;

/// The 2N Gaussian latitudes of order `n`, in degrees, north to south, computed once per
/// order and process. `None` for `n` of 0 or above [`MAX_ORDER`].
pub fn latitudes(n: usize) -> Option<Arc<Vec<f64>>> {
    if n == 0 || n > MAX_ORDER {
        return None;
    }
    static CACHE: OnceLock<Mutex<HashMap<usize, Arc<Vec<f64>>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(l) = cache.lock().ok().and_then(|c| c.get(&n).cloned()) {
        return Some(l);
    }
    let l = Arc::new(compute(n));
    if let Ok(mut c) = cache.lock() {
        if c.len() > 16 {
            c.clear();
        }
        c.insert(n, l.clone());
    }
    Some(l)
}

fn compute(n: usize) -> Vec<f64> {
    let nlat = 2 * n;
    let mut lats = vec![0.0; nlat];
    for k in 0..n {
        // Tricomi: the k-th root (1-based) of P_m is near cos(pi (k - 1/4) / (m + 1/2)).
        let mut x = (PI * (k as f64 + 0.75) / (nlat as f64 + 0.5)).cos();
        for _ in 0..100 {
            let (p, dp) = legendre(nlat, x);
            let step = p / dp;
            x -= step;
            if step.abs() < 1e-15 {
                break;
            }
        }
        let lat = x.clamp(-1.0, 1.0).asin().to_degrees();
        lats[k] = lat;
        lats[nlat - 1 - k] = -lat;
    }
    lats
}

/// P_m(x) and its derivative, by the recurrence (j+1) P_{j+1} = (2j+1) x P_j - j P_{j-1}.
fn legendre(m: usize, x: f64) -> (f64, f64) {
    let (mut p0, mut p1) = (1.0f64, x);
    for j in 1..m {
        let j = j as f64;
        let p2 = ((2.0 * j + 1.0) * x * p1 - j * p0) / (j + 1.0);
        p0 = p1;
        p1 = p2;
    }
    let dp = m as f64 * (x * p1 - p0) / (x * x - 1.0);
    (p1, dp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_latitudes() {
        // N1: the roots of P_2 are +-1/sqrt(3).
        let l = latitudes(1).unwrap();
        assert!((l[0] - (1.0f64 / 3f64.sqrt()).asin().to_degrees()).abs() < 1e-12);
        // N32 (T63): first latitude 87.8637988392 degrees (ecCodes, WMO tables).
        let l = latitudes(32).unwrap();
        assert!((l[0] - 87.863_798_839_233_3).abs() < 1e-9, "{}", l[0]);
        assert!((l[31] - 1.395_306_910_819_495).abs() < 1e-9, "{}", l[31]);
        // N640: first latitude 89.892396445590 degrees.
        let l = latitudes(640).unwrap();
        assert!((l[0] - 89.892_396_445_590_07).abs() < 1e-9, "{}", l[0]);
        assert!(l.windows(2).all(|w| w[0] > w[1]));
        assert!(latitudes(0).is_none());
    }

    #[test]
    fn roots_are_roots() {
        for n in [48, 80, 320, 1280] {
            for lat in latitudes(n).unwrap().iter().step_by(17) {
                let (p, dp) = legendre(2 * n, lat.to_radians().sin());
                assert!((p / dp).abs() < 1e-13, "N{n} {lat}: {p}");
            }
        }
    }
}
