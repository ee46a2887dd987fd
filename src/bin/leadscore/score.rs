//! `leadscore score MODEL EVENTS.jsonl`: run the engine over an event log, per visitor.
//!
//! Each line is one event: `{"visitor": "v1", "ts": "2026-11-01T10:00:00Z", "type": "page_view",
//! "path": "/pricing"}`; `ts` is RFC 3339 or milliseconds since the epoch. Events are applied per
//! visitor in time order, exactly as the widget applies them in the browser.

use crate::check::load_model;
use leadscore::engine::{self, Event, Millis, Score, State};
use leadscore::model::ValidModel;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

#[derive(clap::Args)]
pub struct Args {
    /// The model file (JSON).
    model: PathBuf,
    /// The event log: one JSON object per line with `visitor`, `ts` and the event fields.
    events: PathBuf,
    /// Score as of this time (RFC 3339): later events are left out and decay runs up to it.
    /// Defaults to the time of the last event in the log.
    #[arg(long)]
    now: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// With --json: each tier change also carries the rule summary the widget sends with
    /// `data-send-rules` (rule id → [times fired, points now, rounded]), as of that change.
    #[arg(long, requires = "json")]
    rules: bool,
}

/// One tier change of one visitor.
#[derive(Serialize)]
struct Transition {
    at: String,
    from: String,
    to: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    rules: Option<BTreeMap<String, (u32, i64)>>,
}

/// The rule summary of a score, as the widget sends it: rule id → (times fired, points now).
fn rule_summary(score: &Score<'_>) -> BTreeMap<String, (u32, i64)> {
    score
        .contributions
        .iter()
        .map(|c| (c.rule.to_string(), (c.times, c.points.round() as i64)))
        .collect()
}

#[derive(Serialize)]
struct VisitorReport<'m> {
    visitor: String,
    events: usize,
    transitions: Vec<Transition>,
    #[serde(flatten)]
    score: Score<'m>,
}

/// Latest time accepted: the end of year 9999, in milliseconds since the epoch.
const MAX_TIME: Millis = 253_402_300_799_999;

/// Parses `ts`: RFC 3339 text or integer milliseconds since the epoch, from 1970 to year 9999.
pub fn parse_time(value: &serde_json::Value) -> Result<Millis, String> {
    let ms = parse_any_time(value)?;
    if (0..=MAX_TIME).contains(&ms) {
        Ok(ms)
    } else {
        Err(format!("ts: {value} is outside 1970-01-01 to 9999-12-31"))
    }
}

fn parse_any_time(value: &serde_json::Value) -> Result<Millis, String> {
    match value {
        serde_json::Value::String(s) => OffsetDateTime::parse(s, &Rfc3339)
            .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as Millis)
            .map_err(|e| format!("ts: {s:?} is not an RFC 3339 time ({e})")),
        serde_json::Value::Number(n) => n
            .as_i64()
            .ok_or_else(|| format!("ts: {n} is not whole milliseconds")),
        _ => Err("ts: missing or not a time".into()),
    }
}

/// Formats milliseconds since the epoch as RFC 3339.
pub fn format_time(ms: Millis) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| ms.to_string())
}

/// Splits one log line into visitor, time and event.
fn parse_line(line: &str) -> Result<(String, Millis, Event), String> {
    let mut value: serde_json::Value =
        serde_json::from_str(line).map_err(|e| format!("not valid JSON: {e}"))?;
    let obj = value
        .as_object_mut()
        .ok_or_else(|| "expected a JSON object".to_string())?;
    let visitor = match obj.remove("visitor") {
        Some(serde_json::Value::String(v)) if !v.is_empty() => v,
        _ => return Err("visitor: missing or not a non-empty string".into()),
    };
    let ts = parse_time(obj.get("ts").unwrap_or(&serde_json::Value::Null))?;
    obj.remove("ts");
    let event: Event = serde_path_to_error::deserialize(&value).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            e.into_inner().to_string()
        } else {
            format!("{path}: {}", e.into_inner())
        }
    })?;
    event.validate().map_err(|e| e.to_string())?;
    Ok((visitor, ts, event))
}

