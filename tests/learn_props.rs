//! Properties of the learning code: AUC, points, binning, tier thresholds, determinism.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use leadscore::learn::binning::{self, BinOptions, Tally};
use leadscore::learn::boost::Monotone;
use leadscore::learn::data::read_csv;
use leadscore::learn::engine_check;
use leadscore::learn::layout;
use leadscore::learn::mapping::{self, Mapping};
use leadscore::learn::metrics::roc_auc;
use leadscore::learn::penalised::Penalty;
use leadscore::learn::points::points;
use leadscore::learn::scorecard::{self, TrainOptions};
use leadscore::learn::synthetic;
use leadscore::learn::tiers::{choose, Target};
use leadscore::model::ValidModel;
use proptest::prelude::*;

/// AUC by counting every (converted, unconverted) pair.
fn brute_auc(scores: &[f64], labels: &[bool]) -> Option<f64> {
    let mut wins = 0.0;
    let mut pairs = 0.0;
    for (i, &a) in scores.iter().enumerate() {
        for (j, &b) in scores.iter().enumerate() {
            if labels[i] && !labels[j] {
                pairs += 1.0;
                wins += if a > b {
                    1.0
                } else if a == b {
                    0.5
                } else {
                    0.0
                };
            }
        }
    }
    (pairs > 0.0).then(|| wins / pairs)
}

proptest! {
    #[test]
    fn auc_equals_pair_counting(data in prop::collection::vec((0i32..20, any::<bool>()), 1..60)) {
        let scores: Vec<f64> = data.iter().map(|d| f64::from(d.0)).collect();
        let labels: Vec<bool> = data.iter().map(|d| d.1).collect();
        let fast = roc_auc(&scores, &labels);
        let slow = brute_auc(&scores, &labels);
        prop_assert_eq!(fast.is_some(), slow.is_some());
        if let (Some(a), Some(b)) = (fast, slow) {
            prop_assert!((a - b).abs() < 1e-12);
            // Reversing the scores mirrors the AUC; a monotone transform keeps it.
            let reversed: Vec<f64> = scores.iter().map(|s| -s).collect();
            prop_assert!((roc_auc(&reversed, &labels).unwrap() - (1.0 - a)).abs() < 1e-12);
            let squashed: Vec<f64> = scores.iter().map(|s| (s / 7.0).tanh()).collect();
            prop_assert!((roc_auc(&squashed, &labels).unwrap() - a).abs() < 1e-12);
        }
    }

    #[test]
    fn points_are_monotone_in_the_coefficients(a in -20.0f64..20.0, b in -20.0f64..20.0, pdo in 1.0f64..100.0) {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        prop_assert!(points(lo, pdo) <= points(hi, pdo));
        // Rounding error at most half a point on the stated scale.
        let exact = a * pdo / std::f64::consts::LN_2;
        prop_assert!((f64::from(points(a, pdo)) - exact).abs() <= 0.5 + 1e-9);
        // Opposite coefficients give opposite points.
        prop_assert_eq!(points(-a, pdo), -points(a, pdo));
    }

    #[test]
    fn cut_points_are_sorted_inside_the_range_and_bins_are_large_enough(
        raw in prop::collection::vec((0u32..500, 1u64..200, 0u64..200), 1..80),
        max_bins in 2usize..12,
    ) {
        let tallies = binning::collect(raw.iter().map(|&(v, n, c)| Tally { value: f64::from(v), leads: n, converted: c.min(n) }).collect());
        let opts = BinOptions { max_bins, ..BinOptions::default() };
        let cuts = binning::cut_points(&tallies, &opts);
        prop_assert!(cuts.len() < max_bins);
        prop_assert!(cuts.windows(2).all(|w| w[0] < w[1]));
        let lo = tallies.first().unwrap().value;
        let hi = tallies.last().unwrap().value;
        prop_assert!(cuts.iter().all(|&c| c > lo && c <= hi));
        // Every cut is an observed value, and every bin holds at least `min_leads` leads.
        prop_assert!(cuts.iter().all(|c| tallies.iter().any(|t| t.value == *c)));
        let mut edges = vec![f64::NEG_INFINITY];
        edges.extend(&cuts);
        edges.push(f64::INFINITY);
        for w in edges.windows(2) {
            let n: u64 = tallies.iter().filter(|t| t.value >= w[0] && t.value < w[1]).map(|t| t.leads).sum();
            prop_assert!(n >= opts.min_leads || cuts.is_empty(), "bin [{}, {}) has {} leads", w[0], w[1], n);
        }
    }

    #[test]
    fn precision_thresholds_meet_the_target_and_are_the_lowest_that_do(
        data in prop::collection::vec((0i64..30, any::<bool>()), 1..80),
        target in 0.3f64..0.95,
    ) {
        let totals: Vec<i64> = data.iter().map(|d| d.0).collect();
        let labels: Vec<bool> = data.iter().map(|d| d.1).collect();
        let at_or_above = |t: i64| {
            let n = totals.iter().filter(|&&x| x >= t).count();
            let c = totals.iter().zip(&labels).filter(|(&x, &y)| x >= t && y).count();
            (n, if n > 0 { c as f64 / n as f64 } else { 0.0 })
        };
        let meets = |t: i64| { let (n, p) = at_or_above(t); n >= 3 && p >= target };
        match choose(&totals, &labels, Target::Precision(target), 3) {
            Some(c) => {
                prop_assert!(meets(c.threshold));
                prop_assert!(!totals.iter().any(|&t| t < c.threshold && meets(t)));
            }
            None => prop_assert!(!totals.iter().any(|&t| meets(t))),
        }
    }
}

