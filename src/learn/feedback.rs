//! Retuning a model from what the widget itself computed: the rule summaries that tier results
//! carry (`data-send-rules`: rule id → times fired and points now), joined with the outcomes
//! sales reported for the same leads.
//!
//! There is no train/serve skew: the features are the engine's own firing counts, not columns of
//! a CRM export mapped to rules. Leads are ordered by the time of their summary; the older part
//! refits the points and thresholds with the `--base` machinery ([`super::refit`]), the newer
//! part (the holdout) judges the base and the refitted model side by side.
//!
//! A summary gives each rule's points *now*, after decay. To score a summary under a model, the
//! share of the rule's points still standing (points now ÷ (times × the base's points)) is kept
//! and applied to the model's points: a state is built in which every rule fired as often and
//! decayed as far as the summary says, and the engine scores it (limits, `requires`, tiers and
//! calibration exactly as in the widget).

use super::error::LearnError;
use super::metrics::{log_loss, roc_auc};
use super::refit::{refit_firings, Firings};
use super::report::Trained;
use super::scorecard::TrainOptions;
use crate::engine::{self, RuleState, Score, State};
use crate::model::{Decay, ValidModel, UNQUALIFIED};
use std::collections::{BTreeMap, HashMap};

/// One lead: its latest rule summary, when it was sent, and whether the lead converted.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryLead {
    /// When the summary was sent (RFC 3339, UTC: text order is time order).
    pub at: String,
    /// Rule id → (times fired, points now).
    pub rules: BTreeMap<String, (u32, i64)>,
    pub converted: bool,
}

/// How a model does on the holdout.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    pub leads: usize,
    pub converted: usize,
    /// ROC AUC of the totals (`None` without both outcomes).
    pub auc: Option<f64>,
    /// Mean log loss of the calibrated probabilities (`None` without a calibration).
    pub log_loss: Option<f64>,
    /// Per tier, from the highest: leads placed in it and how many of them converted.
    pub tiers: Vec<TierRate>,
}

/// Leads of one tier and their conversions.
#[derive(Debug, Clone, PartialEq)]
pub struct TierRate {
    pub tier: String,
    pub leads: usize,
    pub converted: usize,
}

/// A model retuned from rule summaries, with the base and the new model judged on the holdout.
#[derive(Debug, Clone, PartialEq)]
pub struct Retuned {
    pub trained: Trained,
    /// Leads the points were refitted on, and the time of the newest of them.
    pub train_leads: usize,
    pub split_at: String,
    pub before: Judgement,
    pub after: Judgement,
}

/// Retunes `base` on the rule summaries of `leads`: the oldest `1 - holdout` share refits the
/// points and thresholds, the newest `holdout` share judges before and after.
pub fn retune_from_summaries(
    base: &ValidModel,
    leads: &[SummaryLead],
    holdout: f64,
    options: &TrainOptions,
) -> Result<Retuned, LearnError> {
    if !(0.0..1.0).contains(&holdout) {
        return Err(LearnError(format!(
            "the holdout share must be at least 0 and below 1, got {holdout}"
        )));
    }
    let mut order: Vec<&SummaryLead> = leads.iter().collect();
    order.sort_by(|a, b| a.at.cmp(&b.at));
    let n_train = ((order.len() as f64) * (1.0 - holdout)).round() as usize;
    let (train, test) = order.split_at(n_train.min(order.len()));

    let points = base_points(base);
    let mut unknown: Vec<&str> = leads
        .iter()
        .flat_map(|l| l.rules.keys())
        .map(String::as_str)
        .filter(|id| !points.contains_key(id))
        .collect();
    unknown.sort_unstable();
    unknown.dedup();
    let mut warnings = Vec::new();
    if !unknown.is_empty() {
        warnings.push(format!(
            "{} rule id(s) in the summaries are not rules of the base model (sent by another model version?) and are ignored: {}",
            unknown.len(),
            unknown.iter().take(5).copied().collect::<Vec<_>>().join(", ")
        ));
    }

    let mut firings = Firings::new(base);
    for lead in train {
        let state = summary_state(base, &points, &lead.rules);
        firings.push(&engine::score(&state, base, NOW), lead.converted);
    }
    let trained = refit_firings(base, &firings, options, warnings)?;
    let retuned = ValidModel::new(trained.model.clone())
        .map_err(|e| LearnError(format!("the retuned model is invalid: {e}")))?;
    Ok(Retuned {
        train_leads: train.len(),
        split_at: train.last().map(|l| l.at.clone()).unwrap_or_default(),
        before: judge(base, &points, test),
        after: judge(&retuned, &points, test),
        trained,
    })
}

