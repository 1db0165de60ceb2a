//! The listener loop: serving a router with a header timeout, graceful shutdown, and the
//! signals that start it.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

use crate::intake::Intake;
use crate::metrics::Metrics;

use super::{router, Config};

/// Serves `router` on `listener` until `shutdown` completes; then stops accepting, lets the
/// requests in flight finish (up to `grace`), and returns.
///
/// Each connection must send its request headers within `header_timeout` (against clients
/// that open connections and send nothing, or dribble).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    header_timeout: Duration,
    grace: Duration,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .keep_alive(true);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of file descriptors and the like: wait a little, keep serving.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let service = TowerToHyperService::new(router.clone());
                let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
                tokio::spawn(async move {
                    let _ = connection.await;
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tracing::info!("shutting down: no new connections; finishing the requests in flight");
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections closed"),
        () = tokio::time::sleep(grace) => tracing::warn!("requests still in flight after the grace period"),
    }
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

/// Binds `addr`, logs where it listens, and serves until Ctrl-C or SIGTERM.
pub async fn run(
    addr: SocketAddr,
    intake: Arc<dyn Intake>,
    config: Config,
    metrics: Arc<Metrics>,
) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    let (header_timeout, grace) = (config.header_timeout, config.shutdown_grace);
    tracing::info!(addr = %listener.local_addr()?, "listening");
    serve(
        listener,
        router(intake, config, metrics),
        header_timeout,
        grace,
        shutdown_signal(),
    )
    .await
}
