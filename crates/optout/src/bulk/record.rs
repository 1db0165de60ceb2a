//! The journal's records: each row to send gets its line *before* it is sent, a fixed-width
//! `pending` record, and the row's result is written over that record, in place, once it
//! finishes.
//!
//! Why: a journal that fills its disk (ENOSPC), passes a file size limit (EFBIG) or fails
//! (EIO) must never have rows sent whose results cannot be recorded. Appending each result
//! after the call cannot promise that: the write that fails comes after the send. Here the
//! write that can fail, the one that makes the file longer, comes first: when it fails, the
//! rows it was for are not sent, and the run stops. The result is then written over the
//! record with `pwrite` at its offset (`FileExt::write_all_at`), padded to the same width: an
//! overwrite inside the file's length needs no new blocks on ext4, xfs or tmpfs (their
//! blocks, or delayed-allocation reservations, were taken by the first write), so it cannot
//! meet a full disk or the size limit. On a copy-on-write file system (btrfs, zfs) an
//! overwrite can still fail; then the run stops too, and the row stays `pending`.
//!
//! A `pending` record is not done: a rerun sends that row again, which is safe, as an opt-out
//! is idempotent (the provider answers "already unsubscribed"). The padding is spaces before
//! the line break, which JSON readers (this one, and those of older versions) skip; a result
//! too wide for its record has its error message cut, never its key or result. Records are
//! synced as appends were before (not one by one: the header's write and sync check the file
//! before anything is sent, and a kill loses nothing the kernel has).
//!
//! The width is the `pending` record's plus the key's length (a receipt repeats the
//! recipient and topics) plus [`RESULT_ROOM`]: a receipt fits, and so does a provider's
//! error of a few hundred bytes.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use optout_core::{Error, ErrorKind, Outcome, Provider, Receipt};
use serde::Serialize;

use super::drive::{Finished, Row};
use super::RowResult;

/// Room for the result in each record, beyond the `pending` record and the key's length.
pub(super) const RESULT_ROOM: usize = 256;

/// Where a row's record is in the journal: its offset and width (the line break included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Slot {
    at: u64,
    width: u32,
}

/// One line of the journal, as written: serialized from the row, borrowing it.
#[derive(Serialize)]
struct Entry<'a, E: Serialize> {
    key: &'a str,
    line: u64,
    result: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    receipt: Option<&'a Receipt>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<E>,
}

/// An error cut to fit its record: what kind, from whom, and the start of its message.
#[derive(Serialize)]
struct CutError<'a> {
    kind: ErrorKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    provider: Option<Provider>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    retryable: bool,
    error: &'a str,
    cut: bool,
}

/// The `result` of a row's line; `None` for a row that has no line (skipped, not sent).
fn result_name(result: &RowResult) -> Option<&'static str> {
    match result {
        RowResult::Done(receipt) if receipt.outcome == Outcome::AlreadyUnsubscribed => {
            Some("already_unsubscribed")
        }
        RowResult::Done(_) => Some("unsubscribed"),
        RowResult::Failed(_) => Some("failed"),
        RowResult::Skipped | RowResult::NotSent => None,
    }
}

/// Appends `entry`'s JSON to `out` (a line break is the caller's).
fn push_json<E: Serialize>(out: &mut Vec<u8>, entry: &Entry<'_, E>) {
    // Serializing into a `Vec` fails only for a map with non-string keys: none here.
    let _ = serde_json::to_writer(out, entry);
}

