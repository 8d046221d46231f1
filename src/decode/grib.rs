//! GRIB files: inventory and decoding of fields. The only module that imports gribberish.
//!
//! Edition-1 messages are handed to [`super::grib1`]; the rest of this module is edition 2.
//! tilecast indexes messages, parses grids and product metadata, unpacks the simple, complex,
//! JPEG2000 (through OpenJPEG, see `grib_jpeg`) and CCSDS packings, and applies bitmaps itself
//! (see the sibling modules); gribberish supplies the parameter tables (names and units by
//! discipline/category/number) and the PNG unpacking. Calls into gribberish are given
//! pre-validated input and are isolated with `catch_unwind`, so a decoder bug on a hostile
//! file becomes that field's error.

use std::io::{Cursor, Read, Seek};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use bitvec::prelude::Msb0;
use bitvec::view::BitView;
use gribberish::message::Message;
use gribberish::sections::data_representation::DataRepresentationSection;

use super::grib1;
use super::grib_aec;
use super::grib_grid::{self, GridError};
use super::grib_image;
use super::grib_index::FieldSections;
use super::grib_jpeg;
use super::grib_meta;
use super::grib_names;
use super::grib_split::{FieldLayout, Piece, Problem, Splitter, WholeMessage};
use super::grib_unpack::{self, Scaling};
use super::{iso, Entry, Field, FieldInfo, FieldSource, Format, WindComponent, WindFrame};
use crate::error::{Error, Result};

/// A GRIB file (or part of one) held in memory with its inventory.
pub struct GribFile {
    path: PathBuf,
    bytes: Vec<u8>,
    /// File offset of `bytes`.
    base: usize,
    /// File index of the first field in `bytes`.
    first: usize,
    sections: Vec<Option<FieldLayout>>,
    entries: Vec<Entry>,
    /// Whether well-framed messages of edition 1 and of edition 2 were found.
    editions: [bool; 2],
}

impl GribFile {
    pub fn new(path: &Path, bytes: Vec<u8>) -> GribFile {
        GribFile::new_at(path, bytes, 0, 0)
    }

    /// A file's bytes from offset `base`, whose first field is field `first` of the file:
    /// indices, offsets and messages in the inventory are the file's. The messages are found
    /// by [`split_file`], as the streamed inventory finds them.
    pub fn new_at(path: &Path, bytes: Vec<u8>, base: usize, first: usize) -> GribFile {
        let (mut sections, mut entries) = (Vec::new(), Vec::new());
        let mut editions = [false; 2];
        let size = bytes.len() as u64;
        let split = split_file(
            path,
            Cursor::new(&bytes[..]),
            (size, base as u64),
            first,
            |part| {
                let shift = part.base - base;
                editions = [0, 1].map(|e| editions[e] || part.editions[e]);
                sections.extend(
                    part.sections
                        .into_iter()
                        .map(|s| s.map(|s| s.shifted(shift))),
                );
                entries.extend(part.entries);
            },
        );
        if let Err(e) = split {
            // Reading memory cannot fail; kept as an error entry all the same.
            let index = first + entries.len();
            let info = Err(Error::CorruptField {
                path: path.to_owned(),
                field: index,
                what: "message structure",
                reason: e.to_string(),
            });
            entries.push(Entry { index, info });
            sections.push(None);
        }
        GribFile {
            path: path.to_owned(),
            bytes,
            base,
            first,
            sections,
            entries,
            editions,
        }
    }

    /// One piece of a file (see [`Splitter`]) whose first field is field `first` of the
    /// file: its fields, or the one entry saying why it has none.
    fn from_piece(path: &Path, piece: Piece, first: usize) -> GribFile {
        let Piece {
            offset,
            length,
            edition,
            content,
        } = piece;
        let (bytes, sections, entries) = match content {
            Ok(WholeMessage { bytes, fields }) => {
                let entries = fields
                    .iter()
                    .enumerate()
                    .map(|(sub, s)| {
                        let k = first + sub;
                        let info = match s {
                            FieldLayout::Edition1(s) => {
                                let source = FieldSource::Grib1 { offset, length };
                                grib1::describe(path, &bytes, k, source, s)
                            }
                            FieldLayout::Edition2(s) => {
                                let source = FieldSource::Grib2 {
                                    offset,
                                    length,
                                    sub_field: sub,
                                };
                                describe(path, &bytes, k, source, s)
                            }
                        };
                        Entry { index: k, info }
                    })
                    .collect();
                (bytes, fields.into_iter().map(Some).collect(), entries)
            }
            Err(problem) => {
                let info = Err(problem.into_error(path, first, offset, length));
                let entry = Entry { index: first, info };
                (Vec::new(), vec![None], vec![entry])
            }
        };
        GribFile {
            path: path.to_owned(),
            bytes,
            base: offset as usize,
            first,
            sections,
            entries,
            editions: [edition == 1, edition == 2],
        }
    }

