//! What the native benchmarks share with the browser benchmark: its 30-rule model
//! (`benches/browser/model.json`), its generated events (`events`, a port of `events.mjs`) and its
//! reference peer (`plain`, a port of `reference.mjs`), plus the two measured loops and the check
//! that both give the same answers.

pub mod events;
pub mod plain;

use events::Visitor;
use leadscore::engine::{self, Millis, State};
use leadscore::model::ValidModel;

/// The browser benchmark's model.
pub const MODEL_PATH: &str = "benches/browser/model.json";
/// The browser benchmark's full run: 10,000 events of 1,000 visitors.
pub const VISITORS: usize = 1_000;
pub const EVENTS: usize = 10_000;

/// The model, for the engine and for the plain interpreter.
pub fn models() -> (ValidModel, plain::Model) {
    let text = std::fs::read_to_string(MODEL_PATH)
        .unwrap_or_else(|e| panic!("{MODEL_PATH}: {e} (run from the repository's root)"));
    let model = ValidModel::from_json(&text)
        .unwrap_or_else(|e| panic!("{MODEL_PATH} is not a valid model: {e:?}"));
    assert_eq!(model.rules().len(), 30, "{MODEL_PATH}: 30 rules expected");
    let json: serde_json::Value = serde_json::from_str(&text).expect("model JSON");
    (model, plain::Model::new(&json))
}

/// The browser benchmark's events.
pub fn visitors() -> Vec<Visitor> {
    events::generate(VISITORS, EVENTS, events::SEED)
}

/// What a pass over every visitor's events answered: tier changes and rejected events.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub changes: u32,
    pub rejected: u32,
}

/// A fresh engine state per visitor (made outside the measured loops).
pub fn leadscore_states(model: &ValidModel, visitors: &[Visitor]) -> Vec<State> {
    visitors.iter().map(|_| State::new(model)).collect()
}

/// A fresh plain-interpreter state per visitor.
pub fn plain_states(model: &plain::Model, visitors: &[Visitor]) -> Vec<plain::State> {
    visitors.iter().map(|_| model.new_state()).collect()
}

/// The measured loop of leadscore: `engine::advance` per event, then the tier read (did it change?).
#[inline(never)]
pub fn run_leadscore(model: &ValidModel, visitors: &[Visitor], states: &mut [State]) -> Tally {
    let mut tally = Tally::default();
    for (visitor, state) in visitors.iter().zip(states) {
        for (t, event) in &visitor.events {
            match engine::advance(state, model, event, *t) {
                Ok(score) => tally.changes += u32::from(score.changed()),
                Err(_) => tally.rejected += 1,
            }
        }
    }
    tally
}

/// The measured loop of the plain interpreter: the same, with its `apply`.
#[inline(never)]
pub fn run_plain(model: &plain::Model, visitors: &[Visitor], states: &mut [plain::State]) -> Tally {
    let mut tally = Tally::default();
    for (visitor, state) in visitors.iter().zip(states) {
        for (t, event) in &visitor.events {
            match model.apply(state, event, *t) {
                Some(score) => tally.changes += u32::from(score.tier != score.previous),
                None => tally.rejected += 1,
            }
        }
    }
    tally
}

/// What the check found: the tally and how many visitors end in each tier.
pub struct Checked {
    pub tally: Tally,
    pub final_tiers: Vec<(String, usize)>,
}

/// Scores every event with both variants and panics at the first difference: each event's
/// answer (rejected, or tier and previous tier), and each visitor's final sub-scores, total, tier
/// and per-rule times and points, bit for bit.
pub fn check(model: &ValidModel, reference: &plain::Model, visitors: &[Visitor]) -> Checked {
    let mut tally = Tally::default();
    let mut final_tiers: Vec<(String, usize)> = std::iter::once(engine::UNQUALIFIED)
        .chain(model.model().tiers.iter().map(|t| t.name.as_str()))
        .map(|name| (name.to_string(), 0))
        .collect();
    for (v, visitor) in visitors.iter().enumerate() {
        let mut state = State::new(model);
        let mut plain_state = reference.new_state();
        let mut last: Millis = 0;
        for (k, (t, event)) in visitor.events.iter().enumerate() {
            last = *t;
            let ours = engine::advance(&mut state, model, event, *t).ok();
            let theirs = reference.apply(&mut plain_state, event, *t);
            let answer = |tier: &str, previous: &str| format!("{previous} -> {tier}");
            let a = ours.as_ref().map(|s| answer(s.tier, s.previous_tier));
            let b = theirs
                .map(|s| answer(reference.tier_name(s.tier), reference.tier_name(s.previous)));
            if a != b {
                panic!(
                    "visitor {v}, event {k} ({event:?} at {t}): leadscore answered {a:?}, \
                     the plain interpreter {b:?}"
                );
            }
            match ours {
                Some(s) => tally.changes += u32::from(s.changed()),
                None => tally.rejected += 1,
            }
        }
        let now = reference.time(&plain_state, last);
        let ours = engine::score(&state, model, now);
        let theirs = reference.score(&plain_state, now);
        let pairs = [
            ("fit", ours.fit, theirs.sums[0]),
            ("engagement", ours.engagement, theirs.sums[1]),
            ("intent", ours.intent, theirs.sums[2]),
            ("product", ours.product, theirs.sums[3]),
            ("total", ours.total, theirs.total),
        ];
        for (what, a, b) in pairs {
            if a.to_bits() != b.to_bits() {
                panic!("visitor {v}: final {what} is {a:?} for leadscore, {b:?} for the plain interpreter");
            }
        }
        let tier = reference.tier_name(theirs.tier);
        if ours.tier != tier {
            panic!(
                "visitor {v}: final tier {} for leadscore, {tier} for the plain interpreter",
                ours.tier
            );
        }
        if let Some(entry) = final_tiers.iter_mut().find(|(name, _)| name == tier) {
            entry.1 += 1;
        }
        for i in 0..reference.rules_len() {
            let id = reference.rule_id(i);
            let times = reference.rule_count(&plain_state, i);
            let theirs = (times > 0).then(|| (times, reference.rule_points(&plain_state, i, now)));
            let ours = ours
                .contributions
                .iter()
                .find(|c| c.rule == id)
                .map(|c| (c.times, c.points));
            let same = match (ours, theirs) {
                (Some((a, p)), Some((b, q))) => a == b && p.to_bits() == q.to_bits(),
                (None, None) => true,
                _ => false,
            };
            if !same {
                panic!(
                    "visitor {v}, rule {id}: (times, points) {ours:?} for leadscore, \
                     {theirs:?} for the plain interpreter"
                );
            }
        }
    }
    Checked { tally, final_tiers }
}
