//! Reading a [`Model`] from a [`Tree`] by hand, for the widget.
//!
//! It reads what serde's generated reader reads, with the same defaults, type rules and error
//! messages (see [`super::tree`] for the two differences JavaScript brings), except that it
//! collects the keys it has no field for, with their paths (`rules[0].wieght`), so that the
//! widget can report every one of them alongside the validation errors. Tests compare it with
//! `serde_json` on arbitrary and mutated model documents. It exists because serde's generated
//! code for the model's fourteen types was the largest part of the widget's size.

use super::tree::{self, Tree, TreeError};
use super::types::*;
use serde::de::{Error as _, Unexpected};
use std::cell::RefCell;

type Read<T> = Result<T, TreeError>;

/// Reads a model; keys it has no field for are returned with their paths (at most 20).
pub fn read_model(tree: &Tree) -> Read<(Model, Vec<String>)> {
    let unknown = RefCell::new(Vec::new());
    let root = Node {
        tree,
        path: String::new(),
        unknown: &unknown,
    };
    let model = model(&root)?;
    Ok((model, unknown.into_inner()))
}

/// One value of the document and where it is.
struct Node<'t> {
    tree: &'t Tree,
    path: String,
    unknown: &'t RefCell<Vec<String>>,
}

impl<'t> Node<'t> {
    fn at(&self, tree: &'t Tree, segment: &str) -> Node<'t> {
        let mut path = self.path.clone();
        if !path.is_empty() && !segment.starts_with('[') {
            path.push('.');
        }
        path.push_str(segment);
        Node {
            tree,
            path,
            unknown: self.unknown,
        }
    }

    fn fail(&self, e: TreeError) -> TreeError {
        if e.path.is_empty() {
            TreeError {
                path: self.path.clone(),
                message: e.message,
            }
        } else {
            e
        }
    }

    fn wrong_type(&self, expected: &str) -> TreeError {
        let unexpected = match self.tree {
            Tree::Null => Unexpected::Unit,
            Tree::Bool(b) => Unexpected::Bool(*b),
            Tree::Number(n) => Unexpected::Float(*n),
            Tree::Text(s) => Unexpected::Str(s),
            Tree::List(_) => Unexpected::Seq,
            Tree::Object(_) => Unexpected::Map,
        };
        self.fail(TreeError::invalid_type(unexpected, &expected))
    }

    /// The object's entries, after recording the keys not in `fields`.
    fn object(&self, expected: &str, fields: &[&str]) -> Read<Object<'_, 't>> {
        let Tree::Object(entries) = self.tree else {
            return Err(self.wrong_type(expected));
        };
        for (key, _) in entries {
            if !fields.contains(&key.as_str()) {
                let mut unknown = self.unknown.borrow_mut();
                if unknown.len() < tree::MAX_UNKNOWN {
                    unknown.push(self.at(self.tree, key).path);
                }
            }
        }
        Ok(Object { node: self })
    }

    fn text(&self) -> Read<String> {
        match self.tree {
            Tree::Text(s) => Ok(s.clone()),
            _ => Err(self.wrong_type("a string")),
        }
    }

    fn number(&self) -> Read<f64> {
        match self.tree {
            Tree::Number(n) => Ok(*n),
            _ => Err(self.wrong_type("f64")),
        }
    }

    fn boolean(&self) -> Read<bool> {
        match self.tree {
            Tree::Bool(b) => Ok(*b),
            _ => Err(self.wrong_type("a boolean")),
        }
    }

    /// An integer in `min..=max`, with serde's messages for others.
    fn integer(&self, expected: &str, min: i64, max: u64) -> Read<i64> {
        let Tree::Number(n) = self.tree else {
            return Err(self.wrong_type(expected));
        };
        let value = match tree::integer(*n) {
            Some(Ok(u)) if u <= max => return Ok(u as i64),
            Some(Err(i)) if i >= min => return Ok(i),
            Some(Ok(u)) => Unexpected::Unsigned(u),
            Some(Err(i)) => Unexpected::Signed(i),
            None => return Err(self.wrong_type(expected)),
        };
        Err(self.fail(TreeError::invalid_value(value, &expected)))
    }

    fn u32(&self) -> Read<u32> {
        self.integer("u32", 0, u64::from(u32::MAX))
            .map(|n| n as u32)
    }

    fn list<T>(&self, item: impl Fn(&Node<'t>) -> Read<T>) -> Read<Vec<T>> {
        let Tree::List(items) = self.tree else {
            return Err(self.wrong_type("a sequence"));
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, value) in items.iter().enumerate() {
            let mut index = String::from("[");
            index.push_str(&i.to_string());
            index.push(']');
            out.push(item(&self.at(value, &index))?);
        }
        Ok(out)
    }

    fn map<T>(&self, value: impl Fn(&Node<'t>) -> Read<T>) -> Read<Entries<T>> {
        let Tree::Object(entries) = self.tree else {
            return Err(self.wrong_type("a map"));
        };
        let mut out = Entries::new();
        for (key, v) in entries {
            out.insert(key.clone(), value(&self.at(v, key))?);
        }
        Ok(out)
    }

    /// An externally tagged enum: the variant's name and its content, if any.
    fn variant(&self, expected: &str) -> Read<(&'t str, Option<Node<'t>>)> {
        match self.tree {
            Tree::Text(name) => Ok((name, None)),
            Tree::Object(entries) => match entries.as_slice() {
                [(name, value)] => Ok((name, Some(self.at(value, name)))),
                _ => Err(self.fail(TreeError::invalid_value(
                    Unexpected::Map,
                    &"a map with a single key",
                ))),
            },
            _ => Err(self.wrong_type(expected)),
        }
    }

    fn unknown_variant(&self, name: &str, variants: &'static [&'static str]) -> TreeError {
        self.fail(TreeError::unknown_variant(name, variants))
    }
}

/// A unit variant's content must be absent or `null`.
fn unit(content: Option<Node<'_>>) -> Read<()> {
    match content {
        None => Ok(()),
        Some(node) if node.tree == &Tree::Null => Ok(()),
        Some(node) => Err(node.fail(TreeError::invalid_type(
            Unexpected::NewtypeVariant,
            &"unit variant",
        ))),
    }
}

/// A variant that needs content (given as a bare string).
fn content<'t>(node: &Node<'t>, content: Option<Node<'t>>) -> Read<Node<'t>> {
    content.ok_or_else(|| {
        node.fail(TreeError::invalid_type(
            Unexpected::UnitVariant,
            &"a variant with content",
        ))
    })
}

/// The fields of an object.
struct Object<'n, 't> {
    node: &'n Node<'t>,
}

impl<'t> Object<'_, 't> {
    fn get(&self, key: &str) -> Option<Node<'t>> {
        self.node.tree.get(key).map(|v| self.node.at(v, key))
    }