fn train_generated(
    rows: usize,
    data_seed: u64,
    options: &TrainOptions,
) -> leadscore::learn::report::Trained {
    let text = synthetic::csv(rows, data_seed);
    let m: Mapping = serde_json::from_str(synthetic::MAPPING).unwrap();
    let skip = mapping::ignored(&m, &[]);
    let table = read_csv(text.as_bytes(), &|h| !skip.contains(h), &mut |_, _| {}).unwrap();
    let layout = layout::resolve(&m, &table, None, &[]).unwrap();
    let labels = layout::labels(&table, &layout).unwrap();
    let rows: Vec<u32> = (0..table.rows as u32).collect();
    scorecard::train(&table, &layout, &labels, &rows, options).unwrap()
}

/// Boosting with interactions gives the same model twice for a fixed seed, its compound rules
/// included, and the engine scores every training lead as the scorecard does (the training's
/// own check); a different seed may choose other validation leads.
#[test]
fn boosted_interactions_are_deterministic_for_a_fixed_seed() {
    use leadscore::learn::interactions::InteractionOptions;
    use leadscore::learn::{boost::BoostOptions, fitting::Fitter};
    let boosted = TrainOptions::boosted();
    let options = TrainOptions {
        seed: 7,
        fit: Fitter::Boost(BoostOptions {
            bags: 2,
            interactions: InteractionOptions {
                // Every proposal kept: the test needs compound rules.
                tolerance: -1.0,
                max_rules: 3,
                ..InteractionOptions::default()
            },
            ..BoostOptions::default()
        }),
        ..boosted
    };
    let a = train_generated(3000, 3, &options);
    let b = train_generated(3000, 3, &options);
    assert_eq!(a.model, b.model);
    assert_eq!(a.report, b.report);
    let compound = a
        .model
        .rules
        .iter()
        .filter(|r| matches!(r.when, leadscore::model::Matcher::All(_)))
        .count();
    assert_eq!(a.report.interactions.len(), 3, "{:?}", a.report);
    assert!((1..=3).contains(&compound), "{compound}");
    assert!(ValidModel::new(a.model.clone()).is_ok());
    // Without interactions: no compound rule.
    let none = TrainOptions {
        fit: Fitter::Boost(BoostOptions {
            bags: 2,
            interactions: InteractionOptions {
                max_rules: 0,
                ..InteractionOptions::default()
            },
            ..BoostOptions::default()
        }),
        ..options
    };
    let c = train_generated(3000, 3, &none);
    assert!(c.report.interactions.is_empty());
    assert!(!c
        .model
        .rules
        .iter()
        .any(|r| matches!(r.when, leadscore::model::Matcher::All(_))));
}