/// Appends the line of a finished row to `out`, at most `width` bytes with its line break
/// (padded with spaces to exactly `width`); without a width, as long as it is. The error
/// message is cut to fit, then the error dropped, then the receipt: never the key or result.
/// `false` (and nothing appended) if even the key and result do not fit, which a record's
/// width rules out: it has room for them by construction.
fn push_line(
    out: &mut Vec<u8>,
    key: &str,
    line: u64,
    result: &RowResult,
    width: Option<usize>,
) -> bool {
    let Some(name) = result_name(result) else {
        return true;
    };
    let start = out.len();
    let (receipt, error) = match result {
        RowResult::Done(receipt) => (Some(receipt), None),
        RowResult::Failed(error) => (None, Some(error)),
        _ => (None, None),
    };
    // One function for every type of error (a closure would take one only).
    fn entry<'a, E: Serialize>(
        (key, line, result): (&'a str, u64, &'static str),
        receipt: Option<&'a Receipt>,
        error: Option<E>,
    ) -> Entry<'a, E> {
        Entry {
            key,
            line,
            result,
            receipt,
            error,
        }
    }
    let head = (key, line, name);
    push_json(out, &entry(head, receipt, error));
    let Some(width) = width else {
        out.push(b'\n');
        return true;
    };
    if out.len() - start >= width {
        out.truncate(start);
        let mut fits = false;
        if let Some(error) = error {
            // Without its message: how much room the message has.
            let cut = |text| CutError {
                kind: error.kind(),
                provider: error.provider(),
                status: error.status(),
                retryable: error.is_retryable(),
                error: text,
                cut: true,
            };
            push_json(out, &entry(head, None, Some(cut(""))));
            let room = (width - 1).checked_sub(out.len() - start);
            out.truncate(start);
            if let Some(room) = room {
                let message = error.to_string();
                push_json(out, &entry(head, None, Some(cut(cut_to(&message, room)))));
                fits = true;
            }
        }
        if !fits {
            push_json(out, &entry(head, None, None::<&Error>));
        }
    }
    if out.len() - start >= width {
        out.truncate(start);
        return false;
    }
    out.resize(start + width - 1, b' ');
    out.push(b'\n');
    true
}

/// The longest start of `text` whose JSON string takes at most `room` bytes (its escapes
/// counted, the quotes not).
fn cut_to(text: &str, room: usize) -> &str {
    let mut used = 0;
    for (i, c) in text.char_indices() {
        used += match c {
            '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
            c if (c as u32) < 0x20 => 6,
            c => c.len_utf8(),
        };
        if used > room {
            return &text[..i];
        }
    }
    text
}

/// A failure to write the journal, from either side.
fn cannot(path: &Path, what: &str, e: &std::io::Error) -> String {
    format!("cannot {what} the journal {}: {e}", path.display())
}

/// The reader's side: gives each row to send its `pending` record (and a row refused
/// before sending its final line), at the end of the journal, before the rows go out.
#[derive(Debug)]
pub(super) struct Reserve {
    file: Arc<File>,
    path: PathBuf,
    /// The journal's length: where the next record goes.
    end: u64,
    buf: Vec<u8>,
}

impl Reserve {
    /// Records go to `file` (at `path`), from `end` on.
    pub(super) fn new(file: Arc<File>, path: PathBuf, end: u64) -> Reserve {
        Reserve {
            file,
            path,
            end,
            buf: Vec::new(),
        }
    }

    /// Writes the records of `rows` in one write and gives each row to send its slot. On an
    /// error, no row of `rows` has a slot and none may be sent; the error says so.
    pub(super) fn reserve(&mut self, rows: &mut [Row]) -> Result<(), Error> {
        self.buf.clear();
        for row in rows.iter_mut() {
            let tag = &mut row.tag;
            match (&row.request, &tag.ended) {
                (Some(_), _) => {
                    let start = self.buf.len();
                    let pending = Entry::<&Error> {
                        key: &tag.key,
                        line: tag.line,
                        result: "pending",
                        receipt: None,
                        error: None,
                    };
                    push_json(&mut self.buf, &pending);
                    let width = self.buf.len() - start + tag.key.len() + RESULT_ROOM;
                    self.buf.resize(start + width - 1, b' ');
                    self.buf.push(b'\n');
                    tag.slot = Some(Slot {
                        at: self.end + start as u64,
                        width: u32::try_from(width).unwrap_or(u32::MAX),
                    });
                }
                (None, Some(ended)) => {
                    push_line(&mut self.buf, &tag.key, tag.line, ended, None);
                }
                (None, None) => {}
            }
        }
        if self.buf.is_empty() {
            return Ok(());
        }
        match self.file.write_all_at(&self.buf, self.end) {
            Ok(()) => {
                self.end += self.buf.len() as u64;
                Ok(())
            }
            Err(e) => {
                // A part of the records may be in the file: the rows are not sent, so those
                // stay `pending` (or are a torn last line), and a rerun sends them.
                let from = rows.first().map_or(0, |row| row.tag.line);
                let mut unsent = 0;
                for row in rows.iter_mut() {
                    row.tag.slot = None;
                    if row.request.take().is_some() {
                        row.tag.ended = Some(Box::new(RowResult::NotSent));
                        unsent += 1;
                    }
                }
                Err(Error::interrupted(format!(
                    "{}; so that nothing is sent that the journal cannot record, nothing from line \
                     {from} of the input on was sent ({unsent} rows read and not sent, the rest of \
                     the input not read): free space (or raise the file size limit) and run again \
                     with the same --journal to continue",
                    cannot(&self.path, "write", &e)
                )))
            }
        }
    }
}

