//! Unpacking of GRIB2 data representation template 5.40: a JPEG2000 code stream (ISO 15444-1,
//! no JP2 boxes) of one component, one pixel per packed integer X, decoded by OpenJPEG through
//! `openjpeg-sys`, then scaled like every grid-point packing: Y = (R + X * 2^E) * 10^-D.
//!
//! Why not gribberish's 5.40 (which tilecast used before): OpenJPEG reads through callbacks,
//! and gribberish's read callback answers 0 at the end of the data where OpenJPEG expects
//! `(size_t)-1`. OpenJPEG then keeps asking for the missing bytes forever, so any code stream
//! cut short (a truncated file, a lying length) hung the decoding thread; fuzzing found it in
//! a minute. Its callbacks also `assert!` and index slices inside `extern "C"` functions,
//! where a panic aborts the process instead of unwinding to `catch_unwind`. The callbacks
//! here never panic, report the end of the data the way OpenJPEG expects and keep every
//! offset in bounds.
//!
//! The header is checked by [`super::grib_image::check_jpeg2000`] before OpenJPEG allocates
//! anything, and again (components, size, precision) once OpenJPEG has read it.

use std::ffi::{c_char, c_void};
use std::ptr::null_mut;

use openjpeg_sys as opj;

use super::grib_unpack::Scaling;

/// OpenJPEG's end-of-stream answer from a read callback.
const END_OF_STREAM: usize = usize::MAX;
/// Bytes OpenJPEG asks for per read (its own default is 1 MiB, far more than a field holds).
const CHUNK: usize = 64 * 1024;

/// Template 5.40: `n` values (the points present after any bitmap) from section 7's `data`.
pub fn jpeg2000(s5: &[u8], data: &[u8], n: usize) -> Result<Vec<f32>, String> {
    let sc = Scaling::read(s5).ok_or("section 5 too short")?;
    if n == 0 {
        return Ok(Vec::new());
    }
    if sc.bits == 0 {
        // Constant field: the reference value, as ecCodes decodes it.
        return Ok(vec![sc.reference; n]);
    }
    if sc.bits > 32 {
        return Err(format!("{} bits per value", sc.bits));
    }
    super::grib_image::check_jpeg2000(data, n)?;
    let x = decode(data, n)?;
    let (r, b, d) = (
        sc.reference as f64,
        2f64.powi(sc.binary),
        10f64.powi(-sc.decimal),
    );
    Ok(x.into_iter()
        .map(|x| ((x as f64 * b + r) * d) as f32)
        .collect())
}

/// The code stream's `n` samples, as unsigned integers.
fn decode(data: &[u8], n: usize) -> Result<Vec<u32>, String> {
    let mut input = Input { data, pos: 0 };
    // SAFETY: every pointer handed to OpenJPEG is either created by it (and destroyed once,
    // by the guards) or points at `input`, which outlives the stream; the callbacks only
    // touch `input` through the pointer OpenJPEG passes back.
    unsafe {
        let codec = Codec(opj::opj_create_decompress(opj::CODEC_FORMAT::OPJ_CODEC_J2K));
        if codec.0.is_null() {
            return Err("OpenJPEG could not create a decoder".into());
        }
        opj::opj_set_error_handler(codec.0, Some(quiet), null_mut());
        opj::opj_set_warning_handler(codec.0, Some(quiet), null_mut());
        opj::opj_set_info_handler(codec.0, Some(quiet), null_mut());
        let mut params: opj::opj_dparameters_t = std::mem::zeroed();
        opj::opj_set_default_decoder_parameters(&mut params);
        if opj::opj_setup_decoder(codec.0, &mut params) == 0 {
            return Err("OpenJPEG rejected its decoder parameters".into());
        }
        let stream = Stream(opj::opj_stream_create(CHUNK, 1));
        if stream.0.is_null() {
            return Err("OpenJPEG could not create a stream".into());
        }
        opj::opj_stream_set_read_function(stream.0, Some(read));
        opj::opj_stream_set_skip_function(stream.0, Some(skip));
        opj::opj_stream_set_seek_function(stream.0, Some(seek));
        opj::opj_stream_set_user_data(stream.0, &mut input as *mut Input as *mut c_void, None);
        opj::opj_stream_set_user_data_length(stream.0, data.len() as u64);

        let mut image = Image(null_mut());
        if opj::opj_read_header(stream.0, codec.0, &mut image.0) == 0 || image.0.is_null() {
            return Err("JPEG2000 header unreadable".into());
        }
        let img = &*image.0;
        if img.numcomps != 1 || img.comps.is_null() {
            return Err(format!("JPEG2000 image with {} components", img.numcomps));
        }
        if opj::opj_decode(codec.0, stream.0, image.0) == 0 {
            return Err("JPEG2000 code stream undecodable".into());
        }
        // Errors after the last tile (a missing EOC marker) leave the image whole.
        opj::opj_end_decompress(codec.0, stream.0);
        let comp = &*img.comps;
        let count = comp.w as u64 * comp.h as u64;
        if comp.data.is_null() || count != n as u64 {
            return Err(format!(
                "JPEG2000 image decoded to {}x{} pixels, the field has {n} packed values",
                comp.w, comp.h
            ));
        }
        if !(1..=32).contains(&comp.prec) {
            return Err(format!("JPEG2000 precision of {} bits", comp.prec));
        }
        let mask = (u64::MAX >> (64 - comp.prec)) as u32;
        let pixels = std::slice::from_raw_parts(comp.data, n);
        Ok(pixels.iter().map(|&p| p as u32 & mask).collect())
    }
}

