//! A history file's columns resolved against a mapping: which column is the label, and which
//! widget signal each other column feeds, with every default filled in and every naming problem
//! reported at once.

use super::data::{parse_label, parse_number, Table};
use super::error::LearnError;
use super::mapping::{Mapping, Signal, DEFAULT_YES};
use crate::model::Dimension;
use std::collections::{BTreeMap, BTreeSet};

/// Cell values that mean "missing" unless the mapping lists its own: empty, and the unselected
/// defaults of web forms. Compared after trimming, ignoring ASCII case.
pub const DEFAULT_MISSING: [&str; 6] = ["", "select", "nan", "null", "n/a", "na"];
/// Longest question, parameter, form id or event name a model accepts.
const MAX_NAME_LEN: usize = 128;

/// A column's signal with every default filled in.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolved {
    Answer {
        question: String,
    },
    Number {
        question: String,
        max_bins: Option<usize>,
    },
    Visits {
        max_bins: Option<usize>,
    },
    TimeOnSite {
        max_bins: Option<usize>,
    },
    DistinctPages {
        max_bins: Option<usize>,
    },
    Source {
        parameter: String,
        path: String,
    },
    Download {
        url: String,
        yes: BTreeSet<String>,
    },
    Form {
        id: String,
        yes: BTreeSet<String>,
    },
    Event {
        name: String,
        yes: BTreeSet<String>,
    },
}

impl Resolved {
    /// True for signals binned into numeric thresholds.
    pub fn is_numeric(&self) -> bool {
        matches!(
            self,
            Resolved::Number { .. }
                | Resolved::Visits { .. }
                | Resolved::TimeOnSite { .. }
                | Resolved::DistinctPages { .. }
        )
    }

    /// The most thresholds this signal may be given, if the mapping limits it.
    pub fn max_bins(&self) -> Option<usize> {
        match self {
            Resolved::Number { max_bins, .. }
            | Resolved::Visits { max_bins }
            | Resolved::TimeOnSite { max_bins }
            | Resolved::DistinctPages { max_bins } => *max_bins,
            _ => None,
        }
    }
}

/// One used column: where it is in the table and what it means.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnSpec {
    /// Index into [`Table::columns`].
    pub column: usize,
    /// The column's header name.
    pub name: String,
    pub signal: Resolved,
    pub dimension: Dimension,
}

/// The columns of a file, resolved against a mapping.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// Index of the label column in [`Table::columns`].
    pub label: usize,
    /// The signal columns.
    pub specs: Vec<ColumnSpec>,
    /// Normalised missing-value markers.
    pub missing: BTreeSet<String>,
}

impl Layout {
    /// True when `value` means "missing".
    pub fn is_missing(&self, value: &str) -> bool {
        self.missing.contains(&normalise(value))
    }
}

/// The comparison key of a categorical value: trimmed, ASCII lower case (how the engine
/// compares answers and query values).
pub fn normalise(value: &str) -> String {
    value.trim().to_ascii_lowercase()
}

fn suggest(header: &[String], name: &str) -> String {
    let want = normalise(name);
    match header.iter().find(|h| normalise(h) == want) {
        Some(h) => format!(" (did you mean {h:?}?)"),
        None => String::new(),
    }
}

