//! The compiled model: the compact, versioned, checksummed binary form that `leadscore build`
//! writes and the browser's scoring kernel reads.
//!
//! Compiling happens natively, after validation; reading checks only that the bytes are intact
//! and in bounds, so the kernel carries no JSON reader, no validator and no error messages.
//! Descriptions, evidence and the `$schema` hint are left out: the engine never reads them.
//!
//! # Layout
//!
//! All numbers little-endian. Text is a `u16` byte length and UTF-8; a list is a `u16` count
//! and its items; an optional value is a flag byte (0 or 1) and the value when the flag is 1.
//!
//! ```text
//! header    magic "LSCM" · format u16 (= FORMAT) · reserved u16 (= 0)
//!           · body length u32 · FNV-1a 32 of the body u32
//! body      page (u32 byte length, UTF-8 JSON: what the page adapter needs, see [`page`])
//!           · id text · model_version text · session_timeout_minutes optional f64
//!           · allow_demotion u8 · calibration optional (intercept f64, slope f64)
//!           · limits: fit, engagement, intent, product, total, each optional (min optional f64,
//!             max optional f64)
//!           · rules list · tiers list
//! rule      id text · matcher · dimension u8 (0 fit, 1 engagement, 2 intent, 3 product)
//!           · points i32 · frequency · decay
//! matcher   kind u8, then
//!           0 page: path text, query list of (name text, query condition)
//!           1 download: url optional text, extensions list of text
//!           2 answer: question text, condition
//!           3 form: id optional text, name optional text
//!           4 event: name text, properties list of (name text, condition)
//!           5 visits: at_least u32 · 6 distinct_pages: at_least u32
//!           7 page_views: path text, at_least u32 · 8 time_on_site: seconds u32
//!           9 return_visit: within_days f64
//!           10 all: list of matcher · 11 any: list of matcher (their matchers are of kinds
//!           0 to 9: a compound matcher inside another one is malformed)
//! query condition u8: 0 equals (value text) · 1 absent (u8 0 or 1) · 2 other_than (list of text)
//! condition equals optional text · one_of optional list of text · min optional f64
//!           · max optional f64
//! frequency u8: 0 once · 1 every_time · 2 at_most (u32) · 3 at_most_per_window (times u32, days f64)
//! decay     u8: 0 never · 1 half_life_days (f64) · 2 expires_after_days (f64)
//! tier      name text · min thresholds · max thresholds · requires list of rule index u16
//! thresholds fit, engagement, intent, product, total: each optional f64
//! ```

use super::{
    Bounds, Calibration, Condition, Decay, Dimension, Entries, Frequency, Limits, Matcher, Model,
    QueryCondition, QueryTest, Rule, Thresholds, Tier, ValidModel, FORMAT_VERSION,
};
use crate::bytes::{fnv1a32, Reader};
use alloc::string::String;
use alloc::vec::Vec;

/// The first four bytes of every compiled model.
pub const MAGIC: [u8; 4] = *b"LSCM";
/// The version of the layout this build writes and reads (2: compound matchers and query
/// conditions; 3: the page section. Older formats are refused, to be rebuilt).
pub const FORMAT: u16 = 3;
/// Bytes before the body.
pub const HEADER_LEN: usize = 16;

/// Why compiled bytes cannot be loaded. The kernel hands the number to the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadError {
    /// Not a compiled leadscore model (the magic bytes differ).
    NotAModel = 1,
    /// Compiled for another format version.
    Version = 2,
    /// Damaged: the length or the checksum does not match.
    Damaged = 3,
    /// Intact but with a value out of bounds (an unknown kind, a rule index past the end).
    Malformed = 4,
}

#[cfg(feature = "std")]
impl core::fmt::Display for LoadError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            LoadError::NotAModel => "not a compiled leadscore model",
            LoadError::Version => {
                "compiled for another format version; rebuild it with this version of leadscore"
            }
            LoadError::Damaged => "damaged (its length or checksum does not match)",
            LoadError::Malformed => "malformed (a value is out of bounds)",
        })
    }
}

