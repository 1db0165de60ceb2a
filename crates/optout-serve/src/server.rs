//! The HTTP server: routes, authentication, limits, and a listener loop that times out slow
//! clients and shuts down gracefully.
//!
//! | route | what |
//! |---|---|
//! | `GET /u/{token}` | a small HTML page naming what will be unsubscribed, with a button; never unsubscribes |
//! | `POST /u/{token}` | RFC 8058 one-click: body `List-Unsubscribe=One-Click`; 200 once committed |
//! | `POST /v1/opt-outs` | JSON opt-out ([`crate::api`]), bearer token, `Idempotency-Key`; 202 once committed |
//! | `GET /v1/opt-outs/{id}` | its state per provider and its receipts |
//! | `GET /healthz`, `/readyz`, `/metrics` | alive; the store answers; Prometheus text |

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, MatchedPath, Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use optout_core::Error;
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::timeout::TimeoutLayer;

use crate::api::{parse_opt_out, FieldError};
use crate::intake::{Accepted, Channel, Intake, IntakeError, OptOut};
use crate::link::{LinkKeys, TokenError};
use crate::metrics::Metrics;
use crate::page;

/// The environment variable with the API's bearer tokens, comma-separated.
pub const API_TOKENS_ENV: &str = "OPTOUT_API_TOKENS";

/// The shortest API token accepted.
pub const MIN_API_TOKEN_LEN: usize = 16;

/// The bearer tokens of the JSON API. Kept as SHA-256 digests and compared in constant time;
/// `Debug` shows only how many there are.
#[derive(Clone, Default)]
pub struct ApiTokens(Vec<[u8; 32]>);

impl std::fmt::Debug for ApiTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiTokens({} tokens)", self.0.len())
    }
}

impl ApiTokens {
    /// Parses comma-separated tokens, each at least [`MIN_API_TOKEN_LEN`] bytes of printable
    /// ASCII. An empty list is allowed: then every API request is refused (401).
    pub fn parse(spec: &str) -> Result<Self, Error> {
        let mut out = Vec::new();
        for (i, token) in spec.split(',').map(str::trim).enumerate() {
            if token.is_empty() && spec.trim().is_empty() {
                break;
            }
            if token.len() < MIN_API_TOKEN_LEN || !token.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(Error::config(format!(
                    "{API_TOKENS_ENV}: token {} must be at least {MIN_API_TOKEN_LEN} printable characters",
                    i + 1
                )));
            }
            out.push(Sha256::digest(token.as_bytes()).into());
        }
        Ok(ApiTokens(out))
    }

    /// The tokens from [`API_TOKENS_ENV`]; none if it is unset.
    pub fn from_env() -> Result<Self, Error> {
        match std::env::var(API_TOKENS_ENV) {
            Ok(spec) => Self::parse(&spec),
            Err(std::env::VarError::NotPresent) => Ok(ApiTokens::default()),
            Err(_) => Err(Error::config(format!(
                "{API_TOKENS_ENV} is not valid UTF-8"
            ))),
        }
    }

    /// How many tokens there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none (the API then refuses everything).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `presented` is one of the tokens. Every token is compared (digest against
    /// digest, in constant time), whichever matches.
    pub fn check(&self, presented: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let mut found = subtle::Choice::from(0);
        for token in &self.0 {
            found |= token.ct_eq(&digest);
        }
        found.into()
    }
}

/// Settings of the server.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// Who may call `/v1`.
    pub api_tokens: ApiTokens,
    /// The keys that verify link tokens.
    pub link_keys: LinkKeys,
    /// The whole of one request, body included, must be done within this (408 otherwise).
    pub request_timeout: Duration,
    /// A client must send its request headers within this, or the connection is closed.
    pub header_timeout: Duration,
    /// The largest JSON body accepted (413 beyond).
    pub max_json_body: usize,
    /// The largest one-click body accepted (413 beyond).
    pub max_form_body: usize,
    /// Requests handled at once; more are refused with 503 at once.
    pub max_in_flight: usize,
    /// On shutdown, how long requests in flight get to finish.
    pub shutdown_grace: Duration,
}

impl Config {
    /// Defaults: 10 s per request, 10 s for headers, 64 KiB JSON, 16 KiB form, 1024 in
    /// flight, 20 s grace.
    pub fn new(api_tokens: ApiTokens, link_keys: LinkKeys) -> Self {
        Config {
            api_tokens,
            link_keys,
            request_timeout: Duration::from_secs(10),
            header_timeout: Duration::from_secs(10),
            max_json_body: 64 * 1024,
            max_form_body: 16 * 1024,
            max_in_flight: 1024,
            shutdown_grace: Duration::from_secs(20),
        }
    }
}

#[derive(Debug)]
struct AppState {
    intake: Arc<dyn Intake>,
    config: Config,
    metrics: Arc<Metrics>,
}

type Shared = State<Arc<AppState>>;

