//! What the widget keeps in the visitor's browser: one versioned `localStorage` key, or memory.
//!
//! The record holds the engine [`State`], the anonymous visitor id, the lead id given with
//! `identify`, and the tier results not yet delivered. Its size is bounded whatever the visitor
//! does. Text that does not parse, has another version or fails [`State::check`] is ignored and
//! the visitor starts fresh. Storage that throws (private mode, quota, blocked by the browser)
//! is replaced by memory for the rest of the page's life.

use super::js::{self, Warning};
use crate::engine::State;
use crate::engine::{Contribution, Score};
use crate::model::tree::field::{optional, or_default, required, text};
use crate::model::tree::{ObjectBuilder, Tree};
use crate::model::ValidModel;
use crate::payload::{Scores, TierResult, MAX_ID_LEN};
use serde::{Deserialize, Serialize};

/// The one `localStorage` key the widget writes.
pub const STORAGE_KEY: &str = "leadscore:v1";
/// Version of the stored record.
pub const RECORD_FORMAT: u32 = 1;
/// Most undelivered tier results kept; the oldest are dropped first.
pub const MAX_OUTBOX: usize = 16;

/// The stored record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Record format ([`RECORD_FORMAT`]).
    pub v: u32,
    /// Anonymous random id of this browser.
    pub visitor: String,
    /// Lead id given by the host page with `identify`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lead: Option<String>,
    /// The engine state.
    pub state: State,
    /// Tier results not yet accepted by the backend, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outbox: Vec<TierResult>,
    /// Failed delivery attempts in a row.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub attempts: u32,
    /// Earliest time of the next retry (milliseconds since the epoch).
    #[serde(default, skip_serializing_if = "is_zero_f")]
    pub retry_at: f64,
}

fn is_zero(v: &u32) -> bool {
    *v == 0
}
fn is_zero_f(v: &f64) -> bool {
    *v == 0.0
}

impl Record {
    /// A new visitor.
    pub fn fresh(model: &ValidModel) -> Record {
        Record {
            v: RECORD_FORMAT,
            visitor: js::random_id(),
            lead: None,
            state: State::new(model),
            outbox: Vec::new(),
            attempts: 0,
            retry_at: 0.0,
        }
    }

    /// Parses stored text; corrupt, foreign or oversized records give `None`.
    pub fn parse(text: &str, model: &ValidModel) -> Option<Record> {
        let value = js_sys::JSON::parse(text).ok()?;
        let mut record = Record::from_tree(&js::tree(&value))?;
        let id_ok = |s: &str| !s.is_empty() && s.len() <= MAX_ID_LEN;
        if record.v != RECORD_FORMAT
            || !id_ok(&record.visitor)
            || !record.lead.as_deref().is_none_or(id_ok)
            || record.outbox.len() > MAX_OUTBOX
            || !record.retry_at.is_finite()
        {
            return None;
        }
        record.state.check().ok()?;
        record.state.align(model);
        Some(record)
    }

    /// Reads a record from a parsed JSON document as serde reads it.
    fn from_tree(tree: &Tree) -> Option<Record> {
        if !matches!(tree, Tree::Object(_)) {
            return None;
        }
        Some(Record {
            v: required(tree, "v", Tree::as_u32)?,
            visitor: required(tree, "visitor", text)?,
            lead: optional(tree, "lead", text)?,
            state: required(tree, "state", State::from_tree)?,
            outbox: or_default(tree, "outbox", |t| t.list(tier_result))?,
            attempts: or_default(tree, "attempts", Tree::as_u32)?,
            retry_at: or_default(tree, "retry_at", Tree::as_f64)?,
        })
    }

    /// The record as JSON text.
    pub fn to_text(&self) -> Option<String> {
        js::stringify(&js::to_js(&self.to_tree()))
    }

    /// The record as serde writes it.
    fn to_tree(&self) -> Tree {
        ObjectBuilder::default()
            .field("v", Tree::number(self.v))
            .field("visitor", Tree::text(&self.visitor))
            .field_unless(self.lead.is_none(), "lead", || {
                Tree::text(self.lead.as_deref().unwrap_or_default())
            })
            .field("state", self.state.to_tree())
            .field_unless(self.outbox.is_empty(), "outbox", || {
                Tree::list_of(&self.outbox, tier_result_tree)
            })
            .field_unless(self.attempts == 0, "attempts", || {
                Tree::number(self.attempts)
            })
            .field_unless(self.retry_at == 0.0, "retry_at", || {
                Tree::number(self.retry_at)
            })
            .build()
    }

    /// Queues a tier result, dropping the oldest beyond [`MAX_OUTBOX`].
    pub fn enqueue(&mut self, result: TierResult) {
        self.outbox.push(result);
        if self.outbox.len() > MAX_OUTBOX {
            let extra = self.outbox.len() - MAX_OUTBOX;
            self.outbox.drain(..extra);
        }
    }
}

