//! A real browser opens the unsubscribe page of a link and presses its button (a mouse click
//! at the button's position, sent through the DevTools protocol), and the opt-out is accepted.
//!
//! Headless Chromium is driven over `--remote-debugging-pipe` (NUL-separated JSON on fds 3
//! and 4, mapped by `sh`), so no WebSocket client is needed. Without Chromium the test says so
//! and passes, except under CI (`CI=true`), where it fails.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use optout_core::{Provider, Recipient, Topics};
use optout_serve::link::{LinkKeys, Scope};
use optout_serve::memory::MemoryIntake;
use optout_serve::{server, ApiTokens, Config, Intake, Metrics};
use serde_json::{json, Value};

const KEYS: &str = "k1:0123456789abcdef0123456789abcdef";
/// How long any one step may take before the test gives up (a bound, not a measurement).
const STEP: Duration = Duration::from_secs(30);

fn chromium() -> Option<String> {
    let candidates = [
        std::env::var("CHROMIUM").ok(),
        Some("/usr/bin/chromium".into()),
        Some("/usr/bin/chromium-browser".into()),
        Some("/usr/bin/google-chrome".into()),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|p| std::path::Path::new(p).is_file())
}

struct Browser {
    child: Child,
    stdin: ChildStdin,
    messages: mpsc::Receiver<Value>,
    next_id: u64,
    profile: std::path::PathBuf,
}

impl Browser {
    fn launch(binary: &str) -> Browser {
        let profile = std::env::temp_dir().join(format!(
            "optout-serve-chromium-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        std::fs::create_dir_all(&profile).unwrap();
        // fd 3: commands in (our stdin pipe); fd 4: answers out (our stdout pipe).
        let script = r#"exec "$0" --headless --no-sandbox --disable-gpu --disable-background-networking \
            --disable-component-update --disable-sync --no-first-run --disable-dev-shm-usage \
            --user-data-dir="$1" --remote-debugging-pipe about:blank 3<&0 4>&1 </dev/null >/dev/null"#;
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg(binary)
            .arg(&profile)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromium");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, messages) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            loop {
                let mut buf = Vec::new();
                match reader.read_until(0, &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if buf.last() == Some(&0) {
                            buf.pop();
                        }
                        if let Ok(v) = serde_json::from_slice::<Value>(&buf) {
                            if tx.send(v).is_err() {
                                break;
                            }
                        }
                    }
                }
            }
        });
        Browser {
            child,
            stdin,
            messages,
            next_id: 0,
            profile,
        }
    }

    /// Sends a command (to a page session if given) and waits for its answer.
    fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.try_call(session, method, params)
            .unwrap_or_else(|m| panic!("{method}: {m}"))
    }

    /// [`call`](Self::call), with chromium's error answer (e.g. an evaluation that met a
    /// navigation) as `Err` instead of a failed test.
    fn try_call(
        &mut self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> Result<Value, Value> {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        let mut bytes = serde_json::to_vec(&msg).unwrap();
        bytes.push(0);
        self.stdin.write_all(&bytes).unwrap();
        self.stdin.flush().unwrap();
        let deadline = Instant::now() + STEP;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let m = self
                .messages
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no answer to {method} from chromium"));
            if m["id"] == json!(id) {
                return match m.get("error") {
                    None => Ok(m["result"].clone()),
                    Some(_) => Err(m),
                };
            }
        }
    }

    fn eval(&mut self, session: &str, expression: &str) -> Value {
        let r = self.call(
            Some(session),
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true}),
        );
        r["result"]["value"].clone()
    }

    /// Evaluates `expression` until it is `true`. An evaluation that fails because the page
    /// is navigating (after the button's POST, "Inspected target navigated or closed") is
    /// "not yet": the next one runs in the new page.
    fn wait_for(&mut self, session: &str, expression: &str) {
        let deadline = Instant::now() + STEP;
        loop {
            let answer = self.try_call(
                Some(session),
                "Runtime.evaluate",
                json!({"expression": expression, "returnByValue": true}),
            );
            if answer.is_ok_and(|r| r["result"]["value"] == json!(true)) {
                break;
            }
            assert!(Instant::now() < deadline, "never true: {expression}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self
            .stdin
            .write_all(b"{\"id\":999999,\"method\":\"Browser.close\"}\0");
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

fn press_the_button(binary: &str, url: &str) -> String {
    let mut browser = Browser::launch(binary);
    let target = browser.call(None, "Target.createTarget", json!({"url": url}));
    let target_id = target["targetId"].as_str().unwrap().to_string();
    let attached = browser.call(
        None,
        "Target.attachToTarget",
        json!({"targetId": target_id, "flatten": true}),
    );
    let session = attached["sessionId"].as_str().unwrap().to_string();
    browser.wait_for(
        &session,
        "document.readyState === 'complete' && !!document.getElementById('unsubscribe')",
    );
    // Where the button is, then a real mouse press and release on it.
    let rect = browser.eval(
        &session,
        "(() => { const r = document.getElementById('unsubscribe').getBoundingClientRect(); \
         return [r.x + r.width / 2, r.y + r.height / 2]; })()",
    );
    let (x, y) = (rect[0].as_f64().unwrap(), rect[1].as_f64().unwrap());
    for kind in ["mousePressed", "mouseReleased"] {
        browser.call(
            Some(&session),
            "Input.dispatchMouseEvent",
            json!({"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1}),
        );
    }
    browser.wait_for(
        &session,
        "document.readyState === 'complete' && document.body.innerText.includes('You are unsubscribed')",
    );
    browser
        .eval(&session, "document.body.innerText")
        .as_str()
        .unwrap_or("")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_opens_the_page_presses_the_button_and_the_opt_out_is_accepted() {
    let Some(binary) = chromium() else {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true");
        assert!(
            !ci,
            "CI=true but no Chromium found (apt-get install chromium)"
        );
        eprintln!("SKIPPED: no Chromium (/usr/bin/chromium); install it to run this test");
        return;
    };
    let intake = Arc::new(MemoryIntake::new());
    let config = Config::new(ApiTokens::default(), LinkKeys::parse(KEYS).unwrap());
    let router = server::router(
        intake.clone() as Arc<dyn Intake>,
        config,
        Arc::new(Metrics::new()),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(server::serve(
        listener,
        router,
        Duration::from_secs(10),
        Duration::from_secs(1),
        std::future::pending(),
    ));
    let scope = Scope::new(
        Provider::HubSpot,
        Recipient::email("carol@example.com").unwrap(),
        Topics::one("12345"),
    )
    .unwrap();
    let url = LinkKeys::parse(KEYS)
        .unwrap()
        .link(&base, &scope)
        .unwrap()
        .url;

    let text = tokio::task::spawn_blocking(move || press_the_button(&binary, &url))
        .await
        .unwrap();
    assert!(text.contains("carol@example.com"), "{text}");
    let accepted = intake.accepted();
    assert_eq!(accepted.len(), 1, "{accepted:?}");
    assert_eq!(
        accepted[0].targets[0].recipient,
        Recipient::email("carol@example.com").unwrap()
    );
    server.abort();
}
