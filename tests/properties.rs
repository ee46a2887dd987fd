//! Property tests: limits hold, decay never raises a score, once-rules count once, state survives
//! a round trip, results are deterministic, and no model or event input makes anything panic;
//! state kept under one model continues under the next version of it (rules changed, reordered
//! or dropped) with the firings it earned, in memory and through storage alike.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use leadscore::engine::{self, Event, Millis, State, Value};
use leadscore::model::{
    binary, Bounds, Decay, Dimension, Entries, Frequency, Limits, Matcher, Model, QueryCondition,
    QueryTest, Rule, Thresholds, Tier, ValidModel,
};
use proptest::prelude::*;

const T0: Millis = 1_790_000_000_000;
const PATHS: [&str; 6] = [
    "/",
    "/pricing",
    "/docs/a",
    "/docs/b/c",
    "/blog/x",
    "/careers",
];
const PATTERNS: [&str; 6] = [
    "/pricing",
    "/docs/**",
    "/blog/*",
    "/**",
    "/careers/**",
    "/x/*/y",
];
const QUESTIONS: [&str; 2] = ["role", "size"];
const ANSWERS: [&str; 5] = ["cto", "student", "12", "250", "ceo"];
const FORMS: [&str; 3] = ["demo", "quiz", "newsletter"];

fn dimension() -> impl Strategy<Value = Dimension> {
    prop::sample::select(Dimension::ALL.to_vec())
}

fn frequency() -> impl Strategy<Value = Frequency> {
    prop_oneof![
        Just(Frequency::Once),
        Just(Frequency::EveryTime),
        (1u32..5).prop_map(Frequency::AtMost),
        (1u32..4, 1u32..10).prop_map(|(times, days)| Frequency::AtMostPerWindow {
            times,
            days: f64::from(days)
        }),
    ]
}

fn decay() -> impl Strategy<Value = Decay> {
    prop_oneof![
        Just(Decay::Never),
        (1u32..60).prop_map(|d| Decay::HalfLifeDays(f64::from(d))),
        (1u32..60).prop_map(|d| Decay::ExpiresAfterDays(f64::from(d))),
    ]
}

/// A query condition on `utm_source`: a value, any value, absent, or other than some values.
fn query() -> impl Strategy<Value = Entries<QueryCondition>> {
    prop_oneof![
        Just(Entries::new()),
        Just(Entries::from([(
            "utm_source".to_string(),
            QueryCondition::from("ads")
        )])),
        Just(Entries::from([(
            "utm_source".to_string(),
            QueryCondition::from("*")
        )])),
        Just(Entries::from([(
            "utm_source".to_string(),
            QueryCondition::Test(QueryTest::Absent(true))
        )])),
        Just(Entries::from([(
            "utm_source".to_string(),
            QueryCondition::Test(QueryTest::OtherThan(vec!["ads".into(), "mail".into()]))
        )])),
    ]
}

/// A condition read from the visitor's state: an answer or an aggregate.
fn state_part() -> impl Strategy<Value = Matcher> {
    prop_oneof![
        (
            prop::sample::select(QUESTIONS.to_vec()),
            prop::sample::select(ANSWERS.to_vec())
        )
            .prop_map(|(q, a)| Matcher::Answer {
                question: q.into(),
                equals: Some(a.into()),
                one_of: None,
                min: None,
                max: None
            }),
        prop::sample::select(QUESTIONS.to_vec()).prop_map(|q| Matcher::Answer {
            question: q.into(),
            equals: None,
            one_of: None,
            min: Some(10.0),
            max: Some(300.0)
        }),
        (1u32..4).prop_map(|n| Matcher::Visits { at_least: n }),
        (1u32..5).prop_map(|n| Matcher::DistinctPages { at_least: n }),
        (1u32..600).prop_map(|n| Matcher::TimeOnSite {
            at_least_seconds: n
        }),
    ]
}

