//! The unsubscribe link's routes: `GET /u/{token}` (the confirmation page) and `POST /u/{token}`
//! (RFC 8058 one-click, plain or multipart).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::intake::{Channel, OptOut};
use crate::link::TokenError;
use crate::page;

use super::reply::{accept, body_error, error};
use super::Shared;

fn token_status(e: TokenError) -> (StatusCode, &'static str) {
    (StatusCode::BAD_REQUEST, match e {
        TokenError::UnknownKey | TokenError::BadSignature => "This unsubscribe link is not valid: it was altered, or it is not ours.",
        _ => "This unsubscribe link is not valid: it is incomplete or damaged. Try copying the whole link.",
    })
}

pub(super) async fn link_page(State(state): Shared, Path(token): Path<String>) -> Response {
    match state.config.link_keys.verify(&token) {
        Ok(verified) => page::confirm(&verified.scope).into_response(),
        Err(e) => {
            let (status, message) = token_status(e);
            (status, page::message("Invalid link", message)).into_response()
        }
    }
}

pub(super) async fn one_click(
    State(state): Shared,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let verified = match state.config.link_keys.verify(&token) {
        Ok(v) => v,
        Err(e) => {
            let (status, message) = token_status(e);
            return (status, page::message("Invalid link", message)).into_response();
        }
    };
    let body = match body {
        Ok(b) => b,
        Err(rejection) => return body_error(&rejection),
    };
    if !is_one_click(&headers, &body) {
        return error(
            StatusCode::BAD_REQUEST,
            Some("body"),
            "must be the form field List-Unsubscribe=One-Click (urlencoded or multipart)",
        );
    }
    let mut opt_out = OptOut::new(
        verified.scope.entries().to_vec(),
        Channel::OneClick,
        "one-click",
    );
    opt_out.idempotency_key = Some(verified.idempotency_key());
    match accept(&state, opt_out).await {
        Ok(_) => page::done(&verified.scope).into_response(),
        Err(r) => r,
    }
}

/// Whether the body carries `List-Unsubscribe=One-Click`: urlencoded (any content type but
/// multipart, as senders and tools vary) or `multipart/form-data`.
fn is_one_click(headers: &HeaderMap, body: &[u8]) -> bool {
    let wanted =
        |k: &str, v: &str| k == "List-Unsubscribe" && v.trim().eq_ignore_ascii_case("One-Click");
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type
        .to_ascii_lowercase()
        .starts_with("multipart/form-data")
    {
        let Some(boundary) = content_type
            .split(';')
            .filter_map(|p| p.trim().split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))
            .map(|(_, v)| v.trim().trim_matches('"').to_string())
        else {
            return false;
        };
        return multipart_fields(body, &boundary).any(|(k, v)| wanted(&k, &v));
    }
    form_urlencoded::parse(body.trim_ascii()).any(|(k, v)| wanted(&k, &v))
}

/// The `name` and text value of each part of a `multipart/form-data` body.
fn multipart_fields<'a>(
    body: &'a [u8],
    boundary: &str,
) -> impl Iterator<Item = (String, String)> + 'a {
    let delimiter = format!("--{boundary}").into_bytes();
    split_on(body, delimiter).filter_map(|part| {
        let part = part
            .strip_prefix(b"\r\n")
            .or_else(|| part.strip_prefix(b"\n"))?;
        let (head, value) = match find(part, b"\r\n\r\n") {
            Some(i) => (&part[..i], &part[i + 4..]),
            None => {
                let i = find(part, b"\n\n")?;
                (&part[..i], &part[i + 2..])
            }
        };
        let head = std::str::from_utf8(head).ok()?;
        let name = head.lines().find_map(|line| {
            let (k, v) = line.split_once(':')?;
            if !k.trim().eq_ignore_ascii_case("content-disposition") {
                return None;
            }
            v.split(';')
                .filter_map(|p| p.trim().split_once('='))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("name"))
                .map(|(_, v)| v.trim().trim_matches('"').to_string())
        })?;
        let value = value
            .strip_suffix(b"\r\n")
            .or_else(|| value.strip_suffix(b"\n"))
            .unwrap_or(value);
        Some((name, String::from_utf8_lossy(value).into_owned()))
    })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn split_on(mut hay: &[u8], delimiter: Vec<u8>) -> impl Iterator<Item = &[u8]> {
    std::iter::from_fn(move || {
        let i = find(hay, &delimiter)?;
        let rest = &hay[i + delimiter.len()..];
        let end = find(rest, &delimiter).unwrap_or(rest.len());
        let part = &rest[..end];
        hay = &rest[end..];
        Some(part)
    })
}
