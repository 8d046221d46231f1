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

use super::grib_unpack::Scaling;
use crate::bytes::{u16_at, u8_at};

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

/// Decoding state across the reference sample intervals of one field.
struct Decoder<'a> {
    p: Params,
    bits: Bits<'a>,
    scale: Scale,
    /// XOR turning a reference sample into unsigned form (the sign bit, if signed).
    flip: u32,
    /// The coded values of one block.
    buf: [u32; MAX_BLOCK],
}

/// What one option identifier stands for.
enum Coded {
    /// One block of coded values in `Decoder::buf`.
    Block,
    /// This many all-zero blocks.
    Zeros(usize),
}

impl<'a> Decoder<'a> {
    fn new(p: Params, data: &'a [u8], scale: Scale) -> Self {
        Decoder {
            p,
            bits: Bits::new(data),
            scale,
            flip: if p.signed && p.preprocess {
                1 << (p.bits - 1)
            } else {
                0
            },
            buf: [0; MAX_BLOCK],
        }
    }

    /// Decodes one reference sample interval and appends its first `want` samples to `out`
    /// (all of them but in the last RSI of a field, which may be cut short).
    fn interval(&mut self, out: &mut Vec<f32>, want: usize) -> Result<(), String> {
        let j = self.p.block;
        // The previous sample, unsigned, for the predictor.
        let mut last = 0u32;
        let mut block = 0usize;
        while block * j < want {
            let reference = self.p.preprocess && block == 0;
            let left = want - block * j;
            match self.block(reference, block)? {
                Coded::Block => {
                    self.emit(out, left.min(j), reference, &mut last);
                    block += 1;
                }
                Coded::Zeros(count) => {
                    self.emit_zeros(out, left.min(count * j), reference, &mut last);
                    block += count;
                }
            }
        }
        Ok(())
    }

    /// Reads one coded block (or run of zero blocks); `block` is its index in the RSI.
    fn block(&mut self, reference: bool, block: usize) -> Result<Coded, String> {
        let id = self.bits.get(self.p.id_len);
        let skip = reference as usize;
        if id == 0 {
            let second_extension = self.bits.get(1) == 1;
            if reference {
                self.buf[0] = self.bits.get(self.p.bits);
            }
            if second_extension {
                self.second_extension(skip)?;
                return Ok(Coded::Block);
            }
            return self.zero_blocks(block).map(Coded::Zeros);
        }
        if id == (1 << self.p.id_len) - 1 {
            let mut r = self.bits;
            for v in &mut self.buf[..self.p.block] {
                *v = r.get(self.p.bits);
            }
            self.bits = r;
            return Ok(Coded::Block);
        }
        if reference {
            self.buf[0] = self.bits.get(self.p.bits);
        }
        self.split(skip, id - 1)?;
        Ok(Coded::Block)
    }

    /// Split-sample option: fundamental-sequence high parts, then `k`-bit low parts.
    fn split(&mut self, skip: usize, k: u32) -> Result<(), String> {
        // The reader in a local, so that it lives in registers through the loops.
        let mut r = self.bits;
        let values = &mut self.buf[skip..self.p.block];
        let high = r.fs_block(values)?;
        let mut low = 0u32;
        if k > 0 {
            // k exceeds the sample width only in a corrupt stream, which the check below
            // then rejects.
            let k = k.min(32);
            for v in values.iter_mut() {
                let bits = r.get(k);
                low |= bits;
                *v = ((*v as u64) << k) as u32 | bits;
            }
        }
        self.bits = r;
        // The maximum is all ones, so every value fits iff the OR of the parts does.
        if (high << k.min(32)) | low as u64 > self.p.max() as u64 {
            return Err(format!(
                "CCSDS split-sample value (k = {k}) out of the {}-bit range",
                self.p.bits
            ));
        }
        Ok(())
    }

    /// Second-extension option: pairs of values coded together, the first pair of a
    /// reference block without its first value.
    fn second_extension(&mut self, skip: usize) -> Result<(), String> {
        let mut r = self.bits;
        let mut i = skip;
        while i < self.p.block {
            let m = r.fs()? as usize;
            if m > SE_MAX {
                return Err(format!("CCSDS second-extension codeword {m}"));
            }
            let sum = SE_SUM[m] as u32;
            let b = m as u32 - sum * (sum + 1) / 2;
            if i.is_multiple_of(2) {
                self.buf[i] = sum - b;
                i += 1;
            }
            self.buf[i] = b;
            i += 1;
        }
        self.bits = r;
        if self.p.bits < 4
            && self.buf[skip..self.p.block]
                .iter()
                .any(|&v| v > self.p.max())
        {
            return Err("CCSDS second-extension value out of range".into());
        }
        Ok(())
    }

