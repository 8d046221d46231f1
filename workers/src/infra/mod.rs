//! Process plumbing shared by the subcommands: the broker ([`amqp`]), output and source
//! storage ([`storage`], [`sources`]), bucket events ([`events`]), the HTTP endpoints and
//! metrics ([`http`], [`metrics`]), logging ([`logging`]) and signals ([`signals`]).

pub mod amqp;
pub mod events;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod signals;
pub mod sources;
pub mod storage;
