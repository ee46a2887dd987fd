//! `leadscore train HISTORY.csv --label COLUMN --out model.json`: learn a points scorecard
//! from historical conversions (or, with `--base`, refit the points and thresholds of an
//! existing model).

use indicatif::{ProgressBar, ProgressStyle};
use leadscore::learn::binning::BinOptions;
use leadscore::learn::data::{self, Part, Table};
use leadscore::learn::mapping::{self, Layout, Mapping};
use leadscore::learn::refit;
use leadscore::learn::scorecard::{self, Penalty, TrainOptions, TrainReport};
use leadscore::learn::tiers::Target;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

#[derive(clap::Args)]
pub struct Args {
    /// History file: CSV with a header line, one row per past lead.
    history: PathBuf,
    /// The conversion column (0/1, yes/no, true/false). May also be given in the mapping file.
    #[arg(long)]
    label: Option<String>,
    /// Where to write the model (JSON).
    #[arg(long, short)]
    out: PathBuf,
    /// Mapping file (JSON): which column is which widget signal, ignored columns, missing
    /// markers. Columns it does not name are answers to a question named after the column.
    #[arg(long)]
    mapping: Option<PathBuf>,
    /// A column's signal without a mapping file (repeatable; overrides the mapping):
    /// `COLUMN=visits`, `time_on_site`, `distinct_pages`, `number[:QUESTION]`,
    /// `answer[:QUESTION]`, `source:PARAMETER`, `download:URL`, `form:ID`, `event:NAME`, `ignore`.
    #[arg(long = "signal", value_name = "COLUMN=KIND")]
    signals: Vec<String>,
    /// Split file (`ID_COLUMN,split` with `train` / `test` per row): learn from the train rows
    /// only — binning, pooling and tier thresholds included.
    #[arg(long)]
    split: Option<PathBuf>,
    /// Columns to leave out (repeat the flag or separate with commas).
    #[arg(long, value_delimiter = ',')]
    ignore: Vec<String>,
    /// Keep the rules of this model and refit only their points and the tier thresholds (each
    /// tier keeps the share of training leads it had; --sql-* / --mql-* targets move the SQL /
    /// MQL tier's total threshold instead).
    #[arg(long)]
    base: Option<PathBuf>,
    /// SQL tier: the lowest threshold whose leads convert at least this often [default without --base: 0.8].
    #[arg(long, conflicts_with = "sql_share")]
    sql_precision: Option<f64>,
    /// SQL tier: the threshold that puts this share of leads in SQL.
    #[arg(long)]
    sql_share: Option<f64>,
    /// MQL tier: the threshold that puts this share of leads in MQL or higher [default without --base: 0.5].
    #[arg(long, conflicts_with = "mql_precision")]
    mql_share: Option<f64>,
    /// MQL tier: the lowest threshold whose leads convert at least this often.
    #[arg(long)]
    mql_precision: Option<f64>,
    /// Points that double the odds of converting (the scale of the points).
    #[arg(long, default_value_t = 20.0)]
    pdo: f64,
    /// L2 penalty of the logistic regression [default: chosen by 5-fold cross-validation
    /// among 0.3, 1, 3, 10, 30].
    #[arg(long)]
    l2: Option<f64>,
    /// Most bins (steps + 1) per numeric column.
    #[arg(long, default_value_t = 10)]
    bins: usize,
    /// Fewest training leads for a level of its own or a bin; rarer levels are pooled.
    #[arg(long, default_value_t = 30)]
    min_leads: u64,
    /// Seed of the cross-validation folds (same seed and data, same model).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Model id [default: the output file's name].
    #[arg(long)]
    id: Option<String>,
    /// Model version [default: today's date].
    #[arg(long)]
    model_version: Option<String>,
    /// Print the training report as JSON.
    #[arg(long)]
    json: bool,
}

/// A history file read and resolved against its mapping.
pub(crate) struct History {
    pub table: Table,
    pub layout: Layout,
    pub labels: Vec<bool>,
    /// Part per row when a split file was given (`None`: the row's id is not in the split).
    pub parts: Option<Vec<Option<Part>>>,
    /// The id column's index in the table, if any.
    pub id: Option<usize>,
}

fn open(path: &Path) -> Result<File, String> {
    File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))
}

/// Reads the mapping file (or starts from an empty mapping) and adds the `--signal` flags.
pub(crate) fn load_mapping(path: Option<&Path>, signals: &[String]) -> Result<Mapping, String> {
    let mut mapping = read_mapping(path)?;
    for flag in signals {
        let (column, signal) = mapping::parse_signal_flag(flag)?;
        mapping.columns.insert(column, signal);
    }
    Ok(mapping)
}

