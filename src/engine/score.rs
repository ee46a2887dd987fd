//! Reading a visitor's score: sub-scores, total, tier and the contributions that explain them.

use super::state::{Millis, RuleState, State};
use super::{half_life_factor, UNQUALIFIED};
use crate::model::{Compiled, Decay, Dimension, Thresholds, TierView};
use alloc::vec::Vec;
use serde::Serialize;

const DAY_MS: f64 = 86_400_000.0;

/// A visitor's score at one moment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Score<'m> {
    /// Sub-scores per dimension, after limits.
    pub fit: f64,
    pub engagement: f64,
    pub intent: f64,
    pub product: f64,
    /// Sum of the sub-scores, after the total's limits.
    pub total: f64,
    /// The tier the visitor is in now.
    pub tier: &'m str,
    /// The tier before the event ([`score`] gives the stored tier).
    pub previous_tier: &'m str,
    /// Conversion probability, when the model has a calibration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    /// Every rule that gives points now, highest points first (ties in model order).
    pub contributions: Vec<Contribution<'m>>,
    /// `tier` and `previous_tier` as numbers: 0 for unqualified, `i + 1` for the model's tier
    /// `i` (what the browser's kernel answers).
    #[serde(skip)]
    pub tier_numbers: [u8; 2],
}

/// What one rule gives to a visitor's score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Contribution<'m> {
    /// The rule's id.
    pub rule: &'m str,
    /// The dimension it counts in.
    pub dimension: Dimension,
    /// Points it gives now (after decay, before limits).
    pub points: f64,
    /// Times it fired.
    pub times: u32,
    /// Points lost to decay or expiry.
    pub decayed: f64,
    /// The rule's position in the model.
    #[serde(skip)]
    pub index: usize,
}

impl<'m> Score<'m> {
    /// A sub-score by dimension.
    pub fn dimension(&self, d: Dimension) -> f64 {
        match d {
            Dimension::Fit => self.fit,
            Dimension::Engagement => self.engagement,
            Dimension::Intent => self.intent,
            Dimension::Product => self.product,
        }
    }

    /// True when this score's tier differs from the previous one.
    pub fn changed(&self) -> bool {
        self.tier != self.previous_tier
    }

    /// The `n` contributions that raise the score most.
    pub fn top_positive(&self, n: usize) -> impl Iterator<Item = &Contribution<'m>> {
        self.contributions.iter().filter(|c| c.points > 0.0).take(n)
    }

    /// The `n` contributions that lower the score most.
    pub fn top_negative(&self, n: usize) -> impl Iterator<Item = &Contribution<'m>> {
        self.contributions
            .iter()
            .rev()
            .filter(|c| c.points < 0.0)
            .take(n)
    }
}

/// The points a rule gives now, and the points it would give without decay.
fn rule_points(decay: Decay, points: i32, rs: &RuleState, now: Millis) -> (f64, f64) {
    let full = f64::from(points) * f64::from(rs.count);
    let current = match decay {
        Decay::Never => full,
        Decay::HalfLifeDays(days) => {
            f64::from(points) * (rs.held * half_life_factor(now.saturating_sub(rs.held_at), days))
        }
        Decay::ExpiresAfterDays(days) => {
            let start = now.saturating_sub((days * DAY_MS) as i64);
            // Saturating: stored state is checked, but a sum must never overflow (a panic natively).
            let live = rs
                .firings
                .iter()
                .filter(|(t, _)| *t > start)
                .fold(0u32, |sum, (_, n)| sum.saturating_add(*n));
            f64::from(points) * f64::from(live)
        }
    };
    (current, full)
}

/// The visitor's score at `now`, without changing the state.
///
/// A state kept for another model (or another version of it) is scored as
/// [`State::align`] would leave it, so it is never read against the wrong rules; a `now`
/// earlier than the latest time the state has seen counts as that time. With
/// `allow_demotion: false` the tier never falls below the stored one.
pub fn score<'m>(state: &State, model: &'m Compiled, now: Millis) -> Score<'m> {
    let now = state.time(now);
    if state.is_aligned(model) {
        score_aligned(state, model, now, Detail::Explained)
    } else {
        let mut aligned = state.clone();
        aligned.align(model);
        score_aligned(&aligned, model, now, Detail::Explained)
    }
}

/// Whether a score lists the contributions that explain it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Detail {
    /// Sub-scores, total, tier and the contributions, sorted.
    Explained,
    /// Sub-scores, total and tier only: no allocation, no sort (what an event needs).
    TierOnly,
}

