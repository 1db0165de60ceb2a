//! The outbox end to end: workers against the sandbox with injected 5xx and 429, on a real
//! SQLite file and a real PostgreSQL server; every accepted opt-out ends with exactly one
//! receipt per task, and the sandbox agrees. Then the `optout` binary: enqueue, worker,
//! status, receipts.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use optout::outbox::{Backoff, OptOut, Outbox, ReceiptQuery, TaskState, Worker, WorkerConfig};
use optout::providers::{
    hubspot::HubSpot, migma::Migma, mobivate::Mobivate, novu::Novu, pushy::Pushy,
};
use optout::{Provider, RetryPolicy, Topics, Unsubscriber};
use optout_sandbox::{Api, Faults, Sandbox};

const TOKEN: &str = "pat-na1-outbox-0000";
const SUB: &str = "12345";

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "optout-outbox-{name}-{}-{:?}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The five clients against `base`, without retries of their own: the outbox schedules them.
fn clients(base: &str, hubspot_token: &str) -> Vec<Arc<dyn Unsubscriber>> {
    let none = RetryPolicy::none();
    vec![
        Arc::new(
            Migma::builder()
                .api_key("k")
                .project_id("p")
                .base_url(base)
                .retry_policy(none)
                .build()
                .unwrap(),
        ),
        Arc::new(
            Novu::builder()
                .secret_key("k")
                .base_url(base)
                .retry_policy(none)
                .build()
                .unwrap(),
        ),
        Arc::new(
            Pushy::builder()
                .api_key("k")
                .base_url(base)
                .retry_policy(none)
                .build()
                .unwrap(),
        ),
        Arc::new(
            Mobivate::builder()
                .account_id(optout_sandbox::DEFAULT_MOBIVATE_ACCOUNT_ID)
                .base_url(base)
                .retry_policy(none)
                .build()
                .unwrap(),
        ),
        Arc::new(
            HubSpot::builder()
                .access_token(hubspot_token)
                .base_url(base)
                .retry_policy(none)
                .build()
                .unwrap(),
        ),
    ]
}

fn fast() -> WorkerConfig {
    WorkerConfig::default()
        .concurrency(4)
        .poll(Duration::from_millis(50))
        .backoff(Backoff {
            initial: Duration::from_millis(1),
            max: Duration::from_millis(20),
            max_retry_after: Duration::from_millis(20),
        })
}

/// Person `i`, known at all five providers.
fn person(i: usize) -> OptOut {
    OptOut::default()
        .email(format!("p{i}@example.com"))
        .phone(format!("2547000{i:05}"))
        .device(format!("device-{i}"))
        .subscriber(Provider::Migma, format!("contact-{i}"))
        .subscriber(Provider::Novu, format!("sub-{i}"))
        .topics(Provider::HubSpot, Topics::one(SUB))
        .topics(Provider::Mobivate, Topics::one("campaign-1"))
        .topics(Provider::Pushy, Topics::one("news"))
        .topics(Provider::Migma, Topics::one("topic-1"))
        .topics(Provider::Novu, Topics::one("key-1"))
        .source("outbox test")
}

async fn drain_under_faults(url: &str, people: usize, workers: usize) {
    let sandbox = Sandbox::builder()
        .faults(Faults {
            every_nth_429: Some(5),
            retry_after_secs: 0,
            rate_5xx: 0.2,
            ..Faults::default()
        })
        .start()
        .await
        .unwrap();
    let outbox = Outbox::open(url).await.unwrap();
    let mut ids = Vec::new();
    for i in 0..people {
        ids.push(outbox.accept(&person(i)).await.unwrap().id);
    }
    let base = sandbox.base_url();
    let mut runs = Vec::new();
    for _ in 0..workers {
        let worker = Worker::new(outbox.store(), clients(&base, TOKEN), fast());
        runs.push(tokio::spawn(async move { worker.run_until_idle().await }));
    }
    let mut done = 0;
    let mut retried = 0;
    for r in runs {
        let s = tokio::time::timeout(Duration::from_secs(120), r)
            .await
            .expect("workers finish")
            .unwrap()
            .unwrap();
        assert_eq!(s.needs_attention, 0, "{s:?}");
        done += s.done;
        retried += s.retried;
    }
    let tasks = (people * 5) as u64;
    assert_eq!(done, tasks, "one receipt per task across workers");
    assert!(retried > 0, "faults were injected and retried");
    let counts = outbox.counts().await.unwrap();
    assert_eq!(counts.total.done, tasks, "{counts:?}");
    let receipts = outbox.receipts(&ReceiptQuery::default()).await.unwrap();
    assert_eq!(receipts.len() as u64, tasks);
    let unique: HashSet<i64> = receipts.iter().map(|r| r.task_id).collect();
    assert_eq!(unique.len() as u64, tasks, "a task with two receipts");
    for id in &ids {
        let status = outbox.status(id).await.unwrap().unwrap();
        assert!(status.tasks.iter().all(|t| t.state == TaskState::Done));
        assert_eq!(status.receipts.len(), 5);
    }
    let v = outbox.verify().await.unwrap();
    assert!(v.first_bad.is_none(), "{v:?}");
    for i in 0..people {
        let email = format!("p{i}@example.com");
        assert!(!sandbox.is_subscribed(Api::HubSpot, &email, SUB), "{email}");
        assert!(!sandbox.is_subscribed(Api::Pushy, &format!("device-{i}"), "news"));
    }
    sandbox.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_two_workers_under_faults_give_every_task_one_receipt() {
    let dir = temp_dir("faults");
    let url = format!("sqlite:{}", dir.join("optout.db").display());
    drain_under_faults(&url, 40, 2).await;
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_three_workers_under_faults_give_every_task_one_receipt() {
    let Some(cluster) = optout_testkit::pg::shared() else {
        return;
    };
    let url = cluster.create_database("faults");
    drain_under_faults(&url, 40, 3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_credential_parks_the_task_until_it_is_fixed_and_retried() {
    let sandbox = Sandbox::builder()
        .key(Api::HubSpot, TOKEN)
        .start()
        .await
        .unwrap();
    let dir = temp_dir("park");
    let outbox = Outbox::open(&format!("sqlite:{}", dir.join("o.db").display()))
        .await
        .unwrap();
    let id = outbox
        .accept(
            &OptOut::default()
                .email("a@example.com")
                .topics(Provider::HubSpot, Topics::one(SUB)),
        )
        .await
        .unwrap()
        .id;
    let base = sandbox.base_url();
    let wrong = Worker::new(outbox.store(), clients(&base, "wrong-token"), fast());
    let s = wrong.run_until_idle().await.unwrap();
    assert_eq!((s.done, s.parked, s.needs_attention), (0, 1, 1), "{s:?}");
    let task = &outbox.status(&id).await.unwrap().unwrap().tasks[0];
    assert_eq!(task.state, TaskState::NeedsAttention);
    assert!(
        task.last_error.as_deref().unwrap().contains("401"),
        "{task:?}"
    );
    // Fixed credentials alone do not resend a parked task; a retry does.
    let right = Worker::new(outbox.store(), clients(&base, TOKEN), fast());
    assert_eq!(right.run_until_idle().await.unwrap().done, 0);
    assert_eq!(outbox.retry(Some(&id)).await.unwrap(), 1);
    let s = right.run_until_idle().await.unwrap();
    assert_eq!((s.done, s.needs_attention), (1, 0), "{s:?}");
    assert!(!sandbox.is_subscribed(Api::HubSpot, "a@example.com", SUB));
    sandbox.shutdown().await.unwrap();
    std::fs::remove_dir_all(dir).unwrap();
}
