//! A task: its state, the lease that fences a worker's writes, and how `status` shows it.

use std::fmt;
use std::time::SystemTime;

use super::{display, rfc3339};
use optout_core::{LegalBasis, Provider, Recipient, Topics};
use serde::{Deserialize, Serialize};

/// Where a task is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    /// Waiting to be sent (for the first time, or for a retry at `next_attempt_at`).
    Pending,
    /// Claimed by a worker under a lease.
    InFlight,
    /// Confirmed by the provider; its receipt is written.
    Done,
    /// Failed permanently (401, 403, 404, invalid input): waits for a person to fix the cause
    /// and [`retry`](crate::Store::retry) it.
    NeedsAttention,
}

impl TaskState {
    /// The name stored and printed.
    pub const fn as_str(self) -> &'static str {
        match self {
            TaskState::Pending => "pending",
            TaskState::InFlight => "in_flight",
            TaskState::Done => "done",
            TaskState::NeedsAttention => "needs_attention",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<TaskState> {
        Some(match s {
            "pending" => TaskState::Pending,
            "in_flight" => TaskState::InFlight,
            "done" => TaskState::Done,
            "needs_attention" => TaskState::NeedsAttention,
            _ => return None,
        })
    }
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A task a worker holds: what to send, and the lease that fences its writes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Task {
    /// The lease: task id and attempt number (the fencing token).
    pub lease: Lease,
    /// The opt-out it belongs to.
    pub opt_out_id: String,
    /// The provider.
    pub provider: Provider,
    /// The recipient there.
    pub recipient: Recipient,
    /// What to unsubscribe from.
    pub topics: Topics,
    /// The legal basis and explanation, if any.
    pub legal_basis: Option<(LegalBasis, String)>,
    /// The deadline.
    pub deadline: SystemTime,
    /// When the opt-out was received.
    pub received_at: SystemTime,
    /// Where the opt-out came from, if given.
    pub source: Option<String>,
    /// The legal basis's explanation exactly as stored (also without a basis), which the
    /// receipt records as given.
    pub(crate) explanation: Option<String>,
}

/// A claim on a task: only the holder of the latest attempt can close it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Lease {
    /// The task id.
    pub task_id: i64,
    /// The attempt number this claim made (1 for the first).
    pub attempt: i64,
}

/// What to do with a task whose attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Try again at this time.
    RetryAt(SystemTime),
    /// Park it as needing attention.
    Park,
}

/// A task, as [`status`](crate::Store::status) shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct TaskView {
    /// The task id.
    pub id: i64,
    /// The provider.
    pub provider: Provider,
    /// The recipient there.
    #[serde(serialize_with = "display")]
    pub recipient: Recipient,
    /// What to unsubscribe from.
    pub topics: Topics,
    /// Where it is.
    pub state: TaskState,
    /// Attempts made (claims, including ones whose worker died).
    pub attempts: i64,
    /// When it is next due (pending tasks).
    #[serde(serialize_with = "rfc3339")]
    pub next_attempt_at: SystemTime,
    /// When it must be done.
    #[serde(serialize_with = "rfc3339")]
    pub deadline: SystemTime,
    /// Not done and past its deadline.
    pub overdue: bool,
    /// The last error, for tasks waiting for a retry or needing attention.
    pub last_error: Option<String>,
}
