//! `leadscore serve` (under construction).

use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> Result<ExitCode, String> {
    Err("`serve` is not available in this build yet".into())
}