#[cfg(feature = "std")]
impl std::error::Error for LoadError {}

/// Reads a compiled model: checks magic, format, length and checksum, then every value's
/// bounds. Never panics, whatever the bytes.
pub fn read(bytes: &[u8]) -> Result<ValidModel, LoadError> {
    read_with_page(bytes).map(|(model, _)| model)
}

/// [`read`], and the model's page section (the JSON text [`page`] wrote).
pub fn read_with_page(bytes: &[u8]) -> Result<(ValidModel, &[u8]), LoadError> {
    let mut header = Reader::new(bytes);
    if header.take(4) != MAGIC {
        return Err(LoadError::NotAModel);
    }
    if bytes.len() < HEADER_LEN {
        return Err(LoadError::Damaged);
    }
    if header.u16() != FORMAT {
        return Err(LoadError::Version);
    }
    let (reserved, len, sum) = (header.u16(), header.u32(), header.u32());
    let body = bytes.get(HEADER_LEN..).unwrap_or_default();
    if reserved != 0 || body.len() != len as usize || fnv1a32(body) != sum {
        return Err(LoadError::Damaged);
    }
    let mut r = Reader::new(body);
    let page_len = r.u32() as usize;
    let page = r.take(page_len);
    let model = body_model(&mut r);
    if !r.finish() {
        return Err(LoadError::Malformed);
    }
    Ok((ValidModel::index(model), page))
}

fn body_model(r: &mut Reader<'_>) -> Model {
    let id = r.text();
    let model_version = r.text();
    let session_timeout_minutes = r.optional(Reader::f64);
    let allow_demotion = r.bool();
    let calibration = r.optional(|r| Calibration {
        intercept: r.f64(),
        slope: r.f64(),
    });
    let bounds = |r: &mut Reader<'_>| {
        r.optional(|r| Bounds {
            min: r.optional(Reader::f64),
            max: r.optional(Reader::f64),
        })
    };
    let limits = Limits {
        fit: bounds(r),
        engagement: bounds(r),
        intent: bounds(r),
        product: bounds(r),
        total: bounds(r),
    };
    let rules = r.list(rule);
    let tiers: Vec<Tier> = r.list(|r| tier(r, &rules));
    if tiers.len() > MAX_TIERS {
        r.fail();
    }
    Model {
        #[cfg(feature = "std")]
        schema: None,
        version: FORMAT_VERSION,
        id,
        model_version,
        #[cfg(feature = "std")]
        description: None,
        session_timeout_minutes,
        rules,
        limits,
        tiers,
        allow_demotion,
        calibration,
        #[cfg(feature = "std")]
        training: None,
    }
}

fn rule(r: &mut Reader<'_>) -> Rule {
    let id = r.text();
    let when = matcher(r, true);
    let dimension = match Dimension::ALL.get(usize::from(r.u8())) {
        Some(d) => *d,
        None => {
            r.fail();
            Dimension::Fit
        }
    };
    let points = r.i32();
    let frequency = match r.u8() {
        0 => Frequency::Once,
        1 => Frequency::EveryTime,
        2 => Frequency::AtMost(r.u32()),
        3 => Frequency::AtMostPerWindow {
            times: r.u32(),
            days: r.f64(),
        },
        _ => {
            r.fail();
            Frequency::Once
        }
    };
    let decay = match r.u8() {
        0 => Decay::Never,
        1 => Decay::HalfLifeDays(r.f64()),
        2 => Decay::ExpiresAfterDays(r.f64()),
        _ => {
            r.fail();
            Decay::Never
        }
    };
    Rule {
        id,
        #[cfg(feature = "std")]
        description: None,
        when,
        dimension,
        points,
        frequency,
        decay,
        #[cfg(feature = "std")]
        evidence: None,
    }
}

