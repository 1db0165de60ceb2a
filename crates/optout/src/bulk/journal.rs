//! The journal: one JSON line per finished row, appended as rows finish, and read back by a
//! rerun to skip the rows already done (by a 128-bit hash of each row's key).

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};

use optout_core::{Error, Outcome, Receipt};
use serde::{Deserialize, Serialize};

use super::drive::Finished;
use super::{BulkJob, RowResult};

/// One line of the journal, as written: serialized from the finished row, borrowing it.
#[derive(Serialize)]
struct Entry<'a> {
    key: &'a str,
    line: u64,
    result: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    receipt: Option<&'a Receipt>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a Error>,
}

/// What a rerun reads of a journal line; the receipt or error is skipped unread.
#[derive(Deserialize)]
struct Done<'a> {
    #[serde(borrow)]
    key: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    result: std::borrow::Cow<'a, str>,
}

/// Appends a line per finished row (skipped rows have none) in one write, straight to the
/// OS: a kill after it returns loses nothing, and a kill during it leaves at most a torn last
/// line, which a rerun skips (and sends that row again). Each line is serialized from the row
/// itself, not through a `serde_json::Value` (which cost a tree of allocations per row).
pub(super) fn write_entries(
    file: &mut File,
    rows: &[Finished],
    job: &BulkJob,
) -> Result<(), Error> {
    let mut lines = Vec::with_capacity(rows.len() * 320);
    for row in rows {
        let (result, receipt, error) = match &row.result {
            RowResult::Done(receipt) => (
                match receipt.outcome {
                    Outcome::AlreadyUnsubscribed => "already_unsubscribed",
                    _ => "unsubscribed",
                },
                Some(receipt),
                None,
            ),
            RowResult::Failed(error) => ("failed", None, Some(error)),
            RowResult::Skipped => continue,
        };
        let entry = Entry {
            key: &row.key,
            line: row.line,
            result,
            receipt,
            error,
        };
        serde_json::to_writer(&mut lines, &entry).map_err(|e| {
            Error::interrupted(format!(
                "cannot write the journal entry of line {}: {e}",
                row.line
            ))
        })?;
        lines.push(b'\n');
    }
    if lines.is_empty() {
        return Ok(());
    }
    file.write_all(&lines).map_err(|e| {
        let path = job
            .journal
            .as_deref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        Error::interrupted(format!("cannot append to the journal {path}: {e}"))
    })
}

/// Opens the journal for appending. If the last run was killed mid-line, the torn line is
/// ended first, so that the next entry starts on a line of its own instead of being glued to
/// the fragment (and lost with it).
pub(super) fn open_journal(path: &std::path::Path) -> std::io::Result<File> {
    use std::io::{Seek, SeekFrom};
    let mut file = OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .open(path)?;
    if file.seek(SeekFrom::End(0))? > 0 {
        let mut last = [0u8];
        file.seek(SeekFrom::End(-1))?;
        file.read_exact(&mut last)?;
        if last[0] != b'\n' {
            file.write_all(b"\n")?;
        }
    }
    Ok(file)
}

/// The hashes of the keys the journal records as done. A torn last line (the process was
/// killed while writing it) is ignored: that row is simply sent again.
pub(super) fn load_journal(path: &std::path::Path) -> Result<HashSet<u128>, Error> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashSet::new()),
        Err(e) => {
            return Err(Error::config(format!(
                "cannot read the journal {}: {e}",
                path.display()
            )))
        }
    };
    let mut done = HashSet::new();
    // Split on bytes, not `lines()`: a line torn inside a multi-byte character is not UTF-8,
    // and must be skipped like any other torn line rather than fail the whole run.
    for line in BufReader::new(file).split(b'\n') {
        let line = line.map_err(|e| {
            Error::config(format!("cannot read the journal {}: {e}", path.display()))
        })?;
        if let Ok(entry) = serde_json::from_slice::<Done>(&line) {
            if entry.result == "unsubscribed" || entry.result == "already_unsubscribed" {
                done.insert(fnv1a_128(entry.key.as_bytes()));
            }
        }
    }
    Ok(done)
}

/// FNV-1a, 128 bits: stable across builds (unlike std's hasher), so a journal written by one
/// version is read right by the next, and collisions are out of reach (about 1e-27 for a
/// million rows).
pub(super) fn fnv1a_128(bytes: &[u8]) -> u128 {
    const OFFSET: u128 = 0x6c62272e07bb014262b821756295c58d;
    const PRIME: u128 = 0x0000000001000000000000000000013B;
    bytes.iter().fold(OFFSET, |hash, b| {
        (hash ^ u128::from(*b)).wrapping_mul(PRIME)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_is_the_reference_function() {
        // FNV-1a 128 of the empty input is the offset basis; of "a", the published value.
        assert_eq!(fnv1a_128(b""), 0x6c62272e07bb014262b821756295c58d);
        assert_eq!(fnv1a_128(b"a"), 0xd228cb696f1a8caf78912b704e4a8964);
    }
}
