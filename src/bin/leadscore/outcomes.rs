//! `leadscore outcomes import`: outcomes from a CRM export (CSV), for teams that export instead
//! of calling `POST /v1/outcome`. Each row is checked exactly as the endpoint checks a body and
//! stored the same way, once per outcome id, in the collector's database (SQLite file or
//! PostgreSQL URL, as `serve --db`); a summary says what was imported, what was already there,
//! and which lines were refused and why.

use crate::serve::outcome::{self, OutcomeKind, OutcomeReport};
use crate::serve::store::{Store, Stored};
use crate::serve::validate::format_at;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Rows stored per transaction.
const BATCH: usize = 500;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    command: OutcomesCommand,
}

#[derive(clap::Subcommand, Debug)]
enum OutcomesCommand {
    /// Import outcomes from a CRM export (CSV with a header row).
    Import(ImportArgs),
}

/// What the export's columns mean.
#[derive(clap::Args, Debug)]
#[command(
    after_long_help = "Outcomes: accepted (by sales), opportunity, won, lost, disqualified. \
Without --map a cell must name one of them (any case); --map says which CRM values mean which \
outcome, e.g. --map 'accepted=SQL Accepted,won=Closed Won' --map 'lost=Closed Lost'. \
Cells of --at-column: RFC 3339 (2026-11-24T10:00:00Z), a date (2026-11-24, midnight UTC) or \
epoch milliseconds. Exit status: 0 when every row was imported or already stored, 1 when some \
were refused (the others are stored), 2 when the file or the database cannot be used."
)]
pub struct ImportArgs {
    /// The CRM export: CSV with a header row.
    file: PathBuf,

    /// The collector's database: a SQLite file or a postgres:// URL, as for `serve --db`.
    #[arg(long, value_name = "PATH|URL")]
    db: String,

    /// Column holding the outcome's id in the CRM (the idempotency id: importing it again
    /// stores nothing new).
    #[arg(long, value_name = "COLUMN")]
    id_column: String,

    /// Column holding the outcome (a stage or status).
    #[arg(long, value_name = "COLUMN")]
    outcome_column: String,

    /// Column holding the lead id the site passed to `identify` (e.g. an e-mail address).
    #[arg(
        long,
        value_name = "COLUMN",
        required_unless_present = "visitor_column"
    )]
    lead_column: Option<String>,

    /// Column holding the widget's visitor id (e.g. from a hidden form field).
    #[arg(long, value_name = "COLUMN", conflicts_with = "lead_column")]
    visitor_column: Option<String>,

    /// Column holding when the outcome happened; without it outcomes are stored without a time.
    #[arg(long, value_name = "COLUMN")]
    at_column: Option<String>,

    /// Column holding the deal's value (a non-negative number; empty cells are no value).
    #[arg(long, value_name = "COLUMN")]
    value_column: Option<String>,

    /// CRM values for an outcome: OUTCOME=VALUE, several separated by commas (repeatable).
    #[arg(long = "map", value_name = "OUTCOME=VALUE,...")]
    maps: Vec<String>,
}

pub fn run(args: Args) -> Result<ExitCode, String> {
    match args.command {
        OutcomesCommand::Import(args) => import(args),
    }
}

/// `accepted=SQL Accepted,won=Closed Won` → CRM value (lower case) → outcome. A comma not followed
/// by `OUTCOME=` belongs to the value.
pub fn parse_maps(maps: &[String]) -> Result<BTreeMap<String, OutcomeKind>, String> {
    let mut out = BTreeMap::new();
    for arg in maps {
        let mut entries: Vec<(OutcomeKind, String)> = Vec::new();
        for piece in arg.split(',') {
            let named = piece
                .split_once('=')
                .and_then(|(name, value)| Some((OutcomeKind::from_name(name.trim())?, value)));
            match (named, entries.last_mut()) {
                (Some((kind, value)), _) => entries.push((kind, value.to_owned())),
                (None, Some((_, value))) => {
                    value.push(',');
                    value.push_str(piece);
                }
                (None, None) => {
                    let names: Vec<&str> = OutcomeKind::ALL.iter().map(|k| k.name()).collect();
                    return Err(format!(
                        "--map {arg:?}: expected OUTCOME=VALUE with OUTCOME one of {}",
                        names.join(", ")
                    ));
                }
            }
        }
        for (kind, value) in entries {
            let key = value.trim().to_lowercase();
            if key.is_empty() {
                return Err(format!("--map {arg:?}: {} has an empty value", kind.name()));
            }
            if let Some(before) = out.insert(key.clone(), kind) {
                if before != kind {
                    return Err(format!(
                        "--map: {value:?} is mapped to both {} and {}",
                        before.name(),
                        kind.name()
                    ));
                }
            }
        }
    }
    Ok(out)
}