fn texts(r: &mut Reader<'_>) -> Vec<String> {
    r.list(Reader::text)
}

fn condition(r: &mut Reader<'_>) -> Condition {
    Condition {
        equals: r.optional(Reader::text),
        one_of: r.optional(texts),
        min: r.optional(Reader::f64),
        max: r.optional(Reader::f64),
    }
}

fn query_condition(r: &mut Reader<'_>) -> QueryCondition {
    match r.u8() {
        0 => QueryCondition::Equals(r.text()),
        1 => QueryCondition::Test(QueryTest::Absent(r.bool())),
        2 => QueryCondition::Test(QueryTest::OtherThan(texts(r))),
        _ => {
            r.fail();
            QueryCondition::Test(QueryTest::Absent(false))
        }
    }
}

/// Reads a matcher; a compound one (`all`, `any`) only when `compound` allows it, so the
/// reader never recurses more than once.
fn matcher(r: &mut Reader<'_>, compound: bool) -> Matcher {
    match r.u8() {
        0 => Matcher::Page {
            path: r.text(),
            query: r
                .list(|r| (r.text(), query_condition(r)))
                .into_iter()
                .collect(),
        },
        1 => Matcher::Download {
            url: r.optional(Reader::text),
            extensions: texts(r),
        },
        2 => {
            let question = r.text();
            let c = condition(r);
            Matcher::Answer {
                question,
                equals: c.equals,
                one_of: c.one_of,
                min: c.min,
                max: c.max,
            }
        }
        3 => Matcher::Form {
            id: r.optional(Reader::text),
            name: r.optional(Reader::text),
        },
        4 => Matcher::Event {
            name: r.text(),
            properties: r
                .list(|r| (r.text(), condition(r)))
                .into_iter()
                .collect::<Entries<Condition>>(),
        },
        5 => Matcher::Visits { at_least: r.u32() },
        6 => Matcher::DistinctPages { at_least: r.u32() },
        7 => Matcher::PageViews {
            path: r.text(),
            at_least: r.u32(),
        },
        8 => Matcher::TimeOnSite {
            at_least_seconds: r.u32(),
        },
        9 => Matcher::ReturnVisit {
            within_days: r.f64(),
        },
        10 if compound => Matcher::All(r.list(|r| matcher(r, false))),
        11 if compound => Matcher::Any(r.list(|r| matcher(r, false))),
        _ => {
            r.fail();
            Matcher::Visits { at_least: 0 }
        }
    }
}

fn thresholds(r: &mut Reader<'_>) -> Thresholds {
    Thresholds {
        fit: r.optional(Reader::f64),
        engagement: r.optional(Reader::f64),
        intent: r.optional(Reader::f64),
        product: r.optional(Reader::f64),
        total: r.optional(Reader::f64),
    }
}

fn tier(r: &mut Reader<'_>, rules: &[Rule]) -> Tier {
    let name = r.text();
    let min = thresholds(r);
    let max = thresholds(r);
    let requires = r.list(|r| match rules.get(usize::from(r.u16())) {
        Some(rule) => rule.id.clone(),
        None => {
            r.fail();
            String::new()
        }
    });
    Tier {
        name,
        min,
        max,
        requires,
        #[cfg(feature = "std")]
        evidence: None,
    }
}

/// Most tiers a compiled model may have: the kernel reports a tier change as two tier numbers
/// of eight bits each.
pub const MAX_TIERS: usize = 255;

/// Why a valid model cannot be compiled: a part too large for the compiled layout.
#[cfg(feature = "std")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteError(pub &'static str);

#[cfg(feature = "std")]
impl core::fmt::Display for WriteError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.0)
    }
}

#[cfg(feature = "std")]
impl std::error::Error for WriteError {}

