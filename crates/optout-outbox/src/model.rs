//! What goes in (an [`OptOut`]) and what comes out (tasks, statuses, receipt records).

use std::collections::BTreeMap;
use std::fmt;
use std::time::SystemTime;

use optout_core::{Error as CoreError, LegalBasis, Provider, Recipient, Topics};
use serde::{Deserialize, Serialize, Serializer};

/// One person's opt-out, as [`accept`](crate::Outbox::accept) takes it: who the person is at
/// each provider, what to unsubscribe them from there, and the evidence (legal basis, source,
/// when it was received).
///
/// In JSON (what `optout serve` takes):
/// `{"email":"alice@example.com","topics":{"hubspot":["123"],"pushy":"all"},"devices":["tok"],
///   "legal_basis":"CONSENT_WITH_NOTICE","legal_basis_explanation":"clicked","source":"web"}`.
///
/// ```
/// use optout_outbox::OptOut;
/// use optout_core::{Provider, Topics};
/// let o = OptOut::default()
///     .email("alice@example.com")
///     .topics(Provider::HubSpot, Topics::one("12345"))
///     .source("preference centre");
/// assert_eq!(o.plan().unwrap().len(), 1);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct OptOut {
    /// The email address (HubSpot).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The phone number (Mobivate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Push device tokens (Pushy); each becomes its own task.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<String>,
    /// Provider-side ids: the contact id at Migma, the subscriber id (and optional
    /// subscription identifier) at Novu.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub subscribers: BTreeMap<Provider, SubscriberId>,
    /// What to unsubscribe from, per provider. Only the providers named here get a task.
    #[serde(default)]
    pub topics: BTreeMap<Provider, Topics>,
    /// The legal basis (HubSpot records it; every receipt keeps it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_basis: Option<LegalBasis>,
    /// The explanation that goes with the legal basis.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_basis_explanation: Option<String>,
    /// Where the opt-out came from (a form, a link, an email reply, "STOP" by SMS...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// When the person asked, if earlier than the accept; the deadline clock starts here.
    /// A time in the future is taken as now.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::model::opt_rfc3339"
    )]
    pub received_at: Option<SystemTime>,
    /// Makes a repeated accept return the first id and create nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

/// A subscriber id at Migma or Novu, with Novu's optional subscription identifier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriberId {
    /// The subscriber (Novu) or contact (Migma) id.
    pub id: String,
    /// Novu's subscription identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
}

impl OptOut {
    /// Sets the email address.
    pub fn email(mut self, email: impl Into<String>) -> Self {
        self.email = Some(email.into());
        self
    }

    /// Sets the phone number.
    pub fn phone(mut self, phone: impl Into<String>) -> Self {
        self.phone = Some(phone.into());
        self
    }

    /// Adds a push device token.
    pub fn device(mut self, token: impl Into<String>) -> Self {
        self.devices.push(token.into());
        self
    }

    /// Sets the person's id at `provider` (Migma contact id, Novu subscriber id).
    pub fn subscriber(mut self, provider: Provider, id: impl Into<String>) -> Self {
        self.subscribers.insert(
            provider,
            SubscriberId {
                id: id.into(),
                identifier: None,
            },
        );
        self
    }

    /// Sets what to unsubscribe from at `provider`.
    pub fn topics(mut self, provider: Provider, topics: Topics) -> Self {
        self.topics.insert(provider, topics);
        self
    }

    /// One recipient at one provider: sets the identity field `recipient` belongs to and the
    /// topics there (what `optout enqueue <provider> --recipient ...` does).
    pub fn to(mut self, provider: Provider, recipient: Recipient, topics: Topics) -> Self {
        match recipient {
            Recipient::Email { address } => self.email = Some(address),
            Recipient::Phone { msisdn } => self.phone = Some(msisdn),
            Recipient::Device { token } => self.devices.push(token),
            Recipient::Subscriber { id, identifier } => {
                self.subscribers
                    .insert(provider, SubscriberId { id, identifier });
            }
            // A kind added later: `plan` refuses the opt-out (no identity there).
            _ => {}
        }
        self.topics(provider, topics)
    }

    /// Sets the legal basis and its explanation.
    pub fn legal_basis(mut self, basis: LegalBasis, explanation: impl Into<String>) -> Self {
        self.legal_basis = Some(basis);
        self.legal_basis_explanation = Some(explanation.into());
        self
    }

