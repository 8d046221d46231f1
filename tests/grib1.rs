//! GRIB edition 1 against ecCodes: every field of every GRIB1 sample (grib1/, and the GRIB1
//! files of grids/ as its README lists them) decodes to ecCodes' values within half the
//! packing's precision, with the same missing points and valid time; every point sits where
//! ecCodes' geo iterator puts it; a file mixing both editions, and one message read by its
//! byte range (what a worker does), give the same fields; and the deliberately corrupted ERA5
//! file keeps its error for the broken message while its other message decodes.

mod common;

use std::path::{Path, PathBuf};

use tilecast::decode::{inventory, Dataset, FileFields, Format};

/// The GRIB1 files of grids/: the README's table says `ed1` for them. Checked against the
/// files themselves (the edition of their first message).
fn grids_grib1() -> Vec<PathBuf> {
    let dir = common::shared_samples().join("grids");
    let readme = std::fs::read_to_string(common::shared_samples().join("README.md")).unwrap();
    let section = readme.split("## grids/").nth(1).expect("a grids/ section");
    let mut listed: Vec<PathBuf> = section
        .lines()
        .filter(|l| l.starts_with("| `") && l.contains(" ed1 "))
        .map(|l| dir.join(l.split('`').nth(1).unwrap()))
        .collect();
    listed.sort();
    let mut sniffed: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let b = std::fs::read(p).unwrap();
            b.windows(4)
                .position(|w| w == b"GRIB")
                .is_some_and(|k| b.get(k + 7) == Some(&1))
        })
        .collect();
    sniffed.sort();
    assert_eq!(
        listed, sniffed,
        "the README's ed1 files are the GRIB1 files"
    );
    assert_eq!(listed.len(), 10);
    listed
}

fn all_grib1() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(common::shared_samples().join("grib1"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e != "md"))
        .collect();
    v.sort();
    assert_eq!(v.len(), 4);
    v.extend(grids_grib1());
    v
}

/// Every field of `file` against ecCodes (oracle `eccodes_dump.py`): values in the order
/// the file stores them, NaN at the same points, the valid time, and the level for the level
/// types both name alike. Returns the number of fields compared.
fn compare_with_eccodes(file: &Path) -> usize {
    let name = file.display();
    let tmp = common::tempdir();
    let oracle = common::oracle("eccodes_dump.py", file, tmp.path());
    assert!(
        oracle["error"].is_null(),
        "{name}: oracle error {}",
        oracle["error"]
    );
    let fields = oracle["fields"].as_array().expect("fields");
    let ds = Dataset::open(file).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ds.entries().len(), fields.len(), "{name}: field count");
    for f in fields {
        let i = f["index"].as_u64().unwrap() as usize;
        assert_eq!(f["edition"], 1, "{name}: field {i} is GRIB1");
        let field = ds.decode(i).unwrap_or_else(|e| panic!("{e}"));
        let npy = f["npy"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: no array for {i}"));
        let (shape, want) = common::read_npy(&tmp.path().join(npy));
        let (nx, ny) = (field.grid.nx, field.grid.ny);
        if shape.len() == 1 {
            assert_eq!(shape, [nx * ny], "{name}: field {i}: points in file order");
        } else {
            assert_eq!(shape, [ny, nx], "{name}: field {i} shape");
        }
        let scale = want
            .iter()
            .filter(|v| v.is_finite())
            .fold(0f64, |m, v| m.max(v.abs()));
        let tol = f["precision"]
            .as_f64()
            .expect("grid_simple has a precision")
            .max(1e-5 * scale);
        let mut worst = 0f64;
        for (k, (&got, &want)) in field.values.iter().zip(&want).enumerate() {
            assert_eq!(
                got.is_nan(),
                want.is_nan(),
                "{name}: field {i}: point {k} missing in one decoder only ({got} vs {want})"
            );
            if !want.is_nan() {
                worst = worst.max((got as f64 - want).abs());
            }
        }
        assert!(
            worst <= tol,
            "{name}: field {i}: max difference {worst} > {tol}"
        );
        let valid = match (f["validityDate"].as_i64(), f["validityTime"].as_i64()) {
            (Some(d), Some(t)) => Some(format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:00Z",
                d / 10000,
                d / 100 % 100,
                d % 100,
                t / 100,
                t % 100
            )),
            _ => None,
        };
        assert_eq!(field.info.valid_time, valid, "{name}: field {i} valid time");
        let level = f["level"].as_i64().unwrap_or(-1);
        let label = match f["typeOfLevel"].as_str() {
            Some("isobaricInhPa") => Some(format!("{level}hPa")),
            Some("surface") => Some("sfc".to_string()),
            Some("heightAboveGround") => Some(format!("{level}m")),
            _ => None,
        };
        if let Some(label) = label {
            assert_eq!(field.info.level.label, label, "{name}: field {i} level");
        }
    }
    fields.len()
}

