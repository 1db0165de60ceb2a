//! [`Store`] over SQL, shared by both backends through sqlx's `Any` driver: the statements
//! are the same text for SQLite and PostgreSQL (`$N` binds, `RETURNING`, `ON CONFLICT`), and
//! the few that differ (the claim) come from the [`Dialect`].
//!
//! Here: accepting, claiming, renewing, failing and releasing tasks. The claim's statement is
//! in `claim`, closing tasks with their receipts in `complete`, what the store answers about
//! itself (status, counts, receipts, the chain's check) in `read`, rows into types in `decode`.

use std::collections::HashMap;
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

mod claim;
pub(crate) mod complete;
mod decode;
mod read;

use decode::task;
pub(crate) use decode::{json, legal_basis, outcome_str, provider, RECEIPT_COLS};

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
