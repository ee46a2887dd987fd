//! The learned model checked against the engine: the first training leads are replayed as
//! widget events and must score exactly the totals the scorecard computed.

use super::data::Table;
use super::error::LearnError;
use super::layout::Layout;
use super::replay;
use crate::engine::{self, State};
use crate::model::ValidModel;

/// Replays the first training leads through the engine and checks that it gives the totals the
/// scorecard computed; a difference means the replay and the features disagree.
pub fn self_check(
    model: &ValidModel,
    table: &Table,
    layout: &Layout,
    rows: &[u32],
    totals: &[i64],
) -> Result<(), LearnError> {
    for (&r, &expected) in rows.iter().zip(totals).take(500) {
        let total = engine_total(model, table, layout, r as usize);
        if (total - expected as f64).abs() > 1e-9 {
            return Err(LearnError(format!(
                "internal check failed: line {} scores {total} in the engine but {expected} in the scorecard",
                r as usize + 2
            )));
        }
    }
    Ok(())
}

/// The engine's total for a row's replay.
pub fn engine_total(model: &ValidModel, table: &Table, layout: &Layout, row: usize) -> f64 {
    let mut state = State::new(model);
    let mut last = replay::START_MS;
    for (t, event) in replay::events(layout, table, row, model.session_timeout_ms()) {
        let _ = engine::apply(&mut state, model, &event, t);
        last = t;
    }
    engine::score(&state, model, last).total
}
