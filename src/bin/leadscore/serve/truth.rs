//! `GET /v1/summary/truth`: how each tier of each model version converts in reality.
//!
//! A lead is a `lead_id` (every visitor whose results carry it) or, before `identify`, one
//! visitor. Within a model version, a lead counts in the highest tier it reached (model order:
//! the first tier of the model is the highest), from its first result in that tier. Outcomes join
//! leads by `lead_id` or `visitor_id` when this summary is computed, so an outcome stored before
//! its lead's first result counts as soon as the result arrives. Converted = an `opportunity` or
//! `won` outcome; accepted by sales = `accepted`, `opportunity` or `won`.

use super::outcome::OutcomeKind;
use super::store::{Store, TruthRows};
use super::validate::format_at;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

/// z for a two-sided 95 % interval.
pub const Z95: f64 = 1.959_963_984_540_054;
/// Fewest leads in a tier before its observed rate is compared with the expected one.
pub const MIN_LEADS_FOR_DRIFT: u64 = 30;
/// Fewest leads in each period before acceptance rates are compared.
pub const MIN_LEADS_FOR_ACCEPTANCE: u64 = 20;
/// The recent period of the acceptance comparison.
pub const RECENT_WEEKS: i64 = 4;
/// Weeks shown in the per-week series.
pub const WEEKS_SHOWN: i64 = 26;
/// One-sided 5 % critical value of the acceptance comparison.
const Z_FALLING: f64 = -1.644_853_626_951_472_6;

/// The 95 % Wilson score interval of `successes` out of `trials`; `None` without trials.
pub fn wilson(successes: u64, trials: u64, z: f64) -> Option<(f64, f64)> {
    if trials == 0 {
        return None;
    }
    let n = trials as f64;
    let p = successes.min(trials) as f64 / n;
    let z2 = z * z;
    let denominator = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denominator;
    let half = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denominator;
    Some(((centre - half).max(0.0), (centre + half).min(1.0)))
}

/// What the collector knows of a model version from its model file: the tiers in model order,
/// and the conversion rate each tier's training evidence gives.
#[derive(Debug, Clone, Default)]
pub struct ModelTiers {
    pub order: Vec<String>,
    /// Tier → (training leads, conversion rate).
    pub expected: BTreeMap<String, (u64, f64)>,
}

/// The tiers of a model file in order, with the conversion rate of their training evidence.
pub fn model_tiers(model: &leadscore::model::Model) -> ModelTiers {
    ModelTiers {
        order: model.tiers.iter().map(|t| t.name.clone()).collect(),
        expected: BTreeMap::new(),
    }
}

/// Models by `(model_id, model_version)`.
pub type KnownModels = BTreeMap<(String, String), ModelTiers>;

