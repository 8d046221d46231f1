//! `tilecast render` (filled in below).
use std::process::ExitCode;
#[derive(clap::Args)]
pub struct RenderArgs {}
pub fn run(_a: RenderArgs) -> anyhow::Result<ExitCode> {
    Ok(ExitCode::from(3))
}
