//! PNG encoding of colour tiles, data tiles and images.
//!
//! Colour tiles and full-frame images are 8-bit indexed colour (PLTE + tRNS): a palette has at
//! most 256 colours, so this loses nothing and is several times smaller than RGBA. Data tiles
//! are RGBA carrying 16-bit quantised values (see [`DataScale`]). Output bytes depend only on
//! the input, so runs are byte-identical.

use crate::error::{Error, Result};
use crate::render::palette::Rgba;

/// Quantisation of one layer's values into data tiles:
/// `value = offset + scale * (R * 256 + G)`, B = 0, A = 255 where valid, A = 0 where missing.
/// Code 0 is never a value: a missing pixel (all zero) decodes below every valid one, so a
/// client that cannot read alpha (MapLibre's `raster-dem`) still tells missing from the minimum.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DataScale {
    pub offset: f64,
    pub scale: f64,
}

impl DataScale {
    /// Spreads `[min, max]` over codes 1..=65535 (`min` is code 1, so `offset = min - scale`).
    /// A constant field gets scale 1 and code 1.
    pub fn for_range(min: f64, max: f64) -> DataScale {
        if max > min && (max - min).is_finite() {
            let scale = (max - min) / 65534.0;
            DataScale {
                offset: min - scale,
                scale,
            }
        } else {
            DataScale {
                offset: if min.is_finite() { min - 1.0 } else { 0.0 },
                scale: 1.0,
            }
        }
    }

    /// The code nearest `v` (halves away from zero, as `f64::round`), clamped to 1..=65535.
    #[inline]
    pub fn code(&self, v: f32) -> u16 {
        let x = ((v as f64 - self.offset) / self.scale).clamp(1.0, 65535.0);
        // `round` is a library call on baseline x86-64; for 0 <= x < 2^16 truncation is one
        // instruction and `x - t` is exact (Sterbenz), so this is the same rounding.
        let t = x as u32;
        (t + u32::from(x - t as f64 >= 0.5)) as u16
    }

    pub fn value(&self, code: u16) -> f64 {
        self.offset + self.scale * code as f64
    }
}

fn encoder<'a>(
    out: &'a mut Vec<u8>,
    width: usize,
    height: usize,
    colour: png::ColorType,
) -> png::Encoder<'a, &'a mut Vec<u8>> {
    let mut e = png::Encoder::new(out, width as u32, height as u32);
    e.set_color(colour);
    e.set_depth(png::BitDepth::Eight);
    e
}

fn finish(e: png::Encoder<'_, &mut Vec<u8>>, data: &[u8], what: &str) -> Result<()> {
    let err = |e: png::EncodingError| Error::Encode {
        what: what.to_string(),
        reason: e.to_string(),
    };
    let mut w = e.write_header().map_err(err)?;
    w.write_image_data(data).map_err(err)?;
    w.finish().map_err(err)
}

/// Indexed-colour PNG from one palette index per pixel.
pub fn indexed_png(
    width: usize,
    height: usize,
    indices: &[u8],
    entries: &[Rgba],
) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(indices.len() / 4 + 1024);
    let mut e = encoder(&mut out, width, height, png::ColorType::Indexed);
    let plte: Vec<u8> = entries.iter().flat_map(|c| [c[0], c[1], c[2]]).collect();
    // tRNS may stop after the last non-opaque entry.
    let last_alpha = entries
        .iter()
        .rposition(|c| c[3] != 255)
        .map_or(0, |k| k + 1);
    let trns: Vec<u8> = entries[..last_alpha].iter().map(|c| c[3]).collect();
    e.set_palette(plte);
    if !trns.is_empty() {
        e.set_trns(trns);
    }
    // Chosen by measurement (benches/README.md): on real tiles Paeth with fdeflate encodes an
    // indexed tile in 0.06 ms against 0.7 ms for unfiltered zlib level 6, for 13% more bytes
    // (about 3.5 KB a tile, a fifth of what the GDAL recipe writes).
    e.set_filter(png::Filter::Paeth);
    e.set_deflate_compression(png::DeflateCompression::FdeflateUltraFast);
    finish(e, indices, "indexed PNG")?;
    Ok(out)
}

