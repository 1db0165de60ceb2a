//! Prometheus text for `/metrics`: a few counters and histograms kept in atomics (no global
//! recorder, so tests and several servers in one process do not share them), and the task
//! counts the store reports.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use optout_core::{Error, Provider, Receipt, Unsubscribe, Unsubscriber};

use crate::intake::{Channel, Counts};

/// Bucket upper bounds, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0,
];

/// A histogram of durations.
#[derive(Debug, Default)]
struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|&b| secs <= b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (bound, n) in BUCKETS.iter().zip(&self.buckets) {
            cumulative += n.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {cumulative}"
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {count}");
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {sum}");
        let _ = writeln!(out, "{name}_count{braces} {count}");
    }
}

/// The server's own metrics; share one per server (`Arc`). A worker running in the same
/// process reports its send latency with [`Metrics::observe_send`].
#[derive(Debug, Default)]
pub struct Metrics {
    accepted: [AtomicU64; 2],
    duplicates: [AtomicU64; 2],
    intake_failures: AtomicU64,
    accept_latency: Histogram,
    send_latency: [Histogram; Provider::ALL.len()],
}

fn channel_index(channel: Channel) -> usize {
    match channel {
        Channel::Api => 1,
        _ => 0,
    }
}

fn provider_index(provider: Provider) -> usize {
    Provider::ALL
        .iter()
        .position(|&p| p == provider)
        .unwrap_or(0)
}

impl Metrics {
    /// Empty metrics.
    pub fn new() -> Self {
        Self::default()
    }

    /// An opt-out was committed (`duplicate`: its idempotency key was seen before), after
    /// `took` in the store.
    pub fn accepted(&self, channel: Channel, duplicate: bool, took: Duration) {
        let counter = if duplicate {
            &self.duplicates
        } else {
            &self.accepted
        };
        counter[channel_index(channel)].fetch_add(1, Ordering::Relaxed);
        self.accept_latency.observe(took);
    }

    /// The store failed to accept an opt-out.
    pub fn intake_failed(&self) {
        self.intake_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// One request to `provider` took `took` (for the send latency histogram).
    pub fn observe_send(&self, provider: Provider, took: Duration) {
        self.send_latency[provider_index(provider)].observe(took);
    }

    /// The Prometheus text exposition (version 0.0.4), with the store's task counts if it
    /// answered.
    pub fn render(&self, counts: Option<&Counts>) -> String {
        let mut out = String::with_capacity(4096);
        out.push_str(
            "# HELP optout_accepted_total Opt-outs committed, by channel (one_click, api).\n",
        );
        out.push_str("# TYPE optout_accepted_total counter\n");
        for channel in [Channel::OneClick, Channel::Api] {
            let n = self.accepted[channel_index(channel)].load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "optout_accepted_total{{source=\"{}\"}} {n}",
                channel.as_str()
            );
        }
        out.push_str("# HELP optout_duplicates_total Requests that repeated an idempotency key (no new opt-out).\n");
        out.push_str("# TYPE optout_duplicates_total counter\n");
        for channel in [Channel::OneClick, Channel::Api] {
            let n = self.duplicates[channel_index(channel)].load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "optout_duplicates_total{{source=\"{}\"}} {n}",
                channel.as_str()
            );
        }
        out.push_str("# HELP optout_intake_failures_total Opt-outs the store failed to commit (answered 503).\n");
        out.push_str("# TYPE optout_intake_failures_total counter\n");
        let _ = writeln!(
            out,
            "optout_intake_failures_total {}",
            self.intake_failures.load(Ordering::Relaxed)
        );
        out.push_str("# HELP optout_accept_seconds Time to commit one opt-out.\n");
        out.push_str("# TYPE optout_accept_seconds histogram\n");
        self.accept_latency
            .render(&mut out, "optout_accept_seconds", "");
        out.push_str("# HELP optout_send_seconds Time of one request to a provider.\n");
        out.push_str("# TYPE optout_send_seconds histogram\n");
        for (p, h) in Provider::ALL.iter().zip(&self.send_latency) {
            h.render(
                &mut out,
                "optout_send_seconds",
                &format!("provider=\"{p}\""),
            );
        }
        if let Some(counts) = counts {
            out.push_str("# HELP optout_tasks Tasks by provider and state.\n");
            out.push_str("# TYPE optout_tasks gauge\n");
            for (p, state, n) in &counts.tasks {
                let _ = writeln!(
                    out,
                    "optout_tasks{{provider=\"{p}\",state=\"{}\"}} {n}",
                    state.as_str()
                );
            }
            out.push_str("# HELP optout_tasks_overdue Tasks past their deadline and not done.\n");
            out.push_str("# TYPE optout_tasks_overdue gauge\n");
            for p in Provider::ALL {
                let n = counts
                    .overdue
                    .iter()
                    .find(|(q, _)| *q == p)
                    .map_or(0, |(_, n)| *n);
                let _ = writeln!(out, "optout_tasks_overdue{{provider=\"{p}\"}} {n}");
            }
        }
        out.push_str("# HELP optout_store_up Whether the store answered for this scrape.\n");
        out.push_str("# TYPE optout_store_up gauge\n");
        let _ = writeln!(out, "optout_store_up {}", u8::from(counts.is_some()));
        out
    }
}

