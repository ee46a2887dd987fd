//! Per-visitor state: counters and times per rule, never a log of events.
//!
//! Its size is bounded by the model, whatever the visitor does: per rule at most
//! [`MAX_FIRINGS_KEPT`] firing times, at most [`crate::model::MAX_DISTINCT_PAGES`] page hashes.
//!
//! The state keeps counts, not points: a rule whose points change scores its firings at the new
//! points. Each decay keeps its own fields (none, `held`, `firings`), so when a new model version
//! changes a rule's decay or frequency, [`State::align`] can tell what the state was kept for
//! and carries the earned firings over (see [`RuleState`]).

use super::half_life_factor;
use super::Value;
use crate::bytes::{Reader, Writer};
use crate::model::{
    id_hash, Compiled, Decay, Frequency, RuleView, MAX_COMPOUND_QUESTIONS, MAX_DISTINCT_PAGES,
};
use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

/// Version of the serialised state this build writes. It also reads format 3 (rule ids as
/// text rather than [`id_hash`]), format 2 (before `answers`) and format 1 (before `clock`,
/// with `held` in points rather than firings).
pub const STATE_FORMAT: u32 = 4;
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
    /// The latest time the state was brought to, by an event or a [`crate::engine::tick`]:
    /// earlier times count as this one, so a clock that goes backwards never brings back
    /// points that had decayed or expired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<Millis>,
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
    /// The current answer to each question that the model's `all` and `any` rules name (at most
    /// [`MAX_COMPOUND_QUESTIONS`]; answers to other questions are not kept).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub answers: Vec<(String, Value)>,
    /// [`Compiled::rule_key`] of the model `rules` is aligned to (0: not aligned yet).
    #[serde(skip)]
    pub(crate) key: u64,
}

/// What the engine remembers about one rule for one visitor.
///
/// Every rule keeps `count` and `last`; a half-life rule also `held` (never 0 once it fired),
/// an expiring rule `firings` (never empty once it fired), an `at_most_per_window` rule
/// `window` (never empty once it fired). When the model changes a rule, the fields it kept tell
/// what it was kept for: earned firings carry over, decaying from the last firing when the rule
/// did not decay before, and the count is cut to what the new frequency allows.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RuleState {
    /// The rule's id as its [`id_hash`] (state kept before format 4 gives the id as text, which
    /// is read as its hash): state is matched to rules by it when the model changes, and the
    /// validator refuses a model in which two rule ids have the same hash.
    #[serde(rename = "id", deserialize_with = "id_or_hash")]
    pub id_hash: u32,
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
    /// Half-life rules: the firings, decayed to `held_at` (a firing counts 1 when it happens and
    /// halves every half-life; the rule gives `held` × its points, decayed since `held_at`).
    #[serde(default, skip_serializing_if = "is_zero_f")]
    pub held: f64,
    #[serde(default, skip_serializing_if = "is_zero_i")]
    pub held_at: Millis,
    /// Expiring rules: `(time, firings)` not yet expired.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub firings: Vec<(Millis, u32)>,
}

