//! Connections: the accept loop, and the bounds every connection is held to.
//!
//! The server holds at most `http.max_connections` connections at once; one more is answered
//! `503 Service Unavailable` with `Retry-After` and closed (over HTTPS, closed), so a flood of
//! connections costs a bounded amount of memory. Each connection speaks HTTP/1.1 or HTTP/2 through hyper:
//! - an HTTP/1 client must send a request's whole head within `http.header_read_timeout_secs`;
//! - an HTTP/2 client may have at most `http.max_http2_streams` requests open at once;
//! - a connection holds at most 64 KiB of request bodies the server has not read: HTTP/1's read
//!   buffer, HTTP/2's flow-control window (a request waiting in line reads none of its body);
//! - any connection is closed once it has been **idle** for `http.idle_timeout_secs`: no request
//!   being handled and no part of an answer taken.
//! - over HTTPS (`tls`), the TLS handshake must finish within `http.header_read_timeout_secs`. A request whose handler is still working
//!   (waiting its sync turn, decoding a photo) keeps its connection open; a client that stops
//!   reading an answer, or trickles a request head without finishing it, does not.
//!
//! A request whose *body* stalls is cut off by the body bound in [`crate::api`], which counts
//! and times every body as it is read, whatever the transport.
//!
//! On shutdown the loop stops accepting, lets in-flight requests finish for up to the grace
//! period, and then drops whatever is left.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http::uri::Scheme;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use poem::web::{LocalAddr, RemoteAddr};
use poem::{Addr, Endpoint, EndpointExt};
use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// The bounds of the accept loop.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    /// Connections held at once.
    pub max_connections: usize,
    /// Time to send a request head (HTTP/1).
    pub header_read_timeout: Duration,
    /// Time a connection may be idle.
    pub idle_timeout: Duration,
    /// Requests open at once on one HTTP/2 connection.
    pub max_http2_streams: u32,
    /// Time in-flight requests get to finish after shutdown begins.
    pub shutdown_grace: Duration,
}

/// Connections refused at once with a 503; past this, a connection over the limit is dropped
/// without an answer.
const REFUSALS_AT_ONCE: usize = 64;
/// The most an HTTP/1 connection buffers of what it reads (hyper's least is 8 KiB).
const HTTP1_BUFFER: usize = 64 * 1024;
/// The most of its request bodies an HTTP/2 client may send before the server reads them: its
/// flow-control window, for each stream and for the whole connection. hyper's default is 1 MiB
/// each, which a thousand connections whose pushes wait in line for a place would make 1 GiB.
/// One window for the connection means two bodies waiting on one connection hold up a third
/// until one is read; the line is bounded in time (`http.sync_queue_secs`), so it is a delay.
const HTTP2_WINDOW: u32 = 64 * 1024;

/// How long a refused connection is given to take its 503.
const REFUSAL_WRITE: Duration = Duration::from_secs(2);

/// Serves `endpoint` on `listener`, over TLS when `tls` is given, until `shutdown` resolves,
/// within `limits`.
pub async fn serve<E>(
    listener: TcpListener,
    tls: Option<&crate::tls::Tls>,
    endpoint: E,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()>
where
    E: Endpoint + 'static,
{
    let endpoint: Arc<dyn poem::endpoint::DynEndpoint<Output = poem::Response>> =
        Arc::new(poem::endpoint::ToDynEndpoint(endpoint.map_to_response()));
    let local = LocalAddr(Addr::SocketAddr(listener.local_addr()?));
    // A connection's read buffer ([`HTTP1_BUFFER`]): hyper lets it grow to ~400 KB, which a
    // thousand phones sending pushes at once would make 400 MB. Bodies stream through it, so a
    // smaller one limits no request's size. Over HTTP/2 the same bound is the flow-control
    // window ([`HTTP2_WINDOW`]), fixed rather than grown by hyper's adaptive window.
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(HTTP1_BUFFER);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.max_http2_streams)
        .initial_stream_window_size(HTTP2_WINDOW)
        .initial_connection_window_size(HTTP2_WINDOW)
        .max_pending_accept_reset_streams(20)
        .max_header_list_size(16 * 1024);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let refusals = Arc::new(Semaphore::new(REFUSALS_AT_ONCE));
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            Some(_) = connections.join_next() => {}
            accepted = listener.accept() => {
                let (socket, remote) = match accepted {
                    Ok(accepted) => accepted,
                    Err(err) => {
                        // Out of file descriptors, or a connection reset before it was taken:
                        // wait a moment rather than spin.
                        tracing::warn!(error = %err, "cannot accept a connection");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let Ok(slot) = slots.clone().try_acquire_owned() else {
                    // Over HTTPS a plain-text 503 would only be a handshake error to the
                    // client: the connection is closed, and the client tries again.
                    if tls.is_some() {
                        drop(socket);
                        continue;
                    }
                    if let Ok(refusal) = refusals.clone().try_acquire_owned() {
                        connections.spawn(async move {
                            refuse(socket).await;
                            drop(refusal);
                        });
                    }
                    continue;
                };
                let _ = socket.set_nodelay(true);
                let accepted = Accepted {
                    builder: builder.clone(),
                    endpoint: endpoint.clone(),
                    local: local.clone(),
                    remote,
                    watcher: graceful.watcher(),
                    idle: limits.idle_timeout,
                };
                let tls = tls.map(crate::tls::Tls::acceptor);
                let handshake = limits.header_read_timeout;
                connections.spawn(async move {
                    match tls {
                        None => accepted.serve(socket, Scheme::HTTP).await,
                        // The handshake is bounded like a request head: a client that opens a
                        // connection and says nothing does not hold its place.
                        Some(acceptor) => {
                            match tokio::time::timeout(handshake, acceptor.accept(socket)).await {
                                Ok(Ok(stream)) => accepted.serve(stream, Scheme::HTTPS).await,
                                Ok(Err(err)) => {
                                    tracing::debug!(%remote, error = %err, "TLS handshake failed");
                                }
                                Err(_) => tracing::debug!(%remote, "TLS handshake timed out"),
                            }
                        }
                    }
                    drop(slot);
                });
            }
        }
    }
    drop(listener);
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still in flight after the grace period are cut off");
    }
    connections.shutdown().await;
    Ok(())
}

