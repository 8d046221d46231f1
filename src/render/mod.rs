//! From a field on its grid to images: resampling into tiles and full frames
//! ([`resample`]), colour palettes and tables ([`palette`]), PNG and data-tile encoding
//! ([`encode`]), and legends ([`legend`]).

pub mod encode;
pub mod legend;
pub mod palette;
pub mod resample;
