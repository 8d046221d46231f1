//! Unpacking of GRIB2 grid-point data for the templates tilecast decodes itself:
//! 5.0 simple packing, 5.2 complex packing and 5.3 complex packing with spatial differencing.
//!
//! These are the packings of most operational files, so they are written here for speed
//! (one pass, f32 output, no intermediate bit vectors) and for safety (every group
//! descriptor is checked against the bytes present before the value loop starts). The
//! algorithm follows WMO FM 92 GRIB2 templates 5.2/5.3 and 7.2/7.3 and NCEP g2clib's
//! comunpack; values are computed in f64 as ecCodes does, then stored as f32.

use crate::decode::bytes::{f32_at, i16sm_at, sign_magnitude, u16_at, u32_at, u8_at, BitReader};

/// Scaling common to all grid-point packings: Y = (R + X * 2^E) * 10^-D.
#[derive(Debug, Clone, Copy)]
pub struct Scaling {
    pub reference: f32,
    pub binary: i32,
    pub decimal: i32,
    pub bits: u32,
}

impl Scaling {
    /// Octets 12-20 of section 5, shared by templates 5.0, 5.2, 5.3, 5.40, 5.41 and 5.42.
    pub fn read(s5: &[u8]) -> Option<Scaling> {
        Some(Scaling {
            reference: f32_at(s5, 11)?,
            binary: i16sm_at(s5, 15)?,
            decimal: i16sm_at(s5, 17)?,
            bits: u8_at(s5, 19)? as u32,
        })
    }

    /// Half the quantisation step: the best precision a decoder can promise.
    pub fn precision(&self) -> f64 {
        0.5 * 2f64.powi(self.binary) * 10f64.powi(-self.decimal)
    }

    /// The scaling as `(reference, 2^E, 10^-D)`, computed once per field: `powi` per value
    /// would dominate the unpacking loops.
    fn factors(&self) -> (f64, f64, f64) {
        (
            self.reference as f64,
            2f64.powi(self.binary),
            10f64.powi(-self.decimal),
        )
    }

    /// Constant fields (no bits per value) decode to the reference value unscaled, as
    /// ecCodes, wgrib2 and GDAL do (an old NCEP encoder convention).
    fn constant(&self, n: usize) -> Vec<f32> {
        vec![self.reference; n]
    }
}

/// Template 5.0: `n` values of `bits` bits each.
pub fn simple(s5: &[u8], data: &[u8], n: usize) -> Result<Vec<f32>, String> {
    let sc = Scaling::read(s5).ok_or("section 5 too short")?;
    if sc.bits == 0 {
        return Ok(sc.constant(n));
    }
    if sc.bits > 32 {
        return Err(format!("{} bits per value", sc.bits));
    }
    let need = (n * sc.bits as usize).div_ceil(8);
    if data.len() < need {
        return Err(format!(
            "{n} values of {} bits need {need} bytes, section 7 has {}",
            sc.bits,
            data.len()
        ));
    }
    let (scale, offset) = (
        2f64.powi(sc.binary) * 10f64.powi(-sc.decimal),
        sc.reference as f64 * 10f64.powi(-sc.decimal),
    );
    let mut r = BitReader::new(data);
    Ok((0..n)
        .map(|_| (offset + r.read(sc.bits) as f64 * scale) as f32)
        .collect())
}

/// Group descriptors of templates 5.2/5.3 (octets 32-47 of section 5).
struct Groups {
    count: usize,
    width_ref: u32,
    width_bits: u32,
    length_ref: u32,
    length_inc: u32,
    last_length: u32,
    length_bits: u32,
}

