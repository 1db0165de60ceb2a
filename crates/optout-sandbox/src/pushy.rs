//! Pushy: `POST /topics/unsubscribe?api_key=KEY` (a trailing slash is accepted too, as some
//! SDKs send it), body `{"token","topics":[..]}`.
//!
//! `topics` holds 1 to 100 topics matching `[a-zA-Z0-9-_.]{1,100}`, or exactly `["*"]` for all.
//! Success is `{"success":true}`, a repeat too; errors are `{"code","error"}`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use serde::Deserialize;
use serde_json::json;

use crate::util::{json, key_ok};
use crate::{Api, Shared};

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/topics/unsubscribe", post(unsubscribe))
        .route("/topics/unsubscribe/", post(unsubscribe))
}

/// The documented body; other fields are ignored.
#[derive(Deserialize)]
struct Body {
    token: Option<String>,
    topics: Option<Vec<String>>,
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    json(status, &json!({ "code": code, "error": message }))
}

fn invalid(message: &str) -> Response {
    error(StatusCode::BAD_REQUEST, "INVALID_PARAM", message)
}

/// Pushy's answer to an injected 429 or 503.
pub(crate) fn fault(status: StatusCode) -> Response {
    if status == StatusCode::TOO_MANY_REQUESTS {
        error(
            status,
            "RATE_LIMIT_EXCEEDED",
            "You have exceeded the API rate limit for your account.",
        )
    } else {
        error(
            status,
            "INTERNAL_SERVER_ERROR",
            "An internal server error occurred, please try again later.",
        )
    }
}

fn valid_topic(topic: &str) -> bool {
    (1..=100).contains(&topic.len())
        && topic
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

async fn unsubscribe(State(shared): State<Arc<Shared>>, uri: Uri, body: Bytes) -> Response {
    let key = Query::<HashMap<String, String>>::try_from_uri(&uri)
        .ok()
        .and_then(|Query(mut query)| query.remove("api_key"))
        .filter(|key| !key.trim().is_empty());
    if !key_ok(key.as_deref(), shared.key(Api::Pushy)) {
        return error(
            StatusCode::UNAUTHORIZED,
            "INVALID_API_KEY",
            "The provided Secret API Key is invalid.",
        );
    }
    let body: Body = match serde_json::from_slice(&body) {
        Ok(body) => body,
        Err(e) => return invalid(&format!("Please provide a valid JSON request body: {e}")),
    };
    let Some(token) = body.token.filter(|t| !t.trim().is_empty()) else {
        return invalid("Please provide the device token to unsubscribe (token).");
    };
    let topics = body.topics.unwrap_or_default();
    if topics.is_empty() || topics.len() > 100 {
        return invalid("Please provide 1 to 100 topics to unsubscribe the device from (topics).");
    }
    let all = topics.len() == 1 && topics.first().is_some_and(|t| t == "*");
    if !all {
        if let Some(bad) = topics.iter().find(|t| !valid_topic(t)) {
            return invalid(&format!(
                "Invalid topic {bad:?}: topics must match [a-zA-Z0-9-_.]{{1,100}}, or be [\"*\"] alone."
            ));
        }
    }
    let world = shared.world.api(Api::Pushy);
    if !world.recipient_exists(&token) {
        return error(
            StatusCode::BAD_REQUEST,
            "INVALID_DEVICE_TOKEN",
            "The provided device token is invalid.",
        );
    }
    if all {
        world.unsubscribe_all(&token);
    } else {
        for topic in &topics {
            world.unsubscribe(&token, topic);
        }
    }
    json(StatusCode::OK, &json!({ "success": true }))
}
