//! The one conformance suite every store passes: plain async functions over a [`Backend`],
//! stamped once per backend by `conformance!` in `tests/stores.rs`. Lease expiry and due
//! retries are simulated by moving times into the past with SQL, never by sleeping.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use optout_core::{LegalBasis, Outcome, Provider, Receipt, Recipient, Topics};
use optout_outbox::{Deadlines, Failure, OptOut, ReceiptQuery, Store, TaskState};
use sqlx::AnyPool;

mod group;
pub use group::*;

/// A store under test, with a raw connection to tamper with it.
pub struct Backend {
    pub store: Arc<dyn Store>,
    pub raw: AnyPool,
    pub postgres: bool,
    pub cleanup: Option<Box<dyn FnOnce() + Send>>,
}

impl Drop for Backend {
    fn drop(&mut self) {
        if let Some(f) = self.cleanup.take() {
            f();
        }
    }
}

impl Backend {
    async fn exec(&self, sql: &str) {
        sqlx::raw_sql(sql).execute(&self.raw).await.unwrap();
    }

    async fn try_exec(&self, sql: &str) -> Result<(), sqlx::Error> {
        sqlx::raw_sql(sql).execute(&self.raw).await.map(|_| ())
    }

    /// Makes every lease and every scheduled retry due now.
    async fn time_passes(&self) {
        self.exec("UPDATE tasks SET lease_until = 0 WHERE lease_until IS NOT NULL")
            .await;
        self.exec("UPDATE tasks SET next_attempt_at = 0 WHERE state = 'pending'")
            .await;
    }

    async fn allow_tampering(&self) {
        if self.postgres {
            self.exec("ALTER TABLE receipts DISABLE TRIGGER receipts_append_only")
                .await;
        } else {
            self.exec("DROP TRIGGER receipts_no_update; DROP TRIGGER receipts_no_delete")
                .await;
        }
    }
}

const ALL: [Provider; 5] = Provider::ALL;
const LEASE: Duration = Duration::from_secs(30);

fn alice() -> OptOut {
    OptOut::default()
        .email("alice@example.com")
        .phone("+254 700 000000")
        .topics(Provider::HubSpot, Topics::one("123"))
        .topics(Provider::Mobivate, Topics::one("camp-1"))
        .legal_basis(LegalBasis::ConsentWithNotice, "clicked unsubscribe")
        .source("test")
}

fn hubspot(email: &str) -> OptOut {
    OptOut::default()
        .email(email)
        .topics(Provider::HubSpot, Topics::one("123"))
}

fn receipt_for(task: &optout_outbox::Task) -> Receipt {
    Receipt::new(
        task.provider,
        task.recipient.clone(),
        task.topics.clone(),
        Outcome::Unsubscribed,
        Some(format!("ref-{}", task.lease.task_id)),
    )
}

pub async fn accept_commits_one_task_per_provider_with_its_deadline(b: &Backend) {
    let received = SystemTime::now() - Duration::from_secs(3600);
    let a = b
        .store
        .accept(&alice().received_at(received), &Deadlines::default())
        .await
        .unwrap();
    assert!(a.created);
    assert_eq!(a.deadlines.len(), 2);
    let ms = |t: SystemTime| {
        t.duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_millis()
    };
    assert_eq!(ms(a.received_at), ms(received));
    let hub = a
        .deadlines
        .iter()
        .find(|d| d.provider == Provider::HubSpot)
        .unwrap();
    assert_eq!(
        ms(hub.deadline),
        ms(received + Duration::from_secs(48 * 3600))
    );
    let sms = a
        .deadlines
        .iter()
        .find(|d| d.provider == Provider::Mobivate)
        .unwrap();
    assert!(sms.deadline >= received + Duration::from_secs(12 * 86_400));
    let status = b.store.status(&a.id).await.unwrap().unwrap();
    assert_eq!(status.tasks.len(), 2);
    assert!(status.tasks.iter().all(|t| t.state == TaskState::Pending));
    assert!(status.receipts.is_empty());
    let counts = b.store.counts().await.unwrap();
    assert_eq!(counts.total.pending, 2);
    // A receipt time in the future starts the clock now, not later.
    let later = SystemTime::now() + Duration::from_secs(86_400);
    let f = b
        .store
        .accept(
            &hubspot("bob@example.com").received_at(later),
            &Deadlines::default(),
        )
        .await
        .unwrap();
    assert!(f.received_at <= SystemTime::now());
    // Bad input stores nothing.
    assert!(b
        .store
        .accept(
            &OptOut::default().email("x@example.com"),
            &Deadlines::default()
        )
        .await
        .is_err());
    assert_eq!(b.store.counts().await.unwrap().total.pending, 3);
    assert!(b.store.status("no-such-id").await.unwrap().is_none());
}

