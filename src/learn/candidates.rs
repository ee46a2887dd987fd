//! Candidate rules: every rule a column could give, before any fitting.
//!
//! Per column:
//! - categorical answers and `source` values: one rule per level with at least `min_leads`
//!   training leads. "Missing" (empty, `Select`, …) is its own level and the reference: it gets
//!   no rule, because a visitor who never answered sends no answer event. When fewer than
//!   `min_leads` training leads miss the value, the most frequent level joins the reference
//!   instead of getting a rule that would duplicate the intercept. Rare answer levels are pooled
//!   into one `one_of` rule (when the pool itself has `min_leads` leads); rare `source` values and
//!   values never seen in training count as missing.
//! - numeric signals: binned (see [`super::binning`]) and written as cumulative steps
//!   (`visits.at_least`, `time_on_site.at_least_seconds`, `answer.min`, …), each with its own,
//!   possibly negative, points.
//! - `download` / `form` / `event` columns: one rule that fires when the value says it happened.
//!
//! The result is a [`Design`]: the candidates and, per used column, which candidates each
//! distinct value switches on — the sparse rows the fitters learn from.

use super::binning::{self, BinOptions, Tally};
use super::data::Table;
use super::error::LearnError;
use super::layout::{normalise, ColumnSpec, Layout, Resolved};
use super::logistic::SparseRows;
use super::replay::{self, happened, signal_value};
use super::report::ColumnReport;
use crate::model::Entries;
use crate::model::{Decay, Dimension, Frequency, Matcher, QueryCondition, QueryTest, Rule};
use std::collections::{BTreeMap, HashMap};

/// Most rare values pooled into one `one_of` rule; a column with more rare values than this
/// (an id, a free-text field) gets no pooled rule.
const MAX_POOLED_VALUES: usize = 200;

/// One candidate rule and the column it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub rule: Rule,
    /// Index into `Layout::specs`.
    pub spec: usize,
}

/// Candidate rules and, per used column, the candidates each distinct value switches on.
pub struct Design<'a> {
    pub candidates: Vec<Candidate>,
    pub columns: Vec<DesignColumn<'a>>,
    /// Compound candidates (interactions): on where two candidates of two columns are both on.
    pub pairs: Vec<Pair>,
    pub rows: &'a [u32],
    pub labels: &'a [bool],
}

/// A compound candidate: `candidate` is on where candidate `a` of design column `column_a`
/// and candidate `b` of design column `column_b` are both on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pair {
    pub candidate: u32,
    pub column_a: usize,
    pub a: u32,
    pub column_b: usize,
    pub b: u32,
}

/// The `spec` of a compound candidate: it belongs to no single column.
pub const NO_SPEC: usize = usize::MAX;

/// One used column: its codes per table row and the candidates each code switches on.
pub struct DesignColumn<'a> {
    /// Index into `Layout::specs`.
    pub spec: usize,
    pub codes: &'a [u32],
    pub by_code: Vec<Vec<u32>>,
}

impl DesignColumn<'_> {
    /// The candidates table row `row` switches on in this column.
    pub fn active(&self, row: usize) -> &[u32] {
        self.codes
            .get(row)
            .and_then(|&c| self.by_code.get(c as usize))
            .map_or(&[], Vec::as_slice)
    }
}

impl Design<'_> {
    /// Appends the candidates that table row `row` switches on.
    pub fn actives(&self, row: usize, out: &mut Vec<u32>) {
        for column in &self.columns {
            out.extend_from_slice(column.active(row));
        }
        for pair in &self.pairs {
            if self.pair_on(pair, row) {
                out.push(pair.candidate);
            }
        }
    }

    /// True when both candidates of a compound candidate are on for table row `row`.
    pub fn pair_on(&self, pair: &Pair, row: usize) -> bool {
        let on = |column: usize, candidate: u32| {
            self.columns
                .get(column)
                .is_some_and(|c| c.active(row).contains(&candidate))
        };
        on(pair.column_a, pair.a) && on(pair.column_b, pair.b)
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
        for column in &self.columns {
            out.extend(column.active(r as usize).iter().map(|&j| (j, 1.0)));
        }
        for pair in &self.pairs {
            if self.pair_on(pair, r as usize) {
                out.push((pair.candidate, 1.0));
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

pub fn signal_name(s: &Resolved) -> &'static str {
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
                    query: Entries::from([(
                        parameter.clone(),
                        QueryCondition::Equals(level.display.clone()),
                    )]),
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
    // Rare and unseen sources: one `other_than` rule for a parameter present with none of the
    // frequent values (a missing parameter stays the reference).
    let mut other: Option<u32> = None;
    if let Resolved::Source { parameter, path } = &spec.signal {
        let rare_leads: u64 = rare.iter().map(|l| l.leads).sum();
        if rare_leads >= min_leads && !frequent.is_empty() {
            let mut values: Vec<String> = frequent.iter().map(|l| l.display.clone()).collect();
            values.sort();
            other = Some(candidates.len() as u32);
            candidates.push(Candidate {
                rule: rule(
                    format!("{col_slug}:other-values"),
                    format!(
                        "{} ({parameter}) is present and none of the {} frequent values",
                        spec.name,
                        values.len()
                    ),
                    Matcher::Page {
                        path: path.clone(),
                        query: Entries::from([(
                            parameter.clone(),
                            QueryCondition::Test(QueryTest::OtherThan(values)),
                        )]),
                    },
                    spec.dimension,
                ),
                spec: spec_index,
            });
        }
    }
    let frequent_keys: Vec<&str> = frequent.iter().map(|l| l.key.as_str()).collect();
    dictionary
        .iter()
        .map(|v| {
            let key = normalise(v);
            match key_to_candidate.get(&key) {
                Some(&c) => vec![c],
                None => match other {
                    Some(c)
                        if !layout.missing.contains(&key)
                            && !frequent_keys.contains(&key.as_str()) =>
                    {
                        vec![c]
                    }
                    _ => Vec::new(),
                },
            }
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

/// The candidates of every column and the design the fitters learn from, with a report per
/// column (its `rules` are counted later, when points are known).
pub struct Proposed<'a> {
    pub design: Design<'a>,
    pub reports: Vec<ColumnReport>,
}

/// Proposes the candidate rules of every column of `layout` from the training `rows`.
pub fn propose<'a>(
    table: &'a Table,
    layout: &Layout,
    labels: &'a [bool],
    rows: &'a [u32],
    bins: &BinOptions,
    warnings: &mut Vec<String>,
) -> Result<Proposed<'a>, LearnError> {
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
                bins.min_leads,
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
                    bins,
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
        columns.push(DesignColumn {
            spec: spec_index,
            codes: column.codes(),
            by_code,
        });
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

    Ok(Proposed {
        design: Design {
            candidates,
            columns,
            pairs: Vec::new(),
            rows,
            labels,
        },
        reports,
    })
}
