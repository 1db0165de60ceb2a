//! Group commit: [`GroupCommit`], a queue that commits concurrent accepts together.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::model::{Accepted, OptOut};
use crate::store::Store;
use crate::{Deadlines, Error};

/// What a caller hands to the committing task.
struct Job {
    opt_out: OptOut,
    reply: oneshot::Sender<Result<Accepted, Error>>,
}

/// Group commit: many concurrent [`accept`](GroupCommit::accept)s committed together in one
/// transaction, each caller answered only once that transaction has committed.
///
/// A durable store pays for every commit with a flush to disk (SQLite's `synchronous=FULL`
/// costs one `fsync` per commit; PostgreSQL one WAL flush). One opt-out per transaction caps
/// the accept rate at the disk's flush rate, however many callers wait. [`GroupCommit`] puts a
/// queue in front of [`Store::accept_many`]: callers hand their opt-out over with a reply
/// channel, and one task takes whatever has queued (up to a maximum batch), commits it in one
/// transaction, and then answers each caller. Nothing changes for the caller except the rate:
/// `accept` still returns only once its opt-out is committed, and an error still means it was
/// not.
///
/// * Each opt-out is checked before it joins a batch, so an invalid one is refused to its own
///   caller and never fails the others.
/// * Idempotency keys behave as with [`Store::accept`]: a key seen before, in an earlier
///   transaction or earlier in the same batch, answers the first id (`created: false`).
/// * A store error fails the whole batch: every caller of that batch gets the error and none is
///   told "accepted" (the transaction rolled back, nothing of it was stored). The next batch is
///   tried afresh.
///
/// ```no_run
/// # async fn run() -> Result<(), optout_outbox::Error> {
/// use optout_core::{Provider, Topics};
/// use optout_outbox::{OptOut, Outbox};
///
/// // Every `accept` of this outbox (and of its clones) now goes through one group commit.
/// let outbox = Outbox::open("sqlite:optout.db").await?.group_commit(64);
/// let accepted = outbox
///     .accept(&OptOut::default().email("alice@example.com").topics(Provider::HubSpot, Topics::one("12345")))
///     .await?;
/// # let _ = accepted; Ok(()) }
/// ```
///
/// Cheap to clone: clones share the queue and its committing task. The task ends once every
/// clone is dropped (after committing and answering what was queued).
#[derive(Clone)]
pub struct GroupCommit {
    queue: mpsc::Sender<Job>,
    max_batch: usize,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit")
            .field("max_batch", &self.max_batch)
            .field("queued", &self.queued())
            .finish()
    }
}

impl GroupCommit {
    /// The batch size [`Outbox::group_commit`](crate::Outbox::group_commit) is usually given:
    /// large enough that a burst of concurrent callers shares one commit, small enough that
    /// one transaction stays short.
    pub const DEFAULT_MAX_BATCH: usize = 128;

    /// Starts the committing task over `store`, committing at most `max_batch` opt-outs
    /// (at least 1) per transaction, with `deadlines` for the new ones.
    ///
    /// # Panics
    /// Outside a Tokio runtime (the committing task is spawned on the current one).
    pub fn new(store: Arc<dyn Store>, deadlines: Deadlines, max_batch: usize) -> GroupCommit {
        let max_batch = max_batch.max(1);
        // Callers beyond this many waiting wait for room (back-pressure), they are not refused.
        let (queue, jobs) = mpsc::channel(max_batch.saturating_mul(8).max(64));
        tokio::spawn(commit_loop(store, deadlines, jobs, max_batch));
        GroupCommit { queue, max_batch }
    }

    /// The most opt-outs committed in one transaction.
    pub fn max_batch(&self) -> usize {
        self.max_batch
    }

    /// How many opt-outs wait for the next transaction (not counting the one committing now).
    pub fn queued(&self) -> usize {
        self.queue.max_capacity() - self.queue.capacity()
    }

    /// Commits `opt_out` together with whatever else is queued, and answers its id and
    /// deadlines once that transaction has committed; as [`Store::accept`] otherwise. An
    /// invalid opt-out is refused here, before it joins a batch.
    ///
    /// If the caller stops waiting (the future is dropped) after the opt-out was queued, it
    /// is still committed with its batch.
    pub async fn accept(&self, opt_out: OptOut) -> Result<Accepted, Error> {
        opt_out.plan()?;
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Job { opt_out, reply })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// The committing task went away before answering: the runtime is shutting down, or a
/// panic. Whether the opt-out was committed is unknown, so it is not reported accepted.
fn stopped() -> Error {
    Error::Store {
        store: "group commit".into(),
        message: "the committing task stopped before answering; the opt-out may not be \
                  stored, send it again (with its idempotency key)"
            .into(),
    }
}

/// A copy of a batch's error for each of its callers (`Error` holds only strings here).
fn copy(e: &Error) -> Error {
    match e {
        Error::Store { store, message } => Error::Store {
            store: store.clone(),
            message: message.clone(),
        },
        Error::Url(m) => Error::Url(m.clone()),
        Error::NotFound(id) => Error::NotFound(id.clone()),
        other => Error::Store {
            store: "group commit".into(),
            message: other.to_string(),
        },
    }
}

async fn commit_loop(
    store: Arc<dyn Store>,
    deadlines: Deadlines,
    mut jobs: mpsc::Receiver<Job>,
    max_batch: usize,
) {
    let mut batch = Vec::with_capacity(max_batch);
    while jobs.recv_many(&mut batch, max_batch).await > 0 {
        let (opt_outs, replies): (Vec<OptOut>, Vec<_>) =
            batch.drain(..).map(|j| (j.opt_out, j.reply)).unzip();
        match store.accept_many(&opt_outs, &deadlines).await {
            Ok(accepted) if accepted.len() == replies.len() => {
                for (reply, a) in replies.into_iter().zip(accepted) {
                    let _ = reply.send(Ok(a));
                }
            }
            Ok(accepted) => {
                let e = Error::Store {
                    store: "group commit".into(),
                    message: format!(
                        "the store answered {} opt-outs for {}",
                        accepted.len(),
                        replies.len()
                    ),
                };
                for reply in replies {
                    let _ = reply.send(Err(copy(&e)));
                }
            }
            // Each opt-out was checked before it was queued, so this is not expected; should
            // the store refuse one anyway, the batch (rolled back whole) is committed one by
            // one so that only that caller hears of it.
            Err(Error::Invalid(_)) if opt_outs.len() > 1 => {
                for (o, reply) in opt_outs.iter().zip(replies) {
                    let _ = reply.send(store.accept(o, &deadlines).await);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, batch = replies.len(), "group commit failed; nothing of this batch was stored");
                for reply in replies {
                    let _ = reply.send(Err(copy(&e)));
                }
            }
        }
    }
}
