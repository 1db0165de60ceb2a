//! The JSON API's routes (`POST /v1/opt-outs`, `GET /v1/opt-outs/{id}`) and the operator's
//! (`/readyz`, `/metrics`).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::api::parse_opt_out;

use super::auth::{idempotency_key, unauthorized};
use super::reply::{accept, body_error, error, field_error, unavailable};
use super::Shared;

pub(super) async fn create_opt_out(
    State(state): Shared,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    if let Some(r) = unauthorized(&state, &headers) {
        return r;
    }
    let key = match idempotency_key(&headers) {
        Ok(k) => k,
        Err(r) => return *r,
    };
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            let v = v.trim().to_ascii_lowercase();
            v == "application/json" || v.starts_with("application/json;")
        });
    if !json {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Some("Content-Type"),
            "must be application/json",
        );
    }
    let body = match body {
        Ok(b) => b,
        Err(rejection) => return body_error(&rejection),
    };
    let mut opt_out = match parse_opt_out(&body) {
        Ok(o) => o,
        Err(e) => return field_error(&e),
    };
    opt_out.idempotency_key = key;
    match accept(&state, opt_out).await {
        Ok(a) => {
            let deadlines: serde_json::Map<String, serde_json::Value> = a
                .deadlines
                .iter()
                .map(|(p, d)| {
                    (
                        p.to_string(),
                        json!(humantime::format_rfc3339_millis(*d).to_string()),
                    )
                })
                .collect();
            let body = json!({
                "id": a.id,
                "received_at": humantime::format_rfc3339_millis(a.received_at).to_string(),
                "deadlines": deadlines,
                "duplicate": a.duplicate,
            });
            let mut r = (StatusCode::ACCEPTED, Json(body)).into_response();
            if let Ok(location) = HeaderValue::from_str(&format!("/v1/opt-outs/{}", a.id)) {
                r.headers_mut().insert(header::LOCATION, location);
            }
            r
        }
        Err(r) => r,
    }
}

pub(super) async fn opt_out_status(
    State(state): Shared,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(r) = unauthorized(&state, &headers) {
        return r;
    }
    if id.is_empty()
        || id.len() > 128
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return error(StatusCode::BAD_REQUEST, Some("id"), "is not an opt-out id");
    }
    match state.intake.status(&id).await {
        Ok(Some(status)) => Json(status).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, Some("id"), "no opt-out has this id"),
        Err(e) => {
            tracing::error!(error = %e, "the store did not answer a status request");
            unavailable("the store did not answer; try again")
        }
    }
}

pub(super) async fn readyz(State(state): Shared) -> Response {
    match state.intake.ready().await {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "the store does not answer\n",
            )
                .into_response()
        }
    }
}

pub(super) async fn metrics_text(State(state): Shared) -> Response {
    let counts = state.intake.counts().await.ok();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(counts.as_ref()),
    )
        .into_response()
}
