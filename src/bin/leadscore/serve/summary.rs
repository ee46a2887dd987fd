//! `GET /v1/summary`: the numbers the dashboard draws.

use super::store::{DayCount, ForwardingState, ModelVersionCount, Store, Summary, TierCount};
use super::validate::format_at;
use std::collections::BTreeMap;
use time::{Duration, OffsetDateTime};

/// Days shown when the request does not say (`?days=N`, 1 to 366).
pub const DEFAULT_DAYS: u16 = 30;

pub async fn build(store: &Store, days: u16, forwarding: bool) -> Result<Summary, String> {
    let now = OffsetDateTime::now_utc();
    let today = now.date();
    let first = today - Duration::days(i64::from(days.saturating_sub(1)));
    let rows = store.summary_rows(first.to_string()).await?;

    let mut day_counts: BTreeMap<String, DayCount> = BTreeMap::new();
    let mut day = first;
    while day <= today {
        let name = day.to_string();
        day_counts.insert(
            name.clone(),
            DayCount {
                day: name,
                ..DayCount::default()
            },
        );
        day = day.next_day().ok_or("date out of range")?;
    }
    for (day, tier, count) in rows.per_day {
        // Results dated up to a day ahead (browser clocks) get their own column.
        let entry = day_counts.entry(day.clone()).or_insert_with(|| DayCount {
            day,
            ..DayCount::default()
        });
        entry.total += count;
        *entry.tiers.entry(tier).or_default() += count;
    }

    let mut tiers: BTreeMap<String, TierCount> = BTreeMap::new();
    for (tier, results) in rows.per_tier {
        tiers
            .entry(tier.clone())
            .or_insert_with(|| TierCount {
                tier,
                ..TierCount::default()
            })
            .results = results;
    }
    for (tier, visitors) in rows.current_per_tier {
        tiers
            .entry(tier.clone())
            .or_insert_with(|| TierCount {
                tier,
                ..TierCount::default()
            })
            .current_visitors = visitors;
    }

    let mut model_versions: Vec<ModelVersionCount> = rows
        .versions
        .into_iter()
        .map(
            |(model_id, model_version, results, visitors, first_at, last_at)| ModelVersionCount {
                model_id,
                model_version,
                results,
                visitors,
                first_at,
                last_at,
                tiers: BTreeMap::new(),
            },
        )
        .collect();
    for (model_id, model_version, tier, count) in rows.version_tiers {
        if let Some(version) = model_versions
            .iter_mut()
            .find(|v| v.model_id == model_id && v.model_version == model_version)
        {
            version.tiers.insert(tier, count);
        }
    }

    Ok(Summary {
        generated_at: format_at(now).map_err(|r| r.message)?,
        total_results: rows.total,
        days: day_counts.into_values().collect(),
        tiers: tiers.into_values().collect(),
        latest: rows.latest,
        model_versions,
        forwarding: ForwardingState {
            enabled: forwarding,
            pending: rows.pending,
            delivered: rows.delivered,
            refused: rows.refused,
            last_error: rows.last_error.or_else(|| {
                (rows.refused > 0).then(|| {
                    format!(
                        "{} refused by the webhook (kept in the database, not retried); latest: {}",
                        rows.refused,
                        rows.last_refusal.as_deref().unwrap_or("?")
                    )
                })
            }),
            last_refusal: rows.last_refusal,
        },
    })
}
