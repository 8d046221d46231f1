//! Where values are on the earth and on the map: grid definitions and their point
//! coordinates ([`grid`]), map projections ([`projection`]), the search index of 2-D
//! latitude/longitude grids ([`curvilinear`]), the tile matrices of the outputs
//! ([`tiling`]), and the lon/lat pixel grid of whole-field images ([`equirect`]).

pub mod curvilinear;
mod describe;
pub mod equirect;
pub mod gaussian;
pub mod geostationary;
pub mod grid;
pub mod projection;
pub mod rotated;
pub mod rows;
pub mod tiling;
pub mod wind;
