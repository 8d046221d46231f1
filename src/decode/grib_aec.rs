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
mod tests;
