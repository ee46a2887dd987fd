//! Model validation: every problem at once, each with its exact path.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use leadscore::model::ValidModel;
use serde_json::json;

fn errors(doc: serde_json::Value) -> Vec<String> {
    match ValidModel::from_json(&doc.to_string()) {
        Ok(_) => Vec::new(),
        Err(e) => e.0.iter().map(|e| e.to_string()).collect(),
    }
}

fn base() -> serde_json::Value {
    json!({
        "version": 1, "id": "m", "model_version": "1",
        "rules": [
            { "id": "pricing", "when": { "page": { "path": "/pricing" } }, "dimension": "intent", "points": 10 },
            { "id": "demo", "when": { "form": { "id": "demo" } }, "dimension": "intent", "points": 40 }
        ],
        "tiers": [{ "name": "SQL", "min": { "intent": 40 }, "requires": ["demo"] }]
    })
}

#[test]
fn a_valid_model_has_no_errors() {
    assert_eq!(errors(base()), Vec::<String>::new());
}

#[test]
fn semantic_problems_are_all_reported_with_paths() {
    let mut doc = base();
    doc["version"] = json!(2);
    doc["rules"] = json!([
        { "id": "pricing", "when": { "page": { "path": "/pricing" } }, "dimension": "intent", "points": 10 },
        { "id": "pricing", "when": { "page": { "path": "/a[b]" } }, "dimension": "intent", "points": 10 },
        { "id": "dl", "when": { "download": {} }, "dimension": "engagement", "points": 5 },
        { "id": "q", "when": { "answer": { "question": "role", "equals": "cto", "min": 3 } }, "dimension": "fit", "points": 5 },
        { "id": "w", "when": { "page": { "path": "/x" } }, "dimension": "engagement", "points": 1,
          "frequency": { "at_most_per_window": { "times": 2, "days": -1 } }, "decay": { "half_life_days": 0 } },
        { "id": "visits", "when": { "visits": { "at_least": 2 } }, "dimension": "engagement", "points": 1, "frequency": "every_time" },
        { "id": "bad id!", "when": { "form": {} }, "dimension": "intent", "points": 1 }
    ]);
    doc["limits"] = json!({ "fit": { "min": 10, "max": 0 } });
    doc["tiers"] = json!([
        { "name": "SQL", "min": { "intent": 500 }, "requires": ["demo-request"] },
        { "name": "SQL" },
        { "name": "unqualified", "min": { "total": 1 } }
    ]);
    let got = errors(doc);
    let expected = [
        "version: unsupported format version 2 (this build reads 1)",
        "rules[1].id: duplicate rule id \"pricing\" (first used at rules[0])",
        "rules[1].when.page.path: invalid pattern \"/a[b]\": '[' is not supported (use *, ** and ?)",
        "rules[2].when.download: give `url` or `extensions`",
        "rules[3].when.answer: give exactly one of `equals`, `one_of`, or a range (`min` / `max`)",
        "rules[4].frequency.at_most_per_window.days: must be a positive number, got -1",
        "rules[4].decay.half_life_days: must be a positive number, got 0",
        "rules[5].frequency: `visits` conditions count once; remove `frequency`",
        "rules[6].id: rule id \"bad id!\" contains ' '; use letters, digits, - _ . :",
        "rules[6].when.form: give the form's `id` or `name`",
        "limits.fit: min 10 is greater than max 0",
        "tiers[0].min.intent: 500 cannot be reached: the rules and limits of `intent` give at most 21",
        "tiers[0].requires[0]: unknown rule \"demo-request\"",
        "tiers[1].name: duplicate tier name \"SQL\" (first used at tiers[0])",
        "tiers[1]: has no conditions, so every visitor would be in it; give `min`, `max` or `requires`",
        "tiers[2].name: \"unqualified\" is the name for visitors in no tier; choose another",
    ];
    for e in expected {
        assert!(
            got.iter().any(|g| g == e),
            "missing {e:?} in\n{}",
            got.join("\n")
        );
    }
    assert_eq!(got.len(), expected.len(), "{}", got.join("\n"));
}

