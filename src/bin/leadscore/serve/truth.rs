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
/// Acceptance is compared at one age: accepted within this many days of entering the tier, for
/// leads that entered at least this long ago. (Counting every acceptance so far would compare
/// young leads, whose outcomes have not come in yet, with old ones, and flag a fall that is
/// only their age.)
pub const ACCEPTANCE_DAYS: i64 = 14;
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

/// The tiers of a model file in order, with the conversion rate of their training evidence
/// (`tiers[].evidence`, written by `leadscore train`); a tier that held no training lead
/// expects nothing.
pub fn model_tiers(model: &leadscore::model::Model) -> ModelTiers {
    ModelTiers {
        order: model.tiers.iter().map(|t| t.name.clone()).collect(),
        expected: model
            .tiers
            .iter()
            .filter_map(|t| {
                let e = t.evidence.as_ref().filter(|e| e.leads > 0)?;
                Some((t.name.clone(), (e.leads, e.conversion_rate)))
            })
            .collect(),
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
    /// Model versions side by side (champion and challenger): by default the two most recent
    /// versions of each model id, or the pair asked for with `?compare=ID@VERSION,ID@VERSION`.
    pub comparisons: Vec<Comparison>,
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
    /// Share of leads accepted within [`ACCEPTANCE_DAYS`] of entering the tier: for those that
    /// entered in the 4 weeks before that age was reached (recent), and before (earlier).
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

pub async fn build(
    store: &Store,
    models: &KnownModels,
    compare: Option<&[VersionKey]>,
) -> Result<Truth, String> {
    let rows = store.truth_rows().await?;
    compute(&rows, models, compare, OffsetDateTime::now_utc())
}

/// What one lead's outcomes say.
#[derive(Debug, Default, Clone, Copy)]
struct LeadOutcome {
    accepted: bool,
    /// The first acceptance (or later stage) with a time.
    accepted_at: Option<OffsetDateTime>,
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

/// The tier order of a version: its own model file's, else that of another known version of the
/// same model id (a challenger or a retuned version the collector was not given), else the
/// longest tier list of any known model — never the alphabetical order, in which MQL would
/// outrank SQL.
fn tier_order<'m>(
    models: &'m KnownModels,
    model_id: &str,
    version: &str,
) -> Option<&'m ModelTiers> {
    models
        .get(&(model_id.to_owned(), version.to_owned()))
        .or_else(|| {
            models
                .iter()
                .rev()
                .find(|((id, _), _)| id == model_id)
                .map(|(_, m)| m)
        })
        .or_else(|| models.values().max_by_key(|m| m.order.len()))
}

/// The tier truth of `rows`; `compare` names the pair of versions to compare (default: the two
/// most recent versions of each model id).
pub fn compute(
    rows: &TruthRows,
    models: &KnownModels,
    compare: Option<&[VersionKey]>,
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
    // Leads old enough to compare at the same age, and the recent ones among them.
    let mature_before = now - Duration::days(ACCEPTANCE_DAYS);
    let recent_since = mature_before - Duration::weeks(RECENT_WEEKS);
    let first_week = monday(now) - Duration::weeks(WEEKS_SHOWN - 1);
    let mut model_versions = Vec::new();
    let mut records: BTreeMap<VersionKey, Vec<LeadRecord>> = BTreeMap::new();
    for ((model_id, model_version), leads) in &versions {
        let model = models.get(&(model_id.clone(), model_version.clone()));
        let order = tier_order(models, model_id, model_version);
        let version_records = records
            .entry((model_id.clone(), model_version.clone()))
            .or_default();
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
                if kind.accepted() {
                    if let Some(at) = at.as_deref().and_then(parse_time) {
                        outcome.accepted_at =
                            Some(outcome.accepted_at.map_or(at, |before| before.min(at)));
                    }
                }
                if kind.converted() {
                    outcome.converted = true;
                    if let Some(at) = at.as_deref().and_then(parse_time) {
                        outcome.converted_at =
                            Some(outcome.converted_at.map_or(at, |before| before.min(at)));
                    }
                }
            }
            matched.extend(found);
            let Some((tier, first_at)) = reached.iter().min_by_key(|(tier, _)| rank(order, tier))
            else {
                continue;
            };
            all += 1;
            all_converted += u64::from(outcome.converted);
            version_records.push(LeadRecord {
                rank: rank(order, tier),
                entered: reached.values().filter_map(|at| parse_time(at)).min(),
                converted: outcome.converted,
            });
            let entry = tiers.entry(rank(order, tier)).or_default();
            entry.add(
                outcome,
                parse_time(first_at),
                (recent_since, mature_before),
                first_week,
            );
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
        comparisons: comparisons(&records, compare),
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
        (recent_since, mature_before): (OffsetDateTime, OffsetDateTime),
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
        if first_at <= mature_before {
            let period = if first_at >= recent_since {
                &mut self.recent
            } else {
                &mut self.earlier
            };
            // Accepted in time; an acceptance without a time counts.
            let in_time = outcome.accepted
                && outcome
                    .accepted_at
                    .is_none_or(|at| at - first_at <= Duration::days(ACCEPTANCE_DAYS));
            period.0 += 1;
            period.1 += u64::from(in_time);
        }
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
        if let (Some((_, expected_rate)), Some((low, high))) = (expected, interval) {
            let evidence = expected.map_or(0, |e| e.0);
            if self.leads >= MIN_LEADS_FOR_DRIFT
                && evidence >= MIN_LEADS_FOR_DRIFT
                && !(low..=high).contains(&expected_rate)
            {
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

/// A model version: `(model_id, model_version)`.
pub type VersionKey = (String, String);

/// One lead of a model version, as the comparison needs it.
#[derive(Debug, Clone)]
struct LeadRecord {
    /// The rank of the highest tier the lead reached (see [`rank`]).
    rank: (usize, String),
    /// Its first result in this version.
    entered: Option<OffsetDateTime>,
    converted: bool,
}

/// Fewest leads in each arm (qualified leads, or top-tier leads) before a comparison gives a
/// verdict. The z-test leans on the normal approximation of each arm's rate, which is poor for
/// small arms (rule of thumb: about 30 leads, and several conversions, per arm); and below it a
/// single lucky week decides, so the dashboard would name a winner only to take it back.
pub const MIN_LEADS_PER_ARM: u64 = 30;
/// Two-sided significance level of the comparison. It may rest on either of two tests (qualified
/// leads, then the top tier), so each is held to `ALPHA / 2` (Bonferroni): at most a 5 % chance
/// of naming a winner between two equal models in one reading.
pub const ALPHA: f64 = 0.05;

/// A two-proportion z-test (pooled standard error, no continuity correction, as R's
/// `prop.test(correct = FALSE)`): `z` of the first rate over the second, and its two-sided p.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ZTest {
    pub z: f64,
    pub p_value: f64,
}

/// `k1` of `n1` against `k2` of `n2`; `None` without leads in an arm or when every lead of both
/// arms has the same outcome (there is no spread to test against).
pub fn two_proportion(k1: u64, n1: u64, k2: u64, n2: u64) -> Option<ZTest> {
    if n1 == 0 || n2 == 0 {
        return None;
    }
    let (k1, n1, k2, n2) = (k1.min(n1) as f64, n1 as f64, k2.min(n2) as f64, n2 as f64);
    let pooled = (k1 + k2) / (n1 + n2);
    let se = (pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)).sqrt();
    if se <= 0.0 || !se.is_finite() {
        return None;
    }
    let z = (k1 / n1 - k2 / n2) / se;
    Some(ZTest {
        z,
        p_value: libm::erfc(z.abs() / std::f64::consts::SQRT_2),
    })
}

/// Parses `ID@VERSION,ID@VERSION` (the `compare` query parameter, percent-encoded or not).
pub fn parse_compare(text: &str) -> Result<Vec<VersionKey>, String> {
    let text = percent_decode(text).ok_or("compare is not valid percent-encoded UTF-8")?;
    let pairs: Vec<VersionKey> = text
        .split(',')
        .map(|item| match item.split_once('@') {
            Some((id, version)) if !id.is_empty() && !version.is_empty() => {
                Ok((id.to_owned(), version.to_owned()))
            }
            _ => Err(format!(
                "compare names model versions as ID@VERSION, got {item:?}"
            )),
        })
        .collect::<Result<_, _>>()?;
    if pairs.len() != 2 || pairs.first() == pairs.get(1) {
        return Err("compare takes two different model versions: ID@VERSION,ID@VERSION".into());
    }
    Ok(pairs)
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Two model versions side by side on the leads that entered while both ran.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// The versions compared, the older (champion) first when chosen by default.
    pub variants: Vec<VariantTruth>,
    /// Whether the versions ran at the same time. The figures then count only the leads whose
    /// first result falls in the period both ran (`period`); otherwise every lead, and no
    /// verdict is given (a difference could be the season's, not the model's).
    pub same_period: bool,
    /// First and last moment both versions received leads (RFC 3339).
    pub period: Option<(String, String)>,
    /// Conversion of qualified leads (any tier but unqualified), first variant against second.
    pub qualified_test: Option<ZTest>,
    /// Conversion of each variant's top tier, first against second.
    pub top_tier_test: Option<ZTest>,
    /// Set only when a difference is significant: which version converts better, in words.
    pub verdict: Option<String>,
    /// The verdict, or why there is none.
    pub summary: String,
}

/// One version of a comparison.
#[derive(Debug, Clone, Serialize)]
pub struct VariantTruth {
    pub model_id: String,
    pub model_version: String,
    pub leads: u64,
    /// Leads in any tier but unqualified, and how many converted.
    pub qualified_leads: u64,
    pub qualified_converted: u64,
    pub qualified_rate: Option<f64>,
    pub qualified_interval: Option<(f64, f64)>,
    /// Tiers from the highest down, `unqualified` last.
    pub tiers: Vec<VariantTier>,
    /// "Higher tiers convert more": each tier with leads converts at least as often as every
    /// lower one (`None` with fewer than two tiers holding leads).
    pub ordered: Option<bool>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VariantTier {
    pub tier: String,
    pub leads: u64,
    /// Share of the variant's leads in this tier.
    pub share: f64,
    pub converted: u64,
    pub conversion_rate: Option<f64>,
    pub interval: Option<(f64, f64)>,
}

/// The pairs to compare: `compare`, or the two most recent versions (by first result) of each
/// model id that has two.
fn comparisons(
    records: &BTreeMap<VersionKey, Vec<LeadRecord>>,
    compare: Option<&[VersionKey]>,
) -> Vec<Comparison> {
    let start = |key: &VersionKey| {
        records
            .get(key)
            .into_iter()
            .flatten()
            .filter_map(|r| r.entered)
            .min()
    };
    let pairs: Vec<(VersionKey, VersionKey)> = match compare {
        Some([a, b]) => vec![(a.clone(), b.clone())],
        Some(_) => Vec::new(),
        None => {
            let mut by_id: BTreeMap<&str, Vec<&VersionKey>> = BTreeMap::new();
            for key in records.keys() {
                by_id.entry(key.0.as_str()).or_default().push(key);
            }
            by_id
                .into_values()
                .filter_map(|mut keys| {
                    keys.sort_by_key(|k| (start(k), k.1.clone()));
                    match keys.as_slice() {
                        [.., a, b] => Some(((*a).clone(), (*b).clone())),
                        _ => None,
                    }
                })
                .collect()
        }
    };
    let empty = Vec::new();
    pairs
        .into_iter()
        .map(|(a, b)| {
            compare_pair(
                (&a, records.get(&a).unwrap_or(&empty)),
                (&b, records.get(&b).unwrap_or(&empty)),
            )
        })
        .collect()
}

/// First and last entry of a version's leads.
fn span(leads: &[LeadRecord]) -> Option<(OffsetDateTime, OffsetDateTime)> {
    let first = leads.iter().filter_map(|r| r.entered).min()?;
    let last = leads.iter().filter_map(|r| r.entered).max()?;
    Some((first, last))
}

fn compare_pair(a: (&VersionKey, &[LeadRecord]), b: (&VersionKey, &[LeadRecord])) -> Comparison {
    let overlap = match (span(a.1), span(b.1)) {
        (Some((a0, a1)), Some((b0, b1))) if a0.max(b0) <= a1.min(b1) => {
            Some((a0.max(b0), a1.min(b1)))
        }
        _ => None,
    };
    let within = |leads: &[LeadRecord]| -> Vec<LeadRecord> {
        leads
            .iter()
            .filter(|r| match (overlap, r.entered) {
                (Some((from, to)), Some(at)) => (from..=to).contains(&at),
                (Some(_), None) => false,
                (None, _) => true,
            })
            .cloned()
            .collect()
    };
    let (first, second) = (variant(a.0, &within(a.1)), variant(b.0, &within(b.1)));
    let (va, vb) = (&first, &second);
    let qualified_test = two_proportion(
        va.qualified_converted,
        va.qualified_leads,
        vb.qualified_converted,
        vb.qualified_leads,
    );
    let top = |v: &VariantTruth| {
        v.tiers
            .iter()
            .find(|t| t.tier != leadscore::engine::UNQUALIFIED && t.leads > 0)
            .cloned()
    };
    let tops = top(va).zip(top(vb));
    let top_tier_test = tops
        .as_ref()
        .and_then(|(x, y)| two_proportion(x.converted, x.leads, y.converted, y.leads));
    let label = |v: &VariantTruth| format!("{} {}", v.model_id, v.model_version);
    let percent = |r: Option<f64>| format!("{:.0} %", r.unwrap_or(0.0) * 100.0);
    let p_text = |p: f64| {
        if p < 0.001 {
            "p < 0.001".to_owned()
        } else {
            format!("p = {p:.3}")
        }
    };
    let significant = |test: Option<ZTest>, n1: u64, n2: u64| {
        test.filter(|t| {
            overlap.is_some()
                && n1 >= MIN_LEADS_PER_ARM
                && n2 >= MIN_LEADS_PER_ARM
                && t.p_value < ALPHA / 2.0
        })
    };
    let verdict =
        if let Some(t) = significant(qualified_test, va.qualified_leads, vb.qualified_leads) {
            let (better, worse) = if t.z > 0.0 { (va, vb) } else { (vb, va) };
            Some(format!(
                "{} qualifies leads that convert more often: {} vs {} ({})",
                label(better),
                percent(better.qualified_rate),
                percent(worse.qualified_rate),
                p_text(t.p_value)
            ))
        } else if let (Some(t), Some((x, y))) = (
            significant(
                top_tier_test,
                tops.as_ref().map_or(0, |t| t.0.leads),
                tops.as_ref().map_or(0, |t| t.1.leads),
            ),
            &tops,
        ) {
            let (better, worse, bt, wt) = if t.z > 0.0 {
                (va, vb, x, y)
            } else {
                (vb, va, y, x)
            };
            Some(format!(
                "{}'s top tier ({}) converts more often: {} vs {} for {}'s {} ({})",
                label(better),
                bt.tier,
                percent(bt.conversion_rate),
                percent(wt.conversion_rate),
                label(worse),
                wt.tier,
                p_text(t.p_value)
            ))
        } else {
            None
        };
    let summary = match &verdict {
        Some(v) => v.clone(),
        None if overlap.is_none() && va.leads > 0 && vb.leads > 0 => format!(
            "the versions did not run at the same time: no verdict (n = {} and {} qualified leads)",
            va.qualified_leads, vb.qualified_leads
        ),
        None => format!(
            "no significant difference yet (n = {} and {} qualified leads{})",
            va.qualified_leads,
            vb.qualified_leads,
            if va.qualified_leads.min(vb.qualified_leads) < MIN_LEADS_PER_ARM {
                format!("; a verdict needs {MIN_LEADS_PER_ARM} in each")
            } else {
                String::new()
            }
        ),
    };
    let at = |t: OffsetDateTime| format_at(t).unwrap_or_default();
    Comparison {
        same_period: overlap.is_some(),
        period: overlap.map(|(from, to)| (at(from), at(to))),
        variants: vec![first, second],
        qualified_test,
        top_tier_test,
        verdict,
        summary,
    }
}

fn variant(key: &VersionKey, leads: &[LeadRecord]) -> VariantTruth {
    let mut tiers: BTreeMap<(usize, String), (u64, u64)> = BTreeMap::new();
    for r in leads {
        let t = tiers.entry(r.rank.clone()).or_default();
        t.0 += 1;
        t.1 += u64::from(r.converted);
    }
    let total = leads.len() as u64;
    let qualified: Vec<&LeadRecord> = leads.iter().filter(|r| !r.rank.1.is_empty()).collect();
    let (q, qc) = (
        qualified.len() as u64,
        qualified.iter().filter(|r| r.converted).count() as u64,
    );
    let rate = |k: u64, n: u64| (n > 0).then(|| k as f64 / n as f64);
    let tiers: Vec<VariantTier> = tiers
        .into_iter()
        .map(|((_, name), (n, k))| VariantTier {
            tier: if name.is_empty() {
                leadscore::engine::UNQUALIFIED.to_owned()
            } else {
                name
            },
            leads: n,
            share: n as f64 / total.max(1) as f64,
            converted: k,
            conversion_rate: rate(k, n),
            interval: wilson(k, n, Z95),
        })
        .collect();
    let rates: Vec<f64> = tiers.iter().filter_map(|t| t.conversion_rate).collect();
    VariantTruth {
        model_id: key.0.clone(),
        model_version: key.1.clone(),
        leads: total,
        qualified_leads: q,
        qualified_converted: qc,
        qualified_rate: rate(qc, q),
        qualified_interval: wilson(qc, q, Z95),
        ordered: (rates.len() >= 2).then(|| {
            rates
                .iter()
                .zip(rates.iter().skip(1))
                .all(|(higher, lower)| higher >= lower)
        }),
        tiers,
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
    fn two_proportion_test_matches_known_values() {
        // Reference: R's prop.test(c(k1, k2), c(n1, n2), correct = FALSE), whose X-squared is z².
        for (k1, n1, k2, n2, z, p) in [
            (41, 100, 27, 100, 2.089_785, 0.036_637),
            (30, 100, 50, 100, -2.886_751, 0.003_892),
            (45, 150, 30, 150, 2.0, 0.045_500),
            (120, 300, 90, 310, 2.850_257, 0.004_368),
            (10, 40, 10, 40, 0.0, 1.0),
        ] {
            let t = two_proportion(k1, n1, k2, n2).unwrap_or_else(|| unreachable!());
            assert!(
                (t.z - z).abs() < 1e-5 && (t.p_value - p).abs() < 1e-5,
                "{k1}/{n1} vs {k2}/{n2}: {t:?}"
            );
        }
        assert_eq!(two_proportion(0, 0, 3, 10), None);
        assert_eq!(two_proportion(0, 10, 0, 10), None, "no spread");
    }

    #[test]
    fn compare_names_two_versions() {
        let pair = |a: &str, b: &str, c: &str, d: &str| {
            vec![(a.to_owned(), b.to_owned()), (c.to_owned(), d.to_owned())]
        };
        assert_eq!(
            parse_compare("acme@2026-11-01,acme@2026-12-01"),
            Ok(pair("acme", "2026-11-01", "acme", "2026-12-01"))
        );
        assert_eq!(
            parse_compare("acme%402026-11-01%2Cother%401"),
            Ok(pair("acme", "2026-11-01", "other", "1"))
        );
        for bad in [
            "acme@1",
            "acme@1,acme@1",
            "acme,acme@2",
            "a@1,b@2,c@3",
            "a@1,@2",
            "%zz",
        ] {
            assert!(parse_compare(bad).is_err(), "{bad}");
        }
    }

    /// Leads of versions "1" and "2" of model `m`, all entering at `at`: `(tier, converted)`.
    fn two_versions(at: &str, one: &[(&str, bool)], two: &[(&str, bool)]) -> TruthRows {
        let mut rows = TruthRows::default();
        for (version, leads) in [("1", one), ("2", two)] {
            for (i, (tier, converted)) in leads.iter().enumerate() {
                let visitor = format!("v{version}-{i}");
                rows.reached.push((
                    "m".into(),
                    version.into(),
                    (*tier).into(),
                    visitor.clone(),
                    at.into(),
                ));
                if *converted {
                    rows.outcomes
                        .push((None, Some(visitor), "won".into(), Some(at.into())));
                }
            }
        }
        rows
    }

    fn leads(spec: &[(&'static str, bool, usize)]) -> Vec<(&'static str, bool)> {
        spec.iter()
            .flat_map(|&(tier, converted, n)| std::iter::repeat_n((tier, converted), n))
            .collect()
    }

    #[test]
    fn acceptance_is_compared_at_one_age_so_young_leads_do_not_look_like_a_fall() {
        let now = datetime!(2026-12-10 12:00 UTC);
        let mut rows = TruthRows::default();
        let day = |d: i64| {
            (now - Duration::days(d))
                .format(&Rfc3339)
                .unwrap_or_else(|e| unreachable!("{e}"))
        };
        // Every lead is accepted 5 days after entering MQL: 40 that entered 60 days ago, 40
        // three weeks ago — and 40 three days ago, whose acceptance has not come yet.
        for (group, entered) in [("old", 60), ("recent", 21), ("young", 3)] {
            for i in 0..40 {
                let visitor = format!("{group}-{i}");
                rows.reached.push((
                    "m".into(),
                    "1".into(),
                    "MQL".into(),
                    visitor.clone(),
                    day(entered),
                ));
                if entered > 5 {
                    rows.outcomes.push((
                        None,
                        Some(visitor),
                        "accepted".into(),
                        Some(day(entered - 5)),
                    ));
                }
            }
        }
        let truth =
            compute(&rows, &KnownModels::new(), None, now).unwrap_or_else(|e| unreachable!("{e}"));
        let mql = &truth.model_versions[0].tiers[0];
        assert_eq!(mql.leads, 120);
        assert_eq!(mql.recent_acceptance_rate, Some(1.0));
        assert_eq!(mql.earlier_acceptance_rate, Some(1.0));
        assert!(
            !mql.flags.contains(&"acceptance_falling"),
            "{:?}",
            mql.flags
        );

        // Recent leads that sales accepts only after three weeks count as not accepted in time.
        for o in rows
            .outcomes
            .iter_mut()
            .filter(|o| o.1.as_deref().is_some_and(|v| v.starts_with("recent")))
        {
            o.3 = Some(day(0));
        }
        let truth =
            compute(&rows, &KnownModels::new(), None, now).unwrap_or_else(|e| unreachable!("{e}"));
        let mql = &truth.model_versions[0].tiers[0];
        assert_eq!(mql.recent_acceptance_rate, Some(0.0));
        assert!(mql.flags.contains(&"acceptance_falling"), "{:?}", mql.flags);
    }

    #[test]
    fn a_version_without_its_model_file_takes_the_tier_order_of_its_model_id() {
        // Only version 1's file is known; version 2 (a challenger given to no --model) must
        // still rank SQL above MQL, not alphabetically.
        let mut models = KnownModels::new();
        models.insert(
            ("m".into(), "1".into()),
            ModelTiers {
                order: vec!["SQL".into(), "MQL".into()],
                expected: BTreeMap::new(),
            },
        );
        let at = "2026-12-01T10:00:00.000Z";
        let mut rows = two_versions(at, &[], &[]);
        for tier in ["MQL", "SQL"] {
            rows.reached.push((
                "m".into(),
                "2".into(),
                tier.into(),
                "v-both".into(),
                at.into(),
            ));
        }
        let truth = compute(&rows, &models, None, datetime!(2026-12-10 12:00 UTC))
            .unwrap_or_else(|e| unreachable!("{e}"));
        let v2 = truth
            .model_versions
            .iter()
            .find(|v| v.model_version == "2")
            .unwrap_or_else(|| unreachable!("version 2"));
        let counted: Vec<(&str, u64)> = v2
            .tiers
            .iter()
            .map(|t| (t.tier.as_str(), t.leads))
            .collect();
        assert_eq!(counted, [("SQL", 1)]);
        assert_eq!(rank(tier_order(&models, "m", "2"), "MQL").0, 1);
    }

    #[test]
    fn compares_the_two_latest_versions_and_names_the_better_only_when_significant() {
        let mut models = KnownModels::new();
        for version in ["1", "2"] {
            models.insert(
                ("m".into(), version.into()),
                ModelTiers {
                    order: vec!["SQL".into(), "MQL".into()],
                    expected: BTreeMap::new(),
                },
            );
        }
        let now = datetime!(2026-12-10 12:00 UTC);
        let at = "2026-12-01T10:00:00.000Z";
        // Version 2's qualified leads convert at 41 %, version 1's at 27 %, 100 each.
        let one = leads(&[
            ("SQL", true, 17),
            ("SQL", false, 23),
            ("MQL", true, 10),
            ("MQL", false, 50),
            ("unqualified", false, 40),
        ]);
        let two = leads(&[
            ("SQL", true, 26),
            ("SQL", false, 14),
            ("MQL", true, 15),
            ("MQL", false, 45),
            ("unqualified", false, 1),
        ]);
        // p = 0.037: below 5 %, but the verdict may rest on either of two tests, so each needs
        // p < 2.5 %: no verdict yet.
        let truth = compute(&two_versions(at, &one, &two), &models, None, now)
            .unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(truth.comparisons[0].verdict, None);
        // Version 2's qualified leads convert at 47 %: p = 0.003.
        let two = leads(&[
            ("SQL", true, 30),
            ("SQL", false, 10),
            ("MQL", true, 17),
            ("MQL", false, 43),
            ("unqualified", false, 1),
        ]);
        let truth = compute(&two_versions(at, &one, &two), &models, None, now)
            .unwrap_or_else(|e| unreachable!("{e}"));
        let c = &truth.comparisons[0];
        let (a, b) = (&c.variants[0], &c.variants[1]);
        assert_eq!(
            (a.model_version.as_str(), b.model_version.as_str()),
            ("1", "2")
        );
        assert_eq!((a.qualified_leads, a.qualified_converted), (100, 27));
        assert_eq!((b.qualified_leads, b.qualified_converted), (100, 47));
        assert_eq!(
            a.tiers.iter().map(|t| t.tier.as_str()).collect::<Vec<_>>(),
            ["SQL", "MQL", "unqualified"]
        );
        assert!(close(a.tiers[0].share, 40.0 / 140.0));
        assert_eq!((a.ordered, b.ordered), (Some(true), Some(true)));
        assert!(c.same_period);
        assert_eq!(
            c.verdict.as_deref(),
            Some("m 2 qualifies leads that convert more often: 47 % vs 27 % (p = 0.003)")
        );

        // The same leads in both: no verdict.
        let truth = compute(&two_versions(at, &one, &one), &models, None, now)
            .unwrap_or_else(|e| unreachable!("{e}"));
        let c = &truth.comparisons[0];
        assert_eq!(c.verdict, None);
        assert_eq!(
            c.summary,
            "no significant difference yet (n = 100 and 100 qualified leads)"
        );

        // A large difference on too few leads: no verdict either.
        let few = leads(&[("SQL", true, 10)]);
        let none = leads(&[("SQL", false, 10)]);
        let truth = compute(&two_versions(at, &few, &none), &models, None, now)
            .unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(truth.comparisons[0].verdict, None);
        assert!(truth.comparisons[0].summary.contains("needs 30 in each"));

        // An explicit pair, in the order asked.
        let pair = [
            ("m".to_owned(), "2".to_owned()),
            ("m".to_owned(), "1".to_owned()),
        ];
        let truth = compute(&two_versions(at, &one, &two), &models, Some(&pair), now)
            .unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(truth.comparisons[0].variants[0].model_version, "2");
        assert!(truth.comparisons[0]
            .qualified_test
            .is_some_and(|t| t.z > 0.0));
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
        let truth = compute(&rows, &models, None, datetime!(2026-11-24 12:00 UTC))
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
