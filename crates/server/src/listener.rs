//! The accept loop and each connection's life, over hyper's HTTP/1.1 server.
//!
//! A slow or idle client cannot hold the server: at most `max_connections` connections are open
//! at once (more wait in the kernel's accept queue), at most `max_connections_per_address` from
//! one IP address (more are closed at once), a request head must arrive within the header
//! timeout (counted from the connection's opening, or from its first byte after an idle
//! keep-alive), a body within the body timeout (counted from when the server first waits for
//! it: answered 408), and a keep-alive connection without a request for the idle timeout is
//! closed. The answers hyper gives itself to a request it cannot parse (400, 414, 431) are
//! replaced, on their way out, by the error body every other error has.

use crate::app::{ErrorBody, ErrorDetail};
use crate::i18n::{self, Lang};
use axum::Router;
use axum::body::Bytes;
use axum::http::{Request, StatusCode};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The time limits of a connection.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// A request head (request line and headers) must arrive within this.
    pub header_timeout: Duration,
    /// A request body must arrive within this, once the server waits for it.
    pub body_timeout: Duration,
    /// A keep-alive connection without a request for this long is closed.
    pub idle_timeout: Duration,
}

/// A TCP listener holding at most `max_connections` connections, and at most `per_address`
/// from one IP address.
pub struct Listener {
    inner: TcpListener,
    slots: Arc<Semaphore>,
    addresses: Arc<Mutex<HashMap<IpAddr, usize>>>,
    per_address: usize,
}

/// How many connections the system may hold, handshake done, before the server accepts them
/// (the system caps it at `net.core.somaxconn`). Hundreds of bridges connecting at once while
/// every worker is busy wait in this queue; the standard library's 128 dropped the rest.
pub const BACKLOG: u32 = 4096;

/// The listening socket on `addr`, with a queue of `BACKLOG` connections not yet accepted.
pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

impl Listener {
    pub fn new(inner: TcpListener, max_connections: usize, per_address: usize) -> Listener {
        Listener {
            inner,
            slots: Arc::new(Semaphore::new(max_connections.max(1))),
            addresses: Arc::new(Mutex::new(HashMap::new())),
            per_address: per_address.max(1),
        }
    }

    /// The next connection within both bounds. Cancel-safe.
    async fn accept(&self) -> Conn {
        loop {
            let slot = self
                .slots
                .clone()
                .acquire_owned()
                .await
                .expect("the semaphore is never closed");
            let (io, addr) = match self.inner.accept().await {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let Some(address) = self.claim(addr) else {
                // Closed at once: the other addresses keep their share.
                metrics::counter!("minutely_connections_refused_total", "reason" => "per_address")
                    .increment(1);
                tracing::debug!(%addr, "connection refused: too many from this address");
                continue;
            };
            let _ = io.set_nodelay(true);
            return Conn {
                io,
                _slot: slot,
                _address: address,
                activity: Arc::new(Activity::new()),
                replacement: None,
                replaced: false,
            };
        }
    }

    /// Counts a connection from `addr`, or `None` when its address is at its bound.
    fn claim(&self, addr: SocketAddr) -> Option<AddressSlot> {
        let ip = addr.ip().to_canonical();
        let mut addresses = self.addresses.lock().expect("never poisoned");
        let count = addresses.entry(ip).or_insert(0);
        if *count >= self.per_address {
            return None;
        }
        *count += 1;
        Some(AddressSlot {
            ip,
            addresses: self.addresses.clone(),
        })
    }
}

/// One connection counted against its address until dropped.
struct AddressSlot {
    ip: IpAddr,
    addresses: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut addresses = self.addresses.lock().expect("never poisoned");
        if let Some(count) = addresses.get_mut(&self.ip) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                addresses.remove(&self.ip);
            }
        }
    }
}

/// Where a connection is in its life; each phase but `Busy` has a deadline.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Opened at this instant, nothing received yet.
    Fresh(Instant),
    /// Part of a request head received; the head began (or the connection opened) then.
    Head(Instant),
    /// This many requests handed to the application and not yet fully answered.
    Busy(usize),
    /// The last answer ended at this instant.
    Idle(Instant),
}

/// Why a connection was closed by its deadline.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expiry {
    Header,
    Idle,
}