#[test]
fn rule_ids_that_visitor_state_could_not_tell_apart_are_refused() {
    // Two ids with the same 32-bit FNV-1a hash, which is what visitor state keeps of an id.
    assert_eq!(
        leadscore::engine::id_hash("rule-179599"),
        leadscore::engine::id_hash("rule-362382")
    );
    let mut doc = base();
    doc["rules"][0]["id"] = json!("rule-179599");
    doc["rules"][1]["id"] = json!("rule-362382");
    doc["tiers"][0]["requires"] = json!(["rule-362382"]);
    assert_eq!(
        errors(doc),
        ["rules[1].id: rule id \"rule-362382\" has the same 32-bit hash as \"rule-179599\" (rules[0]), so visitor state could not tell them apart; rename one"]
    );
}

#[test]
fn structural_problems_in_every_rule_and_tier_are_reported_at_once() {
    let mut doc = base();
    doc["colour"] = json!("blue");
    doc["rules"] = json!([
        { "id": "a", "when": { "page": { "path": "/a" } }, "dimension": "intent", "pionts": 10 },
        { "id": "b", "when": { "teleport": {} }, "dimension": "intent", "points": 1 },
        { "id": "c", "when": { "page": { "path": "/c" } }, "dimension": "mood", "points": 1 },
        { "id": "ok", "when": { "page": { "path": "/ok" } }, "dimension": "intent", "points": 1 }
    ]);
    doc["tiers"] = json!([{ "name": "SQL", "min": { "budget": 3 } }]);
    let got = errors(doc);
    assert_eq!(got.len(), 5, "{}", got.join("\n"));
    assert!(got[0].contains("unknown field `colour`"), "{}", got[0]);
    assert!(
        got[1].starts_with("rules[0].pionts: unknown field `pionts`"),
        "{}",
        got[1]
    );
    assert!(
        got[2].starts_with("rules[1].when: unknown variant `teleport`"),
        "{}",
        got[2]
    );
    assert!(
        got[3].starts_with("rules[2].dimension: unknown variant `mood`"),
        "{}",
        got[3]
    );
    assert!(
        got[4].starts_with("tiers[0].min.budget: unknown field `budget`"),
        "{}",
        got[4]
    );
}

#[test]
fn matcher_fields_are_checked_exactly() {
    let mut doc = base();
    doc["rules"][0]["when"] = json!({ "page": { "path": "/p", "regex": ".*" } });
    let got = errors(doc);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(
        got[0].starts_with("rules[0].when.page.regex: unknown field `regex`"),
        "{}",
        got[0]
    );
}

#[test]
fn syntax_errors_say_where() {
    let got = errors_text("{ \"version\": 1, ");
    assert_eq!(got.len(), 1);
    assert!(
        got[0].starts_with("not valid JSON:") && got[0].contains("line 1"),
        "{}",
        got[0]
    );
}

fn errors_text(text: &str) -> Vec<String> {
    match ValidModel::from_json(text) {
        Ok(_) => Vec::new(),
        Err(e) => e.0.iter().map(|e| e.to_string()).collect(),
    }
}

#[test]
fn every_time_rules_make_any_threshold_reachable() {
    let mut doc = base();
    doc["rules"][0]["frequency"] = json!("every_time");
    doc["tiers"][0]["min"] = json!({ "intent": 10000 });
    assert_eq!(errors(doc), Vec::<String>::new());
}

#[test]
fn limits_cap_what_tiers_can_ask_for() {
    let mut doc = base();
    doc["rules"][0]["frequency"] = json!("every_time");
    doc["limits"] = json!({ "intent": { "max": 30 } });
    let got = errors(doc);
    assert_eq!(
        got,
        vec!["tiers[0].min.intent: 40 cannot be reached: the rules and limits of `intent` give at most 30"]
    );
}

