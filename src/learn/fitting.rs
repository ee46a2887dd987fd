//! The two fitters behind `leadscore train --fit`, and what both hand to the rest of training:
//! one float weight and one integer point value per candidate rule, and held-out scores for the
//! calibration and the tier thresholds.
//!
//! - `logistic`: every candidate's weight at once, by L2-penalised logistic regression (see
//!   [`super::penalised`]); points are the rounded weights.
//! - `boost`: one shape function per column by cyclic gradient boosting over the column's bins
//!   and levels (see [`super::boost`]). A column's bins are the distinct sets of candidates its
//!   values switch on (a level's rule, or the steps at or below a numeric value), so a shape maps
//!   back onto the same rules: a level's weight is its bin's value minus the reference bin's, a
//!   numeric step's weight the difference between neighbouring bins. Points are rounded on the
//!   cumulative values (each bin's total is the nearest integer to its float value), so rounding
//!   errors do not add up along the steps of a numeric column.

use super::boost::{self, BoostOptions, Feature, Monotone};
use super::calibration::HeldOut;
use super::candidates::{Candidate, Design, DesignColumn, Pair, NO_SPEC};
use super::error::LearnError;
use super::interactions::{self, Interaction};
use super::layout::{Layout, Resolved};
use super::penalised::{fit_penalised, Penalty, CV_MAX_ROWS};
use super::points::points;
use super::rng::SplitMix64;
use std::collections::BTreeMap;

/// Which fitter learns the weights.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fitter {
    /// Cyclic gradient boosting of per-column shapes.
    Boost(BoostOptions),
    /// L2-penalised logistic regression.
    Logistic,
}

impl Fitter {
    pub fn name(&self) -> &'static str {
        match self {
            Fitter::Boost(_) => "boost",
            Fitter::Logistic => "logistic",
        }
    }
}

/// What a fitter found.
#[derive(Debug, Clone, PartialEq)]
pub struct Fitted {
    /// Log-odds of a lead that no rule covers.
    pub intercept: f64,
    /// Float weight (log-odds) per candidate.
    pub weights: Vec<f64>,
    /// Integer points per candidate.
    pub points: Vec<i32>,
    /// Held-out scores (linear predictor without the intercept) of some training leads.
    pub held_out: Option<HeldOut>,
    /// The penalty: L2 of the logistic fit, or the Hessian penalty of boosting.
    pub l2: f64,
    pub cross_validation: Vec<(f64, f64)>,
    /// Newton iterations, or mean boosting rounds per bag.
    pub iterations: usize,
    /// Boosting rounds kept per bag.
    pub rounds: Vec<usize>,
    /// The compound rules learned from pairwise interactions, described.
    pub interactions: Vec<String>,
    pub warnings: Vec<String>,
}

/// Fits the candidates of `design`.
pub fn fit(
    design: &mut Design,
    layout: &Layout,
    fitter: &Fitter,
    penalty: &Penalty,
    monotone: &[(String, Monotone)],
    pdo: f64,
    seed: u64,
) -> Result<Fitted, LearnError> {
    match fitter {
        Fitter::Logistic => {
            if let Some((column, _)) = monotone.first() {
                return Err(LearnError(format!(
                    "--monotone {column:?} needs --fit boost (the logistic fitter cannot keep points monotone)"
                )));
            }
            fit_logistic(design, penalty, pdo, seed)
        }
        Fitter::Boost(options) => fit_boosted(
            design,
            layout,
            &BoostOptions { seed, ..*options },
            monotone,
            pdo,
        ),
    }
}

fn fit_logistic(
    design: &Design,
    penalty: &Penalty,
    pdo: f64,
    seed: u64,
) -> Result<Fitted, LearnError> {
    let penalised = fit_penalised(design, penalty, seed)?;
    let fit = penalised.fit;
    let mut warnings = Vec::new();
    if !fit.converged {
        warnings.push(format!(
            "the fit stopped after {} iterations before converging",
            fit.iterations
        ));
    }
    Ok(Fitted {
        intercept: fit.intercept,
        points: fit.weights.iter().map(|&w| points(w, pdo)).collect(),
        weights: fit.weights,
        held_out: penalised.held_out,
        l2: penalised.l2,
        cross_validation: penalised.cross_validation,
        iterations: fit.iterations,
        rounds: Vec::new(),
        interactions: Vec::new(),
        warnings,
    })
}

