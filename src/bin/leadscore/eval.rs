//! `leadscore eval MODEL HISTORY.csv [--split SPLIT.csv]`: score every held-out lead through the
//! engine, as the widget would, and report ROC AUC, log loss, Brier score, a calibration table
//! and the conversion rate and lift per tier.

use crate::train::{load_history, reading, ReadingFlags, SplitSource};
use indicatif::{ProgressBar, ProgressStyle};
use leadscore::engine::{self, State, UNQUALIFIED};
use leadscore::learn::data::Part;
use leadscore::learn::metrics::{self, CalibrationBin, TierRow};
use leadscore::learn::replay;
use serde::Serialize;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Rows {
    Train,
    Test,
    All,
}

#[derive(clap::Args)]
pub struct Args {
    /// The model file (JSON).
    model: PathBuf,
    /// History file: CSV with a header line, one row per past lead.
    history: PathBuf,
    /// Split file (`ID_COLUMN,split`); the test rows are evaluated unless --rows says otherwise
    /// [default: the split the model recorded in its `training` section].
    #[arg(long, conflicts_with = "split_by")]
    split: Option<PathBuf>,
    /// Time-ordered split: the newest --test-share of the rows by this column are the test rows.
    #[arg(long)]
    split_by: Option<String>,
    /// Share of the rows held out (newest first) with --split-by.
    #[arg(long, default_value_t = 0.2)]
    test_share: f64,
    /// Mapping file used for training (how columns become widget events) [default: the mapping
    /// the model recorded in its `training` section].
    #[arg(long)]
    mapping: Option<PathBuf>,
    /// A column's signal without a mapping file (repeatable; overrides the mapping):
    /// `COLUMN=visits`, `time_on_site`, `distinct_pages`, `number[:QUESTION]`,
    /// `answer[:QUESTION]`, `source:PARAMETER`, `download:URL`, `form:ID`, `event:NAME`, `ignore`.
    #[arg(long = "signal", value_name = "COLUMN=KIND")]
    signals: Vec<String>,
    /// The conversion column (if the mapping does not name it).
    #[arg(long)]
    label: Option<String>,
    /// Columns to leave out (repeat the flag or separate with commas).
    #[arg(long, value_delimiter = ',')]
    ignore: Vec<String>,
    /// Which rows to evaluate [default: test with a split, all without].
    #[arg(long, value_enum)]
    rows: Option<Rows>,
    /// Groups in the calibration table.
    #[arg(long, default_value_t = 10)]
    bins: usize,
    /// Write the evaluated leads' events as a JSON-lines event log (input of `leadscore score`).
    #[arg(long)]
    events_out: Option<PathBuf>,
    /// Print JSON instead of tables.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Report {
    model: String,
    model_version: String,
    rows: &'static str,
    leads: usize,
    converted: usize,
    roc_auc: Option<f64>,
    log_loss: Option<f64>,
    brier: Option<f64>,
    calibration: Vec<CalibrationBin>,
    tiers: Vec<TierRow>,
    rejected_events: usize,
}

