//! Splits a GRIB2 byte stream into fields without decoding any values.
//!
//! A GRIB2 file is a sequence of messages, possibly with other bytes between them (WMO bulletin
//! headers). Inside a message, sections 2 to 7 may repeat: every section 7 closes one field,
//! using the most recent sections 1 to 6 (WMO Manual on Codes, FM 92 GRIB, regulation 92.1.3).
//! This module finds those fields and the byte ranges of their sections. It checks every
//! length against the bytes present and never panics, so hostile input yields an error entry.

use crate::decode::bytes::{u32_at, u64_at, u8_at};

/// Byte ranges (absolute offsets into the file) of the sections that define one field.
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

/// One entry of the file's inventory: a field, or the reason a message yielded none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    /// Offset of the message's "GRIB" and the message's declared length.
    pub message_offset: usize,
    pub message_length: usize,
    /// Position of the field within its message (0 for single-field messages).
    pub sub_field: usize,
    pub sections: Result<FieldSections, IndexProblem>,
}

/// Why a message could not be split into fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexProblem {
    /// GRIB edition 1 or another edition: recognised but not decoded.
    Edition(u8),
    /// Broken structure; the string says what and where.
    Corrupt(String),
}

/// Lists every field of every message in `data`, in file order (see [`index_at`]).
///
/// A message whose declared length runs past the end of the data, or whose sections do not
/// chain to "7777", becomes one entry with a [`IndexProblem::Corrupt`]; scanning resumes after
/// its magic so a later, intact message is still found.
#[cfg(test)]
pub fn index(data: &[u8]) -> Vec<IndexEntry> {
    index_at(data, 0)
}

/// [`index`] of bytes that start at offset `base` of the file: offsets in entries and
/// messages are absolute.
pub fn index_at(data: &[u8], base: usize) -> Vec<IndexEntry> {
    let mut entries = Vec::new();
    let mut pos = 0;
    while let Some(start) = find_magic(data, pos) {
        let edition = u8_at(data, start + 7).unwrap_or(0);
        let abs = base + start;
        let declared = match edition {
            2 => u64_at(data, start + 8).map(|v| v as usize),
            // GRIB1: 3-byte length at octets 5-7; enough to skip the message.
            1 => data
                .get(start + 4..start + 7)
                .map(|b| u32::from_be_bytes([0, b[0], b[1], b[2]]) as usize),
            _ => None,
        };
        let Some(length) = declared.filter(|&l| l >= 16) else {
            entries.push(problem(
                abs,
                0,
                IndexProblem::Corrupt(format!(
                    "message at byte {abs}: edition {edition} with no valid length"
                )),
            ));
            pos = start + 4;
            continue;
        };
        let end = start.saturating_add(length);
        if end > data.len() {
            entries.push(problem(abs, length, IndexProblem::Corrupt(format!(
                "message at byte {abs} declares {length} bytes but only {} remain (truncated file?)",
                data.len() - start
            ))));
            pos = start + 4;
            continue;
        }
        if edition != 2 {
            entries.push(problem(abs, length, IndexProblem::Edition(edition)));
            pos = end;
            continue;
        }
        match split_message(data, start, end, base) {
            Ok(fields) => {
                for (sub, sections) in fields.into_iter().enumerate() {
                    entries.push(IndexEntry {
                        message_offset: abs,
                        message_length: length,
                        sub_field: sub,
                        sections: Ok(sections),
                    });
                }
                pos = end;
            }
            Err(reason) => {
                entries.push(problem(abs, length, IndexProblem::Corrupt(reason)));
                pos = start + 4;
            }
        }
    }
    entries
}

fn problem(offset: usize, length: usize, p: IndexProblem) -> IndexEntry {
    IndexEntry {
        message_offset: offset,
        message_length: length,
        sub_field: 0,
        sections: Err(p),
    }
}

fn find_magic(data: &[u8], from: usize) -> Option<usize> {
    data.get(from..)?
        .windows(4)
        .position(|w| w == b"GRIB")
        .map(|p| p + from)
}

/// Walks sections 1..8 of one edition-2 message occupying `data[start..end]`. Section ranges
/// are relative to `data`; messages name absolute offsets (`base` + position).
fn split_message(
    data: &[u8],
    start: usize,
    end: usize,
    base: usize,
) -> Result<Vec<FieldSections>, String> {
    let (start_abs, abs) = (base + start, |p: usize| base + p);
    let discipline = u8_at(data, start + 6).unwrap_or(255);
    if data.get(end - 4..end) != Some(b"7777") {
        return Err(format!(
            "message at byte {start_abs} does not end with \"7777\""
        ));
    }
    let mut pos = start + 16;
    let mut last: [Option<(usize, usize)>; 8] = [None; 8];
    let mut bitmap: Option<(usize, usize)> = None;
    let mut fields = Vec::new();
    while pos < end - 4 {
        let len = u32_at(data, pos).ok_or("section header past end")? as usize;
        let num = u8_at(data, pos + 4).ok_or("section header past end")?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn section(num: u8, body: &[u8]) -> Vec<u8> {
        let mut s = ((body.len() + 5) as u32).to_be_bytes().to_vec();
        s.push(num);
        s.extend_from_slice(body);
        s
    }

    fn message(sections: &[Vec<u8>]) -> Vec<u8> {
        let body: Vec<u8> = sections.concat();
        let total = 16 + body.len() + 4;
        let mut m = b"GRIB\0\0\x00\x02".to_vec();
        m.extend_from_slice(&(total as u64).to_be_bytes());
        m.extend_from_slice(&body);
        m.extend_from_slice(b"7777");
        m
    }

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
        let mut data = b"WMO HEADER junk".to_vec();
        data.extend_from_slice(&m);
        let entries = index(&data);
        assert_eq!(entries.len(), 2);
        let (a, b) = (
            entries[0].sections.clone().unwrap(),
            entries[1].sections.clone().unwrap(),
        );
        assert_eq!(a.s3, b.s3);
        assert_ne!(a.s4, b.s4);
        assert_eq!(a.s6, b.s6, "254 points back to the first bitmap");
        assert_eq!(entries[1].sub_field, 1);
    }

    #[test]
    fn truncated_message_is_reported_not_panicked() {
        let m = message(&[
            section(1, &[0; 16]),
            section(3, &[0; 9]),
            section(4, &[1; 4]),
            section(5, &[0; 6]),
            section(6, &[255]),
            section(7, &[1, 2]),
        ]);
        for cut in 0..m.len() {
            let entries = index(&m[..cut]);
            assert!(entries.iter().all(|e| e.sections.is_err()), "cut {cut}");
        }
        assert!(index(&m)[0].sections.is_ok());
    }
}
