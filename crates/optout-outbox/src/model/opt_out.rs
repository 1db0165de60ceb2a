//! What goes in: one person's [`OptOut`], and what accepting it answers.

use std::collections::BTreeMap;
use std::time::SystemTime;

use super::{display, rfc3339};
use optout_core::{Error as CoreError, LegalBasis, Provider, Recipient, Topics};
use serde::{Deserialize, Serialize};

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
