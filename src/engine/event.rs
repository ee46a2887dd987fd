//! What a visitor does, as the engine sees it.

use crate::bytes::{Reader, Writer};
use crate::model::Entries;
use alloc::string::String;
use serde::{Deserialize, Serialize};

/// Longest path, URL, name or value an event may carry, in bytes.
pub const MAX_TEXT_LEN: usize = 2048;
/// Most query parameters or custom-event properties an event may carry.
pub const MAX_ENTRIES: usize = 64;
/// Longest visible-time increment one event may report, in seconds.
pub const MAX_ENGAGED_SECONDS: f64 = 86_400.0;

/// One thing a visitor did. Text is `String` (events read from JSON), or `&str` borrowed from
/// the bytes of an event the kernel reads ([`Event::from_bytes`]): the engine reads either.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "snake_case",
    deny_unknown_fields,
    bound(
        serialize = "S: Serialize + AsRef<str>",
        deserialize = "S: Deserialize<'de> + AsRef<str>, Entries<S, S>: Deserialize<'de>, Entries<Value<S>, S>: Deserialize<'de>"
    )
)]
pub enum Event<S = String> {
    /// A page was viewed: first load or single-page-app navigation.
    PageView {
        /// URL path, starting with `/`.
        path: S,
        /// Query parameters.
        #[serde(default, skip_serializing_if = "Entries::is_empty")]
        query: Entries<S, S>,
    },
    /// A file was downloaded (the path of the link's URL).
    Download { url: S },
    /// A question was answered (a quiz or form field).
    Answer { question: S, value: Value<S> },
    /// A form was submitted.
    FormSubmit {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<S>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<S>,
    },
    /// A custom event sent by the host page or app (product usage).
    Custom {
        name: S,
        #[serde(default, skip_serializing_if = "Entries::is_empty")]
        properties: Entries<Value<S>, S>,
    },
    /// The page was visible for this many more seconds.
    Engagement { seconds: f64 },
}

/// An answer or property value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value<S = String> {
    Bool(bool),
    Number(f64),
    Text(S),
}

impl<S: AsRef<str>> Value<S> {
    /// The value as a number, if it is one or is text that reads as one.
    pub fn as_number(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(*n),
            Value::Text(t) => parse_number(t.as_ref().trim()),
            Value::Bool(_) => None,
        }
    }

    /// True when the value, without surrounding spaces, equals `text`, ignoring ASCII case.
    pub fn equals_text(&self, text: &str) -> bool {
        match self {
            Value::Text(t) => t.as_ref().trim().eq_ignore_ascii_case(text),
            Value::Bool(b) => text.eq_ignore_ascii_case(if *b { "true" } else { "false" }),
            Value::Number(n) => parse_number(text).is_some_and(|t| t == *n),
        }
    }

    /// The value with its text owned (what visitor state keeps).
    pub fn to_owned_value(&self) -> Value {
        match self {
            Value::Bool(b) => Value::Bool(*b),
            Value::Number(n) => Value::Number(*n),
            Value::Text(t) => Value::Text(String::from(t.as_ref())),
        }
    }
}

/// Largest integer below which every integer is exactly an `f64` (2^53).
const EXACT_INTEGERS: u64 = 1 << 53;

