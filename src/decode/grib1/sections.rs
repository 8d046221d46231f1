//! The structure of one GRIB edition 1 message: where its sections are.
//!
//! A GRIB1 message is section 0 (8 octets: "GRIB", a 3-octet total length, the edition),
//! the product definition section (PDS, section 1), an optional grid description section
//! (GDS, section 2) and bit-map section (BMS, section 3) as the PDS flags say, the binary data
//! section (BDS, section 4) and "7777". Every section starts with its 3-octet length; a
//! message holds exactly one field (WMO Manual on Codes, FM 92 GRIB edition 1).
//!
//! Messages over 8 MiB do not fit the 24-bit length. ECMWF's GRIBEX (and ecCodes, which reads
//! what it wrote) sets bit 0x800000 of the total length and counts it in units of 120 octets;
//! the BDS length, then below 120, is the padding to subtract: the real length is
//! `(length & 0x7fffff) * 120 - bds_length + 4` and the real BDS runs to the "7777". A
//! flagged length whose BDS length is 120 or more is taken as written, as ecCodes does.
//! Ranges found here are checked against the message and relative to its first byte.

use crate::decode::bytes::{u24_at, u8_at};

/// Byte ranges of the sections of one GRIB1 message, relative to the bytes it was split
/// from (see [`Sections::shifted`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sections {
    /// Product definition section.
    pub pds: (usize, usize),
    /// Grid description section, when the PDS flags one.
    pub gds: Option<(usize, usize)>,
    /// Bit-map section, when the PDS flags one.
    pub bms: Option<(usize, usize)>,
    /// Binary data section.
    pub bds: (usize, usize),
}

impl Sections {
    /// The same ranges, `by` bytes further on (a message's ranges inside a larger buffer).
    pub fn shifted(self, by: usize) -> Sections {
        let r = |(a, b): (usize, usize)| (a + by, b + by);
        Sections {
            pds: r(self.pds),
            gds: self.gds.map(r),
            bms: self.bms.map(r),
            bds: r(self.bds),
        }
    }
}

/// Octets of section 0.
pub const INDICATOR: usize = 8;
/// The length flag of ECMWF's large-message convention.
pub const LARGE: u32 = 0x80_0000;
/// Octets of a PDS without local extension: everything tilecast reads is in octets 1-28.
const PDS_MIN: usize = 28;
/// Octets before the data in a BDS: length, flags, binary scale, reference, bits per value.
pub const BDS_HEADER: usize = 11;
/// Octets before the bit map in a BMS.
pub const BMS_HEADER: usize = 6;
/// Octets of the GDS fields common to every grid (length, NV, PV/PL location, type).
const GDS_MIN: usize = 6;

/// The total length of a message whose section 0 declares `declared`, given the declared
/// length of its BDS (ECMWF's large-message convention, see the module documentation).
pub fn real_length(declared: u32, bds_declared: u32) -> u64 {
    if declared & LARGE != 0 && bds_declared < 120 {
        u64::from(declared & !LARGE) * 120 - u64::from(bds_declared) + 4
    } else {
        u64::from(declared)
    }
}

/// Offset of the BDS's length in a message, from the lengths and flags `read` returns for
/// `(offset, octets)` (`None` where the data ends): the walk a reader needs before it can
/// tell a large message's length. `None` when the data ends first.
pub fn bds_offset(mut read: impl FnMut(u64, usize) -> Option<u32>) -> Option<u64> {
    let pds = u64::from(read(INDICATOR as u64, 3)?);
    let flags = read(INDICATOR as u64 + 7, 1)?;
    let mut at = INDICATOR as u64 + pds;
    for bit in [0x80, 0x40] {
        if flags & bit != 0 {
            at += u64::from(read(at, 3)?.max(1));
        }
    }
    Some(at)
}

