//! Tests of the GRIB message splitter: frames good and bad, editions mixed, large messages.

use std::io::Cursor;

use super::super::grib_index::build::{message, one_field, section};
use super::*;

/// (offset, fields or problem) of every piece of `data`, the same whatever the size of
/// the window markers and frames are scanned through.
fn split(data: &[u8], max: u64) -> Vec<(u64, Result<usize, Problem>)> {
    let pieces = |window| -> Vec<_> {
        Splitter::new(Cursor::new(data), data.len() as u64, 0, max)
            .with_window(window)
            .map(|p| p.unwrap())
            .map(|p| (p.offset, p.content.map(|m| m.fields.len())))
            .collect()
    };
    let whole = pieces(WINDOW);
    for window in [4, 5, 7, 16, 33] {
        assert_eq!(pieces(window), whole, "window {window}");
    }
    whole
}

fn corrupt(p: &Result<usize, Problem>) -> &str {
    match p {
        Err(Problem::Corrupt(s)) => s,
        other => panic!("expected a corrupt piece, got {other:?}"),
    }
}

#[test]
fn a_stray_marker_is_one_error_and_the_messages_after_it_are_found() {
    let m = one_field();
    let mut data = b"GRIB\xff\xff\xff\x07garbage!".to_vec();
    data.extend_from_slice(&m);
    data.extend_from_slice(b"junk GRIB\0\0\0\x02\0\0\0\0\0\0\0\x30 junk");
    data.extend_from_slice(&m);
    let pieces = split(&data, u64::MAX);
    assert_eq!(pieces.len(), 4, "{pieces:?}");
    assert!(corrupt(&pieces[0].1).contains("byte 0: unknown GRIB edition 7"));
    assert_eq!(pieces[1], (16, Ok(1)));
    let junk = 16 + m.len() as u64 + 5;
    assert_eq!(pieces[2].0, junk);
    assert!(corrupt(&pieces[2].1).contains(&format!(
        "edition 2 message at byte {junk} declares 48 bytes but does not end with \"7777\""
    )));
    assert_eq!(pieces[3].1, Ok(1));
}

#[test]
fn a_broken_length_is_one_error_and_the_scan_resumes_after_its_marker() {
    let m = one_field();
    let mut data = m.clone();
    data[8..16].copy_from_slice(&(m.len() as u64 + 10).to_be_bytes());
    data.extend_from_slice(&m);
    let pieces = split(&data, u64::MAX);
    assert_eq!(pieces.len(), 2, "{pieces:?}");
    assert!(corrupt(&pieces[0].1).contains("does not end with \"7777\""));
    assert_eq!(pieces[1], (m.len() as u64, Ok(1)));
    // A length past the end of the data: the last message is reported, not dropped.
    let cut = &data[..data.len() - 1];
    let pieces = split(cut, u64::MAX);
    assert_eq!(pieces.len(), 2, "{pieces:?}");
    assert!(corrupt(&pieces[1].1).contains(&format!(
        "message at byte {} declares {} bytes but only {} remain (truncated file?)",
        m.len(),
        m.len(),
        m.len() - 1
    )));
}

#[test]
fn a_well_framed_message_is_consumed_whole_whatever_it_holds() {
    // A whole message inside the data section of another: one field, not two.
    let inner = one_field();
    let outer = message(&[
        section(1, &[0; 16]),
        section(3, &[0; 9]),
        section(4, &[1; 4]),
        section(5, &[0; 6]),
        section(6, &[255]),
        section(7, &inner),
    ]);
    assert_eq!(split(&outer, u64::MAX), [(0, Ok(1))]);
    // Its sections broken (section 3 runs past "7777"): one error, and still not the
    // message in its data.
    let mut broken = outer.clone();
    broken[37..41].copy_from_slice(&1000u32.to_be_bytes());
    broken.extend_from_slice(&inner);
    let pieces = split(&broken, u64::MAX);
    assert_eq!(pieces.len(), 2, "{pieces:?}");
    assert!(corrupt(&pieces[0].1).contains("section 3 at byte 37 has length 1000"));
    assert_eq!(pieces[1], (outer.len() as u64, Ok(1)));
}