    /// Zero-block option: the number of all-zero blocks, from block `block` of the RSI on.
    fn zero_blocks(&mut self, block: usize) -> Result<usize, String> {
        let m = self.bits.fs()? as u64 + 1;
        let count = match m {
            ROS => (self.p.rsi - block).min(64 - block % 64),
            m if m > ROS => (m - 1) as usize,
            m => m as usize,
        };
        if count > self.p.rsi - block {
            return Err(format!(
                "CCSDS zero-block run of {count} blocks past the end of the {}-block RSI",
                self.p.rsi
            ));
        }
        Ok(count)
    }

    /// Appends the first `take` samples of the decoded block, scaled, to `out`.
    fn emit(&mut self, out: &mut Vec<f32>, take: usize, reference: bool, last: &mut u32) {
        let values = &mut self.buf[..take];
        if self.p.preprocess {
            // Undo the prediction in place: a serial loop, kept apart from the scaling so
            // that the scaling loop vectorises.
            let (mut x, rest) = match values {
                [first, rest @ ..] if reference => {
                    *first ^= self.flip;
                    (*first, rest)
                }
                _ => (*last, &mut values[..]),
            };
            let max = self.p.max();
            for v in rest {
                x = unmap(*v, x, max);
                *v = x;
            }
            *last = x;
        }
        self.scale.extend(out, values);
    }

    /// Appends `take` samples of a run of zero blocks to `out`: residuals of 0 repeat the
    /// previous sample (the reference, in the first block), raw zero samples are 0.
    fn emit_zeros(&self, out: &mut Vec<f32>, take: usize, reference: bool, last: &mut u32) {
        let u = if !self.p.preprocess {
            0
        } else {
            if reference {
                *last = self.buf[0] ^ self.flip;
            }
            *last
        };
        out.resize(out.len() + take, self.scale.value(u));
    }
}

/// Inverse of the preprocessor's mapping: the sample whose residual against the prediction
/// `p` maps to `d`, all in unsigned form (`0..=max`, `max` all ones).
#[inline(always)]
fn unmap(d: u32, p: u32, max: u32) -> u32 {
    let half = (d >> 1) + (d & 1);
    // Nearer the maximum: max - p is then max ^ p, and the distance to the bound used below.
    let upper = if p > max >> 1 { max } else { 0 };
    if half <= upper ^ p {
        // Even d: p + d/2; odd d: p - (d + 1)/2, as a wrapping add of !(d/2).
        let step = if d & 1 == 1 { !(d >> 1) } else { d >> 1 };
        p.wrapping_add(step)
    } else {
        upper ^ d
    }
}

/// For a second-extension codeword m, the pair sum s with s(s+1)/2 <= m < (s+1)(s+2)/2.
const SE_SUM: [u8; SE_MAX + 1] = {
    let mut t = [0u8; SE_MAX + 1];
    let (mut s, mut m) = (0usize, 0usize);
    while m <= SE_MAX {
        if m >= (s + 1) * (s + 2) / 2 {
            s += 1;
        }
        t[m] = s as u8;
        m += 1;
    }
    t
};

/// MSB-first bit reader over untrusted bytes: a 64-bit window refilled up to 8 bytes at a
/// time. Past the end of the data it reads zeros; `check_overrun` tells whether it did.
/// `Copy`, so hot loops work on a local copy the compiler keeps in registers.
#[derive(Clone, Copy)]
struct Bits<'a> {
    data: &'a [u8],
    /// Next byte to load; may run past `data.len()` (zero bytes).
    next: usize,
    /// The window, next bit at the top. Bits below `have` may hold the following bits
    /// already (or zeros), never anything else.
    acc: u64,
    /// Valid bits in `acc`, at most 63.
    have: u32,
}

impl<'a> Bits<'a> {
    fn new(data: &'a [u8]) -> Self {
        Bits {
            data,
            next: 0,
            acc: 0,
            have: 0,
        }
    }

    /// Tops the window up to at least 56 valid bits.
    #[inline(always)]
    fn refill(&mut self) {
        if let Some(chunk) = self.data.get(self.next..self.next + 8) {
            let word = u64::from_be_bytes(chunk.try_into().expect("8 bytes"));
            self.acc |= word >> self.have;
            let bytes = (63 - self.have) >> 3;
            self.next += bytes as usize;
            self.have += bytes * 8;
        } else {
            self.refill_tail();
        }
    }