/// The sections of the edition-1 message `msg` (from its "GRIB" to its "7777", which the
/// caller has checked), found at byte `offset` of the file. Errors name file offsets.
pub fn split(msg: &[u8], offset: u64) -> Result<Sections, String> {
    let end = msg.len();
    if end < INDICATOR + 4 || msg.get(end - 4..) != Some(b"7777") {
        return Err(format!(
            "message at byte {offset} does not end with \"7777\""
        ));
    }
    let body_end = end - 4;
    let declared = u24_at(msg, 4).unwrap_or(0);
    let mut pos = INDICATOR;
    // A section of at least `min` octets starting at `pos` and ending before "7777".
    let mut take = |what: &str, min: usize, large_bds: bool| -> Result<(usize, usize), String> {
        let at = offset + pos as u64;
        let mut len = u24_at(msg, pos)
            .filter(|_| pos + 3 <= body_end)
            .ok_or_else(|| {
                format!("message at byte {offset}: {what} at byte {at} cut short by \"7777\"")
            })? as usize;
        if large_bds && len < 120 {
            len = body_end - pos;
        }
        if len < min || len > body_end - pos {
            return Err(format!(
                "message at byte {offset}: {what} at byte {at} has length {len}, \
                 {}",
                if len < min {
                    format!("shorter than its {min}-octet header")
                } else {
                    "which runs past the end of the message".to_string()
                }
            ));
        }
        let range = (pos, pos + len);
        pos += len;
        Ok(range)
    };
    let pds = take("section 1 (product definition)", PDS_MIN, false)?;
    let flags = u8_at(msg, pds.0 + 7).unwrap_or(0);
    let gds = if flags & 0x80 != 0 {
        Some(take("section 2 (grid description)", GDS_MIN, false)?)
    } else {
        None
    };
    let bms = if flags & 0x40 != 0 {
        Some(take("section 3 (bit map)", BMS_HEADER, false)?)
    } else {
        None
    };
    let bds = take("section 4 (binary data)", BDS_HEADER, declared & LARGE != 0)?;
    Ok(Sections { pds, gds, bms, bds })
}

/// Builders of synthetic GRIB1 messages for the unit tests of the `grib1` modules.
#[cfg(test)]
pub(crate) mod build {
    /// A section: 3-octet length, then `body`.
    pub fn section(body: &[u8]) -> Vec<u8> {
        let mut s = ((body.len() + 3) as u32).to_be_bytes()[1..].to_vec();
        s.extend_from_slice(body);
        s
    }

    /// An edition-1 message: section 0, `sections`, "7777".
    pub fn message(sections: &[Vec<u8>]) -> Vec<u8> {
        let body: Vec<u8> = sections.concat();
        let total = 8 + body.len() + 4;
        let mut m = b"GRIB".to_vec();
        m.extend_from_slice(&(total as u32).to_be_bytes()[1..]);
        m.push(1);
        m.extend_from_slice(&body);
        m.extend_from_slice(b"7777");
        m
    }

    /// A PDS (octets 4-28) for ECMWF table 128 parameter `param` on a surface, 2017-10-18
    /// 12 UTC, step 6 h, with the GDS and BMS flags `flags`.
    pub fn pds(flags: u8, param: u8) -> Vec<u8> {
        let mut b = vec![
            128, 98, 148, 255, flags, param, 1, 0, 0, 17, 10, 18, 12, 0, 1, 6,
        ];
        b.extend_from_slice(&[0, 0, 0, 0, 0, 21, 0, 0, 0]);
        section(&b)
    }

    /// A regular lat/lon GDS: `ni` x `nj` points from (60N, 0E) every 1 degree to the
    /// south-east, earth-relative winds.
    pub fn latlon_gds(ni: u16, nj: u16) -> Vec<u8> {
        let mut b = vec![0, 255, 0];
        b.extend_from_slice(&ni.to_be_bytes());
        b.extend_from_slice(&nj.to_be_bytes());
        let mdeg = |v: i32| {
            let m = (v.unsigned_abs() | if v < 0 { 0x80_0000 } else { 0 }).to_be_bytes();
            [m[1], m[2], m[3]]
        };
        b.extend_from_slice(&mdeg(60_000));
        b.extend_from_slice(&mdeg(0));
        b.push(0x80);
        b.extend_from_slice(&mdeg(60_000 - (nj as i32 - 1) * 1000));
        b.extend_from_slice(&mdeg((ni as i32 - 1) * 1000));
        b.extend_from_slice(&1000u16.to_be_bytes());
        b.extend_from_slice(&1000u16.to_be_bytes());
        b.push(0);
        b.extend_from_slice(&[0; 4]);
        section(&b)
    }

