//! The accept loop: axum's `serve`, plus what a server facing the internet
//! needs and `serve` does not offer — a header-read timeout and a cap on
//! open connections. `main` and the test harness both serve through it.
//!
//! - HTTP/1.1 (with upgrades, for the live WebSockets). Browsers reach the
//!   server over HTTP/1.1 directly or through a TLS-terminating proxy;
//!   cleartext HTTP/2 is not served, because hyper's header-read timeout
//!   covers HTTP/1 only and a silent HTTP/2 client would hold its
//!   connection for ever.
//! - A client has `header_read_timeout` to send a request's headers: the
//!   first request, and each next one on a kept-alive connection (so it is
//!   also how long an idle connection stays open). A slow-headers client
//!   cannot hold connections for longer.
//! - At most `max_connections` are open at once, WebSockets included: a
//!   connection's slot is held by its socket, and a socket handed to a
//!   WebSocket keeps it until the WebSocket closes. When every slot is
//!   taken, new connections wait in the kernel's listen backlog until one
//!   frees, rather than being accepted and starved.
//! - Handlers get `ConnectInfo<SocketAddr>`.
//! - On the shutdown signal it stops accepting, lets every connection
//!   finish the request in flight (closing idle ones at once), and returns
//!   when they are done. WebSockets are not waited for.

use crate::config::Config;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tower::ServiceExt;

/// How connections are accepted and kept.
#[derive(Clone, Copy, Debug)]
pub struct ServeSettings {
    pub header_read_timeout: Duration,
    pub max_connections: usize,
}

impl ServeSettings {
    pub fn from_config(config: &Config) -> Self {
        Self {
            header_read_timeout: Duration::from_secs(config.header_read_timeout_secs),
            max_connections: config.max_connections,
        }
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then drains.
pub async fn serve(
    mut listener: TcpListener,
    router: Router,
    settings: ServeSettings,
    shutdown: impl Future<Output = ()> + Send,
) {
    let slots = Arc::new(Semaphore::new(settings.max_connections));
    // `stopping` tells connections to finish; each holds a `running`
    // receiver, so the sender sees them all gone once they have.
    let (stopping, _) = watch::channel(false);
    let (running, running_rx) = watch::channel(());
    let mut shutdown = pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot,
            () = &mut shutdown => break,
        };
        let Ok(slot) = slot else { break };
        let (stream, remote) = tokio::select! {
            accepted = axum::serve::Listener::accept(&mut listener) => accepted,
            () = &mut shutdown => break,
        };
        let connection = Connection {
            io: Counted {
                stream,
                _slot: slot,
            },
            remote,
            router: router.clone(),
            header_read_timeout: settings.header_read_timeout,
        };
        tokio::spawn(connection.run(stopping.subscribe(), running_rx.clone()));
    }
    drop(listener);
    drop(running_rx);
    let _ = stopping.send(true);
    tracing::info!(
        connections = running.receiver_count(),
        "not accepting connections; finishing requests in flight"
    );
    running.closed().await;
}

struct Connection {
    io: Counted,
    remote: SocketAddr,
    router: Router,
    header_read_timeout: Duration,
}

impl Connection {
    async fn run(self, mut stopping: watch::Receiver<bool>, _running: watch::Receiver<()>) {
        let Self {
            io,
            remote,
            router,
            header_read_timeout,
        } = self;
        let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let mut request = request.map(Body::new);
            request.extensions_mut().insert(ConnectInfo(remote));
            router.clone().oneshot(request)
        });
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(header_read_timeout);
        let mut connection = pin!(builder
            .serve_connection(TokioIo::new(io), service)
            .with_upgrades());
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%error, "connection ended with an error");
                }
            }
            () = async {
                let _ = stopping.wait_for(|stop| *stop).await;
            } => {
                connection.as_mut().graceful_shutdown();
                let _ = connection.await;
            }
        }
    }
}

/// A connection's socket, holding its slot until it is dropped (which,
/// after a WebSocket upgrade, is when the WebSocket closes).
struct Counted {
    stream: TcpStream,
    _slot: OwnedSemaphorePermit,
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