/// A connection's phase, shared by its IO (reads), its service (requests) and its watchdog.
struct Activity {
    phase: Mutex<Phase>,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            phase: Mutex::new(Phase::Fresh(Instant::now())),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Phase) -> T) -> T {
        f(&mut self.phase.lock().expect("never poisoned"))
    }

    /// Bytes arrived: a new head begins after an idle time.
    fn on_read(&self) {
        self.with(|phase| match *phase {
            Phase::Fresh(since) => *phase = Phase::Head(since),
            Phase::Idle(_) => *phase = Phase::Head(Instant::now()),
            Phase::Head(_) | Phase::Busy(_) => {}
        });
    }

    fn begin(self: &Arc<Self>) -> Busy {
        self.with(|phase| {
            *phase = match *phase {
                Phase::Busy(n) => Phase::Busy(n.saturating_add(1)),
                _ => Phase::Busy(1),
            }
        });
        Busy(self.clone())
    }

    fn reading_head(&self) -> bool {
        self.with(|phase| matches!(phase, Phase::Head(_)))
    }

    /// The instant the current phase expires, and why; `None` while requests are answered.
    fn deadline(&self, limits: &Limits) -> Option<(Instant, Expiry)> {
        match self.with(|phase| *phase) {
            Phase::Fresh(since) | Phase::Head(since) => {
                Some((since + limits.header_timeout, Expiry::Header))
            }
            Phase::Idle(since) => Some((since + limits.idle_timeout, Expiry::Idle)),
            Phase::Busy(_) => None,
        }
    }
}

/// A request being answered; its end (the answer's body dropped) starts the idle time.
struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.with(|phase| {
            *phase = match *phase {
                Phase::Busy(n) if n > 1 => Phase::Busy(n - 1),
                _ => Phase::Idle(Instant::now()),
            }
        });
    }
}

/// A connection holding its slots until dropped. Its write path recognizes the bodyless answer
/// hyper writes itself for a head it cannot parse, and writes ours instead.
pub struct Conn {
    io: TcpStream,
    _slot: OwnedSemaphorePermit,
    _address: AddressSlot,
    activity: Arc<Activity>,
    /// Our answer being written in place of hyper's, and how much of it is written.
    replacement: Option<(Vec<u8>, usize)>,
    /// Our answer is written: whatever hyper still writes is dropped (it closes next).
    replaced: bool,
}

impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.io).poll_read(cx, buf))?;
        if buf.filled().len() > before {
            self.activity.on_read();
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        if this.replaced {
            return Poll::Ready(Ok(buf.len()));
        }
        if this.replacement.is_none()
            && this.activity.reading_head()
            && let Some(status) = parse_error_head(buf)
        {
            this.replacement = Some((unparsed_answer(status), 0));
        }
        let Some((answer, written)) = this.replacement.as_mut() else {
            return Pin::new(&mut this.io).poll_write(cx, buf);
        };
        while *written < answer.len() {
            let n = ready!(Pin::new(&mut this.io).poll_write(cx, &answer[*written..]))?;
            if n == 0 {
                return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
            }
            *written += n;
        }
        this.replacement = None;
        this.replaced = true;
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    // Not vectored: hyper then writes a head in one buffer, which `poll_write` can recognize.
    fn is_write_vectored(&self) -> bool {
        false
    }
}

/// The status of a bodyless error head written while a request head was being read: hyper's
/// own answer to a request it could not parse (the application never saw the request).
fn parse_error_head(buf: &[u8]) -> Option<StatusCode> {
    if buf.len() > 1024 || !buf.ends_with(b"\r\n\r\n") {
        return None;
    }
    let rest = buf
        .strip_prefix(b"HTTP/1.1 ")
        .or_else(|| buf.strip_prefix(b"HTTP/1.0 "))?;
    let code = std::str::from_utf8(rest.get(..3)?)
        .ok()?
        .parse::<u16>()
        .ok()?;
    let status = StatusCode::from_u16(code).ok()?;
    (status.is_client_error() || status.is_server_error()).then_some(status)
}

/// Our complete answer, in English (the headers, `Accept-Language` among them, were not read),
/// to a request hyper could not parse; the connection closes after it.
fn unparsed_answer(status: StatusCode) -> Vec<u8> {
    let (code, detail) = match status {
        StatusCode::URI_TOO_LONG => ("uri_too_long", "the request target is too long"),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => (
            "headers_too_large",
            "the request headers are too large or too many",
        ),
        _ => (
            "invalid_request",
            "the request line or headers could not be parsed",
        ),
    };
    metrics::counter!("minutely_http_requests_total", "route" => "unparsed", "status" => status.as_str().to_string())
        .increment(1);
    let request_id = crate::app::new_request_id();
    tracing::info!(request_id = %request_id, route = "unparsed", status = status.as_u16(), "request");
    error_answer(status, code, detail, &request_id)
}

