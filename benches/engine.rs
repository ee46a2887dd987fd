//! The engine per event, natively, on the browser benchmark's 30-rule model
//! (`benches/browser/model.json`) and its 10,000 generated events of 1,000 visitors (the same
//! events: `common/events.rs` ports `events.mjs`), side by side with a plain native interpreter
//! of the same rules written in the benchmark as the reference (`common/plain.rs`, a port of
//! `reference.mjs`). Also: `apply` (with the explanation) instead of `advance`; the usual
//! alternative to a state machine, keeping the visitor's activity log and recomputing from it on
//! every event; and the state's storage round trip.
//!
//! Run with `make bench`. Before anything is timed, every event's answer and every visitor's
//! final scores are checked to be the same for both variants (it panics otherwise). Besides
//! criterion's report, the last lines print ns per event for each variant and the ratios,
//! measured in the same run.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::events::Visitor;
use common::Tally;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use leadscore::engine::{self, Event, Millis, State};
use leadscore::model::ValidModel;
use std::hint::black_box;
use std::time::Instant;

/// Events of history the log replay recomputes from.
const HISTORY: usize = 100;
/// Rounds of the side-by-side figures (each: both variants over all the events, alternating).
const ROUNDS: usize = 15;

/// `common::run_leadscore` with `apply`: the explanation built on every event.
fn run_apply(model: &ValidModel, visitors: &[Visitor], states: &mut [State]) -> Tally {
    let mut tally = Tally::default();
    for (visitor, state) in visitors.iter().zip(states) {
        for (t, event) in &visitor.events {
            match engine::apply(state, model, event, *t) {
                Ok(score) => tally.changes += u32::from(score.changed()),
                Err(_) => tally.rejected += 1,
            }
        }
    }
    tally
}

/// The alternative: append to the visitor's log and recompute the tier from the whole log.
fn replay<'m>(
    log: &mut Vec<(Millis, Event)>,
    model: &'m ValidModel,
    event: &Event,
    now: Millis,
) -> &'m str {
    log.push((now, event.clone()));
    let mut state = State::new(model);
    let mut tier = engine::UNQUALIFIED;
    for (t, e) in log.iter() {
        if let Ok(s) = engine::advance(&mut state, model, e, *t) {
            tier = s.tier;
        }
    }
    tier
}

/// The first `HISTORY` events of the busiest visitor, and the event after them.
fn history(visitors: &[Visitor]) -> (Vec<(Millis, Event)>, (Millis, Event)) {
    let busiest = visitors.iter().max_by_key(|v| v.events.len()).unwrap();
    assert!(
        busiest.events.len() > HISTORY,
        "the busiest visitor has too few events"
    );
    (
        busiest.events[..HISTORY].to_vec(),
        busiest.events[HISTORY].clone(),
    )
}

