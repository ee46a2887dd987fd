//! Pairwise interactions for the boosted fitter, in the manner of FAST (Lou, Caruana, Gehrke and
//! Hooker, 2013) as the Explainable Boosting Machine uses it: after the main effects, pairs of
//! columns are scored on the residuals, and the best pairs become compound `all` rules.
//!
//! 0. A validation part of the training leads is drawn first; the main effects the pairs are
//!    scored against are boosted without it (the fitter does that), so that it judges the
//!    proposals out of sample.
//! 1. The state-like columns (answers, numeric answers, visits, time on site, distinct pages:
//!    what an `all` reads from the visitor's state, whatever the order of events) are paired; at
//!    most the `top_columns` most important ones, which bounds the cost on wide files.
//! 2. For each pair, every cell a rule can express — a candidate of one column (a level, a rare
//!    pool, a numeric step `≥ t`) and a candidate of the other, both switched on — is scored by
//!    the loss reduction of one Newton step on the main-effect residuals of the training part,
//!    `G² / (H + λ)`, with at least `min_leads` leads inside and outside the cell. Each pair
//!    proposes its best cell.
//! 3. The proposals, best first, are tried one by one: a single weight is fitted on the training
//!    part on top of the main effects (and the interactions already kept), and the proposal is
//!    kept only when it lowers the log loss of the validation part (by more than `tolerance`,
//!    0 by default: the validation part alone decides). At most `max_rules` are kept.
//!
//! The fitter then boosts the main effects and the kept interactions together, and rounds them
//! to integer points on the same scale. Everything runs in a fixed order with a fixed seed.

use super::candidates::{Design, DesignColumn};
use super::layout::{Layout, Resolved};
use super::logistic::{sigmoid, softplus};
use super::rng::SplitMix64;

/// What interaction detection may propose.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InteractionOptions {
    /// Compound rules kept at most (0: none).
    pub max_rules: usize,
    /// Columns paired at most: the most important ones of the main effects (a bound on the
    /// cost, which grows with the square of the columns).
    pub top_columns: usize,
    /// Leads needed inside (and outside) a cell.
    pub min_leads: u64,
    /// Share of the rows that judges the proposals.
    pub validation_share: f64,
    /// Penalty on an interaction's weight.
    pub l2: f64,
    /// A proposal is kept when it lowers the validation mean log loss by more than this.
    /// (0: by any amount; the validation part is out of sample for the main effects and the
    /// proposal's weight, so the fall it measures is not biased towards keeping.)
    pub tolerance: f64,
}

impl Default for InteractionOptions {
    fn default() -> InteractionOptions {
        InteractionOptions {
            max_rules: 10,
            top_columns: 20,
            min_leads: 50,
            validation_share: 0.25,
            l2: 5.0,
            tolerance: 0.0,
        }
    }
}

/// A kept interaction: candidate `a` of design column `column_a` and candidate `b` of design
/// column `column_b`, both switched on.
#[derive(Debug, Clone, PartialEq)]
pub struct Interaction {
    pub column_a: usize,
    pub a: u32,
    pub column_b: usize,
    pub b: u32,
    /// Loss reduction on the training part's residuals.
    pub gain: f64,
    /// Change of the validation mean log loss when it was kept (negative).
    pub validation: f64,
}

/// True when column `column` of the design is read from the visitor's state.
fn state_like(layout: &Layout, column: &DesignColumn) -> bool {
    layout.specs.get(column.spec).is_some_and(|s| {
        matches!(
            s.signal,
            Resolved::Answer { .. }
                | Resolved::Number { .. }
                | Resolved::Visits { .. }
                | Resolved::TimeOnSite { .. }
                | Resolved::DistinctPages { .. }
        )
    })
}

/// 1 for the rows of `sample` (positions in `design.rows`) where both candidates are on.
pub fn indicator(design: &Design, interaction: &Interaction, sample: &[usize]) -> Vec<u32> {
    let (Some(ca), Some(cb)) = (
        design.columns.get(interaction.column_a),
        design.columns.get(interaction.column_b),
    ) else {
        return vec![0; sample.len()];
    };
    sample
        .iter()
        .map(|&i| {
            let r = design.rows.get(i).copied().unwrap_or(0) as usize;
            u32::from(
                ca.active(r).contains(&interaction.a) && cb.active(r).contains(&interaction.b),
            )
        })
        .collect()
}

/// What the main effects found, for the interactions to build on.
pub struct MainEffects {
    /// Log-odds of each sampled row.
    pub scores: Vec<f64>,
    /// One value per design column: how much its shape moves the leads' scores.
    pub importance: Vec<f64>,
}

