//! A parsed JSON document as a plain tree, and reading and writing fields of it by hand.
//!
//! The widget copies the model (a JS object) and its stored record (`JSON.parse`d text) into a
//! [`Tree`] and reads them with small hand-written readers ([`super::reader`],
//! [`crate::engine::State::from_tree`]); it writes its record and payloads the same way. This
//! keeps serde's generated code, `serde_json` and a JS-reflection deserializer out of the wasm.
//! The readers follow serde's rules and messages and are tested against `serde_json`, with two
//! differences that come from JavaScript: a number with an integer value is an integer (`5.0`
//! reads as `5`), and a struct is never read from a list of its fields' values.

use serde::de::{self, Expected, Unexpected};
use std::fmt;

/// A JSON value.
#[derive(Debug, Clone, PartialEq)]
pub enum Tree {
    Null,
    Bool(bool),
    Number(f64),
    Text(String),
    List(Vec<Tree>),
    /// Keys in document order.
    Object(Vec<(String, Tree)>),
}

impl Tree {
    /// The value of `key`, when this is an object that has it.
    pub fn get(&self, key: &str) -> Option<&Tree> {
        match self {
            Tree::Object(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The text, if this is text.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Tree::Text(s) => Some(s),
            _ => None,
        }
    }

    /// The number, if this is one.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Tree::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// The number, if this is an integer that fits a `u32`.
    pub fn as_u32(&self) -> Option<u32> {
        match integer(self.as_f64()?)? {
            Ok(n) => u32::try_from(n).ok(),
            Err(_) => None,
        }
    }

    /// The number, if this is an integer of at most 2^53 in magnitude.
    pub fn as_i64(&self) -> Option<i64> {
        match integer(self.as_f64()?)? {
            Ok(n) => i64::try_from(n).ok(),
            Err(n) => Some(n),
        }
    }

    /// Each item read with `read`, if this is a list and every item reads.
    pub fn list<T>(&self, read: impl Fn(&Tree) -> Option<T>) -> Option<Vec<T>> {
        match self {
            Tree::List(items) => items.iter().map(read).collect(),
            _ => None,
        }
    }
}

/// Building an object by hand, field by field, in the order serde writes them.
#[derive(Debug, Default)]
pub struct ObjectBuilder(Vec<(String, Tree)>);

impl ObjectBuilder {
    /// Adds a field.
    pub fn field(mut self, key: &str, value: Tree) -> ObjectBuilder {
        self.0.push((key.to_string(), value));
        self
    }

    /// Adds a field unless `skip` (serde's `skip_serializing_if`).
    pub fn field_unless(
        self,
        skip: bool,
        key: &str,
        value: impl FnOnce() -> Tree,
    ) -> ObjectBuilder {
        if skip {
            self
        } else {
            self.field(key, value())
        }
    }

    /// The object.
    pub fn build(self) -> Tree {
        Tree::Object(self.0)
    }
}

impl Tree {
    /// Text.
    pub fn text(s: &str) -> Tree {
        Tree::Text(s.to_string())
    }

    /// A number from anything that converts to `f64` (integers up to 2^53 stay exact).
    pub fn number(n: impl Into<f64>) -> Tree {
        Tree::Number(n.into())
    }

    /// An `i64` as a number (milliseconds since the epoch are far below 2^53).
    pub fn int(n: i64) -> Tree {
        Tree::Number(n as f64)
    }

    /// A list of the items, each written with `write`.
    pub fn list_of<T>(items: &[T], write: impl Fn(&T) -> Tree) -> Tree {
        Tree::List(items.iter().map(write).collect())
    }
}

/// Reading the fields of an object by hand, as serde reads them: a required field must be
/// there; a field with a default may be missing; an optional field may be missing or `null`.
/// Each gives `None` when the value has the wrong type.
pub mod field {
    use super::Tree;

    /// A field that must be there.
    pub fn required<T>(object: &Tree, key: &str, read: impl Fn(&Tree) -> Option<T>) -> Option<T> {
        object.get(key).and_then(read)
    }

    /// A field that takes its default when missing.
    pub fn or_default<T: Default>(
        object: &Tree,
        key: &str,
        read: impl Fn(&Tree) -> Option<T>,
    ) -> Option<T> {
        match object.get(key) {
            None => Some(T::default()),
            Some(value) => read(value),
        }
    }

