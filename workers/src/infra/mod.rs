//! Process plumbing shared by the subcommands: the broker ([`amqp`]), output and source
//! storage ([`storage`], [`sources`]), bucket events ([`events`]), the HTTP endpoints and
//! metrics ([`http`], [`metrics`]), the message headers ([`headers`]), the management API's
//! queue counts ([`management`]), logging ([`logging`]) and signals ([`signals`]).

pub mod amqp;
pub mod events;
pub mod headers;
pub mod http;
pub mod logging;
pub mod management;
pub mod metrics;
pub mod signals;
pub mod sources;
pub mod storage;
