//! Migma: `POST /v1/topics/{id}/unsubscribe`, `Authorization: Bearer KEY`,
//! body `{"subscriberId","projectId"}` (both required).
//!
//! Success is `{"success":true,"data":{"topicId","subscriberId","subscribed":false},"error":null}`;
//! errors are `{"success":false,"error":"..."}`. Migma documents no "already unsubscribed"
//! answer, so a repeat succeeds again.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use serde::Deserialize;
use serde_json::json;

use crate::util::{credential, json, key_ok, Segment};
use crate::{Api, Shared};

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new().route("/v1/topics/{id}/unsubscribe", post(unsubscribe))
}

/// The documented body; other fields are ignored.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Body {
    subscriber_id: Option<String>,
    project_id: Option<String>,
}

fn error(status: StatusCode, message: &str) -> Response {
    json(status, &json!({ "success": false, "error": message }))
}

/// Migma's answer to an injected 429 or 503.
pub(crate) fn fault(status: StatusCode) -> Response {
    let message = if status == StatusCode::TOO_MANY_REQUESTS {
        "Too many requests, please slow down"
    } else {
        "Service temporarily unavailable"
    };
    error(status, message)
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.trim().is_empty())
}

async fn unsubscribe(
    State(shared): State<Arc<Shared>>,
    Segment(topic): Segment,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !key_ok(credential(&headers, "Bearer"), shared.key(Api::Migma)) {
        return error(
            StatusCode::UNAUTHORIZED,
            "Invalid or missing API key; use 'Authorization: Bearer YOUR_API_KEY'",
        );
    }
    let body: Body = match serde_json::from_slice(&body) {
        Ok(body) => body,
        Err(e) => return error(StatusCode::BAD_REQUEST, &format!("Invalid JSON body: {e}")),
    };
    let Some(subscriber) = non_empty(body.subscriber_id) else {
        return error(StatusCode::BAD_REQUEST, "subscriberId is required");
    };
    if non_empty(body.project_id).is_none() {
        return error(StatusCode::BAD_REQUEST, "projectId is required");
    }
    let world = shared.world.api(Api::Migma);
    if !world.topic_exists(&topic) {
        return error(StatusCode::NOT_FOUND, &format!("Topic {topic} not found"));
    }
    world.unsubscribe(&subscriber, &topic);
    json(
        StatusCode::OK,
        &json!({
            "success": true,
            "data": { "topicId": topic, "subscriberId": subscriber, "subscribed": false },
            "error": null,
        }),
    )
}
