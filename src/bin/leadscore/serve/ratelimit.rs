//! Per-client rate limit on `POST /v1/tier`: a token bucket per client IP address.
//!
//! A browser posts one result per tier change, so a handful per minute is normal; the default
//! (10 per second, bursts of 30) only stops floods. Buckets that have refilled are dropped when the
//! table grows, so memory stays bounded whatever the number of clients.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Above this many tracked clients, full buckets are dropped (at most once a second).
const PRUNE_ABOVE: usize = 10_000;
/// If pruning leaves more than this (a flood from very many addresses), the table starts over.
const MAX_CLIENTS: usize = 200_000;

pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<Buckets>,
}

struct Buckets {
    by_client: HashMap<IpAddr, Bucket>,
    pruned: Option<Instant>,
}

#[derive(Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl RateLimiter {
    /// `per_second` tokens are added per second up to `burst`; `per_second <= 0` turns it off.
    pub fn new(per_second: f64, burst: u32) -> Self {
        RateLimiter {
            per_second,
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(Buckets {
                by_client: HashMap::new(),
                pruned: None,
            }),
        }
    }

    /// Takes one token for `client`; `Err(wait)` tells how long until one is available.
    pub fn check(&self, client: IpAddr, now: Instant) -> Result<(), Duration> {
        if self.per_second <= 0.0 || !self.per_second.is_finite() {
            return Ok(());
        }
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(());
        };
        let due = buckets
            .pruned
            .is_none_or(|at| now.saturating_duration_since(at) >= Duration::from_secs(1));
        if buckets.by_client.len() > PRUNE_ABOVE && due {
            let (per_second, burst) = (self.per_second, self.burst);
            buckets.by_client.retain(|_, b| {
                b.tokens + now.saturating_duration_since(b.updated).as_secs_f64() * per_second
                    < burst
            });
            if buckets.by_client.len() > MAX_CLIENTS {
                buckets.by_client.clear();
            }
            buckets.pruned = Some(now);
        }
        let bucket = buckets.by_client.entry(client).or_insert(Bucket {
            tokens: self.burst,
            updated: now,
        });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.per_second).min(self.burst);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - bucket.tokens) / self.per_second,
            ))
        }
    }
}

#[cfg(test)]
impl RateLimiter {
    fn tracked(&self) -> usize {
        self.buckets
            .lock()
            .map(|b| b.by_client.len())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn allows_the_burst_then_the_rate() {
        let limiter = RateLimiter::new(2.0, 3);
        let start = Instant::now();
        let a = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        let b = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
        for _ in 0..3 {
            assert!(limiter.check(a, start).is_ok());
        }
        assert!(limiter.check(a, start).is_err(), "burst used up");
        assert!(
            limiter.check(b, start).is_ok(),
            "other clients are not affected"
        );
        assert!(
            limiter.check(a, start + Duration::from_millis(500)).is_ok(),
            "one token after 1/rate"
        );
        assert!(limiter
            .check(a, start + Duration::from_millis(500))
            .is_err());
    }

    #[test]
    fn zero_turns_it_off() {
        let limiter = RateLimiter::new(0.0, 1);
        let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
        assert!((0..1000).all(|_| limiter.check(ip, Instant::now()).is_ok()));
    }

    #[test]
    fn forgets_clients_whose_bucket_refilled() {
        let limiter = RateLimiter::new(1.0, 2);
        let start = Instant::now();
        for n in 0..(PRUNE_ABOVE as u32 + 50) {
            assert!(limiter.check(IpAddr::V4(Ipv4Addr::from(n)), start).is_ok());
        }
        assert_eq!(limiter.tracked(), PRUNE_ABOVE + 50);
        let later = start + Duration::from_secs(5);
        assert!(limiter
            .check(IpAddr::V4(Ipv4Addr::LOCALHOST), later)
            .is_ok());
        assert_eq!(limiter.tracked(), 1, "only the client that just asked");
    }
}
