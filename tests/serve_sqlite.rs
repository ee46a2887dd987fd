//! `leadscore serve` with SQLite: the real binary on 127.0.0.1, a database file in a temp dir.

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

struct Sqlite(TempDir);

impl Backend for Sqlite {
    fn new_db(&self, name: &str) -> String {
        self.0
            .path()
            .join(format!("{name}.db"))
            .to_string_lossy()
            .into_owned()
    }

    fn query(&self, db: &str, sql: &str) -> String {
        let conn =
            rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .unwrap();
        let mut stmt = conn.prepare(sql).unwrap();
        let columns = stmt.column_count();
        let rows = stmt
            .query_map([], |row| {
                (0..columns)
                    .map(|i| {
                        Ok(match row.get_ref(i)? {
                            rusqlite::types::ValueRef::Null => String::new(),
                            rusqlite::types::ValueRef::Integer(n) => n.to_string(),
                            rusqlite::types::ValueRef::Real(x) => x.to_string(),
                            rusqlite::types::ValueRef::Text(t)
                            | rusqlite::types::ValueRef::Blob(t) => {
                                String::from_utf8_lossy(t).into_owned()
                            }
                        })
                    })
                    .collect::<rusqlite::Result<Vec<_>>>()
                    .map(|cells| cells.join("|"))
            })
            .unwrap();
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .unwrap()
            .join("\n")
    }
}

fn sqlite() -> Sqlite {
    Sqlite(TempDir::new("sqlite"))
}

#[test]
fn stores_a_retried_result_once() {
    scenarios::stores_a_retried_result_once(&sqlite());
}

#[test]
fn rejects_each_malformed_body_naming_the_field() {
    scenarios::rejects_each_malformed_body_naming_the_field(&sqlite());
}

#[test]
fn refuses_foreign_origins() {
    scenarios::refuses_foreign_origins(&sqlite());
}

#[test]
fn limits_the_rate_per_client() {
    scenarios::limits_the_rate_per_client(&sqlite());
}

#[test]
fn forwards_through_a_webhook_outage() {
    scenarios::forwards_through_a_webhook_outage(&sqlite());
}

#[test]
fn finishes_requests_in_flight_on_sigterm() {
    scenarios::finishes_requests_in_flight_on_sigterm(&sqlite());
}

#[test]
fn keeps_every_answered_result_after_a_crash() {
    scenarios::keeps_every_answered_result_after_a_crash(&sqlite());
}

#[test]
fn survives_garbage() {
    scenarios::survives_garbage(&sqlite());
}

#[test]
fn stores_once_under_concurrent_retries() {
    scenarios::stores_once_under_concurrent_retries(&sqlite());
}

#[test]
fn summarises_for_the_dashboard() {
    scenarios::summarises_for_the_dashboard(&sqlite());
}

#[test]
fn creates_the_database_in_wal_mode_with_full_sync() {
    let backend = sqlite();
    let db = backend.new_db("pragmas");
    let server = Server::start(&["--db", &db]);
    assert_eq!(
        server
            .post(&result("evt-wal", "v", "unqualified", "MQL"))
            .status,
        200
    );
    let conn = rusqlite::Connection::open(&db).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 1);
    drop(conn);
    assert_eq!(server.stop(), 0);
    // A second start on the same file migrates nothing and keeps the rows.
    let server = Server::start(&["--db", &db]);
    assert_eq!(server.summary()["total_results"], 1);
    assert_eq!(server.stop(), 0);
}

