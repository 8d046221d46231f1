//! Entry points for the cargo-fuzz targets in `fuzz/`, compiled only with the `fuzzing`
//! feature and hidden from the docs: they reach decoders that are private to the crate, so
//! each can be fuzzed on its own without the file structure around it. Not public API.

/// The CCSDS/AEC decoder of GRIB2 template 5.42 ([`crate::decode`]'s private `grib_aec`):
/// `n` values from section 5 bytes `s5` (octets 12-25 hold the scaling and the libaec
/// parameters) and the code stream `data` (section 7 after its 5-octet header).
pub fn ccsds(s5: &[u8], data: &[u8], n: usize) -> Result<Vec<f32>, String> {
    crate::decode::grib_aec::ccsds(s5, data, n)
}