/// Reads a decimal number (`42`, `-0.5`, `+.5`, `1.`, `2.5e3`) as `str::parse::<f64>` reads it;
/// `None` for anything else, and for numbers that are not finite.
///
/// The result is exactly `str::parse`'s for numbers of up to 15 significant digits with an
/// exponent between -22 and 37 (every number a form field or a model carries in practice);
/// beyond that it may differ in the last binary digit. Written by hand because the standard
/// parser's tables are a large part of the widget's size.
pub fn parse_number(text: &str) -> Option<f64> {
    let (negative, rest) = match text.as_bytes().split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, text.as_bytes()),
    };
    let mut bytes = rest.iter().copied().peekable();
    let (mut mantissa, mut exponent, mut digits, mut exact) = (0u64, 0i64, 0usize, true);
    let mut after_point = false;
    while let Some(c) = bytes.peek().copied() {
        match c {
            b'0'..=b'9' => {
                digits += 1;
                let d = u64::from(c - b'0');
                if mantissa < (u64::MAX - 9) / 10 {
                    mantissa = mantissa * 10 + d;
                    exponent -= i64::from(after_point);
                } else {
                    // More digits than a u64 holds: the rest only scale (or round) the value.
                    exact &= d == 0;
                    exponent += i64::from(!after_point);
                }
            }
            b'.' if !after_point => after_point = true,
            _ => break,
        }
        bytes.next();
    }
    if digits == 0 {
        return None;
    }
    if let Some(b'e' | b'E') = bytes.peek() {
        bytes.next();
        let sign = match bytes.peek() {
            Some(b'-') => -1,
            Some(b'+') => 1,
            _ => 0,
        };
        if sign != 0 {
            bytes.next();
        }
        let mut e: i64 = 0;
        let mut e_digits = 0;
        for c in bytes.by_ref() {
            if !c.is_ascii_digit() {
                return None;
            }
            e_digits += 1;
            e = (e * 10 + i64::from(c - b'0')).min(1_000_000);
        }
        if e_digits == 0 {
            return None;
        }
        exponent += if sign < 0 { -e } else { e };
    } else if bytes.len() > 0 {
        return None;
    }
    let value = decimal_to_f64(mantissa, exponent, exact);
    let value = if negative { -value } else { value };
    value.is_finite().then_some(value)
}

/// `mantissa * 10^exponent`, correctly rounded when both fit an `f64` exactly.
fn decimal_to_f64(mut mantissa: u64, mut exponent: i64, exact: bool) -> f64 {
    if mantissa == 0 {
        return 0.0;
    }
    while mantissa % 10 == 0 && exponent < 0 {
        mantissa /= 10;
        exponent += 1;
    }
    if exact && mantissa <= EXACT_INTEGERS {
        // One rounding of exact operands (powers of ten up to 10^22 are exact).
        if let Some(p) = POWERS_OF_TEN
            .get(exponent as usize)
            .filter(|_| exponent >= 0)
        {
            return mantissa as f64 * p;
        }
        if let Some(p) = POWERS_OF_TEN.get(exponent.unsigned_abs() as usize) {
            return mantissa as f64 / p;
        }
        if (23..=37).contains(&exponent) {
            let scaled = 10u64
                .checked_pow((exponent - 22) as u32)
                .and_then(|p| mantissa.checked_mul(p))
                .filter(|m| *m <= EXACT_INTEGERS);
            if let Some(m) = scaled {
                return m as f64 * 1e22;
            }
        }
    }
    // Beyond exact powers of ten: a scale made of exact steps of 10^22 and one smaller power.
    let mut scale = 1.0;
    let mut left = exponent.clamp(-400, 400).unsigned_abs() as usize;
    while left > 22 {
        scale *= 1e22;
        left -= 22;
    }
    scale *= POWERS_OF_TEN.get(left).copied().unwrap_or(1.0);
    if exponent < 0 {
        mantissa as f64 / scale
    } else {
        mantissa as f64 * scale
    }
}

/// 10^0 to 10^22, every one exactly an `f64`.
const POWERS_OF_TEN: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Why an event was rejected: the field at fault and what is wrong with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventError {
    /// The field at fault.
    pub field: &'static str,
    /// What is wrong with it.
    pub message: &'static str,
}

#[cfg(feature = "std")]
impl core::fmt::Display for EventError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

#[cfg(feature = "std")]
impl std::error::Error for EventError {}

fn reject(field: &'static str, message: &'static str) -> Result<(), EventError> {
    Err(EventError { field, message })
}

/// "longer than 2048 bytes", from [`MAX_TEXT_LEN`].
const TOO_LONG: &str = "longer than 2048 bytes";
const _: () = assert!(MAX_TEXT_LEN == 2048 && MAX_ENTRIES == 64);

fn text(field: &'static str, value: &str) -> Result<(), EventError> {
    if value.trim().is_empty() {
        return reject(field, "must not be empty");
    }
    if value.len() > MAX_TEXT_LEN {
        return reject(field, TOO_LONG);
    }
    Ok(())
}

