//! SQLite storage: one file in WAL mode, one writer thread that commits in groups.
//!
//! Durability: `journal_mode=WAL` with `synchronous=FULL`, so every commit fsyncs the WAL before
//! the insert is answered; a power cut after a 200 cannot lose the result. (`NORMAL` would only
//! fsync at checkpoints and may lose the last commits on power loss, which breaks the promise.)
//! To keep that affordable, the writer thread takes every insert that is waiting, writes them in
//! one transaction and answers them all after the one fsync of its commit (group commit).
//! Reads (summary) use their own connection, which WAL lets run beside the writer, and so does
//! checkpointing: a background thread copies the WAL into the database file every
//! [`CHECKPOINT_EVERY`] (`PASSIVE`, never blocking the writer), instead of the writer stopping for
//! it every 1000 pages.

use super::{sql, Delivery, Stored, SummaryRow, SummaryRows, Transition, TruthRows};
use crate::serve::outcome::AcceptedOutcome;
use crate::serve::validate::Accepted;
use rusqlite::{params, Connection, OptionalExtension};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// How often the WAL is checkpointed into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// Most inserts written in one transaction.
const MAX_GROUP: usize = 512;

const MIGRATIONS: &[&str] = &[
    // 1: results and the forwarding queue.
    "CREATE TABLE tier_results (
        id INTEGER PRIMARY KEY,
        event_id TEXT NOT NULL UNIQUE,
        schema INTEGER NOT NULL,
        tier TEXT NOT NULL,
        previous_tier TEXT NOT NULL,
        model_id TEXT NOT NULL,
        model_version TEXT NOT NULL,
        visitor_id TEXT NOT NULL,
        lead_id TEXT,
        at TEXT NOT NULL,
        day TEXT NOT NULL,
        scores TEXT,
        payload TEXT NOT NULL,
        received_at TEXT NOT NULL
    );
    CREATE INDEX tier_results_day ON tier_results (day, tier);
    CREATE INDEX tier_results_at ON tier_results (at);
    CREATE INDEX tier_results_version ON tier_results (model_id, model_version, tier, visitor_id);
    CREATE TABLE visitor_tiers (
        model_id TEXT NOT NULL,
        visitor_id TEXT NOT NULL,
        tier TEXT NOT NULL,
        at TEXT NOT NULL,
        result_id INTEGER NOT NULL,
        PRIMARY KEY (model_id, visitor_id)
    );
    CREATE INDEX visitor_tiers_tier ON visitor_tiers (tier);
    CREATE TABLE forward_queue (
        result_id INTEGER PRIMARY KEY REFERENCES tier_results (id),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_ms INTEGER NOT NULL,
        last_error TEXT,
        delivered_ms INTEGER
    );
    CREATE INDEX forward_queue_due ON forward_queue (delivered_ms, next_attempt_ms);",
    // 2: refused deliveries; counters kept by triggers so that the summary reads a few hundred
    // rows whatever the number of results. Every counter table has a `shard` column for
    // PostgreSQL (one per connection, so that concurrent commits do not queue on one row);
    // SQLite's single writer always uses shard 0.
    "ALTER TABLE forward_queue ADD COLUMN refused_ms INTEGER;
    DROP INDEX forward_queue_due;
    CREATE INDEX forward_queue_due ON forward_queue (next_attempt_ms)
        WHERE delivered_ms IS NULL AND refused_ms IS NULL;
    CREATE INDEX forward_queue_failing ON forward_queue (result_id)
        WHERE delivered_ms IS NULL AND refused_ms IS NULL AND last_error IS NOT NULL;
    CREATE INDEX forward_queue_refused ON forward_queue (refused_ms) WHERE refused_ms IS NOT NULL;
    DROP INDEX tier_results_at;
    CREATE INDEX tier_results_at ON tier_results (at, id);
    CREATE TABLE result_counts (
        shard INTEGER NOT NULL, day TEXT NOT NULL, model_id TEXT NOT NULL,
        model_version TEXT NOT NULL, tier TEXT NOT NULL, results INTEGER NOT NULL,
        first_at TEXT NOT NULL, last_at TEXT NOT NULL,
        PRIMARY KEY (shard, day, model_id, model_version, tier));
    CREATE TABLE version_visitors (
        model_id TEXT NOT NULL, model_version TEXT NOT NULL, visitor_id TEXT NOT NULL,
        PRIMARY KEY (model_id, model_version, visitor_id));
    CREATE TABLE version_visitor_counts (
        shard INTEGER NOT NULL, model_id TEXT NOT NULL, model_version TEXT NOT NULL,
        visitors INTEGER NOT NULL, PRIMARY KEY (shard, model_id, model_version));
    CREATE TABLE current_tier_counts (
        shard INTEGER NOT NULL, tier TEXT NOT NULL, visitors INTEGER NOT NULL,
        PRIMARY KEY (shard, tier));
    CREATE TABLE forward_counts (
        shard INTEGER NOT NULL PRIMARY KEY, pending INTEGER NOT NULL DEFAULT 0,
        delivered INTEGER NOT NULL DEFAULT 0, refused INTEGER NOT NULL DEFAULT 0);
    INSERT INTO result_counts
        SELECT 0, day, model_id, model_version, tier, COUNT(*), MIN(at), MAX(at)
        FROM tier_results GROUP BY day, model_id, model_version, tier;
    INSERT INTO version_visitors SELECT DISTINCT model_id, model_version, visitor_id FROM tier_results;
    INSERT INTO version_visitor_counts
        SELECT 0, model_id, model_version, COUNT(*) FROM version_visitors GROUP BY model_id, model_version;
    INSERT INTO current_tier_counts SELECT 0, tier, COUNT(*) FROM visitor_tiers GROUP BY tier;
    INSERT INTO forward_counts (shard, pending, delivered, refused)
        SELECT 0, COALESCE(SUM(CASE WHEN delivered_ms IS NULL THEN 1 ELSE 0 END), 0),
            COALESCE(SUM(CASE WHEN delivered_ms IS NULL THEN 0 ELSE 1 END), 0), 0 FROM forward_queue;
    CREATE TRIGGER tier_results_counts AFTER INSERT ON tier_results BEGIN
        INSERT INTO result_counts (shard, day, model_id, model_version, tier, results, first_at, last_at)
            VALUES (0, NEW.day, NEW.model_id, NEW.model_version, NEW.tier, 1, NEW.at, NEW.at)
            ON CONFLICT (shard, day, model_id, model_version, tier) DO UPDATE SET
                results = results + 1, first_at = MIN(first_at, excluded.first_at),
                last_at = MAX(last_at, excluded.last_at);
        INSERT INTO version_visitors (model_id, model_version, visitor_id)
            VALUES (NEW.model_id, NEW.model_version, NEW.visitor_id) ON CONFLICT DO NOTHING;
    END;
    CREATE TRIGGER version_visitors_counts AFTER INSERT ON version_visitors BEGIN
        INSERT INTO version_visitor_counts (shard, model_id, model_version, visitors)
            VALUES (0, NEW.model_id, NEW.model_version, 1)
            ON CONFLICT (shard, model_id, model_version) DO UPDATE SET visitors = visitors + 1;
    END;
    CREATE TRIGGER visitor_tiers_insert AFTER INSERT ON visitor_tiers BEGIN
        INSERT INTO current_tier_counts (shard, tier, visitors) VALUES (0, NEW.tier, 1)
            ON CONFLICT (shard, tier) DO UPDATE SET visitors = visitors + 1;
    END;
    CREATE TRIGGER visitor_tiers_update AFTER UPDATE OF tier ON visitor_tiers
        WHEN OLD.tier <> NEW.tier BEGIN
        INSERT INTO current_tier_counts (shard, tier, visitors) VALUES (0, NEW.tier, 1)
            ON CONFLICT (shard, tier) DO UPDATE SET visitors = visitors + 1;
        INSERT INTO current_tier_counts (shard, tier, visitors) VALUES (0, OLD.tier, -1)
            ON CONFLICT (shard, tier) DO UPDATE SET visitors = visitors - 1;
    END;
    CREATE TRIGGER forward_queue_insert AFTER INSERT ON forward_queue BEGIN
        INSERT INTO forward_counts (shard, pending) VALUES (0, 1)
            ON CONFLICT (shard) DO UPDATE SET pending = pending + 1;
    END;
    CREATE TRIGGER forward_queue_delivered AFTER UPDATE OF delivered_ms ON forward_queue
        WHEN OLD.delivered_ms IS NULL AND NEW.delivered_ms IS NOT NULL BEGIN
        INSERT INTO forward_counts (shard, pending, delivered) VALUES (0, -1, 1)
            ON CONFLICT (shard) DO UPDATE SET pending = pending - 1, delivered = delivered + 1;
    END;
    CREATE TRIGGER forward_queue_refused AFTER UPDATE OF refused_ms ON forward_queue
        WHEN OLD.refused_ms IS NULL AND NEW.refused_ms IS NOT NULL BEGIN
        INSERT INTO forward_counts (shard, pending, refused) VALUES (0, -1, 1)
            ON CONFLICT (shard) DO UPDATE SET pending = pending - 1, refused = refused + 1;
    END;",
    // 3: rule summaries sent with results, and outcomes (what sales made of a lead).
    "ALTER TABLE tier_results ADD COLUMN rules TEXT;
    CREATE INDEX tier_results_lead ON tier_results (lead_id) WHERE lead_id IS NOT NULL;
    CREATE TABLE outcomes (
        id INTEGER PRIMARY KEY,
        outcome_id TEXT NOT NULL UNIQUE,
        lead_id TEXT,
        visitor_id TEXT,
        outcome TEXT NOT NULL,
        value REAL,
        at TEXT,
        payload TEXT NOT NULL,
        received_at TEXT NOT NULL
    );
    CREATE INDEX outcomes_lead ON outcomes (lead_id);
    CREATE INDEX outcomes_visitor ON outcomes (visitor_id);",
];

