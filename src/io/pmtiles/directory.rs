//! PMTiles directories (spec chapter 4): entries, their varint columnar encoding, gzip, and
//! the split of a long directory into a root of leaf pointers and leaf directories.

use std::io::{Read, Write};

use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;

use super::{corrupt, HEADER_LEN, ROOT_LIMIT};
use crate::error::Result;

/// One directory entry: `run_length` tiles from `tile_id` on share the bytes at `offset`
/// (relative to the tile data), or, with `run_length` 0, a leaf directory at `offset`
/// (relative to the leaf section) whose first tile is `tile_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub tile_id: u64,
    pub offset: u64,
    pub length: u32,
    pub run_length: u32,
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads a varint at `*at`; `None` past the end or beyond 64 bits.
fn get_varint(b: &[u8], at: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*at)?;
        *at += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// The uncompressed encoding of a directory (spec 4.2): count, delta tile ids, run lengths,
/// lengths, offsets (0 when contiguous with the previous entry, else offset + 1).
pub fn encode_raw(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::with_capacity(entries.len() * 6 + 4);
    put_varint(&mut out, entries.len() as u64);
    let mut last = 0u64;
    for e in entries {
        put_varint(&mut out, e.tile_id - last);
        last = e.tile_id;
    }
    for e in entries {
        put_varint(&mut out, e.run_length.into());
    }
    for e in entries {
        put_varint(&mut out, e.length.into());
    }
    let mut next = 0u64;
    for (i, e) in entries.iter().enumerate() {
        let v = if i > 0 && e.offset == next {
            0
        } else {
            e.offset + 1
        };
        put_varint(&mut out, v);
        next = e.offset + u64::from(e.length);
    }
    out
}

/// A gzip member with a zero time stamp, so the same entries give the same bytes.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut z = GzEncoder::new(Vec::new(), Compression::default());
    z.write_all(bytes).expect("writing to memory");
    z.finish().expect("writing to memory")
}

/// Most bytes a directory or the metadata may inflate to: far above any directory tilecast
/// writes (leaves hold at most a few thousand entries), low enough that a gzip bomb in a
/// hostile archive cannot exhaust memory.
pub const MAX_INFLATED: u64 = 64 << 20;

/// Inflates a gzip member of an archive named `name`.
pub fn gunzip(bytes: &[u8], name: &str, what: &str) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    GzDecoder::new(bytes)
        .take(MAX_INFLATED + 1)
        .read_to_end(&mut out)
        .map_err(|e| corrupt(name, format!("{what}: not a gzip member: {e}")))?;
    if out.len() as u64 > MAX_INFLATED {
        return Err(corrupt(
            name,
            format!("{what}: inflates past {MAX_INFLATED} bytes"),
        ));
    }
    Ok(out)
}

/// Decodes an uncompressed directory; `name` and `what` locate it for errors.
pub fn decode_raw(b: &[u8], name: &str, what: &str) -> Result<Vec<Entry>> {
    let bad = |r: &str| corrupt(name, format!("{what}: {r}"));
    let mut at = 0;
    let n = get_varint(b, &mut at).ok_or_else(|| bad("truncated entry count"))?;
    // Every entry takes at least four bytes: a count above that is a lie. (An archive of
    // no tiles has an empty root: tilecast writes one for a layer without data.)
    if n > (b.len() as u64) / 4 {
        return Err(bad(&format!(
            "{n} entries in {} bytes of directory",
            b.len()
        )));
    }
    let n = n as usize;
    let mut entries = vec![
        Entry {
            tile_id: 0,
            offset: 0,
            length: 0,
            run_length: 0
        };
        n
    ];
    let mut next = || get_varint(b, &mut at).ok_or_else(|| bad("truncated entries"));
    let mut last = 0u64;
    for e in entries.iter_mut() {
        last = last
            .checked_add(next()?)
            .ok_or_else(|| bad("tile id past 2^64"))?;
        e.tile_id = last;
    }
    for e in entries.iter_mut() {
        e.run_length = u32::try_from(next()?).map_err(|_| bad("run length past 2^32"))?;
    }
    for e in entries.iter_mut() {
        e.length = u32::try_from(next()?).map_err(|_| bad("length past 2^32"))?;
        if e.length == 0 {
            return Err(bad("an entry of length 0"));
        }
    }
    for i in 0..n {
        let v = next()?;
        entries[i].offset = if v == 0 && i > 0 {
            entries[i - 1].offset + u64::from(entries[i - 1].length)
        } else if v == 0 {
            return Err(bad("the first offset is 'contiguous'"));
        } else {
            v - 1
        };
    }
    Ok(entries)
}

