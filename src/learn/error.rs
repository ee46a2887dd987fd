//! Why learning failed.

use super::logistic;
use std::fmt;

/// Why learning failed.
#[derive(Debug, Clone, PartialEq)]
pub struct LearnError(pub String);

impl fmt::Display for LearnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LearnError {}

impl From<logistic::FitError> for LearnError {
    fn from(e: logistic::FitError) -> LearnError {
        LearnError(e.to_string())
    }
}
