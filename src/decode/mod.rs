//! Decoding files into fields: format detection, the field inventory, and per-field decoding.
//!
//! [`Dataset::open`] sniffs the format from the first bytes (not the file name, so a NetCDF
//! file named `.grib2` is still read correctly), lists every field with its metadata, and
//! decodes fields one at a time on request. A field that cannot be decoded yields an error
//! naming the file and field; the other fields are unaffected.

pub mod bytes;
mod cf;
mod grib;
mod grib1;
pub(crate) mod grib_aec;
mod grib_grid;
mod grib_grid_rows;
pub mod grib_grid_view;
mod grib_image;
pub(crate) mod grib_index;
mod grib_jpeg;
mod grib_meta;
mod grib_names;
mod grib_split;
mod grib_unpack;
mod inventory;
mod netcdf;
mod netcdf_check;
mod netcdf_describe;
mod netcdf_grid;
mod netcdf_inventory;
mod wrf;
mod wrf_grid;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::geo::grid::Grid;

/// File formats tilecast reads. A GRIB file is named by the editions of its messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Format {
    /// GRIB, every message edition 1.
    #[serde(rename = "grib1")]
    Grib1,
    /// GRIB, every message edition 2 (and a file of GRIB markers without a readable message).
    #[serde(rename = "grib2")]
    Grib2,
    /// GRIB, messages of both editions.
    #[serde(rename = "grib")]
    Grib,
    #[serde(rename = "netcdf")]
    NetCdf,
}

impl Format {
    /// The name used in manifests and job messages.
    pub fn name(self) -> &'static str {
        match self {
            Format::Grib1 => "grib1",
            Format::Grib2 => "grib2",
            Format::Grib => "grib",
            Format::NetCdf => "netcdf",
        }
    }

    /// Every name [`Format::name`] gives.
    pub const NAMES: [&'static str; 4] = ["grib1", "grib2", "grib", "netcdf"];

    /// The format of a GRIB file whose well-framed messages have the editions `seen`
    /// (`seen[0]`: edition 1, `seen[1]`: edition 2).
    pub(crate) fn of_grib(seen: [bool; 2]) -> Format {
        match seen {
            [true, false] => Format::Grib1,
            [true, true] => Format::Grib,
            _ => Format::Grib2,
        }
    }
}

/// A level: the vertical coordinate of a field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Level {
    /// Machine name of the level type, e.g. `isobaric`, `height_above_ground`, `surface`.
    pub kind: String,
    /// Value in `units`, when the level type has one.
    pub value: Option<f64>,
    pub units: Option<String>,
    /// Short human/path form, e.g. `850hPa`, `2m`, `sfc`.
    pub label: String,
}

/// Where a field's bytes are, so a worker can read just that.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "format", rename_all = "lowercase")]
pub enum FieldSource {
    /// A GRIB edition 1 message, which holds exactly one field.
    Grib1 {
        /// Byte range of the message.
        offset: u64,
        length: u64,
    },
    Grib2 {
        /// Byte range of the whole message holding the field.
        offset: u64,
        length: u64,
        /// Position of the field inside a multi-field message.
        sub_field: usize,
    },
    NetCdf {
        variable: String,
        /// Indices of the leading (non-horizontal) dimensions.
        indices: Vec<usize>,
    },
}

impl FieldSource {
    /// For a field in a GRIB message of either edition: the message's byte range and the
    /// field's position in it.
    pub fn grib_message(&self) -> Option<(u64, u64, usize)> {
        match *self {
            FieldSource::Grib1 { offset, length } => Some((offset, length, 0)),
            FieldSource::Grib2 {
                offset,
                length,
                sub_field,
            } => Some((offset, length, sub_field)),
            FieldSource::NetCdf { .. } => None,
        }
    }
}

/// Everything known about a field without decoding its values.
#[derive(Debug, Clone, Serialize)]
pub struct FieldInfo {
    /// Position in the file, 0-based, in file order.
    pub index: usize,
    /// Short name, e.g. `tmp`, `ugrd`, `t2m`.
    pub variable: String,
    pub long_name: String,
    pub units: String,
    /// CF standard name where the file has one.
    pub standard_name: Option<String>,
    pub level: Level,
    /// ISO 8601 UTC, e.g. `2026-07-01T00:00:00Z`.
    pub reference_time: Option<String>,
    pub valid_time: Option<String>,
    pub nx: usize,
    pub ny: usize,
    /// Human summary of the grid, e.g. `regular_ll 1440x721`.
    pub grid: String,
    /// Packing or storage, e.g. `grid_complex_spatial_differencing (5.3)` or `int16 scaled`.
    pub packing: String,
    pub source: FieldSource,
    /// Wind component this field is, for pairing u with v.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wind_component: Option<WindComponent>,
    /// For a wind component, the directions it is resolved along, when the file says
    /// (GRIB2 flag table 3.3 bit 5, GRIB1 code table 7 bit 5; CF `eastward_wind`/
    /// `northward_wind` or `x_wind`/`y_wind`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wind_frame: Option<WindFrame>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WindComponent {
    U,
    V,
}

