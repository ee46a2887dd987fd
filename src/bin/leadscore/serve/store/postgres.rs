//! PostgreSQL storage, for teams that run several collectors behind a load balancer.
//!
//! Every insert is one statement (result and queue row together), committed before the answer:
//! with PostgreSQL's default `synchronous_commit = on` it is durable when the 200 goes out.
//! Migrations run under an advisory lock, so collectors starting together do not race, and the
//! forwarding queue is claimed with `FOR UPDATE SKIP LOCKED` plus a lease, so two collectors never
//! post the same result at the same time. Connections are a small set of pipelined clients that
//! reconnect when the server closed them.

use super::tls::Target;
use super::{sql, Delivery, Stored, SummaryRow, SummaryRows, Transition, TruthRows};
use crate::serve::outcome::AcceptedOutcome;
use crate::serve::validate::Accepted;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::Mutex;
use tokio_postgres::{Client, GenericClient, Statement};

/// Any fixed number that identifies this schema's migration lock.
const MIGRATION_LOCK: i64 = 0x6c65_6164_7363_6f72;

const MIGRATIONS: &[&str] = &[
    // 1: results and the forwarding queue.
    "CREATE TABLE tier_results (
        id BIGSERIAL PRIMARY KEY,
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
        result_id BIGINT NOT NULL,
        PRIMARY KEY (model_id, visitor_id)
    );
    CREATE INDEX visitor_tiers_tier ON visitor_tiers (tier);
    CREATE TABLE forward_queue (
        result_id BIGINT PRIMARY KEY REFERENCES tier_results (id),
        attempts BIGINT NOT NULL DEFAULT 0,
        next_attempt_ms BIGINT NOT NULL,
        last_error TEXT,
        delivered_ms BIGINT
    );
    CREATE INDEX forward_queue_due ON forward_queue (delivered_ms, next_attempt_ms);",
    // 2: refused deliveries; counters kept by triggers so that the summary reads a few hundred
    // rows whatever the number of results. Each connection writes its own shard of the counters
    // (`SET leadscore.shard`), so concurrent commits never wait for each other on a counter row.
    "ALTER TABLE forward_queue ADD COLUMN refused_ms BIGINT;
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
        model_version TEXT NOT NULL, tier TEXT NOT NULL, results BIGINT NOT NULL,
        first_at TEXT NOT NULL, last_at TEXT NOT NULL,
        PRIMARY KEY (shard, day, model_id, model_version, tier));
    CREATE TABLE version_visitors (
        model_id TEXT NOT NULL, model_version TEXT NOT NULL, visitor_id TEXT NOT NULL,
        PRIMARY KEY (model_id, model_version, visitor_id));
    CREATE TABLE version_visitor_counts (
        shard INTEGER NOT NULL, model_id TEXT NOT NULL, model_version TEXT NOT NULL,
        visitors BIGINT NOT NULL, PRIMARY KEY (shard, model_id, model_version));
    CREATE TABLE current_tier_counts (
        shard INTEGER NOT NULL, tier TEXT NOT NULL, visitors BIGINT NOT NULL,
        PRIMARY KEY (shard, tier));
    CREATE TABLE forward_counts (
        shard INTEGER NOT NULL PRIMARY KEY, pending BIGINT NOT NULL DEFAULT 0,
        delivered BIGINT NOT NULL DEFAULT 0, refused BIGINT NOT NULL DEFAULT 0);
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
    CREATE FUNCTION leadscore_shard() RETURNS INTEGER LANGUAGE sql STABLE AS
        $$ SELECT COALESCE(NULLIF(current_setting('leadscore.shard', true), ''), '0')::INTEGER $$;
    CREATE FUNCTION leadscore_count_result() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
        INSERT INTO result_counts AS c (shard, day, model_id, model_version, tier, results, first_at, last_at)
            VALUES (leadscore_shard(), NEW.day, NEW.model_id, NEW.model_version, NEW.tier, 1, NEW.at, NEW.at)
            ON CONFLICT (shard, day, model_id, model_version, tier) DO UPDATE SET
                results = c.results + 1, first_at = LEAST(c.first_at, excluded.first_at),
                last_at = GREATEST(c.last_at, excluded.last_at);
        INSERT INTO version_visitors (model_id, model_version, visitor_id)
            VALUES (NEW.model_id, NEW.model_version, NEW.visitor_id) ON CONFLICT DO NOTHING;
        RETURN NULL; END $$;
    CREATE TRIGGER tier_results_counts AFTER INSERT ON tier_results
        FOR EACH ROW EXECUTE FUNCTION leadscore_count_result();
    CREATE FUNCTION leadscore_count_version_visitor() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
        INSERT INTO version_visitor_counts AS c (shard, model_id, model_version, visitors)
            VALUES (leadscore_shard(), NEW.model_id, NEW.model_version, 1)
            ON CONFLICT (shard, model_id, model_version) DO UPDATE SET visitors = c.visitors + 1;
        RETURN NULL; END $$;
    CREATE TRIGGER version_visitors_counts AFTER INSERT ON version_visitors
        FOR EACH ROW EXECUTE FUNCTION leadscore_count_version_visitor();
    CREATE FUNCTION leadscore_count_tier(tier_name TEXT, delta INTEGER) RETURNS void LANGUAGE sql AS $$
        INSERT INTO current_tier_counts AS c (shard, tier, visitors) VALUES (leadscore_shard(), tier_name, delta)
            ON CONFLICT (shard, tier) DO UPDATE SET visitors = c.visitors + delta $$;
    CREATE FUNCTION leadscore_count_visitor_tier() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
        IF TG_OP = 'INSERT' THEN
            PERFORM leadscore_count_tier(NEW.tier, 1);
        ELSIF OLD.tier IS DISTINCT FROM NEW.tier THEN
            PERFORM leadscore_count_tier(NEW.tier, 1);
            PERFORM leadscore_count_tier(OLD.tier, -1);
        END IF;
        RETURN NULL; END $$;
    CREATE TRIGGER visitor_tiers_counts AFTER INSERT OR UPDATE OF tier ON visitor_tiers
        FOR EACH ROW EXECUTE FUNCTION leadscore_count_visitor_tier();
    CREATE FUNCTION leadscore_count_forward(d_pending INTEGER, d_delivered INTEGER, d_refused INTEGER)
        RETURNS void LANGUAGE sql AS $$
        INSERT INTO forward_counts AS c (shard, pending, delivered, refused)
            VALUES (leadscore_shard(), d_pending, d_delivered, d_refused)
            ON CONFLICT (shard) DO UPDATE SET pending = c.pending + d_pending,
                delivered = c.delivered + d_delivered, refused = c.refused + d_refused $$;
    CREATE FUNCTION leadscore_count_forward_row() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
        IF TG_OP = 'INSERT' THEN
            PERFORM leadscore_count_forward(1, 0, 0);
        ELSIF OLD.delivered_ms IS NULL AND NEW.delivered_ms IS NOT NULL THEN
            PERFORM leadscore_count_forward(-1, 1, 0);
        ELSIF OLD.refused_ms IS NULL AND NEW.refused_ms IS NOT NULL THEN
            PERFORM leadscore_count_forward(-1, 0, 1);
        END IF;
        RETURN NULL; END $$;
    CREATE TRIGGER forward_queue_counts AFTER INSERT OR UPDATE OF delivered_ms, refused_ms ON forward_queue
        FOR EACH ROW EXECUTE FUNCTION leadscore_count_forward_row();",
    // 3: rule summaries sent with results, and outcomes (what sales made of a lead).
    "ALTER TABLE tier_results ADD COLUMN rules TEXT;
    CREATE INDEX tier_results_lead ON tier_results (lead_id) WHERE lead_id IS NOT NULL;
    CREATE TABLE outcomes (
        id BIGSERIAL PRIMARY KEY,
        outcome_id TEXT NOT NULL UNIQUE,
        lead_id TEXT,
        visitor_id TEXT,
        outcome TEXT NOT NULL,
        value DOUBLE PRECISION,
        at TEXT,
        payload TEXT NOT NULL,
        received_at TEXT NOT NULL
    );
    CREATE INDEX outcomes_lead ON outcomes (lead_id);
    CREATE INDEX outcomes_visitor ON outcomes (visitor_id);",
];

