//! A durable outbox for opt-outs (ARCHITECTURE.md §8): [`Outbox::accept`] commits one person's
//! opt-out (one task per provider and recipient, each with its legal deadline) before it
//! answers; a [`Worker`] sends what is due through the application's
//! [`Unsubscriber`](optout_core::Unsubscriber)s under short leases, retries until the
//! provider confirms, and writes a hash-chained receipt in the same transaction that closes
//! the task. Nothing accepted is lost (a killed worker's tasks are claimed again when its
//! lease runs out) and nothing unconfirmed is reported done.
//!
//! Stores: SQLite (`sqlite:PATH`, one file, the default) and PostgreSQL
//! (`postgres://user:password@host/db`, many workers sharing one queue).
//!
//! ```no_run
//! # async fn run() -> Result<(), optout_outbox::Error> {
//! use optout_core::{Provider, Topics, LegalBasis};
//! use optout_outbox::{OptOut, Outbox};
//!
//! let outbox = Outbox::open("sqlite:optout.db").await?;
//! let accepted = outbox
//!     .accept(
//!         &OptOut::default()
//!             .email("alice@example.com")
//!             .topics(Provider::HubSpot, Topics::one("12345"))
//!             .legal_basis(LegalBasis::ConsentWithNotice, "clicked unsubscribe")
//!             .source("preference centre")
//!             .idempotency_key("form-4711"),
//!     )
//!     .await?;
//! // Durable from here on: the worker will send it, whatever happens to this process.
//! let status = outbox.status(&accepted.id).await?;
//! println!("{} {:?}", accepted.id, status.map(|s| s.tasks.len()));
//! # Ok(()) }
//! ```
//!
//! Sending (in the same process or another, with the same store):
//!
//! ```no_run
//! # async fn run(hubspot: std::sync::Arc<dyn optout_core::Unsubscriber>) -> Result<(), optout_outbox::Error> {
//! use optout_outbox::{Outbox, Worker, WorkerConfig};
//! let outbox = Outbox::open("sqlite:optout.db").await?;
//! let worker = Worker::new(outbox.store(), [hubspot], WorkerConfig::default());
//! let summary = worker.run_until_idle().await?;
//! println!("{} sent, {} need attention", summary.done, summary.needs_attention);
//! # Ok(()) }
//! ```

mod args;
mod chain;
mod deadline;
mod error;
mod group;
mod migrations;
mod model;
mod postgres;
mod rate_share;
mod retry;
mod sql;
mod sqlite;
mod store;
mod worker;

use std::sync::{Arc, Once};

pub use chain::{canonical, hash as chain_hash, GENESIS};
pub use deadline::{hubspot_daily_reset, Date, DeadlineRule, Deadlines};
pub use error::{redact, Error};
pub use group::GroupCommit;
pub use model::{
    Accepted, BadRecord, Counts, Failure, Lease, OptOut, OptOutStatus, ReceiptQuery, ReceiptRecord,
    StatusCounts, SubscriberId, Task, TaskDeadline, TaskState, TaskView, Verification,
};
pub use retry::{next_attempt, Backoff};
pub use store::Store;
pub use worker::{Notify, RunSummary, Worker, WorkerConfig};

/// The default store URL of the command line.
pub const DEFAULT_STORE: &str = "sqlite:optout.db";

fn install_drivers() {
    static ONCE: Once = Once::new();
    ONCE.call_once(sqlx::any::install_default_drivers);
}

/// Opens the store at `url` (`sqlite:PATH` or `postgres://...`), creating the SQLite file and
/// applying the migrations as needed.
pub async fn open(url: &str) -> Result<Arc<dyn Store>, Error> {
    let url = url.trim();
    if let Some(path) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        Ok(Arc::new(sqlite::open(path).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(postgres::open(url).await?))
    } else {
        Err(Error::Url(format!(
            "`{}` is not a store URL; use sqlite:PATH or postgres://user:password@host:port/db",
            redact(url)
        )))
    }
}

