//! GRIB2 files: the bytes as a whole file, indexed in memory (`Dataset::from_grib_bytes`,
//! what a worker does with its byte range) and streamed from disk (`inventory`, what the
//! chunker does), then every field's grid and values decoded, whatever its packing.

#![no_main]

use std::io::Write;
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use tilecast::decode::{inventory, Catalog, Dataset};

fuzz_target!(|data: &[u8]| {
    let ds = Dataset::from_grib_bytes(Path::new("fuzz.grib2"), data.to_vec());
    for e in ds.entries() {
        let _ = ds.grid(e.index);
        let _ = ds.decode(e.index);
    }

    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(data).expect("write temp file");
    if let Ok(inv) = inventory(file.path()) {
        for e in inv.entries() {
            let _ = inv.grid(e.index);
        }
    }
});