pub fn run(args: Args) -> Result<ExitCode, String> {
    let model = load_model(&args.model)?;
    let text = std::fs::read_to_string(&args.events)
        .map_err(|e| format!("cannot read {}: {e}", args.events.display()))?;

    let mut rejected = 0usize;
    let mut order: Vec<String> = Vec::new();
    let mut by_visitor: BTreeMap<String, Vec<(Millis, Event)>> = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match parse_line(line) {
            Ok((visitor, ts, event)) => {
                if !by_visitor.contains_key(&visitor) {
                    order.push(visitor.clone());
                }
                by_visitor.entry(visitor).or_default().push((ts, event));
            }
            Err(e) => {
                rejected += 1;
                eprintln!("{}:{}: {e}", args.events.display(), n + 1);
            }
        }
    }
    let latest = by_visitor
        .values()
        .flatten()
        .map(|(t, _)| *t)
        .max()
        .unwrap_or(0);
    let now = match &args.now {
        Some(s) => {
            parse_time(&serde_json::Value::String(s.clone())).map_err(|e| format!("--now: {e}"))?
        }
        None => latest,
    };

    let mut reports = Vec::new();
    for visitor in order {
        let mut events = by_visitor.remove(&visitor).unwrap_or_default();
        events.sort_by_key(|(t, _)| *t);
        reports.push(score_visitor(&model, visitor, &events, now, args.rules));
    }

    if args.json {
        let text = serde_json::to_string_pretty(&reports).map_err(|e| e.to_string())?;
        println!("{text}");
    } else {
        print_tables(&reports, now);
    }
    if rejected > 0 {
        eprintln!("{rejected} line(s) rejected");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

fn score_visitor<'m>(
    model: &'m ValidModel,
    visitor: String,
    events: &[(Millis, Event)],
    now: Millis,
    rules: bool,
) -> VisitorReport<'m> {
    let mut state = State::new(model);
    let mut transitions = Vec::new();
    for (ts, event) in events.iter().filter(|(ts, _)| *ts <= now) {
        // Events were validated when parsed, so apply cannot reject them.
        if let Ok(s) = engine::advance(&mut state, model, event, *ts) {
            if s.changed() {
                transitions.push(Transition {
                    at: format_time(*ts),
                    from: s.previous_tier.to_string(),
                    to: s.tier.to_string(),
                    rules: rules.then(|| rule_summary(&engine::score(&state, model, *ts))),
                });
            }
        }
    }
    let final_score = engine::tick(&mut state, model, now);
    if final_score.changed() {
        transitions.push(Transition {
            at: format_time(now),
            from: final_score.previous_tier.to_string(),
            to: final_score.tier.to_string(),
            rules: rules.then(|| rule_summary(&final_score)),
        });
    }
    VisitorReport {
        visitor,
        events: events.len(),
        transitions,
        score: final_score,
    }
}

fn print_tables(reports: &[VisitorReport<'_>], now: Millis) {
    println!("scored as of {}", format_time(now));
    for r in reports {
        let s = &r.score;
        println!();
        println!(
            "{}  tier {}  total {:.1}  (fit {:.1}, engagement {:.1}, intent {:.1}, product {:.1}){}",
            r.visitor,
            s.tier,
            s.total,
            s.fit,
            s.engagement,
            s.intent,
            s.product,
            s.probability
                .map(|p| format!(", p(convert) {:.2}", p))
                .unwrap_or_default()
        );
        for t in &r.transitions {
            println!("  {}  {} -> {}", t.at, t.from, t.to);
        }
        if s.contributions.is_empty() {
            println!("  (no rule gives points)");
            continue;
        }
        let width = s
            .contributions
            .iter()
            .map(|c| c.rule.len())
            .max()
            .unwrap_or(4)
            .max(4);
        println!(
            "  {:<width$}  {:<10}  {:>7}  {:>5}  {:>7}",
            "rule", "dimension", "points", "times", "decayed"
        );
        for c in &s.contributions {
            println!(
                "  {:<width$}  {:<10}  {:>7.1}  {:>5}  {:>7.1}",
                c.rule,
                c.dimension.name(),
                c.points,
                c.times,
                c.decayed
            );
        }
    }
}
