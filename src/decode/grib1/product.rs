//! The GRIB1 product definition section (PDS): what the field is, its level, and when.
//!
//! Octets (1-based, WMO FM 92 GRIB edition 1, section 1): 4 table 2 version, 5 centre,
//! 6 generating process, 8 GDS/BMS flags, 9 parameter (code table 2), 10 level type (code
//! table 3), 11-12 level (one value, or the top and bottom of a layer), 13-17 reference time
//! (year of century, month, day, hour, minute), 18 time unit (code table 4), 19-20 P1 and P2,
//! 21 time range indicator (code table 5), 25 century, 26 subcentre, 27-28 decimal scale
//! factor D (sign and magnitude).
//!
//! Levels are mapped to GRIB2 code table 4.5 and SI values, then labelled by the same code as
//! GRIB2 levels (`850hPa`, `2m`, `sfc`, `0-0.1m_below`). The valid time is the reference time
//! plus the end of the step as ecCodes computes `validityDate`/`validityTime`: P1 for
//! instantaneous products (time range indicators 0, 1, and 14 at ECMWF), P1 and P2 read as
//! one 16-bit number for indicator 10, P2 otherwise; a month step counts 30 days, as ecCodes.

use chrono::{Duration, NaiveDate, NaiveDateTime};

use crate::decode::bytes::{i16sm_at, u8_at};
use crate::decode::grib_meta::describe_level;
use crate::decode::Level;

/// What the PDS says.
#[derive(Debug, Clone)]
pub struct Pds {
    pub table: u8,
    pub centre: u8,
    pub subcentre: u8,
    pub parameter: u8,
    pub level_type: u8,
    /// Octets 11-12: one 16-bit value, or a layer's top and bottom.
    pub level: [u8; 2],
    pub reference: Option<NaiveDateTime>,
    pub unit: u8,
    pub p1: u8,
    pub p2: u8,
    pub time_range: u8,
    /// Decimal scale factor D: values are multiplied by 10^-D.
    pub decimal: i32,
}

impl Pds {
    /// Reads a PDS of at least 28 octets (the splitter checked the length).
    pub fn read(s1: &[u8]) -> Option<Pds> {
        let b = |octet: usize| u8_at(s1, octet - 1);
        let reference = (|| {
            let year = (b(25)? as i32 - 1) * 100 + b(13)? as i32;
            NaiveDate::from_ymd_opt(year, b(14)? as u32, b(15)? as u32)?.and_hms_opt(
                b(16)? as u32,
                b(17)? as u32,
                0,
            )
        })();
        Some(Pds {
            table: b(4)?,
            centre: b(5)?,
            subcentre: b(26)?,
            parameter: b(9)?,
            level_type: b(10)?,
            level: [b(11)?, b(12)?],
            reference,
            unit: b(18)?,
            p1: b(19)?,
            p2: b(20)?,
            time_range: b(21)?,
            decimal: i16sm_at(s1, 26)?,
        })
    }

    /// Whether ECMWF's local tables apply (ecCodes: table 2 version 128 and above, from
    /// ECMWF or from another centre's subcentre 98).
    pub fn ecmwf_table(&self) -> bool {
        self.table >= 128 && (self.centre == 98 || self.subcentre == 98)
    }

    /// The valid time, as ecCodes' `validityDate`/`validityTime` (see the module docs).
    pub fn valid_time(&self) -> Option<NaiveDateTime> {
        let end = match self.time_range {
            10 => i64::from(u16::from_be_bytes([self.p1, self.p2])),
            0 | 1 => i64::from(self.p1),
            14 if self.centre == 98 => i64::from(self.p1),
            _ => i64::from(self.p2),
        };
        let seconds: i64 = match self.unit {
            0 => 60,
            1 => 3600,
            2 => 86_400,
            3 => 30 * 86_400,
            10 => 3 * 3600,
            11 => 6 * 3600,
            12 => 12 * 3600,
            13 => 15 * 60,
            14 => 30 * 60,
            15 | 254 => 1,
            _ if end == 0 => 0,
            _ => return None,
        };
        self.reference?
            .checked_add_signed(Duration::try_seconds(end * seconds)?)
    }