/// One open connection and its prepared insert.
#[derive(Clone)]
struct Conn {
    client: Arc<Client>,
    insert: Statement,
}

pub struct PgStore {
    url: String,
    target: Target,
    slots: Vec<Mutex<Option<Conn>>>,
    next: AtomicUsize,
    forwarding: bool,
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

fn pg_err(e: tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => e.to_string(),
    }
}

async fn connect(target: &Target) -> Result<Client, String> {
    let (client, connection) = target
        .config
        .connect(target.tls.clone())
        .await
        .map_err(|e| format!("cannot connect to PostgreSQL: {}", pg_err(e)))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(error = %e, "PostgreSQL connection closed");
        }
    });
    Ok(client)
}

impl PgStore {
    pub async fn open(url: &str, forwarding: bool, connections: usize) -> Result<PgStore, String> {
        let target = super::tls::target(url)?;
        let mut client = connect(&target).await?;
        migrate(&mut client).await?;
        let first = prepare(client).await?;
        let mut slots: Vec<Mutex<Option<Conn>>> =
            (0..connections.max(1)).map(|_| Mutex::new(None)).collect();
        if let Some(slot) = slots.first_mut() {
            *slot = Mutex::new(Some(first));
        }
        Ok(PgStore {
            url: url.to_owned(),
            target,
            slots,
            next: AtomicUsize::new(0),
            forwarding,
        })
    }

