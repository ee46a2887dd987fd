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
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

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
fn answers_a_conflict_for_an_event_id_with_other_content() {
    scenarios::answers_a_conflict_for_an_event_id_with_other_content(&sqlite());
}

#[test]
fn accepts_text_plain_like_json() {
    scenarios::accepts_text_plain_like_json(&sqlite());
}

#[test]
fn keeps_results_the_webhook_refuses_without_retrying() {
    scenarios::keeps_results_the_webhook_refuses_without_retrying(&sqlite());
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
fn stores_an_outcome_once_behind_its_token() {
    scenarios::stores_an_outcome_once_behind_its_token(&sqlite());
}

#[test]
fn rejects_each_malformed_outcome_naming_the_field() {
    scenarios::rejects_each_malformed_outcome_naming_the_field(&sqlite());
}

#[test]
fn joins_an_outcome_that_arrives_before_its_lead() {
    scenarios::joins_an_outcome_that_arrives_before_its_lead(&sqlite());
}

#[test]
fn flags_drift_from_the_training_evidence() {
    scenarios::flags_drift_from_the_training_evidence(&sqlite());
}

#[test]
fn compares_a_champion_with_its_challengers() {
    scenarios::compares_a_champion_with_its_challengers(&sqlite());
}

#[test]
fn stores_rule_summaries() {
    scenarios::stores_rule_summaries(&sqlite());
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
    assert_eq!(version, 3);
    drop(conn);
    assert_eq!(server.stop(), 0);
    // A second start on the same file migrates nothing and keeps the rows.
    let server = Server::start(&["--db", &db]);
    assert_eq!(server.summary()["total_results"], 1);
    assert_eq!(server.stop(), 0);
}

#[test]
fn serves_the_site_and_the_widget_with_types_and_caching() {
    // The layout of `make wasm`: the shim as leadscore.js, the kernel and its glue beside it.
    let pkg = TempDir::new("pkg");
    std::fs::write(pkg.path().join("leadscore_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
    std::fs::write(pkg.path().join("leadscore.js"), b"/* the shim */").unwrap();
    std::fs::write(
        pkg.path().join("leadscore_wasm.js"),
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
    let glue = server.request("GET", "/leadscore/leadscore_wasm.js", &[], b"");
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
        "--trusted-proxy",
        "--read-token",
        "--read-token-file",
        "--outcome-token",
        "--outcome-token-file",
        "--allow-host",
        "--max-connections",
        "--header-timeout",
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
        "POST /v1/outcome",
        "GET  /v1/summary",
        "GET  /v1/summary/truth",
        "GET  /dashboard/",
        "SIGTERM",
        "Read access",
        "Host check",
        "text/plain",
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

// ---- Hostile clients: the HTTP layer (the same whatever the database). ----

fn sqlite_db(backend: &Sqlite, name: &str) -> String {
    backend.new_db(name)
}

/// Reads one response (head and `Content-Length` body) from a keep-alive connection.
fn read_one_response(stream: &mut TcpStream) -> (u16, String) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut status_line = String::new();
    reader.read_line(&mut status_line).unwrap();
    let status = status_line
        .split(' ')
        .nth(1)
        .unwrap_or("0")
        .parse()
        .unwrap();
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap();
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// Whether the server closes this connection within 10 s (EOF or reset).
fn closed_by_server(mut stream: &TcpStream) -> bool {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return false
            }
            Err(_) => return true,
        }
    }
}

#[test]
fn silent_connections_do_not_shut_out_a_well_behaved_client() {
    let backend = sqlite();
    let db = sqlite_db(&backend, "slowloris");
    // A small open-file limit, as a default 1,024 system scaled down, and more silent connections
    // than it allows; the defaults otherwise (a 10 s header timeout).
    let server = Server::start_with_nofile(200, &["--db", &db]);
    let mut silent = Vec::new();
    for _ in 0..250 {
        match TcpStream::connect(server.addr) {
            Ok(stream) => silent.push(stream),
            Err(_) => break,
        }
    }
    // Half a request head on each: the classic slowloris.
    for stream in &mut silent {
        let _ = stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ");
    }
    let started = Instant::now();
    let ok = request(server.addr, "GET", "/healthz", &[], b"");
    assert_eq!(ok.status, 200);
    assert!(
        started.elapsed() < Duration::from_secs(25),
        "a well-behaved client waited {:?}",
        started.elapsed()
    );
    // The silent connections were closed by the server, not kept forever.
    let closed = silent
        .iter()
        .take(20)
        .filter(|stream| closed_by_server(stream))
        .count();
    assert_eq!(closed, 20);
    assert_eq!(
        server
            .post(&result("evt-after-slowloris", "v", "unqualified", "MQL"))
            .status,
        200
    );
    drop(silent);
    assert_eq!(server.stop(), 0);
}

#[test]
fn closes_an_idle_keep_alive_connection() {
    let backend = sqlite();
    let db = sqlite_db(&backend, "idle");
    // The default: an idle keep-alive connection is closed after 10 s.
    let server = Server::start(&["--db", &db]);
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    for _ in 0..2 {
        stream
            .write_all(format!("GET /healthz HTTP/1.1\r\nHost: {}\r\n\r\n", server.addr).as_bytes())
            .unwrap();
        assert_eq!(read_one_response(&mut stream).0, 200, "keep-alive works");
    }
    let idle_since = Instant::now();
    assert!(
        closed_by_server(&stream) || closed_by_server(&stream),
        "the idle connection was not closed within 20 s"
    );
    assert!(
        idle_since.elapsed() >= Duration::from_secs(5),
        "closed too early"
    );
    assert_eq!(server.stop(), 0);
}

#[test]
fn bounds_the_request_head() {
    let backend = sqlite();
    let db = sqlite_db(&backend, "bighead");
    let server = Server::start(&["--db", &db]);
    let big = "x".repeat(40 * 1024);
    let response = server.request("GET", "/healthz", &[("X-Big", &big)], b"");
    assert_eq!(response.status, 431, "{}", response.body);
    assert_eq!(server.request("GET", "/healthz", &[], b"").status, 200);
    assert_eq!(server.stop(), 0);
}

#[test]
fn refuses_rate_limits_that_are_not_rates() {
    let dir = TempDir::new("badrate");
    let db = dir.path().join("b.db").to_string_lossy().into_owned();
    for rate in ["NaN", "inf", "-1", "1e-20", "-0.5", "1e400", "ten"] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_leadscore"))
            .current_dir(REPO)
            .args(["serve", "--listen", "127.0.0.1:0", "--db", &db])
            .arg(format!("--rate-limit={rate}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // It must refuse at once; a server that accepted the rate keeps running.
        let exited = wait_until(Duration::from_secs(10), || {
            child.try_wait().unwrap().is_some()
        });
        if !exited {
            let _ = child.kill();
        }
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(exited, "--rate-limit={rate} was accepted: {stderr}");
        assert_eq!(output.status.code(), Some(2), "{rate}: {stderr}");
        assert!(stderr.contains("--rate-limit"), "{rate}: {stderr}");
        assert!(!stderr.contains("panicked"), "{rate}: {stderr}");
    }
}

fn post_as(server: &Server, forwarded_for: &str, event_id: &str) -> u16 {
    server
        .request(
            "POST",
            "/v1/tier",
            &[
                ("Content-Type", "application/json"),
                ("X-Forwarded-For", forwarded_for),
            ],
            result(event_id, "visitor-xff", "unqualified", "MQL")
                .to_string()
                .as_bytes(),
        )
        .status
}

#[test]
fn keys_the_rate_limit_by_the_real_client() {
    let backend = sqlite();
    // Without --trusted-proxy the header is ignored: a client cannot dodge the limit with it.
    let db = sqlite_db(&backend, "xff-untrusted");
    let server = Server::start(&["--db", &db, "--rate-limit", "0.01", "--rate-burst", "2"]);
    let statuses: Vec<u16> = (0..3)
        .map(|i| post_as(&server, &format!("198.51.100.{i}"), &format!("evt-u-{i}")))
        .collect();
    assert_eq!(statuses, [200, 200, 429]);
    assert_eq!(server.stop(), 0);

    // Behind a trusted proxy (127.0.0.1): the right-most address that is not a proxy.
    let db = sqlite_db(&backend, "xff-trusted");
    let server = Server::start(&[
        "--db",
        &db,
        "--rate-limit",
        "0.01",
        "--rate-burst",
        "2",
        "--trusted-proxy",
        "127.0.0.1",
        "--trusted-proxy",
        "10.0.0.0/8",
    ]);
    // A forged left-most address changes nothing: the proxy appended the real one.
    assert_eq!(post_as(&server, "1.1.1.1, 203.0.113.5", "evt-t-1"), 200);
    assert_eq!(post_as(&server, "2.2.2.2, 203.0.113.5", "evt-t-2"), 200);
    assert_eq!(
        post_as(&server, "3.3.3.3, 203.0.113.5, 10.1.2.3", "evt-t-3"),
        429
    );
    // IPv4-mapped IPv6 is the same client.
    assert_eq!(post_as(&server, "::ffff:203.0.113.5", "evt-t-4"), 429);
    // IPv6: one /64 is one client.
    assert_eq!(post_as(&server, "2001:db8:1:2::1", "evt-t-5"), 200);
    assert_eq!(post_as(&server, "2001:db8:1:2:aaaa::7", "evt-t-6"), 200);
    assert_eq!(post_as(&server, "2001:db8:1:2:ffff::9", "evt-t-7"), 429);
    assert_eq!(post_as(&server, "2001:db8:1:3::1", "evt-t-8"), 200);
    assert_eq!(server.stop(), 0);
}

#[test]
fn serves_the_summary_only_to_local_readers_by_default() {
    let backend = sqlite();
    // A proxy on this machine that was not declared: what it forwards is not local.
    let db = sqlite_db(&backend, "read-proxy");
    let server = Server::start(&["--db", &db]);
    assert_eq!(server.request("GET", "/v1/summary", &[], b"").status, 200);
    let proxied = server.request(
        "GET",
        "/v1/summary",
        &[("X-Forwarded-For", "203.0.113.9")],
        b"",
    );
    assert_eq!(proxied.status, 403, "{}", proxied.body);
    assert_eq!(server.stop(), 0);

    let db = sqlite_db(&backend, "read-local");
    let server = Server::start(&["--db", &db, "--trusted-proxy", "127.0.0.1"]);
    assert_eq!(server.request("GET", "/v1/summary", &[], b"").status, 200);
    assert_eq!(server.request("GET", "/dashboard/", &[], b"").status, 200);
    // A reader on another machine, through the (trusted) proxy: refused.
    for path in ["/v1/summary", "/dashboard/", "/dashboard/dashboard.js"] {
        let remote = server.request("GET", path, &[("X-Forwarded-For", "203.0.113.9")], b"");
        assert_eq!(remote.status, 403, "{path}: {}", remote.body);
        assert!(!remote.body.contains("visitor"), "{path}");
    }
    assert_eq!(server.stop(), 0);
}

#[test]
fn asks_every_reader_for_the_read_token_when_one_is_set() {
    let backend = sqlite();
    let db = sqlite_db(&backend, "read-token");
    let token_file = backend.0.path().join("token");
    std::fs::write(&token_file, "0123456789abcdef0123\n").unwrap();
    let server = Server::start(&[
        "--db",
        &db,
        "--read-token-file",
        &token_file.to_string_lossy(),
    ]);
    let denied = server.request("GET", "/v1/summary", &[], b"");
    assert_eq!(denied.status, 401);
    assert!(denied
        .header("www-authenticate")
        .is_some_and(|h| h.starts_with("Basic")));
    assert_eq!(server.request("GET", "/dashboard/", &[], b"").status, 401);
    let wrong = server.request(
        "GET",
        "/v1/summary",
        &[("Authorization", "Bearer nope")],
        b"",
    );
    assert_eq!(wrong.status, 401);
    let bearer = server.request(
        "GET",
        "/v1/summary",
        &[("Authorization", "Bearer 0123456789abcdef0123")],
        b"",
    );
    assert_eq!(bearer.status, 200, "{}", bearer.body);
    // Basic, as a browser sends it after asking: "any:0123456789abcdef0123".
    let basic = server.request(
        "GET",
        "/dashboard/",
        &[("Authorization", "Basic YW55OjAxMjM0NTY3ODlhYmNkZWYwMTIz")],
        b"",
    );
    assert_eq!(basic.status, 200);
    // Posting results needs no token.
    assert_eq!(
        server
            .post(&result("evt-token", "v", "unqualified", "MQL"))
            .status,
        200
    );
    assert_eq!(server.stop(), 0);

    // A short token is refused at start.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_leadscore"))
        .current_dir(REPO)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--db",
            &db,
            "--read-token",
            "abc",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--read-token"));
}

#[test]
fn refuses_host_names_that_are_not_its_own() {
    let backend = sqlite();
    let db = sqlite_db(&backend, "hosts");
    let server = Server::start(&["--db", &db]);
    let rebound = server.request(
        "GET",
        "/v1/summary",
        &[("Host", "rebind.attacker.example")],
        b"",
    );
    assert_eq!(rebound.status, 421, "{}", rebound.body);
    assert_eq!(server.stop(), 0);
    let server = Server::start(&["--db", &db, "--allow-host", "collector.example.com"]);
    // A DNS-rebinding page: the browser sends the attacker's name.
    let rebound = server.request(
        "GET",
        "/v1/summary",
        &[("Host", "rebind.attacker.example:8080")],
        b"",
    );
    assert_eq!(rebound.status, 421, "{}", rebound.body);
    assert_eq!(rebound.json()["field"], "Host");
    let posted = server.request(
        "POST",
        "/v1/tier",
        &[
            ("Host", "rebind.attacker.example"),
            ("Origin", "http://rebind.attacker.example"),
            ("Content-Type", "text/plain"),
        ],
        result("evt-rebind", "v", "unqualified", "MQL")
            .to_string()
            .as_bytes(),
    );
    assert_eq!(posted.status, 421);
    for host in ["localhost", "127.0.0.1", "collector.example.com:443"] {
        let ok = server.request("GET", "/healthz", &[("Host", host)], b"");
        assert_eq!(ok.status, 200, "{host}");
    }
    assert_eq!(server.stop(), 0);
}

#[test]
fn rate_limits_the_summary() {
    let backend = sqlite();
    let db = sqlite_db(&backend, "summary-rate");
    let server = Server::start(&["--db", &db]);
    let statuses: Vec<u16> = (0..40)
        .map(|_| server.request("GET", "/v1/summary", &[], b"").status)
        .collect();
    assert!(statuses[..10].iter().all(|s| *s == 200), "{statuses:?}");
    assert!(statuses.contains(&429), "{statuses:?}");
    assert_eq!(server.stop(), 0);
}

#[test]
fn keeps_forward_credentials_out_of_the_logs() {
    let backend = sqlite();
    let db = sqlite_db(&backend, "redact");
    let webhook = Webhook::start_failing();
    let url = format!(
        "http://hookuser:s3cretpw@{}/hooks/T0SECRETPATH?token=t0k3nvalue",
        webhook.addr
    );
    let server = Server::start(&["--db", &db, "--forward", &url, "--forward-backoff-ms", "50"]);
    assert_eq!(
        server
            .post(&result("evt-redact", "v", "unqualified", "MQL"))
            .status,
        200
    );
    assert!(wait_until(Duration::from_secs(10), || server
        .logs()
        .contains("forwarding failed")));
    let logs = server.logs();
    assert!(logs.contains("forwarding accepted results"), "{logs}");
    for secret in ["s3cretpw", "t0k3nvalue", "T0SECRETPATH"] {
        assert!(!logs.contains(secret), "{secret} in the logs:\n{logs}");
    }
    assert_eq!(server.stop(), 0);
    // Nor in the error for a URL that is refused at start.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_leadscore"))
        .current_dir(REPO)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--db",
            &db,
            "--forward",
            "ftp://u:s3cretpw@host/x?token=t0k3nvalue",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        !stderr.contains("s3cretpw") && !stderr.contains("t0k3nvalue"),
        "{stderr}"
    );
}
