//! The request and response bodies of HubSpot's communication-preferences API, typed as the
//! docs describe them: lenient where HubSpot may add values, strict where a field is required.

use std::fmt;

use optout_core::{validate, Error, LegalBasis};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::CHANNEL_EMAIL;

/// A HubSpot enum that keeps values this crate does not know as [`Other`](SubscriptionState::Other),
/// so that a new value never turns a confirmed opt-out into a decode error.
macro_rules! lenient_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $wire:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
            /// A value this crate does not know, kept as HubSpot sent it.
            Other(String),
        }

        impl $name {
            /// HubSpot's spelling.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $wire,)+
                    $name::Other(other) => other,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                // A visitor rather than `String::deserialize`: a known value costs no copy.
                struct Visitor;
                impl serde::de::Visitor<'_> for Visitor {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("a string")
                    }
                    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<$name, E> {
                        Ok(match text {
                            $($wire => $name::$variant,)+
                            _ => $name::Other(text.to_owned()),
                        })
                    }
                }
                d.deserialize_str(Visitor)
            }
        }
    };
}

lenient_enum!(
    /// v3: whether the contact is subscribed.
    SubscriptionState {
        /// `SUBSCRIBED`
        Subscribed = "SUBSCRIBED",
        /// `NOT_SUBSCRIBED`
        NotSubscribed = "NOT_SUBSCRIBED",
    }
);
lenient_enum!(
    /// v3: where the status comes from.
    SourceOfStatus {
        /// `BRAND_WIDE_STATUS`
        BrandWideStatus = "BRAND_WIDE_STATUS",
        /// `PORTAL_WIDE_STATUS` (the contact opted out of the whole portal)
        PortalWideStatus = "PORTAL_WIDE_STATUS",
        /// `SUBSCRIPTION_STATUS`
        SubscriptionStatus = "SUBSCRIPTION_STATUS",
    }
);
lenient_enum!(
    /// v4: a subscription status, as read or written.
    StatusState {
        /// `SUBSCRIBED`
        Subscribed = "SUBSCRIBED",
        /// `UNSUBSCRIBED`
        Unsubscribed = "UNSUBSCRIBED",
        /// `NOT_SPECIFIED`
        NotSpecified = "NOT_SPECIFIED",
    }
);
lenient_enum!(
    /// v4: the state of a batch action.
    BatchStatus {
        /// `PENDING`
        Pending = "PENDING",
        /// `PROCESSING`
        Processing = "PROCESSING",
        /// `CANCELED`
        Canceled = "CANCELED",
        /// `COMPLETE`
        Complete = "COMPLETE",
    }
);
lenient_enum!(
    /// v4: why a status write succeeded.
    SetStatusSuccessReason {
        /// `RESUBSCRIBE_OCCURRED`
        ResubscribeOccurred = "RESUBSCRIBE_OCCURRED",
        /// `NO_STATUS_CHANGE`: the status already was what was asked.
        NoStatusChange = "NO_STATUS_CHANGE",
        /// `UNSUBSCRIBE_FROM_ALL_OCCURRED`
        UnsubscribeFromAllOccurred = "UNSUBSCRIBE_FROM_ALL_OCCURRED",
        /// `REQUESTED_CHANGE_OCCURRED`
        RequestedChangeOccurred = "REQUESTED_CHANGE_OCCURRED",
    }
);

/// The body of `POST /communication-preferences/v3/unsubscribe`, as documented.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UnsubscribeRequest {
    /// The contact's email address.
    pub email_address: String,
    /// The subscription type's id.
    pub subscription_id: String,
    /// The legal basis (required by GDPR-enabled portals); sent only when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub legal_basis: Option<LegalBasis>,
    /// Its explanation; required with a legal basis, sent only with one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub legal_basis_explanation: Option<String>,
}

impl UnsubscribeRequest {
    /// `email_address` from `subscription_id`, without a legal basis.
    pub fn new(email_address: impl Into<String>, subscription_id: impl Into<String>) -> Self {
        UnsubscribeRequest {
            email_address: email_address.into(),
            subscription_id: subscription_id.into(),
            legal_basis: None,
            legal_basis_explanation: None,
        }
    }

    /// Records a legal basis and its explanation.
    pub fn legal_basis(mut self, basis: LegalBasis, explanation: impl Into<String>) -> Self {
        self.legal_basis = Some(basis);
        self.legal_basis_explanation = Some(explanation.into());
        self
    }

    /// Checks the request, so that nothing malformed is sent.
    pub fn validate(&self) -> Result<(), Error> {
        validate::email("emailAddress", &self.email_address)?;
        validate::non_empty("subscriptionId", &self.subscription_id)?;
        check_legal_basis(
            "legalBasisExplanation",
            self.legal_basis,
            self.legal_basis_explanation.as_deref(),
        )
    }
}

