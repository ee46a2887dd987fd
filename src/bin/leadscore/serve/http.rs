//! The HTTP side: routes, the `POST /v1/tier` checks in order (origin, rate, type, size, schema),
//! `POST /v1/outcome` (no browser origin, the outcome token, type, size, schema), the summaries,
//! static files with their caching headers, and one log line per request.

use super::access::{HostCheck, OutcomeAccess, OutcomeDenied, ReadAccess, ReadDenied};
use super::ratelimit::{ClientAddress, RateLimiter};
use super::store::{Store, Stored};
use super::summary;
use super::validate::{Rejection, Validator};
use axum::body::{to_bytes, Body};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Notify;
use tower_http::services::{ServeDir, ServeFile};

/// A client that has not sent its (at most 2 KB) body by then is holding a connection for nothing.
const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// `GET /v1/summary` per client: the dashboard asks every 5 s; a few tabs and reloads fit.
pub const SUMMARY_RATE: f64 = 2.0;
pub const SUMMARY_BURST: u32 = 20;
/// Summaries computed at once; further callers wait their turn.
pub const SUMMARY_CONCURRENCY: usize = 2;

/// Everything a request handler needs.
pub struct App {
    pub store: Arc<Store>,
    pub validator: Validator,
    pub limiter: RateLimiter,
    pub summary_limiter: RateLimiter,
    pub summary_slots: tokio::sync::Semaphore,
    pub client_address: ClientAddress,
    pub read_access: ReadAccess,
    pub outcome_access: OutcomeAccess,
    /// The models' tiers in order and their training evidence, for the tier truth.
    pub known_models: super::truth::KnownModels,
    pub hosts: HostCheck,
    /// Extra origins allowed to post from a browser (`*` = any).
    pub allow_origins: Vec<String>,
    /// The origins of the listening address (`http://127.0.0.1:8080`, ...), always allowed.
    pub own_origins: Vec<String>,
    pub max_body: usize,
    pub forwarding: bool,
    /// Wakes the forwarder when a new result was queued.
    pub forward_wake: Arc<Notify>,
}

impl App {
    /// The client behind a request, and whether the TCP peer was a trusted proxy.
    fn client(&self, headers: &HeaderMap, peer: IpAddr) -> (IpAddr, bool) {
        let values = headers
            .get_all(self.client_address.header.as_str())
            .iter()
            .filter_map(|v| v.to_str().ok());
        (
            self.client_address.resolve(peer, values),
            self.client_address.is_trusted(peer),
        )
    }
}

pub struct StaticDirs {
    pub www: PathBuf,
    pub pkg: PathBuf,
    /// Served as `/leadscore/model.json`.
    pub embed_model: PathBuf,
    /// Compiled models by the path they are served at (`/models/saas.bin`).
    pub compiled: Vec<(String, Vec<u8>)>,
}

pub fn router(app: Arc<App>, dirs: &StaticDirs) -> Router {
    let api = Router::new()
        .route("/v1/tier", post(post_tier).options(preflight))
        .route("/v1/summary", get(get_summary))
        .route("/v1/summary/truth", get(get_truth))
        .route("/v1/outcome", post(post_outcome))
        .route(
            "/healthz",
            get(|| async { json(StatusCode::OK, &serde_json::json!({"status": "ok"})) }),
        )
        .with_state(Arc::clone(&app))
        .layer(middleware::map_response(
            |mut response: Response| async move {
                response
                    .headers_mut()
                    .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                response
            },
        ));
    let mut files = Router::new();
    for (path, bytes) in &dirs.compiled {
        let bytes = axum::body::Bytes::from(bytes.clone());
        files =
            files.route(
                path,
                get(move || async move {
                    ([(header::CONTENT_TYPE, "application/octet-stream")], bytes)
                }),
            );
    }
    let files = files
        // The embed snippet: `<script async src="/leadscore/leadscore.js" data-model="/leadscore/model.bin">`;
        // the shim loads the kernel files that sit next to it.
        .route_service("/leadscore/model.json", ServeFile::new(&dirs.embed_model))
        .nest_service("/leadscore", ServeDir::new(&dirs.pkg))
        .nest_service("/pkg", ServeDir::new(&dirs.pkg))
        .fallback_service(ServeDir::new(&dirs.www))
        .layer(middleware::map_response(static_headers));
    api.merge(files)
        .layer(middleware::from_fn_with_state(app, guard))
        .layer(middleware::from_fn(log_request))
}

