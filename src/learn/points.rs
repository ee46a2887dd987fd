//! Integer points: a weight in log-odds becomes `round(weight × pdo / ln 2)` points, so every
//! `pdo` points double the odds of converting; rules that round to 0 points are left out. Each
//! rule of the model keeps its evidence: how many training leads it covered and how many of them
//! converted.

use super::candidates::Design;
use super::layout::Layout;
use super::report::ColumnReport;
use crate::model::{Evidence, Rule};

/// Points for a weight: `round(weight × pdo / ln 2)`, saturating.
pub fn points(weight: f64, pdo: f64) -> i32 {
    let scaled = (weight * pdo / std::f64::consts::LN_2).round();
    if scaled.is_nan() {
        0
    } else {
        scaled.clamp(f64::from(i32::MIN), f64::from(i32::MAX)) as i32
    }
}

/// The rules of the model and what they give the training leads.
pub struct Scored {
    /// Candidates with non-zero points, with their points and evidence, in candidate order.
    pub rules: Vec<Rule>,
    /// Integer total of every training lead, in `design.rows` order.
    pub totals: Vec<i64>,
    /// Label of every training lead, in the same order.
    pub labels: Vec<bool>,
}

/// Gives every candidate its points and evidence and sums each training lead's total; counts
/// the rules per column into `reports`.
pub fn score(
    design: &Design,
    pts: &[i32],
    layout: &Layout,
    reports: &mut [ColumnReport],
) -> Scored {
    let rows = design.rows;
    let mut covered = vec![(0u64, 0u64); design.candidates.len()];
    let mut totals = Vec::with_capacity(rows.len());
    let mut labels = Vec::with_capacity(rows.len());
    let mut active = Vec::new();
    for &r in rows {
        active.clear();
        design.actives(r as usize, &mut active);
        let y = design.labels.get(r as usize).copied().unwrap_or(false);
        let mut total = 0i64;
        for &j in &active {
            total += i64::from(pts.get(j as usize).copied().unwrap_or(0));
            if let Some(c) = covered.get_mut(j as usize) {
                c.0 += 1;
                c.1 += u64::from(y);
            }
        }
        totals.push(total);
        labels.push(y);
    }
    let mut rules = Vec::new();
    for ((candidate, &p), &(leads, conv)) in design.candidates.iter().zip(pts).zip(&covered) {
        if p == 0 {
            continue;
        }
        let mut rule = candidate.rule.clone();
        rule.points = p;
        rule.evidence = Some(Evidence {
            leads,
            conversion_rate: if leads > 0 {
                conv as f64 / leads as f64
            } else {
                0.0
            },
        });
        if let Some(report) = layout
            .specs
            .get(candidate.spec)
            .and_then(|s| reports.iter_mut().find(|r| r.column == s.name))
        {
            report.rules += 1;
        }
        rules.push(rule);
    }
    Scored {
        rules,
        totals,
        labels,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn points_follow_the_scale() {
        assert_eq!(points(std::f64::consts::LN_2, 20.0), 20);
        assert_eq!(points(-std::f64::consts::LN_2 / 2.0, 20.0), -10);
        assert_eq!(points(0.01, 20.0), 0);
        assert_eq!(points(f64::NAN, 20.0), 0);
        assert_eq!(points(1e300, 20.0), i32::MAX);
    }
}
