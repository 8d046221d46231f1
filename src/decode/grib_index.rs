//! Splits one GRIB2 message into fields without decoding any values.
//!
//! Inside a message, sections 2 to 7 may repeat: every section 7 closes one field, using the
//! most recent sections 1 to 6 (WMO Manual on Codes, FM 92 GRIB, regulation 92.1.3). This
//! module finds those fields and the byte ranges of their sections; finding the messages of
//! a file is [`super::grib_split`]'s job. It checks every length against the bytes present
//! and never panics, so hostile input yields an error.

use crate::decode::bytes::{u32_at, u8_at};
use crate::limits::MAX_FIELDS_PER_FILE;

/// Byte ranges of the sections that define one field, relative to the bytes the message was
/// split from (see [`FieldSections::shifted`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSections {
    pub discipline: u8,
    pub s1: (usize, usize),
    pub s2: Option<(usize, usize)>,
    pub s3: (usize, usize),
    pub s4: (usize, usize),
    pub s5: (usize, usize),
    /// The bitmap section in force for this field: its own, or the earlier one that a
    /// section 6 with indicator 254 ("previously defined bitmap") points back to.
    pub s6: (usize, usize),
    pub s7: (usize, usize),
}

impl FieldSections {
    /// The same ranges, `by` bytes further on (a message's ranges inside a larger buffer).
    pub fn shifted(self, by: usize) -> FieldSections {
        let r = |(a, b): (usize, usize)| (a + by, b + by);
        FieldSections {
            discipline: self.discipline,
            s1: r(self.s1),
            s2: self.s2.map(r),
            s3: r(self.s3),
            s4: r(self.s4),
            s5: r(self.s5),
            s6: r(self.s6),
            s7: r(self.s7),
        }
    }
}

/// The fields of one edition-2 message `msg` (from its "GRIB" to its "7777", which the
/// caller has checked), found at byte `offset` of the file. Section ranges are relative to
/// `msg`; error messages name byte offsets in the file.
pub fn split_message(msg: &[u8], offset: u64) -> Result<Vec<FieldSections>, String> {
    let (start_abs, abs) = (offset, |p: usize| offset + p as u64);
    let (data, start, end) = (msg, 0, msg.len());
    let discipline = u8_at(data, start + 6).unwrap_or(255);
    if end < 20 || data.get(end - 4..end) != Some(b"7777") {
        return Err(format!(
            "message at byte {start_abs} does not end with \"7777\""
        ));
    }
    let mut pos = start + 16;
    let mut last: [Option<(usize, usize)>; 8] = [None; 8];
    let mut bitmap: Option<(usize, usize)> = None;
    let mut fields = Vec::new();
    while pos < end - 4 {
        // `pos + 5 <= end - 4`: the section header is present.
        let len = u32_at(data, pos).unwrap_or(0) as usize;
        let num = u8_at(data, pos + 4).unwrap_or(0);
        if len < 5 || pos + len > end - 4 {
            return Err(format!(
                "message at byte {start_abs}: section {num} at byte {} has length {len}, \
                 which runs past the end of the message",
                abs(pos)
            ));
        }
        let range = (pos, pos + len);
        match num {
            1..=5 => {
                last[num as usize] = Some(range);
                if num == 2 {
                    // A new local-use section starts a new repetition; nothing else resets.
                }
            }
            6 => {
                let indicator = u8_at(data, pos + 5).unwrap_or(255);
                if indicator == 254 {
                    let prev = bitmap.ok_or_else(|| {
                        format!("message at byte {start_abs}: section 6 reuses a bitmap that was never defined")
                    })?;
                    last[6] = Some(prev);
                } else {
                    last[6] = Some(range);
                    if indicator == 0 {
                        bitmap = Some(range);
                    }
                }
            }
            7 => {
                let need = |n: usize| {
                    last[n].ok_or_else(|| {
                        format!(
                            "message at byte {start_abs}: section 7 at byte {} without a section {n} before it",
                            abs(pos)
                        )
                    })
                };
                fields.push(FieldSections {
                    discipline,
                    s1: need(1)?,
                    s2: last[2],
                    s3: need(3)?,
                    s4: need(4)?,
                    s5: need(5)?,
                    s6: need(6)?,
                    s7: range,
                });
                if fields.len() as u64 > MAX_FIELDS_PER_FILE {
                    return Err(format!(
                        "message at byte {start_abs} holds more than {MAX_FIELDS_PER_FILE} fields"
                    ));
                }
            }
            _ => {
                return Err(format!(
                    "message at byte {start_abs}: unknown section number {num} at byte {}",
                    abs(pos)
                ))
            }
        }
        pos += len;
    }
    if fields.is_empty() {
        return Err(format!("message at byte {start_abs} holds no data section"));
    }
    Ok(fields)
}

