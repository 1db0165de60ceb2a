//! Novu's error bodies and per-item failures, decoded into [`Error`]s.

use optout_core::{snippet, Error, Response};
use serde::Deserialize;
use serde_json::Value;

use crate::wire::{DeleteSubscriptionsResponse, SubscriptionError};
use crate::PROVIDER;

/// The longest message taken from an error body, in characters; a longer one is cut there
/// and ends with `…` (a 422 can list every field of a 100-item body). The same bound and mark
/// as core's for every error text, so that core leaves the cut as it is.
const MAX_ERROR_TEXT_CHARS: usize = optout_core::scrub::MAX_TEXT_CHARS;

/// Novu's error body: `{statusCode, timestamp, path, message, error?, errorId?, errors?}`,
/// where `message` is a string or (NestJS validation) an array of strings, and a 422's
/// `errors` holds the details by field: `{"field": {"messages": [..], "value": ..}}`. Only
/// what optout reads is kept.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ErrorBody {
    /// A string, an array of strings, or (rarely) another JSON value.
    pub message: Option<Value>,
    /// The HTTP reason phrase (`Not Found`). Not a code of Novu's: it is not reported as one.
    pub error: Option<String>,
    /// A specific code, when Novu sends one (its `ErrorDto` documents none; the per-item
    /// errors of a DELETE have theirs in [`SubscriptionError::code`]).
    pub code: Option<String>,
    /// Novu's error id (5xx), for its support.
    pub error_id: Option<String>,
    /// Validation details: by field (`{"field": {"messages": [..], "value": ..}}`, a 422) or
    /// a list (`[{"message", "path"}]`). The rejected values are never quoted.
    pub errors: Option<Value>,
}

impl ErrorBody {
    /// The message as one line: arrays joined with `; `, then the validation details
    /// (`field: message, message; field: ...`; never the rejected values), then Novu's error
    /// id; at most 500 characters, and then `…`.
    pub fn text(&self) -> String {
        let mut text = Bounded::default();
        match self.message.as_ref() {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                for (n, item) in items.iter().enumerate() {
                    if n > 0 {
                        text.push("; ");
                    }
                    text.push_value(item);
                }
            }
            Some(other) => text.push_value(other),
        }
        if let Some(errors) = self.errors.as_ref().filter(|e| !e.is_null()) {
            if !text.is_empty() {
                text.push(": ");
            }
            push_details(&mut text, errors);
        }
        if let Some(id) = &self.error_id {
            if !text.is_empty() {
                text.push(" ");
            }
            text.push("(errorId ");
            text.push(id);
            text.push(")");
        }
        text.finish()
    }
}

/// Validation details as text: `field: message, message; field: ...` from Novu's by-field
/// record, `path: message; ...` from a list; never the rejected `value`s.
fn push_details(text: &mut Bounded, errors: &Value) {
    match errors {
        Value::Object(fields) => {
            for (n, (field, detail)) in fields.iter().enumerate() {
                if n > 0 {
                    text.push("; ");
                }
                text.push(field);
                let messages = match detail {
                    Value::Object(detail) => detail.get("messages").or(detail.get("message")),
                    other => Some(other),
                };
                if let Some(messages) = messages.filter(|m| !m.is_null()) {
                    text.push(": ");
                    push_messages(text, messages);
                }
            }
        }
        Value::Array(items) => {
            for (n, item) in items.iter().enumerate() {
                if n > 0 {
                    text.push("; ");
                }
                match item {
                    Value::Object(item) => {
                        if let Some(Value::Array(path)) = item.get("path") {
                            for (k, part) in path.iter().enumerate() {
                                if k > 0 {
                                    text.push(".");
                                }
                                text.push_value(part);
                            }
                            text.push(": ");
                        }
                        match item.get("message") {
                            Some(message) => push_messages(text, message),
                            None => text.push("invalid"),
                        }
                    }
                    other => text.push_value(other),
                }
            }
        }
        other => text.push_value(other),
    }
}

/// One message, or a list of them joined with `, `.
fn push_messages(text: &mut Bounded, messages: &Value) {
    match messages {
        Value::Array(items) => {
            for (n, item) in items.iter().enumerate() {
                if n > 0 {
                    text.push(", ");
                }
                text.push_value(item);
            }
        }
        other => text.push_value(other),
    }
}

/// A string that takes at most `MAX_ERROR_TEXT_CHARS` characters and then says it was cut.
#[derive(Default)]
struct Bounded {
    text: String,
    chars: usize,
    cut: bool,
}

impl Bounded {
    fn push(&mut self, s: &str) {
        for c in s.chars() {
            if self.chars == MAX_ERROR_TEXT_CHARS {
                self.cut = true;
                return;
            }
            self.text.push(c);
            self.chars += 1;
        }
    }

    /// A string as it is, anything else as compact JSON.
    fn push_value(&mut self, value: &Value) {
        if self.cut {
            return;
        }
        match value {
            Value::String(s) => self.push(s),
            other => self.push(&other.to_string()),
        }
    }

    fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    fn finish(mut self) -> String {
        if self.cut {
            self.text.push('…');
        }
        self.text
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
    // A 409 with Retry-After is how Novu's idempotency interceptor says a request with the
    // same key is still in progress, but it does so for POST and PATCH only, never for this
    // DELETE. Should one come (a proxy, a later server), waiting and sending again is safe:
    // the DELETE runs again, it does not replay an earlier answer.
    let error = if status == 409 {
        error.with_retryable(true)
    } else {
        error
    };
    Err(error
        .with_code(body.code.clone().unwrap_or_default())
        .with_message(body.text()))
}
