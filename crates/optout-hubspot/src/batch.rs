//! [`Unsubscriber::unsubscribe_many`](optout_core::Unsubscriber::unsubscribe_many) for
//! [`HubSpot`]: the requests' (address, subscription) pairs folded into v4 batch writes, and
//! HubSpot's answer mapped back to each request.
//!
//! Done means the answer says so for that address and subscription: a result whose status is
//! `UNSUBSCRIBED` (`NO_STATUS_CHANGE`: already). An error listed in the answer fails the pairs
//! it names; a pair the answer does not account for is [`Error::unconfirmed`], never done.
//! A batch refused as a whole with 403 (a token without the batch scope, which needs Marketing
//! Hub Enterprise) makes the client fall back to one v3 call per pair, with one warning per
//! client; other whole-batch refusals (400, 404, 413, 422, ...) send that batch's pairs one by
//! one through v3, so that one bad pair cannot fail the others.

use std::borrow::Cow;
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use optout_core::{
    validate, Answered, Error, Outcome, Recipient, TopicOutcome, Topics, Unsubscribe, Unsubscriber,
};

use crate::client::{Answer, HubSpot};
use crate::decode::traced;
use crate::view::{canonical_id, BatchAnswer};
use crate::wire::{check_legal_basis, StandardError, StatusWrite};
use crate::PROVIDER;

/// One request that can go into a batch write: its address and its subscription ids, each
/// with the index of its (address, subscription) pair among the batch's inputs.
struct Planned<'r> {
    request: usize,
    /// Its subscription ids: the request's own (borrowed) unless a repeat was dropped.
    ids: Cow<'r, [String]>,
    pairs: Vec<usize>,
}

/// What became of one (address, subscription) pair.
enum PairResult {
    /// The batch answered for it (or failed as a whole for it).
    Answered(Result<TopicOutcome, Error>),
    /// To be sent on its own, through the v3 call.
    ViaV3,
}

impl HubSpot {
    /// See the module docs. Requests that cannot go into a batch write (not an email, bad
    /// input, `Topics::All`, a subscription id that is not a number, a pair asked twice with
    /// different legal bases) go through [`unsubscribe`](Unsubscriber::unsubscribe), one by
    /// one, as do all requests when batch writes are off or refused, or when the requests
    /// hold fewer than two pairs. One slot per request, in order (`None`: no call was made
    /// for it, which `receipts` turns into an error).
    pub(crate) async fn unsubscribe_batched(
        &self,
        requests: &[Unsubscribe],
    ) -> Vec<Option<Answered>> {
        let mut results: Vec<Option<Answered>> = requests.iter().map(|_| None).collect();
        let mut inputs: Vec<StatusWrite> = Vec::new();
        let mut planned: Vec<Planned> = Vec::new();
        let mut singles: Vec<usize> = Vec::new();
        if self.batch_size > 1 && !self.batch_refused.load(Ordering::Relaxed) {
            let mut index = PairIndex::new();
            for (at, request) in requests.iter().enumerate() {
                match plan(request, &mut inputs, &mut index) {
                    Some((ids, pairs)) => planned.push(Planned {
                        request: at,
                        ids,
                        pairs,
                    }),
                    None => singles.push(at),
                }
            }
        } else {
            singles.extend(0..requests.len());
        }
        if inputs.len() < 2 {
            // Nothing to gain from a batch: the v3 call, as for one request.
            singles.extend(planned.drain(..).map(|p| p.request));
            inputs.clear();
        }

        let mut answered: Vec<PairResult> = Vec::with_capacity(inputs.len());
        for chunk in inputs.chunks(self.batch_size) {
            answered.extend(self.write_chunk(chunk).await);
        }
        let mut pairs: Vec<Option<Result<TopicOutcome, Error>>> = Vec::new();
        for (input, result) in inputs.iter().zip(answered) {
            pairs.push(Some(match result {
                PairResult::Answered(result) => result,
                PairResult::ViaV3 => {
                    let basis = input.legal_basis;
                    let explanation = input.legal_basis_explanation.as_deref();
                    let id = input.subscription_id.to_string();
                    self.v3_topic(&input.subscriber_id_string, &id, basis, explanation)
                        .await
                }
            }));
        }

        // Every answer is in: the time the batched requests were confirmed.
        let at = SystemTime::now();
        for plan in planned {
            let Some(request) = requests.get(plan.request) else {
                continue;
            };
            let outcome = |p: usize| match pairs.get(p) {
                Some(Some(result)) => result.clone(),
                _ => Err(Error::unconfirmed(
                    PROVIDER,
                    "no answer was mapped to this subscription",
                )),
            };
            let answered = match (&plan.ids, plan.pairs.as_slice()) {
                // One subscription, the request's own topics: its pair's outcome is its own
                // (what `per_topic` makes of one topic), the receipt made by the caller.
                (Cow::Borrowed([_]), &[p]) => Answered::Batched {
                    outcome: outcome(p),
                    at,
                    topics: None,
                },
                _ => {
                    let outcomes: Vec<_> = plan.pairs.iter().map(|&p| outcome(p)).collect();
                    let calls = outcomes.into_iter().map(std::future::ready);
                    Answered::Whole(
                        optout_core::per_topic(PROVIDER, request, &plan.ids, calls).await,
                    )
                }
            };
            if let Some(slot) = results.get_mut(plan.request) {
                *slot = Some(answered);
            }
        }
        for at in singles {
            if let (Some(request), Some(slot)) = (requests.get(at), results.get_mut(at)) {
                *slot = Some(Answered::Whole(self.unsubscribe(request).await));
            }
        }
        results
    }

