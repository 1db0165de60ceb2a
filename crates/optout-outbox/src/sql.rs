//! [`Store`] over SQL, shared by both backends through sqlx's `Any` driver: the statements
//! are the same text for SQLite and PostgreSQL (`$N` binds, `RETURNING`, `ON CONFLICT`), and
//! the few that differ (the claim) come from the [`Dialect`].

use std::collections::HashMap;
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use futures_util::TryStreamExt;
use optout_core::{LegalBasis, Outcome, Provider, Receipt, Recipient, Topics};
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

use crate::args::Args;
use crate::chain::Checker;
use crate::deadline::{from_ms, to_ms};
use crate::model::{
    Accepted, Counts, Failure, Lease, OptOut, OptOutStatus, ReceiptQuery, ReceiptRecord,
    StatusCounts, Task, TaskDeadline, TaskState, TaskView, Verification,
};
use crate::{Deadlines, Error, Store};

/// Which SQL dialect a store speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

/// The store: a pool and the dialect.
#[derive(Debug, Clone)]
pub(crate) struct SqlStore {
    pub(crate) pool: AnyPool,
    pub(crate) dialect: Dialect,
    /// The store URL without its password, for messages.
    pub(crate) label: String,
}

/// The claim's transaction's planner settings on PostgreSQL (see
/// `SqlStore::claim_without_bitmaps`).
pub(crate) const CLAIM_SETTINGS: &str = "SET LOCAL enable_bitmapscan = off";

const TASK_COLS: &str = "id, opt_out_id, provider, recipient, topics, legal_basis, \
    legal_basis_explanation, deadline, attempt";
pub(crate) const RECEIPT_COLS: &str =
    "seq, opt_out_id, task_id, provider, recipient, topics, outcome, \
    reference, received_at, completed_at, deadline, deadline_met, attempts, legal_basis, \
    legal_basis_explanation, source, prev_hash, hash";

impl SqlStore {
    pub(crate) fn err(&self, e: impl std::fmt::Display) -> Error {
        Error::store(&self.label, e)
    }

    /// The claim: the due pending tasks and the in-flight tasks whose lease ran out, nearest
    /// deadline first. Each state is read in order from its own index (SQLite: the partial
    /// `tasks_pending` and `tasks_in_flight`; PostgreSQL: its slice of `tasks_due`), up to
    /// the limit, and the two short lists are merged: a claim reads about `limit` rows whatever
    /// the queue's length (one query with `state = ... OR state = ...` read and sorted every
    /// pending task on every claim).
    fn claim_sql(
        &self,
        providers: &[Provider],
        limit: usize,
        owner: &str,
        until: i64,
        now: i64,
    ) -> (String, Args) {
        let mut a = Args::new(self.dialect);
        let lock = match self.dialect {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
        };
        // The SET comes first in the text of both statements, so its values are pushed first.
        let set = format!(
            "state = 'in_flight', attempt = attempt + 1, lease_owner = {}, lease_until = {}, \
             updated_at = {}",
            a.push(owner),
            a.push(until),
            a.push(now)
        );
        let branch = |due: &str, a: &mut Args| {
            let due = due.replace("{now}", &a.push(now));
            let list = providers
                .iter()
                .map(|p| a.push(p.as_str()))
                .collect::<Vec<_>>()
                .join(", ");
            format!(
                "SELECT id, deadline, next_attempt_at FROM tasks WHERE {due} \
                 AND provider IN ({list}) ORDER BY deadline, next_attempt_at, id LIMIT {}{lock}",
                a.push(limit as i64)
            )
        };
        let pending = branch("state = 'pending' AND next_attempt_at <= {now}", &mut a);
        let expired = branch("state = 'in_flight' AND lease_until <= {now}", &mut a);
        let sql = match self.dialect {
            Dialect::Sqlite => format!(
                "UPDATE tasks SET {set} \
                 WHERE id IN (SELECT id FROM (SELECT * FROM ({pending}) \
                 UNION ALL SELECT * FROM ({expired})) \
                 ORDER BY deadline, next_attempt_at, id LIMIT {}) RETURNING {TASK_COLS}",
                a.push(limit as i64)
            ),
            // CTEs are optimisation fences: the planner cannot re-run a LIMIT subquery per
            // row and lock more than asked (Oban's note on the same query). Rows a branch
            // locked but the merge left out are free again when the statement commits.
            // (PostgreSQL numbers its parameters, so the SET's may come first in the list
            // though the statement's text names them last.)
            Dialect::Postgres => format!(
                "WITH p AS ({pending}), e AS ({expired}), \
                 c AS (SELECT id FROM (SELECT * FROM p UNION ALL SELECT * FROM e) u \
                 ORDER BY deadline, next_attempt_at, id LIMIT {}) \
                 UPDATE tasks t SET {} FROM c WHERE t.id = c.id \
                 RETURNING t.id, t.opt_out_id, t.provider, t.recipient, t.topics, \
                 t.legal_basis, t.legal_basis_explanation, t.deadline, t.attempt",
                a.push(limit as i64),
                set.replace("attempt = attempt", "attempt = t.attempt")
            ),
        };
        (sql, a)
    }

