//! Runs: which layers a file yields ([`layer`]), how their tiles split into jobs ([`plan`]),
//! the job message and result record ([`job`]), several small jobs in one message
//! ([`batch`]), executing jobs ([`execute`]) — by a worker,
//! or for a whole file in one process ([`local`]) — the bookkeeping of distributed runs
//! ([`books`]), the ledger that completes them ([`ledger`]), the run's manifest
//! ([`manifest`]), its PMTiles archives assembled from the jobs' parts ([`archive`]), the
//! public URLs and TileJSON documents of its layers ([`publish`]), their
//! whole-field images for WeatherLayers GL-style clients ([`images`]), and the catalog of
//! complete runs with its series, STAC documents, styles and retention ([`catalog`]).

pub mod archive;
pub mod batch;
pub mod books;
pub mod catalog;
pub mod execute;
pub mod images;
pub mod job;
pub mod layer;
pub mod ledger;
pub mod local;
pub mod manifest;
pub mod plan;
pub mod publish;