#[derive(Debug, Clone, Serialize)]
pub struct Truth {
    pub generated_at: String,
    pub min_leads_for_drift: u64,
    pub model_versions: Vec<VersionTruth>,
    /// Outcomes that match no lead yet (their lead has sent no result so far).
    pub unmatched_outcomes: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct VersionTruth {
    pub model_id: String,
    pub model_version: String,
    pub leads: u64,
    pub converted: u64,
    /// Conversion rate of all leads of this version: the base of `lift`.
    pub base_rate: Option<f64>,
    pub tiers: Vec<TierTruth>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TierTruth {
    pub tier: String,
    pub leads: u64,
    pub accepted: u64,
    pub converted: u64,
    pub acceptance_rate: Option<f64>,
    pub conversion_rate: Option<f64>,
    /// 95 % Wilson interval of the conversion rate.
    pub interval: Option<(f64, f64)>,
    /// Conversion rate over the version's base rate.
    pub lift: Option<f64>,
    /// Median days from the lead's first result in this tier to its first conversion.
    pub median_days_to_conversion: Option<f64>,
    /// The rate the model's training evidence gives for this tier, and on how many leads.
    pub expected_rate: Option<f64>,
    pub expected_leads: Option<u64>,
    /// Acceptance rate of the leads that entered the tier in the last 4 weeks, and before.
    pub recent_acceptance_rate: Option<f64>,
    pub earlier_acceptance_rate: Option<f64>,
    /// `drift`: the expected rate lies outside the interval (with enough leads);
    /// `acceptance_falling`: the recent acceptance rate is significantly below the earlier one.
    pub flags: Vec<&'static str>,
    /// Leads per week of entering the tier (weeks start on Monday), oldest first.
    pub weeks: Vec<WeekTruth>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct WeekTruth {
    pub week: String,
    pub leads: u64,
    pub accepted: u64,
    pub converted: u64,
}

pub async fn build(store: &Store, models: &KnownModels) -> Result<Truth, String> {
    let rows = store.truth_rows().await?;
    compute(&rows, models, OffsetDateTime::now_utc())
}

/// What one lead's outcomes say.
#[derive(Debug, Default, Clone, Copy)]
struct LeadOutcome {
    accepted: bool,
    converted: bool,
    converted_at: Option<OffsetDateTime>,
}

fn parse_time(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339).ok()
}

/// Where a tier ranks in its model (lower is higher); tiers the model file does not name come
/// after the named ones, `unqualified` last.
fn rank(model: Option<&ModelTiers>, tier: &str) -> (usize, String) {
    if tier == leadscore::engine::UNQUALIFIED {
        return (usize::MAX, String::new());
    }
    let position = model
        .and_then(|m| m.order.iter().position(|t| t == tier))
        .unwrap_or(usize::MAX - 1);
    (position, tier.to_owned())
}

pub fn compute(
    rows: &TruthRows,
    models: &KnownModels,
    now: OffsetDateTime,
) -> Result<Truth, String> {
    let lead_of: BTreeMap<&str, &str> = rows
        .leads
        .iter()
        .map(|(v, l)| (v.as_str(), l.as_str()))
        .collect();
    let key = |visitor: &str| match lead_of.get(visitor) {
        Some(lead) => (true, (*lead).to_owned()),
        None => (false, visitor.to_owned()),
    };

    // Outcomes per lead key.
    let mut by_lead: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    let mut by_visitor: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, (lead, visitor, _, _)) in rows.outcomes.iter().enumerate() {
        if let Some(lead) = lead {
            by_lead.entry(lead.as_str()).or_default().push(i);
        }
        if let Some(visitor) = visitor {
            by_visitor.entry(visitor.as_str()).or_default().push(i);
        }
    }

    // (model, version) → lead key → (visitors, tier → first at)
    type Lead = (BTreeSet<String>, BTreeMap<String, String>);
    let mut versions: BTreeMap<(String, String), BTreeMap<(bool, String), Lead>> = BTreeMap::new();
    for (model_id, model_version, tier, visitor, first_at) in &rows.reached {
        let lead = versions
            .entry((model_id.clone(), model_version.clone()))
            .or_default()
            .entry(key(visitor))
            .or_default();
        lead.0.insert(visitor.clone());
        let at = lead
            .1
            .entry(tier.clone())
            .or_insert_with(|| first_at.clone());
        if first_at < at {
            at.clone_from(first_at);
        }
    }

    let mut matched: BTreeSet<usize> = BTreeSet::new();
    let recent_since = now - Duration::weeks(RECENT_WEEKS);
    let first_week = monday(now) - Duration::weeks(WEEKS_SHOWN - 1);
    let mut model_versions = Vec::new();
    for ((model_id, model_version), leads) in &versions {
        let model = models.get(&(model_id.clone(), model_version.clone()));
        let mut tiers: BTreeMap<(usize, String), TierCounts> = BTreeMap::new();
        let (mut all, mut all_converted) = (0u64, 0u64);
        for ((identified, lead_key), (visitors, reached)) in leads {
            let mut found: BTreeSet<usize> = BTreeSet::new();
            if *identified {
                found.extend(by_lead.get(lead_key.as_str()).into_iter().flatten());
            }
            for visitor in visitors {
                found.extend(by_visitor.get(visitor.as_str()).into_iter().flatten());
            }
            let mut outcome = LeadOutcome::default();
            for &i in &found {
                let Some((_, _, name, at)) = rows.outcomes.get(i) else {
                    continue;
                };
                let Some(kind) = OutcomeKind::from_name(name) else {
                    continue;
                };
                outcome.accepted |= kind.accepted();
                if kind.converted() {
                    outcome.converted = true;
                    if let Some(at) = at.as_deref().and_then(parse_time) {
                        outcome.converted_at =
                            Some(outcome.converted_at.map_or(at, |before| before.min(at)));
                    }
                }
            }
            matched.extend(found);
            let Some((tier, first_at)) = reached.iter().min_by_key(|(tier, _)| rank(model, tier))
            else {
                continue;
            };
            all += 1;
            all_converted += u64::from(outcome.converted);
            let entry = tiers.entry(rank(model, tier)).or_default();
            entry.add(outcome, parse_time(first_at), recent_since, first_week);
        }
        let base_rate = (all > 0).then(|| all_converted as f64 / all as f64);
        let tiers = tiers
            .into_iter()
            .map(|((_, name), counts)| {
                let tier = if name.is_empty() {
                    leadscore::engine::UNQUALIFIED.to_owned()
                } else {
                    name
                };
                counts.finish(tier, base_rate, model, first_week)
            })
            .collect();
        model_versions.push(VersionTruth {
            model_id: model_id.clone(),
            model_version: model_version.clone(),
            leads: all,
            converted: all_converted,
            base_rate,
            tiers,
        });
    }
    Ok(Truth {
        generated_at: format_at(now).map_err(|r| r.message)?,
        min_leads_for_drift: MIN_LEADS_FOR_DRIFT,
        model_versions,
        unmatched_outcomes: (rows.outcomes.len() - matched.len().min(rows.outcomes.len())) as u64,
    })
}

/// Midnight UTC of the Monday of `at`'s week.
fn monday(at: OffsetDateTime) -> OffsetDateTime {
    let at = at.to_offset(time::UtcOffset::UTC);
    let back = i64::from(at.weekday().number_days_from_monday());
    at.replace_time(time::Time::MIDNIGHT) - Duration::days(back)
}

#[derive(Debug, Default)]
struct TierCounts {
    leads: u64,
    accepted: u64,
    converted: u64,
    days: Vec<f64>,
    recent: (u64, u64),
    earlier: (u64, u64),
    /// Week index from the first week shown → (leads, accepted, converted).
    weeks: BTreeMap<i64, (u64, u64, u64)>,
}

impl TierCounts {
    fn add(
        &mut self,
        outcome: LeadOutcome,
        first_at: Option<OffsetDateTime>,
        recent_since: OffsetDateTime,
        first_week: OffsetDateTime,
    ) {
        self.leads += 1;
        self.accepted += u64::from(outcome.accepted);
        self.converted += u64::from(outcome.converted);
        let Some(first_at) = first_at else { return };
        if let Some(converted_at) = outcome.converted_at {
            self.days
                .push(((converted_at - first_at).as_seconds_f64() / 86_400.0).max(0.0));
        }
        let period = if first_at >= recent_since {
            &mut self.recent
        } else {
            &mut self.earlier
        };
        period.0 += 1;
        period.1 += u64::from(outcome.accepted);
        let week = (first_at - first_week).whole_weeks();
        if first_at >= first_week {
            let w = self.weeks.entry(week).or_default();
            w.0 += 1;
            w.1 += u64::from(outcome.accepted);
            w.2 += u64::from(outcome.converted);
        }
    }

