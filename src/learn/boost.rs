//! Cyclic gradient boosting of one shape function per column, in the style of the Explainable
//! Boosting Machine: the model stays additive (a scorecard), but each column's effect is learned
//! bin by bin instead of through one penalised weight per rule.
//!
//! Every row falls in exactly one bin of every feature (a level of a categorical column, an
//! interval of a numeric one). A round visits the features in turn; for each it takes one damped
//! Newton step of the log loss per bin (`−rate · G_b / (H_b + λ)`), so the learning rate keeps
//! each feature from grabbing what its correlated neighbours explain. A share of the rows is held
//! out per bag; boosting stops when their log loss has not improved for `patience` rounds and the
//! shapes of the best round are kept. Several bags with different held-out rows are averaged,
//! which smooths the shapes, and the held-out scores give out-of-bag predictions for the
//! calibration and the tier thresholds. Fixed seed, fixed order: the same data give the same
//! shapes, bit for bit.
//!
//! A feature can be kept monotone: after each step its shape is projected back onto
//! non-decreasing (or non-increasing) values by pooling adjacent violators, weighted by the
//! number of rows per bin.

use super::interactions::InteractionOptions;
use super::rng::SplitMix64;

/// Direction a feature's shape must keep over its bins, in bin order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Monotone {
    Increasing,
    Decreasing,
}

/// One feature: the bin of every row and how many bins there are.
#[derive(Debug, Clone, PartialEq)]
pub struct Feature {
    /// Bin of each row (`< bins`).
    pub bin_of_row: Vec<u32>,
    pub bins: usize,
    /// The bin that gets no points (its value is moved into the intercept of a scorecard).
    pub reference: Option<u32>,
    pub monotone: Option<Monotone>,
}

/// Boosting parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoostOptions {
    /// Share of each Newton step taken.
    pub learning_rate: f64,
    /// Rounds (passes over all features) at most, per bag.
    pub max_rounds: usize,
    /// Stop after this many rounds without a better held-out log loss.
    pub patience: usize,
    /// Bags averaged (each with its own held-out rows).
    pub bags: usize,
    /// Share of the rows held out per bag for early stopping.
    pub held_out_share: f64,
    /// Added to each bin's Hessian: shrinks bins with few leads.
    pub l2: f64,
    /// A round counts as better when it lowers the held-out mean log loss by more than this.
    pub tolerance: f64,
    pub seed: u64,
    /// Pairwise interactions looked for after the main effects (see [`super::interactions`]).
    pub interactions: InteractionOptions,
}

impl Default for BoostOptions {
    fn default() -> BoostOptions {
        BoostOptions {
            learning_rate: 0.1,
            max_rounds: 500,
            patience: 30,
            bags: 4,
            held_out_share: 0.15,
            l2: 1.0,
            tolerance: 1e-5,
            seed: 1,
            interactions: InteractionOptions::default(),
        }
    }
}

/// Averaged shapes and what boosting found.
#[derive(Debug, Clone, PartialEq)]
pub struct Boosted {
    pub intercept: f64,
    /// Per feature, the log-odds contribution of each bin.
    pub shapes: Vec<Vec<f64>>,
    /// Rows per bin of each feature.
    pub counts: Vec<Vec<u64>>,
    /// Rounds kept per bag.
    pub rounds: Vec<usize>,
    /// Rows that were held out in at least one bag, with their mean held-out log-odds less
    /// the intercept and the reference bins' values (the total a scorecard gives them).
    pub held_out: (Vec<usize>, Vec<f64>),
}

/// The rows of one part of a bag (fitted or held out), laid out contiguously.
struct Part {
    /// Per feature, the bin of each row of the part.
    bins: Vec<Vec<u32>>,
    /// 1 for converted, 0 for not.
    y: Vec<f64>,
}

impl Part {
    fn new(features: &[Feature], labels: &[bool], rows: &[usize]) -> Part {
        Part {
            bins: features
                .iter()
                .map(|f| {
                    rows.iter()
                        .map(|&i| f.bin_of_row.get(i).copied().unwrap_or(0))
                        .collect()
                })
                .collect(),
            y: rows
                .iter()
                .map(|&i| {
                    if labels.get(i).copied().unwrap_or(false) {
                        1.0
                    } else {
                        0.0
                    }
                })
                .collect(),
        }
    }

