//! Outcomes: what sales made of a lead (accepted, opportunity, won, lost, disqualified), posted
//! server to server at `POST /v1/outcome` or imported from a CRM export (`leadscore outcomes
//! import`). Both go through [`check`], so both store the same normalised outcome once per
//! `outcome_id`.
//!
//! An outcome names its lead by `lead_id` (what the site passed to `identify`) or `visitor_id`
//! (the widget's anonymous id), or both. It may arrive before the lead's first tier result: the
//! tier truth joins them when it is computed, not when either is stored.

use super::validate::{check_id, format_at, parse, parse_at, Rejection};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// What sales made of a lead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeKind {
    /// Accepted by sales (a sales-accepted lead).
    Accepted,
    /// An opportunity was opened.
    Opportunity,
    /// The deal was won.
    Won,
    /// The deal was lost.
    Lost,
    /// Sales found the lead not worth pursuing.
    Disqualified,
}

impl OutcomeKind {
    pub const ALL: [OutcomeKind; 5] = [
        OutcomeKind::Accepted,
        OutcomeKind::Opportunity,
        OutcomeKind::Won,
        OutcomeKind::Lost,
        OutcomeKind::Disqualified,
    ];

    pub fn name(self) -> &'static str {
        match self {
            OutcomeKind::Accepted => "accepted",
            OutcomeKind::Opportunity => "opportunity",
            OutcomeKind::Won => "won",
            OutcomeKind::Lost => "lost",
            OutcomeKind::Disqualified => "disqualified",
        }
    }

    pub fn from_name(name: &str) -> Option<OutcomeKind> {
        OutcomeKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Converted: an opportunity or a won deal.
    pub fn converted(self) -> bool {
        matches!(self, OutcomeKind::Opportunity | OutcomeKind::Won)
    }

    /// Accepted by sales: accepted, or further along (opportunity, won).
    pub fn accepted(self) -> bool {
        matches!(
            self,
            OutcomeKind::Accepted | OutcomeKind::Opportunity | OutcomeKind::Won
        )
    }
}

/// The body of `POST /v1/outcome`, and one row of an import.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutcomeReport {
    /// Idempotency id: the CRM's id of this outcome (a second post with it is a duplicate).
    pub outcome_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lead_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visitor_id: Option<String>,
    /// `accepted`, `opportunity`, `won`, `lost` or `disqualified`.
    pub outcome: String,
    /// The deal's value, when known (not negative).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// When it happened, RFC 3339 (stored normalised to UTC with milliseconds). An import
    /// without an `--at-column` stores none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
}

/// An outcome that passed every check, ready to store.
#[derive(Debug, Clone)]
pub struct AcceptedOutcome {
    /// The outcome, `at` normalised to UTC.
    pub report: OutcomeReport,
    pub kind: OutcomeKind,
    /// The whole normalised outcome as JSON: a second outcome with the same `outcome_id` is a
    /// duplicate when this text is the same, and a conflict otherwise.
    pub payload: String,
}

/// Parses and checks a `POST /v1/outcome` body (`at` required).
pub fn check_body(body: &[u8], now: OffsetDateTime) -> Result<AcceptedOutcome, Rejection> {
    let report: OutcomeReport = parse(body, "an outcome")?;
    if report.at.is_none() {
        return Err(Rejection::new(
            422,
            "missing_field",
            Some("at"),
            "missing field \"at\"",
        ));
    }
    check(report, now)
}

/// Checks one outcome: ids, the outcome's name, the value and the time.
pub fn check(mut report: OutcomeReport, now: OffsetDateTime) -> Result<AcceptedOutcome, Rejection> {
    check_id("outcome_id", &report.outcome_id)?;
    if report.lead_id.is_none() && report.visitor_id.is_none() {
        return Err(Rejection::new(
            422,
            "missing_field",
            Some("lead_id"),
            "an outcome names its lead: lead_id (as given to identify) or visitor_id",
        ));
    }
    if let Some(lead_id) = &report.lead_id {
        check_id("lead_id", lead_id)?;
    }
    if let Some(visitor_id) = &report.visitor_id {
        check_id("visitor_id", visitor_id)?;
    }
    let Some(kind) = OutcomeKind::from_name(&report.outcome) else {
        let names: Vec<&str> = OutcomeKind::ALL.iter().map(|k| k.name()).collect();
        return Err(Rejection::field(
            "outcome",
            format!(
                "unknown outcome {:?}; expected one of {}",
                report.outcome,
                names.join(", ")
            ),
        ));
    };
    if let Some(value) = report.value {
        if !value.is_finite() || value < 0.0 {
            return Err(Rejection::field(
                "value",
                format!("{value} is not a non-negative number"),
            ));
        }
    }
    if let Some(at) = &report.at {
        let parsed = parse_at(at, now)?;
        report.at = Some(format_at(parsed)?);
    }
    let payload = serde_json::to_string(&report)
        .map_err(|e| Rejection::new(500, "internal", None, e.to_string()))?;
    Ok(AcceptedOutcome {
        report,
        kind,
        payload,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-24 12:00 UTC);

    fn field_of(body: serde_json::Value) -> Option<String> {
        check_body(body.to_string().as_bytes(), NOW)
            .err()
            .and_then(|r| r.field)
    }

    #[test]
    fn accepts_and_normalises_an_outcome() {
        let body = serde_json::json!({"outcome_id": "o-1", "lead_id": "ann@example.com",
            "outcome": "won", "value": 1200.5, "at": "2026-11-24T11:30:00+01:00"});
        let accepted = check_body(body.to_string().as_bytes(), NOW)
            .map_err(|r| r.message)
            .unwrap_or_else(|m| unreachable!("{m}"));
        assert_eq!(accepted.kind, OutcomeKind::Won);
        assert_eq!(
            accepted.report.at.as_deref(),
            Some("2026-11-24T10:30:00.000Z")
        );
        assert!(accepted.kind.converted() && accepted.kind.accepted());
    }

    #[test]
    fn names_the_field_of_each_problem() {
        let good = serde_json::json!({"outcome_id": "o-1", "visitor_id": "v-1",
            "outcome": "accepted", "at": "2026-11-24T10:00:00Z"});
        let with = |key: &str, value: serde_json::Value| {
            let mut v = good.clone();
            v[key] = value;
            v
        };
        let without = |key: &str| {
            let mut v = good.clone();
            v.as_object_mut().map(|o| o.remove(key));
            v
        };
        for (body, field) in [
            (with("outcome", "closed".into()), "outcome"),
            (with("value", (-1).into()), "value"),
            (with("value", "12".into()), "value"),
            (with("at", "yesterday".into()), "at"),
            (with("extra", 1.into()), "extra"),
            (with("outcome_id", "".into()), "outcome_id"),
            (without("outcome_id"), "outcome_id"),
            (without("at"), "at"),
            (without("visitor_id"), "lead_id"),
        ] {
            assert_eq!(field_of(body.clone()).as_deref(), Some(field), "{body}");
        }
    }
}