#[cfg(feature = "schema")]
#[test]
fn schema_in_the_repository_matches_the_types() {
    let generated = serde_json::to_string_pretty(&leadscore::model::json_schema()).unwrap();
    let committed = std::fs::read_to_string("schema/model.schema.json").unwrap();
    assert_eq!(
        committed.trim(),
        generated.trim(),
        "schema/model.schema.json is stale: run `make schema`"
    );
}

#[test]
fn example_models_declare_the_schema() {
    for f in ["www/models/saas.json", "www/models/wholesale.json"] {
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap();
        assert_eq!(v["$schema"], "../../schema/model.schema.json", "{f}");
    }
}

#[test]
fn a_limit_min_counts_towards_what_tiers_can_reach() {
    // Every visitor's fit is at least 10, so a fit threshold of 5 is always met.
    let mut doc = base();
    doc["rules"].as_array_mut().unwrap().push(
        json!({ "id": "careers", "when": { "page": { "path": "/careers" } }, "dimension": "fit", "points": -5 }),
    );
    doc["limits"] = json!({ "fit": { "min": 10, "max": 20 }, "total": { "min": 60 } });
    doc["tiers"] = json!([
        { "name": "Fit", "min": { "fit": 5 } },
        { "name": "Floor", "min": { "total": 60 } },
        { "name": "Over", "min": { "fit": 21 } }
    ]);
    assert_eq!(
        errors(doc),
        vec![
            "tiers[2].min.fit: 21 cannot be reached: the rules and limits of `fit` give at most 10"
        ]
    );
}

fn warnings(doc: serde_json::Value) -> Vec<String> {
    let model = ValidModel::from_json(&doc.to_string()).unwrap();
    leadscore::model::warnings(model.model())
        .iter()
        .map(|w| w.to_string())
        .collect()
}

#[test]
fn a_threshold_met_only_at_the_instant_a_decaying_rule_fires_is_warned_about() {
    let mut doc = base();
    doc["rules"][1]["decay"] = json!({ "half_life_days": 45 });
    // 40 points that decay against a threshold of 40: SQL for an instant only.
    let got = warnings(doc.clone());
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(
        got[0].starts_with("tiers[0].min.intent: 40 is met exactly when `demo` (40 points) fires"),
        "{}",
        got[0]
    );
    // 10 steady points and 30 that decay meet 40 exactly too.
    let mut with_pricing = doc.clone();
    with_pricing["rules"][1]["points"] = json!(30);
    assert_eq!(warnings(with_pricing).len(), 1);
    // Room below the firing's points, or a model that keeps tiers: no warning.
    let mut room = doc.clone();
    room["tiers"][0]["min"]["intent"] = json!(35);
    assert_eq!(warnings(room), Vec::<String>::new());
    let mut sticky = doc.clone();
    sticky["allow_demotion"] = json!(false);
    assert_eq!(warnings(sticky), Vec::<String>::new());
    // Points that do not decay meeting a threshold exactly are fine.
    assert_eq!(warnings(base()), Vec::<String>::new());
}

#[test]
fn example_models_have_no_warnings() {
    for f in ["www/models/saas.json", "www/models/wholesale.json"] {
        let model = ValidModel::from_json(&std::fs::read_to_string(f).unwrap()).unwrap();
        let got: Vec<String> = leadscore::model::warnings(model.model())
            .iter()
            .map(|w| w.to_string())
            .collect();
        assert_eq!(got, Vec::<String>::new(), "{f}");
    }
}

/// Found by reading the compiler against the `model_json` fuzz target: a valid model must also
/// compile, so texts no event can carry and lists or tiers the compiled form cannot number are
/// refused by the validator, with their paths.
#[test]
fn texts_and_lists_too_long_to_match_or_compile_are_refused() {
    let long = "x".repeat(3000);
    let mut doc = base();
    doc["rules"][0]["when"] =
        json!({ "page": { "path": format!("/{long}"), "query": { "q": long } } });
    doc["rules"][1]["when"] = json!({ "answer": { "question": "role", "one_of": [long] } });
    doc["rules"].as_array_mut().unwrap().push(json!({
        "id": "dl", "when": { "download": { "extensions": vec!["pdf"; 1001] } },
        "dimension": "engagement", "points": 1 }));
    doc["tiers"] = serde_json::Value::Array(
        (0..256)
            .map(|i| json!({ "name": format!("t{i}"), "min": { "intent": 10 } }))
            .collect(),
    );
    let got = errors(doc);
    for expected in [
        "rules[0].when.page.query.q: longer than 2048 bytes, which no event carries",
        "rules[1].when.answer.one_of[0]: longer than 2048 bytes, which no event carries",
        "rules[2].when.download.extensions: more than 1000 items",
        "tiers: more than 255 tiers",
    ] {
        assert!(
            got.iter().any(|g| g == expected),
            "missing {expected:?} in\n{}",
            got.join("\n")
        );
    }
}

