//! A history row as the events the widget would have produced for that lead.
//!
//! The replay is what makes `leadscore eval` honest: a learned model is scored by feeding each
//! held-out lead's events through [`crate::engine::apply`], exactly as in the browser, and the
//! training code computes its features with the same [`signal_value`] so that the two agree.
//!
//! A lead's replay starts with a landing page view of `/` (carrying the `source` query
//! parameters), then, one second apart: answers, downloads, form submissions, custom events,
//! views of further distinct pages (`/pages/2`, `/pages/3`, …) and visible time (engagement
//! events of at most a day each). Every further visit is a page view of `/` one minute after
//! the previous visit timed out.

use super::data::{parse_number, Table};
use super::layout::{normalise, Layout, Resolved};
use crate::engine::{Event, Millis, Value};
use crate::model::{Entries, MAX_DISTINCT_PAGES};

/// When replays start (2026-01-01T00:00:00Z); any fixed time works.
pub const START_MS: Millis = 1_767_225_600_000;
/// Longest visible-time increment the engine accepts in one event, in seconds.
const MAX_ENGAGED_SECONDS: f64 = 86_400.0;
/// Most visits replayed; thresholds above it are never learned.
pub const MAX_VISITS: f64 = 1000.0;

/// The value the engine will see for a numeric signal, given the cell text.
///
/// Visits and distinct pages are at least 1 (every replay has a landing page view), counts are
/// rounded, and a missing visit count, page count or time is taken as the least possible.
/// A numeric answer that is missing or not a number is not answered (`None`).
pub fn signal_value(signal: &Resolved, text: &str, layout: &Layout) -> Option<f64> {
    let number = if layout.is_missing(text) {
        None
    } else {
        parse_number(text)
    };
    match signal {
        Resolved::Number { .. } => number,
        Resolved::Visits { .. } => Some(number.map_or(1.0, f64::round).clamp(1.0, MAX_VISITS)),
        Resolved::DistinctPages { .. } => Some(
            number
                .map_or(1.0, f64::round)
                .clamp(1.0, f64::from(MAX_DISTINCT_PAGES)),
        ),
        Resolved::TimeOnSite { .. } => Some(number.unwrap_or(0.0).clamp(0.0, 1e9)),
        _ => None,
    }
}

/// True when a `download` / `form` / `event` cell means it happened.
pub fn happened(signal: &Resolved, text: &str) -> bool {
    match signal {
        Resolved::Download { yes, .. }
        | Resolved::Form { yes, .. }
        | Resolved::Event { yes, .. } => yes.contains(&normalise(text)),
        _ => false,
    }
}

