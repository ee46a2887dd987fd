//! Engine semantics: every matcher kind, frequency, decay, limits, tiers and state handling.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use leadscore::engine::{self, Event, Millis, Score, State, Value, UNQUALIFIED};
use leadscore::model::{Entries, ValidModel};
use serde_json::json;
use std::collections::BTreeMap;

const DAY: Millis = 86_400_000;
const T0: Millis = 1_790_000_000_000;

/// A model with the given rules and tiers; one catch-all tier when none are given.
fn model(rules: serde_json::Value, tiers: serde_json::Value) -> ValidModel {
    let doc = json!({
        "version": 1, "id": "test", "model_version": "1",
        "rules": rules, "tiers": tiers,
    });
    match ValidModel::from_json(&doc.to_string()) {
        Ok(m) => m,
        Err(e) => panic!("test model invalid:\n{e}"),
    }
}

fn mql_at(total: i32) -> serde_json::Value {
    json!([{ "name": "MQL", "min": { "total": total } }])
}

fn page(path: &str) -> Event {
    Event::PageView {
        path: path.into(),
        query: Entries::new(),
    }
}

fn page_q(path: &str, q: &[(&str, &str)]) -> Event {
    Event::PageView {
        path: path.into(),
        query: q
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

fn answer(q: &str, v: &str) -> Event {
    Event::Answer {
        question: q.into(),
        value: Value::Text(v.into()),
    }
}

fn form_id(id: &str) -> Event {
    Event::FormSubmit {
        id: Some(id.into()),
        name: None,
    }
}

/// Applies events at the given times and returns the total at `at`.
fn total_after(m: &ValidModel, events: &[(Millis, Event)], at: Millis) -> f64 {
    let mut s = State::new(m);
    for (t, e) in events {
        engine::apply(&mut s, m, e, *t).unwrap();
    }
    engine::score(&s, m, at).total
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn page_rules_match_patterns_and_query_parameters() {
    let m = model(
        json!([
            { "id": "pricing", "when": { "page": { "path": "/pricing/**" } }, "dimension": "intent", "points": 10, "frequency": "every_time" },
            { "id": "linkedin", "when": { "page": { "path": "/**", "query": { "utm_source": "linkedin" } } }, "dimension": "engagement", "points": 3 },
            { "id": "any-campaign", "when": { "page": { "path": "/**", "query": { "utm_campaign": "*" } } }, "dimension": "engagement", "points": 1 }
        ]),
        mql_at(5),
    );
    let mut s = State::new(&m);
    engine::apply(&mut s, &m, &page("/pricing"), T0).unwrap();
    engine::apply(&mut s, &m, &page("/pricing/enterprise"), T0 + 1).unwrap();
    engine::apply(&mut s, &m, &page("/about"), T0 + 2).unwrap();
    let sc = engine::score(&s, &m, T0 + 2);
    assert_eq!(sc.intent, 20.0);
    assert_eq!(sc.engagement, 0.0);
    engine::apply(
        &mut s,
        &m,
        &page_q("/", &[("utm_source", "LinkedIn"), ("utm_campaign", "q4")]),
        T0 + 3,
    )
    .unwrap();
    let sc = engine::score(&s, &m, T0 + 3);
    assert_eq!(sc.engagement, 4.0);
    engine::apply(
        &mut s,
        &m,
        &page_q("/", &[("utm_source", "twitter")]),
        T0 + 4,
    )
    .unwrap();
    assert_eq!(engine::score(&s, &m, T0 + 4).engagement, 4.0);
}

#[test]
fn download_rules_match_url_pattern_or_extension() {
    let m = model(
        json!([
            { "id": "ebook", "when": { "download": { "url": "/resources/*.pdf" } }, "dimension": "engagement", "points": 15 },
            { "id": "sheet", "when": { "download": { "extensions": ["xlsx", "csv"] } }, "dimension": "engagement", "points": 5 }
        ]),
        mql_at(5),
    );
    let mut s = State::new(&m);
    let dl = |u: &str| Event::Download { url: u.to_string() };
    engine::apply(
        &mut s,
        &m,
        &dl("https://cdn.example.com/resources/guide.pdf?v=2"),
        T0,
    )
    .unwrap();
    assert_eq!(engine::score(&s, &m, T0).engagement, 15.0);
    engine::apply(&mut s, &m, &dl("/files/model.XLSX"), T0 + 1).unwrap();
    assert_eq!(engine::score(&s, &m, T0 + 1).engagement, 20.0);
    engine::apply(&mut s, &m, &dl("/files/deck.pptx"), T0 + 2).unwrap();
    assert_eq!(engine::score(&s, &m, T0 + 2).engagement, 20.0);
}

#[test]
fn answers_count_while_they_hold_and_move_when_changed() {
    let m = model(
        json!([
            { "id": "exec", "when": { "answer": { "question": "role", "one_of": ["cto", "ceo"] } }, "dimension": "fit", "points": 20 },
            { "id": "student", "when": { "answer": { "question": "role", "equals": "student" } }, "dimension": "fit", "points": -30 },
            { "id": "mid-size", "when": { "answer": { "question": "size", "min": 50, "max": 500 } }, "dimension": "fit", "points": 10 }
        ]),
        json!([{ "name": "Fit", "min": { "fit": 20 } }]),
    );
    let mut s = State::new(&m);
    engine::apply(&mut s, &m, &answer("role", "Student"), T0).unwrap();
    assert_eq!(engine::score(&s, &m, T0).fit, -30.0);
    let sc = engine::apply(&mut s, &m, &answer("role", " CTO "), T0 + 1).unwrap();
    assert_eq!(sc.fit, 20.0, "the student points are taken back");
    assert_eq!(sc.tier, "Fit");
    // The same answer again does not count twice.
    engine::apply(&mut s, &m, &answer("role", "cto"), T0 + 2).unwrap();
    assert_eq!(engine::score(&s, &m, T0 + 2).fit, 20.0);
    engine::apply(&mut s, &m, &answer("size", "120"), T0 + 3).unwrap();
    assert_eq!(engine::score(&s, &m, T0 + 3).fit, 30.0);
    engine::apply(
        &mut s,
        &m,
        &Event::Answer {
            question: "size".into(),
            value: Value::<String>::Number(5000.0),
        },
        T0 + 4,
    )
    .unwrap();
    assert_eq!(engine::score(&s, &m, T0 + 4).fit, 20.0);
    engine::apply(&mut s, &m, &answer("size", "not a number"), T0 + 5).unwrap();
    assert_eq!(engine::score(&s, &m, T0 + 5).fit, 20.0);
}

#[test]
fn forms_match_by_id_or_name() {
    let m = model(
        json!([
            { "id": "demo", "when": { "form": { "id": "demo-request" } }, "dimension": "intent", "points": 40 },
            { "id": "news", "when": { "form": { "name": "newsletter" } }, "dimension": "engagement", "points": 10 }
        ]),
        mql_at(10),
    );
    let mut s = State::new(&m);
    engine::apply(
        &mut s,
        &m,
        &Event::<String>::FormSubmit {
            id: None,
            name: Some("Newsletter".into()),
        },
        T0,
    )
    .unwrap();
    engine::apply(&mut s, &m, &form_id("contact"), T0 + 1).unwrap();
    let sc = engine::score(&s, &m, T0 + 1);
    assert_eq!((sc.intent, sc.engagement), (0.0, 10.0));
    engine::apply(&mut s, &m, &form_id("demo-request"), T0 + 2).unwrap();
    assert_eq!(engine::score(&s, &m, T0 + 2).intent, 40.0);
}

#[test]
fn custom_events_check_their_properties() {
    let m = model(
        json!([
            { "id": "feature", "when": { "event": { "name": "feature_used", "properties": { "feature": { "one_of": ["report", "export"] }, "seats": { "min": 5 } } } },
              "dimension": "product", "points": 5, "frequency": "every_time" }
        ]),
        json!([{ "name": "PQL", "min": { "product": 10 } }]),
    );
    let ev = |feature: &str, seats: f64| Event::Custom {
        name: "feature_used".into(),
        properties: [
            ("feature".to_string(), Value::Text(feature.into())),
            ("seats".to_string(), Value::Number(seats)),
        ]
        .into_iter()
        .collect(),
    };
    let mut s = State::new(&m);
    engine::apply(&mut s, &m, &ev("report", 10.0), T0).unwrap();
    engine::apply(&mut s, &m, &ev("report", 2.0), T0 + 1).unwrap();
    engine::apply(&mut s, &m, &ev("billing", 10.0), T0 + 2).unwrap();
    let sc = engine::apply(&mut s, &m, &ev("export", 8.0), T0 + 3).unwrap();
    assert_eq!(sc.product, 10.0);
    assert_eq!(sc.tier, "PQL");
    let missing_property = Event::<String>::Custom {
        name: "feature_used".into(),
        properties: Entries::new(),
    };
    engine::apply(&mut s, &m, &missing_property, T0 + 4).unwrap();
    assert_eq!(engine::score(&s, &m, T0 + 4).product, 10.0);
}

#[test]
fn frequencies_once_every_time_at_most_and_per_window() {
    let m = model(
        json!([
            { "id": "once", "when": { "page": { "path": "/a" } }, "dimension": "engagement", "points": 1 },
            { "id": "every", "when": { "page": { "path": "/a" } }, "dimension": "intent", "points": 1, "frequency": "every_time" },
            { "id": "max3", "when": { "page": { "path": "/a" } }, "dimension": "fit", "points": 1, "frequency": { "at_most": 3 } },
            { "id": "two-a-week", "when": { "page": { "path": "/a" } }, "dimension": "product", "points": 1, "frequency": { "at_most_per_window": { "times": 2, "days": 7 } } }
        ]),
        mql_at(1),
    );
    let mut s = State::new(&m);
    for i in 0..5 {
        engine::apply(&mut s, &m, &page("/a"), T0 + i * 1000).unwrap();
    }
    let sc = engine::score(&s, &m, T0 + DAY);
    assert_eq!(
        (sc.engagement, sc.intent, sc.fit, sc.product),
        (1.0, 5.0, 3.0, 2.0)
    );
    // Eight days later the window has room again.
    engine::apply(&mut s, &m, &page("/a"), T0 + 8 * DAY).unwrap();
    engine::apply(&mut s, &m, &page("/a"), T0 + 8 * DAY + 1).unwrap();
    engine::apply(&mut s, &m, &page("/a"), T0 + 8 * DAY + 2).unwrap();
    let sc = engine::score(&s, &m, T0 + 8 * DAY + 2);
    assert_eq!(
        (sc.engagement, sc.intent, sc.fit, sc.product),
        (1.0, 8.0, 3.0, 4.0)
    );
    let times: Vec<u32> = sc.contributions.iter().map(|c| c.times).collect();
    assert_eq!(times, vec![8, 4, 3, 1]);
}

#[test]
fn half_life_halves_points_and_expiry_removes_them() {
    let m = model(
        json!([
            { "id": "halving", "when": { "page": { "path": "/a" } }, "dimension": "engagement", "points": 40, "decay": { "half_life_days": 10 } },
            { "id": "expiring", "when": { "page": { "path": "/b" } }, "dimension": "intent", "points": 10, "frequency": "every_time", "decay": { "expires_after_days": 30 } },
            { "id": "fit", "when": { "answer": { "question": "role", "equals": "cto" } }, "dimension": "fit", "points": 20 }
        ]),
        mql_at(30),
    );
    let mut s = State::new(&m);
    engine::apply(&mut s, &m, &page("/a"), T0).unwrap();
    engine::apply(&mut s, &m, &page("/b"), T0).unwrap();
    engine::apply(&mut s, &m, &answer("role", "cto"), T0).unwrap();
    assert!(close(engine::score(&s, &m, T0 + 10 * DAY).engagement, 20.0));
    engine::apply(&mut s, &m, &page("/b"), T0 + 20 * DAY).unwrap();
    let at = |d: i64| engine::score(&s, &m, T0 + d * DAY);
    assert!(close(at(20).engagement, 10.0));
    assert_eq!(at(25).intent, 20.0);
    assert_eq!(
        at(31).intent,
        10.0,
        "the first firing expired after 30 days"
    );
    assert_eq!(at(51).intent, 0.0);
    assert_eq!(at(400).fit, 20.0, "fit rules do not decay unless told to");
    let c = at(20);
    let halving = c
        .contributions
        .iter()
        .find(|c| c.rule == "halving")
        .unwrap();
    assert!(close(halving.decayed, 30.0));
}

#[test]
fn half_life_accumulates_repeated_firings_exactly() {
    let m = model(
        json!([{ "id": "r", "when": { "page": { "path": "/a" } }, "dimension": "engagement", "points": 8, "frequency": "every_time", "decay": { "half_life_days": 1 } }]),
        mql_at(1),
    );
    // Two firings one day apart, read one day after the second: 8/4 + 8/2 = 6.
    let total = total_after(
        &m,
        &[(T0, page("/a")), (T0 + DAY, page("/a"))],
        T0 + 2 * DAY,
    );
    assert!(close(total, 6.0), "{total}");
}

#[test]
fn aggregates_award_once_when_they_become_true() {
    let m = model(
        json!([
            { "id": "visits-3", "when": { "visits": { "at_least": 3 } }, "dimension": "engagement", "points": 10 },
            { "id": "pages-3", "when": { "distinct_pages": { "at_least": 3 } }, "dimension": "engagement", "points": 1 },
            { "id": "docs-2", "when": { "page_views": { "path": "/docs/**", "at_least": 2 } }, "dimension": "intent", "points": 7 },
            { "id": "time-5m", "when": { "time_on_site": { "at_least_seconds": 300 } }, "dimension": "fit", "points": 4 },
            { "id": "back-in-a-week", "when": { "return_visit": { "within_days": 7 } }, "dimension": "product", "points": 2 }
        ]),
        mql_at(1),
    );
    let mut s = State::new(&m);
    let hour = DAY / 24;
    engine::apply(&mut s, &m, &page("/docs/a"), T0).unwrap();
    engine::apply(&mut s, &m, &page("/docs/a"), T0 + 60_000).unwrap();
    engine::apply(
        &mut s,
        &m,
        &Event::<String>::Engagement { seconds: 200.0 },
        T0 + 120_000,
    )
    .unwrap();
    let sc = engine::score(&s, &m, T0 + 120_000);
    assert_eq!((sc.intent, sc.engagement, sc.fit), (7.0, 0.0, 0.0));
    assert_eq!(s.visits, 1);
    engine::apply(
        &mut s,
        &m,
        &Event::<String>::Engagement { seconds: 100.0 },
        T0 + 180_000,
    )
    .unwrap();
    assert_eq!(engine::score(&s, &m, T0 + 180_000).fit, 4.0);
    // A second visit 2 hours later (past the 30-minute session timeout) is a return visit.
    engine::apply(&mut s, &m, &page("/pricing"), T0 + 2 * hour).unwrap();
    assert_eq!(s.visits, 2);
    assert_eq!(engine::score(&s, &m, T0 + 2 * hour).product, 2.0);
    // A third visit 30 days later: visits reach 3, the return is too late to count again anyway.
    engine::apply(&mut s, &m, &page("/about"), T0 + 30 * DAY).unwrap();
    let sc = engine::score(&s, &m, T0 + 30 * DAY);
    assert_eq!(s.visits, 3);
    assert_eq!(sc.engagement, 11.0);
    assert_eq!(sc.product, 2.0);
    engine::apply(&mut s, &m, &page("/docs/b"), T0 + 30 * DAY + 1).unwrap();
    assert_eq!(
        engine::score(&s, &m, T0 + 30 * DAY + 1).intent,
        7.0,
        "aggregates award once"
    );
}

#[test]
fn return_visit_outside_window_does_not_count() {
    let m = model(
        json!([{ "id": "back", "when": { "return_visit": { "within_days": 7 } }, "dimension": "engagement", "points": 5 }]),
        mql_at(5),
    );
    let total = total_after(
        &m,
        &[(T0, page("/")), (T0 + 8 * DAY, page("/"))],
        T0 + 8 * DAY,
    );
    assert_eq!(total, 0.0);
}

#[test]
fn limits_clamp_dimensions_and_total() {
    let m = model(
        json!([
            { "id": "a", "when": { "page": { "path": "/a" } }, "dimension": "engagement", "points": 10, "frequency": "every_time" },
            { "id": "careers", "when": { "page": { "path": "/careers" } }, "dimension": "fit", "points": -40 },
            { "id": "b", "when": { "page": { "path": "/b" } }, "dimension": "intent", "points": 50 }
        ]),
        mql_at(10),
    );
    let mut doc = m.model().clone();
    doc.limits.engagement = Some(leadscore::model::Bounds {
        min: None,
        max: Some(25.0),
    });
    doc.limits.fit = Some(leadscore::model::Bounds {
        min: Some(-20.0),
        max: None,
    });
    doc.limits.total = Some(leadscore::model::Bounds {
        min: Some(0.0),
        max: Some(60.0),
    });
    let m = ValidModel::new(doc).unwrap();
    let mut s = State::new(&m);
    for i in 0..5 {
        engine::apply(&mut s, &m, &page("/a"), T0 + i).unwrap();
    }
    engine::apply(&mut s, &m, &page("/careers"), T0 + 10).unwrap();
    let sc = engine::score(&s, &m, T0 + 10);
    assert_eq!((sc.engagement, sc.fit, sc.total), (25.0, -20.0, 5.0));
    engine::apply(&mut s, &m, &page("/b"), T0 + 11).unwrap();
    assert_eq!(engine::score(&s, &m, T0 + 11).total, 55.0);
    // Contributions are reported before limits, so the explanation shows all points.
    let sc = engine::score(&s, &m, T0 + 11);
    assert_eq!(sc.contributions.iter().map(|c| c.points).sum::<f64>(), 60.0);
}

fn tiered() -> ValidModel {
    model(
        json!([
            { "id": "quiz-exec", "when": { "answer": { "question": "role", "equals": "cto" } }, "dimension": "fit", "points": 20 },
            { "id": "pricing", "when": { "page": { "path": "/pricing" } }, "dimension": "intent", "points": 20, "frequency": { "at_most": 3 }, "decay": { "half_life_days": 7 } },
            { "id": "demo-request", "when": { "form": { "id": "demo" } }, "dimension": "intent", "points": 40, "decay": { "half_life_days": 7 } },
            { "id": "ebook", "when": { "download": { "extensions": ["pdf"] } }, "dimension": "engagement", "points": 30, "decay": { "half_life_days": 7 } },
            { "id": "used-app", "when": { "event": { "name": "feature_used" } }, "dimension": "product", "points": 50 }
        ]),
        json!([
            { "name": "PQL", "min": { "product": 50 } },
            { "name": "SQL", "min": { "intent": 40, "fit": 20 }, "requires": ["demo-request"] },
            { "name": "MQL", "min": { "engagement": 25 } }
        ]),
    )
}

#[test]
fn first_tier_that_holds_wins_and_requirements_are_enforced() {
    let m = tiered();
    let mut s = State::new(&m);
    let sc = engine::apply(
        &mut s,
        &m,
        &Event::<String>::Download {
            url: "/x.pdf".into(),
        },
        T0,
    )
    .unwrap();
    assert_eq!((sc.previous_tier, sc.tier), (UNQUALIFIED, "MQL"));
    engine::apply(&mut s, &m, &answer("role", "cto"), T0 + 1).unwrap();
    let sc = engine::apply(&mut s, &m, &page("/pricing"), T0 + 2).unwrap();
    engine::apply(&mut s, &m, &page("/pricing"), T0 + 3).unwrap();
    assert_eq!(sc.tier, "MQL", "intent without a demo request is not SQL");
    assert!(!sc.changed());
    let sc = engine::apply(&mut s, &m, &form_id("demo"), T0 + 4).unwrap();
    assert_eq!((sc.previous_tier, sc.tier), ("MQL", "SQL"));
    assert!(sc.changed());
    let sc = engine::apply(
        &mut s,
        &m,
        &Event::<String>::Custom {
            name: "feature_used".into(),
            properties: Entries::new(),
        },
        T0 + 5,
    )
    .unwrap();
    assert_eq!(sc.tier, "PQL");
}

#[test]
fn decay_demotes_only_when_the_model_allows_it() {
    let m = tiered();
    let journey = [(
        T0,
        Event::<String>::Download {
            url: "/x.pdf".into(),
        },
    )];
    let mut s = State::new(&m);
    for (t, e) in &journey {
        engine::apply(&mut s, &m, e, *t).unwrap();
    }
    let later = engine::tick(&mut s, &m, T0 + 7 * DAY);
    assert_eq!((later.previous_tier, later.tier), ("MQL", UNQUALIFIED));

    let mut doc = m.model().clone();
    doc.allow_demotion = false;
    let sticky = ValidModel::new(doc).unwrap();
    let mut s = State::new(&sticky);
    engine::apply(&mut s, &sticky, &journey[0].1, T0).unwrap();
    let later = engine::tick(&mut s, &sticky, T0 + 30 * DAY);
    assert_eq!(later.tier, "MQL");
    assert!(!later.changed());
    assert!(
        later.engagement < 25.0,
        "points still decay; only the tier is kept"
    );
}

#[test]
fn contributions_are_sorted_with_top_factors() {
    let m = model(
        json!([
            { "id": "b", "when": { "page": { "path": "/x" } }, "dimension": "engagement", "points": 5 },
            { "id": "a", "when": { "page": { "path": "/x" } }, "dimension": "intent", "points": 5 },
            { "id": "big", "when": { "page": { "path": "/x" } }, "dimension": "intent", "points": 30 },
            { "id": "careers", "when": { "page": { "path": "/x" } }, "dimension": "fit", "points": -10 },
            { "id": "student", "when": { "page": { "path": "/x" } }, "dimension": "fit", "points": -20 },
            { "id": "never", "when": { "page": { "path": "/y" } }, "dimension": "fit", "points": 100 }
        ]),
        mql_at(1),
    );
    let mut s = State::new(&m);
    let sc = engine::apply(&mut s, &m, &page("/x"), T0).unwrap();
    let order: Vec<&str> = sc.contributions.iter().map(|c| c.rule).collect();
    assert_eq!(order, vec!["big", "b", "a", "careers", "student"]);
    let pos: Vec<&str> = sc.top_positive(2).map(|c| c.rule).collect();
    let neg: Vec<&str> = sc.top_negative(1).map(|c| c.rule).collect();
    assert_eq!(pos, vec!["big", "b"]);
    assert_eq!(neg, vec!["student"]);
}

#[test]
fn malformed_events_are_rejected_and_leave_state_untouched() {
    let m = tiered();
    let mut s = State::new(&m);
    engine::apply(&mut s, &m, &page("/pricing"), T0).unwrap();
    let before = s.clone();
    let bad = [
        page("pricing"),
        page(""),
        Event::Download {
            url: " ".to_string(),
        },
        Event::Answer {
            question: "".into(),
            value: Value::Text("x".into()),
        },
        Event::Answer {
            question: "q".into(),
            value: Value::Number(f64::NAN),
        },
        Event::FormSubmit {
            id: None,
            name: None,
        },
        Event::Engagement { seconds: -1.0 },
        Event::Engagement {
            seconds: f64::INFINITY,
        },
        Event::Custom {
            name: "".into(),
            properties: Entries::new(),
        },
    ];
    for e in &bad {
        let err = engine::apply(&mut s, &m, e, T0 + 1).unwrap_err();
        assert!(!err.message.is_empty(), "{e:?}");
    }
    assert_eq!(s, before);
    let err = engine::apply(&mut s, &m, &page("pricing"), T0).unwrap_err();
    assert_eq!(err.to_string(), "path: must start with \"/\"");
}

#[test]
fn events_from_the_log_deserialise_by_type() {
    let e: Event =
        serde_json::from_str(r#"{"type":"page_view","path":"/p","query":{"a":"b"}}"#).unwrap();
    assert_eq!(e, page_q("/p", &[("a", "b")]));
    let e: Event =
        serde_json::from_str(r#"{"type":"answer","question":"size","value":250}"#).unwrap();
    assert_eq!(
        e,
        Event::Answer {
            question: "size".into(),
            value: Value::Number(250.0)
        }
    );
    assert!(
        serde_json::from_str::<Event>(r#"{"type":"page_view","path":"/p","extra":1}"#).is_err()
    );
    assert!(serde_json::from_str::<Event>(r#"{"type":"teleport"}"#).is_err());
}

#[test]
fn out_of_order_events_never_move_time_backwards() {
    let m = tiered();
    let mut s = State::new(&m);
    engine::apply(&mut s, &m, &page("/pricing"), T0 + DAY).unwrap();
    engine::apply(&mut s, &m, &form_id("demo"), T0).unwrap();
    assert_eq!(s.last_seen, Some(T0 + DAY));
    let demo = engine::score(&s, &m, T0 + DAY);
    assert_eq!(
        demo.intent, 60.0,
        "the late event counts as of the last time seen"
    );
}

#[test]
fn state_round_trips_and_survives_a_model_change() {
    let m = tiered();
    let mut s = State::new(&m);
    engine::apply(&mut s, &m, &answer("role", "cto"), T0).unwrap();
    engine::apply(&mut s, &m, &page("/pricing"), T0 + 1).unwrap();
    engine::apply(&mut s, &m, &form_id("demo"), T0 + 2).unwrap();
    let text = s.to_json();
    let back = State::from_json(&text, &m).unwrap();
    assert_eq!(
        engine::score(&back, &m, T0 + DAY),
        engine::score(&s, &m, T0 + DAY)
    );

    // A new model version drops `pricing`, renames nothing else and adds a rule.
    let mut doc = m.model().clone();
    doc.rules.retain(|r| r.id != "pricing");
    let mut extra = doc.rules[0].clone();
    extra.id = "new-rule".into();
    doc.rules.insert(0, extra);
    doc.model_version = "2".into();
    let m2 = ValidModel::new(doc).unwrap();
    let migrated = State::from_json(&text, &m2).unwrap();
    let sc = engine::score(&migrated, &m2, T0 + 2);
    let rules: Vec<&str> = sc.contributions.iter().map(|c| c.rule).collect();
    assert_eq!(rules, vec!["demo-request", "quiz-exec"]);
    assert_eq!(sc.intent, 40.0);
}

#[test]
fn corrupt_or_foreign_state_is_refused() {
    let m = tiered();
    for text in [
        "",
        "null",
        "{",
        "[1,2]",
        r#"{"v":99,"rules":[]}"#,
        r#"{"v":1,"seconds":-5}"#,
        r#"{"v":1,"rules":[{"id":"x","held":"a"}]}"#,
    ] {
        assert!(State::from_json(text, &m).is_none(), "{text}");
    }
}

#[test]
fn state_size_is_bounded_whatever_the_visitor_does() {
    let m = model(
        json!([
            { "id": "exp", "when": { "page": { "path": "/**" } }, "dimension": "engagement", "points": 1, "frequency": "every_time", "decay": { "expires_after_days": 365 } },
            { "id": "win", "when": { "page": { "path": "/**" } }, "dimension": "intent", "points": 1, "frequency": { "at_most_per_window": { "times": 50, "days": 365 } } },
            { "id": "pages", "when": { "distinct_pages": { "at_least": 64 } }, "dimension": "fit", "points": 1 }
        ]),
        mql_at(1),
    );
    let mut s = State::new(&m);
    let mut sizes = Vec::new();
    for i in 0..5000i64 {
        engine::apply(&mut s, &m, &page(&format!("/p/{i}")), T0 + i * 60_000).unwrap();
        if i % 1000 == 999 {
            sizes.push(s.to_json().len());
        }
    }
    assert!(sizes.windows(2).all(|w| w[1] <= w[0] + 16), "{sizes:?}");
    assert!(s.to_json().len() < 4096, "{}", s.to_json().len());
    // Merged firings keep every point: 5000 firings within a year all count.
    assert_eq!(engine::score(&s, &m, T0 + 5000 * 60_000).engagement, 5000.0);
}

#[test]
fn example_models_are_valid_and_their_logs_reach_every_tier() {
    for (model_file, log) in [
        ("www/models/saas.json", "www/models/saas.events.jsonl"),
        (
            "www/models/wholesale.json",
            "www/models/wholesale.events.jsonl",
        ),
    ] {
        let m = ValidModel::from_json(&std::fs::read_to_string(model_file).unwrap())
            .unwrap_or_else(|e| panic!("{model_file}:\n{e}"));
        let mut reached: std::collections::BTreeSet<String> = Default::default();
        let mut states: BTreeMap<String, State> = BTreeMap::new();
        for line in std::fs::read_to_string(log)
            .unwrap()
            .lines()
            .filter(|l| !l.trim().is_empty())
        {
            let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
            let obj = v.as_object_mut().unwrap();
            let visitor = obj.remove("visitor").unwrap().as_str().unwrap().to_string();
            let ts = obj.remove("ts").unwrap();
            let ts = time_ms(ts.as_str().unwrap());
            let event: Event = serde_json::from_value(v).unwrap();
            let s = states.entry(visitor).or_insert_with(|| State::new(&m));
            reached.insert(engine::apply(s, &m, &event, ts).unwrap().tier.to_string());
        }
        for tier in m
            .model()
            .tiers
            .iter()
            .map(|t| t.name.as_str())
            .chain([UNQUALIFIED])
        {
            assert!(
                reached.contains(tier),
                "{log} never reaches {tier}: {reached:?}"
            );
        }
    }
}

/// Parses `YYYY-MM-DDTHH:MM:SSZ` (the format of the example logs).
fn time_ms(s: &str) -> Millis {
    let n = |a: usize, b: usize| s[a..b].parse::<i64>().unwrap();
    let (y, mo, d) = (n(0, 4), n(5, 7), n(8, 10));
    let (h, mi, se) = (n(11, 13), n(14, 16), n(17, 19));
    // Days from civil (Howard Hinnant's algorithm).
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    ((days * 24 + h) * 60 + mi) * 60_000 + se * 1000
}

/// One rule `r` (a form submission, 40 intent points) with the given frequency and decay.
fn one_rule(frequency: serde_json::Value, decay: serde_json::Value, points: i32) -> ValidModel {
    let mut rule = json!({ "id": "r", "when": { "form": { "id": "demo" } }, "dimension": "intent", "points": points });
    if !frequency.is_null() {
        rule["frequency"] = frequency;
    }
    if !decay.is_null() {
        rule["decay"] = decay;
    }
    model(
        json!([rule, { "id": "other", "when": { "page": { "path": "/x" } }, "dimension": "fit", "points": 1 }]),
        json!([{ "name": "SQL", "min": { "intent": 10 }, "requires": ["r"] }]),
    )
}

fn intent_at(s: &State, m: &ValidModel, at: Millis) -> f64 {
    engine::score(s, m, at).intent
}

#[test]
fn adding_decay_to_a_rule_keeps_the_points_already_earned() {
    let before = one_rule(serde_json::Value::Null, serde_json::Value::Null, 40);
    let half_life = one_rule(serde_json::Value::Null, json!({ "half_life_days": 10 }), 40);
    let expiring = one_rule(
        serde_json::Value::Null,
        json!({ "expires_after_days": 30 }),
        40,
    );
    let mut s = State::new(&before);
    engine::apply(&mut s, &before, &form_id("demo"), T0).unwrap();
    let stored = s.to_bytes();
    for path in ["in memory", "stored"] {
        let load = |m: &ValidModel| match path {
            "in memory" => s.clone(),
            _ => State::from_bytes(&stored, m).unwrap(),
        };
        // Half-life: the firing decays from when it happened.
        let mut h = load(&half_life);
        assert!(close(intent_at(&h, &half_life, T0), 40.0), "{path}");
        assert!(
            close(intent_at(&h, &half_life, T0 + 10 * DAY), 20.0),
            "{path}"
        );
        let sc = engine::apply(&mut h, &half_life, &page("/x"), T0 + DAY).unwrap();
        assert_eq!(sc.tier, "SQL", "{path}: still qualified a day later");
        // A `once` rule that fired does not fire again, and keeps its points.
        engine::apply(&mut h, &half_life, &form_id("demo"), T0 + 2 * DAY).unwrap();
        let c = engine::score(&h, &half_life, T0 + 10 * DAY);
        assert_eq!(c.contributions[0].times, 1, "{path}");
        assert!(close(c.intent, 20.0), "{path}");
        // Expiry: the firing counts in full until it expires.
        let e = load(&expiring);
        assert_eq!(intent_at(&e, &expiring, T0 + 29 * DAY), 40.0, "{path}");
        assert_eq!(intent_at(&e, &expiring, T0 + 31 * DAY), 0.0, "{path}");
    }
}

#[test]
fn changing_decay_frequency_or_points_carries_the_earned_firings_over() {
    let every = |decay: serde_json::Value, points| one_rule(json!("every_time"), decay, points);
    let expiring = every(json!({ "expires_after_days": 30 }), 10);
    let mut s = State::new(&expiring);
    for day in [0, 10, 20] {
        engine::apply(&mut s, &expiring, &form_id("demo"), T0 + day * DAY).unwrap();
    }
    assert_eq!(intent_at(&s, &expiring, T0 + 20 * DAY), 30.0);

    // Expiring → half-life: each firing decays from its own time.
    let halving = every(json!({ "half_life_days": 10 }), 10);
    let h = State::from_bytes(&s.to_bytes(), &halving).unwrap();
    assert!(close(
        intent_at(&h, &halving, T0 + 20 * DAY),
        10.0 * (0.25 + 0.5 + 1.0)
    ));
    // Half-life → no decay: every firing counts in full; → expiring: they expire with the last.
    let kept = every(serde_json::Value::Null, 10);
    let k = State::from_bytes(&h.to_bytes(), &kept).unwrap();
    assert_eq!(intent_at(&k, &kept, T0 + 400 * DAY), 30.0);
    let e = State::from_bytes(&h.to_bytes(), &expiring).unwrap();
    assert_eq!(intent_at(&e, &expiring, T0 + 49 * DAY), 30.0);
    assert_eq!(intent_at(&e, &expiring, T0 + 51 * DAY), 0.0);

    // New points apply to the firings earned; a tighter frequency cuts the count.
    let doubled = every(serde_json::Value::Null, 20);
    assert_eq!(intent_at(&k, &doubled, T0 + 20 * DAY), 60.0);
    let at_most_2 = one_rule(json!({ "at_most": 2 }), json!({ "half_life_days": 10 }), 10);
    let c = engine::score(&h, &at_most_2, T0 + 20 * DAY);
    assert_eq!(c.contributions[0].times, 2);
    assert!(c.intent <= 20.0 + 1e-9, "{}", c.intent);
    let mut a = h.clone();
    engine::apply(&mut a, &at_most_2, &form_id("demo"), T0 + 21 * DAY).unwrap();
    assert_eq!(
        engine::score(&a, &at_most_2, T0 + 21 * DAY).contributions[0].times,
        2
    );
    // A window frequency counts the last firing in its window.
    let weekly = one_rule(
        json!({ "at_most_per_window": { "times": 1, "days": 7 } }),
        serde_json::Value::Null,
        10,
    );
    let mut w = State::from_bytes(&k.to_bytes(), &weekly).unwrap();
    engine::apply(&mut w, &weekly, &form_id("demo"), T0 + 21 * DAY).unwrap();
    assert_eq!(
        intent_at(&w, &weekly, T0 + 21 * DAY),
        30.0,
        "within a week of the last firing"
    );
    engine::apply(&mut w, &weekly, &form_id("demo"), T0 + 28 * DAY).unwrap();
    assert_eq!(intent_at(&w, &weekly, T0 + 28 * DAY), 40.0);
}

#[test]
fn tick_never_moves_time_backwards() {
    let m = one_rule(
        serde_json::Value::Null,
        json!({ "expires_after_days": 30 }),
        40,
    );
    let mut s = State::new(&m);
    engine::apply(&mut s, &m, &form_id("demo"), T0).unwrap();
    let later = engine::tick(&mut s, &m, T0 + 31 * DAY);
    assert_eq!((later.previous_tier, later.tier), ("SQL", UNQUALIFIED));
    // The clock goes back ten days: what expired stays expired.
    let back = engine::tick(&mut s, &m, T0 + 21 * DAY);
    assert_eq!((back.intent, back.tier), (0.0, UNQUALIFIED));
    assert_eq!(engine::score(&s, &m, T0 + 21 * DAY).intent, 0.0);
    let sc = engine::apply(&mut s, &m, &page("/x"), T0 + 22 * DAY).unwrap();
    assert_eq!((sc.intent, sc.tier), (0.0, UNQUALIFIED));
    // And the clock survives storage.
    let stored = State::from_bytes(&s.to_bytes(), &m).unwrap();
    assert_eq!(engine::score(&stored, &m, T0 + 21 * DAY).intent, 0.0);
}

#[test]
fn score_reads_a_state_kept_for_another_model_by_rule_id() {
    let a = model(
        json!([
            { "id": "fit", "when": { "answer": { "question": "role", "equals": "cto" } }, "dimension": "fit", "points": 20 },
            { "id": "demo", "when": { "form": { "id": "demo" } }, "dimension": "intent", "points": 40 }
        ]),
        mql_at(1),
    );
    let mut s = State::new(&a);
    engine::apply(&mut s, &a, &form_id("demo"), T0).unwrap();
    // Version 2 puts a new rule first and drops `fit`: the state is not aligned to it.
    let b = model(
        json!([
            { "id": "pricing", "when": { "page": { "path": "/pricing" } }, "dimension": "engagement", "points": 5 },
            { "id": "demo", "when": { "form": { "id": "demo" } }, "dimension": "intent", "points": 40, "decay": { "half_life_days": 10 } }
        ]),
        mql_at(1),
    );
    let sc = engine::score(&s, &b, T0 + 10 * DAY);
    let rules: Vec<&str> = sc.contributions.iter().map(|c| c.rule).collect();
    assert_eq!(rules, vec!["demo"]);
    assert!(close(sc.intent, 20.0) && sc.engagement == 0.0, "{sc:?}");
    let mut aligned = s.clone();
    aligned.align(&b);
    assert_eq!(sc, engine::score(&aligned, &b, T0 + 10 * DAY));
}

#[test]
fn state_of_format_1_is_read_with_its_points() {
    let m = tiered();
    // Format 1 kept a half-life rule's decayed points (not firings) and had no clock.
    let v1 = json!({ "v": 1, "first_seen": T0, "last_seen": T0, "visits": 1, "rules": [
        { "id": "demo-request", "count": 1, "last": T0, "held": 40.0, "held_at": T0 },
        { "id": "quiz-exec", "count": 1, "last": T0 }
    ]});
    let s = State::from_json(&v1.to_string(), &m).unwrap();
    let sc = engine::score(&s, &m, T0);
    assert_eq!((sc.intent, sc.fit, sc.tier), (40.0, 20.0, "SQL"));
    assert!(close(engine::score(&s, &m, T0 + 7 * DAY).intent, 20.0));
    assert_eq!(s.format, leadscore::engine::STATE_FORMAT);
    // The same in bytes: format byte 1, no clock.
    let mut bytes = vec![1u8];
    let opt = |b: &mut Vec<u8>, v: Option<i64>| match v {
        Some(t) => {
            b.push(1);
            b.extend_from_slice(&t.to_le_bytes());
        }
        None => b.push(0),
    };
    opt(&mut bytes, Some(T0));
    opt(&mut bytes, Some(T0));
    bytes.extend_from_slice(&1u32.to_le_bytes()); // visits
    bytes.extend_from_slice(&0f64.to_le_bytes()); // seconds
    bytes.extend_from_slice(&0u16.to_le_bytes()); // pages
    bytes.push(0); // tier
    bytes.extend_from_slice(&1u16.to_le_bytes());
    bytes.extend_from_slice(&12u16.to_le_bytes());
    bytes.extend_from_slice(b"demo-request");
    bytes.extend_from_slice(&1u32.to_le_bytes()); // count
    bytes.extend_from_slice(&0u32.to_le_bytes()); // progress
    opt(&mut bytes, Some(T0)); // last
    bytes.extend_from_slice(&0u16.to_le_bytes()); // window
    bytes.extend_from_slice(&40f64.to_le_bytes()); // held
    bytes.extend_from_slice(&T0.to_le_bytes()); // held_at
    bytes.extend_from_slice(&0u16.to_le_bytes()); // firings
    let s = State::from_bytes(&bytes, &m).unwrap();
    assert_eq!(engine::score(&s, &m, T0).intent, 40.0);
}

/// The demo model: a CTO of a 100-person company requests a demo, and looks at a page a second
/// later. The tier must not flap back.
#[test]
fn the_demo_model_does_not_flap_after_a_demo_request() {
    let m =
        ValidModel::from_json(&std::fs::read_to_string("www/models/saas.json").unwrap()).unwrap();
    let mut s = State::new(&m);
    let mut changes = Vec::new();
    let steps = [
        (T0, answer("role", "cto")),
        (T0 + 1000, answer("company_size", "100")),
        (T0 + 2000, form_id("demo-request")),
        (T0 + 3000, page("/")),
        (T0 + 4000, page("/docs/")),
    ];
    for (t, e) in &steps {
        let sc = engine::apply(&mut s, &m, e, *t).unwrap();
        if sc.changed() {
            changes.push((sc.previous_tier.to_string(), sc.tier.to_string()));
        }
    }
    assert_eq!(changes, vec![(UNQUALIFIED.to_string(), "SQL".to_string())]);
    assert_eq!(
        engine::tick(&mut s, &m, T0 + DAY).tier,
        "SQL",
        "a day later"
    );
}

/// Found by the `state` fuzz target: stored state with an empty firing entry, or with firing
/// counts whose sum overflows, read differently the second time (the empty entry was dropped
/// after deciding the rule kept its firings; the overflowing sum cut too few).
#[test]
fn stored_state_reads_back_as_it_was_read() {
    let expiring = one_rule(
        serde_json::Value::Null,
        json!({ "expires_after_days": 30 }),
        40,
    );
    let halving = one_rule(serde_json::Value::Null, json!({ "half_life_days": 30 }), 40);
    // And firing counts whose sum overflows a u32 were cut short of the rule's count.
    let overflowing = [[0, 2_147_483_648u64], [0, 3_594_387_456], [T0 as u64, 1]];
    for firings in [json!([[T0, 0]]), json!(overflowing)] {
        let text = json!({ "v": 2, "last_seen": T0, "rules": [
            { "id": "r", "count": 1, "last": T0, "firings": firings }
        ]})
        .to_string();
        for m in [&expiring, &halving] {
            let s = State::from_json(&text, m).unwrap();
            assert_eq!(
                State::from_bytes(&s.to_bytes(), m).as_ref(),
                Some(&s),
                "{text}"
            );
            assert_eq!(
                intent_at(&s, m, T0),
                40.0,
                "the firing counted still counts"
            );
        }
    }
}

#[test]
fn advance_is_apply_without_the_explanation() {
    let m =
        ValidModel::from_json(&std::fs::read_to_string("www/models/saas.json").unwrap()).unwrap();
    let log = std::fs::read_to_string("www/models/saas.events.jsonl").unwrap();
    let (mut explained, mut quiet) = (State::new(&m), State::new(&m));
    for (i, line) in log.lines().enumerate() {
        let Ok(event) = serde_json::from_str::<Event>(line) else {
            continue;
        };
        let now = T0 + i as i64 * 3_600_000;
        let a = engine::apply(&mut explained, &m, &event, now).unwrap();
        let b = engine::advance(&mut quiet, &m, &event, now).unwrap();
        assert!(b.contributions.is_empty());
        assert_eq!(
            Score {
                contributions: Vec::new(),
                ..a.clone()
            },
            b
        );
        assert_eq!(explained, quiet, "the same state either way");
        assert_eq!(
            engine::score(&quiet, &m, now),
            a,
            "score explains it afterwards"
        );
    }
}

fn custom(name: &str) -> Event {
    Event::Custom {
        name: name.into(),
        properties: Entries::new(),
    }
}

fn points_of(s: &State, m: &ValidModel, at: Millis, rule: &str) -> f64 {
    engine::score(s, m, at)
        .contributions
        .iter()
        .find(|c| c.rule == rule)
        .map_or(0.0, |c| c.points)
}

#[test]
fn query_conditions_absent_and_other_than() {
    let m = model(
        json!([
            { "id": "no-source", "when": { "page": { "path": "/", "query": { "utm_source": { "absent": true } } } },
              "dimension": "intent", "points": 1, "frequency": "every_time" },
            { "id": "other-source", "when": { "page": { "path": "/", "query": { "utm_source": { "other_than": ["google", "LinkedIn"] } } } },
              "dimension": "intent", "points": 10, "frequency": "every_time" },
            { "id": "linkedin", "when": { "page": { "path": "/", "query": { "utm_source": "linkedin" } } },
              "dimension": "intent", "points": 100, "frequency": "every_time" }
        ]),
        mql_at(1),
    );
    let total = |q: &[(&str, &str)]| total_after(&m, &[(T0, page_q("/", q))], T0);
    assert_eq!(total(&[]), 1.0, "absent");
    assert_eq!(total(&[("other", "x")]), 1.0, "another parameter only");
    assert_eq!(total(&[("utm_source", "bing")]), 10.0, "any other value");
    assert_eq!(total(&[("utm_source", "GOOGLE")]), 0.0, "listed, any case");
    assert_eq!(
        total(&[("utm_source", "linkedin")]),
        100.0,
        "the plain form still works"
    );
    assert_eq!(
        total_after(&m, &[(T0, page_q("/x", &[]))], T0),
        0.0,
        "path still counts"
    );
}

/// An `all` of answers counts while every answer holds, exactly as the answer rules of the
/// same conditions would all be active, and is taken back when one answer changes.
#[test]
fn an_all_of_answers_counts_while_every_answer_holds() {
    let m = model(
        json!([
            { "id": "cto-large", "when": { "all": [
                { "answer": { "question": "role", "one_of": ["cto", "founder"] } },
                { "answer": { "question": "size", "min": 50 } } ] },
              "dimension": "fit", "points": 30 },
            { "id": "role", "when": { "answer": { "question": "role", "equals": "student" } },
              "dimension": "fit", "points": -5 }
        ]),
        mql_at(30),
    );
    let mut s = State::new(&m);
    let num = |v: f64| Event::Answer {
        question: "Size".into(),
        value: Value::<String>::Number(v),
    };
    engine::apply(&mut s, &m, &answer("role", "CTO"), T0).unwrap();
    assert_eq!(
        points_of(&s, &m, T0, "cto-large"),
        0.0,
        "one answer is not enough"
    );
    let sc = engine::apply(&mut s, &m, &num(80.0), T0 + 1).unwrap();
    assert_eq!(sc.fit, 30.0);
    assert_eq!(sc.tier, "MQL");
    // Answering again with a value that still holds changes nothing; firing counts once.
    engine::apply(&mut s, &m, &answer("role", "founder"), T0 + 2).unwrap();
    assert_eq!(s.rules[0].count, 1);
    // Another answer to one question takes the rule back ...
    let sc = engine::apply(&mut s, &m, &answer("role", "student"), T0 + 3).unwrap();
    assert_eq!(sc.fit, -5.0);
    assert_eq!(s.rules[0].count, 0);
    // ... and a matching one brings it back.
    engine::apply(&mut s, &m, &answer("role", "cto"), T0 + 4).unwrap();
    assert_eq!(engine::score(&s, &m, T0 + 4).fit, 30.0);
    let sc = engine::apply(&mut s, &m, &num(10.0), T0 + 5).unwrap();
    assert_eq!(sc.fit, 0.0);
    // Explanations name the rule as usual; the state keeps the answers it needs, and only those.
    engine::apply(&mut s, &m, &num(51.0), T0 + 6).unwrap();
    let sc = engine::score(&s, &m, T0 + 6);
    assert_eq!(sc.contributions[0].rule, "cto-large");
    assert_eq!(s.answers.len(), 2);
    let back = State::from_bytes(&s.to_bytes(), &m).unwrap();
    assert_eq!(back, s);
    assert_eq!(State::from_json(&s.to_json(), &m).unwrap(), s);
}

/// Aggregates in an `all` are read from the state: the rule fires once when the last part
/// comes to hold, whichever event brings it.
#[test]
fn an_all_with_aggregates_fires_once_when_it_becomes_true() {
    let m = model(
        json!([
            { "id": "engaged-cto", "when": { "all": [
                { "answer": { "question": "role", "equals": "cto" } },
                { "visits": { "at_least": 2 } },
                { "time_on_site": { "at_least_seconds": 60 } },
                { "page_views": { "path": "/docs/**", "at_least": 2 } } ] },
              "dimension": "engagement", "points": 25 }
        ]),
        mql_at(25),
    );
    let mut s = State::new(&m);
    let eng = Event::<String>::Engagement { seconds: 90.0 };
    engine::apply(&mut s, &m, &page("/docs/a"), T0).unwrap();
    engine::apply(&mut s, &m, &answer("role", "cto"), T0 + 1).unwrap();
    engine::apply(&mut s, &m, &eng, T0 + 2).unwrap();
    engine::apply(&mut s, &m, &page("/docs/b"), T0 + 3).unwrap();
    assert_eq!(s.rules[0].count, 0, "one visit so far");
    let sc = engine::apply(&mut s, &m, &page("/"), T0 + DAY).unwrap();
    assert_eq!(sc.engagement, 25.0, "the second visit completes it");
    engine::apply(&mut s, &m, &page("/"), T0 + 3 * DAY).unwrap();
    assert_eq!(s.rules[0].count, 1, "counts once");
}

/// An `all` with a momentary condition fires on each matching event while the state-like
/// conditions hold, with the rule's frequency and decay.
#[test]
fn an_all_with_an_event_fires_on_matching_events_while_the_rest_holds() {
    let m = model(
        json!([
            { "id": "pricing-cto", "when": { "all": [
                { "page": { "path": "/pricing" } },
                { "answer": { "question": "role", "equals": "cto" } } ] },
              "dimension": "intent", "points": 10,
              "frequency": { "at_most": 2 }, "decay": { "half_life_days": 1 } }
        ]),
        mql_at(10),
    );
    let mut s = State::new(&m);
    engine::apply(&mut s, &m, &page("/pricing"), T0).unwrap();
    assert_eq!(s.rules[0].count, 0, "no answer yet");
    engine::apply(&mut s, &m, &answer("role", "cto"), T0 + 1).unwrap();
    assert_eq!(s.rules[0].count, 0, "the answer alone does not fire it");
    engine::apply(&mut s, &m, &page("/about"), T0 + 2).unwrap();
    assert_eq!(s.rules[0].count, 0);
    engine::apply(&mut s, &m, &page("/pricing"), T0 + 3).unwrap();
    engine::apply(&mut s, &m, &page("/pricing"), T0 + 4).unwrap();
    engine::apply(&mut s, &m, &page("/pricing"), T0 + 5).unwrap();
    assert_eq!(s.rules[0].count, 2, "at most 2");
    assert!((points_of(&s, &m, T0 + 4 + DAY, "pricing-cto") - 10.0).abs() < 1e-6);
    // A changed answer does not take back what was earned (momentary rules are not retracted)
    // but stops further firings.
    let m2 = model(
        json!([
            { "id": "demo-cto", "when": { "all": [
                { "form": { "id": "demo" } },
                { "answer": { "question": "role", "equals": "cto" } } ] },
              "dimension": "intent", "points": 10, "frequency": "every_time" }
        ]),
        mql_at(10),
    );
    let mut s = State::new(&m2);
    engine::apply(&mut s, &m2, &answer("role", "cto"), T0).unwrap();
    engine::apply(&mut s, &m2, &form_id("demo"), T0 + 1).unwrap();
    engine::apply(&mut s, &m2, &answer("role", "student"), T0 + 2).unwrap();
    engine::apply(&mut s, &m2, &form_id("demo"), T0 + 3).unwrap();
    assert_eq!(engine::score(&s, &m2, T0 + 3).intent, 10.0);
}

#[test]
fn any_fires_when_any_branch_would() {
    let m = model(
        json!([
            { "id": "senior", "when": { "any": [
                { "answer": { "question": "role", "equals": "cto" } },
                { "answer": { "question": "seniority", "equals": "vp" } } ] },
              "dimension": "fit", "points": 20 },
            { "id": "hand-raiser", "when": { "any": [
                { "form": { "id": "demo" } },
                { "event": { "name": "trial_started" } },
                { "download": { "extensions": ["pdf"] } } ] },
              "dimension": "intent", "points": 5, "frequency": "every_time" }
        ]),
        mql_at(20),
    );
    let mut s = State::new(&m);
    engine::apply(&mut s, &m, &answer("seniority", "vp"), T0).unwrap();
    engine::apply(&mut s, &m, &answer("role", "cto"), T0 + 1).unwrap();
    assert_eq!(s.rules[0].count, 1);
    engine::apply(&mut s, &m, &answer("seniority", "ic"), T0 + 2).unwrap();
    assert_eq!(s.rules[0].count, 1, "the other branch still holds");
    engine::apply(&mut s, &m, &answer("role", "student"), T0 + 3).unwrap();
    assert_eq!(s.rules[0].count, 0, "no branch holds");
    engine::apply(&mut s, &m, &form_id("demo"), T0 + 4).unwrap();
    engine::apply(&mut s, &m, &custom("trial_started"), T0 + 5).unwrap();
    engine::apply(
        &mut s,
        &m,
        &Event::<String>::Download {
            url: "/a.pdf".into(),
        },
        T0 + 6,
    )
    .unwrap();
    engine::apply(&mut s, &m, &custom("other"), T0 + 7).unwrap();
    assert_eq!(s.rules[1].count, 3);
    assert!(engine::is_download(&m, "https://x.com/b.PDF"));
    assert!(!engine::is_download(&m, "/b.zip"));
}

/// `s` in the byte form of state format 3 (rule ids as text) or 2 (also without answers), as
/// browsers kept it before; `ids` are the ids of `s.rules`, in order.
fn legacy_bytes(s: &State, format: u8, ids: &[&str]) -> Vec<u8> {
    fn optional(out: &mut Vec<u8>, v: Option<i64>) {
        match v {
            Some(t) => {
                out.push(1);
                out.extend(t.to_le_bytes());
            }
            None => out.push(0),
        }
    }
    fn text(out: &mut Vec<u8>, t: &str) {
        out.extend((t.len() as u16).to_le_bytes());
        out.extend(t.as_bytes());
    }
    assert_eq!(s.rules.len(), ids.len());
    let mut out = vec![format];
    for t in [s.first_seen, s.last_seen, s.clock] {
        optional(&mut out, t);
    }
    out.extend(s.visits.to_le_bytes());
    out.extend(s.seconds.to_le_bytes());
    out.extend((s.pages.len() as u16).to_le_bytes());
    for p in &s.pages {
        out.extend(p.to_le_bytes());
    }
    out.push(u8::from(s.tier.is_some()));
    if let Some(t) = &s.tier {
        text(&mut out, t);
    }
    out.extend((s.rules.len() as u16).to_le_bytes());
    for (r, id) in s.rules.iter().zip(ids) {
        assert_eq!(r.id_hash, engine::id_hash(id));
        text(&mut out, id);
        out.extend(r.count.to_le_bytes());
        out.extend(r.progress.to_le_bytes());
        optional(&mut out, r.last);
        out.extend((r.window.len() as u16).to_le_bytes());
        for t in &r.window {
            out.extend(t.to_le_bytes());
        }
        out.extend(r.held.to_le_bytes());
        out.extend(r.held_at.to_le_bytes());
        out.extend((r.firings.len() as u16).to_le_bytes());
        for (t, n) in &r.firings {
            out.extend(t.to_le_bytes());
            out.extend(n.to_le_bytes());
        }
    }
    assert!(s.answers.is_empty(), "answers are not written here");
    if format == 3 {
        out.extend(0u16.to_le_bytes());
    }
    out
}

/// State kept before compound rules (format 2) still loads; a model version that adds a
/// compound rule keeps every other rule's state and reads only answers given from then on.
#[test]
fn compound_rules_carry_over_across_model_versions_and_state_formats() {
    let m1 = model(
        json!([
            { "id": "cto", "when": { "answer": { "question": "role", "equals": "cto" } },
              "dimension": "fit", "points": 10 }
        ]),
        mql_at(10),
    );
    let mut s = State::new(&m1);
    engine::apply(&mut s, &m1, &answer("role", "cto"), T0).unwrap();
    // Format 3: rule ids as text; format 2: also without the answers list.
    for format in [3, 2] {
        let old = legacy_bytes(&s, format, &["cto"]);
        let back = State::from_bytes(&old, &m1).unwrap();
        assert_eq!(engine::score(&back, &m1, T0).fit, 10.0, "format {format}");
        assert_eq!(back, s, "format {format}");
    }
    let mut json2: serde_json::Value = serde_json::from_str(&s.to_json()).unwrap();
    json2["v"] = json!(2);
    assert!(State::from_json(&json2.to_string(), &m1).is_some());

    let m2 = model(
        json!([
            { "id": "cto", "when": { "answer": { "question": "role", "equals": "cto" } },
              "dimension": "fit", "points": 10 },
            { "id": "cto-big", "when": { "all": [
                { "answer": { "question": "role", "equals": "cto" } },
                { "answer": { "question": "size", "min": 100 } } ] },
              "dimension": "fit", "points": 5 }
        ]),
        mql_at(10),
    );
    let mut s2 = State::from_bytes(&s.to_bytes(), &m2).unwrap();
    assert_eq!(engine::score(&s2, &m2, T0).fit, 10.0);
    let size = Event::<String>::Answer {
        question: "size".into(),
        value: Value::Number(500.0),
    };
    engine::apply(&mut s2, &m2, &size, T0 + 1).unwrap();
    assert_eq!(
        s2.rules[1].count, 0,
        "the role was answered before the rule existed"
    );
    engine::apply(&mut s2, &m2, &answer("role", "cto"), T0 + 2).unwrap();
    assert_eq!(engine::score(&s2, &m2, T0 + 2).fit, 15.0);
    // Back to the first model: the compound rule and its answers are dropped.
    let s3 = State::from_bytes(&s2.to_bytes(), &m1).unwrap();
    assert!(s3.answers.is_empty());
    assert_eq!(engine::score(&s3, &m1, T0 + 3).fit, 10.0);
}
