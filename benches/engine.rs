//! `apply` + `score` per event with a 30-rule model, side by side with the usual alternative:
//! keeping the visitor's activity log and recomputing the score from it on every event.
//!
//! Run with `make bench`. Besides criterion's report, the last lines print ns per event for both
//! and their ratio, measured in the same run.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use leadscore::engine::{self, Event, Millis, State, Value};
use leadscore::model::{Entries, ValidModel};
use std::hint::black_box;
use std::time::Instant;

const T0: Millis = 1_790_000_000_000;

/// The example SaaS model with extra page rules, 30 rules in all.
fn model() -> ValidModel {
    let text = std::fs::read_to_string("www/models/saas.json").unwrap_or_default();
    let mut doc: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    if let Some(rules) = doc["rules"].as_array_mut() {
        let mut i = 0;
        while rules.len() < 30 {
            rules.push(serde_json::json!({
                "id": format!("feature-page-{i}"),
                "when": { "page": { "path": format!("/features/{i}/*") } },
                "dimension": "engagement", "points": 3, "frequency": { "at_most": 2 },
                "decay": { "half_life_days": 30 }
            }));
            i += 1;
        }
    }
    match ValidModel::from_json(&doc.to_string()) {
        Ok(m) if m.rules().len() == 30 => m,
        other => panic!("bench model: {:?}", other.err()),
    }
}

/// A realistic mix of events: mostly page views, some answers, downloads, forms, product events.
fn events() -> Vec<Event> {
    let page = |p: &str| Event::PageView {
        path: p.into(),
        query: Entries::new(),
    };
    vec![
        page("/"),
        page("/blog/mql-vs-sql"),
        page("/pricing"),
        Event::Engagement { seconds: 15.0 },
        page("/docs/getting-started/install"),
        Event::Answer {
            question: "role".into(),
            value: Value::Text("cto".into()),
        },
        Event::Answer {
            question: "company_size".into(),
            value: Value::Text("250".into()),
        },
        page("/features/3/reports"),
        Event::Download {
            url: "https://acme.example/resources/guide.pdf".into(),
        },
        Event::FormSubmit {
            id: Some("demo-request".into()),
            name: None,
        },
        Event::Custom {
            name: "feature_used".into(),
            properties: [("feature".to_string(), Value::Text("report".into()))]
                .into_iter()
                .collect(),
        },
        page("/careers/open-roles"),
    ]
}

/// The state machine: fold one event in, read the score.
fn step(state: &mut State, model: &ValidModel, event: &Event, now: Millis) -> f64 {
    engine::apply(state, model, event, now).map_or(0.0, |s| s.total)
}

/// The alternative: append to the visitor's log and recompute from the whole log.
fn replay(log: &mut Vec<(Millis, Event)>, model: &ValidModel, event: &Event, now: Millis) -> f64 {
    log.push((now, event.clone()));
    let mut state = State::new(model);
    let mut total = 0.0;
    for (t, e) in log.iter() {
        total = step(&mut state, model, e, *t);
    }
    total
}

const HISTORY: usize = 100;

fn bench(c: &mut Criterion) {
    let model = model();
    let events = events();
    let mut group = c.benchmark_group("apply+score per event (30 rules)");
    group.bench_function("state machine", |b| {
        let mut state = State::new(&model);
        let mut i = 0usize;
        b.iter(|| {
            i += 1;
            let e = &events[i % events.len()];
            black_box(step(
                &mut state,
                &model,
                black_box(e),
                T0 + (i as Millis) * 1000,
            ))
        })
    });
    group.bench_function("state machine, tier only (advance: no explanation)", |b| {
        let mut state = State::new(&model);
        let mut i = 0usize;
        b.iter(|| {
            i += 1;
            let e = &events[i % events.len()];
            black_box(
                engine::advance(&mut state, &model, black_box(e), T0 + (i as Millis) * 1000)
                    .map_or(0.0, |s| s.total),
            )
        })
    });
    group.bench_function(format!("log replay ({HISTORY} events of history)"), |b| {
        b.iter_batched(
            || {
                let log: Vec<(Millis, Event)> = (0..HISTORY)
                    .map(|i| (T0 + i as Millis * 1000, events[i % events.len()].clone()))
                    .collect();
                log
            },
            |mut log| {
                black_box(replay(
                    &mut log,
                    &model,
                    &events[0],
                    T0 + HISTORY as Millis * 1000,
                ))
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("state to JSON and back (storage)", |b| {
        let mut state = State::new(&model);
        for (i, e) in events.iter().enumerate() {
            step(&mut state, &model, e, T0 + i as Millis * 1000);
        }
        b.iter(|| black_box(State::from_json(&black_box(&state).to_json(), &model)))
    });
    group.finish();

    // Side-by-side figures from this run.
    let n = 200_000usize;
    let mut state = State::new(&model);
    let start = Instant::now();
    for i in 0..n {
        black_box(step(
            &mut state,
            &model,
            &events[i % events.len()],
            T0 + i as Millis * 1000,
        ));
    }
    let machine = start.elapsed().as_nanos() as f64 / n as f64;
    let rounds = 2_000usize;
    let start = Instant::now();
    for r in 0..rounds {
        let mut log: Vec<(Millis, Event)> = (0..HISTORY)
            .map(|i| {
                (
                    T0 + i as Millis * 1000,
                    events[(i + r) % events.len()].clone(),
                )
            })
            .collect();
        black_box(replay(
            &mut log,
            &model,
            &events[r % events.len()],
            T0 + HISTORY as Millis * 1000,
        ));
    }
    let replayed = start.elapsed().as_nanos() as f64 / rounds as f64;
    println!("\nleadscore engine, 30-rule model, same run:");
    println!("  state machine (apply + score):     {machine:>10.0} ns/event");
    println!("  log replay, {HISTORY} events of history:  {replayed:>10.0} ns/event");
    println!(
        "  ratio replay / state machine:      {:>10.1}x",
        replayed / machine
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