    /// `postgres://host:port/db` without user and password.
    pub fn describe(&self) -> String {
        let rest = self
            .url
            .split_once("://")
            .map_or(self.url.as_str(), |(_, rest)| rest);
        let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
        let rest = rest.split('?').next().unwrap_or_default();
        format!("postgres://{rest} (sslmode {:?})", self.target.mode)
    }

    /// The next connection, reconnected if the server closed it.
    async fn conn(&self) -> Result<Conn, String> {
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len().max(1);
        let slot = self.slots.get(index).ok_or("no connection slot")?;
        let mut slot = slot.lock().await;
        if let Some(conn) = slot.as_ref().filter(|c| !c.client.is_closed()) {
            return Ok(conn.clone());
        }
        let client = connect(&self.target).await?;
        client
            .batch_execute(&format!("SET leadscore.shard = '{index}'"))
            .await
            .map_err(pg_err)?;
        let conn = prepare(client).await?;
        *slot = Some(conn.clone());
        Ok(conn)
    }

    async fn client(&self) -> Result<Arc<Client>, String> {
        Ok(self.conn().await?.client)
    }

    pub async fn insert(&self, accepted: Accepted, received_at: String) -> Result<Stored, String> {
        let conn = self.conn().await?;
        let r = &accepted.result;
        let schema = i32::try_from(r.schema).map_err(err)?;
        let row = conn
            .client
            .query_one(
                &conn.insert,
                &[
                    &r.event_id,
                    &schema,
                    &r.tier,
                    &r.previous_tier,
                    &r.model_id,
                    &r.model_version,
                    &r.visitor_id,
                    &r.lead_id,
                    &r.at,
                    &accepted.day,
                    &accepted.scores_json,
                    &accepted.payload,
                    &received_at,
                    &self.forwarding,
                    &accepted.rules_json,
                ],
            )
            .await
            .map_err(pg_err)?;
        let inserted: i64 = row.try_get(0).map_err(pg_err)?;
        if inserted > 0 {
            return Ok(Stored::New);
        }
        // Rare (a retry): compare with what was stored under this event_id.
        let before = conn
            .client
            .query_opt(
                "SELECT payload FROM tier_results WHERE event_id = $1",
                &[&r.event_id],
            )
            .await
            .map_err(pg_err)?;
        let before: Option<String> = match before {
            Some(row) => Some(row.try_get(0).map_err(pg_err)?),
            None => None,
        };
        Ok(Stored::again(before.as_deref(), &accepted.payload))
    }