/// Before any route: the `Host` check, then read access for the summary and the dashboard.
async fn guard(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    if let Err(host) = app.hosts.allows(request.headers()) {
        tracing::info!(%host, "refused a request for a host name that is not this server's");
        return rejection(&Rejection::new(
            421,
            "host_not_allowed",
            Some("Host"),
            format!("this server does not answer to {host:?}; start it with --allow-host NAME to add a name"),
        ));
    }
    let path = request.uri().path();
    if path == "/v1/summary"
        || path.starts_with("/v1/summary/")
        || path == "/dashboard"
        || path.starts_with("/dashboard/")
    {
        let peer = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        let (client, via_trusted_proxy) = app.client(request.headers(), peer);
        match app
            .read_access
            .check(request.headers(), client, via_trusted_proxy)
        {
            Ok(()) => {}
            Err(ReadDenied::NotLocal) => {
                tracing::info!(%client, %path, "refused a read from another machine");
                return rejection(&Rejection::new(
                    403,
                    "read_forbidden",
                    None,
                    "the summary and the dashboard are only served to clients on this machine; \
                     start the server with --read-token-file FILE to read them from elsewhere",
                ));
            }
            Err(ReadDenied::NeedsToken) => {
                tracing::info!(%client, %path, "refused a read without the read token");
                let mut response = rejection(&Rejection::new(
                    401,
                    "read_token_required",
                    Some("Authorization"),
                    "present the read token as `Authorization: Bearer TOKEN` (or as the Basic password)",
                ));
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(
                        "Basic realm=\"leadscore dashboard\", charset=\"UTF-8\"",
                    ),
                );
                return response;
            }
        }
    }
    next.run(request).await
}

/// Static files have stable names (no content hash), so browsers revalidate each time
/// (`no-cache` + `Last-Modified` → 304 when unchanged) instead of running an old widget.
async fn static_headers(mut response: Response) -> Response {
    let cacheable = response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED;
    let headers = response.headers_mut();
    if cacheable {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    if status >= 500 {
        tracing::error!(%method, %path, status, micros, "request");
    } else if path.starts_with("/v1/") {
        tracing::info!(%method, %path, status, micros, "request");
    } else {
        tracing::debug!(%method, %path, status, micros, "request");
    }
    response
}

pub fn json(status: StatusCode, value: &impl serde::Serialize) -> Response {
    let body = serde_json::to_string(value).unwrap_or_else(|_| "{}".to_owned());
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn rejection(r: &Rejection) -> Response {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_REQUEST);
    json(
        status,
        &serde_json::json!({ "error": r.code, "field": r.field, "message": r.message }),
    )
}

enum OriginCheck {
    /// No `Origin` header: not a browser's cross-origin request (curl, a server, the CLI).
    Absent,
    /// Same origin as the server: no CORS headers needed.
    Same,
    /// A listed foreign origin: answer with `Access-Control-Allow-Origin: <it>`.
    Allowed(HeaderValue),
    Refused(String),
}

fn check_origin(app: &App, headers: &HeaderMap) -> OriginCheck {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return OriginCheck::Absent;
    };
    let Ok(text) = origin.to_str() else {
        return OriginCheck::Refused("(not text)".into());
    };
    // The page's own origin: the host the browser connected to, or the listening address.
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let same = !host.is_empty()
        && (text.strip_prefix("http://") == Some(host)
            || text.strip_prefix("https://") == Some(host));
    if same || app.own_origins.iter().any(|o| o == text) {
        return OriginCheck::Same;
    }
    if app
        .allow_origins
        .iter()
        .any(|o| o == "*" || o.trim_end_matches('/') == text)
    {
        return OriginCheck::Allowed(origin.clone());
    }
    OriginCheck::Refused(text.to_owned())
}

fn origin_refused(origin: &str) -> Response {
    rejection(&Rejection::new(
        403,
        "origin_not_allowed",
        Some("Origin"),
        format!("origin {origin:?} may not post results here; start the server with --allow-origin {origin}"),
    ))
}

fn with_cors(mut response: Response, allowed: &OriginCheck) -> Response {
    if let OriginCheck::Allowed(origin) = allowed {
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    response
}

async fn preflight(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    match check_origin(&app, &headers) {
        OriginCheck::Refused(origin) => origin_refused(&origin),
        check => {
            let mut response = StatusCode::NO_CONTENT.into_response();
            let h = response.headers_mut();
            h.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("POST"),
            );
            h.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static("content-type"),
            );
            h.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("600"),
            );
            with_cors(response, &check)
        }
    }
}

/// `application/json` from `fetch`; `text/plain;charset=UTF-8` (or JSON) from `sendBeacon`.
fn content_type_ok(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return true;
    };
    let essence = value
        .to_str()
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json" || essence == "text/plain"
}

