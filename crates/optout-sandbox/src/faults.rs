//! Injected faults: rate limits, outages, latency and garbage, applied before the handler.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use crate::{hubspot, migma, mobivate, novu, pushy, rate, util, Api, Shared};

/// Faults the sandbox injects, per request, before the provider's handler runs (a faulted
/// request changes no state). Set them at start ([`crate::SandboxBuilder::faults`]) or while
/// running ([`crate::Sandbox::set_faults`]).
///
/// ```
/// use std::time::Duration;
/// use optout_sandbox::Faults;
///
/// let faults = Faults { every_nth_429: Some(3), latency: Duration::from_millis(5), ..Faults::default() };
/// assert_eq!(faults.retry_after_secs, 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Faults {
    /// Every n-th request (counted over all providers) is answered 429 with `Retry-After`.
    pub every_nth_429: Option<u64>,
    /// The `Retry-After` value, in seconds, on injected 429 and 503 answers (default 1).
    pub retry_after_secs: u64,
    /// The share of requests (0.0 to 1.0) answered 503 with `Retry-After`.
    pub rate_5xx: f64,
    /// Added before every answer.
    pub latency: Duration,
    /// The share of requests (0.0 to 1.0) answered 200 with a truncated or HTML body.
    pub rate_malformed: f64,
}

impl Default for Faults {
    fn default() -> Self {
        Self::NONE
    }
}

impl Faults {
    /// No faults.
    pub const NONE: Faults = Faults {
        every_nth_429: None,
        retry_after_secs: 1,
        rate_5xx: 0.0,
        latency: Duration::ZERO,
        rate_malformed: 0.0,
    };

    /// Whether any fault is configured.
    pub fn is_active(&self) -> bool {
        self.every_nth_429.is_some_and(|n| n > 0)
            || self.rate_5xx > 0.0
            || !self.latency.is_zero()
            || self.rate_malformed > 0.0
    }
}

/// What the guard middleware knows: the shared state and which provider the route belongs to.
#[derive(Clone)]
pub(crate) struct Guard {
    pub(crate) shared: Arc<Shared>,
    pub(crate) api: Api,
}

/// Counts the request, applies the provider's rate limit (a 429 over it, rate headers on
/// every answer), then maybe answers with a fault instead of the handler.
pub(crate) async fn guard(State(guard): State<Guard>, req: Request, next: Next) -> Response {
    guard.shared.count_request(guard.api);
    let Some(window) = guard
        .shared
        .rate
        .get(guard.api.index())
        .and_then(Option::as_ref)
    else {
        return faulted(&guard, req, next).await;
    };
    match window.check(std::time::Instant::now()) {
        rate::Verdict::Limited { retry_after } => {
            guard.shared.rate_limited.fetch_add(1, Relaxed);
            let mut res = fault(guard.api, StatusCode::TOO_MANY_REQUESTS, req.uri().path());
            rate::limited_headers(guard.api, window.limit, retry_after, res.headers_mut());
            res
        }
        rate::Verdict::Allowed { remaining, reset } => {
            let mut res = faulted(&guard, req, next).await;
            rate::headers(guard.api, window.limit, remaining, reset, res.headers_mut());
            res
        }
    }
}

/// Maybe answers with a fault instead of the handler.
async fn faulted(guard: &Guard, req: Request, next: Next) -> Response {
    let shared = &guard.shared;
    if !shared.faults_active.load(Relaxed) {
        return next.run(req).await;
    }
    let faults = shared.faults();
    if !faults.latency.is_zero() {
        tokio::time::sleep(faults.latency).await;
    }
    let retry_after = HeaderValue::from(faults.retry_after_secs);
    if let Some(n) = faults.every_nth_429.filter(|n| *n > 0) {
        let count = shared.fault_counter.fetch_add(1, Relaxed) + 1;
        if count % n == 0 {
            let mut res = fault(guard.api, StatusCode::TOO_MANY_REQUESTS, req.uri().path());
            res.headers_mut().insert(RETRY_AFTER, retry_after);
            return res;
        }
    }
    if faults.rate_5xx > 0.0 && fastrand::f64() < faults.rate_5xx {
        let mut res = fault(guard.api, StatusCode::SERVICE_UNAVAILABLE, req.uri().path());
        res.headers_mut().insert(RETRY_AFTER, retry_after);
        return res;
    }
    if faults.rate_malformed > 0.0 && fastrand::f64() < faults.rate_malformed {
        // A proxy's error page or a cut connection, still labelled JSON.
        let body: &'static [u8] = if fastrand::bool() {
            b"{\"success\":tr"
        } else {
            b"<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>"
        };
        return util::raw(StatusCode::OK, Bytes::from_static(body));
    }
    next.run(req).await
}

/// The provider's own error answer for an injected 429 or 503.
fn fault(api: Api, status: StatusCode, path: &str) -> Response {
    match api {
        Api::Migma => migma::fault(status),
        Api::Novu => novu::fault(status, path),
        Api::Pushy => pushy::fault(status),
        Api::Mobivate => mobivate::fault(status),
        Api::HubSpot => hubspot::fault(status),
    }
}
