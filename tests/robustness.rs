//! Hostile bytes never panic: real GRIB2 and NetCDF files with random bytes overwritten,
//! truncated or duplicated are opened, inventoried and every field decoded; each attempt
//! must return (a field or an error), never unwind. Deterministic (seeded) so a failure
//! reproduces.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use tilecast::decode::{inventory, Catalog, Dataset};

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

#[test]
fn mutated_files_never_panic() {
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
            assert!(
                r.is_ok(),
                "{rel}: round {round} panicked (mutated copy kept at {})",
                path.display()
            );
            tried += 1;
        }
    }
    assert!(tried > 1000);
}
