//! `leadscore score`.

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The model file (JSON).
    model: PathBuf,
}

pub fn run(args: Args) -> Result<ExitCode, String> {
    todo_check(args)
}

fn todo_check(_args: Args) -> Result<ExitCode, String> {
    Err("not yet".into())
}
