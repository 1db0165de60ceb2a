//! Rate limits the sandbox enforces per provider (`--rate-limit hubspot=190/10s`), answered with
//! each provider's own 429 and rate headers, as their docs describe them:
//! - HubSpot: a rolling window; every answer carries `X-HubSpot-RateLimit-Max`,
//!   `X-HubSpot-RateLimit-Interval-Milliseconds` and `X-HubSpot-RateLimit-Remaining`, and the
//!   429 body is `{"status":"error","message":"You have reached your ten_secondly_rolling
//!   limit.","errorType":"RATE_LIMIT","correlationId":..,"policyName":"TEN_SECONDLY_ROLLING"}`.
//! - Novu: `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (seconds) on every answer,
//!   and `Retry-After` on the 429.
//! - Migma, Pushy, Mobivate: their 429 error body with `Retry-After`.
//!
//! A request refused here changes nothing and does not count against the window.

use std::collections::VecDeque;
use std::fmt;
use std::str::FromStr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderName, HeaderValue};

use crate::Api;

/// `N` requests per `period`, e.g. `190/10s`.
///
/// ```
/// use std::time::Duration;
/// use optout_sandbox::RateLimit;
/// let limit: RateLimit = "190/10s".parse().unwrap();
/// assert_eq!((limit.requests, limit.period), (190, Duration::from_secs(10)));
/// assert_eq!("800/min".parse::<RateLimit>().unwrap().period, Duration::from_secs(60));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests allowed in any window of `period`.
    pub requests: u32,
    /// The window.
    pub period: Duration,
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}ms", self.requests, self.period.as_millis())
    }
}

impl FromStr for RateLimit {
    type Err = String;

    /// `N/PERIOD`: `190/10s`, `800/min`, `800/1m`, `5/s`, `100/500ms`, `2/1h`.
    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || format!("{text:?} is not N/PERIOD, e.g. 190/10s, 800/min or 5/s");
        let (n, period) = text.trim().split_once('/').ok_or_else(bad)?;
        let requests: u32 = n.trim().parse().map_err(|_| bad())?;
        let period = period.trim();
        let digits = period
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(period.len());
        let (count, unit) = period.split_at(digits);
        let count: f64 = if count.is_empty() {
            1.0
        } else {
            count.parse().map_err(|_| bad())?
        };
        let unit_secs = match unit.trim() {
            "ms" => 0.001,
            "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
            "m" | "min" | "mins" | "minute" | "minutes" => 60.0,
            "h" | "hour" | "hours" => 3600.0,
            "d" | "day" | "days" => 86_400.0,
            _ => return Err(bad()),
        };
        let secs = count * unit_secs;
        if requests == 0 || !secs.is_finite() || secs <= 0.0 || secs > 86_400.0 * 366.0 {
            return Err(bad());
        }
        Ok(RateLimit {
            requests,
            period: Duration::from_secs_f64(secs),
        })
    }
}

/// What the window says about one request.
pub(crate) enum Verdict {
    /// Served: this many requests are left in the window, which frees its oldest slot in
    /// `reset`.
    Allowed { remaining: u32, reset: Duration },
    /// Refused: a slot frees in `retry_after`.
    Limited { retry_after: Duration },
}

/// A rolling window: the times of the requests served in the last `period`.
pub(crate) struct Window {
    pub(crate) limit: RateLimit,
    served: Mutex<VecDeque<Instant>>,
}

impl Window {
    pub(crate) fn new(limit: RateLimit) -> Self {
        Window {
            limit,
            served: Mutex::new(VecDeque::new()),
        }
    }

