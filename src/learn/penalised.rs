//! The penalised logistic fitter: the L2 penalty chosen by cross-validation (or given), then one
//! Newton fit of every candidate's weight (see [`super::logistic`]).

use super::error::LearnError;
use super::logistic::{self, Fit, FitOptions, SparseRows};
use super::rng::SplitMix64;

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

/// A fit, the penalty it used, and what cross-validation found.
pub struct Penalised {
    pub fit: Fit,
    pub l2: f64,
    /// `(penalty, held-out log loss)` per penalty tried (empty for a fixed penalty).
    pub cross_validation: Vec<(f64, f64)>,
    /// Rows (indices into the fitted rows) with their out-of-fold linear predictor at the
    /// chosen penalty.
    pub held_out: Option<(Vec<usize>, Vec<f64>)>,
}

/// Chooses the penalty (cross-validating when asked) and fits.
pub fn fit_penalised(
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
