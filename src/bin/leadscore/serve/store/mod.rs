//! Where tier results live: SQLite (one file, the default) or PostgreSQL (several collectors).
//!
//! Both keep the same tables: `tier_results` (one row per accepted result, `event_id` unique,
//! so a retried delivery is stored once; with its rule summary, if any, in `rules`),
//! `visitor_tiers` (each visitor's latest tier, for the dashboard's current counts) and
//! `forward_queue` (one row per result still to post to the `--forward` webhook), all written in
//! the same transaction as the result; and `outcomes` (one row per `outcome_id`: what sales made
//! of a lead, joined with the results by `lead_id` or `visitor_id` when the tier truth is read). Timestamps are stored
//! as fixed-width RFC 3339 UTC text (`2026-11-24T10:00:00.000Z`), so text order is time order and
//! the summary queries are the same SQL on both databases.

mod postgres;
mod sqlite;
mod tls;

use super::outcome::AcceptedOutcome;
use super::validate::Accepted;
use serde::Serialize;
use std::collections::BTreeMap;

/// What happened to a posted result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// First time this `event_id` was seen: stored now.
    New,
    /// This `event_id` was stored before with the same content; nothing changed.
    Duplicate,
    /// This `event_id` was stored before with other content; nothing changed.
    Conflict,
}

impl Stored {
    /// What an insert that stored nothing means, given the content `before` stored under the
    /// same id: the same content is a retry, other content (or none found) a conflict.
    pub fn again(before: Option<&str>, payload: &str) -> Stored {
        if before == Some(payload) {
            Stored::Duplicate
        } else {
            Stored::Conflict
        }
    }
}

/// One result waiting to be posted to the webhook.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub result_id: i64,
    pub event_id: String,
    pub attempts: i64,
    pub payload: String,
}

/// The numbers behind `GET /v1/summary` and the dashboard.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Summary {
    pub generated_at: String,
    pub total_results: i64,
    /// Results per day (of `at`, UTC) and tier, oldest day first, days without results included.
    pub days: Vec<DayCount>,
    /// Per tier: results that reached it, and visitors whose latest result is that tier.
    pub tiers: Vec<TierCount>,
    /// The most recent tier changes, newest first.
    pub latest: Vec<Transition>,
    /// Per model id and version, to compare a model change with the version before.
    pub model_versions: Vec<ModelVersionCount>,
    pub forwarding: ForwardingState,
}

#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct DayCount {
    pub day: String,
    pub total: i64,
    pub tiers: BTreeMap<String, i64>,
}

#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct TierCount {
    pub tier: String,
    /// Results whose `tier` is this one.
    pub results: i64,
    /// Visitors (per model) whose latest result is this tier.
    pub current_visitors: i64,
}

#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct Transition {
    pub at: String,
    pub previous_tier: String,
    pub tier: String,
    pub visitor_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lead_id: Option<String>,
    pub model_id: String,
    pub model_version: String,
}

#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct ModelVersionCount {
    pub model_id: String,
    pub model_version: String,
    pub results: i64,
    pub visitors: i64,
    pub first_at: String,
    pub last_at: String,
    /// Results per tier reached with this version.
    pub tiers: BTreeMap<String, i64>,
}

#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct ForwardingState {
    pub enabled: bool,
    pub pending: i64,
    pub delivered: i64,
    /// Results the webhook refused (a 4xx other than 408/429): kept, not retried.
    pub refused: i64,
    /// The error of the oldest result still waiting, if it failed before; else, when the webhook
    /// refused results, a line that says so (the dashboard shows this field).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// The webhook's answer to the latest refused result.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_refusal: Option<String>,
}

/// Raw rows of the summary queries, shared by both databases.
#[derive(Debug, Default)]
pub struct SummaryRows {
    pub total: i64,
    pub per_day: Vec<(String, String, i64)>,
    pub per_tier: Vec<(String, i64)>,
    pub current_per_tier: Vec<(String, i64)>,
    pub latest: Vec<Transition>,
    pub versions: Vec<(String, String, i64, i64, String, String)>,
    pub version_tiers: Vec<(String, String, String, i64)>,
    pub pending: i64,
    pub delivered: i64,
    pub refused: i64,
    pub last_error: Option<String>,
    pub last_refusal: Option<String>,
}

/// Raw rows behind the tier truth (`GET /v1/summary/truth`), shared by both databases.
#[derive(Debug, Default)]
pub struct TruthRows {
    /// `(model_id, model_version, tier, visitor_id, first at)`: each visitor's first result in
    /// each tier of each model version.
    pub reached: Vec<(String, String, String, String, String)>,
    /// `(visitor_id, lead_id)`: the lead id a visitor's results carry (the smallest, if several).
    pub leads: Vec<(String, String)>,
    /// Every outcome.
    pub outcomes: Vec<OutcomeRow>,
}

