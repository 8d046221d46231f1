//! CCSDS (template 5.42) decoding against ecCodes, value for value: tilecast's `f32` must be
//! ecCodes' `f64` rounded to `f32`, bit for bit, for every message of the generated fixture
//! (tests/fixtures/ccsds, made by ecCodes/libaec with every coding option, bit widths 1..32,
//! each libaec flag, several block sizes and RSIs, a bitmap) and for the real AIFS field.

mod common;

use std::path::Path;

use tilecast::decode::Dataset;

fn fixture() -> std::path::PathBuf {
    common::root().join("tests/fixtures/ccsds/ccsds_cases.grib2")
}

/// Case names of the fixture's messages, in file order (cases.json).
fn case_names() -> Vec<String> {
    let text = std::fs::read_to_string(common::root().join("tests/fixtures/ccsds/cases.json"))
        .expect("cases.json");
    let cases: serde_json::Value = serde_json::from_str(&text).expect("cases.json is JSON");
    cases
        .as_array()
        .expect("a list")
        .iter()
        .map(|c| c["name"].as_str().expect("name").to_string())
        .collect()
}

/// Decodes every field of `file` and compares it with ecCodes bit for bit; returns the
/// number of values compared.
fn bit_exact(file: &Path, names: &[String]) -> usize {
    let tmp = common::tempdir();
    let oracle = common::oracle("eccodes_dump.py", file, tmp.path());
    let fields = oracle["fields"].as_array().expect("fields");
    let ds = Dataset::open(file).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ds.entries().len(), fields.len(), "{}", file.display());
    let mut compared = 0;
    for f in fields {
        let i = f["index"].as_u64().unwrap() as usize;
        let name = names.get(i).map_or("", String::as_str);
        assert_eq!(f["packingType"], "grid_ccsds", "field {i} {name}");
        let field = ds
            .decode(i)
            .unwrap_or_else(|e| panic!("field {i} {name}: {e}"));
        let (_, want) = common::read_npy(&tmp.path().join(f["npy"].as_str().unwrap()));
        assert_eq!(field.values.len(), want.len(), "field {i} {name}");
        for (k, (&got, &want)) in field.values.iter().zip(&want).enumerate() {
            let want = want as f32;
            assert!(
                got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                "field {i} {name} (bits {}): point {k}: {got:e} vs ecCodes {want:e}",
                f["bitsPerValue"]
            );
        }
        compared += want.len();
    }
    compared
}

#[test]
fn generated_ccsds_messages_match_eccodes_bit_for_bit() {
    let names = case_names();
    assert!(names.len() >= 80, "fixture has {} messages", names.len());
    let n = bit_exact(&fixture(), &names);
    assert!(n > 80_000, "{n} values compared");
}

#[test]
fn aifs_ccsds_field_matches_eccodes_bit_for_bit() {
    let file = common::shared_samples().join("grib2/gribberish__aifs-single-t500.grib2");
    assert_eq!(bit_exact(&file, &[]), 1440 * 721);
}

#[test]
fn every_fixture_message_decodes_and_corruptions_fail_cleanly() {
    // Truncating section 7 of any message must be an error (or, for the constant field, a
    // success), never a panic; checked through the public API on the whole fixture.
    let bytes = std::fs::read(fixture()).unwrap();
    let ds = Dataset::open(&fixture()).unwrap();
    assert!(ds.entries().iter().all(|e| e.info.is_ok()));
    let tmp = common::tempdir();
    let cut = tmp.path().join("cut.grib2");
    // Chop the first message's data in half and let the end marker follow.
    let first_len = u64::from_be_bytes(bytes[8..16].try_into().unwrap()) as usize;
    let mut m = bytes[..first_len].to_vec();
    let s7 = find_section(&m, 7);
    let s7_len = u32::from_be_bytes(m[s7..s7 + 4].try_into().unwrap()) as usize;
    let keep = 5 + (s7_len - 5) / 2;
    m.drain(s7 + keep..s7 + s7_len);
    m[s7..s7 + 4].copy_from_slice(&(keep as u32).to_be_bytes());
    let total = m.len() as u64;
    m[8..16].copy_from_slice(&total.to_be_bytes());
    std::fs::write(&cut, &m).unwrap();
    let ds = Dataset::open(&cut).unwrap();
    let err = ds.decode(0).expect_err("half a code stream cannot decode");
    assert!(err.to_string().contains("CCSDS"), "{err}");
}

/// Byte offset of section `number` in a GRIB2 message.
fn find_section(m: &[u8], number: u8) -> usize {
    let mut at = 16;
    while at + 5 <= m.len() {
        let len = u32::from_be_bytes(m[at..at + 4].try_into().unwrap()) as usize;
        if m[at + 4] == number {
            return at;
        }
        at += len;
    }
    panic!("no section {number}");
}
