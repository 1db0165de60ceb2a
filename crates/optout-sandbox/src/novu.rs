//! Novu: `DELETE /v2/topics/{topicKey}/subscriptions`, `Authorization: ApiKey KEY`, body
//! `{"subscriptions":[..]}` (1 to 100 items, each a subscriber id string or an object with
//! `subscriberId` and/or `identifier`), or the deprecated `{"subscriberIds":[..]}`.
//!
//! Each item succeeds (in `data`) or fails (in `errors`, `SUBSCRIPTION_NOT_FOUND` when the
//! subscriber is not subscribed, `SUBSCRIBER_NOT_FOUND` when unknown in a closed world). The
//! answer is 200 if any item succeeded and **400 with the same full body** if all failed.
//! An `idempotency-key` header replays the first answer to the same request.
//!
//! Identifiers: an item with only an `identifier` of the default form
//! `tk=<topic>:si=<subscriberId>` names that subscriber; any other identifier alone stands
//! for the subscription itself (the sandbox keeps one subscription per subscriber and topic).

use std::collections::HashMap;
use std::sync::{Arc, PoisonError};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};
use axum::response::Response;
use axum::routing::delete;
use axum::Router;
use serde_json::{json, Value};

use crate::util::{self, credential, key_ok, now_iso8601, random_hex, stable_id, Segment};
use crate::{Api, Shared};

const MAX_ITEMS: usize = 100;
const MAX_REPLAYS: usize = 10_000;
/// The most bytes the replay cache holds (keys, paths, requests and answers): bodies can be
/// large (100 items of long ids), and a count alone let 100 requests take 841 MB.
const MAX_REPLAY_BYTES: usize = 16 << 20;
const IDEMPOTENCY_REPLAY: HeaderName = HeaderName::from_static("idempotency-replay");

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new().route("/v2/topics/{topic_key}/subscriptions", delete(unsubscribe))
}

/// First answers by idempotency key, to replay.
#[derive(Default)]
pub(crate) struct Replays {
    answers: HashMap<String, Replay>,
    /// What `answers` holds, in bytes.
    bytes: usize,
}

impl Replays {
    /// Remembers the first answer to `key`, forgetting every earlier one when the cache is
    /// full (by count or by bytes). An answer larger than the whole cache is not kept.
    fn remember(&mut self, key: &str, replay: Replay) {
        let size = key.len() + replay.path.len() + replay.request.len() + replay.answer.len();
        if size > MAX_REPLAY_BYTES {
            return;
        }
        if self.answers.len() >= MAX_REPLAYS || self.bytes + size > MAX_REPLAY_BYTES {
            self.answers.clear();
            self.bytes = 0;
        }
        self.bytes += size;
        self.answers.insert(key.to_owned(), replay);
    }
}

struct Replay {
    path: String,
    request: Bytes,
    status: StatusCode,
    answer: Bytes,
}

/// Novu's error shape: `{"statusCode","timestamp","path","message"}`.
fn error(status: StatusCode, path: &str, message: Value) -> Response {
    let body = json!({
        "statusCode": status.as_u16(),
        "timestamp": now_iso8601(),
        "path": path,
        "message": message,
    });
    util::json(status, &body)
}

/// Novu's answer to an injected 429 or 503.
pub(crate) fn fault(status: StatusCode, path: &str) -> Response {
    let message = if status == StatusCode::TOO_MANY_REQUESTS {
        "ThrottlerException: Too Many Requests"
    } else {
        "Service Unavailable"
    };
    error(status, path, message.into())
}

/// One item to unsubscribe.
struct Item {
    subscriber_id: Option<String>,
    identifier: Option<String>,
}

fn non_empty(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .map(str::to_owned)
}

/// The items of a body, or class-validator-style messages.
fn parse(body: &[u8]) -> Result<Vec<Item>, Vec<String>> {
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(body) else {
        return Err(vec!["the request body must be a JSON object".into()]);
    };
    let present = |key: &str| body.get(key).filter(|v| !v.is_null());
    let (field, value) = match (present("subscriptions"), present("subscriberIds")) {
        (Some(v), _) => ("subscriptions", v),
        (None, Some(v)) => ("subscriberIds", v),
        (None, None) => return Err(vec!["subscriptions should not be empty".into()]),
    };
    let Some(values) = value.as_array() else {
        return Err(vec![format!("{field} must be an array")]);
    };
    if values.is_empty() {
        return Err(vec![format!("{field} must contain at least 1 elements")]);
    }
    if values.len() > MAX_ITEMS {
        return Err(vec![format!(
            "{field} must contain no more than {MAX_ITEMS} elements"
        )]);
    }
    let mut items = Vec::with_capacity(values.len());
    let mut problems = Vec::new();
    for (i, value) in values.iter().enumerate() {
        let item = match value {
            Value::String(id) if !id.trim().is_empty() => Item {
                subscriber_id: Some(id.clone()),
                identifier: None,
            },
            Value::Object(obj) if field == "subscriptions" => Item {
                subscriber_id: non_empty(obj.get("subscriberId")),
                identifier: non_empty(obj.get("identifier")),
            },
            _ => Item {
                subscriber_id: None,
                identifier: None,
            },
        };
        if item.subscriber_id.is_none() && item.identifier.is_none() {
            problems.push(if field == "subscriptions" {
                format!("{field}.{i} must be a subscriber id or an object with a subscriberId and/or an identifier")
            } else {
                format!("{field}.{i} must be a non-empty string")
            });
        }
        items.push(item);
    }
    if problems.is_empty() {
        Ok(items)
    } else {
        Err(problems)
    }
}

