//! The `tilecast` binary: parses flags once, then runs one subcommand.
//!
//! Exit codes: 0 success; 1 some fields or files failed (the rest were written);
//! 2 usage error (clap); 3 nothing could be done (unreadable input, bad settings, broker
//! unreachable); workers add 75 (transient failure, job requeued) and 143 (SIGTERM).

mod commands;
mod infra;
mod site;

use commands::{chunker, inspect, ledger, pool, prune, render, serve, worker};
use infra::logging;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Turn GRIB2 and NetCDF weather fields into map tiles, images and legends: locally
/// (`render`), or distributed over RabbitMQ (`chunker`, `worker`, `ledger`, `pool`).
#[derive(Parser)]
#[command(name = "tilecast", version, long_about = None, propagate_version = true)]
struct Cli {
    /// Log format: human on a terminal, JSON lines otherwise (auto), or forced.
    #[arg(
        long,
        global = true,
        env = "TILECAST_LOG_FORMAT",
        value_enum,
        default_value = "auto"
    )]
    log_format: logging::LogFormat,
    #[command(flatten)]
    limits: LimitArgs,
    #[command(subcommand)]
    command: Command,
}

/// Ceilings on what an input may make tilecast allocate (see `tilecast::limits`).
#[derive(clap::Args)]
struct LimitArgs {
    /// Grid points one field may have (nx × ny, about 17 bytes of memory each to render);
    /// a larger field is refused, before anything of its size is allocated.
    #[arg(long, global = true, env = "TILECAST_MAX_FIELD_POINTS",
          default_value_t = tilecast::limits::DEFAULT_MAX_FIELD_POINTS,
          value_parser = clap::value_parser!(u64).range(1..))]
    max_field_points: u64,
    /// Tiles one file's plan may have, all layers and zooms together; a larger plan is
    /// refused before any tile is listed.
    #[arg(long, global = true, env = "TILECAST_MAX_TILES",
          default_value_t = tilecast::limits::DEFAULT_MAX_TILES,
          value_parser = clap::value_parser!(u64).range(1..))]
    max_tiles: u64,
}

/// Parses a positive, finite number of seconds.
pub(crate) fn positive_seconds(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 1e9 => Ok(v),
        _ => Err(format!("{s:?}: expected a positive number of seconds")),
    }
}

#[derive(Subcommand)]
enum Command {
    /// Render files into colour tiles, data tiles, images, legends and a manifest per run.
    Render(render::RenderArgs),
    /// List the fields of a file with their metadata.
    Inspect(inspect::InspectArgs),
    /// Write one field's decoded values as a float32 .npy array of shape (ny, nx).
    Extract(inspect::ExtractArgs),
    /// Watch an ingest directory or bucket; plan each new file into jobs and publish them to RabbitMQ
    /// (runs the ledger too, unless --no-ledger).
    Chunker(Box<chunker::ChunkerArgs>),
    /// Take one job (or --max-jobs) from RabbitMQ, render it, report it, and exit.
    Worker(worker::WorkerArgs),
    /// Collect job results and write each run's manifest when all its jobs are accounted for.
    Ledger(ledger::LedgerArgs),
    /// Render jobs from RabbitMQ, N at a time, each in a process of its own that exits after it.
    Pool(pool::PoolArgs),
    /// Remove old runs from an output root: from the catalog first, then their objects.
    Prune(prune::PruneArgs),
    /// Serve an output tree over HTTP, read-only, with the built-in viewer at `/`.
    Serve(serve::ServeArgs),
}

/// The settings `tilecast worker ARGS` would run with: its flags (and the environment) and
/// the limits among the global flags. For `pool`, which runs jobs as workers do.
pub(crate) fn worker_settings(
    args: &[String],
) -> anyhow::Result<(worker::WorkerArgs, tilecast::limits::Limits)> {
    let argv = ["tilecast", "worker"]
        .into_iter()
        .map(String::from)
        .chain(args.iter().cloned());
    let cli = Cli::try_parse_from(argv).map_err(|e| anyhow::anyhow!("the worker's flags: {e}"))?;
    let limits = tilecast::limits::Limits {
        max_field_points: cli.limits.max_field_points,
        max_tiles: cli.limits.max_tiles,
    };
    match cli.command {
        Command::Worker(w) => Ok((w, limits)),
        _ => unreachable!("parsed as the worker subcommand"),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(cli.log_format);
    tilecast::limits::configure(tilecast::limits::Limits {
        max_field_points: cli.limits.max_field_points,
        max_tiles: cli.limits.max_tiles,
    });
    // TLS for object storage: ring, chosen at build time (see Cargo.toml).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let result = match cli.command {
        Command::Render(args) => render::run(args),
        Command::Inspect(args) => inspect::inspect(args),
        Command::Extract(args) => inspect::extract(args),
        Command::Serve(args) => serve::run(args),
        Command::Chunker(args) => chunker::run(*args),
        Command::Worker(args) => worker::run(args),
        Command::Ledger(args) => ledger::run(args),
        Command::Pool(args) => pool::run(args),
        Command::Prune(args) => prune::run(args),
    };
    match result {
        Ok(code) => code,
        // The reader went away (`tilecast inspect f | head`): nothing more to say.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tilecast: error: {e:#}");
            ExitCode::from(3)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    use std::io::ErrorKind::BrokenPipe;
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == BrokenPipe)
            || c.downcast_ref::<serde_json::Error>()
                .is_some_and(|j| j.io_error_kind() == Some(BrokenPipe))
    })
}
