//! The run itself: the reader's rows through the sending [engine](optout_core::engine), each
//! finished row into the journal, then to the caller in chunks.

use std::collections::HashSet;
use std::fs::File;
use std::io::Read;
use std::sync::Arc;

use optout_core::engine::{chunk_items, queue_capacity, Engine, Item, Options, Sent};
use optout_core::{Error, Unsubscriber};
use tokio::sync::mpsc;

use super::journal::write_entries;
use super::read::read_rows;
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
    /// `None` for a row to send; else how it ended without being sent.
    pub(super) ended: Option<RowResult>,
}

/// A finished row: what the journal and the report need (the request itself is gone).
pub(super) struct Finished {
    pub(super) line: u64,
    pub(super) key: String,
    pub(super) result: RowResult,
}

impl Finished {
    fn from_sent(sent: Sent<Tag>, client: &dyn Unsubscriber) -> Finished {
        let Tag { line, key, ended } = sent.tag;
        let result = match (sent.answer, ended) {
            (Some(Ok(receipt)), _) => RowResult::Done(receipt),
            (Some(Err(error)), _) => RowResult::Failed(error),
            (None, Some(ended)) => ended,
            // The engine never stops on its own here (`stop_after_refusals(0)`): a row it
            // did not send would be a bug, and is reported as not done.
            (None, None) => RowResult::Failed(Error::unconfirmed(
                client.provider(),
                "the row was not sent; run again with the same journal",
            )),
        };
        Finished { line, key, result }
    }
}

/// The most rows handed to `on_row` at once, and the longest a finished row waits for it.
const REPORT_CHUNK: usize = 512;
const REPORT_EVERY: std::time::Duration = std::time::Duration::from_millis(20);

/// Reads, sends, journals and counts; hands the finished rows to `run` in chunks.
pub(super) async fn drive<R: Read + Send + 'static>(
    client: Arc<dyn Unsubscriber>,
    input: R,
    job: BulkJob,
    done: HashSet<u128>,
    mut journal: Option<File>,
    reports: mpsc::Sender<Vec<RowReport>>,
) -> Result<Summary, Error> {
    let batch = client.batch_size().max(1);
    // The reader hands over chunks of whole batches, so that its thread sleeps and wakes once
    // per chunk rather than once per row; it hands over a shorter chunk before each read of
    // the input that may wait (see `read::Feed`).
    let chunk = chunk_items(batch);
    let (tx, rx) = mpsc::channel::<Vec<Row>>(queue_capacity(job.concurrency, batch, chunk));
    let reader_job = job.clone();
    let provider = client.provider();
    let reader = tokio::task::spawn_blocking(move || {
        read_rows(input, &reader_job, provider, chunk, &done, &tx)
    });
    let options = Options::new()
        .concurrency(job.concurrency)
        .stop_after_refusals(0);
    let mut engine = Engine::start(client.clone(), &options, rx);

    let mut summary = Summary::default();
    let mut pending: Vec<RowReport> = Vec::new();
    let mut finished: Vec<Finished> = Vec::new();
    let flush_at = tokio::time::sleep(REPORT_EVERY);
    futures_util::pin_mut!(flush_at);
    loop {
        tokio::select! {
            biased;
            sent = engine.recv() => {
                let Some(sent) = sent else { break };
                finished.clear();
                finished.extend(sent.into_iter().map(|s| Finished::from_sent(s, client.as_ref())));
                if let Some(file) = journal.as_mut() {
                    write_entries(file, &finished, &job)?;
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
            let _ = reports.send(std::mem::take(&mut pending)).await;
            flush_at
                .as_mut()
                .reset(tokio::time::Instant::now() + REPORT_EVERY);
        }
    }
    if !pending.is_empty() {
        let _ = reports.send(pending).await;
    }
    summary.latency = engine.finish().await.latency();
    reader
        .await
        .map_err(|e| Error::interrupted(format!("the input reader stopped: {e}")))??;
    Ok(summary)
}

/// A spawned task: aborted when dropped (so dropping `run` stops everything); a panic inside is
/// resumed in the caller; `None` only when the runtime shuts down under it.
pub(super) struct Spawned<T>(pub(super) tokio::task::JoinHandle<T>);

impl<T> Drop for Spawned<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<T> std::future::Future for Spawned<T> {
    type Output = Option<T>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.0)
            .poll(cx)
            .map(|joined| match joined {
                Ok(output) => Some(output),
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(_) => None,
            })
    }
}
