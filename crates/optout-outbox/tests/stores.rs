//! The conformance suite against a real SQLite file and a real PostgreSQL server (a throwaway
//! cluster per test process, a database per test; skipped loudly where PostgreSQL is not
//! installed, failing with CI=true).

mod conformance;

use conformance::Backend;
use sqlx::any::AnyPoolOptions;

async fn raw(url: &str) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    AnyPoolOptions::new()
        .max_connections(2)
        .connect(url)
        .await
        .unwrap()
}

async fn sqlite() -> Option<Backend> {
    let dir = std::env::temp_dir().join(format!("optout-outbox-{:016x}", fastrand::u64(..)));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("optout.db");
    let url = format!("sqlite:{}", path.display());
    let store = optout_outbox::open(&url).await.unwrap();
    Some(Backend {
        store,
        raw: raw(&url).await,
        postgres: false,
        cleanup: Some(Box::new(move || {
            let _ = std::fs::remove_dir_all(dir);
        })),
    })
}

async fn postgres() -> Option<Backend> {
    let cluster = optout_testkit::pg::shared()?;
    let url = cluster.create_database("conformance");
    let store = optout_outbox::open(&url).await.unwrap();
    Some(Backend {
        store,
        raw: raw(&url).await,
        postgres: true,
        cleanup: None,
    })
}

macro_rules! conformance {
    ($backend:ident: $($name:ident),* $(,)?) => {
        mod $backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(b) = super::$backend().await {
                        super::conformance::$name(&b).await;
                    }
                }
            )*
        }
    };
}

macro_rules! every_backend {
    ($($name:ident),* $(,)?) => {
        conformance!(sqlite: $($name),*);
        conformance!(postgres: $($name),*);
    };
}

every_backend!(
    accept_commits_one_task_per_provider_with_its_deadline,
    the_same_idempotency_key_gives_the_first_id_and_creates_nothing,
    a_claim_takes_due_tasks_once_for_the_providers_asked,
    concurrent_claims_never_share_a_task,
    an_expired_lease_lets_another_worker_claim_the_task,
    a_stale_worker_cannot_write_after_its_lease_moved_on,
    a_retry_waits_until_it_is_due,
    the_nearest_deadline_is_claimed_first,
    a_parked_task_is_visible_and_can_be_retried,
    overdue_tasks_are_counted_and_kept,
    receipts_keep_the_evidence_and_are_queryable,
    an_edited_receipt_breaks_the_chain_there,
    a_deleted_receipt_is_named,
    a_deleted_last_receipt_is_named,
    a_chunk_is_committed_whole_in_order,
    a_repeated_key_in_or_across_chunks_gives_the_first_id,
    a_chunk_with_one_invalid_opt_out_commits_nothing,
    group_commit_answers_every_concurrent_accept_once_committed,
    group_commit_commits_what_queued_together_in_one_transaction,
    group_commit_gives_a_key_repeated_in_one_batch_the_first_id,
    group_commit_refuses_an_invalid_opt_out_alone,
    group_commit_fails_every_caller_of_a_failed_batch,
    every_attempt_is_in_the_history,
);

/// What group commit answered is in the file: every accepted opt-out is there after the
/// store is closed and the file opened again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_committed_opt_outs_are_in_the_file_after_reopening() {
    use optout_core::{Provider, Topics};
    use optout_outbox::{OptOut, Outbox};
    let dir = std::env::temp_dir().join(format!("optout-group-{:016x}", fastrand::u64(..)));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite:{}", dir.join("optout.db").display());
    let outbox = Outbox::open(&url).await.unwrap().group_commit(32);
    let mut pending = Vec::new();
    for i in 0..300 {
        let o = outbox.clone();
        pending.push(tokio::spawn(async move {
            let opt_out = OptOut::default()
                .email(format!("r{i}@example.com"))
                .topics(Provider::HubSpot, Topics::one("123"))
                .idempotency_key(format!("r-{i}"));
            o.accept(&opt_out).await
        }));
    }
    let mut ids = Vec::new();
    for p in pending {
        ids.push(p.await.unwrap().unwrap().id);
    }
    drop(outbox);
    let reopened = Outbox::open(&url).await.unwrap();
    for id in &ids {
        let status = reopened
            .status(id)
            .await
            .unwrap()
            .expect("committed before answered");
        assert_eq!(status.tasks.len(), 1);
    }
    assert_eq!(reopened.counts().await.unwrap().total.pending, 300);
    let _ = std::fs::remove_dir_all(dir);
}

/// The one-at-a-time accept rate on SQLite (issue 15: at least 1,000/s). Prints, asserts
/// nothing: `cargo test -p optout-outbox --all-features --release --test stores -- --ignored
/// --nocapture accept_rate`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a test"]
async fn sqlite_accept_rate_one_at_a_time() {
    use optout_core::{Provider, Topics};
    use optout_outbox::{Deadlines, OptOut};
    let Some(b) = sqlite().await else { return };
    let n = 2_000;
    let started = std::time::Instant::now();
    for i in 0..n {
        let o = OptOut::default()
            .email(format!("p{i}@example.com"))
            .topics(Provider::HubSpot, Topics::one("123"));
        b.store.accept(&o, &Deadlines::default()).await.unwrap();
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "sqlite: {n} accepts one at a time in {secs:.2}s: {:.0}/s",
        f64::from(n) / secs
    );
}
