//! Generated lead histories with a known structure, for tests, examples and benchmarks.
//!
//! Each lead has website signals (visits, time on site, pages per visit, a UTM source, a guide
//! download, a demo request form), quiz answers (role, country — with many rare countries and
//! an unselected `Select` default), a CRM-only column that leaks the outcome, and a `Converted`
//! label drawn from a known logistic model. The same seed gives the same rows.

use super::rng::SplitMix64;

/// The header of a generated file.
pub const HEADER: [&str; 11] = [
    "Lead ID",
    "Converted",
    "Visits",
    "Time On Site",
    "Pages Per Visit",
    "Source",
    "Role",
    "Country",
    "Guide Download",
    "Demo Request",
    "Sales Stage",
];

/// A mapping file for generated data.
pub const MAPPING: &str = r#"{
  "label": "Converted",
  "id": "Lead ID",
  "ignore": ["Sales Stage"],
  "columns": {
    "Visits": { "kind": "visits" },
    "Time On Site": { "kind": "time_on_site" },
    "Pages Per Visit": { "kind": "number", "question": "pages_per_visit", "dimension": "engagement" },
    "Source": { "kind": "source", "parameter": "utm_source" },
    "Role": { "kind": "answer", "question": "role" },
    "Country": { "kind": "answer", "question": "country" },
    "Guide Download": { "kind": "download", "url": "/resources/guide.pdf" },
    "Demo Request": { "kind": "form", "id": "demo-request" }
  }
}"#;

const SOURCES: [(&str, f64, f64); 6] = [
    ("google", 0.35, 0.0),
    ("direct", 0.25, 0.3),
    ("linkedin", 0.15, 0.6),
    ("newsletter", 0.1, 0.9),
    ("partner", 0.1, -0.8),
    ("", 0.05, 0.0),
];
const ROLES: [(&str, f64, f64); 6] = [
    ("Founder", 0.12, 1.0),
    ("Manager", 0.25, 0.5),
    ("Engineer", 0.25, 0.0),
    ("Student", 0.13, -1.8),
    ("Other", 0.05, -0.4),
    ("Select", 0.2, -0.3),
];

/// Draws generated rows.
#[derive(Debug, Clone)]
pub struct Generator {
    rng: SplitMix64,
    row: usize,
}

fn pick<'a>(rng: &mut SplitMix64, table: &'a [(&'a str, f64, f64)]) -> (&'a str, f64) {
    let mut u = rng.next_f64();
    for &(name, p, effect) in table {
        if u < p {
            return (name, effect);
        }
        u -= p;
    }
    table.last().map_or(("", 0.0), |&(n, _, e)| (n, e))
}

impl Generator {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Generator {
        Generator {
            rng: SplitMix64::new(seed),
            row: 0,
        }
    }

    /// The next row's fields, in [`HEADER`] order.
    pub fn next_row(&mut self) -> Vec<String> {
        let r = &mut self.rng;
        self.row += 1;
        let visits = (-(1.0 - r.next_f64()).ln() * 3.0).floor().min(60.0);
        let time = if r.next_f64() < 0.25 {
            0.0
        } else {
            (5.0 + 1.2 * r.normal()).exp().round().min(5000.0)
        };
        let pages = if visits == 0.0 {
            0.0
        } else {
            ((1.0 + r.next_f64() * 7.0) * 10.0).round() / 10.0
        };
        let (source, source_effect) = pick(r, &SOURCES);
        let source = if !source.is_empty() && r.next_f64() < 0.02 {
            // Rare sources: many values, few leads each.
            format!("affiliate-{}", r.below(40))
        } else {
            source.to_string()
        };
        let (role, role_effect) = pick(r, &ROLES);
        let country = match r.below(100) {
            0..=59 => "India".to_string(),
            60..=79 => "United States".to_string(),
            80..=89 => "".to_string(),
            _ => format!("Country {}", r.below(60)),
        };
        let download = r.next_f64() < 0.3;
        let demo = r.next_f64() < 0.12;
        let logit = -1.6
            + source_effect
            + role_effect
            + 0.35 * (1.0 + visits).ln()
            + if time >= 300.0 { 1.2 } else { 0.0 }
            + if time >= 900.0 { 0.6 } else { 0.0 }
            + if time == 0.0 { -0.5 } else { 0.0 }
            + 0.5
            - 0.12 * (pages - 3.0) * (pages - 3.0)
            + if download { 0.4 } else { 0.0 }
            + if demo { 1.8 } else { 0.0 };
        let converted = r.next_f64() < 1.0 / (1.0 + (-logit).exp());
        // A CRM field filled in after the fact: it leaks the outcome.
        let stage = if converted {
            "Closed"
        } else if r.next_f64() < 0.5 {
            "Lost"
        } else {
            "Open"
        };
        let yes_no = |b: bool| if b { "Yes" } else { "No" }.to_string();
        vec![
            format!("L{:07}", self.row),
            if converted { "1" } else { "0" }.to_string(),
            format!("{visits}"),
            format!("{time}"),
            format!("{pages}"),
            source,
            role.to_string(),
            country,
            yes_no(download),
            yes_no(demo),
            stage.to_string(),
        ]
    }
}

/// A generated file of `rows` rows as CSV text (header included).
pub fn csv(rows: usize, seed: u64) -> String {
    let mut out = HEADER.join(",");
    out.push('\n');
    let mut g = Generator::new(seed);
    for _ in 0..rows {
        out.push_str(&g.next_row().join(","));
        out.push('\n');
    }
    out
}

/// A split file for a generated file: every fifth row is a test row.
pub fn split_csv(rows: usize) -> String {
    let mut out = String::from("Lead ID,split\n");
    for i in 1..=rows {
        out.push_str(&format!(
            "L{i:07},{}\n",
            if i % 5 == 0 { "test" } else { "train" }
        ));
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_rows() {
        assert_eq!(csv(50, 4), csv(50, 4));
        assert_ne!(csv(50, 4), csv(50, 5));
        let text = csv(3, 1);
        assert_eq!(text.lines().count(), 4);
        assert!(text.lines().all(|l| l.split(',').count() == HEADER.len()));
    }

    #[test]
    fn both_classes_appear() {
        let text = csv(500, 2);
        let converted = text
            .lines()
            .skip(1)
            .filter(|l| l.split(',').nth(1) == Some("1"))
            .count();
        assert!(converted > 50 && converted < 450, "{converted}");
    }
}
