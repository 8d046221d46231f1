//! Colour ranges: where a layer's range came from, the data-driven range used when nothing
//! is known about a field, and which ends of the colour bar get an extend arrow.
//!
//! A known quantity's range comes from the quantity and its level
//! ([`crate::render::quantity`]). When nothing is known, [`data_range`] takes the 2nd and
//! 98th percentiles of the finite values and rounds them outward to "nice" values, so one
//! outlier neither stretches the colours nor shifts them between runs; a signed departure
//! (an anomaly) gets a range symmetric around zero. A data-driven range differs from one
//! time step to the next, so a caller that renders a series may agree one range for it and
//! pass it in (see [`crate::run::layer::style`]).

use serde::Serialize;

/// Where a layer's colour range came from, as legend.json states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RangeSource {
    /// `--range`.
    Settings,
    /// The default range of a palette given with `--palette`.
    Palette,
    /// The quantity and its level.
    Quantity,
    /// This field's values (robust percentiles).
    Data,
    /// A range the caller agreed for the whole series, in place of [`RangeSource::Data`].
    Series,
}

/// Which ends of the colour bar values may lie beyond, drawn as arrows (triangles).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Extend {
    Neither,
    Min,
    Max,
    Both,
}

impl Extend {
    /// Arrows at each end not at a physical bound of the quantity (precipitation has none
    /// below 0, relative humidity none beyond 0 and 100). Never from the data, so every time
    /// step of a series has the same legend. `range` and `bounds` are in the same units.
    pub fn of(range: (f64, f64), bounds: (Option<f64>, Option<f64>)) -> Extend {
        let at = |end: f64, bound: Option<f64>| {
            bound.is_some_and(|b| (end - b).abs() <= 1e-9 * b.abs().max(1.0))
        };
        match (!at(range.0, bounds.0), !at(range.1, bounds.1)) {
            (true, true) => Extend::Both,
            (true, false) => Extend::Min,
            (false, true) => Extend::Max,
            (false, false) => Extend::Neither,
        }
    }

    pub fn min(self) -> bool {
        matches!(self, Extend::Min | Extend::Both)
    }

    pub fn max(self) -> bool {
        matches!(self, Extend::Max | Extend::Both)
    }
}

/// `v` to 12 significant digits, so unit conversions leave no binary noise:
/// 223.14999999999998 is 223.15.
pub fn tidy(v: f64) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    format!("{v:.11e}").parse().unwrap_or(v)
}

/// The `q`-quantiles (each in [0, 1]) of the finite values, by nearest rank; `None` when no
/// value is finite.
pub fn percentiles(values: &[f32], qs: &[f64]) -> Option<Vec<f64>> {
    let mut v: Vec<f32> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    let n = v.len();
    Some(
        qs.iter()
            .map(|q| {
                let k = ((q.clamp(0.0, 1.0) * (n - 1) as f64).round() as usize).min(n - 1);
                *v.select_nth_unstable_by(k, f32::total_cmp).1 as f64
            })
            .collect(),
    )
}

/// A "nice" step (1, 2, 2.5 or 5 × 10^k) of at least `raw`.
pub fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw * (1.0 - 1e-12))
        .unwrap_or(10.0 * mag)
}

/// `[lo, hi]` widened to multiples of a nice step of about a tenth of its width.
pub fn nice_outward(lo: f64, hi: f64) -> (f64, f64) {
    let step = nice_step((hi - lo) / 10.0);
    // Steps counted to 9 digits, so 0.3 / 0.1 = 2.9999999999999996 is 3 steps.
    let steps = |v: f64| (v / step * 1e9).round() / 1e9;
    // Round away binary noise (0.30000000000000004) and negative zero.
    let f = 10f64.powi((2.0 - step.log10().floor()).max(0.0) as i32);
    let clean = |v: f64| (v * f).round() / f + 0.0;
    (
        clean(steps(lo).floor() * step),
        clean(steps(hi).ceil() * step),
    )
}

/// The data-driven range: the 2nd to 98th percentile of the finite values rounded outward to
/// nice values; the whole finite range when those percentiles are equal (a field that is
/// mostly one value, such as rain); symmetric around zero when `symmetric`. `None` when no
/// value is finite.
pub fn data_range(values: &[f32], symmetric: bool) -> Option<(f64, f64)> {
    let p = percentiles(values, &[0.0, 0.02, 0.98, 1.0])?;
    let (min, lo, hi, max) = (p[0], p[1], p[2], p[3]);
    let (lo, hi) = if symmetric {
        let m = lo.abs().max(hi.abs());
        let m = if m > 0.0 { m } else { min.abs().max(max.abs()) };
        (-m, m)
    } else if hi > lo {
        (lo, hi)
    } else {
        (min, max)
    };
    if hi > lo {
        let (a, b) = nice_outward(lo, hi);
        if symmetric {
            let m = a.abs().max(b.abs());
            return Some((-m, m));
        }
        return Some((a, b));
    }
    // A constant field: a unit-wide range around its value.
    let half = if lo == 0.0 { 0.5 } else { lo.abs() * 0.5 };
    Some((lo - half, lo + half))
}

