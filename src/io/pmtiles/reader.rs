//! Reading an archive from a local file: header, metadata, every tile entry, one tile. Every
//! offset and length is checked against the file before it is read, so a truncated or
//! garbage archive is an error naming the file and the section, never a panic or a huge
//! allocation. Used by tests and checks; map clients have their own readers.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::directory::{decode_raw, gunzip, Entry, MAX_INFLATED};
use super::{corrupt, tile_id, Header, COMPRESSION_GZIP, COMPRESSION_NONE, HEADER_LEN};
use crate::error::{Error, Result};

/// An open archive.
pub struct Archive {
    path: PathBuf,
    name: String,
    file: File,
    len: u64,
    pub header: Header,
    root: Vec<Entry>,
}

impl Archive {
    pub fn open(path: &Path) -> Result<Archive> {
        let mut file = File::open(path).map_err(|e| Error::io(path, "open", e))?;
        let len = file
            .metadata()
            .map_err(|e| Error::io(path, "stat", e))?
            .len();
        let name = path.to_string_lossy().into_owned();
        let mut head = vec![0u8; HEADER_LEN.min(len as usize)];
        file.read_exact(&mut head)
            .map_err(|e| Error::io(path, "read", e))?;
        let header = Header::decode(&head, &name)?;
        if header.internal_compression != COMPRESSION_GZIP
            && header.internal_compression != COMPRESSION_NONE
        {
            return Err(corrupt(
                &name,
                format!(
                    "internal compression {} (gzip or none are read)",
                    header.internal_compression
                ),
            ));
        }
        let mut a = Archive {
            path: path.to_path_buf(),
            name,
            file,
            len,
            header,
            root: Vec::new(),
        };
        let h = a.header.clone();
        a.root = a.directory(h.root_offset, h.root_length, "root directory")?;
        Ok(a)
    }

    /// Bytes at `offset..offset + length`, checked against the file's length.
    fn read_at(&mut self, offset: u64, length: u64, what: &str) -> Result<Vec<u8>> {
        let end = offset.checked_add(length);
        if end.is_none_or(|e| e > self.len) || length > MAX_INFLATED {
            return Err(corrupt(
                &self.name,
                format!(
                    "{what} at bytes {offset}+{length} is past the end ({} bytes)",
                    self.len
                ),
            ));
        }
        let mut b = vec![0u8; length as usize];
        self.file
            .seek(SeekFrom::Start(offset))
            .and_then(|_| self.file.read_exact(&mut b))
            .map_err(|e| Error::io(&self.path, "read", e))?;
        Ok(b)
    }

    fn inflate(&self, b: Vec<u8>, what: &str) -> Result<Vec<u8>> {
        if self.header.internal_compression == COMPRESSION_GZIP {
            gunzip(&b, &self.name, what)
        } else {
            Ok(b)
        }
    }

    fn directory(&mut self, offset: u64, length: u64, what: &str) -> Result<Vec<Entry>> {
        let b = self.read_at(offset, length, what)?;
        let raw = self.inflate(b, what)?;
        decode_raw(&raw, &self.name, what)
    }

    /// The JSON metadata.
    pub fn metadata(&mut self) -> Result<serde_json::Value> {
        let h = self.header.clone();
        let b = self.read_at(h.metadata_offset, h.metadata_length, "metadata")?;
        let raw = self.inflate(b, "metadata")?;
        serde_json::from_slice(&raw).map_err(|e| corrupt(&self.name, format!("metadata: {e}")))
    }

    /// Every tile entry in tile-id order, leaves resolved (one level, as the spec advises).
    pub fn entries(&mut self) -> Result<Vec<Entry>> {
        let mut out = Vec::new();
        for p in self.root.clone() {
            if p.run_length > 0 {
                out.push(p);
                continue;
            }
            let off = self.header.leaf_offset.checked_add(p.offset);
            let off = off.ok_or_else(|| corrupt(&self.name, "leaf offset past 2^64"))?;
            let leaf = self.directory(off, p.length.into(), "leaf directory")?;
            if leaf.iter().any(|e| e.run_length == 0) {
                return Err(corrupt(&self.name, "a leaf directory points to leaves"));
            }
            out.extend(leaf);
        }
        Ok(out)
    }

