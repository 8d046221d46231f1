//! Where values are on the earth and on the map: grid definitions and their point
//! coordinates ([`grid`]), map projections ([`projection`]), the search index of 2-D
//! latitude/longitude grids ([`curvilinear`]), and the tile matrices of the outputs
//! ([`tiling`]).

pub mod curvilinear;
pub mod grid;
pub mod projection;
pub mod tiling;