    /// Mean log loss of the part's rows at these scores.
    fn log_loss(&self, scores: &[f64]) -> f64 {
        if self.y.is_empty() {
            return 0.0;
        }
        let total: f64 = scores
            .iter()
            .zip(&self.y)
            .map(|(&s, &y)| super::logistic::softplus(s) - y * s)
            .sum();
        total / self.y.len() as f64
    }
}

/// Pool-adjacent-violators: the weighted least-squares non-decreasing fit of `values`.
pub fn isotonic(values: &[f64], weights: &[f64]) -> Vec<f64> {
    // Blocks of (mean, weight, length).
    let mut blocks: Vec<(f64, f64, usize)> = Vec::with_capacity(values.len());
    for (&v, &w) in values.iter().zip(weights) {
        let w = w.max(1e-9);
        blocks.push((v, w, 1));
        while blocks.len() >= 2 {
            let n = blocks.len();
            let (Some(&last), Some(&prev)) = (blocks.get(n - 1), blocks.get(n - 2)) else {
                break;
            };
            if prev.0 <= last.0 {
                break;
            }
            let w = prev.1 + last.1;
            let merged = ((prev.0 * prev.1 + last.0 * last.1) / w, w, prev.2 + last.2);
            blocks.truncate(n - 2);
            blocks.push(merged);
        }
    }
    blocks
        .iter()
        .flat_map(|&(m, _, len)| std::iter::repeat_n(m, len))
        .collect()
}

fn project(shape: &mut [f64], counts: &[u64], direction: Monotone) {
    let weights: Vec<f64> = counts.iter().map(|&c| c as f64).collect();
    let sign = match direction {
        Monotone::Increasing => 1.0,
        Monotone::Decreasing => -1.0,
    };
    let signed: Vec<f64> = shape.iter().map(|v| sign * v).collect();
    for (s, v) in shape.iter_mut().zip(isotonic(&signed, &weights)) {
        *s = sign * v;
    }
}

/// What one bag found.
struct Bag {
    intercept: f64,
    shapes: Vec<Vec<f64>>,
    round: usize,
    /// The held-out rows' scores at the best round, less the intercept and reference bins.
    held_out: Vec<f64>,
}

/// Row lanes of a histogram: consecutive rows add into different copies of it, so that a run
/// of rows in one bin does not wait on the previous row's addition.
const LANES: usize = 4;

/// Adds each fitted row's gradient and Hessian into its bin of `bins` (`nbins` bins), after
/// multiplying its odds by the factor of its bin of the previously stepped feature (`pending`).
///
/// The fitted rows carry `e^{−score}` instead of the score: a step of `δ_b` multiplies the odds
/// of the rows in bin `b` by `e^{−δ_b}`, one `exp` per bin instead of one per row, and the
/// probability is `1 / (1 + e^{−score})`.
fn histogram(
    odds: &mut [f64],
    y: &[f64],
    bins: &[u32],
    nbins: usize,
    pending: Option<(&[u32], &[f64])>,
    lanes: &mut Vec<[f64; 2]>,
) {
    lanes.clear();
    lanes.resize(LANES * nbins, [0.0; 2]);
    let mut add = |k: usize, b: u32, q: f64, y: f64| {
        let p = 1.0 / (1.0 + q);
        if let Some(cell) = lanes.get_mut((k % LANES) * nbins + b as usize) {
            cell[0] += p - y;
            cell[1] += p * (1.0 - p);
        }
    };
    match pending {
        Some((previous, factors)) => {
            for (k, (((q, &y), &b), &a)) in
                odds.iter_mut().zip(y).zip(bins).zip(previous).enumerate()
            {
                *q *= factors.get(a as usize).copied().unwrap_or(1.0);
                add(k, b, *q, y);
            }
        }
        None => {
            for (k, ((&q, &y), &b)) in odds.iter().zip(y).zip(bins).enumerate() {
                add(k, b, q, y);
            }
        }
    }
}

