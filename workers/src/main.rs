//! The `tilecast` binary: parses flags once, then runs one subcommand.
//!
//! Exit codes: 0 success; 1 some fields or files failed (the rest were written);
//! 2 usage error (clap); 3 nothing could be done (unreadable input, bad settings).

mod inspect;
mod render;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Turn GRIB2 and NetCDF weather fields into map tiles, images and legends.
#[derive(Parser)]
#[command(name = "tilecast", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Render files into colour tiles, data tiles, images, legends and a manifest per run.
    Render(render::RenderArgs),
    /// List the fields of a file with their metadata.
    Inspect(inspect::InspectArgs),
    /// Write one field's decoded values as a float32 .npy array of shape (ny, nx).
    Extract(inspect::ExtractArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Render(args) => render::run(args),
        Command::Inspect(args) => inspect::inspect(args),
        Command::Extract(args) => inspect::extract(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("tilecast: error: {e:#}");
            ExitCode::from(3)
        }
    }
}
