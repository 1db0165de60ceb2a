//! The wire types: the request body and Novu's answer, mirroring the docs of
//! `DELETE /v2/topics/{topicKey}/subscriptions`.

use std::borrow::Cow;
use std::fmt;

use optout_core::{validate, Error};
use serde::{Deserialize, Deserializer, Serialize};

/// One item of the request body: a subscriber (all their subscriptions in the topic), one
/// subscription by its identifier, or both. Absent fields are not sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize)]
pub struct SubscriptionRef {
    /// The subscriber id; alone, it removes every subscription of the subscriber in the topic.
    #[serde(rename = "subscriberId", skip_serializing_if = "Option::is_none")]
    pub subscriber_id: Option<String>,
    /// The subscription identifier, to remove that one subscription only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
}

impl SubscriptionRef {
    /// Every subscription of `subscriber_id` in the topic.
    pub fn subscriber(subscriber_id: impl Into<String>) -> Self {
        SubscriptionRef {
            subscriber_id: Some(subscriber_id.into()),
            identifier: None,
        }
    }

    /// The subscription with this identifier.
    pub fn by_identifier(identifier: impl Into<String>) -> Self {
        SubscriptionRef {
            subscriber_id: None,
            identifier: Some(identifier.into()),
        }
    }

    /// Narrows to the subscription with this identifier.
    pub fn with_identifier(mut self, identifier: impl Into<String>) -> Self {
        self.identifier = Some(identifier.into());
        self
    }

    /// Checks the item as Novu would: at least one of the two, neither empty.
    pub fn validate(&self) -> Result<(), Error> {
        self.borrowed().validate()
    }

    pub(crate) fn borrowed(&self) -> Item<'_> {
        Item {
            subscriber_id: self.subscriber_id.as_deref(),
            identifier: self.identifier.as_deref(),
        }
    }
}

/// A [`SubscriptionRef`] borrowed from the request it comes from, sent the same way: the
/// `Unsubscriber` mapping does not copy a subscriber id per row to send it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) struct Item<'a> {
    #[serde(rename = "subscriberId", skip_serializing_if = "Option::is_none")]
    pub(crate) subscriber_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) identifier: Option<&'a str>,
}

impl Item<'_> {
    pub(crate) fn validate(&self) -> Result<(), Error> {
        if self.subscriber_id.is_none() && self.identifier.is_none() {
            return Err(Error::invalid_input(
                "subscription",
                "has neither a subscriberId nor an identifier; Novu needs at least one",
            ));
        }
        if let Some(id) = self.subscriber_id {
            validate::non_empty("subscriberId", id)?;
        }
        if let Some(identifier) = self.identifier {
            validate::non_empty("identifier", identifier)?;
        }
        Ok(())
    }
}

/// The JSON body of one DELETE of `items`: byte for byte what `serde_json` writes for a
/// [`DeleteBody`] of them (a test checks it), written directly. Through serde, each item cost
/// about 500 instructions (two strings escaped through the serializer, a map per item), more
/// than anything else the mapping does per row; here a string that needs no escape (no `"`,
/// `\` or control character, as nearly every id) is copied as it is, and any other is
/// escaped by `serde_json` itself.
pub(crate) fn items_body(items: &[Item<'_>]) -> Vec<u8> {
    let room = items
        .iter()
        .map(|i| 36 + i.subscriber_id.map_or(0, str::len) + i.identifier.map_or(0, str::len))
        .sum::<usize>();
    let mut out = Vec::with_capacity(20 + room);
    out.extend_from_slice(b"{\"subscriptions\":[");
    for (n, item) in items.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        out.push(b'{');
        if let Some(id) = item.subscriber_id {
            out.extend_from_slice(b"\"subscriberId\":");
            json_string(&mut out, id);
        }
        if let Some(identifier) = item.identifier {
            if item.subscriber_id.is_some() {
                out.push(b',');
            }
            out.extend_from_slice(b"\"identifier\":");
            json_string(&mut out, identifier);
        }
        out.push(b'}');
    }
    out.extend_from_slice(b"]}");
    out
}