/// Reads a rule's `id` in stored JSON state: a hash (format 4) or the id as text (before).
fn id_or_hash<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        Hash(u32),
        Text(String),
    }
    Ok(match Id::deserialize(d)? {
        Id::Hash(h) => h,
        Id::Text(t) => id_hash(&t),
    })
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
        w.u32(self.id_hash);
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

    /// Reads a rule's state of `format` (before 4, with the id as text).
    fn read(r: &mut Reader<'_>, format: u32) -> RuleState {
        RuleState {
            id_hash: if format < 4 {
                id_hash(r.text_ref())
            } else {
                r.u32()
            },
            count: r.u32(),
            progress: r.u32(),
            last: r.optional(Reader::i64),
            window: r.list(Reader::i64),
            held: r.f64(),
            held_at: r.i64(),
            firings: r.list(|r| (r.i64(), r.u32())),
        }
    }

    fn new(id_hash: u32) -> RuleState {
        RuleState {
            id_hash,
            ..RuleState::default()
        }
    }

    /// Brings the state into the form `rule` keeps, carrying the earned firings over when the
    /// rule's decay or frequency changed (a no-op for state kept for this rule).
    fn conform(&mut self, rule: &RuleView<'_>) {
        let counts_once = rule.when.counts_once();
        let cap = match rule.frequency {
            _ if counts_once => 1,
            Frequency::Once => 1,
            Frequency::AtMost(n) => n,
            Frequency::EveryTime | Frequency::AtMostPerWindow { .. } => u32::MAX,
        };
        self.count = self.count.min(cap);
        if !rule.when.counts_page_views() {
            self.progress = 0;
        }
        if self.count == 0 || counts_once {
            self.window.clear();
        } else if let Frequency::AtMostPerWindow { .. } = rule.frequency {
            // Kept for another frequency: the last firing counts in the window.
            if self.window.is_empty() {
                self.window.extend(self.last);
            }
        } else {
            self.window.clear();
        }
        if self.count == 0 {
            self.held = 0.0;
            self.held_at = 0;
            self.firings.clear();
            return;
        }
        // Stored state may hold empty entries; none of them counts.
        self.firings.retain(|(_, n)| *n > 0);
        let last = self.last.unwrap_or(self.held_at);
        match rule.decay {
            Decay::Never => {
                self.held = 0.0;
                self.held_at = 0;
                self.firings.clear();
            }
            Decay::HalfLifeDays(days) => {
                if let Some(at) = self.firings.iter().map(|(t, _)| *t).max() {
                    // Kept for expiry: each firing decays from its own time.
                    self.held = self
                        .firings
                        .iter()
                        .map(|(t, n)| f64::from(*n) * half_life_factor(at.saturating_sub(*t), days))
                        .sum();
                    self.held_at = at;
                    self.firings.clear();
                } else if self.held <= 0.0 {
                    // Kept without decay: the firings decay from the last one.
                    self.held = f64::from(self.count);
                    self.held_at = last;
                }
                self.held = self.held.min(f64::from(self.count));
            }
            Decay::ExpiresAfterDays(_) => {
                if self.firings.is_empty() {
                    // Kept without expiry: the firings expire with the last one.
                    let at = if self.held > 0.0 { self.held_at } else { last };
                    self.firings.push((at, self.count));
                }
                // At most `count` firings: the oldest go first.
                let kept: u64 = self.firings.iter().map(|(_, n)| u64::from(*n)).sum();
                let mut extra = kept.saturating_sub(u64::from(self.count));
                for (_, n) in self.firings.iter_mut() {
                    let cut = extra.min(u64::from(*n));
                    *n -= cut as u32;
                    extra -= cut;
                }
                self.firings.retain(|(_, n)| *n > 0);
                if self.firings.is_empty() {
                    self.firings.push((last, self.count));
                }
                self.held = 0.0;
                self.held_at = 0;
            }
        }
    }
}

impl State {
    /// A fresh state for a model.
    pub fn new(model: &Compiled) -> State {
        State {
            format: STATE_FORMAT,
            rules: model
                .id_hashes()
                .iter()
                .map(|&h| RuleState::new(h))
                .collect(),
            key: model.rule_key(),
            ..State::default()
        }
    }

    /// Aligns the state to `model`: keeps the state of rules whose id still exists, starts the
    /// new rules fresh and drops the rest; carries earned firings over to a rule whose decay or
    /// frequency changed (see [`RuleState`]). Forgets a stored tier the model no longer has.
    pub fn align(&mut self, model: &Compiled) {
        if self.is_aligned(model) {
            return;
        }
        let hashes = model.id_hashes();
        let same_ids = self.rules.len() == hashes.len()
            && self.rules.iter().zip(hashes).all(|(s, &h)| s.id_hash == h);
        if !same_ids {
            let mut old = core::mem::take(&mut self.rules);
            self.rules = hashes
                .iter()
                .map(|&h| {
                    old.iter_mut()
                        .find(|s| s.id_hash == h)
                        .map(core::mem::take)
                        .unwrap_or_else(|| RuleState::new(h))
                })
                .collect();
        }
        for (rs, rule) in self.rules.iter_mut().zip(model.rules()) {
            rs.conform(rule);
        }
        if let Some(t) = &self.tier {
            if !model.tiers().iter().any(|tier| tier.name == t) {
                self.tier = None;
            }
        }
        // Answers the model's compound rules still read, in the model's spelling.
        let questions = model.compound_questions();
        self.answers.retain_mut(|(q, _)| {
            match questions.iter().find(|k| k.eq_ignore_ascii_case(q)) {
                Some(k) => {
                    if k != q {
                        *q = String::from(*k);
                    }
                    true
                }
                None => false,
            }
        });
        self.format = STATE_FORMAT;
        self.key = model.rule_key();
    }

    /// True when the state is aligned to `model` (see [`State::align`]).
    pub fn is_aligned(&self, model: &Compiled) -> bool {
        self.key == model.rule_key() && self.rules.len() == model.rules().len()
    }

