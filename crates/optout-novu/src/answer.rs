//! Novu's answer to one DELETE, indexed once so that each item's outcome is a lookup.

use std::cell::OnceCell;

use optout_core::{Error, Outcome, TopicOutcome};

use crate::errors::item_error;
use crate::wire::{Confirmed, DeleteSubscriptionsResponse, Item, SubscriptionError, Text};
use crate::{PROVIDER, SUBSCRIPTION_NOT_FOUND};

/// One item's outcome from what Novu's answer says about it: the `_id`s of its deleted
/// subscriptions, in the answer's order (unsubscribed, with them as the reference), else its
/// errors (all `SUBSCRIPTION_NOT_FOUND`: already unsubscribed; another: that error), else
/// nothing confirmed: a retryable [`Error::unconfirmed`] saying `unconfirmed`.
fn item_outcome<'e>(
    status: u16,
    deleted: impl Iterator<Item = &'e str>,
    errors: impl IntoIterator<Item = &'e SubscriptionError>,
    unconfirmed: impl FnOnce() -> String,
) -> Result<TopicOutcome, Error> {
    let mut reference = String::new();
    for id in deleted {
        if !reference.is_empty() {
            reference.push(',');
        }
        reference.push_str(id);
    }
    if !reference.is_empty() {
        return Ok(TopicOutcome {
            outcome: Outcome::Unsubscribed,
            reference: Some(reference),
        });
    }
    let mut any = false;
    for error in errors {
        if error.code.as_deref() != Some(SUBSCRIPTION_NOT_FOUND) {
            return Err(item_error(status, error));
        }
        any = true;
    }
    if any {
        return Ok(TopicOutcome {
            outcome: Outcome::already(optout_core::http::earlier_attempt_may_have_applied()),
            reference: None,
        });
    }
    Err(Error::unconfirmed(PROVIDER, unconfirmed()))
}

/// The values of `key` in `list`, a list of pairs sorted by key (and, within a key, by value).
fn sorted_lookup<'l, K: Ord + Copy, V: Copy>(
    list: &'l [(K, V)],
    key: K,
) -> impl Iterator<Item = V> + 'l {
    let from = list.partition_point(|(k, _)| *k < key);
    list.get(from..)
        .unwrap_or_default()
        .iter()
        .take_while(move |(k, _)| *k == key)
        .map(|(_, v)| *v)
}

/// Two ascending sequences as one ascending sequence.
fn merge_ascending(
    a: impl Iterator<Item = usize>,
    b: impl Iterator<Item = usize>,
) -> impl Iterator<Item = usize> {
    let (mut a, mut b) = (a.peekable(), b.peekable());
    std::iter::from_fn(move || match (a.peek(), b.peek()) {
        (Some(x), Some(y)) if y < x => b.next(),
        (Some(_), _) => a.next(),
        (None, _) => b.next(),
    })
}

/// Novu's answer to a DELETE for one topic, indexed once so that each item's outcome is a
/// lookup rather than a scan of the whole answer (100 items, 100 entries). Both paths read
/// answers through it: a batch of up to 100 items and a DELETE of one.
///
/// A `data` entry confirms an item only when it is for the item's topic (`topic.key`), has
/// an `_id`, and is for the item's subscriber (`subscriber.subscriberId`; with an identifier
/// given, that subscription only) or, when Novu sends `subscriber: null`, for the item's
/// identifier. An `errors` entry is about an item only when its `subscriberId` is the item's.
/// An answer whose lists hold more than its `meta` counts confirms nothing at all.
pub(crate) struct AnswerIndex<'a> {
    topic: &'a str,
    status: u16,
    response: &'a DeleteSubscriptionsResponse<Confirmed<'a>>,
    /// Whether `meta` counts every entry listed (Novu's server sets `successful` to the length
    /// of `data` and `failed` to that of `errors`).
    consistent: bool,
    /// Whether `data` holds exactly one entry per item, at the item's position, confirming it
    /// (in the topic, with an `_id`, for the item's subscriber): what Novu answers when it
    /// deletes every item, in the order sent.
    aligned: bool,
    /// The sorted lists, built the first time an item needs them (never, for an aligned
    /// answer whose items name no identifier).
    lists: OnceCell<Lists<'a>>,
}