/// `text` as a JSON string, as `serde_json` writes it.
fn json_string(out: &mut Vec<u8>, text: &str) {
    if text.bytes().all(|b| b >= b' ' && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    } else {
        // Writing a string into a `Vec` cannot fail.
        let _ = serde_json::to_writer(&mut *out, text);
    }
}

/// The body of one DELETE: 1 to 100 items ([`SubscriptionRef`]s or [`Item`]s).
#[derive(Serialize)]
pub(crate) struct DeleteBody<'a, I> {
    pub(crate) subscriptions: &'a [I],
}

/// The answer: `{data, meta, errors?}`. Also what Novu sends with a 400 when every item
/// failed. Merged over chunks by
/// [`Novu::delete_topic_subscriptions`](crate::Novu::delete_topic_subscriptions).
///
/// `D` is how each deleted subscription is decoded: [`DeletedSubscription`], everything Novu
/// documents, for the typed API; the `Unsubscriber` mapping decodes only what it reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct DeleteSubscriptionsResponse<D = DeletedSubscription> {
    /// The subscriptions deleted.
    pub data: Vec<D>,
    /// The counts.
    pub meta: Meta,
    /// One entry per item that failed (absent when none did).
    #[serde(default, deserialize_with = "null_as_default")]
    pub errors: Vec<SubscriptionError>,
}

impl<D> DeleteSubscriptionsResponse<D> {
    pub(crate) fn merge(&mut self, other: DeleteSubscriptionsResponse<D>) {
        self.data.extend(other.data);
        self.errors.extend(other.errors);
        let (m, o) = (&mut self.meta, other.meta);
        m.total_count = m.total_count.saturating_add(o.total_count);
        m.successful = m.successful.saturating_add(o.successful);
        m.failed = m.failed.saturating_add(o.failed);
    }
}

/// One deleted subscription. Only `_id` is required; the rest is kept when Novu sends it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct DeletedSubscription {
    /// The subscription's id (`_id`): the receipt's reference.
    #[serde(rename = "_id")]
    pub id: String,
    /// The subscription identifier.
    pub identifier: Option<String>,
    /// The topic.
    pub topic: Option<TopicSummary>,
    /// The subscriber (Novu sends `null` when it no longer exists).
    pub subscriber: Option<SubscriberSummary>,
    /// When the subscription was created.
    pub created_at: Option<String>,
    /// When the subscription was last updated.
    pub updated_at: Option<String>,
    /// The subscription's context keys, e.g. `tenant:org-a`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub context_keys: Vec<String>,
}

/// A deleted subscription as the `Unsubscriber` mapping reads it: which subscriber (or, when
/// Novu sends `subscriber: null`, which identifier), in which topic, and the `_id` for the
/// receipt. Decoding only this, and skipping the names, dates and the rest of the topic and
/// subscriber, halves the cost of a 100-item answer (about 1.2 us -> 0.5 us per item), the
/// largest per-row cost of a Novu bulk run. The strings are borrowed from the body while the
/// answer is read (see `Novu::send_one`).
#[derive(Debug, Deserialize)]
pub(crate) struct Confirmed<'a> {
    /// Required by Novu's docs, but read leniently here: an entry without it confirms nothing
    /// and leaves its own row unconfirmed, not the whole answer undecodable.
    #[serde(rename = "_id", borrow)]
    pub(crate) id: Option<Text<'a>>,
    #[serde(borrow)]
    pub(crate) identifier: Option<Text<'a>>,
    #[serde(borrow)]
    pub(crate) topic: Option<ConfirmedTopic<'a>>,
    #[serde(borrow)]
    pub(crate) subscriber: Option<ConfirmedSubscriber<'a>>,
}