    /// A simple-packing BDS: values `x` of `bits` bits, reference 100 (IBM 0x42640000),
    /// binary scale 0.
    pub fn bds(bits: u8, packed: &[u8], unused: u8) -> Vec<u8> {
        let mut b = vec![unused & 0x0f, 0, 0, 0x42, 0x64, 0, 0, bits];
        b.extend_from_slice(packed);
        section(&b)
    }
}

#[cfg(test)]
mod tests {
    use super::build::{bds, latlon_gds, message, pds, section};
    use super::*;

    #[test]
    fn sections_follow_the_pds_flags() {
        let m = message(&[
            pds(0xC0, 167),
            latlon_gds(2, 2),
            section(&[0, 0, 0, 0xF0]),
            bds(8, &[1, 2, 3, 4], 0),
        ]);
        let s = split(&m, 100).unwrap();
        assert_eq!(s.pds, (8, 36));
        assert_eq!(s.gds, Some((36, 68)));
        assert_eq!(s.bms, Some((68, 75)));
        assert_eq!(s.bds, (75, 90));
        assert_eq!(s.clone().shifted(10).pds, (18, 46));
        let plain = message(&[pds(0, 167), bds(8, &[1], 0)]);
        let s = split(&plain, 0).unwrap();
        assert_eq!((s.gds, s.bms), (None, None));
    }

    #[test]
    fn every_cut_and_broken_length_is_an_error_naming_file_offsets() {
        let m = message(&[pds(0x80, 167), latlon_gds(2, 2), bds(8, &[1, 2, 3, 4], 0)]);
        for cut in 0..m.len() - 4 {
            let mut cut_msg = m[..cut].to_vec();
            cut_msg.extend_from_slice(b"7777");
            assert!(split(&cut_msg, 7).is_err(), "cut {cut}");
        }
        let mut broken = m.clone();
        broken[36..39].copy_from_slice(&[0, 0x10, 0]); // GDS claims 4096 octets
        let e = split(&broken, 1000).unwrap_err();
        assert!(
            e.contains("message at byte 1000") && e.contains("byte 1036"),
            "{e}"
        );
        assert!(e.contains("section 2"), "{e}");
        let mut short = m.clone();
        short[8..11].copy_from_slice(&[0, 0, 3]); // a PDS of 3 octets
        assert!(split(&short, 0).unwrap_err().contains("shorter than"));
    }

    #[test]
    fn large_messages_take_their_length_in_units_of_120() {
        assert_eq!(real_length(1234, 5), 1234);
        assert_eq!(real_length(LARGE | 100, 30), 100 * 120 - 30 + 4);
        assert_eq!(real_length(LARGE | 100, 500), u64::from(LARGE | 100));
        // The BDS of a large message runs to "7777", whatever its length field says.
        let mut m = message(&[pds(0, 167), bds(8, &[9; 200], 0)]);
        m[4..7].copy_from_slice(&(LARGE | 2).to_be_bytes()[1..]);
        let at = 8 + 28;
        m[at..at + 3].copy_from_slice(&[0, 0, 12]);
        let s = split(&m, 0).unwrap();
        assert_eq!(s.bds, (at, m.len() - 4));
        // The walk to the BDS length, through the flagged sections.
        let m = message(&[
            pds(0xC0, 167),
            latlon_gds(2, 2),
            section(&[0, 0, 0, 0xF0]),
            bds(8, &[1], 0),
        ]);
        let read = |off: u64, n: usize| {
            let o = off as usize;
            let b = m.get(o..o + n)?;
            Some(b.iter().fold(0u32, |a, &x| a << 8 | x as u32))
        };
        assert_eq!(bds_offset(read), Some(75));
        assert_eq!(bds_offset(|_, _| None), None);
    }
}
