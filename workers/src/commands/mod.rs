//! The subcommands, one module each: `render` and `inspect` (local), `chunker`, `worker`,
//! `ledger` and `pool` (distributed), `prune` (retention, either) and `serve` (the output tree and the viewer over HTTP).

pub mod chunker;
pub mod inspect;
pub mod ledger;
pub mod pool;
pub mod prune;
pub mod render;
pub mod serve;
pub mod worker;
