//! Novu's error bodies and per-item failures, decoded into [`Error`]s.

use optout_core::{snippet, Error, Response};
use serde::Deserialize;
use serde_json::Value;

use crate::wire::{DeleteSubscriptionsResponse, SubscriptionError};
use crate::PROVIDER;

/// Novu's error body: `{statusCode, timestamp, path, message, error?}`, where `message` is a
/// string or (validation errors) an array of strings. Only what optout reads is kept.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ErrorBody {
    /// A string, an array of strings, or (rarely) another JSON value.
    pub message: Option<Value>,
    /// The HTTP reason (`Not Found`), used as the code when there is no `code`.
    pub error: Option<String>,
    /// A specific code, when Novu sends one.
    pub code: Option<String>,
    /// Novu's error id (5xx), for its support.
    pub error_id: Option<String>,
    /// Validation details, when there is no message.
    pub errors: Option<Value>,
}

impl ErrorBody {
    /// The message as one line: arrays joined with `; `, Novu's error id appended.
    pub fn text(&self) -> String {
        let as_text = |v: &Value| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let message = self.message.as_ref().filter(|m| !m.is_null());
        let mut text = match message.or(self.errors.as_ref()) {
            None | Some(Value::Null) => String::new(),
            Some(Value::Array(items)) => items.iter().map(as_text).collect::<Vec<_>>().join("; "),
            Some(other) => as_text(other),
        };
        if let Some(id) = &self.error_id {
            text = format!("{text} (errorId {id})").trim_start().to_string();
        }
        text
    }
}

/// A per-item failure as an error. Novu gives it no status of its own: codes ending in
/// `_NOT_FOUND` (e.g. `SUBSCRIBER_NOT_FOUND`) are reported as 404 so that the kind is
/// `NotFound`, others with the status of Novu's answer; the message names the real status.
pub(crate) fn item_error(status: u16, failure: &SubscriptionError) -> Error {
    let code = failure.code.clone().unwrap_or_default();
    let as_status = if code.ends_with("_NOT_FOUND") {
        404
    } else {
        status
    };
    let message = failure.message.as_deref().unwrap_or("the item failed");
    Error::api(PROVIDER, as_status)
        .with_code(code)
        .with_message(format!(
            "{message} (a per-item error in Novu's HTTP {status} answer)"
        ))
}

/// Turns Novu's answer into the result (also from a 400 that carries it, which is how Novu
/// says every item failed) or an error with Novu's code and message.
pub(crate) fn decode<'a, D: Deserialize<'a>>(
    response: Response<'a>,
) -> Result<(u16, DeleteSubscriptionsResponse<D>), Error> {
    let status = response.status.as_u16();
    if response.status.is_success() {
        return Ok((status, response.json(PROVIDER)?));
    }
    if status == 400 {
        if let Some(result) = response.try_json::<DeleteSubscriptionsResponse<D>>() {
            return Ok((status, result));
        }
    }
    let error = Error::api(PROVIDER, status);
    let Some(body) = response.try_json::<ErrorBody>() else {
        return Err(error.with_message(snippet(response.body)));
    };
    // Novu's docs: 409 means a request with the same idempotency key is still being
    // processed, and comes with Retry-After; retrying then replays its answer.
    let error = if status == 409 {
        error.with_retryable(true)
    } else {
        error
    };
    Err(error
        .with_code(body.code.clone().or(body.error.clone()).unwrap_or_default())
        .with_message(body.text()))
}
