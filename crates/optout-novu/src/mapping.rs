//! The [`Unsubscriber`] mapping: one DELETE per topic for one request, and batches of up to
//! 100 requests of one topic per DELETE, each request matched to its part of Novu's answer.

use std::borrow::Cow;

use optout_core::{
    async_trait, validate, Error, Outcome, Provider, Receipt, Recipient, TopicOutcome, Topics,
    Unsubscribe, Unsubscriber,
};

use crate::client::{derived_keys, idempotency_header, Novu};
use crate::errors::item_error;
use crate::wire::{Confirmed, DeleteSubscriptionsResponse, Item, SubscriptionError, Text};
use crate::{MAX_SUBSCRIPTIONS, PROVIDER, SUBSCRIPTION_NOT_FOUND};

/// What Novu's answer to a DELETE of one item in `topic` says about it: matched exactly as in
/// a batch ([`AnswerIndex`]), so that an entry for another subscriber, identifier or topic
/// confirms nothing even when only one item was sent.
pub(crate) fn only_item(
    topic: &str,
    item: &Item<'_>,
    status: u16,
    response: &DeleteSubscriptionsResponse<Confirmed<'_>>,
) -> Result<TopicOutcome, Error> {
    AnswerIndex::new(topic, status, response).outcome(item)
}

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

#[async_trait]
impl Unsubscriber for Novu {
    fn provider(&self) -> Provider {
        PROVIDER
    }

    /// Maps a [`Recipient::Subscriber`] (with its optional identifier) onto one DELETE per
    /// topic key, with one item each. Novu's answer is matched as in a batch (see
    /// [`unsubscribe_many`](Unsubscriber::unsubscribe_many)): deleted ->
    /// [`Outcome::Unsubscribed`] (reference: the subscriptions' `_id`s);
    /// `SUBSCRIPTION_NOT_FOUND` -> [`Outcome::AlreadyUnsubscribed`]; any other per-item code
    /// is an error with that code; an answer that says nothing about this subscriber, its
    /// identifier and the topic confirms nothing (a retryable [`Error::unconfirmed`]).
    ///
    /// An idempotency key is sent unchanged for one topic; for several, topic `n` (1-based,
    /// in the order given, repeats dropped) gets `{key}-{n}`. Novu ignores the header on this
    /// DELETE (it honours keys on POST and PATCH only): a retry runs the DELETE again and
    /// what was already removed comes back as `SUBSCRIPTION_NOT_FOUND`, reported as
    /// unsubscribed when an earlier attempt of the same call may have removed it, else as
    /// already unsubscribed. See [`Novu::delete_topic_subscriptions`].
    async fn unsubscribe(&self, request: &Unsubscribe) -> Result<Receipt, Error> {
        let Recipient::Subscriber { id, identifier } = &request.recipient else {
            return Err(Error::unsupported(
                PROVIDER,
                format!(
                    "unsubscribe a {} recipient; Novu takes a subscriber id",
                    request.recipient.kind()
                ),
            ));
        };
        let topics = validate::topic_ids(PROVIDER, "topic", &request.topics)?;
        let item = Item {
            subscriber_id: Some(id),
            identifier: identifier.as_deref(),
        };
        item.validate()?;
        let keys = derived_keys(request.idempotency_key.as_deref(), topics.len());
        for key in keys.iter().flatten() {
            idempotency_header(key)?;
        }
        let calls = topics
            .iter()
            .zip(&keys)
            .map(|(topic, key)| self.unsubscribe_topic(topic, item, key.as_deref()));
        optout_core::per_topic(PROVIDER, request, &topics, calls).await
    }
    /// Up to 100 requests for the same topic share one DELETE.
    fn batch_size(&self) -> usize {
        MAX_SUBSCRIPTIONS
    }

