//! The worker: claims due tasks under a lease, keeps the lease alive while it sends, and
//! records each result (receipt + close in one transaction, or a rescheduled or parked task).
//! No database transaction is open while a provider is called.
//!
//! Sending goes through the same engine as `optout bulk` ([`optout_core::engine`]): per
//! provider, bounded concurrency and the provider's batches (`unsubscribe_many`,
//! `batch_size`).

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use optout_core::engine::{self, Engine};
use optout_core::{Error as CoreError, Provider, Unsubscribe, Unsubscriber};
use tokio::sync::{mpsc, watch};

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

    /// The engine that sends one provider's tasks: `concurrency` calls at once, the
    /// provider's batches. A refused credential parks each task on its own, so it never stops
    /// by itself.
    fn engine(
        &self,
        provider: Provider,
        items: mpsc::Receiver<Vec<engine::Item<Task>>>,
    ) -> Engine<Task> {
        let options = engine::Options::new()
            .concurrency(self.config.concurrency)
            .stop_after_refusals(0);
        Engine::start(self.clients[&provider].clone(), &options, items)
    }

    /// Claims one batch of due tasks, sends it and records every answer; answers how many
    /// tasks were claimed.
    pub async fn tick(&self, summary: &mut RunSummary) -> Result<usize, Error> {
        let tasks = self.claim().await?;
        let count = tasks.len();
        if count == 0 {
            return Ok(0);
        }
        let held = Held::new(HashMap::new());
        hold(&held, &tasks);
        let _beat = Heartbeat::start(self.store.clone(), &held, self.config.lease);
        let stop = watch::Sender::new(false);
        let recorders = by_provider(tasks).into_iter().map(|(provider, items)| {
            let (tx, rx) = mpsc::channel(1);
            // The engine holds the receiver, so the one chunk always fits.
            let _ = tx.try_send(items);
            self.record_all(self.engine(provider, rx), &held, &stop)
        });
        let mut first_err = None;
        for (s, err) in futures_util::future::join_all(recorders).await {
            summary.add(&s);
            first_err = first_err.or(err);
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(count),
        }
    }

    /// Claims up to a claim's worth of due tasks of this worker's providers. A task of
    /// another provider, which a store should not answer, is handed back rather than sent.
    async fn claim(&self) -> Result<Vec<Task>, Error> {
        let c = &self.config;
        let tasks = self
            .store
            .claim(&self.providers(), self.claim_size(), &c.owner, c.lease)
            .await?;
        let (served, stray): (Vec<Task>, Vec<Task>) = tasks
            .into_iter()
            .partition(|t| self.clients.contains_key(&t.provider));
        for t in stray {
            // If the store is away its lease runs out instead.
            let _ = self.store.release(t.lease).await;
        }
        Ok(served)
    }

    /// Records every answer of `engine` as it comes, until its input ends: the confirmed
    /// answers handed over together closed in one transaction (group commit: no receipt waits
    /// for a later call), failures and unsent tasks one by one; each recorded task leaves
    /// `held`. A store that stays away longer than a lease costs those answers (their leases
    /// run out and the tasks are claimed again: nothing is lost) and recording goes on with
    /// the next ones; any other error stops everything (`stop`). Answers what it recorded and
    /// the first error.
    async fn record_all(
        &self,
        mut engine: Engine<Task>,
        held: &Held,
        stop: &watch::Sender<bool>,
    ) -> (RunSummary, Option<Error>) {
        let mut summary = RunSummary::default();
        let mut first_err = None;
        let mut fatal = false;
        let mut stopping = stop.subscribe();
        let mut stopped = false;
        loop {
            let answers = tokio::select! {
                answers = engine.recv() => answers,
                () = until_set(&mut stopping), if !stopped => {
                    // Calls in flight finish; tasks not yet sent come back unsent (released).
                    engine.stop();
                    stopped = true;
                    continue;
                }
            };
            let Some(mut answers) = answers else { break };
            // Every answer already handed over (the calls that ended while the last commit
            // ran) is closed with this one.
            while let Some(Some(more)) = engine.recv().now_or_never() {
                answers.extend(more);
            }
            let ids: Vec<i64> = answers.iter().map(|s| s.tag.lease.task_id).collect();
            if !fatal {
                if let Err(e) = self.record_answers(answers, &mut summary).await {
                    if !matches!(e, Error::Store { .. }) {
                        fatal = true;
                        stop.send_replace(true);
                    }
                    first_err.get_or_insert(e);
                }
            }
            held.send_modify(|h| {
                for id in ids {
                    h.remove(&id);
                }
            });
        }
        engine.finish().await;
        (summary, first_err)
    }

    /// Records one group of answers: the confirmed ones closed with their receipts in one
    /// transaction, the rest one by one.
    async fn record_answers(
        &self,
        answers: Vec<engine::Sent<Task>>,
        summary: &mut RunSummary,
    ) -> Result<(), Error> {
        let mut confirmed = Vec::with_capacity(answers.len());
        for sent in answers {
            match sent.answer {
                Some(Ok(receipt)) => confirmed.push((sent.tag, receipt)),
                Some(Err(e)) => {
                    self.record_unconfirmed(&sent.tag, Some(&e), summary)
                        .await?
                }
                None => self.record_unconfirmed(&sent.tag, None, summary).await?,
            }
        }
        if !confirmed.is_empty() {
            let closed = self
                .with_store_retries(|| self.store.complete_many(&confirmed))
                .await?;
            let done = closed.iter().filter(|r| r.is_some()).count() as u64;
            summary.done += done;
            summary.fenced += closed.len() as u64 - done;
        }
        Ok(())
    }

    /// Records an answer that confirmed nothing: the provider's error (the task is
    /// rescheduled or parked, per the retry policy) or, `None`, no call at all (the task is
    /// handed back, due now). Confirmed answers are closed together by `record_answers`.
    async fn record_unconfirmed(
        &self,
        task: &Task,
        error: Option<&CoreError>,
        summary: &mut RunSummary,
    ) -> Result<(), Error> {
        let lease = task.lease;
        let Some(e) = error else {
            self.store.release(lease).await?;
            return Ok(());
        };
        let what = next_attempt(
            e,
            lease.attempt.clamp(1, i64::from(u32::MAX)) as u32,
            self.store.now(),
            &self.config.backoff,
            fastrand::f64(),
        );
        let text = e.to_string();
        let recorded = self
            .with_store_retries(|| self.store.fail(lease, &text, what))
            .await?;
        match (recorded, what) {
            (false, _) => summary.fenced += 1,
            (true, Failure::Park) => summary.parked += 1,
            (true, Failure::RetryAt(_)) => summary.retried += 1,
        }
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

    /// [`run_until_idle`](Self::run_until_idle), or until `shutdown` completes (the calls in
    /// flight then finish and are recorded; tasks claimed but not yet sent are handed back).
    pub async fn run_until_idle_or(
        &self,
        shutdown: impl Future<Output = ()>,
    ) -> Result<RunSummary, Error> {
        self.run_loop(true, shutdown).await
    }

    /// Sends until `shutdown` completes; the calls in flight then finish and are recorded,
    /// tasks claimed but not yet sent are handed back (due again now), and nothing more is
    /// claimed.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) -> Result<RunSummary, Error> {
        self.run_loop(false, shutdown).await
    }

    /// The run: one engine per provider for the whole run, fed by [`feed`](Self::feed) and
    /// recorded by [`record_all`](Self::record_all), all three at once. Claims, provider
    /// calls and closes overlap: nothing waits for a whole batch to be recorded before the
    /// next is sent.
    async fn run_loop(
        &self,
        until_idle: bool,
        shutdown: impl Future<Output = ()>,
    ) -> Result<RunSummary, Error> {
        let held = Held::new(HashMap::new());
        let _beat = Heartbeat::start(self.store.clone(), &held, self.config.lease);
        let stop = watch::Sender::new(false);
        let mut inputs = BTreeMap::new();
        let mut recorders = Vec::with_capacity(self.clients.len());
        for &provider in self.clients.keys() {
            // At most two claims are held, so two chunks per provider always fit.
            let (tx, rx) = mpsc::channel(2);
            inputs.insert(provider, tx);
            recorders.push(self.record_all(self.engine(provider, rx), &held, &stop));
        }
        let (fed, recorded) = tokio::join!(
            self.feed(until_idle, shutdown, inputs, &held, &stop),
            futures_util::future::join_all(recorders)
        );
        let mut summary = RunSummary::default();
        let mut fatal = fed.err();
        for (s, err) in recorded {
            summary.add(&s);
            // A store that stayed away was announced, and its tasks' leases run out.
            if let Some(e) = err.filter(|e| !matches!(e, Error::Store { .. })) {
                fatal = fatal.or(Some(e));
            }
        }
        match fatal {
            Some(e) => Err(e),
            None => self.finish(summary).await,
        }
    }

    /// Claims due tasks and hands them to the providers' engines, holding at most two
    /// claims' worth at once (the one being sent and the next), until `shutdown` (or an error
    /// that is not the store's absence), or, `until_idle`, until nothing of this worker's
    /// providers is pending or in flight. Dropping `inputs` on return ends the engines' input.
    async fn feed(
        &self,
        until_idle: bool,
        shutdown: impl Future<Output = ()>,
        inputs: BTreeMap<Provider, Input>,
        held: &Held,
        stop: &watch::Sender<bool>,
    ) -> Result<(), Error> {
        let mut shutdown = std::pin::pin!(shutdown);
        let mut stopping = stop.subscribe();
        let mut held_now = held.subscribe();
        let size = self.claim_size();
        let providers = self.providers();
        let c = &self.config;
        let mut backoff = Duration::from_millis(250);
        loop {
            tokio::select! {
                biased;
                () = shutdown.as_mut() => break,
                () = until_set(&mut stopping) => return Ok(()),
                _ = held_now.wait_for(|h| h.len() <= size) => {}
            }
            // How long to sleep: `Some` when nothing is due, `None` when the store is away.
            let idle = match self.claim().await {
                Ok(tasks) if !tasks.is_empty() => {
                    self.store_up();
                    backoff = Duration::from_millis(250);
                    hold(held, &tasks);
                    for (provider, items) in by_provider(tasks) {
                        // Every task's provider has an engine (`claim`), which only goes
                        // away when the run ends.
                        if let Some(input) = inputs.get(&provider) {
                            let _ = input.send(items).await;
                        }
                    }
                    continue;
                }
                Ok(_) if !held.borrow().is_empty() => {
                    // Nothing more is due yet; what is out may be rescheduled soon.
                    tokio::select! {
                        () = shutdown.as_mut() => break,
                        _ = held_now.changed() => {}
                        () = tokio::time::sleep(c.poll) => {}
                    }
                    continue;
                }
                Ok(_) => match self.store.next_due(&providers).await {
                    Ok(None) if until_idle => return Ok(()),
                    Ok(None) => Some(c.poll),
                    Ok(Some(t)) => Some(
                        t.duration_since(self.store.now())
                            .unwrap_or(Duration::ZERO)
                            .min(c.poll)
                            .max(Duration::from_millis(20)),
                    ),
                    Err(e) => {
                        self.store_down(&e);
                        None
                    }
                },
                Err(e @ Error::Store { .. }) => {
                    self.store_down(&e);
                    None
                }
                Err(e) => {
                    stop.send_replace(true);
                    return Err(e);
                }
            };
            let sleep_for = match idle {
                Some(idle) => {
                    self.store_up();
                    backoff = Duration::from_millis(250);
                    idle
                }
                None => {
                    // The store is away: wait longer each time, up to 5 s.
                    let away = backoff;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    away
                }
            };
            tokio::select! {
                () = tokio::time::sleep(sleep_for) => {}
                () = shutdown.as_mut() => break,
            }
        }
        // Shut down: calls in flight finish and are recorded, tasks not yet sent are released.
        stop.send_replace(true);
        Ok(())
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

/// The channel that feeds one provider's engine.
type Input = mpsc::Sender<Vec<engine::Item<Task>>>;

/// The leases a worker holds (claimed, not yet recorded), by task: the heartbeat renews them,
/// the claimer keeps their number within two claims.
type Held = watch::Sender<HashMap<i64, Lease>>;

/// Adds the leases of newly claimed tasks to `held`.
fn hold(held: &Held, tasks: &[Task]) {
    held.send_modify(|h| h.extend(tasks.iter().map(|t| (t.lease.task_id, t.lease))));
}

/// The claimed tasks as their engines' items, by provider.
fn by_provider(tasks: Vec<Task>) -> BTreeMap<Provider, Vec<engine::Item<Task>>> {
    let mut by: BTreeMap<Provider, Vec<engine::Item<Task>>> = BTreeMap::new();
    for t in tasks {
        by.entry(t.provider).or_default().push(engine::Item {
            request: Some(request(&t)),
            tag: t,
        });
    }
    by
}

/// Resolves once `flag` is set; never if its sender is gone unset.
async fn until_set(flag: &mut watch::Receiver<bool>) {
    if flag.wait_for(|set| *set).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Renews every lease held, every third of the lease, until dropped: a task claimed ahead of
/// its turn, or waiting on a slow provider, stays held.
struct Heartbeat(tokio::task::JoinHandle<()>);

impl Heartbeat {
    fn start(store: Arc<dyn Store>, held: &Held, lease: Duration) -> Heartbeat {
        let held = held.subscribe();
        Heartbeat(tokio::spawn(async move {
            loop {
                tokio::time::sleep(lease / 3).await;
                let leases: Vec<Lease> = held.borrow().values().copied().collect();
                // A failed renewal is retried at the next beat; if the store stays away the
                // leases run out and the tasks are claimed again: nothing is lost.
                if !leases.is_empty() {
                    let _ = store.renew(&leases, lease).await;
                }
            }
        }))
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.0.abort();
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
