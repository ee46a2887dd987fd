//! Checking one posted tier result before anything touches the database.
//!
//! The body must be one JSON object with exactly the fields of [`TierResult`]; on top of the
//! schema, ids must be non-empty, at most [`MAX_ID_LEN`] bytes and free of control characters,
//! `at` must be an RFC 3339 timestamp (stored normalised to UTC with milliseconds), and both tiers
//! must be tiers of a model the server was given, or `unqualified`. An optional rule summary
//! (`rules`: rule id → `[times_fired, current_points]`) has at most [`MAX_RULE_SUMMARY`] entries
//! whose ids are written like a model's rule ids.

use leadscore::engine::UNQUALIFIED;
use leadscore::payload::{TierResult, MAX_ID_LEN, MAX_RULE_SUMMARY, PAYLOAD_SCHEMA};
use std::collections::BTreeSet;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Duration, OffsetDateTime, UtcOffset};

/// Results dated further ahead of the server's clock than this are refused: a browser clock can be
/// a little off, but a result from the future would pin its visitor's current tier (the latest
/// result wins) and stay at the top of the dashboard's latest changes.
pub const MAX_CLOCK_AHEAD: Duration = Duration::minutes(5);

/// A tier result that passed every check, ready to store.
#[derive(Debug, Clone)]
pub struct Accepted {
    /// The result, with `at` normalised to UTC.
    pub result: TierResult,
    /// `YYYY-MM-DD` of `at`, for the per-day counts.
    pub day: String,
    /// The sub-scores as JSON, when the site sent them.
    pub scores_json: Option<String>,
    /// The rule summary as JSON (ids in order), when the site sent one.
    pub rules_json: Option<String>,
    /// The whole normalised result as JSON (what the webhook receives).
    pub payload: String,
}

/// Why a body was refused; becomes a 4xx answer `{"error", "field", "message"}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub status: u16,
    pub code: &'static str,
    /// The offending field (`at`, `scores.fit`, `Origin`, ...), when there is one.
    pub field: Option<String>,
    pub message: String,
}

impl Rejection {
    pub fn new(
        status: u16,
        code: &'static str,
        field: Option<&str>,
        message: impl Into<String>,
    ) -> Self {
        Rejection {
            status,
            code,
            field: field.map(str::to_owned),
            message: message.into(),
        }
    }

    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Rejection::new(422, "invalid_field", Some(field), message)
    }
}

/// The checks that depend on the server's configuration: which tiers exist.
#[derive(Debug, Clone)]
pub struct Validator {
    tiers: BTreeSet<String>,
}

impl Validator {
    /// A validator that accepts the given tier names and `unqualified`.
    pub fn new(tiers: impl IntoIterator<Item = String>) -> Self {
        let mut tiers: BTreeSet<String> = tiers.into_iter().collect();
        tiers.insert(UNQUALIFIED.to_owned());
        Validator { tiers }
    }

    /// The tier names accepted.
    pub fn tiers(&self) -> impl Iterator<Item = &str> {
        self.tiers.iter().map(String::as_str)
    }

    /// Parses and checks one request body.
    pub fn check(&self, body: &[u8], now: OffsetDateTime) -> Result<Accepted, Rejection> {
        let mut result: TierResult = parse(body, "a tier result")?;
        if result.schema != PAYLOAD_SCHEMA {
            return Err(Rejection::field(
                "schema",
                format!(
                    "unsupported payload schema {}; this server reads {PAYLOAD_SCHEMA}",
                    result.schema
                ),
            ));
        }
        check_id("model_id", &result.model_id)?;
        check_id("model_version", &result.model_version)?;
        check_id("visitor_id", &result.visitor_id)?;
        check_id("event_id", &result.event_id)?;
        if let Some(lead_id) = &result.lead_id {
            check_id("lead_id", lead_id)?;
        }
        self.check_tier("tier", &result.tier)?;
        self.check_tier("previous_tier", &result.previous_tier)?;
        if result.tier == result.previous_tier {
            return Err(Rejection::field(
                "previous_tier",
                format!(
                    "a tier result records a change, but tier and previous_tier are both {:?}",
                    result.tier
                ),
            ));
        }
        let at = parse_at(&result.at, now)?;
        result.at = format_at(at)?;
        let day = result.at.get(..10).unwrap_or_default().to_owned();
        let scores_json = match &result.scores {
            Some(scores) => Some(serde_json::to_string(scores).map_err(internal)?),
            None => None,
        };
        let rules_json = match &result.rules {
            Some(rules) => {
                // The widget sends a summary only for an identified lead, the only kind that
                // outcomes (and so `leadscore retune`) can use.
                if result.lead_id.is_none() {
                    return Err(Rejection::field(
                        "rules",
                        "a rule summary is accepted only with a lead_id",
                    ));
                }
                if rules.len() > MAX_RULE_SUMMARY {
                    return Err(Rejection::field(
                        "rules",
                        format!(
                            "{} rules; a rule summary has at most {MAX_RULE_SUMMARY}",
                            rules.len()
                        ),
                    ));
                }
                for id in rules.keys() {
                    check_rule_id(id)?;
                }
                Some(serde_json::to_string(rules).map_err(internal)?)
            }
            None => None,
        };
        let payload = serde_json::to_string(&result).map_err(internal)?;
        Ok(Accepted {
            result,
            day,
            scores_json,
            rules_json,
            payload,
        })
    }

