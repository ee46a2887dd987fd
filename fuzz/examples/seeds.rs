//! Writes the seed corpus (`cargo run --example seeds` in `fuzz/`): the example models as JSON
//! and compiled, their event logs as event sequences, and the states they leave.

use leadscore::engine::{self, Event, State};
use leadscore::model::{binary, ValidModel};
use std::fs;

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let seeds = root.join("seeds");
    for t in ["model_json", "model_binary", "engine", "state"] {
        fs::create_dir_all(seeds.join(t)).unwrap();
    }
    for name in ["saas", "wholesale"] {
        let json = fs::read_to_string(root.join(format!("../www/models/{name}.json"))).unwrap();
        fs::write(seeds.join("model_json").join(name), &json).unwrap();
        let model = ValidModel::from_json(&json).unwrap();
        let compiled = binary::write(&model).unwrap();
        fs::write(seeds.join("model_binary").join(name), &compiled).unwrap();
        let mut body = vec![0u8];
        body.extend_from_slice(&compiled[binary::HEADER_LEN..]);
        fs::write(
            seeds.join("model_binary").join(format!("{name}-body")),
            &body,
        )
        .unwrap();

        let log =
            fs::read_to_string(root.join(format!("../www/models/{name}.events.jsonl"))).unwrap();
        let mut visitors: std::collections::BTreeMap<String, Vec<Event>> = Default::default();
        for line in log.lines().filter(|l| !l.trim().is_empty()) {
            let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
            let obj = v.as_object_mut().unwrap();
            let visitor = obj.remove("visitor").unwrap().as_str().unwrap().to_string();
            obj.remove("ts");
            visitors
                .entry(visitor)
                .or_default()
                .push(serde_json::from_value(v).unwrap());
        }
        for (visitor, events) in &visitors {
            let mut input = vec![0u8];
            input.extend(leadscore_fuzz::encode(events));
            fs::write(
                seeds.join("engine").join(format!("{name}-{visitor}")),
                &input,
            )
            .unwrap();
            let mut state = State::new(&model);
            for (i, e) in events.iter().enumerate() {
                let _ = engine::apply(
                    &mut state,
                    &model,
                    e,
                    1_790_000_000_000 + i as i64 * 3_600_000,
                );
            }
            fs::write(
                seeds.join("state").join(format!("{name}-{visitor}")),
                state.to_bytes(),
            )
            .unwrap();
        }
    }
}
