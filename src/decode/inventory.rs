//! Inventories for planning: every field's metadata and grid, read without holding a whole
//! file in memory.
//!
//! A GRIB file is read one message at a time (a message is the largest thing in memory),
//! split into messages by the same code as a [`Dataset`] (`grib_split`), so both list the
//! same entries and errors; a NetCDF file is opened through the C library, which reads
//! metadata only. Decoding values needs a [`Dataset`](super::Dataset); planning needs only
//! a [`FileFields`].

use std::io::Read;
use std::path::{Path, PathBuf};

use super::grib::split_file;
use super::{clone_error, Dataset, Entry, Field, Format};
use crate::error::{Error, Result};
use crate::geo::grid::Grid;

/// What planning needs of a file.
pub trait FileFields {
    fn path(&self) -> &Path;
    fn format(&self) -> Format;
    fn entries(&self) -> &[Entry];
    /// The grid of field `index`, without decoding values.
    fn grid(&self, index: usize) -> Result<Grid>;
}

impl FileFields for Dataset {
    fn path(&self) -> &Path {
        Dataset::path(self)
    }
    fn format(&self) -> Format {
        Dataset::format(self)
    }
    fn entries(&self) -> &[Entry] {
        Dataset::entries(self)
    }
    fn grid(&self, index: usize) -> Result<Grid> {
        Dataset::grid(self, index)
    }
}

/// A file's catalog.
pub enum Inventory {
    /// NetCDF: the dataset itself (metadata only is read until a field is decoded).
    NetCdf(Dataset),
    /// GRIB (either edition), streamed: entries and grids, no values.
    Grib {
        path: PathBuf,
        format: Format,
        entries: Vec<Entry>,
        grids: Vec<Option<Grid>>,
    },
}

impl FileFields for Inventory {
    fn path(&self) -> &Path {
        match self {
            Inventory::NetCdf(ds) => ds.path(),
            Inventory::Grib { path, .. } => path,
        }
    }
    fn format(&self) -> Format {
        match self {
            Inventory::NetCdf(_) => Format::NetCdf,
            Inventory::Grib { format, .. } => *format,
        }
    }
    fn entries(&self) -> &[Entry] {
        match self {
            Inventory::NetCdf(ds) => ds.entries(),
            Inventory::Grib { entries, .. } => entries,
        }
    }
    fn grid(&self, index: usize) -> Result<Grid> {
        match self {
            Inventory::NetCdf(ds) => ds.grid(index),
            Inventory::Grib {
                path,
                entries,
                grids,
                ..
            } => match (entries.get(index), grids.get(index)) {
                (Some(_), Some(Some(g))) => Ok(g.clone()),
                (Some(e), _) => Err(match &e.info {
                    Err(err) => clone_error(err, index),
                    Ok(_) => Error::Corrupt {
                        path: path.clone(),
                        reason: format!("field {index} has no grid"),
                    },
                }),
                (None, _) => Err(Error::NoSuchField {
                    path: path.clone(),
                    field: index,
                    count: entries.len(),
                }),
            },
        }
    }
}

impl Inventory {
    /// Decodes field `index`, reading only its message from a GRIB file.
    pub fn decode(&self, index: usize) -> Result<Field> {
        match self {
            Inventory::NetCdf(ds) => ds.decode(index),
            Inventory::Grib { path, entries, .. } => {
                let entry = entries.get(index).ok_or_else(|| Error::NoSuchField {
                    path: path.clone(),
                    field: index,
                    count: entries.len(),
                })?;
                let info = entry.info.as_ref().map_err(|e| clone_error(e, index))?;
                let Some((offset, length, sub_field)) = info.source.grib_message() else {
                    unreachable!("GRIB inventories hold GRIB sources")
                };
                let bytes = crate::io::input::read_range(path, offset..offset + length)?;
                let ds = Dataset::from_grib_message(path, bytes, offset, index - sub_field);
                ds.decode_at(index, &info.source)
            }
        }
    }
}

/// Catalogs a regular file, sniffing its format from its content.
pub fn inventory(path: &Path) -> Result<Inventory> {
    let io = |op, e| Error::io(path, op, e);
    let mut head = Vec::with_capacity(8);
    crate::io::input::open_file(path)?
        .0
        .take(8)
        .read_to_end(&mut head)
        .map_err(|e| io("read", e))?;
    match super::sniff(&head) {
        Some(Format::NetCdf) => Ok(Inventory::NetCdf(Dataset::open(path)?)),
        // Anything else is scanned for GRIB messages (bulletin headers may come first).
        _ => grib(path),
    }
}

/// The streamed GRIB inventory: the file split by the [`split_file`] a [`Dataset`] uses,
/// read one message at a time; only entries and grids are kept.
fn grib(path: &Path) -> Result<Inventory> {
    let (file, size) = crate::io::input::open_file(path)?;
    let (mut entries, mut grids) = (Vec::new(), Vec::new());
    let mut editions = [false; 2];
    // One message (one `GribFile`) in memory at a time.
    split_file(path, file, (size, 0), 0, |gf| {
        editions = [0, 1].map(|e| editions[e] || gf.editions()[e]);
        for e in gf.entries() {
            grids.push(e.info.as_ref().ok().and_then(|_| gf.grid(e.index).ok()));
        }
        entries.extend(gf.into_entries());
    })
    .map_err(|e| Error::io(path, "read", e))?;
    if entries.is_empty() {
        return Err(super::unknown_format(path, size == 0));
    }
    Ok(Inventory::Grib {
        path: path.to_owned(),
        format: Format::of_grib(editions),
        entries,
        grids,
    })
}