    /// The level in tilecast's terms (code table 3).
    pub fn level(&self) -> Level {
        let [top, bottom] = self.level.map(f64::from);
        let one = f64::from(u16::from_be_bytes(self.level));
        // (GRIB2 code table 4.5 type, value in its SI unit), for a level or a layer.
        let level = |t: u8, v: Option<f64>| describe_level(Some((t, v)), None);
        let layer = |t: u8, top: f64, bottom: f64| {
            describe_level(Some((t, Some(bottom))), Some((t, Some(top))))
        };
        match self.level_type {
            1..=4 | 6..=8 => level(self.level_type, None),
            9 => level(9, None),
            20 => level(20, Some(one / 100.0)),
            100 => level(100, Some(one * 100.0)),
            101 => layer(100, top * 1000.0, bottom * 1000.0),
            102 => level(101, None),
            103 => level(102, Some(one)),
            104 => layer(102, top * 100.0, bottom * 100.0),
            105 => level(103, Some(one)),
            106 => layer(103, top * 100.0, bottom * 100.0),
            107 => level(104, Some(one / 10_000.0)),
            108 => layer(104, top / 100.0, bottom / 100.0),
            109 => level(105, Some(one)),
            110 => layer(105, top, bottom),
            111 => level(106, Some(one / 100.0)),
            112 => layer(106, top / 100.0, bottom / 100.0),
            113 => level(107, Some(one)),
            114 => layer(107, 475.0 - top, 475.0 - bottom),
            115 => level(108, Some(one * 100.0)),
            116 => layer(108, top * 100.0, bottom * 100.0),
            117 => level(109, Some(one * 1e-9)),
            121 => layer(100, (1100.0 - top) * 100.0, (1100.0 - bottom) * 100.0),
            125 => level(103, Some(one / 100.0)),
            128 => layer(104, 1.1 - top / 1000.0, 1.1 - bottom / 1000.0),
            141 => layer(100, top * 1000.0, (1100.0 - bottom) * 100.0),
            160 => level(160, Some(one)),
            200 => level(200, None),
            210 => level(100, Some(one)),
            other => Level {
                kind: format!("grib1_level_type_{other}"),
                value: None,
                units: None,
                label: format!("level{other}"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pds(level_type: u8, level: [u8; 2]) -> Pds {
        Pds {
            table: 128,
            centre: 98,
            subcentre: 0,
            parameter: 130,
            level_type,
            level,
            reference: NaiveDate::from_ymd_opt(2017, 10, 18)
                .unwrap()
                .and_hms_opt(12, 0, 0),
            unit: 1,
            p1: 6,
            p2: 12,
            time_range: 0,
            decimal: 0,
        }
    }

    #[test]
    fn levels_are_labelled_as_grib2_levels() {
        let label = |t, l| pds(t, l).level().label;
        assert_eq!(label(100, [3, 82]), "850hPa");
        assert_eq!(label(105, [0, 2]), "2m");
        assert_eq!(label(1, [0, 0]), "sfc");
        assert_eq!(label(102, [0, 0]), "msl");
        assert_eq!(label(112, [0, 10]), "0-0.1m_below");
        assert_eq!(label(101, [50, 100]), "500-1000hPa");
        assert_eq!(label(109, [0, 137]), "137hybrid");
        assert_eq!(label(117, [7, 208]), "2pvu");
        assert_eq!(label(210, [0x3a, 0x98]), "150hPa");
        let odd = pds(55, [0, 8]).level();
        assert_eq!(
            (odd.kind.as_str(), odd.label.as_str()),
            ("grib1_level_type_55", "level55")
        );
        let p = pds(100, [1, 244]).level();
        assert_eq!((p.value, p.units.as_deref()), (Some(500.0), Some("hPa")));
    }

    #[test]
    fn valid_times_follow_eccodes() {
        let at = |p: Pds| p.valid_time().map(|t| t.to_string());
        assert_eq!(at(pds(1, [0, 0])).unwrap(), "2017-10-18 18:00:00");
        let mut accum = pds(1, [0, 0]);
        accum.time_range = 4;
        assert_eq!(at(accum.clone()).unwrap(), "2017-10-19 00:00:00");
        accum.time_range = 10; // P1 and P2 are one number: 6 * 256 + 12 = 1548 hours
        assert_eq!(at(accum.clone()).unwrap(), "2017-12-22 00:00:00");
        accum.time_range = 0;
        accum.unit = 0; // minutes
        assert_eq!(at(accum.clone()).unwrap(), "2017-10-18 12:06:00");
        accum.unit = 3; // "months" of 30 days
        assert_eq!(at(accum.clone()).unwrap(), "2018-04-16 12:00:00");
        accum.unit = 4; // years: not a fixed number of seconds
        assert_eq!(at(accum.clone()), None);
        accum.p1 = 0;
        assert_eq!(at(accum.clone()).unwrap(), "2017-10-18 12:00:00");
        accum.reference = None;
        assert_eq!(at(accum), None);
    }

    #[test]
    fn the_pds_is_read_from_its_octets() {
        let s1 = super::super::sections::build::pds(0x80, 167);
        let p = Pds::read(&s1).unwrap();
        assert_eq!(
            (p.table, p.centre, p.parameter, p.level_type),
            (128, 98, 167, 1)
        );
        assert_eq!(p.reference.unwrap().to_string(), "2017-10-18 12:00:00");
        assert!(p.ecmwf_table());
        assert!(Pds::read(&s1[..27]).is_none());
    }
}
