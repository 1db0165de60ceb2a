//! [`Store`] over SQL, shared by both backends through sqlx's `Any` driver: the statements
//! are the same text for SQLite and PostgreSQL (`$N` binds, `RETURNING`, `ON CONFLICT`), and
//! the few that differ (the claim) come from the [`Dialect`].
//!
//! Here: claiming, renewing, failing and releasing tasks. Accepting opt-outs is in `accept`,
//! the claim's statement in `claim`, closing tasks with their receipts in `complete`, what the store answers about
//! itself (status, counts, receipts, the chain's check) in `read`, rows into types in `decode`.

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use optout_core::{Provider, Receipt};
use sqlx::{AnyPool, Row};

use crate::args::Args;
use crate::deadline::{from_ms, to_ms};
use crate::model::{
    Accepted, Failure, Lease, OptOut, OptOutStatus, ReceiptQuery, ReceiptRecord, StatusCounts,
    Task, TaskDeadline, TaskState, Verification,
};
use crate::{Deadlines, Error, Store};

mod accept;
mod claim;
pub(crate) mod complete;
mod decode;
mod read;

use decode::task;
pub(crate) use decode::{json, outcome_str, provider, RECEIPT_COLS};

/// Which SQL dialect a store speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

/// Rows per multi-row statement. PostgreSQL: 500 (19 binds a receipt, well under its 65,535
/// bind limit). SQLite: 100 (1,900 binds, under its default limit of 32,766): its parameters
/// are plain `?` ([`Args`]), so binding costs grow with their number, not its square.
pub(crate) fn rows_per_statement(dialect: Dialect) -> usize {
    match dialect {
        Dialect::Sqlite => 100,
        Dialect::Postgres => 500,
    }
}

/// The store: a pool and the dialect.
#[derive(Debug, Clone)]
pub(crate) struct SqlStore {
    pub(crate) pool: AnyPool,
    pub(crate) dialect: Dialect,
    /// The store URL without its password, for messages.
    pub(crate) label: String,
}

impl SqlStore {
    pub(crate) fn err(&self, e: impl std::fmt::Display) -> Error {
        Error::store(&self.label, e)
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
        self.accept_rows(opt_outs, deadlines).await
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
        let rows = self
            .fetch_claim(&sql, args)
            .await
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
                complete::fenced(self.dialect, &pairs)
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
        task: &Task,
        receipt: &Receipt,
    ) -> Result<Option<ReceiptRecord>, Error> {
        Ok(self
            .close_with_receipts(&[(task, receipt)])
            .await?
            .pop()
            .flatten())
    }

    async fn complete_many(
        &self,
        done: &[(Task, Receipt)],
    ) -> Result<Vec<Option<ReceiptRecord>>, Error> {
        let done: Vec<(&Task, &Receipt)> = done.iter().map(|(t, r)| (t, r)).collect();
        self.close_with_receipts(&done).await
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
        self.load_status(opt_out_id).await
    }

    async fn counts(&self) -> Result<StatusCounts, Error> {
        self.load_counts().await
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
        self.load_next_due(providers).await
    }

    async fn receipts(&self, query: &ReceiptQuery) -> Result<Vec<ReceiptRecord>, Error> {
        self.load_receipts(query).await
    }

    async fn verify(&self) -> Result<Verification, Error> {
        self.check_chain().await
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

#[cfg(test)]
mod tests;
