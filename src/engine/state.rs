//! Per-visitor state: counters and times per rule, never a log of events.
//!
//! Its size is bounded by the model, whatever the visitor does: per rule at most
//! [`MAX_FIRINGS_KEPT`] firing times, at most [`crate::model::MAX_DISTINCT_PAGES`] page hashes.

use crate::bytes::{Reader, Writer};
use crate::model::{fingerprint, ValidModel, MAX_DISTINCT_PAGES};
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

/// Version of the serialised state this build writes and reads.
pub const STATE_FORMAT: u32 = 1;
/// Most firing times kept per expiring rule; older ones are merged into the next.
pub const MAX_FIRINGS_KEPT: usize = 32;

/// Milliseconds since the Unix epoch.
pub type Millis = i64;

/// Everything the engine remembers about one visitor.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct State {
    /// Serialisation format ([`STATE_FORMAT`]).
    #[serde(rename = "v")]
    pub format: u32,
    /// First event seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<Millis>,
    /// Last event seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<Millis>,
    /// Visits (sessions) so far.
    #[serde(default)]
    pub visits: u32,
    /// Visible seconds on the site.
    #[serde(default)]
    pub seconds: f64,
    /// Hashes of distinct pages viewed (at most 64).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pages: Vec<u32>,
    /// The tier last computed (`None` = unqualified).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    /// Per-rule state, aligned to the model's rules.
    #[serde(default)]
    pub rules: Vec<RuleState>,
    /// Fingerprint of the rule ids `rules` is aligned to.
    #[serde(skip)]
    pub(crate) key: u64,
}

/// What the engine remembers about one rule for one visitor.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RuleState {
    /// The rule's id; state is matched to rules by id when the model changes.
    pub id: String,
    /// Times fired (for answers: 1 while the answer matches).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub count: u32,
    /// Progress towards an aggregate condition (matching page views).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub progress: u32,
    /// Time of the last firing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<Millis>,
    /// Firing times inside the frequency window.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub window: Vec<Millis>,
    /// Half-life rules: decayed points as of `held_at`.
    #[serde(default, skip_serializing_if = "is_zero_f")]
    pub held: f64,
    #[serde(default, skip_serializing_if = "is_zero_i")]
    pub held_at: Millis,
    /// Expiring rules: `(time, firings)` not yet expired.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub firings: Vec<(Millis, u32)>,
}

fn is_zero(v: &u32) -> bool {
    *v == 0
}
fn is_zero_f(v: &f64) -> bool {
    *v == 0.0
}
fn is_zero_i(v: &i64) -> bool {
    *v == 0
}

impl RuleState {
    fn write(&self, w: &mut Writer) {
        w.text(&self.id);
        w.u32(self.count);
        w.u32(self.progress);
        w.optional(self.last, Writer::i64);
        w.list(self.window.iter(), |w, t| w.i64(*t));
        w.f64(self.held);
        w.i64(self.held_at);
        w.list(self.firings.iter(), |w, (t, n)| {
            w.i64(*t);
            w.u32(*n);
        });
    }

    fn read(r: &mut Reader<'_>) -> RuleState {
        RuleState {
            id: r.text(),
            count: r.u32(),
            progress: r.u32(),
            last: r.optional(Reader::i64),
            window: r.list(Reader::i64),
            held: r.f64(),
            held_at: r.i64(),
            firings: r.list(|r| (r.i64(), r.u32())),
        }
    }

    fn new(id: &str) -> RuleState {
        RuleState {
            id: id.to_string(),
            ..RuleState::default()
        }
    }
}

impl State {
    /// A fresh state for a model.
    pub fn new(model: &ValidModel) -> State {
        State {
            format: STATE_FORMAT,
            rules: model
                .rules()
                .iter()
                .map(|r| RuleState::new(&r.id))
                .collect(),
            key: model.rule_key(),
            ..State::default()
        }
    }

    /// Aligns the state to `model`: keeps the state of rules whose id still exists, starts the
    /// new rules fresh and drops the rest. Forgets a stored tier the model no longer has.
    pub fn align(&mut self, model: &ValidModel) {
        if self.key == model.rule_key() && self.rules.len() == model.rules().len() {
            return;
        }
        let current = fingerprint(self.rules.iter().map(|r| r.id.as_str()));
        if current != model.rule_key() || self.rules.len() != model.rules().len() {
            let mut old = core::mem::take(&mut self.rules);
            self.rules = model
                .rules()
                .iter()
                .map(|rule| {
                    old.iter_mut()
                        .find(|s| s.id == rule.id)
                        .map(core::mem::take)
                        .unwrap_or_else(|| RuleState::new(&rule.id))
                })
                .collect();
        }
        if let Some(t) = &self.tier {
            if !model.model().tiers.iter().any(|tier| &tier.name == t) {
                self.tier = None;
            }
        }
        self.format = STATE_FORMAT;
        self.key = model.rule_key();
    }

