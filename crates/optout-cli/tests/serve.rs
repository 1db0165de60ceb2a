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
    let mut child = Command::new(env!("CARGO_BIN_EXE_optout"))
        .args(["serve", "--addr", "127.0.0.1:0", "--no-workers", "--store"])
        .arg(format!("sqlite:{}", dir.join("o.db").display()))
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
