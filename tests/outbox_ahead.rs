//! The worker claims its next batch while the current one is out: the batch claimed ahead
//! stays leased (renewed) however long the current one takes, and a worker killed while it
//! holds both loses nothing: the leases run out and another worker sends every task once.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use optout::outbox::{Backoff, OptOut, Outbox, ReceiptQuery, Worker, WorkerConfig};
use optout::providers::pushy::Pushy;
use optout::{
    async_trait, Error, Provider, Receipt, RetryPolicy, Topics, Unsubscribe, Unsubscriber,
};
use optout_sandbox::{Api, Sandbox};

/// Pushy, but every call waits for the gate to open (one request per call).
#[derive(Debug)]
struct Gated {
    inner: Arc<dyn Unsubscriber>,
    gate: Arc<tokio::sync::Semaphore>,
    calls: Arc<AtomicUsize>,
}

#[async_trait]
impl Unsubscriber for Gated {
    fn provider(&self) -> Provider {
        self.inner.provider()
    }

    async fn unsubscribe(&self, request: &Unsubscribe) -> Result<Receipt, Error> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        drop(self.gate.acquire().await.expect("gate open"));
        self.inner.unsubscribe(request).await
    }
}

fn pushy(base: &str) -> Arc<dyn Unsubscriber> {
    Arc::new(
        Pushy::builder()
            .api_key("k")
            .base_url(base)
            .retry_policy(RetryPolicy::none())
            .build()
            .unwrap(),
    )
}

fn config(lease: Duration) -> WorkerConfig {
    let mut c = WorkerConfig::default()
        .concurrency(1)
        .lease(lease)
        .poll(Duration::from_millis(50))
        .backoff(Backoff {
            initial: Duration::from_millis(1),
            max: Duration::from_millis(20),
            max_retry_after: Duration::from_millis(20),
        });
    c.claim = 10;
    c
}

async fn until(mut cond: impl FnMut() -> bool) {
    for _ in 0..6000 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition never held");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_claimed_ahead_stay_leased_and_a_killed_worker_loses_none() {
    const TASKS: usize = 30; // three claims of 10
    let lease = Duration::from_millis(900);
    let sandbox = Sandbox::builder().start().await.unwrap();
    let base = sandbox.base_url();
    let dir = std::env::temp_dir().join(format!("optout-ahead-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let outbox = Outbox::open(&format!("sqlite:{}", dir.join("o.db").display()))
        .await
        .unwrap();
    for i in 0..TASKS {
        let o = OptOut::default()
            .device(format!("device-{i}"))
            .topics(Provider::Pushy, Topics::one("news"))
            .source("ahead test");
        outbox.accept(&o).await.unwrap();
    }

    // The first call never returns: the worker holds its batch of 10 and one claimed ahead.
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let calls = Arc::new(AtomicUsize::new(0));
    let gated: Arc<dyn Unsubscriber> = Arc::new(Gated {
        inner: pushy(&base),
        gate: gate.clone(),
        calls: calls.clone(),
    });
    let stuck = Worker::new(outbox.store(), [gated], config(lease));
    let run = tokio::spawn(async move { stuck.run_until_idle().await });
    until(|| calls.load(Ordering::SeqCst) > 0).await;
    for _ in 0..6000 {
        if outbox.counts().await.unwrap().total.in_flight == 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(outbox.counts().await.unwrap().total.in_flight, 20);

    // Three leases' time later, both batches are still held: another owner gets only the
    // last ten (without renewal it would get all thirty).
    tokio::time::sleep(lease * 3).await;
    let store = outbox.store();
    let other = store
        .claim(&[Provider::Pushy], TASKS, "other", Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(other.len(), 10, "the worker's leases were renewed");
    for t in &other {
        assert!(store.release(t.lease).await.unwrap());
    }

    // Killed with both batches held (nothing released, no heartbeat any more).
    run.abort();
    assert!(run.await.unwrap_err().is_cancelled());
    assert_eq!(outbox.counts().await.unwrap().total.in_flight, 20);

    // Once the leases run out, another worker sends every task once.
    let next = Worker::new(outbox.store(), [pushy(&base)], config(lease));
    let summary = tokio::time::timeout(Duration::from_secs(120), next.run_until_idle())
        .await
        .expect("the second worker finishes")
        .unwrap();
    assert_eq!(summary.done, TASKS as u64, "{summary:?}");
    let counts = outbox.counts().await.unwrap();
    assert_eq!(counts.total.done, TASKS as u64, "{counts:?}");
    let receipts = outbox.receipts(&ReceiptQuery::default()).await.unwrap();
    let unique: HashSet<i64> = receipts.iter().map(|r| r.task_id).collect();
    assert_eq!((receipts.len(), unique.len()), (TASKS, TASKS));
    for i in 0..TASKS {
        assert!(!sandbox.is_subscribed(Api::Pushy, &format!("device-{i}"), "news"));
    }
    drop(gate); // the stuck call's sender may still wait on it: left as it is
    sandbox.shutdown().await.unwrap();
    std::fs::remove_dir_all(dir).unwrap();
}
