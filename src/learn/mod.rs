//! Fitting points scorecards from historical conversion data, and evaluating them.
//!
//! The pipeline, one module per step:
//! - [`data`]: read a CSV history file into dictionary-encoded columns; split files.
//! - [`mapping`]: the mapping file (which column is which widget signal) and `--signal` flags.
//! - [`layout`]: a file's columns resolved against a mapping; the label column.
//! - [`binning`]: quantile bins of numeric columns, merged while neighbours do not differ.
//! - [`candidates`]: every rule a column could give: levels, numeric steps, occurrences.
//! - [`fitting`]: the fitters behind `--fit`: [`boost`] (cyclic boosting of per-column shapes)
//!   and [`penalised`] (L2 logistic regression, by [`logistic`]'s Newton solver); the boosted
//!   fitter adds pairwise [`interactions`] as compound `all` rules.
//! - [`points`]: integer points, evidence and totals.
//! - [`calibration`]: total → conversion probability.
//! - [`tiers`]: tier thresholds chosen by the user's targets.
//! - [`scorecard`]: the steps above in order → a model; [`engine_check`] replays leads through
//!   the engine to check it; [`report`] says what training did.
//! - [`refit`]: new points and thresholds for the rules of an existing model; [`retune`]
//!   decides on a held-out part of a newer slice whether new points, a new calibration or
//!   nothing beats the base model.
//! - [`feedback`]: a model retuned from the rule summaries the widget sent, joined with outcomes.
//! - [`replay`]: a history row as the events the widget would have seen, for the engine.
//! - [`metrics`]: ROC AUC, log loss, Brier score, calibration and tier tables.
//! - [`fingerprint`]: short fingerprints of files, for a model's `training` section.
//! - [`synthetic`]: generated lead histories for tests and benchmarks.
//!
//! Nothing here opens files or reads the clock: readers take any `std::io::Read`.

pub mod binning;
pub mod boost;
pub mod calibration;
pub mod candidates;
pub mod data;
pub mod engine_check;
pub mod error;
pub mod feedback;
pub mod fingerprint;
pub mod fitting;
pub mod interactions;
pub mod layout;
pub mod logistic;
pub mod mapping;
pub mod metrics;
pub mod penalised;
pub mod points;
pub mod refit;
pub mod replay;
pub mod report;
pub mod retune;
pub mod rng;
pub mod scorecard;
pub mod synthetic;
pub mod tiers;