    /// The format these messages make: named by their editions.
    pub fn format(&self) -> Format {
        Format::of_grib(self.editions)
    }

    /// Whether well-framed messages of edition 1 and of edition 2 were found.
    pub fn editions(&self) -> [bool; 2] {
        self.editions
    }

    /// The entries, given away (the grids of [`GribFile::grid`] are gone with the bytes).
    pub fn into_entries(self) -> Vec<Entry> {
        self.entries
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn grid(&self, k: usize) -> Result<crate::geo::grid::Grid> {
        match self.sections[k - self.first]
            .as_ref()
            .expect("inventory entry with info has sections")
        {
            FieldLayout::Edition1(s) => grib1::grid(&self.path, k, &self.bytes, s),
            FieldLayout::Edition2(s) => {
                grid_of(&self.path, k, &self.bytes[s.s3.0..s.s3.1]).map(|(g, _)| g)
            }
        }
    }

    pub fn decode(&self, info: FieldInfo) -> Result<Field> {
        let k = info.index;
        let s = match self.sections[k - self.first]
            .as_ref()
            .expect("inventory entry with info has sections")
        {
            FieldLayout::Edition1(s) => return grib1::decode(&self.path, &self.bytes, info, s),
            FieldLayout::Edition2(s) => s,
        };
        let sec = |r: (usize, usize)| &self.bytes[r.0..r.1];
        let corrupt = |what: &'static str, reason: String| Error::CorruptField {
            path: self.path.clone(),
            field: k,
            what,
            reason,
        };
        let (grid, _) = grid_of(&self.path, k, sec(s.s3))?;
        let s5 = sec(s.s5);
        let s6 = sec(s.s6);
        let s7 = sec(s.s7);
        let data = &s7[5..];
        let template = grib_unpack::template_number(s5)
            .ok_or_else(|| corrupt("section 5", "too short".into()))?;
        let packed = grib_unpack::packed_count(s5)
            .ok_or_else(|| corrupt("section 5", "too short".into()))?;
        let points = grid.len();
        let bitmap = match s6.get(5).copied() {
            Some(0) => Some(&s6[6..]),
            Some(255) => None,
            Some(other) => {
                return Err(Error::Unsupported {
                    path: self.path.clone(),
                    field: k,
                    what: "bitmap indicator",
                    template: other.to_string(),
                    detail: " (predefined bitmaps)".into(),
                })
            }
            None => return Err(corrupt("section 6", "too short".into())),
        };
        let expected = match bitmap {
            Some(bits) => {
                if bits.len() * 8 < points {
                    return Err(corrupt(
                        "bitmap",
                        format!("{} bits for {points} grid points", bits.len() * 8),
                    ));
                }
                count_ones(bits, points)
            }
            None => points,
        };
        if packed != expected {
            return Err(corrupt(
                "section 5",
                format!("{packed} packed values, but the grid and bitmap call for {expected}"),
            ));
        }
        let unpacked = match template {
            0 => grib_unpack::simple(s5, data, packed),
            2 => grib_unpack::complex(s5, data, packed, false),
            3 => grib_unpack::complex(s5, data, packed, true),
            40 => grib_jpeg::jpeg2000(s5, data, packed),
            41 => png_unpack(s5, data, packed),
            42 => grib_aec::ccsds(s5, data, packed),
            other => {
                return Err(Error::Unsupported {
                    path: self.path.clone(),
                    field: k,
                    what: "data representation template",
                    template: format!("5.{other}"),
                    detail: format!(" ({})", grib_unpack::packing_name(other)),
                })
            }
        }
        .map_err(|reason| corrupt("packed data", reason))?;
        if unpacked.len() != packed {
            return Err(corrupt(
                "packed data",
                format!("decoded {} values, expected {packed}", unpacked.len()),
            ));
        }
        let mut values = match bitmap {
            Some(bits) => expand(bits, &unpacked, points),
            None => unpacked,
        };
        if grib_grid::alternate_rows(sec(s.s3)) {
            // Put odd rows back in the direction of even ones, as ecCodes' iterator does.
            for row in values.chunks_mut(grid.nx).skip(1).step_by(2) {
                row.reverse();
            }
        }
        Ok(Field { info, grid, values })
    }
}

