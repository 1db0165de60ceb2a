//! Group commit ([`GroupCommit`]) over every store. Which accepts share a transaction is made
//! certain, not left to timing: a [`Gated`] store holds each `accept_many` until the test lets
//! it through, so the test can queue exactly the batch it wants behind it.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use optout_core::{Provider, Receipt};
use optout_outbox::{
    Accepted, Deadlines, Error, Failure, GroupCommit, Lease, OptOut, OptOutStatus, Outbox,
    ReceiptQuery, ReceiptRecord, StatusCounts, Store, Task, Verification,
};
use tokio::sync::Semaphore;

use super::{hubspot, Backend};

/// A store whose `accept_many` waits for a permit, records its batch size, and fails when
/// told to (after the permit, without touching the real store).
#[derive(Debug)]
struct Gated {
    inner: Arc<dyn Store>,
    gate: Semaphore,
    entered: AtomicUsize,
    fail: AtomicBool,
    batches: Mutex<Vec<usize>>,
}

impl Gated {
    fn new(inner: Arc<dyn Store>) -> Arc<Gated> {
        Arc::new(Gated {
            inner,
            gate: Semaphore::new(0),
            entered: AtomicUsize::new(0),
            fail: AtomicBool::new(false),
            batches: Mutex::new(Vec::new()),
        })
    }
}

#[async_trait]
impl Store for Gated {
    async fn accept_many(
        &self,
        opt_outs: &[OptOut],
        deadlines: &Deadlines,
    ) -> Result<Vec<Accepted>, Error> {
        self.entered.fetch_add(1, SeqCst);
        self.gate.acquire().await.unwrap().forget();
        self.batches.lock().unwrap().push(opt_outs.len());
        if self.fail.load(SeqCst) {
            return Err(Error::Store {
                store: "gated".into(),
                message: "disk I/O error".into(),
            });
        }
        self.inner.accept_many(opt_outs, deadlines).await
    }
    async fn claim(
        &self,
        p: &[Provider],
        n: usize,
        o: &str,
        l: Duration,
    ) -> Result<Vec<Task>, Error> {
        self.inner.claim(p, n, o, l).await
    }
    async fn renew(&self, leases: &[Lease], lease: Duration) -> Result<usize, Error> {
        self.inner.renew(leases, lease).await
    }
    async fn complete(&self, t: &Task, r: &Receipt) -> Result<Option<ReceiptRecord>, Error> {
        self.inner.complete(t, r).await
    }
    async fn fail(&self, l: Lease, e: &str, w: Failure) -> Result<bool, Error> {
        self.inner.fail(l, e, w).await
    }
    async fn release(&self, l: Lease) -> Result<bool, Error> {
        self.inner.release(l).await
    }
    async fn retry(&self, id: Option<&str>) -> Result<u64, Error> {
        self.inner.retry(id).await
    }
    async fn status(&self, id: &str) -> Result<Option<OptOutStatus>, Error> {
        self.inner.status(id).await
    }
    async fn counts(&self) -> Result<StatusCounts, Error> {
        self.inner.counts().await
    }
    async fn next_due(&self, p: &[Provider]) -> Result<Option<SystemTime>, Error> {
        self.inner.next_due(p).await
    }
    async fn receipts(&self, q: &ReceiptQuery) -> Result<Vec<ReceiptRecord>, Error> {
        self.inner.receipts(q).await
    }
    async fn verify(&self) -> Result<Verification, Error> {
        self.inner.verify().await
    }
}

