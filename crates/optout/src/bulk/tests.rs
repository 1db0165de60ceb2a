//! Tests of a bulk run end to end: reading, planning, sending through test clients, the journal,
//! interruption and the summary.

use super::*;
use optout_core::{async_trait, ErrorKind, Provider, Unsubscribe};
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// The receipt of a test client that unsubscribes `req`.
fn unsubscribed(req: &Unsubscribe) -> Receipt {
    Receipt::new(
        Provider::HubSpot,
        req.recipient.clone(),
        req.topics.clone(),
        Outcome::Unsubscribed,
        None,
    )
}

#[derive(Debug, Default)]
struct Recorder {
    seen: Mutex<Vec<String>>,
    calls: AtomicUsize,
    batch: usize,
    /// The length of each `unsubscribe_many` call.
    batches: Mutex<Vec<usize>>,
}

#[async_trait]
impl Unsubscriber for Recorder {
    fn provider(&self) -> Provider {
        Provider::HubSpot
    }
    async fn unsubscribe(&self, req: &Unsubscribe) -> Result<Receipt, Error> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.seen.lock().unwrap().push(req.recipient.to_string());
        if req.recipient.to_string().starts_with("fail") {
            return Err(Error::api(Provider::HubSpot, 503));
        }
        Ok(unsubscribed(req))
    }
    fn batch_size(&self) -> usize {
        self.batch.max(1)
    }
    async fn unsubscribe_many(&self, reqs: &[Unsubscribe]) -> Vec<Result<Receipt, Error>> {
        self.batches.lock().unwrap().push(reqs.len());
        let mut out = Vec::with_capacity(reqs.len());
        for req in reqs {
            out.push(self.unsubscribe(req).await);
        }
        out
    }
}