/// `(visitor_id, lead_id, model_version, tier, at, rules)` of one result that carried a rule
/// summary (`rules`: its JSON text).
pub type SummaryRow = (String, Option<String>, String, String, String, String);

/// `(lead_id, visitor_id, outcome, at)` of one stored outcome.
pub type OutcomeRow = (Option<String>, Option<String>, String, Option<String>);

/// The summary queries; `?1`/`$1` is the first day shown (`YYYY-MM-DD`). They read the counter
/// tables that triggers keep up to date in the transaction of each write (migration 2), summed
/// over shards, so their cost does not grow with the number of results; `LATEST` and
/// `LAST_ERROR` walk an index for a few rows.
pub mod sql {
    pub const TOTAL: &str = "SELECT CAST(COALESCE(SUM(results), 0) AS BIGINT) FROM result_counts";
    pub const PER_DAY: &str = "SELECT day, tier, CAST(SUM(results) AS BIGINT) FROM result_counts \
        WHERE day >= {since} GROUP BY day, tier ORDER BY day, tier";
    pub const PER_TIER: &str =
        "SELECT tier, CAST(SUM(results) AS BIGINT) FROM result_counts GROUP BY tier ORDER BY tier";
    pub const CURRENT_PER_TIER: &str =
        "SELECT tier, CAST(SUM(visitors) AS BIGINT) FROM current_tier_counts \
        GROUP BY tier HAVING SUM(visitors) <> 0 ORDER BY tier";
    /// Keeps `visitor_tiers` at each visitor's latest result (by `at`, then arrival), whatever
    /// order results arrive in: the conflict clause after `INSERT INTO visitor_tiers (model_id,
    /// visitor_id, tier, at, result_id) ...`.
    pub const VISITOR_TIER_CONFLICT: &str = "ON CONFLICT (model_id, visitor_id) DO UPDATE \
        SET tier = excluded.tier, at = excluded.at, result_id = excluded.result_id \
        WHERE excluded.at > visitor_tiers.at \
        OR (excluded.at = visitor_tiers.at AND excluded.result_id > visitor_tiers.result_id)";
    pub const LATEST: &str =
        "SELECT at, previous_tier, tier, visitor_id, lead_id, model_id, model_version \
        FROM tier_results ORDER BY at DESC, id DESC LIMIT 20";
    pub const VERSIONS: &str =
        "SELECT c.model_id, c.model_version, CAST(SUM(c.results) AS BIGINT), \
        CAST(COALESCE((SELECT SUM(v.visitors) FROM version_visitor_counts v \
            WHERE v.model_id = c.model_id AND v.model_version = c.model_version), 0) AS BIGINT), \
        MIN(c.first_at), MAX(c.last_at) FROM result_counts c GROUP BY c.model_id, c.model_version \
        ORDER BY MAX(c.last_at) DESC, c.model_id, c.model_version LIMIT 50";
    pub const VERSION_TIERS: &str =
        "SELECT model_id, model_version, tier, CAST(SUM(results) AS BIGINT) FROM result_counts \
        GROUP BY model_id, model_version, tier";
    pub const PENDING: &str =
        "SELECT CAST(COALESCE(SUM(pending), 0) AS BIGINT) FROM forward_counts";
    pub const DELIVERED: &str =
        "SELECT CAST(COALESCE(SUM(delivered), 0) AS BIGINT) FROM forward_counts";
    pub const REFUSED: &str =
        "SELECT CAST(COALESCE(SUM(refused), 0) AS BIGINT) FROM forward_counts";
    pub const LAST_ERROR: &str = "SELECT last_error FROM forward_queue WHERE delivered_ms IS NULL \
        AND refused_ms IS NULL AND last_error IS NOT NULL ORDER BY result_id LIMIT 1";
    pub const TRUTH_REACHED: &str = "SELECT model_id, model_version, tier, visitor_id, MIN(at) \
        FROM tier_results GROUP BY model_id, model_version, tier, visitor_id";
    pub const TRUTH_LEADS: &str = "SELECT visitor_id, MIN(lead_id) FROM tier_results \
        WHERE lead_id IS NOT NULL GROUP BY visitor_id";
    pub const TRUTH_OUTCOMES: &str = "SELECT lead_id, visitor_id, outcome, at FROM outcomes";
    /// Every rule summary sent with a result of one model (`?1`/`$1`: its id), any version.
    pub const RULE_SUMMARIES: &str = "SELECT visitor_id, lead_id, model_version, tier, at, rules \
        FROM tier_results WHERE model_id = $1 AND rules IS NOT NULL";
    pub const LAST_REFUSAL: &str = "SELECT last_error FROM forward_queue \
        WHERE refused_ms IS NOT NULL ORDER BY refused_ms DESC LIMIT 1";
}

/// The database behind the collector.
pub enum Store {
    Sqlite(sqlite::SqliteStore),
    Postgres(Box<postgres::PgStore>),
}

