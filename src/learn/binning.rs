//! Supervised binning of numeric columns: quantile bins, merged while neighbours do not differ.
//!
//! 1. The distinct values are cut into about `initial_bins` bins of equal counts (a value is
//!    never split across bins, so a large mass at one value, such as `0`, is a bin of its own).
//! 2. Adjacent bins are merged, smallest difference first, while (a) a bin has fewer than
//!    `min_leads` leads, (b) two neighbours' conversion rates do not differ significantly
//!    (Pearson chi-square on their 2×2 table below `chi2_critical`; 3.84 is p = 0.05 at one
//!    degree of freedom: the ChiMerge rule), or (c) there are more than `max_bins` bins.
//!
//! The result is a list of cut points `t_1 < t_2 < …`: the lowest value of every bin but the
//! first. A lead with value `x` is in bin `k` when `t_k <= x < t_{k+1}`; the scorecard writes this
//! as cumulative steps `x >= t_k`, each with its own (possibly negative) points.

/// Binning parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BinOptions {
    /// Quantile bins to start from.
    pub initial_bins: usize,
    /// Most bins kept.
    pub max_bins: usize,
    /// Fewest leads in a bin.
    pub min_leads: u64,
    /// Chi-square value below which neighbouring bins are merged.
    pub chi2_critical: f64,
}

impl Default for BinOptions {
    fn default() -> BinOptions {
        BinOptions {
            initial_bins: 20,
            max_bins: 10,
            min_leads: 30,
            chi2_critical: 3.841,
        }
    }
}

/// Leads and conversions at one value or in one bin.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tally {
    /// Lowest value.
    pub value: f64,
    pub leads: u64,
    pub converted: u64,
}

/// Sorts `(value, leads, converted)` tallies by value and adds up equal values.
pub fn collect(mut tallies: Vec<Tally>) -> Vec<Tally> {
    tallies.retain(|t| t.value.is_finite() && t.leads > 0);
    tallies.sort_by(|a, b| a.value.total_cmp(&b.value));
    let mut out: Vec<Tally> = Vec::with_capacity(tallies.len());
    for t in tallies {
        match out.last_mut() {
            Some(last) if last.value == t.value => {
                last.leads += t.leads;
                last.converted += t.converted;
            }
            _ => out.push(t),
        }
    }
    out
}

/// Pearson chi-square statistic of two bins' 2×2 table (0 when a margin is empty).
pub fn chi2(a: &Tally, b: &Tally) -> f64 {
    let (a1, a0) = (
        a.converted as f64,
        (a.leads - a.converted.min(a.leads)) as f64,
    );
    let (b1, b0) = (
        b.converted as f64,
        (b.leads - b.converted.min(b.leads)) as f64,
    );
    let n = a1 + a0 + b1 + b0;
    let margins = (a1 + a0) * (b1 + b0) * (a1 + b1) * (a0 + b0);
    if margins <= 0.0 {
        return 0.0;
    }
    let d = a1 * b0 - a0 * b1;
    n * d * d / margins
}

