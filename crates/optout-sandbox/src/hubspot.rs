//! HubSpot: `POST /communication-preferences/v3/unsubscribe`,
//! `POST /communication-preferences/v4/statuses/{email}/unsubscribe-all?channel=EMAIL` and
//! `POST /communication-preferences/v4/statuses/batch/write`, `Authorization: Bearer TOKEN`.
//!
//! v3 answers the subscription's new status; unsubscribing twice is HubSpot's 400
//! "... is already unsubscribed from subscription ...". Errors are
//! `{"status":"error","message","correlationId","category"}`, and every answer carries
//! `X-HubSpot-Correlation-Id`. The v4 unsubscribe-all answers an empty body unless asked
//! `verbose=true` (as the docs say), then every known subscription's status with
//! `UNSUBSCRIBE_FROM_ALL_OCCURRED` or `NO_STATUS_CHANGE`. The batch write answers one status
//! per input it applied and one error per input it refused (HTTP 207 when it lists any
//! error), each error naming its input's address and subscription id in `context`.

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
        .route(
            "/communication-preferences/v4/statuses/batch/write",
            post(batch_write),
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
    let mut query = Query::<HashMap<String, String>>::try_from_uri(&uri)
        .map(|Query(query)| query)
        .unwrap_or_default();
    if query.remove("channel").as_deref() != Some("EMAIL") {
        return invalid("channel is required and must be EMAIL");
    }
    let verbose = query
        .remove("verbose")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if !plausible_email(&email) {
        return invalid(&format!("{email} is not a valid email address"));
    }
    let world = shared.world.api(Api::HubSpot);
    let started = now_iso8601();
    let known = world.known_topics();
    let changed = world.unsubscribe_all(&email);
    let completed = now_iso8601();
    if !verbose {
        // The docs: without verbose=true "the response will be empty".
        let mut res = Response::new(axum::body::Body::empty());
        if let Ok(value) = HeaderValue::from_str(&uuid_like()) {
            res.headers_mut().insert(CORRELATION_ID, value);
        }
        return res;
    }
    let results: Vec<Value> = known
        .into_iter()
        .map(|id| {
            let reason = if changed.contains(&id) {
                "UNSUBSCRIBE_FROM_ALL_OCCURRED"
            } else {
                "NO_STATUS_CHANGE"
            };
            json!({
                "subscriberIdString": email,
                "subscriptionName": format!("Subscription {id}"),
                "subscriptionId": v4_id(id),
                "status": "UNSUBSCRIBED",
                "channel": "EMAIL",
                "source": "optout-sandbox unsubscribe-all",
                "setStatusSuccessReason": reason,
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

/// One input of the v4 batch write, as documented; other fields are ignored.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StatusInput {
    subscriber_id_string: Option<String>,
    subscription_id: Option<Value>,
    channel: Option<String>,
    status_state: Option<String>,
    legal_basis: Option<String>,
    legal_basis_explanation: Option<String>,
}

/// The v4 batch write body: `{"inputs":[...]}`.
#[derive(Deserialize)]
struct BatchInputs {
    inputs: Option<Vec<Value>>,
}

/// An error entry of a batch answer, naming the input it is about in `context`.
fn batch_error(category: &str, message: String, email: &str, id: &str) -> Value {
    json!({
        "status": "error",
        "category": category,
        "message": message,
        "context": {"subscriberIdString": [email], "subscriptionId": [id]},
        "errors": [],
        "links": {},
    })
}

/// v4: write many subscription statuses at once.
async fn batch_write(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(res) = refusal(&shared, &headers) {
        return res;
    }
    let inputs = match serde_json::from_slice::<BatchInputs>(&body) {
        Ok(BatchInputs {
            inputs: Some(inputs),
        }) if !inputs.is_empty() => inputs,
        Ok(_) => return invalid("inputs is required and must not be empty"),
        Err(e) => return invalid(&format!("Invalid input JSON: {e}")),
    };
    let world = shared.world.api(Api::HubSpot);
    let started = now_iso8601();
    let mut results = Vec::new();
    let mut errors = Vec::new();
    for input in inputs {
        let input: StatusInput = match serde_json::from_value(input) {
            Ok(input) => input,
            Err(e) => {
                errors.push(batch_error(
                    "VALIDATION_ERROR",
                    format!("Invalid input: {e}"),
                    "",
                    "",
                ));
                continue;
            }
        };
        let email = input.subscriber_id_string.unwrap_or_default();
        // Lenient: an id sent as a string of digits is read as the number it is.
        let id = match &input.subscription_id {
            Some(Value::Number(n)) if n.is_u64() => n.to_string(),
            Some(Value::String(s)) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
                s.clone()
            }
            _ => String::new(),
        };
        let refuse = |category: &str, message: String| batch_error(category, message, &email, &id);
        if !plausible_email(&email) {
            errors.push(refuse(
                "VALIDATION_ERROR",
                format!("{email:?} is not a valid email address"),
            ));
            continue;
        }
        if id.is_empty() {
            errors.push(refuse(
                "VALIDATION_ERROR",
                "subscriptionId must be an int64".into(),
            ));
            continue;
        }
        if input.channel.as_deref() != Some("EMAIL") {
            errors.push(refuse(
                "VALIDATION_ERROR",
                "channel is required and must be EMAIL".into(),
            ));
            continue;
        }
        if let Some(basis) = &input.legal_basis {
            if !LEGAL_BASES.contains(&basis.as_str()) {
                errors.push(refuse(
                    "VALIDATION_ERROR",
                    format!(
                        "Invalid legalBasis {basis:?}; allowed: {}",
                        LEGAL_BASES.join(", ")
                    ),
                ));
                continue;
            }
        }
        let state = input.status_state.unwrap_or_default();
        let changed = match state.as_str() {
            "UNSUBSCRIBED" | "SUBSCRIBED" if !world.topic_exists(&id) => {
                errors.push(refuse(
                    "OBJECT_NOT_FOUND",
                    format!("Subscription {id} does not exist"),
                ));
                continue;
            }
            "UNSUBSCRIBED" => world.unsubscribe(&email, &id),
            "SUBSCRIBED" => {
                let was = world.is_subscribed(&email, &id);
                world.subscribe(&email, &id);
                !was
            }
            _ => {
                errors.push(refuse(
                    "VALIDATION_ERROR",
                    format!("statusState {state:?} is not one the sandbox writes; use SUBSCRIBED or UNSUBSCRIBED"),
                ));
                continue;
            }
        };
        let mut status = json!({
            "subscriberIdString": email,
            "subscriptionId": v4_id(id.clone()),
            "subscriptionName": format!("Subscription {id}"),
            "status": state,
            "channel": "EMAIL",
            "source": "optout-sandbox batch write",
            "setStatusSuccessReason": if changed { "REQUESTED_CHANGE_OCCURRED" } else { "NO_STATUS_CHANGE" },
            "timestamp": now_iso8601(),
        });
        if let Some(obj) = status.as_object_mut() {
            if let Some(basis) = input.legal_basis {
                obj.insert("legalBasis".into(), basis.into());
            }
            if let Some(explanation) = input.legal_basis_explanation {
                obj.insert("legalBasisExplanation".into(), explanation.into());
            }
        }
        results.push(status);
    }
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::MULTI_STATUS
    };
    let mut body = json!({
        "status": "COMPLETE",
        "results": results,
        "startedAt": started,
        "completedAt": now_iso8601(),
    });
    if let Some(obj) = body.as_object_mut() {
        if !errors.is_empty() {
            obj.insert("numErrors".into(), errors.len().into());
            obj.insert("errors".into(), errors.into());
        }
    }
    reply(status, &body, &uuid_like())
}
