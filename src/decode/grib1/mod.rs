//! GRIB edition 1: the fields of edition-1 messages, read by tilecast's own decoder.
//!
//! The splitter (`grib_split`) finds edition-1 messages next to edition-2 ones in the same
//! file, with ECMWF's large-message length convention ([`sections`]); each message is one
//! field. Its product definition ([`product`]) gives the parameter (named from
//! [`tables`]), level and times; its grid description ([`grid`]) the grid; its bit map and
//! binary data ([`unpack`]) the values, NaN where the bit map says missing. Everything a
//! message declares is checked against its bytes and the limits before it is used, and an
//! unsupported grid or packing is an error for that field naming file, field and what it is.

pub mod grid;
pub mod product;
pub mod sections;
pub mod tables;
pub mod unpack;

use std::path::Path;

use super::grib_grid::GridError;
use super::{iso, Field, FieldInfo, FieldSource, WindFrame};
use crate::error::{Error, Result};
use crate::geo::grid::Grid;
use product::Pds;
pub use sections::Sections;

fn corrupt(path: &Path, k: usize, what: &'static str, reason: String) -> Error {
    Error::CorruptField {
        path: path.to_owned(),
        field: k,
        what,
        reason,
    }
}

fn unsupported(path: &Path, k: usize, what: &'static str, template: String, detail: &str) -> Error {
    Error::Unsupported {
        path: path.to_owned(),
        field: k,
        what,
        template,
        detail: detail.to_string(),
    }
}

/// The PDS of a message (the splitter checked it has 28 octets at least).
fn pds(path: &Path, k: usize, msg: &[u8], s: &Sections) -> Result<Pds> {
    Pds::read(&msg[s.pds.0..s.pds.1])
        .ok_or_else(|| corrupt(path, k, "product definition", "section 1 too short".into()))
}

