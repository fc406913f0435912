//! Graceful shutdown under load: everything the server acknowledged is there after a restart
//! (C23 replays, live reservations, fundings, C24), and nothing reaches a server that stopped.

use crate::common;
use crate::support;

use common::*;
use jiff::SignedDuration;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::*;

const PPM: &str = "ppm@acme.example";
const WORKERS: u64 = 16;
/// Operations acknowledged before the shutdown starts.
const BEFORE_SHUTDOWN: usize = 150;

/// What the server acknowledged with a 2xx answer.
#[derive(Debug, Default)]
struct Acked {
    /// Ended calls and the amount each end answered.
    ended: BTreeMap<String, Decimal>,
    /// Allowed calls left running.
    live: BTreeSet<String>,
    /// Funding references.
    funded: BTreeSet<String>,
    /// Ingested records (by call id) and their amounts.
    ingested: BTreeMap<String, (Value, Decimal)>,
    /// Operations acknowledged (of any kind).
    count: usize,
    /// Requests that got no answer (path, body): a graceful shutdown answers every request it
    /// read, so none of these may have been applied.
    unanswered: Vec<(String, Value)>,
}

struct Load {
    url: String,
    bridge: String,
    operator: String,
    client: reqwest::Client,
    acked: Mutex<Acked>,
}

fn record(call_id: &str, duration_s: i64) -> Value {
    let start = ts(T0) - SignedDuration::from_secs(7200);
    json!({
        "call_id": call_id,
        "conference_id": "bulk",
        "organizer": PPM,
        "direction": "dial_out",
        "destination_number": "+33 1 23 45 67 89",
        "start": start.to_string(),
        "end": (start + SignedDuration::from_secs(duration_s)).to_string(),
    })
}

impl Load {
    fn calls(&self, call_id: &str, action: &str) -> String {
        format!("/v1/tenants/acme/calls/{call_id}/{action}")
    }

    /// A POST; a request without an answer is remembered.
    async fn attempt(
        &self,
        path: &str,
        key: &str,
        body: Value,
    ) -> Result<(u16, Value), reqwest::Error> {
        let url = format!("{}{path}", self.url);
        let answer = post(&self.client, &url, key, &body).await;
        if answer.is_err() {
            let mut acked = self.acked.lock().expect("lock");
            acked.unanswered.push((path.to_string(), body));
        }
        answer
    }

