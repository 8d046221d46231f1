//! Opening input files: regular files only, read through bounded buffers or byte ranges.
//!
//! Devices (`/dev/zero`), FIFOs and sockets never end or never answer, so reading one would
//! hang or exhaust memory; they are refused before a byte is read, and a symbolic link is
//! judged by what it points to. Nothing here reads a whole file into memory.

use std::fs::File;
use std::io::{ErrorKind, Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::Path;

use crate::error::{Error, Result, StoreFault};

/// Opens a regular file for reading; returns it with its size.
pub fn open_file(path: &Path) -> Result<(File, u64)> {
    // Judge the path before opening it: opening a FIFO for reading blocks until a writer
    // comes. Non-blocking open covers a file swapped for a FIFO in between; it does not
    // change how regular files read.
    if let Ok(meta) = std::fs::metadata(path) {
        if !meta.is_file() {
            return Err(not_a_file(path, &meta));
        }
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::OpenOptionsExt;
        const O_NONBLOCK: i32 = 0o4000;
        options.custom_flags(O_NONBLOCK);
    }
    let f = options.open(path).map_err(|e| match e.kind() {
        // The file is gone: no retry brings it back.
        ErrorKind::NotFound => Error::Store {
            url: path.to_string_lossy().into_owned(),
            op: "open",
            fault: StoreFault::NotFound,
            message: e.to_string(),
            source: Some(Box::new(e)),
        },
        _ => Error::io(path, "open", e),
    })?;
    let meta = f.metadata().map_err(|e| Error::io(path, "stat", e))?;
    if !meta.is_file() {
        return Err(not_a_file(path, &meta));
    }
    Ok((f, meta.len()))
}

fn not_a_file(path: &Path, meta: &std::fs::Metadata) -> Error {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    let kind = if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else {
        "a special file"
    };
    Error::NotAFile {
        path: path.to_owned(),
        kind,
    }
}

/// Checks that `path` is a regular file without reading it (for libraries that open files
/// by name, such as the netCDF C library).
pub fn check_file(path: &Path) -> Result<u64> {
    open_file(path).map(|(_, size)| size)
}

/// Reads `range` of a regular file; a range past the end is a permanent error.
pub fn read_range(path: &Path, range: Range<u64>) -> Result<Vec<u8>> {
    let (mut f, size) = open_file(path)?;
    if range.start > range.end || range.end > size {
        return Err(Error::Corrupt {
            path: path.to_path_buf(),
            reason: format!(
                "byte range {}..{} past the end of the file ({size} bytes)",
                range.start, range.end
            ),
        });
    }
    f.seek(SeekFrom::Start(range.start))
        .map_err(|e| Error::io(path, "seek", e))?;
    let mut bytes = vec![0u8; (range.end - range.start) as usize];
    f.read_exact(&mut bytes)
        .map_err(|e| Error::io(path, "read", e))?;
    Ok(bytes)
}

/// Reads a whole small regular file, refusing one larger than `max` bytes.
pub fn read_small(path: &Path, max: u64) -> Result<Vec<u8>> {
    let (f, size) = open_file(path)?;
    if size > max {
        return Err(Error::OverLimit {
            path: path.to_owned(),
            subject: "file".into(),
            what: "bytes",
            declared: size,
            limit: max,
            flag: "a smaller file",
        });
    }
    let mut bytes = Vec::with_capacity(size as usize);
    // `take` bounds a file that grows while it is read.
    f.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, "read", e))?;
    if bytes.len() as u64 > max {
        return Err(Error::OverLimit {
            path: path.to_owned(),
            subject: "file".into(),
            what: "bytes",
            declared: bytes.len() as u64,
            limit: max,
            flag: "a smaller file",
        });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_fifos_and_directories_are_refused_before_reading() {
        for p in ["/dev/zero", "/dev/null", "/tmp"] {
            let e = open_file(Path::new(p)).unwrap_err();
            assert!(matches!(e, Error::NotAFile { .. }), "{p}: {e}");
        }
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        // Opening a FIFO for reading would block until a writer comes: refused first.
        let e = open_file(&fifo).unwrap_err();
        assert!(e.to_string().contains("a FIFO"), "{e}");
        let link = dir.path().join("zero.grib2");
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
        assert!(read_small(&link, 10).is_err());
    }

    #[test]
    fn small_reads_are_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p.json");
        std::fs::write(&p, vec![b' '; 100]).unwrap();
        assert_eq!(read_small(&p, 100).unwrap().len(), 100);
        assert!(matches!(
            read_small(&p, 99),
            Err(Error::OverLimit { declared: 100, .. })
        ));
        assert_eq!(read_range(&p, 10..20).unwrap().len(), 10);
        assert!(read_range(&p, 90..101).is_err());
    }
}
