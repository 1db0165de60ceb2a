//! The servers the clients are measured against: the fixed-answer `minimal` one and the
//! sandbox; `optout-bench serve` (one in the foreground) and the capacity probe.

use super::*;

pub(crate) mod minimal {
    //! A fixed-answer server: no state, no validation, nothing but the answer the clients
    //! decode. It counts connections and requests like the sandbox does.
    use super::*;
    use axum::body::Body;
    use axum::http::{header, Response, StatusCode};
    use axum::routing::{delete, post};
    use axum::serve::ListenerExt;
    use axum::Router;

    pub(crate) const HUBSPOT: &str = r#"{"id":"12345","name":"Newsletter","description":"Bench subscription","status":"NOT_SUBSCRIBED","sourceOfStatus":"SUBSCRIPTION_STATUS"}"#;

    /// Novu's answer lists each deleted subscription by subscriber, so this one echoes the
    /// request's subscriber ids (a batch of up to 100) into a fixed template; that is all the
    /// parsing it does.
    pub(crate) fn novu(body: &[u8]) -> String {
        let ids: Vec<String> = serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v.get("subscriptions").and_then(Value::as_array).cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|s| {
                s.get("subscriberId")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .collect();
        let data: Vec<String> = ids
            .iter()
            .map(|id| {
                format!(
                    r#"{{"_id":"64f1c2a9e4b0a1b2c3d4e5f6","identifier":"tk=product-updates:si={id}","topic":{{"_id":"64f1c2a9e4b0a1b2c3d4e5f7","key":"product-updates","name":"product-updates"}},"subscriber":{{"_id":"64f1c2a9e4b0a1b2c3d4e5f8","subscriberId":"{id}"}},"createdAt":"2026-01-01T00:00:00.000Z","updatedAt":"2026-01-01T00:00:00.000Z"}}"#
                )
            })
            .collect();
        format!(
            r#"{{"data":[{}],"meta":{{"totalCount":{n},"successful":{n},"failed":0}},"errors":[]}}"#,
            data.join(","),
            n = ids.len()
        )
    }

    /// HubSpot's answer to a v4 batch write: one `UNSUBSCRIBED` status per input, echoing its
    /// address and subscription id into a fixed template (the shape of HubSpot's documented
    /// answer); that is all the parsing it does.
    pub(crate) fn hubspot_batch(body: &[u8]) -> String {
        let inputs: Vec<(String, String)> = serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v.get("inputs").and_then(Value::as_array).cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|i| {
                let email = i.get("subscriberIdString")?.as_str()?.to_string();
                Some((email, i.get("subscriptionId")?.to_string()))
            })
            .collect();
        let results: Vec<String> = inputs
            .iter()
            .map(|(email, id)| {
                format!(
                    r#"{{"channel":"EMAIL","source":"Bench","status":"UNSUBSCRIBED","subscriberIdString":"{email}","subscriptionId":{id},"timestamp":"2026-01-01T00:00:00Z","setStatusSuccessReason":"REQUESTED_CHANGE","subscriptionName":"Newsletter"}}"#
                )
            })
            .collect();
        format!(
            r#"{{"completedAt":"2026-01-01T00:00:00Z","requestedAt":"2026-01-01T00:00:00Z","startedAt":"2026-01-01T00:00:00Z","results":[{}],"status":"COMPLETE","errors":[],"numErrors":0,"links":{{}}}}"#,
            results.join(",")
        )
    }

    /// A running minimal server.
    pub struct Minimal {
        pub addr: SocketAddr,
        pub connections: Arc<AtomicU64>,
        pub requests: Arc<AtomicU64>,
        stop: Option<tokio::sync::oneshot::Sender<()>>,
    }

    impl Drop for Minimal {
        fn drop(&mut self) {
            if let Some(stop) = self.stop.take() {
                let _ = stop.send(());
            }
        }
    }