/// Waits (yielding, no deadline) until `cond` holds.
async fn until(mut cond: impl FnMut() -> bool) {
    while !cond() {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

type Pending = tokio::task::JoinHandle<Result<Accepted, Error>>;

/// A group commit over a gated `b.store`, with a first accept (`first@example.com`) already
/// held inside `accept_many`, so that whatever is queued next forms the second batch.
async fn held(b: &Backend) -> (Arc<Gated>, GroupCommit, Pending) {
    let gated = Gated::new(b.store.clone());
    let group = GroupCommit::new(gated.clone(), Deadlines::default(), 64);
    let g = group.clone();
    let first = tokio::spawn(async move { g.accept(hubspot("first@example.com")).await });
    until(|| gated.entered.load(SeqCst) == 1).await;
    (gated, group, first)
}

/// Queues each opt-out (in order) behind the held batch; answers their pending accepts.
async fn queue(group: &GroupCommit, opt_outs: Vec<OptOut>) -> Vec<Pending> {
    queue_more(group, opt_outs, 0).await
}

pub async fn group_commit_answers_every_concurrent_accept_once_committed(b: &Backend) {
    let outbox = Outbox::new(b.store.clone()).group_commit(16);
    let mut pending = Vec::new();
    for i in 0..200 {
        let o = outbox.clone();
        pending.push(tokio::spawn(async move {
            o.accept(&hubspot(&format!("p{i}@example.com"))).await
        }));
    }
    let mut ids = HashSet::new();
    for p in pending {
        let a = p.await.unwrap().unwrap();
        assert!(a.created);
        assert_eq!(a.deadlines.len(), 1);
        // Answered, so committed: readable at once, from another handle too.
        assert_eq!(b.store.status(&a.id).await.unwrap().unwrap().tasks.len(), 1);
        ids.insert(a.id);
    }
    assert_eq!(ids.len(), 200);
    assert_eq!(b.store.counts().await.unwrap().total.pending, 200);
}

pub async fn group_commit_commits_what_queued_together_in_one_transaction(b: &Backend) {
    let (gated, group, first) = held(b).await;
    let pending = queue(
        &group,
        (0..5)
            .map(|i| hubspot(&format!("q{i}@example.com")))
            .collect(),
    )
    .await;
    gated.gate.add_permits(2);
    assert!(first.await.unwrap().unwrap().created);
    for p in pending {
        assert!(p.await.unwrap().unwrap().created);
    }
    assert_eq!(*gated.batches.lock().unwrap(), [1, 5]);
    assert_eq!(b.store.counts().await.unwrap().total.pending, 6);
}

pub async fn group_commit_gives_a_key_repeated_in_one_batch_the_first_id(b: &Backend) {
    let (gated, group, first) = held(b).await;
    let pending = queue(
        &group,
        vec![
            hubspot("a@example.com").idempotency_key("k-1"),
            hubspot("b@example.com"),
            hubspot("a@example.com").idempotency_key("k-1"),
        ],
    )
    .await;
    gated.gate.add_permits(2);
    first.await.unwrap().unwrap();
    let mut answers = Vec::new();
    for p in pending {
        answers.push(p.await.unwrap().unwrap());
    }
    assert_eq!(*gated.batches.lock().unwrap(), [1, 3]);
    assert!(answers[0].created && answers[1].created && !answers[2].created);
    assert_eq!(answers[0].id, answers[2].id);
    assert_eq!(answers[0].deadlines, answers[2].deadlines);
    // And across batches: the key again, alone, answers the same first id.
    gated.gate.add_permits(1);
    let again = group
        .accept(hubspot("a@example.com").idempotency_key("k-1"))
        .await
        .unwrap();
    assert_eq!(
        (again.id.as_str(), again.created),
        (answers[0].id.as_str(), false)
    );
    assert_eq!(b.store.counts().await.unwrap().total.pending, 3);
}

pub async fn group_commit_refuses_an_invalid_opt_out_alone(b: &Backend) {
    let (gated, group, first) = held(b).await;
    let mut pending = queue(&group, vec![hubspot("a@example.com")]).await;
    // Refused at once, before it joins the batch: the store is still held.
    let refused = group
        .accept(OptOut::default().email("no-topics@example.com"))
        .await
        .unwrap_err();
    assert!(matches!(refused, Error::Invalid(_)), "{refused:?}");
    pending.extend(queue_more(&group, vec![hubspot("b@example.com")], 1).await);
    gated.gate.add_permits(2);
    first.await.unwrap().unwrap();
    for p in pending {
        assert!(p.await.unwrap().unwrap().created);
    }
    assert_eq!(*gated.batches.lock().unwrap(), [1, 2]);
    assert_eq!(b.store.counts().await.unwrap().total.pending, 3);
}

/// As [`queue`], with `already` accepts queued before.
async fn queue_more(group: &GroupCommit, opt_outs: Vec<OptOut>, already: usize) -> Vec<Pending> {
    let mut pending = Vec::new();
    for (n, o) in opt_outs.into_iter().enumerate() {
        let g = group.clone();
        pending.push(tokio::spawn(async move { g.accept(o).await }));
        until(|| group.queued() == already + n + 1).await;
    }
    pending
}

pub async fn group_commit_fails_every_caller_of_a_failed_batch(b: &Backend) {
    let (gated, group, first) = held(b).await;
    let pending = queue(
        &group,
        (0..4)
            .map(|i| hubspot(&format!("f{i}@example.com")).idempotency_key(format!("f-{i}")))
            .collect(),
    )
    .await;
    gated.gate.add_permits(1);
    first.await.unwrap().unwrap();
    until(|| gated.entered.load(SeqCst) == 2).await;
    gated.fail.store(true, SeqCst);
    gated.gate.add_permits(1);
    for p in pending {
        let e = p.await.unwrap().unwrap_err();
        assert!(
            matches!(&e, Error::Store { message, .. } if message == "disk I/O error"),
            "{e:?}"
        );
    }
    assert_eq!(*gated.batches.lock().unwrap(), [1, 4]);
    assert_eq!(b.store.counts().await.unwrap().total.pending, 1);
    // The next batch is tried afresh, and the same keys now go in.
    gated.fail.store(false, SeqCst);
    gated.gate.add_permits(1);
    let a = group
        .accept(hubspot("f0@example.com").idempotency_key("f-0"))
        .await
        .unwrap();
    assert!(a.created);
    assert_eq!(b.store.counts().await.unwrap().total.pending, 2);
}
