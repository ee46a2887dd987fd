//! Which column of a history file is which widget signal.
//!
//! A mapping file is JSON:
//!
//! ```json
//! {
//!   "label": "Converted",
//!   "id": "Prospect ID",
//!   "ignore": ["Lead Number", "Tags"],
//!   "missing": ["", "Select"],
//!   "columns": {
//!     "TotalVisits": { "kind": "visits" },
//!     "Total Time Spent on Website": { "kind": "time_on_site" },
//!     "Page Views Per Visit": { "kind": "number", "question": "pages_per_visit" },
//!     "Lead Source": { "kind": "source", "parameter": "utm_source" },
//!     "A free copy of Mastering The Interview": { "kind": "download", "url": "/downloads/interview-guide.pdf" }
//!   }
//! }
//! ```
//!
//! Columns without an entry are answers to a question named after the column: numeric when
//! every present value is a number (binned into `min` thresholds), categorical otherwise.
//!
//! The mapping types live in [`crate::model`] because a trained model carries its mapping in its
//! `training` section; this module reads them from the command line and says which columns to
//! leave out. [`super::layout`] resolves a mapping against a file's columns.

pub use crate::model::{ColumnSignal as Signal, Mapping};
use std::collections::BTreeSet;

/// Values that mean "it happened" for `download`, `form` and `event` columns.
pub const DEFAULT_YES: [&str; 4] = ["yes", "y", "true", "1"];

/// The columns to read from a file with this header: everything not ignored.
pub fn ignored(mapping: &Mapping, extra: &[String]) -> BTreeSet<String> {
    let mut set: BTreeSet<String> = mapping.ignore.iter().chain(extra).cloned().collect();
    for (name, signal) in &mapping.columns {
        if matches!(signal, Signal::Ignore) {
            set.insert(name.clone());
        }
    }
    set
}

/// Parses a `--signal COLUMN=KIND[:ARGUMENT]` command-line entry: `visits`, `time_on_site`,
/// `distinct_pages`, `number[:QUESTION]`, `answer[:QUESTION]`, `source:PARAMETER`,
/// `download:URL`, `form:ID`, `event:NAME` or `ignore`.
pub fn parse_signal_flag(text: &str) -> Result<(String, Signal), String> {
    let (column, spec) = text.rsplit_once('=').ok_or_else(|| {
        format!("--signal {text:?}: expected COLUMN=KIND, e.g. \"TotalVisits=visits\"")
    })?;
    let (kind, argument) = match spec.split_once(':') {
        Some((k, a)) => (
            k.trim(),
            Some(a.trim().to_string()).filter(|a| !a.is_empty()),
        ),
        None => (spec.trim(), None),
    };
    let need = |what: &str| {
        argument.clone().ok_or_else(|| {
            format!(
                "--signal {text:?}: `{kind}` needs {what}, e.g. {kind}:{}",
                example(kind)
            )
        })
    };
    let signal = match kind {
        "answer" => Signal::Answer { question: argument.clone(), dimension: None },
        "number" => Signal::Number { question: argument.clone(), dimension: None, max_bins: None },
        "visits" => Signal::Visits { dimension: None, max_bins: None },
        "time_on_site" => Signal::TimeOnSite { dimension: None, max_bins: None },
        "distinct_pages" => Signal::DistinctPages { dimension: None, max_bins: None },
        "source" => Signal::Source { parameter: need("a query parameter")?, path: None, dimension: None },
        "download" => Signal::Download { url: need("a URL path")?, values: None, dimension: None },
        "form" => Signal::Form { id: need("a form id")?, values: None, dimension: None },
        "event" => Signal::Event { name: need("an event name")?, values: None, dimension: None },
        "ignore" => Signal::Ignore,
        other => {
            return Err(format!(
                "--signal {text:?}: unknown kind {other:?} (answer, number, visits, time_on_site, distinct_pages, source, download, form, event, ignore)"
            ))
        }
    };
    let column = column.trim();
    if column.is_empty() {
        return Err(format!("--signal {text:?}: the column name is empty"));
    }
    Ok((column.to_string(), signal))
}

fn example(kind: &str) -> &'static str {
    match kind {
        "source" => "utm_source",
        "download" => "/guide.pdf",
        "form" => "demo-request",
        _ => "signup",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn parses_mapping_files() {
        let m: Mapping = serde_json::from_str(
            r#"{"label": "y", "columns": {"v": {"kind": "visits"}, "s": {"kind": "source", "parameter": "utm_source"},
                "d": {"kind": "download", "url": "/a.pdf", "values": ["Yes"]}, "x": {"kind": "ignore"}}}"#,
        )
        .unwrap();
        assert_eq!(m.columns.len(), 4);
        let bad =
            serde_json::from_str::<Mapping>(r#"{"columns": {"v": {"kind": "visits", "bins": 3}}}"#);
        assert!(bad.is_err());
        let bad = serde_json::from_str::<Mapping>(r#"{"columns": {"v": {"kind": "clicks"}}}"#);
        assert!(bad.is_err());
    }

    #[test]
    fn signal_flags() {
        assert_eq!(
            parse_signal_flag("TotalVisits=visits").unwrap(),
            (
                "TotalVisits".into(),
                Signal::Visits {
                    dimension: None,
                    max_bins: None
                }
            )
        );
        assert_eq!(
            parse_signal_flag("Lead Source=source:utm_source")
                .unwrap()
                .1,
            Signal::Source {
                parameter: "utm_source".into(),
                path: None,
                dimension: None
            }
        );
        assert_eq!(
            parse_signal_flag("Pages=number:pages_per_visit").unwrap().1,
            Signal::Number {
                question: Some("pages_per_visit".into()),
                dimension: None,
                max_bins: None
            }
        );
        assert!(parse_signal_flag("Guide=download")
            .unwrap_err()
            .contains("needs a URL path"));
        assert!(parse_signal_flag("Guide")
            .unwrap_err()
            .contains("COLUMN=KIND"));
        assert!(parse_signal_flag("Guide=clicks")
            .unwrap_err()
            .contains("unknown kind"));
        assert!(parse_signal_flag("=visits").unwrap_err().contains("empty"));
    }
}