    /// Counts a request arriving `now`, if the window has room for it.
    pub(crate) fn check(&self, now: Instant) -> Verdict {
        let mut served = self.served.lock().unwrap_or_else(PoisonError::into_inner);
        while served
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.limit.period)
        {
            served.pop_front();
        }
        let frees_in = |served: &VecDeque<Instant>| {
            served.front().map_or(self.limit.period, |t| {
                self.limit.period.saturating_sub(now.duration_since(*t))
            })
        };
        let limit = self.limit.requests as usize;
        if served.len() >= limit {
            return Verdict::Limited {
                retry_after: frees_in(&served),
            };
        }
        served.push_back(now);
        Verdict::Allowed {
            remaining: u32::try_from(limit - served.len()).unwrap_or(0),
            reset: frees_in(&served),
        }
    }
}

/// Whole seconds, rounded up, at least 1 (`Retry-After` and `RateLimit-Reset` are integers).
fn secs_up(d: Duration) -> u64 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    secs.max(1)
}

fn set(headers: &mut HeaderMap, name: &'static str, value: u64) {
    headers.insert(HeaderName::from_static(name), HeaderValue::from(value));
}

/// The provider's rate headers on an answer, with `remaining` requests left and the window
/// freeing a slot in `reset`.
pub(crate) fn headers(
    api: Api,
    limit: RateLimit,
    remaining: u32,
    reset: Duration,
    h: &mut HeaderMap,
) {
    match api {
        Api::HubSpot => {
            set(h, "x-hubspot-ratelimit-max", u64::from(limit.requests));
            let ms = u64::try_from(limit.period.as_millis()).unwrap_or(u64::MAX);
            set(h, "x-hubspot-ratelimit-interval-milliseconds", ms);
            set(h, "x-hubspot-ratelimit-remaining", u64::from(remaining));
        }
        Api::Novu => {
            set(h, "ratelimit-limit", u64::from(limit.requests));
            set(h, "ratelimit-remaining", u64::from(remaining));
            set(h, "ratelimit-reset", secs_up(reset));
        }
        Api::Migma | Api::Pushy | Api::Mobivate => {}
    }
}

/// The headers of a 429 from the window: the rate headers, and `Retry-After` where the
/// provider documents it (HubSpot's 429 names its policy instead).
pub(crate) fn limited_headers(
    api: Api,
    limit: RateLimit,
    retry_after: Duration,
    h: &mut HeaderMap,
) {
    headers(api, limit, 0, retry_after, h);
    if api != Api::HubSpot {
        set(h, "retry-after", secs_up(retry_after));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_parse() {
        for (text, n, secs) in [
            ("190/10s", 190, 10.0),
            ("800/min", 800, 60.0),
            ("800/1m", 800, 60.0),
            ("5/s", 5, 1.0),
            ("100/500ms", 100, 0.5),
            ("2/1.5s", 2, 1.5),
        ] {
            let limit: RateLimit = text.parse().unwrap();
            assert_eq!(limit.requests, n, "{text}");
            assert_eq!(limit.period.as_secs_f64(), secs, "{text}");
        }
        for bad in [
            "",
            "10",
            "0/s",
            "x/s",
            "10/",
            "10/0s",
            "10/fortnight",
            "10/-1s",
        ] {
            assert!(bad.parse::<RateLimit>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_window_rolls() {
        let w = Window::new(RateLimit {
            requests: 2,
            period: Duration::from_secs(10),
        });
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        assert!(matches!(
            w.check(at(0)),
            Verdict::Allowed { remaining: 1, .. }
        ));
        assert!(matches!(
            w.check(at(4_000)),
            Verdict::Allowed { remaining: 0, .. }
        ));
        match w.check(at(6_000)) {
            Verdict::Limited { retry_after } => assert_eq!(retry_after, Duration::from_secs(4)),
            Verdict::Allowed { .. } => panic!("a third request in 10 s was served"),
        }
        // The first request leaves the window at 10 s: one slot again.
        assert!(matches!(
            w.check(at(10_000)),
            Verdict::Allowed { remaining: 0, .. }
        ));
        assert!(matches!(w.check(at(10_001)), Verdict::Limited { .. }));
        assert_eq!(secs_up(Duration::from_millis(1)), 1);
        assert_eq!(secs_up(Duration::from_millis(4_001)), 5);
    }
}
