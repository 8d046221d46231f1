//! The 8-bit quantisation of whole-field images, as WeatherLayers GL reads them:
//! `value = min + (max - min) * byte / 255` with `imageUnscale = [min, max]`, a pixel valid
//! where A = 255 and missing where A = 0.
//!
//! A scalar image holds its value in R (G = B = 0); a vector image holds u in R and v in G
//! (B = 0) over one range symmetric about zero, so both components share a scale. A byte is
//! the nearest code (halves away from zero), so a decoded value is within half a step,
//! `(max - min) / 510`, of the value encoded.

/// The value range bytes 0 and 255 stand for, always with `min < max` (WeatherLayers GL
/// takes `min >= max` to mean unquantised floats).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Unscale {
    pub min: f64,
    pub max: f64,
}

impl Unscale {
    /// The finite range of `values`; `[v, v + 1]` for a constant field (decoded exactly),
    /// `[0, 1]` when nothing is valid.
    pub fn scalar(values: &[f32]) -> Unscale {
        let mut it = values.iter().filter(|v| v.is_finite()).map(|&v| v as f64);
        let Some(first) = it.next() else {
            return Unscale { min: 0.0, max: 1.0 };
        };
        let (min, max) = it.fold((first, first), |(a, b), v| (a.min(v), b.max(v)));
        if max > min {
            Unscale { min, max }
        } else {
            Unscale {
                min,
                max: min + 1.0,
            }
        }
    }

    /// `[-m, m]` with `m` the largest magnitude of a u or v where both are valid; `[-1, 1]`
    /// when that is 0 or nothing is valid.
    pub fn symmetric(u: &[f32], v: &[f32]) -> Unscale {
        let m = u
            .iter()
            .zip(v)
            .filter(|(a, b)| a.is_finite() && b.is_finite())
            .fold(0f64, |m, (a, b)| m.max(a.abs() as f64).max(b.abs() as f64));
        let m = if m > 0.0 { m } else { 1.0 };
        Unscale { min: -m, max: m }
    }

    /// Difference between successive bytes.
    pub fn step(&self) -> f64 {
        (self.max - self.min) / 255.0
    }

    /// The byte nearest `v`, clamped to 0..=255.
    pub fn byte(&self, v: f32) -> u8 {
        ((v as f64 - self.min) / self.step())
            .round()
            .clamp(0.0, 255.0) as u8
    }

    /// The value a byte stands for.
    pub fn value(&self, byte: u8) -> f64 {
        self.min + (self.max - self.min) * byte as f64 / 255.0
    }

    /// RGBA pixels of a scalar image: R = the byte, A = 255; all 0 where missing.
    pub fn scalar_pixels(&self, values: &[f32]) -> Vec<u8> {
        let mut px = Vec::with_capacity(values.len() * 4);
        for &v in values {
            if v.is_finite() {
                px.extend_from_slice(&[self.byte(v), 0, 0, 255]);
            } else {
                px.extend_from_slice(&[0, 0, 0, 0]);
            }
        }
        px
    }

    /// RGBA pixels of a vector image: R = u, G = v, A = 255; all 0 where either is missing.
    pub fn vector_pixels(&self, u: &[f32], v: &[f32]) -> Vec<u8> {
        let mut px = Vec::with_capacity(u.len() * 4);
        for (&a, &b) in u.iter().zip(v) {
            if a.is_finite() && b.is_finite() {
                px.extend_from_slice(&[self.byte(a), self.byte(b), 0, 255]);
            } else {
                px.extend_from_slice(&[0, 0, 0, 0]);
            }
        }
        px
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_decode_within_half_a_step() {
        let values: Vec<f32> = (0..10_000)
            .map(|k| 220.0 + 100.0 * ((k as f32 * 0.618).fract()))
            .chain([f32::NAN])
            .collect();
        let s = Unscale::scalar(&values);
        assert!(s.min >= 220.0 && s.max <= 320.0 && s.max > s.min);
        let px = s.scalar_pixels(&values);
        for (v, p) in values.iter().zip(px.chunks(4)) {
            if v.is_nan() {
                assert_eq!(p, [0, 0, 0, 0]);
            } else {
                assert_eq!((p[1], p[2], p[3]), (0, 0, 255));
                let back = s.value(p[0]);
                assert!(
                    (back - *v as f64).abs() <= s.step() / 2.0 + 1e-9,
                    "{v} {back}"
                );
            }
        }
        assert_eq!(s.byte(s.min as f32), 0);
        assert_eq!(s.byte(s.max as f32), 255);
    }

    #[test]
    fn constant_empty_and_symmetric_ranges() {
        let c = Unscale::scalar(&[5.0, 5.0, f32::NAN]);
        assert_eq!((c.min, c.max), (5.0, 6.0));
        assert_eq!(c.value(c.byte(5.0)), 5.0);
        let e = Unscale::scalar(&[f32::NAN]);
        assert_eq!((e.min, e.max), (0.0, 1.0));
        let u = [3.0, -7.5, f32::NAN, 100.0];
        let v = [1.0, 2.0, 9.0, f32::NAN];
        let s = Unscale::symmetric(&u, &v);
        assert_eq!((s.min, s.max), (-7.5, 7.5));
        let px = s.vector_pixels(&u, &v);
        assert_eq!(&px[8..16], &[0; 8]);
        assert_eq!(px[4], 0);
        assert_eq!(px[3], 255);
        assert_eq!(Unscale::symmetric(&[0.0], &[0.0]).max, 1.0);
    }
}