/// A condition that holds for one event.
fn momentary_part() -> impl Strategy<Value = Matcher> {
    prop_oneof![
        (prop::sample::select(PATTERNS.to_vec()), query()).prop_map(|(p, query)| Matcher::Page {
            path: p.into(),
            query
        }),
        prop::sample::select(FORMS.to_vec()).prop_map(|f| Matcher::Form {
            id: Some(f.into()),
            name: None
        }),
        Just(Matcher::Event {
            name: "feature_used".into(),
            properties: Entries::new()
        }),
        Just(Matcher::Download {
            url: None,
            extensions: vec!["pdf".into()]
        }),
    ]
}

fn compound() -> impl Strategy<Value = Matcher> {
    prop_oneof![
        prop::collection::vec(state_part(), 2..4).prop_map(Matcher::All),
        (prop::collection::vec(state_part(), 1..3), momentary_part()).prop_map(|(mut parts, m)| {
            parts.insert(0, m);
            Matcher::All(parts)
        }),
        prop::collection::vec(state_part(), 2..4).prop_map(Matcher::Any),
        prop::collection::vec(momentary_part(), 2..3).prop_map(Matcher::Any),
    ]
}

fn matcher() -> impl Strategy<Value = Matcher> {
    prop_oneof![
        compound(),
        (prop::sample::select(PATTERNS.to_vec()), query()).prop_map(|(p, query)| Matcher::Page {
            path: p.into(),
            query
        }),
        prop::sample::select(PATTERNS.to_vec()).prop_map(|p| Matcher::Download {
            url: Some(p.into()),
            extensions: vec!["pdf".into()]
        }),
        (
            prop::sample::select(QUESTIONS.to_vec()),
            prop::sample::select(ANSWERS.to_vec())
        )
            .prop_map(|(q, a)| Matcher::Answer {
                question: q.into(),
                equals: Some(a.into()),
                one_of: None,
                min: None,
                max: None
            }),
        prop::sample::select(QUESTIONS.to_vec()).prop_map(|q| Matcher::Answer {
            question: q.into(),
            equals: None,
            one_of: None,
            min: Some(10.0),
            max: Some(300.0)
        }),
        prop::sample::select(FORMS.to_vec()).prop_map(|f| Matcher::Form {
            id: Some(f.into()),
            name: None
        }),
        Just(Matcher::Event {
            name: "feature_used".into(),
            properties: Entries::new()
        }),
        (1u32..4).prop_map(|n| Matcher::Visits { at_least: n }),
        (1u32..5).prop_map(|n| Matcher::DistinctPages { at_least: n }),
        (1u32..4).prop_map(|n| Matcher::PageViews {
            path: "/docs/**".into(),
            at_least: n
        }),
        (1u32..600).prop_map(|n| Matcher::TimeOnSite {
            at_least_seconds: n
        }),
        (1u32..10).prop_map(|d| Matcher::ReturnVisit {
            within_days: f64::from(d)
        }),
    ]
}

fn rule(i: usize, points: std::ops::Range<i32>) -> impl Strategy<Value = Rule> {
    (matcher(), dimension(), points, frequency(), decay()).prop_map(
        move |(when, dimension, points, frequency, decay)| {
            let counts_once = when.counts_once();
            Rule {
                id: format!("r{i}"),
                description: None,
                when,
                dimension,
                points,
                frequency: if counts_once {
                    Frequency::Once
                } else {
                    frequency
                },
                decay,
                evidence: None,
            }
        },
    )
}

/// A new version of `model`: some rules with another decay, frequency or points, the rules in
/// reverse order or one dropped.
fn next_version(model: ValidModel) -> impl Strategy<Value = (ValidModel, ValidModel)> {
    let n = model.rules().len();
    let changes = prop::collection::vec(
        (
            prop::option::of(decay()),
            prop::option::of(frequency()),
            prop::option::of(-50i32..50),
        ),
        n,
    );
    (Just(model), changes, 0u8..3, any::<prop::sample::Index>()).prop_filter_map(
        "the next version must validate",
        |(a, changes, reshape, drop)| {
            let mut doc = a.model().clone();
            for (rule, (decay, frequency, points)) in doc.rules.iter_mut().zip(changes) {
                let counts_once = rule.when.counts_once();
                rule.decay = decay.unwrap_or(rule.decay);
                if !counts_once {
                    rule.frequency = frequency.unwrap_or(rule.frequency);
                }
                rule.points = points.unwrap_or(rule.points);
            }
            match reshape {
                1 => doc.rules.reverse(),
                2 if doc.rules.len() > 1 => {
                    doc.rules.remove(drop.index(doc.rules.len()));
                }
                _ => {}
            }
            doc.model_version = "2".into();
            let b = ValidModel::new(doc).ok()?;
            Some((a, b))
        },
    )
}