/// Whether the values plainly contradict a quantity's range: their median lies more than
/// one range width outside it. This happens when a file's units are wrong (°C values
/// labelled K, a mis-coded parameter); such a field gets the data-driven range instead.
pub fn contradicts(values: &[f32], range: (f64, f64)) -> bool {
    let Some(m) = percentiles(values, &[0.5]) else {
        return false;
    };
    let w = range.1 - range.0;
    m[0] < range.0 - w || m[0] > range.1 + w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank_ignore_missing_values() {
        let v: Vec<f32> = (0..=100).map(|k| k as f32).chain([f32::NAN]).collect();
        assert_eq!(
            percentiles(&v, &[0.0, 0.02, 0.5, 0.98, 1.0]).unwrap(),
            vec![0.0, 2.0, 50.0, 98.0, 100.0]
        );
        assert_eq!(percentiles(&[f32::NAN], &[0.5]), None);
    }

    #[test]
    fn nice_values_round_outward() {
        assert_eq!(nice_outward(-15.23, -1.6), (-16.0, 0.0));
        assert!(nice_outward(-15.23, -1.6).1.is_sign_positive());
        assert_eq!(nice_outward(3.6, 21.8), (2.0, 22.0));
        assert_eq!(nice_outward(0.0, 1.0), (0.0, 1.0));
        assert_eq!(nice_outward(0.013, 0.287), (0.0, 0.3));
        assert_eq!(nice_step(0.3), 0.5);
    }

    #[test]
    fn the_data_range_ignores_outliers() {
        let mut v: Vec<f32> = (0..1000).map(|k| 10.0 + k as f32 / 100.0).collect();
        v.extend([1e6, -1e6, f32::NAN]);
        assert_eq!(data_range(&v, false), Some((10.0, 20.0)));
        // Mostly zero: the whole range.
        let mut rain = vec![0.0f32; 1000];
        rain[3] = 12.3;
        assert_eq!(data_range(&rain, false), Some((0.0, 14.0)));
        assert_eq!(data_range(&[5.0, 5.0], false), Some((2.5, 7.5)));
        assert_eq!(data_range(&[0.0], false), Some((-0.5, 0.5)));
        assert_eq!(data_range(&[f32::NAN], false), None);
    }

    #[test]
    fn a_signed_data_range_is_symmetric() {
        let v: Vec<f32> = (0..1000).map(|k| -3.0 + k as f32 / 100.0).collect();
        let (a, b) = data_range(&v, true).unwrap();
        assert_eq!(a, -b);
        assert!((6.8..=8.0).contains(&b), "{b}");
    }

    #[test]
    fn arrows_only_where_values_can_pass_the_range() {
        assert_eq!(Extend::of((-50.0, 50.0), (None, None)), Extend::Both);
        assert_eq!(Extend::of((0.0, 50.0), (Some(0.0), None)), Extend::Max);
        assert_eq!(
            Extend::of((0.0, 100.0), (Some(0.0), Some(100.0))),
            Extend::Neither
        );
        assert_eq!(Extend::of((-500.0, 0.0), (None, Some(0.0))), Extend::Min);
        // A range inside the bounds: values can pass both ends.
        assert_eq!(
            Extend::of((10.0, 90.0), (Some(0.0), Some(100.0))),
            Extend::Both
        );
        assert_eq!(
            serde_json::to_string(&Extend::Neither).unwrap(),
            "\"neither\""
        );
    }

    #[test]
    fn mislabelled_values_contradict_the_range() {
        // °C values labelled K against 223..323 K.
        let v: Vec<f32> = (0..100).map(|k| -3.0 + k as f32 / 20.0).collect();
        assert!(contradicts(&v, (223.15, 323.15)));
        let t: Vec<f32> = (0..100).map(|k| 250.0 + k as f32 / 2.0).collect();
        assert!(!contradicts(&t, (223.15, 323.15)));
        // Far past one end, but within a range width: not a contradiction.
        assert!(!contradicts(&t, (290.0, 330.0)));
    }
}