pub async fn the_same_idempotency_key_gives_the_first_id_and_creates_nothing(b: &Backend) {
    let o = alice().idempotency_key("form-1");
    let first = b.store.accept(&o, &Deadlines::default()).await.unwrap();
    let again = b.store.accept(&o, &Deadlines::default()).await.unwrap();
    assert_eq!(first.id, again.id);
    assert!(first.created && !again.created);
    assert_eq!(again.deadlines.len(), 2);
    assert_eq!(b.store.counts().await.unwrap().total.pending, 2);
    let other = b
        .store
        .accept(&alice().idempotency_key("form-2"), &Deadlines::default())
        .await
        .unwrap();
    assert_ne!(other.id, first.id);
}

pub async fn a_claim_takes_due_tasks_once_for_the_providers_asked(b: &Backend) {
    b.store
        .accept(&alice(), &Deadlines::default())
        .await
        .unwrap();
    let hub = b
        .store
        .claim(&[Provider::HubSpot], 10, "w1", LEASE)
        .await
        .unwrap();
    assert_eq!(hub.len(), 1);
    assert_eq!(hub[0].provider, Provider::HubSpot);
    assert_eq!(hub[0].lease.attempt, 1);
    assert_eq!(
        hub[0].recipient,
        Recipient::email("alice@example.com").unwrap()
    );
    assert_eq!(
        hub[0].legal_basis.as_ref().unwrap().0,
        LegalBasis::ConsentWithNotice
    );
    assert!(b
        .store
        .claim(&ALL, 10, "w2", LEASE)
        .await
        .unwrap()
        .iter()
        .all(|t| t.provider == Provider::Mobivate));
    assert!(b
        .store
        .claim(&ALL, 10, "w3", LEASE)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(b.store.counts().await.unwrap().total.in_flight, 2);
}

pub async fn concurrent_claims_never_share_a_task(b: &Backend) {
    for i in 0..40 {
        b.store
            .accept(
                &hubspot(&format!("u{i}@example.com")),
                &Deadlines::default(),
            )
            .await
            .unwrap();
    }
    let mut handles = Vec::new();
    for w in 0..4 {
        let store = b.store.clone();
        handles.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let got = store.claim(&ALL, 3, &format!("w{w}"), LEASE).await.unwrap();
                if got.is_empty() {
                    break mine;
                }
                mine.extend(got.into_iter().map(|t| t.lease.task_id));
            }
        }));
    }
    let mut seen = HashSet::new();
    for h in handles {
        for id in h.await.unwrap() {
            assert!(seen.insert(id), "task {id} claimed twice");
        }
    }
    assert_eq!(seen.len(), 40);
}

pub async fn an_expired_lease_lets_another_worker_claim_the_task(b: &Backend) {
    b.store
        .accept(&hubspot("a@example.com"), &Deadlines::default())
        .await
        .unwrap();
    let first = b.store.claim(&ALL, 1, "dead-worker", LEASE).await.unwrap();
    assert_eq!(first.len(), 1);
    assert!(b
        .store
        .claim(&ALL, 1, "w2", LEASE)
        .await
        .unwrap()
        .is_empty());
    // Renewal keeps it; expiry (simulated) frees it.
    assert_eq!(b.store.renew(&[first[0].lease], LEASE).await.unwrap(), 1);
    assert!(b
        .store
        .claim(&ALL, 1, "w2", LEASE)
        .await
        .unwrap()
        .is_empty());
    b.time_passes().await;
    let second = b.store.claim(&ALL, 1, "w2", LEASE).await.unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].lease.task_id, first[0].lease.task_id);
    assert_eq!(second[0].lease.attempt, 2);
}

pub async fn a_stale_worker_cannot_write_after_its_lease_moved_on(b: &Backend) {
    b.store
        .accept(&hubspot("a@example.com"), &Deadlines::default())
        .await
        .unwrap();
    let stale = b
        .store
        .claim(&ALL, 1, "slow", LEASE)
        .await
        .unwrap()
        .remove(0);
    b.time_passes().await;
    let fresh = b
        .store
        .claim(&ALL, 1, "fast", LEASE)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(b.store.renew(&[stale.lease], LEASE).await.unwrap(), 0);
    assert!(b
        .store
        .complete(&stale, &receipt_for(&stale))
        .await
        .unwrap()
        .is_none());
    assert!(!b
        .store
        .fail(stale.lease, "late", Failure::Park)
        .await
        .unwrap());
    assert!(!b.store.release(stale.lease).await.unwrap());
    let rec = b
        .store
        .complete(&fresh, &receipt_for(&fresh))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rec.attempts, 2);
    // Once done, even the right lease cannot close it twice.
    assert!(b
        .store
        .complete(&fresh, &receipt_for(&fresh))
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        b.store
            .receipts(&ReceiptQuery::default())
            .await
            .unwrap()
            .len(),
        1
    );
}

