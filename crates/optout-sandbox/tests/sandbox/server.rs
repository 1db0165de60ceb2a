use std::net::SocketAddr;
use std::time::Duration;

use optout_sandbox::{Api, Config, Error, Sandbox, Seed};
use reqwest::{Client, Method};

use crate::send;

const PUSHY_BODY: &str = r#"{"token":"a6345d0278adc55d3474f5","topics":["news"]}"#;

#[tokio::test]
async fn counts_requests_and_connections() {
    let sandbox = Sandbox::start().await.unwrap();
    let url = format!("{}/topics/unsubscribe?api_key=k", sandbox.base_url());
    let client = Client::new();
    for _ in 0..5 {
        let reply = send(&client, Method::POST, &url, &[], Some(PUSHY_BODY)).await;
        assert_eq!(reply.status, 200);
    }
    let stats = sandbox.stats();
    assert_eq!(
        (stats.pushy, stats.connections),
        (5, 1),
        "one kept-alive connection"
    );
    let other = Client::new();
    send(&other, Method::POST, &url, &[], Some(PUSHY_BODY)).await;
    let stats = sandbox.stats();
    assert_eq!((stats.pushy, stats.connections), (6, 2));
    assert_eq!(stats.requests(Api::Pushy), 6);
    assert_eq!(
        (stats.migma, stats.hubspot, stats.total_requests()),
        (0, 0, 6)
    );
}

#[tokio::test]
async fn unknown_endpoints_are_json_404_and_405() {
    let sandbox = Sandbox::start().await.unwrap();
    let client = Client::new();
    let base = sandbox.base_url();
    let reply = send(
        &client,
        Method::POST,
        &format!("{base}/nope"),
        &[],
        Some("{}"),
    )
    .await;
    assert_eq!(reply.status, 404);
    assert!(reply.assert_json_type().json()["error"].is_string());
    let url = format!("{base}/communication-preferences/v3/unsubscribe");
    let reply = send(&client, Method::GET, &url, &[], None).await;
    assert_eq!(reply.status, 405);
    reply.assert_json_type();
    let stats = sandbox.stats();
    assert_eq!((stats.unrouted, stats.hubspot), (2, 0));
}

