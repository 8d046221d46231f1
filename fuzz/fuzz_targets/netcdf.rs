//! NetCDF classic files (CDF-1, 64-bit offset CDF-2, CDF-5): the bytes written to a
//! temporary file, opened with `Dataset::open`, every entry's grid and values read. The
//! netCDF C library is not instrumented; coverage comes from tilecast's header check and CF
//! layer (decode/netcdf_check.rs, cf.rs, netcdf.rs), which interpret whatever metadata the
//! library hands back, whatever the file's format.
//!
//! NetCDF4/HDF5 inputs are skipped: Debian's HDF5 1.10.8 segfaults within seconds of
//! fuzzing (fuzz/c-library-crashes/), which would stop every run before the CF layer is
//! reached, and nothing in tilecast can catch it.

#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;
use tilecast::decode::Dataset;

/// Larger inputs only slow the C library down; real headers are far smaller.
const MAX_INPUT: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let classic = [&b"CDF\x01"[..], b"CDF\x02", b"CDF\x05"];
    if data.len() > MAX_INPUT || !classic.iter().any(|m| data.starts_with(m)) {
        return;
    }
    let mut file = tempfile::Builder::new()
        .suffix(".nc")
        .tempfile()
        .expect("temp file");
    file.write_all(data).expect("write temp file");
    if let Ok(ds) = Dataset::open(file.path()) {
        for e in ds.entries() {
            let _ = ds.grid(e.index);
            let _ = ds.decode(e.index);
        }
    }
});