    fn check_tier(&self, field: &str, tier: &str) -> Result<(), Rejection> {
        if self.tiers.contains(tier) {
            return Ok(());
        }
        let known: Vec<&str> = self.tiers().collect();
        Err(Rejection::field(
            field,
            format!(
                "unknown tier {tier:?}; expected one of {}",
                known.join(", ")
            ),
        ))
    }
}

/// Deserialises the body (one JSON object: `noun`, e.g. "a tier result"), naming the field that
/// failed.
pub fn parse<T: serde::de::DeserializeOwned>(body: &[u8], noun: &str) -> Result<T, Rejection> {
    // serde would also read a struct from a JSON array (`[1, "MQL", ...]`); only an object is a result.
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => {}
        None => {
            return Err(Rejection::new(
                400,
                "invalid_json",
                None,
                "the body is empty",
            ))
        }
        Some(_) => {
            return Err(Rejection::new(
                422,
                "invalid_json",
                None,
                format!("the body must be one JSON object ({noun})"),
            ))
        }
    }
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let result: T = match serde_path_to_error::deserialize(&mut deserializer) {
        Ok(result) => result,
        Err(error) => return Err(parse_rejection(&error, noun)),
    };
    // Trailing data after the object (`{...}{...}`) is an error too.
    deserializer
        .end()
        .map_err(|e| Rejection::new(400, "invalid_json", None, format!("invalid JSON: {e}")))?;
    Ok(result)
}

fn parse_rejection(error: &serde_path_to_error::Error<serde_json::Error>, noun: &str) -> Rejection {
    let inner = error.inner();
    let message = inner.to_string();
    if inner.is_syntax() || inner.is_eof() || inner.is_io() {
        return Rejection::new(
            400,
            "invalid_json",
            None,
            format!("invalid JSON: {message}"),
        );
    }
    // serde reports a missing or unknown field at the object that holds it; name the field itself.
    for (marker, code) in [
        ("unknown field `", "unknown_field"),
        ("missing field `", "missing_field"),
    ] {
        if let Some(rest) = message.strip_prefix(marker) {
            let name = rest.split('`').next().unwrap_or_default();
            // An unknown field's path already ends with it; a missing field's path is its parent.
            let path = error.path().to_string();
            let field = if path == "." || path.is_empty() {
                name.to_owned()
            } else if path == name || path.ends_with(&format!(".{name}")) {
                path
            } else {
                format!("{path}.{name}")
            };
            let message = match code {
                "unknown_field" => {
                    format!("unknown field {field:?}; {noun} has only the documented fields")
                }
                _ => format!("missing field {field:?}"),
            };
            return Rejection::new(422, code, Some(&field), message);
        }
    }
    let path = error.path().to_string();
    if path == "." || path.is_empty() {
        return Rejection::new(
            422,
            "invalid_json",
            None,
            format!("the body must be {noun} object: {message}"),
        );
    }
    Rejection::field(&path, message)
}

/// A rule id as a model writes it: letters, digits, `- _ . :`, at most [`MAX_ID_LEN`] bytes.
fn check_rule_id(id: &str) -> Result<(), Rejection> {
    if id.is_empty() {
        return Err(Rejection::field("rules", "a rule id must not be empty"));
    }
    if id.len() > MAX_ID_LEN {
        return Err(Rejection::field(
            "rules",
            format!(
                "a rule id is {} bytes long; at most {MAX_ID_LEN} allowed",
                id.len()
            ),
        ));
    }
    if let Some(bad) = id
        .chars()
        .find(|ch| !(ch.is_ascii_alphanumeric() || matches!(ch, '-' | '_' | '.' | ':')))
    {
        return Err(Rejection::field(
            "rules",
            format!("rule id {id:?} contains {bad:?}; rule ids use letters, digits, - _ . :"),
        ));
    }
    Ok(())
}

