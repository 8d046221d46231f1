//! A job's **part**: its tiles in tile-id order, for the run's archives to be assembled
//! from (`.tilecast/<run>/parts/<layer>/<job>.part`, written before the job's result).
//!
//! Layout (integers little-endian): the magic `TCPART1\n`; the tile count `n` (u64); an
//! index of `n` entries `(tile id u64, colour length u32, data length u32)` in strictly
//! increasing tile id; then each tile's colour PNG followed by its data PNG (length 0: the
//! tile is above the layer's data maxzoom). The index lets a reader check the whole file
//! against its length before reading a tile, so a truncated part is an error at open.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use crate::error::{Error, Result};
use crate::io::pmtiles::corrupt;

pub const MAGIC: &[u8; 8] = b"TCPART1\n";
const INDEX_ENTRY: u64 = 16;
/// A part's read buffer: an assembly holds one per job of the layer, so this (times the
/// layer's jobs) is most of its memory.
const READ_BUFFER: usize = 32 << 10;

/// One tile of a part.
#[derive(Debug, Clone, PartialEq)]
pub struct PartTile {
    pub id: u64,
    pub colour: Vec<u8>,
    /// `None` above the layer's data maxzoom.
    pub data: Option<Vec<u8>>,
}

/// A part's bytes from a job's tiles (in any order; they are sorted here).
pub fn encode(mut tiles: Vec<PartTile>) -> Vec<u8> {
    tiles.sort_by_key(|t| t.id);
    let body: usize = tiles
        .iter()
        .map(|t| t.colour.len() + t.data.as_ref().map_or(0, Vec::len))
        .sum();
    let mut out = Vec::with_capacity(16 + tiles.len() * 16 + body);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(tiles.len() as u64).to_le_bytes());
    for t in &tiles {
        out.extend_from_slice(&t.id.to_le_bytes());
        out.extend_from_slice(&(t.colour.len() as u32).to_le_bytes());
        let data = t.data.as_ref().map_or(0, Vec::len) as u32;
        out.extend_from_slice(&data.to_le_bytes());
    }
    for t in tiles {
        out.extend_from_slice(&t.colour);
        out.extend_from_slice(t.data.as_deref().unwrap_or_default());
    }
    out
}

/// A part being read tile by tile.
pub struct PartReader {
    name: String,
    file: BufReader<File>,
    /// `(id, colour length, data length)`.
    index: Vec<(u64, u32, u32)>,
    next: usize,
}

impl PartReader {
    /// Opens and checks a part; `name` (its key) names it in errors.
    pub fn open(path: &Path, name: &str) -> Result<PartReader> {
        let f = File::open(path).map_err(|e| Error::io(path, "open", e))?;
        let len = f.metadata().map_err(|e| Error::io(path, "stat", e))?.len();
        let mut file = BufReader::with_capacity(READ_BUFFER, f);
        let mut head = [0u8; 16];
        if len < 16 {
            return Err(corrupt(
                name,
                format!("part of {len} bytes, shorter than its header"),
            ));
        }
        file.read_exact(&mut head)
            .map_err(|e| Error::io(path, "read", e))?;
        if &head[..8] != MAGIC {
            return Err(corrupt(name, "not a tilecast part (no TCPART1 magic)"));
        }
        let n = u64::from_le_bytes(head[8..].try_into().expect("8 bytes"));
        if n > (len - 16) / INDEX_ENTRY {
            return Err(corrupt(
                name,
                format!("index of {n} tiles in a part of {len} bytes"),
            ));
        }
        let mut raw = vec![0u8; (n * INDEX_ENTRY) as usize];
        file.read_exact(&mut raw)
            .map_err(|e| Error::io(path, "read", e))?;
        let mut index = Vec::with_capacity(n as usize);
        let mut body = 0u64;
        for c in raw.chunks_exact(INDEX_ENTRY as usize) {
            let id = u64::from_le_bytes(c[..8].try_into().expect("8 bytes"));
            let colour = u32::from_le_bytes(c[8..12].try_into().expect("4 bytes"));
            let data = u32::from_le_bytes(c[12..].try_into().expect("4 bytes"));
            if index.last().is_some_and(|&(last, _, _)| id <= last) {
                return Err(corrupt(
                    name,
                    format!("tile id {id} out of order in the index"),
                ));
            }
            if colour == 0 {
                return Err(corrupt(name, format!("tile {id} has an empty colour tile")));
            }
            body += u64::from(colour) + u64::from(data);
            index.push((id, colour, data));
        }
        let expected = 16 + n * INDEX_ENTRY + body;
        if expected != len {
            return Err(corrupt(
                name,
                format!("the index describes {expected} bytes, the part has {len} (truncated?)"),
            ));
        }
        Ok(PartReader {
            name: name.to_string(),
            file,
            index,
            next: 0,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The id of the next tile, `None` at the end.
    pub fn peek(&self) -> Option<u64> {
        self.index.get(self.next).map(|t| t.0)
    }

    /// The next tile.
    pub fn read(&mut self) -> Result<Option<PartTile>> {
        let Some(&(id, colour, data)) = self.index.get(self.next) else {
            return Ok(None);
        };
        self.next += 1;
        let mut c = vec![0u8; colour as usize];
        let mut d = vec![0u8; data as usize];
        let r = self
            .file
            .read_exact(&mut c)
            .and_then(|_| self.file.read_exact(&mut d));
        r.map_err(|e| corrupt(&self.name, format!("tile {id}: {e}")))?;
        Ok(Some(PartTile {
            id,
            colour: c,
            data: (data > 0).then_some(d),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiles() -> Vec<PartTile> {
        vec![
            PartTile {
                id: 9,
                colour: b"c9".to_vec(),
                data: None,
            },
            PartTile {
                id: 2,
                colour: b"c2".to_vec(),
                data: Some(b"d2!".to_vec()),
            },
            PartTile {
                id: 5,
                colour: b"c5x".to_vec(),
                data: Some(b"d5".to_vec()),
            },
        ]
    }

    #[test]
    fn parts_round_trip_in_tile_order() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.part");
        std::fs::write(&p, encode(tiles())).unwrap();
        let mut r = PartReader::open(&p, "k").unwrap();
        let mut back = Vec::new();
        while let Some(t) = r.read().unwrap() {
            back.push(t);
        }
        let mut want = tiles();
        want.sort_by_key(|t| t.id);
        assert_eq!(back, want);
        std::fs::write(&p, encode(Vec::new())).unwrap();
        assert_eq!(PartReader::open(&p, "k").unwrap().peek(), None);
    }

    /// Truncated, padded and garbage parts are errors naming the part, never panics.
    #[test]
    fn broken_parts_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.part");
        let whole = encode(tiles());
        let mut cases: Vec<Vec<u8>> = (0..whole.len()).map(|n| whole[..n].to_vec()).collect();
        cases.push([whole.clone(), vec![0]].concat());
        cases.push(b"GRIB garbage that is long enough to have a header".to_vec());
        let mut huge = whole.clone();
        huge[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
        cases.push(huge);
        for (i, bytes) in cases.iter().enumerate() {
            std::fs::write(&p, bytes).unwrap();
            let e = PartReader::open(&p, ".tilecast/r/parts/l/j.part")
                .err()
                .unwrap_or_else(|| panic!("case {i} opened"))
                .to_string();
            assert!(
                e.contains(".tilecast/r/parts/l/j.part: corrupt file"),
                "{e}"
            );
        }
    }
}
