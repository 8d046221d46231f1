//! Finds the GRIB messages of a file: the one splitter behind both views of a GRIB file.
//!
//! A [`Dataset`](super::Dataset) (the whole file in memory, read through a `Cursor`) and the
//! streamed [`inventory`](super::inventory) the chunker plans from (read from the file, one
//! message in memory at a time) both list a file's fields by iterating a [`Splitter`], so
//! they find the same messages, number fields the same way and report the same errors.
//!
//! # The recovery rule
//!
//! The splitter looks for the 4 bytes "GRIB" and checks the *frame* of the message they
//! would start: a whole 16-byte header naming edition 1 or 2, a declared length that covers
//! that header and ends within the file, and "7777" as the last 4 bytes of that length.
//!
//! * A marker whose frame is bad (a stray "GRIB" in junk or in a bulletin header, a broken
//!   length, a truncated last message) is one [`Piece`] carrying a [`Problem`] whose text
//!   names the marker's byte offset, and the scan resumes at the byte after the marker
//!   ("GRIB" cannot overlap itself, so no marker is skipped): real messages after a stray
//!   "GRIB", after junk, or after a message whose length is broken are still found.
//! * A well-framed message is consumed whole, and the scan resumes right after its "7777":
//!   its fields (an edition-1 message holds one, an edition-2 message one per section 7),
//!   or one piece with a problem when its sections do not chain from section 1 to the
//!   "7777", or when it is longer than the limit
//!   ([`crate::limits::Limits::max_message_bytes`]; not read). A "GRIB" inside the packed
//!   data of a well-framed message is never taken for a message.
//!
//! An edition-1 header declares a 3-octet length; one with bit 0x800000 set follows ECMWF's
//! large-message convention (see [`super::grib1::sections`]), whose real length needs the
//! length of section 4, found by reading the 3-octet lengths of the sections before it.
//!
//! Checking a frame reads 20 bytes (a few more for a large edition-1 message), and a message
//! is read whole (then skipped) only once its frame is good, so the work stays linear in the
//! size of the file however hostile it is, and at most one message is in memory at a time.
//! The other ceiling, on entries per file, is applied by the caller that numbers them
//! (`grib::split_file`).

use std::io::{self, Read, Seek};
use std::path::Path;

use super::grib1;
use super::grib_index::{self, FieldSections};
use crate::error::Error;
use crate::limits::MAX_FIELDS_PER_FILE;

/// One "GRIB" marker of the file and what it led to.
#[derive(Debug)]
pub struct Piece {
    /// Byte offset of the marker in the file.
    pub offset: u64,
    /// The message's declared length (0 when its header has none).
    pub length: u64,
    /// The edition of a well-framed message (1 or 2); 0 for a bad frame.
    pub edition: u8,
    pub content: Result<WholeMessage, Problem>,
}

/// A whole message and its fields.
#[derive(Debug)]
pub struct WholeMessage {
    /// The message's bytes, "GRIB" to "7777".
    pub bytes: Vec<u8>,
    /// Its fields, with section ranges relative to `bytes`.
    pub fields: Vec<FieldLayout>,
}

/// Where the sections of one field are, by edition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldLayout {
    Edition1(grib1::Sections),
    Edition2(FieldSections),
}

impl FieldLayout {
    /// The same ranges, `by` bytes further on (a message's ranges inside a larger buffer).
    pub fn shifted(self, by: usize) -> FieldLayout {
        match self {
            FieldLayout::Edition1(s) => FieldLayout::Edition1(s.shifted(by)),
            FieldLayout::Edition2(s) => FieldLayout::Edition2(s.shifted(by)),
        }
    }
}

/// Why a marker yielded no fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// A whole message longer than `limit` bytes, not read.
    TooLarge { limit: u64 },
    /// With this piece, the file would list `declared` entries, more than
    /// [`MAX_FIELDS_PER_FILE`]: the list ends here (set by the caller that counts entries).
    TooManyFields { declared: u64 },
    /// A bad frame, or a well-framed message whose sections do not chain; the text says why
    /// and names the byte offsets.
    Corrupt(String),
}

impl Problem {
    /// The error of the entry for a piece at byte `offset` declaring `length` bytes, as
    /// field `k` of the file at `path`.
    pub fn into_error(self, path: &Path, k: usize, offset: u64, length: u64) -> Error {
        let path = path.to_owned();
        match self {
            Problem::TooLarge { limit } => Error::OverLimit {
                path,
                subject: format!("field {k} (message at byte {offset})"),
                what: "message bytes",
                declared: length,
                limit,
                flag: "--max-field-points",
            },
            Problem::TooManyFields { declared } => Error::OverLimit {
                path,
                subject: format!("field {k} (message at byte {offset})"),
                what: "fields in the file",
                declared,
                limit: MAX_FIELDS_PER_FILE,
                flag: "a file with fewer fields",
            },
            Problem::Corrupt(reason) => Error::CorruptField {
                path,
                field: k,
                what: "message structure",
                reason,
            },
        }
    }
}