/// The validation part of `n` rows (true: validation), drawn with the seed.
pub fn validation_part(n: usize, options: &InteractionOptions, seed: u64) -> Vec<bool> {
    let mut rng = SplitMix64::new(seed ^ 0x1a7e_5ac7);
    (0..n)
        .map(|_| rng.next_f64() < options.validation_share)
        .collect()
}

/// Finds the interactions worth keeping on the rows of `sample` (positions in `design.rows`,
/// with their `labels`): proposed and fitted on the rows whose `validation` flag is false,
/// judged on the others.
pub fn detect(
    design: &Design,
    layout: &Layout,
    sample: &[usize],
    labels: &[bool],
    validation: &[bool],
    main: &MainEffects,
    options: &InteractionOptions,
) -> Vec<Interaction> {
    let (scores, importance) = (main.scores.as_slice(), main.importance.as_slice());
    if options.max_rules == 0 || sample.is_empty() {
        return Vec::new();
    }
    // Columns, most important first (ties in column order).
    let mut columns: Vec<usize> = (0..design.columns.len())
        .filter(|&c| {
            design
                .columns
                .get(c)
                .is_some_and(|col| state_like(layout, col))
        })
        .collect();
    columns.sort_by(|&x, &y| {
        let (ix, iy) = (
            importance.get(x).copied().unwrap_or(0.0),
            importance.get(y).copied().unwrap_or(0.0),
        );
        iy.total_cmp(&ix).then(x.cmp(&y))
    });
    columns.truncate(options.top_columns);
    columns.sort_unstable();

    let train_rows = validation.iter().filter(|v| !**v).count() as u64;
    let gradients: Vec<(f64, f64)> = scores
        .iter()
        .zip(labels)
        .map(|(&s, &y)| {
            let p = sigmoid(s);
            (p - f64::from(u8::from(y)), p * (1.0 - p))
        })
        .collect();

    // Per column, its candidates and, per sampled row, their local indices.
    let local: Vec<(Vec<u32>, Vec<Vec<u16>>)> = columns
        .iter()
        .map(|&c| {
            let Some(col) = design.columns.get(c) else {
                return (Vec::new(), Vec::new());
            };
            let mut cands: Vec<u32> = col.by_code.iter().flatten().copied().collect();
            cands.sort_unstable();
            cands.dedup();
            let per_row = sample
                .iter()
                .map(|&i| {
                    let r = design.rows.get(i).copied().unwrap_or(0) as usize;
                    col.active(r)
                        .iter()
                        .filter_map(|j| cands.binary_search(j).ok().map(|k| k as u16))
                        .collect()
                })
                .collect();
            (cands, per_row)
        })
        .collect();

    // Each pair's best expressible cell.
    let mut proposals: Vec<Interaction> = Vec::new();
    for (x, (&ca, (cands_a, rows_a))) in columns.iter().zip(&local).enumerate() {
        for (&cb, (cands_b, rows_b)) in columns.iter().zip(&local).skip(x + 1) {
            let nb = cands_b.len();
            let mut cells = vec![(0.0f64, 0.0f64, 0u64); cands_a.len() * nb];
            for (k, (la, lb)) in rows_a.iter().zip(rows_b).enumerate() {
                if validation.get(k).copied().unwrap_or(true) || la.is_empty() || lb.is_empty() {
                    continue;
                }
                let (g, h) = gradients.get(k).copied().unwrap_or((0.0, 0.0));
                for &a in la {
                    for &b in lb {
                        if let Some(cell) = cells.get_mut(usize::from(a) * nb + usize::from(b)) {
                            cell.0 += g;
                            cell.1 += h;
                            cell.2 += 1;
                        }
                    }
                }
            }
            let best = cells
                .iter()
                .enumerate()
                .filter(|(_, c)| {
                    c.2 >= options.min_leads && train_rows.saturating_sub(c.2) >= options.min_leads
                })
                .map(|(k, c)| (k, c.0 * c.0 / (c.1 + options.l2)))
                .fold(None::<(usize, f64)>, |best, (k, gain)| match best {
                    Some((_, g)) if g >= gain => best,
                    _ => Some((k, gain)),
                });
            if let Some((k, gain)) = best {
                let (Some(&a), Some(&b)) = (cands_a.get(k / nb), cands_b.get(k % nb)) else {
                    continue;
                };
                proposals.push(Interaction {
                    column_a: ca,
                    a,
                    column_b: cb,
                    b,
                    gain,
                    validation: 0.0,
                });
            }
        }
    }
    proposals.sort_by(|p, q| {
        q.gain
            .total_cmp(&p.gain)
            .then((p.column_a, p.column_b).cmp(&(q.column_a, q.column_b)))
    });
    proposals.truncate(options.max_rules * 3);

    // Kept one by one when the validation part agrees.
    let mut offsets = scores.to_vec();
    let n_validation = validation.iter().filter(|v| **v).count().max(1) as f64;
    let mut kept = Vec::new();
    for mut proposal in proposals {
        if kept.len() >= options.max_rules {
            break;
        }
        let on = indicator(design, &proposal, sample);
        let mut w = 0.0;
        for _ in 0..20 {
            let (mut g, mut h) = (options.l2 * w, options.l2);
            for (((&x, &s), &y), &v) in on.iter().zip(&offsets).zip(labels).zip(validation) {
                if x == 1 && !v {
                    let p = sigmoid(s + w);
                    g += p - f64::from(u8::from(y));
                    h += p * (1.0 - p);
                }
            }
            let step = g / h;
            w -= step;
            if step.abs() < 1e-9 {
                break;
            }
        }
        let loss = |s: f64, y: bool| softplus(s) - f64::from(u8::from(y)) * s;
        let change: f64 = on
            .iter()
            .zip(&offsets)
            .zip(labels)
            .zip(validation)
            .filter(|(((&x, _), _), &v)| x == 1 && v)
            .map(|(((_, &s), &y), _)| loss(s + w, y) - loss(s, y))
            .sum::<f64>()
            / n_validation;
        if change < -options.tolerance {
            for (s, &x) in offsets.iter_mut().zip(&on) {
                if x == 1 {
                    *s += w;
                }
            }
            proposal.validation = change;
            kept.push(proposal);
        }
    }
    kept
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::learn::candidates::{Candidate, Design, DesignColumn};
    use crate::learn::layout::ColumnSpec;
    use crate::model::{Decay, Dimension, Frequency, Matcher, Rule};

    fn rule(id: &str) -> Candidate {
        Candidate {
            rule: Rule {
                id: id.into(),
                description: None,
                when: Matcher::Visits { at_least: 2 },
                dimension: Dimension::Fit,
                points: 0,
                frequency: Frequency::Once,
                decay: Decay::Never,
                evidence: None,
            },
            spec: 0,
        }
    }

    /// Two answers whose combination converts far more than either alone: the pair is found,
    /// and the same seed finds the same thing.
    #[test]
    fn a_planted_interaction_is_found() {
        let mut rng = SplitMix64::new(3);
        let n = 4000;
        let a: Vec<u32> = (0..n).map(|_| rng.below(2) as u32).collect();
        let b: Vec<u32> = (0..n).map(|_| rng.below(2) as u32).collect();
        let c: Vec<u32> = (0..n).map(|_| rng.below(2) as u32).collect();
        let labels: Vec<bool> = (0..n)
            .map(|i| {
                let logit = -1.0 + if a[i] == 1 && b[i] == 1 { 2.0 } else { 0.0 };
                rng.next_f64() < sigmoid(logit)
            })
            .collect();
        let rows: Vec<u32> = (0..n as u32).collect();
        let column = |codes: &'static [u32], cand: u32| DesignColumn {
            spec: 0,
            codes,
            by_code: vec![Vec::new(), vec![cand]],
        };
        let (a, b, c): (&'static [u32], &'static [u32], &'static [u32]) =
            (a.leak(), b.leak(), c.leak());
        let design = Design {
            candidates: vec![rule("a"), rule("b"), rule("c")],
            columns: vec![column(a, 0), column(b, 1), column(c, 2)],
            pairs: Vec::new(),
            rows: &rows,
            labels: &labels,
        };
        let layout = Layout {
            label: 0,
            specs: vec![ColumnSpec {
                column: 0,
                name: "x".into(),
                signal: Resolved::Answer {
                    question: "x".into(),
                },
                dimension: Dimension::Fit,
            }],
            missing: Default::default(),
        };
        // Main effects only: the base rate plus each answer's marginal effect, roughly.
        let rate = labels.iter().filter(|y| **y).count() as f64 / n as f64;
        let base = (rate / (1.0 - rate)).ln();
        let scores: Vec<f64> = (0..n)
            .map(|i| base + 0.7 * f64::from(a[i]) + 0.7 * f64::from(b[i]) - 0.7)
            .collect();
        let sample: Vec<usize> = (0..n).collect();
        let options = InteractionOptions::default();
        let main = MainEffects {
            scores,
            importance: vec![1.0, 1.0, 1.0],
        };
        let validation = validation_part(n, &options, 1);
        let run = || {
            detect(
                &design,
                &layout,
                &sample,
                &labels,
                &validation,
                &main,
                &options,
            )
        };
        let found = run();
        assert!(!found.is_empty());
        assert_eq!((found[0].a, found[0].b), (0, 1), "{found:?}");
        assert!(found.iter().all(|f| f.validation < 0.0));
        assert_eq!(found, run());
    }
}
