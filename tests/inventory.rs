//! The streamed inventory the chunker plans from (one GRIB2 message in memory at a time)
//! lists exactly what a fully read dataset lists: same fields, metadata, grids and errors,
//! on every sample file and on files broken the ways real files break (a stray "GRIB"
//! before the messages, junk between them, a broken length, a truncated last message).
//! Both views split a file with one splitter (src/decode/grib_split.rs); its recovery rule:
//! a "GRIB" whose frame is bad (header, declared length, "7777" where that length ends) is
//! one error entry naming its byte offset, and the scan resumes at the byte after that
//! "GRIB"; a well-framed message is consumed whole (its fields, or one error entry).

mod common;

use std::path::{Path, PathBuf};

use common::views::{agree, Line};
use tilecast::decode::{inventory, Dataset};

#[test]
fn streamed_inventory_equals_the_full_dataset() {
    let mut files = Vec::new();
    for dir in ["grib2", "unsupported", "grib1", "grids", "netcdf"] {
        for e in std::fs::read_dir(common::shared_samples().join(dir)).unwrap() {
            files.push(e.unwrap().path());
        }
    }
    for e in std::fs::read_dir(common::own_samples()).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "grib2" || x == "nc") {
            files.push(p);
        }
    }
    files.sort();
    assert!(files.len() > 25);
    // And files that neither view can open: they must fail the same way (`agree` compares
    // the error texts).
    let tmp = common::tempdir();
    let nc = std::fs::read(common::shared_samples().join("netcdf/earthkit__test4.nc")).unwrap();
    let unopenable = [
        write(tmp.path(), "empty.grib2", b""),
        write(tmp.path(), "text.grib2", b"no marker here"),
        write(tmp.path(), "cut.nc", &nc[..200]),
    ];
    for f in files.iter().chain(&unopenable) {
        let listed = agree(f);
        assert_eq!(
            listed.is_err(),
            unopenable.contains(f),
            "{}: {listed:?}",
            f.display()
        );
    }
}

/// pygrib__ngm.grb: five one-field GRIB2 messages.
fn ngm() -> Vec<u8> {
    std::fs::read(common::shared_samples().join("grib2/pygrib__ngm.grb")).unwrap()
}

/// Byte offsets of ngm's messages, and its length.
const NGM: [usize; 6] = [0, 1961, 4542, 7422, 11172, 14922];

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// What we expect of an entry: a field whose message starts at a byte, or an error that
/// says these things.
enum Want<'a> {
    Field { offset: usize },
    Error(&'a [&'a str]),
}

/// Checks both views agree on `path`, list `want`, and decode every field alike (values
/// and errors, with fields numbered as in the whole file).
fn check(path: &Path, want: &[Want]) -> Vec<Line> {
    let lines = agree(path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(lines.len(), want.len(), "{}: {lines:#?}", path.display());
    for (k, (line, want)) in lines.iter().zip(want).enumerate() {
        match (line, want) {
            (Ok(info), Want::Field { offset }) => {
                assert_eq!(info["index"], k, "{}", path.display());
                assert_eq!(info["source"]["offset"], *offset, "field {k}: {info}");
            }
            (Err(e), Want::Error(words)) => {
                let name = path.file_name().unwrap().to_string_lossy();
                let field = format!("field {k}: ");
                for w in [&*name, &field].into_iter().chain(words.iter().copied()) {
                    assert!(e.contains(w), "entry {k}: {e:?} does not say {w:?}");
                }
            }
            (got, _) => panic!("{}: entry {k} is {got:?}", path.display()),
        }
    }
    let (ds, inv) = (Dataset::open(path).unwrap(), inventory(path).unwrap());
    for k in 0..lines.len() {
        match (ds.decode(k), inv.decode(k)) {
            (Ok(a), Ok(b)) => {
                assert_eq!(a.info.index, k);
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert!(bits(&a.values) == bits(&b.values), "field {k} values");
            }
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "field {k}"),
            (a, b) => panic!("field {k}: {:?} vs {:?}", a.err(), b.err()),
        }
    }
    lines
}

/// The metadata of the clean file's fields, but for index and offset: moving messages
/// around must not change what they hold.
fn same_fields_as_ngm(lines: &[Line]) {
    let clean = agree(&common::shared_samples().join("grib2/pygrib__ngm.grb")).unwrap();
    let strip = |l: &Line| {
        let mut v = l.clone().unwrap();
        v["index"] = 0.into();
        v["source"]["offset"] = 0.into();
        v
    };
    let fields: Vec<_> = lines.iter().filter(|l| l.is_ok()).map(strip).collect();
    assert_eq!(fields, clean.iter().map(strip).collect::<Vec<_>>());
}

