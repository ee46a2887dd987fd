//! Learning a points scorecard, step by step, each step in a module of its own:
//!
//! 1. [`super::candidates`]: every rule a column could give (levels, numeric steps, occurrences).
//! 2. [`super::fitting`]: a weight per candidate, by boosting per-column shapes or by penalised
//!    logistic regression.
//! 3. [`super::points`]: integer points (`pdo` points double the odds), evidence per rule, and
//!    every training lead's total.
//! 4. [`super::calibration`]: total → conversion probability, on held-out scores when the fitter
//!    has them.
//! 5. [`super::tiers`]: `SQL` and `MQL` thresholds chosen by the user's targets, and each tier's
//!    evidence: the leads it holds on the same scores (out-of-fold when there are) and how many
//!    of them converted.
//! 6. [`super::engine_check`]: the first training leads replayed through the engine must score
//!    exactly the scorecard's totals.

use super::binning::BinOptions;
use super::boost::{BoostOptions, Monotone};
use super::calibration::{calibrate_fitted, held_out_totals};
use super::candidates::{number_text, propose, Design};
use super::data::Table;
use super::engine_check::self_check;
use super::error::LearnError;
use super::fitting::{self, Fitted, Fitter};
use super::layout::Layout;
use super::metrics::roc_auc;
use super::penalised::Penalty;
use super::points::{self, Scored};
use super::report::{HeldOutReport, TrainReport, Trained};
use super::tiers::{place_tiers, tier_of, Target, TierReport, TierTally};
use crate::model::{Limits, Model, Thresholds, Tier, ValidModel, FORMAT_VERSION};

/// Most rules a model may hold (the validator's limit).
const MAX_RULES: usize = 1000;

/// Everything `train` can be told.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainOptions {
    pub bins: BinOptions,
    /// The fitter (`--fit`).
    pub fit: Fitter,
    /// The logistic fitter's penalty.
    pub penalty: Penalty,
    /// Columns whose points must grow (or fall) with the value (boosting only).
    pub monotone: Vec<(String, Monotone)>,
    /// Points that double the odds.
    pub pdo: f64,
    /// Seed for the cross-validation folds and the boosting bags.
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
            fit: Fitter::Logistic,
            penalty: Penalty::CrossValidated {
                grid: vec![0.3, 1.0, 3.0, 10.0, 30.0],
                folds: 5,
            },
            monotone: Vec::new(),
            pdo: 20.0,
            seed: 1,
            sql: Some(Target::Precision(0.8)),
            mql: Some(Target::Share(0.5)),
            id: "learned".into(),
            model_version: "1".into(),
        }
    }
}

impl TrainOptions {
    /// The boosted fitter with its default settings: finer numeric bins than the logistic
    /// fitter's (16 instead of 10, from 32 quantiles), merged only when too small or too many —
    /// boosting shrinks thin bins itself, where the logistic fit needs ChiMerge's caution.
    pub fn boosted() -> TrainOptions {
        TrainOptions {
            fit: Fitter::Boost(BoostOptions::default()),
            bins: BinOptions {
                initial_bins: 32,
                max_bins: 16,
                chi2_critical: 0.0,
                ..BinOptions::default()
            },
            ..TrainOptions::default()
        }
    }
}

/// Learns a scorecard from the training `rows` of `table`.
pub fn train(
    table: &Table,
    layout: &Layout,
    labels: &[bool],
    rows: &[u32],
    options: &TrainOptions,
) -> Result<Trained, LearnError> {
    train_and_test(table, layout, labels, rows, &[], options)
}

