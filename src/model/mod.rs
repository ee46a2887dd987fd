//! The scoring model as data: serde types, the JSON Schema, validation with exact error paths,
//! and the compiled binary form the browser reads.
//!
//! A [`Model`] is what a marketer edits; a [`ValidModel`] is a model that passed `validate` (at
//! compile time, natively), with its [`Compiled`] form: what the engine runs on, borrowing texts
//! and lists from the compiled bytes. The browser's kernel never validates and holds only the
//! [`Compiled`] form of a model that `leadscore build` validated and compiled ([`binary`]).

pub mod binary;
mod compiled;
pub mod pattern;
mod types;
#[cfg(feature = "std")]
mod validate;

#[cfg(feature = "std")]
use alloc::{string::String, vec::Vec};
pub use compiled::{
    Compiled, Cond, Item, Items, List, QueryCond, RuleGroup, RuleView, TierView, When,
};
pub use types::*;
#[cfg(feature = "std")]
pub use validate::{reachable_max, validate, warnings, ModelError, ModelErrors};

/// The tier of a visitor who qualifies for none of the model's tiers.
pub const UNQUALIFIED: &str = "unqualified";
/// Highest `at_least` a `distinct_pages` condition may ask for (the state remembers 64 pages).
pub const MAX_DISTINCT_PAGES: u32 = 64;
/// Highest per-window count (the state keeps one timestamp per firing in the window).
pub const MAX_WINDOW_TIMES: u32 = 100;
/// Most conditions in one `all` or `any`.
pub const MAX_PARTS: usize = 16;
/// Most distinct questions the answer conditions of `all` and `any` rules may name: the state
/// keeps the current answer to each of them.
pub const MAX_COMPOUND_QUESTIONS: usize = 64;

/// A rule id's 32-bit FNV-1a hash: what visitor state keeps of the id (the validator refuses
/// two ids of one model with the same hash).
pub fn id_hash(id: &str) -> u32 {
    crate::bytes::fnv1a32(id.as_bytes())
}

/// A model that passed validation, with its compiled form: what the engine runs on (through
/// `Deref`, a `&ValidModel` is a `&Compiled`).
#[derive(Debug, Clone, PartialEq)]
pub struct ValidModel {
    model: Model,
    compiled: Compiled,
}

impl core::ops::Deref for ValidModel {
    type Target = Compiled;

    fn deref(&self) -> &Compiled {
        &self.compiled
    }
}

impl ValidModel {
    /// Validates `model`; on failure returns every problem with its path.
    #[cfg(feature = "std")]
    pub fn new(mut model: Model) -> Result<ValidModel, ModelErrors> {
        validate(&model)?;
        normalize(&mut model);
        ValidModel::compiled_from(model).map_err(|e| {
            ModelErrors(vec![ModelError {
                path: String::new(),
                message: e.to_string(),
            }])
        })
    }

    /// Compiles a model that is valid and normalised (validated here, or read back from its
    /// compiled form), without a page section.
    #[cfg(feature = "std")]
    pub(crate) fn compiled_from(model: Model) -> Result<ValidModel, binary::WriteError> {
        let bytes = binary::compile(&model, "")?;
        let compiled = Compiled::read(bytes.into())
            .map_err(|_| binary::WriteError("the compiled form does not read back"))?;
        Ok(ValidModel { model, compiled })
    }

    /// Parses and validates a model from JSON text.
    ///
    /// Structural problems (unknown fields, wrong types) are reported for every rule and tier at
    /// once; the checks of [`validate`] run when the structure is sound.
    #[cfg(feature = "json")]
    pub fn from_json(text: &str) -> Result<ValidModel, ModelErrors> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            ModelErrors(vec![ModelError {
                path: String::new(),
                message: format!("not valid JSON: {e}"),
            }])
        })?;
        match serde_path_to_error::deserialize::<_, Model>(&value) {
            Ok(model) => ValidModel::new(model),
            Err(first) => Err(structural_errors(&value).unwrap_or_else(|| parse_error(first))),
        }
    }

    /// The model document.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The rules, in model order.
    pub fn rules(&self) -> &[Rule] {
        &self.model.rules
    }

    /// The compiled form (what the engine runs on).
    pub fn compiled(&self) -> &Compiled {
        &self.compiled
    }
}

