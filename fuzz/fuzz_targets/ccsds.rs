//! The CCSDS/AEC decoder (GRIB2 template 5.42) on its own: the first 7 bytes choose the
//! parameters section 5 would carry (bits per sample, libaec flags, block size, reference
//! sample interval) and the number of samples, all small; the rest is the code stream.
//! Mostly valid parameters, so the fuzzer spends its time inside the stream decoder, with
//! the odd invalid one (0 or 33 bits, odd or zero block, RSI 0) for the checks before it.

#![no_main]

use libfuzzer_sys::fuzz_target;

/// Section 5 octets 1-25 with zero reference and scale factors.
fn section5(bits: u8, flags: u8, block: u8, rsi: u16) -> [u8; 25] {
    let mut s5 = [0u8; 25];
    s5[0..4].copy_from_slice(&25u32.to_be_bytes());
    s5[4] = 5;
    s5[9..11].copy_from_slice(&42u16.to_be_bytes());
    s5[19] = bits;
    s5[21] = flags;
    s5[22] = block;
    s5[23..25].copy_from_slice(&rsi.to_be_bytes());
    s5
}

fuzz_target!(|data: &[u8]| {
    let Some((head, stream)) = data.split_first_chunk::<7>() else {
        return;
    };
    let bits = head[0] % 34;
    let flags = head[1];
    // High bit clear: one of the block sizes libaec and ecCodes write; set: any octet.
    let block = if head[2] & 0x80 == 0 {
        [8, 16, 32, 64][usize::from(head[2] & 3)]
    } else {
        head[2] << 1 | head[2] & 1
    };
    let rsi = u16::from_be_bytes([head[3], head[4]]) % 4097;
    let n = usize::from(u16::from_be_bytes([head[5], head[6]])) % (1 << 14);
    let s5 = section5(bits, flags, block, rsi);
    if let Ok(values) = tilecast::fuzzing::ccsds(&s5, stream, n) {
        assert_eq!(values.len(), n, "a successful decode yields every sample");
    }
});