    /// `now`, or the latest time the state has seen when `now` is earlier.
    pub fn time(&self, now: Millis) -> Millis {
        [self.clock, self.last_seen]
            .into_iter()
            .flatten()
            .fold(now, Millis::max)
    }

    /// Reads format 2 (no `answers`: compound rules learn the answers given from now on) and
    /// format 1: `held` was kept in points (of the rule as it is now, as far as anyone knows),
    /// and there was no `clock`.
    fn upgrade(&mut self, model: &Compiled) {
        if self.format == 2 || self.format == 3 {
            self.format = STATE_FORMAT;
        }
        if self.format != 1 {
            return;
        }
        for rs in &mut self.rules {
            let points = model
                .id_hashes()
                .iter()
                .position(|&h| h == rs.id_hash)
                .and_then(|i| model.rules().get(i))
                .map_or(0, |r| r.points);
            rs.held = if points == 0 {
                0.0
            } else {
                (rs.held / f64::from(points)).max(0.0)
            };
        }
        self.format = STATE_FORMAT;
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
        if self.answers.len() > MAX_COMPOUND_QUESTIONS {
            return Err("too many answers");
        }
        for r in &self.rules {
            if !r.held.is_finite()
                || r.held < 0.0
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
        w.optional(self.clock, Writer::i64);
        w.u32(self.visits);
        w.f64(self.seconds);
        w.list(self.pages.iter(), |w, p| w.u32(*p));
        w.optional(self.tier.as_deref(), Writer::text);
        w.list(self.rules.iter(), |w, r| r.write(w));
        w.list(self.answers.iter(), |w, (q, v)| {
            w.text(q);
            match v {
                Value::Bool(b) => {
                    w.u8(0);
                    w.bool(*b);
                }
                Value::Number(n) => {
                    w.u8(1);
                    w.f64(*n);
                }
                Value::Text(t) => {
                    w.u8(2);
                    w.text(t);
                }
            }
        });
        w.bytes
    }

    /// Reads state written by [`State::to_bytes`] (or by formats 2 and 1), checked and aligned to
    /// `model`; corrupt, foreign or oversized bytes give `None` (the caller starts fresh).
    pub fn from_bytes(bytes: &[u8], model: &Compiled) -> Option<State> {
        let mut r = Reader::new(bytes);
        let format = u32::from(r.u8());
        let mut state = State {
            format,
            first_seen: r.optional(Reader::i64),
            last_seen: r.optional(Reader::i64),
            clock: if format == 1 {
                None
            } else {
                r.optional(Reader::i64)
            },
            visits: r.u32(),
            seconds: r.f64(),
            pages: r.list(Reader::u32),
            tier: r.optional(Reader::text),
            rules: r.list(|r| RuleState::read(r, format)),
            answers: if format < 3 {
                Vec::new()
            } else {
                r.list(|r| {
                    let question = r.text();
                    let value = match r.u8() {
                        0 => Value::Bool(r.bool()),
                        1 => Value::Number(r.f64()),
                        2 => Value::Text(r.text()),
                        _ => {
                            r.fail();
                            Value::Bool(false)
                        }
                    };
                    (question, value)
                })
            },
            key: 0,
        };
        if !r.finish() {
            return None;
        }
        state.upgrade(model);
        state.check().ok()?;
        state.align(model);
        Some(state)
    }

    /// Parses state from JSON text, aligned to `model`; corrupt or foreign text gives `None`.
    #[cfg(feature = "json")]
    pub fn from_json(text: &str, model: &Compiled) -> Option<State> {
        let value: serde_json::Value = serde_json::from_str(text).ok()?;
        if !value.is_object() {
            return None;
        }
        let mut state: State = serde_json::from_value(value).ok()?;
        state.upgrade(model);
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
        let model = crate::model::ValidModel::from_json(
            &std::fs::read_to_string("www/models/saas.json").unwrap(),
        )
        .unwrap();
        let log = std::fs::read_to_string("www/models/saas.events.jsonl").unwrap();
        let mut state = State::new(&model);
        for (i, line) in log.lines().enumerate() {
            // Each line is an event with its visitor and time beside it.
            let mut value: serde_json::Value = serde_json::from_str(line).unwrap();
            let fields = value.as_object_mut().unwrap();
            fields.remove("visitor");
            fields.remove("ts");
            let event: Event = serde_json::from_value(value).unwrap();
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
        assert!(state.rules.iter().filter(|r| r.count > 0).count() >= 10);
        assert_eq!(State::from_bytes(&[9], &model), None, "another format");
    }
}
