//! HubSpot's answers decoded: errors (with the correlation id, and which rate limits may be
//! retried) and the success bodies, which must confirm what was asked before anything counts.

use optout_core::reqwest::StatusCode;
use optout_core::{snippet, Error, Response};
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
/// correlation id. A daily rate limit is not retryable (it resets at midnight).
pub(crate) fn api_error(r: &Response<'_>) -> Error {
    let status = r.status.as_u16();
    let error = Error::api(PROVIDER, status);
    let Some(body) = r.try_json::<ErrorBody>() else {
        return error.with_message(snippet(r.body));
    };
    let daily_policy = body
        .policy_name
        .as_deref()
        .is_some_and(|p| p.to_ascii_uppercase().contains("DAILY"));
    let daily_spent = r
        .headers
        .get("x-hubspot-ratelimit-daily-remaining")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() == "0");
    let code = body.error_type.or(body.category).unwrap_or_default();
    let error = error
        .with_code(code)
        .with_message(traced(body.message, body.correlation_id.as_deref()));
    if r.status == StatusCode::TOO_MANY_REQUESTS && (daily_policy || daily_spent) {
        error.with_retryable(false)
    } else {
        error
    }
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

pub(crate) fn decode_v3<S: V3Status>(
    r: Response<'_>,
) -> Result<Answer<UnsubscribeOutcome<S>>, Error> {
    if !r.status.is_success() {
        return match already_unsubscribed(&r) {
            Some((message, correlation_id)) => Ok(Answer {
                body: UnsubscribeOutcome::AlreadyUnsubscribed { message },
                correlation_id,
            }),
            None => Err(api_error(&r)),
        };
    }
    let status: S = r.json(PROVIDER)?;
    let correlation_id = correlation_id(&r);
    if let (SubscriptionState::Subscribed, id, source) = status.state() {
        return Err(Error::api(PROVIDER, r.status.as_u16())
            .with_code("SUBSCRIBED")
            .with_message(traced(
                Some(format!(
                    "HubSpot answered the unsubscribe but subscription {id} is still SUBSCRIBED (source {source})"
                )),
                correlation_id.as_deref(),
            )));
    }
    Ok(Answer {
        body: UnsubscribeOutcome::Unsubscribed(status),
        correlation_id,
    })
}

pub(crate) fn decode_v4_all(r: Response<'_>) -> Result<Answer<UnsubscribeAllOutcome>, Error> {
    if !r.status.is_success() {
        return match already_unsubscribed(&r) {
            Some((message, correlation_id)) => Ok(Answer {
                body: UnsubscribeAllOutcome::AlreadyUnsubscribed { message },
                correlation_id,
            }),
            None => Err(api_error(&r)),
        };
    }
    let correlation_id = correlation_id(&r);
    // The docs: without `verbose=true` "the response will be empty". Accept that.
    if r.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Answer {
            body: UnsubscribeAllOutcome::Accepted(None),
            correlation_id,
        });
    }
    let batch: BatchResponse = r.json(PROVIDER)?;
    // `PENDING` and `PROCESSING` mean HubSpot has taken the opt-out: accepted. `CANCELED`, or any
    // error listed, means it may not have been applied: fail loudly.
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
                correlation_id.as_deref(),
            )));
    }
    Ok(Answer {
        body: UnsubscribeAllOutcome::Accepted(Some(batch)),
        correlation_id,
    })
}
