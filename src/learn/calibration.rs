//! Calibration: `p = 1 / (1 + e^{−(a + b·total)})`, a one-feature logistic regression (Platt) on
//! the score. It is fitted on out-of-fold (or out-of-bag) scores when the fitter has them, so it
//! is not over-confident about the leads the points were learned from; else on the training
//! totals. It absorbs the intercept, so totals need no offset.

use super::error::LearnError;
use super::logistic::{self, FitOptions, OneFeature, SparseRows};
use crate::model::Calibration;

/// Rows (indices into the fitted rows) and their held-out linear predictor without the
/// intercept: out-of-fold for the logistic fitter, out-of-bag for the boosted one.
pub type HeldOut = (Vec<usize>, Vec<f64>);

/// The calibration of a fitted scorecard. With out-of-fold scores it is fitted on them (in
/// points: linear predictor × `pdo / ln 2`), so it reflects how the points rank leads they
/// were not learned from; otherwise on the training totals.
pub fn calibrate_fitted(
    held_out: Option<&HeldOut>,
    rows: &dyn SparseRows,
    pdo: f64,
    totals: &[i64],
    labels: &[bool],
) -> Result<Calibration, LearnError> {
    match held_out {
        Some((sample, scores)) if !sample.is_empty() => {
            let scale = pdo / std::f64::consts::LN_2;
            let values: Vec<f64> = scores.iter().map(|s| s * scale).collect();
            let ys: Vec<bool> = sample.iter().map(|&i| rows.label(i)).collect();
            platt(&values, &ys)
        }
        _ => calibrate(totals, labels),
    }
}

/// Held-out totals (in points) and labels of the cross-validated leads, if any.
pub fn held_out_totals(
    held_out: Option<&HeldOut>,
    rows: &dyn SparseRows,
    pdo: f64,
) -> Option<(Vec<i64>, Vec<bool>)> {
    let (sample, scores) = held_out?;
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
pub fn calibrate(totals: &[i64], labels: &[bool]) -> Result<Calibration, LearnError> {
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