/// Resolves the mapping against a table read with the ignored columns left out.
///
/// `label` overrides the mapping's label; `extra_ignore` adds to its ignore list. Every problem
/// is reported at once: a missing label column, mapping entries and ignores that name no column.
pub fn resolve(
    mapping: &Mapping,
    table: &Table,
    label: Option<&str>,
    extra_ignore: &[String],
) -> Result<Layout, Vec<String>> {
    let mut errors = Vec::new();
    let header = &table.header;
    let has = |name: &str| header.iter().any(|h| h == name);

    let label_name = label.map(str::to_string).or_else(|| mapping.label.clone());
    let label_index = match &label_name {
        None => {
            errors.push(
                "no label column: pass --label COLUMN (or give `label` in the mapping)".to_string(),
            );
            None
        }
        Some(name) if !has(name) => {
            errors.push(format!(
                "label column {name:?} is not in the file{}; its columns are: {}",
                suggest(header, name),
                header.join(", ")
            ));
            None
        }
        Some(name) => match table.position(name) {
            Some(i) => Some(i),
            None => {
                errors.push(format!("label column {name:?} is also listed as ignored"));
                None
            }
        },
    };
    for name in mapping.columns.keys() {
        if !has(name) {
            errors.push(format!(
                "mapping entry columns.{name:?} names no column of the file{}",
                suggest(header, name)
            ));
        }
    }
    for name in mapping.ignore.iter().chain(extra_ignore) {
        if !has(name) {
            errors.push(format!(
                "ignored column {name:?} is not in the file{}",
                suggest(header, name)
            ));
        }
    }
    if let Some(id) = &mapping.id {
        if !has(id) {
            errors.push(format!(
                "id column {id:?} is not in the file{}",
                suggest(header, id)
            ));
        }
    }
    if label_name.is_some() && label_name == mapping.id {
        errors.push("the label column cannot also be the id column".to_string());
    }

    let missing: BTreeSet<String> = match &mapping.missing {
        Some(list) => list.iter().map(|v| normalise(v)).collect(),
        None => DEFAULT_MISSING.iter().map(|v| (*v).to_string()).collect(),
    };
    let yes = |values: &Option<Vec<String>>| -> BTreeSet<String> {
        match values {
            Some(list) => list.iter().map(|v| normalise(v)).collect(),
            None => DEFAULT_YES.iter().map(|v| (*v).to_string()).collect(),
        }
    };

    let mut specs = Vec::new();
    for (i, column) in table.columns.iter().enumerate() {
        let name = &column.name;
        if Some(name) == label_name.as_ref()
            || Some(name) == mapping.id.as_ref()
            || mapping.ignore.iter().chain(extra_ignore).any(|i| i == name)
        {
            continue;
        }
        let (signal, dimension) = match mapping.columns.get(name) {
            Some(Signal::Ignore) => continue,
            Some(Signal::Answer {
                question,
                dimension,
            }) => (
                Resolved::Answer {
                    question: question.clone().unwrap_or_else(|| name.clone()),
                },
                dimension.unwrap_or(Dimension::Fit),
            ),
            Some(Signal::Number {
                question,
                dimension,
                max_bins,
            }) => (
                Resolved::Number {
                    question: question.clone().unwrap_or_else(|| name.clone()),
                    max_bins: *max_bins,
                },
                dimension.unwrap_or(Dimension::Fit),
            ),
            Some(Signal::Visits {
                dimension,
                max_bins,
            }) => (
                Resolved::Visits {
                    max_bins: *max_bins,
                },
                dimension.unwrap_or(Dimension::Engagement),
            ),
            Some(Signal::TimeOnSite {
                dimension,
                max_bins,
            }) => (
                Resolved::TimeOnSite {
                    max_bins: *max_bins,
                },
                dimension.unwrap_or(Dimension::Engagement),
            ),
            Some(Signal::DistinctPages {
                dimension,
                max_bins,
            }) => (
                Resolved::DistinctPages {
                    max_bins: *max_bins,
                },
                dimension.unwrap_or(Dimension::Engagement),
            ),
            Some(Signal::Source {
                parameter,
                path,
                dimension,
            }) => (
                Resolved::Source {
                    parameter: parameter.clone(),
                    path: path.clone().unwrap_or_else(|| "/**".to_string()),
                },
                dimension.unwrap_or(Dimension::Engagement),
            ),
            Some(Signal::Download {
                url,
                values,
                dimension,
            }) => (
                Resolved::Download {
                    url: url.clone(),
                    yes: yes(values),
                },
                dimension.unwrap_or(Dimension::Engagement),
            ),
            Some(Signal::Form {
                id,
                values,
                dimension,
            }) => (
                Resolved::Form {
                    id: id.clone(),
                    yes: yes(values),
                },
                dimension.unwrap_or(Dimension::Intent),
            ),
            Some(Signal::Event {
                name: event,
                values,
                dimension,
            }) => (
                Resolved::Event {
                    name: event.clone(),
                    yes: yes(values),
                },
                dimension.unwrap_or(Dimension::Product),
            ),
            None => {
                let numeric = column_is_numeric(column.dictionary(), &missing);
                let signal = if numeric {
                    Resolved::Number {
                        question: name.clone(),
                        max_bins: None,
                    }
                } else {
                    Resolved::Answer {
                        question: name.clone(),
                    }
                };
                (signal, Dimension::Fit)
            }
        };
        if let Some(problem) = check_names(name, &signal) {
            errors.push(problem);
        }
        specs.push(ColumnSpec {
            column: i,
            name: name.clone(),
            signal,
            dimension,
        });
    }
    // Two columns feeding the same widget signal would overwrite each other in the browser.
    let mut signals: BTreeMap<String, &str> = BTreeMap::new();
    for spec in &specs {
        let key = signal_key(&spec.signal);
        if let Some(first) = signals.insert(key.clone(), &spec.name) {
            errors.push(format!(
                "columns {first:?} and {:?} both feed {key}: give each column its own question, parameter, url, id or name",
                spec.name
            ));
        }
    }
    if label_index.is_some() && specs.is_empty() {
        errors.push(
            "no columns left to learn from: every column is the label, the id or ignored".into(),
        );
    }
    match (label_index, errors.is_empty()) {
        (Some(label), true) => Ok(Layout {
            label,
            specs,
            missing,
        }),
        _ => Err(errors),
    }
}
/// The widget signal a column feeds, as compared by the engine.
fn signal_key(signal: &Resolved) -> String {
    match signal {
        Resolved::Answer { question } | Resolved::Number { question, .. } => {
            format!("question {:?}", normalise(question))
        }
        Resolved::Visits { .. } => "the visit count".into(),
        Resolved::TimeOnSite { .. } => "the time on site".into(),
        Resolved::DistinctPages { .. } => "the distinct page count".into(),
        Resolved::Source { parameter, .. } => format!("query parameter {parameter:?}"),
        Resolved::Download { url, .. } => format!("download {:?}", normalise(url)),
        Resolved::Form { id, .. } => format!("form {:?}", normalise(id)),
        Resolved::Event { name, .. } => format!("event {:?}", normalise(name)),
    }
}