    fn required<T>(&self, key: &'static str, read: impl Fn(&Node<'t>) -> Read<T>) -> Read<T> {
        match self.get(key) {
            Some(node) => read(&node),
            None => Err(self.node.fail(TreeError::missing_field(key))),
        }
    }

    fn or_default<T: Default>(&self, key: &str, read: impl Fn(&Node<'t>) -> Read<T>) -> Read<T> {
        match self.get(key) {
            Some(node) => read(&node),
            None => Ok(T::default()),
        }
    }

    fn optional<T>(&self, key: &str, read: impl Fn(&Node<'t>) -> Read<T>) -> Read<Option<T>> {
        match self.get(key) {
            Some(node) if node.tree != &Tree::Null => read(&node).map(Some),
            _ => Ok(None),
        }
    }
}

fn model(node: &Node<'_>) -> Read<Model> {
    let o = node.object(
        "struct Model",
        &[
            "$schema",
            "version",
            "id",
            "model_version",
            "description",
            "session_timeout_minutes",
            "rules",
            "limits",
            "tiers",
            "allow_demotion",
            "calibration",
        ],
    )?;
    Ok(Model {
        schema: o.optional("$schema", Node::text)?,
        version: o.required("version", Node::u32)?,
        id: o.required("id", Node::text)?,
        model_version: o.required("model_version", Node::text)?,
        description: o.optional("description", Node::text)?,
        session_timeout_minutes: o.optional("session_timeout_minutes", Node::number)?,
        rules: o.required("rules", |n| n.list(rule))?,
        limits: o.or_default("limits", limits)?,
        tiers: o.required("tiers", |n| n.list(tier))?,
        allow_demotion: match o.get("allow_demotion") {
            Some(n) => n.boolean()?,
            None => true,
        },
        calibration: o.optional("calibration", calibration)?,
    })
}

fn rule(node: &Node<'_>) -> Read<Rule> {
    let o = node.object(
        "struct Rule",
        &[
            "id",
            "description",
            "when",
            "dimension",
            "points",
            "frequency",
            "decay",
            "evidence",
        ],
    )?;
    Ok(Rule {
        id: o.required("id", Node::text)?,
        description: o.optional("description", Node::text)?,
        when: o.required("when", matcher)?,
        dimension: o.required("dimension", dimension)?,
        points: o.required("points", |n| {
            n.integer("i32", i64::from(i32::MIN), i32::MAX as u64)
                .map(|p| p as i32)
        })?,
        frequency: o.or_default("frequency", frequency)?,
        decay: o.or_default("decay", decay)?,
        evidence: o.optional("evidence", evidence)?,
    })
}

const DIMENSIONS: &[&str] = &["fit", "engagement", "intent", "product"];

fn dimension(node: &Node<'_>) -> Read<Dimension> {
    let (name, value) = node.variant("enum Dimension")?;
    let dimension = match name {
        "fit" => Dimension::Fit,
        "engagement" => Dimension::Engagement,
        "intent" => Dimension::Intent,
        "product" => Dimension::Product,
        _ => return Err(node.unknown_variant(name, DIMENSIONS)),
    };
    unit(value)?;
    Ok(dimension)
}

const MATCHERS: &[&str] = &[
    "page",
    "download",
    "answer",
    "form",
    "event",
    "visits",
    "distinct_pages",
    "page_views",
    "time_on_site",
    "return_visit",
];

fn matcher(node: &Node<'_>) -> Read<Matcher> {
    let (name, value) = node.variant("enum Matcher")?;
    if !MATCHERS.contains(&name) {
        return Err(node.unknown_variant(name, MATCHERS));
    }
    let value = content(node, value)?;
    let struct_variant = match name {
        "page" => "struct variant Matcher::Page",
        "download" => "struct variant Matcher::Download",
        "answer" => "struct variant Matcher::Answer",
        "form" => "struct variant Matcher::Form",
        "event" => "struct variant Matcher::Event",
        "visits" => "struct variant Matcher::Visits",
        "distinct_pages" => "struct variant Matcher::DistinctPages",
        "page_views" => "struct variant Matcher::PageViews",
        "time_on_site" => "struct variant Matcher::TimeOnSite",
        _ => "struct variant Matcher::ReturnVisit",
    };
    let fields: &[&str] = match name {
        "page" => &["path", "query"],
        "download" => &["url", "extensions"],
        "answer" => &["question", "equals", "one_of", "min", "max"],
        "form" => &["id", "name"],
        "event" => &["name", "properties"],
        "visits" | "distinct_pages" => &["at_least"],
        "page_views" => &["path", "at_least"],
        "time_on_site" => &["at_least_seconds"],
        _ => &["within_days"],
    };
    let o = value.object(struct_variant, fields)?;
    let texts = |n: &Node<'_>| n.list(Node::text);
    Ok(match name {
        "page" => Matcher::Page {
            path: o.required("path", Node::text)?,
            query: o.or_default("query", |n| n.map(Node::text))?,
        },
        "download" => Matcher::Download {
            url: o.optional("url", Node::text)?,
            extensions: o.or_default("extensions", texts)?,
        },
        "answer" => Matcher::Answer {
            question: o.required("question", Node::text)?,
            equals: o.optional("equals", Node::text)?,
            one_of: o.optional("one_of", texts)?,
            min: o.optional("min", Node::number)?,
            max: o.optional("max", Node::number)?,
        },
        "form" => Matcher::Form {
            id: o.optional("id", Node::text)?,
            name: o.optional("name", Node::text)?,
        },
        "event" => Matcher::Event {
            name: o.required("name", Node::text)?,
            properties: o.or_default("properties", |n| n.map(condition))?,
        },
        "visits" => Matcher::Visits {
            at_least: o.required("at_least", Node::u32)?,
        },
        "distinct_pages" => Matcher::DistinctPages {
            at_least: o.required("at_least", Node::u32)?,
        },
        "page_views" => Matcher::PageViews {
            path: o.required("path", Node::text)?,
            at_least: o.required("at_least", Node::u32)?,
        },
        "time_on_site" => Matcher::TimeOnSite {
            at_least_seconds: o.required("at_least_seconds", Node::u32)?,
        },
        _ => Matcher::ReturnVisit {
            within_days: o.required("within_days", Node::number)?,
        },
    })
}

fn condition(node: &Node<'_>) -> Read<Condition> {
    let o = node.object("struct Condition", &["equals", "one_of", "min", "max"])?;
    Ok(Condition {
        equals: o.optional("equals", Node::text)?,
        one_of: o.optional("one_of", |n| n.list(Node::text))?,
        min: o.optional("min", Node::number)?,
        max: o.optional("max", Node::number)?,
    })
}

const FREQUENCIES: &[&str] = &["once", "every_time", "at_most", "at_most_per_window"];

fn frequency(node: &Node<'_>) -> Read<Frequency> {
    let (name, value) = node.variant("enum Frequency")?;
    match name {
        "once" => unit(value).map(|()| Frequency::Once),
        "every_time" => unit(value).map(|()| Frequency::EveryTime),
        "at_most" => content(node, value)?.u32().map(Frequency::AtMost),
        "at_most_per_window" => {
            let value = content(node, value)?;
            let o = value.object(
                "struct variant Frequency::AtMostPerWindow",
                &["times", "days"],
            )?;
            Ok(Frequency::AtMostPerWindow {
                times: o.required("times", Node::u32)?,
                days: o.required("days", Node::number)?,
            })
        }
        _ => Err(node.unknown_variant(name, FREQUENCIES)),
    }
}

const DECAYS: &[&str] = &["never", "half_life_days", "expires_after_days"];

fn decay(node: &Node<'_>) -> Read<Decay> {
    let (name, value) = node.variant("enum Decay")?;
    match name {
        "never" => unit(value).map(|()| Decay::Never),
        "half_life_days" => content(node, value)?.number().map(Decay::HalfLifeDays),
        "expires_after_days" => content(node, value)?.number().map(Decay::ExpiresAfterDays),
        _ => Err(node.unknown_variant(name, DECAYS)),
    }
}

const DIMENSIONS_AND_TOTAL: &[&str] = &["fit", "engagement", "intent", "product", "total"];

fn limits(node: &Node<'_>) -> Read<Limits> {
    let o = node.object("struct Limits", DIMENSIONS_AND_TOTAL)?;
    Ok(Limits {
        fit: o.optional("fit", bounds)?,
        engagement: o.optional("engagement", bounds)?,
        intent: o.optional("intent", bounds)?,
        product: o.optional("product", bounds)?,
        total: o.optional("total", bounds)?,
    })
}

fn bounds(node: &Node<'_>) -> Read<Bounds> {
    let o = node.object("struct Bounds", &["min", "max"])?;
    Ok(Bounds {
        min: o.optional("min", Node::number)?,
        max: o.optional("max", Node::number)?,
    })
}

fn tier(node: &Node<'_>) -> Read<Tier> {
    let o = node.object("struct Tier", &["name", "min", "max", "requires"])?;
    Ok(Tier {
        name: o.required("name", Node::text)?,
        min: o.or_default("min", thresholds)?,
        max: o.or_default("max", thresholds)?,
        requires: o.or_default("requires", |n| n.list(Node::text))?,
    })
}

fn thresholds(node: &Node<'_>) -> Read<Thresholds> {
    let o = node.object("struct Thresholds", DIMENSIONS_AND_TOTAL)?;
    Ok(Thresholds {
        fit: o.optional("fit", Node::number)?,
        engagement: o.optional("engagement", Node::number)?,
        intent: o.optional("intent", Node::number)?,
        product: o.optional("product", Node::number)?,
        total: o.optional("total", Node::number)?,
    })
}

fn evidence(node: &Node<'_>) -> Read<Evidence> {
    let o = node.object("struct Evidence", &["leads", "conversion_rate"])?;
    Ok(Evidence {
        leads: o.required("leads", |n| n.integer("u64", 0, u64::MAX).map(|l| l as u64))?,
        conversion_rate: o.required("conversion_rate", Node::number)?,
    })
}

fn calibration(node: &Node<'_>) -> Read<Calibration> {
    let o = node.object("struct Calibration", &["intercept", "slope"])?;
    Ok(Calibration {
        intercept: o.required("intercept", Node::number)?,
        slope: o.required("slope", Node::number)?,
    })
}

#[cfg(all(test, not(target_arch = "wasm32")))]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::model::tree::from_json;
    use proptest::prelude::*;
    use serde_json::json;

    fn tree(value: &serde_json::Value) -> Tree {
        from_json(value)
    }

    /// Checks that the hand-written model reader and `serde_json` agree on `doc`.
    fn agree(doc: &serde_json::Value) -> Result<(), TestCaseError> {
        let by_json = serde_json::from_value::<Model>(doc.clone());
        let by_tree = read_model(&tree(doc));
        match (&by_json, &by_tree) {
            (Ok(a), Ok((b, unknown))) => {
                prop_assert_eq!(a, b);
                prop_assert!(unknown.is_empty());
            }
            // serde_json refuses unknown fields; the reader collects them.
            (Err(_), Ok((_, unknown))) => prop_assert!(!unknown.is_empty(), "{doc}"),
            (Err(_), Err(_)) => {}
            // serde_json also reads a struct from an array of its fields' values.
            (Ok(_), Err(e)) => prop_assert!(e.message.contains("sequence"), "{doc}: {e}"),
        }
        Ok(())
    }

    #[test]
    fn the_example_models_read_as_serde_json_reads_them() {
        for name in ["saas", "wholesale"] {
            let text = std::fs::read_to_string(format!("www/models/{name}.json")).unwrap();
            let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
            let (model, unknown) = read_model(&tree(&doc)).unwrap();
            assert!(unknown.is_empty());
            assert_eq!(model, serde_json::from_value::<Model>(doc).unwrap());
        }
    }

    #[test]
    fn unknown_keys_and_errors_have_paths() {
        let doc = json!({"version": 1, "id": "x", "model_version": "1", "pionts": 1,
            "rules": [{"id": "a", "when": {"page": {"path": "/", "qeury": {}}}, "dimension": "fit",
                       "points": 1, "wieght": 2}],
            "tiers": [{"name": "MQL", "min": {"fit": 1}}]});
        let (_, unknown) = read_model(&tree(&doc)).unwrap();
        assert_eq!(
            unknown,
            ["pionts", "rules[0].wieght", "rules[0].when.page.qeury"]
        );
        let doc = json!({"version": 1, "id": "x", "model_version": "1",
            "rules": [{"id": "a", "when": {"visits": {"at_least": "2"}}, "dimension": "fit", "points": 1}],
            "tiers": []});
        let e = read_model(&tree(&doc)).unwrap_err();
        assert_eq!(e.path, "rules[0].when.visits.at_least");
        assert_eq!(e.message, "invalid type: string \"2\", expected u32");
        let doc = json!({"version": 1, "id": "x", "model_version": "1",
            "rules": [{"id": "a", "when": {"visits": {}}, "dimension": "fit", "points": 1}],
            "tiers": []});
        let e = read_model(&tree(&doc)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "rules[0].when.visits: missing field `at_least`"
        );
        let e = read_model(&tree(&json!([1]))).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid type: sequence, expected struct Model"
        );
    }

    #[test]
    fn numbers_read_as_serde_json_reads_them() {
        let base = json!({"version": 1, "id": "x", "model_version": "1",
            "rules": [{"id": "a", "when": {"visits": {"at_least": 2}}, "dimension": "fit", "points": 1}],
            "tiers": [{"name": "MQL", "min": {"fit": 1}}]});
        for points in [json!(-3), json!(0), json!(2.5), json!(1e10), json!(-1e300)] {
            let mut doc = base.clone();
            doc["rules"][0]["points"] = points;
            agree(&doc).unwrap();
        }
        let mut doc = base;
        doc["rules"][0]["points"] = json!(2.5);
        let e = read_model(&tree(&doc)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "rules[0].points: invalid type: floating point `2.5`, expected i32"
        );
    }

    fn model_like() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::Bool),
            (-3i64..200).prop_map(|n| json!(n)),
            // Fractions only: JSON `1.0` is an integer in JS, so the tree reads it as one.
            (-150i32..150).prop_map(|n| json!((f64::from(n) * 2.0 + 1.0) / 4.0)),
            prop::sample::select(vec![
                "once",
                "every_time",
                "never",
                "fit",
                "intent",
                "product",
                "/pricing",
                "/docs/**",
                "pdf",
                "MQL",
                "a",
                "",
            ])
            .prop_map(|s| json!(s)),
        ];
        let keys = prop::sample::select(vec![
            "version",
            "id",
            "model_version",
            "rules",
            "tiers",
            "when",
            "page",
            "path",
            "query",
            "points",
            "dimension",
            "frequency",
            "decay",
            "min",
            "max",
            "requires",
            "name",
            "limits",
            "fit",
            "total",
            "answer",
            "question",
            "equals",
            "one_of",
            "at_most",
            "at_most_per_window",
            "times",
            "days",
            "half_life_days",
            "visits",
            "at_least",
            "download",
            "extensions",
            "event",
            "properties",
            "calibration",
            "slope",
            "pionts",
        ]);
        leaf.prop_recursive(5, 96, 8, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
                prop::collection::btree_map(keys.clone().prop_map(String::from), inner, 0..7)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// A valid model document with one field replaced by an arbitrary value.
    fn mutated_model() -> impl Strategy<Value = serde_json::Value> {
        let text = std::fs::read_to_string("www/models/saas.json").unwrap_or_default();
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        (0usize..64, 0usize..12, model_like()).prop_map(move |(rule, field, value)| {
            let mut doc = doc.clone();
            let rules = doc["rules"].as_array().map_or(1, Vec::len).max(1);
            let target = &mut doc["rules"][rule % rules];
            let keys = [
                "id",
                "when",
                "dimension",
                "points",
                "frequency",
                "decay",
                "pionts",
            ];
            match keys.get(field) {
                Some(key) => target[*key] = value,
                None => doc["limits"] = value,
            }
            doc
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn reads_arbitrary_documents_as_serde_json_does(doc in model_like()) {
            agree(&doc)?;
        }

        #[test]
        fn reads_mutated_models_as_serde_json_does(doc in mutated_model()) {
            agree(&doc)?;
        }
    }
}