#[tokio::test]
async fn refuses_to_bind_beyond_loopback() {
    for addr in ["0.0.0.0:0", "10.1.2.3:0", "[::]:0"] {
        let addr: SocketAddr = addr.parse().unwrap();
        match Sandbox::builder().addr(addr).start().await {
            Err(e @ Error::NotLoopback(_)) => assert!(e.to_string().contains("loopback"), "{e}"),
            other => panic!("{addr}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn binds_the_given_loopback_address() {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = probe.local_addr().unwrap();
    drop(probe);
    let sandbox = Sandbox::builder().addr(addr).start().await.unwrap();
    assert_eq!(sandbox.addr(), addr);
    assert_eq!(sandbox.base_url(), format!("http://{addr}"));
}

#[tokio::test]
async fn shutdown_and_drop_stop_the_server() {
    let client = Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let sandbox = Sandbox::start().await.unwrap();
    let url = format!("{}/topics/unsubscribe?api_key=k", sandbox.base_url());
    assert_eq!(
        send(&client, Method::POST, &url, &[], Some(PUSHY_BODY))
            .await
            .status,
        200
    );
    sandbox.shutdown().await.unwrap();
    assert!(client.post(&url).body(PUSHY_BODY).send().await.is_err());

    let sandbox = Sandbox::start().await.unwrap();
    let url = format!("{}/topics/unsubscribe?api_key=k", sandbox.base_url());
    drop(sandbox);
    let mut refused = false;
    for _ in 0..50 {
        if client.post(&url).body(PUSHY_BODY).send().await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(refused, "the server stops when dropped");
}

#[tokio::test]
async fn serve_runs_until_told_to_stop() {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = probe.local_addr().unwrap();
    drop(probe);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(optout_sandbox::serve(addr, Config::default(), async {
        let _ = stopped.await;
    }));
    let url = format!("http://{addr}/topics/unsubscribe?api_key=k");
    let client = Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let mut ok = false;
    for _ in 0..50 {
        if let Ok(res) = client.post(&url).body(PUSHY_BODY).send().await {
            ok = res.status() == 200;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(ok);
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    let refused =
        optout_sandbox::serve("0.0.0.0:8025".parse().unwrap(), Config::default(), async {}).await;
    assert!(matches!(refused, Err(Error::NotLoopback(_))));
}

#[tokio::test]
async fn seeds_load_from_files_and_refuse_typos() {
    let dir = std::env::temp_dir().join(format!("optout-sandbox-seed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.json");
    std::fs::write(&good, r#"{"hubspot":{"topics":["1"]}}"#).unwrap();
    let seed = Seed::from_file(&good).unwrap();
    assert_eq!(seed, Seed::new().topic(Api::HubSpot, "1"));
    let bad = dir.join("bad.json");
    std::fs::write(&bad, r#"{"hubspot":{"topic":["1"]}}"#).unwrap();
    let err = Seed::from_file(&bad).unwrap_err();
    assert!(matches!(err, Error::Seed { path: Some(_), .. }));
    assert!(err.to_string().contains("bad.json"), "{err}");
    let missing = Seed::from_file(dir.join("missing.json")).unwrap_err();
    assert!(matches!(missing, Error::SeedFile { .. }), "{missing}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn names_parse_and_keys_stay_secret() {
    assert_eq!("HubSpot".parse::<Api>().unwrap(), Api::HubSpot);
    assert_eq!("mobivate".parse::<Api>().unwrap(), Api::Mobivate);
    assert!(matches!(
        "mailchimp".parse::<Api>(),
        Err(Error::UnknownApi(_))
    ));
    let builder = Sandbox::builder().key(Api::HubSpot, "super-secret-token");
    let debug = format!("{builder:?}");
    assert!(!debug.contains("super-secret-token"), "{debug}");
    assert!(debug.contains("REDACTED"));
}

#[tokio::test]
async fn shutdown_does_not_wait_for_a_half_sent_request() {
    use std::io::Write;
    let sandbox = Sandbox::start().await.unwrap();
    let mut tcp = std::net::TcpStream::connect(sandbox.addr()).unwrap();
    tcp.write_all(
        b"POST /topics/unsubscribe?api_key=k HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n{",
    )
    .unwrap();
    // Let the server read the head and wait for the body.
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Only a shutdown that waits for the client forever reaches this bound.
    let stopped = tokio::time::timeout(Duration::from_secs(60), sandbox.shutdown()).await;
    assert!(
        stopped.is_ok(),
        "the sandbox waited for the half-sent request"
    );
    drop(tcp);
}

/// Far beyond any read timeout these tests set: a connection still open this long is held.
const HELD: Duration = Duration::from_secs(30);

/// Reads `tcp` until the sandbox closes it, and returns what it answered (if anything).
/// Panics if the connection is still open after [`HELD`].
fn read_until_closed(tcp: &mut std::net::TcpStream) -> String {
    use std::io::{ErrorKind, Read};
    tcp.set_read_timeout(Some(HELD)).unwrap();
    let mut got = Vec::new();
    match tcp.read_to_end(&mut got) {
        Ok(_) => {}
        // Closed with data of ours unread: a reset, still a close.
        Err(e) if matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe) => {}
        Err(e) => panic!(
            "the sandbox held the connection ({e}); it answered {:?}",
            String::from_utf8_lossy(&got)
        ),
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// Opens a connection to `addr`, writes `sent` and waits for the sandbox to close it.
async fn send_and_wait_for_close(addr: SocketAddr, sent: &'static [u8]) -> String {
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut tcp = std::net::TcpStream::connect(addr).unwrap();
        tcp.write_all(sent).unwrap();
        read_until_closed(&mut tcp)
    })
    .await
    .unwrap()
}

/// A normal request still gets its answer.
async fn assert_serves(sandbox: &Sandbox) {
    let url = format!("{}/topics/unsubscribe?api_key=k", sandbox.base_url());
    let reply = send(&Client::new(), Method::POST, &url, &[], Some(PUSHY_BODY)).await;
    assert_eq!(reply.status, 200, "{reply:?}");
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    // Was held forever: a connection and a task per slow client.
    let sandbox = Sandbox::builder()
        .header_read_timeout(Duration::from_millis(200))
        .start()
        .await
        .unwrap();
    for sent in [
        &b"POST /topics/unsub"[..],
        b"POST /topics/unsubscribe?api_key=k HTTP/1.1\r\nhost: x\r\ncontent-le",
        b"",
    ] {
        let answer = send_and_wait_for_close(sandbox.addr(), sent).await;
        assert_eq!(answer, "", "{:?}", String::from_utf8_lossy(sent));
    }
    assert_serves(&sandbox).await;
    let stats = sandbox.stats();
    assert_eq!((stats.pushy, stats.total_requests()), (1, 1), "{stats:?}");
}

#[tokio::test]
async fn a_client_that_never_finishes_its_body_is_answered_400_and_disconnected() {
    let sandbox = Sandbox::builder()
        .body_read_timeout(Duration::from_millis(200))
        .start()
        .await
        .unwrap();
    let answer = send_and_wait_for_close(
        sandbox.addr(),
        b"POST /topics/unsubscribe?api_key=k HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n{",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert_serves(&sandbox).await;
}

#[tokio::test]
async fn a_dribbled_body_is_cut_by_a_total_deadline_not_a_per_read_one() {
    use std::io::Write;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let sandbox = Sandbox::builder()
        .body_read_timeout(Duration::from_millis(300))
        .start()
        .await
        .unwrap();
    let mut tcp = std::net::TcpStream::connect(sandbox.addr()).unwrap();
    tcp.write_all(
        b"POST /topics/unsubscribe?api_key=k HTTP/1.1\r\nhost: x\r\ncontent-length: 1000000\r\n\r\n",
    )
    .unwrap();
    // A byte every 20 ms, far more often than the deadline: a per-read timeout never fires,
    // and the body would take hours to complete.
    let done = Arc::new(AtomicBool::new(false));
    let mut writer = tcp.try_clone().unwrap();
    let writing = Arc::clone(&done);
    let dribble = std::thread::spawn(move || {
        while !writing.load(Ordering::Relaxed) && writer.write_all(b" ").is_ok() {
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    let answer = tokio::task::spawn_blocking(move || read_until_closed(&mut tcp))
        .await
        .unwrap();
    done.store(true, Ordering::Relaxed);
    dribble.join().unwrap();
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert_serves(&sandbox).await;
}
