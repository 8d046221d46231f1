//! Errors of the core library, grouped by what the caller should do with them.
//!
//! Every error knows whether it is *permanent* (the input itself is bad: retrying the same
//! bytes gives the same answer, so a job carrying it belongs in the dead-letter queue) or
//! *transient* (I/O that may succeed on a second try). Messages name the file and, where
//! there is one, the field index, so a user can find the culprit without a debugger.

use std::path::PathBuf;

/// A core-library error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a file failed at the operating-system level.
    #[error("{path}: {op}")]
    Io {
        path: PathBuf,
        op: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// The file is not a format tilecast reads (random bytes, an image, ...).
    #[error("{path}: {reason}")]
    UnknownFormat { path: PathBuf, reason: String },
    /// The file is a known format but its structure is broken (truncated, bad lengths).
    #[error("{path}: corrupt file: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    /// One field could not be decoded because its bytes are inconsistent.
    #[error("{path}: field {field}: {what}: {reason}")]
    CorruptField {
        path: PathBuf,
        field: usize,
        what: &'static str,
        reason: String,
    },
    /// One field uses a grid, packing or layout that tilecast does not handle.
    #[error("{path}: field {field}: unsupported {what} {template}{detail}")]
    Unsupported {
        path: PathBuf,
        field: usize,
        /// "grid definition template", "data representation template", ...
        what: &'static str,
        /// The template number as WMO writes it, e.g. "3.40" or "5.4".
        template: String,
        detail: String,
    },
    /// A NetCDF variable whose points have no position on the earth: no latitude/longitude
    /// coordinates, no usable grid mapping, no WRF `XLAT`/`XLONG`.
    #[error("{path}: field {field}: no geolocation for variable {variable}: {reason}")]
    NoGeolocation {
        path: PathBuf,
        field: usize,
        variable: String,
        reason: String,
    },
    /// A field index past the end of the file.
    #[error("{path}: no field {field} (the file has {count})")]
    NoSuchField {
        path: PathBuf,
        field: usize,
        count: usize,
    },
    /// The netCDF library reported an error.
    #[error("{path}: {context}: {message}")]
    NetCdf {
        path: PathBuf,
        context: String,
        message: String,
    },
    /// A palette file or name that cannot be used.
    #[error("palette {name}: {reason}")]
    Palette { name: String, reason: String },
    /// Settings that make no sense (empty zoom range, min >= max, ...).
    #[error("invalid settings: {0}")]
    Settings(String),
    /// An object store (or the local output directory through one) failed or refused.
    #[error("{url}: {op}: {message}")]
    Store {
        url: String,
        op: &'static str,
        /// What kind of failure, which decides whether to try again.
        fault: StoreFault,
        message: String,
        /// The store client's own error, when there is one.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// A size the input declares (grid points, tiles, message bytes) is over a configured
    /// limit ([`crate::limits`]); nothing of that size was allocated.
    #[error("{path}: {subject}: {what} {declared} over the limit of {limit} (raise {flag} if this is intended)")]
    OverLimit {
        path: PathBuf,
        /// "field 3", "variable tas", "plan", ...
        subject: String,
        /// "grid points", "tiles", ...
        what: &'static str,
        declared: u64,
        limit: u64,
        /// The flag that sets the limit, e.g. `--max-field-points`.
        flag: &'static str,
    },
    /// The input is not a regular file (a device, FIFO, socket or directory).
    #[error("{path}: not a regular file ({kind}); only regular files are read")]
    NotAFile { path: PathBuf, kind: &'static str },
    /// The caller asked the work to stop (SIGTERM, a job deadline) before it finished.
    #[error("stopped before the work was finished")]
    Stopped,
    /// PNG encoding failed (only on internal inconsistencies; kept as an error, not a panic).
    #[error("encoding {what}: {reason}")]
    Encode { what: String, reason: String },
}

impl Error {
    /// True when retrying the same input cannot succeed: the job should be dead-lettered.
    pub fn is_permanent(&self) -> bool {
        match self {
            Error::Io { .. } => false,
            Error::Store { fault, .. } => *fault != StoreFault::Unavailable,
            Error::Stopped => false,
            _ => true,
        }
    }

    /// A store error without an underlying client error.
    pub fn store(
        url: impl Into<String>,
        op: &'static str,
        fault: StoreFault,
        message: impl Into<String>,
    ) -> Self {
        Error::Store {
            url: url.into(),
            op,
            fault,
            message: message.into(),
            source: None,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, op: &'static str, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            op,
            source,
        }
    }
}

/// What went wrong with a store, by what the caller should do about it: only
/// [`StoreFault::Unavailable`] is worth another try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreFault {
    /// The store may answer next time: network failures, timeouts, throttling, server errors.
    Unavailable,
    /// The object does not exist.
    NotFound,
    /// The object is not the one that was planned (a failed precondition, changed content).
    Replaced,
    /// A byte range past the end of the object.
    OutOfRange,
    /// The request can never succeed: a key outside the store, a refused location, an
    /// unsupported operation, an invalid argument.
    Refused,
}

/// Result alias of the core library.
pub type Result<T, E = Error> = std::result::Result<T, E>;
