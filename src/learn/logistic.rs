//! L2-regularised logistic regression on sparse rows, fitted by Newton's method (IRLS).
//!
//! Scorecard designs are sparse and small: a few hundred indicator columns, a few dozen of them
//! set per lead. Newton's method on such a design converges in well under ten iterations to the
//! exact optimum (no learning rate, no tolerance-dependent result), and each iteration costs one
//! pass over the rows — `O(nnz²)` per row for the Hessian — plus one Cholesky factorisation of a
//! `p × p` matrix. The intercept is not penalised.
//!
//! Objective: `Σ_i [log(1 + e^{η_i}) − y_i η_i] + (λ/2) Σ_j w_j²` with `η_i = b + Σ_j w_j x_ij`.

use std::fmt;

/// Training rows as sparse feature vectors.
pub trait SparseRows {
    /// Number of rows.
    fn n_rows(&self) -> usize;
    /// Number of features (columns of the design, without the intercept).
    fn n_features(&self) -> usize;
    /// Appends the `(feature, value)` pairs of row `i` to `out`.
    fn row(&self, i: usize, out: &mut Vec<(u32, f64)>);
    /// The row's outcome.
    fn label(&self, i: usize) -> bool;
}

/// Fitting parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FitOptions {
    /// L2 penalty `λ` on the weights (not the intercept).
    pub l2: f64,
    /// Newton iterations at most.
    pub max_iterations: usize,
    /// Stop when no parameter moves more than this.
    pub tolerance: f64,
}

impl Default for FitOptions {
    fn default() -> FitOptions {
        FitOptions {
            l2: 1.0,
            max_iterations: 50,
            tolerance: 1e-7,
        }
    }
}

/// A fitted model.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    pub intercept: f64,
    pub weights: Vec<f64>,
    /// Newton iterations used.
    pub iterations: usize,
    /// False when `max_iterations` ran out first.
    pub converged: bool,
    /// Penalised negative log-likelihood at the optimum.
    pub objective: f64,
}

impl Fit {
    /// The linear predictor (log-odds) of a sparse row.
    pub fn logit(&self, row: &[(u32, f64)]) -> f64 {
        self.intercept
            + row
                .iter()
                .map(|&(j, v)| self.weights.get(j as usize).copied().unwrap_or(0.0) * v)
                .sum::<f64>()
    }
}

/// Why a fit failed.
#[derive(Debug, Clone, PartialEq)]
pub enum FitError {
    NoRows,
    OneClass {
        converted: bool,
    },
    /// A parameter became infinite or NaN (should not happen with `l2 > 0`).
    Diverged,
}

impl fmt::Display for FitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FitError::NoRows => write!(f, "no rows to learn from"),
            FitError::OneClass { converted } => write!(
                f,
                "every lead {}: a model needs both converted and unconverted leads",
                if *converted {
                    "converted"
                } else {
                    "did not convert"
                }
            ),
            FitError::Diverged => write!(f, "the fit diverged"),
        }
    }
}

impl std::error::Error for FitError {}

/// `log(1 + e^x)` without overflow.
pub fn softplus(x: f64) -> f64 {
    if x > 0.0 {
        x + (-x).exp().ln_1p()
    } else {
        x.exp().ln_1p()
    }
}

/// The logistic function.
pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

struct Pass {
    objective: f64,
    gradient: Vec<f64>,
    hessian: Vec<f64>,
}

/// Reads row `i` with the intercept as column 0, sorted, duplicates added up.
fn full_row(
    rows: &dyn SparseRows,
    i: usize,
    raw: &mut Vec<(u32, f64)>,
    out: &mut Vec<(usize, f64)>,
) {
    raw.clear();
    rows.row(i, raw);
    out.clear();
    out.push((0, 1.0));
    out.extend(raw.iter().map(|&(j, v)| (j as usize + 1, v)));
    out.sort_unstable_by_key(|&(j, _)| j);
    out.dedup_by(|later, kept| {
        if later.0 == kept.0 {
            kept.1 += later.1;
            true
        } else {
            false
        }
    });
}

