//! The scoring kernel's boundary, compiled to wasm and run in headless Chromium: loading compiled
//! models (and refusing damaged ones), events as bytes, the explanation's layout, stored state,
//! and the debug bundle's JSON compiler. The page adapter around it is tested end to end
//! (`tests/e2e/`), and the production (`no_std`) kernel against the CLI by
//! `tests/e2e/differential.test.mjs`.

#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use leadscore::engine::{Event, Value};
use leadscore::model::Entries;
use leadscore::web;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const SAAS: &str = include_str!("../www/models/saas.json");
const T0: f64 = 1_790_000_000_000.0;

fn page(path: &str) -> Vec<u8> {
    Event::<String>::PageView {
        path: path.into(),
        query: Entries::new(),
    }
    .to_bytes()
}

fn custom(name: &str, props: &[(&str, Value)]) -> Vec<u8> {
    Event::Custom {
        name: name.into(),
        properties: props
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    }
    .to_bytes()
}

fn loaded() -> serde_json::Value {
    let bytes = web::compile(SAAS).unwrap();
    assert_eq!(web::load(&bytes), 0);
    serde_json::from_slice(&web::describe()).unwrap()
}

fn tier_index(describe: &serde_json::Value, name: &str) -> i32 {
    describe["tiers"]
        .as_array()
        .unwrap()
        .iter()
        .position(|t| t == name)
        .map_or(0, |i| i as i32 + 1)
}

#[wasm_bindgen_test]
fn a_compiled_model_loads_and_describes_what_the_page_must_watch() {
    let d = loaded();
    assert_eq!(d["id"], "acme-saas");
    assert_eq!(d["version"], "2026-11-01");
    assert_eq!(d["tiers"], serde_json::json!(["PQL", "SQL", "MQL"]));
    assert!(d["questions"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!("role")));
    assert!(d["rules"].as_array().unwrap().len() > 10);
    assert!(web::is_download(b"/resources/lead-scoring-playbook.pdf"));
    assert!(!web::is_download(b"/pricing"));
}

#[wasm_bindgen_test]
fn questions_and_query_parameters_inside_compound_rules_are_described() {
    let model = r#"{ "version": 1, "id": "c", "model_version": "1",
      "rules": [
        { "id": "big-buyer", "when": { "all": [
            { "answer": { "question": "seats", "min": 200 } },
            { "answer": { "question": "role", "equals": "cto" } } ] },
          "dimension": "fit", "points": 30 },
        { "id": "paid-pricing", "when": { "any": [
            { "page": { "path": "/pricing", "query": { "utm_medium": "cpc" } } },
            { "form": { "id": "quote" } } ] },
          "dimension": "intent", "points": 10 } ],
      "tiers": [ { "name": "SQL", "min": { "total": 30 } } ] }"#;
    let bytes = web::compile(model).unwrap();
    assert_eq!(web::load(&bytes), 0);
    let d: serde_json::Value = serde_json::from_slice(&web::describe()).unwrap();
    assert_eq!(d["questions"], serde_json::json!(["seats", "role"]));
    assert_eq!(d["query"], serde_json::json!(["utm_medium"]));
}

#[wasm_bindgen_test]
fn damaged_or_foreign_bytes_are_refused_with_their_reason() {
    let good = web::compile(SAAS).unwrap();
    assert_eq!(web::load(b"<!doctype html><title>404</title>"), 1);
    let mut version = good.clone();
    version[4] = 99;
    assert_eq!(web::load(&version), 2);
    let mut flipped = good.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x40;
    assert_eq!(web::load(&flipped), 3);
    assert_eq!(web::load(&good[..good.len() - 1]), 3);
    assert_eq!(web::load(&[]), 1);
}

