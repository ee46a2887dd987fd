//! Who may read what: the `Host` allow-list (against DNS rebinding), read access to
//! `/v1/summary` and the dashboard (loopback only, or a read token), and the outcome token that
//! `POST /v1/outcome` requires.

use super::ratelimit::canonical;
use axum::http::{header, HeaderMap};
use base64::Engine;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;

/// Shortest read token accepted: a guessable token is no protection.
const MIN_TOKEN_LEN: usize = 16;

/// The token from `--read-token` or the first line of `--read-token-file`.
pub fn read_token(arg: Option<&str>, file: Option<&Path>) -> Result<Option<String>, String> {
    token("--read-token", arg, file)
}

/// The token from `--outcome-token` or the first line of `--outcome-token-file`.
pub fn outcome_token(arg: Option<&str>, file: Option<&Path>) -> Result<Option<String>, String> {
    token("--outcome-token", arg, file)
}

/// A token given as `FLAG TOKEN` or as the first line of `FLAG-file FILE`.
fn token(flag: &str, arg: Option<&str>, file: Option<&Path>) -> Result<Option<String>, String> {
    let (token, source) = match (arg, file) {
        (Some(token), _) => (token.trim().to_owned(), flag.to_owned()),
        (None, Some(file)) => {
            let text = std::fs::read_to_string(file)
                .map_err(|e| format!("{flag}-file {}: cannot read it: {e}", file.display()))?;
            (
                text.lines().next().unwrap_or_default().trim().to_owned(),
                format!("{flag}-file {}", file.display()),
            )
        }
        (None, None) => return Ok(None),
    };
    if token.chars().count() < MIN_TOKEN_LEN || token.chars().any(char::is_control) {
        return Err(format!(
            "{source}: the token must be at least {MIN_TOKEN_LEN} printable characters (e.g. from `openssl rand -hex 16`)"
        ));
    }
    Ok(Some(token))
}

/// The host names the server answers to.
#[derive(Debug, Clone)]
pub struct HostCheck {
    any: bool,
    any_ip: bool,
    names: Vec<String>,
}

/// `Example.COM.:8080` → `example.com`; `[::1]:80` → `::1`.
fn host_name(text: &str) -> String {
    let text = text.trim();
    let host = if let Some(rest) = text.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        match text.rsplit_once(':') {
            Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
            _ => text,
        }
    };
    host.trim_end_matches('.').to_ascii_lowercase()
}

impl HostCheck {
    pub fn new(local: SocketAddr, allow: &[String]) -> HostCheck {
        let ip = local.ip();
        let mut names = vec![canonical(ip).to_string(), ip.to_string()];
        if ip.is_loopback() || ip.is_unspecified() {
            names.push("localhost".to_owned());
        }
        let mut any = false;
        for host in allow {
            if host.trim() == "*" {
                any = true;
            } else {
                names.push(host_name(host));
            }
        }
        HostCheck {
            any,
            any_ip: ip.is_unspecified(),
            names,
        }
    }

    /// Whether a request with this `Host` header is for this server. No `Host` (HTTP/1.0
    /// tools) is allowed: browsers always send one.
    pub fn allows(&self, headers: &HeaderMap) -> Result<(), String> {
        if self.any {
            return Ok(());
        }
        let mut values = headers.get_all(header::HOST).iter();
        let Some(value) = values.next() else {
            return Ok(());
        };
        if values.next().is_some() {
            return Err("(more than one Host header)".to_owned());
        }
        let text = value.to_str().unwrap_or_default();
        let host = host_name(text);
        if self.names.contains(&host) || (self.any_ip && host.parse::<IpAddr>().is_ok()) {
            return Ok(());
        }
        Err(text.to_owned())
    }
}

/// Read access to `/v1/summary` and the dashboard.
pub struct ReadAccess {
    token: Option<String>,
}

pub enum ReadDenied {
    /// No token configured and the client is not on this machine.
    NotLocal,
    /// A token is configured and was not presented (or was wrong).
    NeedsToken,
}

