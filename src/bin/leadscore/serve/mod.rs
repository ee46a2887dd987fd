//! `leadscore serve`: the reference collector.
//!
//! One process serves the demo site (`www/`) and the built widget (`pkg/`, also under
//! `/leadscore/` for the embed snippet), accepts tier results at `POST /v1/tier`, stores them in
//! SQLite or PostgreSQL once per idempotency id, optionally forwards them to a webhook from a
//! queue in the same database, and answers `GET /v1/summary` for the dashboard (`/dashboard/`).
//! With an outcome token it also takes outcomes (`POST /v1/outcome`, from a CRM or workflow
//! tool), and `GET /v1/summary/truth` compares how each tier converts with what the model's
//! training evidence expected.

mod access;
mod forward;
mod http;
mod listen;
pub mod outcome;
mod ratelimit;
pub mod store;
mod summary;
pub mod truth;
pub mod validate;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify};

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event, with key=value fields.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// What `leadscore serve --help` says after the options.
const ROUTES: &str = "Routes:
  POST /v1/tier       one tier result (JSON from fetch, or the same JSON as text/plain, a CORS-simple
                      request that needs no preflight, from fetch or sendBeacon); 200 when stored or
                      already stored (same event_id, same content), 409 when the event_id was stored
                      with other content, 4xx naming the field when refused
  POST /v1/outcome    one outcome from a CRM or workflow tool (server to server, never from a
                      browser): {outcome_id, lead_id or visitor_id, outcome, value?, at},
                      outcome one of accepted, opportunity, won, lost, disqualified;
                      `Authorization: Bearer TOKEN` of --outcome-token(-file) required (401
                      without it or with another; 404 when no outcome token is configured);
                      200 when stored or already stored, 409 when the outcome_id was stored
                      with other content, 4xx naming the field when refused
  GET  /v1/summary    the dashboard's numbers as JSON (?days=N, 1-366, default 30); read access only
  GET  /v1/summary/truth
                      per model version and tier: leads, accepted, converted, conversion rate with
                      a 95 % Wilson interval, lift, median days to conversion, the rate the
                      model's training evidence expected, drift and falling-acceptance flags,
                      weekly series; read access only
  GET  /dashboard/    the dashboard: results per day, tiers, latest transitions, model versions,
                      the tier truth, forwarding (delivered, waiting, refused by the webhook);
                      read access only
  GET  /healthz       200 when the server runs
  GET  /leadscore/    the embed snippet's files: leadscore.js (the shim), the kernel, model.bin
  GET  /models/*.bin  every www/models/*.json, compiled as `leadscore build` compiles it
  GET  /pkg/, /       the built widget (--pkg) and the demo site (--www)

Read access (/v1/summary, /v1/summary/truth, /dashboard/): they show visitor and lead ids (e-mail
addresses when a site passes them to identify), so by default only clients on this machine
(loopback, and not via a proxy) may read them. With --read-token or --read-token-file, every reader
must present the token instead, as `Authorization: Bearer TOKEN` or as the password of HTTP Basic
authentication (any user name; browsers ask for it when they open the dashboard).

Host check: a request whose Host header is not a name of the listening address (its IP address,
and localhost on loopback; any IP address when listening on 0.0.0.0 or [::]) or an --allow-host
name is refused with 421, so that a DNS-rebinding page cannot reach the collector under its own
name.

PostgreSQL TLS, as libpq reads the URL: ?sslmode=disable, allow or prefer (the default: TLS when
the server offers it, certificate not checked), require (always TLS; the certificate is checked
only against an sslrootcert given), verify-ca (chain to a trusted root) or verify-full (chain and
host name); &sslrootcert=FILE (PEM) or =system (the Mozilla roots), else ~/.postgresql/root.crt
when it exists, else the Mozilla roots.

Slow and idle clients: at most --max-connections connections are served at once (more wait to be
accepted); a connection must send each request head within --header-timeout, which also closes
keep-alive connections idle that long; a request head is at most 32 KB (431 above), a body at
most --max-body bytes within 10 s.

Stops cleanly on Ctrl-C or SIGTERM: requests in flight finish, and every result answered 200 is
already on disk.";

#[derive(clap::Args, Debug)]
#[command(after_long_help = ROUTES)]
pub struct Args {
    /// Address and port to listen on. Use 0.0.0.0:PORT to accept connections from other machines.
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR:PORT")]
    listen: SocketAddr,

    /// Where results are stored: a SQLite file (created and migrated on start, WAL mode), or a
    /// PostgreSQL URL (postgres://user:password@host:port/database?sslmode=verify-full) so that
    /// several collectors behind a load balancer share one database; sslmode as in libpq (see
    /// below).
    #[arg(long, default_value = "leadscore.db", value_name = "PATH|URL")]
    db: String,

    /// PostgreSQL connections kept open. Each commits one result at a time, so this bounds the
    /// commits in flight; PostgreSQL groups their disk flushes. (SQLite: one writer, group commit.)
    #[arg(long, default_value_t = 16, value_name = "N")]
    db_connections: usize,

    /// A model whose tiers are accepted (repeatable). A result whose tier or previous_tier is not a
    /// tier of one of these models (or "unqualified") is refused. Default: every www/models/*.json
    /// that is a valid model.
    #[arg(long = "model", value_name = "FILE")]
    models: Vec<PathBuf>,

    /// A browser origin allowed to post results (repeatable), e.g. https://www.example.com; "*"
    /// allows any. The server's own origin is always allowed; every other origin is refused with
    /// 403, including sendBeacon requests, which browsers send without asking first.
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    allow_origins: Vec<String>,

    /// Results per second accepted from one client (token bucket): 0 turns the limit off,
    /// otherwise a number from 0.001 to 1000000. A client is an IPv4 address or an IPv6 /64
    /// network; ::ffff:a.b.c.d counts as a.b.c.d.
    #[arg(long, default_value = "10", value_name = "N", value_parser = ratelimit::parse_rate)]
    rate_limit: f64,

    /// How many results one client may send at once before the rate limit applies.
    #[arg(long, default_value_t = 30, value_name = "N",
        value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    rate_burst: u32,

    /// A reverse proxy (IP address or network, e.g. 10.0.0.0/8 or ::1; repeatable) whose
    /// --client-ip-header is believed. From such a peer, the client is the right-most address of
    /// that header that is not itself a trusted proxy; the header of any other peer is ignored,
    /// since a client can write whatever it likes into it.
    #[arg(long = "trusted-proxy", value_name = "IP[/BITS]")]
    trusted_proxies: Vec<ratelimit::Network>,

    /// The header that trusted proxies put the client address in.
    #[arg(long, default_value = "X-Forwarded-For", value_name = "HEADER")]
    client_ip_header: String,

    /// A token that readers of /v1/summary and the dashboard must present (Bearer, or the
    /// password of HTTP Basic authentication). Without it (and --read-token-file), only loopback
    /// clients may read them. Prefer --read-token-file: a command line is visible to other users.
    #[arg(long, value_name = "TOKEN", conflicts_with = "read_token_file")]
    read_token: Option<String>,

    /// Read the read token from the first line of this file.
    #[arg(long, value_name = "FILE")]
    read_token_file: Option<PathBuf>,

    /// The token a CRM or workflow tool presents (`Authorization: Bearer TOKEN`) to post
    /// outcomes at /v1/outcome; at least 16 characters. Without it (and --outcome-token-file)
    /// /v1/outcome answers 404. Prefer --outcome-token-file: a command line is visible to other
    /// users.
    #[arg(long, value_name = "TOKEN", conflicts_with = "outcome_token_file")]
    outcome_token: Option<String>,

    /// Read the outcome token from the first line of this file.
    #[arg(long, value_name = "FILE")]
    outcome_token_file: Option<PathBuf>,

    /// A host name this server may be reached under (repeatable), e.g. collector.example.com, for
    /// the Host check against DNS rebinding; "*" turns the check off. The names of the listening
    /// address are always allowed.
    #[arg(long = "allow-host", value_name = "HOST")]
    allow_hosts: Vec<String>,

    /// Most connections served at once; more wait in the accept queue. The open-file limit is
    /// raised to fit it (up to the hard limit of ulimit -Hn; the cap is lowered below that).
    #[arg(long, default_value_t = 10_000, value_name = "N",
        value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    max_connections: u64,

    /// Seconds a client has to send a request head; also how long an idle keep-alive connection
    /// stays open.
    #[arg(long, default_value_t = 10, value_name = "SECONDS",
        value_parser = clap::value_parser!(u64).range(1..=3600))]
    header_timeout: u64,

    /// Largest request body accepted at POST /v1/tier and /v1/outcome, in bytes (a tier result
    /// is about 300, a few KB with a rule summary).
    #[arg(long, default_value_t = 8192, value_name = "BYTES")]
    max_body: usize,

    /// Post each newly accepted result (JSON, with an Idempotency-Key header holding its event_id)
    /// to this webhook URL. Results wait in a queue in the database and are retried with
    /// exponential backoff until the webhook answers 2xx, so an outage loses nothing.
    #[arg(long, value_name = "URL")]
    forward: Option<String>,

    /// Delay before the first retry of a failed forward, in milliseconds; doubles on each failure.
    #[arg(long, default_value_t = 1000, value_name = "MS")]
    forward_backoff_ms: u64,

    /// Longest delay between two forwarding attempts of one result, in seconds.
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    forward_max_backoff: u64,

    /// Time allowed for one webhook request, in seconds. A webhook answer 4xx other than 408
    /// and 429 is a refusal: the result is kept, marked refused (see the dashboard) and not
    /// retried.
    #[arg(long, default_value_t = 10, value_name = "SECONDS",
        value_parser = clap::value_parser!(u64).range(1..=600))]
    forward_timeout: u64,

    /// The demo site and dashboard, served at /.
    #[arg(long, default_value = "www", value_name = "DIR")]
    www: PathBuf,

    /// The built widget (make wasm), served at /pkg/ and, with the shim, at /leadscore/.
    #[arg(long, default_value = "pkg", value_name = "DIR")]
    pkg: PathBuf,

    /// The model served at /leadscore/model.json for the embed snippet.
    #[arg(long, default_value = "www/models/saas.json", value_name = "FILE")]
    embed_model: PathBuf,

    /// Log format on standard error.
    #[arg(long, value_enum, default_value = "text")]
    log_format: LogFormat,

    /// Least severe log level shown: error, warn, info (one line per API request), debug (also
    /// static files and forwards) or trace.
    #[arg(long, default_value = "info", value_name = "LEVEL")]
    log_level: tracing::Level,

    /// Seconds to wait for requests in flight after a stop signal before closing anyway.
    #[arg(long, default_value_t = 10, value_name = "SECONDS")]
    shutdown_timeout: u64,
}

pub fn run(args: Args) -> Result<ExitCode, String> {
    init_logs(args.log_format, args.log_level);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(serve(args))?;
    Ok(ExitCode::SUCCESS)
}

fn init_logs(format: LogFormat, level: tracing::Level) {
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// Every valid `www/models/*.json`, compiled, served as `/models/NAME.bin`; and the embed model
/// as `/leadscore/model.bin`. A model that does not compile is logged and not served compiled.
fn compiled_models(args: &Args) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(args.www.join("models"))
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "json"));
    files.sort();
    let mut served = Vec::new();
    let targets = files
        .iter()
        .filter_map(|f| Some((format!("/models/{}.bin", f.file_stem()?.to_str()?), f)))
        .chain(std::iter::once((
            "/leadscore/model.bin".to_string(),
            &args.embed_model,
        )));
    for (route, file) in targets {
        let compiled = crate::check::load_model(file)
            .and_then(|model| leadscore::model::binary::write(&model).map_err(|e| e.to_string()));
        match compiled {
            Ok(bytes) => served.push((route, bytes)),
            Err(e) => tracing::debug!(file = %file.display(), error = %e, "not compiled"),
        }
    }
    served
}

/// The tier names of the models, and each model version's tiers in order with their training
/// evidence: explicit files must all load; by default, every valid `www/models/*.json` counts.
fn load_tiers(args: &Args) -> Result<(Vec<String>, truth::KnownModels), String> {
    let mut tiers = Vec::new();
    let mut models = Vec::new();
    if args.models.is_empty() {
        let dir = args.www.join("models");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.retain(|p| p.extension().is_some_and(|e| e == "json"));
        files.sort();
        for file in files {
            match load_model(&file) {
                Ok(model) => models.push((file, model)),
                Err(e) => {
                    tracing::debug!(file = %file.display(), error = %e, "not a model, skipped")
                }
            }
        }
    } else {
        for file in &args.models {
            models.push((file.clone(), load_model(file)?));
        }
    }
    let mut known = truth::KnownModels::new();
    for (file, model) in &models {
        let names: Vec<String> = model.tiers.iter().map(|t| t.name.clone()).collect();
        known.insert(
            (model.id.clone(), model.model_version.clone()),
            truth::model_tiers(model),
        );
        tracing::info!(file = %file.display(), model_id = %model.id, model_version = %model.model_version,
            tiers = %names.join(","), "accepting the tiers of");
        tiers.extend(names);
    }
    if models.is_empty() {
        tracing::warn!(
            "no model given and none found in {}/models: only \"unqualified\" is a known tier",
            args.www.display()
        );
    }
    Ok((tiers, known))
}

fn load_model(file: &Path) -> Result<leadscore::model::Model, String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let valid = leadscore::model::ValidModel::from_json(&text)
        .map_err(|e| format!("{}: {e}", file.display()))?;
    Ok(valid.model().clone())
}

async fn serve(args: Args) -> Result<(), String> {
    let (tiers, known_models) = load_tiers(&args)?;
    if let Some(url) = &args.forward {
        let valid = url.parse::<axum::http::Uri>().is_ok_and(|uri| {
            matches!(uri.scheme_str(), Some("http" | "https")) && uri.host().is_some()
        });
        if !valid {
            return Err(format!(
                "--forward {:?}: expected an http:// or https:// URL",
                forward::redact(url)
            ));
        }
    }
    let read_token =
        access::read_token(args.read_token.as_deref(), args.read_token_file.as_deref())?;
    let outcome_token = access::outcome_token(
        args.outcome_token.as_deref(),
        args.outcome_token_file.as_deref(),
    )?;
    if outcome_token.is_none() {
        tracing::info!("no --outcome-token-file: POST /v1/outcome is off");
    }
    let limiter = ratelimit::RateLimiter::new(args.rate_limit, args.rate_burst)?;
    if args.trusted_proxies.is_empty()
        && !args
            .client_ip_header
            .eq_ignore_ascii_case("x-forwarded-for")
    {
        return Err(format!(
            "--client-ip-header {}: only a trusted proxy's header is believed; name the proxy with --trusted-proxy IP[/BITS]",
            args.client_ip_header
        ));
    }
    let client_address = ratelimit::ClientAddress {
        header: args.client_ip_header.to_ascii_lowercase(),
        trusted: args.trusted_proxies.clone(),
    };
    let forwarding = args.forward.is_some();
    let store = Arc::new(store::Store::open(&args.db, forwarding, args.db_connections).await?);
    tracing::info!(db = %store.describe(), "database ready");

    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let mut own_origins = vec![format!("http://{local}")];
    if local.ip().is_loopback() {
        own_origins.push(format!("http://localhost:{}", local.port()));
    }
    let hosts = access::HostCheck::new(local, &args.allow_hosts);

    let (stop_tx, stop_rx) = watch::channel(false);
    let forward_wake = Arc::new(Notify::new());
    let forwarder = args.forward.clone().map(|url| {
        let config = forward::ForwardConfig {
            url,
            first_backoff: Duration::from_millis(args.forward_backoff_ms.max(1)),
            max_backoff: Duration::from_secs(args.forward_max_backoff.max(1)),
            timeout: Duration::from_secs(args.forward_timeout.max(1)),
        };
        tokio::spawn(forward::run(
            Arc::clone(&store),
            config,
            Arc::clone(&forward_wake),
            stop_rx.clone(),
        ))
    });

    let app = Arc::new(http::App {
        store: Arc::clone(&store),
        validator: validate::Validator::new(tiers),
        limiter,
        summary_limiter: ratelimit::RateLimiter::new(http::SUMMARY_RATE, http::SUMMARY_BURST)?,
        summary_slots: tokio::sync::Semaphore::new(http::SUMMARY_CONCURRENCY),
        client_address,
        read_access: access::ReadAccess::new(read_token),
        outcome_access: access::OutcomeAccess::new(outcome_token),
        known_models,
        hosts,
        allow_origins: args.allow_origins.clone(),
        own_origins,
        max_body: args.max_body,
        forwarding,
        forward_wake,
    });
    // Clients whose bucket refilled are forgotten every minute.
    {
        let app = Arc::downgrade(&app);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                let Some(app) = app.upgrade() else { return };
                app.limiter.forget_idle();
                app.summary_limiter.forget_idle();
            }
        });
    }
    if !args.pkg.join("leadscore_wasm_bg.wasm").is_file() {
        tracing::warn!(pkg = %args.pkg.display(), "the widget is not built: pages will load without it (run `make wasm`)");
    }
    if !args.www.is_dir() {
        tracing::warn!(www = %args.www.display(), "no site directory: only the API answers");
    }
    let dirs = http::StaticDirs {
        www: args.www.clone(),
        pkg: args.pkg.clone(),
        embed_model: args.embed_model.clone(),
        compiled: compiled_models(&args),
    };
    let router = http::router(app, &dirs);

    tokio::spawn(wait_for_stop_signal(stop_tx));
    let limits = listen::Limits {
        header_timeout: Duration::from_secs(args.header_timeout),
        max_connections: listen::connection_cap(
            usize::try_from(args.max_connections).unwrap_or(usize::MAX),
        ),
        shutdown_timeout: Duration::from_secs(args.shutdown_timeout),
    };
    tracing::info!(url = %format!("http://{local}/"), dashboard = %format!("http://{local}/dashboard/"),
        max_connections = limits.max_connections, header_timeout_s = args.header_timeout, "listening");
    listen::serve(listener, router, limits, stop_rx.clone()).await;
    if let Some(forwarder) = forwarder {
        let _ = forwarder.await;
    }
    match Arc::try_unwrap(store) {
        Ok(store) => store.close().await,
        Err(_) => tracing::warn!("database still in use at shutdown"),
    }
    tracing::info!("stopped");
    Ok(())
}

async fn wait_for_stop_signal(stop: watch::Sender<bool>) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for SIGTERM");
                    let _ = ctrl_c.await;
                    let _ = stop.send(true);
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => tracing::info!("SIGINT: stopping, letting requests in flight finish"),
            _ = term.recv() => tracing::info!("SIGTERM: stopping, letting requests in flight finish"),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
    let _ = stop.send(true);
}
