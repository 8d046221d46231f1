//! tilecast core: decode GRIB2 and NetCDF fields, place them on a grid, resample them into
//! map tiles, colour and encode them. Synchronous, with rayon as the only parallelism; process
//! plumbing (CLI, queues, storage) lives in the `workers` crate.
//!
//! The folders follow the data flow, and depend on each other in that one direction:
//! [`decode`] (bytes to fields) → [`geo`] (grids, projections, tile matrices) → [`render`]
//! (resampling, colour, encoding, legends) → [`run`] (layers, plans, jobs and their
//! execution, manifests), with [`io`] for input files and output stores. The contracts are in
//! `docs/ARCHITECTURE.md`.

pub mod decode;
pub mod error;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod geo;
pub mod io;
pub mod limits;
pub mod render;
pub mod run;
pub mod settings;

pub use error::{Error, Result};