/// The time every summary state is scored at: the states carry their decay already.
const NOW: engine::Millis = 0;

/// The points of each rule of the model that sent the summaries, by rule id.
pub fn base_points(base: &ValidModel) -> HashMap<&str, i32> {
    base.rules()
        .iter()
        .map(|r| (r.id.as_str(), r.points))
        .collect()
}

/// A state of `model` in which each rule fired as often, and kept the same share of its points,
/// as the summary says (`base_points`: [`base_points`] of the model that sent it).
pub fn summary_state(
    model: &ValidModel,
    base_points: &HashMap<&str, i32>,
    summary: &BTreeMap<String, (u32, i64)>,
) -> State {
    let mut state = State::new(model);
    for (rule, rs) in model.rules().iter().zip(state.rules.iter_mut()) {
        let Some(&(times, now_points)) = summary.get(&rule.id) else {
            continue;
        };
        if times == 0 {
            continue;
        }
        let full =
            f64::from(times) * f64::from(base_points.get(rule.id.as_str()).copied().unwrap_or(0));
        let share = if full == 0.0 {
            1.0
        } else {
            (now_points as f64 / full).clamp(0.0, 1.0)
        };
        *rs = RuleState {
            id_hash: rs.id_hash,
            count: times,
            last: Some(NOW),
            ..RuleState::default()
        };
        match rule.decay {
            Decay::Never => {}
            Decay::HalfLifeDays(_) => {
                rs.held = share * f64::from(times);
                rs.held_at = NOW;
            }
            Decay::ExpiresAfterDays(_) => {
                let live = (share * f64::from(times)).round() as u32;
                if live > 0 {
                    rs.firings.push((NOW, live));
                }
            }
        }
    }
    state
}

