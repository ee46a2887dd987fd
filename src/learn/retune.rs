//! Retuning a model on a newer slice of leads (`train --base`), guarded against drift and against
//! slices too small to say anything about points.
//!
//! A refit of every rule's points on a small, newer slice can score worse on the newest leads than
//! the model it started from, while the cheapest fix for drift — the conversion rate moved — only
//! needs a new calibration. So the slice is split (fixed seed) into a part to fit on and a
//! held-out quarter to judge on, and three candidates compete on that quarter by log loss, from
//! the smallest change up; a bigger change is kept only when it lowers the held-out log loss by
//! more than one standard error of the per-lead differences (it must beat noise):
//!
//! 1. the base model as it is (only when it has a calibration, else it has no probabilities);
//! 2. the base's points kept, recalibrated to the slice: a new calibration (which carries the
//!    intercept) and, for `--sql-…` / `--mql-…` targets, new tier thresholds;
//! 3. new points for every rule (see [`super::refit`]), only when the slice has enough leads of
//!    both outcomes for the rules it fires (about [`LEADS_PER_RULE`] per rule), else the report
//!    says the slice is too small to move points.
//!
//! The winner is fitted again on the whole slice. The report's notes give each candidate's
//! held-out log loss and ROC AUC, and which was kept.

use super::calibration::calibrate;
use super::data::Table;
use super::engine_check::engine_total;
use super::error::LearnError;
use super::layout::Layout;
use super::metrics::roc_auc;
use super::refit::refit_points;
use super::report::{TrainReport, Trained};
use super::rng::SplitMix64;
use super::scorecard::TrainOptions;
use super::tiers::{choose_tiers, TierReport, TierTally};
use crate::model::ValidModel;

/// Leads of the rarer outcome a slice needs per rule that fires before points may move.
pub const LEADS_PER_RULE: usize = 10;
/// Fewest leads in the held-out quarter for a comparison to mean anything.
const MIN_CHECK_LEADS: usize = 50;

fn totals(model: &ValidModel, table: &Table, layout: &Layout, rows: &[u32]) -> Vec<i64> {
    rows.iter()
        .map(|&r| engine_total(model, table, layout, r as usize).round() as i64)
        .collect()
}

fn labels_of(labels: &[bool], rows: &[u32]) -> Vec<bool> {
    rows.iter()
        .map(|&r| labels.get(r as usize).copied().unwrap_or(false))
        .collect()
}

/// The tier the engine gives a row's replay (`None`: unqualified).
fn engine_tier(model: &ValidModel, table: &Table, layout: &Layout, row: usize) -> Option<usize> {
    let mut state = crate::engine::State::new(model);
    let mut last = super::replay::START_MS;
    for (t, event) in super::replay::events(layout, table, row, model.session_timeout_ms()) {
        let _ = crate::engine::apply(&mut state, model, &event, t);
        last = t;
    }
    let tier = crate::engine::score(&state, model, last).tier;
    model.model().tiers.iter().position(|t| t.name == tier)
}

/// The base's points with a new calibration (and thresholds for explicit targets) from `rows`;
/// each tier's evidence is what the engine makes of the rows with them.
fn recalibrate(
    base: &ValidModel,
    table: &Table,
    layout: &Layout,
    labels: &[bool],
    rows: &[u32],
    options: &TrainOptions,
) -> Result<Trained, LearnError> {
    let t = totals(base, table, layout, rows);
    let ys = labels_of(labels, rows);
    let converted = ys.iter().filter(|y| **y).count();
    let mut model = base.model().clone();
    model.calibration = Some(calibrate(&t, &ys)?);
    model.model_version = options.model_version.clone();
    let mut warnings = Vec::new();
    let min_leads = usize::try_from(options.bins.min_leads).unwrap_or(usize::MAX);
    let mut tiers: Vec<TierReport> = Vec::new();
    for (name, target) in [("SQL", options.sql), ("MQL", options.mql)] {
        let Some(target) = target else { continue };
        let Some(tier) = model
            .tiers
            .iter_mut()
            .find(|t| t.name.eq_ignore_ascii_case(name))
        else {
            continue;
        };
        if let Some(c) = choose_tiers(&t, &ys, Some(target), None, min_leads, &mut warnings).first()
        {
            tier.min.total = Some(c.choice.threshold as f64);
            tiers.push(TierReport {
                tier: tier.name.clone(),
                choice: c.choice,
            });
        }
    }
    let valid = ValidModel::new(model.clone())
        .map_err(|e| LearnError(format!("the recalibrated model is invalid: {e}")))?;
    let mut tally = TierTally::new(model.tiers.len());
    for (&r, &y) in rows.iter().zip(&ys) {
        tally.add(engine_tier(&valid, table, layout, r as usize), y);
    }
    tally.write_evidence(&mut model.tiers);
    let scores: Vec<f64> = t.iter().map(|&x| x as f64).collect();
    Ok(Trained {
        model,
        report: TrainReport {
            leads: rows.len(),
            converted,
            fit: "recalibrate",
            l2: 0.0,
            cross_validation: Vec::new(),
            iterations: 0,
            rounds: Vec::new(),
            columns: Vec::new(),
            tiers,
            tier_scores: "training",
            train_auc: roc_auc(&scores, &ys).unwrap_or(0.5),
            held_out: None,
            notes: Vec::new(),
            interactions: Vec::new(),
            warnings,
        },
    })
}