/// A tier result as serde writes it (the payload that is posted).
pub fn tier_result_tree(result: &TierResult) -> Tree {
    let scores = |s: &Scores| {
        ObjectBuilder::default()
            .field("fit", Tree::number(s.fit))
            .field("engagement", Tree::number(s.engagement))
            .field("intent", Tree::number(s.intent))
            .field("product", Tree::number(s.product))
            .field("total", Tree::number(s.total))
            .build()
    };
    ObjectBuilder::default()
        .field("schema", Tree::number(result.schema))
        .field("tier", Tree::text(&result.tier))
        .field("previous_tier", Tree::text(&result.previous_tier))
        .field("model_id", Tree::text(&result.model_id))
        .field("model_version", Tree::text(&result.model_version))
        .field("visitor_id", Tree::text(&result.visitor_id))
        .field("event_id", Tree::text(&result.event_id))
        .field("at", Tree::text(&result.at))
        .field_unless(result.lead_id.is_none(), "lead_id", || {
            Tree::text(result.lead_id.as_deref().unwrap_or_default())
        })
        .field_unless(result.scores.is_none(), "scores", || {
            result.scores.as_ref().map_or(Tree::Null, scores)
        })
        .build()
}

/// A score as serde writes it (what `explain` returns).
pub fn score_tree(score: &Score<'_>) -> Tree {
    let contribution = |c: &Contribution<'_>| {
        ObjectBuilder::default()
            .field("rule", Tree::text(c.rule))
            .field("dimension", Tree::text(c.dimension.name()))
            .field("points", Tree::number(c.points))
            .field("times", Tree::number(c.times))
            .field("decayed", Tree::number(c.decayed))
            .build()
    };
    ObjectBuilder::default()
        .field("fit", Tree::number(score.fit))
        .field("engagement", Tree::number(score.engagement))
        .field("intent", Tree::number(score.intent))
        .field("product", Tree::number(score.product))
        .field("total", Tree::number(score.total))
        .field("tier", Tree::text(score.tier))
        .field("previous_tier", Tree::text(score.previous_tier))
        .field_unless(score.probability.is_none(), "probability", || {
            Tree::number(score.probability.unwrap_or_default())
        })
        .field(
            "contributions",
            Tree::list_of(&score.contributions, contribution),
        )
        .build()
}

/// Reads a stored tier result as serde reads it.
fn tier_result(tree: &Tree) -> Option<TierResult> {
    let scores = |t: &Tree| {
        Some(Scores {
            fit: required(t, "fit", Tree::as_f64)?,
            engagement: required(t, "engagement", Tree::as_f64)?,
            intent: required(t, "intent", Tree::as_f64)?,
            product: required(t, "product", Tree::as_f64)?,
            total: required(t, "total", Tree::as_f64)?,
        })
    };
    if !matches!(tree, Tree::Object(_)) {
        return None;
    }
    Some(TierResult {
        schema: required(tree, "schema", Tree::as_u32)?,
        tier: required(tree, "tier", text)?,
        previous_tier: required(tree, "previous_tier", text)?,
        model_id: required(tree, "model_id", text)?,
        model_version: required(tree, "model_version", text)?,
        visitor_id: required(tree, "visitor_id", text)?,
        event_id: required(tree, "event_id", text)?,
        at: required(tree, "at", text)?,
        lead_id: optional(tree, "lead_id", text)?,
        scores: optional(tree, "scores", scores)?,
    })
}

/// Where the record lives.
pub struct Store {
    local: Option<web_sys::Storage>,
    memory: Option<String>,
}

impl Store {
    /// `localStorage` if it can be read and written, memory otherwise (with one warning).
    pub fn open() -> Store {
        let local = web_sys::window()
            .and_then(|w| w.local_storage().ok().flatten())
            .filter(|s| s.get_item(STORAGE_KEY).is_ok());
        Store::with(local)
    }

    /// A store over the given storage (`None`: memory only).
    pub fn with(local: Option<web_sys::Storage>) -> Store {
        if local.is_none() {
            js::warn_once(
                Warning::Storage,
                "storage is unavailable; the score is kept for this page only",
            );
        }
        Store {
            local,
            memory: None,
        }
    }

    /// A store that never touches the browser's storage (consent not given yet).
    pub fn memory() -> Store {
        Store {
            local: None,
            memory: None,
        }
    }

    /// True while the record goes to `localStorage`.
    pub fn is_persistent(&self) -> bool {
        self.local.is_some()
    }

    /// The stored text, if any.
    pub fn read(&mut self) -> Option<String> {
        if let Some(local) = &self.local {
            match local.get_item(STORAGE_KEY) {
                Ok(text) => return text,
                Err(_) => self.fall_back(),
            }
        }
        self.memory.clone()
    }

    /// Stores `text`; storage that throws is replaced by memory.
    pub fn write(&mut self, text: String) {
        if let Some(local) = &self.local {
            if local.set_item(STORAGE_KEY, &text).is_ok() {
                return;
            }
            self.fall_back();
        }
        self.memory = Some(text);
    }

    /// Erases the record.
    pub fn clear(&mut self) {
        if let Some(local) = &self.local {
            if local.remove_item(STORAGE_KEY).is_err() {
                self.fall_back();
            }
        }
        self.memory = None;
    }

    fn fall_back(&mut self) {
        self.local = None;
        js::warn_once(
            Warning::Storage,
            "storage failed; the score is kept for this page only",
        );
    }

    /// Loads the record for `model`, or a fresh one.
    pub fn load(&mut self, model: &ValidModel) -> Record {
        self.read()
            .and_then(|text| Record::parse(&text, model))
            .unwrap_or_else(|| Record::fresh(model))
    }

    /// Saves the record.
    pub fn save(&mut self, record: &Record) {
        if let Some(text) = record.to_text() {
            self.write(text);
        }
    }
}