/// Nothing training chooses (bins, interactions, early stopping, thresholds) reads the test
/// rows: flipping their labels changes the test figures only, never the model.
#[test]
fn the_test_rows_choose_nothing() {
    let text = synthetic::csv(3000, 5);
    let m: Mapping = serde_json::from_str(synthetic::MAPPING).unwrap();
    let skip = mapping::ignored(&m, &[]);
    let table = read_csv(text.as_bytes(), &|h| !skip.contains(h), &mut |_, _| {}).unwrap();
    let layout = layout::resolve(&m, &table, None, &[]).unwrap();
    let labels = layout::labels(&table, &layout).unwrap();
    let (train, test): (Vec<u32>, Vec<u32>) = (0..table.rows as u32).partition(|r| r % 5 != 0);
    let flipped: Vec<bool> = labels
        .iter()
        .enumerate()
        .map(|(r, &y)| if r % 5 == 0 { !y } else { y })
        .collect();
    let options = TrainOptions::boosted();
    let a = scorecard::train_and_test(&table, &layout, &labels, &train, &test, &options).unwrap();
    let b = scorecard::train_and_test(&table, &layout, &flipped, &train, &test, &options).unwrap();
    assert_eq!(a.model, b.model);
    assert_eq!(a.report.interactions, b.report.interactions);
    assert_eq!(a.report.rounds, b.report.rounds);
    assert_ne!(a.report.held_out, b.report.held_out);
}

#[test]
fn training_is_deterministic_for_a_fixed_seed() {
    let options = TrainOptions {
        seed: 42,
        ..TrainOptions::default()
    };
    let a = train_generated(3000, 1, &options);
    let b = train_generated(3000, 1, &options);
    assert_eq!(a.model, b.model);
    assert_eq!(a.report, b.report);
    assert!(ValidModel::new(a.model.clone()).is_ok());
    // The cross-validation really ran over the whole grid.
    assert_eq!(a.report.cross_validation.len(), 5);
}

#[test]
fn boosted_training_is_deterministic_and_keeps_monotone_columns_monotone() {
    let options = TrainOptions {
        seed: 9,
        monotone: vec![("Time On Site".into(), Monotone::Increasing)],
        ..TrainOptions::boosted()
    };
    let a = train_generated(3000, 4, &options);
    let b = train_generated(3000, 4, &options);
    assert_eq!(a.model, b.model);
    assert_eq!(a.report, b.report);
    assert_eq!(a.report.fit, "boost");
    assert!(ValidModel::new(a.model.clone()).is_ok());
    // Time-on-site steps only add points (a step of 0 points is left out).
    for r in &a.model.rules {
        if matches!(r.when, leadscore::model::Matcher::TimeOnSite { .. }) {
            assert!(r.points > 0, "{r:?}");
        }
        assert!(r.evidence.as_ref().is_some_and(|e| e.leads > 0), "{r:?}");
    }
    let other = train_generated(
        3000,
        4,
        &TrainOptions {
            seed: 10,
            ..options.clone()
        },
    );
    assert_ne!(a.model, other.model, "the seed draws the bags");
}

#[test]
fn a_larger_pdo_scales_the_points() {
    let base = TrainOptions {
        penalty: Penalty::Fixed(1.0),
        ..TrainOptions::default()
    };
    let a = train_generated(
        3000,
        2,
        &TrainOptions {
            pdo: 20.0,
            ..base.clone()
        },
    );
    let b = train_generated(3000, 2, &TrainOptions { pdo: 40.0, ..base });
    for rule in &a.model.rules {
        let twin = b.model.rules.iter().find(|r| r.id == rule.id).unwrap();
        // Same weights, twice the scale: within the two roundings.
        assert!(
            (f64::from(twin.points) - 2.0 * f64::from(rule.points)).abs() <= 1.5,
            "{}",
            rule.id
        );
    }
    let (ca, cb) = (a.model.calibration.unwrap(), b.model.calibration.unwrap());
    assert!((ca.slope / cb.slope - 2.0).abs() < 0.1, "{ca:?} {cb:?}");
}

