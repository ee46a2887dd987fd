//! `leadscore promote CHALLENGER.json --champion CHAMPION.json`: the challenger becomes the
//! champion.
//!
//! In order, so that a refusal or a failure before the first write leaves every file as it was
//! (a failure while the files are replaced names the file to rebuild):
//! 1. the challenger is checked as `leadscore check` checks it;
//! 2. `CHAMPION.previous.json` must not exist yet (unless `--force`): it is the way back;
//! 3. when `CHAMPION.bin` exists, the challenger is compiled (by `leadscore build`) to a
//!    temporary file beside it;
//! 4. the champion is copied to `CHAMPION.previous.json`, the challenger's bytes replace the
//!    champion's, and the compiled model replaces `CHAMPION.bin` — each written to a temporary
//!    file in the same directory and renamed over its target, so a reader never sees half a file.

use crate::{build, check};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The challenger model file (JSON) to promote.
    challenger: PathBuf,
    /// The champion model file (JSON) the site runs; it is replaced by the challenger.
    #[arg(long, value_name = "FILE")]
    champion: PathBuf,
    /// Overwrite an existing CHAMPION.previous.json.
    #[arg(long)]
    force: bool,
}

/// `dir/STEM.previous.json` beside `champion` (`dir/STEM.json`).
fn previous_path(champion: &Path) -> PathBuf {
    let stem = champion
        .file_stem()
        .map_or_else(|| "model".into(), |s| s.to_string_lossy().into_owned());
    champion.with_file_name(format!("{stem}.previous.json"))
}

/// A temporary name beside `path`, in the same directory so that a rename replaces `path`.
fn temporary_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(|| "model".into(), |s| s.to_string_lossy().into_owned());
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

/// Writes `bytes` to `path` through a temporary file and a rename.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let temporary = temporary_path(path);
    std::fs::write(&temporary, bytes)
        .and_then(|()| std::fs::rename(&temporary, path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&temporary);
            format!("cannot write {}: {e}", path.display())
        })
}

pub fn run(args: Args) -> Result<ExitCode, String> {
    let challenger = match check::load_model(&args.challenger) {
        Ok(model) => model,
        Err(message) => {
            eprintln!("{message}");
            eprintln!("nothing promoted: {} is unchanged", args.champion.display());
            return Ok(ExitCode::from(1));
        }
    };
    let challenger_bytes = std::fs::read(&args.challenger)
        .map_err(|e| format!("cannot read {}: {e}", args.challenger.display()))?;
    let champion_bytes = match std::fs::read(&args.champion) {
        Ok(bytes) => Some(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(format!("cannot read {}: {e}", args.champion.display())),
    };
    let previous = previous_path(&args.champion);
    if champion_bytes.is_some() && previous.exists() && !args.force {
        return Err(format!(
            "{} exists (the champion before the last promotion); keep it elsewhere or pass --force to overwrite it",
            previous.display()
        ));
    }
    let champion_model = champion_bytes
        .as_deref()
        .and_then(|b| std::str::from_utf8(b).ok())
        .and_then(|text| serde_json::from_str::<serde_json::Value>(text).ok());
    let m = challenger.model();
    let same = champion_model.as_ref().is_some_and(|v| {
        v["id"] == m.id.as_str() && v["model_version"] == m.model_version.as_str()
    });
    if same && !args.force {
        return Err(format!(
            "the champion already has model id {} and version {}: the collector could not tell their results apart; give the challenger a new model_version (or pass --force)",
            m.id, m.model_version
        ));
    }

    // Compile first: a model the compiler refuses leaves every file as it was.
    let bin = args.champion.with_extension("bin");
    let compiled = if bin.exists() {
        let bytes = build::compile(&args.challenger)?;
        let temporary = temporary_path(&bin);
        std::fs::write(&temporary, &bytes)
            .map_err(|e| format!("cannot write {}: {e}", temporary.display()))?;
        Some(temporary)
    } else {
        None
    };

    if let Some(bytes) = &champion_bytes {
        if let Err(e) = write_atomically(&previous, bytes) {
            if let Some(t) = &compiled {
                let _ = std::fs::remove_file(t);
            }
            return Err(e);
        }
    }
    if let Err(e) = write_atomically(&args.champion, &challenger_bytes) {
        if let Some(t) = &compiled {
            let _ = std::fs::remove_file(t);
        }
        return Err(e);
    }
    if let Some(temporary) = &compiled {
        std::fs::rename(temporary, &bin).map_err(|e| {
            let _ = std::fs::remove_file(temporary);
            format!(
                "{} now holds the challenger, but {} could not be replaced ({e}): run `leadscore build {}`",
                args.champion.display(),
                bin.display(),
                args.champion.display()
            )
        })?;
    }

    println!(
        "{} is now the champion: {} {}",
        args.champion.display(),
        m.id,
        m.model_version
    );
    if champion_bytes.is_some() {
        let was = champion_model.as_ref().map_or_else(String::new, |v| {
            format!(
                " ({} {})",
                v["id"].as_str().unwrap_or("?"),
                v["model_version"].as_str().unwrap_or("?")
            )
        });
        println!(
            "the previous champion{was} is kept as {}",
            previous.display()
        );
        if same {
            eprintln!(
                "warning: the champion had the same model id and version: the collector cannot tell their results apart"
            );
        }
    }
    if compiled.is_some() {
        println!("{} rebuilt", bin.display());
    }
    println!(
        "on the site: remove data-challenger and data-challenger-share from the snippet, or point \
         data-challenger at the next challenger; results now carry model_id {} and model_version {}",
        m.id, m.model_version
    );
    Ok(ExitCode::SUCCESS)
}