/// Headers by which a proxy tells whom it speaks for.
const FORWARDING_HEADERS: [&str; 3] = ["x-forwarded-for", "forwarded", "x-real-ip"];

fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl ReadAccess {
    pub fn new(token: Option<String>) -> ReadAccess {
        ReadAccess { token }
    }

    /// `client`: the resolved client address; `from_trusted_proxy`: whether the TCP peer was a
    /// `--trusted-proxy` (then `client` came from its header).
    pub fn check(
        &self,
        headers: &HeaderMap,
        client: IpAddr,
        from_trusted_proxy: bool,
    ) -> Result<(), ReadDenied> {
        match &self.token {
            Some(token) => {
                if presented(headers, true).is_some_and(|t| same(t.as_bytes(), token.as_bytes())) {
                    Ok(())
                } else {
                    Err(ReadDenied::NeedsToken)
                }
            }
            None => {
                // A loopback peer that forwards for someone else (a reverse proxy on this
                // machine that was not named with --trusted-proxy) is not a local reader.
                let proxied = !from_trusted_proxy
                    && FORWARDING_HEADERS.iter().any(|h| headers.contains_key(*h));
                if canonical(client).is_loopback() && !proxied {
                    Ok(())
                } else {
                    Err(ReadDenied::NotLocal)
                }
            }
        }
    }
}

/// `Authorization: Bearer T`, or (when `basic`) Basic with password T (any user name).
fn presented(headers: &HeaderMap, basic: bool) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, rest) = value.split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(rest.trim().to_owned());
    }
    if basic && scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest.trim())
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        return text
            .split_once(':')
            .map(|(_, password)| password.to_owned());
    }
    None
}

/// Who may post outcomes: whoever presents `--outcome-token` as `Authorization: Bearer TOKEN`.
/// Without a token configured the endpoint is off.
pub struct OutcomeAccess {
    token: Option<String>,
}

pub enum OutcomeDenied {
    /// No `--outcome-token` / `--outcome-token-file`: the endpoint is off.
    Disabled,
    /// No token, or another one, was presented.
    WrongToken,
}

impl OutcomeAccess {
    pub fn new(token: Option<String>) -> OutcomeAccess {
        OutcomeAccess { token }
    }

    /// Compares the presented bearer token in constant time.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), OutcomeDenied> {
        let Some(token) = &self.token else {
            return Err(OutcomeDenied::Disabled);
        };
        if presented(headers, false).is_some_and(|t| same(t.as_bytes(), token.as_bytes())) {
            Ok(())
        } else {
            Err(OutcomeDenied::WrongToken)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_host(host: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Ok(v) = host.parse() {
            h.insert(header::HOST, v);
        }
        h
    }

    #[test]
    fn host_names_of_the_listening_address() {
        let local: SocketAddr = "127.0.0.1:8080"
            .parse()
            .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8080)));
        let check = HostCheck::new(local, &["Collector.Example.com".to_owned()]);
        for ok in [
            "127.0.0.1:8080",
            "localhost:8080",
            "LOCALHOST.",
            "collector.example.com",
        ] {
            assert!(check.allows(&with_host(ok)).is_ok(), "{ok}");
        }
        for bad in [
            "evil.example:8080",
            "10.0.0.1:8080",
            "localhost.evil.example",
        ] {
            assert!(check.allows(&with_host(bad)).is_err(), "{bad}");
        }
        let any: SocketAddr = "0.0.0.0:80"
            .parse()
            .unwrap_or(SocketAddr::from(([0, 0, 0, 0], 80)));
        let check = HostCheck::new(any, &[]);
        assert!(check.allows(&with_host("192.0.2.1")).is_ok());
        assert!(check.allows(&with_host("[2001:db8::1]:80")).is_ok());
        assert!(check.allows(&with_host("rebind.example")).is_err());
    }
}
