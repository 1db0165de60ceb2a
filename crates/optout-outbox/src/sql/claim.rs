//! The claim: due tasks, nearest deadline first, under a lease, in one statement.

use sqlx::any::AnyRow;

use super::{Dialect, SqlStore};
use crate::args::Args;
use optout_core::Provider;

/// The claim's transaction's planner settings on PostgreSQL (see
/// `SqlStore::fetch_claim`).
const CLAIM_SETTINGS: &str = "SET LOCAL enable_bitmapscan = off";

const TASK_COLS: &str = "id, opt_out_id, provider, recipient, topics, legal_basis, \
    legal_basis_explanation, source, received_at, deadline, attempt";

impl SqlStore {
    /// The claim: the due pending tasks and the in-flight tasks whose lease ran out, nearest
    /// deadline first. Each state is read in order from its own partial index
    /// (`tasks_pending`, `tasks_in_flight`), up to the limit, and the two short lists are merged: a claim reads about `limit` rows whatever
    /// the queue's length (one query with `state = ... OR state = ...` read and sorted every
    /// pending task on every claim).
    pub(crate) fn claim_sql(
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
                 t.legal_basis, t.legal_basis_explanation, t.source, t.received_at, t.deadline, \
                 t.attempt",
                a.push(limit as i64),
                set.replace("attempt = attempt", "attempt = t.attempt")
            ),
        };
        (sql, a)
    }

    /// Runs the claim built by [`claim_sql`](Self::claim_sql). On PostgreSQL, in a
    /// transaction with bitmap scans off: without statistics (a queue filled faster than
    /// autovacuum analyzes it) the planner guesses one due task, and reads and sorts every
    /// pending task with a bitmap scan instead of walking `tasks_pending` in the claim's order and
    /// stopping at the limit; with them off the plan does not depend on the statistics
    /// (migration 0004 has the measurements).
    pub(crate) async fn fetch_claim(
        &self,
        sql: &str,
        args: Args,
    ) -> Result<Vec<AnyRow>, sqlx::Error> {
        match self.dialect {
            Dialect::Sqlite => args.query(sql).fetch_all(&self.pool).await,
            Dialect::Postgres => {
                let mut tx = self.pool.begin().await?;
                sqlx::query(CLAIM_SETTINGS).execute(&mut *tx).await?;
                let rows = args.query(sql).fetch_all(&mut *tx).await?;
                tx.commit().await?;
                Ok(rows)
            }
        }
    }
}
