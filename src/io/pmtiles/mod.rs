//! PMTiles version 3 archives: one file holding a tile pyramid, read by clients with HTTP
//! range requests (https://github.com/protomaps/PMTiles/blob/main/spec/v3/spec.md).
//!
//! This module owns the format: the 127-byte [`Header`], Hilbert [`tile_id`]s, directories
//! ([`directory`]: varints, gzip, root and leaves), the streaming [`writer`] and a small
//! [`reader`] (for tests, the hostile-input checks and `tilecast` itself; clients use their
//! own). It knows nothing of runs or jobs: [`crate::run::archive`] feeds it a run's tiles.
//!
//! Written here rather than with the `pmtiles` crate because a run's archive is assembled by
//! a k-way merge of parts that are already in tile-id order: the writer takes tiles one at a
//! time in that order, streams their bytes to a file and keeps only the directory entries
//! (24 bytes per run of tiles) and a 16-byte digest per distinct tile in memory, so the
//! memory of an assembly does not grow with the tiles' bytes.

pub mod directory;
pub mod reader;
pub mod writer;

use crate::error::{Error, Result};

/// `PMTiles` and the spec version 3.
pub const MAGIC: &[u8; 7] = b"PMTiles";
pub const VERSION: u8 = 3;
/// The fixed header length.
pub const HEADER_LEN: usize = 127;
/// The header and root directory must fit the first 16 KiB, which clients fetch at once.
pub const ROOT_LIMIT: usize = 16_384;

/// Compression codes of the header (spec 3.3).
pub const COMPRESSION_NONE: u8 = 1;
pub const COMPRESSION_GZIP: u8 = 2;
/// Tile type code of PNG tiles.
pub const TILE_TYPE_PNG: u8 = 2;

/// The archive header (spec chapter 3), every field as stored.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Header {
    pub root_offset: u64,
    pub root_length: u64,
    pub metadata_offset: u64,
    pub metadata_length: u64,
    pub leaf_offset: u64,
    pub leaf_length: u64,
    pub data_offset: u64,
    pub data_length: u64,
    pub addressed_tiles: u64,
    pub tile_entries: u64,
    pub tile_contents: u64,
    pub clustered: bool,
    pub internal_compression: u8,
    pub tile_compression: u8,
    pub tile_type: u8,
    pub min_zoom: u8,
    pub max_zoom: u8,
    /// `[west, south, east, north]` degrees, stored as 1e-7 degree integers.
    pub bounds: [f64; 4],
    pub center_zoom: u8,
    /// `[longitude, latitude]`.
    pub center: [f64; 2],
}

/// Degrees as the header's 1e-7 degree integers.
fn e7(v: f64) -> i32 {
    (v * 1e7).round().clamp(i32::MIN as f64, i32::MAX as f64) as i32
}

impl Header {
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[..7].copy_from_slice(MAGIC);
        b[7] = VERSION;
        let words = [
            self.root_offset,
            self.root_length,
            self.metadata_offset,
            self.metadata_length,
            self.leaf_offset,
            self.leaf_length,
            self.data_offset,
            self.data_length,
            self.addressed_tiles,
            self.tile_entries,
            self.tile_contents,
        ];
        for (i, w) in words.iter().enumerate() {
            b[8 + 8 * i..16 + 8 * i].copy_from_slice(&w.to_le_bytes());
        }
        b[96] = u8::from(self.clustered);
        b[97] = self.internal_compression;
        b[98] = self.tile_compression;
        b[99] = self.tile_type;
        b[100] = self.min_zoom;
        b[101] = self.max_zoom;
        let [w, s, e, n] = self.bounds;
        for (i, v) in [w, s, e, n].into_iter().enumerate() {
            b[102 + 4 * i..106 + 4 * i].copy_from_slice(&e7(v).to_le_bytes());
        }
        b[118] = self.center_zoom;
        b[119..123].copy_from_slice(&e7(self.center[0]).to_le_bytes());
        b[123..127].copy_from_slice(&e7(self.center[1]).to_le_bytes());
        b
    }

    /// Reads a header; `name` is the archive's location for the error.
    pub fn decode(b: &[u8], name: &str) -> Result<Header> {
        if b.len() < HEADER_LEN {
            return Err(corrupt(
                name,
                format!("{} bytes, shorter than a header", b.len()),
            ));
        }
        if &b[..7] != MAGIC {
            return Err(corrupt(name, "no PMTiles magic number at byte 0"));
        }
        if b[7] != VERSION {
            return Err(corrupt(
                name,
                format!("spec version {} (only 3 is read)", b[7]),
            ));
        }
        let word = |i: usize| u64::from_le_bytes(b[8 + 8 * i..16 + 8 * i].try_into().unwrap());
        let deg = |at: usize| i32::from_le_bytes(b[at..at + 4].try_into().unwrap()) as f64 / 1e7;
        Ok(Header {
            root_offset: word(0),
            root_length: word(1),
            metadata_offset: word(2),
            metadata_length: word(3),
            leaf_offset: word(4),
            leaf_length: word(5),
            data_offset: word(6),
            data_length: word(7),
            addressed_tiles: word(8),
            tile_entries: word(9),
            tile_contents: word(10),
            clustered: b[96] == 1,
            internal_compression: b[97],
            tile_compression: b[98],
            tile_type: b[99],
            min_zoom: b[100],
            max_zoom: b[101],
            bounds: [deg(102), deg(106), deg(110), deg(114)],
            center_zoom: b[118],
            center: [deg(119), deg(123)],
        })
    }
}