/// libdeflate level of data tiles, chosen by measurement (benches/README.md). Session 8,
/// data tiles to the native zoom, whole GFS 0.25° z0-z5 render (callgrind, one thread):
/// level 1 7.35 G instructions and 5.48 MB of data tiles, level 2 7.77 G and 5.37 MB,
/// level 3 7.82 G and 5.33 MB: level 1 saves 5% of the render for 2% more bytes.
const DATA_LEVEL: i32 = 1;

/// RGBA PNG: every row Up-filtered, compressed in one call to libdeflate. Chosen by
/// measurement (benches/README.md): Up was 3-4.6 times faster than Sub at zlib level 6 and
/// within 5% of its size on smooth and noisy fields alike, and libdeflate compresses the
/// filtered rows faster and smaller than zlib at any level tried.
pub fn rgba_png(width: usize, height: usize, pixels: &[u8]) -> Result<Vec<u8>> {
    let stride = width * 4;
    if pixels.len() != stride * height || width == 0 || height == 0 {
        return Err(Error::Encode {
            what: "RGBA PNG".into(),
            reason: format!("{} bytes for {width}x{height} pixels", pixels.len()),
        });
    }
    let mut filtered = Vec::with_capacity((stride + 1) * height);
    for (y, row) in pixels.chunks_exact(stride).enumerate() {
        filtered.push(2); // Up
        if y == 0 {
            filtered.extend_from_slice(row);
        } else {
            let above = &pixels[(y - 1) * stride..y * stride];
            filtered.extend(row.iter().zip(above).map(|(a, b)| a.wrapping_sub(*b)));
        }
    }
    thread_local! {
        static DEFLATE: std::cell::RefCell<libdeflater::Compressor> = std::cell::RefCell::new(
            libdeflater::Compressor::new(libdeflater::CompressionLvl::new(DATA_LEVEL).expect("valid level")),
        );
    }
    let zlib = DEFLATE.with(|c| {
        let mut c = c.borrow_mut();
        let mut z = vec![0u8; c.zlib_compress_bound(filtered.len())];
        let n = c
            .zlib_compress(&filtered, &mut z)
            .map_err(|e| Error::Encode {
                what: "RGBA PNG".into(),
                reason: e.to_string(),
            })?;
        z.truncate(n);
        Ok::<_, Error>(z)
    })?;
    let mut out = Vec::with_capacity(zlib.len() + 64);
    out.extend_from_slice(b"\x89PNG\r\n\x1a\n");
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&(width as u32).to_be_bytes());
    ihdr.extend_from_slice(&(height as u32).to_be_bytes());
    // 8 bits, colour type 6 (RGBA), deflate, adaptive filtering, no interlace.
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &zlib);
    chunk(&mut out, b"IEND", &[]);
    Ok(out)
}

/// Appends one PNG chunk: length, type, data, CRC of type and data.
fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc = crc32fast::Hasher::new();
    crc.update(kind);
    crc.update(data);
    out.extend_from_slice(&crc.finalize().to_be_bytes());
}

/// Data tile pixels (RGBA) from values.
pub fn data_pixels(values: &[f32], scale: DataScale) -> Vec<u8> {
    let mut px = Vec::with_capacity(values.len() * 4);
    for &v in values {
        if v.is_nan() {
            px.extend_from_slice(&[0, 0, 0, 0]);
        } else {
            let c = scale.code(v);
            px.extend_from_slice(&[(c >> 8) as u8, (c & 0xff) as u8, 0, 255]);
        }
    }
    px
}

