//! The journal: one JSON line per row, reserved before the row is sent and filled in with
//! its result when it finishes (see [`record`](super::record)), read back by a rerun to skip
//! the rows already done (by a 128-bit hash of each row's key).

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;

use optout_core::Error;
use serde::{Deserialize, Serialize};

/// What a rerun reads of a journal line; the receipt or error is skipped unread.
#[derive(Deserialize)]
struct Entered<'a> {
    #[serde(borrow)]
    key: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    result: std::borrow::Cow<'a, str>,
}

/// The hashes of the keys a journal records as done.
#[derive(Debug, Default)]
pub(super) struct Done {
    /// Keys as written now (JSON arrays of normalised values).
    keys: HashSet<u128>,
    /// Keys of journals written before (`provider|recipient|identifier|topics`, as in the
    /// input): still honoured, so that a rerun on an old journal skips what it did.
    legacy: HashSet<u128>,
}

impl Done {
    /// Whether nothing is done (no journal, or an empty one).
    pub(super) fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.legacy.is_empty()
    }

    /// Whether the row of `key` is done; `legacy` computes its old key's hash, only when the
    /// journal has old lines.
    pub(super) fn contains(&self, key: &str, legacy: impl FnOnce() -> u128) -> bool {
        self.keys.contains(&fnv1a_128(key.as_bytes()))
            || (!self.legacy.is_empty() && self.legacy.contains(&legacy()))
    }
}

/// The journal key of a request: a JSON array of the provider, the recipient as the provider
/// gets it (an email lower-cased, a phone's digits), the Novu identifier (or `null`) and the
/// topics, sorted (or `"*"` for all). Unambiguous whatever the values hold (`|`, `,`, quotes).
pub(super) fn row_key(
    provider: optout_core::Provider,
    request: &optout_core::Unsubscribe,
    all: bool,
) -> String {
    use optout_core::{Recipient, Topics};
    use std::borrow::Cow;
    use std::fmt::Write as _;
    let (recipient, identifier): (Cow<'_, str>, Option<&str>) = match &request.recipient {
        Recipient::Email { address } if address.bytes().any(|b| b.is_ascii_uppercase()) => {
            (Cow::Owned(address.to_ascii_lowercase()), None)
        }
        Recipient::Email { address } => (Cow::Borrowed(address), None),
        Recipient::Phone { msisdn } => (Cow::Borrowed(msisdn), None),
        Recipient::Device { token } => (Cow::Borrowed(token), None),
        Recipient::Subscriber { id, identifier } => (Cow::Borrowed(id), identifier.as_deref()),
        other => (Cow::Owned(other.to_string()), None),
    };
    // Written straight into one string (no `serde_json::Value` tree per row); each value
    // is a JSON string, so nothing in it can be taken for a separator.
    let mut key = String::with_capacity(32 + recipient.len());
    let quoted = |key: &mut String, value: &str| {
        // A `&str` always serializes.
        key.push_str(&serde_json::to_string(value).unwrap_or_default());
    };
    let _ = write!(key, "[\"{provider}\",");
    quoted(&mut key, &recipient);
    key.push(',');
    match identifier {
        Some(identifier) => quoted(&mut key, identifier),
        None => key.push_str("null"),
    }
    key.push(',');
    match (&request.topics, all) {
        (Topics::Only(topics), false) => {
            let mut topics: Vec<&str> = topics.iter().map(String::as_str).collect();
            topics.sort_unstable();
            topics.dedup();
            key.push('[');
            for (i, topic) in topics.iter().enumerate() {
                if i > 0 {
                    key.push(',');
                }
                quoted(&mut key, topic);
            }
            key.push(']');
        }
        _ => key.push_str("\"*\""),
    }
    key.push(']');
    key
}

/// Where a journal's rows were sent: its first line, so that a journal from a trial against
/// another server or account does not make the real run skip rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Destination {
    /// The provider's name (`hubspot`, ...).
    pub provider: String,
    /// The base URL the requests went to.
    pub base_url: String,
    /// A fingerprint of the account (e.g. `sha256:` and the first 16 hex digits of the
    /// credential's SHA-256): never the credential itself.
    pub account: String,
}

/// The header line, as written.
#[derive(Serialize, Deserialize)]
struct Header {
    optout_journal: u32,
    #[serde(flatten)]
    destination: Destination,
}

/// The longest journal line read back: a longer one is not a journal's (`/dev/zero`).
const MAX_JOURNAL_LINE: u64 = 1 << 20;

