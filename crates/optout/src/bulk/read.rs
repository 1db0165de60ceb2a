//! The input: CSV records read on a blocking thread, each made into a request (or refused
//! with its reason, or skipped as done in the journal), handed to the senders in chunks.
//!
//! Records are read as bytes and only the columns optout uses are decoded, so a byte that is
//! not UTF-8 in another column (a Latin-1 name, a note) costs nothing; one in the recipient
//! column is that row's error. What would make rows vanish stops the run instead, naming the
//! line: a quote that never closes (it would swallow the rest of the file into one field), a
//! field that spans many lines, a line longer than [`MAX_LINE_BYTES`].

use std::cell::RefCell;
use std::io::Read;

use optout_core::{Error, Provider, Recipient, Topics, Unsubscribe};
use tokio::sync::mpsc;

use super::drive::{Row, Tag};
use super::journal::{fnv1a_128, row_key, Done};
use super::record::Reserve;
use super::{BulkJob, RowResult};

/// The longest line (or record) read: longer, and the input is not a CSV file of opt-outs
/// (`/dev/zero`, a binary file). It bounds the memory a record takes.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// The most lines one record may span: a quoted field with more line breaks than this is
/// taken for a quote that was never closed (it would swallow the rows after it).
pub const MAX_RECORD_LINES: u64 = 20;

/// The columns of the input, by position.
struct Columns {
    recipient: usize,
    topic: Option<usize>,
    identifier: Option<usize>,
}

/// Reads `input` and sends its rows over `tx` in chunks of at most `chunk_rows` rows, and
/// whatever it has read before each read of `input` that may wait (see [`Feed`]). With a
/// journal (`reserve`), each chunk's rows get their records before they go: if the journal
/// cannot take them, they are not sent, and the run stops with that error. On an error part
/// way, the rows read before it have been handed over. `lines` says how far it got.
#[allow(clippy::too_many_arguments)] // two calls: `drive` and the dry run (`plan`)
pub(super) fn read_rows<R: Read>(
    input: R,
    job: &BulkJob,
    provider: Provider,
    chunk_rows: usize,
    done: &Done,
    tx: &mpsc::Sender<Vec<Row>>,
    reserve: Option<Reserve>,
    lines: &std::sync::atomic::AtomicU64,
) -> Result<(), Error> {
    let out = Handover {
        chunk: RefCell::new(Vec::with_capacity(chunk_rows)),
        tx,
        reserve: RefCell::new(reserve),
        failed: RefCell::new(None),
    };
    let read = read_into(input, job, provider, chunk_rows, done, &out, lines);
    // The journal failing stops the reading (the reader sees an end of input): that is why
    // the run stopped, whatever the reading answered after it.
    match out.failed.into_inner() {
        Some(error) => Err(error),
        None => read,
    }
}