fn evaluate(rows: &dyn SparseRows, theta: &[f64], l2: f64) -> Pass {
    let p = theta.len();
    let mut gradient = vec![0.0; p];
    let mut hessian = vec![0.0; p * p];
    let mut objective = 0.0;
    let mut raw = Vec::new();
    let mut row = Vec::new();
    for i in 0..rows.n_rows() {
        full_row(rows, i, &mut raw, &mut row);
        let eta: f64 = row
            .iter()
            .map(|&(j, v)| theta.get(j).copied().unwrap_or(0.0) * v)
            .sum();
        let y = if rows.label(i) { 1.0 } else { 0.0 };
        objective += softplus(eta) - y * eta;
        let prob = sigmoid(eta);
        let r = prob - y;
        let w = prob * (1.0 - prob);
        for (a, &(ja, va)) in row.iter().enumerate() {
            if let Some(g) = gradient.get_mut(ja) {
                *g += r * va;
            }
            let wa = w * va;
            if let (Some(line), Some(rest)) = (hessian.get_mut(ja * p..ja * p + p), row.get(a..)) {
                for &(jb, vb) in rest {
                    if let Some(h) = line.get_mut(jb) {
                        *h += wa * vb;
                    }
                }
            }
        }
    }
    // Penalty, then mirror the upper triangle.
    for j in 1..p {
        let wj = theta.get(j).copied().unwrap_or(0.0);
        objective += 0.5 * l2 * wj * wj;
        if let Some(g) = gradient.get_mut(j) {
            *g += l2 * wj;
        }
        if let Some(h) = hessian.get_mut(j * p + j) {
            *h += l2;
        }
    }
    for i in 0..p {
        for j in 0..i {
            let upper = hessian.get(j * p + i).copied().unwrap_or(0.0);
            if let Some(h) = hessian.get_mut(i * p + j) {
                *h = upper;
            }
        }
    }
    Pass {
        objective,
        gradient,
        hessian,
    }
}

/// Solves `A x = b` for a symmetric positive definite `A` (row-major `n × n`) by Cholesky
/// factorisation; `None` when `A` is not positive definite.
pub fn cholesky_solve(a: &[f64], n: usize, b: &[f64]) -> Option<Vec<f64>> {
    let mut l = vec![0.0; n * n];
    for j in 0..n {
        let lj = l.get(j * n..j * n + j)?;
        let d = a.get(j * n + j)? - lj.iter().map(|x| x * x).sum::<f64>();
        if d.is_nan() || d <= 0.0 || !d.is_finite() {
            return None;
        }
        let ljj = d.sqrt();
        *l.get_mut(j * n + j)? = ljj;
        for i in j + 1..n {
            let dot: f64 = {
                let li = l.get(i * n..i * n + j)?;
                let lj = l.get(j * n..j * n + j)?;
                li.iter().zip(lj).map(|(x, y)| x * y).sum()
            };
            let s = a.get(i * n + j)? - dot;
            *l.get_mut(i * n + j)? = s / ljj;
        }
    }
    // L z = b
    let mut z = vec![0.0; n];
    for i in 0..n {
        let li = l.get(i * n..i * n + i)?;
        let dot: f64 = li.iter().zip(&z).map(|(x, y)| x * y).sum();
        let v = (b.get(i)? - dot) / l.get(i * n + i)?;
        *z.get_mut(i)? = v;
    }
    // Lᵀ x = z
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        let mut s = *z.get(i)?;
        for k in i + 1..n {
            s -= l.get(k * n + i)? * x.get(k)?;
        }
        *x.get_mut(i)? = s / l.get(i * n + i)?;
    }
    Some(x)
}