    /// Groups the requests that name one subscriber and exactly one topic (and no idempotency
    /// key) by topic key, and sends each group in DELETEs of at most 100 items, mapping Novu's
    /// per-item answer back to each request: a `data` entry in the topic for the subscriber
    /// (and identifier, when given) -> [`Outcome::Unsubscribed`] with its `_id`;
    /// `SUBSCRIPTION_NOT_FOUND` for the subscriber -> [`Outcome::AlreadyUnsubscribed`]; another
    /// code -> that error; no entry at all, or counts in `meta` that contradict the lists -> a
    /// retryable [`Error::unconfirmed`] (nothing is confirmed). A DELETE that fails as a whole
    /// fails every request in it. Everything else goes through
    /// [`unsubscribe`](Unsubscriber::unsubscribe), one by one.
    ///
    /// The same subscriber twice in a group is sent once and both requests get its outcome;
    /// the same subscriber id with a different identifier goes one by one, so that every item
    /// of a DELETE is about a different subscriber and Novu's answer maps back unambiguously.
    async fn unsubscribe_many(&self, requests: &[Unsubscribe]) -> Vec<Result<Receipt, Error>> {
        let mut results: Vec<Option<Result<Receipt, Error>>> =
            requests.iter().map(|_| None).collect();
        // Usually one or two topics per batch: a scan finds a request's group.
        let mut groups: Vec<Group<'_>> = Vec::new();
        let mut singles = Vec::new();
        for (index, request) in requests.iter().enumerate() {
            let Some((topic, subscriber, item)) = batchable(request) else {
                singles.push(index);
                continue;
            };
            if let Some(group) = groups.iter_mut().find(|g| g.topic == topic) {
                group.add(subscriber, item, index, &mut singles);
                continue;
            }
            let mut group = Group::new(topic);
            group.add(subscriber, item, index, &mut singles);
            groups.push(group);
        }
        for group in &groups {
            for (chunk, items) in group.items.chunks(MAX_SUBSCRIPTIONS).enumerate() {
                let read = |status, response: &DeleteSubscriptionsResponse<Confirmed<'_>>| {
                    let answer = AnswerIndex::new(&group.topic, status, response);
                    items.iter().map(|item| answer.outcome(item)).collect()
                };
                let outcomes: Vec<Result<TopicOutcome, Error>> =
                    match self.send_one(&group.topic, items, None, read).await {
                        Ok(outcomes) => outcomes,
                        Err(error) => items.iter().map(|_| Err(error.clone())).collect(),
                    };
                for (k, outcome) in outcomes.into_iter().enumerate() {
                    let mut result = Some(outcome);
                    // Nearly always one request per item: the result is moved, not copied.
                    let mut asked = group.requesters(chunk * MAX_SUBSCRIPTIONS + k).peekable();
                    while let Some(index) = asked.next() {
                        let result = match asked.peek() {
                            Some(_) => result.clone(),
                            None => result.take(),
                        };
                        let (Some(result), Some(request), Some(slot)) =
                            (result, requests.get(index), results.get_mut(index))
                        else {
                            continue;
                        };
                        *slot = Some(result.map(|t| {
                            Receipt::new(
                                PROVIDER,
                                request.recipient.clone(),
                                Topics::Only(vec![group.topic.to_string()]),
                                t.outcome,
                                t.reference,
                            )
                        }));
                    }
                }
            }
        }
        for index in singles {
            if let (Some(request), Some(slot)) = (requests.get(index), results.get_mut(index)) {
                *slot = Some(self.unsubscribe(request).await);
            }
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(Error::config("no call was made for this request"))))
            .collect()
    }

    /// The requests [`unsubscribe`](Unsubscriber::unsubscribe) would send, built by the same
    /// code and recorded instead of sent ([`optout_core::plan`]).
    async fn plan(&self, request: &Unsubscribe) -> Result<optout_core::Plan, Error> {
        optout_core::plan_by_capture(self, request).await
    }

    /// The requests [`unsubscribe_many`](Unsubscriber::unsubscribe_many) would send,
    /// recorded instead of sent.
    async fn plan_many(
        &self,
        requests: &[Unsubscribe],
    ) -> (optout_core::Plan, Vec<Result<(), Error>>) {
        optout_core::plan_many_by_capture(self, requests).await
    }
}

/// The requests of one batch for one topic key: each distinct item (sent as they are, in
/// DELETEs of up to 100) with the requests that asked for it.
///
/// Lookups here and in [`AnswerIndex`] are binary searches over sorted lists, not hash maps:
/// at most 100 entries, no allocation per entry and no hashing (SipHash and one allocation per
/// entry were a fifth of the per-row cost of a Novu bulk run).
struct Group<'a> {
    topic: Cow<'a, str>,
    items: Vec<Item<'a>>,
    /// The first request that asked for each item.
    first: Vec<usize>,
    /// (item, request) for the rare request that asks again for an item already there.
    again: Vec<(usize, usize)>,
    /// (subscriber id, its item), sorted.
    by_subscriber: Vec<(&'a str, usize)>,
}

impl<'a> Group<'a> {
    fn new(topic: Cow<'a, str>) -> Self {
        Group {
            topic,
            items: Vec::new(),
            first: Vec::new(),
            again: Vec::new(),
            by_subscriber: Vec::new(),
        }
    }