/// The topic of a [`Confirmed`] entry: its key only.
#[derive(Debug, Deserialize)]
pub(crate) struct ConfirmedTopic<'a> {
    #[serde(borrow)]
    pub(crate) key: Option<Text<'a>>,
}

/// The subscriber of a [`Confirmed`] entry: its subscriber id only.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ConfirmedSubscriber<'a> {
    #[serde(borrow)]
    pub(crate) subscriber_id: Option<Text<'a>>,
}

/// A string of Novu's answer: borrowed from the body, or owned when JSON escapes in it had to
/// be undone. (serde's own `Cow<str>` support does not borrow inside an `Option`.)
#[derive(Debug)]
pub(crate) struct Text<'a>(Cow<'a, str>);

impl Text<'_> {
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor<'a>(std::marker::PhantomData<Text<'a>>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visitor<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(Visitor(std::marker::PhantomData))
    }
}

/// The topic of a deleted subscription.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct TopicSummary {
    /// Novu's internal id (`_id`).
    #[serde(rename = "_id")]
    pub id: Option<String>,
    /// The topic key.
    pub key: Option<String>,
    /// The topic name.
    pub name: Option<String>,
}

/// The subscriber of a deleted subscription.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SubscriberSummary {
    /// Novu's internal id (`_id`).
    #[serde(rename = "_id")]
    pub id: Option<String>,
    /// The subscriber id.
    pub subscriber_id: Option<String>,
    /// Avatar URL.
    pub avatar: Option<String>,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Email address.
    pub email: Option<String>,
}

/// `meta`: how many items were asked for, deleted and failed (missing counts read as 0). The
/// `Unsubscriber` mapping confirms nothing from an answer whose `data` or `errors` list more
/// entries than `successful` or `failed` count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
#[non_exhaustive]
pub struct Meta {
    /// Items in the request(s).
    pub total_count: u64,
    /// Subscriptions deleted.
    pub successful: u64,
    /// Items that failed.
    pub failed: u64,
}

/// One failed item, e.g. `{"subscriberId":"x","code":"SUBSCRIBER_NOT_FOUND","message":".."}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SubscriptionError {
    /// The subscriber id of the item (`unknown` when the item had none).
    pub subscriber_id: Option<String>,
    /// The item's identifier, when Novu echoes it.
    pub identifier: Option<String>,
    /// Novu's code: `SUBSCRIPTION_NOT_FOUND`, `SUBSCRIBER_NOT_FOUND`, `INVALID_REQUEST`, ...
    pub code: Option<String>,
    /// Novu's message.
    pub message: Option<String>,
}

pub(crate) fn null_as_default<'de, D: Deserializer<'de>, T: Default + Deserialize<'de>>(
    d: D,
) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_body_is_what_serde_json_writes() {
        let texts = [
            "user-1",
            "",
            " spaced ",
            "quote\"d",
            "back\\slash",
            "tab\there",
            "line\nbreak",
            "\u{1}\u{1f}\u{7f}",
            "héllo wörld",
            "emoji 🎉",
            "</script>",
        ];
        let mut items = Vec::new();
        for a in texts {
            items.push(Item {
                subscriber_id: Some(a),
                identifier: None,
            });
            items.push(Item {
                subscriber_id: None,
                identifier: Some(a),
            });
            for b in texts {
                items.push(Item {
                    subscriber_id: Some(a),
                    identifier: Some(b),
                });
            }
        }
        items.push(Item {
            subscriber_id: None,
            identifier: None,
        });
        for n in [0, 1, 2, items.len()] {
            let some = items.get(..n).unwrap_or_default();
            let by_serde = serde_json::to_vec(&DeleteBody {
                subscriptions: some,
            })
            .unwrap_or_default();
            assert_eq!(
                String::from_utf8_lossy(&items_body(some)),
                String::from_utf8_lossy(&by_serde)
            );
        }
    }
}
