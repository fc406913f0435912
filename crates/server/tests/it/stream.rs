//! C15 beside the webhooks: events published to NATS JetStream. A real `nats-server` (Debian's
//! package) is started by each test with JetStream on 127.0.0.1 and a port of its own, and stopped
//! by its pid; the stream is read back through the server's own NATS client and the JetStream
//! API (`STREAM.INFO`, `STREAM.MSG.GET`) and compared with the store's outbox, event by event.
//! Without `nats-server` these tests fail saying so, unless `MINUTELY_SKIP_NATS=1`.

use crate::common;

use common::*;
use minutely_server::stream::client::Connection;
use minutely_server::stream::{ServerAddr, StreamConfig};
use minutely_store::Store;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const STREAM: &str = "MINUTELY_EVENTS";
const PREFIX: &str = "minutely.events";

use minutely_testkit::nats::{free_port, nats_binary};

/// A `nats-server -js` on 127.0.0.1, its store in `dir`; stopped by its pid when dropped.
struct Nats {
    bin: PathBuf,
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl Nats {
    async fn start(bin: PathBuf, dir: &Path) -> Nats {
        let mut nats = Nats {
            bin,
            port: free_port(),
            dir: dir.to_path_buf(),
            child: None,
        };
        nats.restart().await;
        nats
    }

    fn addr(&self) -> ServerAddr {
        format!("nats://127.0.0.1:{}", self.port)
            .parse()
            .expect("a NATS URL")
    }

    /// Starts the server (again, same port and store) and waits until JetStream answers.
    async fn restart(&mut self) {
        assert!(self.child.is_none(), "already running");
        let log = std::fs::File::create(self.dir.join("nats.log")).expect("a log file");
        let child = Command::new(&self.bin)
            .args([
                "-js",
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-sd",
            ])
            .arg(self.dir.join("js"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("nats-server starts");
        self.child = Some(child);
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(15) {
            if let Ok(mut conn) =
                Connection::connect(&self.addr(), "probe", Duration::from_secs(1)).await
                && let Ok(reply) = conn
                    .request("$JS.API.INFO", b"", Duration::from_secs(1))
                    .await
                && reply.status().is_none()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "nats-server did not answer within 15 s (log: {})",
            self.dir.join("nats.log").display()
        );
    }

    /// SIGTERM by pid (JetStream writes its state and exits), SIGKILL after 10 s.
    fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = i32::try_from(child.id()).expect("a pid");
        // SAFETY: signalling the child this test started, by its own pid.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A tenant with a 100 EUR wallet, low-balance thresholds 90 and 50 and an auto-recharge of
/// 100 below 50: each long call raises one to four events.
fn busy_tenant(id: &str) -> String {
    tenant_file(id).replace(
        "[wallet]\n",
        "[wallet]\nlow_balance_thresholds = [90, 50]\n\n[wallet.auto_recharge]\ntrigger = 50\namount = 100\n\n[[wallet.fundings]]\nreference = \"F1\"\namount = 100\nat = \"2026-03-01T00:00:00Z\"\n",
    )
}

fn stream_config(nats: &Nats, create: bool) -> StreamConfig {
    let mut config = StreamConfig::new(nats.addr(), PREFIX.into());
    config.create = create.then(|| STREAM.to_string());
    config.ack_timeout = Duration::from_secs(2);
    config.first_backoff = Duration::from_millis(50);
    config.max_backoff = Duration::from_millis(500);
    config
}

/// Seeds the tenants, then restarts the server with `stream` as its event stream.
async fn seeded(tenants: &[&str], stream: Option<StreamConfig>) -> (TestApp, Vec<String>) {
    let mut app = TestApp::start().await;
    let mut bridges = Vec::new();
    for id in tenants {
        let (_, bridge) = app.seed_tenant_file(&busy_tenant(id), None).await;
        bridges.push(bridge);
    }
    app.config.events_stream = stream;
    app.restart().await;
    (app, bridges)
}

/// `count` dial-out calls of 600 minutes each (66 EUR), in one request, ids `<tag>-<n>`.
async fn calls(app: &TestApp, tenant: &str, bridge: &str, tag: &str, count: usize) {
    let start = ts("2026-03-01T10:00:00Z");
    let end = start + jiff::SignedDuration::from_secs(600 * 60);
    let records: Vec<Value> = (0..count)
        .map(|n| {
            json!({
                "call_id": format!("{tag}-{n}"), "conference_id": "m1",
                "organizer": format!("ppm@{tenant}.example"), "direction": "dial_out",
                "destination_number": "+33 6 12 34 56 78",
                "start": start.to_string(), "end": end.to_string(),
            })
        })
        .collect();
    let r = app
        .post(
            &format!("/v1/tenants/{tenant}/calls"),
            bridge,
            json!({ "calls": records }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["charged"], count, "{}", r.text);
}

/// Standard base64 (what JetStream's API returns message bodies and headers in).
fn base64(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let digits: Vec<u8> = text.bytes().filter(|&c| c != b'=').map(value).collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &d)| n | (u32::from(d) << (18 - 6 * i)));
        out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
    }
    out
}

/// One message of the stream: subject, `Nats-Msg-Id`, body.
#[derive(Debug, Clone, PartialEq)]
struct Stored {
    subject: String,
    msg_id: String,
    body: Value,
}

/// The stream's message count (0 when it does not exist).
async fn stream_count(nats: &Nats) -> u64 {
    let mut conn = Connection::connect(&nats.addr(), "reader", Duration::from_secs(2))
        .await
        .expect("the reader connects");
    let info = conn
        .request(
            &format!("$JS.API.STREAM.INFO.{STREAM}"),
            b"",
            Duration::from_secs(2),
        )
        .await
        .expect("stream info");
    let info: Value = serde_json::from_slice(&info.payload).expect("JSON");
    info["state"]["messages"].as_u64().unwrap_or(0)
}

/// Every message of the stream, in the stream's order.
async fn read_stream(nats: &Nats) -> Vec<Stored> {
    let mut conn = Connection::connect(&nats.addr(), "reader", Duration::from_secs(2))
        .await
        .expect("the reader connects");
    let info = conn
        .request(
            &format!("$JS.API.STREAM.INFO.{STREAM}"),
            b"",
            Duration::from_secs(2),
        )
        .await
        .expect("stream info");
    let info: Value = serde_json::from_slice(&info.payload).expect("JSON");
    let (first, last) = (
        info["state"]["first_seq"].as_u64().expect("first_seq"),
        info["state"]["last_seq"].as_u64().expect("last_seq"),
    );
    assert!(last - first < 10_000, "a bounded stream: {info}");
    let mut out = Vec::new();
    for seq in first..=last {
        let got = conn
            .request(
                &format!("$JS.API.STREAM.MSG.GET.{STREAM}"),
                json!({ "seq": seq }).to_string().as_bytes(),
                Duration::from_secs(2),
            )
            .await
            .expect("a message");
        let got: Value = serde_json::from_slice(&got.payload).expect("JSON");
        let message = &got["message"];
        let headers =
            String::from_utf8(base64(message["hdrs"].as_str().expect("headers"))).unwrap();
        let msg_id = headers
            .lines()
            .find_map(|l| l.strip_prefix("Nats-Msg-Id:"))
            .expect("a Nats-Msg-Id header")
            .trim()
            .to_string();
        out.push(Stored {
            subject: message["subject"].as_str().expect("a subject").to_string(),
            msg_id,
            body: serde_json::from_slice(&base64(message["data"].as_str().unwrap_or("")))
                .expect("a JSON body"),
        });
    }
    out
}

/// What the stream must hold for a tenant: its outbox events after `after`, in order.
fn outbox(db: &Path, tenant: &str, after: u64) -> Vec<(String, u64, String)> {
    let store = Store::open_read_only(db).expect("a reader");
    store
        .events_after(tenant, after, 10_000)
        .expect("events")
        .into_iter()
        .map(|e| (format!("{PREFIX}.{tenant}.{}", e.kind), e.seq, e.kind))
        .collect()
}

fn events_of(db: &Path, tenant: &str) -> u64 {
    let store = Store::open_read_only(db).expect("a reader");
    store.events(tenant).expect("events").len() as u64
}

/// Waits (30 s at most) until the stream holds `n` messages.
async fn wait_for_count(nats: &Nats, n: u64) {
    let started = Instant::now();
    let mut seen = 0;
    while started.elapsed() < Duration::from_secs(30) {
        seen = stream_count(nats).await;
        if seen >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the stream holds {seen} messages, not {n}");
}

/// The stream holds exactly each tenant's outbox after `after[tenant]`, in order, once each,
/// with the webhook's body and id.
fn assert_stream_is_outbox(stream: &[Stored], db: &Path, tenants: &[(&str, u64)]) {
    let mut total = 0;
    for (tenant, after) in tenants {
        let expected = outbox(db, tenant, *after);
        let got: Vec<&Stored> = stream
            .iter()
            .filter(|m| m.body["tenant"] == *tenant)
            .collect();
        let got_keys: Vec<(String, u64, String)> = got
            .iter()
            .map(|m| {
                (
                    m.subject.clone(),
                    m.body["sequence"].as_u64().expect("a sequence"),
                    m.body["type"].as_str().expect("a type").to_string(),
                )
            })
            .collect();
        assert_eq!(got_keys, expected, "{tenant}: every event once, in order");
        for m in &got {
            let seq = m.body["sequence"].as_u64().unwrap();
            assert_eq!(m.msg_id, minutely_server::webhooks::event_id(tenant, seq));
            assert_eq!(m.body["id"], m.msg_id.as_str(), "the webhook's id");
            assert!(
                m.body["occurred_at"].is_string() && m.body["data"].is_object(),
                "{}",
                m.body
            );
        }
        total += expected.len();
    }
    assert_eq!(stream.len(), total, "nothing else in the stream");
}

#[tokio::test]
async fn c15_events_reach_jetstream_in_order_once_each_and_a_restart_resumes_from_the_cursor() {
    let Some(bin) = nats_binary() else { return };
    let dir = tempfile::tempdir().expect("a temp dir");
    let nats = Nats::start(bin, dir.path()).await;
    let (mut app, bridges) = seeded(&["acme", "globex.eu"], Some(stream_config(&nats, true))).await;
    calls(&app, "acme", &bridges[0], "a", 12).await;
    calls(&app, "globex.eu", &bridges[1], "g", 5).await;
    let (acme, globex) = (events_of(&app.db, "acme"), events_of(&app.db, "globex.eu"));
    assert!(acme >= 12 && globex >= 5, "{acme} {globex}");
    wait_for_count(&nats, acme + globex).await;
    let stream = read_stream(&nats).await;
    // A tenant id's '.' is '~' in the subject: the tenant stays one token.
    assert!(
        stream
            .iter()
            .any(|m| m.subject.starts_with("minutely.events.globex~eu."))
    );
    let renamed: Vec<Stored> = stream
        .into_iter()
        .map(|mut m| {
            m.subject = m.subject.replace("globex~eu", "globex.eu");
            m
        })
        .collect();
    assert_stream_is_outbox(&renamed, &app.db, &[("acme", 0), ("globex.eu", 0)]);

    // Events raised while minutely publishes nowhere, then a restart with the stream: only the
    // events after the stored cursor are sent. The stream is deleted first, so that JetStream's
    // duplicate detection cannot hide a resend from the start.
    app.config.events_stream = None;
    app.restart().await;
    calls(&app, "acme", &bridges[0], "b", 4).await;
    let mut conn = Connection::connect(&nats.addr(), "admin", Duration::from_secs(2))
        .await
        .unwrap();
    let deleted = conn
        .request(
            &format!("$JS.API.STREAM.DELETE.{STREAM}"),
            b"",
            Duration::from_secs(2),
        )
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&deleted.payload).contains("\"success\":true"));
    app.config.events_stream = Some(stream_config(&nats, true));
    app.restart().await;
    let now = events_of(&app.db, "acme");
    assert!(now > acme);
    wait_for_count(&nats, now - acme).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stream = read_stream(&nats).await;
    assert_stream_is_outbox(&stream, &app.db, &[("acme", acme), ("globex.eu", globex)]);
    app.stop().await;
}

#[tokio::test]
async fn c15_a_restart_of_nats_mid_stream_loses_nothing_and_duplicates_nothing() {
    let Some(bin) = nats_binary() else { return };
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut nats = Nats::start(bin, dir.path()).await;
    let (app, bridges) = seeded(&["acme", "initech"], Some(stream_config(&nats, true))).await;
    calls(&app, "acme", &bridges[0], "a", 40).await;
    calls(&app, "initech", &bridges[1], "i", 40).await;
    // Stopped while the events are being published (once some are in the stream); more are
    // raised while it is down.
    let started = Instant::now();
    while stream_count(&nats).await < 10 && started.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    nats.stop();
    let acked: u64 = Store::open_read_only(&app.db)
        .expect("a reader")
        .stream_positions(PREFIX)
        .expect("positions")
        .iter()
        .map(|(_, p)| p.published_through)
        .sum();
    let raised = events_of(&app.db, "acme") + events_of(&app.db, "initech");
    eprintln!("nats-server stopped with {acked} of {raised} events acknowledged");
    calls(&app, "acme", &bridges[0], "b", 10).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    nats.restart().await;
    calls(&app, "initech", &bridges[1], "j", 10).await;
    let total = events_of(&app.db, "acme") + events_of(&app.db, "initech");
    wait_for_count(&nats, total).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stream = read_stream(&nats).await;
    assert_stream_is_outbox(&stream, &app.db, &[("acme", 0), ("initech", 0)]);
    assert_eq!(stream_count(&nats).await, total);
    app.stop().await;
}

#[tokio::test]
async fn c15_without_a_stream_events_wait_logged_and_counted_and_none_is_lost() {
    let Some(bin) = nats_binary() else { return };
    let dir = tempfile::tempdir().expect("a temp dir");
    let nats = Nats::start(bin, dir.path()).await;
    // The operator is to provide the stream, and has not yet.
    let (app, bridges) = seeded(&["acme"], Some(stream_config(&nats, false))).await;
    calls(&app, "acme", &bridges[0], "a", 3).await;
    let started = Instant::now();
    let operator = app.operator_key.clone();
    loop {
        let metrics = app.get("/metrics", &operator).await.text;
        let counted = metrics
            .lines()
            .any(|l| l.starts_with("minutely_stream_failures_total{reason=\"no_stream\"}"));
        if counted {
            assert!(metrics.contains("minutely_stream_lag_events"), "{metrics}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no failure counted: {metrics}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The operator creates the stream: every event arrives, none was dropped meanwhile.
    let mut conn = Connection::connect(&nats.addr(), "admin", Duration::from_secs(2))
        .await
        .unwrap();
    let config = json!({"name": STREAM, "subjects": [format!("{PREFIX}.>")], "storage": "file"});
    let created = conn
        .request(
            &format!("$JS.API.STREAM.CREATE.{STREAM}"),
            config.to_string().as_bytes(),
            Duration::from_secs(2),
        )
        .await
        .unwrap();
    assert!(!String::from_utf8_lossy(&created.payload).contains("\"error\""));
    let total = events_of(&app.db, "acme");
    wait_for_count(&nats, total).await;
    let stream = read_stream(&nats).await;
    assert_stream_is_outbox(&stream, &app.db, &[("acme", 0)]);
    app.stop().await;
}
