//! What the store answers about itself: one opt-out's status, the counts, the next due time,
//! receipts by query, and the chain's check.

use std::time::SystemTime;

use futures_util::TryStreamExt;
use optout_core::Provider;
use sqlx::Row;

use super::decode::{json, provider, receipt, state, RECEIPT_COLS};
use super::SqlStore;
use crate::args::Args;
use crate::chain::Checker;
use crate::deadline::{from_ms, to_ms};
use crate::model::{
    Counts, OptOutStatus, ReceiptQuery, ReceiptRecord, StatusCounts, TaskState, TaskView,
    Verification,
};
use crate::{Error, Store};

impl SqlStore {
    pub(crate) async fn load_status(
        &self,
        opt_out_id: &str,
    ) -> Result<Option<OptOutStatus>, Error> {
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

    pub(crate) async fn load_counts(&self) -> Result<StatusCounts, Error> {
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

    pub(crate) async fn load_next_due(
        &self,
        providers: &[Provider],
    ) -> Result<Option<SystemTime>, Error> {
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

    pub(crate) async fn load_receipts(
        &self,
        query: &ReceiptQuery,
    ) -> Result<Vec<ReceiptRecord>, Error> {
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

    pub(crate) async fn check_chain(&self) -> Result<Verification, Error> {
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
