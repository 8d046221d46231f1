//! Inputs that made a fuzz target (fuzz/, run by scripts/fuzz) panic, abort, hang or run out
//! of memory, kept in tests/fixtures/fuzz/ and replayed through the calls the target makes.
//! File names start with the target: `grib2-*` and `netcdf-*` files are opened, inventoried
//! and every field decoded; `job-*` and `palette-*` files are parsed. Each call must return,
//! within seconds, a value or an error; it must never panic. The tests after the replay pin
//! what each error says: the file, the field and the size that was refused.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use tilecast::decode::{inventory, Dataset, FileFields};

fn fixtures() -> PathBuf {
    common::root().join("tests/fixtures/fuzz")
}

/// Runs `f` on another thread and fails the test if it panics or takes longer than 60 s
/// (a regression of a hang must fail, not hang the suite).
fn within_a_minute<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let r = catch_unwind(AssertUnwindSafe(f));
        let _ = tx.send(r);
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(Ok(v)) => v,
        Ok(Err(_)) => panic!("{what}: panicked"),
        Err(_) => panic!("{what}: still running after 60 s"),
    }
}

/// What the grib2 target does with its bytes; returns every error message.
fn grib2_errors(path: &Path) -> Vec<String> {
    let bytes = std::fs::read(path).unwrap();
    let mut errors = Vec::new();
    let ds = Dataset::from_grib_bytes(path, bytes);
    for e in ds.entries() {
        errors.extend(ds.grid(e.index).err().map(|e| e.to_string()));
        errors.extend(ds.decode(e.index).err().map(|e| e.to_string()));
    }
    match inventory(path) {
        Ok(inv) => {
            for e in inv.entries() {
                errors.extend(e.info.as_ref().err().map(|e| e.to_string()));
                errors.extend(inv.grid(e.index).err().map(|e| e.to_string()));
            }
        }
        Err(e) => errors.push(e.to_string()),
    }
    errors
}

/// What the netcdf target does with its bytes; returns every error message.
fn netcdf_errors(path: &Path) -> Vec<String> {
    match Dataset::open(path) {
        Ok(ds) => ds
            .entries()
            .iter()
            .flat_map(|e| [ds.grid(e.index).err(), ds.decode(e.index).err()])
            .flatten()
            .map(|e| e.to_string())
            .collect(),
        Err(e) => vec![e.to_string()],
    }
}

fn replay(path: &Path) {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let p = path.to_owned();
    let bytes = std::fs::read(path).unwrap();
    match name.split('-').next() {
        Some("grib2") => drop(within_a_minute(&name, move || grib2_errors(&p))),
        Some("netcdf") => drop(within_a_minute(&name, move || netcdf_errors(&p))),
        Some("job") => within_a_minute(&name, move || {
            let _ = tilecast::run::job::Job::parse(&bytes);
            let _ = serde_json::from_slice::<tilecast::run::job::JobResult>(&bytes);
        }),
        Some("palette") => within_a_minute(&name, move || {
            let _ = tilecast::render::palette::Palette::from_json(
                &String::from_utf8_lossy(&bytes),
                "fuzz",
            );
        }),
        _ => panic!("{name}: name it after its fuzz target (grib2-, netcdf-, job-, palette-)"),
    }
}

/// Why `Dataset::open` refuses the fixture `name` (it must refuse it).
fn refused(name: &str) -> String {
    Dataset::open(&fixtures().join(name))
        .err()
        .expect("refused")
        .to_string()
}

#[test]
fn every_kept_input_returns() {
    let mut n = 0;
    for entry in std::fs::read_dir(fixtures()).unwrap() {
        replay(&entry.unwrap().path());
        n += 1;
    }
    assert!(n >= 3, "only {n} inputs in {}", fixtures().display());
}

/// The one error about field 0 of a fixture, from decoding it in memory.
fn decode_error(name: &str) -> String {
    let path = fixtures().join(name);
    let ds = Dataset::from_grib_bytes(&path, std::fs::read(&path).unwrap());
    let e = ds.decode(0).expect_err("the field is refused").to_string();
    assert!(e.contains(name) && e.contains("field 0"), "{e}");
    e
}

#[test]
fn png_header_claiming_more_pixels_than_the_field_is_refused() {
    // The PNG's IHDR claimed 18 GB of pixels; gribberish allocated it before decoding.
    let e = decode_error("grib2-png-ihdr-size.grib2");
    assert!(
        e.contains("PNG image is") && e.contains("packed values"),
        "{e}"
    );
}

#[test]
fn truncated_jpeg2000_code_stream_is_an_error_not_a_hang() {
    // OpenJPEG looped forever under gribberish's stream callbacks.
    let e = within_a_minute("jpeg2000", || {
        decode_error("grib2-jpeg2000-truncated-hang.grib2")
    });
    assert!(e.contains("JPEG2000"), "{e}");
}