/// The application's handle: a store and the deadline rules new opt-outs get.
#[derive(Debug, Clone)]
pub struct Outbox {
    store: Arc<dyn Store>,
    deadlines: Deadlines,
    group: Option<GroupCommit>,
}

impl Outbox {
    /// Opens the store at `url` with the default deadlines (§10).
    pub async fn open(url: &str) -> Result<Outbox, Error> {
        Ok(Outbox::new(open(url).await?))
    }

    /// An outbox over an open store.
    pub fn new(store: Arc<dyn Store>) -> Outbox {
        Outbox {
            store,
            deadlines: Deadlines::default(),
            group: None,
        }
    }

    /// Replaces the deadline rules (and restarts the group commit, if on, with them).
    pub fn with_deadlines(mut self, deadlines: Deadlines) -> Outbox {
        self.deadlines = deadlines;
        match self.group.take() {
            Some(g) => self.group_commit(g.max_batch()),
            None => self,
        }
    }

    /// From here on, [`accept`](Outbox::accept) (on this outbox and its clones) goes through a
    /// [`GroupCommit`]: concurrent accepts share one transaction, at most `max_batch` opt-outs
    /// each ([`GroupCommit::DEFAULT_MAX_BATCH`] is a good start), and each still returns only
    /// once its opt-out is committed. `max_batch` 1 or 0 leaves it off: one transaction per
    /// accept, as before.
    ///
    /// # Panics
    /// Outside a Tokio runtime (the committing task is spawned on the current one).
    pub fn group_commit(mut self, max_batch: usize) -> Outbox {
        self.group = (max_batch > 1)
            .then(|| GroupCommit::new(self.store.clone(), self.deadlines.clone(), max_batch));
        self
    }

    /// The store, to share with a [`Worker`].
    pub fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    /// Commits `opt_out` and answers its id and deadlines; see [`Store::accept`]. With
    /// [`group_commit`](Outbox::group_commit) on, it is committed together with the other
    /// accepts waiting at the same time, and answered once that transaction has committed.
    pub async fn accept(&self, opt_out: &OptOut) -> Result<Accepted, Error> {
        match &self.group {
            Some(group) => group.accept(opt_out.clone()).await,
            None => self.store.accept(opt_out, &self.deadlines).await,
        }
    }

    /// Commits a chunk of opt-outs in one transaction (all or nothing) and answers one
    /// [`Accepted`] per opt-out, in order; see [`Store::accept_many`].
    pub async fn accept_many(&self, opt_outs: &[OptOut]) -> Result<Vec<Accepted>, Error> {
        self.store.accept_many(opt_outs, &self.deadlines).await
    }

    /// One opt-out's state per provider and its receipts; `None` for an unknown id.
    pub async fn status(&self, id: &str) -> Result<Option<OptOutStatus>, Error> {
        self.store.status(id).await
    }

    /// Task counts by provider and state.
    pub async fn counts(&self) -> Result<StatusCounts, Error> {
        self.store.counts().await
    }

    /// Puts one opt-out's (or every) task that needs attention back in the queue.
    pub async fn retry(&self, id: Option<&str>) -> Result<u64, Error> {
        self.store.retry(id).await
    }

    /// Receipts matching `query`, in chain order.
    pub async fn receipts(&self, query: &ReceiptQuery) -> Result<Vec<ReceiptRecord>, Error> {
        self.store.receipts(query).await
    }

    /// Checks the receipt chain.
    pub async fn verify(&self) -> Result<Verification, Error> {
        self.store.verify().await
    }

    /// Where clients share their rate limits with every other worker of this store, if the
    /// store can (PostgreSQL); see [`Store::rate_share`].
    pub fn rate_share(&self) -> Option<Arc<dyn optout_core::RateShare>> {
        self.store.rate_share()
    }
}