/// A legal basis needs a non-empty explanation, and an explanation needs a basis.
pub(crate) fn check_legal_basis(
    field: &str,
    basis: Option<LegalBasis>,
    explanation: Option<&str>,
) -> Result<(), Error> {
    match (basis, explanation) {
        (Some(_), Some(text)) => validate::non_empty(field, text),
        (Some(basis), None) => Err(Error::invalid_input(
            field,
            format!("is required with the legal basis {basis}; say why it applies"),
        )),
        (None, Some(_)) => Err(Error::invalid_input(
            field,
            "was given without a legal basis; give both or neither",
        )),
        (None, None) => Ok(()),
    }
}

/// The v3 answer: the subscription's status after the change.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SubscriptionStatus {
    /// The subscription type's id.
    #[serde(deserialize_with = "id_text")]
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: String,
    /// Whether the contact is subscribed.
    pub status: SubscriptionState,
    /// Where the status comes from.
    pub source_of_status: SourceOfStatus,
    /// The brand the subscription belongs to, if any.
    pub brand_id: Option<i64>,
    /// The legal basis of the current status (a string, so that a new value is kept).
    pub legal_basis: Option<String>,
    /// Its explanation.
    pub legal_basis_explanation: Option<String>,
    /// The preference group's name.
    pub preference_group_name: Option<String>,
}

/// A v4 batch answer (`BatchResponsePublicStatus` / `ActionResponseWithResultsPublicStatus`).
///
/// Only `status` is required: `results` defaults to empty and the timestamps are kept as sent.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct BatchResponse {
    /// `PENDING`, `PROCESSING`, `CANCELED` or `COMPLETE`.
    pub status: BatchStatus,
    /// The statuses written.
    #[serde(default)]
    pub results: Vec<PublicStatus>,
    /// When the action started (RFC 3339).
    pub started_at: Option<String>,
    /// When it completed.
    pub completed_at: Option<String>,
    /// When it was requested.
    pub requested_at: Option<String>,
    /// Inputs that failed.
    #[serde(default)]
    pub errors: Vec<StandardError>,
    /// How many failed.
    pub num_errors: Option<u64>,
}

/// One v4 subscription status.
///
/// Only `status` is required: a status without `subscriberIdString`, `subscriptionId` or
/// `channel` (as a wide, verbose-style result may come) still decodes, with that field empty.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct PublicStatus {
    /// The contact's email address (empty when HubSpot left it out).
    #[serde(default)]
    pub subscriber_id_string: String,
    /// The subscription type's id (a number on the wire; a string is accepted too; empty when
    /// HubSpot left it out).
    #[serde(default, deserialize_with = "id_text")]
    pub subscription_id: String,
    /// The status now.
    pub status: StatusState,
    /// `EMAIL` (empty when HubSpot left it out).
    #[serde(default)]
    pub channel: String,
    /// What set the status.
    pub source: Option<String>,
    /// When (RFC 3339).
    pub timestamp: Option<String>,
    /// The brand (business unit), if any.
    pub business_unit_id: Option<i64>,
    /// The legal basis recorded.
    pub legal_basis: Option<String>,
    /// Its explanation.
    pub legal_basis_explanation: Option<String>,
    /// Why the write succeeded (`NO_STATUS_CHANGE` when nothing changed).
    pub set_status_success_reason: Option<SetStatusSuccessReason>,
    /// The subscription type's name.
    pub subscription_name: Option<String>,
}

/// An error listed inside a v4 batch answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct StandardError {
    /// HubSpot's category.
    pub category: Option<String>,
    /// HubSpot's message.
    pub message: Option<String>,
    /// The failed input's id, if given.
    pub id: Option<String>,
    /// What the error is about, as HubSpot gives it (usually `{"name": ["value", ...]}`, e.g.
    /// the addresses or subscription ids that failed); `null` when absent.
    #[serde(default)]
    pub context: serde_json::Value,
}

impl StandardError {
    /// Every text this error names: its `id` and each string inside its `context`.
    pub fn named(&self) -> Vec<&str> {
        fn walk<'a>(value: &'a serde_json::Value, out: &mut Vec<&'a str>) {
            match value {
                serde_json::Value::String(text) => out.push(text),
                serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
                serde_json::Value::Object(map) => map.values().for_each(|v| walk(v, out)),
                _ => {}
            }
        }
        let mut out: Vec<&str> = self.id.as_deref().into_iter().collect();
        walk(&self.context, &mut out);
        out
    }
}

/// The body of `POST /communication-preferences/v4/statuses/batch/write`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BatchWriteRequest {
    /// The statuses to write (at least one).
    pub inputs: Vec<StatusWrite>,
}

/// One status to write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusWrite {
    /// The contact's email address.
    pub subscriber_id_string: String,
    /// `EMAIL`, the only channel HubSpot supports.
    pub channel: String,
    /// The status to set.
    pub status_state: StatusState,
    /// The subscription type's id (a number on the wire).
    pub subscription_id: u64,
    /// The legal basis; sent only when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub legal_basis: Option<LegalBasis>,
    /// Its explanation; required with a legal basis.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub legal_basis_explanation: Option<String>,
}

