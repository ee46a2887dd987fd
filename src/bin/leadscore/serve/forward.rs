//! Forwarding: posts each newly accepted result to the team's webhook (`--forward URL`).
//!
//! The queue lives in the database, written in the same transaction as the result, so a result is
//! either stored and queued or neither. One worker takes due rows in `event_id` arrival order,
//! posts the stored JSON with an `Idempotency-Key: <event_id>` header and marks the row delivered
//! on a 2xx answer. A 4xx answer other than 408 and 429 is the webhook refusing that result (as
//! the widget treats a 4xx from the collector): the row is kept, marked refused with the answer,
//! counted on the dashboard and not retried. Any other answer or a network error schedules the
//! next attempt with exponential backoff (doubling from `--forward-backoff-ms`, capped at
//! `--forward-max-backoff`, with jitter). A webhook outage therefore loses nothing; delivery is at
//! least once, and the idempotency key lets the receiver drop the rare repeat (a crash between its
//! 2xx and our mark).
//!
//! Claimed rows are leased to this collector for as long as the whole batch may take when every
//! request runs into its timeout ([`batch_and_lease`]), so a slow webhook never lets another
//! collector on the same database claim a row that is still being posted; and a delivery that
//! would no longer end inside the lease is left for the next claim.

use super::store::{Delivery, Store};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify};

/// Most deliveries taken per round.
const MAX_BATCH: i64 = 32;
/// About how long a claim is leased for: the batch is as large as fits in it.
const LEASE_TARGET_MS: i64 = 60_000;
/// Per delivery, on top of the webhook timeout: the spawn, the database update.
const PER_DELIVERY_SLACK_MS: i64 = 1_000;
/// Per batch, on top: the claim itself, clock steps.
const LEASE_SLACK_MS: i64 = 5_000;
/// How often the queue is looked at when nothing woke the worker (other collectors, retries).
const POLL: Duration = Duration::from_millis(500);

pub struct ForwardConfig {
    pub url: String,
    pub first_backoff: Duration,
    pub max_backoff: Duration,
    pub timeout: Duration,
}

/// How many deliveries to claim at once and for how long (ms), so that the lease covers the batch
/// even when every request takes its whole `timeout`.
pub fn batch_and_lease(timeout: Duration) -> (i64, i64) {
    let per = i64::try_from(timeout.as_millis())
        .unwrap_or(i64::MAX / 2)
        .saturating_add(PER_DELIVERY_SLACK_MS);
    let batch = (LEASE_TARGET_MS / per.max(1)).clamp(1, MAX_BATCH);
    (
        batch,
        batch.saturating_mul(per).saturating_add(LEASE_SLACK_MS),
    )
}

/// The URL without its secrets, for logs: no password or token user, no query values, and only
/// the first path segment (webhook URLs often carry their secret in the path).
pub fn redact(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (format!("{scheme}://"), rest),
        None => (String::new(), url),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let authority = match authority.rsplit_once('@') {
        Some((user, host)) => match user.split_once(':') {
            Some((name, _)) => format!("{name}:***@{host}"),
            None => format!("***@{host}"),
        },
        None => authority.to_owned(),
    };
    let tail = tail.split('#').next().unwrap_or_default();
    let (path, query) = match tail.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (tail, None),
    };
    let mut segments = path.split('/').filter(|s| !s.is_empty());
    let mut out = format!("{scheme}{authority}");
    if let Some(first) = segments.next() {
        out.push('/');
        out.push_str(first);
        if segments.next().is_some() {
            out.push_str("/***");
        }
    }
    if let Some(query) = query {
        let keys: Vec<String> = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| format!("{}=***", p.split('=').next().unwrap_or_default()))
            .collect();
        out.push('?');
        out.push_str(&keys.join("&"));
    }
    out
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
    let (batch, lease_ms) = batch_and_lease(config.timeout);
    let per_delivery_ms = i64::try_from(config.timeout.as_millis())
        .unwrap_or(i64::MAX / 2)
        .saturating_add(PER_DELIVERY_SLACK_MS);
    tracing::info!(url = %redact(&config.url), batch, lease_ms, "forwarding accepted results");
    loop {
        if *stop.borrow() {
            return;
        }
        let now = now_ms();
        let lease_until = now.saturating_add(lease_ms);
        let due = match store.claim_deliveries(now, lease_until, batch).await {
            Ok(due) => due,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the forwarding queue");
                Vec::new()
            }
        };
        let busy = due.len() as i64 == batch;
        for delivery in due {
            if *stop.borrow() {
                // Not posted: the lease expires and the next start (or another collector) sends it.
                return;
            }
            if now_ms().saturating_add(per_delivery_ms) > lease_until {
                // It might not end inside the lease: leave it for the next claim.
                break;
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
    let outcome = tokio::task::spawn_blocking(move || -> Result<(), Failure> {
        let response = agent
            .post(&url)
            .header("Content-Type", "application/json")
            .header("Idempotency-Key", &event_id)
            .send(payload.as_bytes())
            .map_err(|e| Failure::Retry(e.to_string().replace(&url, &redact(&url))))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else if status.is_client_error() && status.as_u16() != 408 && status.as_u16() != 429 {
            Err(Failure::Refused(format!("webhook refused it: {status}")))
        } else {
            Err(Failure::Retry(format!("webhook answered {status}")))
        }
    })
    .await
    .unwrap_or_else(|e| Err(Failure::Retry(e.to_string())));
    let now = now_ms();
    match outcome {
        Err(Failure::Refused(error)) => {
            tracing::warn!(event_id = %delivery.event_id, attempts = delivery.attempts + 1, %error,
                "the webhook refused a result; kept, marked refused, not retried");
            if let Err(e) = store.mark_refused(delivery.result_id, now, error).await {
                tracing::warn!(event_id = %delivery.event_id, error = %e, "cannot record the refusal");
            }
        }
        Ok(()) => {
            tracing::debug!(event_id = %delivery.event_id, attempts = delivery.attempts + 1, "forwarded");
            if let Err(e) = store.mark_delivered(delivery.result_id, now).await {
                tracing::warn!(event_id = %delivery.event_id, error = %e, "forwarded, but cannot mark it delivered");
            }
        }
        Err(Failure::Retry(error)) => {
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

/// Why a delivery did not succeed.
enum Failure {
    /// Worth another try later (network error, 5xx, 408, 429).
    Retry(String),
    /// The webhook does not want this result (another 4xx).
    Refused(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lease_covers_a_batch_of_timeouts() {
        for seconds in [1, 2, 10, 30, 60, 120, 600] {
            let timeout = Duration::from_secs(seconds);
            let (batch, lease) = batch_and_lease(timeout);
            assert!((1..=MAX_BATCH).contains(&batch));
            let work = batch * (seconds as i64 * 1000 + PER_DELIVERY_SLACK_MS);
            assert!(lease >= work, "{seconds} s: lease {lease} < {work}");
        }
        assert_eq!(batch_and_lease(Duration::from_secs(10)).0, 5);
    }

    #[test]
    fn redacts_credentials() {
        assert_eq!(
            redact("https://user:s3cret@hooks.example.com/services/T0/B0/XYZ?token=abc&x=1#f"),
            "https://user:***@hooks.example.com/services/***?token=***&x=***"
        );
        assert_eq!(redact("http://tok@h:8080/hook"), "http://***@h:8080/hook");
        assert_eq!(redact("http://h/"), "http://h");
        assert_eq!(redact("a:b@host/x/y"), "a:***@host/x/***");
    }

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
