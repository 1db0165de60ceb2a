//! `optout bulk` as a process: exit codes, pipes, signals and the journal, the real binary
//! against an in-process sandbox.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use optout_sandbox::{Api, Faults, Sandbox};
use optout_tests::{optout_binary, run_with_env, ProcessOutput};

const TOKEN: &str = "pat-na1-bulk-0000";

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("optout-bulk-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A CSV of `rows` good HubSpot rows, written to `dir/rows.csv`.
fn rows_csv(dir: &Path, rows: usize) -> PathBuf {
    let mut out = b"recipient\n".to_vec();
    for i in 0..rows {
        writeln!(out, "user{i}@example.com").unwrap();
    }
    let path = dir.join("rows.csv");
    std::fs::write(&path, out).unwrap();
    path
}

fn bulk(base: &str, input: &Path, extra: &[&str]) -> ProcessOutput {
    let mut args = vec!["bulk", "hubspot", "--input", input.to_str().unwrap()];
    args.extend_from_slice(extra);
    run_with_env(
        &optout_binary(),
        &args,
        &[
            ("HUBSPOT_ACCESS_TOKEN", TOKEN),
            ("HUBSPOT_BASE_URL", base),
            // One call per row, so that the sandbox's request count is the row count.
            ("HUBSPOT_BATCH_SIZE", "1"),
        ],
        Duration::from_secs(60),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journal_that_is_the_input_is_refused_with_exit_2() {
    let sandbox = Sandbox::start().await.unwrap();
    let dir = temp_dir("same");
    let input = rows_csv(&dir, 3);
    let out = bulk(
        &sandbox.base_url(),
        &input,
        &["--topic", "1", "--journal", input.to_str().unwrap()],
    );
    assert_eq!(out.code, Some(2), "{}", out.all_text());
    assert!(
        out.stderr.contains("is the input file itself"),
        "{}",
        out.stderr
    );
    assert_eq!(sandbox.stats().hubspot, 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_topic_anywhere_exits_2_and_sends_nothing() {
    let sandbox = Sandbox::start().await.unwrap();
    let dir = temp_dir("notopic");
    let input = rows_csv(&dir, 3);
    let out = bulk(&sandbox.base_url(), &input, &[]);
    assert_eq!(out.code, Some(2), "{}", out.all_text());
    assert!(out.stderr.contains("--topic"), "{}", out.stderr);
    assert_eq!(sandbox.stats().hubspot, 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journal_from_another_server_is_refused_with_exit_2() {
    let trial = Sandbox::start().await.unwrap();
    let real = Sandbox::start().await.unwrap();
    let dir = temp_dir("dest");
    let input = rows_csv(&dir, 3);
    let journal = dir.join("run.journal");
    let j = journal.to_str().unwrap();
    let out = bulk(&trial.base_url(), &input, &["--topic", "1", "--journal", j]);
    assert_eq!(out.code, Some(0), "{}", out.all_text());
    let out = bulk(&real.base_url(), &input, &["--topic", "1", "--journal", j]);
    assert_eq!(out.code, Some(2), "{}", out.all_text());
    assert!(
        out.stderr.contains("give a new --journal file"),
        "{}",
        out.stderr
    );
    assert_eq!(real.stats().hubspot, 0, "nothing sent to the real server");
    assert!(!out.all_text().contains(TOKEN));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_stderr_never_stops_the_sending() {
    let sandbox = Sandbox::start().await.unwrap();
    let dir = temp_dir("epipe");
    let mut text = b"recipient\n".to_vec();
    for i in 0..200 {
        writeln!(text, "bad-{i}").unwrap(); // each one a message on stderr
        writeln!(text, "user{i}@example.com").unwrap();
    }
    let input = dir.join("rows.csv");
    std::fs::write(&input, text).unwrap();
    let base = sandbox.base_url();
    let mut child = std::process::Command::new(optout_binary())
        .args([
            "bulk",
            "hubspot",
            "--input",
            input.to_str().unwrap(),
            "--topic",
            "1",
        ])
        .env_clear()
        .envs([
            ("HUBSPOT_ACCESS_TOKEN", TOKEN),
            ("HUBSPOT_BASE_URL", base.as_str()),
            ("HUBSPOT_BATCH_SIZE", "1"),
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stderr.take()); // `2>&1 | head -1`: the reader is gone
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut stdout).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(1),
        "rows failed, no panic (101): {stdout}"
    );
    assert_eq!(stdout.trim(), "200 unsubscribed, 0 already, 200 failed");
    assert_eq!(sandbox.stats().hubspot, 200);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_stops_the_run_after_a_few_rows() {
    let sandbox = Sandbox::builder()
        .key(Api::HubSpot, "the-right-token")
        .start()
        .await
        .unwrap();
    let dir = temp_dir("401");
    let input = rows_csv(&dir, 500);
    let out = bulk(
        &sandbox.base_url(),
        &input,
        &["--topic", "1", "--concurrency", "1"],
    );
    assert_eq!(out.code, Some(1), "{}", out.all_text());
    assert!(
        out.stderr.contains("refused the credentials 3 times"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.contains("not sent"), "{}", out.stdout);
    assert_eq!(sandbox.stats().hubspot, 3);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quote_that_never_closes_stops_the_run_naming_its_line() {
    let sandbox = Sandbox::start().await.unwrap();
    let dir = temp_dir("quote");
    let mut text = b"recipient,note\n".to_vec();
    for i in 0..6 {
        writeln!(text, "user{i}@example.com,ok").unwrap();
    }
    text.extend_from_slice(b"late@example.com,\"oops\n");
    for i in 0..3_000 {
        writeln!(text, "after{i}@example.com,fine").unwrap();
    }
    let input = dir.join("rows.csv");
    std::fs::write(&input, text).unwrap();
    let out = bulk(&sandbox.base_url(), &input, &["--topic", "1"]);
    assert_eq!(out.code, Some(1), "{}", out.all_text());
    assert!(
        out.stderr.contains("line 8: a quoted field opened here"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.starts_with("6 unsubscribed"), "{}", out.stdout);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_prints_the_partial_summary_and_a_rerun_continues() {
    let sandbox = Sandbox::builder()
        .faults(Faults {
            latency: Duration::from_millis(20),
            ..Faults::default()
        })
        .start()
        .await
        .unwrap();
    let dir = temp_dir("sigint");
    let input = rows_csv(&dir, 2_000);
    let journal = dir.join("run.journal");
    let base = sandbox.base_url();
    let args = [
        "bulk",
        "hubspot",
        "--input",
        input.to_str().unwrap(),
        "--topic",
        "1",
        "--concurrency",
        "2",
        "--journal",
        journal.to_str().unwrap(),
    ];
    let env = [
        ("HUBSPOT_ACCESS_TOKEN", TOKEN),
        ("HUBSPOT_BASE_URL", base.as_str()),
        ("HUBSPOT_BATCH_SIZE", "1"),
    ];
    let child = std::process::Command::new(optout_binary())
        .args(args)
        .env_clear()
        .envs(env)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    // Rows are done in the journal (others may be `pending` there: reserved, not yet sent).
    let done_in = |text: &str| text.matches(r#""result":"unsubscribed""#).count();
    while done_in(&std::fs::read_to_string(&journal).unwrap_or_default()) < 10 {
        assert!(started.elapsed() < Duration::from_secs(60), "no progress");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains("unsubscribed, 0 already, 0 failed"),
        "{stdout}"
    );
    assert!(stdout.contains("not sent (the run stopped)"), "{stdout}");
    assert!(stderr.contains("run the same command again"), "{stderr}");
    assert!(
        !journal.with_extension("journal.lock").exists(),
        "the lock is released"
    );
    // Every journal line is whole; the rerun sends only what is not done.
    let text = std::fs::read_to_string(&journal).unwrap();
    assert!(text.ends_with('\n'));
    assert!(
        text.lines()
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()),
        "{text}"
    );
    let done = done_in(&text);
    sandbox.set_faults(Faults::NONE);
    let before = sandbox.stats().hubspot;
    let again = run_with_env(&optout_binary(), &args, &env, Duration::from_secs(60));
    assert_eq!(again.code, Some(0), "{}", again.all_text());
    assert_eq!((sandbox.stats().hubspot - before) as usize, 2_000 - done);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_garbled_200_is_retried_in_the_run_and_reported_retryable() {
    // Was sent once and reported "not retryable", though every such row succeeded on a rerun:
    // a 200 that cannot be read went out with an unknown effect, and repeating it is harmless.
    let sandbox = Sandbox::builder()
        .faults(Faults {
            rate_malformed: 1.0,
            ..Faults::default()
        })
        .start()
        .await
        .unwrap();
    let dir = temp_dir("garbled");
    let input = rows_csv(&dir, 1);
    let base = sandbox.base_url();
    let out = bulk(&base, &input, &["--topic", "1", "--retries", "2"]);
    assert_eq!(out.code, Some(1), "{}", out.all_text());
    assert_eq!(
        out.stdout.trim(),
        "0 unsubscribed, 0 already, 1 failed",
        "{}",
        out.all_text()
    );
    assert_eq!(
        sandbox.stats().hubspot,
        3,
        "the row sent three times, its attempt and two retries: {}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("could not decode the response (HTTP 200"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("; retryable"), "{}", out.stderr);
    assert!(!out.stderr.contains("not retryable"), "{}", out.stderr);
    // The rerun the message invites, once the answers are readable, confirms it.
    sandbox.set_faults(Faults::NONE);
    let again = bulk(&base, &input, &["--topic", "1"]);
    assert_eq!(again.code, Some(0), "{}", again.all_text());
    assert_eq!(again.stdout.trim(), "1 unsubscribed, 0 already, 0 failed");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_rows_against_20_per_second_draw_no_429_and_fail_nothing() {
    // Issue 17's "done means", small: HubSpot's v4 batch writes carry 100 rows each, so 2,000
    // rows are 20 calls, which a sandbox allowing 20 requests per second serves without one
    // 429 (one call per row would need 100 s of that limit). Behaviour only, no timing.
    let sandbox = Sandbox::builder()
        .rate_limit(Api::HubSpot, "20/1s".parse().unwrap())
        .start()
        .await
        .unwrap();
    let dir = temp_dir("rate-20");
    let input = rows_csv(&dir, 2_000);
    let base = sandbox.base_url();
    // Not `bulk()`: that one sends one row per call; this run uses HubSpot's batches.
    let out = run_with_env(
        &optout_binary(),
        &[
            "bulk",
            "hubspot",
            "--input",
            input.to_str().unwrap(),
            "--topic",
            "12345",
        ],
        &[("HUBSPOT_ACCESS_TOKEN", TOKEN), ("HUBSPOT_BASE_URL", &base)],
        Duration::from_secs(60),
    );
    assert_eq!(out.code, Some(0), "{}", out.all_text());
    assert!(
        out.stdout
            .contains("2000 unsubscribed, 0 already, 0 failed"),
        "{}",
        out.all_text()
    );
    let stats = sandbox.stats();
    assert_eq!(stats.rate_limited, 0, "no request drew a 429");
    assert_eq!(stats.hubspot, 20, "20 full batches, none sent twice");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journal_that_fills_part_way_stops_the_run_and_nothing_sent_is_unrecorded() {
    // The journal's file may not grow past about 1 MB (RLIMIT_FSIZE, `ulimit -f` in blocks of
    // 512 bytes under dash): a write past it fails with EFBIG (SIGXFSZ ignored), as one on a
    // full disk fails with ENOSPC. 8,000 rows' records are more than that: it fills part way.
    const ROWS: usize = 8_000;
    let sandbox = Sandbox::start().await.unwrap();
    let dir = temp_dir("efbig");
    let input = rows_csv(&dir, ROWS);
    let journal = dir.join("run.journal");
    let email = |i: usize| format!("user{i}@example.com");
    for i in 0..ROWS {
        sandbox.subscribe(Api::HubSpot, &email(i), "1");
    }
    let base = sandbox.base_url();
    let args = [
        "bulk",
        "hubspot",
        "--input",
        input.to_str().unwrap(),
        "--topic",
        "1",
        "--journal",
        journal.to_str().unwrap(),
    ];
    let env = [
        ("HUBSPOT_ACCESS_TOKEN", TOKEN),
        ("HUBSPOT_BASE_URL", base.as_str()),
        ("HUBSPOT_BATCH_SIZE", "50"),
    ];
    let binary = optout_binary();
    let mut limited = vec![
        "-c",
        "trap '' XFSZ; ulimit -f 2000; exec \"$0\" \"$@\"",
        binary.to_str().unwrap(),
    ];
    limited.extend_from_slice(&args);
    let out = run_with_env(
        Path::new("/bin/sh"),
        &limited,
        &env,
        Duration::from_secs(60),
    );
    assert_eq!(out.code, Some(1), "interrupted: {}", out.all_text());
    let about: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("cannot write the journal"))
        .collect();
    assert_eq!(about.len(), 1, "{}", out.stderr);
    assert!(
        about[0].contains(journal.to_str().unwrap()) && about[0].contains("not sent"),
        "{}",
        out.stderr
    );
    assert!(
        out.stdout.contains("not sent (the run stopped)"),
        "the partial summary: {}",
        out.all_text()
    );

    // The journal accounts for every row the sandbox received: each is done or `pending`.
    let text = std::fs::read(&journal).unwrap();
    let mut recorded = std::collections::HashMap::new();
    for line in text.split(|b| *b == b'\n') {
        if let Ok(entry) = serde_json::from_slice::<serde_json::Value>(line) {
            if let (Some(key), Some(result)) = (entry["key"].as_str(), entry["result"].as_str()) {
                recorded.insert(key.to_string(), result.to_string());
            }
        }
    }
    let key = |i: usize| format!(r#"["hubspot","{}",null,["1"]]"#, email(i));
    let received: Vec<usize> = (0..ROWS)
        .filter(|i| !sandbox.is_subscribed(Api::HubSpot, &email(*i), "1"))
        .collect();
    assert!(
        !received.is_empty() && received.len() < ROWS,
        "part way: {} of {ROWS} received",
        received.len()
    );
    let unrecorded: Vec<usize> = received
        .iter()
        .copied()
        .filter(|i| {
            !matches!(
                recorded.get(&key(*i)).map(String::as_str),
                Some("unsubscribed" | "already_unsubscribed" | "pending")
            )
        })
        .collect();
    assert!(
        unrecorded.is_empty(),
        "{} rows sent but not in the journal, e.g. line {}",
        unrecorded.len(),
        unrecorded.first().map_or(0, |i| i + 2)
    );
    let done = recorded.values().filter(|r| *r == "unsubscribed").count();
    assert!(done > 0, "{}", out.all_text());

    // A rerun without the limit finishes the rest: every row unsubscribed.
    let again = run_with_env(&binary, &args, &env, Duration::from_secs(60));
    assert_eq!(again.code, Some(0), "{}", again.all_text());
    assert!(
        again
            .stdout
            .contains(&format!("{done} skipped (done in the journal)")),
        "{}",
        again.stdout
    );
    for i in 0..ROWS {
        assert!(
            !sandbox.is_subscribed(Api::HubSpot, &email(i), "1"),
            "{} is still subscribed",
            email(i)
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
