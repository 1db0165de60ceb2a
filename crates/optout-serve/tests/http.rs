//! The HTTP API on a real listener (port 0), in front of an in-memory intake.

#[allow(dead_code)]
mod support;

use std::sync::Arc;
use std::time::Duration;

use optout_core::{Provider, Recipient, Topics};
use optout_serve::link::{LinkKeys, Scope};
use optout_serve::memory::MemoryIntake;
use optout_serve::{server, ApiTokens, Config, Intake, Metrics};
use serde_json::Value;
use support::*;

#[tokio::test]
async fn the_api_refuses_requests_without_a_valid_bearer_token() {
    let s = Server::start().await;
    for auth in [
        None,
        Some("Bearer wrong-token-wrong-token"),
        Some("Basic dGVzdA=="),
        Some(API_TOKEN),
    ] {
        let mut req = s
            .http
            .post(format!("{}/v1/opt-outs", s.base))
            .header("content-type", "application/json")
            .body(BODY);
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 401, "{auth:?}");
        assert_eq!(resp.headers()["www-authenticate"], "Bearer");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["field"], "Authorization");
    }
    let resp = s
        .http
        .get(format!("{}/v1/opt-outs/oo_00000001", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert!(s.intake.accepted().is_empty());
    s.stop().await;
}

#[tokio::test]
async fn an_opt_out_is_accepted_once_per_idempotency_key_and_its_status_can_be_read() {
    let s = Server::start().await;
    let (status, first) = s.post_json(BODY, Some("req-1")).await;
    assert_eq!(status, 202, "{first}");
    let id = first["id"].as_str().unwrap().to_string();
    assert!(first["deadlines"]["hubspot"].is_string(), "{first}");
    assert_eq!(first["duplicate"], false);
    let (status, again) = s.post_json(BODY, Some("req-1")).await;
    assert_eq!(status, 202);
    assert_eq!(again["id"], id.as_str());
    assert_eq!(again["duplicate"], true);
    assert_eq!(s.intake.accepted().len(), 1);
    let (_, other) = s.post_json(BODY, Some("req-2")).await;
    assert_ne!(other["id"], id.as_str());
    assert_eq!(s.intake.accepted().len(), 2);
    let accepted = &s.intake.accepted()[0];
    assert_eq!(accepted.idempotency_key.as_deref(), Some("api:req-1"));
    assert_eq!(accepted.source, "preference-centre");

    let resp = s
        .http
        .get(format!("{}/v1/opt-outs/{id}", s.base))
        .bearer_auth(API_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let st: Value = resp.json().await.unwrap();
    assert_eq!(st["id"], id.as_str());
    assert_eq!(st["tasks"][0]["provider"], "hubspot");
    assert_eq!(st["tasks"][0]["state"], "pending");
    let resp = s
        .http
        .get(format!("{}/v1/opt-outs/oo_99999999", s.base))
        .bearer_auth(API_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let resp = s
        .http
        .get(format!("{}/v1/opt-outs/bad%20id", s.base))
        .bearer_auth(API_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    s.stop().await;
}

#[tokio::test]
async fn every_malformed_request_gets_a_400_naming_its_field() {
    let s = Server::start().await;
    for (body, field) in [
        ("{", "body"),
        (r#"{"identities":{"email":"alice@example.com"}}"#, "scope"),
        (
            r#"{"identities":{"email":"alice"},"scope":{"hubspot":{"topics":"all"}}}"#,
            "identities.email",
        ),
        (
            r#"{"identities":{"email":"a@b.c"},"scope":{"hubspot":{"topics":[]}}}"#,
            "scope.hubspot.topics",
        ),
        (
            r#"{"identities":{"email":"a@b.c"},"scope":{"hubspot":{"topics":"all"}},"legal_basis":{"basis":"x","explanation":"y"}}"#,
            "legal_basis.basis",
        ),
    ] {
        let (status, err) = s.post_json(body, None).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(err["error"]["field"], field, "{body}: {err}");
        assert!(err["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
    }
    let (status, err) = s.post_json(BODY, Some(&"k".repeat(300))).await;
    assert_eq!(status, 400);
    assert_eq!(err["error"]["field"], "Idempotency-Key");
    let resp = s
        .http
        .post(format!("{}/v1/opt-outs", s.base))
        .bearer_auth(API_TOKEN)
        .body(BODY)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 415);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["error"]["field"], "Content-Type");
    let huge = format!(r#"{{"source":"{}"}}"#, "x".repeat(100_000));
    let (status, err) = s.post_json(&huge, None).await;
    assert_eq!(status, 413);
    assert_eq!(err["error"]["field"], "body");
    let resp = s
        .http
        .get(format!("{}/nowhere", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert!(resp.json::<Value>().await.unwrap()["error"]["message"].is_string());
    let resp = s
        .http
        .delete(format!("{}/v1/opt-outs", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    assert!(resp.json::<Value>().await.unwrap()["error"]["message"].is_string());
    assert!(s.intake.accepted().is_empty());
    s.stop().await;
}

#[tokio::test]
async fn nothing_is_answered_accepted_unless_the_store_committed_it() {
    let s = Server::start().await;
    s.intake.set_failing(true);
    let (status, err) = s.post_json(BODY, Some("k")).await;
    assert_eq!(status, 503, "{err}");
    let resp = s
        .http
        .post(s.link(&alice()))
        .form(&[("List-Unsubscribe", "One-Click")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert!(resp.headers().contains_key("retry-after"));
    let resp = s
        .http
        .get(format!("{}/readyz", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    s.intake.set_failing(false);
    assert!(s.intake.accepted().is_empty());
    // The sender's retry gets it through.
    let (status, _) = s.post_json(BODY, Some("k")).await;
    assert_eq!(status, 202);
    assert_eq!(s.intake.accepted().len(), 1);
    let resp = s
        .http
        .get(format!("{}/readyz", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    s.stop().await;
}

#[tokio::test]
async fn one_click_posts_are_accepted_once_per_link_urlencoded_or_multipart() {
    let s = Server::start().await;
    let url = s.link(&alice());
    let resp = s
        .http
        .post(&url)
        .form(&[("List-Unsubscribe", "One-Click")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("location").is_none());
    assert!(resp.headers().get("set-cookie").is_none());
    assert!(resp.text().await.unwrap().contains("unsubscribed"));
    let accepted = s.intake.accepted();
    assert_eq!(accepted.len(), 1);
    assert_eq!(
        accepted[0].targets[0].recipient,
        Recipient::email("alice@example.com").unwrap()
    );
    assert_eq!(accepted[0].targets[0].topics, Topics::one("12345"));
    assert!(accepted[0]
        .idempotency_key
        .as_deref()
        .unwrap()
        .starts_with("oneclick:"));

    // The same link again, multipart this time: the same opt-out.
    let boundary = "----optoutboundary";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n--{boundary}--\r\n"
    );
    let resp = s
        .http
        .post(&url)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(s.intake.accepted().len(), 1);

    // Another link (multipart) is another opt-out.
    let bob = Scope::new(
        Provider::Pushy,
        Recipient::device("dev-1").unwrap(),
        Topics::All,
    )
    .unwrap();
    let form = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n--{boundary}--\r\n"
    );
    let resp = s
        .http
        .post(s.link(&bob))
        .header(
            "content-type",
            format!("multipart/form-data; boundary=\"{boundary}\""),
        )
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(s.intake.accepted().len(), 2);

    // A body that is not the one-click form.
    let resp = s
        .http
        .post(&url)
        .form(&[("List-Unsubscribe", "Maybe")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let resp = s.http.post(&url).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    s.stop().await;
}

#[tokio::test]
async fn forged_or_altered_links_are_refused_and_nothing_is_accepted() {
    let s = Server::start().await;
    let url = s.link(&alice());
    let forged = LinkKeys::parse("k1:ffffffffffffffffffffffffffffffff")
        .unwrap()
        .link(&s.base, &alice())
        .unwrap()
        .url;
    let unknown_key = LinkKeys::parse("k9:0123456789abcdef0123456789abcdef")
        .unwrap()
        .link(&s.base, &alice())
        .unwrap()
        .url;
    let truncated = url[..url.len() - 3].to_string();
    let mut altered = url.clone().into_bytes();
    let i = altered.len() - 50;
    altered[i] = if altered[i] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).unwrap();
    let huge = format!("{}/u/v1.k1.{}.x", s.base, "A".repeat(5000));
    for bad in [forged, unknown_key, truncated, altered, huge] {
        let resp = s
            .http
            .post(&bad)
            .form(&[("List-Unsubscribe", "One-Click")])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{bad}");
        let resp = s.http.get(&bad).send().await.unwrap();
        assert_eq!(resp.status(), 400, "{bad}");
    }
    assert!(s.intake.accepted().is_empty());
    s.stop().await;
}

#[tokio::test]
async fn a_get_shows_a_page_with_a_button_and_never_unsubscribes() {
    let s = Server::start().await;
    let url = s.link(&alice());
    for _ in 0..3 {
        let resp = s.http.get(&url).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert!(resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        assert_eq!(resp.headers()["referrer-policy"], "no-referrer");
        assert!(resp.headers().get("set-cookie").is_none());
        let html = resp.text().await.unwrap();
        assert!(html.contains("alice@example.com"), "{html}");
        assert!(html.contains("12345"));
        assert!(html.contains("<form method=\"post\">"));
        assert!(html.contains("name=\"List-Unsubscribe\" value=\"One-Click\""));
        assert!(!html.contains("<script"));
    }
    let resp = s.http.head(&url).send().await.unwrap();
    assert!(resp.status().is_success() || resp.status() == 405);
    assert!(s.intake.accepted().is_empty());
    s.stop().await;
}

#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    let s = Server::start().await;
    assert_eq!(
        s.http
            .get(format!("{}/healthz", s.base))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        s.http
            .get(format!("{}/readyz", s.base))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    s.http
        .post(s.link(&alice()))
        .form(&[("List-Unsubscribe", "One-Click")])
        .send()
        .await
        .unwrap();
    s.post_json(BODY, None).await;
    s.post_json(BODY, Some("once")).await;
    s.post_json(BODY, Some("once")).await;
    let resp = s
        .http
        .get(format!("{}/metrics", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let text = resp.text().await.unwrap();
    assert!(
        text.contains("optout_accepted_total{source=\"one_click\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("optout_accepted_total{source=\"api\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("optout_duplicates_total{source=\"api\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("optout_tasks{provider=\"hubspot\",state=\"pending\"} 3"),
        "{text}"
    );
    assert!(
        text.contains("optout_tasks_overdue{provider=\"hubspot\"} 0"),
        "{text}"
    );
    assert!(
        text.contains("optout_send_seconds_bucket{provider=\"hubspot\",le=\"+Inf\"} 0"),
        "{text}"
    );
    assert!(text.contains("optout_accept_seconds_count 4"), "{text}");
    s.stop().await;
}

#[tokio::test]
async fn shutdown_stops_taking_connections_and_returns() {
    let s = Server::start().await;
    let base = s.base.clone();
    assert_eq!(
        s.http
            .get(format!("{base}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    s.stop().await;
    let fresh = reqwest::Client::new();
    assert!(fresh.get(format!("{base}/healthz")).send().await.is_err());
}

#[tokio::test]
async fn a_client_that_sends_no_headers_is_disconnected() {
    use tokio::io::AsyncReadExt;
    let intake = Arc::new(MemoryIntake::new());
    let config = Config::new(ApiTokens::default(), LinkKeys::parse(KEYS).unwrap());
    let router = server::router(intake as Arc<dyn Intake>, config, Arc::new(Metrics::new()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(server::serve(
        listener,
        router,
        Duration::from_millis(200),
        Duration::from_secs(1),
        std::future::pending(),
    ));
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    // Half a request line, then nothing: the server closes the connection (with or without a
    // 408) instead of waiting for ever. The test's own bound is generous.
    tokio::io::AsyncWriteExt::write_all(&mut stream, b"GET /healthz HT")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the connection was still open after 30 s");
    server.abort();
}