    /// Sets where the opt-out came from.
    pub fn source(mut self, source: impl Into<String>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// Sets when the person asked.
    pub fn received_at(mut self, at: SystemTime) -> Self {
        self.received_at = Some(at);
        self
    }

    /// Sets the idempotency key.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    /// The tasks this opt-out becomes: one per provider and recipient there, each checked.
    /// Refused (invalid input, nothing stored): no provider, a provider named without an
    /// identity there, no topics, `all` where the provider cannot take it.
    pub fn plan(&self) -> Result<Vec<(Provider, Recipient, Topics)>, CoreError> {
        if self.topics.is_empty() {
            return Err(CoreError::invalid_input(
                "topics",
                "name at least one provider and what to unsubscribe from there",
            ));
        }
        let mut plan = Vec::new();
        for (&provider, topics) in &self.topics {
            match topics {
                Topics::Only(ids) if ids.is_empty() || ids.iter().any(|t| t.trim().is_empty()) => {
                    return Err(CoreError::invalid_input(
                        "topics",
                        format!("{provider}: topic ids must not be empty"),
                    ));
                }
                Topics::All if !matches!(provider, Provider::Pushy | Provider::HubSpot) => {
                    return Err(CoreError::unsupported(
                        provider,
                        "unsubscribe from all topics at once; name the topics",
                    ));
                }
                _ => {}
            }
            let recipients = self.recipients(provider)?;
            if recipients.is_empty() {
                return Err(CoreError::invalid_input(
                    "recipient",
                    format!("{provider} is named but the person has no identity there"),
                ));
            }
            for r in recipients {
                plan.push((provider, r, topics.clone()));
            }
        }
        if let Some(text) = &self.legal_basis_explanation {
            if self.legal_basis.is_none() && !text.is_empty() {
                return Err(CoreError::invalid_input(
                    "legal_basis",
                    "an explanation needs a legal basis",
                ));
            }
        }
        Ok(plan)
    }

    fn recipients(&self, provider: Provider) -> Result<Vec<Recipient>, CoreError> {
        Ok(match provider {
            Provider::HubSpot => self
                .email
                .iter()
                .map(Recipient::email)
                .collect::<Result<_, _>>()?,
            Provider::Mobivate => self
                .phone
                .iter()
                .map(Recipient::phone)
                .collect::<Result<_, _>>()?,
            Provider::Pushy => self
                .devices
                .iter()
                .map(Recipient::device)
                .collect::<Result<_, _>>()?,
            _ => match self.subscribers.get(&provider) {
                Some(SubscriberId {
                    id,
                    identifier: Some(i),
                }) => vec![Recipient::subscriber_with_identifier(id, i)?],
                Some(SubscriberId { id, .. }) => vec![Recipient::subscriber(id)?],
                None => Vec::new(),
            },
        })
    }
}

/// What [`accept`](crate::Outbox::accept) answers once the opt-out is committed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Accepted {
    /// The opt-out's id.
    pub id: String,
    /// `false` when the idempotency key had been seen: `id` is the first accept's.
    pub created: bool,
    /// When the deadline clock started.
    #[serde(serialize_with = "rfc3339")]
    pub received_at: SystemTime,
    /// One entry per task: provider, recipient and deadline.
    pub deadlines: Vec<TaskDeadline>,
}

/// A task's deadline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct TaskDeadline {
    /// The provider.
    pub provider: Provider,
    /// The recipient there.
    #[serde(serialize_with = "display")]
    pub recipient: Recipient,
    /// When it must be done.
    #[serde(serialize_with = "rfc3339")]
    pub deadline: SystemTime,
}

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

pub(crate) fn rfc3339<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&humantime::format_rfc3339_millis(*t))
}

pub(crate) fn display<T: fmt::Display, S: Serializer>(t: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(t)
}

pub(crate) mod opt_rfc3339 {
    use std::time::SystemTime;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.collect_str(&humantime::format_rfc3339_millis(*t)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SystemTime>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|s| humantime::parse_rfc3339_weak(&s).map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_has_one_task_per_provider_and_recipient() {
        let o = OptOut::default()
            .email("a@example.com")
            .device("t1")
            .device("t2")
            .subscriber(Provider::Novu, "sub-1")
            .topics(Provider::HubSpot, Topics::All)
            .topics(Provider::Pushy, Topics::one("news"))
            .topics(Provider::Novu, Topics::one("k"));
        let plan = o.plan().unwrap();
        assert_eq!(plan.len(), 4);
    }

    #[test]
    fn a_plan_refuses_what_could_never_be_sent() {
        let none = OptOut::default().email("a@example.com");
        assert!(none.plan().is_err());
        let no_identity = OptOut::default().topics(Provider::HubSpot, Topics::one("1"));
        assert!(no_identity.plan().is_err());
        let all_novu = OptOut::default()
            .subscriber(Provider::Novu, "s")
            .topics(Provider::Novu, Topics::All);
        assert!(all_novu.plan().is_err());
        let bad_email = OptOut::default()
            .email("nope")
            .topics(Provider::HubSpot, Topics::one("1"));
        assert!(bad_email.plan().is_err());
    }

    #[test]
    fn the_json_shape_round_trips() {
        let json = r#"{"email":"a@example.com","topics":{"hubspot":["1"],"pushy":"all"},
            "devices":["t"],"legal_basis":"CONSENT_WITH_NOTICE","legal_basis_explanation":"x",
            "received_at":"2026-12-01T10:00:00Z"}"#;
        let o: OptOut = serde_json::from_str(json).unwrap();
        assert_eq!(o.plan().unwrap().len(), 2);
        let back: OptOut = serde_json::from_str(&serde_json::to_string(&o).unwrap()).unwrap();
        assert_eq!(back, o);
    }
}
