//! The proof that an opt-out was honoured: [`Receipt`] and its [`Outcome`].

use std::fmt;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::{Provider, Recipient, Topics};

/// What the provider said about the opt-out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Outcome {
    /// The recipient was subscribed and is not any more.
    Unsubscribed,
    /// The recipient was already unsubscribed; nothing changed. Still a success.
    AlreadyUnsubscribed,
}

impl Outcome {
    /// The outcome of a provider's "already unsubscribed" answer: `AlreadyUnsubscribed`,
    /// unless an earlier attempt of the same request may have applied the change (its answer
    /// was lost), in which case `Unsubscribed`: this call may have made the change, and a
    /// receipt must not say otherwise. See
    /// [`Response::earlier_attempt_may_have_applied`](crate::Response).
    ///
    /// ```
    /// # mod optout { pub use optout_core::*; }
    /// use optout::Outcome;
    /// assert_eq!(Outcome::already(false), Outcome::AlreadyUnsubscribed);
    /// assert_eq!(Outcome::already(true), Outcome::Unsubscribed);
    /// ```
    pub fn already(earlier_attempt_may_have_applied: bool) -> Outcome {
        if earlier_attempt_may_have_applied {
            Outcome::Unsubscribed
        } else {
            Outcome::AlreadyUnsubscribed
        }
    }

    /// Combines the outcomes of several topics: `Unsubscribed` if anything changed.
    pub fn merge(self, other: Outcome) -> Outcome {
        if self == Outcome::Unsubscribed || other == Outcome::Unsubscribed {
            Outcome::Unsubscribed
        } else {
            Outcome::AlreadyUnsubscribed
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::Unsubscribed => "unsubscribed",
            Outcome::AlreadyUnsubscribed => "already unsubscribed",
        })
    }
}

/// Proof that an opt-out was honoured: what a compliance officer would keep.
///
/// Its `Display` is one line naming the provider, the recipient, the outcome, the topics and
/// the provider's reference, the line `optout unsubscribe` prints:
///
/// ```
/// # mod optout { pub use optout_core::*; }
/// use optout::{Outcome, Provider, Receipt, Recipient, Topics};
///
/// let receipt = Receipt::new(
///     Provider::HubSpot,
///     Recipient::email("alice@example.com")?,
///     Topics::one("12345"),
///     Outcome::Unsubscribed,
///     Some("3dd3ffd1".into()),
/// );
/// assert_eq!(
///     receipt.to_string(),
///     "hubspot: alice@example.com unsubscribed from 12345 (reference 3dd3ffd1)"
/// );
/// # Ok::<(), optout::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Receipt {
    /// Who honoured it.
    pub provider: Provider,
    /// Who opted out.
    pub recipient: Recipient,
    /// From what.
    pub topics: Topics,
    /// Whether anything changed.
    pub outcome: Outcome,
    /// The provider's own reference for the change (an id, a correlation reference), if any;
    /// several are joined with `,`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// When the provider confirmed it.
    #[serde(with = "rfc3339")]
    pub completed_at: SystemTime,
}

impl Receipt {
    /// A receipt completed now.
    pub fn new(
        provider: Provider,
        recipient: Recipient,
        topics: Topics,
        outcome: Outcome,
        reference: Option<String>,
    ) -> Self {
        Receipt::confirmed_at(
            provider,
            recipient,
            topics,
            outcome,
            reference,
            SystemTime::now(),
        )
    }

    /// A receipt completed at `completed_at`: what a batch answer confirmed for many
    /// requests at once carries one time, the answer's, for all of them.
    pub fn confirmed_at(
        provider: Provider,
        recipient: Recipient,
        topics: Topics,
        outcome: Outcome,
        reference: Option<String>,
        completed_at: SystemTime,
    ) -> Self {
        Receipt {
            provider,
            recipient,
            topics,
            outcome,
            reference,
            completed_at,
        }
    }
}

impl fmt::Display for Receipt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} {} from {}",
            self.provider, self.recipient, self.outcome, self.topics
        )?;
        match &self.reference {
            Some(reference) => write!(f, " (reference {reference})"),
            None => Ok(()),
        }
    }
}

mod rfc3339 {
    use std::time::SystemTime;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&humantime::format_rfc3339_millis(*t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_rfc3339(&s).map_err(serde::de::Error::custom)
    }
}
