//! Bytes in and out: opening input files safely ([`input`]), the output stores of tiles,
//! images and bookkeeping ([`store`]), PMTiles archives ([`pmtiles`]), and NumPy arrays for
//! tests and tools ([`npy`]).

pub mod input;
pub mod npy;
pub mod pmtiles;
pub mod store;
