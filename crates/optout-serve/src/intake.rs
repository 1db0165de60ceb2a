//! What the server needs from the store behind it: [`Intake`].
//!
//! The server answers "accepted" only once [`Intake::accept`] has returned, and `accept` must
//! return only once the opt-out is durably committed (the outbox: SQLite WAL with
//! `synchronous=FULL`, or a committed PostgreSQL transaction). An error means nothing was
//! accepted; the server then says 503 and the caller tries again.

use std::fmt;
use std::time::SystemTime;

use async_trait::async_trait;
use optout_core::{validate, Error, LegalBasis, Provider, Recipient, Topics};
use serde::Serialize;

/// One provider's part of an opt-out: who, there, opts out of what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Target {
    /// The provider.
    pub provider: Provider,
    /// The recipient, in the form this provider takes.
    pub recipient: Recipient,
    /// The topics, or all.
    pub topics: Topics,
}

impl Target {
    /// A checked target: the recipient is the kind `provider` takes (as
    /// [`Recipient::for_provider`] makes it), [`Topics::All`] only for Pushy and HubSpot, topic
    /// ids non-empty and printable, repeats dropped (keeping the first).
    pub fn new(provider: Provider, recipient: Recipient, topics: Topics) -> Result<Self, Error> {
        let (value, identifier) = recipient_parts(&recipient);
        let expected = Recipient::for_provider(provider, value, identifier)?;
        if expected != recipient {
            return Err(Error::invalid_input(
                "recipient",
                format!(
                    "{provider} takes a {} recipient, not a {}",
                    expected.kind(),
                    recipient.kind()
                ),
            ));
        }
        let topics = match topics {
            Topics::All if matches!(provider, Provider::Pushy | Provider::HubSpot) => Topics::All,
            Topics::All => {
                return Err(Error::invalid_input(
                    "topics",
                    format!(
                        "{provider} cannot unsubscribe from all topics at once; name the topics"
                    ),
                ))
            }
            Topics::Only(ids) => Topics::Only(validate::unique("topics", &ids)?.into_owned()),
        };
        Ok(Target {
            provider,
            recipient,
            topics,
        })
    }
}

/// The recipient's text value and its Novu subscription identifier.
pub(crate) fn recipient_parts(recipient: &Recipient) -> (&str, Option<&str>) {
    match recipient {
        Recipient::Email { address } => (address, None),
        Recipient::Phone { msisdn } => (msisdn, None),
        Recipient::Device { token } => (token, None),
        Recipient::Subscriber { id, identifier } => (id, identifier.as_deref()),
        // A kind added to core later has no text form here yet: `Target::new` refuses it,
        // because `Recipient::for_provider` never makes a recipient from "".
        #[allow(unreachable_patterns)]
        _ => ("", None),
    }
}

/// Where an opt-out came in; a bounded label for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Channel {
    /// `POST /u/TOKEN` (RFC 8058 one-click, or the button of the confirmation page).
    OneClick,
    /// `POST /v1/opt-outs`.
    Api,
}

impl Channel {
    /// `one_click` or `api`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Channel::OneClick => "one_click",
            Channel::Api => "api",
        }
    }
}

/// One opt-out, as received: one [`Target`] per provider.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OptOut {
    /// Who opts out of what, per provider (at least one).
    pub targets: Vec<Target>,
    /// The legal basis and its explanation, if given.
    pub legal_basis: Option<(LegalBasis, String)>,
    /// Where it came from, free text for the record (e.g. `one-click`, `web-form`).
    pub source: String,
    /// How it came in.
    pub channel: Channel,
    /// The same key again is the same opt-out: the store gives the first id back and creates
    /// nothing. Keys from the API and from links live in separate namespaces (`api:`,
    /// `oneclick:`).
    pub idempotency_key: Option<String>,
    /// When it was received: the deadlines count from here. Never later than now.
    pub received_at: SystemTime,
}

impl OptOut {
    /// An opt-out received now, without legal basis or idempotency key.
    pub fn new(targets: Vec<Target>, channel: Channel, source: impl Into<String>) -> Self {
        OptOut {
            targets,
            legal_basis: None,
            source: source.into(),
            channel,
            idempotency_key: None,
            received_at: SystemTime::now(),
        }
    }
}

/// What the store says once it has committed an opt-out.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Accepted {
    /// The opt-out's id.
    pub id: String,
    /// When it was received (for a repeat: the first time).
    pub received_at: SystemTime,
    /// The deadline per provider.
    pub deadlines: Vec<(Provider, SystemTime)>,
    /// `true` when the idempotency key was seen before and this is the first opt-out's answer.
    pub duplicate: bool,
}

