//! `leadscore`: check, run, learn and collect lead-scoring models from the command line.

mod build;
mod check;
mod eval;
mod outcomes;
mod promote;
mod retune;
mod score;
mod serve;
mod train;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Explainable lead scoring: check and run scoring models, learn them from conversion data,
/// and collect the tier results that the browser widget sends.
#[derive(Parser)]
#[command(name = "leadscore", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate a model file; lists every problem with its path (exit 1 when invalid).
    Check(check::Args),
    /// Compile a model for the browser: validate it as `check` does and write the compact binary
    /// form the widget loads (MODEL.bin).
    Build(build::Args),
    /// Score an event log (JSON lines) with a model: each visitor's tier, sub-scores and contributions.
    Score(score::Args),
    /// Print the JSON Schema of the model format.
    Schema,
    /// Learn a points scorecard from historical conversion data.
    Train(train::Args),
    /// Evaluate a model on historical conversion data: AUC, log loss, calibration, lift per tier.
    Eval(eval::Args),
    /// Run the reference collector: serves the demo and the widget, stores tier results.
    Serve(serve::Args),
    /// Outcomes from a CRM: `outcomes import EXPORT.csv --db DB ...` stores them as
    /// `POST /v1/outcome` does.
    Outcomes(outcomes::Args),
    /// Make a challenger model the champion: check it, keep the champion as
    /// CHAMPION.previous.json, replace the champion (and rebuild CHAMPION.bin when it exists).
    Promote(promote::Args),
    /// Refit a model's points and thresholds from the rule summaries and outcomes in the
    /// collector's database; compares it with the base on the newest leads.
    Retune(retune::Args),
}

/// Lets a closed output pipe (`leadscore score ... | head`) end the command quietly, as it ends
/// other command-line tools, instead of a panic in `println!`. Not for `serve`, whose clients
/// may hang up at any time.
#[cfg(unix)]
fn quiet_on_closed_pipe() {
    // SAFETY: called first in `main`, before any other thread exists; SIG_DFL is a valid
    // disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    #[cfg(unix)]
    if !matches!(cli.command, Command::Serve(_)) {
        quiet_on_closed_pipe();
    }
    let result = match cli.command {
        Command::Check(args) => check::run(args),
        Command::Build(args) => build::run(args),
        Command::Score(args) => score::run(args),
        Command::Schema => match serde_json::to_string_pretty(&leadscore::model::json_schema()) {
            Ok(text) => {
                println!("{text}");
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => Err(e.to_string()),
        },
        Command::Train(args) => train::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Outcomes(args) => outcomes::run(args),
        Command::Promote(args) => promote::run(args),
        Command::Retune(args) => retune::run(args),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}
