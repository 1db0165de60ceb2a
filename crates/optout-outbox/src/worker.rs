//! The worker: claims due tasks under a lease, keeps the lease alive while it sends, and
//! records each result (receipt + close in one transaction, or a rescheduled or parked task).
//! No database transaction is open while a provider is called.
//!
//! Sending goes through the same engine as `optout bulk` ([`optout_core::engine`]): per
//! provider, bounded concurrency and the provider's batches (`unsubscribe_many`,
//! `batch_size`).

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use optout_core::{engine, Error as CoreError, Provider, Receipt, Unsubscribe, Unsubscriber};

use crate::model::{Failure, Lease, Task};
use crate::retry::next_attempt;
use crate::{Error, Store};

mod config;

pub use config::{Notify, RunSummary, WorkerConfig};

/// Sends due tasks through the configured clients.
#[derive(Debug, Clone)]
pub struct Worker {
    store: Arc<dyn Store>,
    clients: BTreeMap<Provider, Arc<dyn Unsubscriber>>,
    config: WorkerConfig,
    /// Whether the store's absence has been announced (one line per outage).
    store_down: Arc<AtomicBool>,
}

impl Worker {
    /// A worker over `store` sending through `clients` (one per provider; a later one for the
    /// same provider wins). Tasks of other providers are left for workers that have them.
    pub fn new(
        store: Arc<dyn Store>,
        clients: impl IntoIterator<Item = Arc<dyn Unsubscriber>>,
        config: WorkerConfig,
    ) -> Worker {
        let clients = clients.into_iter().map(|c| (c.provider(), c)).collect();
        Worker {
            store,
            clients,
            config,
            store_down: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Tasks per claim: the configured number, or enough for `concurrency` full batches of
    /// the client with the largest batch.
    fn claim_size(&self) -> usize {
        let batch = self
            .clients
            .values()
            .map(|c| c.batch_size())
            .max()
            .unwrap_or(1);
        self.config
            .claim
            .max(self.config.concurrency.saturating_mul(batch))
    }

    fn providers(&self) -> Vec<Provider> {
        self.clients.keys().copied().collect()
    }

    /// Claims one batch of due tasks and sends it; answers how many tasks were claimed.
    pub async fn tick(&self, summary: &mut RunSummary) -> Result<usize, Error> {
        let claimed = self.claim().await?;
        if claimed.tasks.is_empty() {
            return Ok(0);
        }
        self.send_claimed(claimed, summary).await
    }

    /// Claims one batch of due tasks; their leases are renewed (every third of the lease)
    /// from now until the batch is dropped, so a batch claimed ahead of its turn stays held.
    async fn claim(&self) -> Result<Claimed, Error> {
        let c = &self.config;
        let tasks = self
            .store
            .claim(&self.providers(), self.claim_size(), &c.owner, c.lease)
            .await?;
        let heartbeat = (!tasks.is_empty()).then(|| {
            let leases: Vec<Lease> = tasks.iter().map(|t| t.lease).collect();
            let (store, lease) = (self.store.clone(), c.lease);
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(lease / 3).await;
                    // A failed renewal is retried at the next beat; if the store stays away
                    // the lease runs out and the task is claimed again: nothing is lost.
                    let _ = store.renew(&leases, lease).await;
                }
            })
        });
        Ok(Claimed { tasks, heartbeat })
    }

    /// Sends a claimed batch and records every answer; answers how many tasks it held.
    async fn send_claimed(
        &self,
        mut claimed: Claimed,
        summary: &mut RunSummary,
    ) -> Result<usize, Error> {
        let tasks = std::mem::take(&mut claimed.tasks);
        let count = tasks.len();
        let mut by_provider: BTreeMap<Provider, Vec<Task>> = BTreeMap::new();
        for t in tasks {
            by_provider.entry(t.provider).or_default().push(t);
        }
        let results = futures_util::future::join_all(
            by_provider
                .into_iter()
                .map(|(provider, tasks)| self.send(self.clients[&provider].clone(), tasks)),
        )
        .await;
        drop(claimed); // stops the heartbeat: every task is recorded (or left to expire)
        let mut first_err = None;
        for r in results {
            match r {
                Ok(s) => {
                    summary.done += s.done;
                    summary.retried += s.retried;
                    summary.parked += s.parked;
                    summary.fenced += s.fenced;
                }
                Err(e) => first_err = first_err.or(Some(e)),
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(count),
        }
    }

    /// Sends a claimed batch and, while it is out, claims the next one (when this one was
    /// full, so more is likely due): the claim's round trip and commit overlap the provider
    /// calls. Answers what was sent and the batch claimed ahead (kept leased by its heartbeat).
    async fn send_and_claim_ahead(
        &self,
        claimed: Claimed,
        summary: &mut RunSummary,
    ) -> (Result<usize, Error>, Option<Claimed>) {
        let full = claimed.tasks.len() >= self.claim_size();
        let (sent, next) = tokio::join!(self.send_claimed(claimed, summary), async {
            if full {
                Some(self.claim().await)
            } else {
                None
            }
        });
        match next {
            Some(Ok(next)) if !next.tasks.is_empty() => (sent, Some(next)),
            Some(Err(e)) => (sent.and(Err(e)), None),
            _ => (sent, None),
        }
    }

    /// Sends one provider's tasks through the engine and records each answer as it comes.
    async fn send(
        &self,
        client: Arc<dyn Unsubscriber>,
        tasks: Vec<Task>,
    ) -> Result<RunSummary, Error> {
        let options = engine::Options::new()
            .concurrency(self.config.concurrency)
            // A refused credential parks each task on its own; the engine need not stop.
            .stop_after_refusals(0);
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        let mut engine = engine::Engine::start(client, &options, rx);
        let items = tasks
            .into_iter()
            .map(|t| engine::Item {
                request: Some(request(&t)),
                tag: t,
            })
            .collect();
        // The engine holds the receiver, so the one chunk always fits.
        let _ = tx.send(items).await;
        drop(tx);
        let mut summary = RunSummary::default();
        let mut failed = None;
        while let Some(mut answers) = engine.recv().await {
            if failed.is_some() {
                continue; // the store is away: these leases run out and are claimed again
            }
            // Every answer already handed over (the calls that ended while the last commit
            // ran) is closed with this one: group commit, no receipt waits for a later call.
            while let Some(Some(more)) = engine.recv().now_or_never() {
                answers.extend(more);
            }
            // The confirmed answers are closed in one transaction; failures and unsent items
            // one by one.
            let mut confirmed = Vec::with_capacity(answers.len());
            for sent in answers {
                match sent.answer {
                    Some(Ok(receipt)) => confirmed.push((sent.tag.lease, receipt)),
                    answer => {
                        if let Err(e) = self.record(&sent.tag, answer, &mut summary).await {
                            failed = Some(e);
                            break;
                        }
                    }
                }
            }
            if failed.is_none() && !confirmed.is_empty() {
                match self
                    .with_store_retries(|| self.store.complete_many(&confirmed))
                    .await
                {
                    Ok(closed) => {
                        let done = closed.iter().filter(|r| r.is_some()).count() as u64;
                        summary.done += done;
                        summary.fenced += closed.len() as u64 - done;
                    }
                    Err(e) => failed = Some(e),
                }
            }
        }
        engine.finish().await;
        match failed {
            Some(e) => Err(e),
            None => Ok(summary),
        }
    }

    async fn record(
        &self,
        task: &Task,
        answer: Option<Result<Receipt, CoreError>>,
        summary: &mut RunSummary,
    ) -> Result<(), Error> {
        let lease = task.lease;
        let recorded = match &answer {
            None => {
                // Nothing was sent for this one: due again now.
                self.store.release(lease).await?;
                return Ok(());
            }
            Some(Ok(receipt)) => {
                let r = self
                    .with_store_retries(|| self.store.complete(lease, receipt))
                    .await?;
                summary.done += u64::from(r.is_some());
                r.is_some()
            }
            Some(Err(e)) => {
                let what = next_attempt(
                    e,
                    lease.attempt.clamp(1, i64::from(u32::MAX)) as u32,
                    self.store.now(),
                    &self.config.backoff,
                    fastrand::f64(),
                );
                let text = e.to_string();
                let r = self
                    .with_store_retries(|| self.store.fail(lease, &text, what))
                    .await?;
                if r {
                    match what {
                        Failure::Park => summary.parked += 1,
                        Failure::RetryAt(_) => summary.retried += 1,
                    }
                }
                r
            }
        };
        summary.fenced += u64::from(!recorded);
        Ok(())
    }

    /// Records a result the provider already gave: worth a few tries while the lease lasts.
    async fn with_store_retries<T, F, Fut>(&self, mut f: F) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let mut wait = Duration::from_millis(100);
        let mut spent = Duration::ZERO;
        loop {
            match f().await {
                Ok(v) => {
                    self.store_up();
                    return Ok(v);
                }
                Err(e) if spent + wait >= self.config.lease => return Err(e),
                Err(e) => {
                    self.store_down(&e);
                    tokio::time::sleep(wait).await;
                    spent += wait;
                    wait = (wait * 2).min(Duration::from_secs(2));
                }
            }
        }
    }

    /// Sends until nothing of this worker's providers is pending or in flight (waiting for
    /// retries that are due later), then answers what it did.
    pub async fn run_until_idle(&self) -> Result<RunSummary, Error> {
        self.run_loop(true, std::future::pending::<()>()).await
    }

    /// [`run_until_idle`](Self::run_until_idle), or until `shutdown` completes (the batch in
    /// flight then finishes).
    pub async fn run_until_idle_or(
        &self,
        shutdown: impl Future<Output = ()>,
    ) -> Result<RunSummary, Error> {
        self.run_loop(true, shutdown).await
    }

    /// Sends until `shutdown` completes; the batch in flight then finishes and nothing more
    /// is claimed.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) -> Result<RunSummary, Error> {
        self.run_loop(false, shutdown).await
    }

    async fn run_loop(
        &self,
        until_idle: bool,
        shutdown: impl Future<Output = ()>,
    ) -> Result<RunSummary, Error> {
        let mut shutdown = std::pin::pin!(shutdown);
        let mut stopped = false;
        let mut summary = RunSummary::default();
        let mut backoff = Duration::from_millis(250);
        let providers = self.providers();
        // A batch claimed while the previous one was being sent (see send_and_claim_ahead).
        let mut ahead: Option<Claimed> = None;
        loop {
            if !stopped && shutdown.as_mut().now_or_never().is_some() {
                stopped = true;
            }
            if stopped {
                break;
            }
            let mut sleep_for = Duration::ZERO;
            let claimed = match ahead.take() {
                Some(c) => Ok(c),
                None => self.claim().await,
            };
            let result = match claimed {
                Err(e) => Err(e),
                Ok(c) if c.tasks.is_empty() => Ok(0),
                Ok(c) => {
                    let (sent, next) = self.send_and_claim_ahead(c, &mut summary).await;
                    ahead = next;
                    sent
                }
            };
            match result {
                Ok(n) => {
                    self.store_up();
                    backoff = Duration::from_millis(250);
                    if n == 0 {
                        match self.store.next_due(&providers).await {
                            Ok(None) if until_idle => break,
                            Ok(None) => sleep_for = self.config.poll,
                            Ok(Some(t)) => {
                                let now = self.store.now();
                                sleep_for = t
                                    .duration_since(now)
                                    .unwrap_or(Duration::ZERO)
                                    .min(self.config.poll)
                                    .max(Duration::from_millis(20));
                            }
                            Err(e) => {
                                self.store_down(&e);
                                sleep_for = backoff;
                                backoff = (backoff * 2).min(Duration::from_secs(5));
                            }
                        }
                    }
                }
                Err(e @ Error::Store { .. }) => {
                    self.store_down(&e);
                    sleep_for = backoff;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
                Err(e) => return Err(e),
            }
            if !sleep_for.is_zero() {
                tokio::select! {
                    _ = tokio::time::sleep(sleep_for) => {}
                    _ = shutdown.as_mut() => stopped = true,
                }
            }
        }
        if let Some(c) = ahead.take() {
            // Stopped with a batch claimed ahead: hand it back (due again now). Should the
            // store be away, its leases simply run out: nothing is lost either way.
            for t in &c.tasks {
                if self.store.release(t.lease).await.is_err() {
                    break;
                }
            }
        }
        self.finish(summary).await
    }

    /// Says once per outage that the store is away.
    fn store_down(&self, e: &Error) {
        if !self.store_down.swap(true, Ordering::SeqCst) {
            self.say(&format!("{e}; waiting for it (nothing is lost)"));
        }
    }

    /// Says that the store is back, if it had been away.
    fn store_up(&self) {
        if self.store_down.swap(false, Ordering::SeqCst) {
            self.say("store reachable again; resuming");
        }
    }

    fn say(&self, line: &str) {
        match &self.config.notify {
            Some(f) => f(line),
            None => tracing::warn!("{line}"),
        }
    }

    async fn finish(&self, mut summary: RunSummary) -> Result<RunSummary, Error> {
        let counts = self.store.counts().await?;
        summary.needs_attention = counts.total.needs_attention;
        summary.unserved = counts
            .providers
            .iter()
            .filter(|(p, _)| !self.clients.contains_key(p))
            .map(|(_, c)| c.pending + c.in_flight)
            .sum();
        Ok(summary)
    }
}

/// Claimed tasks and the heartbeat that renews their leases until the batch is dropped.
struct Claimed {
    tasks: Vec<Task>,
    heartbeat: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Claimed {
    fn drop(&mut self) {
        if let Some(h) = &self.heartbeat {
            h.abort();
        }
    }
}

/// The request a task stands for.
fn request(t: &Task) -> Unsubscribe {
    let r = Unsubscribe::new(t.recipient.clone(), t.topics.clone());
    match &t.legal_basis {
        Some((basis, text)) => r.legal_basis(*basis, text.clone()),
        None => r,
    }
}
