//! Writing an archive in one pass over tiles in tile-id order: tile bytes stream to a data
//! file, identical tiles are stored once (by a 16-byte SHA-256 prefix) and consecutive
//! identical ones become one entry with a run length; [`ArchiveWriter::finish`] writes
//! header, root directory, metadata, leaves and the data into the archive file.
//!
//! Memory: the entries (24 bytes per run of tiles) and the digests of distinct tiles (24
//! bytes each); never the tiles' bytes.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::directory::{self, Entry};
use super::{
    tile_id, Header, COMPRESSION_GZIP, COMPRESSION_NONE, HEADER_LEN, MAX_ID_ZOOM, TILE_TYPE_PNG,
};
use crate::error::{Error, Result};

/// What the header says besides the layout: zooms, bounds, centre.
#[derive(Debug, Clone, PartialEq)]
pub struct Extent {
    pub min_zoom: u8,
    pub max_zoom: u8,
    pub bounds: [f64; 4],
    pub center: [f64; 2],
    pub center_zoom: u8,
}

/// What [`ArchiveWriter::finish`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    pub header: Header,
    /// Bytes of the whole archive.
    pub bytes: u64,
}

/// An archive being written (see the module doc).
pub struct ArchiveWriter {
    data_path: PathBuf,
    data: BufWriter<File>,
    data_len: u64,
    entries: Vec<Entry>,
    seen: HashMap<[u8; 16], (u64, u32)>,
    addressed: u64,
    last_id: Option<u64>,
}

impl ArchiveWriter {
    /// Starts an archive whose tile data goes to a new file at `data_path` (removed by
    /// [`ArchiveWriter::finish`] and on drop).
    pub fn new(data_path: &Path) -> Result<ArchiveWriter> {
        // Read back by `finish`, so opened for both.
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(data_path)
            .map_err(|e| Error::io(data_path, "create", e))?;
        Ok(ArchiveWriter {
            data_path: data_path.to_path_buf(),
            data: BufWriter::with_capacity(1 << 20, f),
            data_len: 0,
            entries: Vec::new(),
            seen: HashMap::new(),
            addressed: 0,
            last_id: None,
        })
    }

    /// Adds tile `z/x/y`; tiles must come in strictly increasing tile id.
    pub fn add(&mut self, z: u8, x: u32, y: u32, bytes: &[u8]) -> Result<()> {
        if z > MAX_ID_ZOOM || x >> z != 0 || y >> z != 0 || bytes.is_empty() {
            return Err(Error::Encode {
                what: format!("PMTiles tile {z}/{x}/{y}"),
                reason: format!("outside the tile matrix or empty ({} bytes)", bytes.len()),
            });
        }
        self.add_id(tile_id(z, x, y), bytes)
    }

    /// Adds the tile with id `id` (see [`ArchiveWriter::add`]).
    pub fn add_id(&mut self, id: u64, bytes: &[u8]) -> Result<()> {
        if self.last_id.is_some_and(|l| id <= l) {
            return Err(Error::Encode {
                what: "PMTiles archive".into(),
                reason: format!("tile id {id} after {:?}: not in order", self.last_id),
            });
        }
        let length = u32::try_from(bytes.len()).map_err(|_| Error::Encode {
            what: "PMTiles archive".into(),
            reason: format!("tile {id} of {} bytes", bytes.len()),
        })?;
        self.last_id = Some(id);
        let digest: [u8; 16] = Sha256::digest(bytes)[..16].try_into().expect("16 bytes");
        let offset = match self.seen.get(&digest) {
            Some(&(offset, len)) if len == length => offset,
            _ => {
                let offset = self.data_len;
                self.data
                    .write_all(bytes)
                    .map_err(|e| Error::io(&self.data_path, "write", e))?;
                self.data_len += u64::from(length);
                self.seen.insert(digest, (offset, length));
                offset
            }
        };
        self.addressed += 1;
        if let Some(last) = self.entries.last_mut() {
            if last.offset == offset
                && last.length == length
                && last.tile_id + u64::from(last.run_length) == id
                && last.run_length < u32::MAX
            {
                last.run_length += 1;
                return Ok(());
            }
        }
        self.entries.push(Entry {
            tile_id: id,
            offset,
            length,
            run_length: 1,
        });
        Ok(())
    }

    /// Tiles added so far.
    pub fn tiles(&self) -> u64 {
        self.addressed
    }

    /// Writes the archive to `path` (created or replaced) with `metadata` (a JSON object)
    /// and removes the data file.
    pub fn finish(mut self, extent: &Extent, metadata: &[u8], path: &Path) -> Result<Written> {
        self.data
            .flush()
            .map_err(|e| Error::io(&self.data_path, "write", e))?;
        let dirs = directory::build(&self.entries);
        let metadata = directory::gzip(metadata);
        let root_offset = HEADER_LEN as u64;
        let metadata_offset = root_offset + dirs.root.len() as u64;
        let leaf_offset = metadata_offset + metadata.len() as u64;
        let data_offset = leaf_offset + dirs.leaves.len() as u64;
        let header = Header {
            root_offset,
            root_length: dirs.root.len() as u64,
            metadata_offset,
            metadata_length: metadata.len() as u64,
            leaf_offset,
            leaf_length: dirs.leaves.len() as u64,
            data_offset,
            data_length: self.data_len,
            addressed_tiles: self.addressed,
            tile_entries: self.entries.len() as u64,
            tile_contents: self.seen.len() as u64,
            clustered: true,
            internal_compression: COMPRESSION_GZIP,
            tile_compression: COMPRESSION_NONE,
            tile_type: TILE_TYPE_PNG,
            min_zoom: extent.min_zoom,
            max_zoom: extent.max_zoom,
            bounds: extent.bounds,
            center_zoom: extent.center_zoom,
            center: extent.center,
        };
        let f = File::create(path).map_err(|e| Error::io(path, "create", e))?;
        let mut out = BufWriter::with_capacity(1 << 20, f);
        let w = |r: std::io::Result<()>| r.map_err(|e| Error::io(path, "write", e));
        w(out.write_all(&header.encode()))?;
        w(out.write_all(&dirs.root))?;
        w(out.write_all(&metadata))?;
        w(out.write_all(&dirs.leaves))?;
        let data = self.data.get_mut();
        data.seek(SeekFrom::Start(0))
            .map_err(|e| Error::io(&self.data_path, "seek", e))?;
        std::io::copy(data, &mut out).map_err(|e| Error::io(path, "write", e))?;
        let f = out
            .into_inner()
            .map_err(|e| Error::io(path, "write", e.into_error()))?;
        f.sync_all().map_err(|e| Error::io(path, "sync", e))?;
        Ok(Written {
            bytes: data_offset + self.data_len,
            header,
        })
    }
}

impl Drop for ArchiveWriter {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.data_path);
    }
}