#[tokio::test]
async fn a_malformed_record_does_not_make_later_batches_grow() {
    let client = Arc::new(Recorder {
        batch: 2,
        ..Recorder::default()
    });
    let mut input = b"recipient\na@example.com\n\xff\xfe@example.com\n".to_vec();
    for i in 0..10 {
        input.extend_from_slice(format!("r{i}@example.com\n").as_bytes());
    }
    let summary = run(
        client.clone(),
        std::io::Cursor::new(input),
        &BulkJob::new().topic("9"),
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!(
        (summary.rows, summary.unsubscribed, summary.failed),
        (12, 11, 1)
    );
    let batches = client.batches.lock().unwrap();
    assert!(batches.iter().all(|n| *n <= 2), "{batches:?}");
    assert_eq!(batches.iter().sum::<usize>(), 11);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_stay_whole_across_chunks() {
    // 7 does not divide a chunk (1,024 rows): when rows are ready, only the last batch of
    // the input may be short, whatever the concurrency.
    for concurrency in [1, 3, 32] {
        let client = Arc::new(Recorder {
            batch: 7,
            ..Recorder::default()
        });
        let mut input = b"recipient\n".to_vec();
        for i in 0..3_000 {
            input.extend_from_slice(format!("r{i}@example.com\n").as_bytes());
        }
        let job = BulkJob::new().topic("9").concurrency(concurrency);
        let summary = run(client.clone(), std::io::Cursor::new(input), &job, |_| {})
            .await
            .unwrap();
        assert_eq!((summary.rows, summary.unsubscribed), (3_000, 3_000));
        assert_eq!(summary.latency.calls, 3_000_u64.div_ceil(7));
        let batches = client.batches.lock().unwrap();
        let short: Vec<_> = batches.iter().filter(|n| **n != 7).collect();
        assert_eq!(short, [&(3_000 % 7)], "concurrency {concurrency}");
    }
}

/// A client whose `unsubscribe_many` answers one result fewer than it was asked for.
#[derive(Debug)]
struct Forgetful;

#[async_trait]
impl Unsubscriber for Forgetful {
    fn provider(&self) -> Provider {
        Provider::HubSpot
    }
    async fn unsubscribe(&self, req: &Unsubscribe) -> Result<Receipt, Error> {
        Ok(unsubscribed(req))
    }
    fn batch_size(&self) -> usize {
        3
    }
    async fn unsubscribe_many(&self, reqs: &[Unsubscribe]) -> Vec<Result<Receipt, Error>> {
        reqs.iter()
            .skip(1)
            .map(|req| Ok(unsubscribed(req)))
            .collect()
    }
}

#[tokio::test]
async fn a_row_the_client_gives_no_result_for_fails_as_sent_and_unconfirmed() {
    let input = "recipient\na@example.com\nb@example.com\nc@example.com\n";
    let mut failed = Vec::new();
    let summary = run(
        Arc::new(Forgetful),
        std::io::Cursor::new(input),
        &BulkJob::new().topic("9"),
        |row| {
            if let RowResult::Failed(e) = &row.result {
                failed.push((row.line, e.clone()));
            }
        },
    )
    .await
    .unwrap();
    assert_eq!((summary.unsubscribed, summary.failed), (2, 1));
    let [(line, e)] = &failed[..] else {
        panic!("{failed:?}")
    };
    assert_eq!(
        *line, 4,
        "the answers are matched in order: the last row has none"
    );
    assert_eq!(
        (e.kind(), e.provider(), e.was_sent(), e.is_retryable()),
        (ErrorKind::Decode, Some(Provider::HubSpot), true, true)
    );
    assert!(e.to_string().contains("no result for this row"), "{e}");
}

/// A client whose calls take a second of (paused) time, counting the calls in flight.
#[derive(Debug, Default)]
struct Slow {
    in_flight: AtomicUsize,
    peak: AtomicUsize,
}

#[async_trait]
impl Unsubscriber for Slow {
    fn provider(&self) -> Provider {
        Provider::HubSpot
    }
    async fn unsubscribe(&self, req: &Unsubscribe) -> Result<Receipt, Error> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        Ok(unsubscribed(req))
    }
}

#[tokio::test(start_paused = true)]
async fn a_short_input_keeps_every_sender_busy() {
    // 100 slow rows at concurrency 32: 32 calls in flight, so four rounds of calls, not
    // a few senders working through many rows each.
    let client = Arc::new(Slow::default());
    let rows: Vec<String> = (0..100).map(|i| format!("r{i}@example.com,1")).collect();
    let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
    let job = BulkJob::new().concurrency(32);
    let started = tokio::time::Instant::now();
    let summary = run(client.clone(), csv(&rows), &job, |_| {}).await.unwrap();
    assert_eq!(summary.unsubscribed, 100);
    assert_eq!(client.peak.load(Ordering::SeqCst), 32);
    assert_eq!(started.elapsed().as_secs(), 4, "100 rows in rounds of 32");
}

/// An input that hands out what the test feeds it, waiting (like a pipe) in between.
struct Pipe {
    lines: std::sync::mpsc::Receiver<&'static str>,
    left: &'static [u8],
}

impl Read for Pipe {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left.is_empty() {
            match self.lines.recv() {
                Ok(line) => self.left = line.as_bytes(),
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.left.len());
        buf[..n].copy_from_slice(&self.left[..n]);
        self.left = &self.left[n..];
        Ok(n)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_from_a_slow_input_are_sent_as_they_arrive() {
    // Each row is sent, journaled and reported while the input waits for the next one,
    // even in a batch that is not full (7 rows per batch here).
    let (feed, lines) = std::sync::mpsc::channel();
    let input = Pipe { lines, left: b"" };
    let client = Arc::new(Recorder {
        batch: 7,
        ..Recorder::default()
    });
    let (reported, mut reports) = mpsc::unbounded_channel();
    let job = BulkJob::new().topic("9").concurrency(4);
    let running = tokio::spawn({
        let client = client.clone();
        async move {
            run(client, input, &job, |row| {
                let _ = reported.send(row.line);
            })
            .await
        }
    });
    let wait = std::time::Duration::from_secs(30); // only a hang reaches this
    feed.send("recipient\na@example.com\n").unwrap();
    let line = tokio::time::timeout(wait, reports.recv()).await;
    assert_eq!(
        line.ok().flatten(),
        Some(2),
        "the first row is done before more input"
    );
    feed.send("b@example.com\nc@example.com\n").unwrap();
    for expected in [3, 4] {
        let line = tokio::time::timeout(wait, reports.recv()).await;
        assert_eq!(line.ok().flatten(), Some(expected));
    }
    drop(feed);
    let summary = running.await.unwrap().unwrap();
    assert_eq!((summary.rows, summary.unsubscribed), (3, 3));
    assert_eq!(*client.batches.lock().unwrap(), [1, 2]);
}

/// An input that gives its data, then fails every read (a disk error, a broken pipe).
struct Failing(std::io::Cursor<Vec<u8>>);

impl Read for Failing {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.0.read(buf)? {
            0 => Err(std::io::Error::other("disk on fire")),
            n => Ok(n),
        }
    }
}

#[tokio::test]
async fn an_input_that_fails_stops_the_run_after_sending_what_was_read() {
    let client = Arc::new(Recorder::default());
    let input = Failing(csv(&["a@example.com,1", "b@example.com,1"]));
    let mut reported = 0;
    let job = BulkJob::new();
    let running = run(client.clone(), input, &job, |_| reported += 1);
    // Only a run that never ends reaches this bound.
    let ended = tokio::time::timeout(std::time::Duration::from_secs(30), running).await;
    let err = ended.expect("the run ends").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Interrupted);
    assert_eq!(
        err.to_string(),
        "interrupted: the input cannot be read after line 3: disk on fire; \
         what came before may have been sent"
    );
    assert_eq!(
        *client.seen.lock().unwrap(),
        ["a@example.com", "b@example.com"]
    );
    assert_eq!(reported, 2, "the rows read before the failure are reported");
}

fn csv(rows: &[&str]) -> std::io::Cursor<Vec<u8>> {
    std::io::Cursor::new(format!("recipient,topic\n{}\n", rows.join("\n")).into_bytes())
}

#[tokio::test]
async fn bad_rows_are_reported_by_line_and_do_not_stop_the_others() {
    let client = Arc::new(Recorder::default());
    let mut failures = Vec::new();
    let summary = run(
        client.clone(),
        csv(&["a@example.com,1", "not-an-email,1", ",1", "b@example.com,"]),
        &BulkJob::new().topic("9"),
        |row| {
            if let RowResult::Failed(e) = &row.result {
                failures.push((row.line, e.kind(), e.to_string()));
            }
        },
    )
    .await
    .unwrap();
    assert_eq!(
        summary,
        Summary {
            rows: 4,
            unsubscribed: 2,
            already: 0,
            failed: 2,
            skipped: 0,
            not_sent: 0,
            lines: 5,
            latency: summary.latency,
        }
    );
    assert_eq!(failures.len(), 2);
    assert_eq!(failures[0].0, 3);
    // The line is the report's; the error does not say it again (`line 3: invalid line 3`).
    assert!(!failures[0].2.contains("line"), "{}", failures[0].2);
    assert_eq!(failures[1].0, 4);
    assert_eq!(failures[1].1, ErrorKind::InvalidInput);
    assert_eq!(client.calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn white_space_around_headers_and_fields_is_ignored() {
    let client = Arc::new(Recorder::default());
    let input = " Recipient , topic \n  a@example.com ,  7 \n b@example.com,\t\n";
    let summary = run(
        client.clone(),
        std::io::Cursor::new(input.as_bytes().to_vec()),
        &BulkJob::new().topic("9"),
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!((summary.rows, summary.unsubscribed), (2, 2));
    let seen = client.seen.lock().unwrap();
    assert_eq!(*seen, ["a@example.com", "b@example.com"]);
}

#[tokio::test]
async fn a_missing_recipient_column_stops_the_run_before_sending() {
    let client = Arc::new(Recorder::default());
    let input = std::io::Cursor::new(b"email\na@example.com\n".to_vec());
    let err = run(client.clone(), input, &BulkJob::new().topic("1"), |_| {})
        .await
        .unwrap_err();
    assert!(err.to_string().contains("recipient"), "{err}");
    assert_eq!(client.calls.load(Ordering::SeqCst), 0);
}

/// A folder of this test process's own, named after `name`, and the path of a journal in
/// it that does not exist yet.
fn fresh_journal(name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let journal = dir.join("j.jsonl");
    let _ = std::fs::remove_file(&journal);
    (dir, journal)
}

#[tokio::test]
async fn each_journal_line_holds_the_receipt_or_the_error() {
    let (dir, journal) = fresh_journal("optout-lines");
    let job = BulkJob::new().topic("1").journal(&journal);
    let mut receipts = Vec::new();
    let rows = ["a@example.com", "fail@example.com"];
    run(Arc::new(Recorder::default()), csv(&rows), &job, |row| {
        if let RowResult::Done(receipt) = &row.result {
            receipts.push(receipt.clone());
        }
    })
    .await
    .unwrap();
    let text = std::fs::read_to_string(&journal).unwrap();
    let mut lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    lines.sort_by_key(|l| l["line"].as_u64());
    let [done, failed] = &lines[..] else {
        panic!("one line per row: {text}");
    };
    assert_eq!(done["key"], r#"["hubspot","a@example.com",null,["1"]]"#);
    assert_eq!(done["result"], "unsubscribed");
    // The receipt reported to the caller, as JSON (its time to the millisecond).
    let [receipt] = &receipts[..] else {
        panic!("one receipt: {receipts:?}");
    };
    assert_eq!(done["receipt"], serde_json::to_value(receipt).unwrap());
    assert_eq!(done["receipt"]["recipient"]["address"], "a@example.com");
    assert!(done.get("error").is_none(), "{done}");
    assert_eq!(
        failed["key"],
        r#"["hubspot","fail@example.com",null,["1"]]"#
    );
    assert_eq!(
        (failed["line"].as_u64(), &failed["result"]),
        (Some(3), &"failed".into())
    );
    let error = &failed["error"];
    assert_eq!(
        (&error["provider"], &error["status"], &error["retryable"]),
        (&"hubspot".into(), &503.into(), &true.into()),
        "{error}"
    );
    assert!(failed.get("receipt").is_none(), "{failed}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn the_journal_makes_a_rerun_send_only_what_is_not_done() {
    let (dir, journal) = fresh_journal("optout-bulk");
    let job = BulkJob::new().topic("1").journal(&journal).concurrency(3);
    let rows = ["a@example.com", "fail@example.com", "c@example.com"];

    let first = Arc::new(Recorder {
        batch: 2,
        ..Default::default()
    });
    let s1 = run(first.clone(), csv(&rows), &job, |_| {}).await.unwrap();
    assert_eq!((s1.unsubscribed, s1.failed), (2, 1));
    let lines = std::fs::read_to_string(&journal).unwrap();
    assert_eq!(lines.lines().count(), 3, "every row once: {lines}");

    // A torn line from a killed process is ignored.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&journal)
        .unwrap()
        .write_all(b"{\"key\":\"hub")
        .unwrap();
    let second = Arc::new(Recorder::default());
    let s2 = run(second.clone(), csv(&rows), &job, |_| {}).await.unwrap();
    assert_eq!(s2.skipped, 2);
    assert_eq!(s2.failed, 1);
    assert_eq!(
        *second.seen.lock().unwrap(),
        vec!["fail@example.com".to_string()]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Runs `input` (a whole CSV text) with `job` through a [`Recorder`], collecting the
/// failed rows' lines and messages.
async fn run_text(
    input: &[u8],
    job: &BulkJob,
) -> (
    Arc<Recorder>,
    Summary,
    Result<(), Error>,
    Vec<(u64, String)>,
) {
    let client = Arc::new(Recorder::default());
    let mut failed = Vec::new();
    let (summary, ended) = run_until(
        client.clone(),
        std::io::Cursor::new(input.to_vec()),
        job,
        |row| {
            if let RowResult::Failed(e) = &row.result {
                failed.push((row.line, e.to_string()));
            }
        },
        std::future::pending(),
    )
    .await;
    (client, summary, ended, failed)
}

#[tokio::test]
async fn a_quote_that_never_closes_stops_the_run_naming_its_line() {
    let mut input = b"recipient,note\na@example.com,ok\nb@example.com,\"oops\n".to_vec();
    for i in 0..3_000 {
        input.extend_from_slice(format!("r{i}@example.com,fine\n").as_bytes());
    }
    let (client, summary, ended, _) = run_text(&input, &BulkJob::new().topic("1")).await;
    let err = ended.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Interrupted);
    assert!(
        err.to_string()
            .contains("line 3: a quoted field opened here"),
        "{err}"
    );
    assert_eq!(summary.unsubscribed, 1, "the row before it is sent");
    assert_eq!(client.calls.load(Ordering::SeqCst), 1);

    // Near the end of the file too: the input ends inside the quote.
    let input = b"recipient,note\na@example.com,\"oops\nb@example.com,x\nc@example.com,y\n";
    let (_, _, ended, _) = run_text(input, &BulkJob::new().topic("1")).await;
    let err = ended.unwrap_err();
    assert!(
        err.to_string()
            .contains("line 2: a quote opened here never closes"),
        "{err}"
    );
    assert!(err.to_string().contains("3 lines"), "{err}");
    // A short quoted field with a line break that closes is a row like any other.
    let input = b"recipient,note\na@example.com,\"two\nlines\"\nb@example.com,x\n";
    let (_, summary, ended, _) = run_text(input, &BulkJob::new().topic("1")).await;
    ended.unwrap();
    assert_eq!(
        (summary.rows, summary.unsubscribed, summary.lines),
        (2, 2, 4)
    );
}

#[tokio::test]
async fn line_numbers_count_blank_lines() {
    let input = b"recipient\n\n\nnot-an-email\n\nb@example.com\n";
    let (_, summary, ended, failed) = run_text(input, &BulkJob::new().topic("1")).await;
    ended.unwrap();
    assert_eq!(failed.iter().map(|f| f.0).collect::<Vec<_>>(), [4]);
    assert_eq!((summary.rows, summary.lines), (2, 6));
    // No line break at the end, and a quoted field of two lines before it.
    let input = b"recipient,n\n\na@example.com,\"x\ny\"\n\nbad\nnot-an-email,1";
    let (_, _, ended, failed) = run_text(input, &BulkJob::new().topic("1")).await;
    ended.unwrap();
    assert_eq!(failed.iter().map(|f| f.0).collect::<Vec<_>>(), [6, 7]);
}

#[tokio::test]
async fn a_latin1_byte_in_an_unused_column_is_no_error() {
    let input = b"recipient,name\na@example.com,Jos\xe9\n\xe9@example.com,x\n";
    let (_, summary, ended, failed) = run_text(input, &BulkJob::new().topic("1")).await;
    ended.unwrap();
    assert_eq!((summary.unsubscribed, summary.failed), (1, 1));
    assert_eq!(failed[0].0, 3);
    assert!(failed[0].1.contains("not UTF-8"), "{failed:?}");
}

#[tokio::test]
async fn no_topic_anywhere_is_refused_before_sending() {
    let (client, _, ended, _) = run_text(b"recipient\na@example.com\n", &BulkJob::new()).await;
    let err = ended.unwrap_err();
    assert!(!err.was_sent(), "{err}");
    assert!(err.to_string().contains("--topic"), "{err}");
    assert_eq!(client.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn journal_keys_do_not_collide_and_old_journals_are_read() {
    let (dir, journal) = fresh_journal("optout-keys");
    let job = BulkJob::new().journal(&journal);
    // Novu-like ambiguity on topics: `[a, b]` (two) vs `"a,b"` (one topic).
    let two = BulkJob {
        topics: vec!["a".into(), "b".into()],
        ..job.clone()
    };
    let (_, s, ended, _) = run_text(b"recipient\nA@Example.com\n", &two).await;
    ended.unwrap();
    assert_eq!(s.unsubscribed, 1);
    let (client, s, ended, _) = run_text(b"recipient,topic\na@example.com,\"a,b\"\n", &job).await;
    ended.unwrap();
    assert_eq!(
        (s.skipped, client.calls.load(Ordering::SeqCst)),
        (0, 1),
        "another topic"
    );
    // The same person in another case, the topics in another order: done already.
    let (_, s, ended, _) = run_text(
        b"recipient,topic\na@EXAMPLE.com,a\n",
        &BulkJob {
            topics: vec!["b".into()],
            ..job.clone()
        },
    )
    .await;
    ended.unwrap();
    assert_eq!(s.skipped, 1);

    // A journal written before keys were JSON: its done rows are still skipped.
    std::fs::write(
        &journal,
        "{\"key\":\"hubspot|old@example.com||1\",\"line\":2,\"result\":\"unsubscribed\"}\n",
    )
    .unwrap();
    let (client, s, ended, _) = run_text(
        b"recipient\nold@example.com\n",
        &BulkJob::new().topic("1").journal(&journal),
    )
    .await;
    ended.unwrap();
    assert_eq!((s.skipped, client.calls.load(Ordering::SeqCst)), (1, 0));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_journal_of_another_destination_is_refused() {
    let (dir, journal) = fresh_journal("optout-dest");
    let trial = Destination {
        provider: "hubspot".into(),
        base_url: "http://127.0.0.1:1".into(),
        account: "sha256:aaaa".into(),
    };
    let real = Destination {
        base_url: "https://api.hubapi.com".into(),
        ..trial.clone()
    };
    let job = BulkJob::new().topic("1").journal(&journal);
    let (_, _, ended, _) = run_text(
        b"recipient\na@example.com\n",
        &job.clone().destination(trial.clone()),
    )
    .await;
    ended.unwrap();
    let (client, _, ended, _) = run_text(
        b"recipient\na@example.com\n",
        &job.clone().destination(real),
    )
    .await;
    let err = ended.unwrap_err();
    assert!(!err.was_sent(), "{err}");
    assert!(
        err.to_string().contains("give a new --journal file"),
        "{err}"
    );
    assert_eq!(client.calls.load(Ordering::SeqCst), 0);
    // The same destination again: the row is done.
    let (_, s, ended, _) = run_text(b"recipient\na@example.com\n", &job.destination(trial)).await;
    ended.unwrap();
    assert_eq!(s.skipped, 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_second_run_on_a_locked_journal_is_refused() {
    let (dir, journal) = fresh_journal("optout-lock");
    let lock = journal::Lock::take(&journal).unwrap();
    let (client, _, ended, _) = run_text(
        b"recipient\na@example.com\n",
        &BulkJob::new().topic("1").journal(&journal),
    )
    .await;
    let err = ended.unwrap_err();
    assert!(
        err.to_string()
            .contains(&format!("pid {}", std::process::id())),
        "{err}"
    );
    assert_eq!(client.calls.load(Ordering::SeqCst), 0);
    drop(lock);
    let (_, s, ended, _) = run_text(
        b"recipient\na@example.com\n",
        &BulkJob::new().topic("1").journal(&journal),
    )
    .await;
    ended.unwrap();
    assert_eq!(s.unsubscribed, 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_journal_that_cannot_be_written_stops_before_sending() {
    let full = std::path::Path::new("/dev/full");
    if !full.exists() {
        eprintln!("SKIPPED: no /dev/full here");
        return;
    }
    let job = BulkJob::new().topic("1").journal(full);
    let (client, _, ended, _) = run_text(b"recipient\na@example.com\n", &job).await;
    let err = ended.unwrap_err();
    assert!(!err.was_sent(), "{err}");
    // `/dev/full` reads as endless zeros: not a journal (a full disk fails the header write).
    assert!(err.to_string().contains("journal /dev/full"), "{err}");
    assert_eq!(client.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn an_endless_line_stops_the_run_with_a_clear_error() {
    let input = std::io::Read::take(std::io::repeat(0), 3 << 20);
    let client = Arc::new(Recorder::default());
    let job = BulkJob::new().topic("1");
    let mut input_with_header = std::io::Read::chain(&b"recipient\n"[..], input);
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut input_with_header, &mut bytes).unwrap();
    let (_, ended) = run_until(
        client,
        std::io::Cursor::new(bytes),
        &job,
        |_| {},
        std::future::pending(),
    )
    .await;
    let err = ended.unwrap_err();
    assert!(err.to_string().contains("longer than 1 MiB"), "{err}");
}

/// A client whose token is refused: every row answers 401.
#[derive(Debug, Default)]
struct Refused(AtomicUsize);

#[async_trait]
impl Unsubscriber for Refused {
    fn provider(&self) -> Provider {
        Provider::HubSpot
    }
    async fn unsubscribe(&self, _: &Unsubscribe) -> Result<Receipt, Error> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Err(Error::api(Provider::HubSpot, 401).with_message("token expired"))
    }
}

#[tokio::test]
async fn a_refused_token_stops_the_run_after_a_few_rows() {
    let rows: Vec<String> = (0..500).map(|i| format!("r{i}@example.com,1")).collect();
    let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
    let client = Arc::new(Refused::default());
    let job = BulkJob::new().concurrency(1);
    let (summary, ended) = run_until(
        client.clone(),
        csv(&rows),
        &job,
        |_| {},
        std::future::pending(),
    )
    .await;
    let err = ended.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Interrupted);
    assert!(err.to_string().contains("token expired"), "{err}");
    assert_eq!(client.0.load(Ordering::SeqCst), 3);
    assert_eq!(summary.failed, 3);
    assert!(summary.not_sent > 0 && summary.rows <= 500, "{summary:?}");
}

#[tokio::test]
async fn a_stop_finishes_what_is_in_flight_and_counts_the_rest_as_not_sent() {
    let rows: Vec<String> = (0..100).map(|i| format!("r{i}@example.com,1")).collect();
    let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
    let client = Arc::new(Recorder::default());
    let (summary, ended) = run_until(client.clone(), csv(&rows), &BulkJob::new(), |_| {}, async {
    })
    .await;
    let err = ended.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Interrupted);
    assert_eq!(
        summary.unsubscribed as usize,
        client.calls.load(Ordering::SeqCst)
    );
    assert!(summary.unsubscribed < 100, "{summary:?}");
}