/// The one loop both views of a GRIB file run: splits the `size` bytes `r` yields (byte
/// `base` of the file on) with a [`Splitter`] and hands each piece to `take` as a
/// [`GribFile`] whose fields are numbered in file order from `first` on. Past
/// [`crate::limits::MAX_FIELDS_PER_FILE`] entries, one over-limit entry ends the list (a
/// file of repeated "GRIB" headers must not list millions of errors). An I/O error ends it
/// too, and is returned.
pub fn split_file<R: Read + Seek>(
    path: &Path,
    r: R,
    (size, base): (u64, u64),
    first: usize,
    mut take: impl FnMut(GribFile),
) -> std::io::Result<()> {
    let max_message = crate::limits::get().max_message_bytes();
    let mut next = first;
    for piece in Splitter::new(r, size, base, max_message) {
        let mut piece = piece?;
        let adds = piece.content.as_ref().map_or(1, |m| m.fields.len());
        let declared = (next - first + adds) as u64;
        let over = declared > crate::limits::MAX_FIELDS_PER_FILE;
        if over {
            piece.content = Err(Problem::TooManyFields { declared });
        }
        let part = GribFile::from_piece(path, piece, next);
        next += part.entries.len();
        take(part);
        if over {
            break;
        }
    }
    Ok(())
}

fn grid_of(path: &Path, k: usize, s3: &[u8]) -> Result<(crate::geo::grid::Grid, String)> {
    grib_grid::parse(s3).map_err(|e| match e {
        GridError::Unsupported { template, detail } => Error::Unsupported {
            path: path.to_owned(),
            field: k,
            what: "grid definition template",
            template: format!("3.{template}"),
            detail,
        },
        GridError::Corrupt(reason) => Error::CorruptField {
            path: path.to_owned(),
            field: k,
            what: "grid definition",
            reason,
        },
        GridError::TooLarge { points, limit } => Error::OverLimit {
            path: path.to_owned(),
            subject: format!("field {k}"),
            what: "grid points",
            declared: points,
            limit,
            flag: "--max-field-points",
        },
    })
}

/// Builds a field's inventory line; an unsupported grid or packing is an error here already,
/// so `inspect` shows it and rendering skips the field without touching its data.
fn describe(
    path: &Path,
    bytes: &[u8],
    k: usize,
    source: FieldSource,
    s: &FieldSections,
) -> Result<FieldInfo> {
    let sec = |r: (usize, usize)| &bytes[r.0..r.1];
    let (grid, grid_text) = grid_of(path, k, sec(s.s3))?;
    let s5 = sec(s.s5);
    let packing_template = grib_unpack::template_number(s5).unwrap_or(u16::MAX);
    if !matches!(packing_template, 0 | 2 | 3 | 40 | 41 | 42) {
        return Err(Error::Unsupported {
            path: path.to_owned(),
            field: k,
            what: "data representation template",
            template: format!("5.{packing_template}"),
            detail: format!(" ({})", grib_unpack::packing_name(packing_template)),
        });
    }
    let reference = grib_meta::reference_time(sec(s.s1));
    let product = grib_meta::product(sec(s.s4), reference).ok_or_else(|| Error::CorruptField {
        path: path.to_owned(),
        field: k,
        what: "product definition",
        reason: "section 4 too short".into(),
    })?;
    let (short, long, mut units) = parameter_names(bytes, s, &product);
    // Where gribberish's table disagrees with WMO code table 4.2.
    if (s.discipline, product.category, product.number) == (0, 1, 10) {
        units = "kg m-2".into(); // convective precipitation (ACPCP), not g m-2
    }
    let wind_component = match (s.discipline, product.category, product.number) {
        (0, 2, 2) => Some(WindComponent::U),
        (0, 2, 3) => Some(WindComponent::V),
        _ => None,
    };
    let wind_frame = wind_component
        .and(grib_grid::components_relative_to_grid(sec(s.s3)))
        .map(|grid| {
            if grid {
                WindFrame::Grid
            } else {
                WindFrame::Earth
            }
        });
    let precision = Scaling::read(s5).map(|sc| sc.precision());
    Ok(FieldInfo {
        index: k,
        variable: short,
        long_name: long,
        units,
        standard_name: None,
        level: product.level,
        reference_time: reference.map(iso),
        valid_time: product.valid_time.map(iso),
        nx: grid.nx,
        ny: grid.ny,
        grid: grid_text,
        packing: match precision {
            Some(p) if packing_template != 4 => format!(
                "{} (5.{packing_template}, precision {p:.3e})",
                grib_unpack::packing_name(packing_template)
            ),
            _ => format!(
                "{} (5.{packing_template})",
                grib_unpack::packing_name(packing_template)
            ),
        },
        source,
        wind_component,
        wind_frame,
    })
}

