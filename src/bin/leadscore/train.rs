//! `leadscore train` (under construction).

use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> Result<ExitCode, String> {
    Err("`train` is not available in this build yet".into())
}
