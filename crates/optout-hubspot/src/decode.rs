//! HubSpot's answers decoded: errors (with the correlation id, and which rate limits may be
//! retried) and the success bodies, which must confirm what was asked before anything counts.

use std::time::{Duration, SystemTime};

use optout_core::reqwest::StatusCode;
use optout_core::{snippet, wait_from_headers, Error, Response};
use serde::Deserialize;

use crate::client::{Answer, UnsubscribeAllOutcome, UnsubscribeOutcome};
use crate::wire::{
    id_text, BatchResponse, BatchStatus, ErrorBody, SourceOfStatus, SubscriptionState,
    SubscriptionStatus,
};
use crate::{CORRELATION, PROVIDER};

/// What a v3 answer's status must show for the unsubscribe to count: its state, and the
/// subscription id and source that the error names when it is still `SUBSCRIBED`.
pub(crate) trait V3Status: serde::de::DeserializeOwned {
    fn state(&self) -> (&SubscriptionState, &str, &SourceOfStatus);
}

impl V3Status for SubscriptionStatus {
    fn state(&self) -> (&SubscriptionState, &str, &SourceOfStatus) {
        (&self.status, &self.id, &self.source_of_status)
    }
}

/// The fields of a v3 answer the `Unsubscriber` mapping reads; the others (`name`,
/// `description`, ...) are skipped by the parser, not copied into strings.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Confirmed {
    #[serde(deserialize_with = "id_text")]
    id: String,
    status: SubscriptionState,
    source_of_status: SourceOfStatus,
}

impl V3Status for Confirmed {
    fn state(&self) -> (&SubscriptionState, &str, &SourceOfStatus) {
        (&self.status, &self.id, &self.source_of_status)
    }
}

