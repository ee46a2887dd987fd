//! `leadscore promote`, run as a real process on files in a temp dir.

#![cfg(feature = "cli")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

const REPO: &str = env!("CARGO_MANIFEST_DIR");

fn leadscore(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_leadscore"))
        .args(args)
        .output()
        .unwrap()
}

/// A fresh directory holding `champion.json` (the example SaaS model, version 2026-11-01) and
/// `challenger.json` (the same with version 2026-12-01 and a changed threshold).
struct Site(PathBuf);

impl Site {
    fn new() -> Site {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir =
            std::env::temp_dir().join(format!("leadscore-promote-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let champion = std::fs::read_to_string(format!("{REPO}/www/models/saas.json")).unwrap();
        std::fs::write(dir.join("champion.json"), &champion).unwrap();
        let mut challenger: serde_json::Value = serde_json::from_str(&champion).unwrap();
        challenger["model_version"] = serde_json::json!("2026-12-01");
        challenger["tiers"][1]["evidence"] =
            serde_json::json!({"leads": 120, "conversion_rate": 0.4});
        std::fs::write(
            dir.join("challenger.json"),
            serde_json::to_string_pretty(&challenger).unwrap(),
        )
        .unwrap();
        Site(dir)
    }

    fn path(&self, name: &str) -> String {
        self.0.join(name).to_string_lossy().into_owned()
    }

    fn read(&self, name: &str) -> Option<Vec<u8>> {
        std::fs::read(self.0.join(name)).ok()
    }

    fn promote(&self, extra: &[&str]) -> Output {
        let (challenger, champion) = (self.path("challenger.json"), self.path("champion.json"));
        let mut args = vec!["promote", &challenger, "--champion", &champion];
        args.extend_from_slice(extra);
        leadscore(&args)
    }

    /// The file names in the directory, sorted.
    fn files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn version_of(path: &Path) -> String {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v["model_version"].as_str().unwrap().to_owned()
}

#[test]
fn promotes_the_challenger_and_keeps_the_previous_champion() {
    let site = Site::new();
    let champion = site.read("champion.json").unwrap();
    let challenger = site.read("challenger.json").unwrap();
    let out = site.promote(&[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(site.read("champion.json").unwrap(), challenger);
    assert_eq!(site.read("champion.previous.json").unwrap(), champion);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("is now the champion: acme-saas 2026-12-01"),
        "{stdout}"
    );
    assert!(
        stdout.contains("(acme-saas 2026-11-01) is kept as"),
        "{stdout}"
    );
    assert!(stdout.contains("remove data-challenger"), "{stdout}");
    // No temporary file is left behind, and no .bin appears where there was none.
    assert_eq!(
        site.files(),
        ["challenger.json", "champion.json", "champion.previous.json"]
    );
}

#[test]
fn refuses_an_invalid_challenger_without_touching_anything() {
    let site = Site::new();
    std::fs::write(
        site.0.join("challenger.json"),
        r#"{ "version": 1, "id": "x", "model_version": "2",
             "rules": [ { "id": "a", "when": { "page": { "path": "[" } }, "dimension": "intent", "points": 5 } ],
             "tiers": [ { "name": "SQL", "min": { "intent": 500 } } ] }"#,
    )
    .unwrap();
    leadscore(&["build", &site.path("champion.json")]);
    let before: Vec<Option<Vec<u8>>> = ["champion.json", "champion.bin"]
        .iter()
        .map(|f| site.read(f))
        .collect();
    let out = site.promote(&[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("rules[0].when.page.path"), "{stderr}");
    assert!(stderr.contains("tiers[0].min.intent"), "{stderr}");
    assert!(stderr.contains("nothing promoted"), "{stderr}");
    let after: Vec<Option<Vec<u8>>> = ["champion.json", "champion.bin"]
        .iter()
        .map(|f| site.read(f))
        .collect();
    assert_eq!(before, after);
    assert_eq!(
        site.files(),
        ["challenger.json", "champion.bin", "champion.json"]
    );
}

#[test]
fn refuses_to_overwrite_the_previous_champion_without_force() {
    let site = Site::new();
    std::fs::write(site.0.join("champion.previous.json"), "the way back").unwrap();
    let champion = site.read("champion.json").unwrap();
    let out = site.promote(&[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("champion.previous.json exists"), "{stderr}");
    assert!(stderr.contains("--force"), "{stderr}");
    assert_eq!(site.read("champion.json").unwrap(), champion);
    assert_eq!(
        site.read("champion.previous.json").unwrap(),
        b"the way back"
    );

    let out = site.promote(&["--force"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(site.read("champion.previous.json").unwrap(), champion);
    assert_eq!(version_of(&site.0.join("champion.json")), "2026-12-01");
}

#[test]
fn rebuilds_the_compiled_champion() {
    let site = Site::new();
    let built = leadscore(&["build", &site.path("champion.json")]);
    assert!(built.status.success(), "{}", text(&built.stderr));
    let old_bin = site.read("champion.bin").unwrap();
    let out = site.promote(&[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("champion.bin rebuilt"));
    // Exactly what `leadscore build` makes of the challenger.
    let expected = site.path("expected.bin");
    let built = leadscore(&["build", &site.path("challenger.json"), "--out", &expected]);
    assert!(built.status.success());
    let new_bin = site.read("champion.bin").unwrap();
    assert_eq!(new_bin, std::fs::read(&expected).unwrap());
    assert_ne!(new_bin, old_bin, "the compiled form carries the version");
    assert_eq!(
        site.files(),
        [
            "challenger.json",
            "champion.bin",
            "champion.json",
            "champion.previous.json",
            "expected.bin"
        ]
    );
}