/// A model judged on the held-out leads.
struct Judged {
    choice: Choice,
    /// Log loss of each held-out lead.
    losses: Vec<f64>,
    auc: f64,
}

impl Judged {
    fn mean(&self) -> f64 {
        self.losses.iter().sum::<f64>() / self.losses.len().max(1) as f64
    }

    /// True when `self` has a lower log loss than `other` by more than one standard error of
    /// the per-lead differences: a change must beat noise, not just the other model.
    fn clearly_beats(&self, other: &Judged) -> bool {
        let d: Vec<f64> = other
            .losses
            .iter()
            .zip(&self.losses)
            .map(|(a, b)| a - b)
            .collect();
        let n = d.len() as f64;
        if n < 2.0 {
            return false;
        }
        let mean = d.iter().sum::<f64>() / n;
        let var = d.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0);
        mean > (var / n).sqrt()
    }
}

/// Per-lead held-out log loss and ROC AUC of a model on `rows` (`None` without a calibration).
fn judge(
    choice: Choice,
    model: &ValidModel,
    table: &Table,
    layout: &Layout,
    labels: &[bool],
    rows: &[u32],
) -> Option<Judged> {
    let calibration = model.model().calibration?;
    let t = totals(model, table, layout, rows);
    let ys = labels_of(labels, rows);
    let losses = t
        .iter()
        .zip(&ys)
        .map(|(&x, &y)| {
            let p = calibration.probability(x as f64).clamp(1e-15, 1.0 - 1e-15);
            if y {
                -p.ln()
            } else {
                -(1.0 - p).ln()
            }
        })
        .collect();
    let scores: Vec<f64> = t.iter().map(|&x| x as f64).collect();
    Some(Judged {
        choice,
        losses,
        auc: roc_auc(&scores, &ys).unwrap_or(0.5),
    })
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Choice {
    Base,
    Recalibrated,
    Refitted,
}

/// Retunes `base` on the slice `rows`: see the module documentation.
pub fn retune(
    base: &ValidModel,
    table: &Table,
    layout: &Layout,
    labels: &[bool],
    rows: &[u32],
    options: &TrainOptions,
) -> Result<Trained, LearnError> {
    let ys = labels_of(labels, rows);
    let converted = ys.iter().filter(|y| **y).count();
    if rows.is_empty() || converted == 0 || converted == rows.len() {
        return Err(LearnError(format!(
            "the {} training leads need both converted and unconverted leads ({converted} converted)",
            rows.len()
        )));
    }
    // Rules that fire on the slice, and the rarer outcome's count.
    let firing = {
        let mut fired = std::collections::BTreeSet::new();
        for &r in rows.iter().take(20_000) {
            let mut state = crate::engine::State::new(base);
            let mut last = super::replay::START_MS;
            for (t, event) in
                super::replay::events(layout, table, r as usize, base.session_timeout_ms())
            {
                let _ = crate::engine::apply(&mut state, base, &event, t);
                last = t;
            }
            for c in crate::engine::score(&state, base, last).contributions {
                fired.insert(c.rule.to_string());
            }
        }
        fired.len()
    };
    let rarer = converted.min(rows.len() - converted);
    let needed = LEADS_PER_RULE * firing.max(1);
    let mut notes = Vec::new();
    let may_move = rarer * 4 / 3 >= needed;
    if !may_move {
        notes.push(format!(
            "the slice is too small to move points: {rarer} leads of the rarer outcome for {firing} rules that fire (about {needed} needed); the base's points are kept; at most the calibration{} changes",
            if options.sql.is_some() || options.mql.is_some() { " and the targeted tier thresholds" } else { "" }
        ));
    }

    // Split the slice: three quarters to fit, one to judge.
    let mut rng = SplitMix64::new(options.seed ^ 0x7e70_e5e7);
    let (mut fit_rows, mut check_rows) = (Vec::new(), Vec::new());
    for &r in rows {
        if rng.below(4) == 0 {
            check_rows.push(r);
        } else {
            fit_rows.push(r);
        }
    }
    let check_converted = labels_of(labels, &check_rows)
        .iter()
        .filter(|y| **y)
        .count();
    let comparable = check_rows.len() >= MIN_CHECK_LEADS
        && check_converted > 0
        && check_converted < check_rows.len();

    let choice = if !comparable {
        notes.push(format!(
            "the slice ({} leads) is too small to hold out a part to compare on; {}",
            rows.len(),
            if may_move {
                "points refitted without a check against the base"
            } else {
                "recalibrated only"
            }
        ));
        if may_move {
            Choice::Refitted
        } else {
            Choice::Recalibrated
        }
    } else {
        let mut judged: Vec<Judged> = Vec::new();
        judged.extend(judge(
            Choice::Base,
            base,
            table,
            layout,
            labels,
            &check_rows,
        ));
        let recal = recalibrate(base, table, layout, labels, &fit_rows, options)?;
        let recal_valid = ValidModel::new(recal.model)
            .map_err(|e| LearnError(format!("the recalibrated model is invalid: {e}")))?;
        judged.extend(judge(
            Choice::Recalibrated,
            &recal_valid,
            table,
            layout,
            labels,
            &check_rows,
        ));
        if may_move {
            if let Ok(refitted) = refit_points(base, table, layout, labels, &fit_rows, options) {
                if let Ok(valid) = ValidModel::new(refitted.model) {
                    judged.extend(judge(
                        Choice::Refitted,
                        &valid,
                        table,
                        layout,
                        labels,
                        &check_rows,
                    ));
                }
            }
        }
        let name = |c: Choice| match c {
            Choice::Base => "the base as it is",
            Choice::Recalibrated => "the base's points recalibrated",
            Choice::Refitted => "new points",
        };
        let listed: Vec<String> = judged
            .iter()
            .map(|j| {
                format!(
                    "{}: log loss {:.4}, ROC AUC {:.4}",
                    name(j.choice),
                    j.mean(),
                    j.auc
                )
            })
            .collect();
        // From the smallest change up (base, recalibrated, new points), a bigger change is kept
        // only when it clearly beats the one kept so far.
        let mut kept: Option<&Judged> = None;
        for j in &judged {
            kept = match kept {
                Some(k) if !j.clearly_beats(k) => Some(k),
                _ => Some(j),
            };
        }
        let best = kept.map_or(Choice::Recalibrated, |k| k.choice);
        notes.push(format!(
            "held-out quarter of the slice ({} leads): {}; kept {}",
            check_rows.len(),
            listed.join("; "),
            name(best)
        ));
        if may_move && best != Choice::Refitted {
            notes.push(
                "new points did not clearly beat the base's on the held-out leads: the base's points are kept".into(),
            );
        }
        best
    };

    let mut trained = match choice {
        Choice::Refitted => refit_points(base, table, layout, labels, rows, options)?,
        Choice::Recalibrated => recalibrate(base, table, layout, labels, rows, options)?,
        Choice::Base => {
            let mut t = recalibrate(base, table, layout, labels, rows, options)?;
            t.model = base.model().clone();
            t.model.model_version = options.model_version.clone();
            t.report.fit = "base";
            t.report.tiers.clear();
            t
        }
    };
    trained.report.notes = notes;
    Ok(trained)
}