/// True when every present value of a column is a number (and at least one is present).
pub fn column_is_numeric(dictionary: &[String], missing: &BTreeSet<String>) -> bool {
    let mut any = false;
    for v in dictionary {
        if missing.contains(&normalise(v)) {
            continue;
        }
        if parse_number(v).is_none() {
            return false;
        }
        any = true;
    }
    any
}

fn check_names(column: &str, signal: &Resolved) -> Option<String> {
    let (what, value) = match signal {
        Resolved::Answer { question } | Resolved::Number { question, .. } => ("question", question),
        Resolved::Source { parameter, .. } => ("parameter", parameter),
        Resolved::Form { id, .. } => ("form id", id),
        Resolved::Event { name, .. } => ("event name", name),
        Resolved::Download { url, .. } => {
            if crate::model::pattern::check(url).is_err() || url.contains('*') || url.contains('?')
            {
                return Some(format!(
                    "mapping entry columns.{column:?}: download url {url:?} must be a plain path starting with \"/\""
                ));
            }
            return None;
        }
        _ => return None,
    };
    if value.trim().is_empty() || value.chars().count() > MAX_NAME_LEN {
        return Some(format!(
            "mapping entry columns.{column:?}: {what} must be 1 to {} characters",
            MAX_NAME_LEN
        ));
    }
    if let Resolved::Source { path, .. } = signal {
        if let Err(e) = crate::model::pattern::check(path) {
            return Some(format!("mapping entry columns.{column:?}: path: {e}"));
        }
    }
    None
}

