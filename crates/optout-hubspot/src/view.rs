//! What `unsubscribe_many` reads of a v4 batch write's answer, borrowed from its body (the
//! public [`BatchResponse`](crate::BatchResponse) copies every field into strings of its own).

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Deserializer};

use crate::wire::{BatchStatus, SetStatusSuccessReason, StandardError, StatusState};

/// What `unsubscribe_many` reads of a batch answer, borrowed from its body: the batch's
/// status, each result's address, subscription id, status and success reason, and the
/// errors. The rest of a [`BatchResponse`](crate::BatchResponse) (timestamps, source, names,
/// legal basis) is skipped, not copied into strings of its own: seven of them per row.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BatchAnswer<'a> {
    pub(crate) status: BatchStatus,
    #[serde(default, borrow)]
    pub(crate) results: Vec<StatusView<'a>>,
    #[serde(default)]
    pub(crate) errors: Vec<StandardError>,
}

/// One result of a [`BatchAnswer`].
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StatusView<'a> {
    /// The address (empty when HubSpot left it out).
    #[serde(default, borrow)]
    pub(crate) subscriber_id_string: Cow<'a, str>,
    /// The subscription id, when it is one a write could have named: a number, or its
    /// text without sign or leading zero ([`canonical_id`]); `None` when left out or not.
    #[serde(default, deserialize_with = "id_number")]
    pub(crate) subscription_id: Option<u64>,
    pub(crate) status: StatusState,
    pub(crate) set_status_success_reason: Option<SetStatusSuccessReason>,
}

/// `text` as a subscription id, when it is the text a write sends for one: decimal digits,
/// no sign, no leading zero.
pub(crate) fn canonical_id(text: &str) -> Option<u64> {
    let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    let leading_zero = text.len() > 1 && text.starts_with('0');
    if !digits || leading_zero {
        return None;
    }
    text.parse().ok()
}

/// `wire::id_text` read as [`StatusView::subscription_id`]: the same values accepted (a string
/// or an integer), the same refused (anything else fails the answer's decoding), and an id
/// that `wire::id_text` would give as text equal to a written id's gives that id.
fn id_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    struct Visitor;
    impl serde::de::Visitor<'_> for Visitor {
        type Value = Option<u64>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an id, as a string or a number")
        }
        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Option<u64>, E> {
            Ok(canonical_id(text))
        }
        fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Option<u64>, E> {
            Ok(Some(n))
        }
        fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Option<u64>, E> {
            Ok(u64::try_from(n).ok())
        }
    }
    d.deserialize_any(Visitor)
}
