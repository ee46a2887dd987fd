//! Learning a points scorecard: columns → candidate rules → logistic regression → integer
//! points, calibration and tier thresholds → a model file the widget runs unchanged.
//!
//! Candidate rules per column:
//! - categorical answers and `source` values: one rule per level with at least `min_leads`
//!   training leads. "Missing" (empty, `Select`, …) is its own level and the reference: it gets
//!   no rule, because a visitor who never answered sends no answer event. When fewer than
//!   `min_leads` training leads miss the value, the most frequent level joins the reference
//!   instead of getting a rule that would duplicate the intercept. Rare answer levels are pooled
//!   into one `one_of` rule (when the pool itself has `min_leads` leads); rare `source` values and
//!   values never seen in training count as missing.
//! - numeric signals: binned (see [`super::binning`]) and written as cumulative steps
//!   (`visits.at_least`, `time_on_site.at_least_seconds`, `answer.min`, …), each with its own,
//!   possibly negative, points. The L2 penalty on step weights shrinks neighbouring bins towards
//!   each other, which smooths the learned curve where the data are thin.
//! - `download` / `form` / `event` columns: one rule that fires when the value says it happened.
//!
//! Points: `points = round(weight × pdo / ln 2)`, so every `pdo` points double the odds of
//! converting; rules that round to 0 points are left out. The calibration
//! (`p = 1 / (1 + e^{−(a + b·total)})`) is a one-feature logistic regression on the score: on the
//! out-of-fold scores of the cross-validation when the penalty was cross-validated (so it is not
//! over-confident about the leads the points were learned from), else on the training totals.
//! It absorbs the intercept, so totals need no offset.
//!
//! Tiers: `SQL` and `MQL` get a `min.total` chosen by the user's targets (see [`super::tiers`]) on
//! the out-of-fold scores when there are any, else on the training totals. Finally the first training leads are replayed through the engine and
//! must score exactly the scorecard's totals.

use super::binning::{self, BinOptions, Tally};
use super::data::{parse_label, Table};
use super::logistic::{self, Fit, FitOptions, OneFeature, SparseRows};
use super::mapping::{normalise, ColumnSpec, Layout, Resolved};
use super::replay::{self, happened, signal_value};
use super::rng::SplitMix64;
use super::tiers::{self, Choice, Target};
use crate::engine::{self, State};
use crate::model::Entries;
use crate::model::{
    Calibration, Decay, Dimension, Evidence, Frequency, Limits, Matcher, Model, Rule, Thresholds,
    Tier, ValidModel, FORMAT_VERSION,
};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::fmt;

/// Most rules a model may hold (the validator's limit).
const MAX_RULES: usize = 1000;
/// Most rare values pooled into one `one_of` rule; a column with more rare values than this
/// (an id, a free-text field) gets no pooled rule.
const MAX_POOLED_VALUES: usize = 200;
/// Most leads used to cross-validate the penalty.
pub const CV_MAX_ROWS: usize = 100_000;

/// How the L2 penalty is chosen.
#[derive(Debug, Clone, PartialEq)]
pub enum Penalty {
    /// This penalty.
    Fixed(f64),
    /// The grid value with the lowest `folds`-fold cross-validated log loss on the training rows.
    CrossValidated { grid: Vec<f64>, folds: u8 },
}

/// Everything `train` can be told.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainOptions {
    pub bins: BinOptions,
    pub penalty: Penalty,
    /// Points that double the odds.
    pub pdo: f64,
    /// Seed for the cross-validation folds.
    pub seed: u64,
    /// Threshold target of the SQL tier (`None`: no SQL tier).
    pub sql: Option<Target>,
    /// Threshold target of the MQL tier (`None`: no MQL tier).
    pub mql: Option<Target>,
    /// Model id and version written into the model.
    pub id: String,
    pub model_version: String,
}

impl Default for TrainOptions {
    fn default() -> TrainOptions {
        TrainOptions {
            bins: BinOptions::default(),
            penalty: Penalty::CrossValidated {
                grid: vec![0.3, 1.0, 3.0, 10.0, 30.0],
                folds: 5,
            },
            pdo: 20.0,
            seed: 1,
            sql: Some(Target::Precision(0.8)),
            mql: Some(Target::Share(0.5)),
            id: "learned".into(),
            model_version: "1".into(),
        }
    }
}

/// Why learning failed.
#[derive(Debug, Clone, PartialEq)]
pub struct LearnError(pub String);

impl fmt::Display for LearnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LearnError {}

impl From<logistic::FitError> for LearnError {
    fn from(e: logistic::FitError) -> LearnError {
        LearnError(e.to_string())
    }
}