    /// One batch write of `chunk`, and what it says of each pair, in order.
    async fn write_chunk(&self, chunk: &[StatusWrite]) -> Vec<PairResult> {
        if self.batch_refused.load(Ordering::Relaxed) {
            return chunk.iter().map(|_| PairResult::ViaV3).collect();
        }
        optout_core::plan::then(
            "a batch write refused as a whole (403 without the batch scope; 400, 404, 405, \
             409, 413, 422) is followed by one v3 unsubscribe per pair it holds",
        );
        let read = |answer: &Answer<BatchAnswer<'_>>| read_answer(answer, chunk);
        match self.batch_write_read(chunk, read).await {
            Ok(results) => results.into_iter().map(PairResult::Answered).collect(),
            Err(error) if error.status() == Some(403) => {
                if !self.batch_refused.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        provider = %PROVIDER,
                        error = %error,
                        "HubSpot refused the batch write (the token lacks its scope, which needs \
                         Marketing Hub Enterprise); this client sends one v3 unsubscribe per \
                         subscription from now on"
                    );
                }
                chunk.iter().map(|_| PairResult::ViaV3).collect()
            }
            Err(error) if matches!(error.status(), Some(400 | 404 | 405 | 409 | 413 | 422)) => {
                tracing::debug!(provider = %PROVIDER, error = %error,
                    "batch write refused as a whole; its pairs go one by one");
                chunk.iter().map(|_| PairResult::ViaV3).collect()
            }
            Err(error) => chunk
                .iter()
                .map(|_| PairResult::Answered(Err(error.clone())))
                .collect(),
        }
    }
}

/// The batch's pairs so far: for each address in lower case, its subscription ids and the
/// index of each one's input. Keyed by the address alone, so that a lookup borrows it (an
/// address has one or a few subscriptions).
type PairIndex = HashMap<String, Vec<(u64, usize)>>;

