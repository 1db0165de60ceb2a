//! The command line's first-hour experience (issue 18): help that pastes, provider names in
//! any case, timeouts as people write them, a sandbox that says its address and Mobivate
//! account id, and a demo that shows a failure and a next step. The real binary, as in
//! `cli.rs`.

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use optout_sandbox::{Api, Sandbox, DEFAULT_MOBIVATE_ACCOUNT_ID};
use optout_tests::{optout_binary, run_optout, ProcessOutput};

/// Runs the binary on a blocking thread (a sandbox may be serving on the runtime).
async fn optout(args: &[&str], env: &[(&str, &str)]) -> ProcessOutput {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        run_optout(&args, &env)
    })
    .await
    .expect("the runner thread")
}

fn assert_exit(out: &ProcessOutput, code: i32) {
    assert!(!out.timed_out, "timed out: {out:?}");
    assert_eq!(out.code, Some(code), "exit status: {out:?}");
}

/// True when `line` is a whole line of `text` (leading and trailing spaces aside).
fn has_line(text: &str, line: &str) -> bool {
    text.lines().any(|l| l.trim() == line)
}

#[tokio::test(flavor = "multi_thread")]
async fn help_examples_are_never_wrapped_so_they_paste_whole() {
    let migma = "MIGMA_API_KEY=... MIGMA_PROJECT_ID=proj_1 optout unsubscribe migma --recipient contact_42 --topic newsletter";
    let mobivate = format!(
        "MOBIVATE_BASE_URL=http://127.0.0.1:8025 MOBIVATE_ACCOUNT_ID={DEFAULT_MOBIVATE_ACCOUNT_ID} optout unsubscribe mobivate --recipient 254700000000 --topic c71e2c2ee68b410a82d6c5f910c2d428"
    );
    // Piped (clap's default width is 100) and on a narrow terminal.
    for env in [&[][..], &[("COLUMNS", "60")][..]] {
        let out = optout(&["unsubscribe", "--help"], env).await;
        assert_exit(&out, 0);
        assert!(has_line(&out.stdout, migma), "{env:?}: {}", out.stdout);
        let out = optout(&["--help"], env).await;
        assert!(has_line(&out.stdout, migma), "{env:?}: {}", out.stdout);
        let out = optout(&["sandbox", "--help"], env).await;
        assert!(has_line(&out.stdout, &mobivate), "{env:?}: {}", out.stdout);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn provider_names_are_taken_in_any_case() {
    let sandbox = Sandbox::start().await.expect("sandbox");
    let base = sandbox.base_url();
    for (name, topic) in [("HubSpot", "1"), ("HUBSPOT", "2"), ("hubspot", "3")] {
        let out = optout(
            &[
                "unsubscribe",
                name,
                "--recipient",
                "alice@example.com",
                "--topic",
                topic,
            ],
            &[("HUBSPOT_ACCESS_TOKEN", "t"), ("HUBSPOT_BASE_URL", &base)],
        )
        .await;
        assert_exit(&out, 0);
        assert!(out.stdout.starts_with("hubspot: "), "{out:?}");
    }
    assert_eq!(sandbox.stats().requests(Api::HubSpot), 3);
    // An unknown name is still refused, naming what was typed and what exists.
    let out = optout(
        &[
            "unsubscribe",
            "HubSpott",
            "--recipient",
            "a@b.c",
            "--topic",
            "1",
        ],
        &[],
    )
    .await;
    assert_exit(&out, 2);
    assert!(out.stderr.contains("HubSpott"), "{out:?}");
    assert!(out.stderr.contains("hubspot"), "{out:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn timeouts_are_taken_as_seconds_or_durations_and_the_refusal_says_what_is_allowed() {
    let sandbox = Sandbox::start().await.expect("sandbox");
    let base = sandbox.base_url();
    for (n, timeout) in ["5", "2.5", "5s", "500ms", "2m", "1h"].iter().enumerate() {
        let topic = n.to_string();
        let out = optout(
            &[
                "unsubscribe",
                "hubspot",
                "--recipient",
                "alice@example.com",
                "--topic",
                &topic,
                "--timeout",
                timeout,
            ],
            &[("HUBSPOT_ACCESS_TOKEN", "t"), ("HUBSPOT_BASE_URL", &base)],
        )
        .await;
        assert_exit(&out, 0);
    }
    for timeout in ["0", "0s", "2h", "soon"] {
        let out = optout(
            &[
                "unsubscribe",
                "hubspot",
                "--recipient",
                "alice@example.com",
                "--topic",
                "1",
                "--timeout",
                timeout,
            ],
            &[("HUBSPOT_ACCESS_TOKEN", "t"), ("HUBSPOT_BASE_URL", &base)],
        )
        .await;
        assert_exit(&out, 2);
        for allowed in ["more than 0", "at most 1h", "500ms", "5s"] {
            assert!(out.stderr.contains(allowed), "{timeout}: {out:?}");
        }
        assert!(!out.stderr.contains("between 0 and"), "{out:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_busy_sandbox_port_names_the_address_and_how_to_pick_another() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let addr = taken.local_addr().expect("its address").to_string();
    let out = optout(&["sandbox", "--addr", &addr], &[]).await;
    assert_exit(&out, 2);
    let line = out.stderr.trim();
    assert!(line.contains(&addr), "{out:?}");
    assert!(line.contains("in use"), "{out:?}");
    assert!(line.contains("--addr 127.0.0.1:0"), "{out:?}");
    drop(taken);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sandbox_says_its_mobivate_account_id_in_its_banner_and_help() {
    let out = optout(&["sandbox", "--help"], &[]).await;
    assert_exit(&out, 0);
    assert!(out.stdout.contains(DEFAULT_MOBIVATE_ACCOUNT_ID), "{out:?}");

    let mut child = Command::new(optout_binary())
        .args(["sandbox", "--addr", "127.0.0.1:0"])
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("optout sandbox starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let (send, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if send.send(line).is_err() {
                break;
            }
        }
    });
    let wanted = format!("export MOBIVATE_ACCOUNT_ID={DEFAULT_MOBIVATE_ACCOUNT_ID}");
    let mut banner = Vec::new();
    // A limit so that a sandbox that never prints fails the test instead of hanging it.
    while let Ok(line) = lines.recv_timeout(Duration::from_secs(60)) {
        let found = line.trim() == wanted;
        banner.push(line);
        if found {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        banner.iter().any(|l| l.trim() == wanted),
        "no {wanted:?} in the banner: {banner:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_shows_a_failure_in_one_line_and_ends_with_a_next_step() {
    let out = optout(&["demo"], &[]).await;
    assert_exit(&out, 0);
    let errors: Vec<&str> = out
        .stdout
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("optout: error:"))
        .collect();
    assert!(
        errors
            .iter()
            .any(|l| l.contains("hubspot") && l.contains("401")),
        "{out:?}"
    );
    assert!(
        errors.iter().any(|l| l.contains("invalid recipient")),
        "{out:?}"
    );
    let next = out
        .stdout
        .lines()
        .position(|l| l.starts_with("Next:"))
        .unwrap_or_else(|| panic!("no next step: {out:?}"));
    let after: Vec<&str> = out.stdout.lines().skip(next).collect();
    assert!(
        has_line(&after.join("\n"), "optout sandbox --addr 127.0.0.1:8025 &"),
        "{out:?}"
    );
    assert!(
        after.iter().any(|l| l.trim_start().starts_with("curl ")),
        "{out:?}"
    );
    assert!(
        !out.stdout.contains("expired-token"),
        "the token never shows"
    );
}