    /// The bytes of an entry's tile.
    pub fn tile_bytes(&mut self, e: &Entry) -> Result<Vec<u8>> {
        let off = self.header.data_offset.checked_add(e.offset);
        let off = off.ok_or_else(|| corrupt(&self.name, "tile offset past 2^64"))?;
        self.read_at(off, e.length.into(), "tile")
    }

    /// Tile `z/x/y`, or `None` when the archive has none there.
    pub fn tile(&mut self, z: u8, x: u32, y: u32) -> Result<Option<Vec<u8>>> {
        let id = tile_id(z, x, y);
        let entries = self.entries()?;
        let i = entries.partition_point(|e| e.tile_id <= id);
        match i.checked_sub(1).map(|i| entries[i]) {
            Some(e) if id < e.tile_id + u64::from(e.run_length) => self.tile_bytes(&e).map(Some),
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::writer::{ArchiveWriter, Extent};
    use super::*;

    fn extent() -> Extent {
        Extent {
            min_zoom: 0,
            max_zoom: 3,
            bounds: [-10.0, -5.0, 20.0, 30.0],
            center: [5.0, 12.5],
            center_zoom: 0,
        }
    }

    /// Tiles written in order come back byte for byte; identical tiles share an offset and
    /// consecutive identical ones are one entry.
    #[test]
    fn an_archive_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = ArchiveWriter::new(&dir.path().join("data")).unwrap();
        let mut tiles: Vec<(u8, u32, u32)> = (0..4u8)
            .flat_map(|z| (0..1u32 << z).flat_map(move |x| (0..1u32 << z).map(move |y| (z, x, y))))
            .collect();
        tiles.sort_by_key(|&(z, x, y)| tile_id(z, x, y));
        let body = |z: u8, x: u32, y: u32| -> Vec<u8> {
            if z == 3 && x < 4 {
                b"same".to_vec()
            } else {
                format!("tile {z}/{x}/{y}").into_bytes()
            }
        };
        for &(z, x, y) in &tiles {
            w.add(z, x, y, &body(z, x, y)).unwrap();
        }
        assert!(w.add(0, 0, 0, b"late").is_err(), "out of order");
        let path = dir.path().join("a.pmtiles");
        let meta = br#"{"name":"t"}"#;
        let written = w.finish(&extent(), meta, &path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), written.bytes);
        assert!(!dir.path().join("data").exists());
        let mut a = Archive::open(&path).unwrap();
        assert!(a.header.clustered);
        assert_eq!(a.header.addressed_tiles, tiles.len() as u64);
        assert_eq!(a.header.tile_contents, tiles.len() as u64 - 31);
        assert!(a.header.tile_entries < a.header.addressed_tiles);
        assert_eq!(a.metadata().unwrap()["name"], "t");
        for &(z, x, y) in &tiles {
            assert_eq!(
                a.tile(z, x, y).unwrap().unwrap(),
                body(z, x, y),
                "{z}/{x}/{y}"
            );
        }
        assert_eq!(a.tile(4, 0, 0).unwrap(), None);
    }

    /// Truncated and garbage archives are errors naming the file, never panics.
    #[test]
    fn broken_archives_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = ArchiveWriter::new(&dir.path().join("data")).unwrap();
        for i in 0..50u64 {
            w.add_id(i, format!("tile {i}").as_bytes()).unwrap();
        }
        let path = dir.path().join("a.pmtiles");
        w.finish(&extent(), b"{}", &path).unwrap();
        let whole = std::fs::read(&path).unwrap();
        let cut = dir.path().join("cut.pmtiles");
        for n in [0, 10, 126, 127, 140, whole.len() - 1] {
            std::fs::write(&cut, &whole[..n]).unwrap();
            let r = Archive::open(&cut).and_then(|mut a| {
                a.metadata()?;
                let es = a.entries()?;
                for e in &es {
                    a.tile_bytes(e)?;
                }
                Ok(())
            });
            let e = r.expect_err(&format!("cut at {n}")).to_string();
            assert!(e.contains("cut.pmtiles"), "{e}");
        }
        let mut garbage = whole.clone();
        for b in garbage[HEADER_LEN..HEADER_LEN + 20].iter_mut() {
            *b = 0xA5;
        }
        std::fs::write(&cut, &garbage).unwrap();
        let e = Archive::open(&cut).err().expect("garbage root").to_string();
        assert!(e.contains("root directory"), "{e}");
    }
}