/// The label of every row of the table; an error names the values that are not binary.
pub fn labels(table: &Table, layout: &Layout) -> Result<Vec<bool>, LearnError> {
    let column = table
        .columns
        .get(layout.label)
        .ok_or_else(|| LearnError("label column missing".into()))?;
    let parsed: Vec<Option<bool>> = column.dictionary().iter().map(|v| parse_label(v)).collect();
    let mut bad: Vec<&str> = column
        .dictionary()
        .iter()
        .zip(&parsed)
        .filter(|(_, p)| p.is_none())
        .map(|(v, _)| v.as_str())
        .collect();
    if !bad.is_empty() {
        bad.sort_unstable();
        let first_row = column
            .codes()
            .iter()
            .position(|&c| parsed.get(c as usize).copied().flatten().is_none())
            .unwrap_or(0);
        let shown: Vec<String> = bad.iter().take(5).map(|v| format!("{v:?}")).collect();
        return Err(LearnError(format!(
            "label column {:?} is not binary: line {} has {:?}; values that are neither 0/1 nor yes/no: {}{}",
            column.name,
            first_row + 2,
            column.value(first_row),
            shown.join(", "),
            if bad.len() > 5 { format!(" and {} more", bad.len() - 5) } else { String::new() }
        )));
    }
    Ok(column
        .codes()
        .iter()
        .map(|&c| parsed.get(c as usize).copied().flatten().unwrap_or(false))
        .collect())
}

/// One candidate rule and the column it came from.
#[derive(Debug, Clone, PartialEq)]
struct Candidate {
    rule: Rule,
    /// Index into `Layout::specs`.
    spec: usize,
}

/// Candidate rules and, per used column, the candidates each distinct value switches on.
struct Design<'a> {
    candidates: Vec<Candidate>,
    columns: Vec<(&'a [u32], Vec<Vec<u32>>)>,
    rows: &'a [u32],
    labels: &'a [bool],
}

impl Design<'_> {
    fn actives(&self, row: usize, out: &mut Vec<u32>) {
        for (codes, by_code) in &self.columns {
            if let Some(list) = codes.get(row).and_then(|&c| by_code.get(c as usize)) {
                out.extend_from_slice(list);
            }
        }
    }
}

impl SparseRows for Design<'_> {
    fn n_rows(&self) -> usize {
        self.rows.len()
    }
    fn n_features(&self) -> usize {
        self.candidates.len()
    }
    fn row(&self, i: usize, out: &mut Vec<(u32, f64)>) {
        let Some(&r) = self.rows.get(i) else { return };
        for (codes, by_code) in &self.columns {
            if let Some(list) = codes.get(r as usize).and_then(|&c| by_code.get(c as usize)) {
                out.extend(list.iter().map(|&j| (j, 1.0)));
            }
        }
    }
    fn label(&self, i: usize) -> bool {
        self.rows
            .get(i)
            .and_then(|&r| self.labels.get(r as usize))
            .copied()
            .unwrap_or(false)
    }
}

/// What training found per column.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ColumnReport {
    pub column: String,
    /// `answer`, `number`, `visits`, …
    pub signal: &'static str,
    /// Candidate rules (levels or steps) before points were rounded.
    pub candidates: usize,
    /// Rules in the model (non-zero points).
    pub rules: usize,
    /// Cut points of a numeric column.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cuts: Vec<f64>,
}

/// A tier written into the model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TierReport {
    pub tier: String,
    #[serde(flatten)]
    pub choice: Choice,
}

/// What training did, for the person running it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainReport {
    pub leads: usize,
    pub converted: usize,
    /// The penalty used, and the cross-validated log loss per penalty tried.
    pub l2: f64,
    pub cross_validation: Vec<(f64, f64)>,
    pub iterations: usize,
    pub columns: Vec<ColumnReport>,
    pub tiers: Vec<TierReport>,
    /// Which scores the tier thresholds were placed on: `out-of-fold` or `training`.
    pub tier_scores: &'static str,
    /// ROC AUC of the integer totals on the training leads.
    pub train_auc: f64,
    pub warnings: Vec<String>,
}

/// A learned model and its report.
#[derive(Debug, Clone, PartialEq)]
pub struct Trained {
    pub model: Model,
    pub report: TrainReport,
}

fn signal_name(s: &Resolved) -> &'static str {
    match s {
        Resolved::Answer { .. } => "answer",
        Resolved::Number { .. } => "number",
        Resolved::Visits { .. } => "visits",
        Resolved::TimeOnSite { .. } => "time_on_site",
        Resolved::DistinctPages { .. } => "distinct_pages",
        Resolved::Source { .. } => "source",
        Resolved::Download { .. } => "download",
        Resolved::Form { .. } => "form",
        Resolved::Event { .. } => "event",
    }
}