/// Trims the names and values that matchers compare with, so the engine compares them as they are.
#[cfg(feature = "std")]
fn normalize(model: &mut Model) {
    fn trim(s: &mut String) {
        if s.trim().len() != s.len() {
            *s = s.trim().to_string();
        }
    }
    fn trim_all(equals: &mut Option<String>, one_of: &mut Option<Vec<String>>) {
        equals.iter_mut().for_each(trim);
        one_of.iter_mut().flatten().for_each(trim);
    }
    fn matcher(m: &mut Matcher) {
        match m {
            Matcher::Answer {
                question,
                equals,
                one_of,
                ..
            } => {
                trim(question);
                trim_all(equals, one_of);
            }
            Matcher::Form { id, name } => {
                id.iter_mut().for_each(trim);
                name.iter_mut().for_each(trim);
            }
            Matcher::Event { name, properties } => {
                trim(name);
                for c in properties.values_mut() {
                    trim_all(&mut c.equals, &mut c.one_of);
                }
            }
            Matcher::All(parts) | Matcher::Any(parts) => parts.iter_mut().for_each(matcher),
            _ => {}
        }
    }
    for rule in &mut model.rules {
        matcher(&mut rule.when);
    }
}

/// Turns a deserialisation error into a [`ModelError`] that names the path.
#[cfg(feature = "json")]
pub fn parse_error<E: std::fmt::Display>(e: serde_path_to_error::Error<E>) -> ModelErrors {
    let path = e.path().to_string();
    ModelErrors(vec![ModelError {
        path: if path == "." { String::new() } else { path },
        message: e.into_inner().to_string(),
    }])
}

/// Deserialises each rule and tier on its own so that every structural problem is reported,
/// not only the first. Returns `None` when no element-level problem was found.
#[cfg(feature = "json")]
fn structural_errors(value: &serde_json::Value) -> Option<ModelErrors> {
    fn each<T: serde::de::DeserializeOwned>(
        value: &serde_json::Value,
        key: &str,
        errors: &mut Vec<ModelError>,
    ) {
        let Some(items) = value.get(key).and_then(|v| v.as_array()) else {
            return;
        };
        for (i, item) in items.iter().enumerate() {
            if let Err(e) = serde_path_to_error::deserialize::<_, T>(item) {
                let inner = e.path().to_string();
                let path = if inner == "." {
                    format!("{key}[{i}]")
                } else {
                    format!("{key}[{i}].{inner}")
                };
                errors.push(ModelError {
                    path,
                    message: e.into_inner().to_string(),
                });
            }
        }
    }
    let mut errors = Vec::new();
    // The top level with the lists emptied shows problems outside rules and tiers.
    let mut top = value.clone();
    if let Some(obj) = top.as_object_mut() {
        for key in ["rules", "tiers"] {
            if obj.get(key).is_some_and(|v| v.is_array()) {
                obj.insert(key.to_string(), serde_json::Value::Array(Vec::new()));
            }
        }
    }
    if let Err(e) = serde_path_to_error::deserialize::<_, Model>(&top) {
        errors.push(parse_error(e).0.into_iter().next()?);
    }
    each::<Rule>(value, "rules", &mut errors);
    each::<Tier>(value, "tiers", &mut errors);
    (!errors.is_empty()).then_some(ModelErrors(errors))
}

