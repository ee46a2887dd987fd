//! The compiled-model loader on arbitrary bytes: never panics; what it accepts compiles again
//! to bytes that read back alike, and the engine runs on it without panicking (the kernel does
//! not validate what it loads).
#![no_main]

use leadscore::engine::{self, Event, State};
use leadscore::model::binary;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(model) = leadscore_fuzz::model_from(data) else {
        return;
    };
    let again = binary::write(&model).expect("a model read from bytes compiles again");
    let back = binary::read(&again).expect("and reads back");
    assert_eq!(binary::write(&back).ok(), Some(again));

    let mut state = State::new(&model);
    let events = [
        Event::PageView {
            path: "/pricing".into(),
            query: [("utm_source".to_string(), "linkedin".to_string())]
                .into_iter()
                .collect(),
        },
        Event::Download {
            url: "https://x.example/resources/a.pdf".into(),
        },
        Event::Answer {
            question: "role".into(),
            value: engine::Value::Text("cto".into()),
        },
        Event::FormSubmit {
            id: Some("demo-request".into()),
            name: None,
        },
        Event::Custom {
            name: "feature_used".into(),
            properties: Default::default(),
        },
        Event::Engagement { seconds: 400.0 },
    ];
    let mut t = 1_790_000_000_000;
    for e in &events {
        let _ = engine::apply(&mut state, &model, e, t);
        t += 3_600_000;
    }
    let _ = engine::tick(&mut state, &model, t + 90 * 86_400_000);
    let _ = engine::score(&state, &model, t);
    let _ = engine::is_download(&model, "/a/b.pdf");
    let _ = State::from_bytes(&state.to_bytes(), &model);
});