/// A tier's training evidence is checked as a rule's is, kept in the JSON model and left out of
/// the compiled one.
#[test]
fn tier_evidence_is_checked_and_not_compiled() {
    let mut doc = base();
    doc["tiers"][0]["evidence"] = json!({ "leads": 120, "conversion_rate": 0.4 });
    assert_eq!(errors(doc.clone()), Vec::<String>::new());
    let model = ValidModel::from_json(&doc.to_string()).unwrap();
    let evidence = model.model().tiers[0].evidence.clone().unwrap();
    assert_eq!((evidence.leads, evidence.conversion_rate), (120, 0.4));
    let back = serde_json::to_value(model.model()).unwrap();
    assert_eq!(back["tiers"][0]["evidence"], doc["tiers"][0]["evidence"]);
    let bytes = leadscore::model::binary::write(&model).unwrap();
    let compiled = leadscore::model::binary::read(&bytes).unwrap();
    assert_eq!(compiled.model().tiers[0].evidence, None);

    doc["tiers"][0]["evidence"] = json!({ "leads": 120, "conversion_rate": 1.5 });
    assert_eq!(
        errors(doc.clone()),
        ["tiers[0].evidence.conversion_rate: must be between 0 and 1"]
    );
    doc["tiers"][0]["evidence"] = json!({ "leads": -1, "conversion_rate": 0.5 });
    let got = errors(doc);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(
        got[0].starts_with("tiers[0].evidence.leads: "),
        "{}",
        got[0]
    );
}

#[test]
fn compound_conditions_are_checked_with_exact_paths() {
    let mut doc = base();
    doc["rules"] = json!([
        { "id": "ok", "when": { "all": [
            { "answer": { "question": "role", "equals": "cto" } },
            { "visits": { "at_least": 2 } },
            { "page": { "path": "/pricing" } } ] },
          "dimension": "intent", "points": 40, "frequency": "every_time" },
        { "id": "bad-range", "when": { "all": [
            { "answer": { "question": "role", "equals": "cto" } },
            { "answer": { "question": "size", "min": 9, "max": 1 } } ] },
          "dimension": "fit", "points": 1 },
        { "id": "nested", "when": { "any": [
            { "all": [ { "visits": { "at_least": 2 } }, { "visits": { "at_least": 3 } } ] },
            { "visits": { "at_least": 4 } } ] },
          "dimension": "fit", "points": 1 },
        { "id": "two-events", "when": { "all": [
            { "page": { "path": "/a" } }, { "form": { "id": "demo" } } ] },
          "dimension": "fit", "points": 1 },
        { "id": "mixed-any", "when": { "any": [
            { "visits": { "at_least": 2 } }, { "form": { "id": "demo" } } ] },
          "dimension": "fit", "points": 1 },
        { "id": "single", "when": { "all": [ { "visits": { "at_least": 2 } } ] },
          "dimension": "fit", "points": 1 },
        { "id": "return", "when": { "all": [
            { "return_visit": { "within_days": 3 } }, { "visits": { "at_least": 2 } } ] },
          "dimension": "fit", "points": 1 },
        { "id": "state-like-often", "when": { "all": [
            { "visits": { "at_least": 2 } }, { "time_on_site": { "at_least_seconds": 5 } } ] },
          "dimension": "fit", "points": 1, "frequency": "every_time" },
        { "id": "views", "when": { "all": [
            { "page_views": { "path": "/a", "at_least": 2 } }, { "page_views": { "path": "/b", "at_least": 2 } } ] },
          "dimension": "fit", "points": 1 },
        { "id": "demo", "when": { "form": { "id": "demo" } }, "dimension": "intent", "points": 40 }
    ]);
    let got = errors(doc);
    let want = [
        "rules[1].when.all[1].answer: min 9 is greater than max 1",
        "rules[2].when.any[0]: `all` cannot be nested in `any`",
        "rules[3].when.all[1]: an `all` holds at most one page, download, form or event condition (the first is rules[3].when.all[0])",
        "rules[4].when.any[1]: an `any` lists either only page, download, form and event conditions or only answers and aggregates",
        "rules[5].when.all: give at least 2 conditions",
        "rules[6].when.all[0]: `return_visit` cannot be part of a compound condition",
        "rules[7].frequency: an `all` of answers and aggregates counts once",
        "rules[8].when.all[1]: at most one `page_views` condition per rule (the first is rules[8].when.all[0])",
    ];
    for w in want {
        assert!(got.iter().any(|g| g.starts_with(w)), "{w}\nin {got:#?}");
    }
    assert_eq!(got.len(), want.len(), "{got:#?}");
    // Structural problems inside a compound condition name their place too.
    let mut doc = base();
    doc["rules"][0]["when"] = json!({ "all": [ { "visits": { "at_least": 2 } }, { "answer": { "question": "q", "minn": 1 } } ] });
    let got = errors(doc);
    assert!(got[0].starts_with("rules[0].when"), "{got:?}");
}