/// A column's bins: the distinct candidate lists of its values, shortest first.
struct ColumnBins {
    lists: Vec<Vec<u32>>,
    /// Bin per dictionary code.
    bin_of_code: Vec<u32>,
    /// The bin of "no candidate", which gets no points.
    reference: Option<usize>,
}

fn column_bins(column: &DesignColumn) -> ColumnBins {
    let mut distinct: BTreeMap<(usize, &[u32]), u32> = BTreeMap::new();
    for list in &column.by_code {
        distinct.insert((list.len(), list.as_slice()), 0);
    }
    let mut lists = Vec::with_capacity(distinct.len());
    for (k, ((_, list), bin)) in distinct.iter_mut().enumerate() {
        *bin = k as u32;
        lists.push(list.to_vec());
    }
    let bin_of_code = column
        .by_code
        .iter()
        .map(|list| {
            distinct
                .get(&(list.len(), list.as_slice()))
                .copied()
                .unwrap_or(0)
        })
        .collect();
    let reference = lists.iter().position(Vec::is_empty);
    ColumnBins {
        lists,
        bin_of_code,
        reference,
    }
}

/// The direction asked for a column, after checking that the column has an order.
fn direction(
    layout: &Layout,
    column: &DesignColumn,
    monotone: &[(String, Monotone)],
) -> Option<Monotone> {
    let spec = layout.specs.get(column.spec)?;
    monotone
        .iter()
        .find(|(name, _)| *name == spec.name)
        .map(|&(_, d)| d)
}