    /// Checks state read from storage; the caller starts fresh when it fails.
    pub fn check(&self) -> Result<(), &'static str> {
        if self.format != STATE_FORMAT {
            return Err("another state format");
        }
        if self.pages.len() > MAX_DISTINCT_PAGES as usize {
            return Err("too many pages");
        }
        if !self.seconds.is_finite() || self.seconds < 0.0 {
            return Err("invalid seconds");
        }
        if self.rules.len() > 10_000 {
            return Err("too many rules");
        }
        for r in &self.rules {
            if !r.held.is_finite()
                || r.firings.len() > MAX_FIRINGS_KEPT
                || r.window.len() > crate::model::MAX_WINDOW_TIMES as usize
            {
                return Err("invalid rule state");
            }
        }
        Ok(())
    }

    /// The state as bytes, for the browser's storage: [`STATE_FORMAT`] as one byte, then the
    /// fields in declaration order (see [`crate::bytes`] for the encoding of each kind).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.u8(STATE_FORMAT as u8);
        w.optional(self.first_seen, Writer::i64);
        w.optional(self.last_seen, Writer::i64);
        w.u32(self.visits);
        w.f64(self.seconds);
        w.list(self.pages.iter(), |w, p| w.u32(*p));
        w.optional(self.tier.as_deref(), Writer::text);
        w.list(self.rules.iter(), |w, r| r.write(w));
        w.bytes
    }

    /// Reads state written by [`State::to_bytes`], checked and aligned to `model`; corrupt,
    /// foreign or oversized bytes give `None` (the caller starts fresh).
    pub fn from_bytes(bytes: &[u8], model: &ValidModel) -> Option<State> {
        let mut r = Reader::new(bytes);
        let mut state = State {
            format: u32::from(r.u8()),
            first_seen: r.optional(Reader::i64),
            last_seen: r.optional(Reader::i64),
            visits: r.u32(),
            seconds: r.f64(),
            pages: r.list(Reader::u32),
            tier: r.optional(Reader::text),
            rules: r.list(RuleState::read),
            key: 0,
        };
        if !r.finish() {
            return None;
        }
        state.check().ok()?;
        state.align(model);
        Some(state)
    }

    /// Parses state from JSON text, aligned to `model`; corrupt or foreign text gives `None`.
    #[cfg(feature = "json")]
    pub fn from_json(text: &str, model: &ValidModel) -> Option<State> {
        let value: serde_json::Value = serde_json::from_str(text).ok()?;
        if !value.is_object() {
            return None;
        }
        let mut state: State = serde_json::from_value(value).ok()?;
        state.check().ok()?;
        state.align(model);
        Some(state)
    }

    /// Serialises the state to JSON text.
    #[cfg(feature = "json")]
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::engine::{apply, Event};

    #[test]
    fn state_bytes_round_trip_and_reject_damage() {
        let model =
            ValidModel::from_json(&std::fs::read_to_string("www/models/saas.json").unwrap())
                .unwrap();
        let log = std::fs::read_to_string("www/models/saas.events.jsonl").unwrap();
        let mut state = State::new(&model);
        for (i, line) in log.lines().enumerate() {
            let Ok(event) = serde_json::from_str::<Event>(line) else {
                continue;
            };
            let _ = apply(
                &mut state,
                &model,
                &event,
                1_700_000_000_000 + i as i64 * 3_600_000,
            );
            let bytes = state.to_bytes();
            assert_eq!(State::from_bytes(&bytes, &model).as_ref(), Some(&state));
            // Every shorter prefix and any extra byte is refused, never misread.
            for n in 0..bytes.len() {
                assert_eq!(State::from_bytes(bytes.get(..n).unwrap(), &model), None);
            }
            let mut longer = bytes.clone();
            longer.push(0);
            assert_eq!(State::from_bytes(&longer, &model), None);
        }
        assert_eq!(State::from_bytes(&[2], &model), None, "another format");
    }
}
