//! The compiled model: the compact, versioned, checksummed binary form that `leadscore build`
//! writes and the engine runs on, in place ([`Compiled`](super::Compiled)), natively and in the
//! browser's scoring kernel.
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

#[cfg(feature = "std")]
use super::{
    Compiled, Cond, Condition, Decay, Entries, Frequency, List, Matcher, Model, QueryCond,
    QueryCondition, QueryTest, Rule, Thresholds, Tier, ValidModel, When, FORMAT_VERSION,
};
#[cfg(feature = "std")]
use crate::bytes::fnv1a32;
#[cfg(feature = "std")]
use alloc::{string::String, vec::Vec};

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

/// Reads a compiled model back into a model document, checked as [`Compiled::read`] checks it
/// (native tools and tests; the engine itself runs on the [`Compiled`] form). Never panics,
/// whatever the bytes.
#[cfg(feature = "std")]
pub fn read(bytes: &[u8]) -> Result<ValidModel, LoadError> {
    let compiled = Compiled::read(bytes.into())?;
    ValidModel::compiled_from(document(&compiled)).map_err(|_| LoadError::Malformed)
}

/// The model document a compiled model was compiled from, without what compiling leaves out
/// (descriptions, evidence, training notes, the `$schema` hint).
#[cfg(feature = "std")]
fn document(c: &Compiled) -> Model {
    fn texts(list: List<'_, &str>) -> Vec<String> {
        list.iter().map(String::from).collect()
    }
    fn condition(c: &Cond<'_>) -> Condition {
        Condition {
            equals: c.equals.map(String::from),
            one_of: c.one_of.map(texts),
            min: c.min,
            max: c.max,
        }
    }
    fn matcher(w: When<'_>) -> Matcher {
        match w {
            When::Page { path, query } => Matcher::Page {
                path: path.into(),
                query: query
                    .iter()
                    .map(|(k, c)| {
                        let c = match c {
                            QueryCond::Equals(v) => QueryCondition::Equals(v.into()),
                            QueryCond::Absent(a) => QueryCondition::Test(QueryTest::Absent(a)),
                            QueryCond::OtherThan(l) => {
                                QueryCondition::Test(QueryTest::OtherThan(texts(l)))
                            }
                        };
                        (String::from(k), c)
                    })
                    .collect(),
            },
            When::Download { url, extensions } => Matcher::Download {
                url: url.map(String::from),
                extensions: texts(extensions),
            },
            When::Answer {
                question,
                condition: c,
            } => Matcher::Answer {
                question: question.into(),
                equals: c.equals.map(String::from),
                one_of: c.one_of.map(texts),
                min: c.min,
                max: c.max,
            },
            When::Form { id, name } => Matcher::Form {
                id: id.map(String::from),
                name: name.map(String::from),
            },
            When::Event { name, properties } => Matcher::Event {
                name: name.into(),
                properties: properties
                    .iter()
                    .map(|(k, c)| (String::from(k), condition(&c)))
                    .collect::<Entries<Condition>>(),
            },
            When::Visits { at_least } => Matcher::Visits { at_least },
            When::DistinctPages { at_least } => Matcher::DistinctPages { at_least },
            When::PageViews { path, at_least } => Matcher::PageViews {
                path: path.into(),
                at_least,
            },
            When::TimeOnSite { at_least_seconds } => Matcher::TimeOnSite { at_least_seconds },
            When::ReturnVisit { within_days } => Matcher::ReturnVisit { within_days },
            When::All(parts) => Matcher::All(parts.iter().map(matcher).collect()),
            When::Any(parts) => Matcher::Any(parts.iter().map(matcher).collect()),
        }
    }
    let rules = c.rules();
    Model {
        schema: None,
        version: FORMAT_VERSION,
        id: c.id().into(),
        model_version: c.model_version().into(),
        description: None,
        session_timeout_minutes: c.session_timeout_minutes(),
        rules: rules
            .iter()
            .map(|r| Rule {
                id: r.id.into(),
                description: None,
                when: matcher(r.when),
                dimension: r.dimension,
                points: r.points,
                frequency: r.frequency,
                decay: r.decay,
                evidence: None,
            })
            .collect(),
        limits: c.limits().clone(),
        tiers: c
            .tiers()
            .iter()
            .map(|t| Tier {
                name: t.name.into(),
                min: t.min,
                max: t.max,
                requires: t
                    .requires
                    .iter()
                    .filter_map(|&i| rules.get(i).map(|r| String::from(r.id)))
                    .collect(),
                evidence: None,
            })
            .collect(),
        allow_demotion: c.allow_demotion(),
        calibration: c.calibration(),
        training: None,
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

/// Compiles a validated model to its binary form, with its page section ([`page`]) (native
/// only: the browser never compiles). Fails, rather than cut anything, when a text is longer
/// than 65,535 bytes, a list has more than 65,535 items or there are more than [`MAX_TIERS`]
/// tiers.
#[cfg(feature = "json")]
pub fn write(model: &ValidModel) -> Result<Vec<u8>, WriteError> {
    compile(model.model(), &page(model))
}

/// Compiles a valid, normalised model document with `page` as its page section.
#[cfg(feature = "std")]
pub(crate) fn compile(m: &Model, page: &str) -> Result<Vec<u8>, WriteError> {
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

    let mut w = Writer::default();
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
    w.list(m.tiers.iter(), |w, tier| {
        w.text(&tier.name);
        thresholds(w, &tier.min);
        thresholds(w, &tier.max);
        // Rule indices; the validator refuses unknown ids (none is written).
        let requires: Vec<u16> = tier
            .requires
            .iter()
            .filter_map(|id| m.rules.iter().position(|r| &r.id == id))
            .map(|i| i as u16)
            .collect();
        w.list(requires.iter(), |w, &r| w.u16(r));
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
        let compiled = Compiled::read(bytes.clone().into()).unwrap();
        let page_bytes = compiled.page();
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