fn read_into<R: Read>(
    input: R,
    job: &BulkJob,
    provider: Provider,
    chunk_rows: usize,
    done: &Done,
    out: &Handover<'_>,
    lines: &std::sync::atomic::AtomicU64,
) -> Result<(), Error> {
    use std::sync::atomic::Ordering;
    let feed = Feed {
        input,
        out,
        since_newline: 0,
        last_byte: None,
        eof: false,
    };
    // Fields are trimmed as they are read, only those used (cheaper than `csv::Trim::All`,
    // which trims and re-checks every field of every record). The buffer is large so that a
    // file is read, and its rows handed over, in few pieces.
    let mut csv = csv::ReaderBuilder::new()
        .flexible(true)
        .buffer_capacity(1 << 16)
        .from_reader(feed);
    let headers = csv
        .byte_headers()
        .map_err(|e| Error::invalid_input("input", format!("cannot read the CSV header: {e}")))?
        .clone();
    let header_text: Vec<String> = headers
        .iter()
        .map(|h| String::from_utf8_lossy(h).trim().to_string())
        .collect();
    let column = |name: &str| {
        header_text
            .iter()
            .position(|h| h.eq_ignore_ascii_case(name))
    };
    let columns = Columns {
        recipient: column("recipient").ok_or_else(|| {
            Error::invalid_input(
                "input",
                format!(
                    "the CSV header has no `recipient` column (found: {}); expected recipient[,topic][,identifier]",
                    header_text.join(",")
                ),
            )
        })?,
        topic: column("topic"),
        identifier: column("identifier"),
    };
    // What would fail every row is refused before anything is sent.
    if job.all_topics && !matches!(provider, Provider::HubSpot | Provider::Pushy) {
        return Err(Error::unsupported(
            provider,
            format!("--all-topics: {provider} has no \"every topic\"; give --topic ID instead"),
        ));
    }
    if !job.all_topics && job.topics.is_empty() && columns.topic.is_none() {
        return Err(Error::invalid_input(
            "topic",
            "no topic for any row: the CSV has no `topic` column; give --topic ID, --all-topics or a `topic` column",
        ));
    }

    let mut record = csv::ByteRecord::new();
    let mut last_line = 1;
    loop {
        let row = match csv.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                // The record's own first line (blank lines before it are skipped by the
                // reader), and the line the reader is at now.
                // (`record.position()` is where the reader was before it skipped blank lines.)
                let next = csv.position().line();
                let breaks = record.as_slice().iter().filter(|b| **b == b'\n').count() as u64;
                let ended_line = next - u64::from(at_line_start(&csv));
                let line = ended_line.saturating_sub(breaks).max(last_line + 1);
                lines.store(next, Ordering::Relaxed);
                if let Some(error) = runaway(&record, line, next, &mut csv) {
                    out.send();
                    return Err(error);
                }
                last_line = line;
                read_row(&record, line, &columns, job, provider, done)
            }
            // The input itself failed (a disk, a pipe): the rows after this one were never
            // read, so the run must not end as if the input had. What was read is sent first.
            Err(e) => {
                out.send();
                let at = csv.position().line();
                lines.store(at, Ordering::Relaxed);
                return Err(match e.kind() {
                    csv::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::InvalidData => {
                        Error::interrupted(format!(
                            "line {at}: {io}; optout stops here: this line and the rest of the input were not processed"
                        ))
                    }
                    _ => Error::interrupted(format!(
                        "the input cannot be read after line {}: {e}",
                        last_line
                    )),
                });
            }
        };
        out.chunk.borrow_mut().push(row);
        if out.chunk.borrow().len() == chunk_rows && !out.send() {
            return Ok(()); // the senders stopped, or the journal failed: nothing more to do
        }
    }
    out.send();
    let end = csv.position();
    // A last line without a line break still counts as a line.
    let lines_read = end.line() - u64::from(end.byte() > 0 && ends_with_newline(&csv));
    lines.store(lines_read.max(1), Ordering::Relaxed);
    Ok(())
}

/// Whether the reader stands at the start of a line (the record it read ended with a line
/// break, not with the end of the input).
fn at_line_start<R: Read>(csv: &csv::Reader<Feed<'_, R>>) -> bool {
    !(csv.is_done() && csv.get_ref().last_byte != Some(b'\n'))
}

fn ends_with_newline<R: Read>(csv: &csv::Reader<Feed<'_, R>>) -> bool {
    csv.get_ref().last_byte == Some(b'\n')
}