fn bounds() -> impl Strategy<Value = Option<Bounds>> {
    prop::option::of((-40i32..0, 0i32..60).prop_map(|(lo, hi)| Bounds {
        min: Some(f64::from(lo)),
        max: Some(f64::from(hi)),
    }))
}

fn model_with(points: std::ops::Range<i32>) -> impl Strategy<Value = ValidModel> {
    let rules = (1usize..12)
        .prop_flat_map(move |n| (0..n).map(|i| rule(i, points.clone())).collect::<Vec<_>>());
    (rules, bounds(), bounds(), bounds(), any::<bool>()).prop_filter_map(
        "model must validate",
        |(rules, fit, intent, total, allow_demotion)| {
            let model = Model {
                schema: None,
                version: 1,
                id: "p".into(),
                model_version: "1".into(),
                description: None,
                session_timeout_minutes: None,
                rules,
                limits: Limits {
                    fit,
                    engagement: None,
                    intent,
                    product: None,
                    total,
                },
                tiers: vec![
                    Tier {
                        name: "SQL".into(),
                        min: Thresholds {
                            intent: Some(10.0),
                            ..Thresholds::default()
                        },
                        max: Thresholds::default(),
                        requires: vec![],
                        evidence: None,
                    },
                    Tier {
                        name: "MQL".into(),
                        min: Thresholds {
                            total: Some(1.0),
                            ..Thresholds::default()
                        },
                        max: Thresholds::default(),
                        requires: vec![],
                        evidence: None,
                    },
                ],
                allow_demotion,
                calibration: None,
                training: None,
            };
            ValidModel::new(model).ok()
        },
    )
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        (
            prop::sample::select(PATHS.to_vec()),
            prop::sample::select(vec!["", "ads", "ADS", "mail", "news"])
        )
            .prop_map(|(p, source)| Event::PageView {
                path: p.into(),
                query: if source.is_empty() {
                    Entries::new()
                } else {
                    Entries::from([("utm_source".to_string(), source.to_string())])
                }
            }),
        prop::sample::select(PATHS.to_vec()).prop_map(|p| Event::Download {
            url: format!("{p}/file.pdf")
        }),
        (
            prop::sample::select(QUESTIONS.to_vec()),
            prop::sample::select(ANSWERS.to_vec())
        )
            .prop_map(|(q, a)| Event::Answer {
                question: q.into(),
                value: Value::Text(a.into())
            }),
        prop::sample::select(FORMS.to_vec()).prop_map(|f| Event::FormSubmit {
            id: Some(f.into()),
            name: None
        }),
        Just(Event::Custom {
            name: "feature_used".into(),
            properties: Entries::new()
        }),
        (0u32..400).prop_map(|s| Event::Engagement {
            seconds: f64::from(s)
        }),
    ]
}

/// Events with gaps from seconds to weeks.
fn timeline() -> impl Strategy<Value = Vec<(Millis, Event)>> {
    prop::collection::vec((0i64..(14 * 86_400_000), event()), 0..40).prop_map(|steps| {
        let mut t = T0;
        steps
            .into_iter()
            .map(|(gap, e)| {
                t += gap / 7; // most gaps short, some long
                (t, e)
            })
            .collect()
    })
}

fn run(model: &ValidModel, events: &[(Millis, Event)]) -> State {
    let mut state = State::new(model);
    for (t, e) in events {
        engine::apply(&mut state, model, e, *t).unwrap();
    }
    state
}

fn end(events: &[(Millis, Event)]) -> Millis {
    events.last().map_or(T0, |(t, _)| *t)
}

