//! Accepting connections with hyper's own limits, so that slow or idle clients cannot take the
//! server away from the others:
//!
//! - at most `--max-connections` connections are served at once (a semaphore permit per
//!   connection; further connections wait in the kernel's accept queue, they are not refused),
//!   with the open-file limit raised to fit (or the cap lowered to fit the hard limit) so that
//!   `accept` itself never fails for lack of descriptors;
//! - hyper's `header_read_timeout` (`--header-timeout`): a client must send its whole request head
//!   within that time, counted from the moment the server waits for it, which on a keep-alive
//!   connection is right after the previous response: so it is also the idle timeout of
//!   keep-alive connections;
//! - hyper's `max_buf_size` and `max_header_size`: a connection buffers at most
//!   [`MAX_BUF`] bytes, and a request head larger than [`MAX_HEADER`] is answered 431;
//! - the body of `POST /v1/tier` has its own deadline (see `http.rs`);
//! - graceful shutdown from hyper-util: requests in flight finish, idle connections close.

use axum::extract::connect_info::IntoMakeServiceWithConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tower::Service;

/// Largest request head (request line and headers), in bytes; browsers send a few KB at most.
pub const MAX_HEADER: usize = 32 * 1024;
/// Largest read buffer of one connection, in bytes.
pub const MAX_BUF: usize = 64 * 1024;
/// File descriptors kept free for the database, static files and logs.
const RESERVED_FDS: usize = 64;

pub struct Limits {
    pub header_timeout: Duration,
    pub max_connections: usize,
    pub shutdown_timeout: Duration,
}

/// The open-file limit, raised towards `wanted` (within the hard limit) when it is lower, as
/// servers do at start: a default soft limit of 1,024 would otherwise cap the connections.
#[cfg(unix)]
fn open_file_limit(wanted: u64) -> Option<usize> {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    let current = limit.current?;
    if current < wanted {
        let raised = limit.maximum.map_or(wanted, |max| wanted.min(max));
        if raised > current
            && setrlimit(
                Resource::Nofile,
                Rlimit {
                    current: Some(raised),
                    maximum: limit.maximum,
                },
            )
            .is_ok()
        {
            tracing::debug!(from = current, to = raised, "raised the open-file limit");
            return usize::try_from(raised).ok();
        }
    }
    usize::try_from(current).ok()
}

#[cfg(not(unix))]
fn open_file_limit(_wanted: u64) -> Option<usize> {
    None
}

/// `--max-connections`, with the open-file limit raised to fit it or, when the hard limit is
/// lower, the cap lowered to fit the limit.
pub fn connection_cap(requested: usize) -> usize {
    let wanted = u64::try_from(requested.saturating_add(RESERVED_FDS)).unwrap_or(u64::MAX);
    match open_file_limit(wanted) {
        Some(limit) if requested.saturating_add(RESERVED_FDS) > limit => {
            let cap = limit.saturating_sub(RESERVED_FDS).max(1);
            tracing::warn!(
                requested,
                open_file_limit = limit,
                max_connections = cap,
                "--max-connections lowered to fit the open-file limit (ulimit -n)"
            );
            cap
        }
        _ => requested.max(1),
    }
}

/// Serves `router` on `listener` until `stop` turns true, then shuts down gracefully (at most
/// `shutdown_timeout` for requests in flight).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) {
    let mut make: IntoMakeServiceWithConnectInfo<Router, SocketAddr> =
        router.into_make_service_with_connect_info::<SocketAddr>();
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(MAX_BUF)
        .max_header_size(MAX_HEADER)
        .keep_alive(true);
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&slots).acquire_owned() => permit,
            _ = stop.wait_for(|s| *s) => break,
        };
        let Ok(permit) = permit else { break };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|s| *s) => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // EMFILE/ENFILE and the like: back off instead of spinning; the connection cap
                // makes this rare.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let Ok(service) = make.call(peer).await;
        let connection =
            builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::trace!(error = %e, %peer, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(limits.shutdown_timeout) => {
            tracing::warn!("requests still open after the shutdown timeout; closing anyway");
        }
    }
}
