//! Fitting points scorecards from historical conversion data, and evaluating them.