/// Templates 5.2 and 5.3: `n` values (the points present after any bitmap).
pub fn complex(s5: &[u8], data: &[u8], n: usize, spatial: bool) -> Result<Vec<f32>, String> {
    let short = || "section 5 too short for complex packing".to_string();
    let sc = Scaling::read(s5).ok_or_else(short)?;
    let missing_mgmt = u8_at(s5, 22).ok_or_else(short)?;
    let g = Groups {
        count: u32_at(s5, 31).ok_or_else(short)? as usize,
        width_ref: u8_at(s5, 35).ok_or_else(short)? as u32,
        width_bits: u8_at(s5, 36).ok_or_else(short)? as u32,
        length_ref: u32_at(s5, 37).ok_or_else(short)?,
        length_inc: u8_at(s5, 41).ok_or_else(short)? as u32,
        last_length: u32_at(s5, 42).ok_or_else(short)?,
        length_bits: u8_at(s5, 46).ok_or_else(short)? as u32,
    };
    if g.count == 0 {
        return Ok(sc.constant(n));
    }
    if sc.bits > 32 || g.width_bits > 32 || g.length_bits > 32 {
        return Err("descriptor bit widths above 32".into());
    }
    if g.count > n {
        return Err(format!("{} groups for {n} values", g.count));
    }
    let mut r = BitReader::new(data);
    // 5.3: first value(s) and minimum of the differences, each `octets` bytes, signed.
    let (order, extras) = if spatial {
        let order = u8_at(s5, 47).ok_or_else(short)? as usize;
        let octets = u8_at(s5, 48).ok_or_else(short)? as u32;
        if !(1..=2).contains(&order) || octets == 0 || octets > 4 {
            return Err(format!(
                "spatial differencing order {order} with {octets}-byte descriptors"
            ));
        }
        let mut ex = [0i64; 3];
        for v in ex.iter_mut().take(order + 1) {
            *v = sign_magnitude(r.read(octets * 8) as u64, octets * 8);
        }
        (order, ex)
    } else {
        (0, [0; 3])
    };
    // Group references, widths and lengths, each block starting on an octet boundary.
    let refs: Vec<u32> = (0..g.count).map(|_| r.read(sc.bits)).collect();
    r.align();
    let widths: Vec<u32> = (0..g.count)
        .map(|_| g.width_ref + r.read(g.width_bits))
        .collect();
    r.align();
    let mut lengths: Vec<u32> = (0..g.count)
        .map(|_| {
            g.length_ref
                .wrapping_add(r.read(g.length_bits).wrapping_mul(g.length_inc))
        })
        .collect();
    r.align();
    if r.position() > r.len_bits() {
        return Err("group descriptors run past the end of section 7".into());
    }
    *lengths.last_mut().expect("count > 0") = g.last_length;
    let total: u64 = lengths.iter().map(|&l| l as u64).sum();
    if total != n as u64 {
        return Err(format!(
            "group lengths add up to {total}, expected {n} values"
        ));
    }
    let value_bits: u64 = widths
        .iter()
        .zip(&lengths)
        .map(|(&w, &l)| w as u64 * l as u64)
        .sum();
    if widths.iter().any(|&w| w > 32) {
        return Err("group width above 32 bits".into());
    }
    if r.position() as u64 + value_bits > r.len_bits() as u64 {
        return Err(format!(
            "packed values need {} bits, section 7 has {}",
            value_bits,
            r.len_bits() - r.position().min(r.len_bits())
        ));
    }

    // Integer values with missing ones marked; GRIB2 notes to template 5.2: with missing
    // value management, all-ones (primary) and all-ones-minus-one (secondary) are missing,
    // in the packed value or, for zero-width groups, in the group reference.
    let all_ones = |bits: u32| {
        if bits == 0 {
            0
        } else {
            u32::MAX >> (32 - bits)
        }
    };
    let missing = |v: u32, bits: u32| -> bool {
        (missing_mgmt >= 1 && v == all_ones(bits))
            || (missing_mgmt == 2 && bits > 0 && v == all_ones(bits) - 1)
    };
    let (rv, bs, ds) = sc.factors();
    let scale = |x: i64| ((rv + x as f64 * bs) * ds) as f32;
    if order == 0 {
        // Without differencing each value is final as soon as it is read: no integer pass.
        let mut out: Vec<f32> = Vec::with_capacity(n);
        for ((&reference, &width), &length) in refs.iter().zip(&widths).zip(&lengths) {
            if width == 0 {
                let v = if missing_mgmt > 0 && missing(reference, sc.bits) {
                    f32::NAN
                } else {
                    scale(reference as i64)
                };
                out.extend(std::iter::repeat_n(v, length as usize));
            } else {
                for _ in 0..length {
                    let v = r.read(width);
                    out.push(if missing_mgmt > 0 && missing(v, width) {
                        f32::NAN
                    } else {
                        scale(reference as i64 + v as i64)
                    });
                }
            }
        }
        return Ok(out);
    }
    let mut ints: Vec<i64> = Vec::with_capacity(n);
    let mut is_missing: Vec<bool> = if missing_mgmt > 0 {
        Vec::with_capacity(n)
    } else {
        Vec::new()
    };
    for ((&reference, &width), &length) in refs.iter().zip(&widths).zip(&lengths) {
        if width == 0 {
            let m = missing_mgmt > 0 && missing(reference, sc.bits);
            for _ in 0..length {
                ints.push(reference as i64);
                if missing_mgmt > 0 {
                    is_missing.push(m);
                }
            }
        } else {
            for _ in 0..length {
                let v = r.read(width);
                if missing_mgmt > 0 {
                    is_missing.push(missing(v, width));
                }
                ints.push(reference as i64 + v as i64);
            }
        }
    }

    undo_spatial_differencing(&mut ints, &is_missing, order, extras);
    Ok(if missing_mgmt > 0 {
        ints.iter()
            .zip(&is_missing)
            .map(|(&x, &m)| if m { f32::NAN } else { scale(x) })
            .collect()
    } else {
        ints.iter().map(|&x| scale(x)).collect()
    })
}

