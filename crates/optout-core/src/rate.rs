//! The rate governor: one per client (shared by its clones, so by every bulk worker and every
//! task that sends through it), spending a provider account's rate limit without drawing 429s.
//!
//! - A configured [`RateLimit`] spaces request starts evenly: `n` per `period` is one start
//!   every `period / n` plus a margin of [`MARGIN_PERCENT`], so any window of `period` holds
//!   at most `n` (a rolling window like HubSpot's is never exceeded, which a bucket allowing
//!   bursts of `n` would do). Without the margin, a request and the one `n` before it would
//!   reach the provider exactly one window apart, and any jitter on the way that delivers the
//!   later one a little earlier finds the window full: against a sandbox enforcing Pushy's
//!   limit, 124 of 100,000 requests drew a 429 and each `Retry-After` paused the run.
//! - What the provider says adjusts it: a retryable 429 (or a 503 with `Retry-After`) pauses
//!   the whole client until `Retry-After` (or the provider's window) has passed, instead of
//!   every request retrying on its own; HubSpot's `X-HubSpot-RateLimit-Max` /
//!   `-Interval-Milliseconds` lower the rate when the account's limit is lower than the
//!   configured one (Free and Starter accounts have 100 per 10 s), and a `-Remaining` of 0
//!   waits one slot; Novu's `RateLimit-Remaining: 0` pauses until `RateLimit-Reset`.
//! - Where several processes share the limit ([`crate::RateShare`]), each request also takes
//!   its slot from the share, and a pause learned by one process is passed on to the share,
//!   so that the others wait it out too instead of each drawing its own 429.
//!
//! It is lock-free: a few atomics. With no limit and no pause, a request costs two atomic
//! loads. Time is tokio's, so tests run it with paused time.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName};
use reqwest::StatusCode;
use tokio::time::Instant;

use crate::rate_share::Shared;
use crate::{Error, Provider};

/// A number of requests per period, e.g. HubSpot's 190 per 10 seconds.
///
/// ```
/// use std::time::Duration;
/// # mod optout { pub use optout_core::*; }
/// use optout::RateLimit;
/// let limit: RateLimit = "190/10s".parse().unwrap();
/// assert_eq!(limit, RateLimit::per(190, Duration::from_secs(10)));
/// assert_eq!("800/min".parse::<RateLimit>().unwrap(), RateLimit::per(800, Duration::from_secs(60)));
/// assert_eq!(limit.to_string(), "190/10s");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RateLimit {
    requests: u32,
    period: Duration,
}

impl RateLimit {
    /// `requests` per `period` (at least 1 request, and a period of at least 1 ms).
    pub fn per(requests: u32, period: Duration) -> Self {
        RateLimit {
            requests: requests.max(1),
            period: period.max(Duration::from_millis(1)),
        }
    }

    /// How many requests a period allows.
    pub fn requests(&self) -> u32 {
        self.requests
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// The time between two request starts.
    pub fn interval(&self) -> Duration {
        self.period / self.requests
    }

    /// The limit a provider publishes for one account, used by default against its production
    /// API (not against another base URL: a sandbox or a proxy has its own):
    /// - HubSpot: 190 per 10 s, the Professional and Enterprise limit per app. Free and Starter
    ///   accounts have 100 per 10 s: set that with `rate_limit`, or let the governor read it
    ///   from HubSpot's `X-HubSpot-RateLimit-Max` after the first answer.
    /// - Pushy: 800 per minute, its default.
    /// - Migma, Novu, Mobivate: none published (Novu's answers say theirs, which is followed).
    pub fn published(provider: Provider) -> Option<RateLimit> {
        match provider {
            Provider::HubSpot => Some(RateLimit::per(190, Duration::from_secs(10))),
            Provider::Pushy => Some(RateLimit::per(800, Duration::from_secs(60))),
            _ => None,
        }
    }
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}",
            self.requests,
            humantime::format_duration(self.period)
        )
    }
}

impl FromStr for RateLimit {
    type Err = Error;

