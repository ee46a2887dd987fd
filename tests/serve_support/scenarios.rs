//! The collector's behaviour, run against each database (`serve_sqlite.rs`, `serve_postgres.rs`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use super::*;

/// A database the server can be started with, and a way to look inside it.
pub trait Backend {
    /// A new empty database: the value for `--db`.
    fn new_db(&self, name: &str) -> String;
    /// One query's result, rows separated by newlines and columns by `|` (like `psql -At`).
    fn query(&self, db: &str, sql: &str) -> String;
}

fn count(backend: &dyn Backend, db: &str, sql: &str) -> i64 {
    backend.query(db, sql).parse().unwrap()
}

pub fn stores_a_retried_result_once(backend: &dyn Backend) {
    let db = backend.new_db("retried");
    let server = Server::start(&["--db", &db]);
    let first = result("evt-retried-1", "visitor-1", "unqualified", "MQL");
    let r1 = server.post(&first);
    assert_eq!(
        (r1.status, r1.json()["status"].as_str()),
        (200, Some("stored")),
        "{}",
        r1.body
    );
    let r2 = server.post(&first);
    assert_eq!(
        (r2.status, r2.json()["status"].as_str()),
        (200, Some("duplicate")),
        "{}",
        r2.body
    );
    // The sendBeacon form: a text/plain Blob.
    let beacon = result("evt-retried-2", "visitor-1", "MQL", "SQL");
    let r3 = server.request(
        "POST",
        "/v1/tier",
        &[("Content-Type", "text/plain;charset=UTF-8")],
        beacon.to_string().as_bytes(),
    );
    assert_eq!(r3.status, 200, "{}", r3.body);
    let r4 = server.request(
        "POST",
        "/v1/tier",
        &[("Content-Type", "text/plain;charset=UTF-8")],
        beacon.to_string().as_bytes(),
    );
    assert_eq!(r4.json()["status"], "duplicate");

    assert_eq!(count(backend, &db, "SELECT COUNT(*) FROM tier_results"), 2);
    let row = backend.query(
        &db,
        "SELECT event_id, previous_tier, tier, visitor_id, model_id, model_version, at FROM tier_results ORDER BY id",
    );
    let expected = format!(
        "evt-retried-1|unqualified|MQL|visitor-1|acme-saas|2026-11-01|{}\nevt-retried-2|MQL|SQL|visitor-1|acme-saas|2026-11-01|{}",
        first["at"].as_str().unwrap(),
        beacon["at"].as_str().unwrap()
    );
    assert_eq!(row, expected);
    assert_eq!(server.summary()["total_results"], 2);
    assert_eq!(server.stop(), 0);
}