/// Fits the model, optionally starting from an earlier fit of the same design.
pub fn fit(
    rows: &dyn SparseRows,
    options: &FitOptions,
    start: Option<&Fit>,
) -> Result<Fit, FitError> {
    let n = rows.n_rows();
    if n == 0 {
        return Err(FitError::NoRows);
    }
    let positives = (0..n).filter(|&i| rows.label(i)).count();
    if positives == 0 || positives == n {
        return Err(FitError::OneClass {
            converted: positives == n,
        });
    }
    let p = rows.n_features() + 1;
    let mut theta = vec![0.0; p];
    match start {
        Some(s) if s.weights.len() + 1 == p => {
            if let Some((first, rest)) = theta.split_first_mut() {
                *first = s.intercept;
                rest.copy_from_slice(&s.weights);
            }
        }
        _ => {
            let rate = positives as f64 / n as f64;
            if let Some(first) = theta.first_mut() {
                *first = (rate / (1.0 - rate)).ln();
            }
        }
    }
    // A tiny ridge keeps the system solvable for columns that are constant or collinear.
    let l2 = options.l2.max(0.0);
    let mut current = evaluate(rows, &theta, l2);
    let mut iterations = 0;
    let mut converged = false;
    while iterations < options.max_iterations {
        iterations += 1;
        let mut damping = 1e-9;
        let step = loop {
            let mut h = current.hessian.clone();
            for j in 0..p {
                if let Some(x) = h.get_mut(j * p + j) {
                    *x += damping * (1.0 + x.abs());
                }
            }
            if let Some(d) = cholesky_solve(&h, p, &current.gradient) {
                break d;
            }
            damping *= 100.0;
            if damping > 1e6 {
                return Err(FitError::Diverged);
            }
        };
        let mut scale = 1.0;
        let accepted = loop {
            let trial: Vec<f64> = theta
                .iter()
                .zip(&step)
                .map(|(t, d)| t - scale * d)
                .collect();
            let next = evaluate(rows, &trial, l2);
            if next.objective.is_finite()
                && next.objective <= current.objective + 1e-12 * current.objective.abs()
            {
                break Some((trial, next));
            }
            scale *= 0.5;
            if scale < 1e-8 {
                break None;
            }
        };
        let Some((trial, next)) = accepted else {
            converged = true;
            break;
        };
        let moved = step.iter().map(|d| (scale * d).abs()).fold(0.0, f64::max);
        let gain = current.objective - next.objective;
        theta = trial;
        current = next;
        if moved < options.tolerance || gain <= 1e-13 * (1.0 + current.objective.abs()) {
            converged = true;
            break;
        }
    }
    if theta.iter().any(|t| !t.is_finite()) {
        return Err(FitError::Diverged);
    }
    let (intercept, weights) = match theta.split_first() {
        Some((b, w)) => (*b, w.to_vec()),
        None => (0.0, Vec::new()),
    };
    Ok(Fit {
        intercept,
        weights,
        iterations,
        converged,
        objective: current.objective,
    })
}

/// Rows that are a subset of other rows.
pub struct Subset<'a> {
    pub rows: &'a dyn SparseRows,
    pub index: &'a [usize],
}

impl SparseRows for Subset<'_> {
    fn n_rows(&self) -> usize {
        self.index.len()
    }
    fn n_features(&self) -> usize {
        self.rows.n_features()
    }
    fn row(&self, i: usize, out: &mut Vec<(u32, f64)>) {
        if let Some(&r) = self.index.get(i) {
            self.rows.row(r, out);
        }
    }
    fn label(&self, i: usize) -> bool {
        self.index.get(i).is_some_and(|&r| self.rows.label(r))
    }
}

/// Dense single-feature rows (used to calibrate a score).
pub struct OneFeature<'a> {
    pub values: &'a [f64],
    pub labels: &'a [bool],
}

impl SparseRows for OneFeature<'_> {
    fn n_rows(&self) -> usize {
        self.values.len().min(self.labels.len())
    }
    fn n_features(&self) -> usize {
        1
    }
    fn row(&self, i: usize, out: &mut Vec<(u32, f64)>) {
        if let Some(&v) = self.values.get(i) {
            out.push((0, v));
        }
    }
    fn label(&self, i: usize) -> bool {
        self.labels.get(i).copied().unwrap_or(false)
    }
}