/// Learns a scorecard from the training `rows`, and reports on the `test` rows what rounding
/// the fitted weights to integer points costs.
pub fn train_and_test(
    table: &Table,
    layout: &Layout,
    labels: &[bool],
    rows: &[u32],
    test: &[u32],
    options: &TrainOptions,
) -> Result<Trained, LearnError> {
    let converted = check_labels(labels, rows)?;
    let mut warnings = Vec::new();
    let proposed = propose(table, layout, labels, rows, &options.bins, &mut warnings)?;
    let mut design = proposed.design;
    let mut reports = proposed.reports;
    let fitted = fitting::fit(
        &mut design,
        layout,
        &options.fit,
        &options.penalty,
        &options.monotone,
        options.pdo,
        options.seed,
    )?;
    warnings.extend(fitted.warnings.iter().cloned());
    let Scored {
        rules,
        totals,
        labels: train_labels,
    } = points::score(&design, &fitted.points, layout, &mut reports);
    if rules.is_empty() {
        return Err(LearnError(format!(
            "every rule rounded to 0 points at --pdo {}: use a larger --pdo",
            options.pdo
        )));
    }
    if rules.len() > MAX_RULES {
        return Err(LearnError(format!(
            "{} rules is more than a model may hold ({MAX_RULES}): raise --min-leads or lower --bins",
            rules.len()
        )));
    }
    let calibration = calibrate_fitted(
        fitted.held_out.as_ref(),
        &design,
        options.pdo,
        &totals,
        &train_labels,
    )?;
    let held_out = held_out_totals(fitted.held_out.as_ref(), &design, options.pdo);
    let tier_scores = match (&held_out, &options.fit) {
        (None, _) => "training",
        (Some(_), Fitter::Logistic) => "out-of-fold",
        (Some(_), Fitter::Boost(_)) => "out-of-bag",
    };
    let min_leads = usize::try_from(options.bins.min_leads).unwrap_or(usize::MAX);
    let tiers = place_tiers(
        held_out.clone(),
        &totals,
        &train_labels,
        options.sql,
        options.mql,
        min_leads,
        &mut warnings,
    )?;
    let scores: Vec<f64> = totals.iter().map(|&t| t as f64).collect();
    let train_auc = roc_auc(&scores, &train_labels).unwrap_or(0.5);

    let mut model = Model {
        rules,
        calibration: Some(calibration),
        ..model_frame(options, rows.len(), converted, &tiers)
    };
    // Tier evidence on the scores the thresholds were placed on.
    let (evidence_totals, evidence_labels) = match &held_out {
        Some((t, y)) => (t.as_slice(), y.as_slice()),
        None => (totals.as_slice(), train_labels.as_slice()),
    };
    let mut tally = TierTally::new(model.tiers.len());
    for (&total, &y) in evidence_totals.iter().zip(evidence_labels) {
        let scores = [0.0, 0.0, 0.0, 0.0, total as f64];
        tally.add(tier_of(&model.tiers, &scores, |_| true), y);
    }
    tally.write_evidence(&mut model.tiers);
    let valid = ValidModel::new(model.clone())
        .map_err(|e| LearnError(format!("the learned model is invalid: {e}")))?;
    self_check(&valid, table, layout, rows, &totals)?;
    Ok(Trained {
        model,
        report: TrainReport {
            leads: rows.len(),
            converted,
            fit: options.fit.name(),
            l2: fitted.l2,
            cross_validation: fitted.cross_validation.clone(),
            iterations: fitted.iterations,
            rounds: fitted.rounds.clone(),
            columns: reports,
            tiers,
            tier_scores,
            train_auc,
            held_out: held_out_report(&design, &fitted, test),
            notes: Vec::new(),
            interactions: fitted.interactions.clone(),
            warnings,
        },
    })
}

/// The number of converted training leads; an error when there are no rows or one class only.
fn check_labels(labels: &[bool], rows: &[u32]) -> Result<usize, LearnError> {
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
    Ok(converted)
}

/// Everything of the model but its rules and calibration.
fn model_frame(
    options: &TrainOptions,
    leads: usize,
    converted: usize,
    tiers: &[TierReport],
) -> Model {
    let rate = converted as f64 / leads.max(1) as f64;
    Model {
        schema: None,
        version: FORMAT_VERSION,
        id: options.id.clone(),
        model_version: options.model_version.clone(),
        description: Some(format!(
            "Learned by `leadscore train` from {} leads ({:.1} % converted). Every {} points double the odds of \
             converting; `calibration` maps a total to a conversion probability; each rule's `evidence` says how \
             many training leads it covered and how many of them converted, and each tier's how many it held.",
            leads,
            rate * 100.0,
            number_text(options.pdo)
        )),
        session_timeout_minutes: None,
        rules: Vec::new(),
        limits: Limits::default(),
        tiers: tiers
            .iter()
            .map(|t| Tier {
                name: t.tier.clone(),
                min: Thresholds { total: Some(t.choice.threshold as f64), ..Thresholds::default() },
                max: Thresholds::default(),
                requires: Vec::new(),
                evidence: None,
            })
            .collect(),
        allow_demotion: true,
        calibration: None,
        training: None,
    }
}