/// Nanoseconds per event of one timed pass (fresh states made before the clock starts).
fn timed<S>(
    events: usize,
    states: Vec<S>,
    expected: Tally,
    pass: impl FnOnce(&mut [S]) -> Tally,
) -> f64 {
    let mut states = states;
    let start = Instant::now();
    let tally = pass(&mut states);
    let ns = start.elapsed().as_nanos() as f64 / events as f64;
    assert_eq!(
        tally, expected,
        "a timed pass answered otherwise than the check"
    );
    drop(black_box(states));
    ns
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn bench(c: &mut Criterion) {
    let (model, reference) = common::models();
    let visitors = common::visitors();
    let events: usize = visitors.iter().map(|v| v.events.len()).sum();
    let checked = common::check(&model, &reference, &visitors);
    let expected = checked.tally;

    let mut group = c.benchmark_group(format!(
        "30-rule model, {events} events of {} visitors",
        visitors.len()
    ));
    group.throughput(Throughput::Elements(events as u64));
    // Each iteration scores every event from fresh visitor states, made and dropped untimed.
    group.bench_function("leadscore: advance + tier", |b| {
        b.iter_batched_ref(
            || common::leadscore_states(&model, &visitors),
            |states| common::run_leadscore(&model, black_box(&visitors), states),
            BatchSize::PerIteration,
        )
    });
    group.bench_function("plain interpreter (reference): apply + tier", |b| {
        b.iter_batched_ref(
            || common::plain_states(&reference, &visitors),
            |states| common::run_plain(&reference, black_box(&visitors), states),
            BatchSize::PerIteration,
        )
    });
    group.bench_function("leadscore: apply (with explanation) + tier", |b| {
        b.iter_batched_ref(
            || common::leadscore_states(&model, &visitors),
            |states| run_apply(&model, black_box(&visitors), states),
            BatchSize::PerIteration,
        )
    });
    group.finish();

    let (log, (now, next)) = history(&visitors);
    let mut group = c.benchmark_group("one visitor");
    group.bench_function(format!("log replay ({HISTORY} events of history)"), |b| {
        b.iter_batched(
            || log.clone(),
            |mut log| black_box(replay(&mut log, &model, &next, now)),
            BatchSize::SmallInput,
        )
    });
    let mut state = State::new(&model);
    for (t, e) in &log {
        let _ = engine::advance(&mut state, &model, e, *t);
    }
    group.bench_function("state to JSON and back (storage)", |b| {
        b.iter(|| black_box(State::from_json(&black_box(&state).to_json(), &model)))
    });
    group.finish();

    // Side-by-side figures from this run: rounds of both variants back to back, alternating
    // which goes first; medians of the rounds.
    let (mut ours, mut plain, mut ratios, mut explained) = (vec![], vec![], vec![], vec![]);
    for round in 0..ROUNDS {
        let run_ours = || {
            let states = common::leadscore_states(&model, &visitors);
            timed(events, states, expected, |s| {
                common::run_leadscore(&model, &visitors, s)
            })
        };
        let run_plain = || {
            let states = common::plain_states(&reference, &visitors);
            timed(events, states, expected, |s| {
                common::run_plain(&reference, &visitors, s)
            })
        };
        let (a, b) = if round % 2 == 0 {
            let a = run_ours();
            (a, run_plain())
        } else {
            let b = run_plain();
            (run_ours(), b)
        };
        let states = common::leadscore_states(&model, &visitors);
        explained.push(timed(events, states, expected, |s| {
            run_apply(&model, &visitors, s)
        }));
        ours.push(a);
        plain.push(b);
        ratios.push(a / b);
    }
    let replay_rounds = 200usize;
    let start = Instant::now();
    for _ in 0..replay_rounds {
        let mut log = log.clone();
        black_box(replay(&mut log, &model, &next, now));
    }
    let replayed = start.elapsed().as_nanos() as f64 / replay_rounds as f64;
    let (ours, plain, ratio, explained) = (
        median(ours),
        median(plain),
        median(ratios),
        median(explained),
    );

    let tiers: Vec<String> = checked
        .final_tiers
        .iter()
        .map(|(name, n)| format!("{name} {n}"))
        .collect();
    println!(
        "\nleadscore engine natively, 30-rule model (benches/browser/model.json), {events} events of {} visitors, same run:",
        visitors.len()
    );
    println!(
        "  checked: same answer for every event, same final scores bit for bit; {} tier changes, {} rejected; final tiers: {}",
        expected.changes,
        expected.rejected,
        tiers.join(", ")
    );
    println!("  median of {ROUNDS} rounds, ns per event:");
    println!(
        "  leadscore: advance + tier:                 {ours:>8.0} ns/event (target: under 200)"
    );
    println!("  plain interpreter (reference): apply + tier: {plain:>6.0} ns/event");
    println!("  ratio leadscore / plain interpreter:       {ratio:>8.2}");
    println!("  leadscore: apply (with explanation) + tier: {explained:>7.0} ns/event");
    println!(
        "  log replay, {HISTORY} events of history:       {replayed:>8.0} ns/event ({:.0}x advance)",
        replayed / ours
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
