//! The subcommands, one module each: `render` and `inspect` (local), `chunker`, `worker`,
//! `ledger` and `pool` (distributed), and `prune` (retention, either).

pub mod chunker;
pub mod inspect;
pub mod ledger;
pub mod pool;
pub mod prune;
pub mod render;
pub mod worker;