/// A time cell: RFC 3339, `YYYY-MM-DD` (midnight UTC) or epoch milliseconds, as RFC 3339.
fn time_cell(cell: &str) -> Result<String, String> {
    let cell = cell.trim();
    if !cell.is_empty() && cell.bytes().all(|b| b.is_ascii_digit()) {
        let ms: i128 = cell.parse().map_err(|e| format!("{cell:?}: {e}"))?;
        let at = ms
            .checked_mul(1_000_000)
            .ok_or_else(|| format!("{cell:?} as epoch milliseconds: out of range"))
            .and_then(|ns| {
                OffsetDateTime::from_unix_timestamp_nanos(ns)
                    .map_err(|e| format!("{cell:?} as epoch milliseconds: {e}"))
            })?;
        return format_at(at).map_err(|r| r.message);
    }
    if cell.len() == 10 && OffsetDateTime::parse(&format!("{cell}T00:00:00Z"), &Rfc3339).is_ok() {
        return Ok(format!("{cell}T00:00:00Z"));
    }
    Ok(cell.to_owned())
}

struct Columns {
    id: usize,
    outcome: usize,
    lead: Option<usize>,
    visitor: Option<usize>,
    at: Option<usize>,
    value: Option<usize>,
}

fn find_columns(headers: &csv::StringRecord, args: &ImportArgs) -> Result<Columns, String> {
    let find = |flag: &str, name: &str| {
        headers
            .iter()
            .position(|h| h.trim() == name.trim())
            .ok_or_else(|| {
                let names: Vec<&str> = headers.iter().collect();
                format!(
                    "{flag} {name:?}: no such column; the header has {}",
                    names.join(", ")
                )
            })
    };
    let optional =
        |flag: &str, name: &Option<String>| name.as_ref().map(|n| find(flag, n)).transpose();
    Ok(Columns {
        id: find("--id-column", &args.id_column)?,
        outcome: find("--outcome-column", &args.outcome_column)?,
        lead: optional("--lead-column", &args.lead_column)?,
        visitor: optional("--visitor-column", &args.visitor_column)?,
        at: optional("--at-column", &args.at_column)?,
        value: optional("--value-column", &args.value_column)?,
    })
}

/// One row as the outcome the endpoint would receive; an error names the field and its column.
fn report(
    record: &csv::StringRecord,
    columns: &Columns,
    args: &ImportArgs,
    maps: &BTreeMap<String, OutcomeKind>,
) -> Result<OutcomeReport, String> {
    let cell = |i: usize| record.get(i).unwrap_or_default().trim().to_owned();
    let raw = cell(columns.outcome);
    let outcome = match maps.get(&raw.to_lowercase()) {
        Some(kind) => kind.name().to_owned(),
        None if OutcomeKind::from_name(&raw.to_lowercase()).is_some() => raw.to_lowercase(),
        None => {
            return Err(format!(
                "outcome (column {:?}): {raw:?} is no outcome and not mapped by --map",
                args.outcome_column
            ))
        }
    };
    let value = match columns.value.map(cell).filter(|v| !v.is_empty()) {
        None => None,
        Some(text) => Some(text.parse::<f64>().map_err(|_| {
            format!(
                "value (column {:?}): {text:?} is not a number",
                args.value_column.as_deref().unwrap_or_default()
            )
        })?),
    };
    let at = match columns.at {
        None => None,
        Some(i) => Some(time_cell(&cell(i)).map_err(|e| {
            format!(
                "at (column {:?}): {e}",
                args.at_column.as_deref().unwrap_or_default()
            )
        })?),
    };
    Ok(OutcomeReport {
        outcome_id: cell(columns.id),
        lead_id: columns.lead.map(cell),
        visitor_id: columns.visitor.map(cell),
        outcome,
        value,
        at,
    })
}

