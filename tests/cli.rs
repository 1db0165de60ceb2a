//! The `optout` command line, end to end: the real binary against an in-process sandbox.
//!
//! Each test starts its own sandbox (a free loopback port), runs the binary with a cleared
//! environment plus only the variables it sets, and checks the exit status, what was printed,
//! what reached the sandbox (its request counts) and what changed there (`is_subscribed`).
//! ARCHITECTURE.md §6 is the contract checked here.

use optout_sandbox::{Api, Sandbox, Seed, DEFAULT_MOBIVATE_ACCOUNT_ID};
use optout_tests::{dead_base_url, run_optout, ProcessOutput};
use serde_json::Value;

/// One provider as the command line sees it: its credentials, a recipient it takes and the
/// topics used in the tests.
struct Case {
    api: Api,
    /// The credential variables and their (distinctive) values.
    env: &'static [(&'static str, &'static str)],
    /// The values that must never be printed.
    secrets: &'static [&'static str],
    recipient: &'static str,
    /// The recipient as the sandbox stores it.
    stored_recipient: &'static str,
    recipient_kind: &'static str,
    /// The recipient's field in the receipt JSON and its value.
    recipient_field: (&'static str, &'static str),
    topics: &'static [&'static str],
    /// Requests one unsubscribe of all `topics` sends.
    requests: u64,
    /// The outcome of the same unsubscribe again.
    repeat_outcome: &'static str,
}

const MIGMA_KEY: &str = "sk_TEST_SECRET_MIGMA_123";
const NOVU_KEY: &str = "sk_TEST_SECRET_NOVU_123";
const PUSHY_KEY: &str = "sk_TEST_SECRET_PUSHY_123";
const HUBSPOT_TOKEN: &str = "pat-TEST-SECRET-HUBSPOT-123";

const CASES: [Case; 5] = [
    Case {
        api: Api::Migma,
        env: &[("MIGMA_API_KEY", MIGMA_KEY), ("MIGMA_PROJECT_ID", "proj_1")],
        secrets: &[MIGMA_KEY],
        recipient: "contact_42",
        stored_recipient: "contact_42",
        recipient_kind: "subscriber",
        recipient_field: ("id", "contact_42"),
        topics: &["newsletter", "promotions"],
        requests: 2,
        repeat_outcome: "unsubscribed",
    },
    Case {
        api: Api::Novu,
        env: &[("NOVU_SECRET_KEY", NOVU_KEY)],
        secrets: &[NOVU_KEY],
        recipient: "user-123",
        stored_recipient: "user-123",
        recipient_kind: "subscriber",
        recipient_field: ("id", "user-123"),
        topics: &["product-updates", "security"],
        requests: 2,
        repeat_outcome: "already_unsubscribed",
    },
    Case {
        api: Api::Pushy,
        env: &[("PUSHY_SECRET_API_KEY", PUSHY_KEY)],
        secrets: &[PUSHY_KEY],
        recipient: "a6345d0278adc55d3474f5",
        stored_recipient: "a6345d0278adc55d3474f5",
        recipient_kind: "device",
        recipient_field: ("token", "a6345d0278adc55d3474f5"),
        topics: &["news", "media"],
        // Pushy takes up to 100 topics in one call.
        requests: 1,
        repeat_outcome: "unsubscribed",
    },
    Case {
        api: Api::Mobivate,
        env: &[("MOBIVATE_ACCOUNT_ID", DEFAULT_MOBIVATE_ACCOUNT_ID)],
        secrets: &[DEFAULT_MOBIVATE_ACCOUNT_ID],
        recipient: "+254 700 000000",
        stored_recipient: "254700000000",
        recipient_kind: "phone",
        recipient_field: ("msisdn", "254700000000"),
        topics: &["c71e2c2ee68b410a82d6c5f910c2d428"],
        requests: 1,
        repeat_outcome: "unsubscribed",
    },
    Case {
        api: Api::HubSpot,
        env: &[("HUBSPOT_ACCESS_TOKEN", HUBSPOT_TOKEN)],
        secrets: &[HUBSPOT_TOKEN],
        recipient: "alice@example.com",
        stored_recipient: "alice@example.com",
        recipient_kind: "email",
        recipient_field: ("address", "alice@example.com"),
        topics: &["12345", "67890"],
        requests: 2,
        repeat_outcome: "already_unsubscribed",
    },
];

fn case(api: Api) -> &'static Case {
    CASES
        .iter()
        .find(|c| c.api == api)
        .expect("every api has a case")
}

