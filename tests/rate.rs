//! `--rate` on `optout worker` and `optout serve`, against a sandbox enforcing HubSpot's limit
//! as a rolling window: one worker keeps to its limit, so do the workers inside `optout
//! serve`, and several worker processes on one PostgreSQL store keep to one limit together,
//! sharing it through the store. Behaviour only
//! (429s counted by the sandbox, every task done), never timing.

use std::path::{Path, PathBuf};
use std::time::Duration;

use optout_sandbox::{Api, Sandbox};
use optout_tests::{optout_binary, run_optout, run_with_env, ProcessOutput};

const TOKEN: &str = "pat-na1-rate-0000";
const SUB: &str = "12345";
/// The sandbox's limit and the workers' `--rate`: 20 requests per second.
const LIMIT: &str = "20/1s";

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "optout-rate-{name}-{}-{:016x}",
        std::process::id(),
        nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

fn env(base: &str) -> Vec<(&'static str, String)> {
    vec![
        ("HUBSPOT_ACCESS_TOKEN", TOKEN.to_string()),
        ("HUBSPOT_BASE_URL", base.to_string()),
        // One call per task, so that the limit is what paces the run.
        ("HUBSPOT_BATCH_SIZE", "1".to_string()),
    ]
}

fn optout(args: &[&str], env: &[(&'static str, String)]) -> ProcessOutput {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    run_with_env(&optout_binary(), args, &env, Duration::from_secs(180))
}

/// Enqueues `rows` HubSpot opt-outs into `store`.
fn enqueue(dir: &Path, store: &str, rows: usize) {
    let mut text = String::from("recipient\n");
    for i in 0..rows {
        text += &format!("r{i}@example.com\n");
    }
    let input = dir.join("in.csv");
    std::fs::write(&input, text).unwrap();
    let e = optout(
        &[
            "enqueue",
            "hubspot",
            "--input",
            input.to_str().unwrap(),
            "--topic",
            SUB,
            "--store",
            store,
        ],
        &[],
    );
    assert_eq!(e.code, Some(0), "{}", e.all_text());
}

/// `optout worker --rate LIMIT --until-idle` on `store`, in a thread.
fn worker(store: &str, base: &str) -> std::thread::JoinHandle<ProcessOutput> {
    let (store, env) = (store.to_string(), env(base));
    std::thread::spawn(move || {
        optout(
            &[
                "worker",
                "--store",
                &store,
                "--until-idle",
                "--concurrency",
                "4",
                "--rate",
                LIMIT,
            ],
            &env,
        )
    })
}

/// Every task is done: one receipt per row.
fn assert_all_done(store: &str, rows: usize) {
    let out = optout(&["status", "--store", store, "--json"], &[]);
    assert_eq!(out.code, Some(0), "{}", out.all_text());
    let counts: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(counts["total"]["done"], rows as u64, "{counts}");
    assert_eq!(counts["total"]["pending"], 0, "{counts}");
    assert_eq!(counts["total"]["needs_attention"], 0, "{counts}");
}

async fn limited_sandbox() -> Sandbox {
    Sandbox::builder()
        .rate_limit(Api::HubSpot, LIMIT.parse().unwrap())
        .start()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_with_rate_keeps_to_the_limit() {
    const ROWS: usize = 60;
    let sandbox = limited_sandbox().await;
    let dir = temp_dir("one");
    let store = format!("sqlite:{}", dir.join("o.db").display());
    enqueue(&dir, &store, ROWS);
    let out = worker(&store, &sandbox.base_url()).join().unwrap();
    assert_eq!(out.code, Some(0), "{}", out.all_text());
    assert_all_done(&store, ROWS);
    let stats = sandbox.stats();
    assert!(
        stats.rate_limited <= 1,
        "{} requests drew a 429",
        stats.rate_limited
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_on_one_postgres_store_share_one_limit() {
    // Alone, each would send 20 a second: 60 together, and the sandbox would answer about
    // two requests in three with 429. Sharing the limit through the store, they send 20.
    const ROWS: usize = 150;
    let Some(cluster) = optout_testkit::pg::shared() else {
        return;
    };
    let store = cluster.create_database("rate");
    let sandbox = limited_sandbox().await;
    let dir = temp_dir("three");
    enqueue(&dir, &store, ROWS);
    let workers: Vec<_> = (0..3)
        .map(|_| worker(&store, &sandbox.base_url()))
        .collect();
    for w in workers {
        let out = w.join().unwrap();
        assert_eq!(out.code, Some(0), "{}", out.all_text());
        assert!(!out.stderr.contains("cannot be reached"), "{}", out.stderr);
    }
    assert_all_done(&store, ROWS);
    // Unshared, about 100 of the 150 would draw a 429. Shared, the slots are spaced on the
    // database's clock, and the way from a slot to the sandbox (a database round trip, three
    // processes on a loaded machine) may bunch a few: one run on a 2-CPU machine at a load
    // of 14 drew 3. At most 5% is still "keeps to the limit".
    let stats = sandbox.stats();
    assert!(
        stats.rate_limited <= ROWS as u64 / 20,
        "{} requests drew a 429",
        stats.rate_limited
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `optout serve --rate`: the workers inside the server keep to the limit they are given. The
/// opt-outs are enqueued first, so the server's 8 workers start with a full queue; given half
/// the sandbox's limit, they draw no 429 at all (without `--rate`, the burst before HubSpot's
/// headers are learned draws one).
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_with_rate_keeps_its_workers_to_the_limit() {
    const ROWS: usize = 60;
    let sandbox = limited_sandbox().await;
    let dir = temp_dir("serve");
    let store = format!("sqlite:{}", dir.join("o.db").display());
    enqueue(&dir, &store, ROWS);
    let mut cmd = std::process::Command::new(optout_binary());
    cmd.args(["serve", "--addr", "127.0.0.1:0", "--workers", "8"])
        .args(["--rate", "hubspot=10/1s", "--store", &store])
        .env("OPTOUT_LINK_KEYS", "k1:0123456789abcdef0123456789abcdef")
        .env_remove("OPTOUT_API_TOKENS")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    for (k, v) in env(&sandbox.base_url()) {
        cmd.env(k, v);
    }
    let mut server = cmd.spawn().unwrap();
    // Not a timing assertion: a bound on how long to wait for the queue to empty (6 s at
    // the rate), so that a server that never sends fails the test instead of hanging it.
    let mut done = 0;
    for _ in 0..600 {
        let out = optout(&["status", "--store", &store, "--json"], &[]);
        let counts: serde_json::Value = serde_json::from_str(&out.stdout).unwrap_or_default();
        done = counts["total"]["done"].as_u64().unwrap_or(0);
        if done == ROWS as u64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status();
    let status = server.wait().unwrap();
    assert_eq!(
        done, ROWS as u64,
        "the server's workers finished {done} of {ROWS}"
    );
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert_all_done(&store, ROWS);
    let stats = sandbox.stats();
    assert!(
        stats.rate_limited == 0,
        "{} requests drew a 429",
        stats.rate_limited
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn worker_and_serve_take_rate_and_refuse_a_bad_one() {
    for command in ["worker", "serve"] {
        let help = run_optout(&[command, "--help"], &[]);
        assert_eq!(help.code, Some(0), "{}", help.all_text());
        assert!(help.stdout.contains("--rate <N/PERIOD>"), "{}", help.stdout);
        assert!(help.stdout.contains("PROVIDER=N/PERIOD"), "{}", help.stdout);
        assert!(help.stdout.contains("PostgreSQL"), "{}", help.stdout);
        for bad in ["0/s", "gmail=5/s", "5"] {
            let out = run_optout(&[command, "--rate", bad], &[]);
            assert_eq!(out.code, Some(2), "{bad}: {}", out.all_text());
            assert!(out.stderr.contains("--rate"), "{bad}: {}", out.stderr);
        }
    }
}