impl StatusWrite {
    /// Unsubscribes `email` from `subscription_id` on the email channel.
    pub fn unsubscribe(email: impl Into<String>, subscription_id: u64) -> Self {
        StatusWrite {
            subscriber_id_string: email.into(),
            channel: CHANNEL_EMAIL.into(),
            status_state: StatusState::Unsubscribed,
            subscription_id,
            legal_basis: None,
            legal_basis_explanation: None,
        }
    }

    /// Records a legal basis and its explanation.
    pub fn legal_basis(mut self, basis: LegalBasis, explanation: impl Into<String>) -> Self {
        self.legal_basis = Some(basis);
        self.legal_basis_explanation = Some(explanation.into());
        self
    }
}

/// [`BatchWriteRequest`]'s body over borrowed inputs: the same JSON, without a copy of them.
#[derive(Serialize)]
pub(crate) struct BatchWriteBody<'a> {
    pub(crate) inputs: &'a [StatusWrite],
}

impl BatchWriteRequest {
    /// Checks every input, so that nothing malformed is sent.
    pub fn validate(&self) -> Result<(), Error> {
        validate_inputs(&self.inputs)
    }
}

/// [`BatchWriteRequest::validate`] of `inputs`.
pub(crate) fn validate_inputs(inputs: &[StatusWrite]) -> Result<(), Error> {
    if inputs.is_empty() {
        return Err(Error::invalid_input(
            "inputs",
            "no status given; give at least one",
        ));
    }
    for input in inputs {
        validate::email("subscriberIdString", &input.subscriber_id_string)?;
        if input.channel != CHANNEL_EMAIL {
            return Err(Error::invalid_input(
                "channel",
                format!(
                    "{:?} is not supported; HubSpot takes only \"EMAIL\"",
                    input.channel
                ),
            ));
        }
        if let StatusState::Other(other) = &input.status_state {
            return Err(Error::invalid_input(
                "statusState",
                format!("{other:?} is not allowed; use SUBSCRIBED, UNSUBSCRIBED or NOT_SPECIFIED"),
            ));
        }
        let explanation = input.legal_basis_explanation.as_deref();
        check_legal_basis("legalBasisExplanation", input.legal_basis, explanation)?;
    }
    Ok(())
}

/// HubSpot's error body: `{status, message, correlationId, category, subCategory?, errors?}`;
/// rate limits add `errorType` (`RATE_LIMIT`) and `policyName` (`DAILY`, `TEN_SECONDLY_ROLLING`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ErrorBody {
    /// The message.
    pub message: Option<String>,
    /// The id HubSpot support can trace the call by.
    pub correlation_id: Option<String>,
    /// The category, e.g. `VALIDATION_ERROR`.
    pub category: Option<String>,
    /// The kind of error, e.g. `RATE_LIMIT`; preferred to `category` as the code.
    pub error_type: Option<String>,
    /// The rate-limit policy hit.
    pub policy_name: Option<String>,
}

/// Accepts an id as a JSON string or integer.
pub(crate) fn id_text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    // A visitor rather than an untagged enum, which would buffer every value first.
    struct Visitor;
    impl serde::de::Visitor<'_> for Visitor {
        type Value = String;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an id, as a string or a number")
        }
        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<String, E> {
            Ok(text.to_owned())
        }
        fn visit_string<E: serde::de::Error>(self, text: String) -> Result<String, E> {
            Ok(text)
        }
        fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<String, E> {
            Ok(n.to_string())
        }
        fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<String, E> {
            Ok(n.to_string())
        }
    }
    d.deserialize_any(Visitor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(id: &str, state: &str) -> Result<SubscriptionStatus, serde_json::Error> {
        serde_json::from_str(&format!(
            r#"{{"id":{id},"name":"N","description":"D","status":"{state}","sourceOfStatus":"SUBSCRIPTION_STATUS"}}"#
        ))
    }

    #[test]
    fn ids_are_text_whether_sent_as_strings_or_numbers() {
        assert_eq!(
            status(r#""289137114""#, "SUBSCRIBED").unwrap().id,
            "289137114"
        );
        assert_eq!(status("289137114", "SUBSCRIBED").unwrap().id, "289137114");
        assert_eq!(status(r#""a\"b""#, "SUBSCRIBED").unwrap().id, "a\"b");
        let err = status("true", "SUBSCRIBED").unwrap_err().to_string();
        assert!(err.contains("an id, as a string or a number"), "{err}");
    }

    #[test]
    fn enums_keep_unknown_values_and_refuse_non_strings() {
        let s = status("1", "NOT_SUBSCRIBED").unwrap();
        assert_eq!(s.status, SubscriptionState::NotSubscribed);
        assert_eq!(s.source_of_status, SourceOfStatus::SubscriptionStatus);
        let s = status("1", r#"NEW_\u0053TATE"#).unwrap();
        assert_eq!(s.status, SubscriptionState::Other("NEW_STATE".into()));
        assert!(serde_json::from_str::<SubscriptionState>("7").is_err());
    }
}