/// The scorecard total of one generated lead, computed from its CSV cells and the model's rules
/// by this test alone (no replay, no engine).
fn total_from_cells(model: &leadscore::model::Model, header: &[&str], cells: &[&str]) -> i64 {
    let cell = |name: &str| cells[header.iter().position(|h| *h == name).unwrap()].trim();
    model
        .rules
        .iter()
        .filter(|rule| rule_hit(&rule.when, &cell))
        .map(|rule| i64::from(rule.points))
        .sum()
}

/// Whether a lead's cells meet a learned rule's condition.
fn rule_hit<'a>(when: &leadscore::model::Matcher, cell: &dyn Fn(&str) -> &'a str) -> bool {
    use leadscore::model::Matcher;
    let number = |name: &str| cell(name).parse::<f64>().ok();
    let same = |a: &str, b: &str| a.trim().eq_ignore_ascii_case(b.trim());
    let visits = number("Visits").map_or(1.0, f64::round).max(1.0);
    let seconds = number("Time On Site").unwrap_or(0.0);
    match when {
        Matcher::Visits { at_least } => visits >= f64::from(*at_least),
        Matcher::TimeOnSite { at_least_seconds } => seconds >= f64::from(*at_least_seconds),
        Matcher::Answer {
            question,
            equals,
            one_of,
            min,
            ..
        } => {
            let column = match question.as_str() {
                "pages_per_visit" => "Pages Per Visit",
                "role" => "Role",
                "country" => "Country",
                other => panic!("unexpected question {other}"),
            };
            let value = cell(column);
            let answered = !value.is_empty() && !same(value, "select");
            answered
                && match (equals, one_of, min) {
                    (Some(e), _, _) => same(value, e),
                    (_, Some(list), _) => list.iter().any(|e| same(value, e)),
                    (_, _, Some(m)) => value.parse::<f64>().is_ok_and(|x| x >= *m),
                    _ => false,
                }
        }
        Matcher::Page { query, .. } => {
            let source = cell("Source");
            let present =
                (!source.is_empty() && !same(source, "select")).then(|| source.to_string());
            query
                .get("utm_source")
                .is_some_and(|c| c.holds(present.as_deref()))
        }
        Matcher::Download { .. } => same(cell("Guide Download"), "yes"),
        Matcher::Form { .. } => same(cell("Demo Request"), "yes"),
        Matcher::All(parts) => parts.iter().all(|p| rule_hit(p, cell)),
        other => panic!("unexpected matcher {other:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4, ..ProptestConfig::default() })]

    #[test]
    fn the_engine_scores_every_lead_as_the_scorecard_says(seed in 0u64..1000) {
        let text = synthetic::csv(1200, seed);
        let trained = train_generated(1200, seed, &TrainOptions { penalty: Penalty::Fixed(1.0), ..TrainOptions::default() });
        let model = ValidModel::new(trained.model.clone()).unwrap();
        let m: Mapping = serde_json::from_str(synthetic::MAPPING).unwrap();
        let skip = mapping::ignored(&m, &[]);
        let table = read_csv(text.as_bytes(), &|h| !skip.contains(h), &mut |_, _| {}).unwrap();
        let layout = layout::resolve(&m, &table, None, &[]).unwrap();
        for (row, line) in text.lines().skip(1).enumerate() {
            let cells: Vec<&str> = line.split(',').collect();
            let expected = total_from_cells(&trained.model, &synthetic::HEADER, &cells);
            let engine = engine_check::engine_total(&model, &table, &layout, row);
            prop_assert_eq!(engine, expected as f64, "line {}: {}", row + 2, line);
        }
    }
}
