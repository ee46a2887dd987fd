//! `leadscore outcomes import`: a CRM export stored as `POST /v1/outcome` stores outcomes.

#![cfg(feature = "cli")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod serve_support;

use serve_support::*;
use std::process::Command;

const EXPORT: &str = "\
Opportunity ID,Email,Stage,Closed,Amount
crm-1,ann@example.com,Closed Won,2026-11-20,1200
crm-2,ben@example.com,SQL Accepted,2026-11-21T09:30:00+01:00,
crm-3,cy@example.com,Closed Lost,1795000000000,0
crm-4,dee@example.com,Negotiation,2026-11-22,10
crm-5,,Closed Won,2026-11-22,10
crm-6,eve@example.com,won,2026-11-22,-3
crm-7,fay@example.com,disqualified,yesterday,
crm-8,gil@example.com,opportunity
";

fn import(db: &str, file: &std::path::Path, extra: &[&str]) -> (i32, String) {
    // The database exists, as the collector (`leadscore serve --db`) leaves it; import migrates it.
    if !std::path::Path::new(db).exists() {
        rusqlite::Connection::open(db).unwrap();
    }
    import_into(db, file, extra)
}

/// Runs the import of `file` into `db` as it is: exit code and output.
fn import_into(db: &str, file: &std::path::Path, extra: &[&str]) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_leadscore"))
        .args(["outcomes", "import"])
        .arg(file)
        .args([
            "--db",
            db,
            "--id-column",
            "Opportunity ID",
            "--outcome-column",
            "Stage",
            "--lead-column",
            "Email",
            "--at-column",
            "Closed",
            "--value-column",
            "Amount",
            "--map",
            "accepted=SQL Accepted,won=Closed Won",
            "--map",
            "lost=Closed Lost",
        ])
        .args(extra)
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

fn rows(db: &str, sql: &str) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn.prepare(sql).unwrap();
    let found = stmt
        .query_map([], |row| row.get::<_, String>(0))
        .unwrap()
        .collect::<rusqlite::Result<Vec<_>>>()
        .unwrap();
    found
}

#[test]
fn imports_once_and_names_every_refused_line() {
    let dir = TempDir::new("outcomes-import");
    let file = dir.path().join("export.csv");
    std::fs::write(&file, EXPORT).unwrap();
    let db = dir.path().join("leads.db").to_string_lossy().into_owned();

    let (code, out) = import(&db, &file, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("imported 3, duplicates 0, refused 5"), "{out}");
    for expected in [
        "line 5: outcome (column \"Stage\"): \"Negotiation\" is no outcome",
        "line 6: lead_id (column \"Email\"): must not be empty",
        "line 7: value (column \"Amount\"):",
        "line 8: at (column \"Closed\"):",
        "line 9: 3 cells; the header has 5",
    ] {
        assert!(out.contains(expected), "{expected:?} missing from:\n{out}");
    }
    assert_eq!(
        rows(
            &db,
            "SELECT outcome_id || '|' || lead_id || '|' || outcome || '|' || COALESCE(at, '') \
             || '|' || COALESCE(CAST(value AS INTEGER), '') FROM outcomes ORDER BY outcome_id"
        ),
        [
            "crm-1|ann@example.com|won|2026-11-20T00:00:00.000Z|1200",
            "crm-2|ben@example.com|accepted|2026-11-21T08:30:00.000Z|",
            "crm-3|cy@example.com|lost|2026-11-18T11:06:40.000Z|0",
        ]
    );

    // Importing the same export again stores nothing new.
    let (code, out) = import(&db, &file, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("imported 0, duplicates 3, refused 5"), "{out}");

    // A row whose id was stored with other content is refused, the rest imported.
    let changed = dir.path().join("changed.csv");
    std::fs::write(
        &changed,
        "Opportunity ID,Email,Stage,Closed,Amount\n\
         crm-1,ann@example.com,Closed Lost,2026-11-20,1200\n\
         crm-9,hal@example.com,Opportunity,2026-11-23,\n",
    )
    .unwrap();
    let (code, out) = import(&db, &changed, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("imported 1, duplicates 0, refused 1"), "{out}");
    assert!(
        out.contains("line 2: outcome_id (column \"Opportunity ID\"): \"crm-1\" was stored before"),
        "{out}"
    );
    assert_eq!(rows(&db, "SELECT COUNT(*) || '' FROM outcomes"), ["4"]);
}

#[test]
fn a_clean_export_exits_zero_and_unknown_columns_are_named() {
    let dir = TempDir::new("outcomes-import-clean");
    let file = dir.path().join("export.csv");
    std::fs::write(
        &file,
        // As spreadsheet programs save it: with a byte order mark.
        "\u{feff}Opportunity ID,Email,Stage,Closed,Amount\ncrm-1,ann@example.com,Closed Won,2026-11-20,5\n",
    )
    .unwrap();
    let db = dir.path().join("leads.db").to_string_lossy().into_owned();
    let (code, out) = import(&db, &file, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("imported 1, duplicates 0, refused 0"), "{out}");

    let output = Command::new(env!("CARGO_BIN_EXE_leadscore"))
        .args(["outcomes", "import"])
        .arg(&file)
        .args([
            "--db",
            &db,
            "--id-column",
            "Id",
            "--outcome-column",
            "Stage",
            "--visitor-column",
            "Email",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains("--id-column \"Id\": no such column; the header has Opportunity ID, Email"),
        "{err}"
    );

    let bad_map = Command::new(env!("CARGO_BIN_EXE_leadscore"))
        .args(["outcomes", "import"])
        .arg(&file)
        .args([
            "--db",
            &db,
            "--id-column",
            "Opportunity ID",
            "--outcome-column",
            "Stage",
            "--lead-column",
            "Email",
            "--map",
            "closed=Closed Won",
        ])
        .output()
        .unwrap();
    assert_eq!(bad_map.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad_map.stderr).contains("--map \"closed=Closed Won\""));
}

#[test]
fn a_missing_database_is_an_error_not_a_new_file() {
    let dir = TempDir::new("outcomes-missing-db");
    let file = dir.path().join("export.csv");
    std::fs::write(&file, EXPORT).unwrap();
    let db = dir.path().join("typo.db");
    let (code, out) = import_into(db.to_str().unwrap(), &file, &[]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("no such database"), "{out}");
    assert!(!db.exists());
}
