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
//!
//! Here: the settings ([`Config`]) and the router with its layers. The routes live in
//! `link_routes` (`/u/{token}`) and `v1` (`/v1`, `/readyz`, `/metrics`), the bearer tokens in
//! `auth`, the answers they share in `reply`, and the listener loop in `listen`.

mod auth;
mod link_routes;
mod listen;
mod reply;
mod v1;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use tower::ServiceBuilder;
use tower_http::timeout::TimeoutLayer;

use crate::intake::Intake;
use crate::link::LinkKeys;
use crate::metrics::Metrics;

pub use auth::{ApiTokens, API_TOKENS_ENV, MIN_API_TOKEN_LEN};
use link_routes::{link_page, one_click};
pub use listen::{run, serve, shutdown_signal};
use reply::error;
use v1::{create_opt_out, metrics_text, opt_out_status, readyz};

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
