//! Unpacking of GRIB2 data representation template 5.42: CCSDS adaptive entropy coding (AEC).
//!
//! The packed integers of a 5.42 field are the bits of an AEC code stream as libaec writes it
//! (CCSDS 121.0-B-3 "Lossless Data Compression", the extended Rice coder). Values are then
//! scaled like every grid-point packing: Y = (R + X * 2^E) * 10^-D.
//!
//! # Section 5 parameters (octets, 1-based)
//!
//! 12-20 reference, scale factors and `n` bits per sample (see [`Scaling`]); 22 the libaec
//! flags ([`SIGNED`] 1, `THREE_BYTE` 2, `MSB` 4, [`PREPROCESS`] 8, [`RESTRICTED`] 16,
//! [`PAD_RSI`] 32);
//! 23 the block size `J` (8, 16, 32 or 64 samples); 24-25 the reference sample interval, the
//! number of blocks in one RSI. `THREE_BYTE` and `MSB` only say how libaec lays samples out in
//! its output buffer (1, 2, 3 or 4 bytes, by `n` and `THREE_BYTE`); they do not change the code
//! stream, and this decoder writes values straight to `f32`, so it ignores them.
//!
//! # The code stream
//!
//! Samples are coded in blocks of `J`, most significant bit first, with no alignment between
//! blocks. Every block starts with an option identifier of `id_len` bits: 5 for `n` > 16, 4 for
//! `n` > 8, otherwise 3, or with the restricted set ([`RESTRICTED`], `n` <= 4) 1 for `n` <= 2
//! and 2 for `n` = 3, 4. Identifier 0 is a low-entropy option, all ones is the uncompressed
//! option, and every other value `id` is the split-sample option with `k = id - 1`:
//!
//! - *split sample*: the `J` values' high parts `v >> k` as fundamental-sequence codewords (a
//!   value `m` is `m` zero bits then a one), then the `J` low parts of `k` bits each; `k = 0`
//!   is the plain fundamental sequence;
//! - *uncompressed*: `J` values of `n` bits;
//! - *low entropy*: one more bit selects *second extension* (1), where pairs of values
//!   `(a, b)` are one codeword for `(a + b)(a + b + 1) / 2 + b`, or *zero block* (0), where one
//!   codeword `m` says how many all-zero blocks follow: `m + 1` blocks, except that `m = 4` (the
//!   "remainder of segment" code) runs to the end of the current 64-block segment or of the
//!   RSI, and `m > 4` stands for `m` blocks.
//!
//! Blocks are grouped into reference sample intervals (RSIs) of `rsi` blocks. With
//! [`PAD_RSI`] each RSI ends on a byte boundary. The last RSI may hold fewer blocks, and the
//! encoder fills the last block up by repeating the last sample; those extra samples are
//! decoded and dropped.
//!
//! # Preprocessing
//!
//! With [`PREPROCESS`] the first block of every RSI starts with a reference sample of `n` bits
//! (right after the identifier and, for low entropy, the selector bit; for the uncompressed
//! option it is simply the first of the `J` samples), so that block codes only `J - 1` values.
//! All other coded values are prediction residuals `d` against the previous sample `p`
//! (unit-delay predictor) mapped to non-negative integers: with `t` = min(p - min, max - p),
//! `d <= 2t` stands for `p + d/2` (d even) or `p - (d + 1)/2` (d odd), and a larger `d` for
//! `min + d` when `p` is nearer the minimum, `max - d` when nearer the maximum. With
//! [`SIGNED`] samples are `n`-bit two's complement (min = -2^(n-1)); flipping their sign bit
//! turns them into the unsigned case, which is how the decoder handles them.
//!
//! GRIB2 packs unsigned integers X, and ecCodes writes no other; for a stream flagged signed
//! this decoder gives the X ecCodes gives, which is not the signed sample: ecCodes reads
//! libaec's output back as unsigned integers of 1, 2 or 4 bytes, where libaec sign-extends
//! preprocessed samples (so -3 in 12 bits is X = 65533) and writes the raw `n` bits of
//! samples that were not preprocessed (the flag then changes nothing).
//!
//! # Values
//!
//! Scaling follows ecCodes to the bit: `((X * 2^E + R) * 10^-D)` in `f64`, with `10^-D`
//! computed by repeated division as ecCodes does, then rounded once to `f32`.
//!
//! # Hostile input
//!
//! Every parameter is checked before decoding, every bit read is bounds-checked (the stream
//! reads as zeros past its end and an overrun is an error at the end of each RSI), every
//! codeword is checked against the sample range, and each decoding step produces at least one
//! block of output, so a corrupt stream ends in an `Err` after at most `n` samples' work.

