//! Closing tasks with their receipts, a batch per transaction: the worker's confirmed
//! answers of one provider call (up to a batch of 100 for HubSpot) are written in ONE commit,
//! so a drain pays one durable commit (SQLite's WAL fsync, PostgreSQL's commit) per batch
//! instead of one per task, and holds the chain head's lock once per batch.
//!
//! Every statement is multi-row: the fenced close (`UPDATE ... RETURNING id` of the listed
//! `(id, attempt)` pairs still in flight, see [`fenced`]), then the receipts, built from the
//! tasks as the worker claimed them; the chain head is moved once. A confirmed attempt is recorded by its receipt (task, attempt number, time), not
//! by an `attempts` row as well (migration 0003, which gives the whole history as the view
//! `attempt_history`).

use std::collections::HashSet;

use optout_core::Receipt;
use sqlx::Row;

use super::{outcome_str, rows_per_statement, Dialect, SqlStore, RECEIPT_COLS};
use crate::args::Args;
use crate::chain;
use crate::deadline::to_ms;
use crate::model::{ReceiptRecord, Task};
use crate::Error;

/// The fence of a multi-row update, `pairs` being `(id, attempt)` rows: only the tasks still
/// in flight under those attempts. PostgreSQL joins the list (a hash join): written
/// `(id, attempt) IN (VALUES ...)` its generic plan was a nested loop comparing every in-flight
/// task with every pair (`EXPLAIN ANALYZE`, 300 in flight, a close of 100: 17-21 ms against
/// 3-13 ms joined; `pg_stat_statements`: the close was the drain's costliest statement).
pub(crate) fn fenced(dialect: Dialect, pairs: &str) -> String {
    match dialect {
        Dialect::Sqlite => {
            format!("WHERE state = 'in_flight' AND (id, attempt) IN (VALUES {pairs})")
        }
        Dialect::Postgres => format!(
            "FROM (VALUES {pairs}) AS v WHERE tasks.id = v.column1 \
             AND tasks.attempt = v.column2 AND tasks.state = 'in_flight'"
        ),
    }
}

impl SqlStore {
    /// See [`Store::complete_many`](crate::Store::complete_many). The receipts are built from
    /// the tasks as claimed (their columns are never changed after the accept); the close
    /// answers only which tasks it closed, so a fenced task gets no receipt.
    pub(crate) async fn close_with_receipts(
        &self,
        done: &[(&Task, &Receipt)],
    ) -> Result<Vec<Option<ReceiptRecord>>, Error> {
        if done.is_empty() {
            return Ok(Vec::new());
        }
        let now = crate::Store::now(self);
        let mut tx = self.pool.begin().await.map_err(|e| self.err(e))?;
        // The fenced writes come first: they take the write lock (SQLite) or the rows' locks
        // (PostgreSQL) before anything is read.
        let mut closed: HashSet<i64> = HashSet::with_capacity(done.len());
        for part in done.chunks(rows_per_statement(self.dialect)) {
            let mut a = Args::new(self.dialect);
            let at = a.push(to_ms(now));
            let pairs = part
                .iter()
                .map(|(t, _)| format!("({}, {})", a.push(t.lease.task_id), a.push(t.lease.attempt)))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "UPDATE tasks SET state = 'done', lease_owner = NULL, lease_until = NULL, \
                 last_error = NULL, updated_at = {at} {} RETURNING id",
                fenced(self.dialect, &pairs)
            );
            for row in a
                .query(&sql)
                .fetch_all(&mut *tx)
                .await
                .map_err(|e| self.err(e))?
            {
                closed.insert(row.try_get("id").map_err(|e| self.err(e))?);
            }
        }
        if closed.is_empty() {
            tx.rollback().await.map_err(|e| self.err(e))?;
            return Ok(vec![None; done.len()]);
        }
        // The chain head row serialises receipt writers: taken once for the whole batch.
        let head =
            sqlx::query("UPDATE chain_head SET seq = seq + $1 WHERE id = 1 RETURNING seq, hash")
                .bind(closed.len() as i64)
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
        let last_seq: i64 = head.try_get("seq").map_err(|e| self.err(e))?;
        let mut prev: String = head.try_get("hash").map_err(|e| self.err(e))?;
        let mut seq = last_seq - closed.len() as i64;
        let mut out = Vec::with_capacity(done.len());
        let mut records = Vec::with_capacity(closed.len());
        for (t, receipt) in done {
            if !closed.remove(&t.lease.task_id) {
                out.push(None);
                continue;
            }
            seq += 1;
            let mut record = ReceiptRecord {
                seq,
                opt_out_id: t.opt_out_id.clone(),
                task_id: t.lease.task_id,
                provider: t.provider,
                recipient: t.recipient.clone(),
                topics: t.topics.clone(),
                outcome: receipt.outcome,
                reference: receipt.reference.clone(),
                received_at: t.received_at,
                completed_at: now,
                deadline: t.deadline,
                deadline_met: now <= t.deadline,
                attempts: t.lease.attempt,
                legal_basis: t.legal_basis.as_ref().map(|(b, _)| *b),
                legal_basis_explanation: t.explanation.clone(),
                source: t.source.clone(),
                prev_hash: std::mem::take(&mut prev),
                hash: String::new(),
            };
            record.hash = chain::hash(&record.prev_hash, &record);
            prev.clone_from(&record.hash);
            records.push(out.len());
            out.push(Some(record));
        }
        let written: Vec<&ReceiptRecord> =
            records.iter().filter_map(|&i| out[i].as_ref()).collect();
        for part in written.chunks(rows_per_statement(self.dialect)) {
            let mut a = Args::new(self.dialect);
            let mut values = Vec::with_capacity(part.len());
            for r in part {
                let row = [
                    a.push(r.seq),
                    a.push(r.opt_out_id.as_str()),
                    a.push(r.task_id),
                    a.push(r.provider.as_str()),
                    a.push(serde_json::to_string(&r.recipient).map_err(|e| self.err(e))?),
                    a.push(serde_json::to_string(&r.topics).map_err(|e| self.err(e))?),
                    a.push(outcome_str(r.outcome)),
                    a.push(r.reference.clone()),
                    a.push(to_ms(r.received_at)),
                    a.push(to_ms(r.completed_at)),
                    a.push(to_ms(r.deadline)),
                    a.push(i64::from(r.deadline_met)),
                    a.push(r.attempts),
                    a.push(r.legal_basis.map(|b| b.as_str().to_string())),
                    a.push(r.legal_basis_explanation.clone()),
                    a.push(r.source.clone()),
                    a.push(r.prev_hash.as_str()),
                    a.push(r.hash.as_str()),
                    a.push(r.recipient.to_string()),
                ];
                values.push(format!("({})", row.join(", ")));
            }
            let sql = format!(
                "INSERT INTO receipts ({RECEIPT_COLS}, recipient_text) VALUES {}",
                values.join(", ")
            );
            a.query(&sql)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
        }
        sqlx::query("UPDATE chain_head SET hash = $1 WHERE id = 1")
            .bind(prev)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(out)
    }
}