pub async fn a_retry_waits_until_it_is_due(b: &Backend) {
    let a = b
        .store
        .accept(&hubspot("a@example.com"), &Deadlines::default())
        .await
        .unwrap();
    let t = b.store.claim(&ALL, 1, "w", LEASE).await.unwrap().remove(0);
    let at = SystemTime::now() + Duration::from_secs(3600);
    assert!(b
        .store
        .fail(t.lease, "HubSpot 503 server error", Failure::RetryAt(at))
        .await
        .unwrap());
    assert!(b.store.claim(&ALL, 1, "w", LEASE).await.unwrap().is_empty());
    let due = b.store.next_due(&ALL).await.unwrap().unwrap();
    assert!(due > SystemTime::now() + Duration::from_secs(3500));
    let view = &b.store.status(&a.id).await.unwrap().unwrap().tasks[0];
    assert_eq!(view.state, TaskState::Pending);
    assert_eq!(view.last_error.as_deref(), Some("HubSpot 503 server error"));
    b.time_passes().await;
    let again = b.store.claim(&ALL, 1, "w", LEASE).await.unwrap();
    assert_eq!(again[0].lease.attempt, 2);
    assert!(b.store.next_due(&[Provider::Novu]).await.unwrap().is_none());
}

pub async fn the_nearest_deadline_is_claimed_first(b: &Backend) {
    let now = SystemTime::now();
    b.store
        .accept(&hubspot("late@example.com"), &Deadlines::default())
        .await
        .unwrap();
    // Received two days ago: its deadline is nearer although it was accepted later.
    b.store
        .accept(
            &hubspot("early@example.com").received_at(now - Duration::from_secs(47 * 3600)),
            &Deadlines::default(),
        )
        .await
        .unwrap();
    let first = b.store.claim(&ALL, 1, "w", LEASE).await.unwrap().remove(0);
    assert_eq!(first.recipient.to_string(), "early@example.com");
    let second = b.store.claim(&ALL, 1, "w", LEASE).await.unwrap().remove(0);
    assert_eq!(second.recipient.to_string(), "late@example.com");
}

pub async fn a_parked_task_is_visible_and_can_be_retried(b: &Backend) {
    let a = b
        .store
        .accept(&hubspot("a@example.com"), &Deadlines::default())
        .await
        .unwrap();
    let t = b.store.claim(&ALL, 1, "w", LEASE).await.unwrap().remove(0);
    assert!(b
        .store
        .fail(t.lease, "HubSpot 401 unauthorized", Failure::Park)
        .await
        .unwrap());
    let view = &b.store.status(&a.id).await.unwrap().unwrap().tasks[0];
    assert_eq!(view.state, TaskState::NeedsAttention);
    assert_eq!(view.last_error.as_deref(), Some("HubSpot 401 unauthorized"));
    assert_eq!(b.store.counts().await.unwrap().total.needs_attention, 1);
    b.time_passes().await;
    assert!(b.store.claim(&ALL, 1, "w", LEASE).await.unwrap().is_empty());
    assert!(b.store.next_due(&ALL).await.unwrap().is_none());
    assert_eq!(b.store.retry(Some("other-id")).await.unwrap(), 0);
    assert_eq!(b.store.retry(Some(&a.id)).await.unwrap(), 1);
    let again = b.store.claim(&ALL, 1, "w", LEASE).await.unwrap().remove(0);
    assert_eq!(again.lease.attempt, 2);
    b.store
        .complete(&again, &receipt_for(&again))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(b.store.counts().await.unwrap().total.done, 1);
}

pub async fn overdue_tasks_are_counted_and_kept(b: &Backend) {
    let old = SystemTime::now() - Duration::from_secs(49 * 3600);
    let a = b
        .store
        .accept(
            &hubspot("a@example.com").received_at(old),
            &Deadlines::default(),
        )
        .await
        .unwrap();
    let counts = b.store.counts().await.unwrap();
    assert_eq!(counts.total.overdue, 1);
    assert_eq!(counts.providers[&Provider::HubSpot].overdue, 1);
    let t = b.store.claim(&ALL, 1, "w", LEASE).await.unwrap().remove(0);
    let r = b
        .store
        .complete(&t, &receipt_for(&t))
        .await
        .unwrap()
        .unwrap();
    assert!(!r.deadline_met);
    assert_eq!(b.store.counts().await.unwrap().total.overdue, 0);
    assert_eq!(
        b.store.status(&a.id).await.unwrap().unwrap().receipts.len(),
        1
    );
}