    /// One operation; `Err` when the server did not answer (it is going away).
    async fn step(&self, worker: u64, n: u64, rng: &mut Rng) -> Result<(), reqwest::Error> {
        let id = format!("w{worker}-{n}");
        match rng.range(0, 9) {
            0 => {
                let reference = format!("fund-{id}");
                let body = json!({"amount": "50", "reference": reference});
                let path = "/v1/tenants/acme/wallet/fundings";
                let (status, answer) = self.attempt(path, &self.operator, body).await?;
                assert_eq!(status, 200, "{answer}");
                let mut acked = self.acked.lock().expect("lock");
                acked.funded.insert(reference);
                acked.count += 1;
            }
            1 | 2 => {
                let calls: Vec<Value> = (0..rng.range(1, 20))
                    .map(|i| record(&format!("{id}-b{i}"), rng.range(0, 900) as i64))
                    .collect();
                let body = json!({"calls": calls});
                let path = "/v1/tenants/acme/calls";
                let (status, answer) = self.attempt(path, &self.bridge, body).await?;
                assert_eq!(status, 200, "{answer}");
                let mut acked = self.acked.lock().expect("lock");
                let results = answer["results"].as_array().expect("results");
                for (call, result) in calls.iter().zip(results) {
                    assert_eq!(result["status"], "charged", "{result}");
                    let call_id = call["call_id"].as_str().expect("id").to_string();
                    acked
                        .ingested
                        .insert(call_id, (call.clone(), dec(&result["charge"]["amount"])));
                }
                acked.count += 1;
            }
            kind => {
                let body = dial_out(PPM, "+33 6 12 34 56 78");
                let path = self.calls(&id, "authorize");
                let (status, answer) = self.attempt(&path, &self.bridge, body).await?;
                assert_eq!(status, 200, "{answer}");
                assert_eq!(answer["decision"], "allow", "{answer}");
                {
                    let mut acked = self.acked.lock().expect("lock");
                    acked.count += 1;
                    // Left running; a failed end below also leaves the call running.
                    acked.live.insert(id.clone());
                }
                if kind == 3 {
                    return Ok(());
                }
                let body = json!({"duration_s": rng.range(0, 300)});
                let path = self.calls(&id, "end");
                let (status, answer) = self.attempt(&path, &self.bridge, body).await?;
                assert_eq!(status, 200, "{answer}");
                assert_eq!(answer["replay"], false, "{answer}");
                let mut acked = self.acked.lock().expect("lock");
                acked.live.remove(&id);
                acked.ended.insert(id, dec(&answer["charge"]["amount"]));
                acked.count += 1;
            }
        }
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn graceful_shutdown_keeps_everything_acknowledged_and_refuses_the_rest() {
    let mut app = TestApp::start().await;
    let (admin, bridge) = app.seed_tenant("acme", None).await;
    fund(&app, "acme", 5000, "F0").await;
    let load = Arc::new(Load {
        url: app.url.clone(),
        bridge: bridge.clone(),
        operator: app.operator_key.clone(),
        client: reqwest::Client::new(),
        acked: Mutex::new(Acked::default()),
    });
    let mut workers = Vec::new();
    for worker in 0..WORKERS {
        let load = load.clone();
        workers.push(tokio::spawn(async move {
            let mut rng = Rng::new(0x5407_d0e5 ^ worker);
            for n in 0..10_000 {
                if load.step(worker, n, &mut rng).await.is_err() {
                    // The server stopped: later requests cannot connect at all.
                    return n;
                }
            }
            panic!("worker {worker} never saw the server stop");
        }));
    }
    while load.acked.lock().expect("lock").count < BEFORE_SHUTDOWN {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let at_shutdown = load.acked.lock().expect("lock").count;
    let server = app.server.take().expect("a running server");
    tokio::time::timeout(Duration::from_secs(30), server.shutdown())
        .await
        .expect("the shutdown completes while requests are in flight")
        .expect("a clean shutdown");
    let mut sent = 0;
    for worker in workers {
        sent += worker.await.expect("a worker");
    }
    let total = load.acked.lock().expect("lock").count;
    eprintln!(
        "{sent} operations sent; {at_shutdown} acknowledged when the shutdown began, {total} in all"
    );
    // A new connection to the stopped server is refused: nothing can be half-applied.
    let fresh = reqwest::Client::new();
    let late = post(
        &fresh,
        &format!("{}{}", load.url, load.calls("late", "authorize")),
        &bridge,
        &dial_out(PPM, "+33 1 23 45 67 89"),
    )
    .await;
    match late {
        Err(e) => assert!(e.is_connect(), "a stopped server refuses connections: {e}"),
        Ok(answer) => panic!("a stopped server answered {answer:?}"),
    }

    app.restart().await;
    let acked = std::mem::take(&mut *load.acked.lock().expect("lock"));
    assert!(acked.count >= BEFORE_SHUTDOWN);
    // Never half-applied: the call refused above does not exist.
    let r = app
        .post("/v1/tenants/acme/calls/late/extend", &bridge, json!({}))
        .await;
    assert_eq!(r.status, 404, "{}", r.text);
    verify(&app, &bridge, &admin, &acked).await;
    not_applied(&app, &bridge, &admin, &acked.unanswered).await;
    app.stop().await;
}

/// A request without an answer was never read by the server, so it changed nothing: the
/// funding is not in the ledger, the authorization is unknown, the call whose end got no answer
/// is still running, the records are new.
async fn not_applied(app: &TestApp, bridge: &str, admin: &str, unanswered: &[(String, Value)]) {
    let entries = ledger(app, "acme", admin).await;
    for (path, body) in unanswered {
        let call_id = path.split('/').nth(5).unwrap_or_default();
        if path.ends_with("/wallet/fundings") {
            let reference = &body["reference"];
            assert!(
                !entries.iter().any(|e| e["reference"] == *reference),
                "the unanswered funding {reference} was applied"
            );
        } else if path.ends_with("/authorize") {
            let r = app
                .post(
                    &format!("/v1/tenants/acme/calls/{call_id}/extend"),
                    bridge,
                    json!({}),
                )
                .await;
            assert_eq!(
                r.status, 404,
                "the unanswered authorization {call_id} was applied: {}",
                r.text
            );
        } else if path.ends_with("/end") {
            let r = app
                .post(
                    &format!("/v1/tenants/acme/calls/{call_id}/extend"),
                    bridge,
                    json!({}),
                )
                .await;
            assert_eq!(
                r.status, 200,
                "the unanswered end of {call_id} was applied: {}",
                r.text
            );
        } else {
            let r = app.post(path, bridge, body.clone()).await;
            assert_eq!(r.status, 200, "{}", r.text);
            for result in r.body["results"].as_array().expect("results") {
                assert_eq!(
                    result["replay"], false,
                    "an unanswered record was applied: {result}"
                );
            }
        }
    }
    eprintln!("{} unanswered requests, none applied", unanswered.len());
}

/// Everything acknowledged is there, exactly once.
async fn verify(app: &TestApp, bridge: &str, admin: &str, acked: &Acked) {
    for (call_id, amount) in &acked.ended {
        let r = app
            .post(
                &format!("/v1/tenants/acme/calls/{call_id}/end"),
                bridge,
                json!({}),
            )
            .await;
        assert_eq!(r.status, 200, "{call_id}: {}", r.text);
        assert_eq!(r.body["replay"], true, "{call_id}: {}", r.text);
        assert_eq!(
            dec(&r.body["charge"]["amount"]),
            *amount,
            "{call_id}: {}",
            r.text
        );
    }
    for call_id in &acked.live {
        let r = app
            .post(
                &format!("/v1/tenants/acme/calls/{call_id}/extend"),
                bridge,
                json!({}),
            )
            .await;
        assert_eq!(
            r.status, 200,
            "the live call {call_id} survived: {}",
            r.text
        );
    }
    let records: Vec<Value> = acked.ingested.values().map(|(r, _)| r.clone()).collect();
    for chunk in records.chunks(500) {
        let r = app
            .post("/v1/tenants/acme/calls", bridge, json!({"calls": chunk}))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        for (record, result) in chunk
            .iter()
            .zip(r.body["results"].as_array().expect("results"))
        {
            let call_id = record["call_id"].as_str().expect("id");
            assert_eq!(result["replay"], true, "{call_id}: {result}");
            let amount = acked.ingested[call_id].1;
            assert_eq!(
                dec(&result["charge"]["amount"]),
                amount,
                "{call_id}: {result}"
            );
        }
    }
    check_c24(app, "acme", admin).await;
    let entries = ledger(app, "acme", admin).await;
    let mut fundings: BTreeMap<String, usize> = BTreeMap::new();
    let mut debits: BTreeMap<String, Decimal> = BTreeMap::new();
    for entry in &entries {
        match entry["kind"].as_str() {
            Some("funding") => {
                let reference = entry["reference"]
                    .as_str()
                    .expect("a reference")
                    .to_string();
                *fundings.entry(reference).or_default() += 1;
            }
            Some("debit") => {
                let call_id = entry["call_id"].as_str().expect("a call id").to_string();
                let before = debits.insert(call_id.clone(), dec(&entry["amount"]).abs());
                assert!(before.is_none(), "{call_id} was debited twice");
            }
            _ => {}
        }
    }
    for reference in &acked.funded {
        assert_eq!(
            fundings.get(reference),
            Some(&1),
            "funding {reference} is in the ledger once"
        );
    }
    for (call_id, amount) in acked
        .ended
        .iter()
        .chain(acked.ingested.iter().map(|(k, v)| (k, &v.1)))
    {
        let debited = debits.get(call_id).copied().unwrap_or(Decimal::ZERO);
        assert_eq!(
            debited, *amount,
            "{call_id}: the ledger debit is the answered charge"
        );
    }
}

/// Opens a connection and sends part of a request: headers promising a body that never comes.
async fn stalled_request(addr: &str, bridge: &str) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("a connection");
    let head = format!(
        "POST /v1/tenants/acme/calls/slow/authorize HTTP/1.1\r\nhost: {addr}\r\n\
         authorization: Bearer {bridge}\r\ncontent-type: application/json\r\n\
         content-length: 1000\r\n\r\n{{\"conference_id\":"
    );
    stream
        .write_all(head.as_bytes())
        .await
        .expect("a partial request");
    stream
}

/// A client that stops in the middle of its request body does not hold the graceful shutdown
/// up beyond the drain deadline, and the server restarts over the same store afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_does_not_wait_forever_for_a_stalled_client() {
    let mut app = TestApp::start_with(|c| c.drain_timeout = Duration::from_millis(500)).await;
    let (_, bridge) = app.seed_tenant("acme", None).await;
    let addr = app.url.trim_start_matches("http://").to_string();
    let _stalled = stalled_request(&addr, &bridge).await;
    // An idle connection too (alone, it does not hold the shutdown up).
    let _idle = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("a connection");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let server = app.server.take().expect("a running server");
    tokio::time::timeout(Duration::from_secs(60), server.shutdown())
        .await
        .expect("the shutdown completes although a client never finishes its request")
        .expect("a clean shutdown");
    app.restart().await;
    let r = app
        .get("/v1/tenants/acme/wallet", &app.operator_key.clone())
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}