/// The label of every row of the table; an error names the values that are not binary.
pub fn labels(table: &Table, layout: &Layout) -> Result<Vec<bool>, LearnError> {
    let column = table
        .columns
        .get(layout.label)
        .ok_or_else(|| LearnError("label column missing".into()))?;
    let parsed: Vec<Option<bool>> = column.dictionary().iter().map(|v| parse_label(v)).collect();
    let mut bad: Vec<&str> = column
        .dictionary()
        .iter()
        .zip(&parsed)
        .filter(|(_, p)| p.is_none())
        .map(|(v, _)| v.as_str())
        .collect();
    if !bad.is_empty() {
        bad.sort_unstable();
        let first_row = column
            .codes()
            .iter()
            .position(|&c| parsed.get(c as usize).copied().flatten().is_none())
            .unwrap_or(0);
        let shown: Vec<String> = bad.iter().take(5).map(|v| format!("{v:?}")).collect();
        return Err(LearnError(format!(
            "label column {:?} is not binary: line {} has {:?}; values that are neither 0/1 nor yes/no: {}{}",
            column.name,
            first_row + 2,
            column.value(first_row),
            shown.join(", "),
            if bad.len() > 5 { format!(" and {} more", bad.len() - 5) } else { String::new() }
        )));
    }
    Ok(column
        .codes()
        .iter()
        .map(|&c| parsed.get(c as usize).copied().flatten().unwrap_or(false))
        .collect())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::learn::data::read_csv;
    use crate::learn::mapping::ignored;

    fn table(text: &str, skip: &BTreeSet<String>) -> Table {
        read_csv(text.as_bytes(), &|h| !skip.contains(h), &mut |_, _| {}).unwrap()
    }

    #[test]
    fn unmapped_columns_are_answers_numeric_or_categorical() {
        let t = table(
            "y,role,size,id\n1,cto,10,a\n0,Select,,b\n",
            &BTreeSet::new(),
        );
        let m = Mapping {
            id: Some("id".into()),
            ..Mapping::default()
        };
        let layout = resolve(&m, &t, Some("y"), &[]).unwrap();
        assert_eq!(layout.label, 0);
        assert_eq!(layout.specs.len(), 2);
        assert_eq!(
            layout.specs[0].signal,
            Resolved::Answer {
                question: "role".into()
            }
        );
        assert_eq!(
            layout.specs[1].signal,
            Resolved::Number {
                question: "size".into(),
                max_bins: None
            }
        );
        assert!(layout.is_missing(" SELECT "));
    }

    #[test]
    fn every_naming_problem_is_reported_at_once() {
        let mut m = Mapping::default();
        m.columns.insert(
            "Vists".into(),
            Signal::Visits {
                dimension: None,
                max_bins: None,
            },
        );
        m.ignore.push("nope".into());
        let skip = ignored(&m, &[]);
        let t = table("converted,visits\n1,2\n", &skip);
        let errors = resolve(&m, &t, Some("Converted"), &["gone".into()]).unwrap_err();
        assert_eq!(errors.len(), 4, "{errors:?}");
        assert!(errors[0].contains(
            "label column \"Converted\" is not in the file (did you mean \"converted\"?)"
        ));
        assert!(errors[1].contains("columns.\"Vists\" names no column"));
        assert!(errors.iter().any(|e| e.contains("\"nope\"")));
        assert!(errors.iter().any(|e| e.contains("\"gone\"")));
    }

    #[test]
    fn two_columns_cannot_feed_one_signal() {
        let t = table("y,a,b,v,w\n1,x,y,1,2\n", &BTreeSet::new());
        let mut m = Mapping::default();
        m.columns.insert(
            "a".into(),
            Signal::Answer {
                question: Some("Role".into()),
                dimension: None,
            },
        );
        m.columns.insert(
            "b".into(),
            Signal::Answer {
                question: Some("role ".into()),
                dimension: None,
            },
        );
        m.columns.insert(
            "v".into(),
            Signal::Visits {
                dimension: None,
                max_bins: None,
            },
        );
        m.columns.insert(
            "w".into(),
            Signal::Visits {
                dimension: None,
                max_bins: None,
            },
        );
        let errors = resolve(&m, &t, Some("y"), &[]).unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(
            errors[0].contains("columns \"a\" and \"b\" both feed question \"role\""),
            "{errors:?}"
        );
        assert!(errors[1].contains("the visit count"), "{errors:?}");
    }
    #[test]
    fn missing_label_option() {
        let t = table("a,b\n1,2\n", &BTreeSet::new());
        let errors = resolve(&Mapping::default(), &t, None, &[]).unwrap_err();
        assert!(errors[0].contains("--label"));
    }
}
