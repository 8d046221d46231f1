//! Bytes in and out: opening input files safely ([`input`]), the output stores of tiles,
//! images and bookkeeping ([`store`]), and NumPy arrays for tests and tools ([`npy`]).

pub mod input;
pub mod npy;
pub mod store;
