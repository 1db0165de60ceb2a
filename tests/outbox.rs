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

// ---- The `optout` binary: enqueue, worker, status, receipts; killed workers; PostgreSQL. ----

mod cli {
    use std::collections::HashSet;
    use std::path::Path;
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    use optout_sandbox::{Api, Faults, Sandbox};
    use optout_tests::{optout_binary, run_with_env};
    use serde_json::Value;

    use super::{temp_dir, SUB, TOKEN};

    fn env(base: &str) -> Vec<(&'static str, String)> {
        vec![
            ("HUBSPOT_ACCESS_TOKEN", TOKEN.to_string()),
            ("HUBSPOT_BASE_URL", base.to_string()),
            // One call per task, so that the sandbox's request count is the task count.
            ("HUBSPOT_BATCH_SIZE", "1".to_string()),
        ]
    }

    fn optout(args: &[&str], env: &[(&'static str, String)]) -> optout_tests::ProcessOutput {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        run_with_env(&optout_binary(), args, &env, Duration::from_secs(120))
    }

    fn spawn_worker(store: &str, env: &[(&'static str, String)], until_idle: bool) -> Child {
        let mut args = vec![
            "worker",
            "--store",
            store,
            "--lease",
            "2",
            "--concurrency",
            "4",
        ];
        if until_idle {
            args.push("--until-idle");
        }
        Command::new(optout_binary())
            .args(&args)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    fn wait(child: Child, limit: Duration) -> (Option<i32>, String) {
        let started = Instant::now();
        let mut child = child;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                let mut err = String::new();
                use std::io::Read;
                child
                    .stderr
                    .take()
                    .unwrap()
                    .read_to_string(&mut err)
                    .unwrap();
                return (status.code(), err);
            }
            if started.elapsed() > limit {
                child.kill().unwrap();
                panic!("worker still running after {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn csv_file(dir: &Path, rows: usize) -> String {
        let mut text = String::from("recipient\n");
        for i in 0..rows {
            text += &format!("c{i}@example.com\n");
        }
        let path = dir.join("in.csv");
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }

    fn receipts(store: &str) -> Vec<Value> {
        let out = optout(&["receipts", "--store", store, "--format", "json"], &[]);
        assert_eq!(out.code, Some(0), "{}", out.all_text());
        out.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Every row has exactly one receipt, the chain verifies, and the sandbox agrees.
    fn assert_each_once(store: &str, rows: usize, sandbox: &Sandbox) {
        let list = receipts(store);
        let recipients: HashSet<String> = list
            .iter()
            .map(|r| r["recipient"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(list.len(), rows, "one receipt per opt-out");
        assert_eq!(recipients.len(), rows, "no opt-out with two receipts");
        for r in &list {
            for field in [
                "opt_out_id",
                "provider",
                "recipient",
                "topics",
                "outcome",
                "received_at",
                "completed_at",
                "deadline",
                "attempts",
                "hash",
            ] {
                assert!(!r[field].is_null(), "{field} missing in {r}");
            }
        }
        for i in 0..rows {
            assert!(!sandbox.is_subscribed(Api::HubSpot, &format!("c{i}@example.com"), SUB));
        }
        let v = optout(&["receipts", "--store", store, "--verify"], &[]);
        assert_eq!(v.code, Some(0), "{}", v.all_text());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn enqueue_status_worker_receipts_round_trip() {
        let sandbox = Sandbox::start().await.unwrap();
        let dir = temp_dir("cli");
        let store = format!("sqlite:{}", dir.join("o.db").display());
        let env = env(&sandbox.base_url());
        let one = optout(
            &[
                "enqueue",
                "hubspot",
                "--recipient",
                "c0@example.com",
                "--topic",
                SUB,
                "--legal-basis",
                "consent-with-notice",
                "--legal-basis-explanation",
                "form",
                "--source",
                "web",
                "--idempotency-key",
                "k1",
                "--store",
                &store,
                "--json",
            ],
            &[],
        );
        assert_eq!(one.code, Some(0), "{}", one.all_text());
        let first: Value = serde_json::from_str(one.stdout.trim()).unwrap();
        let again = optout(
            &[
                "enqueue",
                "hubspot",
                "--recipient",
                "c0@example.com",
                "--topic",
                SUB,
                "--idempotency-key",
                "k1",
                "--store",
                &store,
            ],
            &[],
        );
        assert_eq!(again.stdout.trim(), first["id"].as_str().unwrap());
        let bad = optout(
            &[
                "enqueue",
                "hubspot",
                "--recipient",
                "nope",
                "--topic",
                SUB,
                "--store",
                &store,
            ],
            &[],
        );
        assert_eq!(bad.code, Some(2), "{}", bad.all_text());
        let csv = dir.join("rows.csv");
        std::fs::write(&csv, "recipient,topic\nc1@example.com,\nc2@example.com,\n").unwrap();
        let many = optout(
            &[
                "enqueue",
                "hubspot",
                "--input",
                csv.to_str().unwrap(),
                "--topic",
                SUB,
                "--store",
                &store,
            ],
            &[],
        );
        assert_eq!(many.code, Some(0), "{}", many.all_text());
        assert_eq!(many.stdout.lines().count(), 2);
        let status = optout(&["status", "--store", &store, "--json"], &[]);
        let counts: Value = serde_json::from_str(status.stdout.trim()).unwrap();
        assert_eq!(counts["total"]["pending"], 3, "{counts}");
        let w = optout(&["worker", "--store", &store, "--until-idle"], &env);
        assert_eq!(w.code, Some(0), "{}", w.all_text());
        let status = optout(&["status", "--store", &store, "--json"], &[]);
        let counts: Value = serde_json::from_str(status.stdout.trim()).unwrap();
        assert_eq!(counts["providers"]["hubspot"]["done"], 3, "{counts}");
        assert_each_once(&store, 3, &sandbox);
        let csv_out = optout(
            &[
                "receipts",
                "--store",
                &store,
                "--format",
                "csv",
                "--provider",
                "hubspot",
            ],
            &[],
        );
        assert_eq!(csv_out.stdout.lines().count(), 4, "{}", csv_out.stdout);
        let table = optout(
            &[
                "receipts",
                "--store",
                &store,
                "--recipient",
                "c0@example.com",
            ],
            &[],
        );
        assert!(table.stdout.contains("c0@example.com"), "{}", table.stdout);
        // A PostgreSQL password never shows, even in an error.
        let pg = optout(
            &[
                "status",
                "--store",
                "postgres://app:s3cr3t-pw@127.0.0.1:1/optout",
            ],
            &[],
        );
        assert_eq!(pg.code, Some(1));
        assert!(!pg.all_text().contains("s3cr3t-pw"), "{}", pg.all_text());
        assert!(pg.stderr.lines().count() == 1, "{}", pg.stderr);
        sandbox.shutdown().await.unwrap();
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn enqueue_input_commits_in_chunks_and_bad_input_commits_nothing() {
        let dir = temp_dir("chunks");
        let store = format!("sqlite:{}", dir.join("o.db").display());
        let input = csv_file(&dir, 5);
        let args = |key: &'static str| {
            [
                "enqueue",
                "hubspot",
                "--input",
                input.as_str(),
                "--topic",
                SUB,
                "--store",
                store.as_str(),
                "--chunk",
                "2",
                "--idempotency-key",
                key,
            ]
        };
        let first = optout(&args("batch"), &[]);
        assert_eq!(first.code, Some(0), "{}", first.all_text());
        assert_eq!(first.stdout.lines().count(), 5);
        // The same keys again (chunks of 2, the last of 1): the first ids, nothing new.
        let again = optout(&args("batch"), &[]);
        assert_eq!(again.code, Some(0), "{}", again.all_text());
        assert_eq!(again.stdout, first.stdout);
        let bad = dir.join("bad.csv");
        std::fs::write(&bad, "recipient\nd1@example.com\nnope\n").unwrap();
        let rejected = optout(
            &[
                "enqueue",
                "hubspot",
                "--input",
                bad.to_str().unwrap(),
                "--topic",
                SUB,
                "--store",
                &store,
            ],
            &[],
        );
        assert_eq!(rejected.code, Some(2), "{}", rejected.all_text());
        assert!(rejected.stdout.is_empty());
        let status = optout(&["status", "--store", &store, "--json"], &[]);
        let counts: Value = serde_json::from_str(status.stdout.trim()).unwrap();
        assert_eq!(counts["total"]["pending"], 5, "{counts}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_worker_killed_again_and_again_under_faults_loses_nothing() {
        const ROWS: usize = 300;
        let sandbox = Sandbox::builder()
            .faults(Faults {
                every_nth_429: Some(7),
                retry_after_secs: 0,
                rate_5xx: 0.15,
                latency: Duration::from_millis(3),
                ..Faults::default()
            })
            .start()
            .await
            .unwrap();
        let dir = temp_dir("kill");
        let store = format!("sqlite:{}", dir.join("o.db").display());
        let input = csv_file(&dir, ROWS);
        let e = optout(
            &[
                "enqueue", "hubspot", "--input", &input, "--topic", SUB, "--store", &store,
            ],
            &[],
        );
        assert_eq!(e.code, Some(0), "{}", e.all_text());
        let env = env(&sandbox.base_url());
        for round in 0..8u64 {
            let mut child = spawn_worker(&store, &env, false);
            // Kill at a different moment each round: 100..~800 ms in.
            std::thread::sleep(Duration::from_millis(100 + (round * 97) % 700));
            child.kill().unwrap();
            child.wait().unwrap();
        }
        let (code, err) = wait(spawn_worker(&store, &env, true), Duration::from_secs(180));
        assert_eq!(code, Some(0), "{err}");
        assert_each_once(&store, ROWS, &sandbox);
        sandbox.shutdown().await.unwrap();
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn three_worker_processes_on_one_postgres_send_each_task_once() {
        const ROWS: usize = 300;
        let Some(cluster) = optout_testkit::pg::shared() else {
            return;
        };
        let store = cluster.create_database("three");
        let sandbox = Sandbox::start().await.unwrap();
        let dir = temp_dir("three");
        let input = csv_file(&dir, ROWS);
        let e = optout(
            &[
                "enqueue", "hubspot", "--input", &input, "--topic", SUB, "--store", &store,
            ],
            &[],
        );
        assert_eq!(e.code, Some(0), "{}", e.all_text());
        let env = env(&sandbox.base_url());
        let workers: Vec<Child> = (0..3).map(|_| spawn_worker(&store, &env, true)).collect();
        for w in workers {
            let (code, err) = wait(w, Duration::from_secs(180));
            assert_eq!(code, Some(0), "{err}");
        }
        assert_each_once(&store, ROWS, &sandbox);
        assert_eq!(
            sandbox.stats().hubspot,
            ROWS as u64,
            "each task sent exactly once"
        );
        sandbox.shutdown().await.unwrap();
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_stopped_mid_run_then_started_loses_nothing() {
        const ROWS: usize = 300;
        if optout_testkit::pg::bin_dir().is_none() {
            // shared() prints the loud skip line (or fails with CI=true).
            assert!(optout_testkit::pg::shared().is_none());
            return;
        }
        let cluster = optout_testkit::pg::PgCluster::start();
        let store = cluster.create_database("outage");
        let sandbox = Sandbox::builder()
            .faults(Faults {
                // 300 rows, 4 at a time, 50 ms each: about 4 s of sending, so the server
                // stops while most of it is still to do.
                latency: Duration::from_millis(50),
                ..Faults::default()
            })
            .start()
            .await
            .unwrap();
        let dir = temp_dir("outage");
        let input = csv_file(&dir, ROWS);
        let e = optout(
            &[
                "enqueue", "hubspot", "--input", &input, "--topic", SUB, "--store", &store,
            ],
            &[],
        );
        assert_eq!(e.code, Some(0), "{}", e.all_text());
        let worker = spawn_worker(&store, &env(&sandbox.base_url()), true);
        let started = Instant::now();
        while sandbox.stats().hubspot < 20 {
            assert!(started.elapsed() < Duration::from_secs(60), "no progress");
            std::thread::sleep(Duration::from_millis(10));
        }
        cluster.stop_server();
        assert!(sandbox.stats().hubspot < ROWS as u64, "stopped mid-run");
        // Longer than the store's 3 s acquire timeout, so the worker notices.
        std::thread::sleep(Duration::from_secs(6));
        cluster.start_server();
        let (code, err) = wait(worker, Duration::from_secs(180));
        assert_eq!(code, Some(0), "{err}");
        let outage_lines = err.lines().filter(|l| l.contains("waiting for it")).count();
        assert_eq!(outage_lines, 1, "one clear line per outage:\n{err}");
        assert!(err.contains("reachable again"), "{err}");
        assert_each_once(&store, ROWS, &sandbox);
        sandbox.shutdown().await.unwrap();
        std::fs::remove_dir_all(dir).unwrap();
    }
}
