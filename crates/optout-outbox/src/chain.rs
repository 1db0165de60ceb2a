//! The receipts' hash chain: each record's hash is SHA-256 over the previous record's hash, a
//! newline, and the record's canonical encoding (a JSON object with a fixed key order, times as
//! integer milliseconds since the Unix epoch). Editing any field of a record, deleting one, or
//! deleting the last one is detected by [`Checker`].

use optout_core::Recipient;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::deadline::to_ms;
use crate::model::{BadRecord, ReceiptRecord};

/// The `prev_hash` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Serialize)]
struct Canonical<'a> {
    seq: i64,
    opt_out_id: &'a str,
    task_id: i64,
    provider: &'a str,
    recipient: &'a Recipient,
    topics: &'a optout_core::Topics,
    outcome: optout_core::Outcome,
    reference: Option<&'a str>,
    received_at: i64,
    completed_at: i64,
    deadline: i64,
    deadline_met: bool,
    attempts: i64,
    legal_basis: Option<&'a str>,
    legal_basis_explanation: Option<&'a str>,
    source: Option<&'a str>,
}

/// The canonical encoding of a record (every field but `prev_hash` and `hash`).
pub fn canonical(r: &ReceiptRecord) -> String {
    serde_json::to_string(&Canonical {
        seq: r.seq,
        opt_out_id: &r.opt_out_id,
        task_id: r.task_id,
        provider: r.provider.as_str(),
        recipient: &r.recipient,
        topics: &r.topics,
        outcome: r.outcome,
        reference: r.reference.as_deref(),
        received_at: to_ms(r.received_at),
        completed_at: to_ms(r.completed_at),
        deadline: to_ms(r.deadline),
        deadline_met: r.deadline_met,
        attempts: r.attempts,
        legal_basis: r.legal_basis.map(|b| b.as_str()),
        legal_basis_explanation: r.legal_basis_explanation.as_deref(),
        source: r.source.as_deref(),
    })
    .expect("a receipt always encodes")
}

/// The hash of `record` chained to `prev_hash`, lower-case hex.
pub fn hash(prev_hash: &str, record: &ReceiptRecord) -> String {
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(b"\n");
    h.update(canonical(record).as_bytes());
    hex::encode(h.finalize())
}

/// Walks the records in chain order and remembers the first one that does not match.
#[derive(Debug)]
pub struct Checker {
    prev_seq: i64,
    prev_hash: String,
    records: u64,
    first_bad: Option<BadRecord>,
}

impl Default for Checker {
    fn default() -> Self {
        Checker {
            prev_seq: 0,
            prev_hash: GENESIS.to_string(),
            records: 0,
            first_bad: None,
        }
    }
}

impl Checker {
    /// Checks the next record.
    pub fn push(&mut self, r: &ReceiptRecord) {
        self.records += 1;
        if self.first_bad.is_some() {
            return;
        }
        let bad = if r.seq != self.prev_seq + 1 {
            Some(BadRecord {
                seq: self.prev_seq + 1,
                reason: format!("record {} is missing (deleted)", self.prev_seq + 1),
            })
        } else if r.prev_hash != self.prev_hash {
            Some(BadRecord {
                seq: r.seq,
                reason: format!("record {} does not follow the record before it", r.seq),
            })
        } else if hash(&r.prev_hash, r) != r.hash {
            Some(BadRecord {
                seq: r.seq,
                reason: format!(
                    "record {} (opt-out {}, {}) was changed after it was written",
                    r.seq, r.opt_out_id, r.provider
                ),
            })
        } else {
            None
        };
        self.first_bad = bad;
        self.prev_seq = r.seq;
        self.prev_hash = r.hash.clone();
    }

    /// Ends the walk against the chain head the store keeps (last seq and hash), which catches
    /// deleted records at the end.
    pub fn finish(mut self, head_seq: i64, head_hash: &str) -> crate::model::Verification {
        if self.first_bad.is_none() && (head_seq != self.prev_seq || head_hash != self.prev_hash) {
            self.first_bad = Some(BadRecord {
                seq: self.prev_seq + 1,
                reason: if head_seq > self.prev_seq {
                    format!("record {} is missing (deleted)", self.prev_seq + 1)
                } else {
                    format!("the chain head does not match record {}", self.prev_seq)
                },
            });
        }
        crate::model::Verification {
            records: self.records,
            first_bad: self.first_bad,
        }
    }
}
