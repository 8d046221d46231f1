//! Log setup: `tracing` events, human-readable on a terminal and JSON lines otherwise (what
//! container log collectors expect), chosen by `--log-format` / `TILECAST_LOG_FORMAT`.
//! `RUST_LOG` filters as usual (default `info`). Job-related events carry `run`, `job`,
//! `layer` and `field` as structured fields; broker URLs are logged only through
//! [`crate::infra::amqp::redact`], so passwords never reach the logs.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum LogFormat {
    /// Human format on a terminal, JSON otherwise.
    Auto,
    Human,
    Json,
}

pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Human => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let result = if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init()
    } else {
        builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init()
    };
    // A second init (tests) keeps the first subscriber.
    let _ = result;
}
