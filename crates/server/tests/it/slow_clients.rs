//! Slow and idle clients cannot hold the server: hundreds of connections sending their request
//! head a byte at a time do not delay `/readyz` or an authorization and are closed by the header
//! timeout; one address is held to its share of connections; an idle keep-alive connection is
//! closed; a body sent too slowly is answered 408; the answers to requests that cannot be parsed
//! (a 100 KB path, too many headers, a broken request line) carry the error body.

use crate::common;
use crate::support;

use common::*;
use serde_json::Value;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const PPM: &str = "ppm@acme.example";

/// Raises this process's soft limit on open files (the slow-client test holds about a thousand
/// descriptors: both ends of each connection).
fn raise_open_file_limit(wanted: u64) {
    // SAFETY: getrlimit/setrlimit only read and write the given struct.
    unsafe {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < wanted {
            limit.rlim_cur = wanted.min(limit.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

fn server_addr(app: &TestApp) -> SocketAddr {
    app.url
        .trim_start_matches("http://")
        .parse()
        .expect("a socket address")
}

/// A connection to the server from the loopback address `127.0.0.<last>`.
async fn connect_from(last: u8, server: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("a socket");
    socket
        .bind(SocketAddr::from((Ipv4Addr::new(127, 0, 0, last), 0)))
        .expect("a loopback source address");
    tokio::time::timeout(Duration::from_secs(5), socket.connect(server))
        .await
        .expect("connects in time")
        .expect("a connection")
}

/// A raw answer: status, head, body.
#[derive(Debug)]
struct Raw {
    status: u16,
    head: String,
    body: Value,
}

/// Reads one answer (up to the end of its body, or of the connection), within `limit`.
async fn read_answer(stream: &mut TcpStream, limit: Duration) -> Option<Raw> {
    let mut bytes = Vec::new();
    let deadline = Instant::now() + limit;
    let mut chunk = [0u8; 4096];
    for _ in 0..10_000 {
        if let Some(raw) = complete_answer(&bytes) {
            return Some(raw);
        }
        let left = deadline.checked_duration_since(Instant::now())?;
        match tokio::time::timeout(left, stream.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return complete_answer(&bytes),
            Ok(Ok(n)) => bytes.extend_from_slice(&chunk[..n]),
        }
    }
    None
}

/// The answer in `bytes` once its head and its `content-length` bytes of body are there.
fn complete_answer(bytes: &[u8]) -> Option<Raw> {
    let text = String::from_utf8_lossy(bytes);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    if body.len() < length {
        return None;
    }
    let status = head.get(9..12)?.parse().ok()?;
    Some(Raw {
        status,
        head: head.to_string(),
        body: serde_json::from_str(&body[..length]).unwrap_or(Value::Null),
    })
}

/// Whether the server closed `stream` (end of stream or reset) within `limit`; an answer sent
/// before closing (a 408) is read and dropped.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    let mut chunk = [0u8; 1024];
    for _ in 0..1_000 {
        let Some(left) = deadline.checked_duration_since(Instant::now()) else {
            return false;
        };
        match tokio::time::timeout(left, stream.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
    false
}

/// Checks the error body of every API error: a code, a message, its language, a request id.
fn assert_error_body(raw: &Raw, status: u16, code: &str, lang: &str) {
    assert_eq!(raw.status, status, "{raw:?}");
    let error = &raw.body["error"];
    assert_eq!(error["code"], code, "{raw:?}");
    assert_eq!(error["lang"], lang, "{raw:?}");
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{raw:?}"
    );
    assert!(error["request_id"].is_string(), "{raw:?}");
    assert!(
        raw.head
            .to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{raw:?}"
    );
}

/// How the slow clients went.
#[derive(Debug, Default)]
struct SlowOutcome {
    /// Seconds from the start until the server closed the connection, or `None` if it did not.
    closed_after_s: Option<f64>,
    /// Whether a 408 answer came before the close.
    answered_408: bool,
}

/// A client sending a request head one byte every `pause`, until the server closes the
/// connection or `give_up` passes.
async fn slow_client(
    mut stream: TcpStream,
    started: Instant,
    pause: Duration,
    give_up: Duration,
) -> SlowOutcome {
    let head = b"GET /readyz HTTP/1.1\r\nhost: slow\r\nx-slow-a: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\nx-slow-b: bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\r\n";
    let mut outcome = SlowOutcome::default();
    let mut chunk = [0u8; 1024];
    let mut received = Vec::new();
    for byte in head.iter().cycle().take(10_000) {
        if started.elapsed() > give_up {
            return outcome;
        }
        if stream.write_all(&[*byte]).await.is_err() {
            outcome.closed_after_s = Some(started.elapsed().as_secs_f64());
            break;
        }
        match tokio::time::timeout(pause, stream.read(&mut chunk)).await {
            Err(_) => {}
            Ok(Ok(0)) | Ok(Err(_)) => {
                outcome.closed_after_s = Some(started.elapsed().as_secs_f64());
                break;
            }
            Ok(Ok(n)) => received.extend_from_slice(&chunk[..n]),
        }
    }
    // What came before the close (a best-effort 408).
    for _ in 0..10 {
        match tokio::time::timeout(Duration::from_millis(50), stream.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => received.extend_from_slice(&chunk[..n]),
            _ => break,
        }
    }
    if let Some(raw) = complete_answer(&received) {
        assert_error_body(&raw, 408, "request_timeout", "en");
        outcome.answered_408 = true;
    }
    outcome
}

/// Times `count` probes of `/readyz` and of a funded authorization, each on a new connection.
async fn probe(app: &TestApp, bridge: &str, count: usize) -> (Vec<f64>, Vec<f64>) {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(5))
        .build()
        .expect("a client");
    let (mut ready_ms, mut authorize_ms) = (Vec::new(), Vec::new());
    for n in 0..count {
        let started = Instant::now();
        let r = client
            .get(format!("{}/readyz", app.url))
            .send()
            .await
            .expect("/readyz answers");
        assert_eq!(r.status().as_u16(), 200);
        ready_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        let url = format!("{}/v1/tenants/acme/calls/probe-{n}/authorize", app.url);
        let started = Instant::now();
        let (status, answer) = post(&client, &url, bridge, &dial_out(PPM, "+33 1 23 45 67 89"))
            .await
            .expect("authorize answers");
        authorize_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["decision"], "allow", "{answer}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (ready_ms, authorize_ms)
}

/// Most probes under 100 ms and every one under 1 s.
fn assert_prompt(what: &str, figures_ms: &[f64]) {
    let mut sorted = figures_ms.to_vec();
    sorted.sort_by(f64::total_cmp);
    let under_100 = sorted.iter().filter(|ms| **ms < 100.0).count();
    eprintln!(
        "{what}: {} probes, median {:.1} ms, max {:.1} ms, {under_100} under 100 ms; all (ms): {:?}",
        sorted.len(),
        sorted[sorted.len() / 2],
        sorted[sorted.len() - 1],
        figures_ms
            .iter()
            .map(|ms| (ms * 10.0).round() / 10.0)
            .collect::<Vec<_>>()
    );
    assert!(
        under_100 * 10 >= sorted.len() * 8,
        "{what}: most probes answer within 100 ms"
    );
    assert!(
        sorted[sorted.len() - 1] < 1000.0,
        "{what}: every probe answers within 1 s"
    );
}

const SLOW_CONNECTIONS: usize = 500;
/// Source addresses 127.0.0.2 .. 127.0.0.11, 50 connections each.
const SOURCES: u8 = 10;
const HEADER_TIMEOUT: Duration = Duration::from_secs(3);

/// The defect: with no header timeout, connections sending one header line a second held the
/// server's connection slots forever. Now 500 such connections (50 from each of 10 addresses)
/// neither delay `/readyz` nor a funded authorization, and each is closed by the header timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_headers_do_not_starve_the_server_and_are_closed_by_the_header_timeout() {
    raise_open_file_limit(4096);
    let mut app = TestApp::start_with(|c| {
        c.header_timeout = HEADER_TIMEOUT;
        c.idle_timeout = Duration::from_secs(30);
        c.max_connections_per_address = 64;
    })
    .await;
    let (_, bridge) = app.seed_tenant("acme", Some("500")).await;
    let server = server_addr(&app);
    let started = Instant::now();
    let mut clients = Vec::new();
    for n in 0..SLOW_CONNECTIONS {
        let last = 2 + (n % usize::from(SOURCES)) as u8;
        let stream = connect_from(last, server).await;
        clients.push(tokio::spawn(slow_client(
            stream,
            started,
            Duration::from_millis(250),
            HEADER_TIMEOUT * 4,
        )));
    }
    let opened_s = started.elapsed().as_secs_f64();
    eprintln!("{SLOW_CONNECTIONS} slow connections opened in {opened_s:.2} s");
    let (ready_ms, authorize_ms) = probe(&app, &bridge, 15).await;
    let probed_s = started.elapsed().as_secs_f64();
    assert!(
        probed_s < HEADER_TIMEOUT.as_secs_f64(),
        "the probes ran while the slow connections were held ({probed_s:.2} s)"
    );
    assert_prompt("/readyz", &ready_ms);
    assert_prompt("authorize", &authorize_ms);
    let mut closed = Vec::new();
    let mut answered_408 = 0;
    for client in clients {
        let outcome = client.await.expect("a slow client");
        answered_408 += usize::from(outcome.answered_408);
        closed.push(
            outcome
                .closed_after_s
                .expect("the server closed the slow connection"),
        );
    }
    closed.sort_by(f64::total_cmp);
    eprintln!(
        "slow connections closed after {:.2} s to {:.2} s (header timeout {} s); {answered_408} got a 408 first",
        closed[0],
        closed[closed.len() - 1],
        HEADER_TIMEOUT.as_secs()
    );
    // Each was held until its header timeout (counted from its opening), not refused early.
    assert!(
        closed[0] >= HEADER_TIMEOUT.as_secs_f64() - 0.1,
        "{closed:?}"
    );
    assert!(
        closed[closed.len() - 1] <= opened_s + HEADER_TIMEOUT.as_secs_f64() + 2.0,
        "{closed:?}"
    );
    // The server still serves.
    let r = app.get("/readyz", &app.operator_key.clone()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    app.stop().await;
}

/// Sends `GET /readyz` on `stream` and reads the answer.
async fn readyz_on(stream: &mut TcpStream) -> Option<Raw> {
    stream
        .write_all(b"GET /readyz HTTP/1.1\r\nhost: t\r\n\r\n")
        .await
        .ok()?;
    read_answer(stream, Duration::from_secs(5)).await
}

/// One address may hold `max_connections_per_address` connections; one more from it is closed
/// at once, while another address still connects and is served; a freed slot is usable again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_is_held_to_its_bound_while_another_still_connects() {
    const BOUND: usize = 8;
    let app = TestApp::start_with(|c| {
        c.max_connections_per_address = BOUND;
        c.header_timeout = Duration::from_secs(20);
        c.idle_timeout = Duration::from_secs(20);
    })
    .await;
    let server = server_addr(&app);
    let mut held = Vec::new();
    for _ in 0..BOUND {
        let mut stream = connect_from(2, server).await;
        let raw = readyz_on(&mut stream).await.expect("an answer");
        assert_eq!(raw.status, 200, "{raw:?}");
        held.push(stream);
    }
    let mut over = connect_from(2, server).await;
    let _ = over
        .write_all(b"GET /readyz HTTP/1.1\r\nhost: t\r\n\r\n")
        .await;
    assert!(
        closed_within(&mut over, Duration::from_secs(2)).await,
        "a connection over the address's bound is closed at once"
    );
    let mut other = connect_from(3, server).await;
    let raw = readyz_on(&mut other)
        .await
        .expect("another address is served");
    assert_eq!(raw.status, 200, "{raw:?}");
    // Every held connection is still served.
    for stream in &mut held {
        let raw = readyz_on(stream)
            .await
            .expect("a held connection is served");
        assert_eq!(raw.status, 200, "{raw:?}");
    }
    // A slot freed is usable again (the server notices the close within a moment).
    drop(held.pop());
    let mut served_again = false;
    for _ in 0..50 {
        let mut stream = connect_from(2, server).await;
        if let Some(raw) = readyz_on(&mut stream).await {
            assert_eq!(raw.status, 200, "{raw:?}");
            served_again = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(served_again, "a freed slot takes a new connection");
    eprintln!(
        "address bound {BOUND}: the {}th connection was closed, another address served",
        BOUND + 1
    );
    drop(held);
    app.stop().await;
}

/// A keep-alive connection is kept while requests keep coming, and closed once it has had none
/// for the idle timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let idle = Duration::from_millis(1000);
    let app = TestApp::start_with(|c| {
        c.idle_timeout = idle;
        c.header_timeout = Duration::from_secs(10);
    })
    .await;
    let mut stream = connect_from(2, server_addr(&app)).await;
    // Five requests 500 ms apart: 2 s in all, longer than the idle timeout.
    for _ in 0..5 {
        let raw = readyz_on(&mut stream).await.expect("an answer");
        assert_eq!(raw.status, 200, "{raw:?}");
        tokio::time::sleep(idle / 2).await;
    }
    let quiet = Instant::now() - idle / 2;
    assert!(
        closed_within(&mut stream, Duration::from_secs(5)).await,
        "the idle connection is closed"
    );
    let after = quiet.elapsed();
    eprintln!(
        "idle connection closed {:.2} s after its last answer (idle timeout 1 s)",
        after.as_secs_f64()
    );
    assert!(after >= idle - Duration::from_millis(100), "{after:?}");
    assert!(after <= idle + Duration::from_millis(1500), "{after:?}");
    app.stop().await;
}

/// A body that stops coming is answered 408 with the error body, in the caller's language, and
/// nothing is changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_sent_too_slowly_gets_408_with_an_error_body() {
    let mut app = TestApp::start_with(|c| c.body_timeout = Duration::from_millis(1000)).await;
    let (_, bridge) = app.seed_tenant("acme", Some("100")).await;
    let mut stream = connect_from(2, server_addr(&app)).await;
    let head = format!(
        "POST /v1/tenants/acme/calls/slow-body/authorize HTTP/1.1\r\nhost: t\r\n\
         authorization: Bearer {bridge}\r\ncontent-type: application/json\r\n\
         accept-language: fr\r\ncontent-length: 200\r\n\r\n{{\"conference_id\":"
    );
    stream.write_all(head.as_bytes()).await.expect("a head");
    let started = Instant::now();
    // One more byte after half the timeout: the limit is on the whole body, not between bytes.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _ = stream.write_all(b" ").await;
    let raw = read_answer(&mut stream, Duration::from_secs(5))
        .await
        .expect("an answer");
    let waited = started.elapsed();
    eprintln!(
        "slow body answered {} after {:.2} s: {}",
        raw.status,
        waited.as_secs_f64(),
        raw.body
    );
    assert_error_body(&raw, 408, "request_timeout", "fr");
    assert!(waited >= Duration::from_millis(900), "{waited:?}");
    assert!(waited <= Duration::from_secs(3), "{waited:?}");
    let r = app
        .post(
            "/v1/tenants/acme/calls/slow-body/extend",
            &bridge,
            serde_json::json!({}),
        )
        .await;
    assert_eq!(r.status, 404, "the call was not authorized: {}", r.text);
    app.stop().await;
}

/// Sends `request` on a new connection and reads the answer.
async fn exchange(app: &TestApp, request: &[u8]) -> Raw {
    let mut stream = connect_from(2, server_addr(app)).await;
    stream.write_all(request).await.expect("a request");
    read_answer(&mut stream, Duration::from_secs(5))
        .await
        .expect("an answer")
}

/// The answers given before any route is matched, to requests that cannot be parsed, carry the
/// error body too: a 100 KB path (414), too many headers (431), a broken request line (400).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unparsable_requests_get_the_json_error_body() {
    let app = TestApp::start().await;
    let long = format!(
        "GET /v1/tenants/{} HTTP/1.1\r\nhost: t\r\n\r\n",
        "a".repeat(100_000)
    );
    let raw = exchange(&app, long.as_bytes()).await;
    eprintln!("100 KB path: {} {}", raw.status, raw.body);
    assert_error_body(&raw, 414, "uri_too_long", "en");
    let mut many = String::from("GET /readyz HTTP/1.1\r\nhost: t\r\n");
    for n in 0..200 {
        many.push_str(&format!("x-h{n}: v\r\n"));
    }
    many.push_str("\r\n");
    let raw = exchange(&app, many.as_bytes()).await;
    eprintln!("200 headers: {} {}", raw.status, raw.body);
    assert_error_body(&raw, 431, "headers_too_large", "en");
    let raw = exchange(&app, b"GET /readyz HTTP/1.1\r\nbad header line\r\n\r\n").await;
    eprintln!("broken header: {} {}", raw.status, raw.body);
    assert_error_body(&raw, 400, "invalid_request", "en");
    // The server is unharmed.
    let r = app.get("/readyz", &app.operator_key).await;
    assert_eq!(r.status, 200, "{}", r.text);
    app.stop().await;
}
