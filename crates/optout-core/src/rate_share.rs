//! One rate limit shared by several processes: a [`RateShare`] (the PostgreSQL outbox store
//! implements one) hands out request slots for an account, so that every process sending with
//! that account's credentials together stays within the limit.
//!
//! A client's governor consults it, when one is set ([`HttpConfig::rate_share`]), after its own
//! spacing and before each request: the share answers when the request may start on a clock
//! all processes read (the store's), and the governor waits that long. The key names the
//! provider and a fingerprint of the account (its base URL and credentials through SHA-256),
//! never a secret. If the share cannot be reached, the client goes on with its own governor
//! alone, after one warning, and asks the share again a little later.
//!
//! [`HttpConfig::rate_share`]: crate::HttpConfig::rate_share

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use tokio::time::Instant;
use url::Url;

use crate::Provider;

/// A request slot handed out by a [`RateShare`], on the share's own clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharedSlot {
    /// When the request may start: time since the share's epoch (the Unix epoch for the
    /// PostgreSQL store).
    pub start: Duration,
    /// The share's clock when the slot was taken, on the same scale.
    pub now: Duration,
}

impl SharedSlot {
    /// How long to wait before the request may start.
    pub fn wait(&self) -> Duration {
        self.start.saturating_sub(self.now)
    }
}

/// Why a [`RateShare`] could not hand out a slot (the store is away, a statement failed).
pub type RateShareError = Box<dyn std::error::Error + Send + Sync>;

/// Request slots for one rate limit shared by several processes (see the module
/// documentation).
///
/// `next_slot(key, spacing)` takes the next slot of `key` atomically: the later of the key's
/// next free slot and now; the next free slot becomes that plus `spacing`. So every slot of a
/// key, whichever process took it, starts at least `spacing` after the one before, and `n`
/// per `period` spaced `period / n` (and the governor's margin) never puts more than `n` in
/// any window of `period`. Keys are opaque: the share knows no provider.
#[async_trait]
pub trait RateShare: Send + Sync + fmt::Debug {
    /// Takes the next slot of `key`, `spacing` after the one before it.
    async fn next_slot(&self, key: &str, spacing: Duration) -> Result<SharedSlot, RateShareError>;

    /// Holds every slot of `key` until `wait` from now on the share's clock (a later slot
    /// already taken stands): what one process learned from the provider (a 429's
    /// `Retry-After`, a window with nothing left) then holds the others too, instead of each
    /// drawing its own 429. The default does nothing: a share that only spaces slots.
    async fn pause(&self, key: &str, wait: Duration) -> Result<(), RateShareError> {
        let _ = (key, wait);
        Ok(())
    }
}

/// How long one request waits for the share to answer before going on without it.
const ANSWER_WITHIN: Duration = Duration::from_secs(5);
/// How long the client goes on alone after the share failed, before asking it again.
const RETRY_AFTER: Duration = Duration::from_secs(30);

/// The key of an account at `provider`: the provider's name and 16 hex digits of SHA-256 over
/// the base URL and every credential. Two processes with the same credentials against the same
/// API share a key; the key says nothing about the credentials.
pub(crate) fn account_key(provider: Provider, base: &Url, secrets: &[SecretString]) -> String {
    let mut hash = Sha256::new();
    hash.update(b"optout rate share v1\0");
    hash.update(base.as_str().as_bytes());
    for secret in secrets {
        hash.update(b"\0");
        hash.update(secret.expose_secret().as_bytes());
    }
    let digest = hash.finalize();
    let mut key = format!("{provider}:");
    for byte in &digest[..8] {
        key.push_str(&format!("{byte:02x}"));
    }
    key
}

/// `answer`, or an error once [`ANSWER_WITHIN`] has passed without one.
async fn within<T>(
    answer: impl std::future::Future<Output = Result<T, RateShareError>>,
) -> Result<T, RateShareError> {
    tokio::time::timeout(ANSWER_WITHIN, answer)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {ANSWER_WITHIN:?}").into()))
}

