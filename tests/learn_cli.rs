//! `leadscore train` and `leadscore eval` end to end, on generated lead histories.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use leadscore::learn::synthetic;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_leadscore");

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("leadscore-learn-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

struct Fixture {
    dir: PathBuf,
    data: String,
    split: String,
    mapping: String,
}

fn fixture(name: &str, rows: usize, seed: u64) -> Fixture {
    let dir = scratch(name);
    let data = dir.join("leads.csv");
    let split = dir.join("split.csv");
    let mapping = dir.join("mapping.json");
    std::fs::write(&data, synthetic::csv(rows, seed)).unwrap();
    std::fs::write(&split, synthetic::split_csv(rows)).unwrap();
    std::fs::write(&mapping, synthetic::MAPPING).unwrap();
    let s = |p: &Path| p.to_str().unwrap().to_string();
    Fixture {
        data: s(&data),
        split: s(&split),
        mapping: s(&mapping),
        dir,
    }
}

impl Fixture {
    fn path(&self, name: &str) -> String {
        self.dir.join(name).to_str().unwrap().to_string()
    }

    fn train(&self, out: &str, extra: &[&str]) -> Output {
        let mut args = vec![
            "train",
            &self.data,
            "--mapping",
            &self.mapping,
            "--split",
            &self.split,
            "--out",
            out,
            "--model-version",
            "test",
        ];
        args.extend_from_slice(extra);
        run(&args)
    }

    fn eval_json(&self, model: &str, extra: &[&str]) -> Value {
        let mut args = vec![
            "eval",
            model,
            &self.data,
            "--mapping",
            &self.mapping,
            "--split",
            &self.split,
            "--json",
        ];
        args.extend_from_slice(extra);
        let o = run(&args);
        let (out, err) = text(&o);
        assert!(o.status.success(), "eval failed: {err}");
        serde_json::from_str(&out).unwrap()
    }
}

fn read_json(path: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn trains_a_valid_model_that_ranks_held_out_leads() {
    let f = fixture("ranks", 6000, 11);
    let model = f.path("model.json");
    let o = f.train(&model, &[]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "train failed: {err}");
    assert!(out.contains("learned from 4800 leads"), "{out}");

    let check = run(&["check", &model]);
    assert!(check.status.success(), "{}", text(&check).1);

    let m = read_json(&model);
    let rules = m["rules"].as_array().unwrap();
    // Every rule is a normal rule with integer points and its evidence.
    for r in rules {
        assert!(r["points"].as_i64().unwrap() != 0);
        let ev = &r["evidence"];
        assert!(ev["leads"].as_u64().unwrap() > 0, "{r}");
        let rate = ev["conversion_rate"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&rate));
    }
    // The leaking CRM column was ignored; the rare affiliate sources got no rule of their own.
    // (The `training` section lists the ignored column: only the rules are searched.)
    let text_model = m["rules"].to_string();
    assert!(!text_model.contains("Sales Stage") && !text_model.contains("Closed"));
    assert!(!text_model.contains("affiliate-"));
    // Known effects come out with the right sign.
    let points = |id: &str| {
        rules
            .iter()
            .find(|r| r["id"] == id)
            .map(|r| r["points"].as_i64().unwrap())
    };
    assert!(points("role:student").unwrap() < 0);
    assert!(points("role:founder").unwrap() > 0);
    assert!(
        points("demo-request").unwrap() > 20,
        "a demo request more than doubles the odds"
    );
    assert!(m["calibration"]["slope"].as_f64().unwrap() > 0.0);
    assert_eq!(m["tiers"][0]["name"], "SQL");

    let report = f.eval_json(&model, &[]);
    assert_eq!(report["leads"], 1200);
    assert_eq!(report["rows"], "test");
    assert!(report["roc_auc"].as_f64().unwrap() > 0.75, "{report}");
    assert!(report["log_loss"].as_f64().unwrap() < 0.6);
    let tiers = report["tiers"].as_array().unwrap();
    let rate = |name: &str| {
        tiers.iter().find(|t| t["tier"] == name).unwrap()["conversion_rate"]
            .as_f64()
            .unwrap()
    };
    assert!(
        rate("SQL") > rate("MQL") && rate("MQL") > rate("unqualified"),
        "{report}"
    );
    let shares: f64 = tiers.iter().map(|t| t["share"].as_f64().unwrap()).sum();
    assert!((shares - 1.0).abs() < 1e-9);
    let calibration = report["calibration"].as_array().unwrap();
    assert_eq!(
        calibration
            .iter()
            .map(|b| b["leads"].as_u64().unwrap())
            .sum::<u64>(),
        1200
    );
}

/// What a visitor does, in terms the test can match against rules by hand.
struct Visitor {
    name: &'static str,
    source: Option<&'static str>,
    answers: Vec<(&'static str, Value)>,
    downloads: Vec<&'static str>,
    forms: Vec<&'static str>,
    visits: u32,
    seconds: f64,
}

impl Visitor {
    /// The event log lines the widget would record.
    fn events(&self) -> Vec<Value> {
        let mut out = Vec::new();
        let mut t: i64 = 1_780_000_000_000;
        let mut page =
            serde_json::json!({"visitor": self.name, "ts": t, "type": "page_view", "path": "/"});
        if let Some(s) = self.source {
            page["query"] = serde_json::json!({ "utm_source": s });
        }
        out.push(page);
        for (q, v) in &self.answers {
            t += 1000;
            out.push(serde_json::json!({"visitor": self.name, "ts": t, "type": "answer", "question": q, "value": v}));
        }
        for d in &self.downloads {
            t += 1000;
            out.push(
                serde_json::json!({"visitor": self.name, "ts": t, "type": "download", "url": d}),
            );
        }
        for id in &self.forms {
            t += 1000;
            out.push(
                serde_json::json!({"visitor": self.name, "ts": t, "type": "form_submit", "id": id}),
            );
        }
        if self.seconds > 0.0 {
            t += 1000;
            out.push(serde_json::json!({"visitor": self.name, "ts": t, "type": "engagement", "seconds": self.seconds}));
        }
        for _ in 1..self.visits {
            t += 45 * 60_000;
            out.push(serde_json::json!({"visitor": self.name, "ts": t, "type": "page_view", "path": "/"}));
        }
        out
    }

    /// The scorecard's total: the points of every rule whose condition the visitor meets.
    fn scorecard_total(&self, model: &Value) -> i64 {
        model["rules"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|rule| self.hit(&rule["when"]))
            .map(|rule| rule["points"].as_i64().unwrap())
            .sum()
    }

    /// Whether the visitor meets a learned rule's condition.
    fn hit(&self, when: &Value) -> bool {
        let same = |a: &str, b: &str| a.trim().eq_ignore_ascii_case(b.trim());
        if let Some(a) = when.get("answer") {
            self.answers.iter().any(|(q, v)| {
                same(q, a["question"].as_str().unwrap())
                    && match (a.get("equals"), a.get("one_of"), v) {
                        (Some(e), _, Value::String(s)) => same(s, e.as_str().unwrap()),
                        (_, Some(list), Value::String(s)) => list
                            .as_array()
                            .unwrap()
                            .iter()
                            .any(|e| same(s, e.as_str().unwrap())),
                        (None, None, Value::Number(n)) => {
                            let x = n.as_f64().unwrap();
                            a.get("min").is_none_or(|m| x >= m.as_f64().unwrap())
                                && a.get("max").is_none_or(|m| x <= m.as_f64().unwrap())
                        }
                        _ => false,
                    }
            })
        } else if let Some(p) = when.get("page") {
            let want = &p["query"]["utm_source"];
            match (want.as_str(), want.get("other_than")) {
                (Some(w), _) => self.source.is_some_and(|s| same(s, w)),
                (None, Some(list)) => self.source.is_some_and(|s| {
                    !list
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|w| same(s, w.as_str().unwrap()))
                }),
                _ => panic!("unexpected query condition {want}"),
            }
        } else if let Some(d) = when.get("download") {
            self.downloads
                .iter()
                .any(|u| *u == d["url"].as_str().unwrap())
        } else if let Some(f) = when.get("form") {
            self.forms.iter().any(|id| *id == f["id"].as_str().unwrap())
        } else if let Some(v) = when.get("visits") {
            u64::from(self.visits) >= v["at_least"].as_u64().unwrap()
        } else if let Some(s) = when.get("time_on_site") {
            self.seconds >= s["at_least_seconds"].as_f64().unwrap()
        } else if let Some(parts) = when.get("all") {
            parts.as_array().unwrap().iter().all(|p| self.hit(p))
        } else {
            panic!("unexpected rule kind in a learned model: {when}");
        }
    }
}

fn scorecard_tier(model: &Value, total: i64) -> String {
    model["tiers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| total as f64 >= t["min"]["total"].as_f64().unwrap())
        .map_or("unqualified".to_string(), |t| {
            t["name"].as_str().unwrap().to_string()
        })
}

#[test]
fn leadscore_score_gives_synthetic_visitors_the_tier_the_scorecard_predicts() {
    let f = fixture("visitors", 5000, 21);
    let model_path = f.path("model.json");
    assert!(f
        .train(
            &model_path,
            &["--sql-precision", "0.75", "--mql-share", "0.5"]
        )
        .status
        .success());
    let model = read_json(&model_path);

    let visitors = [
        Visitor {
            name: "keen-founder",
            source: Some("newsletter"),
            answers: vec![
                ("role", "Founder".into()),
                ("country", "India".into()),
                ("pages_per_visit", 3.0.into()),
            ],
            downloads: vec!["/resources/guide.pdf"],
            forms: vec!["demo-request"],
            visits: 6,
            seconds: 1500.0,
        },
        Visitor {
            name: "browsing-student",
            source: Some("partner"),
            answers: vec![("role", "student".into()), ("pages_per_visit", 7.5.into())],
            downloads: vec![],
            forms: vec![],
            visits: 1,
            seconds: 0.0,
        },
        Visitor {
            name: "manager-reading",
            source: Some("Google"),
            answers: vec![
                ("role", "Manager".into()),
                ("country", "United States".into()),
                ("pages_per_visit", 2.5.into()),
            ],
            downloads: vec![],
            forms: vec![],
            visits: 3,
            seconds: 420.0,
        },
    ];
    let log = f.path("events.jsonl");
    let lines: Vec<String> = visitors
        .iter()
        .flat_map(Visitor::events)
        .map(|v| v.to_string())
        .collect();
    std::fs::write(&log, lines.join("\n") + "\n").unwrap();

    let o = run(&["score", &model_path, &log, "--json"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "score failed: {err}");
    let reports: Value = serde_json::from_str(&out).unwrap();
    let reports = reports.as_array().unwrap();
    assert_eq!(reports.len(), visitors.len());
    let mut tiers = Vec::new();
    for v in &visitors {
        let expected_total = v.scorecard_total(&model);
        let expected_tier = scorecard_tier(&model, expected_total);
        let got = reports.iter().find(|r| r["visitor"] == v.name).unwrap();
        assert_eq!(
            got["total"].as_f64().unwrap(),
            expected_total as f64,
            "{}: {got}",
            v.name
        );
        assert_eq!(got["tier"].as_str().unwrap(), expected_tier, "{}", v.name);
        tiers.push(expected_tier);
    }
    // The visitors span the tiers, so the comparison means something.
    assert_eq!(tiers[0], "SQL");
    assert_eq!(tiers[1], "unqualified");
}

#[test]
fn eval_writes_the_event_log_that_score_reads() {
    let f = fixture("events-out", 1500, 5);
    let model = f.path("model.json");
    assert!(f.train(&model, &[]).status.success());
    let log = f.path("test-events.jsonl");
    let report = f.eval_json(&model, &["--events-out", &log]);
    let o = run(&["score", &model, &log, "--json"]);
    assert!(o.status.success(), "{}", text(&o).1);
    let reports: Value = serde_json::from_str(&text(&o).0).unwrap();
    let reports = reports.as_array().unwrap();
    assert_eq!(reports.len() as u64, report["leads"].as_u64().unwrap());
    // The per-tier counts of `score` equal those of `eval`.
    for t in report["tiers"].as_array().unwrap() {
        let n = reports.iter().filter(|r| r["tier"] == t["tier"]).count() as u64;
        assert_eq!(n, t["leads"].as_u64().unwrap(), "{}", t["tier"]);
    }
}

#[test]
fn same_seed_same_model_and_ignore_drops_columns() {
    let f = fixture("deterministic", 2000, 3);
    let a = f.path("a.json");
    let b = f.path("b.json");
    assert!(f
        .train(&a, &["--seed", "7", "--id", "same"])
        .status
        .success());
    assert!(f
        .train(&b, &["--seed", "7", "--id", "same"])
        .status
        .success());
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());

    let c = f.path("c.json");
    let o = f.train(
        &c,
        &["--fit", "logistic", "--ignore", "Country,Role", "--l2", "2"],
    );
    assert!(o.status.success(), "{}", text(&o).1);
    let m = read_json(&c)["rules"].to_string();
    assert!(!m.contains("\"country\"") && !m.contains("\"role\""));
    assert!(text(&o).0.contains("L2 penalty 2"));
}

#[test]
fn base_model_keeps_its_rules_and_gets_new_points_and_thresholds() {
    let f = fixture("base", 3000, 8);
    let base = f.path("base.json");
    std::fs::write(
        &base,
        r#"{
  "version": 1, "id": "hand-made", "model_version": "1",
  "rules": [
    { "id": "founder", "when": { "answer": { "question": "role", "equals": "founder" } }, "dimension": "fit", "points": 5 },
    { "id": "student", "when": { "answer": { "question": "role", "equals": "student" } }, "dimension": "fit", "points": 5 },
    { "id": "demo", "when": { "form": { "id": "demo-request" } }, "dimension": "intent", "points": 50 },
    { "id": "three-visits", "when": { "visits": { "at_least": 3 } }, "dimension": "engagement", "points": 10 },
    { "id": "webinar", "when": { "form": { "id": "webinar" } }, "dimension": "engagement", "points": 7 }
  ],
  "limits": { "fit": { "max": 30 } },
  "tiers": [
    { "name": "SQL", "min": { "total": 50 }, "requires": ["demo"] },
    { "name": "MQL", "min": { "total": 10 } }
  ]
}"#,
    )
    .unwrap();
    let out = f.path("refit.json");
    let o = f.train(&out, &["--base", &base, "--mql-share", "0.4"]);
    let (stdout, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("\"webinar\" never fired"), "{err}");
    assert!(err.contains("limits"), "{err}");
    assert!(stdout.contains("tier MQL"), "{stdout}");
    assert!(run(&["check", &out]).status.success());

    let m = read_json(&out);
    let ids: Vec<&str> = m["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["founder", "student", "demo", "three-visits", "webinar"]
    );
    let points = |i: usize| m["rules"][i]["points"].as_i64().unwrap();
    assert!(
        points(0) > 0 && points(1) < 0,
        "the data say students convert less"
    );
    assert_eq!(points(4), 7, "a rule without evidence keeps its points");
    assert_eq!(m["rules"][4]["evidence"]["leads"], 0);
    assert!(m["rules"][2]["evidence"]["leads"].as_u64().unwrap() > 100);
    assert_eq!(m["tiers"][0]["requires"][0], "demo");
    assert!(m.get("limits").is_none());
    assert!(m["calibration"].is_object());
}

fn train_error(dir: &Path, csv: &str, args: &[&str]) -> String {
    let data = dir.join("bad.csv");
    std::fs::write(&data, csv).unwrap();
    let out = dir.join("bad-model.json");
    let mut all = vec![
        "train",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    let o = run(&all);
    assert_eq!(o.status.code(), Some(2), "expected an error for {args:?}");
    assert!(!out.exists(), "no model is written on error");
    text(&o).1
}

#[test]
fn clear_errors_for_bad_input() {
    let dir = scratch("errors");
    let good = "won,role,visits\n1,cto,3\n0,student,1\n1,cto,4\n0,dev,1\n";

    let e = train_error(&dir, good, &["--label", "Won"]);
    assert!(
        e.contains("label column \"Won\" is not in the file (did you mean \"won\"?)"),
        "{e}"
    );

    let e = train_error(&dir, good, &[]);
    assert!(e.contains("no label column: pass --label"), "{e}");

    let e = train_error(
        &dir,
        "won,role\n1,cto\nmaybe,dev\n0,cto\n",
        &["--label", "won"],
    );
    assert!(e.contains("not binary: line 3 has \"maybe\""), "{e}");

    let e = train_error(&dir, "won,role\n1,cto\n1,dev\n1,cto\n", &["--label", "won"]);
    assert!(e.contains("same label (converted)"), "{e}");

    let e = train_error(
        &dir,
        "won,role,visits\n1,cto,3\n0,dev\n",
        &["--label", "won"],
    );
    assert!(
        e.contains("line 3 has 2 fields but the header has 3"),
        "{e}"
    );

    let mapping = dir.join("mapping.json");
    std::fs::write(
        &mapping,
        r#"{"columns": {"Visits": {"kind": "visits"}, "role": {"kind": "answer"}}}"#,
    )
    .unwrap();
    let e = train_error(
        &dir,
        good,
        &[
            "--label",
            "won",
            "--mapping",
            mapping.to_str().unwrap(),
            "--ignore",
            "age",
        ],
    );
    assert!(e.contains("2 problems"), "{e}");
    assert!(
        e.contains("columns.\"Visits\" names no column of the file (did you mean \"visits\"?)"),
        "{e}"
    );
    assert!(
        e.contains("ignored column \"age\" is not in the file"),
        "{e}"
    );

    std::fs::write(
        &mapping,
        r#"{"columns": {"visits": {"kind": "visits", "at_least": 2}}}"#,
    )
    .unwrap();
    let e = train_error(
        &dir,
        good,
        &["--label", "won", "--mapping", mapping.to_str().unwrap()],
    );
    assert!(e.contains("columns.visits"), "{e}");

    let e = train_error(&dir, good, &["--label", "won", "--sql-precision", "1.5"]);
    assert!(e.contains("--sql-precision must be in (0, 1]"), "{e}");
}

#[test]
fn eval_rejects_a_split_without_matching_ids() {
    let f = fixture("split-ids", 300, 2);
    let model = f.path("model.json");
    assert!(f.train(&model, &["--min-leads", "10"]).status.success());
    let split = f.path("other-split.csv");
    std::fs::write(&split, "Lead ID,split\nnobody,test\n").unwrap();
    let o = run(&[
        "eval",
        &model,
        &f.data,
        "--mapping",
        &f.mapping,
        "--split",
        &split,
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("no row of"), "{}", text(&o).1);
}

#[test]
fn signal_flags_replace_a_mapping_file() {
    let f = fixture("flags", 2000, 6);
    let model = f.path("model.json");
    let o = run(&[
        "train",
        &f.data,
        "--label",
        "Converted",
        "--out",
        &model,
        "--signal",
        "Visits=visits",
        "--signal",
        "Time On Site=time_on_site",
        "--signal",
        "Source=source:utm_source",
        "--signal",
        "Demo Request=form:demo-request",
        "--signal",
        "Sales Stage=ignore",
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(out.contains("Visits") && out.contains("visits"), "{out}");
    // The rules only: the `training` section records the flags, the ignored column included.
    let m = serde_json::to_string_pretty(&read_json(&model)["rules"]).unwrap();
    assert!(
        m.contains("\"visits\": {") && m.contains("\"time_on_site\": {"),
        "{m}"
    );
    assert!(m.contains("\"utm_source\"") && m.contains("\"demo-request\""));
    assert!(!m.contains("Sales Stage") && !m.contains("L000"));
    // The unmapped id column is an answer with a value per lead: no rule, and a warning.
    assert!(
        err.contains("\"Lead ID\" has 2000 different values for 2000 leads: an id"),
        "{err}"
    );
    // Unmapped columns are answers named after the column.
    assert!(m.contains("\"question\": \"Role\""));

    let bad = run(&[
        "train",
        &f.data,
        "--label",
        "Converted",
        "--out",
        &model,
        "--signal",
        "Visits=clicks",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad).1.contains("unknown kind \"clicks\""));
}

#[test]
fn eval_warns_when_the_mapping_is_forgotten() {
    let f = fixture("no-mapping", 1500, 9);
    let model = f.path("model.json");
    assert!(f.train(&model, &[]).status.success());
    // A model without a `training` section (hand-written, or from an older leadscore).
    let mut m = read_json(&model);
    m.as_object_mut().unwrap().remove("training");
    std::fs::write(&model, m.to_string()).unwrap();
    let o = run(&[
        "eval",
        &model,
        &f.data,
        "--split",
        &f.split,
        "--label",
        "Converted",
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("is --mapping missing?"), "{err}");
    assert!(
        err.contains("a visit count") && err.contains("query parameter \"utm_source\""),
        "{err}"
    );
    assert!(out.contains("ROC AUC"));
}

#[test]
fn the_model_remembers_its_training_and_eval_needs_no_repeated_flags() {
    let f = fixture("remembers", 2000, 12);
    let model = f.path("model.json");
    let o = f.train(&model, &["--ignore", "Country"]);
    assert!(o.status.success(), "{}", text(&o).1);
    assert!(run(&["check", &model]).status.success());

    let m = read_json(&model);
    let t = &m["training"];
    assert_eq!(t["label"], "Converted");
    assert_eq!(t["mapping"]["id"], "Lead ID");
    assert_eq!(t["mapping"]["columns"]["Visits"]["kind"], "visits");
    assert_eq!(t["mapping_file"]["path"], f.mapping.as_str());
    assert_eq!(t["ignore"][0], "Country");
    assert_eq!(t["split"]["file"]["path"], f.split.as_str());
    assert!(t["split"]["file"]["fingerprint"]
        .as_str()
        .unwrap()
        .starts_with("fnv1a64:"));
    assert_eq!(t["data"]["rows"], 2000);
    assert_eq!(t["data"]["training_rows"], 1600);
    assert_eq!(t["data"]["held_out_rows"], 400);
    assert_eq!(
        t["data"]["fingerprint"],
        format!(
            "{}",
            leadscore::learn::fingerprint::of(&std::fs::read(&f.data).unwrap())
        )
    );

    // Round trip: the model reads back and writes out the same section.
    let text_model = std::fs::read_to_string(&model).unwrap();
    let parsed: leadscore::model::Model = serde_json::from_str(&text_model).unwrap();
    let again = serde_json::to_value(&parsed).unwrap();
    assert_eq!(again["training"], m["training"]);

    // eval with the model and the data only: same mapping, label, ignore and split.
    let bare = run(&["eval", &model, &f.data, "--json"]);
    let (out, err) = text(&bare);
    assert!(bare.status.success(), "{err}");
    assert!(!err.contains("--mapping missing"), "{err}");
    let bare: Value = serde_json::from_str(&out).unwrap();
    let flagged = f.eval_json(&model, &["--ignore", "Country"]);
    assert_eq!(bare["rows"], "test");
    assert_eq!(bare["leads"], 400);
    assert_eq!(bare["roc_auc"], flagged["roc_auc"]);
    assert_eq!(bare["log_loss"], flagged["log_loss"]);

    // A different label given explicitly wins, with a note.
    let other = run(&[
        "eval",
        &model,
        &f.data,
        "--label",
        "Guide Download",
        "--json",
    ]);
    let (_, err) = text(&other);
    assert!(other.status.success(), "{err}");
    assert!(
        err.contains(
            "note: using label column \"Guide Download\"; the model was trained on \"Converted\""
        ),
        "{err}"
    );

    // train --base reads the base's label, mapping and ignores from its training section.
    let refit = f.path("refit.json");
    let o = run(&["train", &f.data, "--base", &model, "--out", &refit]);
    assert!(o.status.success(), "{}", text(&o).1);
    let r = read_json(&refit);
    assert!(
        ["refit", "recalibrate", "base"].contains(&r["training"]["fit"].as_str().unwrap()),
        "{}",
        r["training"]
    );
    assert_eq!(r["training"]["ignore"][0], "Country");
}

#[test]
fn boosted_fitter_is_deterministic_and_keeps_points_monotone() {
    let f = fixture("boosted", 2000, 21);
    let a = f.path("a.json");
    let b = f.path("b.json");
    let args = [
        "--fit",
        "boost",
        "--seed",
        "5",
        "--id",
        "same",
        "--monotone",
        "Visits=+",
    ];
    let o = f.train(&a, &args);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(out.contains("boosted per-column shapes"), "{out}");
    assert!(out.contains("held-out ROC AUC"), "{out}");
    assert!(f.train(&b, &args).status.success());
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    let c = f.path("c.json");
    assert!(f
        .train(&c, &["--fit", "boost", "--seed", "6", "--id", "same"])
        .status
        .success());
    assert_ne!(std::fs::read(&a).unwrap(), std::fs::read(&c).unwrap());

    let m = read_json(&a);
    assert_eq!(m["training"]["fit"], "boost");
    for r in m["rules"].as_array().unwrap() {
        assert!(r["evidence"]["leads"].as_u64().unwrap() > 0, "{r}");
        if r["when"].get("visits").is_some() {
            assert!(
                r["points"].as_i64().unwrap() > 0,
                "visit steps only add: {r}"
            );
        }
    }
    assert!(run(&["check", &a]).status.success());
    let report = f.eval_json(&a, &[]);
    assert!(report["roc_auc"].as_f64().unwrap() > 0.75, "{report}");

    let bad = f.train(
        &f.path("bad.json"),
        &["--fit", "boost", "--monotone", "Role=+"],
    );
    assert!(!bad.status.success());
    assert!(
        text(&bad).1.contains("categorical column has no order"),
        "{}",
        text(&bad).1
    );
    let bad = f.train(
        &f.path("bad.json"),
        &["--fit", "logistic", "--monotone", "Visits=+"],
    );
    assert!(
        text(&bad).1.contains("needs --fit boost"),
        "{}",
        text(&bad).1
    );
}

#[test]
fn base_refit_on_a_small_slice_keeps_points_and_recalibrates() {
    let f = fixture("retune", 2000, 31);
    let base = f.path("base.json");
    assert!(f.train(&base, &[]).status.success());

    // A slice too small to move points: the base's points are kept, the calibration moves.
    let small = f.path("small.csv");
    let text_small = synthetic::csv(120, 77);
    std::fs::write(&small, &text_small).unwrap();
    let out = f.path("small-refit.json");
    let o = run(&["train", &small, "--base", &base, "--out", &out]);
    let (stdout, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(stdout.contains("too small to move points"), "{stdout}");
    let (b, r) = (read_json(&base), read_json(&out));
    let points = |m: &Value| -> Vec<i64> {
        m["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["points"].as_i64().unwrap())
            .collect()
    };
    assert_eq!(points(&b), points(&r));
    assert_ne!(b["calibration"], r["calibration"]);
    assert!(run(&["check", &out]).status.success());

    // A larger slice: the candidates are compared on a held-out quarter of it.
    let large = f.path("large.csv");
    std::fs::write(&large, synthetic::csv(4000, 78)).unwrap();
    let out = f.path("large-refit.json");
    let o = run(&["train", &large, "--base", &base, "--out", &out, "--json"]);
    let (stdout, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let notes = report["notes"].to_string();
    assert!(notes.contains("held-out quarter of the slice"), "{notes}");
    assert!(
        notes.contains("the base's points recalibrated: log loss"),
        "{notes}"
    );
    assert!(run(&["check", &out]).status.success());
}

#[test]
fn time_ordered_split_trains_on_older_rows() {
    let f = fixture("ordered", 2000, 41);
    let model = f.path("model.json");
    let o = run(&[
        "train",
        &f.data,
        "--mapping",
        &f.mapping,
        "--split-by",
        "Lead ID",
        "--test-share",
        "0.25",
        "--out",
        &model,
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(out.contains("learned from 1500 leads"), "{out}");
    let m = read_json(&model);
    assert_eq!(m["training"]["split"]["ordered"]["column"], "Lead ID");
    // eval finds the same newest quarter without being told.
    let o = run(&["eval", &model, &f.data, "--json"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["leads"], 500);
    assert_eq!(report["rows"], "test");
}
