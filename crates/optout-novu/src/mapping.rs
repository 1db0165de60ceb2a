//! The [`Unsubscriber`] mapping: one DELETE per topic for one request, and batches of up to
//! 100 requests of one topic per DELETE, each request matched to its part of Novu's answer.

use std::borrow::Cow;
use std::time::SystemTime;

use optout_core::{
    async_trait, validate, Answered, Error, Provider, Receipt, Recipient, TopicOutcome, Topics,
    Unsubscribe, Unsubscriber,
};

use crate::answer::AnswerIndex;
use crate::client::{derived_keys, idempotency_header, Novu};
use crate::group::Group;
use crate::wire::{Confirmed, DeleteSubscriptionsResponse, Item};
use crate::{MAX_SUBSCRIPTIONS, PROVIDER};

/// What Novu's answer to a DELETE of one item in `topic` says about it: matched exactly as in
/// a batch ([`AnswerIndex`]), so that an entry for another subscriber, identifier or topic
/// confirms nothing even when only one item was sent.
pub(crate) fn only_item(
    topic: &str,
    item: &Item<'_>,
    status: u16,
    response: &DeleteSubscriptionsResponse<Confirmed<'_>>,
) -> Result<TopicOutcome, Error> {
    AnswerIndex::new(topic, status, response, std::slice::from_ref(item)).outcome(0, item)
}

#[async_trait]
impl Unsubscriber for Novu {
    fn provider(&self) -> Provider {
        PROVIDER
    }

    /// Maps a [`Recipient::Subscriber`] (with its optional identifier) onto one DELETE per
    /// topic key, with one item each. Novu's answer is matched as in a batch (see
    /// [`unsubscribe_many`](Unsubscriber::unsubscribe_many)): deleted ->
    /// [`Outcome::Unsubscribed`](optout_core::Outcome::Unsubscribed) (reference: the subscriptions' `_id`s);
    /// `SUBSCRIPTION_NOT_FOUND` -> [`Outcome::AlreadyUnsubscribed`](optout_core::Outcome::AlreadyUnsubscribed); any other per-item code
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
    /// (and identifier, when given) -> [`Outcome::Unsubscribed`](optout_core::Outcome::Unsubscribed) with its `_id`;
    /// `SUBSCRIPTION_NOT_FOUND` for the subscriber -> [`Outcome::AlreadyUnsubscribed`](optout_core::Outcome::AlreadyUnsubscribed); another
    /// code -> that error; no entry at all, or counts in `meta` that contradict the lists -> a
    /// retryable [`Error::unconfirmed`] (nothing is confirmed). A DELETE that fails as a whole
    /// fails every request in it. Everything else goes through
    /// [`unsubscribe`](Unsubscriber::unsubscribe), one by one.
    ///
    /// The same subscriber twice in a group is sent once and both requests get its outcome;
    /// the same subscriber id with a different identifier goes one by one, so that every item
    /// of a DELETE is about a different subscriber and Novu's answer maps back unambiguously.
    async fn unsubscribe_many(&self, requests: &[Unsubscribe]) -> Vec<Result<Receipt, Error>> {
        let answers = self.send_batched(requests).await;
        optout_core::receipts(PROVIDER, requests, answers)
    }