/// A whole HTTP/1.1 answer with our error body, closing the connection.
fn error_answer(status: StatusCode, code: &str, detail: &str, request_id: &str) -> Vec<u8> {
    let lang = Lang::En;
    let body = ErrorBody {
        error: ErrorDetail {
            code: code.to_string(),
            message: i18n::message(code, lang).to_string(),
            lang: lang.tag().to_string(),
            detail: Some(detail.to_string()),
            rule: None,
            request_id: request_id.to_string(),
        },
    };
    let body = serde_json::to_vec(&body).expect("an error body serializes");
    let mut answer = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-language: {}\r\n\
         content-length: {}\r\nx-request-id: {request_id}\r\nconnection: close\r\n\r\n",
        status.as_str(),
        status.canonical_reason().unwrap_or(""),
        lang.tag(),
        body.len(),
    )
    .into_bytes();
    answer.extend_from_slice(&body);
    answer
}

/// Set when a request's body did not arrive within the body timeout (the request's extension;
/// the edge then answers 408).
#[derive(Debug, Clone, Default)]
pub struct BodyTimer(Arc<AtomicBool>);

impl BodyTimer {
    pub fn expired(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// A request body that fails once it has been awaited for longer than its limit in all.
struct TimedBody {
    inner: Incoming,
    limit: Duration,
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
    timer: BodyTimer,
}

impl Body for TimedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if this.timer.expired() {
            return Poll::Ready(Some(Err("the request body timed out".into())));
        }
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(BoxError::from)));
        }
        let limit = this.limit;
        let deadline = this
            .deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        ready!(deadline.as_mut().poll(cx));
        this.timer.0.store(true, Ordering::Relaxed);
        metrics::counter!("minutely_connections_closed_total", "reason" => "body_timeout")
            .increment(1);
        Poll::Ready(Some(Err("the request body timed out".into())))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// An answer's body, holding its request's `Busy` until it is sent (or dropped).
struct Answer {
    body: axum::body::Body,
    _busy: Busy,
}

