//! GRIB files of either edition (the target's name is older than GRIB1 decoding): the bytes
//! as a whole file, indexed in memory (`Dataset::from_grib_bytes`, what a worker does with
//! its byte range) and streamed from disk (`inventory`, what the chunker does), then every
//! field's grid and values decoded, whatever its packing. The splitter reads the edition of
//! each message, so GRIB1 messages (seeds `grib1-*`, `mixed-editions.grib`) go through the
//! edition-1 decoder and mixed files through both.
//!
//! tilecast runs gribberish (parameter tables, PNG) under `catch_unwind` (decode/grib.rs),
//! so a panic inside gribberish becomes that field's error or fallback names, in production
//! as here. libfuzzer-sys's panic hook aborts on every panic, caught or not, so this target
//! lets panics raised in gribberish's own code unwind to tilecast's `catch_unwind`, printing
//! each location once; every other panic aborts as before, and a gribberish panic that
//! escaped tilecast would still abort in libfuzzer-sys's wrapper.

#![no_main]

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;
use std::sync::{Mutex, Once};

use libfuzzer_sys::fuzz_target;
use tilecast::decode::{inventory, FileFields, Dataset};

fn contain_gribberish_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let abort = std::panic::take_hook();
        let seen = Mutex::new(HashSet::new());
        std::panic::set_hook(Box::new(move |info| match info.location() {
            Some(at) if at.file().contains("/gribberish-") => {
                let mut seen = seen.lock().unwrap_or_else(|p| p.into_inner());
                if seen.insert(format!("{}:{}", at.file(), at.line())) {
                    eprintln!("contained gribberish panic (first at this location): {info}");
                }
            }
            _ => abort(info),
        }));
    });
}

fuzz_target!(|data: &[u8]| {
    contain_gribberish_panics();
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
