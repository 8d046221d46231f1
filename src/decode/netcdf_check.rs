//! Checks that a NetCDF file's declared sizes can be trusted, before anything is allocated
//! for them: the classic-format header against the file's length (before the C library
//! parses it); field shapes are checked against [`crate::limits`] by the inventory.
//!
//! The netCDF C library allocates what a classic header declares (a name, an attribute's
//! values, a list of dimensions) before reading it, so a 4 kB file could claim a 3 GB
//! attribute (found by fuzzing). Every length in the header is bounded here by the bytes
//! left in the file. NetCDF4/HDF5 files are left to the HDF5 library, whose format is far
//! larger than this check could follow. Shapes are not bounded by bytes at all (classic
//! files may be truncated, HDF5 chunks never written read as fill values), so a field's
//! points and a file's 2-D slices are capped instead.
//!
//! The classic header, after the 4-byte magic (`CDF` 1, 2 or 5), per the netCDF "File
//! Format Specification": `numrecs`, then lists of dimensions, global attributes and
//! variables, each `ABSENT` or a tag and a count; counts, lengths and dimension ids are 4
//! bytes, 8 in CDF-5; names and attribute values are padded to 4 bytes.

use std::io::{BufReader, Read};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use crate::error::Error;

/// Checks the header of a classic, 64-bit offset or CDF-5 file; anything else passes.
pub fn classic_header(path: &Path) -> Result<(), String> {
    let file = std::fs::File::open(path).map_err(|e| format!("open: {e}"))?;
    let size = file.metadata().map_err(|e| format!("stat: {e}"))?.len();
    let mut h = Header {
        r: BufReader::new(file),
        pos: 0,
        size,
        wide: false,
    };
    let mut magic = [0u8; 4];
    if h.r.read_exact(&mut magic).is_err() || &magic[..3] != b"CDF" {
        return Ok(());
    }
    h.pos = 4;
    let version = magic[3];
    h.wide = version == 5;
    let numrecs = h.count("numrecs")?;
    let mut dims = Vec::new();
    h.list(0x0A, "dimension", |h| {
        h.name("dimension")?;
        dims.push(h.count("dimension length")?);
        Ok(())
    })?;
    h.list(0x0C, "global attribute", Header::attribute)?;
    let mut vars = Vec::new();
    h.list(0x0B, "variable", |h| {
        let name = h.name("variable")?;
        let rank = h.count("variable rank")?;
        if rank > h.size.saturating_sub(h.pos) / 4 {
            return Err(format!("variable {name} declares {rank} dimensions"));
        }
        let ids = (0..rank)
            .map(|_| h.count("variable dimension ids"))
            .collect::<Result<Vec<u64>, String>>()?;
        h.list(0x0C, "variable attribute", Header::attribute)?;
        let t = h.read_u32("variable type")?;
        let size = type_size(t).ok_or_else(|| format!("variable {name} has type {t}"))?;
        h.count("variable size")?;
        let hi = if version == 1 {
            0
        } else {
            h.read_u32("variable offset")?
        };
        let begin = u64::from(hi) << 32 | u64::from(h.read_u32("variable offset")?);
        vars.push(Var {
            name,
            ids,
            size,
            begin,
        });
        Ok(())
    })?;
    let streaming = numrecs
        == if h.wide {
            u64::MAX
        } else {
            u64::from(u32::MAX)
        };
    data_fits(&dims, &vars, (!streaming).then_some(numrecs), size)
}

/// A variable as the header declares it.
struct Var {
    name: String,
    /// Dimension ids; the record dimension (length 0 in the header) can only be first.
    ids: Vec<u64>,
    /// Bytes per value.
    size: u64,
    /// Where its data (its first record's, for a record variable) starts.
    begin: u64,
}