/// Lower-case letters, digits and single dashes.
pub fn slug(text: &str, max: usize) -> String {
    let mut out = String::new();
    for ch in text.trim().chars() {
        if ch.is_ascii_alphanumeric() || ch == '.' {
            out.push(ch.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let mut out: String = out.trim_end_matches('-').chars().take(max).collect();
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() {
        out.push('x');
    }
    out
}

/// The first part of a rule id: the question for answers, else the column name.
fn rule_prefix(spec: &ColumnSpec) -> String {
    match &spec.signal {
        Resolved::Answer { question } | Resolved::Number { question, .. } => slug(question, 60),
        _ => slug(&spec.name, 60),
    }
}

/// A number as written in ids and descriptions (`5`, `2.5`).
pub fn number_text(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        format!("{x}")
    }
}

fn rule(id: String, description: String, when: Matcher, dimension: Dimension) -> Rule {
    Rule {
        id,
        description: Some(description),
        when,
        dimension,
        points: 0,
        frequency: Frequency::Once,
        decay: Decay::Never,
        evidence: None,
    }
}

/// Leads and conversions per dictionary code, over the training rows.
fn tally_codes(codes: &[u32], size: usize, rows: &[u32], labels: &[bool]) -> Vec<(u64, u64)> {
    let mut t = vec![(0u64, 0u64); size];
    for &r in rows {
        if let Some(slot) = codes.get(r as usize).and_then(|&c| t.get_mut(c as usize)) {
            slot.0 += 1;
            slot.1 += u64::from(labels.get(r as usize).copied().unwrap_or(false));
        }
    }
    t
}

struct Level {
    key: String,
    display: String,
    leads: u64,
}

/// Candidates for a categorical column; returns the candidate index per code.
fn categorical(
    spec_index: usize,
    spec: &ColumnSpec,
    dictionary: &[String],
    tallies: &[(u64, u64)],
    layout: &Layout,
    min_leads: u64,
    candidates: &mut Vec<Candidate>,
) -> Vec<Vec<u32>> {
    // Per normalised key: leads, and the leads of each spelling.
    let mut keys: BTreeMap<String, (u64, BTreeMap<String, u64>)> = BTreeMap::new();
    let mut missing = 0u64;
    for (value, &(leads, _)) in dictionary.iter().zip(tallies) {
        let key = normalise(value);
        if layout.missing.contains(&key) {
            missing += leads;
            continue;
        }
        if leads == 0 {
            continue;
        }
        let entry = keys.entry(key).or_default();
        entry.0 += leads;
        *entry.1.entry(value.trim().to_string()).or_default() += leads;
    }
    let mut levels: Vec<Level> = keys
        .into_iter()
        .map(|(key, (leads, spellings))| {
            let display = spellings
                .iter()
                .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
                .map_or_else(|| key.clone(), |(s, _)| s.clone());
            Level {
                key,
                display,
                leads,
            }
        })
        .collect();
    levels.sort_by(|a, b| b.leads.cmp(&a.leads).then_with(|| a.key.cmp(&b.key)));
    let (frequent, rare): (Vec<&Level>, Vec<&Level>) =
        levels.iter().partition(|l| l.leads >= min_leads);
    // The reference level gets no rule: missing, or the most frequent level when almost
    // nothing is missing.
    let skip_first = missing < min_leads && !frequent.is_empty();
    let pooled = matches!(spec.signal, Resolved::Answer { .. })
        && rare.iter().map(|l| l.leads).sum::<u64>() >= min_leads
        && rare.len() >= 2
        && rare.len() <= MAX_POOLED_VALUES;

    let col_slug = rule_prefix(spec);
    let mut key_to_candidate: HashMap<String, u32> = HashMap::new();
    for level in frequent.iter().skip(usize::from(skip_first)) {
        let index = candidates.len() as u32;
        let (when, description) = match &spec.signal {
            Resolved::Source { parameter, path } => (
                Matcher::Page {
                    path: path.clone(),
                    query: Entries::from([(parameter.clone(), level.display.clone())]),
                },
                format!("{} ({parameter}) is {:?}", spec.name, level.display),
            ),
            Resolved::Answer { question } => (
                Matcher::Answer {
                    question: question.clone(),
                    equals: Some(level.display.clone()),
                    one_of: None,
                    min: None,
                    max: None,
                },
                format!("{} is {:?}", spec.name, level.display),
            ),
            _ => continue,
        };
        candidates.push(Candidate {
            rule: rule(
                format!("{col_slug}:{}", slug(&level.display, 60)),
                description,
                when,
                spec.dimension,
            ),
            spec: spec_index,
        });
        key_to_candidate.insert(level.key.clone(), index);
    }
    if pooled {
        if let Resolved::Answer { question } = &spec.signal {
            let index = candidates.len() as u32;
            let mut values: Vec<String> = rare.iter().map(|l| l.display.clone()).collect();
            values.sort();
            candidates.push(Candidate {
                rule: rule(
                    format!("{col_slug}:rare-values"),
                    format!("{} is one of {} rare values", spec.name, values.len()),
                    Matcher::Answer {
                        question: question.clone(),
                        equals: None,
                        one_of: Some(values),
                        min: None,
                        max: None,
                    },
                    spec.dimension,
                ),
                spec: spec_index,
            });
            for level in &rare {
                key_to_candidate.insert(level.key.clone(), index);
            }
        }
    }
    dictionary
        .iter()
        .map(|v| {
            key_to_candidate
                .get(&normalise(v))
                .map_or_else(Vec::new, |&c| vec![c])
        })
        .collect()
}

/// Candidates for a numeric column; returns the candidates per code and the cut points.
fn numeric(
    spec_index: usize,
    spec: &ColumnSpec,
    dictionary: &[String],
    tallies: &[(u64, u64)],
    layout: &Layout,
    options: &BinOptions,
    candidates: &mut Vec<Candidate>,
) -> (Vec<Vec<u32>>, Vec<f64>) {
    let values: Vec<Option<f64>> = dictionary
        .iter()
        .map(|v| signal_value(&spec.signal, v, layout))
        .collect();
    let collected = binning::collect(
        values
            .iter()
            .zip(tallies)
            .filter_map(|(v, &(leads, converted))| {
                v.map(|value| Tally {
                    value,
                    leads,
                    converted,
                })
            })
            .collect(),
    );
    let opts = BinOptions {
        max_bins: spec.signal.max_bins().unwrap_or(options.max_bins),
        ..*options
    };
    let mut cuts = binning::cut_points(&collected, &opts);
    // Thresholds the engine can express: whole counts and seconds, within range.
    match spec.signal {
        Resolved::Visits { .. } => {
            cuts = cuts
                .into_iter()
                .map(f64::ceil)
                .filter(|t| *t >= 2.0 && *t <= replay::MAX_VISITS)
                .collect();
        }
        Resolved::DistinctPages { .. } => {
            cuts = cuts
                .into_iter()
                .map(f64::ceil)
                .filter(|t| *t >= 2.0 && *t <= f64::from(crate::model::MAX_DISTINCT_PAGES))
                .collect();
        }
        Resolved::TimeOnSite { .. } => {
            cuts = cuts
                .into_iter()
                .map(f64::ceil)
                .filter(|t| *t >= 1.0 && *t <= f64::from(u32::MAX))
                .collect();
        }
        _ => {}
    }
    cuts.dedup();
    let col_slug = rule_prefix(spec);
    let first = candidates.len() as u32;
    for &t in &cuts {
        let (when, unit) = match &spec.signal {
            Resolved::Visits { .. } => (Matcher::Visits { at_least: t as u32 }, " visits"),
            Resolved::DistinctPages { .. } => (
                Matcher::DistinctPages { at_least: t as u32 },
                " distinct pages",
            ),
            Resolved::TimeOnSite { .. } => (
                Matcher::TimeOnSite {
                    at_least_seconds: t as u32,
                },
                " s on site",
            ),
            Resolved::Number { question, .. } => (
                Matcher::Answer {
                    question: question.clone(),
                    equals: None,
                    one_of: None,
                    min: Some(t),
                    max: None,
                },
                "",
            ),
            _ => continue,
        };
        candidates.push(Candidate {
            rule: rule(
                format!("{col_slug}:at-least-{}", slug(&number_text(t), 40)),
                format!("{} at least {}{unit} (step)", spec.name, number_text(t)),
                when,
                spec.dimension,
            ),
            spec: spec_index,
        });
    }
    let by_code = values
        .iter()
        .map(|v| match v {
            Some(x) => cuts
                .iter()
                .enumerate()
                .filter(|(_, t)| *x >= **t)
                .map(|(k, _)| first + k as u32)
                .collect(),
            None => Vec::new(),
        })
        .collect();
    (by_code, cuts)
}

/// Candidate for a `download` / `form` / `event` column.
fn occurrence(
    spec_index: usize,
    spec: &ColumnSpec,
    dictionary: &[String],
    tallies: &[(u64, u64)],
    candidates: &mut Vec<Candidate>,
) -> Vec<Vec<u32>> {
    let yes: Vec<bool> = dictionary
        .iter()
        .map(|v| happened(&spec.signal, v))
        .collect();
    let seen: u64 = yes
        .iter()
        .zip(tallies)
        .filter(|(y, _)| **y)
        .map(|(_, t)| t.0)
        .sum();
    if seen == 0 {
        return vec![Vec::new(); dictionary.len()];
    }
    let (when, what) = match &spec.signal {
        Resolved::Download { url, .. } => (
            Matcher::Download {
                url: Some(url.clone()),
                extensions: Vec::new(),
            },
            format!("downloaded {url}"),
        ),
        Resolved::Form { id, .. } => (
            Matcher::Form {
                id: Some(id.clone()),
                name: None,
            },
            format!("submitted form {id}"),
        ),
        Resolved::Event { name, .. } => (
            Matcher::Event {
                name: name.clone(),
                properties: Entries::new(),
            },
            format!("event {name}"),
        ),
        _ => return vec![Vec::new(); dictionary.len()],
    };
    let index = candidates.len() as u32;
    candidates.push(Candidate {
        rule: rule(
            slug(&spec.name, 100),
            format!("{}: {what}", spec.name),
            when,
            spec.dimension,
        ),
        spec: spec_index,
    });
    yes.iter()
        .map(|&y| if y { vec![index] } else { Vec::new() })
        .collect()
}

/// Points for a weight: `round(weight × pdo / ln 2)`, saturating.
pub fn points(weight: f64, pdo: f64) -> i32 {
    let scaled = (weight * pdo / std::f64::consts::LN_2).round();
    if scaled.is_nan() {
        0
    } else {
        scaled.clamp(f64::from(i32::MIN), f64::from(i32::MAX)) as i32
    }
}

/// A fit, the penalty it used, and what cross-validation found.
pub(crate) struct Penalised {
    pub fit: Fit,
    pub l2: f64,
    /// `(penalty, held-out log loss)` per penalty tried (empty for a fixed penalty).
    pub cross_validation: Vec<(f64, f64)>,
    /// Rows (indices into the fitted rows) with their out-of-fold linear predictor at the
    /// chosen penalty.
    pub held_out: Option<(Vec<usize>, Vec<f64>)>,
}

/// Chooses the penalty (cross-validating when asked) and fits.
pub(crate) fn fit_penalised(
    rows: &dyn SparseRows,
    penalty: &Penalty,
    seed: u64,
) -> Result<Penalised, LearnError> {
    let base = FitOptions::default();
    let (l2, cross_validation, held_out) = match penalty {
        Penalty::Fixed(l2) => (*l2, Vec::new(), None),
        Penalty::CrossValidated { grid, folds } => {
            let k = (*folds).max(2);
            let mut rng = SplitMix64::new(seed);
            // On large files the penalty is chosen on a random subsample: the penalty acts as a
            // prior on the weights (it does not grow with the number of leads), and the
            // full-size fit below still uses every lead.
            let n = rows.n_rows();
            let sample: Vec<usize> = if n > CV_MAX_ROWS {
                (0..n)
                    .filter(|_| rng.below(n as u64) < CV_MAX_ROWS as u64)
                    .collect()
            } else {
                (0..n).collect()
            };
            let subset = logistic::Subset {
                rows,
                index: &sample,
            };
            let fold: Vec<u8> = (0..sample.len())
                .map(|_| rng.below(u64::from(k)) as u8)
                .collect();
            let cv = logistic::cross_validate(&subset, &fold, k, grid, &base)?;
            let best = cv
                .loss
                .iter()
                .enumerate()
                .min_by(|a, b| a.1 .1.total_cmp(&b.1 .1))
                .map_or(0, |(g, _)| g);
            let l2 = cv.loss.get(best).map_or(1.0, |&(l2, _)| l2);
            let scores = cv.held_out.get(best).cloned().unwrap_or_default();
            (l2, cv.loss, Some((sample, scores)))
        }
    };
    let fit = logistic::fit(rows, &FitOptions { l2, ..base }, None)?;
    Ok(Penalised {
        fit,
        l2,
        cross_validation,
        held_out,
    })
}

/// The calibration of a fitted scorecard. With out-of-fold scores it is fitted on them (in
/// points: linear predictor × `pdo / ln 2`), so it reflects how the points rank leads they
/// were not learned from; otherwise on the training totals.
pub(crate) fn calibrate_fitted(
    penalised: &Penalised,
    rows: &dyn SparseRows,
    pdo: f64,
    totals: &[i64],
    labels: &[bool],
) -> Result<Calibration, LearnError> {
    match &penalised.held_out {
        Some((sample, scores)) if !sample.is_empty() => {
            let scale = pdo / std::f64::consts::LN_2;
            let values: Vec<f64> = scores.iter().map(|s| s * scale).collect();
            let ys: Vec<bool> = sample.iter().map(|&i| rows.label(i)).collect();
            platt(&values, &ys)
        }
        _ => calibrate(totals, labels),
    }
}

/// Out-of-fold totals (in points) and labels of the cross-validated leads, if any.
pub(crate) fn held_out_totals(
    penalised: &Penalised,
    rows: &dyn SparseRows,
    pdo: f64,
) -> Option<(Vec<i64>, Vec<bool>)> {
    let (sample, scores) = penalised.held_out.as_ref()?;
    if sample.is_empty() {
        return None;
    }
    let scale = pdo / std::f64::consts::LN_2;
    Some((
        scores.iter().map(|s| (s * scale).round() as i64).collect(),
        sample.iter().map(|&i| rows.label(i)).collect(),
    ))
}

/// Platt calibration of integer totals.
pub(crate) fn calibrate(totals: &[i64], labels: &[bool]) -> Result<Calibration, LearnError> {
    let values: Vec<f64> = totals.iter().map(|&t| t as f64).collect();
    platt(&values, labels)
}

/// Platt calibration: an unpenalised one-feature logistic fit of the labels on the scores.
fn platt(values: &[f64], labels: &[bool]) -> Result<Calibration, LearnError> {
    let rows = OneFeature { values, labels };
    let fit = logistic::fit(
        &rows,
        &FitOptions {
            l2: 0.0,
            ..FitOptions::default()
        },
        None,
    )?;
    Ok(Calibration {
        intercept: fit.intercept,
        slope: fit.weights.first().copied().unwrap_or(0.0),
    })
}

/// Tiers from the targets, highest first; warnings for targets that cannot be met.
pub(crate) fn choose_tiers(
    totals: &[i64],
    labels: &[bool],
    sql: Option<Target>,
    mql: Option<Target>,
    min_leads: usize,
    warnings: &mut Vec<String>,
) -> Vec<TierReport> {
    let mut out: Vec<TierReport> = Vec::new();
    let describe = |t: Target| match t {
        Target::Precision(p) => format!("a conversion rate of {:.0} %", p * 100.0),
        Target::Share(s) => format!("a share of {:.0} %", s * 100.0),
    };
    if let Some(target) = sql {
        match tiers::choose(totals, labels, target, min_leads) {
            Some(choice) => out.push(TierReport { tier: "SQL".into(), choice }),
            None => warnings.push(format!(
                "no SQL tier: no score threshold reaches {} on the training leads (with at least {min_leads} leads)",
                describe(target)
            )),
        }
    }
    if let Some(target) = mql {
        match tiers::choose(totals, labels, target, min_leads) {
            Some(choice) => {
                if out
                    .first()
                    .is_some_and(|sql| choice.threshold >= sql.choice.threshold)
                {
                    warnings.push(format!(
                        "no MQL tier: {} is already met by the SQL tier (threshold {})",
                        describe(target),
                        choice.threshold
                    ));
                } else {
                    out.push(TierReport {
                        tier: "MQL".into(),
                        choice,
                    });
                }
            }
            None => warnings.push(format!(
                "no MQL tier: no threshold reaches {}",
                describe(target)
            )),
        }
    }
    out
}

/// Learns a scorecard from the training `rows` of `table`.
pub fn train(
    table: &Table,
    layout: &Layout,
    labels: &[bool],
    rows: &[u32],
    options: &TrainOptions,
) -> Result<Trained, LearnError> {
    let converted = rows
        .iter()
        .filter(|&&r| labels.get(r as usize).copied().unwrap_or(false))
        .count();
    if rows.is_empty() {
        return Err(LearnError("no training rows".into()));
    }
    if converted == 0 || converted == rows.len() {
        return Err(LearnError(format!(
            "all {} training leads have the same label ({}): a model needs both converted and unconverted leads",
            rows.len(),
            if converted == 0 { "not converted" } else { "converted" }
        )));
    }
    let mut warnings = Vec::new();
    let mut candidates = Vec::new();
    let mut columns = Vec::new();
    let mut reports = Vec::new();
    for (spec_index, spec) in layout.specs.iter().enumerate() {
        let Some(column) = table.columns.get(spec.column) else {
            continue;
        };
        let tallies = tally_codes(column.codes(), column.dictionary().len(), rows, labels);
        let before = candidates.len();
        let mut cuts = Vec::new();
        let by_code = match &spec.signal {
            Resolved::Answer { .. } | Resolved::Source { .. } => categorical(
                spec_index,
                spec,
                column.dictionary(),
                &tallies,
                layout,
                options.bins.min_leads,
                &mut candidates,
            ),
            Resolved::Number { .. }
            | Resolved::Visits { .. }
            | Resolved::TimeOnSite { .. }
            | Resolved::DistinctPages { .. } => {
                let (by_code, c) = numeric(
                    spec_index,
                    spec,
                    column.dictionary(),
                    &tallies,
                    layout,
                    &options.bins,
                    &mut candidates,
                );
                cuts = c;
                by_code
            }
            Resolved::Download { .. } | Resolved::Form { .. } | Resolved::Event { .. } => {
                occurrence(
                    spec_index,
                    spec,
                    column.dictionary(),
                    &tallies,
                    &mut candidates,
                )
            }
        };
        reports.push(ColumnReport {
            column: spec.name.clone(),
            signal: signal_name(&spec.signal),
            candidates: candidates.len() - before,
            rules: 0,
            cuts,
        });
        if matches!(spec.signal, Resolved::Answer { .. }) {
            let distinct = tallies.iter().filter(|t| t.0 > 0).count();
            if distinct > MAX_POOLED_VALUES && distinct * 2 > rows.len() {
                warnings.push(format!(
                    "column {:?} has {distinct} different values for {} leads: an id or free text? (leave it out with --ignore)",
                    spec.name,
                    rows.len()
                ));
            }
        }
        if candidates.len() == before {
            warnings.push(format!(
                "column {:?} gives no rule (no level or step with enough leads)",
                spec.name
            ));
            continue;
        }
        columns.push((column.codes(), by_code));
    }
    if candidates.is_empty() {
        return Err(LearnError(
            "no column gives any candidate rule: nothing to learn from".into(),
        ));
    }
    // Unique rule ids.
    let mut seen: HashMap<String, usize> = HashMap::new();
    for c in &mut candidates {
        let n = seen.entry(c.rule.id.clone()).or_insert(0);
        *n += 1;
        if *n > 1 {
            c.rule.id = format!("{}-{}", c.rule.id, n);
        }
    }

    let design = Design {
        candidates,
        columns,
        rows,
        labels,
    };
    let penalised = fit_penalised(&design, &options.penalty, options.seed)?;
    let fit = &penalised.fit;
    let (l2, cross_validation) = (penalised.l2, penalised.cross_validation.clone());
    if !fit.converged {
        warnings.push(format!(
            "the fit stopped after {} iterations before converging",
            fit.iterations
        ));
    }

    // Integer points, evidence, totals.
    let pts: Vec<i32> = fit
        .weights
        .iter()
        .map(|&w| points(w, options.pdo))
        .collect();
    let mut covered = vec![(0u64, 0u64); design.candidates.len()];
    let mut totals = Vec::with_capacity(rows.len());
    let mut train_labels = Vec::with_capacity(rows.len());
    let mut active = Vec::new();
    for &r in rows {
        active.clear();
        design.actives(r as usize, &mut active);
        let y = labels.get(r as usize).copied().unwrap_or(false);
        let mut total = 0i64;
        for &j in &active {
            total += i64::from(pts.get(j as usize).copied().unwrap_or(0));
            if let Some(c) = covered.get_mut(j as usize) {
                c.0 += 1;
                c.1 += u64::from(y);
            }
        }
        totals.push(total);
        train_labels.push(y);
    }
    let mut model_rules = Vec::new();
    for ((candidate, &p), &(leads, conv)) in design.candidates.iter().zip(&pts).zip(&covered) {
        if p == 0 {
            continue;
        }
        let mut rule = candidate.rule.clone();
        rule.points = p;
        rule.evidence = Some(Evidence {
            leads,
            conversion_rate: if leads > 0 {
                conv as f64 / leads as f64
            } else {
                0.0
            },
        });
        if let Some(report) = layout
            .specs
            .get(candidate.spec)
            .and_then(|s| reports.iter_mut().find(|r| r.column == s.name))
        {
            report.rules += 1;
        }
        model_rules.push(rule);
    }
    if model_rules.is_empty() {
        return Err(LearnError(format!(
            "every rule rounded to 0 points at --pdo {}: use a larger --pdo",
            options.pdo
        )));
    }
    if model_rules.len() > MAX_RULES {
        return Err(LearnError(format!(
            "{} rules is more than a model may hold ({MAX_RULES}): raise --min-leads or lower --bins",
            model_rules.len()
        )));
    }

    let calibration = calibrate_fitted(&penalised, &design, options.pdo, &totals, &train_labels)?;
    let min_leads = usize::try_from(options.bins.min_leads).unwrap_or(usize::MAX);
    // Thresholds are placed on out-of-fold scores when there are any: in-sample totals
    // flatter the rules they were fitted with.
    let held_out = held_out_totals(&penalised, &design, options.pdo);
    let tier_scores = if held_out.is_some() {
        "out-of-fold"
    } else {
        "training"
    };
    let (tier_totals, tier_labels) =
        held_out.unwrap_or_else(|| (totals.clone(), train_labels.clone()));
    let tiers = choose_tiers(
        &tier_totals,
        &tier_labels,
        options.sql,
        options.mql,
        min_leads,
        &mut warnings,
    );
    // A threshold above every training total (possible with out-of-fold scores) would be
    // unreachable for the validator; the highest total is the strictest meaningful one.
    let highest = totals.iter().copied().max().unwrap_or(0);
    let mut tiers = tiers;
    for t in &mut tiers {
        t.choice.threshold = t.choice.threshold.min(highest);
    }
    if tiers.is_empty() {
        return Err(LearnError(format!(
            "no tier could be placed: {}",
            warnings.join("; ")
        )));
    }
    let scores: Vec<f64> = totals.iter().map(|&t| t as f64).collect();
    let train_auc = super::metrics::roc_auc(&scores, &train_labels).unwrap_or(0.5);

    let rate = converted as f64 / rows.len() as f64;
    let model = Model {
        schema: None,
        version: FORMAT_VERSION,
        id: options.id.clone(),
        model_version: options.model_version.clone(),
        description: Some(format!(
            "Learned by `leadscore train` from {} leads ({:.1} % converted). Every {} points double the odds of \
             converting; `calibration` maps a total to a conversion probability; each rule's `evidence` says how \
             many training leads it covered and how many of them converted.",
            rows.len(),
            rate * 100.0,
            number_text(options.pdo)
        )),
        session_timeout_minutes: None,
        rules: model_rules,
        limits: Limits::default(),
        tiers: tiers
            .iter()
            .map(|t| Tier {
                name: t.tier.clone(),
                min: Thresholds { total: Some(t.choice.threshold as f64), ..Thresholds::default() },
                max: Thresholds::default(),
                requires: Vec::new(),
            })
            .collect(),
        allow_demotion: true,
        calibration: Some(calibration),
    };
    let valid = ValidModel::new(model.clone())
        .map_err(|e| LearnError(format!("the learned model is invalid: {e}")))?;
    self_check(&valid, table, layout, rows, &totals)?;
    Ok(Trained {
        model,
        report: TrainReport {
            leads: rows.len(),
            converted,
            l2,
            cross_validation,
            iterations: fit.iterations,
            columns: reports,
            tiers,
            tier_scores,
            train_auc,
            warnings,
        },
    })
}

/// Replays the first training leads through the engine and checks that it gives the totals the
/// scorecard computed; a difference means the replay and the features disagree.
fn self_check(
    model: &ValidModel,
    table: &Table,
    layout: &Layout,
    rows: &[u32],
    totals: &[i64],
) -> Result<(), LearnError> {
    for (&r, &expected) in rows.iter().zip(totals).take(500) {
        let total = engine_total(model, table, layout, r as usize);
        if (total - expected as f64).abs() > 1e-9 {
            return Err(LearnError(format!(
                "internal check failed: line {} scores {total} in the engine but {expected} in the scorecard",
                r as usize + 2
            )));
        }
    }
    Ok(())
}

/// The engine's total for a row's replay.
pub fn engine_total(model: &ValidModel, table: &Table, layout: &Layout, row: usize) -> f64 {
    let mut state = State::new(model);
    let mut last = replay::START_MS;
    for (t, event) in replay::events(layout, table, row, model.session_timeout_ms()) {
        let _ = engine::apply(&mut state, model, &event, t);
        last = t;
    }
    engine::score(&state, model, last).total
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn points_follow_the_scale() {
        assert_eq!(points(std::f64::consts::LN_2, 20.0), 20);
        assert_eq!(points(-std::f64::consts::LN_2 / 2.0, 20.0), -10);
        assert_eq!(points(0.01, 20.0), 0);
        assert_eq!(points(f64::NAN, 20.0), 0);
        assert_eq!(points(1e300, 20.0), i32::MAX);
    }

    #[test]
    fn slugs_are_valid_rule_ids() {
        assert_eq!(slug("Lead Source", 60), "lead-source");
        assert_eq!(
            slug("  What is your current occupation? ", 60),
            "what-is-your-current-occupation"
        );
        assert_eq!(slug("2.5", 10), "2.5");
        assert_eq!(slug("***", 10), "x");
        assert_eq!(slug("abc def", 4), "abc");
    }
}
