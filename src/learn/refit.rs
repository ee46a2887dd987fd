//! Refitting an existing model: new points for its rules, new thresholds for its tiers.
//!
//! This is how a team retunes a hand-written model as conversion data accumulates: the rules
//! (what counts, frequencies, decay, dimensions, tier requirements) stay as written; only the
//! numbers change.
//!
//! 1. Each training lead is replayed through the engine with the existing model; the number of
//!    times each rule fired is that lead's feature vector (so rules of every kind — page
//!    patterns, frequencies, aggregates — are measured exactly as the widget counts them).
//! 2. A penalised logistic regression on those counts gives a weight per rule; points per firing
//!    are `round(weight × pdo / ln 2)`. Rules that never fired on the training leads keep
//!    their points (there is no evidence to refit them) and are listed as warnings.
//! 3. Every tier threshold is moved so that the tier keeps the share of training leads it had
//!    under the old points (quantile matching per sub-score); with an explicit
//!    `--sql-…` / `--mql-…` target, the `SQL` / `MQL` tier's `min.total` is set by the target.
//! 4. Limits written for the old points are dropped (they would clip the new scale), with a
//!    warning; the calibration is refitted on the new totals.
//! 5. Each tier's evidence counts the leads whose new scores land in it (the highest tier that
//!    holds; a required rule counts when it fired) and how many of them converted.

use super::calibration::calibrate_fitted;
use super::data::Table;
use super::error::LearnError;
use super::layout::Layout;
use super::logistic::SparseRows;
use super::metrics::roc_auc;
use super::penalised::fit_penalised;
use super::points::points;
use super::replay;
use super::report::{ColumnReport, TrainReport, Trained};
use super::scorecard::TrainOptions;
use super::tiers::{choose_tiers, tier_of, Scores, TierReport, TierTally};
use crate::engine::{self, State};
use crate::model::{reachable_max, Dimension, Evidence, Limits, Thresholds, ValidModel};
use std::collections::HashMap;

/// Rule firing counts per lead, stored row by row.
struct Counts {
    offsets: Vec<usize>,
    entries: Vec<(u32, f64)>,
    labels: Vec<bool>,
    features: usize,
}

impl SparseRows for Counts {
    fn n_rows(&self) -> usize {
        self.labels.len()
    }
    fn n_features(&self) -> usize {
        self.features
    }
    fn row(&self, i: usize, out: &mut Vec<(u32, f64)>) {
        if let (Some(&a), Some(&b)) = (self.offsets.get(i), self.offsets.get(i + 1)) {
            if let Some(slice) = self.entries.get(a..b) {
                out.extend_from_slice(slice);
            }
        }
    }
    fn label(&self, i: usize) -> bool {
        self.labels.get(i).copied().unwrap_or(false)
    }
}

fn slot(name: Option<Dimension>) -> usize {
    name.map_or(4, Dimension::index)
}

/// The loosest threshold on `new` values that keeps at most as many leads at or above
/// (`at_least`) or at or below `threshold` as `old` values had; `None` when no lead reached it,
/// or when no threshold is that strict (every lead has the same new value: a tier cut there
/// would hold for everyone or no one).
fn matched_threshold(old: &[f64], new: &[f64], threshold: f64, at_least: bool) -> Option<f64> {
    let holds = |v: f64, t: f64| if at_least { v >= t } else { v <= t };
    let hits = old.iter().filter(|&&v| holds(v, threshold)).count();
    if hits == 0 {
        return None;
    }
    // Scores are whole points (sums of integer points).
    let mut values: Vec<f64> = new.iter().map(|v| v.round()).collect();
    values.sort_by(f64::total_cmp);
    // From the loosest threshold to the strictest, the first that keeps at most `hits` leads
    // (counted in the sorted values by binary search).
    let kept = |t: f64| {
        if at_least {
            values.len() - values.partition_point(|&v| v < t)
        } else {
            values.partition_point(|&v| v <= t)
        }
    };
    let mut candidates = values.clone();
    candidates.dedup();
    if !at_least {
        candidates.reverse();
    }
    let everyone = hits >= old.len();
    candidates
        .into_iter()
        .find(|&t| kept(t) <= hits && (everyone || kept(t) < values.len()))
}

/// Refits the points of `base` on the training `rows` (see [`super::retune`] for the guarded
/// entry point `train --base` uses).
pub fn refit_points(
    base: &ValidModel,
    table: &Table,
    layout: &Layout,
    labels: &[bool],
    rows: &[u32],
    options: &TrainOptions,
) -> Result<Trained, LearnError> {
    let mut firings = Firings::new(base);
    for &r in rows {
        let mut state = State::new(base);
        let mut last = replay::START_MS;
        for (t, event) in replay::events(layout, table, r as usize, base.session_timeout_ms()) {
            let _ = engine::apply(&mut state, base, &event, t);
            last = t;
        }
        let score = engine::score(&state, base, last);
        firings.push(&score, labels.get(r as usize).copied().unwrap_or(false));
    }
    let mut warnings = Vec::new();
    let unfed = replay::unfed_signals(base.model(), layout);
    if !unfed.is_empty() {
        warnings.push(format!(
            "the base model waits for {} that no column feeds (is the mapping missing?)",
            unfed.join(", ")
        ));
    }
    refit_firings(base, &firings, options, warnings)
}