mod stream;

use super::grib_unpack::Scaling;
use crate::decode::bytes::{u16_at, u8_at};
use stream::Decoder;

/// libaec flag: samples are two's complement signed integers.
pub const SIGNED: u8 = 1;
/// libaec flag: samples are preprocessed (unit-delay predictor and mapping).
pub const PREPROCESS: u8 = 8;
/// libaec flag: the restricted option set for 1-4 bit samples.
pub const RESTRICTED: u8 = 16;
/// libaec flag: every RSI is padded to a byte boundary.
pub const PAD_RSI: u8 = 32;

/// Zero-block codeword (plus one) meaning "to the end of the 64-block segment".
const ROS: u64 = 5;
/// Largest second-extension codeword: pairs summing to at most 12, as libaec decodes.
const SE_MAX: usize = 90;
/// Largest block size octet 23 can hold.
const MAX_BLOCK: usize = 255;

/// Template 5.42: `n` values (the points present after any bitmap) from section 7's `data`.
pub fn ccsds(s5: &[u8], data: &[u8], n: usize) -> Result<Vec<f32>, String> {
    let sc = Scaling::read(s5).ok_or("section 5 too short")?;
    if n == 0 {
        return Ok(Vec::new());
    }
    if sc.bits == 0 {
        // Constant field: the reference value, as ecCodes decodes it.
        return Ok(vec![sc.reference; n]);
    }
    let p = Params::read(s5, sc.bits)?;
    p.check_length(data.len(), n)?;
    let mut out = Vec::with_capacity(n);
    let mut dec = Decoder::new(p, data, Scale::new(&sc, &p));
    while out.len() < n {
        let want = (n - out.len()).min(p.rsi * p.block);
        dec.interval(&mut out, want)?;
        if p.pad {
            dec.bits.align();
        }
        dec.bits.check_overrun()?;
    }
    Ok(out)
}

/// The code stream's configuration, from section 5.
#[derive(Debug, Clone, Copy)]
struct Params {
    /// Bits per sample, 1..=32.
    bits: u32,
    /// Bits of the option identifier.
    id_len: u32,
    /// Samples per block.
    block: usize,
    /// Blocks per reference sample interval.
    rsi: usize,
    preprocess: bool,
    signed: bool,
    pad: bool,
}

impl Params {
    fn read(s5: &[u8], bits: u32) -> Result<Params, String> {
        let short = || "section 5 too short for CCSDS packing".to_string();
        let flags = u8_at(s5, 21).ok_or_else(short)?;
        let block = u8_at(s5, 22).ok_or_else(short)? as usize;
        let rsi = u16_at(s5, 23).ok_or_else(short)? as usize;
        if !(1..=32).contains(&bits) {
            return Err(format!("CCSDS with {bits} bits per sample"));
        }
        // Second-extension pairs need an even block; libaec rejects 0 only by crashing.
        if block == 0 || block % 2 == 1 {
            return Err(format!("CCSDS block size {block}"));
        }
        if rsi == 0 {
            return Err("CCSDS reference sample interval 0".into());
        }
        Ok(Params {
            bits,
            id_len: id_len(bits, flags & RESTRICTED != 0)?,
            block,
            rsi,
            preprocess: flags & PREPROCESS != 0,
            signed: flags & SIGNED != 0,
            pad: flags & PAD_RSI != 0,
        })
    }

