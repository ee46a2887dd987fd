//! What the fuzz targets share: the example models, a header for compiled-model bodies, and
//! the decoding of an input into a timed sequence of events.

use leadscore::engine::{self, Event, Millis, Score, State};
use leadscore::model::{binary, ValidModel};

/// The demo model, validated and compiled as the browser gets it.
pub fn saas() -> ValidModel {
    compiled(include_str!("../../www/models/saas.json"))
}

/// The second example model (another rule set, `allow_demotion: false`).
pub fn wholesale() -> ValidModel {
    compiled(include_str!("../../www/models/wholesale.json"))
}

fn compiled(json: &str) -> ValidModel {
    let model = ValidModel::from_json(json).expect("the example model is valid");
    let bytes = binary::write(&model).expect("the example model compiles");
    binary::read(&bytes).expect("the example model reads back")
}

/// A compiled-model body with the header `binary::read` checks (magic, format, length,
/// checksum), so that the fuzzer explores the body rather than the checksum.
pub fn with_header(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(binary::HEADER_LEN + body.len());
    out.extend_from_slice(&binary::MAGIC);
    out.extend_from_slice(&binary::FORMAT.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&leadscore::bytes::fnv1a32(body).to_le_bytes());
    out.extend_from_slice(body);
    out
}

/// Reads a compiled model from fuzz bytes: a first byte of 0 means "the rest is a body, add
/// the header"; anything else is read as it is.
pub fn model_from(bytes: &[u8]) -> Option<ValidModel> {
    match bytes.split_first() {
        Some((0, body)) => binary::read(&with_header(body)).ok(),
        _ => binary::read(bytes).ok(),
    }
}

/// One step of a visitor's timeline.
pub enum Step {
    /// Apply the event bytes (`Event::from_bytes`) at this time.
    Apply(Millis, Vec<u8>),
    /// Only time passes.
    Tick(Millis),
}

/// Decodes steps: per step a byte choosing the time step (forwards from a second to months,
/// sometimes backwards) and whether it is a tick, then for events a `u16` length and the event
/// bytes.
pub fn steps(mut data: &[u8]) -> Vec<Step> {
    const T0: Millis = 1_790_000_000_000;
    let mut t = T0;
    let mut out = Vec::new();
    while let Some((&control, rest)) = data.split_first() {
        data = rest;
        let unit: Millis = match control & 0b11 {
            0 => 1_000,
            1 => 60_000,
            2 => 3_600_000,
            _ => 86_400_000,
        };
        let amount = Millis::from((control >> 2) & 0b1111);
        t = if control & 0x80 != 0 && control & 0x40 != 0 {
            t.saturating_sub(amount * unit)
        } else {
            t.saturating_add(amount * unit)
        };
        if control & 0xc0 == 0x40 {
            out.push(Step::Tick(t));
            continue;
        }
        let Some((len, rest)) = data.split_first_chunk::<2>() else {
            break;
        };
        let len = usize::from(u16::from_le_bytes(*len)).min(rest.len());
        let (event, rest) = rest.split_at(len);
        out.push(Step::Apply(t, event.to_vec()));
        data = rest;
    }
    out
}

/// Runs the steps on a fresh state; returns the state and the time of the last step.
/// `check` sees every score.
pub fn run(model: &ValidModel, steps: &[Step], mut check: impl FnMut(&State, &Score<'_>)) -> State {
    let mut state = State::new(model);
    for step in steps {
        match step {
            Step::Apply(t, bytes) => {
                if let Some(event) = Event::from_bytes(bytes) {
                    if let Ok(score) = engine::apply(&mut state, model, &event, *t) {
                        check(&state, &score);
                    }
                }
            }
            Step::Tick(t) => {
                let score = engine::tick(&mut state, model, *t);
                check(&state, &score);
            }
        }
    }
    state
}

/// Encodes events in the form [`steps`] reads (one hour apart), for seeds.
pub fn encode(events: &[Event]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in events {
        out.push(0b0000_0110); // forwards, 1 hour
        let bytes = e.to_bytes();
        out.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
        out.extend_from_slice(&bytes);
    }
    out
}