async fn post_tier(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let origin = check_origin(&app, &headers);
    // The rate limit comes first, so that a flood costs one table lookup per request, whatever
    // its origin or body.
    let (client, _) = app.client(&headers, peer.ip());
    if let Err(wait) = app.limiter.check(client) {
        return with_cors(rate_limited(client, wait), &origin);
    }
    if let OriginCheck::Refused(origin) = &origin {
        tracing::info!(%origin, %client, "refused a result from a foreign origin");
        return origin_refused(origin);
    }
    let response = accept(&app, &headers, client, body).await;
    with_cors(response, &origin)
}

/// 503 `storage_unavailable`: the database did not answer; `message` says what to do.
fn storage_unavailable(message: &'static str) -> Response {
    rejection(&Rejection::new(503, "storage_unavailable", None, message))
}

/// The value of query parameter `name` (its first occurrence), as sent.
fn query_param<'r>(request: &'r Request, name: &str) -> Option<&'r str> {
    request
        .uri()
        .query()
        .unwrap_or_default()
        .split('&')
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
}

fn rate_limited(client: IpAddr, wait: std::time::Duration) -> Response {
    let mut response = rejection(&Rejection::new(
        429,
        "rate_limited",
        None,
        format!(
            "too many requests from {client}; retry in {} ms",
            wait.as_millis()
        ),
    ));
    let seconds = wait.as_secs().saturating_add(1).to_string();
    if let Ok(value) = HeaderValue::from_str(&seconds) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// The body, at most `--max-body` bytes, within [`BODY_TIMEOUT`].
async fn read_body(
    app: &App,
    headers: &HeaderMap,
    body: Body,
    noun: &str,
) -> Result<axum::body::Bytes, Response> {
    let too_large = || {
        rejection(&Rejection::new(
            413,
            "body_too_large",
            None,
            format!("{noun} is at most {} bytes", app.max_body),
        ))
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|length| length > app.max_body) {
        return Err(too_large());
    }
    match tokio::time::timeout(BODY_TIMEOUT, to_bytes(body, app.max_body)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(_)) => Err(too_large()),
        Err(_) => Err(rejection(&Rejection::new(
            408,
            "body_timeout",
            None,
            format!(
                "the body did not arrive within {} s",
                BODY_TIMEOUT.as_secs()
            ),
        ))),
    }
}

async fn accept(app: &App, headers: &HeaderMap, client: IpAddr, body: Body) -> Response {
    if !content_type_ok(headers) {
        return rejection(&Rejection::new(
            415,
            "unsupported_content_type",
            Some("Content-Type"),
            "send the result as application/json (fetch) or text/plain (sendBeacon)",
        ));
    }
    let bytes = match read_body(app, headers, body, "a tier result").await {
        Ok(bytes) => bytes,
        Err(response) => return response,
    };
    let now = time::OffsetDateTime::now_utc();
    let accepted = match app.validator.check(&bytes, now) {
        Ok(accepted) => accepted,
        Err(r) => {
            tracing::info!(code = r.code, field = r.field.as_deref().unwrap_or(""), %client, "rejected a result");
            return rejection(&r);
        }
    };
    let event_id = accepted.result.event_id.clone();
    let received_at = super::validate::format_at(now).unwrap_or_default();
    match app.store.insert(accepted, received_at).await {
        Ok(Stored::Conflict) => {
            tracing::warn!(%event_id, %client, "refused a result whose event_id was stored before with other content");
            rejection(&Rejection::new(
                409,
                "event_id_conflict",
                Some("event_id"),
                format!("event_id {event_id:?} was stored before with other content; a retry must send the same result, a new result needs a new event_id"),
            ))
        }
        Ok(stored) => {
            if stored == Stored::New && app.forwarding {
                app.forward_wake.notify_one();
            }
            let status = if stored == Stored::New {
                "stored"
            } else {
                "duplicate"
            };
            json(
                StatusCode::OK,
                &serde_json::json!({ "status": status, "event_id": event_id }),
            )
        }
        Err(e) => {
            tracing::error!(error = %e, %event_id, "cannot store a result");
            storage_unavailable("the result was not stored; retry later")
        }
    }
}

async fn get_summary(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let (client, _) = app.client(request.headers(), peer.ip());
    if let Err(wait) = app.summary_limiter.check(client) {
        return rate_limited(client, wait);
    }
    let Ok(_slot) = app.summary_slots.acquire().await else {
        return rejection(&Rejection::new(503, "unavailable", None, "stopping"));
    };
    let days = query_param(&request, "days").map(str::parse::<u16>);
    let days = match days {
        None => summary::DEFAULT_DAYS,
        Some(Ok(days)) if (1..=366).contains(&days) => days,
        Some(_) => {
            return rejection(&Rejection::new(
                400,
                "invalid_query",
                Some("days"),
                "days must be a number from 1 to 366",
            ))
        }
    };
    match summary::build(&app.store, days, app.forwarding).await {
        Ok(summary) => json(StatusCode::OK, &summary),
        Err(e) => {
            tracing::error!(error = %e, "cannot read the summary");
            storage_unavailable("the summary cannot be read now")
        }
    }
}