pub(crate) fn correlation_id(r: &Response<'_>) -> Option<String> {
    r.headers
        .get(CORRELATION)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

pub(crate) fn traced(message: Option<String>, correlation_id: Option<&str>) -> String {
    let message = message.unwrap_or_default();
    match correlation_id.filter(|c| !c.is_empty()) {
        Some(id) if message.is_empty() => format!("(correlationId {id})"),
        Some(id) => format!("{message} (correlationId {id})"),
        None => message,
    }
}

/// HubSpot's error body as an [`Error`]: code `errorType` or `category`, message with the
/// correlation id.
///
/// A 429 is classified by its policy: the daily limit is not retryable (it resets at
/// midnight): `policyName` `DAILY`, a spent `X-HubSpot-RateLimit-Daily-Remaining`, or, when
/// there is no `policyName` (OAuth apps get no daily headers), a message that says daily.
/// Any other 429 (`TEN_SECONDLY_ROLLING`, ...) is retried after `Retry-After` when HubSpot
/// sends one, else after `X-HubSpot-RateLimit-Interval-Milliseconds` (the rolling window),
/// so that the retry lands in a new window rather than three times in the spent one.
pub(crate) fn api_error(r: &Response<'_>) -> Error {
    let status = r.status.as_u16();
    let error = Error::api(PROVIDER, status);
    let rate_limited = r.status == StatusCode::TOO_MANY_REQUESTS;
    let Some(body) = r.try_json::<ErrorBody>() else {
        let error = error.with_message(snippet(r.body));
        return match window(r) {
            Some(wait) if rate_limited => error.with_retry_after(wait),
            _ => error,
        };
    };
    let daily = match body.policy_name.as_deref() {
        Some(policy) => policy.to_ascii_uppercase().contains("DAILY"),
        None => body
            .message
            .as_deref()
            .is_some_and(|m| m.to_ascii_lowercase().contains("daily")),
    };
    let daily_spent = header(r, "x-hubspot-ratelimit-daily-remaining").is_some_and(|v| v == "0");
    let code = body.error_type.or(body.category).unwrap_or_default();
    let error = error
        .with_code(code)
        .with_message(traced(body.message, body.correlation_id.as_deref()));
    if !rate_limited {
        return error;
    }
    if daily || daily_spent {
        return error.with_retryable(false);
    }
    match window(r) {
        Some(wait) => error.with_retry_after(wait),
        None => error,
    }
}

/// A response header's value, trimmed.
fn header<'r>(r: &'r Response<'_>, name: &str) -> Option<&'r str> {
    r.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// How long to wait before a rate-limited call is sent again: what `Retry-After` (or
/// `RateLimit-Reset`) asks when given, else HubSpot's rolling window,
/// `X-HubSpot-RateLimit-Interval-Milliseconds`.
fn window(r: &Response<'_>) -> Option<Duration> {
    wait_from_headers(r.headers, SystemTime::now()).or_else(|| {
        header(r, "x-hubspot-ratelimit-interval-milliseconds")
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|ms| *ms > 0)
            .map(Duration::from_millis)
    })
}

/// A 400 (or 409) whose message says the address is already unsubscribed: its message and the
/// correlation id (header first, then body).
pub(crate) fn already_unsubscribed(r: &Response<'_>) -> Option<(String, Option<String>)> {
    if !matches!(r.status.as_u16(), 400 | 409) {
        return None;
    }
    let body: ErrorBody = r.try_json()?;
    let message = body.message?;
    if !message
        .to_ascii_lowercase()
        .contains("already unsubscribed")
    {
        return None;
    }
    Some((message, correlation_id(r).or(body.correlation_id)))
}

/// An answer that was sent and came back, but does not confirm the opt-out: never done, and
/// retryable (sending the same unsubscribe again is harmless). `code` is what HubSpot said
/// instead (e.g. `SUBSCRIBED`), when it said something.
fn unconfirmed(code: &str, message: String, correlation_id: Option<&str>) -> Error {
    Error::unconfirmed(PROVIDER, traced(Some(message), correlation_id)).with_code(code)
}

/// Whether HubSpot's `text` is `expected`, ignoring ASCII case.
fn says(text: &str, expected: &str) -> bool {
    text.eq_ignore_ascii_case(expected)
}

/// The v3 answer to the unsubscribe of `subscription_id`. It counts only when it is the
/// status of that subscription and says `NOT_SUBSCRIBED` (in any case); `SUBSCRIBED`, an empty
/// or unknown status, or another subscription's status is [`unconfirmed`].
pub(crate) fn decode_v3<S: V3Status>(
    r: Response<'_>,
    subscription_id: &str,
) -> Result<Answer<UnsubscribeOutcome<S>>, Error> {
    if !r.status.is_success() {
        return match already_unsubscribed(&r) {
            Some((message, correlation_id)) => Ok(Answer {
                body: UnsubscribeOutcome::AlreadyUnsubscribed { message },
                correlation_id,
                earlier_attempt_may_have_applied: r.earlier_attempt_may_have_applied,
            }),
            None => Err(api_error(&r)),
        };
    }
    let status: S = r.json(PROVIDER)?;
    let correlation_id = correlation_id(&r);
    let (state, id, source) = status.state();
    if id != subscription_id {
        return Err(unconfirmed(
            "",
            format!(
                "HubSpot answered the unsubscribe from subscription {subscription_id} with the \
                 status of subscription {id:?}; nothing confirms {subscription_id}"
            ),
            correlation_id.as_deref(),
        ));
    }
    if !says(state.as_str(), "NOT_SUBSCRIBED") {
        return Err(unconfirmed(
            state.as_str(),
            format!(
                "HubSpot answered the unsubscribe but says subscription {id} is {:?} (source \
                 {source}), not NOT_SUBSCRIBED",
                state.as_str()
            ),
            correlation_id.as_deref(),
        ));
    }
    Ok(Answer {
        body: UnsubscribeOutcome::Unsubscribed(status),
        correlation_id,
        earlier_attempt_may_have_applied: r.earlier_attempt_may_have_applied,
    })
}

/// The v4 unsubscribe-all answer (asked with `verbose=true`) for `email`. It counts only when
/// its status is `COMPLETE`, it lists no error, and it lists at least one status, every one
/// for this address (or naming none) and `UNSUBSCRIBED`. `CANCELED` or a listed error is the
/// provider's refusal; an empty body, another status (`PENDING`, `ERROR`, ...), no status
/// listed, a status still `SUBSCRIBED` or one for another address is [`unconfirmed`].
pub(crate) fn decode_v4_all(
    r: Response<'_>,
    email: &str,
) -> Result<Answer<UnsubscribeAllOutcome>, Error> {
    if !r.status.is_success() {
        return match already_unsubscribed(&r) {
            Some((message, correlation_id)) => Ok(Answer {
                body: UnsubscribeAllOutcome::AlreadyUnsubscribed { message },
                correlation_id,
                earlier_attempt_may_have_applied: r.earlier_attempt_may_have_applied,
            }),
            None => Err(api_error(&r)),
        };
    }
    let correlation_id = correlation_id(&r);
    let correlation = correlation_id.as_deref();
    if r.body.iter().all(u8::is_ascii_whitespace) {
        return Err(unconfirmed(
            "",
            format!(
                "HubSpot answered the unsubscribe-all with HTTP {} and an empty body; nothing \
                 confirms the address is unsubscribed",
                r.status.as_u16()
            ),
            correlation,
        ));
    }
    let batch: BatchResponse = r.json(PROVIDER)?;
    if batch.status == BatchStatus::Canceled
        || !batch.errors.is_empty()
        || batch.num_errors.unwrap_or(0) > 0
    {
        let first = batch.errors.first().cloned().unwrap_or_default();
        return Err(Error::api(PROVIDER, r.status.as_u16())
            .with_code(first.category.unwrap_or_else(|| batch.status.to_string()))
            .with_message(traced(
                Some(first.message.unwrap_or_else(|| {
                    format!(
                        "HubSpot answered the unsubscribe-all with status {}",
                        batch.status
                    )
                })),
                correlation,
            )));
    }
    if !says(batch.status.as_str(), "COMPLETE") {
        return Err(unconfirmed(
            batch.status.as_str(),
            format!(
                "HubSpot answered the unsubscribe-all with status {:?}, not COMPLETE",
                batch.status.as_str()
            ),
            correlation,
        ));
    }
    if batch.results.is_empty() {
        return Err(unconfirmed(
            batch.status.as_str(),
            "HubSpot answered the unsubscribe-all with no status for the address; nothing \
             confirms it is unsubscribed"
                .into(),
            correlation,
        ));
    }
    for result in &batch.results {
        let address = result.subscriber_id_string.as_str();
        if !address.is_empty() && !says(address, email) {
            return Err(unconfirmed(
                "",
                "HubSpot answered the unsubscribe-all with a status for another address".into(),
                correlation,
            ));
        }
        if !says(result.status.as_str(), "UNSUBSCRIBED") {
            return Err(unconfirmed(
                result.status.as_str(),
                format!(
                    "HubSpot answered the unsubscribe-all but says subscription {} is {:?}, not \
                     UNSUBSCRIBED",
                    result.subscription_id,
                    result.status.as_str()
                ),
                correlation,
            ));
        }
    }
    Ok(Answer {
        body: UnsubscribeAllOutcome::Accepted(Some(batch)),
        correlation_id,
        earlier_attempt_may_have_applied: r.earlier_attempt_may_have_applied,
    })
}

/// A batch write's answer: refused (as an API error) unless 2xx, else its body as `D`.
pub(crate) fn batch_answer<'r, D: Deserialize<'r>>(r: &Response<'r>) -> Result<Answer<D>, Error> {
    if !r.status.is_success() {
        return Err(api_error(r));
    }
    Ok(Answer {
        body: r.json(PROVIDER)?,
        correlation_id: correlation_id(r),
        earlier_attempt_may_have_applied: r.earlier_attempt_may_have_applied,
    })
}