/// An accepted connection, with what serving it takes.
struct Accepted {
    builder: auto::Builder<TokioExecutor>,
    endpoint: Arc<dyn poem::endpoint::DynEndpoint<Output = poem::Response>>,
    local: LocalAddr,
    remote: SocketAddr,
    watcher: Watcher,
    idle: Duration,
}

impl Accepted {
    /// Serves requests on `io` (plain TCP, or TLS over it) until the client closes it, the
    /// server shuts down, or it has been idle too long.
    async fn serve<I>(self, io: I, scheme: Scheme)
    where
        I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let activity = Arc::new(Activity::new());
        let service = service(
            self.endpoint,
            self.local,
            self.remote,
            scheme,
            activity.clone(),
        );
        let connection = self
            .builder
            .serve_connection(TokioIo::new(io), service)
            .into_owned();
        let connection = self.watcher.watch(connection);
        let remote = self.remote;
        tokio::select! {
            _ = connection => {}
            () = activity.idle(self.idle) => {
                tracing::debug!(%remote, "closing an idle connection");
            }
        }
    }
}

/// Answers a connection over the limit with a 503 and closes it.
async fn refuse(mut socket: TcpStream) {
    const BODY: &str = r#"{"code":"server-busy","message":"the server has too many connections open; try again in a few seconds (服务器繁忙)"}"#;
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json; charset=utf-8\r\n\
         Retry-After: 5\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{BODY}",
        BODY.len()
    );
    let _ = tokio::time::timeout(REFUSAL_WRITE, async {
        socket.write_all(answer.as_bytes()).await?;
        socket.shutdown().await
    })
    .await;
}

/// The hyper service of one connection: each request goes to the endpoint, and both the
/// handling and the sending of its answer count as activity.
fn service(
    endpoint: Arc<dyn poem::endpoint::DynEndpoint<Output = poem::Response>>,
    local: LocalAddr,
    remote: SocketAddr,
    scheme: Scheme,
    activity: Arc<Activity>,
) -> impl hyper::service::Service<
    http::Request<Incoming>,
    Response = http::Response<Watched>,
    Error = Infallible,
    Future = impl Future<Output = Result<http::Response<Watched>, Infallible>> + Send,
> + Clone {
    hyper::service::service_fn(move |request: http::Request<Incoming>| {
        let endpoint = endpoint.clone();
        let local = local.clone();
        let activity = activity.clone();
        let scheme = scheme.clone();
        async move {
            let handling = Handling::start(activity.clone());
            let request =
                poem::Request::from((request, local, RemoteAddr(Addr::SocketAddr(remote)), scheme));
            let response: http::Response<_> = endpoint.get_response(request).await.into();
            drop(handling);
            Ok(response.map(|body| Watched { body, activity }))
        }
    })
}

/// What a connection is doing, for the idle check.
#[derive(Debug)]
struct Activity {
    opened: Instant,
    /// Milliseconds after `opened` of the last request handled or part of an answer taken.
    last: AtomicU64,
    /// Requests being handled.
    handling: AtomicUsize,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            opened: Instant::now(),
            last: AtomicU64::new(0),
            handling: AtomicUsize::new(0),
        }
    }

    fn touch(&self) {
        let now = u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(now, Ordering::Relaxed);
    }

    fn quiet_for(&self) -> Duration {
        let last = Duration::from_millis(self.last.load(Ordering::Relaxed));
        self.opened.elapsed().saturating_sub(last)
    }

    /// Resolves once the connection has been idle for `limit`.
    async fn idle(&self, limit: Duration) {
        loop {
            let quiet = self.quiet_for();
            let handling = self.handling.load(Ordering::Relaxed) > 0;
            if !handling && quiet >= limit {
                return;
            }
            // A request that ends touches the activity, so while one is handled the connection
            // cannot be idle sooner than `limit` from now.
            let wait = if handling {
                limit
            } else {
                limit.saturating_sub(quiet).max(Duration::from_millis(50))
            };
            tokio::time::sleep(wait).await;
        }
    }
}

/// A request being handled; activity when it starts and when it ends.
struct Handling(Arc<Activity>);

impl Handling {
    fn start(activity: Arc<Activity>) -> Handling {
        activity.handling.fetch_add(1, Ordering::Relaxed);
        activity.touch();
        Handling(activity)
    }
}

impl Drop for Handling {
    fn drop(&mut self) {
        self.0.touch();
        self.0.handling.fetch_sub(1, Ordering::Relaxed);
    }
}

/// An answer's body whose every part taken by the connection counts as activity.
struct Watched {
    body: http_body_util::combinators::BoxBody<bytes::Bytes, std::io::Error>,
    activity: Arc<Activity>,
}

impl Body for Watched {
    type Data = bytes::Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        if polled.is_ready() {
            self.activity.touch();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