/// `POST /v1/outcome`: server to server. A browser's request (any `Origin`) is refused and no
/// CORS header is ever sent; the outcome token is checked before the body is read.
async fn post_outcome(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (client, _) = app.client(&headers, peer.ip());
    match app.outcome_access.check(&headers) {
        Ok(()) => {}
        Err(OutcomeDenied::Disabled) => {
            return rejection(&Rejection::new(
                404,
                "outcomes_disabled",
                None,
                "this collector takes no outcomes; start it with --outcome-token-file FILE",
            ))
        }
        Err(OutcomeDenied::WrongToken) => {
            tracing::info!(%client, "refused an outcome without the outcome token");
            let mut response = rejection(&Rejection::new(
                401,
                "outcome_token_required",
                Some("Authorization"),
                "present the outcome token as `Authorization: Bearer TOKEN`",
            ));
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"leadscore outcomes\""),
            );
            return response;
        }
    }
    if headers.contains_key(header::ORIGIN) {
        tracing::info!(%client, "refused an outcome posted from a browser");
        return rejection(&Rejection::new(
            403,
            "origin_not_allowed",
            Some("Origin"),
            "outcomes are posted server to server (a CRM or workflow tool), never from a browser",
        ));
    }
    let json_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_none_or(|essence| essence.trim().eq_ignore_ascii_case("application/json"));
    if !json_type {
        return rejection(&Rejection::new(
            415,
            "unsupported_content_type",
            Some("Content-Type"),
            "send the outcome as application/json",
        ));
    }
    let bytes = match read_body(&app, &headers, body, "an outcome").await {
        Ok(bytes) => bytes,
        Err(response) => return response,
    };
    let now = time::OffsetDateTime::now_utc();
    let accepted = match super::outcome::check_body(&bytes, now) {
        Ok(accepted) => accepted,
        Err(r) => {
            tracing::info!(code = r.code, field = r.field.as_deref().unwrap_or(""), %client, "rejected an outcome");
            return rejection(&r);
        }
    };
    let outcome_id = accepted.report.outcome_id.clone();
    let received_at = super::validate::format_at(now).unwrap_or_default();
    match app.store.insert_outcomes(vec![accepted], received_at).await {
        Ok(stored) => match stored.first() {
            Some(Stored::Conflict) => {
                tracing::warn!(%outcome_id, %client, "refused an outcome whose outcome_id was stored before with other content");
                rejection(&Rejection::new(
                    409,
                    "outcome_id_conflict",
                    Some("outcome_id"),
                    format!("outcome_id {outcome_id:?} was stored before with other content; a retry must send the same outcome, a new outcome needs a new outcome_id"),
                ))
            }
            Some(stored) => json(
                StatusCode::OK,
                &serde_json::json!({
                    "status": if *stored == Stored::New { "stored" } else { "duplicate" },
                    "outcome_id": outcome_id,
                }),
            ),
            None => rejection(&Rejection::new(500, "internal", None, "nothing stored")),
        },
        Err(e) => {
            tracing::error!(error = %e, %outcome_id, "cannot store an outcome");
            storage_unavailable("the outcome was not stored; retry later")
        }
    }
}

/// `GET /v1/summary/truth`: how each tier converts, beside what its model expected.
/// `?compare=ID@VERSION,ID@VERSION` picks the pair of model versions to compare.
async fn get_truth(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let (client, _) = app.client(request.headers(), peer.ip());
    if let Err(wait) = app.summary_limiter.check(client) {
        return rate_limited(client, wait);
    }
    let compare = query_param(&request, "compare").map(super::truth::parse_compare);
    let compare = match compare {
        None => None,
        Some(Ok(pair)) => Some(pair),
        Some(Err(message)) => {
            return rejection(&Rejection::new(
                400,
                "invalid_query",
                Some("compare"),
                message,
            ))
        }
    };
    let Ok(_slot) = app.summary_slots.acquire().await else {
        return rejection(&Rejection::new(503, "unavailable", None, "stopping"));
    };
    match super::truth::build(&app.store, &app.known_models, compare.as_deref()).await {
        Ok(truth) => json(StatusCode::OK, &truth),
        Err(e) => {
            tracing::error!(error = %e, "cannot read the tier truth");
            storage_unavailable("the tier truth cannot be read now")
        }
    }
}
