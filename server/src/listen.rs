//! Serving the router's connections: hyper's HTTP/1 with a timer, so that a connection that
//! does not send a whole request head in time is closed: a client that opens connections and
//! sends its headers a byte at a time, or nothing, holds no socket and no task for long. (axum's
//! `serve` sets no timer, and hyper keeps no such deadline without one.) A request's own
//! deadline starts once its head has arrived (see `edge`). HTTP/1.1 only, and no upgrades
//! (WebSocket): nothing the service serves uses them.

use std::future::Future;
use std::io;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

/// How long a connection may take to send a request's head (its request line and headers),
/// counted from when it opens or its previous answer was sent, unless configured.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves `router` on `listener` until `shutdown` completes; then stops accepting, closes idle
/// connections, and returns once the requests in flight have been answered, or after `drain`
/// (the request timeout: every request is answered by then), closing the connections left:
/// those whose clients do not read their answers.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    header_read_timeout: Duration,
    drain: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout);
    let connections = GracefulShutdown::new();
    let mut tasks = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) if passing(&e) => continue,
                Err(e) => {
                    // Out of file descriptors, most often: accepting again at once would spin.
                    tracing::error!(error = %e, "accepting a connection failed; trying again in a second");
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                        () = &mut shutdown => break,
                    }
                }
            },
            () = &mut shutdown => break,
        };
        let connection = http.serve_connection(
            TokioIo::new(stream),
            TowerToHyperService::new(router.clone()),
        );
        let connection = connections.watch(connection);
        tasks.spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "a connection ended with an error");
            }
        });
        while tasks.try_join_next().is_some() {}
    }
    drop(listener);
    if tokio::time::timeout(drain, connections.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            connections = tasks.len(),
            "connections still open when the shutdown's drain time ran out (answers their clients do not read) are closed"
        );
        tasks.shutdown().await;
    }
}

/// Whether a failed accept concerns that one connection alone (reset before it was accepted).
fn passing(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}
