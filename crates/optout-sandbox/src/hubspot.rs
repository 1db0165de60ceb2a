//! HubSpot: `POST /communication-preferences/v3/unsubscribe` and
//! `POST /communication-preferences/v4/statuses/{email}/unsubscribe-all?channel=EMAIL`,
//! `Authorization: Bearer TOKEN`.
//!
//! v3 answers the subscription's new status; unsubscribing twice is HubSpot's 400
//! "... is already unsubscribed from subscription ...". Errors are
//! `{"status":"error","message","correlationId","category"}`, and every answer carries
//! `X-HubSpot-Correlation-Id`. v4 answers the statuses it changed.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::util::{credential, json, key_ok, now_iso8601, uuid_like, Segment};
use crate::{Api, Shared};

const LEGAL_BASES: [&str; 7] = [
    "CONSENT_WITH_NOTICE",
    "LEGITIMATE_INTEREST_CLIENT",
    "LEGITIMATE_INTEREST_OTHER",
    "LEGITIMATE_INTEREST_PQL",
    "NON_GDPR",
    "PERFORMANCE_OF_CONTRACT",
    "PROCESS_AND_STORE",
];

const CORRELATION_ID: HeaderName = HeaderName::from_static("x-hubspot-correlation-id");

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/communication-preferences/v3/unsubscribe",
            post(unsubscribe),
        )
        .route(
            "/communication-preferences/v4/statuses/{subscriber_id_string}/unsubscribe-all",
            post(unsubscribe_all),
        )
}

/// The documented v3 body; other fields are ignored.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Body {
    email_address: Option<String>,
    subscription_id: Option<Value>,
    legal_basis: Option<String>,
    legal_basis_explanation: Option<String>,
}

fn reply(status: StatusCode, body: &Value, correlation_id: &str) -> Response {
    let mut res = json(status, body);
    if let Ok(value) = HeaderValue::from_str(correlation_id) {
        res.headers_mut().insert(CORRELATION_ID, value);
    }
    res
}

fn error(status: StatusCode, category: &str, message: &str) -> Response {
    let id = uuid_like();
    let body =
        json!({ "status": "error", "message": message, "correlationId": id, "category": category });
    reply(status, &body, &id)
}

/// HubSpot's answer to an injected 429 or 503.
pub(crate) fn fault(status: StatusCode) -> Response {
    if status != StatusCode::TOO_MANY_REQUESTS {
        return error(
            status,
            "SERVICE_UNAVAILABLE",
            "Service temporarily unavailable",
        );
    }
    let id = uuid_like();
    let body = json!({
        "status": "error",
        "message": "You have reached your ten_secondly_rolling limit.",
        "errorType": "RATE_LIMIT",
        "correlationId": id,
        "policyName": "TEN_SECONDLY_ROLLING",
        "category": "RATE_LIMITS",
    });
    reply(status, &body, &id)
}

/// HubSpot's 401, unless the request carries an accepted token.
fn refusal(shared: &Shared, headers: &HeaderMap) -> Option<Response> {
    if key_ok(credential(headers, "Bearer"), shared.key(Api::HubSpot)) {
        return None;
    }
    Some(error(
        StatusCode::UNAUTHORIZED,
        "INVALID_AUTHENTICATION",
        "Authentication credentials not found. This API supports OAuth 2.0 authentication \
         (Authorization: Bearer TOKEN).",
    ))
}

fn invalid(message: &str) -> Response {
    error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", message)
}

fn plausible_email(email: &str) -> bool {
    email
        .split_once('@')
        .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty())
}

/// v3: unsubscribe one email address from one subscription.
async fn unsubscribe(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(res) = refusal(&shared, &headers) {
        return res;
    }
    let body: Body = match serde_json::from_slice(&body) {
        Ok(body) => body,
        Err(e) => return invalid(&format!("Invalid input JSON: {e}")),
    };
    let Some(email) = body.email_address.filter(|e| !e.trim().is_empty()) else {
        return invalid("emailAddress is required");
    };
    if !plausible_email(&email) {
        return invalid(&format!("{email} is not a valid email address"));
    }
    // Lenient: a subscription id sent as a JSON number is read as its digits.
    let id = match body.subscription_id {
        Some(Value::String(s)) if !s.trim().is_empty() => s,
        Some(Value::Number(n)) => n.to_string(),
        _ => return invalid("subscriptionId is required"),
    };
    if let Some(basis) = &body.legal_basis {
        if !LEGAL_BASES.contains(&basis.as_str()) {
            return invalid(&format!(
                "Invalid legalBasis {basis:?}; allowed: {}",
                LEGAL_BASES.join(", ")
            ));
        }
    }
    let world = shared.world.api(Api::HubSpot);
    if !world.topic_exists(&id) {
        return error(
            StatusCode::NOT_FOUND,
            "OBJECT_NOT_FOUND",
            &format!("Subscription {id} does not exist"),
        );
    }
    if !world.unsubscribe(&email, &id) {
        return invalid(&format!(
            "{email} is already unsubscribed from subscription {id}"
        ));
    }
    let mut answer = json!({
        "id": id,
        "name": format!("Subscription {id}"),
        "description": format!("optout-sandbox subscription {id}"),
        "status": "NOT_SUBSCRIBED",
        "sourceOfStatus": "SUBSCRIPTION_STATUS",
    });
    if let Some(obj) = answer.as_object_mut() {
        if let Some(basis) = body.legal_basis {
            obj.insert("legalBasis".into(), basis.into());
        }
        if let Some(explanation) = body.legal_basis_explanation {
            obj.insert("legalBasisExplanation".into(), explanation.into());
        }
    }
    reply(StatusCode::OK, &answer, &uuid_like())
}

/// The id as HubSpot's v4 API types it (`int64`): a number when it is one, else a string.
fn v4_id(id: String) -> Value {
    match id.parse::<i64>() {
        Ok(n) => Value::from(n),
        Err(_) => Value::from(id),
    }
}

/// v4: unsubscribe one email address from every subscription.
async fn unsubscribe_all(
    State(shared): State<Arc<Shared>>,
    Segment(email): Segment,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Some(res) = refusal(&shared, &headers) {
        return res;
    }
    let channel = Query::<HashMap<String, String>>::try_from_uri(&uri)
        .ok()
        .and_then(|Query(mut query)| query.remove("channel"));
    if channel.as_deref() != Some("EMAIL") {
        return invalid("channel is required and must be EMAIL");
    }
    if !plausible_email(&email) {
        return invalid(&format!("{email} is not a valid email address"));
    }
    let started = now_iso8601();
    let changed = shared.world.api(Api::HubSpot).unsubscribe_all(&email);
    let completed = now_iso8601();
    let results: Vec<Value> = changed
        .into_iter()
        .map(|id| {
            json!({
                "subscriberIdString": email,
                "subscriptionName": format!("Subscription {id}"),
                "subscriptionId": v4_id(id),
                "status": "UNSUBSCRIBED",
                "channel": "EMAIL",
                "source": "optout-sandbox unsubscribe-all",
                "setStatusSuccessReason": "UNSUBSCRIBE_FROM_ALL_OCCURRED",
                "timestamp": completed,
            })
        })
        .collect();
    let body = json!({
        "status": "COMPLETE",
        "results": results,
        "startedAt": started,
        "completedAt": completed,
    });
    reply(StatusCode::OK, &body, &uuid_like())
}