    /// `N/PERIOD`: `190/10s`, `800/min`, `800/1m`, `5/s`, `100/500ms` (a bare unit is one of
    /// it).
    fn from_str(text: &str) -> Result<Self, Error> {
        let bad = || {
            Error::invalid_input(
                "rate",
                format!(
                    "{:?} is not N/PERIOD; write e.g. 190/10s, 800/min or 5/s",
                    crate::scrub::clean(text)
                ),
            )
        };
        let (n, period) = text.trim().split_once('/').ok_or_else(bad)?;
        let n: u32 = n.trim().parse().map_err(|_| bad())?;
        let period = period.trim();
        let period = match period {
            "ms" => Duration::from_millis(1),
            "s" | "sec" | "second" => Duration::from_secs(1),
            "m" | "min" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            "d" | "day" => Duration::from_secs(86_400),
            other => humantime::parse_duration(other).map_err(|_| bad())?,
        };
        if n == 0 || period.is_zero() {
            return Err(bad());
        }
        Ok(RateLimit::per(n, period))
    }
}

/// How much wider than `period / n` the governor spaces request starts (see the module
/// documentation): 2%, so 190 per 10 s leaves about 200 ms of a window for jitter.
pub(crate) const MARGIN_PERCENT: u32 = 2;

/// The interval between request starts for `limit`, margin included, in nanoseconds.
fn spaced(limit: RateLimit) -> u64 {
    let interval = nanos(limit.interval());
    interval
        .saturating_add(interval / 100 * u64::from(MARGIN_PERCENT))
        .max(1)
}

/// Nanoseconds since the governor's origin; 0 means "not set".
type Nanos = u64;