/// Checks that every `--monotone` column is used and has an order.
pub fn check_monotone(layout: &Layout, monotone: &[(String, Monotone)]) -> Result<(), LearnError> {
    let mut problems = Vec::new();
    for (name, _) in monotone {
        match layout.specs.iter().find(|s| s.name == *name) {
            None => problems.push(format!(
                "--monotone {name:?}: no such column among the signals"
            )),
            Some(spec) => {
                if matches!(
                    spec.signal,
                    Resolved::Answer { .. } | Resolved::Source { .. }
                ) {
                    problems.push(format!(
                        "--monotone {name:?}: a categorical column has no order (only numeric, download, form and event columns)"
                    ));
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(LearnError(problems.join("; ")))
    }
}

fn fit_boosted(
    design: &mut Design,
    layout: &Layout,
    options: &BoostOptions,
    monotone: &[(String, Monotone)],
    pdo: f64,
) -> Result<Fitted, LearnError> {
    check_monotone(layout, monotone)?;
    let n = design.rows.len();
    // Shapes need far fewer leads than there are in a large file: boost on a fixed-seed sample.
    let sample: Vec<usize> = if n > CV_MAX_ROWS {
        let mut rng = SplitMix64::new(options.seed ^ 0x5eed_b005);
        (0..n)
            .filter(|_| rng.below(n as u64) < CV_MAX_ROWS as u64)
            .collect()
    } else {
        (0..n).collect()
    };
    let bins: Vec<ColumnBins> = design.columns.iter().map(column_bins).collect();
    let features: Vec<Feature> = design
        .columns
        .iter()
        .zip(&bins)
        .map(|(column, b)| Feature {
            bin_of_row: sample
                .iter()
                .map(|&i| {
                    design
                        .rows
                        .get(i)
                        .and_then(|&r| column.codes.get(r as usize))
                        .and_then(|&c| b.bin_of_code.get(c as usize))
                        .copied()
                        .unwrap_or(0)
                })
                .collect(),
            bins: b.lists.len(),
            reference: b.reference.map(|r| r as u32),
            monotone: direction(layout, column, monotone),
        })
        .collect();
    let labels: Vec<bool> = sample
        .iter()
        .map(|&i| {
            design
                .rows
                .get(i)
                .and_then(|&r| design.labels.get(r as usize))
                .copied()
                .unwrap_or(false)
        })
        .collect();
    // Pairwise interactions on the residuals of main effects boosted without the validation
    // part, which then judges them; the kept ones are boosted with the main effects on all rows.
    let kept = find_interactions(design, layout, &features, &sample, &labels, options);
    let mut described = Vec::new();
    let boosted = if kept.is_empty() {
        boost::boost(&features, &labels, options)
    } else {
        let mut all_features = features.clone();
        for interaction in &kept {
            let candidate = design.candidates.len() as u32;
            let (Some(a), Some(b)) = (
                design.candidates.get(interaction.a as usize),
                design.candidates.get(interaction.b as usize),
            ) else {
                continue;
            };
            let rule = compound_rule(&a.rule, &b.rule);
            described.push(format!(
                "{} (validation log loss {:+.5})",
                rule.description.as_deref().unwrap_or(&rule.id),
                interaction.validation
            ));
            design.candidates.push(Candidate {
                rule,
                spec: NO_SPEC,
            });
            design.pairs.push(Pair {
                candidate,
                column_a: interaction.column_a,
                a: interaction.a,
                column_b: interaction.column_b,
                b: interaction.b,
            });
            all_features.push(Feature {
                bin_of_row: interactions::indicator(design, interaction, &sample),
                bins: 2,
                reference: Some(0),
                monotone: None,
            });
        }
        boost::boost(&all_features, &labels, options)
    };

    let mut weights = vec![0.0; design.candidates.len()];
    let mut pts = vec![0i32; design.candidates.len()];
    let mut intercept = boosted.intercept;
    for ((b, shape), counts) in bins.iter().zip(&boosted.shapes).zip(&boosted.counts) {
        let base = b
            .reference
            .and_then(|r| shape.get(r))
            .copied()
            .unwrap_or(0.0);
        intercept += base;
        // Bins in order of length: each adds candidates to a shorter one.
        let mut assigned = vec![false; design.candidates.len()];
        for ((list, &value), &count) in b.lists.iter().zip(shape).zip(counts) {
            let unassigned: Vec<u32> = list
                .iter()
                .copied()
                .filter(|&j| !assigned.get(j as usize).copied().unwrap_or(true))
                .collect();
            let Some((&first, rest)) = unassigned.split_first() else {
                continue;
            };
            let known_w: f64 = list
                .iter()
                .filter(|&&j| assigned.get(j as usize).copied().unwrap_or(false))
                .map(|&j| weights.get(j as usize).copied().unwrap_or(0.0))
                .sum();
            let known_p: i64 = list
                .iter()
                .filter(|&&j| assigned.get(j as usize).copied().unwrap_or(false))
                .map(|&j| i64::from(pts.get(j as usize).copied().unwrap_or(0)))
                .sum();
            // A bin no training lead fell in adds nothing to the bins below it.
            let (w, p) = if count == 0 {
                (0.0, 0)
            } else {
                let target = value - base;
                (target - known_w, points(target, pdo) as i64 - known_p)
            };
            let p = i32::try_from(p).unwrap_or(if p > 0 { i32::MAX } else { i32::MIN });
            if let (Some(wj), Some(pj)) =
                (weights.get_mut(first as usize), pts.get_mut(first as usize))
            {
                *wj = w;
                *pj = p;
            }
            for &j in std::iter::once(&first).chain(rest) {
                if let Some(a) = assigned.get_mut(j as usize) {
                    *a = true;
                }
            }
        }
    }
    for (pair, shape) in design
        .pairs
        .iter()
        .zip(boosted.shapes.iter().skip(bins.len()))
    {
        let (off, on) = (
            shape.first().copied().unwrap_or(0.0),
            shape.get(1).copied().unwrap_or(0.0),
        );
        intercept += off;
        if let (Some(w), Some(p)) = (
            weights.get_mut(pair.candidate as usize),
            pts.get_mut(pair.candidate as usize),
        ) {
            *w = on - off;
            *p = points(on - off, pdo);
        }
    }
    let held_out = Some((
        boosted
            .held_out
            .0
            .iter()
            .filter_map(|&k| sample.get(k).copied())
            .collect(),
        boosted.held_out.1,
    ));
    let rounds = boosted.rounds;
    let mean_rounds = rounds.iter().sum::<usize>() / rounds.len().max(1);
    let mut warnings = Vec::new();
    if sample.len() < n {
        warnings.push(format!(
            "boosted on a sample of {} of the {n} training leads (bins, evidence and thresholds use all of them)",
            sample.len()
        ));
    }
    if rounds.iter().any(|&r| r >= options.max_rounds) {
        warnings.push(format!(
            "boosting stopped at {} rounds while the held-out loss was still falling",
            options.max_rounds
        ));
    }
    Ok(Fitted {
        intercept,
        weights,
        points: pts,
        held_out,
        l2: options.l2,
        cross_validation: Vec::new(),
        iterations: mean_rounds,
        rounds,
        interactions: described,
        warnings,
    })
}

/// The interactions worth keeping on top of the main effects (see [`interactions::detect`]).
/// The validation part that judges them is drawn first, and the main effects they build on are
/// boosted on the other rows only, so that its log loss is an out-of-sample one.
fn find_interactions(
    design: &Design,
    layout: &Layout,
    features: &[Feature],
    sample: &[usize],
    labels: &[bool],
    options: &BoostOptions,
) -> Vec<Interaction> {
    if options.interactions.max_rules == 0 {
        return Vec::new();
    }
    let validation =
        interactions::validation_part(sample.len(), &options.interactions, options.seed);
    let part: Vec<usize> = (0..sample.len())
        .filter(|&k| !validation.get(k).copied().unwrap_or(true))
        .collect();
    let part_features: Vec<Feature> = features
        .iter()
        .map(|f| Feature {
            bin_of_row: part
                .iter()
                .map(|&k| f.bin_of_row.get(k).copied().unwrap_or(0))
                .collect(),
            bins: f.bins,
            reference: f.reference,
            monotone: f.monotone,
        })
        .collect();
    let part_labels: Vec<bool> = part
        .iter()
        .map(|&k| labels.get(k).copied().unwrap_or(false))
        .collect();
    let boosted = boost::boost(&part_features, &part_labels, options);
    // Every sampled row's log-odds under them: out of sample on the validation part.
    let scores: Vec<f64> = (0..sample.len())
        .map(|k| {
            boosted.intercept
                + features
                    .iter()
                    .zip(&boosted.shapes)
                    .map(|(f, shape)| {
                        f.bin_of_row
                            .get(k)
                            .and_then(|&b| shape.get(b as usize))
                            .copied()
                            .unwrap_or(0.0)
                    })
                    .sum::<f64>()
        })
        .collect();
    // A column's importance: the mean absolute deviation of its shape over the leads.
    let importance: Vec<f64> = boosted
        .shapes
        .iter()
        .zip(&boosted.counts)
        .map(|(shape, counts)| {
            let n: f64 = counts.iter().map(|&c| c as f64).sum::<f64>().max(1.0);
            let mean: f64 = shape
                .iter()
                .zip(counts)
                .map(|(v, &c)| v * c as f64)
                .sum::<f64>()
                / n;
            shape
                .iter()
                .zip(counts)
                .map(|(v, &c)| (v - mean).abs() * c as f64)
                .sum::<f64>()
                / n
        })
        .collect();
    let main = interactions::MainEffects { scores, importance };
    interactions::detect(
        design,
        layout,
        sample,
        labels,
        &validation,
        &main,
        &options.interactions,
    )
}

/// The compound `all` rule of two candidates.
fn compound_rule(a: &crate::model::Rule, b: &crate::model::Rule) -> crate::model::Rule {
    let mut id = format!("{}.and.{}", a.id, b.id);
    if id.len() > 120 {
        id = id.chars().take(120).collect();
    }
    let part = |r: &crate::model::Rule| r.description.clone().unwrap_or_else(|| r.id.clone());
    crate::model::Rule {
        id,
        description: Some(format!("{} and {} (interaction)", part(a), part(b))),
        when: crate::model::Matcher::All(vec![a.when.clone(), b.when.clone()]),
        dimension: a.dimension,
        points: 0,
        frequency: crate::model::Frequency::Once,
        decay: crate::model::Decay::Never,
        evidence: None,
    }
}