pub fn run(args: Args) -> Result<ExitCode, String> {
    let model = crate::check::load_model(&args.model)?;
    let split = match (&args.split, &args.split_by) {
        (Some(p), _) => Some(SplitSource::File(p.clone())),
        (None, Some(c)) => Some(SplitSource::Ordered {
            column: c.clone(),
            test_share: args.test_share,
        }),
        (None, None) => None,
    };
    let mut reading = reading(
        ReadingFlags {
            mapping: args.mapping.as_deref(),
            signals: &args.signals,
            label: args.label.as_deref(),
            ignore: &args.ignore,
            split,
        },
        model.model().training.as_ref(),
        true,
    )?;
    let has_split = reading.split.is_some();
    let history = load_history(&args.history, &mut reading)?;
    let unfed = replay::unfed_signals(model.model(), &history.layout);
    if !unfed.is_empty() {
        eprintln!(
            "warning: the model waits for {} that no column of {} feeds; those rules cannot fire (is --mapping missing?)",
            unfed.join(", "),
            args.history.display()
        );
    }
    let which = args
        .rows
        .unwrap_or(if has_split { Rows::Test } else { Rows::All });
    if which != Rows::All && !has_split {
        return Err("--rows train/test needs --split or --split-by".into());
    }
    let rows = history.rows(match which {
        Rows::Train => Some(Part::Train),
        Rows::Test => Some(Part::Test),
        Rows::All => None,
    });
    if rows.is_empty() {
        return Err("no rows to evaluate".into());
    }

    let mut events_out = match &args.events_out {
        Some(p) => {
            Some(BufWriter::new(std::fs::File::create(p).map_err(|e| {
                format!("cannot create {}: {e}", p.display())
            })?))
        }
        None => None,
    };
    let bar = if rows.len() > 100_000 {
        let bar = ProgressBar::new(rows.len() as u64);
        if let Ok(style) =
            ProgressStyle::with_template("scoring {pos}/{len} [{wide_bar}] {eta} left")
        {
            bar.set_style(style);
        }
        bar
    } else {
        ProgressBar::hidden()
    };
    let m = model.model();
    let mut totals = Vec::with_capacity(rows.len());
    let mut probabilities = Vec::with_capacity(rows.len());
    let mut tiers: Vec<&str> = Vec::with_capacity(rows.len());
    let mut labels = Vec::with_capacity(rows.len());
    let mut rejected = 0usize;
    for (k, &r) in rows.iter().enumerate() {
        let row = r as usize;
        let mut state = State::new(&model);
        let mut last = replay::START_MS;
        let events = replay::events(
            &history.layout,
            &history.table,
            row,
            model.session_timeout_ms(),
        );
        for (t, event) in &events {
            if engine::apply(&mut state, &model, event, *t).is_err() {
                rejected += 1;
            }
            last = *t;
        }
        let score = engine::score(&state, &model, last);
        totals.push(score.total);
        probabilities.push(score.probability);
        tiers.push(score.tier);
        labels.push(history.labels.get(row).copied().unwrap_or(false));
        if let Some(out) = events_out.as_mut() {
            let visitor = match history.id.and_then(|i| history.table.columns.get(i)) {
                Some(c) => c.value(row).to_string(),
                None => format!("line-{}", row + 2),
            };
            for (t, event) in &events {
                let mut value = serde_json::to_value(event).map_err(|e| e.to_string())?;
                if let Some(obj) = value.as_object_mut() {
                    obj.insert("visitor".into(), visitor.clone().into());
                    obj.insert("ts".into(), (*t).into());
                }
                writeln!(out, "{value}").map_err(|e| e.to_string())?;
            }
        }
        if k % 4096 == 0 {
            bar.set_position(k as u64);
        }
    }
    bar.finish_and_clear();
    if let Some(mut out) = events_out {
        out.flush().map_err(|e| e.to_string())?;
    }

    let probs: Option<Vec<f64>> = probabilities.iter().copied().collect();
    let mut tier_names: Vec<String> = m.tiers.iter().map(|t| t.name.clone()).collect();
    tier_names.push(UNQUALIFIED.to_string());
    let report = Report {
        model: m.id.clone(),
        model_version: m.model_version.clone(),
        rows: match which {
            Rows::Train => "train",
            Rows::Test => "test",
            Rows::All => "all",
        },
        leads: rows.len(),
        converted: labels.iter().filter(|y| **y).count(),
        roc_auc: metrics::roc_auc(&totals, &labels),
        log_loss: probs.as_ref().map(|p| metrics::log_loss(p, &labels)),
        brier: probs.as_ref().map(|p| metrics::brier(p, &labels)),
        calibration: probs
            .as_ref()
            .map(|p| metrics::calibration_table(p, &labels, args.bins))
            .unwrap_or_default(),
        tiers: metrics::tier_table(&tier_names, &tiers, &labels),
        rejected_events: rejected,
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?
        );
    } else {
        print_report(&report);
    }
    if rejected > 0 {
        eprintln!(
            "warning: the engine rejected {rejected} replayed events (values too long or invalid)"
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn print_report(r: &Report) {
    let rate = r.converted as f64 / r.leads.max(1) as f64;
    println!(
        "{} {} on {} {} leads ({} converted, {:.1} %), scored through the engine",
        r.model,
        r.model_version,
        r.leads,
        r.rows,
        r.converted,
        100.0 * rate
    );
    let opt = |v: Option<f64>| {
        v.map_or_else(
            || "n/a (the model has no calibration)".to_string(),
            |x| format!("{x:.4}"),
        )
    };
    println!(
        "ROC AUC   {}",
        r.roc_auc
            .map_or_else(|| "n/a (one class only)".to_string(), |a| format!("{a:.4}"))
    );
    println!("log loss  {}", opt(r.log_loss));
    println!("Brier     {}", opt(r.brier));
    println!();
    println!(
        "{:<14} {:>7} {:>7} {:>10} {:>10} {:>6}",
        "tier", "leads", "share", "converted", "rate", "lift"
    );
    for t in &r.tiers {
        println!(
            "{:<14} {:>7} {:>6.1}% {:>10} {:>9.1}% {:>6.2}",
            t.tier,
            t.leads,
            100.0 * t.share,
            t.converted,
            100.0 * t.conversion_rate,
            t.lift
        );
    }
    if !r.calibration.is_empty() {
        println!();
        println!(
            "calibration: predicted vs observed conversion, leads grouped by predicted probability"
        );
        println!(
            "{:>15} {:>7} {:>10} {:>9}",
            "predicted", "leads", "mean", "observed"
        );
        for b in &r.calibration {
            println!(
                "{:>6.3} – {:<6.3} {:>7} {:>9.1}% {:>8.1}%",
                b.low,
                b.high,
                b.leads,
                100.0 * b.predicted,
                100.0 * b.observed
            );
        }
    }
}
