//! How a worker runs ([`WorkerConfig`]) and what a run did ([`RunSummary`]).

use std::sync::Arc;
use std::time::Duration;

use crate::retry::Backoff;

/// A callback that takes one line for people (a store outage and its end).
pub type Notify = Arc<dyn Fn(&str) + Send + Sync>;

/// How a worker runs.
#[derive(Clone)]
#[non_exhaustive]
pub struct WorkerConfig {
    /// Provider calls in flight at once.
    pub concurrency: usize,
    /// Tasks claimed at once; a worker claims at least enough to give every call in flight a
    /// full batch (`concurrency` times the largest `batch_size` of its clients).
    pub claim: usize,
    /// The lease on a claimed task; renewed every third of it while the task is in flight.
    pub lease: Duration,
    /// The longest sleep when nothing is due.
    pub poll: Duration,
    /// Backoff between attempts of one task.
    pub backoff: Backoff,
    /// Who holds the leases (for people reading the tasks table).
    pub owner: String,
    /// Called with one line when the store becomes unreachable and when it is back.
    pub notify: Option<Notify>,
}

impl std::fmt::Debug for WorkerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerConfig")
            .field("concurrency", &self.concurrency)
            .field("claim", &self.claim)
            .field("lease", &self.lease)
            .field("poll", &self.poll)
            .field("owner", &self.owner)
            .finish_non_exhaustive()
    }
}

impl Default for WorkerConfig {
    /// 4 calls at once, 32 tasks per claim, a 30 s lease, polling at most every second.
    fn default() -> Self {
        WorkerConfig {
            concurrency: 4,
            claim: 32,
            lease: Duration::from_secs(30),
            poll: Duration::from_secs(1),
            backoff: Backoff::default(),
            owner: format!("worker-{}-{:08x}", std::process::id(), fastrand::u32(..)),
            notify: None,
        }
    }
}

impl WorkerConfig {
    /// Sets the concurrency (at least 1).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Sets the lease.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// Sets the longest idle sleep.
    pub fn poll(mut self, poll: Duration) -> Self {
        self.poll = poll;
        self
    }

    /// Sets the backoff.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Sets the store-outage callback.
    pub fn notify(mut self, f: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.notify = Some(Arc::new(f));
        self
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct RunSummary {
    /// Receipts written.
    pub done: u64,
    /// Attempts that failed and were rescheduled.
    pub retried: u64,
    /// Tasks parked as needing attention by this run.
    pub parked: u64,
    /// Results dropped because the lease had moved on (another worker holds the task).
    pub fenced: u64,
    /// At the end: tasks needing attention in the whole store.
    pub needs_attention: u64,
    /// At the end: pending tasks of providers this worker has no client for.
    pub unserved: u64,
}

impl RunSummary {
    /// Adds what another part of the run recorded (the end-of-run counts are not added).
    pub(crate) fn add(&mut self, other: &RunSummary) {
        self.done += other.done;
        self.retried += other.retried;
        self.parked += other.parked;
        self.fenced += other.fenced;
    }
}