/// The grid of field `k` and its one-line description.
fn grid_of(path: &Path, k: usize, msg: &[u8], s: &Sections) -> Result<(Grid, String)> {
    let Some(gds) = s.gds else {
        let number = msg.get(s.pds.0 + 6).copied().unwrap_or(255);
        return Err(unsupported(
            path,
            k,
            "GRIB1 predefined grid",
            number.to_string(),
            " (the message has no grid description section)",
        ));
    };
    grid::parse(&msg[gds.0..gds.1]).map_err(|e| match e {
        GridError::Unsupported { template, detail } => {
            unsupported(path, k, "GRIB1 grid type", template.to_string(), &detail)
        }
        GridError::Corrupt(reason) => corrupt(path, k, "grid description", reason),
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

/// The grid of field `k`, without decoding values.
pub fn grid(path: &Path, k: usize, msg: &[u8], s: &Sections) -> Result<Grid> {
    grid_of(path, k, msg, s).map(|(g, _)| g)
}

/// The simple packing of field `k`, or the error naming the packing it has.
fn packing(path: &Path, k: usize, msg: &[u8], s: &Sections) -> Result<unpack::Simple> {
    unpack::packing(&msg[s.bds.0..s.bds.1]).map_err(|name| {
        if name.contains("too short") {
            corrupt(path, k, "binary data", name.to_string())
        } else {
            unsupported(path, k, "GRIB1 packing", name.to_string(), "")
        }
    })
}

/// Builds the inventory line of the field of one message; an unsupported grid or packing is
/// an error here already, as for GRIB2.
pub fn describe(
    path: &Path,
    msg: &[u8],
    k: usize,
    source: FieldSource,
    s: &Sections,
) -> Result<FieldInfo> {
    let (grid, grid_text) = grid_of(path, k, msg, s)?;
    let sc = packing(path, k, msg, s)?;
    let p = pds(path, k, msg, s)?;
    let (variable, long_name, units) = tables::parameter(&p);
    let wind_component = tables::wind_component(&p);
    let wind_frame = wind_component
        .and(
            s.gds
                .and_then(|g| grid::components_relative_to_grid(&msg[g.0..g.1])),
        )
        .map(|grid| {
            if grid {
                WindFrame::Grid
            } else {
                WindFrame::Earth
            }
        });
    Ok(FieldInfo {
        index: k,
        variable,
        long_name,
        units,
        standard_name: None,
        level: p.level(),
        reference_time: p.reference.map(iso),
        valid_time: p.valid_time().map(iso),
        nx: grid.nx,
        ny: grid.ny,
        grid: grid_text,
        packing: format!(
            "grid_simple (GRIB1, precision {:.3e})",
            sc.precision(p.decimal)
        ),
        source,
        wind_component,
        wind_frame,
    })
}

/// Decodes the field of one message.
pub fn decode(path: &Path, msg: &[u8], info: FieldInfo, s: &Sections) -> Result<Field> {
    let k = info.index;
    let (grid, _) = grid_of(path, k, msg, s)?;
    let sc = packing(path, k, msg, s)?;
    let p = pds(path, k, msg, s)?;
    let points = grid.len();
    let bits = match s.bms {
        None => None,
        Some(b) => match unpack::bitmap(&msg[b.0..b.1], points) {
            Ok(Ok(bits)) => Some(bits),
            Ok(Err(n)) => {
                return Err(unsupported(
                    path,
                    k,
                    "GRIB1 predefined bit map",
                    n.to_string(),
                    "",
                ))
            }
            Err(reason) => return Err(corrupt(path, k, "bit map", reason)),
        },
    };
    let n = bits.map_or(points, |b| super::grib::count_ones(b, points));
    let packed = unpack::simple(&msg[s.bds.0..s.bds.1], sc, p.decimal, n)
        .map_err(|reason| corrupt(path, k, "packed data", reason))?;
    let values = match bits {
        Some(b) => super::grib::expand(b, &packed, points),
        None => packed,
    };
    Ok(Field { info, grid, values })
}

#[cfg(test)]
mod tests {
    use super::sections::build::{bds, latlon_gds, message, pds as pds_section, section};
    use super::*;

    fn field(m: &[u8]) -> Result<Field> {
        let path = Path::new("t.grib");
        let s = sections::split(m, 0).map_err(|r| corrupt(path, 0, "message structure", r))?;
        let source = FieldSource::Grib1 {
            offset: 0,
            length: m.len() as u64,
        };
        let info = describe(path, m, 0, source, &s)?;
        decode(path, m, info, &s)
    }

    #[test]
    fn a_message_decodes_with_its_bit_map() {
        let m = message(&[
            pds_section(0xC0, 167),
            latlon_gds(2, 2),
            section(&[4, 0, 0, 0b1101_0000]),
            bds(4, &[0x12, 0xF0], 4),
        ]);
        let f = field(&m).unwrap();
        assert_eq!(f.info.variable, "2t");
        assert_eq!(f.info.level.label, "sfc");
        assert_eq!(f.info.valid_time.as_deref(), Some("2017-10-18T18:00:00Z"));
        assert_eq!(f.values[..2], [101.0, 102.0]);
        assert!(f.values[2].is_nan());
        assert_eq!(f.values[3], 115.0);
        assert_eq!((f.grid.nx, f.grid.ny), (2, 2));
    }

    #[test]
    fn broken_messages_are_errors_naming_file_and_field() {
        let ok = [
            pds_section(0xC0, 165),
            latlon_gds(2, 2),
            section(&[4, 0, 0, 0xF0]),
            bds(8, &[1, 2, 3, 4], 0),
        ];
        let text = |parts: &[Vec<u8>]| field(&message(parts)).unwrap_err().to_string();
        // Too few packed values for the bit map.
        let mut short = ok.clone();
        short[3] = bds(8, &[1, 2, 3], 0);
        assert!(
            text(&short).contains("t.grib: field 0: packed data"),
            "{}",
            text(&short)
        );
        // A predefined bit map, spherical harmonics, no GDS.
        let mut predefined = ok.clone();
        predefined[2] = section(&[0, 0, 3]);
        assert!(text(&predefined).contains("unsupported GRIB1 predefined bit map 3"));
        let mut sh = ok.clone();
        sh[3][3] = 0x80;
        assert!(
            text(&sh).contains("unsupported GRIB1 packing spectral_simple (spherical harmonics)")
        );
        let no_gds = [pds_section(0x00, 165), bds(8, &[1, 2, 3, 4], 0)];
        assert!(text(&no_gds).contains("unsupported GRIB1 predefined grid 255"));
        // A bit map too short for the grid.
        let mut bitmap = ok.clone();
        bitmap[1] = latlon_gds(3, 3);
        assert!(text(&bitmap).contains("bit map: 4 bits for 9 grid points"));
        // Garbage anywhere after section 0: an error or a field, never a panic.
        let m = message(&ok);
        for at in 8..m.len() - 4 {
            for byte in [0x00, 0x7f, 0xff] {
                let mut g = m.clone();
                g[at] = byte;
                let _ = field(&g);
            }
        }
    }
}
