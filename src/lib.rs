//! leadscore: explainable lead scoring that runs in the visitor's browser.
//!
//! A marketer writes a points [`model::Model`] (or learns one from historical conversions with
//! `leadscore train`); the [`engine`] folds each visitor event into a small per-visitor
//! [`engine::State`] and reads a [`engine::Score`]: sub-scores for fit, engagement, intent and
//! product usage, a tier (`MQL`, `SQL`, `PQL`, ... or `unqualified`), and the contributions that
//! explain it. The same engine runs natively (the `leadscore` CLI) and in the browser (WebAssembly,
//! module `web`), so both give exactly the same tiers.
//!
//! Modules:
//! - [`model`]: the model document, its JSON Schema and validation with exact error paths.
//! - [`engine`]: the pure scoring state machine (`apply`, `score`, `tick`).
//! - `learn` (feature `learn`): fitting a points scorecard from conversion data, and evaluation.
//! - `web` (wasm32 only): the browser boundary.

pub mod engine;
pub mod model;
pub mod payload;

#[cfg(feature = "learn")]
pub mod learn;

#[cfg(target_arch = "wasm32")]
pub mod web;
