//! `optout link`: the URL and the two headers, as text or JSON; exit 2 without usable keys.

use std::process::{Command, Output};

const KEYS: &str = "k1:0123456789abcdef0123456789abcdef";

fn optout(args: &[&str], keys: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_optout"));
    cmd.args(args).env_remove("OPTOUT_LINK_KEYS");
    if let Some(keys) = keys {
        cmd.env("OPTOUT_LINK_KEYS", keys);
    }
    cmd.output().unwrap()
}

#[test]
fn link_prints_the_url_and_both_headers() {
    let out = optout(
        &[
            "link",
            "hubspot",
            "--recipient",
            "alice@example.com",
            "--topic",
            "12345",
            "--base",
            "https://unsub.example.com/",
        ],
        Some(KEYS),
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[0].starts_with("https://unsub.example.com/u/v1.k1."),
        "{text}"
    );
    assert_eq!(lines[1], format!("List-Unsubscribe: <{}>", lines[0]));
    assert_eq!(
        lines[2],
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click"
    );
}

#[test]
fn link_json_has_url_and_headers() {
    let out = optout(
        &[
            "link",
            "pushy",
            "--recipient",
            "device-1",
            "--all-topics",
            "--base",
            "https://unsub.example.com",
            "--json",
        ],
        Some(KEYS),
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let url = json["url"].as_str().unwrap();
    assert_eq!(json["headers"]["List-Unsubscribe"], format!("<{url}>"));
    assert_eq!(
        json["headers"]["List-Unsubscribe-Post"],
        "List-Unsubscribe=One-Click"
    );
}

#[test]
fn link_without_usable_keys_or_with_bad_input_exits_2_and_shows_no_secret() {
    let args = [
        "link",
        "hubspot",
        "--recipient",
        "alice@example.com",
        "--topic",
        "1",
        "--base",
        "https://unsub.example.com",
    ];
    for keys in [None, Some("k1:tooshortsecret")] {
        let out = optout(&args, keys);
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains("OPTOUT_LINK_KEYS"), "{err}");
        assert!(!err.contains("tooshortsecret"), "{err}");
    }
    let out = optout(
        &[
            "link",
            "novu",
            "--recipient",
            "s",
            "--all-topics",
            "--base",
            "https://x.example",
        ],
        Some(KEYS),
    );
    assert_eq!(out.status.code(), Some(2));
    let out = optout(
        &[
            "link",
            "hubspot",
            "--recipient",
            "a@b.c",
            "--topic",
            "1",
            "--base",
            "http://x.example",
        ],
        Some(KEYS),
    );
    assert_eq!(out.status.code(), Some(2));
}