/// Boosts one bag: fits on `fit_rows`, stops early on `check_rows`.
fn fit_bag(
    features: &[Feature],
    labels: &[bool],
    counts: &[Vec<u64>],
    fit_rows: &[usize],
    check_rows: &[usize],
    options: &BoostOptions,
) -> Bag {
    // Each part's rows laid out contiguously: the inner loops are plain zips.
    let fit = Part::new(features, labels, fit_rows);
    let check = Part::new(features, labels, check_rows);
    let positives: f64 = fit.y.iter().sum();
    let rate = ((positives + 0.5) / (fit_rows.len() as f64 + 1.0)).clamp(1e-6, 1.0 - 1e-6);
    let intercept = (rate / (1.0 - rate)).ln();
    // `e^{−score}` of each fitted row (see [`histogram`]).
    let mut fit_odds = vec![(-intercept).exp(); fit.y.len()];
    let mut check_scores = vec![intercept; check.y.len()];
    let mut shapes: Vec<Vec<f64>> = features.iter().map(|f| vec![0.0; f.bins]).collect();
    let mut best_shapes = shapes.clone();
    let mut best_loss = check.log_loss(&check_scores);
    let mut best_scores = check_scores.clone();
    let mut best_round = 0;
    let mut since = 0;
    let mut lanes = Vec::new();
    let mut delta = Vec::new();
    // The last stepped feature, whose factors the fitted rows' odds have not taken yet.
    let mut pending: Option<usize> = None;
    let mut factors: Vec<f64> = Vec::new();
    for round in 1..=options.max_rounds {
        for (j, ((feature, shape), count)) in
            features.iter().zip(&mut shapes).zip(counts).enumerate()
        {
            let (Some(fit_bins), Some(check_bins)) = (fit.bins.get(j), check.bins.get(j)) else {
                continue;
            };
            let previous = pending.and_then(|k| fit.bins.get(k));
            histogram(
                &mut fit_odds,
                &fit.y,
                fit_bins,
                feature.bins,
                previous.map(|b| (b.as_slice(), factors.as_slice())),
                &mut lanes,
            );
            delta.clear();
            delta.extend_from_slice(shape);
            for (b, v) in shape.iter_mut().enumerate() {
                let (mut g, mut h) = (0.0, 0.0);
                for lane in 0..LANES {
                    if let Some(cell) = lanes.get(lane * feature.bins + b) {
                        g += cell[0];
                        h += cell[1];
                    }
                }
                *v -= options.learning_rate * g / (h + options.l2);
            }
            if let Some(direction) = feature.monotone {
                project(shape, count, direction);
            }
            for (d, v) in delta.iter_mut().zip(shape.iter()) {
                *d = v - *d;
            }
            factors.clear();
            factors.extend(delta.iter().map(|d| (-d).exp()));
            pending = Some(j);
            for (s, &b) in check_scores.iter_mut().zip(check_bins) {
                *s += delta.get(b as usize).copied().unwrap_or(0.0);
            }
        }
        if check.y.is_empty() {
            best_shapes.clone_from(&shapes);
            best_round = round;
            continue;
        }
        let loss = check.log_loss(&check_scores);
        if loss < best_loss - options.tolerance {
            best_loss = loss;
            best_shapes.clone_from(&shapes);
            best_scores.clone_from(&check_scores);
            best_round = round;
            since = 0;
        } else {
            since += 1;
            if since >= options.patience {
                break;
            }
        }
    }
    let offset = intercept
        + features
            .iter()
            .zip(&best_shapes)
            .filter_map(|(f, shape)| f.reference.and_then(|r| shape.get(r as usize)))
            .sum::<f64>();
    Bag {
        intercept,
        shapes: best_shapes,
        round: best_round,
        held_out: best_scores.iter().map(|s| s - offset).collect(),
    }
}