/// Bytes of section 0 (indicator section) of an edition-2 message, and the least a frame of
/// either edition is checked on.
const HEADER: u64 = 16;

/// Bytes of data the splitter scans for markers at a time.
const WINDOW: u64 = 1 << 16;

/// Iterates the [`Piece`]s of a byte stream in file order.
pub struct Splitter<R> {
    r: R,
    /// Position of `r`, counted from where it was when handed over (byte `base` of the file).
    at: u64,
    /// Bytes of data from that position.
    size: u64,
    /// Offset in the file of that position, added to every offset reported.
    base: u64,
    max_message: u64,
    /// Where the scan for the next marker starts.
    pos: u64,
    /// The bytes of the data from `window_start` on, in which markers are looked for.
    window: Vec<u8>,
    window_start: u64,
    /// Bytes the window holds at most: [`WINDOW`] (at least 4).
    window_size: u64,
    /// The edition byte of the last header read.
    edition: u8,
    failed: bool,
}

impl<R: Read + Seek> Splitter<R> {
    /// Splits the `size` bytes that `r` yields from its current position, which is byte
    /// `base` of the file; messages over `max_message` bytes are not read.
    pub fn new(r: R, size: u64, base: u64, max_message: u64) -> Splitter<R> {
        Splitter {
            r,
            at: 0,
            size,
            base,
            max_message,
            pos: 0,
            window: Vec::new(),
            window_start: 0,
            window_size: WINDOW,
            edition: 0,
            failed: false,
        }
    }

    /// The same splitter scanning `n` bytes at a time, so tests put markers and frames
    /// across window boundaries.
    #[cfg(test)]
    fn with_window(mut self, n: u64) -> Splitter<R> {
        self.window_size = n.max(4);
        self
    }

    fn next_piece(&mut self) -> io::Result<Option<Piece>> {
        let Some(start) = self.find_magic()? else {
            return Ok(None);
        };
        let (length, content, next) = self.message_at(start)?;
        self.pos = next;
        let edition = if next == start + 4 {
            0 // a bad frame: the scan resumes after its marker
        } else {
            self.edition
        };
        Ok(Some(Piece {
            offset: self.base + start,
            length,
            edition,
            content,
        }))
    }

    /// Checks the frame of the message whose marker is at `start` and reads the message if
    /// the frame is good; returns its declared length, its content, and where the scan goes
    /// on.
    fn message_at(&mut self, start: u64) -> io::Result<(u64, Result<WholeMessage, Problem>, u64)> {
        let offset = self.base + start;
        let after_marker = start + 4;
        let bad =
            |length, reason: String| Ok((length, Err(Problem::Corrupt(reason)), after_marker));
        // `start + 4 <= size`: the marker was read from the data.
        let remain = self.size - start;
        if remain < HEADER {
            return bad(
                0,
                format!(
                    "message at byte {offset}: header cut short by the end of the file \
                     after {remain} bytes (truncated file?)"
                ),
            );
        }
        let mut head = [0u8; HEADER as usize];
        self.read_at(start, &mut head)?;
        let edition = head[7];
        self.edition = edition;
        let length = match edition {
            2 => u64::from_be_bytes([
                head[8], head[9], head[10], head[11], head[12], head[13], head[14], head[15],
            ]),
            1 => {
                let declared = u32::from_be_bytes([0, head[4], head[5], head[6]]);
                if declared & grib1::sections::LARGE == 0 {
                    u64::from(declared)
                } else {
                    match self.large_grib1_length(start, remain, declared)? {
                        Some(length) => length,
                        None => {
                            return bad(
                                u64::from(declared),
                                format!(
                                    "large edition 1 message at byte {offset}: sections cut \
                                     short by the end of the file (truncated file?)"
                                ),
                            )
                        }
                    }
                }
            }
            e => {
                return bad(
                    0,
                    format!("message at byte {offset}: unknown GRIB edition {e}"),
                )
            }
        };
        let what = format!("edition {edition} message at byte {offset}");
        if length < HEADER {
            return bad(
                length,
                format!("{what} declares {length} bytes, shorter than its header"),
            );
        }
        // Compared without adding, so a declared length near 2^64 cannot wrap around.
        if length > remain {
            return bad(
                length,
                format!(
                    "{what} declares {length} bytes but only {remain} remain (truncated file?)"
                ),
            );
        }
        let end = start + length;
        let mut tail = [0u8; 4];
        self.read_at(end - 4, &mut tail)?;
        if &tail != b"7777" {
            return bad(
                length,
                format!(
                    "{what} declares {length} bytes but does not end with \"7777\" there \
                     (broken length?)"
                ),
            );
        }
        // A good frame: the message is consumed whole, whatever is inside.
        let content = if length > self.max_message {
            Err(Problem::TooLarge {
                limit: self.max_message,
            })
        } else {
            // Bounded by the limit and by the data.
            let mut bytes = vec![0u8; length as usize];
            self.read_at(start, &mut bytes)?;
            let fields = if edition == 1 {
                grib1::sections::split(&bytes, offset).map(|s| vec![FieldLayout::Edition1(s)])
            } else {
                grib_index::split_message(&bytes, offset)
                    .map(|f| f.into_iter().map(FieldLayout::Edition2).collect())
            };
            match fields {
                Ok(fields) => Ok(WholeMessage { bytes, fields }),
                Err(reason) => Err(Problem::Corrupt(reason)),
            }
        };
        Ok((length, content, end))
    }

