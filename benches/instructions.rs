//! Instructions per event, counted by callgrind (`make instructions`, `scripts/instructions.sh`):
//! runs the browser benchmark's 10,000 events of 1,000 visitors through one variant, `PASSES`
//! times, each pass from fresh visitor states.
//!
//! ```text
//! instructions leadscore|plain PASSES
//! ```
//!
//! Only `run_leadscore` / `run_plain` are meant to be counted (callgrind's `--toggle-collect`):
//! model loading, event generation, the check and the fresh states stay outside. Before any
//! pass, both variants are checked to give the same answers (panics otherwise), and every pass
//! must give the checked tally. Without arguments (as `cargo bench` runs it) it checks, runs
//! one pass of each and says so.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::hint::black_box;

fn main() {
    // `cargo bench` adds `--bench`; flags are not ours.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let variants: Vec<&str> = match args.first().map(String::as_str) {
        Some(v @ ("leadscore" | "plain")) => vec![v],
        Some(other) => panic!("unknown variant {other:?}: leadscore or plain"),
        None => vec!["leadscore", "plain"],
    };
    let passes: usize = args
        .get(1)
        .map(|p| p.parse().expect("PASSES: a whole number"))
        .unwrap_or(1);

    let (model, reference) = common::models();
    let visitors = common::visitors();
    let checked = common::check(&model, &reference, &visitors);
    let events: usize = visitors.iter().map(|v| v.events.len()).sum();

    for variant in variants {
        for _ in 0..passes {
            let tally = if variant == "leadscore" {
                let mut states = common::leadscore_states(&model, &visitors);
                common::run_leadscore(&model, black_box(&visitors), &mut states)
            } else {
                let mut states = common::plain_states(&reference, &visitors);
                common::run_plain(&reference, black_box(&visitors), &mut states)
            };
            assert_eq!(
                tally, checked.tally,
                "{variant}: a pass answered otherwise than the check"
            );
        }
        println!(
            "{variant}: {passes} pass(es) of {events} events of {} visitors, {} tier changes, {} rejected",
            visitors.len(),
            checked.tally.changes,
            checked.tally.rejected
        );
    }
    let tiers: Vec<String> = checked
        .final_tiers
        .iter()
        .map(|(name, n)| format!("{name} {n}"))
        .collect();
    println!("final tiers: {}", tiers.join(", "));
    if args.is_empty() {
        println!("(count instructions with scripts/instructions.sh, `make instructions`)");
    }
}