/// Adds `request`'s pairs to `inputs` (once per distinct address and subscription): its
/// subscription ids and the index of each one's pair, or `None` if it cannot be batched.
fn plan<'r>(
    request: &'r Unsubscribe,
    inputs: &mut Vec<StatusWrite>,
    index: &mut PairIndex,
) -> Option<(Cow<'r, [String]>, Vec<usize>)> {
    let Recipient::Email { address } = &request.recipient else {
        return None;
    };
    validate::email("recipient", address).ok()?;
    let basis = request.legal_basis.as_ref().map(|(b, _)| *b);
    let explanation = request.legal_basis.as_ref().map(|(_, e)| e.as_str());
    check_legal_basis("legal_basis_explanation", basis, explanation).ok()?;
    if request.topics == Topics::All {
        return None;
    }
    let ids = validate::topic_ids(PROVIDER, "topic", &request.topics).ok()?;
    let numbers: Vec<u64> = ids
        .iter()
        .map(|id| canonical_id(id))
        .collect::<Option<_>>()?;
    // Copied only when it has a capital letter (addresses nearly never do).
    let email = lowered(address);
    let known =
        |pairs: &[(u64, usize)], n: u64| pairs.iter().find(|(m, _)| *m == n).map(|&(_, at)| at);
    // A pair already asked for with another legal basis cannot share its input.
    let same_basis = |at: usize| {
        inputs.get(at).is_some_and(|input: &StatusWrite| {
            input.legal_basis == basis && input.legal_basis_explanation.as_deref() == explanation
        })
    };
    if let Some(pairs) = index.get(email.as_ref()) {
        if numbers
            .iter()
            .filter_map(|&n| known(pairs, n))
            .any(|at| !same_basis(at))
        {
            return None;
        }
    }
    let pairs = index.entry(email.into_owned()).or_default();
    let at = numbers
        .iter()
        .map(|&n| {
            known(pairs, n).unwrap_or_else(|| {
                let mut input = StatusWrite::unsubscribe(address.clone(), n);
                input.legal_basis = basis;
                input.legal_basis_explanation = explanation.map(str::to_owned);
                inputs.push(input);
                pairs.push((n, inputs.len() - 1));
                inputs.len() - 1
            })
        })
        .collect();
    Some((ids, at))
}

/// `text` in lower case, copied only when it has a capital letter.
fn lowered(text: &str) -> Cow<'_, str> {
    if text.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(text.to_ascii_lowercase())
    } else {
        Cow::Borrowed(text)
    }
}