/// The subscriber an item names: its `subscriberId`, else the `si=` part of a default
/// identifier, else the identifier itself.
fn subscriber_of(item: &Item) -> String {
    if let Some(id) = &item.subscriber_id {
        return id.clone();
    }
    let identifier = item.identifier.as_deref().unwrap_or_default();
    identifier
        .split(':')
        .find_map(|part| part.strip_prefix("si="))
        .filter(|si| !si.is_empty())
        .unwrap_or(identifier)
        .to_owned()
}

/// The status and JSON answer for a request that passed authentication.
fn answer(shared: &Shared, topic: &str, path: &str, body: &[u8]) -> (StatusCode, Value) {
    let items = match parse(body) {
        Ok(items) => items,
        Err(messages) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            let body = json!({ "statusCode": 422, "timestamp": now_iso8601(), "path": path, "message": messages });
            return (status, body);
        }
    };
    let world = shared.world.api(Api::Novu);
    if !world.topic_exists(topic) {
        let status = StatusCode::NOT_FOUND;
        let body = json!({
            "statusCode": 404, "timestamp": now_iso8601(), "path": path,
            "message": format!("Topic with key {topic} not found"),
        });
        return (status, body);
    }
    let now = now_iso8601();
    let topic_json = json!({ "_id": stable_id(topic), "key": topic, "name": topic });
    let mut data = Vec::new();
    let mut errors = Vec::new();
    for item in &items {
        let subscriber = subscriber_of(item);
        if !world.recipient_exists(&subscriber) {
            errors.push(json!({
                "subscriberId": subscriber,
                "code": "SUBSCRIBER_NOT_FOUND",
                "message": format!("Subscriber with ID {subscriber} could not be found"),
            }));
        } else if world.unsubscribe(&subscriber, topic) {
            let identifier = item
                .identifier
                .clone()
                .unwrap_or_else(|| format!("tk={topic}:si={subscriber}"));
            data.push(json!({
                "_id": random_hex(24),
                "topic": topic_json,
                "subscriber": { "_id": stable_id(&subscriber), "subscriberId": subscriber },
                "createdAt": now,
                "updatedAt": now,
                "identifier": identifier,
            }));
        } else {
            errors.push(json!({
                "subscriberId": subscriber,
                "code": "SUBSCRIPTION_NOT_FOUND",
                "message": format!("Subscription for subscriber {subscriber} on topic {topic} could not be found"),
            }));
        }
    }
    let status = if data.is_empty() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let body = json!({
        "data": data,
        "meta": { "totalCount": items.len(), "successful": data.len(), "failed": errors.len() },
        "errors": errors,
    });
    (status, body)
}

async fn unsubscribe(
    State(shared): State<Arc<Shared>>,
    Segment(topic): Segment,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path();
    if !key_ok(credential(&headers, "ApiKey"), shared.key(Api::Novu)) {
        return error(StatusCode::UNAUTHORIZED, path, "API Key not found".into());
    }
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .filter(|k| !k.trim().is_empty());
    let Some(key) = key else {
        let (status, answer) = answer(&shared, &topic, path, &body);
        return util::json(status, &answer);
    };
    // The lock is held across the handling so that two concurrent requests with one key
    // cannot both run; idempotent requests are rare, so this costs nothing elsewhere.
    let mut replays = shared
        .novu_replays
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(first) = replays.answers.get(key) {
        if first.path != path || first.request != body {
            let message = "Request with the same idempotency-key but a different body or path";
            return error(StatusCode::UNPROCESSABLE_ENTITY, path, message.into());
        }
        let mut res = util::raw(first.status, first.answer.clone());
        res.headers_mut()
            .insert(IDEMPOTENCY_REPLAY, HeaderValue::from_static("true"));
        return res;
    }
    let (status, answer) = answer(&shared, &topic, path, &body);
    let answer = Bytes::from(answer.to_string());
    let replay = Replay {
        path: path.to_owned(),
        request: body,
        status,
        answer: answer.clone(),
    };
    replays.remember(key, replay);
    util::raw(status, answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_replay_cache_is_bounded_by_bytes() {
        let mut replays = Replays::default();
        let big = Bytes::from(vec![b'x'; 1 << 20]);
        for i in 0..100 {
            let replay = Replay {
                path: "/v2/topics/t/subscriptions".into(),
                request: big.clone(),
                status: StatusCode::OK,
                answer: Bytes::from(vec![b'y'; 8 << 20]),
            };
            replays.remember(&format!("key-{i}"), replay);
            assert!(replays.bytes <= MAX_REPLAY_BYTES, "{}", replays.bytes);
        }
        let held: usize = replays
            .answers
            .values()
            .map(|r| r.request.len() + r.answer.len())
            .sum();
        assert!(held <= MAX_REPLAY_BYTES, "{held}");
        assert!(!replays.answers.is_empty(), "the last answer is kept");
    }
}