pub fn rejects_each_malformed_body_naming_the_field(backend: &dyn Backend) {
    let db = backend.new_db("malformed");
    let server = Server::start(&["--db", &db]);
    let good = result("evt-bad", "visitor-bad", "unqualified", "MQL");
    let with = |key: &str, value: Value| {
        let mut v = good.clone();
        v[key] = value;
        v.to_string()
    };
    let without = |key: &str| {
        let mut v = good.clone();
        v.as_object_mut().unwrap().remove(key);
        v.to_string()
    };
    let cases: Vec<(&str, String, u16, Option<&str>, &str)> = vec![
        (
            "unknown field",
            with("url", json!("https://example.com/pricing")),
            422,
            Some("url"),
            "unknown_field",
        ),
        (
            "unknown score",
            with(
                "scores",
                json!({"fit": 1, "engagement": 2, "intent": 3, "product": 4, "total": 10, "raw": 1}),
            ),
            422,
            Some("scores.raw"),
            "unknown_field",
        ),
        (
            "missing tier",
            without("tier"),
            422,
            Some("tier"),
            "missing_field",
        ),
        (
            "missing event id",
            without("event_id"),
            422,
            Some("event_id"),
            "missing_field",
        ),
        (
            "unknown tier",
            with("tier", json!("VIP")),
            422,
            Some("tier"),
            "invalid_field",
        ),
        (
            "unknown previous tier",
            with("previous_tier", json!("Lead")),
            422,
            Some("previous_tier"),
            "invalid_field",
        ),
        (
            "tier of wrong type",
            with("tier", json!(3)),
            422,
            Some("tier"),
            "invalid_field",
        ),
        (
            "bad timestamp",
            with("at", json!("24/11/2026 10:00")),
            422,
            Some("at"),
            "invalid_field",
        ),
        (
            "timestamp without zone",
            with("at", json!("2026-11-24T10:00:00")),
            422,
            Some("at"),
            "invalid_field",
        ),
        (
            "timestamp far ahead",
            with("at", json!("2099-01-01T00:00:00Z")),
            422,
            Some("at"),
            "invalid_field",
        ),
        (
            // Pinning a visitor's tier from the future: at most 5 minutes ahead of the server.
            "timestamp ten minutes ahead",
            with("at", json!(rfc3339(now_secs() + 600))),
            422,
            Some("at"),
            "invalid_field",
        ),
        (
            "oversized event id",
            with("event_id", json!("e".repeat(129))),
            422,
            Some("event_id"),
            "invalid_field",
        ),
        (
            "oversized visitor id",
            with("visitor_id", json!("v".repeat(129))),
            422,
            Some("visitor_id"),
            "invalid_field",
        ),
        (
            "oversized lead id",
            with("lead_id", json!("l".repeat(129))),
            422,
            Some("lead_id"),
            "invalid_field",
        ),
        (
            "empty model id",
            with("model_id", json!("")),
            422,
            Some("model_id"),
            "invalid_field",
        ),
        (
            "other schema",
            with("schema", json!(2)),
            422,
            Some("schema"),
            "invalid_field",
        ),
        (
            "not JSON",
            "{\"schema\": 1,".to_owned(),
            400,
            None,
            "invalid_json",
        ),
        ("an array", "[1, 2]".to_owned(), 422, None, "invalid_json"),
        (
            "two objects",
            format!("{good}{good}"),
            400,
            None,
            "invalid_json",
        ),
        ("empty body", String::new(), 400, None, "invalid_json"),
    ];
    for (name, body, status, field, code) in &cases {
        let response = server.request(
            "POST",
            "/v1/tier",
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        );
        assert_eq!(response.status, *status, "{name}: {}", response.body);
        let error = response.json();
        assert_eq!(error["field"].as_str(), *field, "{name}: {}", response.body);
        assert_eq!(error["error"], *code, "{name}: {}", response.body);
        assert!(
            error["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{name}"
        );
    }

    let large = with("lead_id", json!("x".repeat(9000)));
    let response = server.request(
        "POST",
        "/v1/tier",
        &[("Content-Type", "application/json")],
        large.as_bytes(),
    );
    assert_eq!(response.status, 413, "{}", response.body);
    assert_eq!(response.json()["error"], "body_too_large");

    let form = server.request(
        "POST",
        "/v1/tier",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        good.to_string().as_bytes(),
    );
    assert_eq!(form.status, 415);
    assert_eq!(form.json()["field"], "Content-Type");

    // Nothing reached the database, and the server is still fine.
    assert_eq!(count(backend, &db, "SELECT COUNT(*) FROM tier_results"), 0);
    assert_eq!(server.request("GET", "/healthz", &[], b"").status, 200);
    assert_eq!(server.post(&good).status, 200);
    assert_eq!(count(backend, &db, "SELECT COUNT(*) FROM tier_results"), 1);
    assert_eq!(server.stop(), 0);
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

pub fn answers_a_conflict_for_an_event_id_with_other_content(backend: &dyn Backend) {
    let db = backend.new_db("conflict");
    let server = Server::start(&["--db", &db]);
    let first = result("evt-conflict", "visitor-conflict", "unqualified", "MQL");
    assert_eq!(server.post(&first).json()["status"], "stored");
    let mut other = first.clone();
    other["tier"] = json!("SQL");
    let conflict = server.post(&other);
    assert_eq!(conflict.status, 409, "{}", conflict.body);
    assert_eq!(conflict.json()["error"], "event_id_conflict");
    assert_eq!(conflict.json()["field"], "event_id");
    // A true retry is still a 200 duplicate, and the stored row is the first one.
    let again = server.post(&first);
    assert_eq!(
        (again.status, again.json()["status"].as_str()),
        (200, Some("duplicate"))
    );
    assert_eq!(
        backend.query(
            &db,
            "SELECT tier FROM tier_results WHERE event_id = 'evt-conflict'"
        ),
        "MQL"
    );
    assert!(wait_until(Duration::from_secs(5), || server
        .logs()
        .contains("stored before with other content")));
    assert_eq!(server.stop(), 0);
}

/// The widget posts `text/plain;charset=UTF-8` (a CORS-simple request, no preflight): the same
/// checks and answers as JSON, with the CORS grant on every answer so the page can read it.
pub fn accepts_text_plain_like_json(backend: &dyn Backend) {
    let db = backend.new_db("textplain");
    let server = Server::start(&["--db", &db, "--allow-origin", "https://shop.example"]);
    let post = |content_type: &str, body: &str| {
        server.request(
            "POST",
            "/v1/tier",
            &[
                ("Content-Type", content_type),
                ("Origin", "https://shop.example"),
            ],
            body.as_bytes(),
        )
    };
    let mut bad = result("evt-plain-bad", "visitor-plain", "unqualified", "MQL");
    bad["tier"] = json!("VIP");
    for content_type in ["text/plain;charset=UTF-8", "application/json"] {
        let refused = post(content_type, &bad.to_string());
        assert_eq!(refused.status, 422, "{content_type}: {}", refused.body);
        assert_eq!(refused.json()["field"], "tier");
        assert_eq!(
            refused.header("access-control-allow-origin"),
            Some("https://shop.example")
        );
        assert_eq!(post(content_type, "{\"schema\": 1,").status, 400);
    }
    let plain = post(
        "text/plain;charset=UTF-8",
        &result("evt-plain-1", "visitor-plain", "unqualified", "MQL").to_string(),
    );
    assert_eq!(plain.status, 200, "{}", plain.body);
    assert_eq!(
        plain.header("access-control-allow-origin"),
        Some("https://shop.example")
    );
    let json_post = post(
        "application/json",
        &result("evt-plain-2", "visitor-plain", "MQL", "SQL").to_string(),
    );
    assert_eq!(json_post.status, 200, "{}", json_post.body);
    assert_eq!(count(backend, &db, "SELECT COUNT(*) FROM tier_results"), 2);
    assert_eq!(server.stop(), 0);
}

pub fn keeps_results_the_webhook_refuses_without_retrying(backend: &dyn Backend) {
    let db = backend.new_db("refused");
    let webhook = Webhook::start_answering(|body| match body["event_id"].as_str() {
        Some("evt-refused") => 422,
        _ => 200,
    });
    let server = Server::start(&[
        "--db",
        &db,
        "--forward",
        &webhook.url(),
        "--forward-backoff-ms",
        "50",
        "--forward-max-backoff",
        "1",
    ]);
    assert_eq!(
        server
            .post(&result(
                "evt-refused",
                "visitor-refused",
                "unqualified",
                "MQL"
            ))
            .status,
        200
    );
    assert_eq!(
        server
            .post(&result(
                "evt-accepted",
                "visitor-refused-2",
                "unqualified",
                "MQL"
            ))
            .status,
        200
    );
    assert!(wait_until(Duration::from_secs(10), || {
        server.summary()["forwarding"]["refused"] == 1
    }));
    // Time for a wrong retry to show up (backoff is 50 ms).
    std::thread::sleep(Duration::from_millis(1500));
    let calls = webhook.calls();
    let refused_calls = calls
        .iter()
        .filter(|c| c.idempotency_key.as_deref() == Some("evt-refused"))
        .count();
    assert_eq!(refused_calls, 1, "a refused result is not retried");
    let forwarding = server.summary()["forwarding"].clone();
    assert_eq!(forwarding["pending"], 0, "{forwarding}");
    assert_eq!(forwarding["delivered"], 1, "{forwarding}");
    assert_eq!(forwarding["refused"], 1, "{forwarding}");
    // The dashboard shows `last_error`: it says that a result was refused, and why.
    let shown = forwarding["last_error"].as_str().unwrap_or_default();
    assert!(
        shown.contains("refused") && shown.contains("422"),
        "{forwarding}"
    );
    // Kept in the database, marked.
    assert_eq!(
        backend.query(
            &db,
            "SELECT r.event_id FROM forward_queue q JOIN tier_results r ON r.id = q.result_id \
             WHERE q.refused_ms IS NOT NULL"
        ),
        "evt-refused"
    );
    assert_eq!(server.stop(), 0);
}

pub fn refuses_foreign_origins(backend: &dyn Backend) {
    let db = backend.new_db("cors");
    let server = Server::start(&["--db", &db, "--allow-origin", "https://shop.example"]);
    let post_from = |origin: &str, event_id: &str| {
        let body = result(event_id, "visitor-cors", "unqualified", "MQL").to_string();
        server.request(
            "POST",
            "/v1/tier",
            &[
                ("Content-Type", "text/plain;charset=UTF-8"),
                ("Origin", origin),
            ],
            body.as_bytes(),
        )
    };

    // A foreign origin: refused before anything is stored, with no CORS grant.
    let foreign = post_from("https://evil.example", "evt-cors-foreign");
    assert_eq!(foreign.status, 403, "{}", foreign.body);
    assert_eq!(foreign.json()["field"], "Origin");
    assert_eq!(foreign.header("access-control-allow-origin"), None);
    let preflight = server.request(
        "OPTIONS",
        "/v1/tier",
        &[
            ("Origin", "https://evil.example"),
            ("Access-Control-Request-Method", "POST"),
            ("Access-Control-Request-Headers", "content-type"),
        ],
        b"",
    );
    assert_eq!(preflight.status, 403);
    assert_eq!(preflight.header("access-control-allow-origin"), None);

    // A listed origin: granted to that origin only.
    let preflight = server.request(
        "OPTIONS",
        "/v1/tier",
        &[
            ("Origin", "https://shop.example"),
            ("Access-Control-Request-Method", "POST"),
            ("Access-Control-Request-Headers", "content-type"),
        ],
        b"",
    );
    assert_eq!(preflight.status, 204);
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some("https://shop.example")
    );
    assert!(preflight
        .header("access-control-allow-headers")
        .is_some_and(|h| h.contains("content-type")));
    let listed = post_from("https://shop.example", "evt-cors-listed");
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(
        listed.header("access-control-allow-origin"),
        Some("https://shop.example")
    );
    assert!(listed.header("vary").is_some_and(|v| v.contains("Origin")));

    // The server's own origin (the demo site): same-origin, no grant needed.
    let own = post_from(&server.url(""), "evt-cors-own");
    assert_eq!(own.status, 200, "{}", own.body);
    assert_eq!(own.header("access-control-allow-origin"), None);

    assert_eq!(
        backend.query(&db, "SELECT event_id FROM tier_results ORDER BY id"),
        "evt-cors-listed\nevt-cors-own"
    );
    assert_eq!(server.stop(), 0);
}

pub fn limits_the_rate_per_client(backend: &dyn Backend) {
    let db = backend.new_db("ratelimit");
    let server = Server::start(&["--db", &db, "--rate-limit", "0.5", "--rate-burst", "3"]);
    let statuses: Vec<u16> = (0..5)
        .map(|i| {
            server
                .post(&result(
                    &format!("evt-rate-{i}"),
                    "visitor-rate",
                    "unqualified",
                    "MQL",
                ))
                .status
        })
        .collect();
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
    let limited = server.post(&result("evt-rate-x", "visitor-rate", "unqualified", "MQL"));
    assert_eq!(limited.json()["error"], "rate_limited");
    assert!(limited
        .header("retry-after")
        .is_some_and(|s| s.parse::<u64>().is_ok_and(|s| s >= 1)));
    assert_eq!(count(backend, &db, "SELECT COUNT(*) FROM tier_results"), 3);
    // The summary is not rate limited.
    assert_eq!(server.summary()["total_results"], 3);
    assert_eq!(server.stop(), 0);
}

pub fn forwards_through_a_webhook_outage(backend: &dyn Backend) {
    let db = backend.new_db("forward");
    let webhook = Webhook::start_failing();
    let args = [
        "--db",
        &db,
        "--forward",
        &webhook.url(),
        "--forward-backoff-ms",
        "50",
        "--forward-max-backoff",
        "1",
    ];
    let server = Server::start(&args);
    let ids: Vec<String> = (0..5).map(|i| format!("evt-fwd-{i}")).collect();
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(
            server
                .post(&result(
                    id,
                    &format!("visitor-fwd-{i}"),
                    "unqualified",
                    "MQL"
                ))
                .status,
            200
        );
    }
    // A retry of an accepted result is not forwarded again.
    assert_eq!(
        server
            .post(&result("evt-fwd-0", "visitor-fwd-0", "unqualified", "MQL"))
            .json()["status"],
        "duplicate"
    );

    // The webhook is down: every result is tried, and retried.
    assert!(
        wait_until(Duration::from_secs(20), || {
            let calls = webhook.calls();
            ids.iter().all(|id| {
                calls
                    .iter()
                    .filter(|c| c.idempotency_key.as_deref() == Some(id))
                    .count()
                    >= 2
            })
        }),
        "not every result was tried twice: {:?}",
        webhook.calls().len()
    );
    assert_eq!(server.summary()["forwarding"]["pending"], 5);

    // The collector restarts during the outage; the queue is in the database.
    assert_eq!(server.stop(), 0);
    let server = Server::start(&args);
    let one_more = result("evt-fwd-5", "visitor-fwd-5", "unqualified", "SQL");
    assert_eq!(server.post(&one_more).status, 200);
    webhook.recover();

    let mut all_ids = ids.clone();
    all_ids.push("evt-fwd-5".to_owned());
    assert!(
        wait_until(Duration::from_secs(20), || {
            count(
                backend,
                &db,
                "SELECT COUNT(*) FROM forward_queue WHERE delivered_ms IS NOT NULL",
            ) == 6
        }),
        "not everything delivered: {}",
        server.logs()
    );
    // Give a wrongly repeated delivery the time to show up.
    std::thread::sleep(Duration::from_millis(1500));
    let calls = webhook.calls();
    for id in &all_ids {
        let delivered: Vec<&WebhookCall> = calls
            .iter()
            .filter(|c| c.status == 200 && c.idempotency_key.as_deref() == Some(id.as_str()))
            .collect();
        assert_eq!(
            delivered.len(),
            1,
            "{id} delivered {} times",
            delivered.len()
        );
        assert_eq!(delivered[0].body["event_id"], id.as_str());
        assert_eq!(delivered[0].body["schema"], 1);
        assert!(delivered[0].body.get("url").is_none());
    }
    assert_eq!(
        calls.iter().filter(|c| c.status == 200).count(),
        6,
        "no delivery beyond the six results"
    );
    let forwarding = &server.summary()["forwarding"];
    assert_eq!(
        (
            forwarding["pending"].as_i64(),
            forwarding["delivered"].as_i64()
        ),
        (Some(0), Some(6))
    );
    assert_eq!(server.stop(), 0);
}

