//! `leadscore build MODEL.json`: validate a model (exactly as `check`) and compile it to the
//! compact binary form the browser widget loads (`model::binary`).

use crate::check::load_model;
use leadscore::model::binary;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The model file (JSON).
    model: PathBuf,
    /// Where to write the compiled model (default: the model's path with `.bin`).
    #[arg(short, long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// Reads, validates and compiles the model file `path` (its warnings printed), as `build` does.
pub fn compile(path: &Path) -> Result<Vec<u8>, String> {
    let model = load_model(path)?;
    for w in leadscore::model::warnings(model.model()) {
        eprintln!("{}: warning: {w}", path.display());
    }
    binary::write(&model).map_err(|e| format!("cannot compile {}: {e}", path.display()))
}

pub fn run(args: Args) -> Result<ExitCode, String> {
    let bytes = compile(&args.model)?;
    let out = args.out.unwrap_or_else(|| args.model.with_extension("bin"));
    std::fs::write(&out, &bytes).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    let json = std::fs::metadata(&args.model).map_or(0, |m| m.len());
    println!(
        "{}: {} bytes (from {} bytes of JSON)",
        out.display(),
        bytes.len(),
        json
    );
    Ok(ExitCode::SUCCESS)
}
