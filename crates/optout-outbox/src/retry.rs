//! When a failed task is tried again, on the store's clock: the core's classification
//! ([`Error::is_retryable`](optout_core::Error::is_retryable), `retry_after`) and
//! [`RetryPolicy`] backoff, without its attempt or time limits (an opt-out is never dropped),
//! plus HubSpot's daily limit, which waits for the reset.

use std::time::{Duration, SystemTime};

use optout_core::{Decision, Error as CoreError, ErrorKind, RetryPolicy};

use crate::deadline::hubspot_daily_reset;
use crate::model::Failure;

/// The backoff between attempts of one task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first wait; each further one doubles.
    pub initial: Duration,
    /// The longest backoff.
    pub max: Duration,
    /// The longest `Retry-After` honoured.
    pub max_retry_after: Duration,
}

impl Default for Backoff {
    /// 1 s doubling to 10 min; a `Retry-After` of up to 1 h.
    fn default() -> Self {
        Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(600),
            max_retry_after: Duration::from_secs(3600),
        }
    }
}

/// What to do after attempt `attempt` (1 for the first) failed with `error` at `now`;
/// `jitter` in `[0, 1)` spreads the backoff.
///
/// Retryable errors (408, 429, 5xx, timeouts, connection failures, an unreadable 2xx) wait
/// for the provider's `Retry-After` or an exponential backoff with jitter; a rate limit that
/// is not retryable (HubSpot's DAILY policy) waits until [`hubspot_daily_reset`]; anything
/// else (401, 403, 404, invalid input, unsupported) parks the task for a person.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use optout_core::{Error, Provider};
/// use optout_outbox::{next_attempt, Backoff, Failure};
/// let now = SystemTime::now();
/// let busy = Error::api(Provider::Novu, 429).with_retry_after(Duration::from_secs(7));
/// assert_eq!(next_attempt(&busy, 1, now, &Backoff::default(), 0.5), Failure::RetryAt(now + Duration::from_secs(7)));
/// assert_eq!(next_attempt(&Error::api(Provider::Novu, 401), 1, now, &Backoff::default(), 0.5), Failure::Park);
/// ```
pub fn next_attempt(
    error: &CoreError,
    attempt: u32,
    now: SystemTime,
    backoff: &Backoff,
    jitter: f64,
) -> Failure {
    if error.kind() == ErrorKind::RateLimited && !error.is_retryable() {
        return Failure::RetryAt(hubspot_daily_reset(now));
    }
    let policy = RetryPolicy::default()
        .max_retries(u32::MAX)
        .max_elapsed(Duration::MAX)
        .backoff(backoff.initial, backoff.max)
        .max_retry_after(backoff.max_retry_after);
    match policy.decide(error, attempt.max(1), Duration::ZERO, jitter) {
        Decision::RetryAfter(wait) => Failure::RetryAt(now + wait),
        Decision::Stop => Failure::Park,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use optout_core::Provider;

    #[test]
    fn server_errors_back_off_exponentially_and_never_give_up() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let e = CoreError::api(Provider::Migma, 503);
        let b = Backoff::default();
        let wait = |attempt| match next_attempt(&e, attempt, now, &b, 0.0) {
            Failure::RetryAt(t) => t.duration_since(now).unwrap(),
            Failure::Park => panic!("parked a retryable error"),
        };
        assert_eq!(wait(1), Duration::from_millis(500));
        assert_eq!(wait(2), Duration::from_secs(1));
        assert_eq!(wait(1000), Duration::from_secs(300));
    }

    #[test]
    fn a_daily_limit_waits_for_the_reset_and_permanent_errors_park() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(3600); // 01:00 UTC
        let daily = CoreError::api(Provider::HubSpot, 429).with_retryable(false);
        assert_eq!(
            next_attempt(&daily, 1, now, &Backoff::default(), 0.3),
            Failure::RetryAt(SystemTime::UNIX_EPOCH + Duration::from_secs(5 * 3600))
        );
        for status in [400, 401, 403, 404, 422] {
            let e = CoreError::api(Provider::HubSpot, status);
            assert_eq!(
                next_attempt(&e, 1, now, &Backoff::default(), 0.3),
                Failure::Park
            );
        }
        let bad = CoreError::invalid_input("recipient", "bad");
        assert_eq!(
            next_attempt(&bad, 1, now, &Backoff::default(), 0.3),
            Failure::Park
        );
    }
}