/// FNV-1a over a sequence of strings (stable across platforms and builds).
pub fn fingerprint<'a>(parts: impl Iterator<Item = &'a str>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.bytes().chain(core::iter::once(0u8)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// The JSON Schema of the model format.
#[cfg(feature = "schema")]
pub fn json_schema() -> schemars::Schema {
    schemars::schema_for!(Model)
}

/// Largest integer below which every integer is exactly an `f64` (2^53).
#[cfg(feature = "std")]
const EXACT_INTEGERS: f64 = 9_007_199_254_740_992.0;

/// A number as messages show it: what `f64`'s `Display` writes (`50`, `-1`, `0.25`, `NaN`,
/// `inf`) for integers below 2^53 and for numbers of up to 15 significant digits and 17
/// decimals. Integers up to 10^19 are written exactly (`Display` rounds their last digits);
/// other numbers with at most 15 significant digits, beyond 10^19 or below 10^-17 with an
/// exponent (`1.5e300`).
#[cfg(feature = "std")]
pub fn number_text(v: f64) -> String {
    if v.is_nan() {
        return "NaN".to_string();
    }
    let mut out = String::new();
    if v.is_sign_negative() {
        out.push('-');
    }
    let a = v.abs();
    if a.is_infinite() {
        out.push_str("inf");
        return out;
    }
    if a < 1e19 && a.fract() == 0.0 {
        push_decimal(&mut out, a as u64, 0);
        return out;
    }
    // The fewest decimals that read back as the same number.
    let mut scale = 1.0;
    for decimals in 1..=17 {
        scale *= 10.0;
        let digits = (a * scale).round();
        if digits >= EXACT_INTEGERS {
            break;
        }
        if digits / scale == a {
            push_decimal(&mut out, digits as u64, decimals);
            return out;
        }
    }
    let (mut m, mut exponent) = (a, 0i32);
    while m >= 10.0 {
        m /= 10.0;
        exponent += 1;
    }
    while m < 1.0 {
        m *= 10.0;
        exponent -= 1;
    }
    push_decimal(&mut out, (m * 1e14).round() as u64, 14);
    while out.ends_with('0') {
        out.pop();
    }
    if out.ends_with('.') {
        out.pop();
    }
    out.push('e');
    if exponent < 0 {
        out.push('-');
    }
    push_decimal(&mut out, u64::from(exponent.unsigned_abs()), 0);
    out
}

/// Writes `digits` with a decimal point before the last `decimals` of them.
#[cfg(feature = "std")]
fn push_decimal(out: &mut String, mut digits: u64, decimals: usize) {
    let mut text = Vec::new();
    while digits > 0 || text.len() <= decimals {
        text.push(b'0' + (digits % 10) as u8);
        digits /= 10;
    }
    for (i, d) in text.iter().enumerate().rev() {
        out.push(char::from(*d));
        if i == decimals && decimals > 0 {
            out.push('.');
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::number_text;
    use proptest::prelude::*;

    #[test]
    fn numbers_are_written_as_display_writes_them() {
        for v in [
            0.0,
            -0.0,
            1.0,
            -1.0,
            50.0,
            21.0,
            0.5,
            0.1,
            0.3,
            2.25,
            -12.3,
            1e-10,
            1e15,
            123456.789,
            1.0 / 3.0,
            1e18,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ] {
            assert_eq!(number_text(v), v.to_string(), "{v}");
        }
        assert_eq!(number_text(1.5e300), "1.5e300");
        assert_eq!(number_text(-2.5e-30), "-2.5e-30");
    }

    proptest! {
        #[test]
        fn decimals_are_written_as_display_writes_them(m in -1_000_000_000_000i64..1_000_000_000_000, k in 0u32..7) {
            let v = m as f64 / 10f64.powi(k as i32);
            prop_assert_eq!(number_text(v), v.to_string());
        }

        #[test]
        fn integers_are_written_as_display_writes_them(v in -9e15f64..9e15) {
            let v = v.trunc();
            prop_assert_eq!(number_text(v), v.to_string());
        }
    }
}