    fn finish(
        mut self,
        tier: String,
        base_rate: Option<f64>,
        model: Option<&ModelTiers>,
        first_week: OffsetDateTime,
    ) -> TierTruth {
        let rate = |k: u64, n: u64| (n > 0).then(|| k as f64 / n as f64);
        let conversion_rate = rate(self.converted, self.leads);
        let interval = wilson(self.converted, self.leads, Z95);
        let expected = model.and_then(|m| m.expected.get(&tier)).copied();
        let mut flags = Vec::new();
        if let (Some((_, expected)), Some((low, high))) = (expected, interval) {
            if self.leads >= MIN_LEADS_FOR_DRIFT && !(low..=high).contains(&expected) {
                flags.push("drift");
            }
        }
        if acceptance_falling(self.recent, self.earlier) {
            flags.push("acceptance_falling");
        }
        self.days.sort_by(f64::total_cmp);
        let median = match self.days.len() {
            0 => None,
            n if n % 2 == 1 => self.days.get(n / 2).copied(),
            n => match (self.days.get(n / 2 - 1), self.days.get(n / 2)) {
                (Some(a), Some(b)) => Some((a + b) / 2.0),
                _ => None,
            },
        };
        let weeks = (0..WEEKS_SHOWN)
            .map(|w| {
                let (leads, accepted, converted) = self.weeks.get(&w).copied().unwrap_or_default();
                WeekTruth {
                    week: (first_week + Duration::weeks(w)).date().to_string(),
                    leads,
                    accepted,
                    converted,
                }
            })
            .collect();
        TierTruth {
            tier,
            leads: self.leads,
            accepted: self.accepted,
            converted: self.converted,
            acceptance_rate: rate(self.accepted, self.leads),
            conversion_rate,
            interval,
            lift: match (conversion_rate, base_rate) {
                (Some(r), Some(b)) if b > 0.0 => Some(r / b),
                _ => None,
            },
            median_days_to_conversion: median,
            expected_rate: expected.map(|e| e.1),
            expected_leads: expected.map(|e| e.0),
            recent_acceptance_rate: rate(self.recent.1, self.recent.0),
            earlier_acceptance_rate: rate(self.earlier.1, self.earlier.0),
            flags,
            weeks,
        }
    }
}

/// Whether `recent` (leads, accepted) is significantly below `earlier`: a one-sided
/// two-proportion z-test at 5 %, with at least [`MIN_LEADS_FOR_ACCEPTANCE`] leads in each.
pub fn acceptance_falling(recent: (u64, u64), earlier: (u64, u64)) -> bool {
    let ((n1, k1), (n2, k2)) = (recent, earlier);
    if n1 < MIN_LEADS_FOR_ACCEPTANCE || n2 < MIN_LEADS_FOR_ACCEPTANCE {
        return false;
    }
    let (n1, k1, n2, k2) = (n1 as f64, k1 as f64, n2 as f64, k2 as f64);
    let pooled = (k1 + k2) / (n1 + n2);
    let se = (pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)).sqrt();
    se > 0.0 && (k1 / n1 - k2 / n2) / se < Z_FALLING
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 5e-5
    }

    #[test]
    fn wilson_interval_matches_known_values() {
        // Reference values (Wilson 1927; e.g. R's prop.test without continuity correction).
        for (k, n, low, high) in [
            (5, 10, 0.2366, 0.7634),
            (10, 100, 0.0552, 0.1744),
            (0, 10, 0.0, 0.2775),
            (10, 10, 0.7225, 1.0),
            (81, 263, 0.2553, 0.3662),
        ] {
            let (l, h) = wilson(k, n, Z95).unwrap_or((f64::NAN, f64::NAN));
            assert!(close(l, low) && close(h, high), "{k}/{n}: ({l}, {h})");
        }
        assert_eq!(wilson(0, 0, Z95), None);
    }

    #[test]
    fn acceptance_falls_only_when_significantly_lower() {
        assert!(acceptance_falling((40, 8), (200, 100)));
        assert!(!acceptance_falling((40, 18), (200, 100)));
        assert!(
            !acceptance_falling((10, 0), (200, 100)),
            "too few recent leads"
        );
    }

    #[test]
    fn counts_each_lead_in_its_highest_tier_and_joins_outcomes() {
        let s = |x: &str| x.to_owned();
        let rows = TruthRows {
            reached: vec![
                (
                    s("m"),
                    s("1"),
                    s("MQL"),
                    s("v1"),
                    s("2026-11-02T00:00:00.000Z"),
                ),
                (
                    s("m"),
                    s("1"),
                    s("SQL"),
                    s("v1"),
                    s("2026-11-03T00:00:00.000Z"),
                ),
                (
                    s("m"),
                    s("1"),
                    s("MQL"),
                    s("v2"),
                    s("2026-11-02T00:00:00.000Z"),
                ),
                (
                    s("m"),
                    s("1"),
                    s("MQL"),
                    s("v3"),
                    s("2026-11-02T00:00:00.000Z"),
                ),
            ],
            leads: vec![(s("v1"), s("ann"))],
            outcomes: vec![
                (
                    Some(s("ann")),
                    None,
                    s("won"),
                    Some(s("2026-11-13T00:00:00.000Z")),
                ),
                (None, Some(s("v2")), s("accepted"), None),
                (Some(s("nobody")), None, s("won"), None),
            ],
        };
        let mut models = KnownModels::new();
        models.insert(
            (s("m"), s("1")),
            ModelTiers {
                order: vec![s("SQL"), s("MQL")],
                expected: [(s("SQL"), (100, 0.5))].into_iter().collect(),
            },
        );
        let truth = compute(&rows, &models, datetime!(2026-11-24 12:00 UTC))
            .unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(truth.unmatched_outcomes, 1);
        let version = &truth.model_versions[0];
        assert_eq!((version.leads, version.converted), (3, 1));
        let sql = &version.tiers[0];
        assert_eq!((sql.tier.as_str(), sql.leads, sql.converted), ("SQL", 1, 1));
        assert_eq!(sql.median_days_to_conversion, Some(10.0));
        assert_eq!(sql.expected_rate, Some(0.5));
        assert!(close(sql.lift.unwrap_or(0.0), 3.0));
        let mql = &version.tiers[1];
        assert_eq!(
            (mql.tier.as_str(), mql.leads, mql.accepted, mql.converted),
            ("MQL", 2, 1, 0)
        );
        assert_eq!(mql.weeks.iter().map(|w| w.leads).sum::<u64>(), 2);
    }
}