impl Accepted {
    /// An answer for a newly stored opt-out.
    pub fn new(
        id: impl Into<String>,
        received_at: SystemTime,
        deadlines: Vec<(Provider, SystemTime)>,
    ) -> Self {
        Accepted {
            id: id.into(),
            received_at,
            deadlines,
            duplicate: false,
        }
    }
}

/// The state of one provider's task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TaskState {
    /// Waiting to be sent (first time or after a retryable failure).
    Pending,
    /// A worker holds it.
    InFlight,
    /// The provider confirmed it; there is a receipt.
    Done,
    /// The provider refused it for good (401, 403, 404, invalid input): someone must look.
    NeedsAttention,
}

impl TaskState {
    /// Every state.
    pub const ALL: [TaskState; 4] = [
        TaskState::Pending,
        TaskState::InFlight,
        TaskState::Done,
        TaskState::NeedsAttention,
    ];

    /// `pending`, `in_flight`, `done` or `needs_attention`.
    pub const fn as_str(self) -> &'static str {
        match self {
            TaskState::Pending => "pending",
            TaskState::InFlight => "in_flight",
            TaskState::Done => "done",
            TaskState::NeedsAttention => "needs_attention",
        }
    }
}

/// One provider's task of an opt-out.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct TaskStatus {
    /// The provider.
    pub provider: Provider,
    /// Its state.
    pub state: TaskState,
    /// When it must be done by.
    #[serde(serialize_with = "rfc3339")]
    pub deadline: SystemTime,
    /// Past its deadline and not done.
    pub overdue: bool,
    /// Requests sent so far.
    pub attempts: u32,
    /// The last error, if any (never a credential).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// An opt-out's state per provider, and its receipts.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct OptOutStatus {
    /// The id.
    pub id: String,
    /// When it was received.
    #[serde(serialize_with = "rfc3339")]
    pub received_at: SystemTime,
    /// One task per provider.
    pub tasks: Vec<TaskStatus>,
    /// The receipts written so far, as the store records them (JSON objects).
    pub receipts: Vec<serde_json::Value>,
}

impl OptOutStatus {
    /// A status with these tasks and no receipts.
    pub fn new(id: impl Into<String>, received_at: SystemTime, tasks: Vec<TaskStatus>) -> Self {
        OptOutStatus {
            id: id.into(),
            received_at,
            tasks,
            receipts: Vec::new(),
        }
    }
}

impl TaskStatus {
    /// A task in `state` with its deadline; no attempts, no error.
    pub fn new(provider: Provider, state: TaskState, deadline: SystemTime) -> Self {
        TaskStatus {
            provider,
            state,
            deadline,
            overdue: state != TaskState::Done && deadline < SystemTime::now(),
            attempts: 0,
            last_error: None,
        }
    }
}

/// Task counts for `/metrics`: by provider and state, and the overdue ones per provider.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Counts {
    /// `(provider, state, count)`.
    pub tasks: Vec<(Provider, TaskState, u64)>,
    /// `(provider, count)` of tasks past their deadline and not done.
    pub overdue: Vec<(Provider, u64)>,
}

/// Why the store did not take a request. Its text goes to the log (`Unavailable`) or to the
/// client (`Refused`), and never contains a credential (a store URL's password).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IntakeError {
    /// The store failed or could not be reached; nothing was accepted, and the same request
    /// can succeed later (503).
    Unavailable(String),
    /// The store refused the opt-out as such; nothing was accepted, and sending it again will
    /// not help (400, naming the field if known).
    Refused {
        /// The field, if the store named one.
        field: Option<String>,
        /// Why.
        message: String,
    },
}

impl fmt::Display for IntakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IntakeError::Unavailable(m) => write!(f, "the store is unavailable: {m}"),
            IntakeError::Refused {
                field: Some(field),
                message,
            } => {
                write!(f, "the store refused {field}: {message}")
            }
            IntakeError::Refused {
                field: None,
                message,
            } => write!(f, "the store refused it: {message}"),
        }
    }
}

/// The durable store behind the server (the outbox), as the server sees it.
#[async_trait]
pub trait Intake: Send + Sync + fmt::Debug + 'static {
    /// Commits `opt_out` (one task per target), or, if its idempotency key was seen, returns
    /// the first one's answer with `duplicate: true`. Returns only once committed.
    async fn accept(&self, opt_out: OptOut) -> Result<Accepted, IntakeError>;

    /// The opt-out's state per provider and its receipts; `None` if there is no such id.
    async fn status(&self, id: &str) -> Result<Option<OptOutStatus>, IntakeError>;

    /// Whether the store answers (for `/readyz`).
    async fn ready(&self) -> Result<(), IntakeError>;

    /// Task counts (for `/metrics`).
    async fn counts(&self) -> Result<Counts, IntakeError>;
}

pub(crate) fn rfc3339<S: serde::Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&humantime::format_rfc3339_millis(*t))
}
