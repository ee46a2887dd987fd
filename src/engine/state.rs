//! Per-visitor state: counters and times per rule, never a log of events.
//!
//! Its size is bounded by the model, whatever the visitor does: per rule at most
//! [`MAX_FIRINGS_KEPT`] firing times, at most [`crate::model::MAX_DISTINCT_PAGES`] page hashes.

use crate::model::tree::field::{optional, or_default, required, text};
use crate::model::tree::{ObjectBuilder, Tree};
use crate::model::{fingerprint, ValidModel, MAX_DISTINCT_PAGES};
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
    fn to_tree(&self) -> Tree {
        ObjectBuilder::default()
            .field("id", Tree::text(&self.id))
            .field_unless(self.count == 0, "count", || Tree::number(self.count))
            .field_unless(self.progress == 0, "progress", || {
                Tree::number(self.progress)
            })
            .field_unless(self.last.is_none(), "last", || {
                Tree::int(self.last.unwrap_or_default())
            })
            .field_unless(self.window.is_empty(), "window", || {
                Tree::list_of(&self.window, |t| Tree::int(*t))
            })
            .field_unless(self.held == 0.0, "held", || Tree::number(self.held))
            .field_unless(self.held_at == 0, "held_at", || Tree::int(self.held_at))
            .field_unless(self.firings.is_empty(), "firings", || {
                Tree::list_of(&self.firings, |(t, n)| {
                    Tree::List(vec![Tree::int(*t), Tree::number(*n)])
                })
            })
            .build()
    }

    fn from_tree(tree: &Tree) -> Option<RuleState> {
        if !matches!(tree, Tree::Object(_)) {
            return None;
        }
        let firing = |t: &Tree| match t {
            Tree::List(pair) => match pair.as_slice() {
                [time, count] => Some((time.as_i64()?, count.as_u32()?)),
                _ => None,
            },
            _ => None,
        };
        Some(RuleState {
            id: required(tree, "id", text)?,
            count: or_default(tree, "count", Tree::as_u32)?,
            progress: or_default(tree, "progress", Tree::as_u32)?,
            last: optional(tree, "last", Tree::as_i64)?,
            window: or_default(tree, "window", |t| t.list(Tree::as_i64))?,
            held: or_default(tree, "held", Tree::as_f64)?,
            held_at: or_default(tree, "held_at", Tree::as_i64)?,
            firings: or_default(tree, "firings", |t| t.list(firing))?,
        })
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
            let mut old = std::mem::take(&mut self.rules);
            self.rules = model
                .rules()
                .iter()
                .map(|rule| {
                    old.iter_mut()
                        .find(|s| s.id == rule.id)
                        .map(std::mem::take)
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
    pub fn check(&self) -> Result<(), String> {
        if self.format != STATE_FORMAT {
            return Err(format!(
                "state format {} is not {STATE_FORMAT}",
                self.format
            ));
        }
        if self.pages.len() > MAX_DISTINCT_PAGES as usize {
            return Err("too many pages".into());
        }
        if !self.seconds.is_finite() || self.seconds < 0.0 {
            return Err("invalid seconds".into());
        }
        if self.rules.len() > 10_000 {
            return Err("too many rules".into());
        }
        for r in &self.rules {
            if !r.held.is_finite()
                || r.firings.len() > MAX_FIRINGS_KEPT
                || r.window.len() > crate::model::MAX_WINDOW_TIMES as usize
            {
                return Err(format!("invalid state for rule \"{}\"", r.id));
            }
        }
        Ok(())
    }

    /// The state as serde writes it, for the widget's storage.
    pub fn to_tree(&self) -> Tree {
        ObjectBuilder::default()
            .field("v", Tree::number(self.format))
            .field_unless(self.first_seen.is_none(), "first_seen", || {
                Tree::int(self.first_seen.unwrap_or_default())
            })
            .field_unless(self.last_seen.is_none(), "last_seen", || {
                Tree::int(self.last_seen.unwrap_or_default())
            })
            .field("visits", Tree::number(self.visits))
            .field("seconds", Tree::number(self.seconds))
            .field_unless(self.pages.is_empty(), "pages", || {
                Tree::list_of(&self.pages, |p| Tree::number(*p))
            })
            .field_unless(self.tier.is_none(), "tier", || {
                Tree::text(self.tier.as_deref().unwrap_or_default())
            })
            .field("rules", Tree::list_of(&self.rules, RuleState::to_tree))
            .build()
    }

    /// Reads state from a parsed JSON document as serde reads it (without aligning or checking
    /// it); `None` when a field is missing or has the wrong type. Written by hand for the widget,
    /// where serde's generated reader is several times larger.
    pub fn from_tree(tree: &Tree) -> Option<State> {
        if !matches!(tree, Tree::Object(_)) {
            return None;
        }
        Some(State {
            format: required(tree, "v", Tree::as_u32)?,
            first_seen: optional(tree, "first_seen", Tree::as_i64)?,
            last_seen: optional(tree, "last_seen", Tree::as_i64)?,
            visits: or_default(tree, "visits", Tree::as_u32)?,
            seconds: or_default(tree, "seconds", Tree::as_f64)?,
            pages: or_default(tree, "pages", |t| t.list(Tree::as_u32))?,
            tier: optional(tree, "tier", text)?,
            rules: or_default(tree, "rules", |t| t.list(RuleState::from_tree))?,
            key: 0,
        })
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
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::engine::{apply, Event};
    use crate::model::tree::from_json;
    use serde_json::json;

    /// The tree with its object keys sorted, as `serde_json::Value` keeps them (the order
    /// written is checked against serde's in the browser tests).
    fn sorted(tree: Tree) -> Tree {
        match tree {
            Tree::List(items) => Tree::List(items.into_iter().map(sorted).collect()),
            Tree::Object(mut entries) => {
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                Tree::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
            }
            other => other,
        }
    }

    /// `State::from_tree` and serde agree on `doc`.
    fn agree(doc: &serde_json::Value) {
        let by_serde = serde_json::from_value::<State>(doc.clone()).ok();
        assert_eq!(State::from_tree(&from_json(doc)), by_serde, "{doc}");
    }

    #[test]
    fn state_reads_by_hand_as_serde_reads_it() {
        let model =
            ValidModel::from_json(&std::fs::read_to_string("www/models/saas.json").unwrap())
                .unwrap();
        let log = std::fs::read_to_string("www/models/saas.events.jsonl").unwrap();
        let mut state = State::new(&model);
        for (i, line) in log.lines().enumerate() {
            let event: Event = match serde_json::from_str(line) {
                Ok(event) => event,
                Err(_) => continue,
            };
            let now = 1_700_000_000_000 + i as i64 * 3_600_000;
            let _ = apply(&mut state, &model, &event, now);
            let doc = serde_json::to_value(&state).unwrap();
            agree(&doc);
            assert_eq!(
                State::from_tree(&from_json(&doc)).unwrap().rules,
                state.rules
            );
        }
        let doc = serde_json::to_value(&state).unwrap();
        for (path, value) in [
            ("/v", json!(null)),
            ("/v", json!(-1)),
            ("/visits", json!("3")),
            ("/visits", json!(null)),
            ("/visits", json!(1.5)),
            ("/seconds", json!(2)),
            ("/first_seen", json!(null)),
            ("/tier", json!(7)),
            ("/pages", json!([1, -2])),
            ("/rules/0", json!({"count": 1})),
            ("/rules/0/firings", json!([[1]])),
            ("/rules/0/firings", json!([[1, 2]])),
            ("/rules/0/held", json!(0.25)),
            ("/rules/0/last", json!(4_294_967_296u64)),
            ("/rules", json!({})),
        ] {
            let mut changed = doc.clone();
            let (parent, key) = path.rsplit_once('/').unwrap();
            match changed.pointer_mut(parent).unwrap() {
                serde_json::Value::Object(object) => {
                    object.insert(key.to_string(), value);
                }
                list => list[key.parse::<usize>().unwrap()] = value,
            }
            agree(&changed);
        }
        for key in ["v", "visits", "rules", "pages"] {
            let mut changed = doc.clone();
            changed.as_object_mut().unwrap().remove(key);
            agree(&changed);
        }
        assert_eq!(sorted(state.to_tree()), from_json(&doc));
        assert_eq!(
            sorted(State::new(&model).to_tree()),
            from_json(&serde_json::to_value(State::new(&model)).unwrap())
        );
        // serde_json also reads a struct from a list of its fields; stored state never is one.
        assert_eq!(State::from_tree(&from_json(&json!([1]))), None);
        agree(&json!({"v": 1}));
    }
}