/// The environment variable of `api`'s base URL, e.g. `HUBSPOT_BASE_URL`.
fn base_url_var(api: Api) -> String {
    format!("{}_BASE_URL", api.name().to_uppercase())
}

/// Runs the binary on a blocking thread (the sandbox keeps serving on the runtime).
async fn optout(args: Vec<String>, env: Vec<(String, String)>) -> ProcessOutput {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        run_optout(&args, &env)
    })
    .await
    .expect("the runner thread")
}

/// `optout unsubscribe <provider> --recipient R --topic T... EXTRA` with the case's
/// credentials and `<PROVIDER>_BASE_URL` pointing at `base_url`.
async fn unsubscribe(c: &Case, base_url: &str, extra: &[&str]) -> ProcessOutput {
    let mut args = vec![
        "unsubscribe".to_string(),
        c.api.name().to_string(),
        "--recipient".to_string(),
        c.recipient.to_string(),
    ];
    for topic in c.topics {
        args.push("--topic".into());
        args.push((*topic).into());
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    optout(args, env_of(c, Some(base_url))).await
}

fn env_of(c: &Case, base_url: Option<&str>) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = c
        .env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    if let Some(url) = base_url {
        env.push((base_url_var(c.api), url.to_string()));
    }
    env
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

fn json_line(out: &ProcessOutput) -> Value {
    let line = out
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON on stdout: {out:?}"));
    serde_json::from_str(line).unwrap_or_else(|e| panic!("bad JSON {line:?}: {e}"))
}

fn assert_no_secret(c: &Case, out: &ProcessOutput) {
    let text = out.all_text();
    for secret in c.secrets {
        assert!(
            !text.contains(secret),
            "{}: the secret appears in the output: {out:?}",
            c.api
        );
    }
}

fn assert_exit(out: &ProcessOutput, code: i32) {
    assert!(!out.timed_out, "timed out: {out:?}");
    assert_eq!(out.code, Some(code), "exit status: {out:?}");
}

/// An error's JSON, as `--json` prints it: the documented keys with the right types.
fn assert_error_json(json: &Value, kind: &str) {
    assert_eq!(json["kind"], kind, "{json}");
    assert!(json["retryable"].is_boolean(), "{json}");
    assert!(json["attempts"].is_u64(), "{json}");
    let line = json["error"].as_str().unwrap_or_else(|| panic!("{json}"));
    assert!(!line.is_empty() && !line.contains('\n'), "{json}");
    for optional in ["code", "message"] {
        if let Some(v) = json.get(optional) {
            assert!(v.is_string(), "{optional} in {json}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// Success, repeat, JSON shape
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn every_provider_unsubscribes_and_exits_0_with_one_line_naming_it() {
    for c in &CASES {
        let sandbox = Sandbox::start().await.expect("sandbox");
        for topic in c.topics {
            assert!(sandbox.is_subscribed(c.api, c.stored_recipient, topic));
        }
        let out = unsubscribe(c, &sandbox.base_url(), &[]).await;
        assert_exit(&out, 0);
        let lines: Vec<&str> = out.stdout.lines().collect();
        assert_eq!(lines.len(), 1, "{}: one line: {out:?}", c.api);
        let line = lines[0];
        assert!(line.contains(c.api.name()), "{line}");
        assert!(line.contains(c.stored_recipient), "{line}");
        assert!(line.contains("unsubscribed"), "{line}");
        for topic in c.topics {
            assert!(line.contains(topic), "{line}");
            assert!(
                !sandbox.is_subscribed(c.api, c.stored_recipient, topic),
                "{}: still subscribed to {topic}",
                c.api
            );
        }
        let stats = sandbox.stats();
        assert_eq!(stats.requests(c.api), c.requests, "{}: {stats:?}", c.api);
        assert_eq!(stats.total_requests(), c.requests, "{}: {stats:?}", c.api);
        assert_no_secret(c, &out);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_repeat_exits_0_with_the_providers_own_answer() {
    for c in &CASES {
        let sandbox = Sandbox::start().await.expect("sandbox");
        let first = unsubscribe(c, &sandbox.base_url(), &["--json"]).await;
        assert_exit(&first, 0);
        assert_eq!(json_line(&first)["outcome"], "unsubscribed", "{}", c.api);
        let again = unsubscribe(c, &sandbox.base_url(), &["--json"]).await;
        assert_exit(&again, 0);
        assert_eq!(
            json_line(&again)["outcome"],
            c.repeat_outcome,
            "{}: {again:?}",
            c.api
        );
        assert_eq!(sandbox.stats().requests(c.api), 2 * c.requests, "{}", c.api);
        assert_no_secret(c, &first);
        assert_no_secret(c, &again);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_human_line_of_a_repeat_says_already_unsubscribed() {
    let sandbox = Sandbox::start().await.expect("sandbox");
    let c = case(Api::HubSpot);
    assert_exit(&unsubscribe(c, &sandbox.base_url(), &[]).await, 0);
    let again = unsubscribe(c, &sandbox.base_url(), &[]).await;
    assert_exit(&again, 0);
    assert!(again.stdout.contains("already unsubscribed"), "{again:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_json_receipt_has_the_documented_shape() {
    for c in &CASES {
        let sandbox = Sandbox::start().await.expect("sandbox");
        let out = unsubscribe(c, &sandbox.base_url(), &["--json"]).await;
        assert_exit(&out, 0);
        assert_eq!(
            out.stdout.trim().lines().count(),
            1,
            "one JSON line: {out:?}"
        );
        let json = json_line(&out);
        assert_eq!(json["provider"], c.api.name(), "{json}");
        assert_eq!(json["recipient"]["kind"], c.recipient_kind, "{json}");
        let (field, value) = c.recipient_field;
        assert_eq!(json["recipient"][field], value, "{json}");
        let topics: Vec<Value> = c.topics.iter().map(|t| Value::from(*t)).collect();
        assert_eq!(json["topics"], Value::Array(topics), "{json}");
        assert_eq!(json["outcome"], "unsubscribed", "{json}");
        let at = json["completed_at"].as_str().unwrap_or_default();
        // RFC 3339, UTC: 2026-11-23T10:00:00.123Z
        assert!(
            at.len() >= 20 && at.as_bytes()[4] == b'-' && at.contains('T') && at.ends_with('Z'),
            "completed_at {at:?}"
        );
        if c.api == Api::Mobivate {
            let reference = json["reference"].as_str().unwrap_or_default();
            assert!(reference.starts_with("AP:"), "{json}");
        }
        assert_no_secret(c, &out);
    }
}

// ---------------------------------------------------------------------------------------
// Exit 2: nothing sent
// ---------------------------------------------------------------------------------------

/// Runs `args` with `env` against a fresh sandbox and checks exit 2 with nothing sent.
async fn assert_refused(
    args: &[&str],
    env: Vec<(String, String)>,
    sandbox: &Sandbox,
) -> ProcessOutput {
    let out = optout(strings(args), env).await;
    assert_exit(&out, 2);
    assert!(!out.stderr.trim().is_empty(), "says why on stderr: {out:?}");
    if !args.contains(&"--json") {
        assert!(out.stdout.trim().is_empty(), "errors go to stderr: {out:?}");
    }
    assert_eq!(
        sandbox.stats().total_requests(),
        0,
        "nothing may be sent: {out:?}"
    );
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_exits_2_and_sends_nothing() {
    let sandbox = Sandbox::start().await.expect("sandbox");
    let base = sandbox.base_url();
    let refused: [(Api, &str, &[&str], &str); 5] = [
        (
            Api::HubSpot,
            "not-an-email",
            &["--topic", "12345"],
            "recipient",
        ),
        (
            Api::Mobivate,
            "12",
            &["--topic", "c71e2c2ee68b410a82d6c5f910c2d428"],
            "recipient",
        ),
        (
            Api::Pushy,
            "a6345d0278adc55d3474f5",
            &["--topic", "breaking news"],
            "topic",
        ),
        (Api::Novu, "", &["--topic", "product-updates"], "recipient"),
        (Api::Migma, "   ", &["--topic", "newsletter"], "recipient"),
    ];
    for (api, recipient, topics, field) in refused {
        let c = case(api);
        let mut args = vec![
            "unsubscribe",
            api.name(),
            "--recipient",
            recipient,
            "--json",
        ];
        args.extend_from_slice(topics);
        let out = assert_refused(&args, env_of(c, Some(&base)), &sandbox).await;
        let json = json_line(&out);
        assert_error_json(&json, "invalid_input");
        assert_eq!(json["attempts"], 0, "{json}");
        assert_eq!(json["field"], field, "{api}: {json}");
        assert!(out.stderr.contains("nothing was sent"), "{out:?}");
        assert_eq!(out.stderr.trim().lines().count(), 1, "one line: {out:?}");
        assert_no_secret(c, &out);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_credential_exits_2_and_names_the_variable() {
    let sandbox = Sandbox::start().await.expect("sandbox");
    let base = sandbox.base_url();
    for c in &CASES {
        for (missing, _) in c.env {
            let env: Vec<(String, String)> = env_of(c, Some(&base))
                .into_iter()
                .filter(|(k, _)| k != missing)
                .collect();
            let mut args = vec!["unsubscribe", c.api.name(), "--recipient", c.recipient];
            args.extend(["--topic", c.topics[0]]);
            let out = assert_refused(&args, env, &sandbox).await;
            assert!(out.stderr.contains(missing), "{missing}: {out:?}");
            assert_eq!(out.stderr.trim().lines().count(), 1, "one line: {out:?}");
            assert_no_secret(c, &out);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_base_url_exits_2() {
    let sandbox = Sandbox::start().await.expect("sandbox");
    for c in &CASES {
        let mut args = vec!["unsubscribe", c.api.name(), "--recipient", c.recipient];
        args.extend(["--topic", c.topics[0], "--base-url", "ftp://x", "--json"]);
        let out = assert_refused(&args, env_of(c, None), &sandbox).await;
        assert_error_json(&json_line(&out), "config");
        assert!(out.stderr.contains("ftp://x"), "{out:?}");
        assert_no_secret(c, &out);
    }
    // The same from the environment.
    let c = case(Api::HubSpot);
    let mut env = env_of(c, None);
    env.push(("HUBSPOT_BASE_URL".into(), "not a url".into()));
    let args = [
        "unsubscribe",
        "hubspot",
        "--recipient",
        c.recipient,
        "--topic",
        "1",
    ];
    let out = assert_refused(&args, env, &sandbox).await;
    assert!(out.stderr.contains("HUBSPOT_BASE_URL"), "{out:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn no_topic_exits_2_and_says_how_to_give_one() {
    let sandbox = Sandbox::start().await.expect("sandbox");
    for c in &CASES {
        let args = ["unsubscribe", c.api.name(), "--recipient", c.recipient];
        let out = assert_refused(&args, env_of(c, Some(&sandbox.base_url())), &sandbox).await;
        assert!(out.stderr.contains("--topic"), "{out:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn all_topics_is_unsupported_where_the_provider_cannot_do_it() {
    let sandbox = Sandbox::start().await.expect("sandbox");
    for api in [Api::Migma, Api::Novu, Api::Mobivate] {
        let c = case(api);
        let args = [
            "unsubscribe",
            api.name(),
            "--recipient",
            c.recipient,
            "--all-topics",
            "--json",
        ];
        let out = assert_refused(&args, env_of(c, Some(&sandbox.base_url())), &sandbox).await;
        let json = json_line(&out);
        assert_error_json(&json, "unsupported");
        assert_eq!(json["provider"], api.name(), "{json}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn usage_errors_exit_2() {
    let sandbox = Sandbox::start().await.expect("sandbox");
    let c = case(Api::HubSpot);
    let env = || env_of(c, Some(&sandbox.base_url()));
    // An unknown legal basis (clap lists the value it refused).
    let out = assert_refused(
        &[
            "unsubscribe",
            "hubspot",
            "--recipient",
            c.recipient,
            "--topic",
            "12345",
            "--legal-basis",
            "because-i-said-so",
            "--legal-basis-explanation",
            "x",
        ],
        env(),
        &sandbox,
    )
    .await;
    assert!(out.stderr.contains("because-i-said-so"), "{out:?}");
    // An unknown provider.
    let out = assert_refused(
        &[
            "unsubscribe",
            "mailchimp",
            "--recipient",
            c.recipient,
            "--topic",
            "1",
        ],
        env(),
        &sandbox,
    )
    .await;
    assert!(out.stderr.contains("mailchimp"), "{out:?}");
    // --topic and --all-topics together.
    assert_refused(
        &[
            "unsubscribe",
            "hubspot",
            "--recipient",
            c.recipient,
            "--topic",
            "1",
            "--all-topics",
        ],
        env(),
        &sandbox,
    )
    .await;
    // A legal basis without its explanation.
    assert_refused(
        &[
            "unsubscribe",
            "hubspot",
            "--recipient",
            c.recipient,
            "--topic",
            "1",
            "--legal-basis",
            "non-gdpr",
        ],
        env(),
        &sandbox,
    )
    .await;
    // No recipient at all.
    assert_refused(&["unsubscribe", "hubspot", "--topic", "1"], env(), &sandbox).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_identifier_is_refused_for_providers_other_than_novu() {
    let sandbox = Sandbox::start().await.expect("sandbox");
    let c = case(Api::HubSpot);
    let args = [
        "unsubscribe",
        "hubspot",
        "--recipient",
        c.recipient,
        "--topic",
        "12345",
        "--identifier",
        "sub-1",
    ];
    let out = assert_refused(&args, env_of(c, Some(&sandbox.base_url())), &sandbox).await;
    assert!(out.stderr.contains("identifier"), "{out:?}");
}

// ---------------------------------------------------------------------------------------
// Exit 1: the provider or the network failed
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_token_exits_1_with_one_line_naming_hubspot_and_401() {
    const WRONG: &str = "pat-WRONG-SECRET-456";
    const RIGHT: &str = "pat-RIGHT-SECRET-789";
    let sandbox = Sandbox::builder()
        .key(Api::HubSpot, RIGHT)
        .start()
        .await
        .expect("sandbox");
    let env = vec![
        ("HUBSPOT_ACCESS_TOKEN".to_string(), WRONG.to_string()),
        ("HUBSPOT_BASE_URL".to_string(), sandbox.base_url()),
    ];
    let args = [
        "unsubscribe",
        "hubspot",
        "--recipient",
        "alice@example.com",
        "--topic",
        "12345",
    ];
    let out = optout(strings(&args), env.clone()).await;
    assert_exit(&out, 1);
    let stderr = out.stderr.trim();
    assert_eq!(stderr.lines().count(), 1, "one line: {out:?}");
    assert!(
        stderr.contains("hubspot") && stderr.contains("401"),
        "{out:?}"
    );
    assert!(out.stdout.trim().is_empty(), "{out:?}");
    assert!(!out.all_text().contains(WRONG) && !out.all_text().contains(RIGHT));
    assert_eq!(
        sandbox.stats().requests(Api::HubSpot),
        1,
        "401 is not retried"
    );
    assert!(sandbox.is_subscribed(Api::HubSpot, "alice@example.com", "12345"));

    let mut json_args = args.to_vec();
    json_args.push("--json");
    let out = optout(strings(&json_args), env).await;
    assert_exit(&out, 1);
    let json = json_line(&out);
    assert_error_json(&json, "unauthorized");
    assert_eq!(json["provider"], "hubspot", "{json}");
    assert_eq!(json["status"], 401, "{json}");
    assert_eq!(json["retryable"], false, "{json}");
    assert_eq!(json["attempts"], 1, "{json}");
    assert!(json.get("message").is_some(), "HubSpot's message: {json}");
    assert!(!out.all_text().contains(WRONG) && !out.all_text().contains(RIGHT));

    // And with the right token, the same call succeeds.
    let env = vec![
        ("HUBSPOT_ACCESS_TOKEN".to_string(), RIGHT.to_string()),
        ("HUBSPOT_BASE_URL".to_string(), sandbox.base_url()),
    ];
    let out = optout(strings(&args), env).await;
    assert_exit(&out, 0);
    assert!(!out.all_text().contains(RIGHT));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_key_never_leaks_for_any_provider() {
    let mut builder = Sandbox::builder();
    for api in [Api::Migma, Api::Novu, Api::Pushy, Api::HubSpot] {
        builder = builder.key(api, "the-only-accepted-key");
    }
    let sandbox = builder
        .mobivate_account_id("ffffffffffffffffffffffffffffffff")
        .start()
        .await
        .expect("sandbox");
    for c in &CASES {
        let out = unsubscribe(c, &sandbox.base_url(), &["--json", "--retries", "0"]).await;
        assert_exit(&out, 1);
        let json = json_line(&out);
        assert_eq!(json["provider"], c.api.name(), "{json}");
        assert_eq!(out.stderr.trim().lines().count(), 1, "one line: {out:?}");
        assert!(out.stderr.contains(c.api.name()), "{out:?}");
        assert_no_secret(c, &out);
        for topic in c.topics {
            assert!(sandbox.is_subscribed(c.api, c.stored_recipient, topic));
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_topic_in_a_closed_world_exits_1_with_404() {
    let seed = Seed::new()
        .topic(Api::Migma, "only-this")
        .topic(Api::Novu, "only-this")
        .recipient(Api::Novu, "user-123")
        .topic(Api::Mobivate, "00000000000000000000000000000000")
        .topic(Api::HubSpot, "1");
    let sandbox = Sandbox::builder()
        .seed(seed)
        .start()
        .await
        .expect("sandbox");
    for api in [Api::Migma, Api::Novu, Api::Mobivate, Api::HubSpot] {
        let c = case(api);
        let args = [
            "unsubscribe",
            api.name(),
            "--recipient",
            c.recipient,
            "--topic",
            c.topics[0],
            "--json",
        ];
        let before = sandbox.stats().requests(api);
        let out = optout(strings(&args), env_of(c, Some(&sandbox.base_url()))).await;
        assert_exit(&out, 1);
        let json = json_line(&out);
        assert_error_json(&json, "not_found");
        assert_eq!(json["provider"], api.name(), "{json}");
        assert_eq!(json["status"], 404, "{json}");
        assert_eq!(json["retryable"], false, "{json}");
        assert!(
            out.stderr.contains("404") && out.stderr.contains(api.name()),
            "{out:?}"
        );
        assert_eq!(
            sandbox.stats().requests(api) - before,
            1,
            "{api}: a 404 is sent once"
        );
        assert_no_secret(c, &out);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn connection_refused_exits_1_as_a_network_error() {
    let dead = dead_base_url();
    for c in &CASES {
        let args = [
            "unsubscribe",
            c.api.name(),
            "--recipient",
            c.recipient,
            "--topic",
            c.topics[0],
            "--retries",
            "0",
            "--json",
        ];
        let out = optout(strings(&args), env_of(c, Some(&dead))).await;
        assert_exit(&out, 1);
        let json = json_line(&out);
        assert_error_json(&json, "network");
        assert_eq!(json["provider"], c.api.name(), "{json}");
        assert_eq!(json["retryable"], true, "{json}");
        assert_eq!(json["attempts"], 1, "--retries 0: one attempt: {json}");
        assert_eq!(out.stderr.trim().lines().count(), 1, "one line: {out:?}");
        assert!(out.stderr.contains(c.api.name()), "{out:?}");
        assert_no_secret(c, &out);
    }
}

/// With several topics sent one call each, every topic's failure is listed and none is
/// reported as done.
#[tokio::test(flavor = "multi_thread")]
async fn connection_refused_on_several_topics_lists_each_topic_as_failed() {
    let dead = dead_base_url();
    let c = case(Api::HubSpot);
    let out = unsubscribe(c, &dead, &["--retries", "0", "--json"]).await;
    assert_exit(&out, 1);
    let json = json_line(&out);
    assert_error_json(&json, "partial");
    assert_eq!(json["done"], Value::Array(Vec::new()), "{json}");
    let failed = json["failed"].as_array().expect("failed topics");
    let topics: Vec<&str> = failed.iter().filter_map(|f| f["topic"].as_str()).collect();
    assert_eq!(topics, c.topics, "{json}");
    for f in failed {
        assert_eq!(f["error"]["kind"], "network", "{json}");
        assert_eq!(f["error"]["attempts"], 1, "{json}");
    }
    assert_eq!(out.stderr.trim().lines().count(), 1, "one line: {out:?}");
    assert_no_secret(c, &out);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_partial_error_does_not_claim_that_nothing_was_sent() {
    let dead = dead_base_url();
    let c = case(Api::HubSpot);
    let out = unsubscribe(c, &dead, &["--retries", "0", "--json"]).await;
    assert_exit(&out, 1);
    let json = json_line(&out);
    assert!(json["attempts"].as_u64() > Some(0), "{json}");
}

// ---------------------------------------------------------------------------------------
// Settings, help, demo
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn the_base_url_flag_wins_over_the_environment() {
    let dead = dead_base_url();
    for c in &CASES {
        let sandbox = Sandbox::start().await.expect("sandbox");
        let base = sandbox.base_url();
        // The environment points at a dead port; the flag at the sandbox.
        let out = unsubscribe(c, &dead, &["--base-url", &base, "--retries", "0"]).await;
        assert_exit(&out, 0);
        assert_eq!(sandbox.stats().requests(c.api), c.requests, "{}", c.api);
        assert!(!sandbox.is_subscribed(c.api, c.stored_recipient, c.topics[0]));
        // And the environment alone is used when there is no flag.
        let out = unsubscribe(c, &base, &[]).await;
        assert_exit(&out, 0);
        assert_eq!(sandbox.stats().requests(c.api), 2 * c.requests, "{}", c.api);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unsubscribe_help_shows_an_example_for_every_provider() {
    let out = optout(strings(&["unsubscribe", "--help"]), Vec::new()).await;
    assert_exit(&out, 0);
    for c in &CASES {
        let example = format!("optout unsubscribe {} --recipient", c.api.name());
        assert!(out.stdout.contains(&example), "no {example:?} in {out:?}");
    }
    for flag in [
        "--recipient",
        "--topic",
        "--all-topics",
        "--base-url",
        "--retries",
        "--json",
    ] {
        assert!(out.stdout.contains(flag), "{flag}");
    }
    assert!(out.stdout.contains("Exit status"), "{out:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_runs_end_to_end_and_shows_every_provider() {
    let out = optout(strings(&["demo"]), Vec::new()).await;
    assert_exit(&out, 0);
    let header = out
        .stdout
        .lines()
        .find(|l| l.starts_with("provider"))
        .unwrap_or_else(|| panic!("no table header: {out:?}"));
    for column in ["provider", "recipient", "topics", "outcome"] {
        assert!(header.contains(column), "{header}");
    }
    for c in &CASES {
        assert!(
            out.stdout
                .lines()
                .any(|l| l.starts_with(c.api.name()) && l.contains("unsubscribed")),
            "{}: {out:?}",
            c.api
        );
    }
    assert!(out.stdout.contains("already unsubscribed"), "{out:?}");
    assert!(!out.stdout.contains("FAILED"), "{out:?}");
    assert!(!out.stdout.contains("demo-key") && !out.stdout.contains("demo-token"));
}

#[tokio::test(flavor = "multi_thread")]
async fn version_and_top_level_help_exit_0() {
    let out = optout(strings(&["--version"]), Vec::new()).await;
    assert_exit(&out, 0);
    assert!(out.stdout.starts_with("optout "), "{out:?}");
    let out = optout(strings(&["--help"]), Vec::new()).await;
    assert_exit(&out, 0);
    for command in ["unsubscribe", "bulk", "sandbox", "demo"] {
        assert!(out.stdout.contains(command), "{command}: {out:?}");
    }
    let out = optout(Vec::new(), Vec::new()).await;
    assert_exit(&out, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_timeout_flag_bounds_one_attempt() {
    let sandbox = Sandbox::builder()
        .faults(optout_sandbox::Faults {
            latency: std::time::Duration::from_secs(5),
            ..optout_sandbox::Faults::NONE
        })
        .start()
        .await
        .expect("sandbox");
    let c = case(Api::Novu);
    let args = [
        "unsubscribe",
        "novu",
        "--recipient",
        c.recipient,
        "--topic",
        c.topics[0],
        "--timeout",
        "0.5",
        "--retries",
        "0",
        "--json",
    ];
    let started = std::time::Instant::now();
    let out = optout(strings(&args), env_of(c, Some(&sandbox.base_url()))).await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(4),
        "{out:?}"
    );
    assert_exit(&out, 1);
    let json = json_line(&out);
    assert_error_json(&json, "timeout");
    assert_eq!(json["retryable"], true, "{json}");
    assert_no_secret(c, &out);

    // A timeout that is not a number of seconds is a usage error.
    let bad = [
        "unsubscribe",
        "novu",
        "--recipient",
        c.recipient,
        "--topic",
        "t",
        "--timeout",
        "soon",
    ];
    let out = optout(strings(&bad), env_of(c, Some(&sandbox.base_url()))).await;
    assert_exit(&out, 2);
    assert_eq!(sandbox.stats().requests(Api::Novu), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn legal_basis_and_idempotency_key_are_accepted_end_to_end() {
    let sandbox = Sandbox::start().await.expect("sandbox");
    let c = case(Api::HubSpot);
    let out = unsubscribe(
        c,
        &sandbox.base_url(),
        &[
            "--legal-basis",
            "consent-with-notice",
            "--legal-basis-explanation",
            "Clicked unsubscribe",
            "--json",
        ],
    )
    .await;
    assert_exit(&out, 0);
    assert_eq!(json_line(&out)["outcome"], "unsubscribed");
    // HubSpot's spelling works too.
    let out = unsubscribe(
        c,
        &sandbox.base_url(),
        &[
            "--legal-basis",
            "NON_GDPR",
            "--legal-basis-explanation",
            "x",
        ],
    )
    .await;
    assert_exit(&out, 0);

    let n = case(Api::Novu);
    let out = unsubscribe(
        n,
        &sandbox.base_url(),
        &["--idempotency-key", "req-7f3a", "--json"],
    )
    .await;
    assert_exit(&out, 0);
    assert_eq!(json_line(&out)["outcome"], "unsubscribed");
    for topic in n.topics {
        assert!(!sandbox.is_subscribed(Api::Novu, n.stored_recipient, topic));
    }
    // Novu with a subscription identifier.
    let args = [
        "unsubscribe",
        "novu",
        "--recipient",
        "user-9",
        "--identifier",
        "sub-9",
        "--topic",
        "digest",
        "--json",
    ];
    let out = optout(strings(&args), env_of(n, Some(&sandbox.base_url()))).await;
    assert_exit(&out, 0);
    let json = json_line(&out);
    assert_eq!(json["recipient"]["identifier"], "sub-9", "{json}");
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_never_appear_even_in_trace_logs() {
    let sandbox = Sandbox::start().await.expect("sandbox");
    // A sandbox that refuses every key, for the failure path.
    let mut strict = Sandbox::builder();
    for api in [Api::Migma, Api::Novu, Api::Pushy, Api::HubSpot] {
        strict = strict.key(api, "another-key");
    }
    let strict = strict.start().await.expect("sandbox");
    for c in &CASES {
        for (base, code) in [(sandbox.base_url(), 0), (strict.base_url(), 1)] {
            if c.api == Api::Mobivate && code == 1 {
                continue; // Mobivate has no key; its account id is covered on success.
            }
            let mut args = vec![
                "unsubscribe".to_string(),
                c.api.name().to_string(),
                "--recipient".to_string(),
                c.recipient.to_string(),
                "--topic".to_string(),
                c.topics[0].to_string(),
                "--retries".to_string(),
                "0".to_string(),
            ];
            args.push("--json".into());
            let mut env = env_of(c, Some(&base));
            env.push(("RUST_LOG".into(), "trace".into()));
            let out = optout(args, env).await;
            assert_exit(&out, code);
            assert!(
                out.stderr.contains("TRACE"),
                "{}: RUST_LOG=trace logs: {out:?}",
                c.api
            );
            assert_no_secret(c, &out);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn all_topics_works_for_pushy_and_hubspot() {
    let sandbox = Sandbox::start().await.expect("sandbox");
    for api in [Api::Pushy, Api::HubSpot] {
        let c = case(api);
        for topic in c.topics {
            sandbox.subscribe(api, c.stored_recipient, topic);
        }
        let args = [
            "unsubscribe",
            api.name(),
            "--recipient",
            c.recipient,
            "--all-topics",
            "--json",
        ];
        let out = optout(strings(&args), env_of(c, Some(&sandbox.base_url()))).await;
        assert_exit(&out, 0);
        let json = json_line(&out);
        assert_eq!(json["topics"], "all", "{json}");
        assert_eq!(json["outcome"], "unsubscribed", "{json}");
        for topic in c.topics.iter().chain(&["never-seen"]) {
            assert!(
                !sandbox.is_subscribed(api, c.stored_recipient, topic),
                "{api}: {topic}"
            );
        }
        assert_eq!(sandbox.stats().requests(api), 1, "{api}: one call");
        assert_no_secret(c, &out);
    }
}

#[tokio::test]
async fn bulk_rate_spaces_the_requests_so_the_provider_never_answers_429() {
    // The sandbox allows 3 per second; `--rate 2/1s` sends one every 500 ms, so none of the
    // 4 rows draws a 429 and each is sent exactly once.
    let sandbox = Sandbox::builder()
        .rate_limit(Api::HubSpot, "3/1s".parse().expect("limit"))
        .start()
        .await
        .expect("sandbox");
    let dir = std::env::temp_dir().join(format!("optout-rate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let input = dir.join("rows.csv");
    std::fs::write(
        &input,
        "recipient\na@example.com\nb@example.com\nc@example.com\nd@example.com\n",
    )
    .expect("input");
    let out = optout(
        strings(&[
            "bulk",
            "hubspot",
            "--input",
            input.to_str().expect("path"),
            "--topic",
            "123",
            "--concurrency",
            "4",
            "--rate",
            "2/1s",
            "--base-url",
            &sandbox.base_url(),
        ]),
        // One row per call (no v4 batch), so that the 4 rows are 4 requests to space.
        vec![
            ("HUBSPOT_ACCESS_TOKEN".into(), HUBSPOT_TOKEN.into()),
            ("HUBSPOT_BATCH_SIZE".into(), "1".into()),
        ],
    )
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    assert_exit(&out, 0);
    let both = format!("{}{}", out.stdout, out.stderr);
    assert!(
        both.contains("4 unsubscribed, 0 already, 0 failed"),
        "{both}"
    );
    assert_eq!(
        sandbox.stats().hubspot,
        4,
        "no request was refused and retried"
    );

    let bad = optout(
        strings(&["bulk", "hubspot", "--input", "-", "--rate", "fast"]),
        vec![],
    )
    .await;
    assert_exit(&bad, 2);
    assert!(bad.stderr.contains("N/PERIOD"), "{}", bad.stderr);
}