    /// Stores outcomes, each once per `outcome_id`: one on a shared connection, several (an
    /// import) in one transaction on a connection of their own.
    pub async fn insert_outcomes(
        &self,
        outcomes: Vec<AcceptedOutcome>,
        received_at: String,
    ) -> Result<Vec<Stored>, String> {
        if let [one] = outcomes.as_slice() {
            let client = self.client().await?;
            return Ok(vec![
                store_outcome(client.as_ref(), one, &received_at).await?,
            ]);
        }
        let mut client = connect(&self.target).await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        let mut stored = Vec::with_capacity(outcomes.len());
        for o in &outcomes {
            stored.push(store_outcome(&tx, o, &received_at).await?);
        }
        tx.commit().await.map_err(pg_err)?;
        Ok(stored)
    }

    pub async fn truth_rows(&self) -> Result<TruthRows, String> {
        let client = self.client().await?;
        let mut rows = TruthRows::default();
        for r in client
            .query(sql::TRUTH_REACHED, &[])
            .await
            .map_err(pg_err)?
        {
            rows.reached.push((
                r.try_get(0).map_err(pg_err)?,
                r.try_get(1).map_err(pg_err)?,
                r.try_get(2).map_err(pg_err)?,
                r.try_get(3).map_err(pg_err)?,
                r.try_get(4).map_err(pg_err)?,
            ));
        }
        for r in client.query(sql::TRUTH_LEADS, &[]).await.map_err(pg_err)? {
            rows.leads
                .push((r.try_get(0).map_err(pg_err)?, r.try_get(1).map_err(pg_err)?));
        }
        for r in client
            .query(sql::TRUTH_OUTCOMES, &[])
            .await
            .map_err(pg_err)?
        {
            rows.outcomes.push((
                r.try_get(0).map_err(pg_err)?,
                r.try_get(1).map_err(pg_err)?,
                r.try_get(2).map_err(pg_err)?,
                r.try_get(3).map_err(pg_err)?,
            ));
        }
        Ok(rows)
    }

    pub async fn rule_summaries(&self, model_id: String) -> Result<Vec<SummaryRow>, String> {
        let client = self.client().await?;
        let mut rows = Vec::new();
        for r in client
            .query(sql::RULE_SUMMARIES, &[&model_id])
            .await
            .map_err(pg_err)?
        {
            rows.push((
                r.try_get(0).map_err(pg_err)?,
                r.try_get(1).map_err(pg_err)?,
                r.try_get(2).map_err(pg_err)?,
                r.try_get(3).map_err(pg_err)?,
                r.try_get(4).map_err(pg_err)?,
                r.try_get(5).map_err(pg_err)?,
            ));
        }
        Ok(rows)
    }

    pub async fn claim_deliveries(
        &self,
        now_ms: i64,
        lease_until_ms: i64,
        limit: i64,
    ) -> Result<Vec<Delivery>, String> {
        let client = self.client().await?;
        let rows = client
            .query(
                "UPDATE forward_queue q SET next_attempt_ms = $2 FROM tier_results r
                 WHERE r.id = q.result_id AND q.result_id IN (
                    SELECT result_id FROM forward_queue
                    WHERE delivered_ms IS NULL AND refused_ms IS NULL AND next_attempt_ms <= $1
                    ORDER BY result_id LIMIT $3 FOR UPDATE SKIP LOCKED)
                 RETURNING q.result_id, r.event_id, q.attempts, r.payload",
                &[&now_ms, &lease_until_ms, &limit],
            )
            .await
            .map_err(pg_err)?;
        let mut deliveries = rows
            .iter()
            .map(|row| {
                Ok(Delivery {
                    result_id: row.try_get(0).map_err(pg_err)?,
                    event_id: row.try_get(1).map_err(pg_err)?,
                    attempts: row.try_get(2).map_err(pg_err)?,
                    payload: row.try_get(3).map_err(pg_err)?,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        deliveries.sort_by_key(|d| d.result_id);
        Ok(deliveries)
    }

    pub async fn mark_delivered(&self, result_id: i64, now_ms: i64) -> Result<(), String> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE forward_queue SET delivered_ms = $2, attempts = attempts + 1, last_error = NULL
                 WHERE result_id = $1",
                &[&result_id, &now_ms],
            )
            .await
            .map_err(pg_err)?;
        Ok(())
    }

    pub async fn mark_failed(
        &self,
        result_id: i64,
        next_attempt_ms: i64,
        error: String,
    ) -> Result<(), String> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE forward_queue SET next_attempt_ms = $2, attempts = attempts + 1, last_error = $3
                 WHERE result_id = $1",
                &[&result_id, &next_attempt_ms, &error],
            )
            .await
            .map_err(pg_err)?;
        Ok(())
    }

