//! Refitting an existing model: new points for its rules, new thresholds for its tiers.