/// The score of a state already aligned to `model`, at a `now` already clamped to its clock.
pub(crate) fn score_aligned<'m>(
    state: &State,
    model: &'m Compiled,
    now: Millis,
    detail: Detail,
) -> Score<'m> {
    let rules = model.rules();
    let mut sums = [0.0f64; 4];
    let explained = detail == Detail::Explained;
    // Exactly as many as fired: a small allocation is a cheap one.
    let fired = if explained {
        state.rules.iter().filter(|rs| rs.count > 0).count()
    } else {
        0
    };
    let mut contributions = Vec::with_capacity(fired);
    for (index, (rule, rs)) in rules.iter().zip(&state.rules).enumerate() {
        if rs.count == 0 {
            continue;
        }
        let (points, full) = rule_points(rule.decay, rule.points, rs, now);
        if let Some(s) = sums.get_mut(rule.dimension.index()) {
            *s += points;
        }
        if !explained {
            continue;
        }
        contributions.push(Contribution {
            rule: rule.id,
            dimension: rule.dimension,
            points,
            times: rs.count,
            decayed: full - points,
            index,
        });
    }
    sort_by_points(&mut contributions);

    let limits = model.limits();
    for d in Dimension::ALL {
        if let (Some(s), Some(b)) = (sums.get_mut(d.index()), limits.of(d)) {
            *s = b.clamp(*s);
        }
    }
    let [fit, engagement, intent, product] = sums;
    let mut total = fit + engagement + intent + product;
    if let Some(b) = limits.total {
        total = b.clamp(total);
    }

    let mut result = Score {
        fit,
        engagement,
        intent,
        product,
        total,
        tier: UNQUALIFIED,
        previous_tier: UNQUALIFIED,
        probability: model.calibration().map(|c| c.probability(total)),
        contributions,
        tier_numbers: [0; 2],
    };
    let tiers = model.tiers();
    let reached = tiers
        .iter()
        .position(|t| tier_holds(t, &result, state, model, now));
    let stored = state
        .tier
        .as_deref()
        .and_then(|name| tiers.iter().position(|t| t.name == name));
    let effective = if model.allow_demotion() {
        reached
    } else {
        match (reached, stored) {
            (Some(r), Some(s)) => Some(r.min(s)),
            (r, s) => r.or(s),
        }
    };
    // Tier `i` is number `i + 1`: the validator allows at most 255 tiers.
    if let Some((i, t)) = effective.and_then(|i| Some((i, tiers.get(i)?))) {
        result.tier = t.name;
        result.tier_numbers[0] = (i + 1) as u8;
    }
    if let Some((i, t)) = stored.and_then(|i| Some((i, tiers.get(i)?))) {
        result.previous_tier = t.name;
        result.tier_numbers[1] = (i + 1) as u8;
    }
    result
}

/// Highest points first; equal points keep the model's rule order. An insertion sort: the
/// list holds only the rules that fired, and the kernel stays free of the standard sort's code.
fn sort_by_points(list: &mut [Contribution<'_>]) {
    for i in 1..list.len() {
        let mut j = i;
        while j > 0 {
            let (Some(a), Some(b)) = (list.get(j - 1), list.get(j)) else {
                break;
            };
            if a.points.total_cmp(&b.points).is_ge() {
                break;
            }
            list.swap(j - 1, j);
            j -= 1;
        }
    }
}

fn thresholds_hold(t: &Thresholds, s: &Score<'_>, at_least: bool) -> bool {
    let holds = |limit: Option<f64>, value: f64| {
        limit.is_none_or(|l| if at_least { value >= l } else { value <= l })
    };
    holds(t.fit, s.fit)
        && holds(t.engagement, s.engagement)
        && holds(t.intent, s.intent)
        && holds(t.product, s.product)
        && holds(t.total, s.total)
}

fn tier_holds(
    tier: &TierView<'_>,
    s: &Score<'_>,
    state: &State,
    model: &Compiled,
    now: Millis,
) -> bool {
    thresholds_hold(&tier.min, s, true)
        && thresholds_hold(&tier.max, s, false)
        && tier
            .requires
            .iter()
            .all(|&i| match (model.rules().get(i), state.rules.get(i)) {
                (Some(r), Some(rs)) => rs.count > 0 && is_live(r.decay, rs, now),
                _ => false,
            })
}

/// True when a fired rule still counts: always, except an expiring rule whose firings all expired.
fn is_live(decay: Decay, rs: &RuleState, now: Millis) -> bool {
    match decay {
        Decay::ExpiresAfterDays(days) => {
            let start = now.saturating_sub((days * DAY_MS) as i64);
            rs.firings.iter().any(|(t, _)| *t > start)
        }
        _ => true,
    }
}
