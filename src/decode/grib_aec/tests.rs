//! Hand-made AEC bitstreams for each coding option, and corrupt inputs.

use super::stream::unmap;
use super::*;

/// libaec's flag for big-endian output: no effect on decoding.
const MSB: u8 = 4;

/// Section 5 of template 5.42 with R = 0, E = 0, D = 0, so values are the integers X.
fn s5(n: u32, bits: u8, flags: u8, block: u8, rsi: u16) -> Vec<u8> {
    let mut s = vec![0, 0, 0, 25, 5];
    s.extend_from_slice(&n.to_be_bytes());
    s.extend_from_slice(&42u16.to_be_bytes());
    s.extend_from_slice(&0f32.to_be_bytes());
    s.extend_from_slice(&[0, 0, 0, 0, bits, 0, flags, block]);
    s.extend_from_slice(&rsi.to_be_bytes());
    s
}

/// MSB-first bit writer for hand-made code streams.
#[derive(Default)]
struct W {
    bytes: Vec<u8>,
    bits: usize,
}

impl W {
    fn put(&mut self, v: u64, n: u32) -> &mut Self {
        for i in (0..n).rev() {
            if self.bits.is_multiple_of(8) {
                self.bytes.push(0);
            }
            if (v >> i) & 1 == 1 {
                *self.bytes.last_mut().unwrap() |= 0x80 >> (self.bits % 8);
            }
            self.bits += 1;
        }
        self
    }
    /// Fundamental-sequence codeword.
    fn fs(&mut self, m: u32) -> &mut Self {
        for _ in 0..m {
            self.put(0, 1);
        }
        self.put(1, 1)
    }
    fn pad(&mut self) -> &mut Self {
        self.bits = self.bytes.len() * 8;
        self
    }
    fn done(&self) -> Vec<u8> {
        self.bytes.clone()
    }
}

/// The preprocessor's forward mapping (CCSDS 121.0-B-3 section 4), unsigned form.
fn map(x: u32, p: u32, max: u32) -> u32 {
    let (x, p, max) = (x as i64, p as i64, max as i64);
    let delta = x - p;
    let theta = p.min(max - p);
    (if delta.abs() <= theta {
        if delta >= 0 {
            2 * delta
        } else {
            -2 * delta - 1
        }
    } else {
        theta + delta.abs()
    }) as u32
}

fn decode(s: &[u8], data: &[u8], n: usize) -> Vec<i64> {
    ccsds(s, data, n)
        .unwrap()
        .iter()
        .map(|&v| v as i64)
        .collect()
}

#[test]
fn unmap_inverts_the_mapping_for_every_pair() {
    for bits in 1..=7u32 {
        let max = u32::MAX >> (32 - bits);
        for p in 0..=max {
            for x in 0..=max {
                let d = map(x, p, max);
                assert!(d <= max);
                assert_eq!(unmap(d, p, max), x, "bits {bits} p {p} x {x}");
            }
        }
    }
    for (p, x) in [(0, u32::MAX), (u32::MAX, 0), (1 << 31, 7), (5, 1 << 31)] {
        assert_eq!(unmap(map(x, p, u32::MAX), p, u32::MAX), x);
    }
}

#[test]
fn uncompressed_blocks_without_preprocessing() {
    // 5 bits: id_len 3, uncompressed id 7; J = 8, partial last block (n = 11).
    let xs: Vec<u64> = vec![0, 31, 1, 30, 2, 29, 3, 28, 17, 16, 15];
    let mut w = W::default();
    w.put(7, 3);
    for &x in &xs[..8] {
        w.put(x, 5);
    }
    w.put(7, 3);
    for &x in &xs[8..] {
        w.put(x, 5);
    }
    w.put(0, 5 * 5); // the encoder's padding of the last block
    let got = decode(&s5(11, 5, MSB, 8, 4), &w.done(), 11);
    assert_eq!(got, xs.iter().map(|&x| x as i64).collect::<Vec<_>>());
}

#[test]
fn split_sample_and_fundamental_sequence() {
    // 12 bits (id_len 4), no preprocessing: block 1 with k = 3 (id 4), block 2 with
    // k = 0 (id 1, the fundamental sequence).
    let a: Vec<u32> = vec![5, 17, 0, 63, 8, 9, 100, 2];
    let b: Vec<u32> = vec![0, 1, 2, 3, 0, 0, 7, 1];
    let mut w = W::default();
    w.put(4, 4);
    for &v in &a {
        w.fs(v >> 3);
    }
    for &v in &a {
        w.put((v & 7) as u64, 3);
    }
    w.put(1, 4);
    for &v in &b {
        w.fs(v);
    }
    let got = decode(&s5(16, 12, 0, 8, 64), &w.done(), 16);
    let want: Vec<i64> = a.iter().chain(&b).map(|&v| v as i64).collect();
    assert_eq!(got, want);
}