/// The events of one row, with their times, in order.
pub fn events(
    layout: &Layout,
    table: &Table,
    row: usize,
    session_timeout_ms: Millis,
) -> Vec<(Millis, Event)> {
    let mut query = Entries::new();
    let mut first_visit = Vec::new();
    let mut engagement = Vec::new();
    let mut visits = 1u32;
    let mut pages = 1u32;
    for spec in &layout.specs {
        let Some(column) = table.columns.get(spec.column) else {
            continue;
        };
        let text = column.value(row);
        let present = !layout.is_missing(text);
        match &spec.signal {
            Resolved::Answer { question } => {
                if present {
                    first_visit.push(Event::Answer {
                        question: question.clone(),
                        value: Value::Text(text.trim().to_string()),
                    });
                }
            }
            Resolved::Number { question, .. } => {
                if let Some(x) = signal_value(&spec.signal, text, layout) {
                    first_visit.push(Event::Answer {
                        question: question.clone(),
                        value: Value::Number(x),
                    });
                }
            }
            Resolved::Source { parameter, .. } => {
                if present {
                    query.insert(parameter.clone(), text.trim().to_string());
                }
            }
            Resolved::Visits { .. } => {
                visits =
                    visits.max(signal_value(&spec.signal, text, layout).map_or(1, |v| v as u32));
            }
            Resolved::DistinctPages { .. } => {
                pages = pages.max(signal_value(&spec.signal, text, layout).map_or(1, |v| v as u32));
            }
            Resolved::TimeOnSite { .. } => {
                let mut left = signal_value(&spec.signal, text, layout).unwrap_or(0.0);
                while left > 0.0 {
                    let chunk = left.min(MAX_ENGAGED_SECONDS);
                    engagement.push(Event::Engagement { seconds: chunk });
                    left -= chunk;
                }
            }
            Resolved::Download { url, .. } => {
                if happened(&spec.signal, text) {
                    first_visit.push(Event::Download { url: url.clone() });
                }
            }
            Resolved::Form { id, .. } => {
                if happened(&spec.signal, text) {
                    first_visit.push(Event::FormSubmit {
                        id: Some(id.clone()),
                        name: None,
                    });
                }
            }
            Resolved::Event { name, .. } => {
                if happened(&spec.signal, text) {
                    first_visit.push(Event::Custom {
                        name: name.clone(),
                        properties: Entries::new(),
                    });
                }
            }
        }
    }
    let mut out = Vec::with_capacity(2 + first_visit.len() + engagement.len() + visits as usize);
    let mut t = START_MS;
    out.push((
        t,
        Event::PageView {
            path: "/".into(),
            query,
        },
    ));
    for page in 2..=pages {
        t += 1000;
        out.push((
            t,
            Event::PageView {
                path: format!("/pages/{page}"),
                query: Entries::new(),
            },
        ));
    }
    for e in first_visit.into_iter().chain(engagement) {
        t += 1000;
        out.push((t, e));
    }
    let gap = session_timeout_ms.max(0) + 60_000;
    for _ in 1..visits {
        t += gap;
        out.push((
            t,
            Event::PageView {
                path: "/".into(),
                query: Entries::new(),
            },
        ));
    }
    out
}

