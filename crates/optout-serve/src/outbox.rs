//! [`OutboxIntake`]: the durable outbox (`optout-outbox`) as the server's [`Intake`].

use async_trait::async_trait;

use crate::intake::{
    Accepted, Counts, Intake, IntakeError, OptOut, OptOutStatus, TaskState, TaskStatus,
};

/// The outbox behind the server: `accept` returns once the opt-out is committed (SQLite WAL
/// with `synchronous=FULL`, or a PostgreSQL transaction).
#[derive(Debug, Clone)]
pub struct OutboxIntake {
    outbox: Outbox,
}

impl OutboxIntake {
    /// The server's intake over `outbox`. With many concurrent clients, give it an outbox
    /// with group commit on ([`Outbox::group_commit`]), as `optout serve` does: concurrent
    /// accepts then share one transaction, and each is still answered only once committed.
    pub fn new(outbox: Outbox) -> Self {
        OutboxIntake { outbox }
    }

    /// The outbox, to share its store with a worker.
    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }
}

fn intake_error(e: OutboxError) -> IntakeError {
    match e {
        OutboxError::Invalid(e) => IntakeError::Refused {
            field: e.field().map(str::to_string),
            message: e.message().unwrap_or("refused").to_string(),
        },
        other => IntakeError::Unavailable(other.to_string()),
    }
}

fn state(s: optout_outbox::TaskState) -> TaskState {
    match s {
        optout_outbox::TaskState::Pending => TaskState::Pending,
        optout_outbox::TaskState::InFlight => TaskState::InFlight,
        optout_outbox::TaskState::Done => TaskState::Done,
        optout_outbox::TaskState::NeedsAttention => TaskState::NeedsAttention,
    }
}

#[async_trait]
impl Intake for OutboxIntake {
    async fn accept(&self, opt_out: OptOut) -> Result<Accepted, IntakeError> {
        let mut o = optout_outbox::OptOut::default();
        for t in opt_out.targets {
            o = o.to(t.provider, t.recipient, t.topics);
        }
        if let Some((basis, why)) = opt_out.legal_basis {
            o = o.legal_basis(basis, why);
        }
        o = o.source(opt_out.source).received_at(opt_out.received_at);
        if let Some(key) = opt_out.idempotency_key {
            o = o.idempotency_key(key);
        }
        let a = self.outbox.accept(&o).await.map_err(intake_error)?;
        let deadlines = a
            .deadlines
            .iter()
            .map(|d| (d.provider, d.deadline))
            .collect();
        let mut accepted = Accepted::new(a.id, a.received_at, deadlines);
        accepted.duplicate = !a.created;
        Ok(accepted)
    }

    async fn status(&self, id: &str) -> Result<Option<OptOutStatus>, IntakeError> {
        let Some(s) = self.outbox.status(id).await.map_err(intake_error)? else {
            return Ok(None);
        };
        let tasks = s
            .tasks
            .iter()
            .map(|t| {
                let mut task = TaskStatus::new(t.provider, state(t.state), t.deadline);
                task.overdue = t.overdue;
                task.attempts = u32::try_from(t.attempts).unwrap_or(u32::MAX);
                task.last_error = t.last_error.clone();
                task
            })
            .collect();
        let mut status = OptOutStatus::new(s.id, s.received_at, tasks);
        status.receipts = s
            .receipts
            .iter()
            .filter_map(|r| serde_json::to_value(r).ok())
            .collect();
        Ok(Some(status))
    }

    async fn ready(&self) -> Result<(), IntakeError> {
        self.outbox.counts().await.map(|_| ()).map_err(intake_error)
    }

    async fn counts(&self) -> Result<Counts, IntakeError> {
        let c = self.outbox.counts().await.map_err(intake_error)?;
        let mut counts = Counts::default();
        for (&p, n) in &c.providers {
            for (s, v) in [
                (TaskState::Pending, n.pending),
                (TaskState::InFlight, n.in_flight),
                (TaskState::Done, n.done),
                (TaskState::NeedsAttention, n.needs_attention),
            ] {
                counts.tasks.push((p, s, v));
            }
            counts.overdue.push((p, n.overdue));
        }
        Ok(counts)
    }
}

pub use optout_outbox::{
    redact, Error as OutboxError, GroupCommit, Outbox, Worker, WorkerConfig, DEFAULT_STORE,
};
