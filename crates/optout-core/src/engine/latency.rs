//! How long the provider took: a histogram of call durations, and its summary.

use std::time::Duration;

use serde::Serialize;

/// The per-call latency of a run of the [engine](super) (a bulk run, an outbox worker): each call to the provider (one request, or one batch
/// where the provider has batches) from its first attempt to its answer, retries and their
/// waits included. Rows refused before sending or skipped by the journal make no call.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Latency {
    /// Calls made.
    pub calls: u64,
    /// The median call, in microseconds (at most 1.6% under the true value).
    pub p50_us: u64,
    /// The 99th percentile, in microseconds (at most 1.6% under the true value).
    pub p99_us: u64,
    /// The slowest call, in microseconds (exact).
    pub max_us: u64,
}

/// A histogram of durations in microseconds: exact under 128 µs, then 64 buckets per power of
/// two (1.6% wide), up to about 19 hours (longer calls count as that). It is what
/// [`Latency`] is computed from, public so that a caller can
/// time its own calls the same way.
///
/// ```
/// use std::time::Duration;
/// # mod optout { pub mod provider_kit { pub use optout_core::engine; } }
/// use optout::provider_kit::engine::Histogram;
///
/// let mut h = Histogram::new();
/// for ms in 1..=100 {
///     h.record(Duration::from_millis(ms));
/// }
/// let l = h.latency();
/// assert_eq!((l.calls, l.max_us), (100, 100_000));
/// assert!((49_000..=50_000).contains(&l.p50_us), "{l:?}");
/// ```
#[derive(Clone)]
pub struct Histogram {
    buckets: Box<[u64]>,
    count: u64,
    max_us: u64,
}

/// Values under this are their own bucket.
const LINEAR: u64 = 128;
/// Sub-buckets per power of two above `LINEAR` (log2).
const SUB_BITS: u32 = 6;
/// The highest power of two kept apart (2^36 µs is about 19 hours).
const TOP_EXP: u32 = 36;
const BUCKETS: usize = LINEAR as usize + ((TOP_EXP - 7 + 1) << SUB_BITS) as usize;

impl Histogram {
    /// An empty histogram.
    pub fn new() -> Self {
        Histogram {
            buckets: vec![0; BUCKETS].into_boxed_slice(),
            count: 0,
            max_us: 0,
        }
    }

    fn index(us: u64) -> usize {
        if us < LINEAR {
            return us as usize;
        }
        let exp = (63 - us.leading_zeros()).min(TOP_EXP); // >= 7
        let us = us.min((2 << TOP_EXP) - 1);
        let sub = (us >> (exp - SUB_BITS)) & ((1 << SUB_BITS) - 1);
        LINEAR as usize + (((exp - 7) as usize) << SUB_BITS) + sub as usize
    }

    /// The smallest value that falls in bucket `index`.
    fn floor(index: usize) -> u64 {
        let i = index as u64;
        if i < LINEAR {
            return i;
        }
        let exp = (i - LINEAR) >> SUB_BITS;
        let sub = (i - LINEAR) & ((1 << SUB_BITS) - 1);
        ((1 << SUB_BITS) + sub) << (exp + 7 - u64::from(SUB_BITS))
    }

    /// Counts one call that took `d`.
    pub fn record(&mut self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        if let Some(bucket) = self.buckets.get_mut(Self::index(us)) {
            *bucket += 1;
        }
        self.count += 1;
        self.max_us = self.max_us.max(us);
    }

    /// Awaits `call` and counts how long it took.
    pub(crate) async fn time<T>(&mut self, call: impl std::future::Future<Output = T>) -> T {
        let started = std::time::Instant::now();
        let output = call.await;
        self.record(started.elapsed());
        output
    }

