//! The wire format: the request [`signature`], the body sent ([`UnsubscribeRequest`]) and the
//! answer ([`UnsubscribeResponse`]) with its lenient field decoders.

use std::fmt::Write as _;

use md5::{Digest, Md5};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::UNSUBSCRIBED;

/// The request signature: lower-case hex `MD5(account_id + campaign_id + msisdn)`, a plain
/// concatenation in that order.
///
/// Mobivate's prose lists the three values in another order; its worked example, which the
/// server checks against, is this one:
///
/// ```
/// # mod optout { pub use optout_core::*; pub mod providers { pub mod mobivate { pub use optout_mobivate::*; } } }
/// assert_eq!(
///     optout::providers::mobivate::signature(
///         "43e36f54eef111e270639871000000f1",
///         "c71e2c2ee68b410a82d6c5f910c2d428",
///         "254700000000",
///     ),
///     "1af289e14aa593c843da7cd869a8e2f7"
/// );
/// ```
pub fn signature(account_id: &str, campaign_id: &str, msisdn: &str) -> String {
    let digest = Md5::new()
        .chain_update(account_id)
        .chain_update(campaign_id)
        .chain_update(msisdn)
        .finalize();
    let mut hex = String::with_capacity(32);
    for byte in digest {
        // Writing to a String cannot fail.
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// The body of `POST /subscriptions/v1/{campaign_id}/unsubscribe`, as documented.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnsubscribeRequest {
    /// The phone number: international format, digits only.
    pub msisdn: String,
    /// [`signature`] of the account id, the campaign id and `msisdn`.
    pub signature: String,
    /// The account's keyword, sent only when one is configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keyword: Option<String>,
}

/// Mobivate's answer, on success and on failure alike.
///
/// Lenient on purpose: the docs show it in Python notation (`True`, `Null`), which is accepted
/// as well as JSON, and mark nothing required, so every field is optional, flags are read from booleans or `"true"`/`"false"`,
/// and text fields from strings, numbers or `null`. The HTTP status and [`state`](Self::state)
/// decide the outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct UnsubscribeResponse {
    /// `false` when the signature does not match the account id.
    #[serde(default, deserialize_with = "flag")]
    pub authenticated: Option<bool>,
    /// `false` when Mobivate does not take the phone number.
    #[serde(default, deserialize_with = "flag")]
    pub valid_msisdn: Option<bool>,
    /// `false` when the campaign id is not one of the account's campaigns.
    #[serde(default, deserialize_with = "flag")]
    pub valid_campaign: Option<bool>,
    /// The campaign's status, e.g. `active`.
    #[serde(default, deserialize_with = "text")]
    pub campaign_status: Option<String>,
    /// The campaign's name.
    #[serde(default, deserialize_with = "text")]
    pub campaign_name: Option<String>,
    /// The campaign's service (short code).
    #[serde(default, deserialize_with = "text")]
    pub campaign_service: Option<String>,
    /// The subscription's state after the call: `unsubscribed` on success.
    #[serde(default, deserialize_with = "text")]
    pub state: Option<String>,
    /// Mobivate's error text, `null` on success.
    #[serde(default, deserialize_with = "text")]
    pub error: Option<String>,
    /// Mobivate's reference for the opt-out, e.g. `AP:aaaaaaa-bbbbbbbbb-cccccccc`.
    #[serde(default, deserialize_with = "text")]
    pub reference: Option<String>,
}

impl UnsubscribeResponse {
    /// Whether `state` says the number is unsubscribed (compared case-insensitively).
    pub fn is_unsubscribed(&self) -> bool {
        self.state
            .as_deref()
            .is_some_and(|s| s.trim().eq_ignore_ascii_case(UNSUBSCRIBED))
    }

    /// What the flags that are `false` mean, with Mobivate's own error text; `None` when no
    /// flag is `false`.
    pub(crate) fn refusal(&self) -> Option<String> {
        let flags = [
            (
                self.authenticated,
                "authenticated is false: the signature does not match MOBIVATE_ACCOUNT_ID \
                 (wrong account id, or another account's campaign)",
            ),
            (
                self.valid_msisdn,
                "valid_msisdn is false: Mobivate does not take this phone number (expected \
                 international digits without +, e.g. 254700000000)",
            ),
            (
                self.valid_campaign,
                "valid_campaign is false: the campaign id is not a campaign of this account",
            ),
        ];
        let mut reasons: Vec<String> = flags
            .into_iter()
            .filter(|(value, _)| *value == Some(false))
            .map(|(_, reason)| reason.to_string())
            .collect();
        if reasons.is_empty() {
            return None;
        }
        reasons.extend(self.said());
        Some(reasons.join("; "))
    }

    /// Mobivate's own error text, if it gave one.
    pub(crate) fn said(&self) -> Option<String> {
        self.error
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(|e| format!("Mobivate says: {e}"))
    }
}

/// `true`, `false`, `"true"`, `"false"` (any case) or `null`.
fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(b)),
        Value::String(s) if s.trim().eq_ignore_ascii_case("true") => Ok(Some(true)),
        Value::String(s) if s.trim().eq_ignore_ascii_case("false") => Ok(Some(false)),
        other => Err(serde::de::Error::custom(format!(
            "expected true, false or null, got {other}"
        ))),
    }
}

/// A string, a number or a boolean as text; `null` as `None`; anything else as its JSON.
fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Null => None,
        Value::String(s) => Some(s),
        other => Some(other.to_string()),
    })
}
