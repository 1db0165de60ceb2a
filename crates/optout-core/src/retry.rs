//! When to try again. [`RetryPolicy::decide`] is a pure function of the failed attempt, the
//! attempt number and the time spent; [`wait_from_headers`] reads what the provider asked for.
//! Neither does any I/O, so both are tested as plain functions.

use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, HeaderName, RETRY_AFTER};

use crate::Error;

/// How often and how long to retry a failed request.
///
/// Retries happen only for errors that say [`Error::is_retryable`]: 408, 429 (except HubSpot's
/// daily limit), 5xx, timeouts, connection failures and a 2xx whose body cannot be read (it
/// went out with an unknown effect); never 400, 401, 403, 404 or 422.
///
/// ```
/// # mod optout { pub use optout_core::*; }
/// use std::time::Duration;
/// use optout::RetryPolicy;
/// let policy = RetryPolicy::default().max_retries(5).max_elapsed(Duration::from_secs(120));
/// assert_eq!(policy.retries(), 5);
/// assert_eq!(RetryPolicy::none().retries(), 0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    max_retries: u32,
    max_elapsed: Duration,
    initial_backoff: Duration,
    max_backoff: Duration,
    max_retry_after: Duration,
}

impl Default for RetryPolicy {
    /// 3 retries, within 60 s in all, backing off from 250 ms to at most 8 s, and waiting at
    /// most 30 s when the provider asks for longer.
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            max_elapsed: Duration::from_secs(60),
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Give up and return the error.
    Stop,
    /// Wait this long, then send the request again.
    RetryAfter(Duration),
}

impl RetryPolicy {
    /// Never retry.
    pub fn none() -> Self {
        RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        }
    }

    /// How many times a request may be sent again after the first attempt.
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// No retry starts once this much time has passed since the first attempt, nor a wait
    /// that would end after it.
    pub fn max_elapsed(mut self, total: Duration) -> Self {
        self.max_elapsed = total;
        self
    }

    /// The first backoff; each further one doubles, up to `max`.
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max.max(initial);
        self
    }

    /// The longest `Retry-After` honoured; a longer one is clamped to this.
    pub fn max_retry_after(mut self, max: Duration) -> Self {
        self.max_retry_after = max;
        self
    }

    /// The longest `Retry-After` honoured (see [`max_retry_after`](Self::max_retry_after)).
    pub fn retry_after_cap(&self) -> Duration {
        self.max_retry_after
    }

    /// The number of retries allowed.
    pub fn retries(&self) -> u32 {
        self.max_retries
    }

    /// Decides what to do after attempt number `attempt` (1 for the first) failed with
    /// `error`, `elapsed` after the first attempt started. `jitter` is a number in `[0, 1)`
    /// that spreads backoffs (the caller draws it, so this stays a pure function).
    ///
    /// The wait is the provider's `Retry-After` when it gave one (clamped to
    /// [`max_retry_after`](Self::max_retry_after)), otherwise an exponential backoff with
    /// equal jitter: half the step, plus up to another half.
    pub fn decide(&self, error: &Error, attempt: u32, elapsed: Duration, jitter: f64) -> Decision {
        if !error.is_retryable() || attempt > self.max_retries {
            return Decision::Stop;
        }
        let wait = match error.retry_after() {
            Some(asked) => asked.min(self.max_retry_after),
            None => {
                let step = self
                    .initial_backoff
                    .saturating_mul(1u32 << (attempt - 1).min(16))
                    .min(self.max_backoff);
                step / 2 + step.mul_f64(jitter.clamp(0.0, 1.0) / 2.0)
            }
        };
        if elapsed.saturating_add(wait) >= self.max_elapsed {
            return Decision::Stop;
        }
        Decision::RetryAfter(wait)
    }
}

