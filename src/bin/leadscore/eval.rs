//! `leadscore eval` (under construction).

use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> Result<ExitCode, String> {
    Err("`eval` is not available in this build yet".into())
}