#[wasm_bindgen_test]
fn events_score_and_explain_as_numbers() {
    let d = loaded();
    let pql = tier_index(&d, "PQL");
    assert_eq!(web::apply(&page("/pricing"), T0), 0, "still unqualified");
    assert_eq!(web::apply(&custom("signup", &[]), T0 + 1000.0), 0);
    // 20 + 15 product points: PQL now, from unqualified.
    let changed = web::apply(&custom("teammate_invited", &[]), T0 + 2000.0);
    assert_eq!(changed, pql);
    let report = custom("feature_used", &[("feature", Value::Text("report".into()))]);
    assert_eq!(
        web::apply(&report, T0 + 5000.0),
        pql + 256 * pql,
        "PQL, unchanged"
    );

    let x = web::explain(T0 + 5000.0);
    assert_eq!((x.len() - 10) % 5, 0);
    assert_eq!(
        x[4],
        x[0] + x[1] + x[2] + x[3],
        "the total adds up the sub-scores"
    );
    assert_eq!(x[6], f64::from(pql));
    assert_eq!(x[7], f64::from(pql), "apply stored the tier");
    assert_eq!(x[8], 1.0, "one visit");
    let rules = d["rules"].as_array().unwrap();
    let contributions: Vec<&[f64]> = x[10..].chunks(5).collect();
    assert!(
        contributions.windows(2).all(|w| w[0][2] >= w[1][2]),
        "highest first"
    );
    let signup = contributions
        .iter()
        .find(|c| rules[c[0] as usize] == "trial-signup")
        .unwrap();
    assert_eq!((signup[1], signup[2], signup[3]), (3.0, 20.0, 1.0));
}

#[wasm_bindgen_test]
fn state_bytes_survive_a_reload_and_bad_bytes_start_fresh() {
    loaded();
    web::apply(&custom("signup", &[]), T0);
    let stored = web::state();
    let bits = |x: Vec<f64>| x.into_iter().map(f64::to_bits).collect::<Vec<_>>();
    let before = bits(web::explain(T0));
    web::reset();
    assert_ne!(bits(web::explain(T0)), before);
    assert!(web::restore(&stored));
    assert_eq!(bits(web::explain(T0)), before);
    assert!(!web::restore(&stored[..stored.len() - 1]));
    assert_eq!(web::explain(T0)[4], 0.0, "fresh");
}

#[wasm_bindgen_test]
fn malformed_or_invalid_events_are_rejected_without_changing_anything() {
    loaded();
    let before = web::state();
    assert_eq!(web::apply(&[], T0), web::REJECTED);
    assert_eq!(
        web::apply(&[1, 200, 0], T0),
        web::REJECTED,
        "text past the end"
    );
    assert_eq!(
        web::apply(&page("pricing"), T0),
        web::REJECTED,
        "no leading /"
    );
    let too_long = Event::<String>::Engagement { seconds: 1e9 }.to_bytes();
    assert_eq!(web::apply(&too_long, T0), web::REJECTED);
    for bad_clock in [f64::NAN, f64::INFINITY, -f64::INFINITY, 1e300] {
        assert_eq!(web::apply(&page("/pricing"), bad_clock), web::REJECTED);
        assert!(web::explain(bad_clock).is_empty());
    }
    assert_eq!(web::state(), before);
}

#[wasm_bindgen_test]
fn the_debug_compiler_lists_every_problem_with_its_path() {
    let broken = r#"{"version": 1, "id": "broken", "model_version": "1",
      "rules": [
        {"id": "pricing", "when": {"page": {"path": "/pricing["}}, "dimension": "intent", "points": 10},
        {"id": "pricing", "when": {"page": {"path": "/docs/**"}}, "dimension": "engagement", "points": 5}
      ],
      "tiers": [{"name": "SQL", "min": {"intent": 10}, "requires": ["no-such-rule"]}]}"#;
    let problems = web::compile(broken).unwrap_err();
    for path in [
        "rules[0].when.page.path",
        "rules[1].id",
        "tiers[0].requires",
    ] {
        assert!(problems.contains(path), "{path} in {problems}");
    }
    assert!(web::compile("{").unwrap_err().contains("not valid JSON"));
}
