//! Inventories for planning: every field's metadata and grid, read without holding a whole
//! file in memory.
//!
//! A GRIB2 file is read one message at a time (a message is the largest thing in memory);
//! a NetCDF file is opened through the C library, which reads metadata only. Decoding values
//! needs a [`Dataset`](super::Dataset); planning needs only a [`Catalog`].

use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::grib::GribFile;
use super::{clone_error, Dataset, Entry, Field, FieldSource, Format};
use crate::error::{Error, Result};
use crate::geo::grid::Grid;

/// What planning needs of a file.
pub trait Catalog {
    fn path(&self) -> &Path;
    fn format(&self) -> Format;
    fn entries(&self) -> &[Entry];
    /// The grid of field `index`, without decoding values.
    fn grid(&self, index: usize) -> Result<Grid>;
}

impl Catalog for Dataset {
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
    /// GRIB2, streamed: entries and grids, no values.
    Grib {
        path: PathBuf,
        entries: Vec<Entry>,
        grids: Vec<Option<Grid>>,
    },
}

impl Catalog for Inventory {
    fn path(&self) -> &Path {
        match self {
            Inventory::NetCdf(ds) => ds.path(),
            Inventory::Grib { path, .. } => path,
        }
    }
    fn format(&self) -> Format {
        match self {
            Inventory::NetCdf(_) => Format::NetCdf,
            Inventory::Grib { .. } => Format::Grib2,
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
    /// Decodes field `index`, reading only its message from a GRIB2 file.
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
                let FieldSource::Grib2 {
                    offset,
                    length,
                    sub_field,
                } = info.source
                else {
                    unreachable!("GRIB2 inventories hold GRIB2 sources")
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

fn grib(path: &Path) -> Result<Inventory> {
    let io = |op, e| Error::io(path, op, e);
    let (file, size) = crate::io::input::open_file(path)?;
    let max_message = crate::limits::get().max_message_bytes();
    let mut r = BufReader::with_capacity(1 << 16, file);
    let (mut entries, mut grids) = (Vec::new(), Vec::new());
    let mut pos = 0u64;
    let mut truncated = None;
    while let Some(start) = find_magic(&mut r, &mut pos).map_err(|e| io("read", e))? {
        let mut head = [0u8; 16];
        head[..4].copy_from_slice(b"GRIB");
        if r.read_exact(&mut head[4..]).is_err() {
            truncated = Some(format!(
                "message at byte {start}: header cut short (truncated file?)"
            ));
            break;
        }
        let length = match head[7] {
            2 => u64::from_be_bytes(head[8..16].try_into().expect("8 bytes")),
            1 => u32::from_be_bytes([0, head[4], head[5], head[6]]) as u64,
            e => {
                truncated = Some(format!("message at byte {start}: unknown GRIB edition {e}"));
                break;
            }
        };
        // `start <= size`: the magic was read from the file. Compared without adding, so a
        // declared length near 2^64 cannot wrap around.
        if length < 16 || length > size - start {
            truncated = Some(format!(
                "message at byte {start} declares {length} bytes but only {} remain (truncated file?)",
                size - start
            ));
            break;
        }
        if length > max_message {
            // Not read: recorded as that field's error, and the scan goes on after it.
            let index = entries.len();
            entries.push(Entry {
                index,
                info: Err(Error::OverLimit {
                    path: path.to_owned(),
                    subject: format!("field {index} (message at byte {start})"),
                    what: "message bytes",
                    declared: length,
                    limit: max_message,
                    flag: "--max-field-points",
                }),
            });
            grids.push(None);
            pos = start + length;
            r.seek(SeekFrom::Start(pos)).map_err(|e| io("seek", e))?;
            continue;
        }
        let mut msg = vec![0u8; length as usize];
        msg[..16].copy_from_slice(&head);
        r.read_exact(&mut msg[16..]).map_err(|e| io("read", e))?;
        pos = start + length;
        let gf = GribFile::new_at(path, msg, start as usize, entries.len());
        for e in gf.entries() {
            grids.push(e.info.as_ref().ok().and_then(|_| gf.grid(e.index).ok()));
            entries.push(Entry {
                index: e.index,
                info: match &e.info {
                    Ok(i) => Ok(i.clone()),
                    Err(err) => Err(clone_error(err, e.index)),
                },
            });
        }
    }
    if let Some(reason) = truncated {
        let index = entries.len();
        entries.push(Entry {
            index,
            info: Err(Error::CorruptField {
                path: path.to_owned(),
                field: index,
                what: "message structure",
                reason,
            }),
        });
        grids.push(None);
    }
    if entries.is_empty() {
        return Err(super::unknown_format(path, size == 0));
    }
    Ok(Inventory::Grib {
        path: path.to_owned(),
        entries,
        grids,
    })
}

/// Advances to the next "GRIB" and returns its offset (the reader is left just after it).
fn find_magic(r: &mut impl BufRead, pos: &mut u64) -> std::io::Result<Option<u64>> {
    let mut window = [0u8; 4];
    let mut have = 0usize;
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Ok(None);
        }
        let n = buf.len();
        for (k, &b) in buf.iter().enumerate() {
            window = [window[1], window[2], window[3], b];
            have += 1;
            if have >= 4 && &window == b"GRIB" {
                r.consume(k + 1);
                *pos += (k + 1) as u64;
                return Ok(Some(*pos - 4));
            }
        }
        r.consume(n);
        *pos += n as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_is_found_across_buffer_boundaries() {
        let data = b"xxGRIByyyGRIB".to_vec();
        let mut r = BufReader::with_capacity(4, &data[..]);
        let mut pos = 0;
        assert_eq!(find_magic(&mut r, &mut pos).unwrap(), Some(2));
        assert_eq!(find_magic(&mut r, &mut pos).unwrap(), Some(9));
        assert_eq!(find_magic(&mut r, &mut pos).unwrap(), None);
    }
}
