//! The run itself: the reader's rows through the sending [engine](optout_core::engine), each
//! finished row into the journal, then to the caller in chunks.

use std::fs::File;
use std::io::Read;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use optout_core::engine::{chunk_items, queue_capacity, Engine, Item, Options, Sent};
use optout_core::{Error, Unsubscriber};
use tokio::sync::mpsc;

use super::journal::Done;
use super::read::read_rows;
use super::record::{Fill, Reserve, Slot};
use super::{BulkJob, RowReport, RowResult, Summary};

/// A row read from the input, and what to do with it: its request, if it is to be sent.
pub(super) type Row = Item<Tag>;

/// What the run keeps of a row while it is sent: its line, its key, and how it ended if it is
/// not to be sent.
#[derive(Debug)]
pub(super) struct Tag {
    pub(super) line: u64,
    /// The row's journal key (provider, recipient, identifier, topics); empty without a journal.
    pub(super) key: String,
    /// `None` for a row to send; else how it ended without being sent. Boxed: rows to send
    /// (nearly all) are moved several times on their way (reader, queue, sender, journal),
    /// and an inline result (a receipt's worth) made each move twice as long.
    pub(super) ended: Option<Box<RowResult>>,
    /// Its record in the journal, once reserved (a row to send, with a journal).
    pub(super) slot: Option<Slot>,
}

/// A finished row: what the journal and the report need (the request itself is gone).
pub(super) struct Finished {
    pub(super) line: u64,
    pub(super) key: String,
    pub(super) result: RowResult,
    /// Its record in the journal, where the result goes.
    pub(super) slot: Option<Slot>,
}

impl Finished {
    fn from_sent(sent: Sent<Tag>) -> Finished {
        let Tag {
            line,
            key,
            ended,
            slot,
        } = sent.tag;
        let result = match (sent.answer, ended) {
            (Some(Ok(receipt)), _) => RowResult::Done(receipt),
            (Some(Err(error)), _) => RowResult::Failed(error),
            (None, Some(ended)) => *ended,
            // The engine stopped before sending it.
            (None, None) => RowResult::NotSent,
        };
        Finished {
            line,
            key,
            result,
            slot,
        }
    }
}

/// The most rows handed to `on_row` at once, and the longest a finished row waits for it.
const REPORT_CHUNK: usize = 512;
const REPORT_EVERY: std::time::Duration = std::time::Duration::from_millis(20);

/// Reads, sends, journals and counts; hands the finished rows to `run` in chunks. Answers
/// the counts however the run ended, and what stopped it part way, if anything did: the
/// input, the journal, `stop`, or the credentials refused again and again.
pub(super) async fn drive<R: Read + Send + 'static>(
    client: Arc<dyn Unsubscriber>,
    input: R,
    job: BulkJob,
    done: Done,
    journal: Option<(File, u64)>,
    reports: mpsc::Sender<Vec<RowReport>>,
    stop: impl std::future::Future<Output = ()> + Send,
) -> (Summary, Result<(), Error>) {
    let batch = client.batch_size().max(1);
    // The reader hands over chunks of whole batches, so that its thread sleeps and wakes once
    // per chunk rather than once per row; it hands over a shorter chunk before each read of
    // the input that may wait (see `read::Feed`).
    let chunk = chunk_items(batch);
    let (tx, rx) = mpsc::channel::<Vec<Row>>(queue_capacity(job.concurrency, batch, chunk));
    let reader_job = job.clone();
    let provider = client.provider();
    let lines = Arc::new(AtomicU64::new(0));
    let reader_lines = lines.clone();
    // The reader writes each row's record before the row goes out; the results are written
    // over them here (see `record`).
    let (reserve, mut journal) = match (journal, &job.journal) {
        (Some((file, end)), Some(path)) => {
            let file = Arc::new(file);
            (
                Some(Reserve::new(file.clone(), path.clone(), end)),
                Some(Fill::new(file, path.clone())),
            )
        }
        _ => (None, None),
    };
    let reader = tokio::task::spawn_blocking(move || {
        read_rows(
            input,
            &reader_job,
            provider,
            chunk,
            &done,
            &tx,
            reserve,
            &reader_lines,
        )
    });
    let options = Options::new()
        .concurrency(job.concurrency)
        .stop_after_refusals(job.stop_after_refusals);
    let mut engine = Engine::start(client.clone(), &options, rx);

    let mut summary = Summary::default();
    let mut stopped: Option<Error> = None;
    let mut pending: Vec<RowReport> = Vec::new();
    let mut finished: Vec<Finished> = Vec::new();
    let flush_at = tokio::time::sleep(REPORT_EVERY);
    futures_util::pin_mut!(flush_at);
    futures_util::pin_mut!(stop);
    let mut stop_seen = false;
    loop {
        tokio::select! {
            biased;
            () = &mut stop, if !stop_seen => {
                // Calls in flight finish and are journaled; nothing more is sent.
                stop_seen = true;
                engine.stop();
                stopped.get_or_insert_with(|| Error::interrupted(
                    "stopped by a signal (Ctrl-C); rows in flight were finished and journaled",
                ));
                continue;
            }
            sent = engine.recv() => {
                let Some(sent) = sent else { break };
                finished.clear();
                finished.extend(sent.into_iter().map(Finished::from_sent));
                if let Some(fill) = journal.as_mut() {
                    if let Err(e) = fill.fill(&finished) {
                        // What cannot be recorded must not be sent: stop. These rows stay
                        // `pending` in the journal, and a rerun sends them again.
                        engine.stop();
                        journal = None;
                        stopped.get_or_insert(e);
                    }
                }
                for row in finished.drain(..) {
                    summary.rows += 1;
                    summary.count(&row.result);
                    pending.push(RowReport { line: row.line, result: row.result });
                }
            }
            () = &mut flush_at, if !pending.is_empty() => {}
        }
        if pending.len() >= REPORT_CHUNK || (flush_at.is_elapsed() && !pending.is_empty()) {
            // The caller is gone only if `run` was dropped, which aborts this task too.
            // The next chunk starts with room for twice this one (at most a full chunk and a
            // batch): grown row by row from empty, the reports were copied at every doubling.
            let next = Vec::with_capacity((pending.len() * 2).min(REPORT_CHUNK + batch));
            let _ = reports.send(std::mem::replace(&mut pending, next)).await;
            flush_at
                .as_mut()
                .reset(tokio::time::Instant::now() + REPORT_EVERY);
        }
    }
    if !pending.is_empty() {
        let _ = reports.send(pending).await;
    }
    if let Some(refused) = engine.stopped_by() {
        stopped.get_or_insert_with(|| {
            Error::interrupted(format!(
                "the provider refused the credentials {} times in a row ({refused}); \
                 no retry can fix that: check the token or key and run again (with the same --journal)",
                job.stop_after_refusals
            ))
        });
    }
    summary.latency = engine.finish().await.latency();
    let read = reader
        .await
        .unwrap_or_else(|e| Err(Error::interrupted(format!("the input reader stopped: {e}"))));
    summary.lines = lines.load(std::sync::atomic::Ordering::Relaxed);
    let result = match (stopped, read) {
        (Some(e), _) => Err(e),
        (None, Err(e)) => Err(e),
        (None, Ok(_)) => Ok(()),
    };
    (summary, result)
}