/// A governor's link to its [`RateShare`]: the key, and whether the share is answering.
#[derive(Debug)]
pub(crate) struct Shared {
    share: Arc<dyn RateShare>,
    key: Arc<str>,
    origin: Instant,
    /// The share failed: not asked again before this (ns since `origin`; 0: it is answering).
    away_until: AtomicU64,
    /// Set while the share is away, so that an outage is reported once.
    away: AtomicBool,
}

impl Shared {
    pub(crate) fn new(share: Arc<dyn RateShare>, key: String) -> Self {
        Shared {
            share,
            key: key.into(),
            origin: Instant::now(),
            away_until: AtomicU64::new(0),
            away: AtomicBool::new(false),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_nanos())
            .unwrap_or(u64::MAX)
            .saturating_add(1)
    }

    /// Whether the share failed lately and is not to be asked yet.
    fn is_away(&self) -> bool {
        let away_until = self.away_until.load(Relaxed);
        away_until != 0 && away_until > self.now()
    }

    /// Passes a pause this process learned on to every process sharing the key, in the
    /// background (the request that learned it does not wait for the store). Skipped while
    /// the share is away; a failure is logged and changes nothing here: this process keeps
    /// its own pause either way.
    pub(crate) fn pause(&self, wait: Duration) {
        if self.is_away() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (share, key) = (self.share.clone(), self.key.clone());
        runtime.spawn(async move {
            if let Err(error) = within(share.pause(&key, wait)).await {
                tracing::debug!(target: "optout::rate", key = %key, "could not share a pause ({error})");
            }
        });
    }