/// Whether `record` (from `line` to just before `next`) is a quote run away: one that spans
/// more than [`MAX_RECORD_LINES`] lines or [`MAX_LINE_BYTES`] bytes, or that reaches the end
/// of the input inside a quote. Such a record would swallow the rows after it, so the run
/// stops, naming the line where the quote opened.
fn runaway<R: Read>(
    record: &csv::ByteRecord,
    line: u64,
    next: u64,
    csv: &mut csv::Reader<Feed<'_, R>>,
) -> Option<Error> {
    let span = next.saturating_sub(line);
    if span <= 1 && record.as_slice().len() <= MAX_LINE_BYTES {
        return None;
    }
    let multi_line = record.iter().any(|f| f.contains(&b'\n'));
    let too_big = record.as_slice().len() > MAX_LINE_BYTES;
    if !too_big && (!multi_line || span <= MAX_RECORD_LINES) {
        // A short quoted field with line breaks: fine, unless the input ends inside it (the
        // quote never closed). Then the field holds the file's last line break.
        let at_end = csv.is_done() || csv.get_ref().at_end();
        let unclosed = at_end
            && record
                .iter()
                .next_back()
                .is_some_and(|f| f.last() == Some(&b'\n'));
        if !unclosed {
            return None;
        }
        return Some(Error::interrupted(format!(
            "line {line}: a quote opened here never closes: the input ends inside it; \
             optout stops here: {span} lines from line {line} were not processed; \
             close the quote and run again (with the same --journal)"
        )));
    }
    Some(Error::interrupted(format!(
        "line {line}: a quoted field opened here spans {span} lines (more than {MAX_RECORD_LINES}) or \
         over 1 MiB: a quote that never closes? optout stops here: line {line} and the rest of \
         the input were not processed; fix the quote and run again (with the same --journal)"
    )))
}

/// The input as the CSV reader sees it: before each read of `input`, which may wait (a pipe,
/// a terminal), the rows read so far go to the senders. A row is never held back waiting for
/// the rows after it: with `tail -f complaints.csv | optout bulk ...`, each opt-out is sent as
/// soon as its line arrives. (The CSV reader reads `input` only when its buffer is empty.)
/// It also bounds a line's length ([`MAX_LINE_BYTES`]).
struct Feed<'a, R> {
    input: R,
    out: &'a Handover<'a>,
    /// Bytes read since the last line break.
    since_newline: usize,
    last_byte: Option<u8>,
    eof: bool,
}

impl<R> Feed<'_, R> {
    /// Whether the input answered end of file.
    fn at_end(&self) -> bool {
        self.eof
    }
}

impl<R: Read> Read for Feed<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if !self.out.send() {
            return Ok(0); // the senders stopped, or the journal failed: read no further
        }
        let n = self.input.read(buf)?;
        if n == 0 {
            self.eof = true;
            return Ok(0);
        }
        let read = &buf[..n];
        self.last_byte = read.last().copied();
        match read.iter().rposition(|b| *b == b'\n') {
            Some(at) => self.since_newline = n - at - 1,
            None => self.since_newline += n,
        }
        if self.since_newline > MAX_LINE_BYTES {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "a line longer than 1 MiB: this is not a CSV file of opt-outs",
            ));
        }
        Ok(n)
    }
}

/// The rows read and not yet handed over, and where they go.
struct Handover<'a> {
    chunk: RefCell<Vec<Row>>,
    tx: &'a mpsc::Sender<Vec<Row>>,
    /// The journal, if any: the rows' records are written before they go.
    reserve: RefCell<Option<Reserve>>,
    /// Why the journal could not take a chunk's records, once it could not.
    failed: RefCell<Option<Error>>,
}

impl Handover<'_> {
    /// Sends the rows read so far, if any, to the senders (the chunk starts again empty, with
    /// the same capacity), after their records are in the journal; `false` when the senders
    /// are gone or the journal failed. Rows the journal could not take go as not sent, so
    /// that the summary counts them.
    fn send(&self) -> bool {
        if self.failed.borrow().is_some() {
            return false;
        }
        let mut rows = {
            let mut chunk = self.chunk.borrow_mut();
            if chunk.is_empty() {
                return true;
            }
            let next = Vec::with_capacity(chunk.capacity());
            std::mem::replace(&mut *chunk, next)
        };
        if let Some(reserve) = self.reserve.borrow_mut().as_mut() {
            if let Err(error) = reserve.reserve(&mut rows) {
                *self.failed.borrow_mut() = Some(error);
                let _ = self.tx.blocking_send(rows);
                return false;
            }
        }
        self.tx.blocking_send(rows).is_ok()
    }
}

