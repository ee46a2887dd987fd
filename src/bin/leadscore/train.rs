//! `leadscore train HISTORY.csv --label COLUMN --out model.json`: learn a points scorecard
//! from historical conversions (or, with `--base`, refit the points and thresholds of an
//! existing model).

use indicatif::{ProgressBar, ProgressStyle};
use leadscore::learn::binning::BinOptions;
use leadscore::learn::boost::{BoostOptions, Monotone};
use leadscore::learn::candidates;
use leadscore::learn::data::{self, Part, Table};
use leadscore::learn::fingerprint;
use leadscore::learn::fitting::Fitter;
use leadscore::learn::interactions::InteractionOptions;
use leadscore::learn::layout::{self, Layout};
use leadscore::learn::mapping::{self, Mapping};
use leadscore::learn::penalised::Penalty;
use leadscore::learn::report::TrainReport;
use leadscore::learn::retune;
use leadscore::learn::scorecard::{self, TrainOptions};
use leadscore::learn::tiers::Target;
use leadscore::model::{FileRef, Training, TrainingData, TrainingSplit};
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
    #[arg(long, conflicts_with = "split_by")]
    split: Option<PathBuf>,
    /// Time-ordered split: sort the rows by this column (a date or an id that grows with time),
    /// learn from the older rows and hold out the newest --test-share.
    #[arg(long)]
    split_by: Option<String>,
    /// Share of the rows held out (newest first) with --split-by.
    #[arg(long, default_value_t = 0.2)]
    test_share: f64,
    /// The fitter: `boost` (cyclic gradient boosting of one shape per column, then rounded to
    /// points) or `logistic` (L2-penalised logistic regression).
    #[arg(long, value_enum, default_value_t = FitKind::Boost)]
    fit: FitKind,
    /// Boosting: share of each Newton step taken per round.
    #[arg(long, default_value_t = BoostOptions::default().learning_rate)]
    learning_rate: f64,
    /// Boosting: bags averaged, each stopping early on its own held-out leads.
    #[arg(long, default_value_t = BoostOptions::default().bags)]
    bags: usize,
    /// Boosting: rounds at most per bag.
    #[arg(long, default_value_t = BoostOptions::default().max_rounds)]
    max_rounds: usize,
    /// Boosting: compound `all` rules learned from pairwise interactions at most (0: none);
    /// each is kept only when it lowers a validation part's log loss.
    #[arg(long, default_value_t = BoostOptions::default().interactions.max_rules)]
    interactions: usize,
    /// Keep a numeric (or download / form / event) column's points rising (`+`) or falling
    /// (`-`) with its value: `COLUMN=+` or `COLUMN=-` (repeatable; --fit boost).
    #[arg(long, value_name = "COLUMN=+|-")]
    monotone: Vec<String>,
    /// Columns to leave out (repeat the flag or separate with commas).
    #[arg(long, value_delimiter = ',')]
    ignore: Vec<String>,
    /// Keep the rules of this model and refit only their points and the tier thresholds (each
    /// tier keeps the share of training leads it had; --sql-* / --mql-* targets move the SQL /
    /// MQL tier's total threshold instead). The label, mapping and ignored columns recorded in
    /// its `training` section are used unless given again.
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
    /// Most bins (steps + 1) per numeric column [default: 16 with --fit boost, 10 with
    /// --fit logistic].
    #[arg(long)]
    bins: Option<usize>,
    /// Neighbouring numeric bins whose conversion rates differ less than this chi-square merge
    /// [default: 0 with --fit boost (boosting shrinks thin bins itself), 3.841 (p = 0.05) with
    /// --fit logistic].
    #[arg(long)]
    merge_chi2: Option<f64>,
    /// Fewest training leads for a level of its own or a bin; rarer levels are pooled.
    #[arg(long, default_value_t = 30)]
    min_leads: u64,
    /// Seed of the cross-validation folds and the boosting bags (same seed and data, same model).
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

/// The fitters `--fit` names.
#[derive(Clone, Copy, PartialEq, Eq, Debug, clap::ValueEnum)]
pub enum FitKind {
    Boost,
    Logistic,
}

/// How the rows of a history file are split.
#[derive(Clone, Debug)]
pub(crate) enum SplitSource {
    File(PathBuf),
    Ordered { column: String, test_share: f64 },
}

