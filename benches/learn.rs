//! Training time and peak memory of `leadscore train`'s pipeline (read CSV, bin, fit, round,
//! calibrate, choose tiers, check against the engine) on the X Education data set (when
//! `../shared/data` has it, or `LEADSCORE_XEDUCATION_DIR` points to it) and on generated files
//! of 100,000 and 1,000,000 leads, side by side, with time per lead relative to the smallest.
//!
//! Each measurement runs in a child process (this same executable) so that its peak resident
//! memory (`VmHWM` in `/proc/self/status`) is its own. Generated files are written once to the
//! temporary directory and reused. Run with `make bench`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use leadscore::learn::data::{read_csv, read_split, Part};
use leadscore::learn::layout;
use leadscore::learn::mapping::{self, Mapping};
use leadscore::learn::scorecard::{self, TrainOptions};
use leadscore::learn::synthetic;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const CHILD: &str = "LEADSCORE_LEARN_BENCH_CHILD";

/// Peak resident set size of this process, in KiB (0 where /proc is unavailable).
fn peak_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Child: one training run; prints `rows read_s learn_s peak_kib auc`.
fn child(spec: &str) {
    let mut parts = spec.split('\u{1f}');
    let data = parts.next().unwrap();
    let mapping_path = parts.next().unwrap();
    let split_path = parts.next().filter(|s| !s.is_empty());
    let options = match parts.next() {
        Some("boost") => TrainOptions::boosted(),
        _ => TrainOptions::default(),
    };
    let started = Instant::now();
    let mut m: Mapping =
        serde_json::from_str(&std::fs::read_to_string(mapping_path).unwrap()).unwrap();
    let split =
        split_path.map(|p| read_split(BufReader::new(std::fs::File::open(p).unwrap())).unwrap());
    if m.id.is_none() {
        m.id = split.as_ref().map(|s| s.id_column.clone());
    }
    let skip = mapping::ignored(&m, &[]);
    let id = m.id.clone();
    let keep = |h: &str| !skip.contains(h) || Some(h) == id.as_deref();
    let file = BufReader::with_capacity(1 << 20, std::fs::File::open(data).unwrap());
    let table = read_csv(file, &keep, &mut |_, _| {}).unwrap();
    let layout = layout::resolve(&m, &table, None, &[]).unwrap();
    let labels = layout::labels(&table, &layout).unwrap();
    let rows: Vec<u32> = match (&split, id.as_deref().and_then(|n| table.column(n))) {
        (Some(s), Some(col)) => (0..table.rows)
            .filter(|&r| s.parts.get(col.value(r)) == Some(&Part::Train))
            .map(|r| r as u32)
            .collect(),
        _ => (0..table.rows as u32).collect(),
    };
    let read = started.elapsed().as_secs_f64();
    let trained = scorecard::train(&table, &layout, &labels, &rows, &options).unwrap();
    let learn = started.elapsed().as_secs_f64() - read;
    println!(
        "{} {read} {learn} {} {}",
        rows.len(),
        peak_kib(),
        trained.report.train_auc
    );
}

struct Measure {
    rows: usize,
    read: f64,
    learn: f64,
    peak_kib: u64,
    auc: f64,
}

fn measure(data: &Path, mapping: &Path, split: Option<&Path>, fit: &str) -> Measure {
    let spec = format!(
        "{}\u{1f}{}\u{1f}{}\u{1f}{fit}",
        data.display(),
        mapping.display(),
        split.map(|p| p.display().to_string()).unwrap_or_default()
    );
    let out = Command::new(std::env::current_exe().unwrap())
        .env(CHILD, spec)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let f: Vec<&str> = text.split_whitespace().collect();
    Measure {
        rows: f[0].parse().unwrap(),
        read: f[1].parse().unwrap(),
        learn: f[2].parse().unwrap(),
        peak_kib: f[3].parse().unwrap(),
        auc: f[4].parse().unwrap(),
    }
}

/// The median of `runs` measurements by total time.
fn median(data: &Path, mapping: &Path, split: Option<&Path>, fit: &str, runs: usize) -> Measure {
    let mut all: Vec<Measure> = (0..runs)
        .map(|_| measure(data, mapping, split, fit))
        .collect();
    all.sort_by(|a, b| (a.read + a.learn).total_cmp(&(b.read + b.learn)));
    all.swap_remove(runs / 2)
}

fn generated(rows: usize, dir: &Path) -> PathBuf {
    let path = dir.join(format!("leadscore-bench-{rows}-leads.csv"));
    if !path.exists() {
        let started = Instant::now();
        let tmp = path.with_extension("partial");
        let mut out = BufWriter::new(std::fs::File::create(&tmp).unwrap());
        writeln!(out, "{}", synthetic::HEADER.join(",")).unwrap();
        let mut g = synthetic::Generator::new(1);
        for _ in 0..rows {
            writeln!(out, "{}", g.next_row().join(",")).unwrap();
        }
        out.flush().unwrap();
        drop(out);
        std::fs::rename(&tmp, &path).unwrap();
        eprintln!(
            "generated {} ({rows} leads) in {:.1} s",
            path.display(),
            started.elapsed().as_secs_f64()
        );
    }
    path
}

/// The fitters measured, by `--fit` name.
const FITS: [&str; 2] = ["logistic", "boost"];

fn main() {
    if let Ok(spec) = std::env::var(CHILD) {
        child(&spec);
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = std::env::temp_dir();
    let synthetic_mapping = tmp.join("leadscore-bench-mapping.json");
    std::fs::write(&synthetic_mapping, synthetic::MAPPING).unwrap();

    let mut results: Vec<(String, Measure)> = Vec::new();
    let xed_dir = std::env::var_os("LEADSCORE_XEDUCATION_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../shared/data"));
    let xed = xed_dir.join("leads_xeducation.csv");
    if xed.exists() {
        for fit in FITS {
            let m = median(
                &xed,
                &root.join("www/models/xeducation.mapping.json"),
                Some(&xed_dir.join("leads_xeducation.split.csv")),
                fit,
                5,
            );
            results.push((format!("X Education, {fit}"), m));
        }
    } else {
        eprintln!(
            "X Education data not found in {}; skipped",
            xed_dir.display()
        );
    }
    for rows in [100_000usize, 1_000_000] {
        let data = generated(rows, &tmp);
        for fit in FITS {
            let m = measure(&data, &synthetic_mapping, None, fit);
            results.push((format!("{rows} generated, {fit}"), m));
        }
    }

    let base = results
        .first()
        .map(|(_, m)| (m.read + m.learn) / m.rows as f64)
        .unwrap_or(1.0);
    println!();
    println!(
        "{:<28} {:>9} {:>8} {:>8} {:>8} {:>9} {:>10} {:>7}",
        "learn: train", "leads", "read s", "learn s", "total s", "peak MiB", "µs/lead", "ratio"
    );
    for (name, m) in &results {
        let total = m.read + m.learn;
        let per = total / m.rows as f64;
        println!(
            "{:<28} {:>9} {:>8.3} {:>8.3} {:>8.3} {:>9.1} {:>10.2} {:>7.2}",
            name,
            m.rows,
            m.read,
            m.learn,
            total,
            m.peak_kib as f64 / 1024.0,
            per * 1e6,
            per / base
        );
    }
    println!(
        "(training AUC: {})",
        results
            .iter()
            .map(|(n, m)| format!("{n} {:.3}", m.auc))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("targets: X Education under 1 s; 1,000,000 leads under 60 s");
}
