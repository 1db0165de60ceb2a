//! The one storage trait both backends implement; the rest of the crate only sees
//! `Arc<dyn Store>`.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use optout_core::{Provider, RateShare, Receipt};

use crate::model::{
    Accepted, Failure, Lease, OptOut, OptOutStatus, ReceiptQuery, ReceiptRecord, StatusCounts,
    Task, Verification,
};
use crate::{Deadlines, Error};

/// Durable opt-outs, tasks and receipts.
///
/// Every time is the application's clock ([`Store::now`]), the same for every statement, so a
/// lease set by one worker is compared with the same clock by the next.
///
/// Writes are fenced: a [`Lease`] whose attempt is no longer the task's latest (the lease ran
/// out and another worker claimed the task) changes nothing and answers `false`/`None`.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// The clock every stored time comes from.
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    /// Stores the opt-out and one task per provider and recipient, in one committed
    /// transaction, and answers its id. With an idempotency key seen before, answers the first
    /// id (`created: false`) and stores nothing.
    async fn accept(&self, opt_out: &OptOut, deadlines: &Deadlines) -> Result<Accepted, Error> {
        let mut one = self
            .accept_many(std::slice::from_ref(opt_out), deadlines)
            .await?;
        one.pop()
            .ok_or_else(|| Error::store("accept", "the store answered no opt-out"))
    }

    /// Stores a chunk of opt-outs in ONE committed transaction, all or nothing, and answers
    /// one [`Accepted`] per opt-out, in order. Every opt-out is checked first: one invalid
    /// opt-out stores nothing. An idempotency key seen before, in an earlier chunk or earlier
    /// in this one, answers the first id (`created: false`) and stores nothing for that entry.
    async fn accept_many(
        &self,
        opt_outs: &[OptOut],
        deadlines: &Deadlines,
    ) -> Result<Vec<Accepted>, Error>;

    /// Claims up to `limit` due tasks of `providers` (pending and due, or in flight with an
    /// expired lease), nearest deadline first, each under a lease of `lease` owned by `owner`;
    /// each claim increments the task's attempt number.
    async fn claim(
        &self,
        providers: &[Provider],
        limit: usize,
        owner: &str,
        lease: Duration,
    ) -> Result<Vec<Task>, Error>;

    /// Extends the leases still held; answers how many were.
    async fn renew(&self, leases: &[Lease], lease: Duration) -> Result<usize, Error>;

    /// Writes the receipt and closes the task (as claimed: its lease fences the write, and
    /// the receipt records its opt-out, recipient, topics, legal basis, source and times) in
    /// one transaction. `None` when fenced.
    async fn complete(
        &self,
        task: &Task,
        receipt: &Receipt,
    ) -> Result<Option<ReceiptRecord>, Error>;

    /// Writes the receipts and closes the tasks of `done` (confirmed answers, e.g. one
    /// provider batch's), in order: one answer per entry, `None` where fenced. The SQL stores
    /// do it in ONE transaction, all or nothing (on an error nothing of the batch is closed:
    /// the leases run out and the tasks are claimed again); this default closes them one
    /// [`complete`](Self::complete) at a time.
    async fn complete_many(
        &self,
        done: &[(Task, Receipt)],
    ) -> Result<Vec<Option<ReceiptRecord>>, Error> {
        let mut out = Vec::with_capacity(done.len());
        for (task, receipt) in done {
            out.push(self.complete(task, receipt).await?);
        }
        Ok(out)
    }

    /// Records a failed attempt and reschedules or parks the task. `false` when fenced.
    async fn fail(&self, lease: Lease, error: &str, what: Failure) -> Result<bool, Error>;

    /// Gives a claimed task back, due now (a worker shutting down). `false` when fenced.
    async fn release(&self, lease: Lease) -> Result<bool, Error>;

    /// Puts tasks that need attention back to pending, due now: one opt-out's (`Some(id)`)
    /// or all of them. Answers how many.
    async fn retry(&self, opt_out_id: Option<&str>) -> Result<u64, Error>;

    /// One opt-out's state per provider and its receipts; `None` for an unknown id.
    async fn status(&self, opt_out_id: &str) -> Result<Option<OptOutStatus>, Error>;

    /// Task counts by provider and state, and how many are overdue.
    async fn counts(&self) -> Result<StatusCounts, Error>;

    /// The earliest time a task of `providers` becomes due (pending: its next attempt; in
    /// flight: its lease end); `None` when none is pending or in flight.
    async fn next_due(&self, providers: &[Provider]) -> Result<Option<SystemTime>, Error>;

    /// Receipts matching `query`, in chain order.
    async fn receipts(&self, query: &ReceiptQuery) -> Result<Vec<ReceiptRecord>, Error>;

    /// Checks the whole receipt chain and names the first record that does not match.
    async fn verify(&self) -> Result<Verification, Error>;

    /// Where the clients of every worker sharing this store share their rate limits (give it
    /// to their builders' `rate_share`): one statement per request, keyed by provider and
    /// account. PostgreSQL has one; SQLite answers `None`: its workers are processes on one
    /// machine, usually one, and every slot would be a write taking the file's one write
    /// lock from the outbox's own claims and receipts.
    fn rate_share(&self) -> Option<Arc<dyn RateShare>> {
        None
    }
}
