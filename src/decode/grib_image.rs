//! Checks on the image inside a GRIB2 PNG (5.41) or JPEG2000 (5.40) field before the image
//! library sees it.
//!
//! Both libraries size their output buffers from the image header (PNG IHDR, JPEG2000 SIZ),
//! not from the grid, and allocate it before reading any pixel: a few hundred bytes could
//! otherwise claim a 4-gigapixel image. GRIB2 codes one value per pixel of a one-component
//! image, so the header must describe exactly the `packed` values the grid and bitmap call
//! for. For PNG the pixels must also fit what the compressed bytes can hold: deflate expands
//! at most 1032:1 (RFC 1951: a 258-byte match costs at least 2 bits), so a larger raw image
//! is a lie about its size, whatever it claims. JPEG2000 has no such bound (an empty
//! code-block costs a bit), so its size is bounded by the grid alone.
//!
//! Decoding the pixels, and everything not checked here, stays with the libraries.

use crate::decode::bytes::{u16_at, u32_at, u8_at};

/// Largest expansion of deflate-compressed data, rounded up.
const DEFLATE_MAX_RATIO: u64 = 1032;

/// Checks the PNG header of a 5.41 field against `packed` values and the bytes present.
pub fn check_png(data: &[u8], packed: usize) -> Result<(), String> {
    const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    if !data.starts_with(SIGNATURE) || data.get(12..16) != Some(b"IHDR") {
        return Err("packed data is not a PNG stream (no signature and IHDR chunk)".into());
    }
    let (Some(w), Some(h), Some(depth), Some(colour)) = (
        u32_at(data, 16),
        u32_at(data, 20),
        u8_at(data, 24),
        u8_at(data, 25),
    ) else {
        return Err("PNG header cut short".into());
    };
    let pixels = u64::from(w) * u64::from(h);
    if pixels != packed as u64 {
        return Err(format!(
            "PNG image is {w}x{h} ({pixels} pixels), the field has {packed} packed values"
        ));
    }
    // Samples per pixel by colour type (PNG 11.2.2); palette indices expand to RGB(A).
    let samples: u64 = match colour {
        0 | 3 => 1,
        4 => 2,
        2 => 3,
        6 => 4,
        other => return Err(format!("PNG colour type {other}")),
    };
    let row_bytes = (u64::from(w) * samples * u64::from(depth)).div_ceil(8) + 1;
    let raw = row_bytes * u64::from(h);
    if raw > DEFLATE_MAX_RATIO * data.len() as u64 {
        return Err(format!(
            "PNG image of {w}x{h} pixels ({raw} bytes) cannot be coded in {} bytes",
            data.len()
        ));
    }
    Ok(())
}

/// Checks the JPEG2000 codestream header (SOC, then SIZ) of a 5.40 field against `packed`.
pub fn check_jpeg2000(data: &[u8], packed: usize) -> Result<(), String> {
    // SIZ (ISO 15444-1 A.5.1): marker, Lsiz, Rsiz, Xsiz, Ysiz, XOsiz, YOsiz, four tile
    // sizes and offsets, Csiz.
    if !data.starts_with(&[0xff, 0x4f, 0xff, 0x51]) {
        return Err("packed data is not a JPEG2000 codestream (no SOC and SIZ markers)".into());
    }
    let field = |off: usize| u32_at(data, off).ok_or("JPEG2000 header cut short");
    let (x, y, x0, y0) = (field(8)?, field(12)?, field(16)?, field(20)?);
    let components = u16_at(data, 40).ok_or("JPEG2000 header cut short")?;
    if components != 1 {
        return Err(format!("JPEG2000 image with {components} components"));
    }
    let (Some(w), Some(h)) = (x.checked_sub(x0), y.checked_sub(y0)) else {
        return Err(format!(
            "JPEG2000 image offset {x0},{y0} beyond its size {x}x{y}"
        ));
    };
    let pixels = u64::from(w) * u64::from(h);
    if pixels != packed as u64 {
        return Err(format!(
            "JPEG2000 image is {w}x{h} ({pixels} pixels), the field has {packed} packed values"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32, depth: u8, colour: u8, len: usize) -> Vec<u8> {
        let mut d = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        d.extend_from_slice(&w.to_be_bytes());
        d.extend_from_slice(&h.to_be_bytes());
        d.extend_from_slice(&[depth, colour, 0, 0, 0]);
        d.resize(len.max(d.len()), 0);
        d
    }

    #[test]
    fn png_headers_must_match_the_field_and_the_bytes() {
        assert!(check_png(&png(100, 50, 16, 0, 200), 5000).is_ok());
        let e = check_png(&png(100, 50, 16, 0, 200), 4999).unwrap_err();
        assert!(e.contains("100x50"), "{e}");
        // 64k x 64k 32-bit pixels (16 GiB) claimed by 1 kB.
        let e = check_png(&png(65536, 65536, 8, 6, 1000), 1 << 32).unwrap_err();
        assert!(e.contains("cannot be coded in 1000 bytes"), "{e}");
        assert!(check_png(b"\x89PNG", 1).is_err());
        assert!(check_png(&png(1, 1, 8, 5, 40), 1).is_err());
    }

    #[test]
    fn jpeg2000_headers_must_match_the_field() {
        let mut siz = vec![0xff, 0x4f, 0xff, 0x51, 0, 41, 0, 0];
        for v in [300u32, 200, 100, 0, 300, 200, 0, 0] {
            siz.extend_from_slice(&v.to_be_bytes());
        }
        siz.extend_from_slice(&1u16.to_be_bytes());
        assert!(check_jpeg2000(&siz, 200 * 200).is_ok());
        let e = check_jpeg2000(&siz, 300 * 200).unwrap_err();
        assert!(e.contains("200x200"), "{e}");
        siz[16..20].copy_from_slice(&400u32.to_be_bytes());
        assert!(check_jpeg2000(&siz, 1).unwrap_err().contains("beyond"));
        assert!(check_jpeg2000(&siz[..30], 1).is_err());
    }
}