    /// The claim on PostgreSQL. Without statistics (a queue filled faster than autovacuum
    /// analyzes it) the planner guesses one due task, and reads and sorts every pending task
    /// with a bitmap scan instead of walking `tasks_due` in the claim's order and stopping at
    /// the limit; the claim's transaction turns bitmap scans off, so the plan does not depend
    /// on the statistics (migration 0004 has the measurements).
    async fn claim_without_bitmaps(
        &self,
        sql: &str,
        args: Args,
    ) -> Result<Vec<AnyRow>, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(CLAIM_SETTINGS).execute(&mut *tx).await?;
        let rows = args.query(sql).fetch_all(&mut *tx).await?;
        tx.commit().await?;
        Ok(rows)
    }

    async fn accepted_of(&self, id: &str) -> Result<Accepted, Error> {
        let row = sqlx::query("SELECT received_at FROM opt_outs WHERE id = $1")
            .bind(id)
            .fetch_one(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        let received_at = from_ms(row.try_get("received_at").map_err(|e| self.err(e))?);
        let rows = sqlx::query(
            "SELECT provider, recipient, deadline FROM tasks WHERE opt_out_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        let deadlines = rows
            .iter()
            .map(|r| {
                Ok(TaskDeadline {
                    provider: provider(r.try_get("provider")?)?,
                    recipient: json(r.try_get("recipient")?)?,
                    deadline: from_ms(r.try_get("deadline")?),
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(|e| self.err(e))?;
        Ok(Accepted {
            id: id.to_string(),
            created: false,
            received_at,
            deadlines,
        })
    }
}

#[async_trait]
impl Store for SqlStore {
    async fn accept_many(
        &self,
        opt_outs: &[OptOut],
        deadlines: &Deadlines,
    ) -> Result<Vec<Accepted>, Error> {
        // Every opt-out is checked before the transaction starts: one bad one stores nothing.
        let plans = opt_outs
            .iter()
            .map(OptOut::plan)
            .collect::<Result<Vec<_>, _>>()?;
        let now = self.now();
        // What each opt-out became: created here, or the id its key already had.
        enum Slot {
            Created(Accepted),
            Earlier(usize),
            Stored(String),
        }
        let mut slots = Vec::with_capacity(opt_outs.len());
        let mut keys: HashMap<&str, usize> = HashMap::new();
        let mut tx = self.pool.begin().await.map_err(|e| self.err(e))?;
        for (i, (opt_out, plan)) in opt_outs.iter().zip(plans).enumerate() {
            if let Some(key) = opt_out.idempotency_key.as_deref() {
                if let Some(&first) = keys.get(key) {
                    slots.push(Slot::Earlier(first));
                    continue;
                }
                keys.insert(key, i);
            }
            let received = opt_out.received_at.map_or(now, |r| r.min(now));
            let id = format!("{:032x}", fastrand::u128(..));
            let request = serde_json::to_string(opt_out).map_err(|e| self.err(e))?;
            let inserted = sqlx::query(
                "INSERT INTO opt_outs (id, idempotency_key, received_at, accepted_at, \
                 legal_basis, legal_basis_explanation, source, request) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (idempotency_key) DO NOTHING",
            )
            .bind(&id)
            .bind(opt_out.idempotency_key.clone())
            .bind(to_ms(received))
            .bind(to_ms(now))
            .bind(opt_out.legal_basis.map(|b| b.as_str().to_string()))
            .bind(opt_out.legal_basis_explanation.clone())
            .bind(opt_out.source.clone())
            .bind(request)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?
            .rows_affected();
            if inserted == 0 {
                let key = opt_out.idempotency_key.clone().unwrap_or_default();
                let row = sqlx::query("SELECT id FROM opt_outs WHERE idempotency_key = $1")
                    .bind(key)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(|e| self.err(e))?;
                slots.push(Slot::Stored(row.try_get("id").map_err(|e| self.err(e))?));
                continue;
            }
            let mut out = Vec::with_capacity(plan.len());
            for (provider, recipient, topics) in plan {
                let deadline = deadlines.deadline(provider, received);
                sqlx::query(
                    "INSERT INTO tasks (opt_out_id, provider, recipient, recipient_text, topics, \
                     legal_basis, legal_basis_explanation, source, received_at, deadline, state, \
                     attempt, next_attempt_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending', 0, $11, $11)",
                )
                .bind(&id)
                .bind(provider.as_str())
                .bind(serde_json::to_string(&recipient).map_err(|e| self.err(e))?)
                .bind(recipient.to_string())
                .bind(serde_json::to_string(&topics).map_err(|e| self.err(e))?)
                .bind(opt_out.legal_basis.map(|b| b.as_str().to_string()))
                .bind(opt_out.legal_basis_explanation.clone())
                .bind(opt_out.source.clone())
                .bind(to_ms(received))
                .bind(to_ms(deadline))
                .bind(to_ms(now))
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
                out.push(TaskDeadline {
                    provider,
                    recipient,
                    deadline,
                });
            }
            slots.push(Slot::Created(Accepted {
                id,
                created: true,
                received_at: received,
                deadlines: out,
            }));
        }
        tx.commit().await.map_err(|e| self.err(e))?;
        let mut accepted: Vec<Accepted> = Vec::with_capacity(slots.len());
        for slot in slots {
            let a = match slot {
                Slot::Created(a) => a,
                Slot::Earlier(first) => Accepted {
                    created: false,
                    ..accepted[first].clone()
                },
                Slot::Stored(id) => self.accepted_of(&id).await?,
            };
            accepted.push(a);
        }
        Ok(accepted)
    }

    async fn claim(
        &self,
        providers: &[Provider],
        limit: usize,
        owner: &str,
        lease: Duration,
    ) -> Result<Vec<Task>, Error> {
        if providers.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let now = self.now();
        let (sql, args) = self.claim_sql(providers, limit, owner, to_ms(now + lease), to_ms(now));
        let rows = match self.dialect {
            Dialect::Sqlite => args.query(&sql).fetch_all(&self.pool).await,
            Dialect::Postgres => self.claim_without_bitmaps(&sql, args).await,
        }
        .map_err(|e| self.err(e))?;
        let mut tasks = rows
            .iter()
            .map(task)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))?;
        tasks.sort_by_key(|t| (t.deadline, t.lease.task_id));
        Ok(tasks)
    }

    async fn renew(&self, leases: &[Lease], lease: Duration) -> Result<usize, Error> {
        // One statement (one commit) per slice of leases, not one per lease.
        let until = to_ms(self.now() + lease);
        let mut held = 0;
        for part in leases.chunks(500) {
            let mut a = Args::new(self.dialect);
            let set = a.push(until);
            let pairs = part
                .iter()
                .map(|l| format!("({}, {})", a.push(l.task_id), a.push(l.attempt)))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "UPDATE tasks SET lease_until = {set} {}",
                crate::sql_complete::fenced(self.dialect, &pairs)
            );
            held += a
                .query(&sql)
                .execute(&self.pool)
                .await
                .map_err(|e| self.err(e))?
                .rows_affected() as usize;
        }
        Ok(held)
    }

    async fn complete(
        &self,
        lease: Lease,
        receipt: &Receipt,
    ) -> Result<Option<ReceiptRecord>, Error> {
        Ok(self
            .close_with_receipts(&[(lease, receipt.clone())])
            .await?
            .pop()
            .flatten())
    }

    async fn complete_many(
        &self,
        done: &[(Lease, Receipt)],
    ) -> Result<Vec<Option<ReceiptRecord>>, Error> {
        self.close_with_receipts(done).await
    }

    async fn fail(&self, lease: Lease, error: &str, what: Failure) -> Result<bool, Error> {
        let now = self.now();
        let (state, next) = match what {
            Failure::RetryAt(at) => (TaskState::Pending, at),
            Failure::Park => (TaskState::NeedsAttention, now),
        };
        let mut tx = self.pool.begin().await.map_err(|e| self.err(e))?;
        let changed = sqlx::query(
            "UPDATE tasks SET state = $1, next_attempt_at = $2, last_error = $3, \
             lease_owner = NULL, lease_until = NULL, updated_at = $4 \
             WHERE id = $5 AND attempt = $6 AND state = 'in_flight'",
        )
        .bind(state.as_str())
        .bind(to_ms(next))
        .bind(error)
        .bind(to_ms(now))
        .bind(lease.task_id)
        .bind(lease.attempt)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?
        .rows_affected();
        if changed == 0 {
            tx.rollback().await.map_err(|e| self.err(e))?;
            return Ok(false);
        }
        let result = match what {
            Failure::RetryAt(_) => "retry",
            Failure::Park => "needs_attention",
        };
        record_attempt(&mut tx, lease, now, result, Some(error))
            .await
            .map_err(|e| self.err(e))?;
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(true)
    }

    async fn release(&self, lease: Lease) -> Result<bool, Error> {
        let now = to_ms(self.now());
        let changed = sqlx::query(
            "UPDATE tasks SET state = 'pending', next_attempt_at = $1, lease_owner = NULL, \
             lease_until = NULL, updated_at = $1 \
             WHERE id = $2 AND attempt = $3 AND state = 'in_flight'",
        )
        .bind(now)
        .bind(lease.task_id)
        .bind(lease.attempt)
        .execute(&self.pool)
        .await
        .map_err(|e| self.err(e))?
        .rows_affected();
        Ok(changed == 1)
    }

    async fn retry(&self, opt_out_id: Option<&str>) -> Result<u64, Error> {
        let now = to_ms(self.now());
        let q = match opt_out_id {
            Some(id) => sqlx::query(
                "UPDATE tasks SET state = 'pending', next_attempt_at = $1, updated_at = $1 \
                 WHERE state = 'needs_attention' AND opt_out_id = $2",
            )
            .bind(now)
            .bind(id.to_string()),
            None => sqlx::query(
                "UPDATE tasks SET state = 'pending', next_attempt_at = $1, updated_at = $1 \
                 WHERE state = 'needs_attention'",
            )
            .bind(now),
        };
        Ok(q.execute(&self.pool)
            .await
            .map_err(|e| self.err(e))?
            .rows_affected())
    }

    async fn status(&self, opt_out_id: &str) -> Result<Option<OptOutStatus>, Error> {
        let now = self.now();
        let Some(o) = sqlx::query("SELECT received_at, source FROM opt_outs WHERE id = $1")
            .bind(opt_out_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.err(e))?
        else {
            return Ok(None);
        };
        let rows = sqlx::query(
            "SELECT id, provider, recipient, topics, state, attempt, next_attempt_at, deadline, \
             last_error FROM tasks WHERE opt_out_id = $1 ORDER BY id",
        )
        .bind(opt_out_id)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        let tasks = rows
            .iter()
            .map(|r| {
                let state = state(r.try_get("state")?)?;
                let deadline = from_ms(r.try_get("deadline")?);
                Ok(TaskView {
                    id: r.try_get("id")?,
                    provider: provider(r.try_get("provider")?)?,
                    recipient: json(r.try_get("recipient")?)?,
                    topics: json(r.try_get("topics")?)?,
                    state,
                    attempts: r.try_get("attempt")?,
                    next_attempt_at: from_ms(r.try_get("next_attempt_at")?),
                    deadline,
                    overdue: state != TaskState::Done && deadline < now,
                    last_error: r.try_get("last_error")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(|e| self.err(e))?;
        let receipts = self
            .receipts(&ReceiptQuery::default().opt_out(opt_out_id))
            .await?;
        Ok(Some(OptOutStatus {
            id: opt_out_id.to_string(),
            received_at: from_ms(o.try_get("received_at").map_err(|e| self.err(e))?),
            source: o.try_get("source").map_err(|e| self.err(e))?,
            tasks,
            receipts,
        }))
    }

    async fn counts(&self) -> Result<StatusCounts, Error> {
        let rows = sqlx::query(
            "SELECT provider, state, COUNT(*) AS n, \
             COUNT(CASE WHEN state <> 'done' AND deadline < $1 THEN 1 END) AS overdue \
             FROM tasks GROUP BY provider, state",
        )
        .bind(to_ms(self.now()))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        let mut out = StatusCounts::default();
        for r in &rows {
            let p = provider(r.try_get("provider").map_err(|e| self.err(e))?)
                .map_err(|e| self.err(e))?;
            let s = state(r.try_get("state").map_err(|e| self.err(e))?).map_err(|e| self.err(e))?;
            let n: i64 = r.try_get("n").map_err(|e| self.err(e))?;
            let overdue: i64 = r.try_get("overdue").map_err(|e| self.err(e))?;
            let mut c = Counts {
                overdue: overdue as u64,
                ..Counts::default()
            };
            match s {
                TaskState::Pending => c.pending = n as u64,
                TaskState::InFlight => c.in_flight = n as u64,
                TaskState::Done => c.done = n as u64,
                TaskState::NeedsAttention => c.needs_attention = n as u64,
            }
            out.total.add(&c);
            out.providers.entry(p).or_default().add(&c);
        }
        Ok(out)
    }

    fn rate_share(&self) -> Option<std::sync::Arc<dyn optout_core::RateShare>> {
        (self.dialect == Dialect::Postgres).then(|| {
            std::sync::Arc::new(crate::rate_share::PgRateShare {
                pool: self.pool.clone(),
                label: self.label.clone(),
            }) as _
        })
    }

    async fn next_due(&self, providers: &[Provider]) -> Result<Option<SystemTime>, Error> {
        if providers.is_empty() {
            return Ok(None);
        }
        // One MIN per state, each over that state's index (slice).
        let mut a = Args::new(self.dialect);
        let mut list = || {
            providers
                .iter()
                .map(|p| a.push(p.as_str()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let (pending, in_flight) = (list(), list());
        let sql = format!(
            "SELECT MIN(t) AS t FROM (\
             SELECT MIN(next_attempt_at) AS t FROM tasks \
             WHERE state = 'pending' AND provider IN ({pending}) \
             UNION ALL SELECT MIN(lease_until) AS t FROM tasks \
             WHERE state = 'in_flight' AND provider IN ({in_flight})) u"
        );
        let q = a.query(&sql);
        let row = q.fetch_one(&self.pool).await.map_err(|e| self.err(e))?;
        let t: Option<i64> = row.try_get("t").map_err(|e| self.err(e))?;
        Ok(t.map(from_ms))
    }

    async fn receipts(&self, query: &ReceiptQuery) -> Result<Vec<ReceiptRecord>, Error> {
        let mut sql = format!("SELECT {RECEIPT_COLS} FROM receipts WHERE 1 = 1");
        let mut n = 0;
        let mut next = || {
            n += 1;
            format!("${n}")
        };
        if query.recipient.is_some() {
            sql += &format!(" AND recipient_text = {}", next());
        }
        if query.provider.is_some() {
            sql += &format!(" AND provider = {}", next());
        }
        if query.since.is_some() {
            sql += &format!(" AND completed_at >= {}", next());
        }
        if query.until.is_some() {
            sql += &format!(" AND completed_at < {}", next());
        }
        if query.opt_out_id.is_some() {
            // Through the opt-out's tasks (indexed), not an index of receipts by opt-out.
            sql += &format!(
                " AND task_id IN (SELECT id FROM tasks WHERE opt_out_id = {})",
                next()
            );
        }
        sql += " ORDER BY seq";
        let mut q = sqlx::query(&sql);
        if let Some(r) = &query.recipient {
            q = q.bind(r.trim().to_string());
        }
        if let Some(p) = query.provider {
            q = q.bind(p.as_str());
        }
        if let Some(t) = query.since {
            q = q.bind(to_ms(t));
        }
        if let Some(t) = query.until {
            q = q.bind(to_ms(t));
        }
        if let Some(id) = &query.opt_out_id {
            q = q.bind(id.clone());
        }
        let rows = q.fetch_all(&self.pool).await.map_err(|e| self.err(e))?;
        rows.iter()
            .map(receipt)
            .collect::<Result<_, _>>()
            .map_err(|e| self.err(e))
    }

    async fn verify(&self) -> Result<Verification, Error> {
        let mut checker = Checker::default();
        {
            let sql = format!("SELECT {RECEIPT_COLS} FROM receipts ORDER BY seq");
            let mut rows = sqlx::query(&sql).fetch(&self.pool);
            while let Some(row) = rows.try_next().await.map_err(|e| self.err(e))? {
                checker.push(&receipt(&row).map_err(|e| self.err(e))?);
            }
        }
        let head = sqlx::query("SELECT seq, hash FROM chain_head WHERE id = 1")
            .fetch_one(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        let seq: i64 = head.try_get("seq").map_err(|e| self.err(e))?;
        let hash: String = head.try_get("hash").map_err(|e| self.err(e))?;
        Ok(checker.finish(seq, &hash))
    }
}

async fn record_attempt(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    lease: Lease,
    now: SystemTime,
    result: &str,
    error: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO attempts (task_id, attempt, finished_at, result, error) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (task_id, attempt) DO NOTHING",
    )
    .bind(lease.task_id)
    .bind(lease.attempt)
    .bind(to_ms(now))
    .bind(result)
    .bind(error.map(str::to_string))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn decode_err(what: &str, e: impl std::fmt::Display) -> sqlx::Error {
    sqlx::Error::Decode(format!("{what}: {e}").into())
}

pub(crate) fn provider(s: String) -> Result<Provider, sqlx::Error> {
    Provider::from_str(&s).map_err(|e| decode_err("provider", e))
}

fn state(s: String) -> Result<TaskState, sqlx::Error> {
    TaskState::parse(&s).ok_or_else(|| decode_err("state", s))
}

pub(crate) fn json<T: serde::de::DeserializeOwned>(s: String) -> Result<T, sqlx::Error> {
    serde_json::from_str(&s).map_err(|e| decode_err("stored JSON", e))
}

pub(crate) fn legal_basis(s: Option<String>) -> Result<Option<LegalBasis>, sqlx::Error> {
    s.map(|s| LegalBasis::from_str(&s).map_err(|e| decode_err("legal basis", e)))
        .transpose()
}

pub(crate) fn outcome_str(o: Outcome) -> String {
    serde_json::to_value(o)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "unsubscribed".to_string())
}

fn task(r: &AnyRow) -> Result<Task, sqlx::Error> {
    let basis = legal_basis(r.try_get("legal_basis")?)?;
    let explanation: Option<String> = r.try_get("legal_basis_explanation")?;
    Ok(Task {
        lease: Lease {
            task_id: r.try_get("id")?,
            attempt: r.try_get("attempt")?,
        },
        opt_out_id: r.try_get("opt_out_id")?,
        provider: provider(r.try_get("provider")?)?,
        recipient: json::<Recipient>(r.try_get("recipient")?)?,
        topics: json::<Topics>(r.try_get("topics")?)?,
        legal_basis: basis.map(|b| (b, explanation.unwrap_or_default())),
        deadline: from_ms(r.try_get("deadline")?),
    })
}

#[cfg(test)]
mod tests;

fn receipt(r: &AnyRow) -> Result<ReceiptRecord, sqlx::Error> {
    let outcome: String = r.try_get("outcome")?;
    Ok(ReceiptRecord {
        seq: r.try_get("seq")?,
        opt_out_id: r.try_get("opt_out_id")?,
        task_id: r.try_get("task_id")?,
        provider: provider(r.try_get("provider")?)?,
        recipient: json(r.try_get("recipient")?)?,
        topics: json(r.try_get("topics")?)?,
        outcome: serde_json::from_value(serde_json::Value::String(outcome))
            .map_err(|e| decode_err("outcome", e))?,
        reference: r.try_get("reference")?,
        received_at: from_ms(r.try_get("received_at")?),
        completed_at: from_ms(r.try_get("completed_at")?),
        deadline: from_ms(r.try_get("deadline")?),
        deadline_met: r.try_get::<i64, _>("deadline_met")? != 0,
        attempts: r.try_get("attempts")?,
        legal_basis: legal_basis(r.try_get("legal_basis")?)?,
        legal_basis_explanation: r.try_get("legal_basis_explanation")?,
        source: r.try_get("source")?,
        prev_hash: r.try_get("prev_hash")?,
        hash: r.try_get("hash")?,
    })
}
