//! Reading a CCSDS/AEC code stream (see the parent module for the format): the bit reader,
//! the option identifiers, split-sample, second-extension and zero-block decoding, and the
//! unit-delay predictor, one reference sample interval at a time.

use super::{Params, Scale, MAX_BLOCK, ROS, SE_MAX};

/// Decoding state across the reference sample intervals of one field.
pub(super) struct Decoder<'a> {
    p: Params,
    pub(super) bits: Bits<'a>,
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
    pub(super) fn new(p: Params, data: &'a [u8], scale: Scale) -> Self {
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
    pub(super) fn interval(&mut self, out: &mut Vec<f32>, want: usize) -> Result<(), String> {
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
pub(super) fn unmap(d: u32, p: u32, max: u32) -> u32 {
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
pub(super) struct Bits<'a> {
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
    pub(super) fn align(&mut self) {
        let drop = self.have % 8;
        self.acc <<= drop;
        self.have -= drop;
    }

    /// Fails if more bits were read than the data has.
    pub(super) fn check_overrun(&self) -> Result<(), String> {
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