/// Opens the journal for writing, after [`load_journal`] checked it, and answers its length
/// (where the next record goes). A new (empty) journal gets the header first; the header or,
/// for an old journal, a sync must succeed before anything is sent (a full disk or
/// `/dev/full` stops the run here, with nothing sent). If the last run was killed mid-line,
/// the torn line is ended first, so that the next record starts on a line of its own instead
/// of being glued to the fragment (and lost with it). Not opened for appending: records are
/// written at offsets (`pwrite`), which Linux ignores for a file opened with `O_APPEND`.
pub(super) fn open_journal(
    path: &Path,
    destination: Option<&Destination>,
) -> std::io::Result<(File, u64)> {
    use std::io::{Seek, SeekFrom};
    let mut file = OpenOptions::new()
        .create(true)
        .read(true)
        .write(true)
        .truncate(false)
        .open(path)?;
    let len = file.seek(SeekFrom::End(0))?;
    if len > 0 {
        let mut last = [0u8];
        file.seek(SeekFrom::End(-1))?;
        file.read_exact(&mut last)?;
        file.seek(SeekFrom::End(0))?;
        if last[0] != b'\n' {
            file.write_all(b"\n")?;
        }
    } else if let Some(destination) = destination {
        let header = Header {
            optout_journal: 1,
            destination: destination.clone(),
        };
        let mut line = serde_json::to_vec(&header).map_err(std::io::Error::other)?;
        line.push(b'\n');
        file.write_all(&line)?;
    } else {
        // Nothing to write yet: check that the file takes a write all the same.
        file.write_all(b"")?;
    }
    file.sync_data()?;
    let end = file.stream_position()?;
    Ok((file, end))
}

/// The keys the journal records as done. A torn last line (the process was killed while
/// writing it) is ignored: that row is simply sent again. A journal whose header names
/// another destination than `destination` is refused ([`ErrorKind::Config`](optout_core::ErrorKind),
/// nothing sent); one without a header (written before headers) is read as it is.
pub(super) fn load_journal(path: &Path, destination: Option<&Destination>) -> Result<Done, Error> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Done::default()),
        Err(e) => {
            return Err(Error::config(format!(
                "cannot read the journal {}: {e}",
                path.display()
            )))
        }
    };
    let cannot = |e: &dyn std::fmt::Display| {
        Error::config(format!("cannot read the journal {}: {e}", path.display()))
    };
    let mut done = Done::default();
    let mut reader = BufReader::new(file);
    let mut line = Vec::new();
    let mut first = true;
    loop {
        line.clear();
        // Split on bytes, not `lines()`: a line torn inside a multi-byte character is not
        // UTF-8, and must be skipped like any other torn line rather than fail the whole run.
        let n = (&mut reader)
            .take(MAX_JOURNAL_LINE + 1)
            .read_until(b'\n', &mut line)
            .map_err(|e| cannot(&e))?;
        if n == 0 {
            break;
        }
        if line.len() as u64 > MAX_JOURNAL_LINE {
            return Err(cannot(&"a line longer than 1 MiB: this is not an optout journal; give another --journal file"));
        }
        if std::mem::take(&mut first) {
            if let Ok(header) = serde_json::from_slice::<Header>(&line) {
                if let Some(expected) = destination {
                    if &header.destination != expected {
                        return Err(Error::config(format!(
                            "the journal {} records a run against {} {} (account {}), not this one against {} {} (account {}); \
                             give a new --journal file to start a new journal",
                            path.display(),
                            header.destination.provider,
                            header.destination.base_url,
                            header.destination.account,
                            expected.provider,
                            expected.base_url,
                            expected.account,
                        )));
                    }
                }
                continue;
            }
        }
        if let Ok(entry) = serde_json::from_slice::<Entered>(&line) {
            if entry.result == "unsubscribed" || entry.result == "already_unsubscribed" {
                let hash = fnv1a_128(entry.key.as_bytes());
                if entry.key.starts_with('[') {
                    done.keys.insert(hash);
                } else {
                    done.legacy.insert(hash);
                }
            }
        }
    }
    Ok(done)
}

/// A lock on a journal: `<journal>.lock` holding the pid of the run that has it, removed
/// when dropped. Two runs on one journal would both send every row.
#[derive(Debug)]
pub(super) struct Lock(std::path::PathBuf);

impl Lock {
    /// Takes the lock of the journal at `path`; refuses ([`ErrorKind::Config`](optout_core::ErrorKind))
    /// if a live process holds it. A lock left by a process that is gone is taken over.
    pub(super) fn take(path: &Path) -> Result<Lock, Error> {
        let mut name = path.as_os_str().to_owned();
        name.push(".lock");
        let lock = std::path::PathBuf::from(name);
        for _ in 0..2 {
            match OpenOptions::new().write(true).create_new(true).open(&lock) {
                Ok(mut file) => {
                    let _ = writeln!(file, "{}", std::process::id());
                    return Ok(Lock(lock));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = std::fs::read_to_string(&lock).unwrap_or_default();
                    let pid = holder.trim();
                    let alive = !pid.is_empty()
                        && (!Path::new("/proc/self").exists()
                            || Path::new("/proc").join(pid).exists());
                    if alive {
                        return Err(Error::config(format!(
                            "the journal {} is in use by another run (pid {pid}, in {}); wait for it to end, \
                             or remove {} if that process is gone",
                            path.display(),
                            lock.display(),
                            lock.display()
                        )));
                    }
                    let _ = std::fs::remove_file(&lock); // left by a run that is gone
                }
                Err(e) => {
                    return Err(Error::config(format!(
                        "cannot lock the journal {} (creating {}): {e}",
                        path.display(),
                        lock.display()
                    )))
                }
            }
        }
        Err(Error::config(format!(
            "cannot lock the journal {}: {} keeps coming back; remove it if no run is using the journal",
            path.display(),
            lock.display()
        )))
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
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
