//! What training did, for the person running it: per column, per tier, and overall.

use super::tiers::TierReport;
use crate::model::Model;
use serde::Serialize;

/// What training found per column.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ColumnReport {
    pub column: String,
    /// `answer`, `number`, `visits`, …
    pub signal: &'static str,
    /// Candidate rules (levels or steps) before points were rounded.
    pub candidates: usize,
    /// Rules in the model (non-zero points).
    pub rules: usize,
    /// Cut points of a numeric column.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cuts: Vec<f64>,
}

/// What training did, for the person running it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainReport {
    pub leads: usize,
    pub converted: usize,
    /// The fitter: `boost`, `logistic` or `refit`.
    pub fit: &'static str,
    /// The penalty used, and the cross-validated log loss per penalty tried (logistic and
    /// refit); the boosted fitter's Hessian penalty.
    pub l2: f64,
    pub cross_validation: Vec<(f64, f64)>,
    /// Newton iterations (logistic), or the mean boosting rounds kept per bag (boost).
    pub iterations: usize,
    /// Boosting rounds kept per bag (boost only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rounds: Vec<usize>,
    pub columns: Vec<ColumnReport>,
    pub tiers: Vec<TierReport>,
    /// Which scores the tier thresholds were placed on: `out-of-fold` or `training`.
    pub tier_scores: &'static str,
    /// ROC AUC of the integer totals on the training leads.
    pub train_auc: f64,
    /// The float model against its integer points on held-out leads, when there were any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held_out: Option<HeldOutReport>,
    /// What a `--base` refit decided, and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The compound rules learned from pairwise interactions (boost only), described.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub interactions: Vec<String>,
    pub warnings: Vec<String>,
}

/// ROC AUC on held-out leads (the split's test rows) of the fitted weights before rounding and
/// of the integer points: what rounding to points costs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct HeldOutReport {
    pub leads: usize,
    pub float_auc: f64,
    pub points_auc: f64,
}

/// A learned model and its report.
#[derive(Debug, Clone, PartialEq)]
pub struct Trained {
    pub model: Model,
    pub report: TrainReport,
}
