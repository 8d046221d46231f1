//! The GRIB1 bit-map section (BMS) and binary data section (BDS): values from bits.
//!
//! BDS octets (1-based): 4 flags (code table 11: 0x80 spherical harmonics, 0x40 second-order
//! ("complex") packing, 0x20 integer original values, 0x10 more flags in octet 14) in the high
//! half and the count of unused bits at the end of the section in the low half, 5-6 the binary
//! scale factor E (sign and magnitude), 7-10 the reference value R (an IBM float), 11 bits per
//! value, then the packed values. Simple packing decodes `Y = (R + X * 2^E) * 10^-D`, computed
//! in `f64` as ecCodes does; with no bits per value every value is R, unscaled, as ecCodes
//! decodes a constant field. Spherical harmonics, second-order and IEEE packings are refused.
//!
//! BMS octets: 4 unused bits at the end, 5-6 the number of a predefined bit map (0: the bit map
//! follows, one bit per grid point, 1 = value present).

use crate::decode::bytes::{i16sm_at, ibm_f64_at, u16_at, u8_at, BitReader};

use super::sections::{BDS_HEADER, BMS_HEADER};

/// The scaling and layout of a BDS with simple packing.
#[derive(Debug, Clone, Copy)]
pub struct Simple {
    pub reference: f64,
    pub binary: i32,
    pub bits: u32,
    /// Unused bits at the end of the section.
    pub unused: u32,
}

impl Simple {
    /// Half the quantisation step for decimal scale factor `decimal`.
    pub fn precision(&self, decimal: i32) -> f64 {
        0.5 * 2f64.powi(self.binary) * 10f64.powi(-decimal)
    }
}

/// The packing of a BDS: simple packing, or ecCodes' name for the packing it is.
pub fn packing(bds: &[u8]) -> Result<Simple, &'static str> {
    let flags = u8_at(bds, 3).ok_or("section 4 too short")?;
    if flags & 0x80 != 0 {
        return Err(if flags & 0x40 != 0 {
            "spectral_complex (spherical harmonics)"
        } else {
            "spectral_simple (spherical harmonics)"
        });
    }
    if flags & 0x40 != 0 {
        return Err("grid_second_order (second-order packing)");
    }
    if flags & 0x10 != 0 {
        return Err("grid_ieee or another packing with extended flags");
    }
    Ok(Simple {
        reference: ibm_f64_at(bds, 6).ok_or("section 4 too short")?,
        binary: i16sm_at(bds, 4).ok_or("section 4 too short")?,
        bits: u8_at(bds, 10).ok_or("section 4 too short")? as u32,
        unused: (flags & 0x0f) as u32,
    })
}

/// The bit map of a BMS covering `points` grid points, or why there is none to use: the
/// number of a predefined bit map (`Ok(Err(n))`), or a corrupt section (`Err`).
pub fn bitmap(bms: &[u8], points: usize) -> Result<Result<&[u8], u16>, String> {
    let table = u16_at(bms, 4).ok_or("section 3 too short")?;
    if table != 0 {
        return Ok(Err(table));
    }
    let bits = &bms[BMS_HEADER.min(bms.len())..];
    let unused = u8_at(bms, 3).unwrap_or(0) as usize;
    let have = (bits.len() * 8).saturating_sub(unused);
    if have < points {
        return Err(format!("{have} bits for {points} grid points"));
    }
    Ok(Ok(bits))
}

/// `n` values packed in `bds` with simple packing `sc` and decimal scale factor `decimal`.
pub fn simple(bds: &[u8], sc: Simple, decimal: i32, n: usize) -> Result<Vec<f32>, String> {
    if sc.bits == 0 {
        return Ok(vec![sc.reference as f32; n]);
    }
    if sc.bits > 32 {
        return Err(format!("{} bits per value", sc.bits));
    }
    let data = &bds[BDS_HEADER.min(bds.len())..];
    let have = (data.len() as u64 * 8).saturating_sub(sc.unused as u64);
    let need = n as u64 * sc.bits as u64;
    if have < need {
        return Err(format!(
            "{n} values of {} bits need {need} bits, section 4 has {have}",
            sc.bits
        ));
    }
    let scale = 2f64.powi(sc.binary);
    let decimal = 10f64.powi(-decimal);
    let mut r = BitReader::new(data);
    Ok((0..n)
        .map(|_| ((r.read(sc.bits) as f64 * scale + sc.reference) * decimal) as f32)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::super::sections::build::{bds, section};
    use super::*;

    #[test]
    fn simple_packing_scales_values() {
        // 4 values of 4 bits (1, 2, 15, 0), R = 100, E = 0; D = 1: (100 + x) / 10.
        let b = bds(4, &[0x12, 0xF0], 0);
        let sc = packing(&b).unwrap();
        assert_eq!(simple(&b, sc, 1, 4).unwrap(), vec![10.1, 10.2, 11.5, 10.0]);
        assert_eq!(sc.precision(1), 0.05);
        // 4 unused bits at the end: only 3 values are there.
        let short = bds(4, &[0x12, 0xF0], 4);
        let sc = packing(&short).unwrap();
        assert!(simple(&short, sc, 0, 4)
            .unwrap_err()
            .contains("need 16 bits"));
        assert_eq!(simple(&short, sc, 0, 3).unwrap(), vec![101.0, 102.0, 115.0]);
        // No bits per value: the reference value, unscaled.
        let constant = bds(0, &[], 0);
        let sc = packing(&constant).unwrap();
        assert_eq!(simple(&constant, sc, 2, 3).unwrap(), vec![100.0; 3]);
    }

    #[test]
    fn other_packings_are_named() {
        let mut b = bds(8, &[1], 0);
        b[3] = 0x80;
        assert!(packing(&b).unwrap_err().contains("spherical harmonics"));
        b[3] = 0xC0;
        assert!(packing(&b).unwrap_err().starts_with("spectral_complex"));
        b[3] = 0x40;
        assert!(packing(&b).unwrap_err().contains("second-order"));
        b[3] = 0x30;
        assert!(packing(&b).unwrap_err().contains("ieee"));
        for cut in 0..BDS_HEADER {
            assert!(packing(&b[..cut]).is_err(), "cut {cut}");
        }
        b[3] = 0;
        b[10] = 40;
        let sc = packing(&b).unwrap();
        assert!(simple(&b, sc, 0, 1).unwrap_err().contains("40 bits"));
    }

    #[test]
    fn bit_maps_mark_missing_points() {
        let bms = section(&[4, 0, 0, 0b1011_0000]);
        let bits = bitmap(&bms, 4).unwrap().unwrap();
        assert_eq!(crate::decode::grib::count_ones(bits, 4), 3);
        let v = crate::decode::grib::expand(bits, &[1.0, 2.0, 3.0], 4);
        assert_eq!(v[0], 1.0);
        assert!(v[1].is_nan());
        assert_eq!(&v[2..], &[2.0, 3.0]);
        assert!(bitmap(&bms, 5).unwrap_err().contains("4 bits for 5"));
        let predefined = section(&[0, 0, 7]);
        assert_eq!(bitmap(&predefined, 4).unwrap(), Err(7));
        assert!(bitmap(&predefined[..4], 4).is_err());
    }
}
