//! `leadscore serve`: the reference collector.
//!
//! One process serves the demo site (`www/`) and the built widget (`pkg/`, also under
//! `/leadscore/` for the embed snippet), accepts tier results at `POST /v1/tier`, stores them in
//! SQLite or PostgreSQL once per idempotency id, optionally forwards them to a webhook from a
//! queue in the same database, and answers `GET /v1/summary` for the dashboard (`/dashboard/`).

mod forward;
mod http;
mod ratelimit;
mod store;
mod summary;
mod validate;

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
  POST /v1/tier       one tier result (JSON from fetch, or text/plain from sendBeacon); 200 when
                      stored or already stored (same event_id), 4xx naming the field when refused
  GET  /v1/summary    the dashboard's numbers as JSON (?days=N, 1-366, default 30)
  GET  /dashboard/    the dashboard: results per day, tiers, latest transitions, model versions
  GET  /healthz       200 when the server runs
  GET  /leadscore/    the embed snippet's files: leadscore.js (the shim), the kernel, model.bin
  GET  /models/*.bin  every www/models/*.json, compiled as `leadscore build` compiles it
  GET  /pkg/, /       the built widget (--pkg) and the demo site (--www)

Stops cleanly on Ctrl-C or SIGTERM: requests in flight finish, and every result answered 200 is
already on disk.";

#[derive(clap::Args, Debug)]
#[command(after_long_help = ROUTES)]
pub struct Args {
    /// Address and port to listen on. Use 0.0.0.0:PORT to accept connections from other machines.
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR:PORT")]
    listen: SocketAddr,

    /// Where results are stored: a SQLite file (created and migrated on start, WAL mode), or a
    /// PostgreSQL URL (postgres://user:password@host:port/database) so that several collectors
    /// behind a load balancer share one database.
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

    /// Results per second accepted from one client IP address (token bucket); 0 turns the limit off.
    #[arg(long, default_value_t = 10.0, value_name = "N")]
    rate_limit: f64,

    /// How many results one client may send at once before the rate limit applies.
    #[arg(long, default_value_t = 30, value_name = "N")]
    rate_burst: u32,

    /// Take the client IP address for the rate limit from this header (first address), e.g.
    /// X-Forwarded-For, when the server runs behind a reverse proxy. Only set it behind a proxy
    /// that overwrites the header; by default the TCP peer address is used.
    #[arg(long, value_name = "HEADER")]
    client_ip_header: Option<String>,

    /// Largest request body accepted at POST /v1/tier, in bytes (a tier result is about 300).
    #[arg(long, default_value_t = 2048, value_name = "BYTES")]
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

    /// Time allowed for one webhook request, in seconds.
    #[arg(long, default_value_t = 10, value_name = "SECONDS")]
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
        match crate::check::load_model(file) {
            Ok(model) => served.push((route, leadscore::model::binary::write(&model))),
            Err(e) => tracing::debug!(file = %file.display(), error = %e, "not compiled"),
        }
    }
    served
}

/// The tier names of the models: explicit files must all load; by default, every valid
/// `www/models/*.json` counts.
fn load_tiers(args: &Args) -> Result<Vec<String>, String> {
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
    for (file, model) in &models {
        let names: Vec<String> = model.tiers.iter().map(|t| t.name.clone()).collect();
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
    Ok(tiers)
}

fn load_model(file: &Path) -> Result<leadscore::model::Model, String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let valid = leadscore::model::ValidModel::from_json(&text)
        .map_err(|e| format!("{}: {e}", file.display()))?;
    Ok(valid.model().clone())
}

async fn serve(args: Args) -> Result<(), String> {
    let tiers = load_tiers(&args)?;
    if let Some(url) = &args.forward {
        let valid = url.parse::<axum::http::Uri>().is_ok_and(|uri| {
            matches!(uri.scheme_str(), Some("http" | "https")) && uri.host().is_some()
        });
        if !valid {
            return Err(format!(
                "--forward {url:?}: expected an http:// or https:// URL"
            ));
        }
    }
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
        limiter: ratelimit::RateLimiter::new(args.rate_limit, args.rate_burst),
        allow_origins: args.allow_origins.clone(),
        own_origins,
        client_ip_header: args.client_ip_header.clone(),
        max_body: args.max_body,
        forwarding,
        forward_wake,
    });
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
    let mut graceful_stop = stop_rx.clone();
    let mut forced_stop = stop_rx.clone();
    let server = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        let _ = graceful_stop.wait_for(|stop| *stop).await;
    });
    tracing::info!(url = %format!("http://{local}/"), dashboard = %format!("http://{local}/dashboard/"), "listening");
    let shutdown_timeout = Duration::from_secs(args.shutdown_timeout);
    tokio::select! {
        result = server => result.map_err(|e| e.to_string())?,
        _ = async {
            let _ = forced_stop.wait_for(|stop| *stop).await;
            tokio::time::sleep(shutdown_timeout).await;
        } => tracing::warn!("requests still open after the shutdown timeout; closing anyway"),
    }
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
