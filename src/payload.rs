//! The tier result: the one JSON object that leaves the visitor's browser, once per tier change.
//!
//! The widget builds it, the reference collector (`leadscore serve`) validates and stores it. It
//! carries no URL, no answer and no behaviour; sub-scores only when the site owner opts in.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Version of the payload schema.
pub const PAYLOAD_SCHEMA: u32 = 1;
/// Longest id (visitor, idempotency, lead, model, rule) accepted, in bytes.
pub const MAX_ID_LEN: usize = 128;
/// Most entries of a result's rule summary ([`TierResult::rules`]).
pub const MAX_RULE_SUMMARY: usize = 128;

/// One tier change of one visitor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierResult {
    /// Payload schema version ([`PAYLOAD_SCHEMA`]).
    pub schema: u32,
    /// The tier reached (`unqualified` when the visitor fell out of every tier).
    pub tier: String,
    /// The tier before.
    pub previous_tier: String,
    /// The model's `id`.
    pub model_id: String,
    /// The model's `model_version`.
    pub model_version: String,
    /// Anonymous random id of the browser, created by the widget.
    pub visitor_id: String,
    /// Random id of this result; a retried delivery carries the same id.
    pub event_id: String,
    /// When the tier changed, RFC 3339 in UTC (`2026-11-24T10:00:00.000Z`).
    pub at: String,
    /// The lead id the host page gave with `identify`, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lead_id: Option<String>,
    /// Sub-scores, only when the site owner opted in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scores: Option<Scores>,
    /// Rule summary, only when the site owner opted in: rule id → `[times_fired,
    /// current_points]`, so that outcomes can later be joined with the rules that fired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<BTreeMap<String, RuleSummary>>,
}

/// One rule of a result's rule summary: `[times_fired, current_points]` (a JSON pair).
pub type RuleSummary = (u32, i64);

/// Sub-scores sent with a result when the site owner opted in.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scores {
    pub fit: f64,
    pub engagement: f64,
    pub intent: f64,
    pub product: f64,
    pub total: f64,
}
