//! From a field on its grid to images: resampling into tiles and full frames
//! ([`resample`]), colour palettes and tables ([`palette`]), PNG and data-tile encoding
//! ([`encode`]), the 8-bit quantisation of whole-field images ([`unscale`]), the quantities
//! tilecast knows and their colour ranges ([`quantity`], [`range`]), unit conversions
//! ([`units`]), and legends ([`legend`]) with their names ([`names`]) and text ([`text`]).

pub mod encode;
pub mod legend;
pub mod names;
pub mod palette;
pub mod quantity;
pub mod range;
pub mod resample;
pub mod text;
pub mod units;
pub mod unscale;