    /// Adds the counts of `other` (e.g. one histogram per task, merged at the end).
    pub fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.buckets.iter_mut().zip(other.buckets.iter()) {
            *mine += theirs;
        }
        self.count += other.count;
        self.max_us = self.max_us.max(other.max_us);
    }

    /// Durations recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The `q` quantile (0.0 to 1.0) in microseconds: the lower edge of the bucket that holds
    /// it (the exact maximum for the last rank); 0 when empty.
    pub fn quantile_us(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        // The rank of the value asked for: at least the first, at most the last (`as` turns a
        // NaN into 0 and saturates an overflow). The last is the max, known exactly.
        let rank = (((self.count as f64) * q).ceil() as u64).clamp(1, self.count);
        if rank == self.count {
            return self.max_us;
        }
        let mut seen = 0;
        for (i, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Self::floor(i).min(self.max_us);
            }
        }
        self.max_us
    }

    /// The summary: calls, p50, p99 and max.
    pub fn latency(&self) -> Latency {
        Latency {
            calls: self.count,
            p50_us: self.quantile_us(0.50),
            p99_us: self.quantile_us(0.99),
            max_us: self.max_us,
        }
    }
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram::new()
    }
}

impl std::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Histogram")
            .field("latency", &self.latency())
            .finish()
    }
}

impl std::fmt::Display for Latency {
    /// `1000 provider calls (one per row, or per batch; retries inside): p50 1.2 ms, ...`.
    /// A call is one `unsubscribe` (or one batch), not one HTTP request: a row of several
    /// topics may take several requests, and retries are part of their call.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = |us: u64| us as f64 / 1000.0;
        write!(
            f,
            "{} provider calls (one per row, or per batch; retries inside): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            self.calls,
            ms(self.p50_us),
            ms(self.p99_us),
            ms(self.max_us)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bucket_holds_the_values_that_map_to_it() {
        // Each bucket's floor maps back to it, and the value just under the next floor too.
        for i in 0..BUCKETS - 1 {
            let (lo, next) = (Histogram::floor(i), Histogram::floor(i + 1));
            assert!(lo < next, "bucket {i}");
            assert_eq!(Histogram::index(lo), i, "floor of {i}");
            assert_eq!(Histogram::index(next - 1), i, "top of {i}");
            // Width: exact below 128 µs, then at most 1/64 of the value.
            assert!(
                (next - lo) * 64 <= next.max(64 * 64),
                "bucket {i} is too wide"
            );
        }
        assert_eq!(Histogram::index(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn quantiles_are_within_the_resolution_and_never_above_the_max() {
        let mut h = Histogram::new();
        for us in 1..=10_000u64 {
            h.record(Duration::from_micros(us));
        }
        let l = h.latency();
        assert_eq!((l.calls, l.max_us), (10_000, 10_000));
        assert!((4_922..=5_000).contains(&l.p50_us), "{l:?}");
        assert!((9_745..=9_900).contains(&l.p99_us), "{l:?}");
        assert_eq!(h.quantile_us(1.0), 10_000);
        assert_eq!(h.quantile_us(0.0), 1);
        assert_eq!(h.quantile_us(f64::NAN), 1);
        assert_eq!(Histogram::new().latency(), Latency::default());
    }

    #[test]
    fn merged_histograms_count_as_one() {
        let (mut a, mut b) = (Histogram::new(), Histogram::new());
        a.record(Duration::from_micros(10));
        b.record(Duration::from_secs(3));
        b.record(Duration::from_secs(86_400 * 365)); // clamped into the top bucket, max exact
        a.merge(&b);
        let l = a.latency();
        assert_eq!(l.calls, 3);
        assert_eq!(l.p50_us, 2_981_888); // 3 s, to the bucket's floor
        assert_eq!(l.max_us, 86_400 * 365 * 1_000_000);
        assert_eq!(
            l.to_string(),
            "3 provider calls (one per row, or per batch; retries inside): p50 2981.9 ms, p99 31536000000.0 ms, max 31536000000.0 ms"
        );
    }
}
