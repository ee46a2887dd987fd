//! Per-client rate limits (`governor`'s keyed GCRA limiter) and who "the client" is.
//!
//! A browser posts one result per tier change, so a handful per minute is normal; the default
//! (10 per second, bursts of 30) only stops floods. Clients are keyed by [`ClientKey`]: an IPv4
//! address, or the /64 network of an IPv6 address (one subscriber usually holds a whole /64), with
//! IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) counted as the IPv4 address they are. Behind a
//! reverse proxy the client is the right-most address of `X-Forwarded-For` that is not one of the
//! `--trusted-proxy` networks, and the header is only read at all from a trusted proxy: anything
//! to its left was written by the client and proves nothing. Keys idle long enough to have
//! refilled are dropped every minute, so memory stays bounded by the clients of the last minute.

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::str::FromStr;
use std::time::Duration;

/// The slowest rate accepted on the command line: one per ~17 minutes. Below it a bucket refills
/// so slowly that the limit is a ban, which is not what a rate is for (use a firewall).
pub const MIN_RATE: f64 = 0.001;
/// The fastest: beyond it the limit does nothing a loopback client could notice.
pub const MAX_RATE: f64 = 1_000_000.0;

/// Parses `--rate-limit`: 0 (off) or a finite number from [`MIN_RATE`] to [`MAX_RATE`].
pub fn parse_rate(text: &str) -> Result<f64, String> {
    let rate: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number"))?;
    if rate == 0.0 {
        return Ok(0.0);
    }
    if !rate.is_finite() || !(MIN_RATE..=MAX_RATE).contains(&rate) {
        return Err(format!(
            "{text:?}: expected 0 (no limit) or a number of results per second from {MIN_RATE} to {MAX_RATE}"
        ));
    }
    Ok(rate)
}

/// What a client is counted as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClientKey {
    V4(u32),
    /// The first 64 bits of the address.
    V6Net(u64),
}

impl ClientKey {
    pub fn of(ip: IpAddr) -> ClientKey {
        match canonical(ip) {
            IpAddr::V4(v4) => ClientKey::V4(u32::from(v4)),
            IpAddr::V6(v6) => ClientKey::V6Net((u128::from(v6) >> 64) as u64),
        }
    }
}

/// `::ffff:a.b.c.d` is `a.b.c.d`.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// A network given to `--trusted-proxy`: `10.0.0.0/8`, `::1`, `fd00::/8`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl FromStr for Network {
    type Err = String;
    fn from_str(text: &str) -> Result<Network, String> {
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let addr: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("{text:?}: expected an IP address or network like 10.0.0.0/8"))?;
        let addr = canonical(addr);
        let bits = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => bits,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= bits)
                .ok_or_else(|| format!("{text:?}: the prefix length must be 0 to {bits}"))?,
        };
        Ok(Network { addr, prefix })
    }
}

impl Network {
    pub fn contains(&self, ip: IpAddr) -> bool {
        let mask128 = |prefix: u8| -> u128 {
            if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(prefix))
            }
        };
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = (mask128(self.prefix.saturating_add(96)) & u128::from(u32::MAX)) as u32;
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = mask128(self.prefix);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// Who sent a request: the TCP peer, or (from a trusted proxy) the right-most untrusted address
/// of the forwarding header.
#[derive(Clone, Debug, Default)]
pub struct ClientAddress {
    pub header: String,
    pub trusted: Vec<Network>,
}

impl ClientAddress {
    pub fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|n| n.contains(ip))
    }

    /// `values`: every value of the forwarding header, in the order received.
    pub fn resolve<'a>(&self, peer: IpAddr, values: impl Iterator<Item = &'a str>) -> IpAddr {
        let peer = canonical(peer);
        if !self.is_trusted(peer) {
            return peer;
        }
        let hops: Vec<&str> = values.flat_map(|v| v.split(',')).collect();
        // From the right: each trusted hop vouches for the one before it.
        let mut client = peer;
        for hop in hops.iter().rev() {
            let Some(ip) = parse_hop(hop) else {
                // Garbage from the client side: the last address we could vouch for is the client
                // (fail closed: it is limited, not let through).
                return client;
            };
            client = ip;
            if !self.is_trusted(ip) {
                return ip;
            }
        }
        client
    }
}

/// `203.0.113.7`, `2001:db8::1`, `[2001:db8::1]:443` or `203.0.113.7:51234`.
fn parse_hop(text: &str) -> Option<IpAddr> {
    let text = text.trim();
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Ok(sock) = text.parse::<std::net::SocketAddr>() {
        return Some(canonical(sock.ip()));
    }
    text.strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .and_then(|t| t.parse::<Ipv6Addr>().ok())
        .map(|ip| canonical(IpAddr::V6(ip)))
}