impl Body for Answer {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// Accepts connections and serves `app` on each until `signal` completes; then stops accepting
/// (the listening socket is closed), lets every connection finish the request it is answering
/// and close, and returns once all are closed.
pub async fn serve(
    listener: Listener,
    app: Router,
    limits: Limits,
    signal: impl Future<Output = ()> + Send,
) {
    let (stop_tx, stop_rx) = watch::channel(false);
    let (alive_tx, mut alive_rx) = mpsc::channel::<()>(1);
    let mut signal = std::pin::pin!(signal);
    loop {
        tokio::select! {
            biased;
            () = &mut signal => break,
            conn = listener.accept() => {
                let connection = connection(conn, app.clone(), limits, stop_rx.clone());
                let alive = alive_tx.clone();
                tokio::spawn(async move {
                    connection.await;
                    drop(alive);
                });
            }
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    drop(alive_tx);
    // `None` once every connection has dropped its sender.
    let _ = alive_rx.recv().await;
}

/// `app` for one connection: each request marks the connection busy until its answer is sent,
/// and its body is timed.
fn service(
    app: Router,
    activity: Arc<Activity>,
    body_timeout: Duration,
) -> impl hyper::service::Service<
    Request<Incoming>,
    Response = axum::http::Response<Answer>,
    Error = Infallible,
    Future: Send,
> + Send
+ Unpin
+ 'static {
    hyper::service::service_fn(move |request: Request<Incoming>| {
        let busy = activity.begin();
        let timer = BodyTimer::default();
        let mut request = request.map(|inner| {
            axum::body::Body::new(TimedBody {
                inner,
                limit: body_timeout,
                deadline: None,
                timer: timer.clone(),
            })
        });
        request.extensions_mut().insert(timer);
        let app = app.clone();
        async move {
            let response = tower::ServiceExt::oneshot(app, request)
                .await
                .unwrap_or_else(|never| match never {});
            Ok::<_, Infallible>(response.map(|body| Answer { body, _busy: busy }))
        }
    })
}

/// Serves one connection until it closes, its deadline passes, or the server stops (then the
/// request being answered is finished first).
async fn connection(conn: Conn, app: Router, limits: Limits, mut stop: watch::Receiver<bool>) {
    let activity = conn.activity.clone();
    let service = service(app, activity.clone(), limits.body_timeout);
    let mut conn = http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(conn), service);
    let mut stopped = Box::pin(async move {
        let _ = stop.wait_for(|stopping| *stopping).await;
    });
    let mut stopping = false;
    let mut sleep = Box::pin(tokio::time::sleep(limits.header_timeout));
    let expired = std::future::poll_fn(|cx| {
        if !stopping && stopped.as_mut().poll(cx).is_ready() {
            stopping = true;
            Pin::new(&mut conn).graceful_shutdown();
        }
        if Pin::new(&mut conn).poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        // Every change of phase happens while the connection is polled: the deadline is
        // looked at afresh after each poll.
        let Some((at, why)) = activity.deadline(&limits) else {
            return Poll::Pending;
        };
        let at = tokio::time::Instant::from_std(at);
        if sleep.deadline() != at {
            sleep.as_mut().reset(at);
        }
        ready!(sleep.as_mut().poll(cx));
        Poll::Ready(Some(why))
    })
    .await;
    match expired {
        None => {}
        Some(Expiry::Idle) => {
            metrics::counter!("minutely_connections_closed_total", "reason" => "idle_timeout")
                .increment(1);
        }
        Some(Expiry::Header) => {
            metrics::counter!("minutely_connections_closed_total", "reason" => "header_timeout")
                .increment(1);
            let io = conn.into_parts().io.into_inner();
            if matches!(io.activity.with(|phase| *phase), Phase::Head(_)) && !io.replaced {
                // Best effort, never waiting: a client that stalls is not read from again.
                let answer = error_answer(
                    StatusCode::REQUEST_TIMEOUT,
                    "request_timeout",
                    "the request head did not arrive in time",
                    &crate::app::new_request_id(),
                );
                let _ = io.io.try_write(&answer);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hyper_error_heads_are_recognized() {
        let head = b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        assert_eq!(parse_error_head(head), Some(StatusCode::URI_TOO_LONG));
        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(parse_error_head(ok), None);
        assert_eq!(parse_error_head(b"HTTP/1.1 400 Bad Request\r\n"), None);
        assert_eq!(parse_error_head(b"{\"HTTP/1.1 400\"}"), None);
    }

    #[test]
    fn our_answer_is_complete_json() {
        let answer = error_answer(StatusCode::URI_TOO_LONG, "uri_too_long", "long", "r-1");
        let text = String::from_utf8(answer).expect("utf-8");
        let (head, body) = text.split_once("\r\n\r\n").expect("a head and a body");
        assert!(head.starts_with("HTTP/1.1 414 URI Too Long\r\n"), "{head}");
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let value: serde_json::Value = serde_json::from_str(body).expect("json");
        assert_eq!(value["error"]["code"], "uri_too_long");
        assert_eq!(value["error"]["lang"], "en");
        assert_eq!(value["error"]["request_id"], "r-1");
    }
}

#[cfg(test)]
mod backlog_tests {
    use std::time::Duration;

    /// Connections made while nothing accepts wait in the queue, every one of them: 600
    /// clients connecting at once are all accepted afterwards (a queue of 128 kept 129).
    #[tokio::test]
    async fn a_burst_of_connections_waits_until_accepted() {
        let listener = super::bind("127.0.0.1:0".parse().expect("an address")).expect("bound");
        let addr = listener.local_addr().expect("its address");
        let mut connecting = tokio::task::JoinSet::new();
        for _ in 0..600 {
            connecting.spawn(tokio::time::timeout(
                Duration::from_secs(2),
                tokio::net::TcpStream::connect(addr),
            ));
        }
        let mut clients = Vec::new();
        while let Some(done) = connecting.join_next().await {
            if let Ok(Ok(Ok(stream))) = done {
                clients.push(stream);
            }
        }
        let mut accepted = 0;
        while let Ok(Ok(_)) =
            tokio::time::timeout(Duration::from_millis(200), listener.accept()).await
        {
            accepted += 1;
            assert!(accepted <= 600, "no more connections than were made");
        }
        // The system caps the queue at `net.core.somaxconn` (4096 by default).
        let cap = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
            .ok()
            .and_then(|text| text.trim().parse::<usize>().ok())
            .map_or(600, |somaxconn| somaxconn + 1);
        assert_eq!(
            accepted,
            cap.min(600),
            "{} clients connected",
            clients.len()
        );
    }
}