fn judge(
    model: &ValidModel,
    base_points: &HashMap<&str, i32>,
    leads: &[&SummaryLead],
) -> Judgement {
    let scores: Vec<Score<'_>> = leads
        .iter()
        .map(|l| engine::score(&summary_state(model, base_points, &l.rules), model, NOW))
        .collect();
    let labels: Vec<bool> = leads.iter().map(|l| l.converted).collect();
    let totals: Vec<f64> = scores.iter().map(|s| s.total).collect();
    let probabilities: Option<Vec<f64>> = scores.iter().map(|s| s.probability).collect();
    let names = model
        .model()
        .tiers
        .iter()
        .map(|t| t.name.as_str())
        .chain([UNQUALIFIED]);
    let tiers = names
        .map(|name| {
            let placed = scores.iter().zip(&labels).filter(|(s, _)| s.tier == name);
            let (n, converted) = placed.fold((0, 0), |(n, c), (_, &y)| (n + 1, c + usize::from(y)));
            TierRate {
                tier: name.to_string(),
                leads: n,
                converted,
            }
        })
        .collect();
    Judgement {
        leads: leads.len(),
        converted: labels.iter().filter(|y| **y).count(),
        auc: roc_auc(&totals, &labels),
        log_loss: probabilities
            .filter(|p| !p.is_empty())
            .map(|p| log_loss(&p, &labels)),
        tiers,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::engine::Event;

    fn saas() -> ValidModel {
        ValidModel::from_json(&std::fs::read_to_string("www/models/saas.json").unwrap()).unwrap()
    }

    /// The summary the widget would send for a state: rule id → (times, points now, rounded).
    fn summary_of(score: &Score<'_>) -> BTreeMap<String, (u32, i64)> {
        score
            .contributions
            .iter()
            .map(|c| (c.rule.to_string(), (c.times, c.points.round() as i64)))
            .collect()
    }

    #[test]
    fn a_summary_scores_as_the_state_it_came_from() {
        let model = saas();
        let log = std::fs::read_to_string("www/models/saas.events.jsonl").unwrap();
        let mut state = State::new(&model);
        let mut last = 0;
        for (i, line) in log.lines().enumerate() {
            // Each line is an event with its visitor and time beside it.
            let mut value: serde_json::Value = serde_json::from_str(line).unwrap();
            let fields = value.as_object_mut().unwrap();
            fields.remove("visitor");
            fields.remove("ts");
            let event: Event = serde_json::from_value(value).unwrap();
            last = 1_790_000_000_000 + i as i64 * 86_400_000;
            let _ = engine::apply(&mut state, &model, &event, last);
            let now = engine::score(&state, &model, last);
            let rebuilt = engine::score(
                &summary_state(&model, &base_points(&model), &summary_of(&now)),
                &model,
                NOW,
            );
            // Points now are rounded in the summary: totals agree within half a point per rule.
            let slack = 0.5 * now.contributions.len() as f64 + 1e-9;
            assert!(
                (rebuilt.total - now.total).abs() <= slack,
                "{} vs {}",
                rebuilt.total,
                now.total
            );
            if (rebuilt.total - now.total).abs() < 1e-9 {
                assert_eq!(rebuilt.tier, now.tier);
            }
        }
        assert!(last > 0);
    }

    #[test]
    fn retuning_finds_the_rule_that_matters_more() {
        // Conversion depends on the pricing page (10 points, half-life) far more than on the
        // webinar (20 points): the retuned points must say so.
        let model = saas();
        let mut rng = super::super::rng::SplitMix64::new(7);
        let leads: Vec<SummaryLead> = (0..3000)
            .map(|i| {
                let mut rules = BTreeMap::new();
                let webinar = rng.below(3) == 0;
                let pricing = rng.below(2) == 0;
                if webinar {
                    rules.insert("webinar-registration".to_string(), (1, 20));
                }
                if pricing {
                    // Some visits were weeks ago: half the points decayed.
                    let now = if rng.below(2) == 0 { 10 } else { 5 };
                    rules.insert("pricing-page".to_string(), (1, now));
                }
                let odds = if pricing { 0.6 } else { 0.05 } + if webinar { 0.1 } else { 0.0 };
                SummaryLead {
                    at: format!("2026-01-01T00:{:02}:{:02}Z", i / 60, i % 60),
                    rules,
                    converted: (rng.below(1000) as f64) < odds * 1000.0,
                }
            })
            .collect();
        let known: Vec<&str> = model.rules().iter().map(|r| r.id.as_str()).collect();
        assert!(
            known.contains(&"webinar-registration") && known.contains(&"pricing-page"),
            "{known:?}"
        );
        let options = TrainOptions {
            model_version: "retuned".into(),
            ..TrainOptions::default()
        };
        let r = retune_from_summaries(&model, &leads, 0.25, &options).unwrap();
        assert_eq!(r.train_leads, 2250);
        assert_eq!(r.before.leads, 750);
        let points =
            |m: &crate::model::Model, id: &str| m.rules.iter().find(|r| r.id == id).unwrap().points;
        let (pricing, webinar) = (
            points(&r.trained.model, "pricing-page"),
            points(&r.trained.model, "webinar-registration"),
        );
        assert!(pricing > webinar, "pricing {pricing} webinar {webinar}");
        assert!(r.after.auc.unwrap() > r.before.auc.unwrap());
        assert!(r.after.log_loss.is_some());
        assert_eq!(r.trained.model.model_version, "retuned");
        assert_eq!(r.split_at, leads[2249].at);
    }
}