fn value<S: AsRef<str>>(field: &'static str, v: &Value<S>) -> Result<(), EventError> {
    match v {
        Value::Number(n) if !n.is_finite() => reject(field, "numbers must be finite"),
        Value::Text(t) if t.as_ref().len() > MAX_TEXT_LEN => reject(field, TOO_LONG),
        _ => Ok(()),
    }
}

impl<S: AsRef<str>> Event<S> {
    /// Checks the event; the engine applies only events that pass.
    pub fn validate(&self) -> Result<(), EventError> {
        match self {
            Event::PageView { path, query } => {
                let path = path.as_ref();
                text("path", path)?;
                if !path.starts_with('/') {
                    return reject("path", "must start with \"/\"");
                }
                if query.len() > MAX_ENTRIES {
                    return reject("query", "more than 64 parameters");
                }
                for (k, v) in query {
                    if k.as_ref().len() > MAX_TEXT_LEN || v.as_ref().len() > MAX_TEXT_LEN {
                        return reject("query", TOO_LONG);
                    }
                }
                Ok(())
            }
            Event::Download { url } => text("url", url.as_ref()),
            Event::Answer { question, value: v } => {
                text("question", question.as_ref())?;
                value("value", v)
            }
            Event::FormSubmit { id, name } => {
                let blank = |s: &Option<S>| s.as_ref().is_none_or(|s| s.as_ref().trim().is_empty());
                if blank(id) && blank(name) {
                    return reject("id", "a form submission needs the form's id or name");
                }
                for s in [id, name].into_iter().flatten() {
                    if s.as_ref().len() > MAX_TEXT_LEN {
                        return reject("id", TOO_LONG);
                    }
                }
                Ok(())
            }
            Event::Custom { name, properties } => {
                text("name", name.as_ref())?;
                if properties.len() > MAX_ENTRIES {
                    return reject("properties", "more than 64 properties");
                }
                for v in properties.values() {
                    value("properties", v)?;
                }
                Ok(())
            }
            Event::Engagement { seconds } => {
                if !seconds.is_finite() || *seconds < 0.0 || *seconds > MAX_ENGAGED_SECONDS {
                    return reject("seconds", "must be a number between 0 and 86400");
                }
                Ok(())
            }
        }
    }
}

/// Event kinds in the byte form, in the order of [`Event`]'s variants.
const PAGE_VIEW: u8 = 1;
const DOWNLOAD: u8 = 2;
const ANSWER: u8 = 3;
const FORM_SUBMIT: u8 = 4;
const CUSTOM: u8 = 5;
const ENGAGEMENT: u8 = 6;

impl<'a> Event<&'a str> {
    /// Reads an event in the byte form the page adapter writes (`www/shim/event.js` documents the
    /// layout), its text borrowed from `bytes`; `None` for bytes that are not exactly one event.
    /// The event is not validated.
    pub fn from_bytes(bytes: &'a [u8]) -> Option<Event<&'a str>> {
        let mut r = Reader::new(bytes);
        let event = match r.u8() {
            PAGE_VIEW => Event::PageView {
                path: r.text_ref(),
                query: entries(&mut r, |r| r.text_ref()),
            },
            DOWNLOAD => Event::Download { url: r.text_ref() },
            ANSWER => Event::Answer {
                question: r.text_ref(),
                value: read_value(&mut r),
            },
            FORM_SUBMIT => {
                let present = r.u8();
                let id = (present & 1 != 0).then(|| r.text_ref());
                let name = (present & 2 != 0).then(|| r.text_ref());
                if present > 3 {
                    r.fail();
                }
                Event::FormSubmit { id, name }
            }
            CUSTOM => Event::Custom {
                name: r.text_ref(),
                properties: entries(&mut r, read_value),
            },
            ENGAGEMENT => Event::Engagement { seconds: r.f64() },
            _ => return None,
        };
        r.finish().then_some(event)
    }
}

impl<S: AsRef<str>> Event<S> {
    /// The event in the byte form [`Event::from_bytes`] reads (what the page adapter sends).
    pub fn to_bytes(&self) -> alloc::vec::Vec<u8> {
        let mut w = Writer::default();
        let entries = |w: &mut Writer, n: usize| w.u8(n.min(255) as u8);
        match self {
            Event::PageView { path, query } => {
                w.u8(PAGE_VIEW);
                w.text(path.as_ref());
                entries(&mut w, query.len());
                for (k, v) in query.iter().take(255) {
                    w.text(k.as_ref());
                    w.text(v.as_ref());
                }
            }
            Event::Download { url } => {
                w.u8(DOWNLOAD);
                w.text(url.as_ref());
            }
            Event::Answer { question, value } => {
                w.u8(ANSWER);
                w.text(question.as_ref());
                write_value(&mut w, value);
            }
            Event::FormSubmit { id, name } => {
                w.u8(FORM_SUBMIT);
                w.u8(u8::from(id.is_some()) | (u8::from(name.is_some()) << 1));
                for s in [id, name].into_iter().flatten() {
                    w.text(s.as_ref());
                }
            }
            Event::Custom { name, properties } => {
                w.u8(CUSTOM);
                w.text(name.as_ref());
                entries(&mut w, properties.len());
                for (k, v) in properties.iter().take(255) {
                    w.text(k.as_ref());
                    write_value(&mut w, v);
                }
            }
            Event::Engagement { seconds } => {
                w.u8(ENGAGEMENT);
                w.f64(*seconds);
            }
        }
        w.bytes
    }
}

/// A `u8` count, then that many (name, value) pairs.
fn entries<'a, V>(
    r: &mut Reader<'a>,
    mut value: impl FnMut(&mut Reader<'a>) -> V,
) -> Entries<V, &'a str> {
    let n = usize::from(r.u8());
    r.items(n, |r| (r.text_ref(), value(r)))
        .into_iter()
        .collect()
}

