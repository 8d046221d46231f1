//! Bounds-checked big-endian readers for untrusted bytes.
//!
//! GRIB (both editions) stores integers big-endian, and signed ones in sign-and-magnitude form
//! (the top bit is the sign), not two's complement; GRIB1 adds 3-byte integers and IBM floats.
//! Every reader returns `None` past the end instead of panicking, so a truncated file can only
//! ever produce an error.

/// Reads `N` bytes at `off`, or `None` if they are not all present.
fn take<const N: usize>(b: &[u8], off: usize) -> Option<[u8; N]> {
    b.get(off..off.checked_add(N)?)?.try_into().ok()
}

pub fn u8_at(b: &[u8], off: usize) -> Option<u8> {
    b.get(off).copied()
}

pub fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    take::<2>(b, off).map(u16::from_be_bytes)
}

/// 3-byte unsigned integer (GRIB1 lengths and sizes).
pub fn u24_at(b: &[u8], off: usize) -> Option<u32> {
    take::<3>(b, off).map(|[a, b, c]| u32::from_be_bytes([0, a, b, c]))
}

/// Sign-and-magnitude 24-bit integer (GRIB1 latitudes and longitudes in millidegrees).
pub fn i24sm_at(b: &[u8], off: usize) -> Option<i64> {
    u24_at(b, off).map(|v| sign_magnitude(v as u64, 24))
}

/// An IBM System/360 single-precision float (GRIB1 reference values and angles): sign,
/// 7-bit base-16 exponent biased by 64, 24-bit fraction. Exact in `f64`.
pub fn ibm_f64_at(b: &[u8], off: usize) -> Option<f64> {
    u32_at(b, off).map(|v| {
        let fraction = (v & 0x00ff_ffff) as f64 / (1u32 << 24) as f64;
        let exponent = ((v >> 24) & 0x7f) as i32 - 64;
        let value = fraction * 16f64.powi(exponent);
        if v & 0x8000_0000 != 0 {
            -value
        } else {
            value
        }
    })
}

pub fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    take::<4>(b, off).map(u32::from_be_bytes)
}

pub fn u64_at(b: &[u8], off: usize) -> Option<u64> {
    take::<8>(b, off).map(u64::from_be_bytes)
}

pub fn f32_at(b: &[u8], off: usize) -> Option<f32> {
    take::<4>(b, off).map(f32::from_be_bytes)
}

/// Sign-and-magnitude 8-bit integer (GRIB2 scale factors).
pub fn i8sm_at(b: &[u8], off: usize) -> Option<i32> {
    u8_at(b, off).map(|v| sign_magnitude(v as u64, 8) as i32)
}

/// Sign-and-magnitude 16-bit integer (binary and decimal scale factors).
pub fn i16sm_at(b: &[u8], off: usize) -> Option<i32> {
    u16_at(b, off).map(|v| sign_magnitude(v as u64, 16) as i32)
}

/// Sign-and-magnitude 32-bit integer (latitudes, longitudes, scaled values).
pub fn i32sm_at(b: &[u8], off: usize) -> Option<i64> {
    u32_at(b, off).map(|v| sign_magnitude(v as u64, 32))
}

/// Interprets the low `bits` bits of `v` as sign-and-magnitude.
pub fn sign_magnitude(v: u64, bits: u32) -> i64 {
    if bits == 0 {
        return 0;
    }
    let sign = 1u64 << (bits - 1);
    let magnitude = (v & (sign - 1)) as i64;
    if v & sign != 0 {
        -magnitude
    } else {
        magnitude
    }
}

/// True when every bit of the `n`-byte value at `off` is set: GRIB2's "missing".
pub fn is_missing(b: &[u8], off: usize, n: usize) -> bool {
    match b.get(off..off + n) {
        Some(s) => s.iter().all(|&x| x == 0xff),
        None => true,
    }
}

/// Reads consecutive unsigned integers of a fixed bit width from a packed big-endian stream.
///
/// The hot loop of every GRIB2 unpacker. Reading past the end yields zero bits: callers check
/// the stream is long enough before they start, so this never decides correctness.
pub struct BitReader<'a> {
    data: &'a [u8],
    /// Position in bits from the start of `data`.
    pos: usize,
}

impl<'a> BitReader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        BitReader { data, pos: 0 }
    }

    /// Current position in bits.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Moves to the next whole byte (groups of GRIB2 descriptors start on octet boundaries).
    pub fn align(&mut self) {
        self.pos = self.pos.div_ceil(8) * 8;
    }

    /// Total bits available.
    pub fn len_bits(&self) -> usize {
        self.data.len() * 8
    }

    /// Reads `width` bits (0..=32) as an unsigned integer.
    #[inline]
    pub fn read(&mut self, width: u32) -> u32 {
        if width == 0 {
            return 0;
        }
        let byte = self.pos >> 3;
        let shift = (self.pos & 7) as u32;
        self.pos += width as usize;
        // Load 8 bytes (zero-padded at the end) so any 32-bit field at any bit offset fits.
        let word = match self.data.get(byte..byte + 8) {
            Some(s) => u64::from_be_bytes(s.try_into().unwrap_or([0; 8])),
            None => {
                let mut buf = [0u8; 8];
                if let Some(rest) = self.data.get(byte..) {
                    buf[..rest.len()].copy_from_slice(rest);
                }
                u64::from_be_bytes(buf)
            }
        };
        ((word << shift) >> (64 - width)) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_magnitude_matches_grib_convention() {
        assert_eq!(sign_magnitude(0x8001, 16), -1);
        assert_eq!(sign_magnitude(0x0001, 16), 1);
        assert_eq!(sign_magnitude(0x8000_0000, 32), 0);
        assert_eq!(i32sm_at(&[0x80, 0, 0, 5], 0), Some(-5));
    }

    #[test]
    fn grib1_readers() {
        assert_eq!(u24_at(&[1, 2, 3], 0), Some(0x010203));
        assert_eq!(u24_at(&[1, 2], 0), None);
        assert_eq!(i24sm_at(&[0x80, 0x01, 0x00], 0), Some(-256));
        // 0x42640000 = +0.390625 * 16^2 = 100; 0xC276A000 = -118.625.
        assert_eq!(ibm_f64_at(&[0x42, 0x64, 0, 0], 0), Some(100.0));
        assert_eq!(ibm_f64_at(&[0xC2, 0x76, 0xA0, 0], 0), Some(-118.625));
        assert_eq!(ibm_f64_at(&[0; 4], 0), Some(0.0));
        assert_eq!(ibm_f64_at(&[0; 3], 0), None);
    }

    #[test]
    fn readers_stop_at_the_end() {
        assert_eq!(u32_at(&[1, 2, 3], 0), None);
        assert_eq!(u16_at(&[1, 2, 3], 2), None);
        assert_eq!(u16_at(&[1, 2, 3], usize::MAX), None);
    }

    #[test]
    fn bit_reader_reads_across_bytes() {
        // 0b1010_1100 0b0101_0011 0b1111_0000
        let data = [0xAC, 0x53, 0xF0];
        let mut r = BitReader::new(&data);
        assert_eq!(r.read(3), 0b101);
        assert_eq!(r.read(7), 0b011_0001);
        assert_eq!(r.read(10), 0b01_0011_1111);
        assert_eq!(r.read(4), 0);
        r.align();
        assert_eq!(r.position(), 24);
        let big = [0xFF; 5];
        let mut r = BitReader::new(&big);
        r.read(3);
        assert_eq!(r.read(32), u32::MAX);
    }
}