/// A corrupt archive or part, named.
pub(crate) fn corrupt(name: &str, reason: impl Into<String>) -> Error {
    Error::Corrupt {
        path: name.into(),
        reason: reason.into(),
    }
}

/// Highest zoom a tile id can address in 64 bits (4^31 overflows the running sum past 31).
pub const MAX_ID_ZOOM: u8 = 31;

/// The tile id of `z/x/y`: the tiles of every lower zoom, then the tile's position along the
/// zoom's Hilbert curve (spec 4.1). `x` and `y` must be below 2^z.
pub fn tile_id(z: u8, x: u32, y: u32) -> u64 {
    debug_assert!(z <= MAX_ID_ZOOM);
    let before = ((1u64 << (2 * z as u32)) - 1) / 3;
    let n = 1u64 << z;
    let (mut x, mut y) = (x as u64, y as u64);
    let mut d = 0u64;
    let mut s = n / 2;
    while s > 0 {
        let rx = u64::from(x & s != 0);
        let ry = u64::from(y & s != 0);
        d += s * s * ((3 * rx) ^ ry);
        // Rotate the quadrant so the curve inside it runs the same way as the whole.
        if ry == 0 {
            if rx == 1 {
                x = s - 1 - (x & (s - 1));
                y = s - 1 - (y & (s - 1));
            }
            std::mem::swap(&mut x, &mut y);
        }
        s /= 2;
    }
    before + d
}

/// The `z/x/y` of a tile id (inverse of [`tile_id`]).
pub fn tile_of(id: u64) -> (u8, u32, u32) {
    let mut z = 0u8;
    let mut before = 0u64;
    while z < MAX_ID_ZOOM && before + (1u64 << (2 * z as u32)) <= id {
        before += 1u64 << (2 * z as u32);
        z += 1;
    }
    let mut t = id - before;
    let (mut x, mut y) = (0u64, 0u64);
    let mut s = 1u64;
    let n = 1u64 << z;
    while s < n {
        let rx = 1 & (t / 2);
        let ry = 1 & (t ^ rx);
        if ry == 0 {
            if rx == 1 {
                x = s - 1 - x;
                y = s - 1 - y;
            }
            std::mem::swap(&mut x, &mut y);
        }
        x += s * rx;
        y += s * ry;
        t /= 4;
        s *= 2;
    }
    (z, x as u32, y as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table of spec 4.1.
    #[test]
    fn tile_ids_match_the_spec() {
        let known = [
            ((0, 0, 0), 0),
            ((1, 0, 0), 1),
            ((1, 0, 1), 2),
            ((1, 1, 1), 3),
            ((1, 1, 0), 4),
            ((2, 0, 0), 5),
            ((12, 3423, 1763), 19_078_479),
        ];
        for ((z, x, y), id) in known {
            assert_eq!(tile_id(z, x, y), id, "{z}/{x}/{y}");
            assert_eq!(tile_of(id), (z, x, y), "{id}");
        }
    }

    #[test]
    fn tile_ids_are_a_bijection_per_zoom() {
        for z in 0..6u8 {
            let n = 1u32 << z;
            let mut ids: Vec<u64> = (0..n)
                .flat_map(|x| (0..n).map(move |y| tile_id(z, x, y)))
                .collect();
            ids.sort_unstable();
            let first = ((1u64 << (2 * z)) - 1) / 3;
            assert_eq!(
                ids,
                (first..first + (n as u64 * n as u64)).collect::<Vec<_>>()
            );
            for x in 0..n {
                for y in 0..n {
                    assert_eq!(tile_of(tile_id(z, x, y)), (z, x, y));
                }
            }
        }
        let top = (1u32 << 24) - 1;
        assert_eq!(tile_of(tile_id(24, top, 5)), (24, top, 5));
    }

    #[test]
    fn headers_round_trip_and_refuse_garbage() {
        let h = Header {
            root_offset: 127,
            root_length: 300,
            data_length: 1 << 40,
            clustered: true,
            internal_compression: COMPRESSION_GZIP,
            tile_compression: COMPRESSION_NONE,
            tile_type: TILE_TYPE_PNG,
            max_zoom: 5,
            bounds: [-180.0, -85.0511287, 180.0, 85.0511287],
            center: [12.5, -3.25],
            center_zoom: 2,
            ..Default::default()
        };
        let b = h.encode();
        assert_eq!(Header::decode(&b, "a").unwrap(), h);
        let e = Header::decode(&b[..100], "x.pmtiles")
            .unwrap_err()
            .to_string();
        assert!(e.contains("x.pmtiles") && e.contains("shorter"), "{e}");
        let mut bad = b;
        bad[7] = 2;
        let e = Header::decode(&bad, "x.pmtiles").unwrap_err().to_string();
        assert!(e.contains("version 2"), "{e}");
    }
}
