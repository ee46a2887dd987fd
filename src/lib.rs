//! leadscore: explainable lead scoring that runs in the visitor's browser.
//!
//! A marketer writes a points [`model::Model`] (or learns one from historical conversions with
//! `leadscore train`); `leadscore build` validates it and compiles it to a compact binary form
//! ([`model::binary`]); the [`engine`] folds each visitor event into a small per-visitor
//! [`engine::State`] and reads a [`engine::Score`]: sub-scores for fit, engagement, intent and
//! product usage, a tier (`MQL`, `SQL`, `PQL`, ... or `unqualified`), and the contributions that
//! explain it. The same engine runs natively (the `leadscore` CLI, with `std`) and in the
//! browser (a `no_std` WebAssembly kernel), so both give exactly the same tiers.
//!
//! ```
//! use leadscore::engine::{self, Event, State};
//! use leadscore::model::{binary, ValidModel};
//!
//! let model = ValidModel::from_json(r#"{
//!   "version": 1, "id": "demo", "model_version": "1",
//!   "rules": [{"id": "pricing", "when": {"page": {"path": "/pricing"}},
//!              "dimension": "intent", "points": 30}],
//!   "tiers": [{"name": "SQL", "min": {"intent": 30}}]
//! }"#).unwrap();
//! // What the browser loads: compiled ahead of time, read back without validation.
//! let compiled = binary::read(&binary::write(&model).unwrap()).unwrap();
//! let mut state = State::new(&compiled);
//! let pricing = Event::PageView { path: "/pricing".to_string(), query: Default::default() };
//! let score = engine::apply(&mut state, &compiled, &pricing, 1_767_225_600_000).unwrap();
//! assert_eq!((score.previous_tier, score.tier), ("unqualified", "SQL"));
//! ```
//!
//! Modules:
//! - [`model`]: the model document, validation with exact error paths, the JSON Schema, and the
//!   compiled binary form.
//! - [`engine`]: the pure scoring state machine (`apply`, `score`, `tick`).
//! - `learn` (feature `learn`): fitting a points scorecard from conversion data, and evaluation.
//! - `web` (wasm32 only): the scoring kernel's `#[wasm_bindgen]` boundary.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub mod bytes;
pub mod engine;
pub mod model;
#[cfg(feature = "std")]
pub mod payload;

#[cfg(feature = "learn")]
pub mod learn;

#[cfg(target_arch = "wasm32")]
pub mod web;