/// What the batch answer says of each input of `chunk`, in order.
fn read_answer(
    answer: &Answer<BatchAnswer<'_>>,
    chunk: &[StatusWrite],
) -> Vec<Result<TopicOutcome, Error>> {
    let batch = &answer.body;
    let correlation = answer.correlation_id.as_deref();
    let complete = batch.status.as_str().eq_ignore_ascii_case("COMPLETE");
    // (address in lower case, subscription id) -> the first status listed for it; the rare
    // further ones for the same pair in `again`, (first, further).
    let mut listed: HashMap<(Cow<'_, str>, u64), usize> = HashMap::with_capacity(chunk.len());
    let mut again: Vec<(usize, usize)> = Vec::new();
    for (at, result) in batch.results.iter().enumerate() {
        // An id no write could have named matches no pair.
        let Some(id) = result.subscription_id else {
            continue;
        };
        let key = (lowered(&result.subscriber_id_string), id);
        match listed.entry(key) {
            Entry::Occupied(first) => again.push((*first.get(), at)),
            Entry::Vacant(slot) => {
                slot.insert(at);
            }
        }
    }
    // Only an answer that lists errors needs every pair's text, to find whom each names.
    let (emails, subs): (Vec<String>, Vec<String>) = if batch.errors.is_empty() {
        (Vec::new(), Vec::new())
    } else {
        chunk
            .iter()
            .map(|i| {
                (
                    i.subscriber_id_string.to_ascii_lowercase(),
                    i.subscription_id.to_string(),
                )
            })
            .unzip()
    };
    let errors: Vec<(&StandardError, Vec<&str>)> =
        batch.errors.iter().map(|e| (e, e.named())).collect();
    let unattributed = errors
        .iter()
        .find(|(_, named)| {
            !named.iter().any(|n| {
                emails.iter().any(|e| n.eq_ignore_ascii_case(e)) || subs.iter().any(|s| n == s)
            })
        })
        .map(|(e, _)| *e);

    let reference = answer.correlation_id.clone();
    chunk
        .iter()
        .enumerate()
        .map(|(at, input)| {
            let sub = input.subscription_id;
            let key = (lowered(&input.subscriber_id_string), sub);
            if let Some(&first) = listed.get(&key) {
                // The pair's statuses, in the answer's order (read twice, not collected: a
                // list per row for what is nearly always one status).
                let statuses = || {
                    let further = again.iter().filter(|(f, _)| *f == first).map(|(_, a)| *a);
                    std::iter::once(first)
                        .chain(further)
                        .filter_map(|i| batch.results.get(i))
                };
                if let Some(other) =
                    statuses().find(|s| !s.status.as_str().eq_ignore_ascii_case("UNSUBSCRIBED"))
                {
                    return Err(unconfirmed(
                        other.status.as_str(),
                        format!(
                            "HubSpot's batch write answered subscription {sub} with status {:?}, \
                             not UNSUBSCRIBED",
                            other.status.as_str()
                        ),
                        correlation,
                    ));
                }
                if !complete {
                    return Err(unconfirmed(
                        batch.status.as_str(),
                        format!(
                            "HubSpot's batch write answered with status {:?}, not COMPLETE",
                            batch.status.as_str()
                        ),
                        correlation,
                    ));
                }
                let already = statuses().all(|s| {
                    s.set_status_success_reason
                        .as_ref()
                        .is_some_and(|r| r.as_str().eq_ignore_ascii_case("NO_STATUS_CHANGE"))
                });
                return Ok(TopicOutcome {
                    outcome: if already {
                        Outcome::already(answer.earlier_attempt_may_have_applied)
                    } else {
                        Outcome::Unsubscribed
                    },
                    reference: reference.clone(),
                });
            }
            if let (Some(email), Some(sub)) = (emails.get(at), subs.get(at)) {
                if let Some((error, _)) = errors
                    .iter()
                    .find(|(_, named)| names(named, email, sub, &emails, &subs))
                {
                    return listed_error(
                        error,
                        correlation,
                        reference.clone(),
                        answer.earlier_attempt_may_have_applied,
                    );
                }
            }
            let why = match unattributed {
                Some(e) => format!(
                    "; it lists an error naming no pair: {}",
                    e.message.as_deref().unwrap_or_default()
                ),
                None => String::new(),
            };
            Err(unconfirmed(
                "",
                format!(
                    "HubSpot's batch write answer has no status and no error for subscription \
                     {sub} of this address{why}"
                ),
                correlation,
            ))
        })
        .collect()
}

/// Whether an error naming `named` is about the pair (`email`, `sub`): it names something
/// of the batch, and for each of address and subscription, either names this one or names
/// none of the batch's.
fn names(named: &[&str], email: &str, sub: &str, emails: &[String], subs: &[String]) -> bool {
    let any_email = named
        .iter()
        .any(|n| emails.iter().any(|e| n.eq_ignore_ascii_case(e)));
    let any_sub = named.iter().any(|n| subs.iter().any(|s| n == s));
    let this_email = named.iter().any(|n| n.eq_ignore_ascii_case(email));
    let this_sub = named.contains(&sub);
    (any_email || any_sub) && (!any_email || this_email) && (!any_sub || this_sub)
}

/// An error the batch answer lists for a pair: "already unsubscribed" is a receipt; otherwise
/// the error with HubSpot's category as its code, classified by that category.
fn listed_error(
    error: &StandardError,
    correlation: Option<&str>,
    reference: Option<String>,
    earlier_attempt_may_have_applied: bool,
) -> Result<TopicOutcome, Error> {
    let message = error.message.clone().unwrap_or_default();
    if message
        .to_ascii_lowercase()
        .contains("already unsubscribed")
    {
        return Ok(TopicOutcome {
            outcome: Outcome::already(earlier_attempt_may_have_applied),
            reference,
        });
    }
    let category = error.category.clone().unwrap_or_default();
    let status = match category.as_str() {
        "OBJECT_NOT_FOUND" => 404,
        "RATE_LIMITS" => 429,
        "INTERNAL_ERROR" | "SERVICE_UNAVAILABLE" => 500,
        "MISSING_SCOPES" | "INVALID_AUTHENTICATION" => 403,
        _ => 400,
    };
    Err(Error::api(PROVIDER, status)
        .with_code(category)
        .with_message(traced(Some(message), correlation)))
}

fn unconfirmed(code: &str, message: String, correlation: Option<&str>) -> Error {
    Error::unconfirmed(PROVIDER, traced(Some(message), correlation)).with_code(code)
}