/// A model of the answer rules of `parts` and, last, the `all` of them.
fn answers_and_their_all(parts: &[Matcher]) -> Option<ValidModel> {
    let rule = |i: usize, when: Matcher| Rule {
        id: format!("r{i}"),
        description: None,
        when,
        dimension: Dimension::Fit,
        points: 1,
        frequency: Frequency::Once,
        decay: Decay::Never,
        evidence: None,
    };
    let mut rules: Vec<Rule> = parts
        .iter()
        .enumerate()
        .map(|(i, p)| rule(i, p.clone()))
        .collect();
    rules.push(rule(parts.len(), Matcher::All(parts.to_vec())));
    ValidModel::new(Model {
        schema: None,
        version: 1,
        id: "p".into(),
        model_version: "1".into(),
        description: None,
        session_timeout_minutes: None,
        rules,
        limits: Limits::default(),
        tiers: vec![Tier {
            name: "MQL".into(),
            min: Thresholds {
                total: Some(1.0),
                ..Thresholds::default()
            },
            max: Thresholds::default(),
            requires: vec![],
            evidence: None,
        }],
        allow_demotion: true,
        calibration: None,
        training: None,
    })
    .ok()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// An `all` of answers (and aggregates) counts exactly when the rules of its conditions
    /// would all count, after every event.
    #[test]
    fn an_all_counts_exactly_when_each_of_its_conditions_would(
        parts in prop::collection::vec(state_part(), 2..4),
        events in timeline(),
    ) {
        let Some(model) = answers_and_their_all(&parts) else { return Ok(()) };
        let mut state = State::new(&model);
        for (t, e) in &events {
            engine::apply(&mut state, &model, e, *t).unwrap();
            let each = state.rules[..parts.len()].iter().all(|r| r.count > 0);
            prop_assert_eq!(state.rules[parts.len()].count > 0, each, "after {:?}", e);
        }
    }

    /// The compiled form keeps everything the engine reads, compound rules and query
    /// conditions included.
    #[test]
    fn compiled_models_read_back_as_written(model in model_with(-50..50)) {
        let back = binary::read(&binary::write(&model).unwrap()).unwrap();
        prop_assert_eq!(back.model(), model.model());
        prop_assert_eq!(back.rule_key(), model.rule_key());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn scores_stay_within_limits(model in model_with(-50..50), events in timeline(), later in 0i64..(100 * 86_400_000)) {
        let state = run(&model, &events);
        let s = engine::score(&state, &model, end(&events) + later);
        let m = model.model();
        for d in Dimension::ALL {
            if let Some(b) = m.limits.of(d) {
                let v = s.dimension(d);
                prop_assert!(b.min.is_none_or(|lo| v >= lo) && b.max.is_none_or(|hi| v <= hi), "{d:?} {v} outside {b:?}");
            }
        }
        if let Some(b) = m.limits.total {
            prop_assert!(b.min.is_none_or(|lo| s.total >= lo) && b.max.is_none_or(|hi| s.total <= hi));
        }
        prop_assert!(s.total.is_finite());
    }

    #[test]
    fn decay_never_increases_a_score(model in model_with(0..50), events in timeline(), a in 0i64..(60 * 86_400_000), b in 0i64..(60 * 86_400_000)) {
        let state = run(&model, &events);
        let (early, late) = (end(&events) + a.min(b), end(&events) + a.max(b));
        let s1 = engine::score(&state, &model, early);
        let s2 = engine::score(&state, &model, late);
        prop_assert!(s2.total <= s1.total + 1e-9, "{} then {}", s1.total, s2.total);
        for c2 in &s2.contributions {
            let c1 = s1.contributions.iter().find(|c| c.rule == c2.rule);
            prop_assert!(c1.is_some_and(|c1| c2.points.abs() <= c1.points.abs() + 1e-9), "{} grew", c2.rule);
        }
    }

    #[test]
    fn once_rules_count_once(model in model_with(-50..50), events in timeline()) {
        let state = run(&model, &events);
        let s = engine::score(&state, &model, end(&events));
        for c in &s.contributions {
            let rule = model.rules().iter().find(|r| r.id == c.rule).unwrap();
            if rule.frequency == Frequency::Once {
                prop_assert!(c.times <= 1, "{} fired {} times", c.rule, c.times);
            }
            if let Frequency::AtMost(n) = rule.frequency {
                prop_assert!(c.times <= n);
            }
        }
    }

    #[test]
    fn state_survives_a_serialise_round_trip(model in model_with(-50..50), events in timeline(), later in 0i64..(30 * 86_400_000)) {
        let state = run(&model, &events);
        let back = State::from_json(&state.to_json(), &model).unwrap();
        let at = end(&events) + later;
        prop_assert_eq!(engine::score(&back, &model, at), engine::score(&state, &model, at));
        // And it keeps scoring the same way afterwards.
        let (mut a, mut b) = (state, back);
        let next = Event::PageView { path: "/pricing".to_string(), query: Entries::new() };
        prop_assert_eq!(engine::apply(&mut a, &model, &next, at).unwrap(), engine::apply(&mut b, &model, &next, at).unwrap());
    }

    #[test]
    fn results_are_deterministic(model in model_with(-50..50), events in timeline()) {
        let (a, b) = (run(&model, &events), run(&model, &events));
        prop_assert_eq!(&a, &b);
        prop_assert_eq!(engine::score(&a, &model, end(&events)), engine::score(&b, &model, end(&events)));
    }

    #[test]
    fn arbitrary_events_never_panic(model in model_with(-50..50), path in ".{0,40}", q in ".{0,10}", v in any::<f64>(), secs in any::<f64>(), t in any::<i64>()) {
        let mut state = State::new(&model);
        let events = [
            Event::PageView { path: path.clone(), query: [(q.clone(), path.clone())].into_iter().collect() },
            Event::Download { url: path.clone() },
            Event::Answer { question: q.clone(), value: Value::Number(v) },
            Event::Answer { question: q.clone(), value: Value::Text(path.clone()) },
            Event::FormSubmit { id: Some(q.clone()), name: None },
            Event::Custom { name: q.clone(), properties: [(q.clone(), Value::Number(v))].into_iter().collect() },
            Event::Engagement { seconds: secs },
        ];
        for e in &events {
            let _ = engine::apply(&mut state, &model, e, t);
        }
        let s = engine::score(&state, &model, t);
        prop_assert!(!s.tier.is_empty());
    }

    #[test]
    fn any_times_in_any_order_never_panic(
        model in model_with(-50..50),
        steps in prop::collection::vec((any::<i64>(), event()), 1..12),
        at in any::<i64>(),
    ) {
        let mut state = State::new(&model);
        for (t, e) in &steps {
            let s = engine::apply(&mut state, &model, e, *t).unwrap();
            prop_assert!(s.total.is_finite());
        }
        let s = engine::tick(&mut state, &model, at);
        prop_assert!(s.total.is_finite());
        let back = State::from_json(&state.to_json(), &model).unwrap();
        prop_assert_eq!(engine::score(&back, &model, at), engine::score(&state, &model, at));
    }

    #[test]
    fn state_kept_under_one_model_continues_under_the_next(
        (a, b) in model_with(-50..50).prop_flat_map(next_version),
        events in timeline(),
        split in any::<prop::sample::Index>(),
    ) {
        let (before, after) = events.split_at(split.index(events.len() + 1));
        let kept = run(&a, before);
        let now = kept.time(end(before));
        // What the earned firings give under the new version, before anything else happens.
        let carried = engine::score(&kept, &b, now);
        for c in &carried.contributions {
            let i = b.rules().iter().position(|r| r.id == c.rule).unwrap();
            let rule = &b.rules()[i];
            let old = kept.rules.iter().find(|r| r.id_hash == leadscore::engine::id_hash(&rule.id)).unwrap();
            let cap = match rule.frequency {
                _ if rule.when.counts_once() => 1,
                Frequency::Once => 1,
                Frequency::AtMost(n) => n,
                _ => u32::MAX,
            };
            prop_assert_eq!(c.times, old.count.min(cap), "{} count", c.rule);
            let full = f64::from(rule.points) * f64::from(c.times);
            let last = old.last.unwrap();
            match rule.decay {
                Decay::Never => prop_assert_eq!(c.points, full, "{}", c.rule),
                Decay::HalfLifeDays(_) => prop_assert!(
                    (c.points != 0.0 || rule.points == 0) && c.points.abs() <= full.abs() + 1e-9,
                    "{}: {} of {}", c.rule, c.points, full
                ),
                Decay::ExpiresAfterDays(days) => {
                    if last > now - (days * 86_400_000.0) as i64 {
                        prop_assert!(c.points != 0.0 || rule.points == 0, "{} expired early", c.rule);
                    }
                    prop_assert!(c.points.abs() <= full.abs());
                }
            }
        }
        // In memory and through storage, the state continues alike under the new version.
        let mut live = kept.clone();
        let mut stored = State::from_bytes(&kept.to_bytes(), &b).unwrap();
        prop_assert_eq!(&State::from_json(&kept.to_json(), &b).unwrap(), &stored);
        prop_assert_eq!(engine::score(&live, &b, now), engine::score(&stored, &b, now));
        // Aligning twice changes nothing, and the aligned state reads back as it is.
        let again = State::from_bytes(&stored.to_bytes(), &b);
        prop_assert_eq!(again.as_ref(), Some(&stored));
        for (t, e) in after {
            let x = engine::apply(&mut live, &b, e, *t).unwrap();
            let y = engine::apply(&mut stored, &b, e, *t).unwrap();
            prop_assert_eq!(x, y);
        }
        live.align(&b); // a no-op unless no event came after the change
        prop_assert_eq!(&live, &stored);
        let s = engine::score(&live, &b, end(&events));
        for c in &s.contributions {
            let rule = b.rules().iter().find(|r| r.id == c.rule).unwrap();
            match rule.frequency {
                Frequency::Once => prop_assert!(c.times <= 1, "{} fired {} times", c.rule, c.times),
                Frequency::AtMost(n) => prop_assert!(c.times <= n),
                _ => {}
            }
        }
        for d in Dimension::ALL {
            if let Some(bounds) = b.model().limits.of(d) {
                let v = s.dimension(d);
                prop_assert!(bounds.min.is_none_or(|lo| v >= lo) && bounds.max.is_none_or(|hi| v <= hi));
            }
        }
    }

    #[test]
    fn tick_and_score_never_bring_back_what_decayed(
        model in model_with(0..50),
        events in timeline(),
        late in 0i64..(100 * 86_400_000),
        back in 0i64..(100 * 86_400_000),
    ) {
        let mut state = run(&model, &events);
        let later = engine::tick(&mut state, &model, end(&events) + late);
        let earlier = engine::tick(&mut state, &model, end(&events) + late - back);
        let read = engine::score(&state, &model, end(&events) + late - back);
        prop_assert_eq!(&later.contributions, &read.contributions);
        prop_assert_eq!(&later.contributions, &earlier.contributions);
        prop_assert_eq!(later.total, earlier.total);
        prop_assert_eq!(later.tier, earlier.tier);
    }

    #[test]
    fn arbitrary_model_text_never_panics(text in "\\PC{0,200}") {
        let _ = ValidModel::from_json(&text);
    }

    #[test]
    fn arbitrary_json_models_never_panic(doc in arbitrary_json()) {
        let _ = ValidModel::from_json(&doc.to_string());
    }
}

/// JSON values shaped roughly like models, with wrong types and values sprinkled in.
fn arbitrary_json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i32>().prop_map(|n| serde_json::json!(n)),
        "[a-z_/*\\[]{0,8}".prop_map(serde_json::Value::String),
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
        "points",
        "dimension",
        "frequency",
        "decay",
        "min",
        "max",
        "requires",
        "name",
        "limits",
        "answer",
        "question",
        "equals",
        "at_most",
        "half_life_days",
        "visits",
        "at_least",
    ]);
    leaf.prop_recursive(4, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(keys.clone().prop_map(String::from), inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}