/// What a wind component's direction is measured against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WindFrame {
    /// Eastward and northward (earth-relative).
    Earth,
    /// Along the grid's increasing x (i) and y (j) axes (grid-relative); on a regular
    /// lat/lon grid these are east and north too.
    Grid,
}

/// A decoded field: its metadata, grid and values (row-major, `ny` × `nx`, NaN = missing).
#[derive(Debug, Clone)]
pub struct Field {
    pub info: FieldInfo,
    pub grid: Grid,
    pub values: Vec<f32>,
}

/// One line of a file's inventory: a field, or why that part of the file yields none.
#[derive(Debug)]
pub struct Entry {
    pub index: usize,
    pub info: Result<FieldInfo>,
}

/// An opened file.
pub struct Dataset {
    path: PathBuf,
    format: Format,
    inner: Inner,
}

enum Inner {
    Grib(grib::GribFile),
    NetCdf(netcdf::NetCdfFile),
}

impl Dataset {
    /// Opens a regular file, sniffing its format from its content. A GRIB file is read
    /// into memory whole: to plan or render a large one, [`inventory`] it and decode its
    /// fields one message at a time ([`Inventory::decode`]).
    pub fn open(path: &Path) -> Result<Dataset> {
        use std::io::Read;
        let (f, size) = crate::io::input::open_file(path)?;
        let mut head = Vec::with_capacity(8);
        let mut f = std::io::BufReader::new(f);
        (&mut f)
            .take(8)
            .read_to_end(&mut head)
            .map_err(|e| Error::io(path, "read", e))?;
        let inner = if sniff(&head) == Some(Format::NetCdf) {
            drop(f);
            Inner::NetCdf(netcdf::NetCdfFile::open(path)?)
        } else {
            // GRIB messages may follow a WMO bulletin header or other bytes.
            let mut bytes = Vec::with_capacity(size as usize);
            bytes.extend_from_slice(&head);
            // Bounded by the size the file had when opened, should it grow meanwhile.
            f.take(size.saturating_sub(head.len() as u64))
                .read_to_end(&mut bytes)
                .map_err(|e| Error::io(path, "read", e))?;
            let empty = bytes.is_empty();
            let file = grib::GribFile::new(path, bytes);
            // No "GRIB" marker at all: every marker is at least one entry.
            if file.entries().is_empty() {
                return Err(unknown_format(path, empty));
            }
            Inner::Grib(file)
        };
        let format = match &inner {
            Inner::Grib(g) => g.format(),
            Inner::NetCdf(_) => Format::NetCdf,
        };
        let ds = Dataset {
            path: path.to_owned(),
            format,
            inner,
        };
        if ds.entries().is_empty() {
            return Err(Error::Corrupt {
                path: path.to_owned(),
                reason: "no fields found".into(),
            });
        }
        Ok(ds)
    }

    /// A GRIB dataset over bytes already in memory.
    pub fn from_grib_bytes(name: &Path, bytes: Vec<u8>) -> Dataset {
        Dataset::from_grib_message(name, bytes, 0, 0)
    }

    /// A GRIB dataset over one message (of either edition) read from a file at byte
    /// `offset`, whose first field is field `first` of the file: fields and errors are
    /// numbered as in the file.
    pub fn from_grib_message(name: &Path, bytes: Vec<u8>, offset: u64, first: usize) -> Dataset {
        let file = grib::GribFile::new_at(name, bytes, offset as usize, first);
        Dataset {
            path: name.to_owned(),
            format: file.format(),
            inner: Inner::Grib(file),
        }
    }