    /// Adds request `index` for `subscriber`'s `item`: to the item's requests if the same
    /// item is there, to `singles` if the same subscriber is there with another identifier.
    fn add(&mut self, subscriber: &'a str, item: Item<'a>, index: usize, singles: &mut Vec<usize>) {
        match self
            .by_subscriber
            .binary_search_by(|(s, _)| (*s).cmp(subscriber))
        {
            Ok(found) => match self.by_subscriber.get(found) {
                Some(&(_, at)) if self.items.get(at) == Some(&item) => self.again.push((at, index)),
                _ => singles.push(index),
            },
            Err(slot) => {
                self.by_subscriber
                    .insert(slot, (subscriber, self.items.len()));
                self.items.push(item);
                self.first.push(index);
            }
        }
    }

    /// The requests that asked for item `at`, first to last.
    fn requesters(&self, at: usize) -> impl Iterator<Item = usize> + '_ {
        let again = self.again.iter().filter(move |(item, _)| *item == at);
        self.first
            .get(at)
            .copied()
            .into_iter()
            .chain(again.map(|(_, index)| *index))
    }
}

/// The topic key, subscriber id and item of a request that can share a DELETE: a valid
/// subscriber, exactly one valid topic, no idempotency key (a request with a key is sent on
/// its own, so that the header carries its key as given). Anything else, including bad
/// input, goes through `unsubscribe`, which refuses it with nothing sent.
fn batchable(request: &Unsubscribe) -> Option<(Cow<'_, str>, &str, Item<'_>)> {
    let Recipient::Subscriber { id, identifier } = &request.recipient else {
        return None;
    };
    if request.idempotency_key.is_some() {
        return None;
    }
    let topic = match validate::topic_ids(PROVIDER, "topic", &request.topics).ok()? {
        Cow::Borrowed([topic]) => Cow::Borrowed(topic.as_str()),
        Cow::Owned(topics) => match <[String; 1]>::try_from(topics) {
            Ok([topic]) => Cow::Owned(topic),
            Err(_) => return None,
        },
        Cow::Borrowed(_) => return None,
    };
    let item = Item {
        subscriber_id: Some(id),
        identifier: identifier.as_deref(),
    };
    item.validate().ok()?;
    Some((topic, id, item))
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
struct AnswerIndex<'a> {
    status: u16,
    response: &'a DeleteSubscriptionsResponse<Confirmed<'a>>,
    /// (subscriber id, position in `data`), sorted.
    deleted: Vec<(&'a str, usize)>,
    /// (identifier, position in `data`) of the entries with `subscriber: null`, sorted: Novu
    /// sends that when the subscriber no longer exists, and only the identifier says whose it was.
    orphaned: Vec<(&'a str, usize)>,
    /// The per-item errors by subscriber id, sorted by it (and in the answer's order within).
    errors: Vec<(Option<&'a str>, &'a SubscriptionError)>,
    /// Whether `meta` counts every entry listed (Novu's server sets `successful` to the length
    /// of `data` and `failed` to that of `errors`).
    consistent: bool,
}

impl<'a> AnswerIndex<'a> {
    fn new(
        topic: &str,
        status: u16,
        response: &'a DeleteSubscriptionsResponse<Confirmed<'a>>,
    ) -> Self {
        let mut deleted = Vec::with_capacity(response.data.len());
        let mut orphaned = Vec::new();
        for (at, d) in response.data.iter().enumerate() {
            let in_topic = d
                .topic
                .as_ref()
                .and_then(|t| t.key.as_ref())
                .map(Text::as_str);
            let id = d.id.as_ref().map(Text::as_str).unwrap_or_default();
            if in_topic != Some(topic) || id.is_empty() {
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
        let meta = &response.meta;
        let consistent = u64::try_from(response.data.len()).is_ok_and(|n| n <= meta.successful)
            && u64::try_from(response.errors.len()).is_ok_and(|n| n <= meta.failed);
        AnswerIndex {
            status,
            response,
            deleted,
            orphaned,
            errors,
            consistent,
        }
    }

    /// What the answer says about `item`: its deleted subscriptions (when an identifier is
    /// given, only that one), else its errors, else nothing (unconfirmed).
    fn outcome(&self, item: &Item<'_>) -> Result<TopicOutcome, Error> {
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
        let data = &self.response.data;
        let entry = |at: usize| data.get(at);
        let mine = id
            .into_iter()
            .flat_map(|id| sorted_lookup(&self.deleted, id))
            .filter(|&at| {
                wanted.is_none()
                    || entry(at)
                        .and_then(|d| d.identifier.as_ref())
                        .map(Text::as_str)
                        == wanted
            });
        let orphans = wanted
            .into_iter()
            .flat_map(|wanted| sorted_lookup(&self.orphaned, wanted));
        // The deleted subscriptions' ids, in the answer's order.
        let deleted = merge_ascending(mine, orphans)
            .filter_map(entry)
            .filter_map(|d| d.id.as_ref())
            .map(Text::as_str);
        let errors = sorted_lookup(&self.errors, id).filter(|e| {
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