#[test]
fn every_cut_of_a_message_is_one_error_not_a_panic() {
    let m = one_field();
    for cut in 4..m.len() {
        let pieces = split(&m[..cut], u64::MAX);
        assert_eq!(pieces.len(), 1, "cut {cut}");
        assert!(corrupt(&pieces[0].1).contains("byte 0"), "cut {cut}");
    }
    assert!(split(&m[..3], u64::MAX).is_empty());
}

/// A one-field edition-1 message.
fn grib1_message() -> Vec<u8> {
    use crate::decode::grib1::sections::build::{bds, latlon_gds, message, pds};
    message(&[pds(0x80, 167), latlon_gds(2, 2), bds(8, &[1, 2, 3, 4], 0)])
}

#[test]
fn editions_1_and_2_mix_and_over_limit_messages_are_skipped_unread() {
    let m = one_field();
    let ed1 = grib1_message();
    let mut data = ed1.clone();
    data.extend_from_slice(&m);
    data.extend_from_slice(&m);
    let limit = m.len() as u64 - 1;
    assert!(ed1.len() as u64 <= limit);
    let pieces = split(&data, limit);
    assert_eq!(pieces[0], (0, Ok(1)));
    let after = ed1.len() as u64;
    assert_eq!(pieces[1], (after, Err(Problem::TooLarge { limit })));
    assert_eq!(pieces.len(), 3);
    let editions: Vec<u8> = Splitter::new(Cursor::new(&data), data.len() as u64, 0, limit)
        .map(|p| p.unwrap().edition)
        .collect();
    assert_eq!(editions, [1, 2, 2]);
    // Over the limit and without its "7777": corrupt, and the next marker is found.
    let mut broken = m.clone();
    broken[8..16].copy_from_slice(&(m.len() as u64 + 1).to_be_bytes());
    broken.extend_from_slice(&m);
    let pieces = split(&broken, limit);
    assert!(corrupt(&pieces[0].1).contains("does not end with \"7777\""));
    assert_eq!(
        pieces[1],
        (m.len() as u64, Err(Problem::TooLarge { limit }))
    );
}

#[test]
fn large_edition_1_messages_are_framed_by_their_real_length() {
    use crate::decode::grib1::sections::LARGE;
    // 300 octets of data in a message flagged large: its length counted in units of 120
    // (3 * 120 = 360) less the section 4 length field (the padding), plus 4.
    let mut m = grib1_message();
    let bds_at = 8 + 28 + 32;
    let body_end = m.len() - 4;
    m.splice(
        body_end..body_end,
        std::iter::repeat_n(0u8, 300 - (body_end - bds_at)),
    );
    let total = m.len() as u64;
    let units = (total - 4).div_ceil(120) as u32;
    let padding = (units as u64 * 120 - (total - 4)) as u32;
    m[4..7].copy_from_slice(&(LARGE | units).to_be_bytes()[1..]);
    m[bds_at..bds_at + 3].copy_from_slice(&padding.to_be_bytes()[1..]);
    let mut data = m.clone();
    data.extend_from_slice(&one_field());
    let pieces = split(&data, u64::MAX);
    assert_eq!(pieces, [(0, Ok(1)), (total, Ok(1))]);
    // Cut inside its section headers: one error naming the marker, then nothing.
    let pieces = split(&m[..20], u64::MAX);
    assert_eq!(pieces.len(), 1);
    assert!(corrupt(&pieces[0].1).contains("large edition 1 message at byte 0"));
}

#[test]
fn offsets_count_from_the_base() {
    let m = one_field();
    let pieces: Vec<_> = Splitter::new(Cursor::new(&m), m.len() as u64, 1000, u64::MAX)
        .map(|p| p.unwrap())
        .collect();
    assert_eq!(pieces[0].offset, 1000);
    assert_eq!(pieces[0].length, m.len() as u64);
    let mut bad = m.clone();
    bad[37..41].copy_from_slice(&1000u32.to_be_bytes());
    let p = Splitter::new(Cursor::new(&bad), m.len() as u64, 1000, u64::MAX)
        .next()
        .unwrap()
        .unwrap();
    assert!(matches!(p.content, Err(Problem::Corrupt(s)) if s.contains("byte 1037")));
}
