//! No secret in the server's logs. A test binary of its own: `tracing`'s per-thread
//! subscriber misses events when other tests in the same process hit the same call sites at
//! the same time, which made this test fail now and then beside the other HTTP tests.

#[allow(dead_code)]
mod support;

use std::sync::Arc;

use support::*;

/// Collects log lines written by the `tracing` subscriber of one test.
#[derive(Clone, Default)]
struct Logs(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_link_token_api_token_or_link_key_appears_in_the_logs() {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    // A current-thread runtime: the server's tasks run on this thread, under this subscriber.
    let _guard = tracing::subscriber::set_default(subscriber);
    let s = Server::start().await;
    let url = s.link(&alice());
    let token = url.rsplit('/').next().unwrap().to_string();
    s.http.get(&url).send().await.unwrap();
    s.http
        .post(&url)
        .form(&[("List-Unsubscribe", "One-Click")])
        .send()
        .await
        .unwrap();
    s.http
        .post(format!("{url}x"))
        .form(&[("List-Unsubscribe", "One-Click")])
        .send()
        .await
        .unwrap();
    s.post_json(BODY, Some("key-1")).await;
    s.intake.set_failing(true);
    s.post_json(BODY, Some("key-2")).await;
    s.stop().await;
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        text.contains("opt-out committed"),
        "the test saw no logs: {text}"
    );
    assert!(text.contains("/u/{token}"), "{text}");
    let mac = token.rsplit('.').next().unwrap();
    let payload = token.split('.').nth(2).unwrap();
    for secret in [
        &token[..],
        mac,
        payload,
        API_TOKEN,
        &KEYS[3..],
        "alice@example.com",
    ] {
        assert!(!text.contains(secret), "{secret:?} in the logs:\n{text}");
    }
}