#[test]
fn serves_the_site_and_the_widget_with_types_and_caching() {
    let pkg = TempDir::new("pkg");
    std::fs::write(pkg.path().join("leadscore_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
    std::fs::write(
        pkg.path().join("leadscore.js"),
        b"export default function init() {}",
    )
    .unwrap();
    let site = TempDir::new("www");
    std::fs::create_dir_all(site.path().join("models")).unwrap();
    std::fs::copy(
        format!("{REPO}/www/models/saas.json"),
        site.path().join("models/saas.json"),
    )
    .unwrap();
    std::fs::write(
        site.path().join("index.html"),
        b"<!doctype html><title>demo</title>",
    )
    .unwrap();
    std::fs::write(site.path().join("leadscore.js"), b"/* the shim */").unwrap();
    let db = TempDir::new("static");
    let db_file = db.path().join("s.db").to_string_lossy().into_owned();
    let www = site.path().to_string_lossy().into_owned();
    let embed_model = site
        .path()
        .join("models/saas.json")
        .to_string_lossy()
        .into_owned();
    let server = Server::start(&[
        "--db",
        &db_file,
        "--www",
        &www,
        "--pkg",
        &pkg.path().to_string_lossy(),
        "--embed-model",
        &embed_model,
    ]);

    let wasm = server.request("GET", "/pkg/leadscore_bg.wasm", &[], b"");
    assert_eq!(wasm.status, 200);
    assert_eq!(wasm.header("content-type"), Some("application/wasm"));
    assert_eq!(wasm.header("cache-control"), Some("no-cache"));
    assert!(wasm.header("last-modified").is_some());
    let embedded = server.request("GET", "/leadscore/leadscore_bg.wasm", &[], b"");
    assert_eq!(embedded.header("content-type"), Some("application/wasm"));

    let shim = server.request("GET", "/leadscore/leadscore.js", &[], b"");
    assert_eq!(
        shim.body, "/* the shim */",
        "the embed path serves the shim, not the wasm-bindgen glue"
    );
    assert!(shim
        .header("content-type")
        .is_some_and(|t| t.contains("javascript")));
    let glue = server.request("GET", "/pkg/leadscore.js", &[], b"");
    assert_eq!(glue.body, "export default function init() {}");

    let model = server.request("GET", "/leadscore/model.json", &[], b"");
    assert_eq!(model.status, 200);
    assert_eq!(model.json()["id"], "acme-saas");
    assert!(model
        .header("content-type")
        .is_some_and(|t| t.starts_with("application/json")));

    let index = server.request("GET", "/", &[], b"");
    assert_eq!(index.status, 200);
    assert!(index.body.contains("<title>demo</title>"));
    assert!(index
        .header("content-type")
        .is_some_and(|t| t.starts_with("text/html")));

    let last_modified = wasm.header("last-modified").unwrap().to_owned();
    let again = server.request(
        "GET",
        "/pkg/leadscore_bg.wasm",
        &[("If-Modified-Since", &last_modified)],
        b"",
    );
    assert_eq!(again.status, 304);

    assert_eq!(
        server.request("GET", "/nothing-here.js", &[], b"").status,
        404
    );
    assert_eq!(
        server
            .request("GET", "/v1/summary", &[], b"")
            .header("cache-control"),
        Some("no-store")
    );
    assert_eq!(server.stop(), 0);
}

#[test]
fn help_explains_every_option() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_leadscore"))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for option in [
        "--listen",
        "--db",
        "--db-connections",
        "--model",
        "--allow-origin",
        "--rate-limit",
        "--rate-burst",
        "--client-ip-header",
        "--max-body",
        "--forward",
        "--forward-backoff-ms",
        "--forward-max-backoff",
        "--forward-timeout",
        "--www",
        "--pkg",
        "--embed-model",
        "--log-format",
        "--log-level",
        "--shutdown-timeout",
    ] {
        assert!(help.contains(option), "{option} missing from --help");
    }
    assert!(help.contains("postgres://"));
    for route in [
        "POST /v1/tier",
        "GET  /v1/summary",
        "GET  /dashboard/",
        "SIGTERM",
    ] {
        assert!(help.contains(route), "{route} missing from --help");
    }
}

#[test]
fn refuses_a_bad_forward_url_or_model_at_start() {
    let dir = TempDir::new("badargs");
    let db = dir.path().join("b.db").to_string_lossy().into_owned();
    for (args, expected) in [
        (vec!["--forward", "hooks.example.com/x"], "--forward"),
        (vec!["--model", "no/such/model.json"], "no/such/model.json"),
    ] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_leadscore"))
            .current_dir(REPO)
            .args(["serve", "--listen", "127.0.0.1:0", "--db", &db])
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}

#[test]
fn logs_one_structured_line_per_request() {
    let backend = sqlite();
    let db = backend.new_db("logs");
    let server = Server::start(&["--db", &db]);
    assert_eq!(
        server
            .post(&result("evt-log", "v-log", "unqualified", "MQL"))
            .status,
        200
    );
    let mut bad = result("evt-log-2", "v-log", "unqualified", "MQL");
    bad["tier"] = serde_json::json!("VIP");
    assert_eq!(server.post(&bad).status, 422);
    let requests = || -> Vec<serde_json::Value> {
        server
            .logs()
            .lines()
            .map(|line| serde_json::from_str(line).expect("every log line is JSON"))
            .filter(|entry: &serde_json::Value| entry["message"] == "request")
            .collect()
    };
    assert!(wait_until(std::time::Duration::from_secs(5), || requests()
        .len()
        == 2));
    let lines = requests();
    assert_eq!(lines[0]["method"], "POST");
    assert_eq!(lines[0]["path"], "/v1/tier");
    assert_eq!(lines[0]["status"], 200);
    assert!(lines[0]["micros"].as_u64().is_some());
    assert_eq!(lines[1]["status"], 422);
    assert!(server.logs().contains(r#""code":"invalid_field""#));
    assert!(server.logs().contains(r#""field":"tier""#));
    assert_eq!(server.stop(), 0);
}