fn read_mapping(path: Option<&Path>) -> Result<Mapping, String> {
    let Some(path) = path else {
        return Ok(Mapping::default());
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let de = &mut serde_json::Deserializer::from_str(&text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let at = e.path().to_string();
        format!(
            "mapping {}: {}{}",
            path.display(),
            if at == "." {
                String::new()
            } else {
                format!("{at}: ")
            },
            e.into_inner()
        )
    })
}

/// Reads a history file with a progress bar on large files, resolves the mapping, parses the
/// labels and matches the split.
pub(crate) fn load_history(
    path: &Path,
    mapping: &mut Mapping,
    label: Option<&str>,
    ignore: &[String],
    split: Option<&Path>,
) -> Result<History, String> {
    let split = match split {
        Some(p) => Some(
            data::read_split(BufReader::new(open(p)?))
                .map_err(|e| format!("{}: {e}", p.display()))?,
        ),
        None => None,
    };
    if mapping.id.is_none() {
        mapping.id = split.as_ref().map(|s| s.id_column.clone());
    }
    let skip = mapping::ignored(mapping, ignore);
    let id_name = mapping.id.clone();
    let keep = |name: &str| !skip.contains(name) || Some(name) == id_name.as_deref();

    let file = open(path)?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = if size > 16 << 20 {
        let bar = ProgressBar::new(size);
        if let Ok(style) =
            ProgressStyle::with_template("reading {bytes}/{total_bytes} [{wide_bar}] {eta} left")
        {
            bar.set_style(style);
        }
        bar
    } else {
        ProgressBar::hidden()
    };
    let table = data::read_csv(
        BufReader::with_capacity(1 << 20, file),
        &keep,
        &mut |bytes, _| bar.set_position(bytes),
    )
    .map_err(|e| format!("{}: {e}", path.display()))?;
    bar.finish_and_clear();
    if table.rows == 0 {
        return Err(format!("{}: no data rows", path.display()));
    }
    let layout = mapping::resolve(mapping, &table, label, ignore).map_err(|errors| {
        if errors.len() == 1 {
            errors.join("")
        } else {
            format!("{} problems:\n  {}", errors.len(), errors.join("\n  "))
        }
    })?;
    let labels = scorecard::labels(&table, &layout).map_err(|e| e.to_string())?;
    let id = mapping.id.as_deref().and_then(|name| table.position(name));
    let parts = match (&split, id) {
        (Some(s), Some(i)) => {
            let column = table.columns.get(i).ok_or("id column missing")?;
            let parts: Vec<Option<Part>> = (0..table.rows)
                .map(|r| s.parts.get(column.value(r)).copied())
                .collect();
            let unmatched = parts.iter().filter(|p| p.is_none()).count();
            if unmatched == table.rows {
                return Err(format!(
                    "no row of {} has an id listed in the split file (id column {:?})",
                    path.display(),
                    column.name
                ));
            }
            if unmatched > 0 {
                eprintln!("warning: {unmatched} rows have an id that is not in the split file; they are left out");
            }
            Some(parts)
        }
        (Some(s), None) => {
            return Err(format!(
                "the split file's id column {:?} is not in {}",
                s.id_column,
                path.display()
            ))
        }
        (None, _) => None,
    };
    Ok(History {
        table,
        layout,
        labels,
        parts,
        id,
    })
}

impl History {
    /// Rows of one part (all rows without a split).
    pub fn rows(&self, part: Option<Part>) -> Vec<u32> {
        (0..self.table.rows)
            .filter(|&r| match (&self.parts, part) {
                (Some(parts), Some(want)) => parts.get(r).copied().flatten() == Some(want),
                (Some(parts), None) => parts.get(r).copied().flatten().is_some(),
                (None, _) => true,
            })
            .map(|r| r as u32)
            .collect()
    }
}

fn target(
    precision: Option<f64>,
    share: Option<f64>,
    name: &str,
) -> Result<Option<Target>, String> {
    for (flag, value) in [("precision", precision), ("share", share)] {
        if let Some(v) = value {
            if !(v > 0.0 && v <= 1.0) {
                return Err(format!("--{name}-{flag} must be in (0, 1], got {v}"));
            }
        }
    }
    Ok(precision
        .map(Target::Precision)
        .or(share.map(Target::Share)))
}

fn today() -> String {
    let now = time::OffsetDateTime::now_utc().date();
    format!(
        "{:04}-{:02}-{:02}",
        now.year(),
        u8::from(now.month()),
        now.day()
    )
}