/// Root directory and leaf section of an archive's entries, both gzip-compressed.
pub struct Directories {
    pub root: Vec<u8>,
    pub leaves: Vec<u8>,
}

/// Leaf size to start from: about 4 KiB of gzip for PNG tiles, as clients fetch leaves whole.
const FIRST_LEAF_ENTRIES: usize = 4096;

/// Lays out the entries: all in the root when header and root fit [`ROOT_LIMIT`], else
/// leaves of a growing number of entries until the root of their pointers fits.
pub fn build(entries: &[Entry]) -> Directories {
    let root = gzip(&encode_raw(entries));
    if HEADER_LEN + root.len() <= ROOT_LIMIT {
        return Directories {
            root,
            leaves: Vec::new(),
        };
    }
    let mut per_leaf = FIRST_LEAF_ENTRIES;
    loop {
        let mut leaves = Vec::new();
        let mut pointers = Vec::new();
        for chunk in entries.chunks(per_leaf) {
            let leaf = gzip(&encode_raw(chunk));
            pointers.push(Entry {
                tile_id: chunk[0].tile_id,
                offset: leaves.len() as u64,
                length: leaf.len() as u32,
                run_length: 0,
            });
            leaves.extend_from_slice(&leaf);
        }
        let root = gzip(&encode_raw(&pointers));
        if HEADER_LEN + root.len() <= ROOT_LIMIT {
            return Directories { root, leaves };
        }
        per_leaf *= 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_are_protobufs() {
        let cases: [(u64, &[u8]); 5] = [
            (0, &[0]),
            (1, &[1]),
            (127, &[0x7f]),
            (300, &[0xac, 0x02]),
            (
                u64::MAX,
                &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
            ),
        ];
        for (v, bytes) in cases {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(out, bytes, "{v}");
            let mut at = 0;
            assert_eq!(get_varint(bytes, &mut at), Some(v));
            assert_eq!(at, bytes.len());
        }
        let mut at = 0;
        assert_eq!(get_varint(&[0x80, 0x80], &mut at), None);
    }

    fn entries(n: u64) -> Vec<Entry> {
        let mut offset = 0;
        (0..n)
            .map(|i| {
                let length = 100 + (i % 7) as u32;
                // Every fifth entry repeats an earlier tile (deduplicated, not contiguous).
                if i % 5 == 4 {
                    Entry {
                        tile_id: i * 3,
                        offset: 0,
                        length: 100,
                        run_length: 2,
                    }
                } else {
                    let e = Entry {
                        tile_id: i * 3,
                        offset,
                        length,
                        run_length: 1,
                    };
                    offset += u64::from(length);
                    e
                }
            })
            .collect()
    }

    #[test]
    fn directories_round_trip() {
        let es = entries(1000);
        let raw = encode_raw(&es);
        assert_eq!(decode_raw(&raw, "a", "root").unwrap(), es);
        let z = gzip(&raw);
        assert_eq!(gunzip(&z, "a", "root").unwrap(), raw);
        // The spec's own example: contiguous offsets are written as 0.
        let two = [
            Entry {
                tile_id: 5,
                offset: 0,
                length: 42,
                run_length: 1,
            },
            Entry {
                tile_id: 6,
                offset: 42,
                length: 7,
                run_length: 3,
            },
        ];
        assert_eq!(encode_raw(&two), vec![2, 5, 1, 1, 3, 42, 7, 1, 0]);
    }

    #[test]
    fn long_directories_go_to_leaves() {
        let es = entries(200_000);
        let d = build(&es);
        assert!(HEADER_LEN + d.root.len() <= ROOT_LIMIT);
        assert!(!d.leaves.is_empty());
        let root = decode_raw(&gunzip(&d.root, "a", "root").unwrap(), "a", "root").unwrap();
        let mut back = Vec::new();
        for p in &root {
            assert_eq!(p.run_length, 0);
            let bytes = &d.leaves[p.offset as usize..(p.offset + u64::from(p.length)) as usize];
            let leaf = decode_raw(&gunzip(bytes, "a", "leaf").unwrap(), "a", "leaf").unwrap();
            assert_eq!(leaf[0].tile_id, p.tile_id);
            back.extend(leaf);
        }
        assert_eq!(back, es);
        // A short one stays in the root.
        assert!(build(&es[..10]).leaves.is_empty());
    }

    #[test]
    fn garbage_directories_are_errors() {
        for bad in [&[][..], &[5, 1][..], &[0xff; 20][..]] {
            let e = decode_raw(bad, "x.pmtiles", "root directory").unwrap_err();
            assert!(
                e.to_string()
                    .contains("x.pmtiles: corrupt file: root directory"),
                "{e}"
            );
        }
        let e = gunzip(b"not gzip", "x.pmtiles", "leaf")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a gzip member"), "{e}");
    }
}
