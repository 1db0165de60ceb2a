//! The accept loop: hyper directly (as optout-serve does), for what `axum::serve` does not
//! offer: a header-read timeout, so that a client that sends half a request line, or never
//! finishes its headers, is disconnected instead of holding a connection and a task forever.
//! A request body gets a deadline of its own ([`body_deadline`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use http_body::{Frame, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinSet;
use tokio::time::Sleep;

use crate::Shared;

/// Serves `app` on `listener` until `stop` fires (or its sender is dropped); then stops
/// accepting and waits for the connections open to finish their requests.
///
/// Each connection must send a request's headers within `header_read_timeout` of starting to
/// read them (an idle kept-alive connection is closed after as long). Connections run in a
/// `JoinSet` owned by this future: aborting it (as [`Sandbox::shutdown`](crate::Sandbox::shutdown)
/// does after [`SHUTDOWN_GRACE`](crate::SHUTDOWN_GRACE)) closes every one of them.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    shared: Arc<Shared>,
    header_read_timeout: Duration,
    mut stop: oneshot::Receiver<()>,
) -> std::io::Result<()> {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout)
        .keep_alive(true);
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(_) => {
                        // Out of file descriptors and the like: wait a little, keep serving.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                shared.connections.fetch_add(1, Relaxed);
                let _ = stream.set_nodelay(true);
                let service = TowerToHyperService::new(app.clone());
                let connection =
                    graceful.watch(http.serve_connection(TokioIo::new(stream), service));
                connections.spawn(async move {
                    let _ = connection.await;
                });
                // Reap the connections that ended, so the set holds only open ones.
                while connections.try_join_next().is_some() {}
            }
            _ = &mut stop => break,
        }
    }
    drop(listener);
    // Each connection finishes the request it is serving, then closes; one that holds a
    // request half sent is cut by its timeout, or by the abort after SHUTDOWN_GRACE.
    graceful.shutdown().await;
    while connections.join_next().await.is_some() {}
    Ok(())
}

/// Middleware: gives each request body `State` in all to arrive, counted from the handler's
/// first read of it (so injected latency, spent before the handler, does not count). A body
/// still incomplete then fails to read: the handler answers 400 and the connection closes.
pub(crate) async fn body_deadline(
    State(deadline): State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    next.run(request.map(|body| Body::new(DeadlineBody::new(body, deadline))))
        .await
}

/// A body that fails once `deadline` has passed since it was first polled without being
/// complete: a total deadline, not a per-read one, so a client that dribbles a byte at a time
/// is cut as well.
struct DeadlineBody {
    inner: Body,
    deadline: Duration,
    timer: Option<Pin<Box<Sleep>>>,
}

impl DeadlineBody {
    fn new(inner: Body, deadline: Duration) -> Self {
        Self {
            inner,
            deadline,
            timer: None,
        }
    }
}

/// The error of a body that missed its deadline.
#[derive(Debug)]
struct BodyTimedOut(Duration);

impl std::fmt::Display for BodyTimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the request body did not arrive within {} ms",
            self.0.as_millis()
        )
    }
}

impl std::error::Error for BodyTimedOut {}

impl HttpBody for DeadlineBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        let deadline = this.deadline;
        let timer = this
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(deadline)));
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(axum::Error::new(BodyTimedOut(deadline))))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