enum Command {
    Insert {
        accepted: Box<Accepted>,
        received_at: String,
        reply: oneshot::Sender<Result<Stored, String>>,
    },
    Outcomes {
        outcomes: Vec<AcceptedOutcome>,
        received_at: String,
        reply: oneshot::Sender<Result<Vec<Stored>, String>>,
    },
    Claim {
        now_ms: i64,
        lease_until_ms: i64,
        limit: i64,
        reply: oneshot::Sender<Result<Vec<Delivery>, String>>,
    },
    Delivered {
        result_id: i64,
        now_ms: i64,
        reply: oneshot::Sender<Result<(), String>>,
    },
    Failed {
        result_id: i64,
        next_attempt_ms: i64,
        error: String,
        reply: oneshot::Sender<Result<(), String>>,
    },
    Refused {
        result_id: i64,
        now_ms: i64,
        error: String,
        reply: oneshot::Sender<Result<(), String>>,
    },
}

pub struct SqliteStore {
    path: PathBuf,
    writer: mpsc::Sender<Command>,
    thread: Option<JoinHandle<()>>,
    reader: Arc<Mutex<Connection>>,
    checkpoints: Option<(JoinHandle<()>, Arc<AtomicBool>)>,
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

fn connect(path: &Path) -> Result<Connection, String> {
    let conn = Connection::open(path)
        .map_err(|e| format!("cannot open SQLite database {}: {e}", path.display()))?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(err)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(err)?;
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(err)?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(err)?;
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> Result<(), String> {
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(err)?;
    let version: i64 = tx
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(err)?;
    let known = i64::try_from(MIGRATIONS.len()).map_err(err)?;
    if version > known {
        return Err(format!(
            "the database has schema version {version}, newer than this build ({known})"
        ));
    }
    for (index, migration) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(version).map_err(err)?)
    {
        tx.execute_batch(migration)
            .map_err(|e| format!("migration {}: {e}", index + 1))?;
    }
    tx.pragma_update(None, "user_version", known).map_err(err)?;
    tx.commit().map_err(err)
}

impl SqliteStore {
    pub fn open(path: &str, forwarding: bool) -> Result<SqliteStore, String> {
        let path = PathBuf::from(path);
        let mut writer_conn = connect(&path)?;
        migrate(&mut writer_conn)?;
        writer_conn
            .pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(err)?;
        let reader = connect(&path)?;
        let checkpointer = connect(&path)?;
        let stop_checkpoints = Arc::new(AtomicBool::new(false));
        let stop = Arc::clone(&stop_checkpoints);
        let checkpoints = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(CHECKPOINT_EVERY);
                    if let Err(e) =
                        checkpointer.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    {
                        tracing::warn!(error = %e, "SQLite checkpoint failed");
                    }
                }
            })
            .map_err(err)?;
        let (tx, rx) = mpsc::channel(4096);
        let thread = std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer_loop(writer_conn, rx, forwarding))
            .map_err(err)?;
        Ok(SqliteStore {
            path,
            writer: tx,
            thread: Some(thread),
            reader: Arc::new(Mutex::new(reader)),
            checkpoints: Some((checkpoints, stop_checkpoints)),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, String>>) -> Command,
    ) -> Result<T, String> {
        let (reply, answer) = oneshot::channel();
        self.writer
            .send(make(reply))
            .await
            .map_err(|_| "the database writer has stopped".to_owned())?;
        answer
            .await
            .map_err(|_| "the database writer has stopped".to_owned())?
    }

    pub async fn insert(&self, accepted: Accepted, received_at: String) -> Result<Stored, String> {
        self.ask(|reply| Command::Insert {
            accepted: Box::new(accepted),
            received_at,
            reply,
        })
        .await
    }

    pub async fn insert_outcomes(
        &self,
        outcomes: Vec<AcceptedOutcome>,
        received_at: String,
    ) -> Result<Vec<Stored>, String> {
        self.ask(|reply| Command::Outcomes {
            outcomes,
            received_at,
            reply,
        })
        .await
    }

    pub async fn truth_rows(&self) -> Result<TruthRows, String> {
        let reader = Arc::clone(&self.reader);
        tokio::task::spawn_blocking(move || {
            let conn = reader
                .lock()
                .map_err(|_| "summary connection poisoned".to_owned())?;
            truth(&conn).map_err(err)
        })
        .await
        .map_err(err)?
    }

    pub async fn rule_summaries(&self, model_id: String) -> Result<Vec<SummaryRow>, String> {
        let reader = Arc::clone(&self.reader);
        tokio::task::spawn_blocking(move || {
            let conn = reader
                .lock()
                .map_err(|_| "summary connection poisoned".to_owned())?;
            let mut stmt = conn
                .prepare_cached(&sql::RULE_SUMMARIES.replace("$1", "?1"))
                .map_err(err)?;
            let found = stmt
                .query_map([model_id], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ))
                })
                .map_err(err)?;
            found.collect::<rusqlite::Result<_>>().map_err(err)
        })
        .await
        .map_err(err)?
    }

    pub async fn claim_deliveries(
        &self,
        now_ms: i64,
        lease_until_ms: i64,
        limit: i64,
    ) -> Result<Vec<Delivery>, String> {
        self.ask(|reply| Command::Claim {
            now_ms,
            lease_until_ms,
            limit,
            reply,
        })
        .await
    }

    pub async fn mark_delivered(&self, result_id: i64, now_ms: i64) -> Result<(), String> {
        self.ask(|reply| Command::Delivered {
            result_id,
            now_ms,
            reply,
        })
        .await
    }

    pub async fn mark_failed(
        &self,
        result_id: i64,
        next_attempt_ms: i64,
        error: String,
    ) -> Result<(), String> {
        self.ask(|reply| Command::Failed {
            result_id,
            next_attempt_ms,
            error,
            reply,
        })
        .await
    }

    pub async fn mark_refused(
        &self,
        result_id: i64,
        now_ms: i64,
        error: String,
    ) -> Result<(), String> {
        self.ask(|reply| Command::Refused {
            result_id,
            now_ms,
            error,
            reply,
        })
        .await
    }

    pub async fn summary_rows(&self, since_day: String) -> Result<SummaryRows, String> {
        let reader = Arc::clone(&self.reader);
        tokio::task::spawn_blocking(move || {
            let conn = reader
                .lock()
                .map_err(|_| "summary connection poisoned".to_owned())?;
            summary(&conn, &since_day).map_err(err)
        })
        .await
        .map_err(err)?
    }

    /// Stops the writer after it has written everything already sent to it.
    pub async fn close(mut self) {
        if let Some((checkpoints, stop)) = self.checkpoints.take() {
            stop.store(true, Ordering::Relaxed);
            let _ = tokio::task::spawn_blocking(move || checkpoints.join()).await;
        }
        let thread = self.thread.take();
        drop(self.writer);
        if let Some(thread) = thread {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

fn writer_loop(mut conn: Connection, mut rx: mpsc::Receiver<Command>, forwarding: bool) {
    while let Some(first) = rx.blocking_recv() {
        let mut inserts = Vec::new();
        let mut others = Vec::new();
        let mut next = Some(first);
        while let Some(command) = next {
            match command {
                Command::Insert {
                    accepted,
                    received_at,
                    reply,
                } => inserts.push((accepted, received_at, reply)),
                other => others.push(other),
            }
            next = if inserts.len() + others.len() < MAX_GROUP {
                rx.try_recv().ok()
            } else {
                None
            };
        }
        if !inserts.is_empty() {
            write_group(&mut conn, inserts, forwarding);
        }
        for command in others {
            run_queue_command(&mut conn, command);
        }
    }
    // Checkpoint so that the file is complete on its own after a clean stop.
    let _ = conn.pragma_update(None, "wal_checkpoint", "TRUNCATE");
}

type Reply = oneshot::Sender<Result<Stored, String>>;
type PendingInsert = (Box<Accepted>, String, Reply);

/// Writes a group of inserts in one transaction; every caller is answered after the commit (or
/// hears the error when the transaction failed and nothing of the group was stored).
fn write_group(conn: &mut Connection, inserts: Vec<PendingInsert>, forwarding: bool) {
    let (rows, replies): (Vec<(Box<Accepted>, String)>, Vec<Reply>) = inserts
        .into_iter()
        .map(|(accepted, received_at, reply)| ((accepted, received_at), reply))
        .unzip();
    match insert_all(conn, &rows, forwarding) {
        Ok(outcomes) => {
            for (outcome, reply) in outcomes.into_iter().zip(replies) {
                let _ = reply.send(outcome);
            }
        }
        Err(e) => {
            tracing::error!(error = %e, results = rows.len(), "SQLite write failed; nothing of this group was stored");
            for reply in replies {
                let _ = reply.send(Err(e.clone()));
            }
        }
    }
}

fn insert_all(
    conn: &mut Connection,
    rows: &[(Box<Accepted>, String)],
    forwarding: bool,
) -> Result<Vec<Result<Stored, String>>, String> {
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(err)?;
    let mut outcomes = Vec::with_capacity(rows.len());
    {
        let mut insert = tx
            .prepare_cached(
                "INSERT INTO tier_results (event_id, schema, tier, previous_tier, model_id, model_version,
                    visitor_id, lead_id, at, day, scores, payload, received_at, rules)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
                 ON CONFLICT (event_id) DO NOTHING",
            )
            .map_err(err)?;
        let mut queue = tx
            .prepare_cached("INSERT INTO forward_queue (result_id, next_attempt_ms) VALUES (?1, 0)")
            .map_err(err)?;
        let upsert = format!(
            "INSERT INTO visitor_tiers (model_id, visitor_id, tier, at, result_id) \
             VALUES (?1, ?2, ?3, ?4, ?5) {}",
            sql::VISITOR_TIER_CONFLICT
        );
        let mut latest = tx.prepare_cached(&upsert).map_err(err)?;
        let mut stored_payload = tx
            .prepare_cached("SELECT payload FROM tier_results WHERE event_id = ?1")
            .map_err(err)?;
        for (accepted, received_at) in rows {
            let r = &accepted.result;
            let changed = insert
                .execute(params![
                    r.event_id,
                    r.schema,
                    r.tier,
                    r.previous_tier,
                    r.model_id,
                    r.model_version,
                    r.visitor_id,
                    r.lead_id,
                    r.at,
                    accepted.day,
                    accepted.scores_json,
                    accepted.payload,
                    received_at,
                    accepted.rules_json
                ])
                .map_err(err)?;
            if changed == 0 {
                let before: Option<String> = stored_payload
                    .query_row(params![r.event_id], |row| row.get(0))
                    .optional()
                    .map_err(err)?;
                outcomes.push(Ok(Stored::again(before.as_deref(), &accepted.payload)));
                continue;
            }
            let id = tx.last_insert_rowid();
            latest
                .execute(params![r.model_id, r.visitor_id, r.tier, r.at, id])
                .map_err(err)?;
            if forwarding {
                queue.execute(params![id]).map_err(err)?;
            }
            outcomes.push(Ok(Stored::New));
        }
    }
    tx.commit().map_err(err)?;
    Ok(outcomes)
}

fn run_queue_command(conn: &mut Connection, command: Command) {
    match command {
        Command::Insert { reply, .. } => {
            let _ = reply.send(Err("unexpected insert".into()));
        }
        Command::Outcomes {
            outcomes,
            received_at,
            reply,
        } => {
            let _ = reply.send(insert_outcomes(conn, &outcomes, &received_at).map_err(err));
        }
        Command::Claim {
            now_ms,
            lease_until_ms,
            limit,
            reply,
        } => {
            let _ = reply.send(claim(conn, now_ms, lease_until_ms, limit).map_err(err));
        }
        Command::Delivered {
            result_id,
            now_ms,
            reply,
        } => {
            let _ = reply.send(
                conn.execute(
                    "UPDATE forward_queue SET delivered_ms = ?2, attempts = attempts + 1, last_error = NULL
                     WHERE result_id = ?1",
                    params![result_id, now_ms],
                )
                .map(|_| ())
                .map_err(err),
            );
        }
        Command::Failed {
            result_id,
            next_attempt_ms,
            error,
            reply,
        } => {
            let _ = reply.send(
                conn.execute(
                    "UPDATE forward_queue SET next_attempt_ms = ?2, attempts = attempts + 1, last_error = ?3
                     WHERE result_id = ?1",
                    params![result_id, next_attempt_ms, error],
                )
                .map(|_| ())
                .map_err(err),
            );
        }
        Command::Refused {
            result_id,
            now_ms,
            error,
            reply,
        } => {
            let _ = reply.send(
                conn.execute(
                    "UPDATE forward_queue SET refused_ms = ?2, attempts = attempts + 1, last_error = ?3
                     WHERE result_id = ?1",
                    params![result_id, now_ms, error],
                )
                    .map(|_| ())
                    .map_err(err),
            );
        }
    }
}

/// Stores outcomes in one transaction, each once per `outcome_id`.
fn insert_outcomes(
    conn: &mut Connection,
    outcomes: &[AcceptedOutcome],
    received_at: &str,
) -> rusqlite::Result<Vec<Stored>> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut stored = Vec::with_capacity(outcomes.len());
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO outcomes (outcome_id, lead_id, visitor_id, outcome, value, at, payload, received_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (outcome_id) DO NOTHING",
        )?;
        let mut before = tx.prepare_cached("SELECT payload FROM outcomes WHERE outcome_id = ?1")?;
        for o in outcomes {
            let r = &o.report;
            let changed = insert.execute(params![
                r.outcome_id,
                r.lead_id,
                r.visitor_id,
                o.kind.name(),
                r.value,
                r.at,
                o.payload,
                received_at
            ])?;
            stored.push(if changed > 0 {
                Stored::New
            } else {
                let payload: Option<String> = before
                    .query_row(params![r.outcome_id], |row| row.get(0))
                    .optional()?;
                Stored::again(payload.as_deref(), &o.payload)
            });
        }
    }
    tx.commit()?;
    Ok(stored)
}