    /// `refill` within 8 bytes of the end: byte by byte, zeros past the end.
    #[cold]
    fn refill_tail(&mut self) {
        while self.have <= 55 {
            let byte = self.data.get(self.next).copied().unwrap_or(0);
            self.acc |= (byte as u64) << (56 - self.have);
            self.have += 8;
            self.next += 1;
        }
    }

    /// Reads `n` bits, 1..=32.
    #[inline(always)]
    fn get(&mut self, n: u32) -> u32 {
        debug_assert!((1..=32).contains(&n));
        if self.have < n {
            self.refill();
        }
        let v = (self.acc >> (64 - n)) as u32;
        self.acc <<= n;
        self.have -= n;
        v
    }

    /// Reads a fundamental-sequence codeword: the number of zero bits before the next one.
    #[inline(always)]
    fn fs(&mut self) -> Result<u32, String> {
        if let Some(m) = self.fs_in_window() {
            return Ok(m);
        }
        self.refill();
        if let Some(m) = self.fs_in_window() {
            return Ok(m);
        }
        let (r, m) = self.fs_long()?;
        *self = r;
        Ok(m)
    }

    /// A codeword whose one bit is among the valid bits of the window.
    #[inline(always)]
    fn fs_in_window(&mut self) -> Option<u32> {
        // `| 1` spares the zero test of leading_zeros; a window of zeros still gives 63,
        // which is not below `have`.
        let zeros = (self.acc | 1).leading_zeros();
        if zeros < self.have {
            // zeros <= 62, so the shift is at most 63.
            self.acc <<= zeros + 1;
            self.have -= zeros + 1;
            return Some(zeros);
        }
        None
    }

    /// Reads `out.len()` fundamental-sequence codewords and returns their OR (a value above
    /// `u32::MAX` is stored truncated but shows in the OR).
    ///
    /// Works a window at a time: with the window's bits reversed, the stream runs from bit 0
    /// up and each codeword ends at the next set bit, so clearing the lowest set bit steps
    /// from one codeword to the next without the shift of the whole window that reading them
    /// one by one needs.
    #[inline(always)]
    fn fs_block(&mut self, out: &mut [u32]) -> Result<u64, String> {
        let mut any = 0u64;
        let mut i = 0;
        // Zero bits of an unfinished codeword from earlier windows.
        let mut run = 0u64;
        while i < out.len() {
            self.refill();
            let have = self.have;
            let mut w = self.acc.reverse_bits() & ((1u64 << have) - 1);
            let mut pos = 0u32;
            while w != 0 && i < out.len() {
                let end = w.trailing_zeros();
                let m = run + (end - pos) as u64;
                any |= m;
                out[i] = m as u32;
                run = 0;
                pos = end + 1;
                w &= w - 1;
                i += 1;
            }
            if i < out.len() {
                // The window ran out inside a codeword.
                run += (have - pos) as u64;
                self.acc = 0;
                self.have = 0;
                if self.next > self.data.len() + 8 {
                    return Err("CCSDS fundamental sequence runs past the end of the data".into());
                }
            } else {
                self.acc <<= pos;
                self.have -= pos;
            }
        }
        Ok(any)
    }

    /// A codeword longer than the window: keeps counting zeros, refilling. Takes and returns
    /// the reader by value so that callers' copies stay in registers.
    #[cold]
    #[inline(never)]
    fn fs_long(mut self) -> Result<(Self, u32), String> {
        let mut count = 0u64;
        loop {
            // The valid bits are all zeros; drop them (and whatever follows: refill
            // reloads it).
            count += self.have as u64;
            self.acc = 0;
            self.have = 0;
            if self.next > self.data.len() + 8 {
                return Err("CCSDS fundamental sequence runs past the end of the data".into());
            }
            self.refill();
            if let Some(m) = self.fs_in_window() {
                let m = u32::try_from(count + m as u64)
                    .map_err(|_| "CCSDS codeword too long".to_string())?;
                return Ok((self, m));
            }
        }
    }

    /// Skips to the next byte boundary of the stream.
    fn align(&mut self) {
        let drop = self.have % 8;
        self.acc <<= drop;
        self.have -= drop;
    }

    /// Fails if more bits were read than the data has.
    fn check_overrun(&self) -> Result<(), String> {
        let read = self.next as u64 * 8 - self.have as u64;
        let len = self.data.len() as u64 * 8;
        if read > len {
            return Err(format!(
                "CCSDS stream needs more than its {} bytes",
                self.data.len()
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
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
}
