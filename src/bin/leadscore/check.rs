//! `leadscore check MODEL`: validate a model file, listing every problem with its path.

use leadscore::model::ValidModel;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The model file (JSON).
    model: PathBuf,
}

pub fn run(args: Args) -> Result<ExitCode, String> {
    let text = std::fs::read_to_string(&args.model)
        .map_err(|e| format!("cannot read {}: {e}", args.model.display()))?;
    match ValidModel::from_json(&text) {
        Ok(model) => {
            let m = model.model();
            println!(
                "{}: valid ({} {}, {} rules, tiers: {})",
                args.model.display(),
                m.id,
                m.model_version,
                m.rules.len(),
                m.tiers
                    .iter()
                    .map(|t| t.name.as_str())
                    .collect::<Vec<_>>()
                    .join(" > ")
            );
            // Warnings do not fail the check: the model works, perhaps not as meant.
            let warnings = leadscore::model::warnings(m);
            for w in &warnings {
                eprintln!("{}: warning: {w}", args.model.display());
            }
            if !warnings.is_empty() {
                eprintln!("{} warning(s)", warnings.len());
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(errors) => {
            for e in &errors.0 {
                eprintln!("{}: {e}", args.model.display());
            }
            eprintln!("{} problem(s)", errors.0.len());
            Ok(ExitCode::from(1))
        }
    }
}

/// Reads and validates a model file, with every problem in the error.
pub fn load_model(path: &std::path::Path) -> Result<ValidModel, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    ValidModel::from_json(&text).map_err(|errors| {
        let lines: Vec<String> = errors.0.iter().map(|e| format!("  {e}")).collect();
        format!("invalid model {}:\n{}", path.display(), lines.join("\n"))
    })
}