/// A token bucket per [`ClientKey`].
pub struct RateLimiter {
    limiter: Option<DefaultKeyedRateLimiter<ClientKey>>,
}

impl RateLimiter {
    /// `per_second` (already validated by [`parse_rate`]) results per second, bursts of `burst`;
    /// 0 turns it off.
    pub fn new(per_second: f64, burst: u32) -> Result<Self, String> {
        if per_second == 0.0 {
            return Ok(RateLimiter { limiter: None });
        }
        let period = Duration::try_from_secs_f64(1.0 / per_second)
            .ok()
            .filter(|p| !p.is_zero())
            .ok_or_else(|| format!("--rate-limit {per_second}: out of range"))?;
        let burst = NonZeroU32::new(burst).ok_or("--rate-burst must be at least 1")?;
        let quota = Quota::with_period(period)
            .ok_or_else(|| format!("--rate-limit {per_second}: out of range"))?
            .allow_burst(burst);
        Ok(RateLimiter {
            limiter: Some(DefaultKeyedRateLimiter::keyed(quota)),
        })
    }

    /// Takes one token for `client`; `Err(wait)` tells how long until one is available.
    pub fn check(&self, client: IpAddr) -> Result<(), Duration> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        limiter
            .check_key(&ClientKey::of(client))
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// Forgets clients whose bucket is full again (call every minute or so).
    pub fn forget_idle(&self) {
        if let Some(limiter) = &self.limiter {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
    }

    #[test]
    fn rejects_rates_that_are_not_rates() {
        for bad in ["NaN", "inf", "-inf", "-1", "1e-20", "1e300", "x", ""] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_rate("0"), Ok(0.0));
        assert_eq!(parse_rate("0.5"), Ok(0.5));
    }

    #[test]
    fn allows_the_burst_then_refuses() {
        let limiter = RateLimiter::new(0.5, 3).unwrap_or(RateLimiter { limiter: None });
        let a = ip("10.0.0.1");
        assert!((0..3).all(|_| limiter.check(a).is_ok()));
        assert!(limiter.check(a).is_err());
        assert!(limiter.check(ip("10.0.0.2")).is_ok());
        assert!(limiter.check(ip("::ffff:10.0.0.1")).is_err(), "mapped = v4");
    }

    #[test]
    fn keys_ipv6_per_64() {
        assert_eq!(
            ClientKey::of(ip("2001:db8:1:2::1")),
            ClientKey::of(ip("2001:db8:1:2:ffff::9"))
        );
        assert_ne!(
            ClientKey::of(ip("2001:db8:1:2::1")),
            ClientKey::of(ip("2001:db8:1:3::1"))
        );
        assert_eq!(
            ClientKey::of(ip("::ffff:1.2.3.4")),
            ClientKey::of(ip("1.2.3.4"))
        );
    }

    #[test]
    fn trusts_forwarding_only_from_proxies() {
        let resolver = ClientAddress {
            header: "x-forwarded-for".into(),
            trusted: vec!["10.0.0.0/8".parse().unwrap_or(Network {
                addr: ip("10.0.0.0"),
                prefix: 8,
            })],
        };
        let xff = ["6.6.6.6, 1.2.3.4, 10.0.0.2"];
        // From an untrusted peer the header is ignored.
        assert_eq!(
            resolver.resolve(ip("5.5.5.5"), xff.iter().copied()),
            ip("5.5.5.5")
        );
        // From the proxy: the right-most untrusted hop, not the client-written first one.
        assert_eq!(
            resolver.resolve(ip("10.0.0.1"), xff.iter().copied()),
            ip("1.2.3.4")
        );
        assert_eq!(
            resolver.resolve(ip("::ffff:10.0.0.1"), ["[::ffff:1.2.3.4]:99"].into_iter()),
            ip("1.2.3.4")
        );
        assert_eq!(
            resolver.resolve(ip("10.0.0.1"), std::iter::empty()),
            ip("10.0.0.1")
        );
        assert_eq!(
            resolver.resolve(ip("10.0.0.1"), ["junk, 1.1.1.1"].into_iter()),
            ip("1.1.1.1")
        );
        assert_eq!(
            resolver.resolve(ip("10.0.0.1"), ["1.1.1.1, junk"].into_iter()),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn parses_networks() {
        let n: Result<Network, _> = "192.168.0.0/16".parse();
        assert!(n.as_ref().is_ok_and(|n| n.contains(ip("192.168.7.1"))));
        assert!(n.as_ref().is_ok_and(|n| !n.contains(ip("192.169.0.1"))));
        assert!("::1"
            .parse::<Network>()
            .is_ok_and(|n| n.contains(ip("::1"))));
        assert!("10.0.0.0/33".parse::<Network>().is_err());
        assert!("0.0.0.0/0"
            .parse::<Network>()
            .is_ok_and(|n| n.contains(ip("8.8.8.8"))));
    }
}