#[test]
fn every_grib1_field_matches_eccodes() {
    let mut compared = 0;
    for f in all_grib1() {
        compared += compare_with_eccodes(&f);
        let ds = Dataset::open(&f).unwrap();
        assert_eq!(ds.format(), Format::Grib1, "{}", f.display());
    }
    assert_eq!(compared, 32);
}

/// Parameter names and levels: ecCodes' short names for ECMWF's tables, NCEP's (lower
/// case, as GRIB2 short names) for the WMO table 2 every other centre uses.
#[test]
fn names_and_levels_follow_the_tables() {
    let cases = [
        (
            "grib1/cfgrib__fields_with_missing_values.grib",
            0,
            "2t",
            "K",
            "sfc",
        ),
        (
            "grib1/cfgrib__uv_on_different_levels.grib",
            1,
            "u",
            "m s-1",
            "850hPa",
        ),
        (
            "grib1/cfgrib__uv_on_different_levels.grib",
            10,
            "v",
            "m s-1",
            "1000hPa",
        ),
        ("grib1/cfgrib__scanning_mode_64.grib", 0, "skt", "K", "sfc"),
        (
            "grids/cfgrib__tp_on_different_grid_resolutions.grib",
            1,
            "tp",
            "m",
            "sfc",
        ),
        (
            "grids/earthkit__rotated_wind_20x20.grib",
            1,
            "10v",
            "m s-1",
            "sfc",
        ),
        (
            "grids/iristd__regular_gg.grib1",
            0,
            "ugrd",
            "m s-1",
            "850hPa",
        ),
        (
            "grids/iristd__ST4.2013052210.01h",
            0,
            "apcp",
            "kg m-2",
            "sfc",
        ),
        ("grids/iristd__uk_wrongparam.grib1", 0, "tmp", "K", "600hPa"),
        ("grids/cfgrib__lambert_grid.grib", 0, "nlwrs", "W m-2", "0m"),
        (
            "grib1/pygrib__CMC_reg_WIND_ISBL_300_ps60km_2010052400_P012.grib",
            0,
            "wind",
            "m s-1",
            "300hPa",
        ),
        (
            "grids/meteosatlib__MSG_Seviri_1_5_Infrared_9_7_channel_20060426_1945.grb",
            0,
            "imgd",
            "1",
            "level55",
        ),
    ];
    for (file, k, variable, units, level) in cases {
        let ds = Dataset::open(&common::shared_samples().join(file)).unwrap();
        let info = ds.entries()[k].info.as_ref().unwrap();
        assert_eq!(
            (
                info.variable.as_str(),
                info.units.as_str(),
                info.level.label.as_str()
            ),
            (variable, units, level),
            "{file} field {k}"
        );
    }
    // u and v pair, earth-relative on a lat/lon grid, grid-relative on the rotated one.
    use tilecast::decode::{WindComponent, WindFrame};
    let uv =
        Dataset::open(&common::shared_samples().join("grids/earthkit__rotated_wind_20x20.grib"))
            .unwrap();
    let wind = |k: usize| {
        let i = uv.entries()[k].info.as_ref().unwrap();
        (i.wind_component, i.wind_frame)
    };
    assert_eq!(wind(0), (Some(WindComponent::U), Some(WindFrame::Grid)));
    assert_eq!(wind(1), (Some(WindComponent::V), Some(WindFrame::Grid)));
    let ll =
        Dataset::open(&common::shared_samples().join("grib1/cfgrib__uv_on_different_levels.grib"))
            .unwrap();
    let i = ll.entries()[0].info.as_ref().unwrap();
    assert_eq!(
        (i.wind_component, i.wind_frame),
        (Some(WindComponent::U), Some(WindFrame::Earth))
    );
}