#[test]
fn query_conditions_are_checked() {
    let mut doc = base();
    doc["rules"][0]["when"] = json!({ "page": { "path": "/", "query": {
        "a": "x", "b": { "absent": false }, "c": { "other_than": [] }, "d": { "other_than": ["*"] },
        "e": { "absent": true }, "f": { "other_than": ["google"] } } } });
    assert_eq!(
        errors(doc),
        vec![
            "rules[0].when.page.query.b.absent: must be true (for a parameter with any value, write \"*\")",
            "rules[0].when.page.query.c.other_than: must list at least one value (for any value, write \"*\")",
            "rules[0].when.page.query.d.other_than[0]: must be a value (not empty, not \"*\")",
        ]
    );
    let mut doc = base();
    doc["rules"][0]["when"] =
        json!({ "page": { "path": "/", "query": { "a": { "sometimes": true } } } });
    assert!(errors(doc)[0].starts_with("rules[0]"));
}

/// Compound rules and query conditions survive the compiled form, and a compound matcher
/// inside another one is refused by the reader (it never recurses further).
#[test]
fn compound_rules_and_query_conditions_compile_and_read_back() {
    use leadscore::model::binary;
    let mut doc = base();
    doc["rules"][0]["when"] = json!({ "all": [
        { "page": { "path": "/pricing", "query": { "utm_source": { "other_than": ["google"] }, "ref": { "absent": true }, "x": "*" } } },
        { "answer": { "question": "role", "one_of": ["cto", "vp"] } },
        { "page_views": { "path": "/docs/**", "at_least": 3 } } ] });
    doc["rules"].as_array_mut().unwrap().push(json!(
        { "id": "any", "when": { "any": [ { "visits": { "at_least": 2 } }, { "distinct_pages": { "at_least": 3 } } ] },
          "dimension": "fit", "points": 3 }));
    let model = ValidModel::from_json(&doc.to_string()).unwrap();
    let bytes = binary::write(&model).unwrap();
    let back = binary::read(&bytes).unwrap();
    assert_eq!(back.model().rules, model.model().rules);
    assert_eq!(back.rule_key(), model.rule_key());
    for n in 0..bytes.len() {
        assert!(binary::read(&bytes[..n]).is_err());
    }
    // Format 1 is refused as another version.
    let mut old = bytes.clone();
    old[4] = 1;
    assert_eq!(binary::read(&old).err(), Some(binary::LoadError::Version));
}
