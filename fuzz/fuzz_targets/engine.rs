//! The engine on arbitrary event sequences (events in the page adapter's byte form, at times
//! that jump forwards and backwards, ticks in between), on the demo model and on a model read
//! from the input: never panics; on the demo model scores stay finite and within limits, time
//! never runs backwards, and state survives storage exactly.
#![no_main]

use leadscore::engine::{self, State};
use leadscore::model::{Dimension, ValidModel};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

static SAAS: OnceLock<ValidModel> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    // A first byte with the low bit set: a `u16` length and a compiled model come first.
    let (own, rest) = match data.split_first() {
        Some((flag, rest)) if flag & 1 == 1 && rest.len() >= 2 => {
            let len = usize::from(u16::from_le_bytes([rest[0], rest[1]])).min(rest.len() - 2);
            let (model, rest) = rest[2..].split_at(len);
            (leadscore_fuzz::model_from(model), rest)
        }
        Some((_, rest)) => (None, rest),
        None => (None, data),
    };
    let steps = leadscore_fuzz::steps(rest);

    let saas = SAAS.get_or_init(leadscore_fuzz::saas);
    let mut latest = None;
    let state = leadscore_fuzz::run(saas, &steps, |state, score| {
        assert!(score.total.is_finite());
        for d in Dimension::ALL {
            if let Some(b) = saas.model().limits.of(d) {
                let v = score.dimension(d);
                assert!(b.min.is_none_or(|lo| v >= lo) && b.max.is_none_or(|hi| v <= hi));
            }
        }
        assert!(state.clock >= latest, "time never runs backwards");
        latest = state.clock;
        let stored = State::from_bytes(&state.to_bytes(), saas).expect("state survives storage");
        assert_eq!(&stored, state);
    });
    let at = state.clock.unwrap_or(0);
    let stored = State::from_bytes(&state.to_bytes(), saas).expect("state survives storage");
    assert_eq!(
        engine::score(&stored, saas, at),
        engine::score(&state, saas, at)
    );

    if let Some(model) = own {
        let state = leadscore_fuzz::run(&model, &steps, |_, _| {});
        let _ = engine::score(&state, &model, at);
        // The state kept for the demo model, continued under the input's model.
        let _ = engine::score(&stored, &model, at);
    }
});
