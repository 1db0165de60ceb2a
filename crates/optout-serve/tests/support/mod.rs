//! What the HTTP tests share: a server on port 0 in front of an in-memory intake.

use std::sync::Arc;
use std::time::Duration;

use optout_core::{Provider, Recipient, Topics};
use optout_serve::link::{LinkKeys, Scope};
use optout_serve::memory::MemoryIntake;
use optout_serve::{server, ApiTokens, Config, Intake, Metrics};
use serde_json::Value;
use tokio::sync::oneshot;

pub const API_TOKEN: &str = "test-api-token-0123456789";
pub const KEYS: &str = "k1:0123456789abcdef0123456789abcdef";

pub struct Server {
    pub base: String,
    pub intake: Arc<MemoryIntake>,
    pub http: reqwest::Client,
    pub stop: Option<oneshot::Sender<()>>,
    pub done: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    pub async fn start() -> Server {
        let intake = Arc::new(MemoryIntake::new());
        let config = Config::new(
            ApiTokens::parse(API_TOKEN).unwrap(),
            LinkKeys::parse(KEYS).unwrap(),
        );
        let router = server::router(
            intake.clone() as Arc<dyn Intake>,
            config,
            Arc::new(Metrics::new()),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let done = tokio::spawn(server::serve(
            listener,
            router,
            Duration::from_secs(5),
            Duration::from_secs(5),
            async move {
                let _ = stopped.await;
            },
        ));
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Server {
            base,
            intake,
            http,
            stop: Some(stop),
            done,
        }
    }

    pub fn link(&self, scope: &Scope) -> String {
        LinkKeys::parse(KEYS)
            .unwrap()
            .link(&self.base, scope)
            .unwrap()
            .url
    }

    pub async fn post_json(&self, body: &str, key: Option<&str>) -> (u16, Value) {
        let mut req = self
            .http
            .post(format!("{}/v1/opt-outs", self.base))
            .bearer_auth(API_TOKEN)
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(key) = key {
            req = req.header("idempotency-key", key);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.done.await.unwrap().unwrap();
    }
}

pub fn alice() -> Scope {
    Scope::new(
        Provider::HubSpot,
        Recipient::email("alice@example.com").unwrap(),
        Topics::one("12345"),
    )
    .unwrap()
}

pub const BODY: &str = r#"{"identities":{"email":"alice@example.com"},"scope":{"hubspot":{"topics":["12345"]}},
  "legal_basis":{"basis":"CONSENT_WITH_NOTICE","explanation":"asked"},"source":"preference-centre"}"#;