/// An [`Unsubscriber`] that reports how long each call to the provider took to
/// [`Metrics::observe_send`]: wrap the clients an in-process worker sends with.
#[derive(Debug)]
pub struct Timed {
    inner: Arc<dyn Unsubscriber>,
    metrics: Arc<Metrics>,
}

impl Timed {
    /// `client`, timed into `metrics`.
    pub fn wrap(client: Arc<dyn Unsubscriber>, metrics: Arc<Metrics>) -> Arc<dyn Unsubscriber> {
        Arc::new(Timed {
            inner: client,
            metrics,
        })
    }

    /// Runs one send, `call`, and counts its time.
    async fn timed<T>(&self, call: impl std::future::Future<Output = T>) -> T {
        let start = Instant::now();
        let result = call.await;
        self.metrics
            .observe_send(self.inner.provider(), start.elapsed());
        result
    }
}

#[async_trait]
impl Unsubscriber for Timed {
    fn provider(&self) -> Provider {
        self.inner.provider()
    }

    async fn unsubscribe(&self, request: &Unsubscribe) -> Result<Receipt, Error> {
        self.timed(self.inner.unsubscribe(request)).await
    }

    fn batch_size(&self) -> usize {
        self.inner.batch_size()
    }

    async fn unsubscribe_many(&self, requests: &[Unsubscribe]) -> Vec<Result<Receipt, Error>> {
        self.timed(self.inner.unsubscribe_many(requests)).await
    }

    async fn unsubscribe_owned(&self, requests: Vec<Unsubscribe>) -> Vec<Result<Receipt, Error>> {
        self.timed(self.inner.unsubscribe_owned(requests)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use optout_core::{Outcome, Recipient, Topics};

    #[derive(Debug)]
    struct Ok200;

    #[async_trait]
    impl Unsubscriber for Ok200 {
        fn provider(&self) -> Provider {
            Provider::Pushy
        }
        async fn unsubscribe(&self, r: &Unsubscribe) -> Result<Receipt, Error> {
            Ok(Receipt::new(
                Provider::Pushy,
                r.recipient.clone(),
                r.topics.clone(),
                Outcome::Unsubscribed,
                None,
            ))
        }
    }

    #[tokio::test]
    async fn a_timed_client_counts_its_calls_per_provider() {
        let metrics = Arc::new(Metrics::new());
        let client = Timed::wrap(Arc::new(Ok200), metrics.clone());
        let req = Unsubscribe::new(Recipient::device("d").unwrap(), Topics::All);
        client.unsubscribe(&req).await.unwrap();
        client.unsubscribe_many(&[req.clone(), req.clone()]).await;
        client.unsubscribe_owned(vec![req]).await;
        let text = metrics.render(None);
        assert!(
            text.contains("optout_send_seconds_count{provider=\"pushy\"} 3"),
            "{text}"
        );
        assert!(
            text.contains("optout_send_seconds_count{provider=\"hubspot\"} 0"),
            "{text}"
        );
        assert!(text.contains("optout_store_up 0"), "{text}");
    }
}
