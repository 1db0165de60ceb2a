//! Receipts: the query that lists them, the stored record, and the chain's check.

use std::time::SystemTime;

use super::{display, rfc3339};
use optout_core::{LegalBasis, Provider, Recipient, Topics};
use serde::Serialize;

/// Which receipts to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReceiptQuery {
    /// The recipient, as printed (an email address, MSISDN, token or subscriber id).
    pub recipient: Option<String>,
    /// The provider.
    pub provider: Option<Provider>,
    /// Completed at or after.
    pub since: Option<SystemTime>,
    /// Completed before.
    pub until: Option<SystemTime>,
    /// One opt-out's receipts.
    pub opt_out_id: Option<String>,
}

impl ReceiptQuery {
    /// Only this recipient's receipts (as printed: address, MSISDN, token, subscriber id).
    pub fn recipient(mut self, recipient: impl Into<String>) -> Self {
        self.recipient = Some(recipient.into());
        self
    }

    /// Only this provider's receipts.
    pub fn provider(mut self, provider: Provider) -> Self {
        self.provider = Some(provider);
        self
    }

    /// Only receipts completed at or after `t`.
    pub fn since(mut self, t: SystemTime) -> Self {
        self.since = Some(t);
        self
    }

    /// Only receipts completed before `t`.
    pub fn until(mut self, t: SystemTime) -> Self {
        self.until = Some(t);
        self
    }

    /// Only this opt-out's receipts.
    pub fn opt_out(mut self, id: impl Into<String>) -> Self {
        self.opt_out_id = Some(id.into());
        self
    }
}

/// A stored receipt: the provider's confirmation with the evidence around it, chained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ReceiptRecord {
    /// Position in the chain, from 1.
    pub seq: i64,
    /// The opt-out.
    pub opt_out_id: String,
    /// The task.
    pub task_id: i64,
    /// The provider.
    pub provider: Provider,
    /// The recipient.
    #[serde(serialize_with = "display")]
    pub recipient: Recipient,
    /// What was unsubscribed.
    pub topics: Topics,
    /// `unsubscribed` or `already_unsubscribed`.
    pub outcome: optout_core::Outcome,
    /// The provider's reference, if any.
    pub reference: Option<String>,
    /// When the opt-out was received.
    #[serde(serialize_with = "rfc3339")]
    pub received_at: SystemTime,
    /// When the receipt was written.
    #[serde(serialize_with = "rfc3339")]
    pub completed_at: SystemTime,
    /// The deadline.
    #[serde(serialize_with = "rfc3339")]
    pub deadline: SystemTime,
    /// Whether it was done by the deadline.
    pub deadline_met: bool,
    /// Attempts it took.
    pub attempts: i64,
    /// The legal basis.
    pub legal_basis: Option<LegalBasis>,
    /// Its explanation.
    pub legal_basis_explanation: Option<String>,
    /// Where the opt-out came from.
    pub source: Option<String>,
    /// The previous record's hash (64 zeros for the first).
    pub prev_hash: String,
    /// SHA-256 over `prev_hash` and this record's canonical encoding, hex.
    pub hash: String,
}

/// What [`verify`](crate::Store::verify) found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Verification {
    /// Records checked.
    pub records: u64,
    /// The first record that does not match, if any.
    pub first_bad: Option<BadRecord>,
}

/// A record that breaks the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct BadRecord {
    /// Its position (for a deleted record: the missing position).
    pub seq: i64,
    /// What is wrong.
    pub reason: String,
}