/// What the model's rules wait for that no column of the file feeds: answers to questions no
/// column answers, query parameters, downloads, forms and events no column produces, and
/// aggregates without a column (visit counts, time on site, distinct pages). A rule listed here
/// can never fire in a replay: usually a sign that the mapping used for training is missing.
pub fn unfed_signals(model: &crate::model::Model, layout: &Layout) -> Vec<String> {
    use crate::model::Matcher;
    let fed = |want: &dyn Fn(&Resolved) -> bool| layout.specs.iter().any(|s| want(&s.signal));
    let mut out: Vec<String> = Vec::new();
    for rule in &model.rules {
        let missing = match &rule.when {
            Matcher::Answer { question, .. } => (!fed(&|s| match s {
                Resolved::Answer { question: q } | Resolved::Number { question: q, .. } => {
                    normalise(q) == normalise(question)
                }
                _ => false,
            }))
            .then(|| format!("answers to {question:?}")),
            Matcher::Page { query, .. } if !query.is_empty() => query
                .keys()
                .find(|k| !fed(&|s| matches!(s, Resolved::Source { parameter, .. } if parameter == *k)))
                .map(|k| format!("query parameter {k:?}")),
            Matcher::Download { .. } => (!fed(&|s| matches!(s, Resolved::Download { .. })))
                .then(|| "downloads".to_string()),
            Matcher::Form { id, name } => (!fed(&|s| match s {
                Resolved::Form { id: f, .. } => {
                    id.as_deref().is_some_and(|i| normalise(i) == normalise(f))
                        || name.as_deref().is_some_and(|n| normalise(n) == normalise(f))
                }
                _ => false,
            }))
            .then(|| format!("form {:?}", id.as_deref().or(name.as_deref()).unwrap_or(""))),
            Matcher::Event { name, .. } => (!fed(&|s| {
                matches!(s, Resolved::Event { name: n, .. } if normalise(n) == normalise(name))
            }))
            .then(|| format!("event {name:?}")),
            Matcher::Visits { .. } => (!fed(&|s| matches!(s, Resolved::Visits { .. })))
                .then(|| "a visit count".to_string()),
            Matcher::TimeOnSite { .. } => (!fed(&|s| matches!(s, Resolved::TimeOnSite { .. })))
                .then(|| "time on site".to_string()),
            Matcher::DistinctPages { .. } => (!fed(&|s| matches!(s, Resolved::DistinctPages { .. })))
                .then(|| "a distinct page count".to_string()),
            _ => None,
        };
        if let Some(m) = missing {
            if !out.contains(&m) {
                out.push(m);
            }
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::learn::data::read_csv;
    use crate::learn::layout::resolve;
    use crate::learn::mapping::{Mapping, Signal};

    #[test]
    fn rules_no_column_feeds_are_listed() {
        let table = read_csv("y,role\n1,cto\n".as_bytes(), &|_| true, &mut |_, _| {}).unwrap();
        let layout = resolve(&Mapping::default(), &table, Some("y"), &[]).unwrap();
        let model: crate::model::Model = serde_json::from_str(
            r#"{"version": 1, "id": "m", "model_version": "1", "tiers": [{"name": "A", "min": {"total": 1}}],
                "rules": [
                  {"id": "a", "when": {"answer": {"question": "ROLE", "equals": "cto"}}, "dimension": "fit", "points": 1},
                  {"id": "b", "when": {"answer": {"question": "size", "min": 5}}, "dimension": "fit", "points": 1},
                  {"id": "c", "when": {"visits": {"at_least": 2}}, "dimension": "engagement", "points": 1},
                  {"id": "d", "when": {"page": {"path": "/**", "query": {"utm_source": "x"}}}, "dimension": "intent", "points": 1}
                ]}"#,
        )
        .unwrap();
        assert_eq!(
            unfed_signals(&model, &layout),
            [
                "answers to \"size\"",
                "a visit count",
                "query parameter \"utm_source\""
            ]
        );
    }

    #[test]
    fn a_row_becomes_widget_events() {
        let table = read_csv(
            "y,visits,secs,src,role,dl\n1,3,100000,google,CTO,Yes\n0,,0,,Select,No\n".as_bytes(),
            &|_| true,
            &mut |_, _| {},
        )
        .unwrap();
        let mut m = Mapping::default();
        m.columns.insert(
            "visits".into(),
            Signal::Visits {
                dimension: None,
                max_bins: None,
            },
        );
        m.columns.insert(
            "secs".into(),
            Signal::TimeOnSite {
                dimension: None,
                max_bins: None,
            },
        );
        m.columns.insert(
            "src".into(),
            Signal::Source {
                parameter: "utm_source".into(),
                path: None,
                dimension: None,
            },
        );
        m.columns.insert(
            "dl".into(),
            Signal::Download {
                url: "/guide.pdf".into(),
                values: None,
                dimension: None,
            },
        );
        let layout = resolve(&m, &table, Some("y"), &[]).unwrap();
        let ev = events(&layout, &table, 0, 30 * 60_000);
        let kinds: Vec<&str> = ev
            .iter()
            .map(|(_, e)| match e {
                Event::PageView { .. } => "page",
                Event::Answer { .. } => "answer",
                Event::Download { .. } => "download",
                Event::Engagement { .. } => "engagement",
                _ => "other",
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "page",
                "answer",
                "download",
                "engagement",
                "engagement",
                "page",
                "page"
            ]
        );
        assert!(
            matches!(&ev[0].1, Event::PageView { query, .. } if query.get("utm_source").map(String::as_str) == Some("google"))
        );
        assert!(ev.windows(2).all(|w| w[0].0 < w[1].0));
        // Missing values produce nothing but the landing page.
        let ev = events(&layout, &table, 1, 30 * 60_000);
        assert_eq!(ev.len(), 1);
    }
}