/// Every variable's data must lie inside the file: the shapes a header declares are
/// otherwise unbounded (a 4 kB file declared 983,046 records, each a field to list), and
/// the C library reads what is missing as fill values.
fn data_fits(dims: &[u64], vars: &[Var], numrecs: Option<u64>, size: u64) -> Result<(), String> {
    let mut records = Vec::new();
    for v in vars {
        let mut bytes = v.size;
        let mut record = false;
        for (k, &id) in v.ids.iter().enumerate() {
            let len = *dims.get(id as usize).ok_or_else(|| {
                format!("variable {} uses dimension {id} of {}", v.name, dims.len())
            })?;
            if len == 0 && k == 0 {
                record = true;
                continue;
            }
            bytes = bytes.saturating_mul(len);
        }
        if record {
            records.push((v.begin, bytes));
        } else if v.begin.checked_add(bytes).is_none_or(|end| end > size) {
            return Err(format!(
                "variable {} declares {bytes} bytes of data at byte {}, beyond the end of \
                 the file ({size} bytes)",
                v.name, v.begin
            ));
        }
    }
    let (Some(n), Some(first)) = (numrecs, records.iter().map(|r| r.0).min()) else {
        return Ok(());
    };
    // Each variable's part of a record is padded to 4 bytes, unless it is the only one.
    let record: u64 = match records.as_slice() {
        [(_, b)] => *b,
        all => all.iter().fold(0u64, |sum, r| {
            sum.saturating_add(r.1.checked_next_multiple_of(4).unwrap_or(u64::MAX))
        }),
    };
    if n.checked_mul(record)
        .is_none_or(|b| b > size.saturating_sub(first))
    {
        return Err(format!(
            "{n} records of {record} bytes declared from byte {first}, beyond the end of the \
             file ({size} bytes)"
        ));
    }
    Ok(())
}

/// Bytes per value of a netCDF external type (1-6 classic, 7-11 CDF-5).
fn type_size(t: u32) -> Option<u64> {
    Some(match t {
        1 | 2 | 7 => 1,
        3 | 8 => 2,
        4 | 5 | 9 => 4,
        6 | 10 | 11 => 8,
        _ => return None,
    })
}

struct Header {
    r: BufReader<std::fs::File>,
    pos: u64,
    size: u64,
    /// CDF-5: 8-byte counts.
    wide: bool,
}

impl Header {
    fn read_u32(&mut self, what: &str) -> Result<u32, String> {
        let mut b = [0u8; 4];
        self.r
            .read_exact(&mut b)
            .map_err(|_| format!("header cut short in {what} at byte {}", self.pos))?;
        self.pos += 4;
        Ok(u32::from_be_bytes(b))
    }

    /// A count, length or size: 4 bytes, 8 in CDF-5.
    fn count(&mut self, what: &str) -> Result<u64, String> {
        let hi = if self.wide { self.read_u32(what)? } else { 0 };
        Ok(u64::from(hi) << 32 | u64::from(self.read_u32(what)?))
    }

    /// Skips `n` items of `size` bytes padded to 4, refusing more than the file holds.
    fn skip(&mut self, n: u64, size: u64, what: &str) -> Result<(), String> {
        let rest = self.size.saturating_sub(self.pos);
        let bytes = n
            .checked_mul(size)
            .and_then(|b| b.checked_next_multiple_of(4))
            .filter(|&b| b <= rest)
            .ok_or_else(|| {
                format!(
                    "{what} at byte {} declares {n} x {size} bytes, the file has {rest} left",
                    self.pos
                )
            })?;
        self.advance(bytes)
    }

    fn advance(&mut self, bytes: u64) -> Result<(), String> {
        self.r
            .seek_relative(bytes as i64)
            .map_err(|e| format!("seek: {e}"))?;
        self.pos += bytes;
        Ok(())
    }

    /// A name: its length must fit in the file, and it must be UTF-8, which the netcdf crate
    /// assumes (it panics otherwise).
    fn name(&mut self, what: &str) -> Result<String, String> {
        let at = self.pos;
        let n = self.count(what)?;
        let rest = self.size.saturating_sub(self.pos);
        if n > rest {
            return Err(format!(
                "{what} name at byte {at} declares {n} bytes, the file has {rest} left"
            ));
        }
        let mut name = vec![0u8; n as usize];
        self.r
            .read_exact(&mut name)
            .map_err(|_| format!("header cut short in a {what} name at byte {}", self.pos))?;
        self.pos += n;
        let name = String::from_utf8(name)
            .map_err(|_| format!("{what} name at byte {at} is not UTF-8"))?;
        self.advance(n.next_multiple_of(4) - n)?;
        Ok(name)
    }

    /// `ABSENT` or `tag count item...`, with room for at least 4 bytes per item.
    fn list(
        &mut self,
        tag: u32,
        what: &str,
        mut item: impl FnMut(&mut Self) -> Result<(), String>,
    ) -> Result<(), String> {
        let at = self.pos;
        let t = self.read_u32(what)?;
        let n = self.count(what)?;
        if t == 0 && n == 0 {
            return Ok(());
        }
        if t != tag {
            return Err(format!(
                "expected a {what} list at byte {at}, found tag {t}"
            ));
        }
        if n > self.size.saturating_sub(self.pos) / 4 {
            return Err(format!(
                "{what} list at byte {at} declares {n} entries, more than the file can hold"
            ));
        }
        (0..n).try_for_each(|_| item(self))
    }