/// Compiles a validated model to its binary form (native only: the browser never compiles).
/// Fails, rather than cut anything, when a text is longer than 65,535 bytes, a list has more
/// than 65,535 items or there are more than [`MAX_TIERS`] tiers.
#[cfg(feature = "json")]
pub fn write(model: &ValidModel) -> Result<Vec<u8>, WriteError> {
    use crate::bytes::Writer;

    fn texts(w: &mut Writer, list: &[String]) {
        w.list(list.iter(), |w, s| w.text(s));
    }
    fn condition(
        w: &mut Writer,
        equals: &Option<String>,
        one_of: &Option<Vec<String>>,
        min: Option<f64>,
        max: Option<f64>,
    ) {
        w.optional(equals.as_deref(), Writer::text);
        w.optional(one_of.as_deref(), texts);
        w.optional(min, Writer::f64);
        w.optional(max, Writer::f64);
    }
    fn thresholds(w: &mut Writer, t: &Thresholds) {
        for v in [t.fit, t.engagement, t.intent, t.product, t.total] {
            w.optional(v, Writer::f64);
        }
    }
    fn matcher(w: &mut Writer, m: &Matcher) {
        match m {
            Matcher::Page { path, query } => {
                w.u8(0);
                w.text(path);
                let pairs: Vec<_> = query.iter().collect();
                w.list(pairs.iter(), |w, (k, v)| {
                    w.text(k);
                    match v {
                        QueryCondition::Equals(value) => {
                            w.u8(0);
                            w.text(value);
                        }
                        QueryCondition::Test(QueryTest::Absent(absent)) => {
                            w.u8(1);
                            w.bool(*absent);
                        }
                        QueryCondition::Test(QueryTest::OtherThan(list)) => {
                            w.u8(2);
                            texts(w, list);
                        }
                    }
                });
            }
            Matcher::Download { url, extensions } => {
                w.u8(1);
                w.optional(url.as_deref(), Writer::text);
                texts(w, extensions);
            }
            Matcher::Answer {
                question,
                equals,
                one_of,
                min,
                max,
            } => {
                w.u8(2);
                w.text(question);
                condition(w, equals, one_of, *min, *max);
            }
            Matcher::Form { id, name } => {
                w.u8(3);
                w.optional(id.as_deref(), Writer::text);
                w.optional(name.as_deref(), Writer::text);
            }
            Matcher::Event { name, properties } => {
                w.u8(4);
                w.text(name);
                let pairs: Vec<_> = properties.iter().collect();
                w.list(pairs.iter(), |w, (k, c)| {
                    w.text(k);
                    condition(w, &c.equals, &c.one_of, c.min, c.max);
                });
            }
            Matcher::Visits { at_least } => {
                w.u8(5);
                w.u32(*at_least);
            }
            Matcher::DistinctPages { at_least } => {
                w.u8(6);
                w.u32(*at_least);
            }
            Matcher::PageViews { path, at_least } => {
                w.u8(7);
                w.text(path);
                w.u32(*at_least);
            }
            Matcher::TimeOnSite { at_least_seconds } => {
                w.u8(8);
                w.u32(*at_least_seconds);
            }
            Matcher::ReturnVisit { within_days } => {
                w.u8(9);
                w.f64(*within_days);
            }
            Matcher::All(parts) => {
                w.u8(10);
                w.list(parts.iter(), matcher);
            }
            Matcher::Any(parts) => {
                w.u8(11);
                w.list(parts.iter(), matcher);
            }
        }
    }

    let m = model.model();
    let mut w = Writer::default();
    let page = page(model);
    w.u32(page.len() as u32);
    w.bytes.extend_from_slice(page.as_bytes());
    w.text(&m.id);
    w.text(&m.model_version);
    w.optional(m.session_timeout_minutes, Writer::f64);
    w.bool(m.allow_demotion);
    w.optional(m.calibration, |w, c| {
        w.f64(c.intercept);
        w.f64(c.slope);
    });
    let l = &m.limits;
    for b in [l.fit, l.engagement, l.intent, l.product, l.total] {
        w.optional(b, |w, b| {
            w.optional(b.min, Writer::f64);
            w.optional(b.max, Writer::f64);
        });
    }
    w.list(m.rules.iter(), |w, rule| {
        w.text(&rule.id);
        matcher(w, &rule.when);
        w.u8(rule.dimension.index() as u8);
        w.i32(rule.points);
        match rule.frequency {
            Frequency::Once => w.u8(0),
            Frequency::EveryTime => w.u8(1),
            Frequency::AtMost(n) => {
                w.u8(2);
                w.u32(n);
            }
            Frequency::AtMostPerWindow { times, days } => {
                w.u8(3);
                w.u32(times);
                w.f64(days);
            }
        }
        match rule.decay {
            Decay::Never => w.u8(0),
            Decay::HalfLifeDays(d) => {
                w.u8(1);
                w.f64(d);
            }
            Decay::ExpiresAfterDays(d) => {
                w.u8(2);
                w.f64(d);
            }
        }
    });
    let tiers: Vec<(usize, &Tier)> = m.tiers.iter().enumerate().collect();
    w.list(tiers.iter(), |w, (i, tier)| {
        w.text(&tier.name);
        thresholds(w, &tier.min);
        thresholds(w, &tier.max);
        let requires = model.tier_requires(*i);
        w.list(requires.iter(), |w, &r| w.u16(r as u16));
    });

    if w.overflow {
        return Err(WriteError(
            "a text longer than 65,535 bytes or a list of more than 65,535 items does not fit the compiled form",
        ));
    }
    if m.tiers.len() > MAX_TIERS {
        return Err(WriteError(
            "more than 255 tiers do not fit the compiled form",
        ));
    }
    let body = w.bytes;
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&FORMAT.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&fnv1a32(&body).to_le_bytes());
    out.extend_from_slice(&body);
    Ok(out)
}