/// ROC AUC of the float weights and of the integer points on the `test` rows.
fn held_out_report(design: &Design, fitted: &Fitted, test: &[u32]) -> Option<HeldOutReport> {
    if test.is_empty() {
        return None;
    }
    let mut float = Vec::with_capacity(test.len());
    let mut integer = Vec::with_capacity(test.len());
    let mut ys = Vec::with_capacity(test.len());
    let mut active = Vec::new();
    for &r in test {
        active.clear();
        design.actives(r as usize, &mut active);
        let get_w = |j: &u32| fitted.weights.get(*j as usize).copied().unwrap_or(0.0);
        let get_p = |j: &u32| f64::from(fitted.points.get(*j as usize).copied().unwrap_or(0));
        float.push(active.iter().map(get_w).sum::<f64>());
        integer.push(active.iter().map(get_p).sum::<f64>());
        ys.push(design.labels.get(r as usize).copied().unwrap_or(false));
    }
    Some(HeldOutReport {
        leads: test.len(),
        float_auc: roc_auc(&float, &ys)?,
        points_auc: roc_auc(&integer, &ys)?,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::super::data::read_csv;
    use super::super::mapping::{self, Mapping};
    use super::super::{layout, retune, synthetic};
    use super::*;
    use crate::model::Evidence;

    fn generated(rows: usize, seed: u64) -> (Table, Layout, Vec<bool>, Vec<u32>) {
        let text = synthetic::csv(rows, seed);
        let m: Mapping = serde_json::from_str(synthetic::MAPPING).unwrap();
        let skip = mapping::ignored(&m, &[]);
        let table = read_csv(text.as_bytes(), &|h| !skip.contains(h), &mut |_, _| {}).unwrap();
        let layout = layout::resolve(&m, &table, None, &[]).unwrap();
        let labels = layout::labels(&table, &layout).unwrap();
        let rows: Vec<u32> = (0..table.rows as u32).collect();
        (table, layout, labels, rows)
    }

    /// Each tier's evidence counts the leads it holds and no higher tier does; on generated
    /// data the higher tier converts more often. `train --base` writes it too.
    #[test]
    fn trained_and_retuned_tiers_carry_their_evidence() {
        let (table, layout, labels, rows) = generated(3000, 7);
        let options = TrainOptions {
            penalty: Penalty::Fixed(1.0),
            ..TrainOptions::default()
        };
        let trained = train(&table, &layout, &labels, &rows, &options).unwrap();
        let tiers = &trained.model.tiers;
        assert_eq!(tiers.len(), 2, "{:?}", trained.report.warnings);
        let ev: Vec<Evidence> = tiers.iter().map(|t| t.evidence.clone().unwrap()).collect();
        assert!(ev[0].leads > 0 && ev[1].leads > 0, "{ev:?}");
        assert!(ev[0].leads + ev[1].leads <= rows.len() as u64);
        assert!(ev[0].conversion_rate > ev[1].conversion_rate, "{ev:?}");
        // The top tier holds the leads its threshold was chosen for.
        let sql = trained.report.tiers[0].choice;
        if trained.report.tier_scores == "training" {
            assert_eq!(ev[0].leads as f64, (sql.share * rows.len() as f64).round());
        }
        assert!(
            (ev[0].conversion_rate - sql.precision).abs() < 0.1,
            "{ev:?} {sql:?}"
        );

        let base = ValidModel::new(trained.model).unwrap();
        let (table, layout, labels, rows) = generated(400, 8);
        let retuned = retune::retune(&base, &table, &layout, &labels, &rows, &options).unwrap();
        if retuned.report.fit != "base" {
            let leads: u64 = retuned
                .model
                .tiers
                .iter()
                .map(|t| t.evidence.as_ref().unwrap().leads)
                .sum();
            assert!(leads > 0 && leads <= 400, "{:?}", retuned.model.tiers);
        }
    }
}
