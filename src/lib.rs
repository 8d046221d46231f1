//! tilecast core: decode GRIB2 and NetCDF fields, place them on a grid, resample them into
//! map tiles, colour and encode them. Synchronous, with rayon as the only parallelism; process
//! plumbing (CLI, queues, storage) lives in the `workers` crate.
//!
//! The data flow is one direction: [`decode`] → [`grid`] → [`resample`] → [`palette`] →
//! [`encode`], driven per file by [`render`].

pub mod bytes;
pub mod curvilinear;
pub mod decode;
pub mod encode;
pub mod error;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod grid;
pub mod input;
pub mod job;
pub mod layer;
pub mod legend;
pub mod limits;
pub mod manifest;
pub mod npy;
pub mod palette;
pub mod plan;
pub mod projection;
pub mod render;
pub mod resample;
pub mod settings;
pub mod store;
pub mod tiling;

pub use error::{Error, Result};
