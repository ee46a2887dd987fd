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
use std::process::Command;
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
fn answers_a_conflict_for_an_event_id_with_other_content() {
    scenarios::answers_a_conflict_for_an_event_id_with_other_content(&Postgres);
}

#[test]
fn accepts_text_plain_like_json() {
    scenarios::accepts_text_plain_like_json(&Postgres);
}

#[test]
fn keeps_results_the_webhook_refuses_without_retrying() {
    scenarios::keeps_results_the_webhook_refuses_without_retrying(&Postgres);
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
fn stores_an_outcome_once_behind_its_token() {
    scenarios::stores_an_outcome_once_behind_its_token(&Postgres);
}

#[test]
fn rejects_each_malformed_outcome_naming_the_field() {
    scenarios::rejects_each_malformed_outcome_naming_the_field(&Postgres);
}

#[test]
fn joins_an_outcome_that_arrives_before_its_lead() {
    scenarios::joins_an_outcome_that_arrives_before_its_lead(&Postgres);
}

#[test]
fn flags_drift_from_the_training_evidence() {
    scenarios::flags_drift_from_the_training_evidence(&Postgres);
}

#[test]
fn compares_a_champion_with_its_challengers() {
    scenarios::compares_a_champion_with_its_challengers(&Postgres);
}

#[test]
fn stores_rule_summaries() {
    scenarios::stores_rule_summaries(&Postgres);
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

/// Makes a CA and a certificate for `localhost` signed by it, turns TLS on in the test cluster
/// with that certificate, and returns the CA file.
fn enable_tls(dir: &TempDir) -> std::path::PathBuf {
    let cluster = postgres_cluster();
    let script = r#"set -e
cd "$1"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.crt \
  -days 2 -subj /CN=leadscore-test-ca 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server.key -out server.csr \
  -subj /CN=localhost 2>/dev/null
printf 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > ext.cnf
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 \
  -extfile ext.cnf 2>/dev/null
cp server.crt server.key "$2/"
chown --reference="$2" "$2/server.crt" "$2/server.key"
chmod 600 "$2/server.key"
"#;
    let data_dir = psql(cluster, "SHOW data_directory");
    let status = Command::new("bash")
        .args([
            "-c",
            script,
            "tls",
            &dir.path().to_string_lossy(),
            &data_dir,
        ])
        .status()
        .unwrap();
    assert!(status.success(), "openssl");
    psql(cluster, "ALTER SYSTEM SET ssl_cert_file = 'server.crt'");
    psql(cluster, "ALTER SYSTEM SET ssl_key_file = 'server.key'");
    psql(cluster, "ALTER SYSTEM SET ssl = on");
    psql(cluster, "SELECT pg_reload_conf()");
    assert!(wait_until(Duration::from_secs(10), || psql(
        cluster, "SHOW ssl"
    ) == "on"));
    dir.path().join("ca.crt")
}

fn start_fails(db: &str) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_leadscore"))
        .current_dir(REPO)
        .args(["serve", "--listen", "127.0.0.1:0", "--db", db])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{db} should be refused");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn connects_with_tls_as_sslmode_says() {
    let dir = TempDir::new("pgtls");
    let ca = enable_tls(&dir);
    let ca = ca.to_string_lossy();
    let db = postgres_database("tls");
    let encrypted = |app: &str| {
        psql(
            &db,
            &format!(
                "SELECT COALESCE(bool_and(s.ssl), false) FROM pg_stat_ssl s JOIN pg_stat_activity a \
                 USING (pid) WHERE a.application_name = '{app}'"
            ),
        )
    };
    let post_through = |url: &str, event_id: &str| {
        let server = Server::start(&["--db", url]);
        let response = server.post(&result(event_id, "visitor-tls", "unqualified", "MQL"));
        assert_eq!(response.status, 200, "{url}: {}", response.body);
        server
    };

    // require: encrypted, whatever the certificate.
    let server = post_through(
        &format!("{db}?sslmode=require&application_name=ls-require"),
        "evt-tls-1",
    );
    assert_eq!(encrypted("ls-require"), "t");
    assert!(server.logs().contains("sslmode Require"));
    assert_eq!(server.stop(), 0);

    // verify-full: the chain and the name, against the CA given.
    let localhost = db.replace("127.0.0.1", "localhost");
    let server = post_through(
        &format!("{localhost}?sslmode=verify-full&sslrootcert={ca}&application_name=ls-full"),
        "evt-tls-2",
    );
    assert_eq!(encrypted("ls-full"), "t");
    assert_eq!(server.stop(), 0);
    // The certificate names localhost, not 127.0.0.1: verify-full refuses, verify-ca accepts.
    let stderr = start_fails(&format!("{db}?sslmode=verify-full&sslrootcert={ca}"));
    assert!(stderr.contains("PostgreSQL"), "{stderr}");
    let server = post_through(
        &format!("{db}?sslmode=verify-ca&sslrootcert={ca}&application_name=ls-ca"),
        "evt-tls-3",
    );
    assert_eq!(encrypted("ls-ca"), "t");
    assert_eq!(server.stop(), 0);
    // A CA that is not ours (the public roots): refused.
    start_fails(&format!(
        "{localhost}?sslmode=verify-full&sslrootcert=system"
    ));

    // disable: plain.
    let server = post_through(
        &format!("{db}?sslmode=disable&application_name=ls-plain"),
        "evt-tls-4",
    );
    assert_eq!(encrypted("ls-plain"), "f");
    assert_eq!(server.stop(), 0);
    assert_eq!(psql(&db, "SELECT COUNT(*) FROM tier_results"), "4");
}

#[test]
fn imports_outcomes_into_postgres_once() {
    let db = postgres_database("outcomes_import");
    let dir = TempDir::new("pg-outcomes-import");
    let file = dir.path().join("export.csv");
    std::fs::write(
        &file,
        "id,email,stage\ncrm-1,ann@example.com,Closed Won\ncrm-2,ben@example.com,Nurture\n",
    )
    .unwrap();
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_leadscore"))
            .args(["outcomes", "import"])
            .arg(&file)
            .args([
                "--db",
                &db,
                "--id-column",
                "id",
                "--outcome-column",
                "stage",
                "--lead-column",
                "email",
                "--map",
                "won=Closed Won",
            ])
            .output()
            .unwrap()
    };
    let first = run();
    let out = String::from_utf8_lossy(&first.stdout).into_owned();
    assert_eq!(first.status.code(), Some(1), "{out}");
    assert!(out.contains("imported 1, duplicates 0, refused 1"), "{out}");
    assert!(out.contains("line 3: outcome (column \"stage\")"), "{out}");
    let again = String::from_utf8_lossy(&run().stdout).into_owned();
    assert!(
        again.contains("imported 0, duplicates 1, refused 1"),
        "{again}"
    );
    assert_eq!(
        psql(&db, "SELECT outcome_id, lead_id, outcome FROM outcomes"),
        "crm-1|ann@example.com|won"
    );

    // The collector joins the imported outcome with Ann's result.
    let server = Server::start(&["--db", &db]);
    let mut r = result("evt-pg-ann", "visitor-pg-ann", "unqualified", "MQL");
    r["lead_id"] = serde_json::json!("ann@example.com");
    assert_eq!(server.post(&r).status, 200);
    let truth = server.request("GET", "/v1/summary/truth", &[], b"").json();
    assert_eq!(truth["unmatched_outcomes"], 0, "{truth}");
    assert_eq!(truth["model_versions"][0]["converted"], 1, "{truth}");
    assert_eq!(server.stop(), 0);
}