fn truth(conn: &Connection) -> rusqlite::Result<TruthRows> {
    let mut rows = TruthRows::default();
    {
        let mut stmt = conn.prepare_cached(sql::TRUTH_REACHED)?;
        let found = stmt.query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?;
        rows.reached = found.collect::<rusqlite::Result<_>>()?;
    }
    {
        let mut stmt = conn.prepare_cached(sql::TRUTH_LEADS)?;
        let found = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.leads = found.collect::<rusqlite::Result<_>>()?;
    }
    {
        let mut stmt = conn.prepare_cached(sql::TRUTH_OUTCOMES)?;
        let found = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        rows.outcomes = found.collect::<rusqlite::Result<_>>()?;
    }
    Ok(rows)
}

fn claim(
    conn: &mut Connection,
    now_ms: i64,
    lease_until_ms: i64,
    limit: i64,
) -> rusqlite::Result<Vec<Delivery>> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let deliveries = {
        let mut select = tx.prepare_cached(
            "SELECT q.result_id, r.event_id, q.attempts, r.payload FROM forward_queue q
             JOIN tier_results r ON r.id = q.result_id
             WHERE q.delivered_ms IS NULL AND q.refused_ms IS NULL AND q.next_attempt_ms <= ?1
             ORDER BY q.result_id LIMIT ?2",
        )?;
        let rows = select.query_map(params![now_ms, limit], |row| {
            Ok(Delivery {
                result_id: row.get(0)?,
                event_id: row.get(1)?,
                attempts: row.get(2)?,
                payload: row.get(3)?,
            })
        })?;
        rows.collect::<rusqlite::Result<Vec<_>>>()?
    };
    {
        let mut lease = tx
            .prepare_cached("UPDATE forward_queue SET next_attempt_ms = ?2 WHERE result_id = ?1")?;
        for delivery in &deliveries {
            lease.execute(params![delivery.result_id, lease_until_ms])?;
        }
    }
    tx.commit()?;
    Ok(deliveries)
}

