//! Bulk opt-outs from CSV that lose nothing: streamed input, bounded concurrency, batches where
//! the provider has them, and an append-only journal that makes a rerun skip what is done.
//!
//! The CSV has a header row with a `recipient` column and, optionally, `topic` and
//! `identifier` columns. A row's `topic` adds to the job's topics.
//!
//! ```no_run
//! # #[cfg(feature = "hubspot")]
//! # async fn run() -> Result<(), optout::Error> {
//! use std::sync::Arc;
//! use optout::bulk::{run, BulkJob};
//! let client = Arc::new(optout::providers::hubspot::HubSpot::from_env()?);
//! let input = std::fs::File::open("optouts.csv").map_err(|e| optout::Error::config(e.to_string()))?;
//! let job = BulkJob::new().topic("12345").journal("optouts.journal");
//! let summary = run(client, input, &job, |_row| {}).await?;
//! println!("{summary}");
//! # Ok(()) }
//! ```

use std::fmt;
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

use optout_core::{Error, LegalBasis, Outcome, Receipt, Unsubscriber};
use serde::Serialize;
use tokio::sync::mpsc;

mod drive;
mod journal;
mod plan;
mod read;
mod record;
use drive::drive;
pub use journal::Destination;
use journal::{load_journal, open_journal, Lock};
use optout_core::engine::Spawned;
/// The latency of a run's calls: the [engine](optout_core::engine)'s, which bulk runs on.
pub use optout_core::engine::{Histogram, Latency};
pub use plan::{plan, BatchPlan, PlanSummary};

/// What to do with every row.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BulkJob {
    /// Topics for every row (a row's own `topic` column adds to these).
    pub topics: Vec<String>,
    /// Unsubscribe every row from all topics (where the provider can).
    pub all_topics: bool,
    /// Batches in flight at once (default 8).
    pub concurrency: usize,
    /// The journal file, if any.
    pub journal: Option<PathBuf>,
    /// The legal basis recorded with each opt-out (HubSpot).
    pub legal_basis: Option<(LegalBasis, String)>,
    /// Where the rows are sent: written at the top of a new journal, and checked against
    /// the top of an existing one (a journal of another server or account is refused).
    pub destination: Option<Destination>,
    /// Stop the run after this many answers in a row that refuse the credentials (401, 403);
    /// 0 never stops. Default 3.
    pub stop_after_refusals: u32,
}

impl Default for BulkJob {
    fn default() -> Self {
        BulkJob {
            topics: Vec::new(),
            all_topics: false,
            concurrency: 8,
            journal: None,
            legal_basis: None,
            destination: None,
            stop_after_refusals: 3,
        }
    }
}

impl BulkJob {
    /// A job with no topics, concurrency 8 and no journal.
    pub fn new() -> Self {
        BulkJob::default()
    }

    /// Adds a topic for every row.
    pub fn topic(mut self, topic: impl Into<String>) -> Self {
        self.topics.push(topic.into());
        self
    }

    /// Unsubscribes from all topics.
    pub fn all_topics(mut self, all: bool) -> Self {
        self.all_topics = all;
        self
    }

    /// Sets how many batches are in flight at once (at least 1).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Records every row in `path` (a `pending` record before the row is sent, its result
    /// written over it when it finishes) and skips the rows it records as done.
    pub fn journal(mut self, path: impl Into<PathBuf>) -> Self {
        self.journal = Some(path.into());
        self
    }

    /// Ties the journal to where the rows are sent (see [`Destination`]).
    pub fn destination(mut self, destination: Destination) -> Self {
        self.destination = Some(destination);
        self
    }

    /// Records a legal basis with each opt-out.
    pub fn legal_basis(mut self, basis: LegalBasis, explanation: impl Into<String>) -> Self {
        self.legal_basis = Some((basis, explanation.into()));
        self
    }
}

/// How one row ended.
#[derive(Debug)]
#[non_exhaustive]
pub enum RowResult {
    /// Confirmed by the provider.
    Done(Receipt),
    /// The provider or the network failed (after retries), or the row was refused.
    Failed(Error),
    /// Already confirmed in the journal; nothing sent.
    Skipped,
    /// Not sent: the run stopped before it (Ctrl-C, a journal that cannot be written, the
    /// credentials refused). A rerun with the same journal sends it.
    NotSent,
}

/// One finished row, as handed to the progress callback.
#[derive(Debug)]
pub struct RowReport {
    /// The row's line in the input (the header is line 1).
    pub line: u64,
    /// How it ended.
    pub result: RowResult,
}

/// The counts at the end of a run, and how long the provider took.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Rows read.
    pub rows: u64,
    /// Rows newly unsubscribed.
    pub unsubscribed: u64,
    /// Rows the provider said were already unsubscribed.
    pub already: u64,
    /// Rows that failed (provider, network or bad input).
    pub failed: u64,
    /// Rows skipped because the journal records them as done.
    pub skipped: u64,
    /// Rows read but not sent because the run stopped part way.
    pub not_sent: u64,
    /// Lines of the input read, the header included (beside `rows`: a quoted field with
    /// line breaks makes one row of several lines).
    pub lines: u64,
    /// How long each call to the provider took (not part of the `Display` line).
    pub latency: Latency,
}