/// Restores values from first- or second-order differences, over non-missing values only
/// (missing points are not part of the differenced sequence, as in g2clib).
fn undo_spatial_differencing(ints: &mut [i64], missing: &[bool], order: usize, ex: [i64; 3]) {
    let minsd = ex[order];
    let mut seen = 0usize;
    let (mut prev1, mut prev2) = (0i64, 0i64);
    for k in 0..ints.len() {
        if !missing.is_empty() && missing[k] {
            continue;
        }
        let v = match (order, seen) {
            (_, 0) => ex[0],
            (2, 1) => ex[1],
            (1, _) => ints[k] + minsd + prev1,
            _ => ints[k] + minsd + 2 * prev1 - prev2,
        };
        ints[k] = v;
        prev2 = prev1;
        prev1 = v;
        seen += 1;
    }
}

/// Number of values packed in section 7 (section 5 octets 6-9).
pub fn packed_count(s5: &[u8]) -> Option<usize> {
    u32_at(s5, 5).map(|v| v as usize)
}

/// Data representation template number (section 5 octets 10-11).
pub fn template_number(s5: &[u8]) -> Option<u16> {
    u16_at(s5, 9)
}

/// ecCodes' name for a data representation template.
pub fn packing_name(template: u16) -> &'static str {
    match template {
        0 => "grid_simple",
        1 => "grid_simple_matrix",
        2 => "grid_complex",
        3 => "grid_complex_spatial_differencing",
        4 => "grid_ieee",
        40 => "grid_jpeg",
        41 => "grid_png",
        42 => "grid_ccsds",
        50 => "spectral_simple",
        51 => "spectral_complex",
        61 => "grid_simple_log_preprocessing",
        200 => "grid_run_length",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s5(template: u16, n: u32, reference: f32, e: i16, d: i16, bits: u8, rest: &[u8]) -> Vec<u8> {
        let mut s = vec![0, 0, 0, 0, 5];
        s.extend_from_slice(&n.to_be_bytes());
        s.extend_from_slice(&template.to_be_bytes());
        s.extend_from_slice(&reference.to_be_bytes());
        let sm = |v: i16| {
            if v < 0 {
                0x8000 | (-v) as u16
            } else {
                v as u16
            }
        };
        s.extend_from_slice(&sm(e).to_be_bytes());
        s.extend_from_slice(&sm(d).to_be_bytes());
        s.push(bits);
        s.push(0);
        s.extend_from_slice(rest);
        let len = s.len() as u32;
        s[..4].copy_from_slice(&len.to_be_bytes());
        s
    }

    #[test]
    fn simple_packing_scales_values() {
        // 4 values of 4 bits: 1, 2, 15, 0 ; R = 10, E = 1, D = 1 -> (10 + 2x) / 10
        let s = s5(0, 4, 10.0, 1, 1, 4, &[]);
        let v = simple(&s, &[0x12, 0xF0], 4).unwrap();
        assert_eq!(v, vec![1.2, 1.4, 4.0, 1.0]);
        assert!(simple(&s, &[0x12], 4).is_err(), "short data is an error");
    }

    #[test]
    fn spatial_differencing_first_order() {
        // Sequence 5, 7, 8, 8 -> first differences 2, 1, 0 ; minsd = 0.
        let ints = &mut [0i64, 2, 1, 0];
        undo_spatial_differencing(ints, &[], 1, [5, 0, 0]);
        assert_eq!(ints, &[5, 7, 8, 8]);
        // Second order: 1, 2, 4, 7 -> second differences 1, 1 with minsd 1 -> packed 0, 0.
        let ints = &mut [0i64, 0, 0, 0];
        undo_spatial_differencing(ints, &[], 2, [1, 2, 1]);
        assert_eq!(ints, &[1, 2, 4, 7]);
        // Missing points are skipped by the sequence.
        let ints = &mut [0i64, 99, 2, 1];
        undo_spatial_differencing(ints, &[false, true, false, false], 1, [5, 0, 0]);
        assert_eq!(ints[0], 5);
        assert_eq!(ints[2], 7);
        assert_eq!(ints[3], 8);
    }
}
