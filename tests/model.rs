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