    /// How long a request waits for its shared slot; zero while the share is away.
    pub(crate) async fn wait(&self, spacing: Duration) -> Duration {
        if self.is_away() {
            return Duration::ZERO;
        }
        match within(self.share.next_slot(&self.key, spacing)).await {
            Ok(slot) => {
                if self.away.swap(false, Relaxed) {
                    self.away_until.store(0, Relaxed);
                    tracing::warn!(
                        target: "optout::rate",
                        key = %self.key,
                        "the shared rate limit answers again: sharing the limit with the other processes"
                    );
                }
                slot.wait()
            }
            Err(error) => {
                self.away_until.store(
                    self.now()
                        .saturating_add(u64::try_from(RETRY_AFTER.as_nanos()).unwrap_or(u64::MAX)),
                    Relaxed,
                );
                if !self.away.swap(true, Relaxed) {
                    tracing::warn!(
                        target: "optout::rate",
                        key = %self.key,
                        "the shared rate limit cannot be reached ({error}): this process keeps \
                         to the limit on its own (other processes may add to it) and asks again \
                         every {}s",
                        RETRY_AFTER.as_secs()
                    );
                }
                Duration::ZERO
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// A share in memory: slots `spacing` apart on tokio's clock, or failing when told.
    #[derive(Debug)]
    struct Memory {
        origin: Instant,
        next: std::sync::Mutex<Duration>,
        failing: AtomicBool,
        asked: AtomicUsize,
    }

    #[async_trait]
    impl RateShare for Memory {
        async fn next_slot(
            &self,
            _: &str,
            spacing: Duration,
        ) -> Result<SharedSlot, RateShareError> {
            self.asked.fetch_add(1, Relaxed);
            if self.failing.load(Relaxed) {
                return Err("connection refused".into());
            }
            let now = self.origin.elapsed();
            let mut next = self.next.lock().unwrap();
            let start = (*next).max(now);
            *next = start + spacing;
            Ok(SharedSlot { start, now })
        }

        async fn pause(&self, _: &str, wait: Duration) -> Result<(), RateShareError> {
            let mut next = self.next.lock().unwrap();
            *next = (*next).max(self.origin.elapsed() + wait);
            Ok(())
        }
    }

    #[test]
    fn the_key_names_the_provider_and_never_the_secret() {
        let base = Url::parse("https://api.hubapi.com/").unwrap();
        let secret = SecretString::from("pat-na1-0123456789abcdef");
        let key = account_key(Provider::HubSpot, &base, std::slice::from_ref(&secret));
        assert!(key.starts_with("hubspot:"), "{key}");
        assert_eq!(key.len(), "hubspot:".len() + 16);
        assert!(!key.contains("0123456789abcdef"));
        assert_eq!(
            key,
            account_key(Provider::HubSpot, &base, std::slice::from_ref(&secret))
        );
        let other = SecretString::from("pat-na1-another");
        assert_ne!(key, account_key(Provider::HubSpot, &base, &[other]));
        let sandbox = Url::parse("http://127.0.0.1:8025/").unwrap();
        assert_ne!(key, account_key(Provider::HubSpot, &sandbox, &[secret]));
    }

    fn memory() -> Arc<Memory> {
        Arc::new(Memory {
            origin: Instant::now(),
            next: std::sync::Mutex::new(Duration::ZERO),
            failing: AtomicBool::new(false),
            asked: AtomicUsize::new(0),
        })
    }

    #[tokio::test(start_paused = true)]
    async fn two_governors_sharing_a_limit_keep_to_it_together() {
        use crate::rate::{Governor, RateLimit};
        let memory = memory();
        let limit = RateLimit::per(5, Duration::from_secs(1));
        // Two processes, each with its own governor at the whole limit.
        let governor = || {
            Arc::new(
                Governor::new(Provider::Pushy, Some(limit), Duration::from_secs(30))
                    .shared(Some(Shared::new(memory.clone(), "pushy:00".into()))),
            )
        };
        let (a, b) = (governor(), governor());
        let t0 = Instant::now();
        let mut tasks = Vec::new();
        for g in [a.clone(), b.clone(), a, b].into_iter().cycle().take(8) {
            tasks.push(tokio::spawn(async move {
                g.acquire().await;
                t0.elapsed().as_millis()
            }));
        }
        let mut got = Vec::new();
        for t in tasks {
            got.push(t.await.unwrap());
        }
        got.sort_unstable();
        // 204 ms apart across both (200 and the 2% margin), as one governor alone would.
        assert_eq!(got, [0, 204, 408, 612, 816, 1020, 1224, 1428]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_one_process_learned_holds_the_others() {
        use crate::rate::{Governor, RateLimit};
        let memory = memory();
        let limit = RateLimit::per(5, Duration::from_secs(1));
        let governor = || {
            Governor::new(Provider::HubSpot, Some(limit), Duration::from_secs(30))
                .shared(Some(Shared::new(memory.clone(), "hubspot:00".into())))
        };
        let (a, b) = (governor(), governor());
        let t0 = Instant::now();
        a.acquire().await;
        // A is told to wait 5 s (a 429's Retry-After): B, which was told nothing, waits too.
        a.pause(Duration::from_secs(5));
        tokio::task::yield_now().await;
        b.acquire().await;
        assert_eq!(t0.elapsed().as_millis(), 5000);
        // A pause shorter than a slot already taken does not pull it earlier.
        a.pause(Duration::from_millis(1));
        tokio::task::yield_now().await;
        b.acquire().await;
        assert_eq!(t0.elapsed().as_millis(), 5204);
    }

    #[tokio::test(start_paused = true)]
    async fn an_unreachable_share_is_skipped_then_asked_again() {
        let memory = memory();
        let shared = Shared::new(memory.clone(), "pushy:00".into());
        let spacing = Duration::from_millis(100);
        assert_eq!(shared.wait(spacing).await, Duration::ZERO);
        assert_eq!(shared.wait(spacing).await, spacing);
        memory.failing.store(true, Relaxed);
        assert_eq!(shared.wait(spacing).await, Duration::ZERO);
        // Away: not asked for a while.
        assert_eq!(shared.wait(spacing).await, Duration::ZERO);
        assert_eq!(memory.asked.load(Relaxed), 3);
        memory.failing.store(false, Relaxed);
        tokio::time::advance(RETRY_AFTER).await;
        assert_eq!(shared.wait(spacing).await, Duration::ZERO);
        assert_eq!(memory.asked.load(Relaxed), 4);
        assert!(!shared.away.load(Relaxed));
    }
}
