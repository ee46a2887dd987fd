//! The `leadscore` command line: check, score and schema, run as a real process.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::PathBuf;
use std::process::{Command, Output};

fn leadscore(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_leadscore"))
        .args(args)
        .output()
        .unwrap()
}

/// The report of `visitor` in `leadscore score --json` output.
fn report<'a>(reports: &'a serde_json::Value, visitor: &str) -> &'a serde_json::Value {
    reports
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["visitor"] == visitor)
        .unwrap()
}

fn temp_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("leadscore-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn check_accepts_the_example_models() {
    for model in ["www/models/saas.json", "www/models/wholesale.json"] {
        let out = leadscore(&["check", model]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains(": valid ("));
    }
}

#[test]
fn check_lists_every_problem_with_its_path_and_exits_1() {
    let model = temp_file(
        "bad.json",
        r#"{ "version": 1, "id": "x", "model_version": "1",
            "rules": [
              { "id": "a", "when": { "page": { "path": "[" } }, "dimension": "intent", "points": 5 },
              { "id": "a", "when": { "page": { "path": "/ok" } }, "dimension": "intent", "points": 5 }
            ],
            "tiers": [ { "name": "SQL", "min": { "intent": 50 }, "requires": ["demo"] } ] }"#,
    );
    let out = leadscore(&["check", model.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    for expected in [
        "rules[0].when.page.path: invalid pattern \"[\": must start with \"/\"",
        "rules[1].id: duplicate rule id \"a\" (first used at rules[0])",
        "tiers[0].min.intent: 50 cannot be reached",
        "tiers[0].requires[0]: unknown rule \"demo\"",
        "4 problem(s)",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in\n{err}");
    }
}

#[test]
fn check_reports_a_missing_file_clearly() {
    let out = leadscore(&["check", "no/such/model.json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read no/such/model.json"));
}

#[test]
fn score_gives_each_visitor_the_tier_the_engine_computes() {
    let out = leadscore(&[
        "score",
        "www/models/saas.json",
        "www/models/saas.events.jsonl",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reports: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let tier = |v: &str| report(&reports, v)["tier"].as_str().unwrap().to_string();
    assert_eq!(tier("ana-content-reader"), "MQL");
    assert_eq!(tier("ben-buyer"), "SQL");
    assert_eq!(tier("cho-trial-user"), "PQL");
    assert_eq!(tier("dev-student"), "unqualified");
    assert_eq!(tier("eve-lapsed"), "unqualified");
    let ben = report(&reports, "ben-buyer");
    let transitions: Vec<(&str, &str)> = ben["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["from"].as_str().unwrap(), t["to"].as_str().unwrap()))
        .collect();
    assert_eq!(transitions, vec![("unqualified", "MQL"), ("MQL", "SQL")]);
    assert_eq!(ben["contributions"][0]["rule"], "demo-request");
}

#[test]
fn score_as_of_an_earlier_time_leaves_later_events_out() {
    let out = leadscore(&[
        "score",
        "www/models/saas.json",
        "www/models/saas.events.jsonl",
        "--json",
        "--now",
        "2026-11-03T14:05:00Z",
    ]);
    let reports: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ben = report(&reports, "ben-buyer");
    assert_eq!(ben["tier"], "unqualified");
}

#[test]
fn score_with_rules_gives_each_tier_change_the_widgets_rule_summary() {
    let out = leadscore(&[
        "score",
        "www/models/saas.json",
        "www/models/saas.events.jsonl",
        "--json",
        "--rules",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reports: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ben = report(&reports, "ben-buyer");
    let changes = ben["transitions"].as_array().unwrap();
    assert!(changes.len() >= 2, "{changes:?}");
    // The change to SQL happened at the demo request: its summary names it, fired once.
    let sql = changes.iter().find(|t| t["to"] == "SQL").unwrap();
    assert_eq!(sql["rules"]["demo-request"][0], 1);
    assert_eq!(sql["rules"]["demo-request"][1], 40);
    // Earlier changes do not know of later firings.
    let first = &changes[0]["rules"];
    assert!(first.get("demo-request").is_none(), "{first}");
    // Without --rules, no summaries.
    let plain = leadscore(&[
        "score",
        "www/models/saas.json",
        "www/models/saas.events.jsonl",
        "--json",
    ]);
    assert!(!String::from_utf8_lossy(&plain.stdout).contains("\"rules\""));
}

#[cfg(unix)]
#[test]
fn a_closed_output_pipe_ends_the_command_quietly() {
    use std::io::Read;
    use std::process::Stdio;
    let events = temp_file(
        "many.jsonl",
        &(0..20_000)
            .map(|i| format!("{{\"visitor\": \"v{i}\", \"ts\": {}, \"type\": \"page_view\", \"path\": \"/pricing\"}}\n", 1_790_000_000_000u64 + i))
            .collect::<String>(),
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_leadscore"))
        .args([
            "score",
            "www/models/saas.json",
            events.to_str().unwrap(),
            "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 64];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    // The reader is gone: the command must end without a panic or an error message.
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
}

#[test]
fn score_prints_a_table_by_default() {
    let out = leadscore(&[
        "score",
        "www/models/wholesale.json",
        "www/models/wholesale.events.jsonl",
    ]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("hotel-berg  tier Key-Account"), "{text}");
    assert!(text.contains("rule") && text.contains("dimension") && text.contains("decayed"));
}

#[test]
fn malformed_event_lines_are_named_and_the_rest_is_scored() {
    let log = temp_file(
        "events.jsonl",
        concat!(
            "{\"visitor\":\"v\",\"ts\":\"2026-11-01T10:00:00Z\",\"type\":\"form_submit\",\"id\":\"demo-request\"}\n",
            "{\"visitor\":\"v\",\"ts\":\"yesterday\",\"type\":\"page_view\",\"path\":\"/\"}\n",
            "{\"visitor\":\"v\",\"ts\":1790000000000,\"type\":\"page_view\",\"path\":\"pricing\"}\n",
            "{\"visitor\":\"v\",\"ts\":1790000000000,\"type\":\"page_view\",\"path\":\"/\",\"colour\":1}\n",
            "not json\n",
            "{\"visitor\":\"v\",\"ts\":-9223372036854775000,\"type\":\"page_view\",\"path\":\"/\"}\n",
            "{\"ts\":1790000000000,\"type\":\"page_view\",\"path\":\"/\"}\n",
        ),
    );
    let out = leadscore(&[
        "score",
        "www/models/saas.json",
        log.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    for expected in [
        "events.jsonl:2: ts: \"yesterday\" is not an RFC 3339 time",
        "events.jsonl:3: path: must start with \"/\"",
        "events.jsonl:4: unknown field `colour`",
        "events.jsonl:5: not valid JSON",
        "events.jsonl:6: ts: -9223372036854775000 is outside 1970-01-01 to 9999-12-31",
        "events.jsonl:7: visitor: missing",
        "6 line(s) rejected",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in\n{err}");
    }
    let reports: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(reports[0]["intent"], 40.0);
}

#[test]
fn schema_is_valid_json_describing_the_model() {
    let out = leadscore(&["schema"]);
    assert!(out.status.success());
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(schema["title"], "Model");
    assert!(schema["properties"]["rules"].is_object());
}

#[test]
fn check_warns_about_a_tier_held_only_at_the_instant_a_decaying_rule_fires() {
    let model = temp_file(
        "flapping.json",
        r#"{ "version": 1, "id": "x", "model_version": "1",
            "rules": [
              { "id": "demo", "when": { "form": { "id": "demo" } }, "dimension": "intent", "points": 40,
                "decay": { "half_life_days": 45 } }
            ],
            "tiers": [ { "name": "SQL", "min": { "intent": 40 } } ] }"#,
    );
    let out = leadscore(&["check", model.to_str().unwrap()]);
    assert!(out.status.success(), "a warning is not a failure");
    assert!(String::from_utf8_lossy(&out.stdout).contains(": valid ("));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("flapping.json: warning: tiers[0].min.intent: 40 is met exactly when `demo` (40 points) fires")
            && err.contains("1 warning(s)"),
        "{err}"
    );
    // The example models are free of warnings.
    for model in ["www/models/saas.json", "www/models/wholesale.json"] {
        let out = leadscore(&["check", model]);
        assert_eq!(String::from_utf8_lossy(&out.stderr), "", "{model}");
    }
}

/// README's test command alone must work on a fresh machine: it installs what is missing first.
#[test]
fn make_test_sets_the_machine_up_first() {
    for target in [
        "test",
        "test-native",
        "test-browser",
        "test-e2e",
        "test-size",
    ] {
        let out = Command::new("make")
            .args(["-n", "--no-print-directory", target])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let plan = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            plan.lines().next(),
            Some("./scripts/setup.sh"),
            "make {target} runs setup first:\n{plan}"
        );
    }
}