pub fn check_id(field: &str, value: &str) -> Result<(), Rejection> {
    if value.is_empty() {
        return Err(Rejection::field(field, "must not be empty"));
    }
    if value.len() > MAX_ID_LEN {
        return Err(Rejection::field(
            field,
            format!("{} bytes long; at most {MAX_ID_LEN} allowed", value.len()),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(Rejection::field(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

pub fn parse_at(text: &str, now: OffsetDateTime) -> Result<OffsetDateTime, Rejection> {
    let at = OffsetDateTime::parse(text, &Rfc3339).map_err(|e| {
        Rejection::field(
            "at",
            format!("{text:?} is not an RFC 3339 timestamp like 2026-11-24T10:00:00.000Z: {e}"),
        )
    })?;
    if at.year() < 2000 {
        return Err(Rejection::field(
            "at",
            format!("{text:?} is before the year 2000"),
        ));
    }
    if at > now + MAX_CLOCK_AHEAD {
        return Err(Rejection::field(
            "at",
            format!(
                "{text:?} is more than {} minutes ahead of the server's clock ({})",
                MAX_CLOCK_AHEAD.whole_minutes(),
                format_at(now).unwrap_or_default()
            ),
        ));
    }
    Ok(at)
}

/// `2026-11-24T10:00:00.000Z`: fixed width, so text order is time order in both databases.
pub fn format_at(at: OffsetDateTime) -> Result<String, Rejection> {
    at.to_offset(UtcOffset::UTC)
        .format(format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        ))
        .map_err(internal)
}

fn internal(e: impl std::fmt::Display) -> Rejection {
    Rejection::new(500, "internal", None, e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-24 12:00 UTC);

    fn validator() -> Validator {
        Validator::new(["MQL", "SQL", "PQL"].map(String::from))
    }

    fn body(edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
        let mut value = serde_json::json!({
            "schema": 1, "tier": "MQL", "previous_tier": "unqualified", "model_id": "acme-saas",
            "model_version": "2026-11-01", "visitor_id": "v-1", "event_id": "e-1",
            "at": "2026-11-24T10:00:00.000Z"
        });
        edit(&mut value);
        value.to_string().into_bytes()
    }

    fn field_of(body: &[u8]) -> Option<String> {
        validator().check(body, NOW).err().and_then(|r| r.field)
    }

    #[test]
    fn accepts_a_valid_result_and_normalises_the_time() {
        let accepted = validator()
            .check(&body(|v| v["at"] = "2026-11-24T11:30:00+01:00".into()), NOW)
            .map_err(|r| r.message)
            .unwrap_or_else(|m| unreachable!("{m}"));
        assert_eq!(accepted.result.at, "2026-11-24T10:30:00.000Z");
        assert_eq!(accepted.day, "2026-11-24");
        assert!(accepted
            .payload
            .contains("\"at\":\"2026-11-24T10:30:00.000Z\""));
    }

    #[test]
    fn names_the_field_of_each_problem() {
        assert_eq!(
            field_of(&body(|v| v["extra"] = 1.into())).as_deref(),
            Some("extra")
        );
        assert_eq!(
            field_of(&body(
                |v| v["scores"] = serde_json::json!({"fit": 1, "x": 2})
            ))
            .as_deref(),
            Some("scores.x")
        );
        assert_eq!(
            field_of(&body(|v| {
                v.as_object_mut().map(|o| o.remove("tier"));
            }))
            .as_deref(),
            Some("tier")
        );
        assert_eq!(
            field_of(&body(|v| v["tier"] = "VIP".into())).as_deref(),
            Some("tier")
        );
        assert_eq!(
            field_of(&body(|v| v["previous_tier"] = 3.into())).as_deref(),
            Some("previous_tier")
        );
        assert_eq!(
            field_of(&body(|v| v["at"] = "yesterday".into())).as_deref(),
            Some("at")
        );
        assert_eq!(
            field_of(&body(|v| v["at"] = "2030-01-01T00:00:00Z".into())).as_deref(),
            Some("at")
        );
        assert_eq!(
            field_of(&body(|v| v["event_id"] = "x".repeat(MAX_ID_LEN + 1).into())).as_deref(),
            Some("event_id")
        );
        assert_eq!(
            field_of(&body(|v| v["lead_id"] = "".into())).as_deref(),
            Some("lead_id")
        );
        assert_eq!(
            field_of(&body(|v| v["visitor_id"] = "a\nb".into())).as_deref(),
            Some("visitor_id")
        );
        assert_eq!(
            field_of(&body(|v| v["schema"] = 2.into())).as_deref(),
            Some("schema")
        );
        assert_eq!(
            field_of(&body(|v| v["tier"] = "unqualified".into())).as_deref(),
            Some("previous_tier")
        );
    }

    #[test]
    fn malformed_json_is_a_400_without_field() {
        for bad in [
            &b"{"[..],
            b"[]",
            b"null",
            b"{} {}",
            b"\xff",
            b"",
            b"[1, \"MQL\"]",
        ] {
            let rejection = validator().check(bad, NOW).err();
            assert!(
                rejection
                    .as_ref()
                    .is_some_and(|r| r.status == 400 || r.status == 422),
                "{bad:?}: {rejection:?}"
            );
        }
        let trailing = [body(|_| {}), b" {}".to_vec()].concat();
        assert_eq!(
            validator().check(&trailing, NOW).err().map(|r| r.code),
            Some("invalid_json")
        );
    }
}