/// What the base model's rules did for each training lead: the times each rule fired (the
/// features of the refit), the lead's sub-scores under the base, and whether it converted.
pub struct Firings<'m> {
    index: HashMap<&'m str, u32>,
    counts: Counts,
    old_scores: Vec<Scores>,
}

impl<'m> Firings<'m> {
    /// No leads yet, for the rules of `base`.
    pub fn new(base: &'m ValidModel) -> Firings<'m> {
        let rules = base.rules();
        Firings {
            index: rules
                .iter()
                .enumerate()
                .map(|(i, r)| (r.id.as_str(), i as u32))
                .collect(),
            counts: Counts {
                offsets: vec![0],
                entries: Vec::new(),
                labels: Vec::new(),
                features: rules.len(),
            },
            old_scores: Vec::new(),
        }
    }

    /// Adds one lead by its score under the base model (with its contributions).
    pub fn push(&mut self, score: &engine::Score<'_>, converted: bool) {
        for c in &score.contributions {
            if let Some(&j) = self.index.get(c.rule) {
                self.counts.entries.push((j, f64::from(c.times)));
            }
        }
        self.counts.offsets.push(self.counts.entries.len());
        self.counts.labels.push(converted);
        self.old_scores.push([
            score.fit,
            score.engagement,
            score.intent,
            score.product,
            score.total,
        ]);
    }

    /// Leads added so far.
    pub fn len(&self) -> usize {
        self.counts.labels.len()
    }

    /// True before the first lead.
    pub fn is_empty(&self) -> bool {
        self.counts.labels.is_empty()
    }
}

/// Refits the points of `base` on the leads of `firings` (from a replay of historical data, or
/// from the rule summaries the widget sent); `warnings` are carried into the report.
pub fn refit_firings(
    base: &ValidModel,
    firings: &Firings<'_>,
    options: &TrainOptions,
    mut warnings: Vec<String>,
) -> Result<Trained, LearnError> {
    let rules = base.rules();
    let (counts, old_scores) = (&firings.counts, &firings.old_scores);
    let leads = counts.labels.len();
    let converted = counts.labels.iter().filter(|y| **y).count();
    if leads == 0 || converted == 0 || converted == leads {
        return Err(LearnError(format!(
            "the {leads} training leads need both converted and unconverted leads ({converted} converted)"
        )));
    }

    let penalised = fit_penalised(counts, &options.penalty, options.seed)?;
    let fit = &penalised.fit;
    let (l2, cross_validation) = (penalised.l2, penalised.cross_validation.clone());
    let mut covered = vec![(0u64, 0u64); rules.len()];
    for i in 0..counts.n_rows() {
        let mut row = Vec::new();
        counts.row(i, &mut row);
        let y = counts.label(i);
        for (j, _) in row {
            if let Some(c) = covered.get_mut(j as usize) {
                c.0 += 1;
                c.1 += u64::from(y);
            }
        }
    }
    let mut model = base.model().clone();
    let mut reports = Vec::new();
    for ((rule, &w), &(leads, conv)) in model.rules.iter_mut().zip(&fit.weights).zip(&covered) {
        if leads == 0 {
            warnings.push(format!(
                "rule {:?} never fired on the training leads; it keeps its {} points",
                rule.id, rule.points
            ));
        } else {
            rule.points = points(w, options.pdo);
        }
        rule.evidence = Some(Evidence {
            leads,
            conversion_rate: if leads > 0 {
                conv as f64 / leads as f64
            } else {
                0.0
            },
        });
        reports.push(ColumnReport {
            column: rule.id.clone(),
            signal: rule.when.kind(),
            candidates: 1,
            rules: usize::from(rule.points != 0),
            cuts: Vec::new(),
        });
    }
    if !model.limits.is_empty() {
        warnings
            .push("the base model's limits were written for its old points and are dropped".into());
        model.limits = Limits::default();
    }

    // New sub-scores of every training lead.
    let mut new_scores: Vec<Scores> = Vec::with_capacity(leads);
    for i in 0..counts.n_rows() {
        let mut row = Vec::new();
        counts.row(i, &mut row);
        let mut s = [0.0; 5];
        for (j, times) in row {
            if let Some(rule) = model.rules.get(j as usize) {
                let p = f64::from(rule.points) * times;
                if let Some(d) = s.get_mut(rule.dimension.index()) {
                    *d += p;
                }
                if let Some(t) = s.get_mut(4) {
                    *t += p;
                }
            }
        }
        new_scores.push(s);
    }
    let column = |scores: &[Scores], k: usize| -> Vec<f64> {
        scores
            .iter()
            .map(|s| s.get(k).copied().unwrap_or(0.0))
            .collect()
    };
    let (dims_max, total_max) = reachable_max(&model);
    let reach = |k: usize| {
        if k == 4 {
            total_max
        } else {
            dims_max.get(k).copied().unwrap_or(0.0)
        }
    };
    for (i, tier) in model.tiers.iter_mut().enumerate() {
        for (at_least, thresholds) in [(true, &mut tier.min), (false, &mut tier.max)] {
            let mut moved = Thresholds::default();
            for (name, dim, value) in thresholds.entries() {
                let k = slot(dim);
                let new_value = matched_threshold(
                    &column(old_scores, k),
                    &column(&new_scores, k),
                    value,
                    at_least,
                )
                .unwrap_or_else(|| {
                    // Rules that fire every time have no most: the threshold stays.
                    let most = reach(k);
                    warnings.push(format!(
                        "tiers[{i}] ({}): no training lead reached {} {name} {value}; {}",
                        tier.name,
                        if at_least { "min" } else { "max" },
                        if most.is_finite() {
                            "the new threshold is the most the rules can give"
                        } else {
                            "the threshold is kept"
                        }
                    ));
                    if most.is_finite() {
                        most
                    } else {
                        value
                    }
                });
                let new_value = if at_least {
                    new_value.min(reach(k))
                } else {
                    new_value
                };
                match dim {
                    Some(Dimension::Fit) => moved.fit = Some(new_value),
                    Some(Dimension::Engagement) => moved.engagement = Some(new_value),
                    Some(Dimension::Intent) => moved.intent = Some(new_value),
                    Some(Dimension::Product) => moved.product = Some(new_value),
                    None => moved.total = Some(new_value),
                }
            }
            *thresholds = moved;
        }
    }
    let totals: Vec<i64> = new_scores
        .iter()
        .map(|s| s.get(4).copied().unwrap_or(0.0).round() as i64)
        .collect();
    let min_leads = usize::try_from(options.bins.min_leads).unwrap_or(usize::MAX);
    let mut tier_reports: Vec<TierReport> = Vec::new();
    for (name, target) in [("SQL", options.sql), ("MQL", options.mql)] {
        let Some(target) = target else { continue };
        let Some(tier) = model
            .tiers
            .iter_mut()
            .find(|t| t.name.eq_ignore_ascii_case(name))
        else {
            warnings.push(format!(
                "the base model has no {name} tier; its target is ignored"
            ));
            continue;
        };
        let chosen = choose_tiers(
            &totals,
            &counts.labels,
            Some(target),
            None,
            min_leads,
            &mut warnings,
        );
        if let Some(c) = chosen.first() {
            tier.min.total = Some(c.choice.threshold as f64);
            tier_reports.push(TierReport {
                tier: tier.name.clone(),
                choice: c.choice,
            });
        }
    }
    // Each lead in the tier its new scores reach; a required rule counts when it fired.
    let mut tally = TierTally::new(model.tiers.len());
    for (i, scores) in new_scores.iter().enumerate() {
        let mut row = Vec::new();
        counts.row(i, &mut row);
        let fired = |id: &str| {
            firings
                .index
                .get(id)
                .is_some_and(|j| row.iter().any(|(k, times)| k == j && *times > 0.0))
        };
        tally.add(tier_of(&model.tiers, scores, fired), counts.label(i));
    }
    tally.write_evidence(&mut model.tiers);
    model.calibration = Some(calibrate_fitted(
        penalised.held_out.as_ref(),
        counts,
        options.pdo,
        &totals,
        &counts.labels,
    )?);
    model.model_version = options.model_version.clone();
    ValidModel::new(model.clone())
        .map_err(|e| LearnError(format!("the refitted model is invalid: {e}")))?;
    let scores: Vec<f64> = totals.iter().map(|&t| t as f64).collect();
    Ok(Trained {
        model,
        report: TrainReport {
            leads,
            converted,
            fit: "refit",
            l2,
            cross_validation,
            iterations: fit.iterations,
            rounds: Vec::new(),
            columns: reports,
            tiers: tier_reports,
            tier_scores: "training",
            train_auc: roc_auc(&scores, &counts.labels).unwrap_or(0.5),
            held_out: None,
            notes: Vec::new(),
            interactions: Vec::new(),
            warnings,
        },
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_keep_their_share() {
        let old = [0.0, 10.0, 20.0, 30.0, 40.0];
        let new = [0.0, 5.0, 7.0, 9.0, 100.0];
        // 2 of 5 had old ≥ 25: the new threshold keeps the top 2.
        assert_eq!(matched_threshold(&old, &new, 25.0, true), Some(9.0));
        // 2 of 5 had old ≤ 10.
        assert_eq!(matched_threshold(&old, &new, 10.0, false), Some(5.0));
        assert_eq!(matched_threshold(&old, &new, 99.0, true), None);
    }
}