#[test]
fn preprocessed_split_with_reference_sample() {
    // 8 bits with preprocessing; J = 8, rsi = 1: every block starts an RSI and carries a
    // reference sample after its identifier; k = 1 (id 2).
    let xs: Vec<u32> = vec![
        100, 101, 99, 99, 104, 200, 3, 0, 50, 49, 48, 47, 46, 45, 44, 255,
    ];
    let mut w = W::default();
    for block in xs.chunks(8) {
        w.put(2, 3).put(block[0] as u64, 8);
        let ds: Vec<u32> = block.windows(2).map(|p| map(p[1], p[0], 255)).collect();
        for &d in &ds {
            w.fs(d >> 1);
        }
        for &d in &ds {
            w.put((d & 1) as u64, 1);
        }
    }
    let got = decode(&s5(16, 8, PREPROCESS, 8, 1), &w.done(), 16);
    assert_eq!(got, xs.iter().map(|&v| v as i64).collect::<Vec<_>>());
}

#[test]
fn zero_blocks_and_remainder_of_segment() {
    // 4 bits, preprocessing, J = 8, rsi = 70 blocks (a 64-block segment and 6 more).
    // RSI: reference 9 + 2 zero blocks (fs 1), then an uncompressed block, then a ROS
    // run to the end of the first segment (blocks 3..64), then zero blocks 64..70 (6
    // blocks: fs 6 since codes above ROS stand for one block less).
    let mut w = W::default();
    w.put(0, 3).put(0, 1).put(9, 4).fs(1);
    let unc: Vec<u32> = vec![9, 10, 11, 12, 13, 14, 15, 0];
    w.put(7, 3);
    let mut p = 9;
    for &x in &unc {
        w.put(map(x, p, 15) as u64, 4);
        p = x;
    }
    w.put(0, 3).put(0, 1).fs(4);
    w.put(0, 3).put(0, 1).fs(6);
    let n = 70 * 8;
    let got = decode(&s5(n as u32, 4, PREPROCESS, 8, 70), &w.done(), n);
    let mut want = vec![9i64; 16];
    want.extend(unc.iter().map(|&v| v as i64));
    want.resize(n, 0);
    assert_eq!(got, want);
    // Without preprocessing zero blocks are zero samples; a ROS run stops at the RSI end.
    let mut w = W::default();
    w.put(0, 3).put(0, 1).fs(4);
    w.put(0, 3).put(0, 1).fs(4);
    let got = decode(&s5(40, 4, 0, 8, 3), &w.done(), 40);
    assert_eq!(got, vec![0; 40]);
}

#[test]
fn second_extension_pairs() {
    // 6 bits, preprocessing, J = 8: a reference block (first pair without its first
    // value), then a block of four full pairs.
    let pairs_ref = [(0u32, 3u32), (2, 1), (0, 0), (4, 0)];
    let pairs = [(1u32, 0u32), (0, 1), (2, 2), (0, 0)];
    let code = |(a, b): (u32, u32)| (a + b) * (a + b + 1) / 2 + b;
    let mut w = W::default();
    w.put(0, 3).put(1, 1).put(20, 6);
    for &p in &pairs_ref {
        w.fs(code(p));
    }
    w.put(0, 3).put(1, 1);
    for &p in &pairs {
        w.fs(code(p));
    }
    let mut ds = vec![3u32, 2, 1, 0, 0, 4, 0];
    ds.extend(pairs.iter().flat_map(|&(a, b)| [a, b]));
    let mut want = vec![20i64];
    let mut x = 20u32;
    for &d in &ds {
        x = unmap(d, x, 63);
        want.push(x as i64);
    }
    let got = decode(&s5(16, 6, PREPROCESS, 8, 2), &w.done(), 16);
    assert_eq!(got, want);
}

#[test]
fn restricted_option_sets() {
    // 2 bits: id_len 1 (0 low entropy, 1 uncompressed); 4 bits: id_len 2 (1 = k 0, 2 = k 1).
    let mut w = W::default();
    w.put(1, 1);
    for x in [3, 2, 1, 0, 0, 1, 2, 3] {
        w.put(x, 2);
    }
    w.put(0, 1).put(0, 1).fs(0);
    let got = decode(&s5(16, 2, RESTRICTED, 8, 8), &w.done(), 16);
    let mut want = vec![3, 2, 1, 0, 0, 1, 2, 3];
    want.extend([0; 8]);
    assert_eq!(got, want);

    let xs = [15u32, 0, 7, 8, 1, 2, 3, 4];
    let mut w = W::default();
    w.put(2, 2);
    for &x in &xs {
        w.fs(x >> 1);
    }
    for &x in &xs {
        w.put((x & 1) as u64, 1);
    }
    let got = decode(&s5(8, 4, RESTRICTED, 8, 8), &w.done(), 8);
    assert_eq!(got, xs.iter().map(|&v| v as i64).collect::<Vec<_>>());
    assert!(ccsds(&s5(8, 5, RESTRICTED, 8, 8), &w.done(), 8).is_err());
}