    /// [`unsubscribe_many`](Unsubscriber::unsubscribe_many), with each request's recipient
    /// and topics moved into its receipt.
    async fn unsubscribe_owned(&self, requests: Vec<Unsubscribe>) -> Vec<Result<Receipt, Error>> {
        let answers = self.send_batched(&requests).await;
        optout_core::receipts_owned(PROVIDER, requests, answers)
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

impl Novu {
    /// The calls of `unsubscribe_many`, and what they said of each request, in order (`None`:
    /// no call was made for it, which `receipts` turns into an error).
    async fn send_batched(&self, requests: &[Unsubscribe]) -> Vec<Option<Answered>> {
        let mut results: Vec<Option<Answered>> = requests.iter().map(|_| None).collect();
        // Usually one or two topics per batch: a scan finds a request's group.
        let mut groups: Vec<Group<'_>> = Vec::new();
        let mut singles = Vec::new();
        let mut checked = None;
        // Whether a request's topic key as sent is its own text, unchanged (nearly always; not
        // when it named the key twice): then its receipt takes the request's topics.
        let mut own_topic = vec![false; requests.len()];
        for (index, request) in requests.iter().enumerate() {
            let Some((topic, subscriber, item)) = batchable(request, &mut checked) else {
                singles.push(index);
                continue;
            };
            if let (Cow::Borrowed(_), Some(own)) = (&topic, own_topic.get_mut(index)) {
                *own = true;
            }
            if let Some(group) = groups.iter_mut().find(|g| g.topic == topic) {
                group.add(subscriber, item, index, &mut singles);
                continue;
            }
            let mut group = Group::new(topic, requests.len() - index);
            group.add(subscriber, item, index, &mut singles);
            groups.push(group);
        }
        for group in &groups {
            for (chunk, items) in group.items.chunks(MAX_SUBSCRIPTIONS).enumerate() {
                let read = |status, response: &DeleteSubscriptionsResponse<Confirmed<'_>>| {
                    let answer = AnswerIndex::new(&group.topic, status, response, items);
                    items
                        .iter()
                        .enumerate()
                        .map(|(at, item)| answer.outcome(at, item))
                        .collect()
                };
                let outcomes: Vec<Result<TopicOutcome, Error>> =
                    match self.send_one(&group.topic, items, None, read).await {
                        Ok(outcomes) => outcomes,
                        Err(error) => items.iter().map(|_| Err(error.clone())).collect(),
                    };
                // One time for the whole answer: when it confirmed its items.
                let at = SystemTime::now();
                for (k, outcome) in outcomes.into_iter().enumerate() {
                    let mut outcome = Some(outcome);
                    // Nearly always one request per item: the outcome is moved, not copied.
                    let mut asked = group.requesters(chunk * MAX_SUBSCRIPTIONS + k).peekable();
                    while let Some(index) = asked.next() {
                        let outcome = match asked.peek() {
                            Some(_) => outcome.clone(),
                            None => outcome.take(),
                        };
                        let (Some(outcome), Some(slot)) = (outcome, results.get_mut(index)) else {
                            continue;
                        };
                        let own = own_topic.get(index).copied().unwrap_or(false);
                        *slot = Some(Answered::Batched {
                            outcome,
                            at,
                            topics: (!own).then(|| Topics::one(group.topic.as_ref())),
                        });
                    }
                }
            }
        }
        for index in singles {
            if let (Some(request), Some(slot)) = (requests.get(index), results.get_mut(index)) {
                *slot = Some(Answered::Whole(self.unsubscribe(request).await));
            }
        }
        results
    }
}

/// The topic key, subscriber id and item of a request that can share a DELETE: a valid
/// subscriber, exactly one valid topic, no idempotency key (a request with a key is sent on
/// its own, so that the header carries its key as given). Anything else, including bad
/// input, goes through `unsubscribe`, which refuses it with nothing sent.
///
/// `checked` is the last single topic key found valid in this batch: a request naming exactly
/// that key again is not checked again (the check depends on the key's text alone).
fn batchable<'r>(
    request: &'r Unsubscribe,
    checked: &mut Option<&'r str>,
) -> Option<(Cow<'r, str>, &'r str, Item<'r>)> {
    let Recipient::Subscriber { id, identifier } = &request.recipient else {
        return None;
    };
    if request.idempotency_key.is_some() {
        return None;
    }
    let topic = match (&request.topics, *checked) {
        (Topics::Only(ids), Some(valid)) if matches!(ids.as_slice(), [one] if one == valid) => {
            Cow::Borrowed(valid)
        }
        _ => match validate::topic_ids(PROVIDER, "topic", &request.topics).ok()? {
            Cow::Borrowed([topic]) => {
                *checked = Some(topic.as_str());
                Cow::Borrowed(topic.as_str())
            }
            Cow::Owned(topics) => match <[String; 1]>::try_from(topics) {
                Ok([topic]) => Cow::Owned(topic),
                Err(_) => return None,
            },
            Cow::Borrowed(_) => return None,
        },
    };
    let item = Item {
        subscriber_id: Some(id),
        identifier: identifier.as_deref(),
    };
    item.validate().ok()?;
    Some((topic, id, item))
}
