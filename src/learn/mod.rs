//! Fitting points scorecards from historical conversion data, and evaluating them.
//!
//! The pipeline, one module per step:
//! - [`data`]: read a CSV history file into dictionary-encoded columns; split files.
//! - [`mapping`]: which column is which widget signal (answer, visits, time on site, …).
//! - [`binning`]: quantile bins of numeric columns, merged while neighbours do not differ.
//! - [`logistic`]: L2-regularised logistic regression by Newton's method on sparse rows.
//! - [`scorecard`]: candidate rules → fit → integer points, calibration and tiers → a model.
//! - [`refit`]: new points and thresholds for the rules of an existing model.
//! - [`replay`]: a history row as the events the widget would have seen, for the engine.
//! - [`metrics`]: ROC AUC, log loss, Brier score, calibration and tier tables.
//! - [`synthetic`]: generated lead histories for tests and benchmarks.
//!
//! Nothing here opens files or reads the clock: readers take any `std::io::Read`.

pub mod binning;
pub mod data;
pub mod logistic;
pub mod mapping;
pub mod metrics;
pub mod refit;
pub mod replay;
pub mod rng;
pub mod scorecard;
pub mod synthetic;
pub mod tiers;