/// The column a checked field came from, for messages.
fn column_of<'a>(field: &str, args: &'a ImportArgs) -> Option<&'a str> {
    match field {
        "outcome_id" => Some(&args.id_column),
        "outcome" => Some(&args.outcome_column),
        "lead_id" => args
            .lead_column
            .as_deref()
            .or(args.visitor_column.as_deref()),
        "visitor_id" => args.visitor_column.as_deref(),
        "at" => args.at_column.as_deref(),
        "value" => args.value_column.as_deref(),
        _ => None,
    }
}

fn import(args: ImportArgs) -> Result<ExitCode, String> {
    let maps = parse_maps(&args.maps)?;
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(&args.file)
        .map_err(|e| format!("{}: {e}", args.file.display()))?;
    let headers = reader
        .headers()
        .map_err(|e| format!("{}: {e}", args.file.display()))?
        .clone();
    let columns = find_columns(&headers, &args)?;
    let now = OffsetDateTime::now_utc();
    let mut refused: Vec<(u64, String)> = Vec::new();
    let mut checked: Vec<(u64, outcome::AcceptedOutcome)> = Vec::new();
    for record in reader.records() {
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                let line = e.position().map_or(0, csv::Position::line);
                refused.push((line, format!("not a CSV row: {e}")));
                continue;
            }
        };
        let line = record.position().map_or(0, csv::Position::line);
        if record.len() != headers.len() {
            refused.push((
                line,
                format!("{} cells; the header has {}", record.len(), headers.len()),
            ));
            continue;
        }
        let checked_row = report(&record, &columns, &args, &maps).and_then(|report| {
            outcome::check(report, now).map_err(|r| match r.field.as_deref() {
                Some(field) => match column_of(field, &args) {
                    Some(column) => format!("{field} (column {column:?}): {}", r.message),
                    None => format!("{field}: {}", r.message),
                },
                None => r.message,
            })
        });
        match checked_row {
            Ok(accepted) => checked.push((line, accepted)),
            Err(reason) => refused.push((line, reason)),
        }
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let (imported, duplicates) = runtime.block_on(async {
        let store = Store::open_existing(&args.db).await?;
        let received_at = format_at(now).map_err(|r| r.message)?;
        let (mut imported, mut duplicates) = (0u64, 0u64);
        let mut result = Ok(());
        for batch in checked.chunks(BATCH) {
            let outcomes = batch.iter().map(|(_, o)| o.clone()).collect();
            match store.insert_outcomes(outcomes, received_at.clone()).await {
                Ok(stored) => {
                    for ((line, o), stored) in batch.iter().zip(stored) {
                        match stored {
                            Stored::New => imported += 1,
                            Stored::Duplicate => duplicates += 1,
                            Stored::Conflict => refused.push((
                                *line,
                                format!(
                                    "outcome_id (column {:?}): {:?} was stored before with other content",
                                    args.id_column, o.report.outcome_id
                                ),
                            )),
                        }
                    }
                }
                Err(e) => {
                    result = Err(format!("{}: {e}", store.describe()));
                    break;
                }
            }
        }
        store.close().await;
        result.map(|()| (imported, duplicates))
    })?;

    refused.sort_by_key(|(line, _)| *line);
    println!(
        "{}: imported {imported}, duplicates {duplicates}, refused {}",
        args.file.display(),
        refused.len()
    );
    for (line, reason) in &refused {
        println!("  line {line}: {reason}");
    }
    Ok(if refused.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_split_on_commas_that_start_an_outcome() {
        let maps = parse_maps(&[
            "accepted=SQL Accepted,won=Closed Won, Paid".to_owned(),
            "lost=Closed Lost".to_owned(),
        ])
        .unwrap_or_default();
        assert_eq!(maps.get("sql accepted"), Some(&OutcomeKind::Accepted));
        assert_eq!(maps.get("closed won, paid"), Some(&OutcomeKind::Won));
        assert_eq!(maps.get("closed lost"), Some(&OutcomeKind::Lost));
        assert!(parse_maps(&["closed=Won".to_owned()]).is_err());
        assert!(parse_maps(&["won=A,lost=A".to_owned()]).is_err());
    }

    #[test]
    fn reads_dates_and_epoch_milliseconds() {
        assert_eq!(
            time_cell("2026-11-24").ok().as_deref(),
            Some("2026-11-24T00:00:00Z")
        );
        assert_eq!(
            time_cell("1795000000000").ok().as_deref(),
            Some("2026-11-18T11:06:40.000Z")
        );
        assert_eq!(
            time_cell("2026-11-24T10:00:00Z").ok().as_deref(),
            Some("2026-11-24T10:00:00Z")
        );
    }
}