    pub async fn mark_refused(
        &self,
        result_id: i64,
        now_ms: i64,
        error: String,
    ) -> Result<(), String> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE forward_queue SET refused_ms = $2, attempts = attempts + 1, last_error = $3
                 WHERE result_id = $1",
                &[&result_id, &now_ms, &error],
            )
            .await
            .map_err(pg_err)?;
        Ok(())
    }

    pub async fn summary_rows(&self, since_day: String) -> Result<SummaryRows, String> {
        let client = self.client().await?;
        let count = |query: &'static str| {
            let client = Arc::clone(&client);
            async move {
                let row = client.query_one(query, &[]).await.map_err(pg_err)?;
                row.try_get::<_, i64>(0).map_err(pg_err)
            }
        };
        let pairs = |query: &'static str| {
            let client = Arc::clone(&client);
            async move {
                let rows = client.query(query, &[]).await.map_err(pg_err)?;
                rows.iter()
                    .map(|r| Ok((r.try_get(0).map_err(pg_err)?, r.try_get(1).map_err(pg_err)?)))
                    .collect::<Result<Vec<(String, i64)>, String>>()
            }
        };
        let mut rows = SummaryRows {
            total: count(sql::TOTAL).await?,
            ..SummaryRows::default()
        };
        let per_day = client
            .query(&sql::PER_DAY.replace("{since}", "$1"), &[&since_day])
            .await
            .map_err(pg_err)?;
        rows.per_day = per_day
            .iter()
            .map(|r| {
                Ok((
                    r.try_get(0).map_err(pg_err)?,
                    r.try_get(1).map_err(pg_err)?,
                    r.try_get(2).map_err(pg_err)?,
                ))
            })
            .collect::<Result<_, String>>()?;
        rows.per_tier = pairs(sql::PER_TIER).await?;
        rows.current_per_tier = pairs(sql::CURRENT_PER_TIER).await?;
        rows.latest = client
            .query(sql::LATEST, &[])
            .await
            .map_err(pg_err)?
            .iter()
            .map(|r| {
                Ok(Transition {
                    at: r.try_get(0).map_err(pg_err)?,
                    previous_tier: r.try_get(1).map_err(pg_err)?,
                    tier: r.try_get(2).map_err(pg_err)?,
                    visitor_id: r.try_get(3).map_err(pg_err)?,
                    lead_id: r.try_get(4).map_err(pg_err)?,
                    model_id: r.try_get(5).map_err(pg_err)?,
                    model_version: r.try_get(6).map_err(pg_err)?,
                })
            })
            .collect::<Result<_, String>>()?;
        rows.versions = client
            .query(sql::VERSIONS, &[])
            .await
            .map_err(pg_err)?
            .iter()
            .map(|r| {
                Ok((
                    r.try_get(0).map_err(pg_err)?,
                    r.try_get(1).map_err(pg_err)?,
                    r.try_get(2).map_err(pg_err)?,
                    r.try_get(3).map_err(pg_err)?,
                    r.try_get(4).map_err(pg_err)?,
                    r.try_get(5).map_err(pg_err)?,
                ))
            })
            .collect::<Result<_, String>>()?;
        rows.version_tiers = client
            .query(sql::VERSION_TIERS, &[])
            .await
            .map_err(pg_err)?
            .iter()
            .map(|r| {
                Ok((
                    r.try_get(0).map_err(pg_err)?,
                    r.try_get(1).map_err(pg_err)?,
                    r.try_get(2).map_err(pg_err)?,
                    r.try_get(3).map_err(pg_err)?,
                ))
            })
            .collect::<Result<_, String>>()?;
        rows.pending = count(sql::PENDING).await?;
        rows.delivered = count(sql::DELIVERED).await?;
        rows.refused = count(sql::REFUSED).await?;
        rows.last_refusal = match client
            .query_opt(sql::LAST_REFUSAL, &[])
            .await
            .map_err(pg_err)?
        {
            Some(row) => row.try_get(0).map_err(pg_err)?,
            None => None,
        };
        rows.last_error = match client
            .query_opt(sql::LAST_ERROR, &[])
            .await
            .map_err(pg_err)?
        {
            Some(row) => row.try_get(0).map_err(pg_err)?,
            None => None,
        };
        Ok(rows)
    }
}

