//! Evaluation measures: ROC AUC, log loss, Brier score, calibration and tier tables.

/// ROC AUC: the probability that a random converted lead scores above a random unconverted
/// one, ties counting one half (the Mann-Whitney U statistic with mid-ranks). `None` when one
/// class is absent.
pub fn roc_auc(scores: &[f64], labels: &[bool]) -> Option<f64> {
    let mut pairs: Vec<(f64, bool)> = scores.iter().copied().zip(labels.iter().copied()).collect();
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let positives = pairs.iter().filter(|p| p.1).count();
    let negatives = pairs.len() - positives;
    if positives == 0 || negatives == 0 {
        return None;
    }
    // Sum of the mid-ranks (1-based) of the positives.
    let mut rank_sum = 0.0;
    let mut start = 0usize;
    while start < pairs.len() {
        let value = pairs.get(start).map_or(0.0, |p| p.0);
        let end = pairs
            .iter()
            .skip(start)
            .position(|p| p.0 != value)
            .map_or(pairs.len(), |k| start + k);
        let mid = (start + 1 + end) as f64 / 2.0;
        let pos = pairs
            .get(start..end)
            .map_or(0, |g| g.iter().filter(|p| p.1).count());
        rank_sum += mid * pos as f64;
        start = end;
    }
    let (p, n) = (positives as f64, negatives as f64);
    Some((rank_sum - p * (p + 1.0) / 2.0) / (p * n))
}

/// Mean log loss of probabilities (clamped to `[1e-15, 1 − 1e-15]`).
pub fn log_loss(probabilities: &[f64], labels: &[bool]) -> f64 {
    let n = probabilities.len().min(labels.len()).max(1) as f64;
    probabilities
        .iter()
        .zip(labels)
        .map(|(&p, &y)| {
            let p = p.clamp(1e-15, 1.0 - 1e-15);
            if y {
                -p.ln()
            } else {
                -(1.0 - p).ln()
            }
        })
        .sum::<f64>()
        / n
}

/// Mean squared error of probabilities.
pub fn brier(probabilities: &[f64], labels: &[bool]) -> f64 {
    let n = probabilities.len().min(labels.len()).max(1) as f64;
    probabilities
        .iter()
        .zip(labels)
        .map(|(&p, &y)| {
            let d = p - if y { 1.0 } else { 0.0 };
            d * d
        })
        .sum::<f64>()
        / n
}

/// One row of a calibration table.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CalibrationBin {
    /// Lowest and highest predicted probability in the bin.
    pub low: f64,
    pub high: f64,
    pub leads: usize,
    /// Mean predicted probability.
    pub predicted: f64,
    /// Share that converted.
    pub observed: f64,
}

/// Calibration table: leads sorted by predicted probability, cut into `bins` groups of about
/// equal size (equal predictions are kept together).
pub fn calibration_table(
    probabilities: &[f64],
    labels: &[bool],
    bins: usize,
) -> Vec<CalibrationBin> {
    let mut pairs: Vec<(f64, bool)> = probabilities
        .iter()
        .copied()
        .zip(labels.iter().copied())
        .collect();
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let n = pairs.len();
    let bins = bins.max(1);
    let mut out = Vec::new();
    let mut start = 0usize;
    for b in 1..=bins {
        let mut end = (n * b).div_ceil(bins).max(start);
        // Keep ties together.
        while end < n && end > 0 && pairs.get(end).map(|p| p.0) == pairs.get(end - 1).map(|p| p.0) {
            end += 1;
        }
        if end <= start {
            continue;
        }
        let Some(group) = pairs.get(start..end) else {
            break;
        };
        let leads = group.len();
        out.push(CalibrationBin {
            low: group.first().map_or(0.0, |p| p.0),
            high: group.last().map_or(0.0, |p| p.0),
            leads,
            predicted: group.iter().map(|p| p.0).sum::<f64>() / leads as f64,
            observed: group.iter().filter(|p| p.1).count() as f64 / leads as f64,
        });
        start = end;
        if start >= n {
            break;
        }
    }
    out
}

