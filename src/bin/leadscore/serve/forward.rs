//! Forwarding: posts each newly accepted result to the team's webhook (`--forward URL`).
//!
//! The queue lives in the database, written in the same transaction as the result, so a result is
//! either stored and queued or neither. One worker takes due rows in `event_id` arrival order,
//! posts the stored JSON with an `Idempotency-Key: <event_id>` header and marks the row delivered
//! on a 2xx answer. Any other answer or a network error schedules the next attempt with
//! exponential backoff (doubling from `--forward-backoff-ms`, capped at `--forward-max-backoff`,
//! with jitter). A webhook outage therefore loses nothing; delivery is at least once, and the
//! idempotency key lets the receiver drop the rare repeat (a crash between its 2xx and our mark).

use super::store::{Delivery, Store};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify};

/// Deliveries taken per round.
const BATCH: i64 = 32;
/// How long a claimed delivery is reserved for this collector.
const LEASE_MS: i64 = 60_000;
/// How often the queue is looked at when nothing woke the worker (other collectors, retries).
const POLL: Duration = Duration::from_millis(500);

pub struct ForwardConfig {
    pub url: String,
    pub first_backoff: Duration,
    pub max_backoff: Duration,
    pub timeout: Duration,
}

pub fn now_ms() -> i64 {
    let now = time::OffsetDateTime::now_utc();
    i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// Delay before attempt number `attempts + 1` (after `attempts` failures, at least one).
pub fn backoff(config: &ForwardConfig, failures: i64, jitter_source: u64) -> Duration {
    let exponent = u32::try_from(failures.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
    let base = config
        .first_backoff
        .saturating_mul(2u32.saturating_pow(exponent))
        .min(config.max_backoff);
    // Up to +25% so that many collectors do not retry in lockstep.
    let jitter = base.mul_f64(f64::from(u32::try_from(jitter_source % 1000).unwrap_or(0)) / 4000.0);
    base + jitter
}

pub async fn run(
    store: Arc<Store>,
    config: ForwardConfig,
    wake: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(config.timeout))
        .http_status_as_error(false)
        .user_agent(concat!("leadscore/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    tracing::info!(url = %config.url, "forwarding accepted results");
    loop {
        if *stop.borrow() {
            return;
        }
        let now = now_ms();
        let due = match store.claim_deliveries(now, now + LEASE_MS, BATCH).await {
            Ok(due) => due,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the forwarding queue");
                Vec::new()
            }
        };
        let busy = due.len() as i64 == BATCH;
        for delivery in due {
            if *stop.borrow() {
                // Not posted: the lease expires and the next start (or another collector) sends it.
                return;
            }
            deliver(&store, &agent, &config, delivery).await;
        }
        if busy {
            continue;
        }
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(POLL) => {}
            _ = stop.changed() => return,
        }
    }
}

async fn deliver(store: &Store, agent: &ureq::Agent, config: &ForwardConfig, delivery: Delivery) {
    let agent = agent.clone();
    let url = config.url.clone();
    let (payload, event_id) = (delivery.payload.clone(), delivery.event_id.clone());
    let outcome = tokio::task::spawn_blocking(move || -> Result<(), String> {
        let response = agent
            .post(&url)
            .header("Content-Type", "application/json")
            .header("Idempotency-Key", &event_id)
            .send(payload.as_bytes())
            .map_err(|e| e.to_string())?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("webhook answered {status}"))
        }
    })
    .await
    .unwrap_or_else(|e| Err(e.to_string()));
    let now = now_ms();
    match outcome {
        Ok(()) => {
            tracing::debug!(event_id = %delivery.event_id, attempts = delivery.attempts + 1, "forwarded");
            if let Err(e) = store.mark_delivered(delivery.result_id, now).await {
                tracing::warn!(event_id = %delivery.event_id, error = %e, "forwarded, but cannot mark it delivered");
            }
        }
        Err(error) => {
            let failures = delivery.attempts + 1;
            let jitter = u64::try_from(now).unwrap_or(0).wrapping_mul(2_654_435_761) >> 7;
            let wait = backoff(config, failures, jitter);
            let next = now.saturating_add(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX));
            tracing::warn!(event_id = %delivery.event_id, attempts = failures, retry_in_ms = wait.as_millis() as u64,
                error = %error, "forwarding failed, will retry");
            if let Err(e) = store.mark_failed(delivery.result_id, next, error).await {
                tracing::warn!(event_id = %delivery.event_id, error = %e, "cannot record the failed attempt");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let config = ForwardConfig {
            url: String::new(),
            first_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
        };
        assert_eq!(backoff(&config, 1, 0), Duration::from_millis(100));
        assert_eq!(backoff(&config, 2, 0), Duration::from_millis(200));
        assert_eq!(backoff(&config, 4, 0), Duration::from_millis(800));
        assert_eq!(backoff(&config, 5, 0), Duration::from_secs(1));
        assert_eq!(backoff(&config, 500, 0), Duration::from_secs(1));
        let jittered = backoff(&config, 1, 999);
        assert!(jittered > Duration::from_millis(100) && jittered <= Duration::from_millis(125));
    }
}
