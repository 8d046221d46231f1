//! From a field on its grid to images: resampling into tiles and full frames
//! ([`resample`]), colour palettes and tables ([`palette`]), PNG and data-tile encoding
//! ([`encode`]), the 8-bit quantisation of whole-field images ([`unscale`]), legends
//! ([`legend`]), and unit conversions for palette ranges ([`units`]).

pub mod encode;
pub mod legend;
pub mod palette;
pub mod resample;
pub mod units;
pub mod unscale;