fn nanos(d: Duration) -> Nanos {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The shared state of one client's rate (see the module documentation).
#[derive(Debug)]
pub(crate) struct Governor {
    provider: Provider,
    origin: Instant,
    /// Nanoseconds between two request starts; 0: no limit.
    interval: AtomicU64,
    /// When the next request may start (the "theoretical arrival time").
    next: AtomicU64,
    /// No request starts before this; 0: not paused.
    paused_until: AtomicU64,
    /// The longest pause a provider can ask for.
    max_pause: Duration,
    /// Where the limit is shared with other processes, if it is.
    shared: Option<Shared>,
}

static HUBSPOT_REMAINING: HeaderName = HeaderName::from_static("x-hubspot-ratelimit-remaining");
static HUBSPOT_MAX: HeaderName = HeaderName::from_static("x-hubspot-ratelimit-max");
static HUBSPOT_INTERVAL: HeaderName =
    HeaderName::from_static("x-hubspot-ratelimit-interval-milliseconds");
static RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
static RATELIMIT_RESET: HeaderName = HeaderName::from_static("ratelimit-reset");

fn number(headers: &HeaderMap, name: &HeaderName) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

impl Governor {
    /// A governor for `provider` at `limit` (none: only what the provider says), pausing at
    /// most `max_pause` when asked.
    pub(crate) fn new(provider: Provider, limit: Option<RateLimit>, max_pause: Duration) -> Self {
        Governor {
            provider,
            origin: Instant::now(),
            interval: AtomicU64::new(limit.map_or(0, spaced)),
            next: AtomicU64::new(0),
            paused_until: AtomicU64::new(0),
            max_pause,
            shared: None,
        }
    }

    /// Also takes every request's slot from `shared`, after this governor's own spacing, so
    /// that the limit holds across every process sharing it.
    pub(crate) fn shared(mut self, shared: Option<Shared>) -> Self {
        self.shared = shared;
        self
    }

    fn now(&self) -> Nanos {
        // +1: 0 stays "not set" even at the origin.
        nanos(self.origin.elapsed()).saturating_add(1)
    }

    fn at(&self, t: Nanos) -> Instant {
        self.origin + Duration::from_nanos(t.saturating_sub(1))
    }

    /// The current interval between request starts (zero: no limit).
    pub(crate) fn interval(&self) -> Duration {
        Duration::from_nanos(self.interval.load(Relaxed))
    }

    /// Waits until a request may start, and takes its slot.
    pub(crate) async fn acquire(&self) {
        loop {
            let paused = self.paused_until.load(Relaxed);
            let interval = self.interval.load(Relaxed);
            if paused == 0 && interval == 0 {
                return;
            }
            let now = self.now();
            if paused > now {
                tokio::time::sleep_until(self.at(paused)).await;
                continue;
            }
            if interval == 0 {
                return;
            }
            // Take the next slot: one start every `interval`, never two in the same slot.
            let mut next = self.next.load(Relaxed);
            let start = loop {
                let start = next.max(now);
                match self.next.compare_exchange_weak(
                    next,
                    start.saturating_add(interval),
                    Relaxed,
                    Relaxed,
                ) {
                    Ok(_) => break start,
                    Err(actual) => next = actual,
                }
            };
            if start > now {
                tokio::time::sleep_until(self.at(start)).await;
            }
            // Across processes: the shared slot (once per request: the local spacing keeps
            // this process's questions to the share at the rate itself).
            if let Some(shared) = &self.shared {
                let wait = shared.wait(Duration::from_nanos(interval)).await;
                if !wait.is_zero() {
                    tokio::time::sleep(wait).await;
                }
            }
            // A pause that began while this request waited for its slot holds it too (it
            // then takes a new slot, so that the requests behind the pause stay spaced).
            if self.paused_until.load(Relaxed) <= self.now() {
                return;
            }
        }
    }

    /// No request starts for `wait` (a longer pause already set stands).
    pub(crate) fn pause(&self, wait: Duration) {
        let wait = wait.min(self.max_pause);
        if wait.is_zero() {
            return;
        }
        let until = self.now().saturating_add(nanos(wait));
        if self.paused_until.fetch_max(until, Relaxed) >= until {
            return; // a longer pause stands, and was shared when it was set
        }
        tracing::debug!(provider = %self.provider, ?wait, "rate limited: pausing every request of this client");
        if let Some(shared) = &self.shared {
            shared.pause(wait);
        }
    }

    /// Slows to `limit` if it is slower than the current rate (never speeds up).
    fn slow_to(&self, limit: RateLimit) {
        let interval = spaced(limit);
        let before = self.interval.fetch_max(interval, Relaxed);
        if before < interval {
            tracing::debug!(provider = %self.provider, %limit, "the provider's limit is lower: slowing down");
        }
    }

    /// Reads what an answer says about the rate: its status, headers, and the error it was
    /// decoded into (for its `Retry-After`).
    pub(crate) fn observe(&self, status: StatusCode, headers: &HeaderMap, error: Option<&Error>) {
        match self.provider {
            // One lookup when HubSpot sends no rate headers (a sandbox, a proxy); the others
            // only when it does.
            Provider::HubSpot => {
                let Some(remaining) = number(headers, &HUBSPOT_REMAINING) else {
                    return self.observe_limited(status, headers, error);
                };
                if let (Some(max), Some(ms)) = (
                    number(headers, &HUBSPOT_MAX),
                    number(headers, &HUBSPOT_INTERVAL),
                ) {
                    if let (Ok(max @ 1..), 1..) = (u32::try_from(max), ms) {
                        self.slow_to(RateLimit::per(max, Duration::from_millis(ms)));
                    }
                }
                if remaining == 0 && !self.limited(status, error) {
                    // A rolling window with nothing left: the next request can go one slot on.
                    self.pause(self.interval());
                }
            }
            Provider::Novu
                if number(headers, &RATELIMIT_REMAINING) == Some(0)
                    && !self.limited(status, error) =>
            {
                if let Some(reset) = number(headers, &RATELIMIT_RESET) {
                    self.pause(Duration::from_secs(reset));
                }
            }
            _ => {}
        }
        self.observe_limited(status, headers, error);
    }

    /// A 429 (or a 503 with `Retry-After`): pauses the client for `Retry-After`, or for the
    /// provider's window when it gave no `Retry-After`.
    fn observe_limited(&self, status: StatusCode, headers: &HeaderMap, error: Option<&Error>) {
        if self.limited(status, error) {
            let window = match self.provider {
                Provider::HubSpot => number(headers, &HUBSPOT_INTERVAL).map(Duration::from_millis),
                _ => number(headers, &RATELIMIT_RESET).map(Duration::from_secs),
            };
            if let Some(wait) = error.and_then(Error::retry_after).or(window) {
                self.pause(wait);
            }
        }
    }

    /// A retryable 429, or a 503 that says when to come back: the whole client waits.
    fn limited(&self, status: StatusCode, error: Option<&Error>) -> bool {
        let Some(error) = error else { return false };
        error.is_retryable()
            && (status == StatusCode::TOO_MANY_REQUESTS
                || status == StatusCode::SERVICE_UNAVAILABLE && error.retry_after().is_some())
    }
}

#[cfg(test)]
mod tests;