/// The sample's five messages with message `k` replaced by an error that says `said`.
fn message_is_an_error<'a>(k: usize, said: &'a [&'a str; 1]) -> Vec<Want<'a>> {
    (0..5)
        .map(|i| {
            if i == k {
                Want::Error(said)
            } else {
                Want::Field { offset: NGM[i] }
            }
        })
        .collect()
}

#[test]
fn a_stray_grib_before_the_messages_is_one_error_and_every_message_is_found() {
    let tmp = common::tempdir();
    let mut bytes = b"GRIB\x13\x37garbage\xff\xff\xff".to_vec();
    let junk = bytes.len();
    bytes.extend_from_slice(&ngm());
    let p = write(tmp.path(), "stray.grib2", &bytes);
    let mut want = vec![Want::Error(&["message at byte 0: unknown GRIB edition 97"])];
    want.extend(NGM[..5].iter().map(|&o| Want::Field { offset: o + junk }));
    same_fields_as_ngm(&check(&p, &want));
}

#[test]
fn junk_between_messages_with_a_grib_in_it_is_one_error_between_the_fields() {
    let tmp = common::tempdir();
    let ngm = ngm();
    let junk = b"WMO junk GRIB\0\0\0\x02\0\0\0\0\0\0\x10\0 more junk";
    let mut bytes = ngm[..NGM[2]].to_vec();
    bytes.extend_from_slice(junk);
    bytes.extend_from_slice(&ngm[NGM[2]..]);
    let p = write(tmp.path(), "junk.grib2", &bytes);
    let at = NGM[2] + 9;
    let said = format!(
        "edition 2 message at byte {at} declares 4096 bytes but does not end with \"7777\""
    );
    let want = [
        Want::Field { offset: 0 },
        Want::Field { offset: NGM[1] },
        Want::Error(&[&said]),
        Want::Field {
            offset: NGM[2] + junk.len(),
        },
        Want::Field {
            offset: NGM[3] + junk.len(),
        },
        Want::Field {
            offset: NGM[4] + junk.len(),
        },
    ];
    same_fields_as_ngm(&check(&p, &want));
}

#[test]
fn a_message_whose_length_is_broken_is_one_error_and_the_next_message_is_found() {
    let tmp = common::tempdir();
    let ngm = ngm();
    // Message 2 claims 100 bytes more than it has: its end marker is not where it says.
    let mut longer = ngm.clone();
    let declared = (NGM[3] - NGM[2] + 100) as u64;
    longer[NGM[2] + 8..NGM[2] + 16].copy_from_slice(&declared.to_be_bytes());
    let p = write(tmp.path(), "longer.grib2", &longer);
    let said = format!(
        "edition 2 message at byte {} declares {declared} bytes but does not end with \"7777\"",
        NGM[2]
    );
    check(&p, &message_is_an_error(2, &[&said]));
    // Message 1 claims more bytes than the file has.
    let mut past = ngm.clone();
    past[NGM[1] + 8..NGM[1] + 16].copy_from_slice(&1_000_000u64.to_be_bytes());
    let p = write(tmp.path(), "past.grib2", &past);
    let said = format!(
        "edition 2 message at byte {} declares 1000000 bytes but only {} remain (truncated file?)",
        NGM[1],
        NGM[5] - NGM[1]
    );
    check(&p, &message_is_an_error(1, &[&said]));
}

#[test]
fn a_message_whose_sections_do_not_chain_is_one_error_among_the_fields() {
    let tmp = common::tempdir();
    let mut bytes = ngm();
    // Section 1 of message 1 (right after its 16-byte section 0) runs past the message.
    let s1 = NGM[1] + 16;
    bytes[s1..s1 + 4].copy_from_slice(&0xFFFFu32.to_be_bytes());
    let p = write(tmp.path(), "sections.grib2", &bytes);
    let said = format!(
        "message at byte {}: section 1 at byte {s1} has length 65535",
        NGM[1]
    );
    check(&p, &message_is_an_error(1, &[&said]));
}

#[test]
fn a_truncated_last_message_is_reported_as_the_last_entry() {
    let tmp = common::tempdir();
    let ngm = ngm();
    let p = write(tmp.path(), "cut.grib2", &ngm[..NGM[4] + 1000]);
    let said = format!(
        "edition 2 message at byte {} declares 3750 bytes but only 1000 remain (truncated file?)",
        NGM[4]
    );
    check(&p, &message_is_an_error(4, &[&said]));
    // Cut inside the header of the last message.
    let p = write(tmp.path(), "cut-header.grib2", &ngm[..NGM[4] + 10]);
    let said = format!(
        "message at byte {}: header cut short by the end of the file after 10 bytes",
        NGM[4]
    );
    let said = [said.as_str()];
    let mut want: Vec<_> = NGM[..4]
        .iter()
        .map(|&o| Want::Field { offset: o })
        .collect();
    want.push(Want::Error(&said));
    check(&p, &want);
}

#[test]
fn a_file_of_grib_markers_lists_at_most_the_field_limit() {
    // Every bad frame is one error entry under the recovery rule: without a ceiling, a file
    // of repeated headers would cost an entry per 16 bytes in the chunker and every worker.
    // Each header here declares a length within the file that does not end on "7777", so
    // every frame check also reads a tail far away: this must stay quick.
    let limit = tilecast::limits::MAX_FIELDS_PER_FILE as usize;
    let mut header = b"GRIB\0\0\0\x02".to_vec();
    header.extend_from_slice(&1_000_000u64.to_be_bytes());
    let tmp = common::tempdir();
    let p = write(tmp.path(), "markers.grib2", &header.repeat(limit + 10));
    let started = std::time::Instant::now();
    let lines = agree(&p).unwrap();
    assert!(started.elapsed().as_secs() < 20, "{:?}", started.elapsed());
    assert_eq!(lines.len(), limit + 1);
    assert!(lines[..limit].iter().all(|l| l.is_err()));
    let last = lines[limit].as_ref().unwrap_err();
    assert!(
        last.contains(&format!("field {limit} (message at byte {})", 16 * limit))
            && last.contains("fields in the file"),
        "{last}"
    );
}