/// The code stream and how far OpenJPEG has read it.
struct Input<'a> {
    data: &'a [u8],
    pos: usize,
}

unsafe extern "C" fn read(buf: *mut c_void, len: usize, user: *mut c_void) -> usize {
    let input = &mut *(user as *mut Input);
    let rest = input.data.get(input.pos..).unwrap_or(&[]);
    if rest.is_empty() || buf.is_null() {
        return END_OF_STREAM;
    }
    let n = len.min(rest.len());
    std::ptr::copy_nonoverlapping(rest.as_ptr(), buf as *mut u8, n);
    input.pos += n;
    n
}

/// Skips forward or back; answers the bytes skipped, or -1 when outside the data.
unsafe extern "C" fn skip(by: i64, user: *mut c_void) -> i64 {
    let input = &mut *(user as *mut Input);
    match i64::try_from(input.pos)
        .ok()
        .and_then(|p| p.checked_add(by))
        .filter(|&to| to >= 0 && to as u64 <= input.data.len() as u64)
    {
        Some(to) => {
            input.pos = to as usize;
            by
        }
        None => -1,
    }
}

unsafe extern "C" fn seek(to: i64, user: *mut c_void) -> i32 {
    let input = &mut *(user as *mut Input);
    if to < 0 || to as u64 > input.data.len() as u64 {
        return 0;
    }
    input.pos = to as usize;
    1
}

/// OpenJPEG's messages: the error that matters is returned as the result.
unsafe extern "C" fn quiet(_msg: *const c_char, _user: *mut c_void) {}

struct Codec(*mut opj::opj_codec_t);
impl Drop for Codec {
    fn drop(&mut self) {
        // SAFETY: created by opj_create_decompress, destroyed once; null-safe.
        unsafe { opj::opj_destroy_codec(self.0) }
    }
}

struct Stream(*mut opj::opj_stream_t);
impl Drop for Stream {
    fn drop(&mut self) {
        // SAFETY: created by opj_stream_create, destroyed once; null-safe.
        unsafe { opj::opj_stream_destroy(self.0) }
    }
}

struct Image(*mut opj::opj_image_t);
impl Drop for Image {
    fn drop(&mut self) {
        // SAFETY: created by opj_read_header (or still null), destroyed once; null-safe.
        unsafe { opj::opj_image_destroy(self.0) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SOC, then a SIZ for a 4x2 image of one 8-bit component, then nothing.
    fn truncated() -> Vec<u8> {
        let mut d = vec![0xff, 0x4f, 0xff, 0x51, 0, 41, 0, 0];
        for v in [4u32, 2, 0, 0, 4, 2, 0, 0] {
            d.extend_from_slice(&v.to_be_bytes());
        }
        d.extend_from_slice(&[0, 1, 7, 1, 1]);
        d
    }

    #[test]
    fn a_code_stream_cut_short_is_an_error_not_a_hang() {
        let d = truncated();
        for cut in [d.len(), d.len() - 3, 12, 6] {
            assert!(decode(&d[..cut], 8).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn callbacks_stay_in_bounds() {
        let data = [1u8, 2, 3];
        let mut input = Input {
            data: &data,
            pos: 0,
        };
        let user = &mut input as *mut Input as *mut c_void;
        let mut buf = [0u8; 8];
        unsafe {
            assert_eq!(read(buf.as_mut_ptr() as *mut c_void, 8, user), 3);
            assert_eq!(
                read(buf.as_mut_ptr() as *mut c_void, 8, user),
                END_OF_STREAM
            );
            assert_eq!(skip(-2, user), -2);
            assert_eq!(skip(-5, user), -1);
            assert_eq!(skip(i64::MAX, user), -1);
            assert_eq!(seek(4, user), 0);
            assert_eq!(seek(3, user), 1);
        }
        assert_eq!(input.pos, 3);
    }
}