impl Store {
    /// Opens the database of a running collector for a command-line tool (`outcomes import`,
    /// `retune`): a SQLite file must exist already, so that a mistyped path is an error rather
    /// than a new, empty database.
    pub async fn open_existing(db: &str) -> Result<Store, String> {
        let url = db.starts_with("postgres://") || db.starts_with("postgresql://");
        if !url && !std::path::Path::new(db).is_file() {
            return Err(format!(
                "{db}: no such database (a SQLite file that `leadscore serve --db` created, or a postgres:// URL)"
            ));
        }
        Store::open(db, false, 1).await
    }

    /// Opens (creating and migrating) the database named by `--db`: a `postgres://` or
    /// `postgresql://` URL, or else a SQLite file path.
    /// `pg_connections` is the number of PostgreSQL connections kept open (each commits one
    /// result at a time, so it bounds how many commits run at once).
    pub async fn open(db: &str, forwarding: bool, pg_connections: usize) -> Result<Store, String> {
        if db.starts_with("postgres://") || db.starts_with("postgresql://") {
            Ok(Store::Postgres(Box::new(
                postgres::PgStore::open(db, forwarding, pg_connections).await?,
            )))
        } else {
            Ok(Store::Sqlite(sqlite::SqliteStore::open(db, forwarding)?))
        }
    }

    /// A short description for the logs (no password).
    pub fn describe(&self) -> String {
        match self {
            Store::Sqlite(s) => format!("sqlite:{}", s.path().display()),
            Store::Postgres(p) => p.describe(),
        }
    }

    /// Stores one accepted result (and queues it for forwarding) durably, once per `event_id`.
    pub async fn insert(&self, accepted: Accepted, received_at: String) -> Result<Stored, String> {
        match self {
            Store::Sqlite(s) => s.insert(accepted, received_at).await,
            Store::Postgres(p) => p.insert(accepted, received_at).await,
        }
    }

    /// Stores outcomes (in one transaction), each once per `outcome_id`.
    pub async fn insert_outcomes(
        &self,
        outcomes: Vec<AcceptedOutcome>,
        received_at: String,
    ) -> Result<Vec<Stored>, String> {
        match self {
            Store::Sqlite(s) => s.insert_outcomes(outcomes, received_at).await,
            Store::Postgres(p) => p.insert_outcomes(outcomes, received_at).await,
        }
    }

    pub async fn truth_rows(&self) -> Result<TruthRows, String> {
        match self {
            Store::Sqlite(s) => s.truth_rows().await,
            Store::Postgres(p) => p.truth_rows().await,
        }
    }

    /// Every rule summary sent with a result of model `model_id` (what `leadscore retune`
    /// learns from).
    pub async fn rule_summaries(&self, model_id: String) -> Result<Vec<SummaryRow>, String> {
        match self {
            Store::Sqlite(s) => s.rule_summaries(model_id).await,
            Store::Postgres(p) => p.rule_summaries(model_id).await,
        }
    }

    pub async fn summary_rows(&self, since_day: String) -> Result<SummaryRows, String> {
        match self {
            Store::Sqlite(s) => s.summary_rows(since_day).await,
            Store::Postgres(p) => p.summary_rows(since_day).await,
        }
    }

    /// Takes up to `limit` deliveries that are due at `now_ms`, leasing them until `lease_until_ms`
    /// so that another collector on the same database does not post them at the same time.
    pub async fn claim_deliveries(
        &self,
        now_ms: i64,
        lease_until_ms: i64,
        limit: i64,
    ) -> Result<Vec<Delivery>, String> {
        match self {
            Store::Sqlite(s) => s.claim_deliveries(now_ms, lease_until_ms, limit).await,
            Store::Postgres(p) => p.claim_deliveries(now_ms, lease_until_ms, limit).await,
        }
    }

    pub async fn mark_delivered(&self, result_id: i64, now_ms: i64) -> Result<(), String> {
        match self {
            Store::Sqlite(s) => s.mark_delivered(result_id, now_ms).await,
            Store::Postgres(p) => p.mark_delivered(result_id, now_ms).await,
        }
    }

    pub async fn mark_failed(
        &self,
        result_id: i64,
        next_attempt_ms: i64,
        error: String,
    ) -> Result<(), String> {
        match self {
            Store::Sqlite(s) => s.mark_failed(result_id, next_attempt_ms, error).await,
            Store::Postgres(p) => p.mark_failed(result_id, next_attempt_ms, error).await,
        }
    }

    /// Marks a delivery refused by the webhook: kept, not retried.
    pub async fn mark_refused(
        &self,
        result_id: i64,
        now_ms: i64,
        error: String,
    ) -> Result<(), String> {
        match self {
            Store::Sqlite(s) => s.mark_refused(result_id, now_ms, error).await,
            Store::Postgres(p) => p.mark_refused(result_id, now_ms, error).await,
        }
    }

    /// Waits for pending writes and closes the database.
    pub async fn close(self) {
        match self {
            Store::Sqlite(s) => s.close().await,
            Store::Postgres(_) => {}
        }
    }
}