/// How long the provider asked us to wait, from `Retry-After` (seconds, or an HTTP date
/// relative to `now`) or, failing that, `RateLimit-Reset` (seconds, as Novu sends it).
pub fn wait_from_headers(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    static RATELIMIT_RESET: HeaderName = HeaderName::from_static("ratelimit-reset");
    let text = |name: &HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(value) = text(&RETRY_AFTER) {
        if let Ok(secs) = value.parse::<u64>() {
            return Some(Duration::from_secs(secs));
        }
        if let Ok(secs) = value.parse::<f64>() {
            if secs.is_finite() && secs >= 0.0 {
                return Some(Duration::from_secs_f64(secs.min(86_400.0)));
            }
        }
        if let Ok(date) = httpdate::parse_http_date(value) {
            return Some(date.duration_since(now).unwrap_or(Duration::ZERO));
        }
    }
    text(&RATELIMIT_RESET)
        .and_then(|v| v.parse::<u64>().ok())
        .map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Provider;
    use reqwest::header::HeaderValue;

    fn policy() -> RetryPolicy {
        RetryPolicy::default()
            .max_retries(3)
            .backoff(Duration::from_millis(100), Duration::from_secs(1))
            .max_elapsed(Duration::from_secs(10))
            .max_retry_after(Duration::from_secs(5))
    }

    const NO_TIME: Duration = Duration::ZERO;

    #[test]
    fn retries_408_429_5xx_timeouts() {
        for status in [408, 429, 500, 502, 503, 504] {
            let e = Error::api(Provider::Novu, status);
            assert!(
                matches!(
                    policy().decide(&e, 1, NO_TIME, 0.0),
                    Decision::RetryAfter(_)
                ),
                "{status}"
            );
        }
        let e = Error::timeout(Provider::Novu);
        assert!(matches!(
            policy().decide(&e, 1, NO_TIME, 0.0),
            Decision::RetryAfter(_)
        ));
    }

    #[test]
    fn never_retries_client_errors() {
        for status in [400, 401, 403, 404, 409, 422] {
            let e = Error::api(Provider::Novu, status);
            assert_eq!(
                policy().decide(&e, 1, NO_TIME, 0.0),
                Decision::Stop,
                "{status}"
            );
        }
        let daily = Error::api(Provider::HubSpot, 429).with_retryable(false);
        assert_eq!(policy().decide(&daily, 1, NO_TIME, 0.0), Decision::Stop);
    }

    #[test]
    fn backoff_doubles_with_equal_jitter_and_is_capped() {
        let e = Error::api(Provider::Migma, 503);
        let p = policy().max_retries(10);
        let at = |attempt, jitter| p.decide(&e, attempt, NO_TIME, jitter);
        assert_eq!(at(1, 0.0), Decision::RetryAfter(Duration::from_millis(50)));
        assert_eq!(at(1, 0.5), Decision::RetryAfter(Duration::from_millis(75)));
        assert_eq!(at(2, 0.0), Decision::RetryAfter(Duration::from_millis(100)));
        assert_eq!(at(3, 0.0), Decision::RetryAfter(Duration::from_millis(200)));
        assert_eq!(at(8, 0.0), Decision::RetryAfter(Duration::from_millis(500)));
        assert_eq!(at(8, 1.0), Decision::RetryAfter(Duration::from_secs(1)));
    }

    #[test]
    fn bounded_by_attempts_and_by_total_time() {
        let e = Error::api(Provider::Migma, 503);
        assert!(matches!(
            policy().decide(&e, 3, NO_TIME, 0.0),
            Decision::RetryAfter(_)
        ));
        assert_eq!(policy().decide(&e, 4, NO_TIME, 0.0), Decision::Stop);
        assert_eq!(
            policy().decide(&e, 1, Duration::from_secs(10), 0.0),
            Decision::Stop
        );
        let slow = e.with_retry_after(Duration::from_secs(4));
        assert_eq!(
            policy().decide(&slow, 1, Duration::from_secs(7), 0.0),
            Decision::Stop,
            "a wait that would end after max_elapsed is not started"
        );
        assert_eq!(
            RetryPolicy::none().decide(&Error::api(Provider::Migma, 503), 1, NO_TIME, 0.0),
            Decision::Stop
        );
    }

    #[test]
    fn retry_after_is_honoured_and_clamped() {
        let e = Error::api(Provider::Pushy, 429).with_retry_after(Duration::from_secs(2));
        assert_eq!(
            policy().decide(&e, 1, NO_TIME, 0.5),
            Decision::RetryAfter(Duration::from_secs(2))
        );
        let e = Error::api(Provider::Pushy, 429).with_retry_after(Duration::from_secs(3600));
        assert_eq!(
            policy().decide(&e, 1, NO_TIME, 0.5),
            Decision::RetryAfter(Duration::from_secs(5))
        );
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn reads_retry_after_seconds_dates_and_ratelimit_reset() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            wait_from_headers(&headers(&[("retry-after", "7")]), now),
            Some(Duration::from_secs(7))
        );
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            wait_from_headers(&headers(&[("retry-after", &later)]), now),
            Some(Duration::from_secs(30))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(
            wait_from_headers(&headers(&[("retry-after", &past)]), now),
            Some(Duration::ZERO)
        );
        assert_eq!(
            wait_from_headers(&headers(&[("ratelimit-reset", "12")]), now),
            Some(Duration::from_secs(12))
        );
        assert_eq!(
            wait_from_headers(
                &headers(&[("retry-after", "3"), ("ratelimit-reset", "12")]),
                now
            ),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            wait_from_headers(&headers(&[("retry-after", "soon")]), now),
            None
        );
        assert_eq!(wait_from_headers(&HeaderMap::new(), now), None);
    }
}