#[test]
fn message_length_near_2_pow_64_is_reported_not_wrapped() {
    // The streamed inventory added the declared length to the offset: an overflow panic
    // with overflow checks, and without them a length that wraps to a small sum passed the
    // check and asked for a 2^64-byte buffer. The fuzzer's input, then one that wraps.
    let errors = grib2_errors(&fixtures().join("grib2-inventory-length-overflow.grib2"));
    assert!(errors.iter().any(|e| e.contains("declares")), "{errors:?}");
    let tmp = common::tempdir();
    let path = tmp.path().join("wrap.grib2");
    let mut bytes = vec![b'x'; 100];
    bytes.extend_from_slice(b"GRIB\0\0\0\x02");
    bytes.extend_from_slice(&(u64::MAX - 99 + 50).to_be_bytes());
    bytes.extend_from_slice(b"7777");
    std::fs::write(&path, &bytes).unwrap();
    let inv = inventory(&path).expect("an inventory with the problem in it");
    let e = inv.entries()[0].info.as_ref().unwrap_err().to_string();
    assert!(e.contains("declares 18446744073709551566 bytes"), "{e}");
}

#[test]
fn declared_grid_beyond_the_field_budget_is_refused_before_allocating() {
    // 188 bytes: the HRRR constant field (0 bits per value) with its grid declared as
    // 46340x46340; decoding it asked for 8.6 GB (found by hand, the fuzzer had not yet).
    let e = decode_error("grib2-constant-field-2g-points.grib2");
    assert!(
        e.contains("grid points 2147395600") && e.contains("--max-field-points"),
        "{e}"
    );
}

#[test]
fn classic_header_declaring_more_than_the_file_holds_is_refused_before_the_c_library() {
    // libnetcdf allocated a 3 GB name for this 4.6 kB file before reading it.
    let e = refused("netcdf-classic-header-3gb-name.nc");
    assert!(e.contains("netcdf-classic-header-3gb-name.nc"), "{e}");
    assert!(
        e.contains("declares 3132799") && e.contains("bytes, the file has"),
        "{e}"
    );
}

#[test]
fn netcdf_variable_beyond_the_field_budget_is_an_entry_error() {
    // 8 kB of NetCDF4 declaring a 16384x16384 variable whose chunks were never written
    // (they read as fill values): decoding allocated 2 GiB of f64 for it.
    let path = fixtures().join("netcdf-unwritten-16384x16384.nc");
    let ds = Dataset::open(&path).expect("the file opens; the field is refused");
    let e = ds.decode(0).expect_err("refused").to_string();
    assert!(
        e.contains("field 0") && e.contains("grid points 268435456"),
        "{e}"
    );
    assert!(e.contains("--max-field-points"), "{e}");
}

#[test]
fn non_utf8_names_are_refused_before_the_netcdf_crate_panics_on_them() {
    // The netcdf crate `expect`s UTF-8 variable names.
    let e = refused("netcdf-non-utf8-variable-name.nc");
    assert!(
        e.contains("name at byte") && e.contains("is not UTF-8"),
        "{e}"
    );
}

#[test]
fn records_declared_beyond_the_end_of_a_classic_file_are_refused() {
    // 3.2 kB declaring 983,046 records: listing that many fields timed out.
    let e = refused("netcdf-983046-records-in-4kb.nc");
    assert!(
        e.contains("983046 records of") && e.contains("beyond the end"),
        "{e}"
    );
}

#[test]
fn a_job_naming_a_device_as_its_palette_is_refused_not_read() {
    // Job::parse validated the settings by resolving a palette path on the worker:
    // "/dev/zero" was read until memory ran out (found by hand while fuzzing jobs). Palettes
    // now travel by value; a name is only ever looked up among the built-ins.
    let bytes = std::fs::read(fixtures().join("job-palette-dev-zero.json")).unwrap();
    let e = within_a_minute("job", move || {
        tilecast::run::job::Job::parse(&bytes).unwrap_err()
    });
    let e = e.to_string();
    assert!(
        e.contains("/dev/zero") && e.contains("not a built-in palette"),
        "{e}"
    );
}

#[test]
fn a_slash_in_a_variable_name_is_not_a_group_path() {
    // Variable "H/T": the netcdf crate's lookup by name took it for a group path and found
    // nothing, and decoding panicked on "inventory variable exists".
    let path = fixtures().join("netcdf-slash-in-variable-name.nc");
    let ds = Dataset::open(&path).expect("opens");
    let field = ds.decode(0).expect("decodes");
    assert_eq!(field.info.variable, "H/T");
    assert_eq!(field.values.len(), 36);
}

#[test]
fn a_gribberish_panic_on_a_short_product_section_is_contained() {
    // Section 4 says template 4.9 (probability) in 34 bytes; gribberish's unit lookup
    // indexes past its end. decode/grib.rs runs it under catch_unwind: the field keeps
    // its numeric fallback names.
    let path = fixtures().join("grib2-gribberish-short-probability-section4.grib2");
    let ds = Dataset::from_grib_bytes(&path, std::fs::read(&path).unwrap());
    let names: Vec<_> = (ds.entries().iter())
        .filter_map(|e| e.info.as_ref().ok())
        .map(|i| (i.variable.as_str(), i.units.as_str()))
        .collect();
    assert!(names.contains(&("var0_1_202", "unknown")), "{names:?}");
}
