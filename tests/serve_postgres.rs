//! `leadscore serve` with PostgreSQL: the real binary against a throwaway cluster that this test
//! binary starts with `scripts/postgres.sh` (Debian's `postgresql` package) on 127.0.0.1.

#![cfg(feature = "cli")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod serve_support;

use serve_support::scenarios::{self, Backend};
use serve_support::*;
use std::time::Duration;

struct Postgres;

impl Backend for Postgres {
    fn new_db(&self, name: &str) -> String {
        postgres_database(name)
    }

    fn query(&self, db: &str, sql: &str) -> String {
        psql(db, sql)
    }
}

#[test]
fn stores_a_retried_result_once() {
    scenarios::stores_a_retried_result_once(&Postgres);
}

#[test]
fn rejects_each_malformed_body_naming_the_field() {
    scenarios::rejects_each_malformed_body_naming_the_field(&Postgres);
}

#[test]
fn refuses_foreign_origins() {
    scenarios::refuses_foreign_origins(&Postgres);
}

#[test]
fn limits_the_rate_per_client() {
    scenarios::limits_the_rate_per_client(&Postgres);
}

#[test]
fn forwards_through_a_webhook_outage() {
    scenarios::forwards_through_a_webhook_outage(&Postgres);
}

#[test]
fn finishes_requests_in_flight_on_sigterm() {
    scenarios::finishes_requests_in_flight_on_sigterm(&Postgres);
}

#[test]
fn keeps_every_answered_result_after_a_crash() {
    scenarios::keeps_every_answered_result_after_a_crash(&Postgres);
}

#[test]
fn survives_garbage() {
    scenarios::survives_garbage(&Postgres);
}

#[test]
fn stores_once_under_concurrent_retries() {
    scenarios::stores_once_under_concurrent_retries(&Postgres);
}

#[test]
fn summarises_for_the_dashboard() {
    scenarios::summarises_for_the_dashboard(&Postgres);
}

#[test]
fn two_collectors_share_one_database_without_doubling() {
    let db = postgres_database("two_collectors");
    let webhook = Webhook::start_failing();
    webhook.recover();
    let args = [
        "--db",
        db.as_str(),
        "--forward",
        &webhook.url(),
        "--forward-backoff-ms",
        "50",
    ];
    let a = Server::start(&args);
    let b = Server::start(&args);
    for i in 0..20 {
        let r = result(
            &format!("evt-two-{i}"),
            &format!("visitor-two-{i}"),
            "unqualified",
            "MQL",
        );
        // Every result reaches both collectors, as a retry behind a load balancer may.
        assert_eq!(a.post(&r).status, 200);
        assert_eq!(b.post(&r).json()["status"], "duplicate");
    }
    assert_eq!(psql(&db, "SELECT COUNT(*) FROM tier_results"), "20");
    assert!(wait_until(Duration::from_secs(20), || {
        psql(
            &db,
            "SELECT COUNT(*) FROM forward_queue WHERE delivered_ms IS NOT NULL",
        ) == "20"
    }));
    std::thread::sleep(Duration::from_millis(1000));
    let calls = webhook.calls();
    assert_eq!(calls.len(), 20, "each result posted once to the webhook");
    let mut keys: Vec<String> = calls
        .iter()
        .filter_map(|c| c.idempotency_key.clone())
        .collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 20);
    assert_eq!(a.stop(), 0);
    assert_eq!(b.stop(), 0);
}

#[test]
fn reconnects_after_the_database_dropped_its_connections() {
    let db = postgres_database("reconnect");
    let server = Server::start(&["--db", db.as_str(), "--db-connections", "2"]);
    assert_eq!(
        server
            .post(&result("evt-rc-0", "visitor-rc", "unqualified", "MQL"))
            .status,
        200
    );
    psql(
        &db,
        "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE datname = 'reconnect' AND pid <> pg_backend_pid()",
    );
    // A request on a dropped connection is answered 503 (the widget retries); then it reconnects.
    let mut statuses = Vec::new();
    for i in 1..=6 {
        let response = server.post(&result(&format!("evt-rc-{i}"), "visitor-rc", "MQL", "SQL"));
        assert!(matches!(response.status, 200 | 503), "{}", response.body);
        statuses.push(response.status);
    }
    assert!(
        statuses.iter().rev().take(3).all(|s| *s == 200),
        "{statuses:?}"
    );
    let accepted = statuses.iter().filter(|s| **s == 200).count() + 1;
    assert_eq!(
        psql(&db, "SELECT COUNT(*) FROM tier_results"),
        accepted.to_string()
    );
    assert_eq!(server.stop(), 0);
}