pub async fn receipts_keep_the_evidence_and_are_queryable(b: &Backend) {
    let a = b
        .store
        .accept(&alice(), &Deadlines::default())
        .await
        .unwrap();
    for t in b.store.claim(&ALL, 10, "w", LEASE).await.unwrap() {
        b.store
            .complete(&t, &receipt_for(&t))
            .await
            .unwrap()
            .unwrap();
    }
    let all = b.store.receipts(&ReceiptQuery::default()).await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].seq, 1);
    assert_eq!(all[1].prev_hash, all[0].hash);
    let r = &all[0];
    assert_eq!(r.opt_out_id, a.id);
    assert_eq!(r.legal_basis, Some(LegalBasis::ConsentWithNotice));
    assert_eq!(
        r.legal_basis_explanation.as_deref(),
        Some("clicked unsubscribe")
    );
    assert_eq!(r.source.as_deref(), Some("test"));
    assert!(r.deadline_met);
    assert!(r.reference.as_deref().unwrap().starts_with("ref-"));
    let by_recipient = b
        .store
        .receipts(&ReceiptQuery::default().recipient("254700000000"))
        .await
        .unwrap();
    assert_eq!(by_recipient.len(), 1);
    assert_eq!(by_recipient[0].provider, Provider::Mobivate);
    let by_provider = b
        .store
        .receipts(&ReceiptQuery::default().provider(Provider::HubSpot))
        .await
        .unwrap();
    assert_eq!(by_provider.len(), 1);
    let future = b
        .store
        .receipts(&ReceiptQuery::default().since(SystemTime::now() + Duration::from_secs(60)))
        .await
        .unwrap();
    assert!(future.is_empty());
    // Append-only: the database refuses edits.
    assert!(b
        .try_exec("UPDATE receipts SET reference = 'x'")
        .await
        .is_err());
    assert!(b.try_exec("DELETE FROM receipts").await.is_err());
}

async fn three_receipts(b: &Backend) {
    for i in 0..3 {
        b.store
            .accept(
                &hubspot(&format!("u{i}@example.com")),
                &Deadlines::default(),
            )
            .await
            .unwrap();
    }
    for t in b.store.claim(&ALL, 10, "w", LEASE).await.unwrap() {
        b.store
            .complete(&t, &receipt_for(&t))
            .await
            .unwrap()
            .unwrap();
    }
    let v = b.store.verify().await.unwrap();
    assert_eq!(v.records, 3);
    assert!(v.first_bad.is_none(), "{v:?}");
    b.allow_tampering().await;
}

pub async fn an_edited_receipt_breaks_the_chain_there(b: &Backend) {
    three_receipts(b).await;
    b.exec("UPDATE receipts SET outcome = 'already_unsubscribed' WHERE seq = 2")
        .await;
    let bad = b.store.verify().await.unwrap().first_bad.unwrap();
    assert_eq!(bad.seq, 2, "{bad:?}");
    assert!(bad.reason.contains("changed"), "{bad:?}");
}

pub async fn a_deleted_receipt_is_named(b: &Backend) {
    three_receipts(b).await;
    b.exec("DELETE FROM receipts WHERE seq = 2").await;
    let bad = b.store.verify().await.unwrap().first_bad.unwrap();
    assert_eq!(bad.seq, 2, "{bad:?}");
    assert!(bad.reason.contains("missing"), "{bad:?}");
}

pub async fn a_deleted_last_receipt_is_named(b: &Backend) {
    three_receipts(b).await;
    b.exec("DELETE FROM receipts WHERE seq = 3").await;
    let bad = b.store.verify().await.unwrap().first_bad.unwrap();
    assert_eq!(bad.seq, 3, "{bad:?}");
}

pub async fn a_chunk_is_committed_whole_in_order(b: &Backend) {
    let chunk: Vec<OptOut> = (0..50)
        .map(|i| hubspot(&format!("p{i}@example.com")))
        .chain([alice()])
        .collect();
    let accepted = b
        .store
        .accept_many(&chunk, &Deadlines::default())
        .await
        .unwrap();
    assert_eq!(accepted.len(), 51);
    assert!(accepted.iter().all(|a| a.created));
    let ids: HashSet<&str> = accepted.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids.len(), 51);
    assert_eq!(accepted[0].deadlines.len(), 1);
    assert_eq!(accepted[50].deadlines.len(), 2);
    for a in &accepted {
        let status = b.store.status(&a.id).await.unwrap().unwrap();
        assert_eq!(status.tasks.len(), a.deadlines.len());
    }
    assert_eq!(b.store.counts().await.unwrap().total.pending, 52);
    assert!(b
        .store
        .accept_many(&[], &Deadlines::default())
        .await
        .unwrap()
        .is_empty());
}