#[test]
fn signed_samples_read_back_as_ecc_codes_does() {
    // 12 bits signed, preprocessing: samples -3, -2, 5, ... ; ecCodes reads libaec's
    // sign-extended 16-bit output as unsigned, so -3 is X = 65533.
    let s: Vec<i64> = vec![-3, -2, 5, -2048, 2047, 0, -1, 1];
    let flip = |v: i64| ((v + 2048) as u32) & 0xfff; // unsigned form
    let mut w = W::default();
    w.put(15, 4).put((s[0] & 0xfff) as u64, 12);
    for pair in s.windows(2) {
        w.put(map(flip(pair[1]), flip(pair[0]), 4095) as u64, 12);
    }
    let got = decode(&s5(8, 12, SIGNED | PREPROCESS, 8, 1), &w.done(), 8);
    let want: Vec<i64> = s.iter().map(|&v| v.rem_euclid(65536)).collect();
    assert_eq!(got, want);
    // Without preprocessing libaec outputs the raw 12 bits.
    let got = decode(&s5(8, 12, SIGNED, 8, 1), &w.done(), 8);
    assert_eq!(got[0], 0xffd);
}

#[test]
fn rsi_padding_and_32_bit_samples() {
    // 32 bits, uncompressed (id 31), J = 8, rsi = 1, padded: each RSI is 5 + 256 bits,
    // so 3 pad bits follow it.
    let xs: Vec<u32> = (0..16).map(|i| u32::MAX - i * 0x1234_5678).collect();
    let mut w = W::default();
    for block in xs.chunks(8) {
        w.put(31, 5);
        for &x in block {
            w.put(x as u64, 32);
        }
        w.pad();
    }
    let data = w.done();
    assert_eq!(data.len(), 2 * 33);
    let got = ccsds(&s5(16, 32, PAD_RSI, 8, 1), &data, 16).unwrap();
    let want: Vec<f32> = xs.iter().map(|&x| x as f64 as f32).collect();
    assert_eq!(got, want);
    // Unpadded, the same bytes do not decode to the same values.
    let unpadded = ccsds(&s5(16, 32, 0, 8, 1), &data, 16);
    assert!(unpadded.map_or(true, |v| v != want));
}

#[test]
fn scaling_matches_eccodes_arithmetic() {
    // R = 1.5, E = -1, D = 2: (X / 2 + 1.5) / 100 with 10^-2 as 1/10/10.
    let mut s = s5(8, 4, 0, 8, 1);
    s[11..15].copy_from_slice(&1.5f32.to_be_bytes());
    s[15..17].copy_from_slice(&0x8001u16.to_be_bytes());
    s[17..19].copy_from_slice(&2u16.to_be_bytes());
    let mut w = W::default();
    w.put(7, 3);
    for x in 0..8 {
        w.put(x, 4);
    }
    let got = ccsds(&s, &w.done(), 8).unwrap();
    let ds = 1.0 / 10.0 / 10.0;
    for (x, v) in got.iter().enumerate() {
        assert_eq!(*v, ((x as f64 * 0.5 + 1.5) * ds) as f32);
    }
    // bits per value 0: the reference value, unscaled.
    s[19] = 0;
    assert_eq!(ccsds(&s, &[], 3).unwrap(), vec![1.5; 3]);
}

#[test]
fn corrupt_streams_are_errors() {
    let ok = |s: &[u8], d: &[u8], n| ccsds(s, d, n).is_ok();
    let full = {
        let mut w = W::default();
        w.put(7, 3);
        for x in 0..8 {
            w.put(x, 5);
        }
        w.done()
    };
    let s = s5(8, 5, 0, 8, 1);
    assert!(ok(&s, &full, 8));
    assert!(!ok(&s, &full[..full.len() - 1], 8), "truncated");
    assert!(!ok(&s, &full, 16), "more samples than coded");
    assert!(!ok(&s5(8, 5, 0, 7, 1), &full, 8), "odd block size");
    assert!(!ok(&s5(8, 5, 0, 0, 1), &full, 8), "block size 0");
    assert!(!ok(&s5(8, 5, 0, 8, 0), &full, 8), "rsi 0");
    assert!(!ok(&s5(8, 33, 0, 8, 1), &full, 8), "33 bits");
    assert!(!ok(&s5(8, 5, 0, 8, 1)[..22], &full, 8), "short section 5");
    // A zero-block run past the RSI end: 3 blocks (fs 2) in a 2-block RSI.
    let mut w = W::default();
    w.put(0, 3).put(0, 1).fs(2);
    assert!(!ok(&s5(16, 5, 0, 8, 2), &w.done(), 16));
    // A second-extension codeword above 90.
    let mut w = W::default();
    w.put(0, 3).put(1, 1).fs(91);
    assert!(!ok(&s5(8, 5, 0, 8, 2), &w.done(), 8));
    // A split-sample value above the sample range (3 bits, k 0, value 8).
    let mut w = W::default();
    w.put(1, 3).fs(8);
    for _ in 1..8 {
        w.fs(0);
    }
    assert!(!ok(&s5(8, 3, 0, 8, 2), &w.done(), 8));
    // All zero bits: a fundamental sequence that never ends.
    assert!(!ok(&s5(8, 12, 0, 8, 2), &[0x10, 0, 0, 0], 8));
    // Huge sample counts are refused before allocating.
    assert!(!ok(&s5(8, 12, 0, 8, 2), &[0x10], 1 << 40));
}