    fn attribute(&mut self) -> Result<(), String> {
        self.name("attribute")?;
        let t = self.read_u32("attribute type")?;
        let size =
            type_size(t).ok_or_else(|| format!("attribute type {t} at byte {}", self.pos - 4))?;
        let n = self.count("attribute length")?;
        self.skip(n, size, "attribute values")
    }
}

/// Runs `f`, which calls the netcdf crate, turning a panic into an error: the crate
/// `expect`s valid UTF-8 names, known types and successful inquiries of the C library, which
/// a hostile NetCDF4 file need not give it (classic headers are checked by
/// [`classic_header`] first). The file's mutex may be poisoned by the panic; its users take
/// the inner value, since the C library's state does not depend on the Rust side's.
pub fn guarded<T>(path: &Path, context: &str, f: impl FnOnce() -> T) -> Result<T, Error> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|panic| {
        let why = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("unknown");
        Error::NetCdf {
            path: path.to_owned(),
            context: context.to_string(),
            message: format!("the netcdf crate gave up on this file: {why}"),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(bytes: &[u8]) -> Result<(), String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.nc");
        std::fs::write(&path, bytes).unwrap();
        classic_header(&path)
    }

    /// CDF-1 with one dimension `x` of 4, one global attribute, no variables, then `pad`.
    fn header(attr_len: u32, pad: usize) -> Vec<u8> {
        let mut h = b"CDF\x01\0\0\0\0".to_vec();
        let w = |h: &mut Vec<u8>, v: u32| h.extend_from_slice(&v.to_be_bytes());
        w(&mut h, 0x0A);
        w(&mut h, 1);
        w(&mut h, 1);
        h.extend_from_slice(b"x\0\0\0");
        w(&mut h, 4);
        w(&mut h, 0x0C);
        w(&mut h, 1);
        w(&mut h, 5);
        h.extend_from_slice(b"title\0\0\0");
        w(&mut h, 2);
        w(&mut h, attr_len);
        h.extend_from_slice(b"abcd");
        h.extend_from_slice(&[0; 8]);
        h.resize(h.len() + pad, 0);
        h
    }

    #[test]
    fn lengths_must_fit_in_the_file() {
        assert_eq!(check(&header(4, 0)), Ok(()));
        let e = check(&header(3_000_000_000, 0)).unwrap_err();
        assert!(e.contains("declares 3000000000 x 1 bytes"), "{e}");
        assert!(check(&header(4, 0)[..30])
            .unwrap_err()
            .contains("cut short"));
        assert_eq!(check(b"\x89HDF\r\n\x1a\n"), Ok(()));
        let mut bad = header(4, 0);
        bad[20] = 0xff; // the dimension's name
        assert!(check(&bad)
            .unwrap_err()
            .contains("name at byte 16 is not UTF-8"));
    }

    #[test]
    fn data_must_lie_inside_the_file() {
        let var = |name: &str, ids: &[u64], begin| Var {
            name: name.into(),
            ids: ids.to_vec(),
            size: 4,
            begin,
        };
        // x(3) fixed at 100, then record variables t(rec, x) and u(rec) from 112.
        let dims = [0, 3];
        let vars = [
            var("x", &[1], 100),
            var("t", &[0, 1], 112),
            var("u", &[0], 124),
        ];
        assert_eq!(data_fits(&dims, &vars, Some(2), 112 + 2 * 16), Ok(()));
        let e = data_fits(&dims, &vars, Some(983_046), 1000).unwrap_err();
        assert!(
            e.contains("983046 records of 16 bytes declared from byte 112"),
            "{e}"
        );
        assert_eq!(data_fits(&dims, &vars, None, 1000), Ok(()));
        let e = data_fits(&dims, &vars, Some(0), 111).unwrap_err();
        assert!(
            e.contains("variable x declares 12 bytes of data at byte 100"),
            "{e}"
        );
        let e = data_fits(&[7], &[var("y", &[3], 0)], None, 10).unwrap_err();
        assert!(e.contains("uses dimension 3 of 1"), "{e}");
    }

    #[test]
    fn a_panic_in_the_netcdf_crate_is_an_error() {
        let e = guarded(Path::new("f.nc"), "read metadata", || {
            panic!("Unknown type")
        });
        let e = e.unwrap_err().to_string();
        assert!(
            e.contains("f.nc: read metadata") && e.contains("Unknown type"),
            "{e}"
        );
    }
}
