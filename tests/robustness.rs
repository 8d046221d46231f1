//! Hostile bytes never panic: real GRIB2 and NetCDF files with random bytes overwritten,
//! truncated or duplicated are opened, inventoried and every field decoded; each attempt
//! must return (a field or an error), never unwind. And the two views of each mutated file
//! agree on what they read: the dataset (`Dataset::open`) and the streamed inventory the
//! chunker plans from list the same entries, each a field or the same error text. Deterministic
//! (seeded) so a failure reproduces; a failing mutated file is kept.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use tilecast::decode::{inventory, Dataset, FileFields};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One mutation of `data`: overwrite a few bytes, cut it, or repeat a slice of it.
fn mutate(data: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut d = data.to_vec();
    match rng.below(4) {
        0 | 1 => {
            for _ in 0..1 + rng.below(8) {
                let k = rng.below(d.len());
                d[k] = rng.next() as u8;
            }
        }
        2 => d.truncate(rng.below(d.len())),
        _ => {
            let a = rng.below(d.len());
            let b = (a + rng.below(256)).min(d.len());
            let slice = d[a..b].to_vec();
            let at = rng.below(d.len());
            d.splice(at..at, slice);
        }
    }
    d
}

fn exercise(path: &Path) {
    // Everything a user or a worker does with a file.
    if let Ok(ds) = Dataset::open(path) {
        for e in ds.entries() {
            let _ = ds.decode(e.index);
        }
    }
    if let Ok(inv) = inventory(path) {
        for e in inv.entries() {
            let _ = inv.grid(e.index);
        }
    }
}

/// Copies a failing input out of the test's directory, which is removed as the test unwinds.
fn keep(path: &Path) -> String {
    let kept = std::env::temp_dir().join(format!(
        "tilecast-robustness-{}",
        path.file_name().unwrap().to_string_lossy()
    ));
    match std::fs::copy(path, &kept) {
        Ok(_) => format!("mutated copy kept at {}", kept.display()),
        Err(e) => format!("mutated copy not kept: {e}"),
    }
}

#[test]
fn mutated_files_never_panic_and_both_views_agree() {
    let files = [
        "grib2/pygrib__ngm.grb",
        "grib2/cfgrib__step_60m.grib",
        "grib2/geocat__200711210135_NCV_FLIGHTCAT_A.grb2",
        "grib2/iris__bulletin_40bytes.grib",
        "grib2/gribberish__aqm.t12z.ave_1hr_o3-AK-polar-stereographic.grib2",
        "grib2/gribberish__aifs-single-t500.grib2",
        "netcdf/earthkit__test4.nc",
    ];
    let tmp = common::tempdir();
    let mut rng = Rng(0x5DEECE66D);
    let mut tried = 0;
    for rel in files {
        let original = std::fs::read(common::shared_samples().join(rel)).unwrap();
        let rounds = if rel.ends_with(".nc") { 30 } else { 200 };
        for round in 0..rounds {
            let bytes = mutate(&original, &mut rng);
            let path = tmp.path().join(format!(
                "m{round}.{}",
                if rel.ends_with(".nc") { "nc" } else { "grib2" }
            ));
            std::fs::write(&path, &bytes).unwrap();
            let r = catch_unwind(AssertUnwindSafe(|| exercise(&path)));
            if r.is_err() {
                panic!("{rel}: round {round} panicked ({})", keep(&path));
            }
            let r = catch_unwind(AssertUnwindSafe(|| common::views::agree(&path)));
            if r.is_err() {
                panic!(
                    "{rel}: round {round}: the dataset and the inventory disagree ({})",
                    keep(&path)
                );
            }
            tried += 1;
        }
    }
    assert!(tried > 1000);
}
