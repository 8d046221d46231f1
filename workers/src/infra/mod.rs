//! Process plumbing shared by the subcommands: the broker ([`amqp`]), output and source
//! storage ([`storage`], buckets [`s3`], [`sources`]), bucket events ([`events`]), the HTTP endpoints and
//! metrics ([`http`], [`metrics`]), the message headers ([`headers`]), the management API's
//! queue counts ([`management`]), logging ([`logging`]) and signals ([`signals`]).

pub mod amqp;
pub mod events;
pub mod headers;
pub mod http;
pub mod logging;
pub mod management;
pub mod metrics;
pub mod s3;
pub mod signals;
pub mod sources;
pub mod storage;