/// Boosts shapes for `features` on the rows `0..labels.len()`.
pub fn boost(features: &[Feature], labels: &[bool], options: &BoostOptions) -> Boosted {
    let n = labels.len();
    let counts: Vec<Vec<u64>> = features
        .iter()
        .map(|f| {
            let mut c = vec![0u64; f.bins];
            for &b in &f.bin_of_row {
                if let Some(slot) = c.get_mut(b as usize) {
                    *slot += 1;
                }
            }
            c
        })
        .collect();
    let bags = options.bags.max(1);
    let mut sum_shapes: Vec<Vec<f64>> = features.iter().map(|f| vec![0.0; f.bins]).collect();
    let mut sum_intercept = 0.0;
    let mut rounds = Vec::with_capacity(bags);
    let mut oob_sum = vec![0.0; n];
    let mut oob_count = vec![0u32; n];
    let mut rng = SplitMix64::new(options.seed);
    // The bags' rows are drawn in order from one generator, then the bags run on threads of
    // their own and are combined in bag order: the result does not depend on the scheduling.
    let mut splits = Vec::with_capacity(bags);
    for _ in 0..bags {
        let mut fit_rows = Vec::with_capacity(n);
        let mut check_rows = Vec::new();
        for i in 0..n {
            if rng.next_f64() < options.held_out_share {
                check_rows.push(i);
            } else {
                fit_rows.push(i);
            }
        }
        if !fit_rows.is_empty() {
            splits.push((fit_rows, check_rows));
        }
    }
    let counts_ref = &counts;
    let results: Vec<Option<Bag>> = std::thread::scope(|scope| {
        let handles: Vec<_> = splits
            .iter()
            .map(|(fit_rows, check_rows)| {
                scope.spawn(move || {
                    fit_bag(features, labels, counts_ref, fit_rows, check_rows, options)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().ok()).collect()
    });
    for ((_, check_rows), bag) in splits.iter().zip(results) {
        let Some(bag) = bag else { continue };
        rounds.push(bag.round);
        sum_intercept += bag.intercept;
        for (sum, shape) in sum_shapes.iter_mut().zip(&bag.shapes) {
            for (a, b) in sum.iter_mut().zip(shape) {
                *a += b;
            }
        }
        for (&i, &s) in check_rows.iter().zip(&bag.held_out) {
            if let (Some(sum), Some(c)) = (oob_sum.get_mut(i), oob_count.get_mut(i)) {
                *sum += s;
                *c += 1;
            }
        }
    }
    let used = rounds.len().max(1) as f64;
    let shapes: Vec<Vec<f64>> = sum_shapes
        .into_iter()
        .map(|s| s.into_iter().map(|v| v / used).collect())
        .collect();
    let mut held_rows = Vec::new();
    let mut held_scores = Vec::new();
    for (i, (&s, &c)) in oob_sum.iter().zip(&oob_count).enumerate() {
        if c > 0 {
            held_rows.push(i);
            held_scores.push(s / f64::from(c));
        }
    }
    Boosted {
        intercept: sum_intercept / used,
        shapes,
        counts,
        rounds,
        held_out: (held_rows, held_scores),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::learn::logistic::sigmoid;

    #[test]
    fn isotonic_pools_violators() {
        let fit = isotonic(&[1.0, 3.0, 2.0, 4.0], &[1.0, 1.0, 1.0, 1.0]);
        assert_eq!(fit, vec![1.0, 2.5, 2.5, 4.0]);
        let fit = isotonic(&[3.0, 1.0], &[1.0, 3.0]);
        assert_eq!(fit, vec![1.5, 1.5]);
    }

    fn data() -> (Vec<Feature>, Vec<bool>) {
        let mut rng = SplitMix64::new(5);
        let mut a = Vec::new();
        let mut b = Vec::new();
        let mut y = Vec::new();
        for _ in 0..3000 {
            let x1 = rng.below(4) as u32;
            let x2 = rng.below(3) as u32;
            let logit = -1.0 + 0.8 * f64::from(x1) - if x2 == 2 { 1.0 } else { 0.0 };
            y.push(rng.next_f64() < sigmoid(logit));
            a.push(x1);
            b.push(x2);
        }
        (
            vec![
                Feature {
                    bin_of_row: a,
                    bins: 4,
                    reference: Some(0),
                    monotone: Some(Monotone::Increasing),
                },
                Feature {
                    bin_of_row: b,
                    bins: 3,
                    reference: None,
                    monotone: None,
                },
            ],
            y,
        )
    }

    #[test]
    fn recovers_shapes_and_is_deterministic() {
        let (features, y) = data();
        let options = BoostOptions {
            bags: 3,
            ..BoostOptions::default()
        };
        let a = boost(&features, &y, &options);
        let b = boost(&features, &y, &options);
        assert_eq!(a, b);
        let s = &a.shapes[0];
        assert!(s.windows(2).all(|w| w[0] <= w[1]), "{s:?}");
        let slope = (s[3] - s[0]) / 3.0;
        assert!((slope - 0.8).abs() < 0.2, "{s:?}");
        let t = &a.shapes[1];
        assert!(t[2] - t[0] < -0.6, "{t:?}");
        assert!(!a.held_out.0.is_empty());
    }
}