/// Mean log loss of a fit on rows.
pub fn mean_log_loss(fit: &Fit, rows: &dyn SparseRows) -> f64 {
    let mut raw = Vec::new();
    let mut total = 0.0;
    let n = rows.n_rows();
    for i in 0..n {
        raw.clear();
        rows.row(i, &mut raw);
        let eta = fit.logit(&raw);
        total += if rows.label(i) {
            softplus(-eta)
        } else {
            softplus(eta)
        };
    }
    total / n.max(1) as f64
}

/// What cross-validation found.
#[derive(Debug, Clone, PartialEq)]
pub struct CrossValidation {
    /// `(penalty, mean held-out log loss)` per penalty of the grid.
    pub loss: Vec<(f64, f64)>,
    /// Per penalty, per row: the row's linear predictor without the intercept, from the fold
    /// model that did not see the row (out-of-fold scores, for an honest calibration).
    pub held_out: Vec<Vec<f64>>,
}

/// K-fold cross-validation of each L2 penalty in `grid`. `fold[i]` is row `i`'s fold in `0..k`.
pub fn cross_validate(
    rows: &dyn SparseRows,
    fold: &[u8],
    k: u8,
    grid: &[f64],
    options: &FitOptions,
) -> Result<CrossValidation, FitError> {
    let n = rows.n_rows();
    let mut out = CrossValidation {
        loss: Vec::with_capacity(grid.len()),
        held_out: Vec::with_capacity(grid.len()),
    };
    let mut warm: Vec<Option<Fit>> = vec![None; usize::from(k)];
    let mut raw = Vec::new();
    for &l2 in grid {
        let mut loss = 0.0;
        let mut count = 0usize;
        let mut scores = vec![0.0; n];
        for f in 0..k {
            let train: Vec<usize> = (0..n).filter(|&i| fold.get(i) != Some(&f)).collect();
            let held: Vec<usize> = (0..n).filter(|&i| fold.get(i) == Some(&f)).collect();
            let opts = FitOptions { l2, ..*options };
            let start = warm.get(usize::from(f)).and_then(Option::as_ref);
            let fitted = fit(
                &Subset {
                    rows,
                    index: &train,
                },
                &opts,
                start,
            )?;
            for &i in &held {
                raw.clear();
                rows.row(i, &mut raw);
                let eta = fitted.logit(&raw);
                loss += if rows.label(i) {
                    softplus(-eta)
                } else {
                    softplus(eta)
                };
                if let Some(s) = scores.get_mut(i) {
                    *s = eta - fitted.intercept;
                }
            }
            count += held.len();
            if let Some(w) = warm.get_mut(usize::from(f)) {
                *w = Some(fitted);
            }
        }
        out.loss.push((l2, loss / count.max(1) as f64));
        out.held_out.push(scores);
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    struct Dense {
        x: Vec<Vec<f64>>,
        y: Vec<bool>,
    }

    impl SparseRows for Dense {
        fn n_rows(&self) -> usize {
            self.x.len()
        }
        fn n_features(&self) -> usize {
            self.x.first().map_or(0, Vec::len)
        }
        fn row(&self, i: usize, out: &mut Vec<(u32, f64)>) {
            out.extend(
                self.x[i]
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| **v != 0.0)
                    .map(|(j, v)| (j as u32, *v)),
            );
        }
        fn label(&self, i: usize) -> bool {
            self.y[i]
        }
    }

    #[test]
    fn cholesky_solves_a_known_system() {
        // [[4, 2], [2, 3]] x = [2, 1]  →  x = [0.5, 0]
        let x = cholesky_solve(&[4.0, 2.0, 2.0, 3.0], 2, &[2.0, 1.0]).unwrap();
        assert!((x[0] - 0.5).abs() < 1e-12 && x[1].abs() < 1e-12);
        assert!(cholesky_solve(&[1.0, 2.0, 2.0, 1.0], 2, &[1.0, 1.0]).is_none());
    }

    #[test]
    fn a_single_binary_feature_recovers_the_log_odds_ratio() {
        // x = 0: 20 % convert; x = 1: 60 % convert. Unpenalised MLE: b = ln(1/4), w = ln(1.5) − ln(0.25).
        let mut x = Vec::new();
        let mut y = Vec::new();
        for i in 0..100 {
            x.push(vec![0.0]);
            y.push(i < 20);
            x.push(vec![1.0]);
            y.push(i < 60);
        }
        let f = fit(
            &Dense { x, y },
            &FitOptions {
                l2: 0.0,
                ..FitOptions::default()
            },
            None,
        )
        .unwrap();
        assert!(f.converged);
        assert!((f.intercept - 0.25f64.ln()).abs() < 1e-6, "{}", f.intercept);
        assert!(
            (f.weights[0] - (1.5f64.ln() - 0.25f64.ln())).abs() < 1e-6,
            "{:?}",
            f.weights
        );
    }

    #[test]
    fn the_gradient_vanishes_at_the_optimum_with_a_penalty() {
        let mut rng = crate::learn::rng::SplitMix64::new(3);
        let mut x = Vec::new();
        let mut y = Vec::new();
        for _ in 0..500 {
            let row: Vec<f64> = (0..4)
                .map(|_| if rng.next_f64() < 0.4 { 1.0 } else { 0.0 })
                .collect();
            let eta = -0.5 + row[0] * 1.5 - row[1] + 0.3 * row[2];
            y.push(rng.next_f64() < sigmoid(eta));
            x.push(row);
        }
        let rows = Dense { x, y };
        let l2 = 2.0;
        let f = fit(
            &rows,
            &FitOptions {
                l2,
                ..FitOptions::default()
            },
            None,
        )
        .unwrap();
        let theta: Vec<f64> = std::iter::once(f.intercept)
            .chain(f.weights.iter().copied())
            .collect();
        let pass = evaluate(&rows, &theta, l2);
        assert!(
            pass.gradient.iter().all(|g| g.abs() < 1e-6),
            "{:?}",
            pass.gradient
        );
        assert!(f.weights[0] > 0.8 && f.weights[1] < -0.4);
        // A stronger penalty shrinks every weight.
        let g = fit(
            &rows,
            &FitOptions {
                l2: 200.0,
                ..FitOptions::default()
            },
            None,
        )
        .unwrap();
        for (a, b) in f.weights.iter().zip(&g.weights) {
            assert!(b.abs() < a.abs());
        }
    }

    #[test]
    fn one_class_is_an_error() {
        let rows = Dense {
            x: vec![vec![1.0], vec![0.0]],
            y: vec![true, true],
        };
        assert_eq!(
            fit(&rows, &FitOptions::default(), None),
            Err(FitError::OneClass { converted: true })
        );
    }

    #[test]
    fn cross_validation_prefers_some_penalty_over_none_on_noise() {
        let mut rng = crate::learn::rng::SplitMix64::new(9);
        let mut x = Vec::new();
        let mut y = Vec::new();
        for _ in 0..200 {
            x.push(
                (0..30)
                    .map(|_| if rng.next_f64() < 0.2 { 1.0 } else { 0.0 })
                    .collect(),
            );
            y.push(rng.next_f64() < 0.3);
        }
        let rows = Dense { x, y };
        let fold: Vec<u8> = (0..200).map(|i| (i % 5) as u8).collect();
        let cv = cross_validate(&rows, &fold, 5, &[1e-4, 10.0], &FitOptions::default()).unwrap();
        assert!(cv.loss[1].1 < cv.loss[0].1, "{:?}", cv.loss);
        assert_eq!(cv.held_out.len(), 2);
        assert_eq!(cv.held_out[0].len(), 200);
    }
}