    /// The real length of the large edition-1 message at `start` (`remain` bytes of data
    /// from there) declaring `declared`, or `None` when its sections run past the data.
    fn large_grib1_length(
        &mut self,
        start: u64,
        remain: u64,
        declared: u32,
    ) -> io::Result<Option<u64>> {
        let mut failed = None;
        let mut read = |at: u64, n: usize| -> Option<u32> {
            if failed.is_some() || n > 3 || at.checked_add(n as u64)? > remain {
                return None;
            }
            let mut buf = [0u8; 3];
            match self.read_at(start + at, &mut buf[..n]) {
                Ok(()) => Some(buf[..n].iter().fold(0, |v, &b| v << 8 | u32::from(b))),
                Err(e) => {
                    failed = Some(e);
                    None
                }
            }
        };
        let bds = grib1::sections::bds_offset(&mut read);
        let bds_length = bds.and_then(|at| read(at, 3));
        if let Some(e) = failed {
            return Err(e);
        }
        Ok(bds_length.map(|l| grib1::sections::real_length(declared, l)))
    }

    /// The next "GRIB" at or after `pos` (which is left just after it), or `None`.
    fn find_magic(&mut self) -> io::Result<Option<u64>> {
        loop {
            if self.size - self.pos < 4 {
                return Ok(None);
            }
            let window_end = self.window_start + self.window.len() as u64;
            if self.pos < self.window_start || self.pos + 4 > window_end {
                self.fill_window(self.pos)?;
                if self.window.len() < 4 {
                    return Ok(None); // the data ended early (a file cut while read)
                }
                continue;
            }
            let k = (self.pos - self.window_start) as usize;
            match self.window[k..].windows(4).position(|w| w == b"GRIB") {
                Some(i) => {
                    let start = self.pos + i as u64;
                    self.pos = start + 4;
                    return Ok(Some(start));
                }
                // The last 3 bytes may begin a marker that the next window completes.
                None => self.pos = window_end - 3,
            }
        }
    }

    /// Reads up to `window_size` bytes from `from` into the window.
    fn fill_window(&mut self, from: u64) -> io::Result<()> {
        self.seek(from)?;
        let n = self.window_size.min(self.size - from);
        self.window.clear();
        (&mut self.r).take(n).read_to_end(&mut self.window)?;
        self.window_start = from;
        self.at = from + self.window.len() as u64;
        Ok(())
    }

    /// Reads `buf.len()` bytes from `from`: from the window when it holds them.
    fn read_at(&mut self, from: u64, buf: &mut [u8]) -> io::Result<()> {
        let window_end = self.window_start + self.window.len() as u64;
        if from >= self.window_start && from + buf.len() as u64 <= window_end {
            let k = (from - self.window_start) as usize;
            buf.copy_from_slice(&self.window[k..k + buf.len()]);
            return Ok(());
        }
        self.seek(from)?;
        self.r.read_exact(buf)?;
        self.at = from + buf.len() as u64;
        Ok(())
    }

    fn seek(&mut self, to: u64) -> io::Result<()> {
        if to != self.at {
            // Relative: `r` need not have started at its own offset 0.
            let by = i64::try_from(i128::from(to) - i128::from(self.at))
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "seek too far"))?;
            self.r.seek_relative(by)?;
            self.at = to;
        }
        Ok(())
    }
}

impl<R: Read + Seek> Iterator for Splitter<R> {
    type Item = io::Result<Piece>;

    /// The next piece; after an I/O error, nothing more.
    fn next(&mut self) -> Option<io::Result<Piece>> {
        if self.failed {
            return None;
        }
        let next = self.next_piece();
        self.failed = next.is_err();
        next.transpose()
    }
}

#[cfg(test)]
#[path = "grib_split_tests.rs"]
mod tests;