/// A used field of `record`: trimmed, `None` if empty or absent; an error if not UTF-8.
fn field<'r>(
    record: &'r csv::ByteRecord,
    column: Option<usize>,
    name: &str,
) -> Result<Option<&'r str>, Error> {
    let Some(bytes) = column.and_then(|c| record.get(c)) else {
        return Ok(None);
    };
    let text = std::str::from_utf8(bytes).map_err(|_| {
        Error::invalid_input(
            name,
            "is not UTF-8 text (a Latin-1 or Windows byte?); save the file as UTF-8",
        )
    })?;
    Ok(Some(text.trim()).filter(|v| !v.is_empty()))
}

/// One record of the input: its request, refused with the reason, or skipped as done.
fn read_row(
    record: &csv::ByteRecord,
    line: u64,
    columns: &Columns,
    job: &BulkJob,
    provider: Provider,
    done: &Done,
) -> Row {
    let request = (|| {
        let recipient = field(record, Some(columns.recipient), "recipient")?.unwrap_or("");
        let identifier = field(record, columns.identifier, "identifier")?;
        let topic = field(record, columns.topic, "topic")?;
        row_request(job, provider, recipient, identifier, topic)
    })();
    let (key, request, ended) = match request {
        Ok(request) => {
            // The key is what the journal matches a row by; without a journal there is no use
            // for it. Without a journal (or with an empty one) nothing is done: no hash.
            let key = if job.journal.is_some() {
                row_key(provider, &request, job.all_topics)
            } else {
                String::new()
            };
            if !done.is_empty()
                && done.contains(&key, || legacy_key(provider, record, columns, job))
            {
                (key, None, Some(Box::new(RowResult::Skipped)))
            } else {
                (key, Some(request), None)
            }
        }
        Err(e) => (
            String::new(),
            None,
            Some(Box::new(RowResult::Failed(Error::invalid_input(
                e.field().unwrap_or("row").to_string(),
                e.message().unwrap_or("is not valid"),
            )))),
        ),
    };
    Row {
        tag: Tag {
            line,
            key,
            ended,
            slot: None,
        },
        request,
    }
}

/// The hash of the key journals written before keys were JSON arrays gave this row:
/// `provider|recipient|identifier|topics` as written in the input, topics joined by `,`.
fn legacy_key(
    provider: Provider,
    record: &csv::ByteRecord,
    columns: &Columns,
    job: &BulkJob,
) -> u128 {
    let get = |c: Option<usize>| {
        c.and_then(|c| record.get(c))
            .and_then(|b| std::str::from_utf8(b).ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let mut topics = job.topics.clone();
    if let Some(topic) = get(columns.topic) {
        topics.push(topic.to_string());
    }
    let key = format!(
        "{provider}|{}|{}|{}",
        get(Some(columns.recipient)).unwrap_or(""),
        get(columns.identifier).unwrap_or(""),
        if job.all_topics {
            "*".to_string()
        } else {
            topics.join(",")
        }
    );
    fnv1a_128(key.as_bytes())
}

fn row_request(
    job: &BulkJob,
    provider: Provider,
    recipient: &str,
    identifier: Option<&str>,
    topic: Option<&str>,
) -> Result<Unsubscribe, Error> {
    if recipient.is_empty() {
        return Err(Error::invalid_input("recipient", "is empty"));
    }
    let recipient = Recipient::for_provider(provider, recipient, identifier)?;
    let topics = if job.all_topics {
        Topics::All
    } else {
        let mut topics = job.topics.clone();
        topics.extend(topic.map(str::to_string));
        if topics.is_empty() {
            return Err(Error::invalid_input(
                "topic",
                "no topic for this row; give --topic, --all-topics or a `topic` column",
            ));
        }
        Topics::Only(topics)
    };
    let request = Unsubscribe::new(recipient, topics);
    Ok(match &job.legal_basis {
        Some((basis, why)) => request.legal_basis(*basis, why.clone()),
        None => request,
    })
}