/// Builders of synthetic messages for the unit tests of this module and of `grib_split`.
#[cfg(test)]
pub(super) mod build {
    /// One section: 4-byte length, section number, body.
    pub fn section(num: u8, body: &[u8]) -> Vec<u8> {
        let mut s = ((body.len() + 5) as u32).to_be_bytes().to_vec();
        s.push(num);
        s.extend_from_slice(body);
        s
    }

    /// An edition-2 message: section 0, `sections`, "7777".
    pub fn message(sections: &[Vec<u8>]) -> Vec<u8> {
        let body: Vec<u8> = sections.concat();
        let total = 16 + body.len() + 4;
        let mut m = b"GRIB\0\0\x00\x02".to_vec();
        m.extend_from_slice(&(total as u64).to_be_bytes());
        m.extend_from_slice(&body);
        m.extend_from_slice(b"7777");
        m
    }

    /// A minimal one-field message (its sections are structurally valid, not decodable).
    pub fn one_field() -> Vec<u8> {
        message(&[
            section(1, &[0; 16]),
            section(3, &[0; 9]),
            section(4, &[1; 4]),
            section(5, &[0; 6]),
            section(6, &[255]),
            section(7, &[1, 2]),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::build::{message, one_field, section};
    use super::*;

    #[test]
    fn repeated_sections_make_one_field_each() {
        let m = message(&[
            section(1, &[0; 16]),
            section(3, &[0; 9]),
            section(4, &[1; 4]),
            section(5, &[0; 6]),
            section(6, &[0, 0xff]),
            section(7, &[1, 2]),
            section(4, &[2; 4]),
            section(5, &[0; 6]),
            section(6, &[254]),
            section(7, &[3, 4]),
        ]);
        let fields = split_message(&m, 15).unwrap();
        assert_eq!(fields.len(), 2);
        let (a, b) = (&fields[0], &fields[1]);
        assert_eq!(a.s1, (16, 37), "ranges are relative to the message");
        assert_eq!(a.s3, b.s3);
        assert_ne!(a.s4, b.s4);
        assert_eq!(a.s6, b.s6, "254 points back to the first bitmap");
        assert_eq!(a.clone().shifted(15).s1, (31, 52));
    }

    #[test]
    fn broken_sections_are_errors_naming_file_offsets() {
        let mut m = one_field();
        // Section 3 (at message byte 37) claims to run past "7777".
        m[37..41].copy_from_slice(&1000u32.to_be_bytes());
        let e = split_message(&m, 100).unwrap_err();
        assert!(
            e.contains("message at byte 100") && e.contains("byte 137"),
            "{e}"
        );
        let no_data = message(&[section(1, &[0; 16]), section(3, &[0; 9])]);
        let e = split_message(&no_data, 0).unwrap_err();
        assert!(e.contains("no data section"), "{e}");
        assert!(split_message(&one_field(), 0).is_ok());
        for cut in 0..one_field().len() {
            assert!(split_message(&one_field()[..cut], 0).is_err(), "cut {cut}");
        }
    }
}