/// Stores one outcome once per `outcome_id`; a used id is a duplicate or a conflict.
async fn store_outcome(
    client: &impl GenericClient,
    o: &AcceptedOutcome,
    received_at: &str,
) -> Result<Stored, String> {
    let r = &o.report;
    let changed = client
        .execute(
            "INSERT INTO outcomes (outcome_id, lead_id, visitor_id, outcome, value, at, payload, received_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (outcome_id) DO NOTHING",
            &[
                &r.outcome_id,
                &r.lead_id,
                &r.visitor_id,
                &o.kind.name(),
                &r.value,
                &r.at,
                &o.payload,
                &received_at,
            ],
        )
        .await
        .map_err(pg_err)?;
    if changed > 0 {
        return Ok(Stored::New);
    }
    let before = client
        .query_opt(
            "SELECT payload FROM outcomes WHERE outcome_id = $1",
            &[&r.outcome_id],
        )
        .await
        .map_err(pg_err)?;
    let before: Option<String> = match before {
        Some(row) => Some(row.try_get(0).map_err(pg_err)?),
        None => None,
    };
    Ok(Stored::again(before.as_deref(), &o.payload))
}

/// Prepares the insert once per connection (one round trip per result instead of two).
async fn prepare(client: Client) -> Result<Conn, String> {
    // One statement, so one transaction: the result, its queue row and the visitor's tier.
    let statement = "WITH ins AS (
                    INSERT INTO tier_results (event_id, schema, tier, previous_tier, model_id, model_version,
                        visitor_id, lead_id, at, day, scores, payload, received_at, rules)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $15)
                    ON CONFLICT (event_id) DO NOTHING RETURNING id),
                 queued AS (
                    INSERT INTO forward_queue (result_id, next_attempt_ms) SELECT id, 0 FROM ins WHERE $14
                    RETURNING result_id),
                 latest AS (
                    INSERT INTO visitor_tiers (model_id, visitor_id, tier, at, result_id)
                    SELECT $5, $7, $3, $9, id FROM ins {CONFLICT} RETURNING 1)
                 SELECT (SELECT COUNT(*) FROM ins), (SELECT COUNT(*) FROM queued), (SELECT COUNT(*) FROM latest)"
        .replace("{CONFLICT}", sql::VISITOR_TIER_CONFLICT);
    let insert = client.prepare(&statement).await.map_err(pg_err)?;
    Ok(Conn {
        client: Arc::new(client),
        insert,
    })
}

async fn migrate(client: &mut Client) -> Result<(), String> {
    let tx = client.transaction().await.map_err(pg_err)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(pg_err)?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS leadscore_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")
        .await
        .map_err(pg_err)?;
    let row = tx
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM leadscore_migrations",
            &[],
        )
        .await
        .map_err(pg_err)?;
    let version: i32 = row.try_get(0).map_err(pg_err)?;
    let known = i32::try_from(MIGRATIONS.len()).map_err(err)?;
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
        tx.batch_execute(migration)
            .await
            .map_err(|e| format!("migration {}: {}", index + 1, pg_err(e)))?;
        let number = i32::try_from(index + 1).map_err(err)?;
        tx.execute(
            "INSERT INTO leadscore_migrations (version) VALUES ($1)",
            &[&number],
        )
        .await
        .map_err(pg_err)?;
    }
    tx.commit().await.map_err(pg_err)
}