    /// Largest sample value (all `n` bits set).
    fn max(&self) -> u32 {
        u32::MAX >> (32 - self.bits)
    }

    /// Rejects a stream too short for `n` samples before any allocation: every segment of up
    /// to 64 blocks needs at least an identifier, a selector and a codeword bit.
    fn check_length(&self, bytes: usize, n: usize) -> Result<(), String> {
        let segments = n.div_ceil(64 * self.block);
        let need = segments as u64 * (self.id_len as u64 + 2);
        if (bytes as u64) * 8 < need {
            return Err(format!(
                "{n} CCSDS samples need at least {need} bits, section 7 has {bytes} bytes"
            ));
        }
        Ok(())
    }
}

/// Option identifier length by bits per sample, as CCSDS 121.0-B-3 and libaec define it.
fn id_len(bits: u32, restricted: bool) -> Result<u32, String> {
    Ok(match bits {
        17.. => 5,
        9..=16 => 4,
        _ if !restricted => 3,
        1..=2 => 1,
        3..=4 => 2,
        _ => {
            return Err(format!(
                "CCSDS restricted coding with {bits} bits per sample"
            ))
        }
    })
}

/// The scaling to `f32`, computed once per field exactly as ecCodes does.
#[derive(Debug, Clone, Copy)]
struct Scale {
    /// Signed sample for an unsigned-form one: u + offset (-2^(n-1) for signed samples).
    offset: i64,
    /// Added to a negative signed sample: 2^(8 * bytes), see [`container_bytes`].
    wrap: i64,
    binary: f64,
    reference: f64,
    decimal: f64,
}

impl Scale {
    fn new(sc: &Scaling, p: &Params) -> Scale {
        let (offset, wrap) = if p.signed && p.preprocess {
            (
                -(1i64 << (p.bits - 1)),
                1i64 << (8 * container_bytes(p.bits)),
            )
        } else {
            (0, 0)
        };
        Scale {
            offset,
            wrap,
            binary: eccodes_power(sc.binary as i64, 2.0),
            reference: sc.reference as f64,
            decimal: eccodes_power(-sc.decimal as i64, 10.0),
        }
    }

    /// The value of a sample in unsigned form.
    #[inline(always)]
    fn value(&self, u: u32) -> f32 {
        let x = u as i64 + self.offset;
        let x = (x + ((x >> 63) & self.wrap)) as f64;
        ((x * self.binary + self.reference) * self.decimal) as f32
    }

    /// Appends the values of unsigned-form samples to `out`.
    #[inline(always)]
    fn extend(&self, out: &mut Vec<f32>, samples: &[u32]) {
        if self.offset == 0 {
            // Unsigned samples, the GRIB2 case: the same arithmetic without the integer
            // steps, which vectorises.
            let (b, r, d) = (self.binary, self.reference, self.decimal);
            out.extend(samples.iter().map(|&u| ((u as f64 * b + r) * d) as f32));
        } else {
            out.extend(samples.iter().map(|&u| self.value(u)));
        }
    }
}

/// Bytes per sample in the buffer ecCodes has libaec decode into: 1, 2 or 4 (ecCodes clears
/// the `THREE_BYTE` flag, which would make libaec write 17-24 bit samples in 3 bytes).
fn container_bytes(bits: u32) -> u32 {
    match bits.div_ceil(8) {
        3 => 4,
        b => b,
    }
}

/// `base^exp` by repeated multiplication or division, as ecCodes' `codes_power` computes
/// scale factors (10^-2 as 1/10/10, which can differ in the last bit from 1/100).
fn eccodes_power(exp: i64, base: f64) -> f64 {
    let mut v = 1.0f64;
    // Beyond ±1100 every double power of 2 or 10 is already 0 or infinity.
    for _ in 0..exp.unsigned_abs().min(1100) {
        if exp < 0 {
            v /= base;
        } else {
            v *= base;
        }
    }
    v
}

#[cfg(test)]
mod tests;