/// The routes, with limits, timeouts and security headers, in front of `intake`.
pub fn router(intake: Arc<dyn Intake>, config: Config, metrics: Arc<Metrics>) -> Router {
    let (json_limit, form_limit) = (config.max_json_body, config.max_form_body);
    let (timeout, in_flight) = (config.request_timeout, config.max_in_flight);
    let state = Arc::new(AppState {
        intake,
        config,
        metrics,
    });
    Router::new()
        .route(
            "/u/{token}",
            get(link_page)
                .post(one_click)
                .layer(DefaultBodyLimit::max(form_limit)),
        )
        .route(
            "/v1/opt-outs",
            post(create_opt_out).layer(DefaultBodyLimit::max(json_limit)),
        )
        .route("/v1/opt-outs/{id}", get(opt_out_status))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .fallback(|| async { error(StatusCode::NOT_FOUND, None, "no such route") })
        .method_not_allowed_fallback(|| async {
            error(
                StatusCode::METHOD_NOT_ALLOWED,
                None,
                "method not allowed on this route",
            )
        })
        .layer(middleware::from_fn(log_request))
        .layer(
            ServiceBuilder::new()
                .layer(middleware::from_fn(security_headers))
                .layer(TimeoutLayer::with_status_code(
                    StatusCode::REQUEST_TIMEOUT,
                    timeout,
                ))
                .layer(axum::error_handling::HandleErrorLayer::new(
                    |_: tower::BoxError| async {
                        error(
                            StatusCode::SERVICE_UNAVAILABLE,
                            None,
                            "too many requests in flight; try again",
                        )
                    },
                ))
                .load_shed()
                .concurrency_limit(in_flight),
        )
        .with_state(state)
}

/// Logs method, route pattern (never the path: it holds link tokens), status and time.
async fn log_request(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |m| m.as_str())
        .to_string();
    let start = Instant::now();
    let response = next.run(request).await;
    tracing::info!(
        %method,
        route,
        status = response.status().as_u16(),
        micros = start.elapsed().as_micros() as u64,
        "request"
    );
    response
}

async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"),
    );
    response
}

/// A JSON error: `{"error": {"status": 400, "field": "...", "message": "..."}}`.
fn error(status: StatusCode, field: Option<&str>, message: &str) -> Response {
    let body = json!({"error": {"status": status.as_u16(), "field": field, "message": message}});
    (status, Json(body)).into_response()
}

fn field_error(e: &FieldError) -> Response {
    error(StatusCode::BAD_REQUEST, Some(&e.field), &e.message)
}

fn body_error(rejection: &BytesRejection) -> Response {
    let status = rejection.status();
    let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
        "the body is too large"
    } else {
        "the body could not be read"
    };
    error(status, Some("body"), message)
}

fn unavailable(what: &str) -> Response {
    let mut r = error(StatusCode::SERVICE_UNAVAILABLE, None, what);
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    r
}

async fn accept(state: &AppState, opt_out: OptOut) -> Result<Accepted, Response> {
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

fn token_status(e: TokenError) -> (StatusCode, &'static str) {
    (StatusCode::BAD_REQUEST, match e {
        TokenError::UnknownKey | TokenError::BadSignature => "This unsubscribe link is not valid: it was altered, or it is not ours.",
        _ => "This unsubscribe link is not valid: it is incomplete or damaged. Try copying the whole link.",
    })
}

async fn link_page(State(state): Shared, Path(token): Path<String>) -> Response {
    match state.config.link_keys.verify(&token) {
        Ok(verified) => page::confirm(&verified.scope).into_response(),
        Err(e) => {
            let (status, message) = token_status(e);
            (status, page::message("Invalid link", message)).into_response()
        }
    }
}

async fn one_click(
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

/// Checks the bearer token; `None` when allowed.
fn unauthorized(state: &AppState, headers: &HeaderMap) -> Option<Response> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        });
    match presented {
        Some(token) if state.config.api_tokens.check(token) => None,
        _ => {
            let mut r = error(
                StatusCode::UNAUTHORIZED,
                Some("Authorization"),
                "a valid bearer token is required (Authorization: Bearer TOKEN)",
            );
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            Some(r)
        }
    }
}

/// An `Idempotency-Key`: 1 to 255 printable ASCII characters.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, Box<Response>> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    match value.to_str() {
        Ok(k)
            if !k.is_empty() && k.len() <= 255 && k.bytes().all(|b| (b' '..=b'~').contains(&b)) =>
        {
            Ok(Some(format!("api:{k}")))
        }
        _ => Err(Box::new(error(
            StatusCode::BAD_REQUEST,
            Some("Idempotency-Key"),
            "must be 1 to 255 printable ASCII characters",
        ))),
    }
}

async fn create_opt_out(
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

async fn opt_out_status(
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

async fn readyz(State(state): Shared) -> Response {
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

async fn metrics_text(State(state): Shared) -> Response {
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

/// Serves `router` on `listener` until `shutdown` completes; then stops accepting, lets the
/// requests in flight finish (up to `grace`), and returns.
///
/// Each connection must send its request headers within `header_timeout` (against clients
/// that open connections and send nothing, or dribble).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    header_timeout: Duration,
    grace: Duration,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .keep_alive(true);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of file descriptors and the like: wait a little, keep serving.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let service = TowerToHyperService::new(router.clone());
                let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
                tokio::spawn(async move {
                    let _ = connection.await;
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tracing::info!("shutting down: no new connections; finishing the requests in flight");
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections closed"),
        () = tokio::time::sleep(grace) => tracing::warn!("requests still in flight after the grace period"),
    }
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

/// Binds `addr`, logs where it listens, and serves until Ctrl-C or SIGTERM.
pub async fn run(
    addr: SocketAddr,
    intake: Arc<dyn Intake>,
    config: Config,
    metrics: Arc<Metrics>,
) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    let (header_timeout, grace) = (config.header_timeout, config.shutdown_grace);
    tracing::info!(addr = %listener.local_addr()?, "listening");
    serve(
        listener,
        router(intake, config, metrics),
        header_timeout,
        grace,
        shutdown_signal(),
    )
    .await
}