/// The driver's side: writes each finished row's result over its `pending` record.
#[derive(Debug)]
pub(super) struct Fill {
    file: Arc<File>,
    path: PathBuf,
    buf: Vec<u8>,
}

impl Fill {
    /// Results go to `file` (at `path`).
    pub(super) fn new(file: Arc<File>, path: PathBuf) -> Fill {
        Fill {
            file,
            path,
            buf: Vec::new(),
        }
    }

    /// Writes the results of `rows` over their records, records next to each other in one
    /// write. Rows without a slot were written by [`Reserve`] or have no line.
    pub(super) fn fill(&mut self, rows: &[Finished]) -> Result<(), Error> {
        self.buf.clear();
        let mut from = 0;
        for row in rows {
            let Some(slot) = row.slot else { continue };
            if result_name(&row.result).is_none() {
                continue; // not sent after all: it stays `pending`
            }
            if from + self.buf.len() as u64 != slot.at {
                self.flush(from)?;
                from = slot.at;
            }
            // A line that cannot fit (ruled out by the record's width) leaves it `pending`.
            let _ = push_line(
                &mut self.buf,
                &row.key,
                row.line,
                &row.result,
                Some(slot.width as usize),
            );
        }
        self.flush(from)
    }

    fn flush(&mut self, at: u64) -> Result<(), Error> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let written = self.file.write_all_at(&self.buf, at);
        self.buf.clear();
        written.map_err(|e| {
            Error::interrupted(format!(
                "{}; the rows in flight stay `pending` in it, and a rerun sends them again",
                cannot(&self.path, "write a result in", &e)
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use optout_core::{Recipient, Topics};

    fn line_of(result: &RowResult, width: Option<usize>) -> String {
        let mut out = Vec::new();
        assert!(push_line(&mut out, r#"["k"]"#, 7, result, width));
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_result_is_padded_to_its_width_and_a_long_message_cut() {
        let receipt = Receipt::new(
            Provider::HubSpot,
            Recipient::Email {
                address: "a@example.com".into(),
            },
            Topics::Only(vec!["1".into()]),
            Outcome::Unsubscribed,
            None,
        );
        let done = line_of(&RowResult::Done(receipt), Some(400));
        assert_eq!(done.len(), 400);
        assert!(done.ends_with(" \n"), "{done:?}");
        let value: serde_json::Value = serde_json::from_str(&done).unwrap();
        assert_eq!(value["result"], "unsubscribed");
        assert_eq!(value["receipt"]["recipient"]["address"], "a@example.com");

        let error = Error::api(Provider::HubSpot, 400).with_message("\"x\"\n".repeat(500));
        let failed = line_of(&RowResult::Failed(error), Some(300));
        assert_eq!(failed.len(), 300, "{failed}");
        let value: serde_json::Value = serde_json::from_str(&failed).unwrap();
        assert_eq!(
            (&value["key"], &value["line"], &value["result"]),
            (&r#"["k"]"#.into(), &7.into(), &"failed".into())
        );
        assert_eq!(value["error"]["status"], 400);
        assert_eq!(value["error"]["cut"], true);
        assert!(value["error"]["error"].as_str().unwrap().len() > 100);

        // Too narrow even for the cut error: the key and result stay.
        let failed = line_of(
            &RowResult::Failed(Error::api(Provider::HubSpot, 400)),
            Some(60),
        );
        let value: serde_json::Value = serde_json::from_str(&failed).unwrap();
        assert_eq!(value["result"], "failed");
        assert!(value.get("error").is_none());
    }

    #[test]
    fn cut_to_counts_escapes() {
        assert_eq!(cut_to("abc", 2), "ab");
        assert_eq!(cut_to("a\"b", 2), "a");
        assert_eq!(cut_to("a\"b", 3), "a\"");
        assert_eq!(cut_to("é!", 1), "");
        assert_eq!(cut_to("é!", 3), "é!");
    }
}