pub fn run(args: Args) -> Result<ExitCode, String> {
    let started = Instant::now();
    if !(args.pdo.is_finite() && args.pdo > 0.0) {
        return Err(format!("--pdo must be a positive number, got {}", args.pdo));
    }
    if let Some(l2) = args.l2 {
        if !(l2.is_finite() && l2 >= 0.0) {
            return Err(format!("--l2 must be a number ≥ 0, got {l2}"));
        }
    }
    if args.bins < 2 {
        return Err("--bins must be at least 2".into());
    }
    let sql = target(args.sql_precision, args.sql_share, "sql")?;
    let mql = target(args.mql_precision, args.mql_share, "mql")?;
    let mut mapping = load_mapping(args.mapping.as_deref(), &args.signals)?;
    let history = load_history(
        &args.history,
        &mut mapping,
        args.label.as_deref(),
        &args.ignore,
        args.split.as_deref(),
    )?;
    let rows = history.rows(args.split.as_ref().map(|_| Part::Train));
    let read = started.elapsed();

    let id = args.id.clone().unwrap_or_else(|| {
        let stem = args
            .out
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_default();
        let slug = scorecard::slug(&stem, 64);
        if slug == "x" {
            "learned".into()
        } else {
            slug
        }
    });
    let options = TrainOptions {
        bins: BinOptions {
            max_bins: args.bins,
            min_leads: args.min_leads,
            ..BinOptions::default()
        },
        penalty: match args.l2 {
            Some(l2) => Penalty::Fixed(l2),
            None => TrainOptions::default().penalty,
        },
        pdo: args.pdo,
        seed: args.seed,
        sql: if args.base.is_some() {
            sql
        } else {
            sql.or(Some(Target::Precision(0.8)))
        },
        mql: if args.base.is_some() {
            mql
        } else {
            mql.or(Some(Target::Share(0.5)))
        },
        id,
        model_version: args.model_version.clone().unwrap_or_else(today),
    };
    // Fitting a large file takes a few seconds: show that something is happening.
    let spinner = if history.table.rows > 200_000 {
        let bar = ProgressBar::new_spinner();
        bar.set_message(format!("learning from {} leads", rows.len()));
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        bar
    } else {
        ProgressBar::hidden()
    };
    let trained = match &args.base {
        Some(base_path) => {
            let base = crate::check::load_model(base_path)?;
            refit::refit(
                &base,
                &history.table,
                &history.layout,
                &history.labels,
                &rows,
                &options,
            )
        }
        None => scorecard::train(
            &history.table,
            &history.layout,
            &history.labels,
            &rows,
            &options,
        ),
    }
    .map_err(|e| e.to_string());
    spinner.finish_and_clear();
    let trained = trained?;
    let text = serde_json::to_string_pretty(&trained.model).map_err(|e| e.to_string())?;
    std::fs::write(&args.out, text + "\n")
        .map_err(|e| format!("cannot write {}: {e}", args.out.display()))?;
    let elapsed = started.elapsed();

    if args.json {
        let text = serde_json::to_string_pretty(&trained.report).map_err(|e| e.to_string())?;
        println!("{text}");
    } else {
        print_report(&trained.report, trained.model.rules.len(), &args.out);
        println!(
            "time: {:.2} s ({:.2} s reading, {:.2} s learning)",
            elapsed.as_secs_f64(),
            read.as_secs_f64(),
            (elapsed - read).as_secs_f64()
        );
    }
    for w in &trained.report.warnings {
        eprintln!("warning: {w}");
    }
    Ok(ExitCode::SUCCESS)
}

fn print_report(r: &TrainReport, rules: usize, out: &Path) {
    println!(
        "learned from {} leads ({} converted, {:.1} %)",
        r.leads,
        r.converted,
        100.0 * r.converted as f64 / r.leads.max(1) as f64
    );
    if r.cross_validation.is_empty() {
        println!("L2 penalty {} ({} Newton iterations)", r.l2, r.iterations);
    } else {
        let cv: Vec<String> = r
            .cross_validation
            .iter()
            .map(|(l, loss)| format!("{l}: {loss:.4}"))
            .collect();
        println!(
            "L2 penalty {} by cross-validated log loss ({}); {} Newton iterations",
            r.l2,
            cv.join(", "),
            r.iterations
        );
    }
    let width = r
        .columns
        .iter()
        .map(|c| c.column.chars().count())
        .max()
        .unwrap_or(6)
        .min(48);
    for c in &r.columns {
        let cuts = if c.cuts.is_empty() {
            String::new()
        } else {
            let list: Vec<String> = c.cuts.iter().map(|&t| scorecard::number_text(t)).collect();
            format!("  steps at {}", list.join(", "))
        };
        println!(
            "  {:<width$}  {:<14} {:>3} rules of {:>3} candidates{cuts}",
            c.column, c.signal, c.rules, c.candidates
        );
    }
    for t in &r.tiers {
        println!(
            "tier {:<4} total ≥ {:<5} {:>5.1} % of training leads, {:>5.1} % of them converted ({} scores)",
            t.tier,
            t.choice.threshold,
            100.0 * t.choice.share,
            100.0 * t.choice.precision,
            r.tier_scores
        );
    }
    println!("training ROC AUC {:.4} (integer points)", r.train_auc);
    println!("wrote {} ({rules} rules)", out.display());
}