/// Every point of field 0 of `file` against ecCodes' geo iterator (`latitudes`/
/// `longitudes`), to 1e-5 degrees; returns the points off the earth's disk (a space view's),
/// where neither has a position.
fn compare_geometry(file: &Path) -> usize {
    let name = file.display();
    let tmp = common::tempdir();
    let out = tmp.path().join("latlon.npy");
    common::run(
        std::process::Command::new(common::python())
            .arg(common::root().join("tests/oracle/eccodes_latlon.py"))
            .arg(file)
            .arg("0")
            .arg(&out),
    );
    let (shape, ll) = common::read_npy(&out);
    let grid = Dataset::open(file).unwrap().grid(0).unwrap();
    let n = grid.len();
    assert_eq!(shape.iter().product::<usize>(), 2 * n, "{name}: {shape:?}");
    let (mut worst, mut off_disk) = (0f64, 0);
    for (k, (lon, lat)) in grid.all_lonlat().into_iter().enumerate() {
        let (want_lat, want_lon) = (ll[k], ll[n + k]);
        if !(lat.is_finite() && lon.is_finite()) {
            // Off the disk: ecCodes writes (0, 0) there.
            assert_eq!((want_lat, want_lon), (0.0, 0.0), "{name}: point {k}");
            off_disk += 1;
            continue;
        }
        let dlat = lat - want_lat;
        let dlon = (lon - want_lon + 540.0).rem_euclid(360.0) - 180.0;
        worst = worst.max(dlat.hypot(dlon * lat.to_radians().cos()));
    }
    assert!(
        worst < 1e-5,
        "{name}: points differ from ecCodes by up to {worst} degrees"
    );
    eprintln!("{name}: max position difference {worst:.2e} degrees, {off_disk} off the disk");
    off_disk
}

/// Every GRIB1 sample's points: lat/lon both ways up, Lambert, polar stereographic, regular
/// and reduced Gaussian, reduced lat/lon, rotated lat/lon and space view.
#[test]
fn grib1_geometry_matches_eccodes() {
    for file in all_grib1() {
        let off_disk = compare_geometry(&file);
        let space_view = file.to_string_lossy().contains("Seviri");
        assert_eq!(off_disk > 0, space_view, "{}: {off_disk}", file.display());
    }
}

/// No sample is GRIB1 Mercator: ecCodes writes one, on the sphere and on the oblate earth,
/// and tilecast reads its values and points as ecCodes does.
#[test]
fn grib1_mercator_written_by_eccodes_matches_it() {
    let tmp = common::tempdir();
    for flags in ["0x80", "0xc0"] {
        let file = tmp.path().join(format!("mercator-{flags}.grib"));
        common::run(
            std::process::Command::new(common::python())
                .arg(common::root().join("tests/oracle/eccodes_grib1_mercator.py"))
                .arg(flags)
                .arg(&file),
        );
        let ds = Dataset::open(&file).unwrap();
        assert!(ds.entries()[0]
            .info
            .as_ref()
            .unwrap()
            .grid
            .starts_with("mercator 61x41"));
        assert_eq!(compare_with_eccodes(&file), 1);
        assert_eq!(compare_geometry(&file), 0);
    }
}

#[test]
fn the_corrupted_era5_file_keeps_its_error_and_its_other_message_decodes() {
    let file = common::shared_samples().join("unsupported/cfgrib__era5-levels-corrupted.grib");
    let ds = Dataset::open(&file).unwrap();
    assert_eq!(ds.entries().len(), 2);
    let err = ds.entries()[0].info.as_ref().unwrap_err().to_string();
    assert!(
        err.contains("cfgrib__era5-levels-corrupted.grib: field 0: message structure")
            && err.contains("does not end with \"7777\""),
        "{err}"
    );
    // ecCodes stops at the broken message; it reads the second one cut out of the file.
    let bytes = std::fs::read(&file).unwrap();
    let offset = match ds.entries()[1].info.as_ref().unwrap().source {
        tilecast::decode::FieldSource::Grib1 { offset, length } => {
            assert_eq!(offset + length, bytes.len() as u64);
            offset as usize
        }
        ref other => panic!("{other:?}"),
    };
    let tmp = common::tempdir();
    let second = tmp.path().join("second.grib");
    std::fs::write(&second, &bytes[offset..]).unwrap();
    assert_eq!(compare_with_eccodes(&second), 1);
    let alone = Dataset::open(&second).unwrap().decode(0).unwrap();
    assert_eq!(alone.values, ds.decode(1).unwrap().values);
}