/// The answer's entries sorted for lookups.
struct Lists<'a> {
    /// (subscriber id, position in `data`), sorted.
    deleted: Vec<(&'a str, usize)>,
    /// (identifier, position in `data`) of the entries with `subscriber: null`, sorted: Novu
    /// sends that when the subscriber no longer exists, and only the identifier says whose it was.
    orphaned: Vec<(&'a str, usize)>,
    /// The per-item errors by subscriber id, sorted by it (and in the answer's order within).
    errors: Vec<(Option<&'a str>, &'a SubscriptionError)>,
}

/// The subscriber of `entry` if it confirms anything in `topic`: it is in the topic, has an
/// `_id`, and names its subscriber.
fn confirming<'a>(entry: &'a Confirmed<'a>, topic: &str) -> Option<&'a str> {
    let key = entry.topic.as_ref()?.key.as_ref()?;
    let id = entry.id.as_ref()?;
    if key.as_str() != topic || id.as_str().is_empty() {
        return None;
    }
    Some(entry.subscriber.as_ref()?.subscriber_id.as_ref()?.as_str())
}

impl<'a> AnswerIndex<'a> {
    /// The answer to a DELETE of `items` (which name different subscribers, as a batch's
    /// items do) in `topic`.
    pub(crate) fn new(
        topic: &'a str,
        status: u16,
        response: &'a DeleteSubscriptionsResponse<Confirmed<'a>>,
        items: &[Item<'_>],
    ) -> Self {
        debug_assert!(items.iter().enumerate().all(|(i, a)| items
            .get(..i)
            .unwrap_or_default()
            .iter()
            .all(|b| a.subscriber_id.is_none() || a.subscriber_id != b.subscriber_id)));
        let meta = &response.meta;
        let consistent = u64::try_from(response.data.len()).is_ok_and(|n| n <= meta.successful)
            && u64::try_from(response.errors.len()).is_ok_and(|n| n <= meta.failed);
        let aligned = response.data.len() == items.len()
            && response.data.iter().zip(items).all(|(entry, item)| {
                item.subscriber_id.is_some() && confirming(entry, topic) == item.subscriber_id
            });
        AnswerIndex {
            topic,
            status,
            response,
            consistent,
            aligned,
            lists: OnceCell::new(),
        }
    }

    /// The sorted lists, built on first use.
    fn lists(&self) -> &Lists<'a> {
        self.lists.get_or_init(|| {
            let response = self.response;
            let mut deleted = Vec::with_capacity(response.data.len());
            let mut orphaned = Vec::new();
            for (at, d) in response.data.iter().enumerate() {
                let in_topic = d
                    .topic
                    .as_ref()
                    .and_then(|t| t.key.as_ref())
                    .map(Text::as_str);
                let id = d.id.as_ref().map(Text::as_str).unwrap_or_default();
                if in_topic != Some(self.topic) || id.is_empty() {
                    continue; // about another topic, or not saying which: confirms nothing
                }
                let subscriber = d.subscriber.as_ref().and_then(|s| s.subscriber_id.as_ref());
                match (
                    subscriber.map(Text::as_str),
                    d.identifier.as_ref().map(Text::as_str),
                ) {
                    (Some(s), _) => deleted.push((s, at)),
                    (None, Some(identifier)) => orphaned.push((identifier, at)),
                    (None, None) => {}
                }
            }
            deleted.sort_unstable();
            orphaned.sort_unstable();
            let mut errors: Vec<_> = response
                .errors
                .iter()
                .map(|e| (e.subscriber_id.as_deref(), e))
                .collect();
            errors.sort_by_key(|(subscriber, _)| *subscriber); // stable: the answer's order within
            Lists {
                deleted,
                orphaned,
                errors,
            }
        })
    }

    /// What the answer says about `item`, the `at`th of the DELETE: its deleted subscriptions
    /// (when an identifier is given, only that one), else its errors, else nothing
    /// (unconfirmed).
    ///
    /// In an [aligned](Self::aligned) answer the entry at `at` is the only one about the
    /// item's subscriber (the items name different subscribers): for an item that names no
    /// identifier it is the answer, with no search. Anything else goes through the lists.
    pub(crate) fn outcome(&self, at: usize, item: &Item<'_>) -> Result<TopicOutcome, Error> {
        if let (true, true, None) = (self.consistent, self.aligned, item.identifier) {
            let id = self.response.data.get(at).and_then(|d| d.id.as_ref());
            if let Some(id) = id {
                return Ok(TopicOutcome {
                    outcome: Outcome::Unsubscribed,
                    reference: Some(id.as_str().to_owned()),
                });
            }
        }
        self.looked_up(item)
    }

    /// [`outcome`](Self::outcome) through the index: every entry for the item, in the
    /// answer's order.
    fn looked_up(&self, item: &Item<'_>) -> Result<TopicOutcome, Error> {
        let (id, wanted) = (item.subscriber_id, item.identifier);
        if !self.consistent {
            let (response, meta) = (self.response, &self.response.meta);
            return Err(Error::unconfirmed(
                PROVIDER,
                format!(
                    "Novu's HTTP {} answer lists {} deleted and {} failed but counts {} and {} \
                     in meta; nothing is confirmed for subscriber {:?}",
                    self.status,
                    response.data.len(),
                    response.errors.len(),
                    meta.successful,
                    meta.failed,
                    id.unwrap_or("")
                ),
            ));
        }
        let lists = self.lists();
        let data = &self.response.data;
        let entry = |at: usize| data.get(at);
        let mine = id
            .into_iter()
            .flat_map(|id| sorted_lookup(&lists.deleted, id))
            .filter(|&at| {
                wanted.is_none()
                    || entry(at)
                        .and_then(|d| d.identifier.as_ref())
                        .map(Text::as_str)
                        == wanted
            });
        let orphans = wanted
            .into_iter()
            .flat_map(|wanted| sorted_lookup(&lists.orphaned, wanted));
        // The deleted subscriptions' ids, in the answer's order.
        let deleted = merge_ascending(mine, orphans)
            .filter_map(entry)
            .filter_map(|d| d.id.as_ref())
            .map(Text::as_str);
        let errors = sorted_lookup(&lists.errors, id).filter(|e| {
            wanted.is_none() || e.identifier.is_none() || e.identifier.as_deref() == wanted
        });
        item_outcome(self.status, deleted, errors, || {
            format!(
                "Novu's HTTP {} answer for {} item(s) lists neither a deleted subscription in \
                 this topic nor an error for subscriber {:?}; nothing is confirmed",
                self.status,
                self.response.meta.total_count.max(1),
                id.unwrap_or("")
            )
        })
    }
}