    /// An `Option` field: missing or `null` is `None`.
    pub fn optional<T>(
        object: &Tree,
        key: &str,
        read: impl Fn(&Tree) -> Option<T>,
    ) -> Option<Option<T>> {
        match object.get(key) {
            None | Some(Tree::Null) => Some(None),
            Some(value) => read(value).map(Some),
        }
    }

    /// Text as an owned string.
    pub fn text(value: &Tree) -> Option<String> {
        value.as_str().map(str::to_string)
    }
}

/// Most unknown keys a reader collects.
pub(crate) const MAX_UNKNOWN: usize = 20;

/// Why a document could not be read as the requested type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeError {
    /// Where (`rules[2].points`; empty for the document itself).
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for TreeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for TreeError {}

impl de::Error for TreeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        TreeError {
            path: String::new(),
            message: msg.to_string(),
        }
    }

    // Written out (serde's default formats floats with `Display`, which the widget cannot afford).
    fn invalid_type(unexp: Unexpected<'_>, exp: &dyn Expected) -> Self {
        Self::custom(format_args!(
            "invalid type: {}, expected {exp}",
            unexpected(unexp)
        ))
    }

    fn invalid_value(unexp: Unexpected<'_>, exp: &dyn Expected) -> Self {
        Self::custom(format_args!(
            "invalid value: {}, expected {exp}",
            unexpected(unexp)
        ))
    }
}

/// What serde's `Unexpected` says, in serde's words (floats written by [`super::number_text`]).
fn unexpected(unexp: Unexpected<'_>) -> String {
    let quoted = |what: &str, value: &str| {
        let mut s = String::from(what);
        s.push_str(" `");
        s.push_str(value);
        s.push('`');
        s
    };
    match unexp {
        Unexpected::Bool(b) => quoted("boolean", if b { "true" } else { "false" }),
        Unexpected::Unsigned(n) => quoted("integer", &n.to_string()),
        Unexpected::Signed(n) => quoted("integer", &n.to_string()),
        Unexpected::Float(v) => quoted("floating point", &super::number_text(v)),
        Unexpected::Char(c) => quoted("character", c.encode_utf8(&mut [0; 4])),
        Unexpected::Str(s) => {
            let mut out = String::from("string \"");
            out.push_str(s);
            out.push('"');
            out
        }
        Unexpected::Bytes(_) => "byte array".to_string(),
        Unexpected::Unit => "unit value".to_string(),
        Unexpected::Option => "Option value".to_string(),
        Unexpected::NewtypeStruct => "newtype struct".to_string(),
        Unexpected::Seq => "sequence".to_string(),
        Unexpected::Map => "map".to_string(),
        Unexpected::Enum => "enum".to_string(),
        Unexpected::UnitVariant => "unit variant".to_string(),
        Unexpected::NewtypeVariant => "newtype variant".to_string(),
        Unexpected::TupleVariant => "tuple variant".to_string(),
        Unexpected::StructVariant => "struct variant".to_string(),
        Unexpected::Other(other) => other.to_string(),
    }
}

/// Largest magnitude below which every integer is exactly representable (2^53).
const EXACT_INTEGERS: f64 = 9_007_199_254_740_992.0;

/// A number with an integer value as `Ok(unsigned)` or `Err(negative)`, as `serde_json`
/// reads `5` and `-5`; `None` for fractions and magnitudes beyond 2^53.
pub(crate) fn integer(n: f64) -> Option<Result<u64, i64>> {
    if n.fract() != 0.0 || n.abs() >= EXACT_INTEGERS {
        None
    } else if n >= 0.0 {
        Some(Ok(n as u64))
    } else {
        Some(Err(n as i64))
    }
}

/// The tree of a JSON document, as the widget builds it from the parsed JS object.
#[cfg(all(test, not(target_arch = "wasm32")))]
pub(crate) fn from_json(value: &serde_json::Value) -> Tree {
    match value {
        serde_json::Value::Null => Tree::Null,
        serde_json::Value::Bool(b) => Tree::Bool(*b),
        serde_json::Value::Number(n) => Tree::Number(n.as_f64().unwrap_or(f64::NAN)),
        serde_json::Value::String(s) => Tree::Text(s.clone()),
        serde_json::Value::Array(items) => Tree::List(items.iter().map(from_json).collect()),
        serde_json::Value::Object(entries) => Tree::Object(
            entries
                .iter()
                .map(|(k, v)| (k.clone(), from_json(v)))
                .collect(),
        ),
    }
}