/// Decodes a PNG into RGBA pixels (tests and tools that read tiles back).
pub fn decode_rgba(bytes: &[u8]) -> Result<(usize, usize, Vec<u8>)> {
    let err = |e: png::DecodingError| Error::Encode {
        what: "PNG decode".into(),
        reason: e.to_string(),
    };
    let mut d = png::Decoder::new(std::io::Cursor::new(bytes));
    d.set_transformations(png::Transformations::EXPAND | png::Transformations::ALPHA);
    let mut r = d.read_info().map_err(err)?;
    let size = r.output_buffer_size().ok_or_else(|| Error::Encode {
        what: "PNG decode".into(),
        reason: "image too large".into(),
    })?;
    let mut buf = vec![0; size];
    let info = r.next_frame(&mut buf).map_err(err)?;
    buf.truncate(info.buffer_size());
    let (w, h) = (info.width as usize, info.height as usize);
    let px = match info.color_type {
        png::ColorType::Rgba => buf,
        png::ColorType::GrayscaleAlpha => buf
            .chunks(2)
            .flat_map(|c| [c[0], c[0], c[0], c[1]])
            .collect(),
        other => {
            return Err(Error::Encode {
                what: "PNG decode".into(),
                reason: format!("unexpected colour type {other:?}"),
            })
        }
    };
    Ok((w, h, px))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_like_f64_round() {
        let s = DataScale::for_range(-40.0, 60.0);
        let mut seed = 1u64;
        let mut values: Vec<f32> = (0..1_000_000)
            .map(|_| {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                -50.0 + 120.0 * ((seed >> 11) as f64 / (1u64 << 53) as f64) as f32
            })
            .collect();
        // Values at and next to exact halves between codes, and the ends.
        for k in [0u32, 1, 2, 1000, 32767, 65534] {
            let half = (s.value(k as u16) + s.scale / 2.0) as f32;
            values.extend([half.next_down(), half, half.next_up()]);
        }
        values.extend([-40.0, 60.0, f32::MAX, f32::MIN, 0.0]);
        for v in values {
            // Code 0 is reserved for missing: the lowest value is code 1.
            let want = ((v as f64 - s.offset) / s.scale)
                .round()
                .clamp(1.0, 65535.0) as u16;
            assert_eq!(s.code(v), want, "{v}");
        }
    }

    #[test]
    fn data_scale_round_trip_within_half_step() {
        let s = DataScale::for_range(200.0, 320.0);
        for v in [200.0f32, 250.123, 319.99, 320.0] {
            let back = s.value(s.code(v));
            assert!(
                (back - v as f64).abs() <= s.scale / 2.0 + 1e-9,
                "{v} {back}"
            );
        }
        let c = DataScale::for_range(5.0, 5.0);
        assert_eq!(c.value(c.code(5.0)), 5.0);
    }

    #[test]
    fn rgba_png_round_trips_through_a_png_decoder() {
        let mut seed = 7u32;
        for (w, h) in [(1, 1), (3, 5), (256, 256), (17, 2)] {
            let px: Vec<u8> = (0..w * h * 4)
                .map(|_| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (seed >> 16) as u8
                })
                .collect();
            let png = rgba_png(w, h, &px).unwrap();
            assert_eq!(decode_rgba(&png).unwrap(), (w, h, px));
        }
        assert!(rgba_png(2, 2, &[0; 15]).is_err());
        assert!(rgba_png(0, 0, &[]).is_err());
    }

    #[test]
    fn indexed_png_decodes_to_palette_colours() {
        let entries = vec![[0, 0, 0, 0], [255, 0, 0, 255], [0, 0, 255, 255]];
        let png = indexed_png(2, 2, &[0, 1, 2, 1], &entries).unwrap();
        let (w, h, px) = decode_rgba(&png).unwrap();
        assert_eq!((w, h), (2, 2));
        assert_eq!(&px[..8], &[0, 0, 0, 0, 255, 0, 0, 255]);
        assert_eq!(&px[8..12], &[0, 0, 255, 255]);
    }
}