/// Cut points for values tallied by [`collect`] (sorted, distinct).
pub fn cut_points(values: &[Tally], options: &BinOptions) -> Vec<f64> {
    let total: u64 = values.iter().map(|t| t.leads).sum();
    if total == 0 {
        return Vec::new();
    }
    // 1. Quantile bins over distinct values.
    let target = (total as f64 / options.initial_bins.max(1) as f64).max(1.0);
    let mut bins: Vec<Tally> = Vec::new();
    let mut current: Option<Tally> = None;
    for t in values {
        let bin = current.get_or_insert(Tally {
            value: t.value,
            leads: 0,
            converted: 0,
        });
        bin.leads += t.leads;
        bin.converted += t.converted;
        if bin.leads as f64 >= target {
            bins.extend(current.take());
        }
    }
    if let Some(rest) = current {
        match bins.last_mut() {
            // A small remainder joins the last full bin.
            Some(last) if (rest.leads as f64) < target / 2.0 => {
                last.leads += rest.leads;
                last.converted += rest.converted;
            }
            _ => bins.push(rest),
        }
    }

    // 2. Merge neighbours.
    loop {
        if bins.len() < 2 {
            break;
        }
        let stats: Vec<f64> = bins
            .windows(2)
            .map(|w| match w {
                [a, b] => chi2(a, b),
                _ => f64::INFINITY,
            })
            .collect();
        // A bin that is too small merges with the neighbour it differs from least.
        let small = bins.iter().position(|b| b.leads < options.min_leads);
        let pair = match small {
            Some(i) => {
                let left = i.checked_sub(1).and_then(|j| stats.get(j).map(|s| (j, *s)));
                let right = stats.get(i).map(|s| (i, *s));
                match (left, right) {
                    (Some(l), Some(r)) => Some(if l.1 <= r.1 { l.0 } else { r.0 }),
                    (Some(l), None) => Some(l.0),
                    (None, Some(r)) => Some(r.0),
                    (None, None) => None,
                }
            }
            None => {
                let (j, s) = stats
                    .iter()
                    .enumerate()
                    .min_by(|a, b| a.1.total_cmp(b.1))
                    .map_or((0, f64::INFINITY), |(j, s)| (j, *s));
                (s < options.chi2_critical || bins.len() > options.max_bins.max(1)).then_some(j)
            }
        };
        let Some(j) = pair else { break };
        let Some(next) = bins.get(j + 1).copied() else {
            break;
        };
        if let Some(b) = bins.get_mut(j) {
            b.leads += next.leads;
            b.converted += next.converted;
        }
        bins.remove(j + 1);
    }
    bins.iter().skip(1).map(|b| b.value).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn t(value: f64, leads: u64, converted: u64) -> Tally {
        Tally {
            value,
            leads,
            converted,
        }
    }

    #[test]
    fn chi2_of_a_hand_checked_table() {
        // 2×2 table [[30, 70], [60, 40]]: chi2 = 200·(30·40 − 70·60)² / (100·100·90·110) = 18.18…
        let s = chi2(&t(0.0, 100, 30), &t(1.0, 100, 60));
        assert!((s - 18.1818).abs() < 1e-3, "{s}");
        assert_eq!(chi2(&t(0.0, 10, 0), &t(1.0, 10, 0)), 0.0);
    }

    #[test]
    fn collect_adds_equal_values() {
        let c = collect(vec![
            t(2.0, 1, 1),
            t(1.0, 2, 0),
            t(2.0, 3, 1),
            t(f64::NAN, 5, 5),
        ]);
        assert_eq!(c, vec![t(1.0, 2, 0), t(2.0, 4, 2)]);
    }

    #[test]
    fn a_clear_step_is_found_and_flat_parts_merge() {
        // Values 0..100, each 50 leads; conversion 10 % below 60 and 70 % from 60 on.
        let values: Vec<Tally> = (0..100)
            .map(|v| t(f64::from(v), 50, if v < 60 { 5 } else { 35 }))
            .collect();
        let cuts = cut_points(&values, &BinOptions::default());
        assert_eq!(cuts, vec![60.0]);
    }

    #[test]
    fn a_large_mass_at_zero_is_its_own_bin() {
        let mut values = vec![t(0.0, 3000, 300)];
        values.extend((1..200).map(|v| t(f64::from(v), 20, if v < 100 { 8 } else { 14 })));
        let cuts = cut_points(&values, &BinOptions::default());
        assert_eq!(cuts.first(), Some(&1.0));
        assert!(cuts.len() <= 10);
    }

    #[test]
    fn limits_hold() {
        let values: Vec<Tally> = (0..1000u64).map(|v| t(v as f64, 1000, v)).collect();
        let opts = BinOptions {
            max_bins: 4,
            ..BinOptions::default()
        };
        let cuts = cut_points(&values, &opts);
        assert_eq!(cuts.len(), 3);
        assert!(cuts.windows(2).all(|w| w[0] < w[1]));
        assert!(cut_points(&[], &opts).is_empty());
        assert!(cut_points(&[t(1.0, 5, 1)], &opts).is_empty());
    }
}
