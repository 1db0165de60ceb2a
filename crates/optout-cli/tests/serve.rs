//! `optout serve`: refuses to start without usable link keys; serves; SIGTERM stops it with 0.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};

const KEYS: &str = "k1:0123456789abcdef0123456789abcdef";

fn temp_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "optout-cli-serve-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Starts `optout serve --no-workers` on a free port with `store` and `extra` arguments, and
/// returns the child and the address its banner names.
fn serve(store: &str, extra: &[&str]) -> (std::process::Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_optout"))
        .args(["serve", "--addr", "127.0.0.1:0", "--no-workers"])
        .args(extra)
        .args(["--store", store])
        .env("OPTOUT_LINK_KEYS", KEYS)
        .env_remove("OPTOUT_API_TOKENS")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut addr = None;
    for _ in 0..20 {
        let mut line = String::new();
        if stderr.read_line(&mut line).unwrap() == 0 {
            break;
        }
        if let Some(rest) = line.split("serving on http://").nth(1) {
            addr = rest.split_whitespace().next().map(str::to_string);
            break;
        }
    }
    let addr = addr.expect("the banner names the address");
    // Kept open, as the test's own reader was: the server's later lines must not meet a
    // closed pipe.
    child.stderr = Some(stderr.into_inner());
    (child, addr)
}

#[test]
fn serve_without_link_keys_exits_2() {
    let dir = temp_dir();
    let out = Command::new(env!("CARGO_BIN_EXE_optout"))
        .args(["serve", "--addr", "127.0.0.1:0", "--no-workers", "--store"])
        .arg(format!("sqlite:{}", dir.join("o.db").display()))
        .env_remove("OPTOUT_LINK_KEYS")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("OPTOUT_LINK_KEYS"));
    let _ = std::fs::remove_dir_all(dir);
}

#[cfg(unix)]
#[test]
fn serve_answers_and_exits_0_on_sigterm() {
    let dir = temp_dir();
    let store = format!("sqlite:{}", dir.join("o.db").display());
    let (mut child, addr) = serve(&store, &[]);
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn serve_refuses_a_max_batch_of_0() {
    let dir = temp_dir();
    let out = Command::new(env!("CARGO_BIN_EXE_optout"))
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--no-workers",
            "--max-batch",
            "0",
            "--store",
        ])
        .arg(format!("sqlite:{}", dir.join("o.db").display()))
        .env("OPTOUT_LINK_KEYS", KEYS)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--max-batch"));
    let _ = std::fs::remove_dir_all(dir);
}

/// Through the group commit `optout serve` puts in front of the store: a one-click POST
/// answered 200 is in the file once the server has exited.
#[cfg(unix)]
#[test]
fn a_one_click_post_answered_200_is_in_the_store_after_exit() {
    let dir = temp_dir();
    let store = format!("sqlite:{}", dir.join("o.db").display());
    let (mut child, addr) = serve(&store, &["--max-batch", "8"]);
    let link = Command::new(env!("CARGO_BIN_EXE_optout"))
        .args([
            "link",
            "hubspot",
            "--recipient",
            "alice@example.com",
            "--topic",
            "12345",
        ])
        .args(["--base", &format!("http://{addr}")])
        .env("OPTOUT_LINK_KEYS", KEYS)
        .output()
        .unwrap();
    assert!(link.status.success(), "{link:?}");
    let url = String::from_utf8(link.stdout).unwrap();
    let path = url
        .lines()
        .next()
        .unwrap()
        .split(&addr)
        .nth(1)
        .unwrap()
        .to_string();
    let body = "List-Unsubscribe=One-Click";
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    assert_eq!(child.wait().unwrap().code(), Some(0));
    let status = Command::new(env!("CARGO_BIN_EXE_optout"))
        .args(["status", "--json", "--store", &store])
        .output()
        .unwrap();
    assert!(status.status.success(), "{status:?}");
    let counts: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(counts["total"]["pending"], 1, "{counts}");
    let _ = std::fs::remove_dir_all(dir);
}