pub fn finishes_requests_in_flight_on_sigterm(backend: &dyn Backend) {
    let db = backend.new_db("shutdown");
    let server = Server::start(&["--db", &db]);
    let body = result("evt-inflight", "visitor-inflight", "unqualified", "PQL").to_string();
    let (first, rest) = body.as_bytes().split_at(body.len() / 2);
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let head = format!(
        "POST /v1/tier HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        server.addr,
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(first).unwrap();
    // Wait until the server has the request, then ask it to stop while the body is half sent.
    std::thread::sleep(Duration::from_millis(300));
    let pid = server.pid().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    std::thread::sleep(Duration::from_millis(300));
    stream.write_all(rest).unwrap();
    let response = read_response(&mut stream);
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(server.stop(), 0);
    assert_eq!(
        backend.query(&db, "SELECT event_id, tier FROM tier_results"),
        "evt-inflight|PQL"
    );
}

pub fn summarises_for_the_dashboard(backend: &dyn Backend) {
    let db = backend.new_db("summary");
    let server = Server::start(&["--db", &db]);
    let post = |event: &str, visitor: &str, previous: &str, tier: &str, version: &str| {
        let mut r = result(event, visitor, previous, tier);
        r["model_version"] = json!(version);
        let response = server.post(&r);
        assert_eq!(response.status, 200, "{}", response.body);
        std::thread::sleep(Duration::from_millis(5));
    };
    post("s1", "alice", "unqualified", "MQL", "2026-11-01");
    post("s2", "bob", "unqualified", "MQL", "2026-11-01");
    post("s3", "alice", "MQL", "SQL", "2026-11-01");
    post("s4", "carol", "unqualified", "PQL", "2026-11-15");
    post("s5", "dave", "unqualified", "MQL", "2026-11-15");
    post("s6", "dave", "MQL", "unqualified", "2026-11-15");

    let summary = server.summary();
    assert_eq!(summary["total_results"], 6);
    let tiers: BTreeMap<String, (i64, i64)> = summary["tiers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["tier"].as_str().unwrap().to_owned(),
                (
                    t["results"].as_i64().unwrap(),
                    t["current_visitors"].as_i64().unwrap(),
                ),
            )
        })
        .collect();
    // Results per tier, and where each visitor is now (alice SQL, bob MQL, carol PQL, dave unqualified).
    assert_eq!(tiers["MQL"], (3, 1));
    assert_eq!(tiers["SQL"], (1, 1));
    assert_eq!(tiers["PQL"], (1, 1));
    assert_eq!(tiers["unqualified"], (1, 1));

    let days = summary["days"].as_array().unwrap();
    assert_eq!(days.len(), 30);
    let today = days.last().unwrap();
    assert_eq!(
        today["day"].as_str(),
        result("x", "x", "x", "x")["at"]
            .as_str()
            .map(|at| &at[..10])
    );
    assert_eq!(today["total"], 6);
    assert_eq!(today["tiers"]["MQL"], 3);
    assert!(days[..29].iter().all(|d| d["total"] == 0));

    let latest = summary["latest"].as_array().unwrap();
    assert_eq!(latest.len(), 6);
    assert_eq!(latest[0]["visitor_id"], "dave");
    assert_eq!(
        (
            latest[0]["previous_tier"].as_str(),
            latest[0]["tier"].as_str()
        ),
        (Some("MQL"), Some("unqualified"))
    );

    let versions = summary["model_versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2);
    let by_version: BTreeMap<&str, &Value> = versions
        .iter()
        .map(|v| (v["model_version"].as_str().unwrap(), v))
        .collect();
    assert_eq!(by_version["2026-11-01"]["results"], 3);
    assert_eq!(by_version["2026-11-01"]["visitors"], 2);
    assert_eq!(
        by_version["2026-11-01"]["tiers"],
        json!({"MQL": 2, "SQL": 1})
    );
    assert_eq!(
        by_version["2026-11-15"]["tiers"],
        json!({"MQL": 1, "PQL": 1, "unqualified": 1})
    );

    assert_eq!(
        server.request("GET", "/v1/summary?days=7", &[], b"").json()["days"]
            .as_array()
            .unwrap()
            .len(),
        7
    );
    // A result that arrives late (a retry from an old page) does not move a visitor back.
    let newer = result("s7", "erin", "MQL", "SQL");
    let mut older = result("s8", "erin", "unqualified", "MQL");
    older["at"] = json!("2026-11-01T09:00:00.000Z");
    assert_eq!(server.post(&newer).status, 200);
    assert_eq!(server.post(&older).status, 200);
    let tiers: BTreeMap<String, i64> = server.summary()["tiers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["tier"].as_str().unwrap().to_owned(),
                t["current_visitors"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(tiers["SQL"], 2, "alice and erin");
    assert_eq!(tiers["MQL"], 1, "bob only");
    assert_eq!(
        backend.query(
            &db,
            "SELECT tier FROM visitor_tiers WHERE visitor_id = 'erin'"
        ),
        "SQL"
    );

    let bad = server.request("GET", "/v1/summary?days=0", &[], b"");
    assert_eq!(
        (bad.status, bad.json()["field"].as_str()),
        (400, Some("days"))
    );
    assert_eq!(server.stop(), 0);
}

pub fn keeps_every_answered_result_after_a_crash(backend: &dyn Backend) {
    let db = backend.new_db("crash");
    let mut server = Server::start(&["--db", &db, "--rate-limit", "0"]);
    for i in 0..40 {
        let response = server.post(&result(
            &format!("evt-crash-{i}"),
            "visitor-crash",
            "unqualified",
            "MQL",
        ));
        assert_eq!(response.status, 200, "{}", response.body);
    }
    // SIGKILL: no shutdown, no final checkpoint; only what was committed before each 200 counts.
    server.kill();
    assert_eq!(count(backend, &db, "SELECT COUNT(*) FROM tier_results"), 40);
    let server = Server::start(&["--db", &db]);
    assert_eq!(server.summary()["total_results"], 40);
    assert_eq!(server.stop(), 0);
}

pub fn survives_garbage(backend: &dyn Backend) {
    let db = backend.new_db("garbage");
    let server = Server::start(&["--db", &db, "--rate-limit", "0"]);
    let good = result("evt-garbage", "visitor-garbage", "unqualified", "MQL")
        .to_string()
        .into_bytes();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for round in 0..150 {
        let mut body = good.clone();
        match round % 3 {
            // Flip a few bytes of a valid result.
            0 => {
                for _ in 0..1 + next() % 4 {
                    let at = (next() as usize) % body.len();
                    body[at] = (next() % 256) as u8;
                }
            }
            // Cut it short.
            1 => body.truncate((next() as usize) % body.len()),
            // Random bytes.
            _ => body = (0..next() % 600).map(|_| (next() % 256) as u8).collect(),
        }
        let response = server.request(
            "POST",
            "/v1/tier",
            &[("Content-Type", "application/json")],
            &body,
        );
        assert!(
            response.status == 200 || (400..500).contains(&response.status),
            "round {round}: {} {}",
            response.status,
            response.body
        );
        if response.status != 200 {
            assert!(
                response.json()["error"].is_string(),
                "round {round}: {}",
                response.body
            );
        }
    }
    assert_eq!(server.request("GET", "/healthz", &[], b"").status, 200);
    // A flipped byte can still leave a valid result (e.g. another visitor id); nothing else is stored.
    let stored = count(backend, &db, "SELECT COUNT(*) FROM tier_results");
    assert!(stored <= 50, "{stored} rows from garbage");
    assert_eq!(server.stop(), 0);
}

pub fn stores_once_under_concurrent_retries(backend: &dyn Backend) {
    let db = backend.new_db("concurrent");
    let server = Server::start(&["--db", &db, "--rate-limit", "0"]);
    let results: Vec<Value> = (0..20)
        .map(|i| {
            result(
                &format!("evt-conc-{i}"),
                &format!("visitor-conc-{}", i % 5),
                "unqualified",
                "MQL",
            )
        })
        .collect();
    let answers: Vec<(String, String)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..8)
            .map(|_| {
                let (server, results) = (&server, &results);
                scope.spawn(move || {
                    results
                        .iter()
                        .map(|r| {
                            let response = server.post(r);
                            assert_eq!(response.status, 200, "{}", response.body);
                            let body = response.json();
                            (
                                body["event_id"].as_str().unwrap().to_owned(),
                                body["status"].as_str().unwrap().to_owned(),
                            )
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    assert_eq!(answers.len(), 160);
    for i in 0..20 {
        let id = format!("evt-conc-{i}");
        let stored = answers
            .iter()
            .filter(|(e, s)| *e == id && s == "stored")
            .count();
        assert_eq!(stored, 1, "{id}: exactly one of the eight posts stored it");
    }
    assert_eq!(count(backend, &db, "SELECT COUNT(*) FROM tier_results"), 20);
    assert_eq!(count(backend, &db, "SELECT COUNT(*) FROM visitor_tiers"), 5);
    assert_eq!(server.stop(), 0);
}

/// The outcome token the outcome scenarios start the server with, written to a file.
const OUTCOME_TOKEN: &str = "outcome-token-0123456789";

fn outcome_server(db: &str, dir: &TempDir) -> Server {
    let file = dir.path().join("outcome-token");
    std::fs::write(&file, format!("{OUTCOME_TOKEN}\n")).unwrap();
    Server::start(&["--db", db, "--outcome-token-file", file.to_str().unwrap()])
}

fn post_outcome(server: &Server, body: &str, token: Option<&str>) -> Response {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(bearer) = &bearer {
        headers.push(("Authorization", bearer.as_str()));
    }
    server.request("POST", "/v1/outcome", &headers, body.as_bytes())
}

fn outcome(outcome_id: &str, lead_id: &str, kind: &str) -> Value {
    json!({
        "outcome_id": outcome_id,
        "lead_id": lead_id,
        "outcome": kind,
        "value": 1200,
        "at": result("x", "x", "x", "x")["at"],
    })
}

pub fn stores_an_outcome_once_behind_its_token(backend: &dyn Backend) {
    let db = backend.new_db("outcome_once");
    let dir = TempDir::new("outcome-once");
    let server = outcome_server(&db, &dir);
    let won = outcome("crm-1", "ann@example.com", "won").to_string();

    for (token, status) in [(None, 401), (Some("outcome-token-wrong-000000"), 401)] {
        let response = post_outcome(&server, &won, token);
        assert_eq!(response.status, status, "{token:?}: {}", response.body);
        assert_eq!(response.json()["field"], "Authorization");
    }
    let basic = server.request(
        "POST",
        "/v1/outcome",
        &[
            ("Content-Type", "application/json"),
            // The read token's Basic form is not accepted for outcomes.
            (
                "Authorization",
                "Basic eDpvdXRjb21lLXRva2VuLTAxMjM0NTY3ODk=",
            ),
        ],
        won.as_bytes(),
    );
    assert_eq!(basic.status, 401, "{}", basic.body);
    let bearer = format!("Bearer {OUTCOME_TOKEN}");
    let from_a_page = server.request(
        "POST",
        "/v1/outcome",
        &[
            ("Content-Type", "application/json"),
            ("Authorization", &bearer),
            ("Origin", "https://www.example.com"),
        ],
        won.as_bytes(),
    );
    assert_eq!(from_a_page.status, 403, "{}", from_a_page.body);
    assert!(from_a_page.header("access-control-allow-origin").is_none());
    let preflight = server.request(
        "OPTIONS",
        "/v1/outcome",
        &[("Origin", "https://www.example.com")],
        b"",
    );
    assert!(preflight.header("access-control-allow-origin").is_none());
    assert_eq!(count(backend, &db, "SELECT COUNT(*) FROM outcomes"), 0);

    let first = post_outcome(&server, &won, Some(OUTCOME_TOKEN));
    assert_eq!(
        (first.status, first.json()["status"].as_str()),
        (200, Some("stored")),
        "{}",
        first.body
    );
    let again = post_outcome(&server, &won, Some(OUTCOME_TOKEN));
    assert_eq!(
        (again.status, again.json()["status"].as_str()),
        (200, Some("duplicate")),
        "{}",
        again.body
    );
    let changed = outcome("crm-1", "ann@example.com", "lost").to_string();
    let conflict = post_outcome(&server, &changed, Some(OUTCOME_TOKEN));
    assert_eq!(conflict.status, 409, "{}", conflict.body);
    assert_eq!(conflict.json()["field"], "outcome_id");
    assert_eq!(
        backend.query(
            &db,
            "SELECT outcome_id, lead_id, outcome, CAST(value AS INTEGER) FROM outcomes"
        ),
        "crm-1|ann@example.com|won|1200"
    );
    assert_eq!(server.stop(), 0);

    // Without an outcome token the endpoint is off.
    let plain = Server::start(&["--db", &db]);
    let off = post_outcome(&plain, &won, Some(OUTCOME_TOKEN));
    assert_eq!(off.status, 404, "{}", off.body);
    assert_eq!(off.json()["error"], "outcomes_disabled");
    assert_eq!(plain.stop(), 0);
}

pub fn rejects_each_malformed_outcome_naming_the_field(backend: &dyn Backend) {
    let db = backend.new_db("outcome_malformed");
    let dir = TempDir::new("outcome-malformed");
    let server = outcome_server(&db, &dir);
    let good = outcome("crm-bad", "ann@example.com", "accepted");
    let with = |key: &str, value: Value| {
        let mut v = good.clone();
        v[key] = value;
        v.to_string()
    };
    let without = |key: &str| {
        let mut v = good.clone();
        v.as_object_mut().unwrap().remove(key);
        v.to_string()
    };
    let cases: Vec<(&str, String, Option<&str>, &str)> = vec![
        (
            "unknown field",
            with("stage", json!("Closed Won")),
            Some("stage"),
            "unknown_field",
        ),
        (
            "unknown outcome",
            with("outcome", json!("closed")),
            Some("outcome"),
            "invalid_field",
        ),
        (
            "outcome not text",
            with("outcome", json!(3)),
            Some("outcome"),
            "invalid_field",
        ),
        (
            "negative value",
            with("value", json!(-5)),
            Some("value"),
            "invalid_field",
        ),
        (
            "value as text",
            with("value", json!("12")),
            Some("value"),
            "invalid_field",
        ),
        (
            "bad time",
            with("at", json!("last week")),
            Some("at"),
            "invalid_field",
        ),
        (
            "epoch time",
            with("at", json!(1795000000000_u64)),
            Some("at"),
            "invalid_field",
        ),
        (
            "future time",
            with("at", json!("2099-01-01T00:00:00Z")),
            Some("at"),
            "invalid_field",
        ),
        ("missing time", without("at"), Some("at"), "missing_field"),
        (
            "missing id",
            without("outcome_id"),
            Some("outcome_id"),
            "missing_field",
        ),
        (
            "empty id",
            with("outcome_id", json!("")),
            Some("outcome_id"),
            "invalid_field",
        ),
        (
            "long lead id",
            with("lead_id", json!("x".repeat(200))),
            Some("lead_id"),
            "invalid_field",
        ),
        (
            "no lead",
            without("lead_id"),
            Some("lead_id"),
            "missing_field",
        ),
        ("not an object", "[1, 2]".to_owned(), None, "invalid_json"),
        ("not JSON", "{".to_owned(), None, "invalid_json"),
    ];
    for (name, body, field, code) in &cases {
        let response = post_outcome(&server, body, Some(OUTCOME_TOKEN));
        assert!(
            response.status == 400 || response.status == 422,
            "{name}: {} {}",
            response.status,
            response.body
        );
        let error = response.json();
        assert_eq!(error["field"].as_str(), *field, "{name}: {}", response.body);
        assert_eq!(error["error"], *code, "{name}: {}", response.body);
    }
    let form = server.request(
        "POST",
        "/v1/outcome",
        &[
            ("Content-Type", "text/plain"),
            ("Authorization", &format!("Bearer {OUTCOME_TOKEN}")),
        ],
        good.to_string().as_bytes(),
    );
    assert_eq!(form.status, 415, "{}", form.body);
    assert_eq!(count(backend, &db, "SELECT COUNT(*) FROM outcomes"), 0);
    let response = post_outcome(&server, &good.to_string(), Some(OUTCOME_TOKEN));
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(count(backend, &db, "SELECT COUNT(*) FROM outcomes"), 1);
    assert_eq!(server.stop(), 0);
}

fn truth_tier<'a>(truth: &'a Value, version: &str, tier: &str) -> Option<&'a Value> {
    truth["model_versions"]
        .as_array()?
        .iter()
        .find(|v| v["model_version"] == version)?["tiers"]
        .as_array()?
        .iter()
        .find(|t| t["tier"] == tier)
}

pub fn joins_an_outcome_that_arrives_before_its_lead(backend: &dyn Backend) {
    let db = backend.new_db("outcome_early");
    let dir = TempDir::new("outcome-early");
    let server = outcome_server(&db, &dir);
    let early = outcome("crm-early", "ben@example.com", "won").to_string();
    assert_eq!(
        post_outcome(&server, &early, Some(OUTCOME_TOKEN)).status,
        200
    );
    let by_visitor = json!({"outcome_id": "crm-visitor", "visitor_id": "visitor-cy",
        "outcome": "accepted", "at": result("x", "x", "x", "x")["at"]});
    assert_eq!(
        post_outcome(&server, &by_visitor.to_string(), Some(OUTCOME_TOKEN)).status,
        200
    );
    let truth = server.request("GET", "/v1/summary/truth", &[], b"");
    assert_eq!(truth.status, 200, "{}", truth.body);
    assert_eq!(truth.json()["unmatched_outcomes"], 2);

    // Ben's results arrive: MQL anonymously, then SQL after identify; Cy stays an MQL.
    let mql = result("evt-ben-1", "visitor-ben", "unqualified", "MQL");
    let mut sql = result("evt-ben-2", "visitor-ben", "MQL", "SQL");
    sql["lead_id"] = json!("ben@example.com");
    for r in [
        &mql,
        &sql,
        &result("evt-cy-1", "visitor-cy", "unqualified", "MQL"),
        &result("evt-dee-1", "visitor-dee", "unqualified", "MQL"),
    ] {
        assert_eq!(server.post(r).status, 200);
    }
    let truth = server.request("GET", "/v1/summary/truth", &[], b"").json();
    assert_eq!(truth["unmatched_outcomes"], 0, "{truth}");
    let sql_row = truth_tier(&truth, "2026-11-01", "SQL").unwrap();
    assert_eq!(sql_row["leads"], 1, "{truth}");
    assert_eq!(sql_row["converted"], 1);
    assert_eq!(sql_row["conversion_rate"], 1.0);
    let mql_row = truth_tier(&truth, "2026-11-01", "MQL").unwrap();
    // Ben counts in his highest tier only; Cy was accepted by sales, Dee has no outcome.
    assert_eq!(
        (
            &mql_row["leads"],
            &mql_row["accepted"],
            &mql_row["converted"]
        ),
        (&json!(2), &json!(1), &json!(0)),
        "{truth}"
    );
    let interval = mql_row["interval"].as_array().unwrap();
    assert_eq!(interval[0], 0.0);
    assert!(interval[1].as_f64().unwrap() > 0.5);
    let version = truth["model_versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["model_version"] == "2026-11-01")
        .unwrap();
    assert_eq!(
        (&version["leads"], &version["converted"]),
        (&json!(3), &json!(1))
    );
    assert!((sql_row["lift"].as_f64().unwrap() - 3.0).abs() < 1e-9);
    assert_eq!(sql_row["weeks"].as_array().unwrap().len(), 26);

    // The truth is read access, like the summary.
    let remote = server.request(
        "GET",
        "/v1/summary/truth",
        &[("X-Forwarded-For", "203.0.113.9")],
        b"",
    );
    assert_eq!(remote.status, 403, "{}", remote.body);
    assert_eq!(server.stop(), 0);
}

/// The example SaaS model as `model_id` / `model_version`, its tiers with training evidence
/// (tier name → leads, conversion rate), written into `dir`; the path for `--model`.
fn model_file(
    dir: &TempDir,
    model_id: &str,
    model_version: &str,
    evidence: &[(&str, u64, f64)],
) -> String {
    let mut model: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{REPO}/www/models/saas.json")).unwrap(),
    )
    .unwrap();
    model["id"] = json!(model_id);
    model["model_version"] = json!(model_version);
    for tier in model["tiers"].as_array_mut().unwrap() {
        if let Some((_, leads, rate)) = evidence.iter().find(|e| tier["name"] == e.0) {
            tier["evidence"] = json!({"leads": leads, "conversion_rate": rate});
        }
    }
    let path = dir.path().join(format!("{model_id}-{model_version}.json"));
    std::fs::write(&path, model.to_string()).unwrap();
    path.to_string_lossy().into_owned()
}

/// `n` identified leads of one model version reaching `tier`, the first `converted` of them won.
fn post_leads(
    server: &Server,
    (model_id, model_version): (&str, &str),
    tier: &str,
    n: usize,
    converted: usize,
) {
    for i in 0..n {
        let lead = format!("{model_id}-{model_version}-{tier}-{i}@example.com");
        let mut r = result(
            &format!("evt-{lead}"),
            &format!("visitor-{lead}"),
            "unqualified",
            tier,
        );
        r["model_id"] = json!(model_id);
        r["model_version"] = json!(model_version);
        r["lead_id"] = json!(lead);
        assert_eq!(server.post(&r).status, 200, "{r}");
        if i < converted {
            let won = outcome(&format!("crm-{lead}"), &lead, "won").to_string();
            assert_eq!(post_outcome(server, &won, Some(OUTCOME_TOKEN)).status, 200);
        }
    }
}

/// A served model whose tiers carry training evidence: the truth shows each tier's expected
/// rate and flags drift where the observed conversion is far from it.
pub fn flags_drift_from_the_training_evidence(backend: &dyn Backend) {
    let db = backend.new_db("truth_evidence");
    let dir = TempDir::new("truth-evidence");
    let model = model_file(
        &dir,
        "acme-saas",
        "2026-11-01",
        &[("SQL", 200, 0.8), ("MQL", 400, 0.2)],
    );
    let token = dir.path().join("outcome-token");
    std::fs::write(&token, OUTCOME_TOKEN).unwrap();
    let server = Server::start(&[
        "--db",
        &db,
        "--model",
        &model,
        "--rate-limit",
        "0",
        "--outcome-token-file",
        token.to_str().unwrap(),
    ]);
    // SQL leads convert at 10 % where training said 80 %; MQL leads at 20 %, as it said.
    post_leads(&server, ("acme-saas", "2026-11-01"), "SQL", 30, 3);
    post_leads(&server, ("acme-saas", "2026-11-01"), "MQL", 30, 6);
    let truth = server.request("GET", "/v1/summary/truth", &[], b"").json();
    let sql = truth_tier(&truth, "2026-11-01", "SQL").unwrap();
    assert_eq!(
        (&sql["leads"], &sql["converted"]),
        (&json!(30), &json!(3)),
        "{truth}"
    );
    assert_eq!(
        (&sql["expected_rate"], &sql["expected_leads"]),
        (&json!(0.8), &json!(200))
    );
    assert_eq!(sql["flags"], json!(["drift"]), "{truth}");
    let mql = truth_tier(&truth, "2026-11-01", "MQL").unwrap();
    assert_eq!(mql["expected_rate"], 0.2);
    assert_eq!(mql["flags"], json!([]), "{truth}");
    assert_eq!(server.stop(), 0);
}

/// A champion and a challenger (a newer version of the model id, or another model id) side by
/// side: a verdict names the version whose qualified leads convert more often, only when the
/// difference is significant.
pub fn compares_a_champion_with_its_challengers(backend: &dyn Backend) {
    let db = backend.new_db("truth_compare");
    let dir = TempDir::new("truth-compare");
    let champion = model_file(&dir, "acme-saas", "2026-11-01", &[]);
    let challenger = model_file(&dir, "acme-saas", "2026-12-01", &[]);
    let other = model_file(&dir, "acme-saas-b", "2026-12-01", &[]);
    let token = dir.path().join("outcome-token");
    std::fs::write(&token, OUTCOME_TOKEN).unwrap();
    let server = Server::start(&[
        "--db",
        &db,
        "--model",
        &champion,
        "--model",
        &challenger,
        "--model",
        &other,
        "--rate-limit",
        "0",
        "--outcome-token-file",
        token.to_str().unwrap(),
    ]);
    // The challenger's SQL leads convert at 70 %, the champion's and the other model's at 20 %
    // (and the champion's few MQL leads not at all).
    post_leads(&server, ("acme-saas", "2026-11-01"), "SQL", 40, 8);
    post_leads(&server, ("acme-saas", "2026-11-01"), "MQL", 10, 0);
    post_leads(&server, ("acme-saas", "2026-12-01"), "SQL", 40, 28);
    post_leads(&server, ("acme-saas-b", "2026-12-01"), "SQL", 40, 8);

    let truth = server.request("GET", "/v1/summary/truth", &[], b"").json();
    let comparisons = truth["comparisons"].as_array().unwrap();
    // By default: the two versions of acme-saas (acme-saas-b has one version only).
    assert_eq!(comparisons.len(), 1, "{truth}");
    let c = &comparisons[0];
    let versions: Vec<&Value> = c["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| &v["model_version"])
        .collect();
    assert_eq!(versions, [&json!("2026-11-01"), &json!("2026-12-01")]);
    let champion_row = &c["variants"][0];
    assert_eq!(
        (&champion_row["leads"], &champion_row["qualified_leads"]),
        (&json!(50), &json!(50))
    );
    assert_eq!(champion_row["tiers"][0]["tier"], "SQL");
    assert!((champion_row["tiers"][0]["share"].as_f64().unwrap() - 0.8).abs() < 1e-9);
    assert_eq!(champion_row["ordered"], true);
    assert!(c["variants"][1]["tiers"][0]["interval"].is_array());
    assert_eq!(
        c["verdict"],
        "acme-saas 2026-12-01 qualifies leads that convert more often: 70 % vs 16 % (p < 0.001)",
        "{c}"
    );

    // Two model ids that qualify equally well: no verdict.
    let equal = server
        .request(
            "GET",
            "/v1/summary/truth?compare=acme-saas-b@2026-12-01,acme-saas@2026-11-01",
            &[],
            b"",
        )
        .json();
    let c = &equal["comparisons"][0];
    assert_eq!(c["variants"][0]["model_id"], "acme-saas-b", "{equal}");
    assert_eq!(c["verdict"], Value::Null, "{c}");
    assert_eq!(
        c["summary"],
        "no significant difference yet (n = 40 and 50 qualified leads)"
    );

    let bad = server.request("GET", "/v1/summary/truth?compare=acme-saas", &[], b"");
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert_eq!(bad.json()["field"], "compare");
    assert_eq!(server.stop(), 0);
}

pub fn stores_rule_summaries(backend: &dyn Backend) {
    let db = backend.new_db("rule_summaries");
    let server = Server::start(&["--db", &db]);
    let mut with_rules = result("evt-rules-1", "visitor-rules", "unqualified", "MQL");
    with_rules["lead_id"] = json!("crm-rules");
    with_rules["rules"] =
        json!({"pricing-page": [2, 18], "visits-3": [1, 10], "role-student": [1, -30]});
    let response = server.post(&with_rules);
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(server.post(&with_rules).json()["status"], "duplicate");
    let mut changed = with_rules.clone();
    changed["rules"]["pricing-page"] = json!([3, 27]);
    assert_eq!(server.post(&changed).status, 409);
    let plain = result("evt-rules-2", "visitor-rules", "MQL", "SQL");
    assert_eq!(server.post(&plain).status, 200);
    assert_eq!(
        backend.query(
            &db,
            "SELECT event_id, COALESCE(rules, '-') FROM tier_results ORDER BY id"
        ),
        "evt-rules-1|{\"pricing-page\":[2,18],\"role-student\":[1,-30],\"visits-3\":[1,10]}\n\
         evt-rules-2|-"
    );

    let with = |rules: Value| {
        let mut r = result("evt-rules-bad", "visitor-rules", "unqualified", "MQL");
        r["lead_id"] = json!("crm-rules");
        r["rules"] = rules;
        r
    };
    // A summary without a lead id is of no use to retuning: refused, as the widget never sends one.
    let mut anonymous = with(json!({"pricing-page": [1, 10]}));
    anonymous.as_object_mut().unwrap().remove("lead_id");
    let response = server.post(&anonymous);
    assert_eq!(response.status, 422, "{}", response.body);
    assert_eq!(response.json()["field"], "rules");
    let too_many: serde_json::Map<String, Value> =
        (0..129).map(|i| (format!("r{i}"), json!([1, 1]))).collect();
    for (name, rules, field) in [
        ("not a pair", json!({"a": [1]}), "rules.a"),
        ("fractional count", json!({"a": [1.5, 2]}), "rules.a"),
        ("negative count", json!({"a": [-1, 2]}), "rules.a"),
        ("not an object", json!([["a", 1, 2]]), "rules"),
        ("bad id", json!({"a b": [1, 2]}), "rules"),
        ("too many", Value::Object(too_many), "rules"),
    ] {
        let response = server.post(&with(rules));
        assert_eq!(response.status, 422, "{name}: {}", response.body);
        let error_field = response.json()["field"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(error_field.starts_with(field), "{name}: {}", response.body);
    }
    assert_eq!(count(backend, &db, "SELECT COUNT(*) FROM tier_results"), 2);
    assert_eq!(server.stop(), 0);
}