impl Summary {
    /// Whether every row is done (now or in an earlier run).
    pub fn all_done(&self) -> bool {
        self.failed == 0
    }

    fn count(&mut self, result: &RowResult) {
        match result {
            RowResult::Done(r) if r.outcome == Outcome::AlreadyUnsubscribed => self.already += 1,
            RowResult::Done(_) => self.unsubscribed += 1,
            RowResult::Failed(_) => self.failed += 1,
            RowResult::Skipped => self.skipped += 1,
            RowResult::NotSent => self.not_sent += 1,
        }
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} unsubscribed, {} already, {} failed",
            self.unsubscribed, self.already, self.failed
        )?;
        if self.skipped > 0 {
            write!(f, ", {} skipped (done in the journal)", self.skipped)?;
        }
        if self.not_sent > 0 {
            write!(f, ", {} not sent (the run stopped)", self.not_sent)?;
        }
        Ok(())
    }
}

/// Runs `job` over the CSV `input` with `client`, calling `on_row` as each row finishes.
///
/// Memory stays flat however long the input: rows are read on a blocking thread and handed
/// over through a bounded queue, at most `concurrency` batches are in flight, and only a
/// 128-bit hash of each done row's key is kept from the journal. A row that cannot be read
/// (bad email, empty recipient) is reported with its line number and does not stop the others.
///
/// No row waits for rows after it: the reader hands over what it has before each read of
/// `input` that may wait (a pipe fed slowly), and a batch goes out short when no more rows
/// are ready. Every one of the `concurrency` senders takes a batch at a time, so a short
/// input or a slow provider still has `concurrency` requests in flight.
///
/// The sending and the journal run in a task of their own on the runtime's workers; `on_row`
/// runs here, on the caller's task, and gets the finished rows in chunks (at least every
/// 20 ms while rows finish). A row is in the journal before `on_row` sees it, and a row to
/// send has its `pending` record there before it is sent: a journal that cannot take it (a
/// full disk, a file size limit) stops the run with that row unsent. Dropping the
/// returned future stops the run: rows in flight may reach the provider without being
/// journaled, and a rerun sends them again.
///
/// Errors only for what stops the whole run: before anything is sent, a missing `recipient`
/// column, an unreadable CSV header or a journal that cannot be opened or read
/// ([`ErrorKind::Config`](optout_core::ErrorKind::Config) or `InvalidInput`); part way, an
/// input that fails to read or a journal that cannot be written
/// ([`ErrorKind::Interrupted`](optout_core::ErrorKind::Interrupted)), after every row read
/// before it has been sent, journaled and reported.
pub async fn run<R: Read + Send + 'static>(
    client: Arc<dyn Unsubscriber>,
    input: R,
    job: &BulkJob,
    on_row: impl FnMut(&RowReport),
) -> Result<Summary, Error> {
    let (summary, ended) = run_until(client, input, job, on_row, std::future::pending()).await;
    ended.map(|()| summary)
}

/// [`run`], stopping when `stop` completes (a Ctrl-C), and answering the counts however the
/// run ended: beside the error that stopped it part way, they say what was done before.
///
/// When `stop` completes, calls in flight finish and are journaled, nothing more is sent
/// (the rows read but not sent count as [`Summary::not_sent`]), and the run ends with an
/// [`ErrorKind::Interrupted`](optout_core::ErrorKind::Interrupted) error: a rerun with the
/// same journal continues. The journal is locked while the run goes (`<journal>.lock`, with
/// the pid): a second run on it is refused.
pub async fn run_until<R: Read + Send + 'static>(
    client: Arc<dyn Unsubscriber>,
    input: R,
    job: &BulkJob,
    mut on_row: impl FnMut(&RowReport),
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> (Summary, Result<(), Error>) {
    let before = || -> Result<_, Error> {
        let Some(path) = &job.journal else {
            return Ok((None, journal::Done::default(), None));
        };
        let lock = Lock::take(path)?;
        let done = load_journal(path, job.destination.as_ref())?;
        let file = open_journal(path, job.destination.as_ref()).map_err(|e| {
            Error::config(format!(
                "cannot write the journal {}: {e}; free space or give another --journal file (nothing was sent)",
                path.display()
            ))
        })?;
        Ok((Some(lock), done, Some(file)))
    };
    let (lock, done, journal) = match before() {
        Ok(ready) => ready,
        Err(e) => return (Summary::default(), Err(e)),
    };
    // Why a task: the caller is often the thread in `block_on`, which is not a runtime worker,
    // so driving the batches from here woke it across threads for every finished request
    // (`cargo xtask bench`, HubSpot at concurrency 32: about 27,000 rows/s driven from here).
    let (reports, mut chunks) = mpsc::channel::<Vec<RowReport>>(2);
    let engine = Spawned(tokio::spawn(drive(
        client,
        input,
        job.clone(),
        done,
        journal,
        reports,
        stop,
    )));
    while let Some(chunk) = chunks.recv().await {
        chunk.iter().for_each(&mut on_row);
    }
    let ended = engine.await.unwrap_or_else(|| {
        (
            Summary::default(),
            Err(Error::interrupted(
                "the bulk run was cancelled by the runtime shutting down",
            )),
        )
    });
    drop(lock);
    ended
}

#[cfg(test)]
mod tests;
