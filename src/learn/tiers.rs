//! Tier thresholds chosen from data by the user's targets.
//!
//! Totals are scanned from the highest down; "at or above `t`" is the set of leads a tier with
//! `min.total = t` would hold (the lower tiers of a model only catch who the higher ones left).

/// What a tier's threshold should achieve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Target {
    /// The leads at or above the threshold convert at least this often (e.g. SQL at 0.8);
    /// the lowest such threshold is chosen, so the tier is as large as the target allows.
    Precision(f64),
    /// About this share of all leads is at or above the threshold (e.g. MQL-or-better 0.3).
    Share(f64),
}

/// A chosen threshold and what it gives on the data it was chosen on.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Choice {
    /// `min.total` of the tier.
    pub threshold: i64,
    /// Share of leads at or above it.
    pub share: f64,
    /// Conversion rate of the leads at or above it.
    pub precision: f64,
}

/// `(total, leads, converted)` per distinct total, highest first.
fn descending(totals: &[i64], labels: &[bool]) -> Vec<(i64, usize, usize)> {
    let mut pairs: Vec<(i64, bool)> = totals.iter().copied().zip(labels.iter().copied()).collect();
    pairs.sort_by_key(|p| std::cmp::Reverse(p.0));
    let mut out: Vec<(i64, usize, usize)> = Vec::new();
    for (t, y) in pairs {
        match out.last_mut() {
            Some(last) if last.0 == t => {
                last.1 += 1;
                last.2 += usize::from(y);
            }
            _ => out.push((t, 1, usize::from(y))),
        }
    }
    out
}

/// The threshold for a target, or `None` when no threshold meets it. A precision target only
/// counts thresholds with at least `min_leads` leads at or above them.
pub fn choose(totals: &[i64], labels: &[bool], target: Target, min_leads: usize) -> Option<Choice> {
    let n = totals.len().min(labels.len());
    if n == 0 {
        return None;
    }
    let mut leads = 0usize;
    let mut converted = 0usize;
    let mut best = None;
    for (t, l, c) in descending(totals, labels) {
        leads += l;
        converted += c;
        let choice = Choice {
            threshold: t,
            share: leads as f64 / n as f64,
            precision: converted as f64 / leads as f64,
        };
        match target {
            Target::Precision(p) => {
                if leads >= min_leads.max(1) && choice.precision >= p {
                    best = Some(choice);
                }
            }
            Target::Share(s) => {
                if choice.share >= s - 1e-12 {
                    return Some(choice);
                }
                best = Some(choice);
            }
        }
    }
    best
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn precision_picks_the_lowest_threshold_that_meets_it() {
        let totals = [100, 90, 80, 70, 60, 50, 40, 30, 20, 10];
        let labels = [
            true, true, true, true, false, true, false, false, false, false,
        ];
        // At ≥70: 4/4; ≥60: 4/5 = 0.8; ≥50: 5/6 = 0.83; ≥40: 5/7 = 0.71.
        let c = choose(&totals, &labels, Target::Precision(0.8), 1).unwrap();
        assert_eq!(c.threshold, 50);
        assert!((c.share - 0.6).abs() < 1e-12);
        assert!(choose(&totals, &labels, Target::Precision(0.99), 5).is_none());
    }

    #[test]
    fn share_picks_the_highest_threshold_covering_it() {
        let totals = [5, 5, 5, 3, 3, 1, 1, 1, 1, 0];
        let labels = [false; 10];
        let c = choose(&totals, &labels, Target::Share(0.3), 1).unwrap();
        assert_eq!((c.threshold, c.share), (5, 0.3));
        let c = choose(&totals, &labels, Target::Share(0.4), 1).unwrap();
        assert_eq!((c.threshold, c.share), (3, 0.5));
    }
}