    pub(crate) fn fixed(body: impl Into<Body>, requests: &Arc<AtomicU64>) -> Response<Body> {
        requests.fetch_add(1, Relaxed);
        Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, "application/json")
            .header(
                "x-hubspot-correlation-id",
                "b3c9a6c2-0000-4000-8000-000000000000",
            )
            .body(body.into())
            .unwrap_or_default()
    }

    pub async fn start() -> Result<Minimal, BoxError> {
        let requests = Arc::new(AtomicU64::new(0));
        let connections = Arc::new(AtomicU64::new(0));
        let (r1, r2, r3) = (requests.clone(), requests.clone(), requests.clone());
        let app = Router::new()
            .route(
                HUBSPOT_PATH,
                post(move || {
                    let r = r1.clone();
                    async move { fixed(HUBSPOT, &r) }
                }),
            )
            .route(
                HUBSPOT_BATCH_PATH,
                post(move |body: axum::body::Bytes| {
                    let r = r3.clone();
                    async move { fixed(hubspot_batch(&body), &r) }
                }),
            )
            .route(
                "/v2/topics/{topic}/subscriptions",
                delete(move |body: axum::body::Bytes| {
                    let r = r2.clone();
                    async move { fixed(novu(&body), &r) }
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let counter = connections.clone();
        let listener = listener.tap_io(move |tcp| {
            counter.fetch_add(1, Relaxed);
            let _ = tcp.set_nodelay(true);
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(Minimal {
            addr,
            connections,
            requests,
            stop: Some(stop),
        })
    }
}

/// Either server, with its counters.
pub(crate) enum Server {
    Minimal(minimal::Minimal),
    Sandbox(optout_sandbox::Sandbox),
}

impl Server {
    pub(crate) async fn start(kind: &str) -> Result<Server, BoxError> {
        Ok(match kind {
            "minimal" => Server::Minimal(minimal::start().await?),
            "sandbox" => Server::Sandbox(optout_sandbox::Sandbox::start().await?),
            other => return Err(format!("unknown server {other:?}").into()),
        })
    }
    pub(crate) fn base_url(&self) -> String {
        match self {
            Server::Minimal(m) => format!("http://{}", m.addr),
            Server::Sandbox(s) => s.base_url(),
        }
    }
    /// (requests served, TCP connections accepted)
    pub(crate) fn counts(&self) -> (u64, u64) {
        match self {
            Server::Minimal(m) => (m.requests.load(Relaxed), m.connections.load(Relaxed)),
            Server::Sandbox(s) => {
                let st = s.stats();
                (st.total_requests(), st.connections)
            }
        }
    }
    pub(crate) async fn stop(self) {
        match self {
            Server::Minimal(m) => drop(m),
            Server::Sandbox(s) => {
                let _ = s.shutdown().await;
            }
        }
    }
}

/// `optout-bench serve minimal|sandbox`: one server in the foreground, for profiling a
/// client by hand; prints its base URL and the counts every 10 s.
pub(crate) fn serve(kind: &str) -> Result<(), BoxError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let server = Server::start(kind).await?;
        println!("{}", server.base_url());
        loop {
            tokio::time::sleep(Duration::from_secs(10)).await;
            let (requests, connections) = server.counts();
            eprintln!("{requests} requests, {connections} connections");
        }
    })
}

pub(crate) async fn capacity(
    ctx: &Ctx,
    server_kind: &str,
    prov: Prov,
    secs: f64,
) -> Result<Value, BoxError> {
    let server = Server::start(server_kind).await?;
    let mut cmd = Command::new(&ctx.me);
    cmd.args(["child", "load", prov.name(), &server.base_url(), "32"])
        .arg(secs.to_string());
    let err = ctx
        .dir
        .join(format!("capacity-{server_kind}-{}.stderr", prov.name()));
    let load = tokio::task::spawn_blocking(move || run_child(cmd, &err).map_err(|e| e.to_string()))
        .await??;
    let (requests, connections) = server.counts();
    server.stop().await;
    let v = last_json(&load.out)?;
    let per_sec = v.get("per_sec").and_then(Value::as_f64).unwrap_or(0.0);
    eprintln!(
        "  capacity {server_kind}/{}: {per_sec:.0} req/s ({requests} served, {connections} conns)",
        prov.name()
    );
    Ok(json!({
        "server": server_kind, "provider": prov.name(), "concurrency": 32,
        "requests_per_sec": per_sec, "errors": v.get("errors"), "server_requests": requests,
        "tcp_connections": connections, "server_cpu_secs": load.own_cpu_secs,
        "load_cpu_secs": load.cpu_secs,
    }))
}
