//! The input: CSV records read on a blocking thread, each made into a request (or refused
//! with its reason, or skipped as done in the journal), handed to the senders in chunks.

use std::cell::RefCell;
use std::collections::HashSet;
use std::io::Read;

use optout_core::{Error, Provider, Recipient, Topics, Unsubscribe};
use tokio::sync::mpsc;

use super::drive::{Row, Tag};
use super::journal::fnv1a_128;
use super::{BulkJob, RowResult};

/// The columns of the input, by position.
struct Columns {
    recipient: usize,
    topic: Option<usize>,
    identifier: Option<usize>,
}

/// Reads `input` and sends its rows over `tx` in chunks of at most `chunk_rows` rows, and
/// whatever it has read before each read of `input` that may wait (see [`Feed`]).
pub(super) fn read_rows<R: Read>(
    input: R,
    job: &BulkJob,
    provider: Provider,
    chunk_rows: usize,
    done: &HashSet<u128>,
    tx: &mpsc::Sender<Vec<Row>>,
) -> Result<(), Error> {
    let chunk = RefCell::new(Vec::with_capacity(chunk_rows));
    let feed = Feed {
        input,
        chunk: &chunk,
        tx,
    };
    // Fields are trimmed as they are read, only those used (cheaper than `csv::Trim::All`,
    // which trims and re-checks every field of every record). The buffer is large so that a
    // file is read, and its rows handed over, in few pieces.
    let mut csv = csv::ReaderBuilder::new()
        .flexible(true)
        .buffer_capacity(1 << 16)
        .from_reader(feed);
    let headers = csv
        .headers()
        .map_err(|e| Error::invalid_input("input", format!("cannot read the CSV header: {e}")))?
        .clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(name))
    };
    let columns = Columns {
        recipient: column("recipient").ok_or_else(|| {
            Error::invalid_input(
                "input",
                format!(
                    "the CSV header has no `recipient` column (found: {}); expected recipient[,topic][,identifier]",
                    headers.iter().map(str::trim).collect::<Vec<_>>().join(",")
                ),
            )
        })?,
        topic: column("topic"),
        identifier: column("identifier"),
    };

    let mut record = csv::StringRecord::new();
    loop {
        let line = csv.position().line();
        let row = match csv.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => read_row(&record, line, &columns, job, provider, done),
            // The input itself failed (a disk, a pipe): the rows after this one were never
            // read, so the run must not end as if the input had. What was read is sent first.
            Err(e) if matches!(e.kind(), csv::ErrorKind::Io(_)) => {
                hand_over(&chunk, tx);
                return Err(Error::interrupted(format!(
                    "the input cannot be read after line {}: {e}",
                    line.saturating_sub(1)
                )));
            }
            // A malformed record (e.g. bad UTF-8) is that row's failure, not the run's.
            Err(e) => Row {
                tag: Tag {
                    line,
                    key: String::new(),
                    ended: Some(RowResult::Failed(Error::invalid_input(
                        format!("line {line}"),
                        e.to_string(),
                    ))),
                },
                request: None,
            },
        };
        chunk.borrow_mut().push(row);
        if chunk.borrow().len() == chunk_rows && !hand_over(&chunk, tx) {
            return Ok(()); // the senders stopped: nothing more to do
        }
    }
    hand_over(&chunk, tx);
    Ok(())
}

/// The input as the CSV reader sees it: before each read of `input`, which may wait (a pipe,
/// a terminal), the rows read so far go to the senders. A row is never held back waiting for
/// the rows after it: with `tail -f complaints.csv | optout bulk ...`, each opt-out is sent as
/// soon as its line arrives. (The CSV reader reads `input` only when its buffer is empty.)
struct Feed<'a, R> {
    input: R,
    chunk: &'a RefCell<Vec<Row>>,
    tx: &'a mpsc::Sender<Vec<Row>>,
}

impl<R: Read> Read for Feed<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if !hand_over(self.chunk, self.tx) {
            return Ok(0); // the senders stopped: read no further
        }
        self.input.read(buf)
    }
}

/// Sends the rows read so far, if any, to the senders (the chunk starts again empty, with the
/// same capacity); `false` when the senders are gone.
fn hand_over(chunk: &RefCell<Vec<Row>>, tx: &mpsc::Sender<Vec<Row>>) -> bool {
    let rows = {
        let mut chunk = chunk.borrow_mut();
        if chunk.is_empty() {
            return true;
        }
        let next = Vec::with_capacity(chunk.capacity());
        std::mem::replace(&mut *chunk, next)
    };
    tx.blocking_send(rows).is_ok()
}

/// One record of the input: its request, refused with the reason, or skipped as done.
fn read_row(
    record: &csv::StringRecord,
    line: u64,
    columns: &Columns,
    job: &BulkJob,
    provider: Provider,
    done: &HashSet<u128>,
) -> Row {
    let get = |col: Option<usize>| {
        col.and_then(|c| record.get(c))
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let recipient = get(Some(columns.recipient)).unwrap_or("");
    let identifier = get(columns.identifier);
    let mut topics = job.topics.clone();
    if let Some(topic) = get(columns.topic) {
        topics.push(topic.to_string());
    }
    // The key is what the journal matches a row by; without a journal there is no use for it.
    let key = if job.journal.is_some() {
        format!(
            "{provider}|{recipient}|{}|{}",
            identifier.unwrap_or(""),
            if job.all_topics {
                "*".to_string()
            } else {
                topics.join(",")
            }
        )
    } else {
        String::new()
    };
    let (request, ended) = match row_request(job, provider, recipient, identifier, topics) {
        // Without a journal (or with an empty one) nothing is done yet: no hash to compute.
        Ok(_) if !done.is_empty() && done.contains(&fnv1a_128(key.as_bytes())) => {
            (None, Some(RowResult::Skipped))
        }
        Ok(request) => (Some(request), None),
        Err(e) => (
            None,
            Some(RowResult::Failed(Error::invalid_input(
                format!("line {line}: {}", e.field().unwrap_or("row")),
                e.message().unwrap_or("is not valid"),
            ))),
        ),
    };
    Row {
        tag: Tag { line, key, ended },
        request,
    }
}

fn row_request(
    job: &BulkJob,
    provider: Provider,
    recipient: &str,
    identifier: Option<&str>,
    topics: Vec<String>,
) -> Result<Unsubscribe, Error> {
    if recipient.is_empty() {
        return Err(Error::invalid_input("recipient", "is empty"));
    }
    let recipient = Recipient::for_provider(provider, recipient, identifier)?;
    let topics = if job.all_topics {
        Topics::All
    } else if topics.is_empty() {
        return Err(Error::invalid_input(
            "topic",
            "no topic for this row; give --topic, --all-topics or a `topic` column",
        ));
    } else {
        Topics::Only(topics)
    };
    let request = Unsubscribe::new(recipient, topics);
    Ok(match &job.legal_basis {
        Some((basis, why)) => request.legal_basis(*basis, why.clone()),
        None => request,
    })
}