fn summary(conn: &Connection, since_day: &str) -> rusqlite::Result<SummaryRows> {
    let count = |query: &str| conn.query_row(query, [], |r| r.get::<_, i64>(0));
    let pairs = |query: &str| -> rusqlite::Result<Vec<(String, i64)>> {
        let mut stmt = conn.prepare_cached(query)?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect()
    };
    let mut rows = SummaryRows {
        total: count(sql::TOTAL)?,
        ..SummaryRows::default()
    };
    {
        let mut stmt = conn.prepare_cached(&sql::PER_DAY.replace("{since}", "?1"))?;
        let found = stmt.query_map([since_day], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        rows.per_day = found.collect::<rusqlite::Result<_>>()?;
    }
    rows.per_tier = pairs(sql::PER_TIER)?;
    rows.current_per_tier = pairs(sql::CURRENT_PER_TIER)?;
    {
        let mut stmt = conn.prepare_cached(sql::LATEST)?;
        let found = stmt.query_map([], |r| {
            Ok(Transition {
                at: r.get(0)?,
                previous_tier: r.get(1)?,
                tier: r.get(2)?,
                visitor_id: r.get(3)?,
                lead_id: r.get(4)?,
                model_id: r.get(5)?,
                model_version: r.get(6)?,
            })
        })?;
        rows.latest = found.collect::<rusqlite::Result<_>>()?;
    }
    {
        let mut stmt = conn.prepare_cached(sql::VERSIONS)?;
        let found = stmt.query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })?;
        rows.versions = found.collect::<rusqlite::Result<_>>()?;
    }
    {
        let mut stmt = conn.prepare_cached(sql::VERSION_TIERS)?;
        let found = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        rows.version_tiers = found.collect::<rusqlite::Result<_>>()?;
    }
    rows.pending = count(sql::PENDING)?;
    rows.delivered = count(sql::DELIVERED)?;
    rows.refused = count(sql::REFUSED)?;
    rows.last_error = conn
        .query_row(sql::LAST_ERROR, [], |r| r.get(0))
        .optional()?;
    rows.last_refusal = conn
        .query_row(sql::LAST_REFUSAL, [], |r| r.get(0))
        .optional()?;
    Ok(rows)
}