/// Parameter short name, long name and units from gribberish's tables, with a numeric
/// fallback (`var<discipline>_<category>_<number>`) for parameters the tables lack.
fn parameter_names(
    bytes: &[u8],
    s: &FieldSections,
    p: &grib_meta::Product,
) -> (String, String, String) {
    let fallback = || {
        (
            format!("var{}_{}_{}", s.discipline, p.category, p.number),
            format!(
                "discipline {} category {} parameter {}",
                s.discipline, p.category, p.number
            ),
            "unknown".to_string(),
        )
    };
    // A minimal message (sections 0, 1, 4 and an end marker) is all the tables need.
    let mut m = Vec::with_capacity(64 + (s.s4.1 - s.s4.0) + (s.s1.1 - s.s1.0));
    m.extend_from_slice(b"GRIB\0\0");
    m.push(s.discipline);
    m.push(2);
    m.extend_from_slice(&[0; 8]);
    m.extend_from_slice(&bytes[s.s1.0..s.s1.1]);
    m.extend_from_slice(&bytes[s.s4.0..s.s4.1]);
    m.extend_from_slice(b"7777");
    let total = m.len() as u64;
    m[8..16].copy_from_slice(&total.to_be_bytes());
    let looked_up = catch_unwind(AssertUnwindSafe(|| {
        let msg = Message::from_data(&m, 0)?;
        let abbrev = msg.variable_abbrev().ok()?;
        let name = msg.variable_name().ok()?;
        let unit = msg.unit().ok()?;
        Some((abbrev, name, unit))
    }));
    match looked_up {
        // "missing": gribberish's tables map a number they lack to their last entry.
        Ok(Some((abbrev, name, unit)))
            if !abbrev.trim().is_empty() && !abbrev.trim().eq_ignore_ascii_case("missing") =>
        {
            (
                abbrev.trim().to_lowercase(),
                grib_names::description(s.discipline, p.category, p.number)
                    .unwrap_or_else(|| name.trim().to_string()),
                grib_meta::spaced_units(unit.trim()),
            )
        }
        _ => grib_names::space_product(s.discipline, p.category, p.number)
            .map(|(short, long, units)| (short.into(), long.into(), units.into()))
            .unwrap_or_else(fallback),
    }
}

/// PNG through gribberish, once the image header agrees with the field.
fn png_unpack(s5: &[u8], data: &[u8], packed: usize) -> std::result::Result<Vec<f32>, String> {
    if packed == 0 {
        return Ok(Vec::new());
    }
    let sc = Scaling::read(s5).ok_or("section 5 too short")?;
    if sc.bits > 32 {
        return Err(format!("{} bits per value", sc.bits));
    }
    if sc.bits > 0 && data.is_empty() {
        return Err("empty data section".into());
    }
    if sc.bits > 0 {
        grib_image::check_png(data, packed)?;
    }
    let result = catch_unwind(AssertUnwindSafe(|| {
        let section = DataRepresentationSection::from_data(s5);
        let template = section
            .data_representation_template()
            .ok_or_else(|| "template not available in this build".to_string())?;
        template
            .unpack(data.view_bits::<Msb0>())
            .map_err(|e| e.to_string())
    }));
    match result {
        Ok(Ok(values)) => Ok(values.into_iter().map(|v| v as f32).collect()),
        Ok(Err(e)) => Err(e),
        Err(_) => Err("the decoder rejected the packed data".into()),
    }
}

/// Number of bits set among the first `points` of a bitmap (which covers them).
pub(super) fn count_ones(bits: &[u8], points: usize) -> usize {
    let full = points / 8;
    let mut n: usize = bits[..full].iter().map(|b| b.count_ones() as usize).sum();
    let rest = points % 8;
    if rest > 0 {
        n += (bits[full] >> (8 - rest)).count_ones() as usize;
    }
    n
}

/// Spreads the packed values over the grid, NaN where the bitmap bit is 0.
pub(super) fn expand(bits: &[u8], packed: &[f32], points: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(points);
    let mut next = packed.iter();
    for p in 0..points {
        if bits[p >> 3] & (0x80 >> (p & 7)) != 0 {
            out.push(*next.next().unwrap_or(&f32::NAN));
        } else {
            out.push(f32::NAN);
        }
    }
    out
}
