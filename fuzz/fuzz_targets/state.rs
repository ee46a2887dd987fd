//! The stored-state reader on arbitrary bytes (and text): never panics; what it accepts is
//! checked, reads back exactly as it writes, and scores and continues on the model it was read
//! for and on another one.
#![no_main]

use leadscore::engine::{self, Event, State};
use leadscore::model::ValidModel;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

static MODELS: OnceLock<[ValidModel; 2]> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let models = MODELS.get_or_init(|| [leadscore_fuzz::saas(), leadscore_fuzz::wholesale()]);
    let mut states = Vec::new();
    for model in models {
        states.extend(State::from_bytes(data, model).map(|s| (s, model)));
        if let Ok(text) = std::str::from_utf8(data) {
            states.extend(State::from_json(text, model).map(|s| (s, model)));
        }
    }
    for (mut state, model) in states {
        assert!(state.check().is_ok());
        let bytes = state.to_bytes();
        assert_eq!(
            State::from_bytes(&bytes, model).as_ref(),
            Some(&state),
            "bytes round trip"
        );
        let at = state.clock.unwrap_or(1_790_000_000_000);
        let before = engine::score(&state, model, at);
        assert!(before.total.is_finite());
        let page = Event::<String>::PageView {
            path: "/pricing".into(),
            query: Default::default(),
        };
        let score = engine::apply(&mut state, model, &page, at).expect("a valid event applies");
        assert!(score.total.is_finite());
        let _ = engine::tick(&mut state, model, at.saturating_add(86_400_000));
        for other in models {
            let _ = engine::score(&state, other, at);
        }
    }
});