/// A GRIB1 file, junk, a GRIB2 file and a GRIB1 message again in one file: both views list
/// every field with the edition's location, the file is `grib`, and every field decodes as in
/// its own file, from the whole file, from the streamed inventory and from its message read
/// alone by byte range (a worker's read).
#[test]
fn mixed_editions_in_one_file_decode_everywhere() {
    let s = common::shared_samples();
    let parts: [(PathBuf, &[u8]); 3] = [
        (
            s.join("grib1/cfgrib__uv_on_different_levels.grib"),
            b"junk GRIB junk",
        ),
        (s.join("grib2/pygrib__ngm.grb"), b""),
        (s.join("grids/earthkit__rotated_wind_20x20.grib"), b""),
    ];
    let mut bytes = Vec::new();
    let mut expected = Vec::new();
    for (p, after) in &parts {
        bytes.extend(std::fs::read(p).unwrap());
        bytes.extend_from_slice(after);
        let ds = Dataset::open(p).unwrap();
        for e in ds.entries() {
            expected.push(ds.decode(e.index).unwrap().values);
        }
    }
    let tmp = common::tempdir();
    let mixed = tmp.path().join("mixed.grib");
    std::fs::write(&mixed, &bytes).unwrap();
    let lines = common::views::agree(&mixed).unwrap();
    // 16 + the stray "GRIB" in the junk + 5 + 2.
    assert_eq!(lines.len(), 24);
    assert!(lines[16].as_ref().unwrap_err().contains("byte"));
    let ds = Dataset::open(&mixed).unwrap();
    let inv = inventory(&mixed).unwrap();
    assert_eq!((ds.format(), inv.format()), (Format::Grib, Format::Grib));
    let mut want = expected.into_iter();
    for e in ds.entries() {
        let Ok(info) = &e.info else { continue };
        let want = want.next().unwrap();
        let formats = serde_json::to_value(&info.source).unwrap()["format"].clone();
        assert_eq!(
            formats,
            if (17..22).contains(&e.index) {
                "grib2"
            } else {
                "grib1"
            }
        );
        assert_eq!(
            ds.decode(e.index).unwrap().values,
            want,
            "field {}",
            e.index
        );
        assert_eq!(
            inv.decode(e.index).unwrap().values,
            want,
            "field {}",
            e.index
        );
        let (offset, length, sub) = info.source.grib_message().unwrap();
        let message = bytes[offset as usize..(offset + length) as usize].to_vec();
        let alone = Dataset::from_grib_message(&mixed, message, offset, e.index - sub);
        let field = alone.decode_at(e.index, &info.source).unwrap();
        assert_eq!(field.info.index, e.index);
        assert_eq!(field.values, want, "field {} read alone", e.index);
    }
    assert!(want.next().is_none());
}

/// Real GRIB1 messages made hostile: every byte of their first 120 octets (section 0, the
/// PDS, the GDS and the start of the bit map or data) set to 0, 255 or flipped, and every cut,
/// give errors or fields, never a panic, whatever a length, a size or a flag then claims.
#[test]
fn hostile_grib1_messages_are_errors_not_panics() {
    let s = common::shared_samples();
    let files = [
        "grids/earthkit__rotated_wind_20x20.grib",
        "grids/iristd__reduced_ll_missing.grib1",
        "grids/cfgrib__regular_ll_sfc.grib",
        "grids/cfgrib__reduced_gg.grib",
        "grids/iristd__regular_gg.grib1",
        "grib1/pygrib__CMC_reg_WIND_ISBL_300_ps60km_2010052400_P012.grib",
    ];
    let name = Path::new("hostile.grib");
    let exercise = |bytes: Vec<u8>| {
        let ds = Dataset::from_grib_bytes(name, bytes);
        for e in ds.entries() {
            if let Err(err) = ds.grid(e.index).and_then(|_| ds.decode(e.index)) {
                let text = err.to_string();
                assert!(text.starts_with("hostile.grib"), "{text}");
            }
        }
    };
    let mut mutants = 0;
    for f in files {
        let orig = std::fs::read(s.join(f)).unwrap();
        let end = orig.windows(4).position(|w| w == b"7777").unwrap() + 4;
        let msg = &orig[..end];
        for at in 0..msg.len().min(120) {
            for byte in [0x00, 0xff, msg[at] ^ 0x80, msg[at].wrapping_add(1)] {
                let mut m = msg.to_vec();
                m[at] = byte;
                exercise(m);
                mutants += 1;
            }
        }
        for cut in (0..msg.len()).step_by(msg.len() / 200 + 1) {
            exercise(msg[..cut].to_vec());
            mutants += 1;
        }
    }
    assert!(mutants > 3000, "{mutants}");
}
