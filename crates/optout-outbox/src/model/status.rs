//! What `status` answers: one opt-out's tasks and receipts, and the counts.

use std::collections::BTreeMap;
use std::time::SystemTime;

use super::{rfc3339, ReceiptRecord, TaskView};
use optout_core::Provider;
use serde::Serialize;

/// One opt-out's state per provider, and its receipts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct OptOutStatus {
    /// The id.
    pub id: String,
    /// When the deadline clock started.
    #[serde(serialize_with = "rfc3339")]
    pub received_at: SystemTime,
    /// Where it came from.
    pub source: Option<String>,
    /// One per provider and recipient.
    pub tasks: Vec<TaskView>,
    /// The receipts written so far.
    pub receipts: Vec<ReceiptRecord>,
}

/// Task counts of one provider.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Counts {
    /// Waiting to be sent (including those waiting for a retry).
    pub pending: u64,
    /// Held by a worker.
    pub in_flight: u64,
    /// Confirmed.
    pub done: u64,
    /// Parked until someone fixes the cause.
    pub needs_attention: u64,
    /// Not done and past the deadline (counted in the states above too).
    pub overdue: u64,
}

impl Counts {
    pub(crate) fn add(&mut self, other: &Counts) {
        self.pending += other.pending;
        self.in_flight += other.in_flight;
        self.done += other.done;
        self.needs_attention += other.needs_attention;
        self.overdue += other.overdue;
    }
}

/// Counts by state and provider (`optout status --json`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct StatusCounts {
    /// Every provider together.
    pub total: Counts,
    /// Per provider that has tasks.
    pub providers: BTreeMap<Provider, Counts>,
}