/// The page section: what the page adapter needs to know of a model, as JSON text written at
/// compile time, so that the kernel never writes JSON:
/// `{"id", "version", "tiers": [names], "rules": [ids], "questions": [answer questions],
/// "query": [query parameters that page rules test]}`. `questions` and `query` include those
/// that the parts of `all` and `any` rules test, each once, in model order.
#[cfg(feature = "json")]
pub fn page(model: &ValidModel) -> String {
    fn watch<'m>(when: &'m Matcher, questions: &mut Vec<&'m str>, query: &mut Vec<&'m str>) {
        match when {
            Matcher::Answer { question, .. } if !questions.contains(&question.as_str()) => {
                questions.push(question)
            }
            Matcher::Page { query: q, .. } => {
                for key in q.keys() {
                    if !query.contains(&key.as_str()) {
                        query.push(key);
                    }
                }
            }
            Matcher::All(parts) | Matcher::Any(parts) => {
                for part in parts {
                    watch(part, questions, query);
                }
            }
            _ => {}
        }
    }
    let m = model.model();
    let (mut questions, mut query) = (Vec::new(), Vec::new());
    for rule in &m.rules {
        watch(&rule.when, &mut questions, &mut query);
    }
    serde_json::json!({
        "id": m.id,
        "version": m.model_version,
        "tiers": m.tiers.iter().map(|t| &t.name).collect::<Vec<_>>(),
        "rules": m.rules.iter().map(|r| &r.id).collect::<Vec<_>>(),
        "questions": questions,
        "query": query,
    })
    .to_string()
}

