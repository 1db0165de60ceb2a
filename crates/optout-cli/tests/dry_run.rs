//! `--dry-run` against a running sandbox: the requests are printed, secrets redacted, and
//! the sandbox receives nothing. HubSpot's OAuth variables are read by the CLI.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use optout_sandbox::Sandbox;

const TOKEN: &str = "pat-na1-s3cr3t-0123456789";

/// `optout args...` with only the given variables (and `stdin` on standard input).
fn optout(args: &[&str], env: &[(&str, &str)], stdin: &str) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_optout"));
    cmd.args(args)
        .env_clear()
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn unsubscribe_dry_run_prints_the_request_and_sends_nothing() {
    let sandbox = Sandbox::start().await.unwrap();
    let base = sandbox.base_url();
    let env = [
        ("HUBSPOT_BASE_URL", base.as_str()),
        ("HUBSPOT_ACCESS_TOKEN", TOKEN),
    ];
    let args = [
        "unsubscribe",
        "hubspot",
        "--recipient",
        "alice@example.com",
        "--topic",
        "12345",
        "--dry-run",
    ];
    let out = optout(&args, &env, "");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stdout = text(&out.stdout);
    assert_eq!(
        stdout.trim_end(),
        format!(
            "hubspot POST {base}/communication-preferences/v3/unsubscribe [authorization: \
             <redacted>; user-agent: optout-hubspot/{}; accept: application/json; \
             content-type: application/json] \
             {{\"emailAddress\":\"alice@example.com\",\"subscriptionId\":\"12345\"}}",
            env!("CARGO_PKG_VERSION")
        )
    );
    assert!(text(&out.stderr).contains("dry run: 1 requests, nothing sent"));

    let mut json_args = args.to_vec();
    json_args.push("--json");
    let out = optout(&json_args, &env, "");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        plan["requests"][0]["headers"]["authorization"],
        "<redacted>"
    );
    assert_eq!(plan["requests"][0]["body"]["subscriptionId"], "12345");
    for out in [&out.stdout, &out.stderr] {
        assert!(!text(out).contains(TOKEN));
    }
    // Bad input: the usual exit 2, nothing sent.
    let out = optout(
        &[
            "unsubscribe",
            "hubspot",
            "--recipient",
            "alice",
            "--topic",
            "1",
            "--dry-run",
        ],
        &env,
        "",
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_eq!(
        sandbox.stats().total_requests(),
        0,
        "the sandbox saw a request"
    );
    sandbox.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn bulk_dry_run_prints_each_batch_and_sends_nothing() {
    let sandbox = Sandbox::start().await.unwrap();
    let base = sandbox.base_url();
    let env = [
        ("HUBSPOT_BASE_URL", base.as_str()),
        ("HUBSPOT_ACCESS_TOKEN", TOKEN),
    ];
    // 150 good rows (batches of 100 and 50) and one bad one.
    let mut csv = String::from("recipient,topic\n");
    for i in 0..150 {
        csv.push_str(&format!("user{i}@example.com,12345\n"));
    }
    csv.push_str("not-an-email,12345\n");
    let journal =
        std::env::temp_dir().join(format!("optout-dry-run-{}.journal", std::process::id()));
    let journal_arg = journal.display().to_string();
    let args = [
        "bulk",
        "hubspot",
        "--input",
        "-",
        "--dry-run",
        "--journal",
        &journal_arg,
    ];
    let out = optout(&args, &env, &csv);
    assert_eq!(out.status.code(), Some(2), "a row is refused: {out:?}");
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    let writes: Vec<&&str> = lines
        .iter()
        .filter(|l| l.starts_with("hubspot POST ") && l.contains("/batch/write"))
        .collect();
    assert_eq!(writes.len(), 2, "{stdout}");
    assert_eq!(writes[0].matches("subscriberIdString").count(), 100);
    assert_eq!(writes[1].matches("subscriberIdString").count(), 50);
    assert!(lines
        .iter()
        .any(|l| l.starts_with("  then: a batch write refused")));
    assert_eq!(
        lines.last().copied(),
        Some("dry run: 2 requests, nothing sent (151 rows, 1 refused)")
    );
    assert!(text(&out.stderr).contains("line 152: "), "{out:?}");
    assert!(!stdout.contains(TOKEN));
    assert!(!journal.exists(), "a dry run writes no journal");

    // JSON: one object per request, then the summary.
    let mut json_args = args.to_vec();
    json_args.push("--json");
    let out = optout(&json_args, &env, "recipient,topic\na@example.com,1\n");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stdout = text(&out.stdout);
    let objects: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(objects[0]["method"], "POST");
    assert_eq!(objects[0]["body"]["subscriptionId"], "1");
    let summary = objects.last().unwrap();
    assert_eq!(summary["dry_run"], true);
    assert_eq!(summary["requests"], 1);

    assert_eq!(
        sandbox.stats().total_requests(),
        0,
        "the sandbox saw a request"
    );
    sandbox.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn hubspot_oauth_variables_are_read_and_checked() {
    let sandbox = Sandbox::start().await.unwrap();
    let base = sandbox.base_url();
    let oauth = [
        ("HUBSPOT_BASE_URL", base.as_str()),
        ("HUBSPOT_CLIENT_ID", "client-1"),
        ("HUBSPOT_CLIENT_SECRET", "cs-s3cr3t-app-0123"),
        ("HUBSPOT_REFRESH_TOKEN", "rt-s3cr3t-install-0123"),
    ];
    let args = [
        "unsubscribe",
        "hubspot",
        "--recipient",
        "alice@example.com",
        "--topic",
        "12345",
        "--dry-run",
    ];
    let out = optout(&args, &oauth, "");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].starts_with(&format!("hubspot POST {base}/oauth/v1/token ")),
        "{stdout}"
    );
    assert!(lines[0].ends_with(
        "grant_type=refresh_token&client_id=client-1&client_secret=<redacted>&refresh_token=<redacted>"
    ));
    assert!(lines[1].contains("/communication-preferences/v3/unsubscribe"));
    assert!(!stdout.contains("s3cr3t"), "{stdout}");

    // A partial set names what is missing; both kinds at once name both.
    let out = optout(&args, &oauth[..3], "");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        text(&out.stderr).contains("HUBSPOT_REFRESH_TOKEN is not set"),
        "{out:?}"
    );
    let mut both = oauth.to_vec();
    both.push(("HUBSPOT_ACCESS_TOKEN", TOKEN));
    let out = optout(&args, &both, "");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("HUBSPOT_ACCESS_TOKEN") && stderr.contains("HUBSPOT_CLIENT_ID"),
        "{stderr}"
    );
    assert!(!stderr.contains("s3cr3t"), "{stderr}");
    assert_eq!(sandbox.stats().total_requests(), 0);
    sandbox.shutdown().await.unwrap();
}