/// How to read a history file: from the command line's flags, or from a model's `training`
/// section where the flags say nothing.
pub(crate) struct Reading {
    pub mapping: Mapping,
    pub mapping_file: Option<FileRef>,
    pub label: Option<String>,
    pub ignore: Vec<String>,
    pub split: Option<SplitSource>,
}

/// The flags `train` and `eval` share.
pub(crate) struct ReadingFlags<'a> {
    pub mapping: Option<&'a Path>,
    pub signals: &'a [String],
    pub label: Option<&'a str>,
    pub ignore: &'a [String],
    pub split: Option<SplitSource>,
}

/// Combines the flags with what a model recorded of its training: a flag wins; an explicit
/// label that differs from the recorded one wins with a note on stderr.
pub(crate) fn reading(
    flags: ReadingFlags<'_>,
    recorded: Option<&Training>,
    recorded_split: bool,
) -> Result<Reading, String> {
    let (mapping, mapping_file) = if let (None, false, Some(t)) =
        (flags.mapping, flags.signals.is_empty(), recorded)
    {
        // `--signal` entries on top of the recorded mapping.
        let mut mapping = t.mapping.clone();
        for flag in flags.signals {
            let (column, signal) = mapping::parse_signal_flag(flag)?;
            mapping.columns.insert(column, signal);
        }
        (mapping, t.mapping_file.clone())
    } else if flags.mapping.is_some() || !flags.signals.is_empty() {
        let file = match flags.mapping {
            Some(p) => Some(FileRef {
                path: p.display().to_string(),
                fingerprint: fingerprint::of(
                    &std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?,
                ),
            }),
            None => None,
        };
        (load_mapping(flags.mapping, flags.signals)?, file)
    } else if let Some(t) = recorded {
        (t.mapping.clone(), t.mapping_file.clone())
    } else {
        (Mapping::default(), None)
    };
    let label = match (flags.label, recorded) {
        (Some(given), Some(t)) if given != t.label => {
            eprintln!(
                "note: using label column {given:?}; the model was trained on {:?}",
                t.label
            );
            Some(given.to_string())
        }
        (Some(given), _) => Some(given.to_string()),
        (None, Some(t)) => Some(t.label.clone()),
        (None, None) => None,
    };
    let ignore = match recorded {
        Some(t) if flags.ignore.is_empty() => t.ignore.clone(),
        _ => flags.ignore.to_vec(),
    };
    let split = match (flags.split, recorded) {
        (Some(s), _) => Some(s),
        (None, Some(t)) if recorded_split => match &t.split {
            Some(TrainingSplit::File(f)) => {
                let path = PathBuf::from(&f.path);
                match std::fs::read(&path) {
                    Ok(bytes) => {
                        if fingerprint::of(&bytes) != f.fingerprint {
                            eprintln!(
                                "warning: split file {} changed since the model was trained",
                                f.path
                            );
                        }
                        Some(SplitSource::File(path))
                    }
                    Err(e) => {
                        return Err(format!(
                            "the model was trained with split file {} which cannot be read ({e}): pass --split",
                            f.path
                        ))
                    }
                }
            }
            Some(TrainingSplit::Ordered { column, test_share }) => Some(SplitSource::Ordered {
                column: column.clone(),
                test_share: *test_share,
            }),
            None => None,
        },
        (None, _) => None,
    };
    Ok(Reading {
        mapping,
        mapping_file,
        label,
        ignore,
        split,
    })
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
    /// Fingerprint of the file's bytes.
    pub fingerprint: String,
    /// How the split was made, for the model's `training` section.
    pub split: Option<TrainingSplit>,
    /// The label column's name.
    pub label: String,
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
pub(crate) fn load_history(path: &Path, reading: &mut Reading) -> Result<History, String> {
    let mapping = &mut reading.mapping;
    let label = reading.label.as_deref();
    let ignore = &reading.ignore;
    let (split, split_record) = match &reading.split {
        Some(SplitSource::File(p)) => {
            let bytes =
                std::fs::read(p).map_err(|e| format!("cannot open {}: {e}", p.display()))?;
            let split =
                data::read_split(bytes.as_slice()).map_err(|e| format!("{}: {e}", p.display()))?;
            let record = TrainingSplit::File(FileRef {
                path: p.display().to_string(),
                fingerprint: fingerprint::of(&bytes),
            });
            (Some(split), Some(record))
        }
        Some(SplitSource::Ordered { column, test_share }) => {
            if !(*test_share > 0.0 && *test_share < 1.0) {
                return Err(format!("--test-share must be in (0, 1), got {test_share}"));
            }
            (
                None,
                Some(TrainingSplit::Ordered {
                    column: column.clone(),
                    test_share: *test_share,
                }),
            )
        }
        None => (None, None),
    };
    if mapping.id.is_none() {
        mapping.id = split.as_ref().map(|s| s.id_column.clone());
    }
    let skip = mapping::ignored(mapping, ignore);
    let id_name = mapping.id.clone();
    let order_name = match &reading.split {
        Some(SplitSource::Ordered { column, .. }) => Some(column.clone()),
        _ => None,
    };
    let keep = |name: &str| {
        !skip.contains(name)
            || Some(name) == id_name.as_deref()
            || Some(name) == order_name.as_deref()
    };

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
    let mut reader = fingerprint::Reading::new(BufReader::with_capacity(1 << 20, file));
    let table = data::read_csv(&mut reader, &keep, &mut |bytes, _| bar.set_position(bytes))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let file_fingerprint = reader.fingerprint.text();
    bar.finish_and_clear();
    if table.rows == 0 {
        return Err(format!("{}: no data rows", path.display()));
    }
    let layout = layout::resolve(mapping, &table, label, ignore).map_err(|errors| {
        if errors.len() == 1 {
            errors.join("")
        } else {
            format!("{} problems:\n  {}", errors.len(), errors.join("\n  "))
        }
    })?;
    let labels = layout::labels(&table, &layout).map_err(|e| e.to_string())?;
    let label_name = table
        .columns
        .get(layout.label)
        .map(|c| c.name.clone())
        .unwrap_or_default();
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
        (None, _) => match &reading.split {
            Some(SplitSource::Ordered { column, test_share }) => {
                let c = table.column(column).ok_or_else(|| {
                    format!(
                        "--split-by {column:?}: no such column in {}",
                        path.display()
                    )
                })?;
                let parts = data::ordered_split(c, *test_share);
                if layout.specs.iter().any(|s| s.name == *column) {
                    eprintln!("note: the --split-by column {column:?} is also learned from; --ignore it if it only says when a lead came");
                }
                Some(parts)
            }
            _ => None,
        },
    };
    Ok(History {
        table,
        layout,
        labels,
        parts,
        id,
        fingerprint: file_fingerprint,
        split: split_record,
        label: label_name,
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

/// Parses `--monotone COLUMN=+` / `COLUMN=-`.
fn parse_monotone(text: &str) -> Result<(String, Monotone), String> {
    let (column, sign) = text
        .rsplit_once('=')
        .ok_or_else(|| format!("--monotone {text:?}: expected COLUMN=+ or COLUMN=-"))?;
    let direction = match sign.trim() {
        "+" | "up" | "increasing" => Monotone::Increasing,
        "-" | "down" | "decreasing" => Monotone::Decreasing,
        other => return Err(format!("--monotone {text:?}: {other:?} is neither + nor -")),
    };
    let column = column.trim();
    if column.is_empty() {
        return Err(format!("--monotone {text:?}: the column name is empty"));
    }
    Ok((column.to_string(), direction))
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
    let boosting = args.fit == FitKind::Boost && args.base.is_none();
    let defaults = if boosting {
        TrainOptions::boosted()
    } else {
        TrainOptions::default()
    };
    let bins = args.bins.unwrap_or(defaults.bins.max_bins);
    if bins < 2 {
        return Err("--bins must be at least 2".into());
    }
    let merge_chi2 = args.merge_chi2.unwrap_or(defaults.bins.chi2_critical);
    if !(merge_chi2.is_finite() && merge_chi2 >= 0.0) {
        return Err(format!(
            "--merge-chi2 must be a number ≥ 0, got {merge_chi2}"
        ));
    }
    if !(args.learning_rate > 0.0 && args.learning_rate <= 1.0) {
        return Err(format!(
            "--learning-rate must be in (0, 1], got {}",
            args.learning_rate
        ));
    }
    if args.bags == 0 || args.max_rounds == 0 {
        return Err("--bags and --max-rounds must be at least 1".into());
    }
    let sql = target(args.sql_precision, args.sql_share, "sql")?;
    let mql = target(args.mql_precision, args.mql_share, "mql")?;
    let monotone = args
        .monotone
        .iter()
        .map(|m| parse_monotone(m))
        .collect::<Result<Vec<_>, _>>()?;
    let base = match &args.base {
        Some(p) => Some(crate::check::load_model(p)?),
        None => None,
    };
    let split = match (&args.split, &args.split_by) {
        (Some(p), _) => Some(SplitSource::File(p.clone())),
        (None, Some(c)) => Some(SplitSource::Ordered {
            column: c.clone(),
            test_share: args.test_share,
        }),
        (None, None) => None,
    };
    let has_split = split.is_some();
    let mut reading = reading(
        ReadingFlags {
            mapping: args.mapping.as_deref(),
            signals: &args.signals,
            label: args.label.as_deref(),
            ignore: &args.ignore,
            split,
        },
        base.as_ref().and_then(|b| b.model().training.as_ref()),
        false,
    )?;
    let history = load_history(&args.history, &mut reading)?;
    let rows = history.rows(has_split.then_some(Part::Train));
    let test_rows = if has_split {
        history.rows(Some(Part::Test))
    } else {
        Vec::new()
    };
    let read = started.elapsed();

    let id = args.id.clone().unwrap_or_else(|| {
        let stem = args
            .out
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_default();
        let slug = candidates::slug(&stem, 64);
        if slug == "x" {
            "learned".into()
        } else {
            slug
        }
    });
    let options = TrainOptions {
        bins: BinOptions {
            max_bins: bins,
            initial_bins: defaults.bins.initial_bins.max(2 * bins),
            min_leads: args.min_leads,
            chi2_critical: merge_chi2,
        },
        fit: match args.fit {
            FitKind::Boost => Fitter::Boost(BoostOptions {
                learning_rate: args.learning_rate,
                bags: args.bags,
                max_rounds: args.max_rounds,
                interactions: InteractionOptions {
                    max_rules: args.interactions,
                    ..InteractionOptions::default()
                },
                ..BoostOptions::default()
            }),
            FitKind::Logistic => Fitter::Logistic,
        },
        penalty: match args.l2 {
            Some(l2) => Penalty::Fixed(l2),
            None => TrainOptions::default().penalty,
        },
        monotone,
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
    let trained = match &base {
        Some(base) => {
            if args.fit != FitKind::Boost || !args.monotone.is_empty() {
                eprintln!("note: --base refits the base model's points by logistic regression; --fit and --monotone are not used");
            }
            retune::retune(
                base,
                &history.table,
                &history.layout,
                &history.labels,
                &rows,
                &options,
            )
        }
        None => scorecard::train_and_test(
            &history.table,
            &history.layout,
            &history.labels,
            &rows,
            &test_rows,
            &options,
        ),
    }
    .map_err(|e| e.to_string());
    spinner.finish_and_clear();
    let mut trained = trained?;
    trained.model.training = Some(Training {
        label: history.label.clone(),
        mapping: reading.mapping.clone(),
        mapping_file: reading.mapping_file.clone(),
        ignore: reading.ignore.clone(),
        split: history.split.clone(),
        data: TrainingData {
            file: args.history.display().to_string(),
            fingerprint: history.fingerprint.clone(),
            rows: history.table.rows as u64,
            training_rows: rows.len() as u64,
            converted: trained.report.converted as u64,
            held_out_rows: test_rows.len() as u64,
        },
        fit: trained.report.fit.into(),
        pdo: args.pdo,
        seed: args.seed,
    });
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
    if r.fit == "boost" {
        println!(
            "boosted per-column shapes: {} bags, rounds kept {:?} (held-out log loss), Hessian penalty {}",
            r.rounds.len(),
            r.rounds,
            r.l2
        );
    } else if r.cross_validation.is_empty() {
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
            let list: Vec<String> = c.cuts.iter().map(|&t| candidates::number_text(t)).collect();
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
    for n in &r.notes {
        println!("refit: {n}");
    }
    if r.fit == "boost" {
        println!(
            "interactions: {} compound rules from pairs of columns",
            r.interactions.len()
        );
        for i in &r.interactions {
            println!("  {i}");
        }
    }
    println!("training ROC AUC {:.4} (integer points)", r.train_auc);
    if let Some(h) = &r.held_out {
        println!(
            "held-out ROC AUC {:.4} with integer points, {:.4} before rounding ({} leads)",
            h.points_auc, h.float_auc, h.leads
        );
    }
    println!("wrote {} ({rules} rules)", out.display());
}