fn read_value<'a>(r: &mut Reader<'a>) -> Value<&'a str> {
    match r.u8() {
        0 => Value::Text(r.text_ref()),
        1 => Value::Number(r.f64()),
        2 => Value::Bool(r.bool()),
        _ => {
            r.fail();
            Value::Bool(false)
        }
    }
}

fn write_value<S: AsRef<str>>(w: &mut Writer, v: &Value<S>) {
    match v {
        Value::Text(t) => {
            w.u8(0);
            w.text(t.as_ref());
        }
        Value::Number(n) => {
            w.u8(1);
            w.f64(*n);
        }
        Value::Bool(b) => {
            w.u8(2);
            w.bool(*b);
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::parse_number;
    use proptest::prelude::*;

    fn by_std(text: &str) -> Option<f64> {
        text.parse::<f64>().ok().filter(|n| n.is_finite())
    }

    #[test]
    fn numbers_read_as_std_reads_them() {
        for text in [
            "0",
            "-0",
            "42",
            "+7",
            "-0.5",
            ".5",
            "+.5",
            "1.",
            "2.5e3",
            "1E-2",
            "1e+2",
            "007",
            "0.1",
            "0.3",
            "123456789012345",
            "9007199254740993",
            "1e22",
            "1e23",
            "4.5e30",
            "1e-7",
            "12345678901234567890123",
            "1e400",
            "1e-400",
            "",
            "-",
            ".",
            "e5",
            ".e5",
            "1e",
            "1e+",
            "1.2.3",
            "1,5",
            " 1",
            "0x10",
            "inf",
            "NaN",
            "infinity",
            "1_000",
            "١",
        ] {
            assert_eq!(parse_number(text), by_std(text), "{text:?}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 4096, ..ProptestConfig::default() })]

        #[test]
        fn short_decimals_read_exactly_as_std_reads_them(
            text in "[+-]?[0-9]{0,8}(\\.[0-9]{0,7})?([eE][+-]?[0-9])?",
        ) {
            prop_assert_eq!(parse_number(&text), by_std(&text), "{:?}", text);
        }

        #[test]
        fn any_text_is_accepted_as_std_accepts_it(text in "[-+0-9.eE]{0,30}") {
            let (ours, std) = (parse_number(&text), by_std(&text));
            prop_assert_eq!(ours.is_some(), std.is_some(), "{:?}", text);
            if let (Some(a), Some(b)) = (ours, std) {
                prop_assert!(a == b || ((a - b) / b).abs() < 1e-15, "{:?}: {} vs {}", text, a, b);
            }
        }
    }
}