/// Leads and conversions in one tier.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TierRow {
    pub tier: String,
    pub leads: usize,
    /// Share of all leads.
    pub share: f64,
    pub converted: usize,
    /// Conversion rate in the tier.
    pub conversion_rate: f64,
    /// Conversion rate divided by the overall rate.
    pub lift: f64,
}

/// Conversion rate and lift per tier, in the order of `tiers` (tiers without leads included).
pub fn tier_table(tiers: &[String], assigned: &[&str], labels: &[bool]) -> Vec<TierRow> {
    let n = assigned.len().min(labels.len());
    let overall = labels.iter().take(n).filter(|y| **y).count() as f64 / n.max(1) as f64;
    tiers
        .iter()
        .map(|tier| {
            let (leads, converted) = assigned
                .iter()
                .zip(labels)
                .filter(|(t, _)| **t == tier.as_str())
                .fold((0usize, 0usize), |(l, c), (_, y)| {
                    (l + 1, c + usize::from(*y))
                });
            let rate = if leads > 0 {
                converted as f64 / leads as f64
            } else {
                0.0
            };
            TierRow {
                tier: tier.clone(),
                leads,
                share: leads as f64 / n.max(1) as f64,
                converted,
                conversion_rate: rate,
                lift: if overall > 0.0 { rate / overall } else { 0.0 },
            }
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn auc_of_a_hand_checked_example() {
        // Positives score 0.9, 0.6, 0.4; negatives 0.7, 0.4, 0.2, 0.1.
        // Pairs (12): 0.9 beats all 4; 0.6 beats 3 (0.4, 0.2, 0.1), loses to 0.7;
        // 0.4 ties 0.4 (½) and beats 0.2, 0.1. AUC = (4 + 3 + 2.5) / 12 = 9.5 / 12.
        let scores = [0.9, 0.6, 0.4, 0.7, 0.4, 0.2, 0.1];
        let labels = [true, true, true, false, false, false, false];
        let auc = roc_auc(&scores, &labels).unwrap();
        assert!((auc - 9.5 / 12.0).abs() < 1e-12, "{auc}");
    }

    #[test]
    fn auc_extremes() {
        assert_eq!(roc_auc(&[1.0, 2.0], &[false, true]), Some(1.0));
        assert_eq!(roc_auc(&[1.0, 2.0], &[true, false]), Some(0.0));
        assert_eq!(roc_auc(&[3.0, 3.0, 3.0], &[true, false, false]), Some(0.5));
        assert_eq!(roc_auc(&[1.0], &[true]), None);
    }

    #[test]
    fn log_loss_and_brier_by_hand() {
        let p = [0.8, 0.4];
        let y = [true, false];
        let expected = -(0.8f64.ln() + 0.6f64.ln()) / 2.0;
        assert!((log_loss(&p, &y) - expected).abs() < 1e-12);
        assert!((brier(&p, &y) - (0.04 + 0.16) / 2.0).abs() < 1e-12);
    }

    #[test]
    fn calibration_bins_partition_the_leads() {
        let p: Vec<f64> = (0..100).map(|i| f64::from(i) / 100.0).collect();
        let y: Vec<bool> = (0..100).map(|i| i % 2 == 0).collect();
        let table = calibration_table(&p, &y, 10);
        assert_eq!(table.len(), 10);
        assert_eq!(table.iter().map(|b| b.leads).sum::<usize>(), 100);
        assert!((table[0].predicted - 0.045).abs() < 1e-12);
        assert_eq!(table[0].observed, 0.5);
        // All-equal predictions form a single bin.
        assert_eq!(calibration_table(&[0.3; 7], &[true; 7], 5).len(), 1);
    }

    #[test]
    fn tier_rows() {
        let tiers = vec![
            "SQL".to_string(),
            "MQL".to_string(),
            "unqualified".to_string(),
        ];
        let assigned = ["SQL", "SQL", "MQL", "unqualified", "unqualified"];
        let labels = [true, true, false, true, false];
        let t = tier_table(&tiers, &assigned, &labels);
        assert_eq!(t[0].leads, 2);
        assert_eq!(t[0].conversion_rate, 1.0);
        assert!((t[0].lift - 1.0 / 0.6).abs() < 1e-12);
        assert_eq!(t[1].converted, 0);
        assert!((t[2].share - 0.4).abs() < 1e-12);
    }
}