#[cfg(all(test, not(target_arch = "wasm32")))]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn example(name: &str) -> ValidModel {
        let path = format!("www/models/{name}.json");
        ValidModel::from_json(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    /// What the compiled form keeps: everything the engine reads.
    fn without_notes(model: &ValidModel) -> Model {
        let mut m = model.model().clone();
        m.schema = None;
        m.description = None;
        m.training = None;
        for rule in &mut m.rules {
            rule.description = None;
            rule.evidence = None;
        }
        m
    }

    #[test]
    fn examples_round_trip_and_every_damage_is_refused() {
        for name in ["saas", "wholesale"] {
            let model = example(name);
            let bytes = write(&model).unwrap();
            let back = read(&bytes).unwrap();
            assert_eq!(back.model(), &without_notes(&model), "{name}");
            assert_eq!(back.rule_key(), model.rule_key());
            for n in 0..bytes.len() {
                assert!(read(&bytes[..n]).is_err(), "{name}: {n} bytes");
            }
            for i in HEADER_LEN..bytes.len() {
                let mut flipped = bytes.clone();
                flipped[i] ^= 1;
                assert_eq!(
                    read(&flipped).err(),
                    Some(LoadError::Damaged),
                    "{name}: byte {i}"
                );
            }
        }
        assert_eq!(read(b"LSCM").err(), Some(LoadError::Damaged));
        assert_eq!(read(b"{\"version\": 1}").err(), Some(LoadError::NotAModel));
    }

    #[test]
    fn the_page_section_lists_what_the_page_must_watch() {
        let model = example("saas");
        let bytes = write(&model).unwrap();
        let (_, page_bytes) = read_with_page(&bytes).unwrap();
        assert_eq!(page_bytes, page(&model).as_bytes());
        let p: serde_json::Value = serde_json::from_slice(page_bytes).unwrap();
        let m = model.model();
        assert_eq!(p["id"], m.id.as_str());
        assert_eq!(p["version"], m.model_version.as_str());
        let ids: Vec<&str> = m.rules.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(p["rules"], serde_json::json!(ids));
        let tiers: Vec<&str> = m.tiers.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(p["tiers"], serde_json::json!(tiers));
        assert!(p["questions"].as_array().unwrap().contains(&"role".into()));

        // Parts of compound rules count, each question or parameter once.
        let compound = ValidModel::from_json(
            r#"{ "version": 1, "id": "c", "model_version": "1", "rules": [
              { "id": "a", "when": { "answer": { "question": "role", "equals": "cto" } },
                "dimension": "fit", "points": 5 },
              { "id": "b", "when": { "all": [
                  { "answer": { "question": "seats", "min": 200 } },
                  { "answer": { "question": "role", "equals": "cto" } },
                  { "page": { "path": "/pricing", "query": { "utm_medium": "cpc" } } } ] },
                "dimension": "fit", "points": 30 } ],
              "tiers": [ { "name": "SQL", "min": { "total": 30 } } ] }"#,
        )
        .unwrap();
        let p: serde_json::Value = serde_json::from_str(&page(&compound)).unwrap();
        assert_eq!(p["questions"], serde_json::json!(["role", "seats"]));
        assert_eq!(p["query"], serde_json::json!(["utm_medium"]));
    }

    #[test]
    fn what_does_not_fit_the_layout_is_refused_not_cut() {
        let mut m = example("saas").model().clone();
        let tier = m.tiers[0].clone();
        m.tiers = (0..300)
            .map(|i| Tier {
                name: format!("T{i}"),
                ..tier.clone()
            })
            .collect();
        // Refused by the validator, or else by the compiler; never compiled with a cut.
        match ValidModel::new(m) {
            Ok(many_tiers) => assert!(write(&many_tiers).unwrap_err().0.contains("255 tiers")),
            Err(e) => assert!(e.to_string().contains("tiers"), "{e}"),
        }
        let mut m = example("saas").model().clone();
        m.rules[0].when = Matcher::Answer {
            question: "role".into(),
            equals: None,
            one_of: Some((0..70_000).map(|i| format!("v{i}")).collect()),
            min: None,
            max: None,
        };
        match ValidModel::new(m) {
            Ok(long_list) => assert!(write(&long_list).unwrap_err().0.contains("65,535")),
            Err(e) => assert!(e.to_string().contains("one_of"), "{e}"),
        }
    }
}
