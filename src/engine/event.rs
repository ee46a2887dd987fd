//! What a visitor does, as the engine sees it.

use crate::model::number_text;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// Longest path, URL, name or value an event may carry, in bytes.
pub const MAX_TEXT_LEN: usize = 2048;
/// Most query parameters or custom-event properties an event may carry.
pub const MAX_ENTRIES: usize = 64;
/// Longest visible-time increment one event may report, in seconds.
pub const MAX_ENGAGED_SECONDS: f64 = 86_400.0;

/// One thing a visitor did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Event {
    /// A page was viewed: first load or single-page-app navigation.
    PageView {
        /// URL path, starting with `/`.
        path: String,
        /// Query parameters.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        query: BTreeMap<String, String>,
    },
    /// A file was downloaded (the path of the link's URL).
    Download { url: String },
    /// A question was answered (a quiz or form field).
    Answer { question: String, value: Value },
    /// A form was submitted.
    FormSubmit {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    /// A custom event sent by the host page or app (product usage).
    Custom {
        name: String,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        properties: BTreeMap<String, Value>,
    },
    /// The page was visible for this many more seconds.
    Engagement { seconds: f64 },
}

/// An answer or property value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    Bool(bool),
    Number(f64),
    Text(String),
}

impl Value {
    /// The value as a number, if it is one or is text that reads as one.
    pub fn as_number(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(*n),
            Value::Text(t) => t.trim().parse::<f64>().ok().filter(|n| n.is_finite()),
            Value::Bool(_) => None,
        }
    }

    /// True when the value, without surrounding spaces, equals `text`, ignoring ASCII case.
    pub fn equals_text(&self, text: &str) -> bool {
        match self {
            Value::Text(t) => t.trim().eq_ignore_ascii_case(text),
            Value::Bool(b) => text.eq_ignore_ascii_case(if *b { "true" } else { "false" }),
            Value::Number(n) => text.parse::<f64>().is_ok_and(|t| t == *n),
        }
    }
}

/// Why an event was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventError {
    /// The field at fault.
    pub field: &'static str,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for EventError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for EventError {}

fn reject(field: &'static str, message: impl Into<String>) -> Result<(), EventError> {
    Err(EventError {
        field,
        message: message.into(),
    })
}

fn text(field: &'static str, value: &str) -> Result<(), EventError> {
    if value.trim().is_empty() {
        return reject(field, "must not be empty");
    }
    if value.len() > MAX_TEXT_LEN {
        return reject(field, format!("longer than {MAX_TEXT_LEN} bytes"));
    }
    Ok(())
}

fn value(field: &'static str, v: &Value) -> Result<(), EventError> {
    match v {
        Value::Number(n) if !n.is_finite() => reject(field, "numbers must be finite"),
        Value::Text(t) if t.len() > MAX_TEXT_LEN => {
            reject(field, format!("longer than {MAX_TEXT_LEN} bytes"))
        }
        _ => Ok(()),
    }
}

impl Event {
    /// Checks the event; the engine applies only events that pass.
    pub fn validate(&self) -> Result<(), EventError> {
        match self {
            Event::PageView { path, query } => {
                text("path", path)?;
                if !path.starts_with('/') {
                    return reject("path", format!("{path:?} must start with \"/\""));
                }
                if query.len() > MAX_ENTRIES {
                    return reject("query", format!("more than {MAX_ENTRIES} parameters"));
                }
                for (k, v) in query {
                    if k.len() > MAX_TEXT_LEN || v.len() > MAX_TEXT_LEN {
                        return reject("query", format!("longer than {MAX_TEXT_LEN} bytes"));
                    }
                }
                Ok(())
            }
            Event::Download { url } => text("url", url),
            Event::Answer { question, value: v } => {
                text("question", question)?;
                value("value", v)
            }
            Event::FormSubmit { id, name } => {
                if id.as_deref().is_none_or(|s| s.trim().is_empty())
                    && name.as_deref().is_none_or(|s| s.trim().is_empty())
                {
                    return reject("id", "a form submission needs the form's id or name");
                }
                for s in [id, name].into_iter().flatten() {
                    if s.len() > MAX_TEXT_LEN {
                        return reject("id", format!("longer than {MAX_TEXT_LEN} bytes"));
                    }
                }
                Ok(())
            }
            Event::Custom { name, properties } => {
                text("name", name)?;
                if properties.len() > MAX_ENTRIES {
                    return reject("properties", format!("more than {MAX_ENTRIES} properties"));
                }
                for v in properties.values() {
                    value("properties", v)?;
                }
                Ok(())
            }
            Event::Engagement { seconds } => {
                if !seconds.is_finite() || *seconds < 0.0 || *seconds > MAX_ENGAGED_SECONDS {
                    return reject(
                        "seconds",
                        format!(
                            "must be between 0 and {}, got {}",
                            number_text(MAX_ENGAGED_SECONDS),
                            number_text(*seconds)
                        ),
                    );
                }
                Ok(())
            }
        }
    }
}
