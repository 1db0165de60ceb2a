//! The answers every route shares: JSON errors, `503` with `Retry-After`, and handing an
//! opt-out to the store.

use std::time::Instant;

use axum::extract::rejection::BytesRejection;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::api::FieldError;
use crate::intake::{Accepted, IntakeError, OptOut};

use super::AppState;

/// A JSON error: `{"error": {"status": 400, "field": "...", "message": "..."}}`.
pub(super) fn error(status: StatusCode, field: Option<&str>, message: &str) -> Response {
    let body = json!({"error": {"status": status.as_u16(), "field": field, "message": message}});
    (status, Json(body)).into_response()
}

pub(super) fn field_error(e: &FieldError) -> Response {
    error(StatusCode::BAD_REQUEST, Some(&e.field), &e.message)
}

pub(super) fn body_error(rejection: &BytesRejection) -> Response {
    let status = rejection.status();
    let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
        "the body is too large"
    } else {
        "the body could not be read"
    };
    error(status, Some("body"), message)
}

pub(super) fn unavailable(what: &str) -> Response {
    let mut r = error(StatusCode::SERVICE_UNAVAILABLE, None, what);
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    r
}

pub(super) async fn accept(state: &AppState, opt_out: OptOut) -> Result<Accepted, Response> {
    let channel = opt_out.channel;
    let start = Instant::now();
    match state.intake.accept(opt_out).await {
        Ok(accepted) => {
            state
                .metrics
                .accepted(channel, accepted.duplicate, start.elapsed());
            tracing::info!(id = %accepted.id, channel = channel.as_str(), duplicate = accepted.duplicate, "opt-out committed");
            Ok(accepted)
        }
        Err(IntakeError::Refused { field, message }) => {
            tracing::warn!(
                field,
                channel = channel.as_str(),
                "the store refused an opt-out"
            );
            Err(error(StatusCode::BAD_REQUEST, field.as_deref(), &message))
        }
        Err(e) => {
            state.metrics.intake_failed();
            tracing::error!(error = %e, channel = channel.as_str(), "the store did not accept an opt-out");
            Err(unavailable(
                "the opt-out could not be stored; nothing was accepted; try again",
            ))
        }
    }
}