    /// Decodes the field at `source`, which this dataset holds (see [`Dataset::find`]); a
    /// field the inventory could not describe gives the inventory's error for it.
    pub fn decode_at(&self, field: usize, source: &FieldSource) -> Result<Field> {
        let k = self
            .find(source)
            .or_else(|| self.entries().iter().position(|e| e.index == field))
            .ok_or_else(|| Error::CorruptField {
                path: self.path.clone(),
                field,
                what: "message structure",
                reason: format!("no field at {source:?}"),
            })?;
        self.decode(k)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// The inventory, in file order.
    pub fn entries(&self) -> &[Entry] {
        match &self.inner {
            Inner::Grib(g) => g.entries(),
            Inner::NetCdf(n) => n.entries(),
        }
    }

    /// The inventory entry whose field lives at `source`.
    pub fn find(&self, source: &FieldSource) -> Option<usize> {
        self.entries().iter().position(|e| match (&e.info, source) {
            (Ok(info), FieldSource::NetCdf { .. }) => &info.source == source,
            // In a dataset over one message's bytes, offsets are relative: match the position
            // within the message.
            (Ok(info), FieldSource::Grib2 { sub_field, .. }) => {
                matches!(info.source, FieldSource::Grib2 { sub_field: s, .. } if s == *sub_field)
            }
            // One field per message: the message at that offset.
            (Ok(info), FieldSource::Grib1 { offset, .. }) => {
                matches!(info.source, FieldSource::Grib1 { offset: o, .. } if o == *offset)
            }
            (Err(_), _) => false,
        })
    }

    /// The metadata of field `index`, or why it has none.
    fn info(&self, index: usize) -> Result<&FieldInfo> {
        let entries = self.entries();
        let entry = entries.get(index).ok_or_else(|| Error::NoSuchField {
            path: self.path.clone(),
            field: index,
            count: entries.len(),
        })?;
        entry.info.as_ref().map_err(|e| clone_error(e, index))
    }

    /// The grid of field `index`, without decoding its values.
    pub fn grid(&self, index: usize) -> Result<Grid> {
        let info = self.info(index)?;
        match &self.inner {
            Inner::Grib(g) => g.grid(info.index),
            Inner::NetCdf(n) => n.grid(info),
        }
    }

    /// Decodes field `index`.
    pub fn decode(&self, index: usize) -> Result<Field> {
        let info = self.info(index)?.clone();
        match &self.inner {
            Inner::Grib(g) => g.decode(info),
            Inner::NetCdf(n) => n.decode(info),
        }
    }
}

/// Inventory errors are kept in the inventory and handed out on each decode request; the
/// copy names `field` (errors shared by the slices of one variable name the first).
pub(crate) fn clone_error(e: &Error, field: usize) -> Error {
    match e {
        Error::Unsupported {
            path,
            what,
            template,
            detail,
            ..
        } => Error::Unsupported {
            path: path.clone(),
            field,
            what,
            template: template.clone(),
            detail: detail.clone(),
        },
        Error::CorruptField {
            path, what, reason, ..
        } => Error::CorruptField {
            path: path.clone(),
            field,
            what,
            reason: reason.clone(),
        },
        Error::NoGeolocation {
            path,
            variable,
            reason,
            ..
        } => Error::NoGeolocation {
            path: path.clone(),
            field,
            variable: variable.clone(),
            reason: reason.clone(),
        },
        Error::OverLimit {
            path,
            what,
            declared,
            limit,
            flag,
            ..
        } => Error::OverLimit {
            path: path.clone(),
            subject: format!("field {field}"),
            what,
            declared: *declared,
            limit: *limit,
            flag,
        },
        other => Error::Corrupt {
            path: PathBuf::new(),
            reason: other.to_string(),
        },
    }
}

pub use inventory::{inventory, FileFields, Inventory};

/// The error for a file that is neither GRIB nor NetCDF.
pub(crate) fn unknown_format(path: &Path, empty: bool) -> Error {
    Error::UnknownFormat {
        path: path.to_owned(),
        reason: if empty {
            "empty file".into()
        } else {
            "not a GRIB or NetCDF file (no GRIB, CDF or HDF5 signature)".into()
        },
    }
}

/// Recognises a format from the first bytes of a file: for GRIB, the edition of the first
/// message (octet 8), which the messages after it may not share.
pub(crate) fn sniff(head: &[u8]) -> Option<Format> {
    if head.starts_with(b"GRIB") {
        Some(if head.get(7) == Some(&1) {
            Format::Grib1
        } else {
            Format::Grib2
        })
    } else if head.starts_with(b"CDF\x01")
        || head.starts_with(b"CDF\x02")
        || head.starts_with(b"CDF\x05")
        || head.starts_with(b"\x89HDF\r\n\x1a\n")
    {
        Some(Format::NetCdf)
    } else {
        None
    }
}

/// Formats a chrono time the way the manifest and inventory do.
pub(crate) fn iso(t: chrono::NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}
