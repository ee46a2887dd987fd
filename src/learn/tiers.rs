//! Tier thresholds chosen from data by the user's targets.
//!
//! Totals are scanned from the highest down; "at or above `t`" is the set of leads a tier with
//! `min.total = t` would hold (the lower tiers of a model only catch who the higher ones left).
//! Once placed, each tier's evidence counts the leads that land in it and no higher tier.

use crate::model::{Dimension, Evidence, Thresholds, Tier};

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

/// A tier written into the model.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TierReport {
    pub tier: String,
    #[serde(flatten)]
    pub choice: Choice,
}

/// Tiers from the targets, highest first; warnings for targets that cannot be met.
pub fn choose_tiers(
    totals: &[i64],
    labels: &[bool],
    sql: Option<Target>,
    mql: Option<Target>,
    min_leads: usize,
    warnings: &mut Vec<String>,
) -> Vec<TierReport> {
    let mut out: Vec<TierReport> = Vec::new();
    let describe = |t: Target| match t {
        Target::Precision(p) => format!("a conversion rate of {:.0} %", p * 100.0),
        Target::Share(s) => format!("a share of {:.0} %", s * 100.0),
    };
    if let Some(target) = sql {
        match choose(totals, labels, target, min_leads) {
            Some(choice) => out.push(TierReport { tier: "SQL".into(), choice }),
            None => warnings.push(format!(
                "no SQL tier: no score threshold reaches {} on the training leads (with at least {min_leads} leads)",
                describe(target)
            )),
        }
    }
    if let Some(target) = mql {
        match choose(totals, labels, target, min_leads) {
            Some(choice) => {
                if out
                    .first()
                    .is_some_and(|sql| choice.threshold >= sql.choice.threshold)
                {
                    warnings.push(format!(
                        "no MQL tier: {} is already met by the SQL tier (threshold {})",
                        describe(target),
                        choice.threshold
                    ));
                } else {
                    out.push(TierReport {
                        tier: "MQL".into(),
                        choice,
                    });
                }
            }
            None => warnings.push(format!(
                "no MQL tier: no threshold reaches {}",
                describe(target)
            )),
        }
    }
    out
}

/// Places the tiers: on held-out totals when there are any (in-sample totals flatter the rules
/// they were fitted with), else on the training totals. A threshold above every training total
/// (possible with held-out scores) would be unreachable for the validator; the highest total is
/// the strictest meaningful one.
pub fn place_tiers(
    held_out: Option<(Vec<i64>, Vec<bool>)>,
    totals: &[i64],
    labels: &[bool],
    sql: Option<Target>,
    mql: Option<Target>,
    min_leads: usize,
    warnings: &mut Vec<String>,
) -> Result<Vec<TierReport>, super::error::LearnError> {
    let (tier_totals, tier_labels) = held_out.unwrap_or_else(|| (totals.to_vec(), labels.to_vec()));
    let mut tiers = choose_tiers(&tier_totals, &tier_labels, sql, mql, min_leads, warnings);
    let highest = totals.iter().copied().max().unwrap_or(0);
    for t in &mut tiers {
        t.choice.threshold = t.choice.threshold.min(highest);
    }
    if tiers.is_empty() {
        return Err(super::error::LearnError(format!(
            "no tier could be placed: {}",
            warnings.join("; ")
        )));
    }
    Ok(tiers)
}

/// Sub-scores and total of one lead: fit, engagement, intent, product, total (the slots of
/// [`crate::model::Dimension::index`], then the total).
pub type Scores = [f64; 5];

fn thresholds_hold(t: &Thresholds, s: &Scores, at_least: bool) -> bool {
    t.entries().all(|(_, dim, limit)| {
        let value = s
            .get(dim.map_or(4, Dimension::index))
            .copied()
            .unwrap_or(0.0);
        if at_least {
            value >= limit
        } else {
            value <= limit
        }
    })
}

/// The tier a lead reaches, as the engine decides: the first tier in model order whose `min`
/// and `max` hold for the lead's scores and whose required rules all `count` for it; `None`
/// for unqualified.
pub fn tier_of(tiers: &[Tier], scores: &Scores, counts: impl Fn(&str) -> bool) -> Option<usize> {
    tiers.iter().position(|t| {
        thresholds_hold(&t.min, scores, true)
            && thresholds_hold(&t.max, scores, false)
            && t.requires.iter().all(|r| counts(r))
    })
}

/// Training leads and conversions per tier, each lead counted once, in the tier it reaches:
/// what the tier's own training predicts for it, written as the tier's `evidence`.
#[derive(Debug, Clone, PartialEq)]
pub struct TierTally(Vec<(u64, u64)>);

impl TierTally {
    /// No leads yet, for a model of `tiers` tiers.
    pub fn new(tiers: usize) -> TierTally {
        TierTally(vec![(0, 0); tiers])
    }

    /// Counts one lead in `tier` (`None`: unqualified, not counted).
    pub fn add(&mut self, tier: Option<usize>, converted: bool) {
        if let Some(c) = tier.and_then(|i| self.0.get_mut(i)) {
            c.0 += 1;
            c.1 += u64::from(converted);
        }
    }

    /// Writes each tier's leads and conversion rate (0 for a tier no lead reached) as its
    /// evidence.
    pub fn write_evidence(&self, tiers: &mut [Tier]) {
        for (tier, &(leads, converted)) in tiers.iter_mut().zip(&self.0) {
            tier.evidence = Some(Evidence {
                leads,
                conversion_rate: if leads > 0 {
                    converted as f64 / leads as f64
                } else {
                    0.0
                },
            });
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn tier(name: &str, min_total: f64, requires: &[&str]) -> Tier {
        Tier {
            name: name.into(),
            min: Thresholds {
                total: Some(min_total),
                ..Thresholds::default()
            },
            max: Thresholds::default(),
            requires: requires.iter().map(|r| r.to_string()).collect(),
            evidence: None,
        }
    }

    #[test]
    fn each_lead_counts_in_the_highest_tier_that_holds() {
        let mut tiers = vec![tier("SQL", 50.0, &["demo"]), tier("MQL", 20.0, &[])];
        let with_demo = |r: &str| r == "demo";
        let without = |_: &str| false;
        let at = |total: f64| [0.0, 0.0, 0.0, 0.0, total];
        assert_eq!(tier_of(&tiers, &at(60.0), with_demo), Some(0));
        assert_eq!(tier_of(&tiers, &at(60.0), without), Some(1));
        assert_eq!(tier_of(&tiers, &at(19.0), with_demo), None);
        tiers[1].max.intent = Some(5.0);
        assert_eq!(tier_of(&tiers, &[0.0, 0.0, 6.0, 0.0, 30.0], without), None);

        let mut tally = TierTally::new(2);
        for (tier, converted) in [
            (Some(0), true),
            (Some(0), false),
            (Some(1), true),
            (None, true),
        ] {
            tally.add(tier, converted);
        }
        tiers.push(tier("spare", 1.0, &[]));
        tally.write_evidence(&mut tiers);
        let ev = |i: usize| tiers[i].evidence.clone().unwrap();
        assert_eq!((ev(0).leads, ev(0).conversion_rate), (2, 0.5));
        assert_eq!((ev(1).leads, ev(1).conversion_rate), (1, 1.0));
        assert_eq!(tiers[2].evidence, None);
    }

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
