//! NetCDF files (classic, 64-bit offset, NetCDF4/HDF5): the bytes written to a temporary
//! file, opened with `Dataset::open`, every entry's grid and values read. The netCDF C
//! library is not instrumented; coverage comes from tilecast's CF layer (decode/cf.rs,
//! decode/netcdf.rs), which interprets whatever metadata the library hands back.

#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;
use tilecast::decode::Dataset;

/// Larger inputs only slow the C library down; real headers are far smaller.
const MAX_INPUT: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let netcdf = [
        &b"CDF\x01"[..],
        b"CDF\x02",
        b"CDF\x05",
        b"\x89HDF\r\n\x1a\n",
    ];
    if data.len() > MAX_INPUT || !netcdf.iter().any(|m| data.starts_with(m)) {
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