pub async fn a_repeated_key_in_or_across_chunks_gives_the_first_id(b: &Backend) {
    let chunk = [
        hubspot("a@example.com").idempotency_key("k-1"),
        hubspot("b@example.com"),
        hubspot("a@example.com").idempotency_key("k-1"),
    ];
    let first = b
        .store
        .accept_many(&chunk, &Deadlines::default())
        .await
        .unwrap();
    assert!(first[0].created && first[1].created && !first[2].created);
    assert_eq!(first[0].id, first[2].id);
    assert_eq!(first[2].deadlines, first[0].deadlines);
    assert_eq!(b.store.counts().await.unwrap().total.pending, 2);
    let again = b
        .store
        .accept_many(
            &[
                hubspot("c@example.com").idempotency_key("k-2"),
                hubspot("a@example.com").idempotency_key("k-1"),
            ],
            &Deadlines::default(),
        )
        .await
        .unwrap();
    assert!(again[0].created && !again[1].created);
    assert_eq!(again[1].id, first[0].id);
    assert_eq!(again[1].deadlines.len(), 1);
    // The single accept answers the same first ids.
    let one = b
        .store
        .accept(
            &hubspot("c@example.com").idempotency_key("k-2"),
            &Deadlines::default(),
        )
        .await
        .unwrap();
    assert_eq!(one.id, again[0].id);
    assert!(!one.created);
    assert_eq!(b.store.counts().await.unwrap().total.pending, 3);
}

pub async fn a_chunk_with_one_invalid_opt_out_commits_nothing(b: &Backend) {
    let chunk = [
        hubspot("a@example.com").idempotency_key("k-1"),
        OptOut::default().email("no-topics@example.com"),
        hubspot("b@example.com"),
    ];
    assert!(b
        .store
        .accept_many(&chunk, &Deadlines::default())
        .await
        .is_err());
    assert_eq!(b.store.counts().await.unwrap().total.pending, 0);
    // Nothing of the failed chunk was kept: its key is still new.
    let a = b
        .store
        .accept(
            &hubspot("a@example.com").idempotency_key("k-1"),
            &Deadlines::default(),
        )
        .await
        .unwrap();
    assert!(a.created);
}

/// Every attempt is on record: the failed ones with their errors, the confirmed one as its
/// receipt, together in `attempt_history` in attempt order.
pub async fn every_attempt_is_in_the_history(b: &Backend) {
    let a = b
        .store
        .accept(&hubspot("h@example.com"), &Deadlines::default())
        .await
        .unwrap();
    let first = b.store.claim(&ALL, 1, "w", LEASE).await.unwrap().remove(0);
    let later = SystemTime::now() + Duration::from_secs(60);
    assert!(b
        .store
        .fail(
            first.lease,
            "HubSpot 503 server error",
            Failure::RetryAt(later)
        )
        .await
        .unwrap());
    b.time_passes().await;
    let second = b.store.claim(&ALL, 1, "w", LEASE).await.unwrap().remove(0);
    let closed = b
        .store
        .complete(&second, &receipt_for(&second))
        .await
        .unwrap()
        .unwrap();
    let rows: Vec<(i64, i64, String, Option<String>)> = sqlx::query_as(
        "SELECT task_id, attempt, result, error FROM attempt_history ORDER BY attempt",
    )
    .fetch_all(&b.raw)
    .await
    .unwrap();
    let id = first.lease.task_id;
    assert_eq!(
        rows,
        vec![
            (
                id,
                1,
                "retry".into(),
                Some("HubSpot 503 server error".into())
            ),
            (id, 2, "done".into(), None),
        ]
    );
    let finished: i64 =
        sqlx::query_scalar("SELECT finished_at FROM attempt_history WHERE attempt = 2")
            .fetch_one(&b.raw)
            .await
            .unwrap();
    assert_eq!(
        finished,
        closed
            .completed_at
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64
    );
    // The receipt is found through its opt-out.
    let status = b.store.status(&a.id).await.unwrap().unwrap();
    assert_eq!(status.receipts.len(), 1);
    assert_eq!(status.receipts[0].attempts, 2);
}
