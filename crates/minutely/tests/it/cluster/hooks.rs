//! The webhook outbox across nodes (C15): events are sent by the tenant's owner from the
//! store's cursors, so a tenant that moves (its owner drained, then killed) keeps its
//! deliveries: every event reaches the receiver, in order of sequence for each owner; a
//! graceful handover sends none twice, and after a SIGKILL an event sent again carries the id
//! it was first sent with.

use super::*;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Mutex;

/// Each delivery the receiver got: (sequence, id), in the order received.
type Got = Arc<Mutex<Vec<(u64, String)>>>;

/// A webhook receiver on 127.0.0.1:0 that answers 200 to every request and keeps the
/// sequence and id of each event body.
fn receiver() -> (String, Got) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a port");
    let url = format!("http://{}/hook", listener.local_addr().expect("an address"));
    let got: Got = Arc::default();
    let keep = got.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let keep = keep.clone();
            std::thread::spawn(move || answer_all(stream, &keep));
        }
    });
    (url, got)
}

/// Reads one request's body from `reader`, or `None` at the end of the connection.
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Vec<u8>> {
    let mut length = 0usize;
    let mut line = String::new();
    for _ in 0..100 {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return None;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(value) = lower.strip_prefix("content-length:") {
            length = value.trim().parse().unwrap_or(0).min(1 << 20);
        }
        if line == "\r\n" {
            let mut body = vec![0; length];
            reader.read_exact(&mut body).ok()?;
            return Some(body);
        }
    }
    None
}

fn answer_all(stream: TcpStream, got: &Mutex<Vec<(u64, String)>>) {
    let mut reader = BufReader::new(stream.try_clone().expect("a clone"));
    let mut writer = stream;
    while let Some(body) = read_request(&mut reader) {
        if let Ok(event) = serde_json::from_slice::<serde_json::Value>(&body) {
            let sequence = event["sequence"].as_u64().unwrap_or(0);
            let id = event["id"].as_str().unwrap_or_default().to_string();
            got.lock().expect("never poisoned").push((sequence, id));
        }
        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
        if writer.write_all(ok).is_err() {
            return;
        }
    }
}

/// Sends `batches` for acme through the running nodes in turn until each is acknowledged.
async fn charge(nodes: &[Node], keys: &Keys, batches: &[Vec<serde_json::Value>]) {
    let first = vec![None; batches.len()];
    settle(&reqwest::Client::new(), nodes, keys, batches, &first).await;
}

/// acme's outbox as the store holds it: sequence -> type.
async fn outbox(url: &str, keys: &Arc<Keys>) -> BTreeMap<u64, String> {
    let client = Client::new(url, Arc::clone(keys));
    let (status, page) = client
        .get("/v1/tenants/acme/events?limit=1000", &keys.admin)
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(page["next"].is_null(), "one page holds them all");
    page["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            let seq = e["seq"].as_u64().expect("a sequence");
            (seq, e["type"].as_str().unwrap_or_default().to_string())
        })
        .collect()
}

/// Waits (bounded) until the receiver has every sequence of `expected`; what it got.
async fn delivered(got: &Got, expected: &BTreeMap<u64, String>) -> Vec<(u64, String)> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now = got.lock().expect("never poisoned").clone();
        let seen: std::collections::BTreeSet<u64> = now.iter().map(|(s, _)| *s).collect();
        if expected.keys().all(|s| seen.contains(s)) {
            return now;
        }
        let missing: Vec<&u64> = expected.keys().filter(|s| !seen.contains(s)).collect();
        assert!(
            Instant::now() < deadline,
            "events never delivered: {missing:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Drains node `owner` and waits (bounded) until another node holds acme; its index.
async fn drain(nodes: &[Node], owner: usize, keys: &Keys) -> usize {
    let drained = reqwest::Client::new()
        .post(format!("{}/v1/node/drain", nodes[owner].url()))
        .bearer_auth(&keys.operator)
        .json(&json!({"reason": "upgrade"}))
        .send()
        .await
        .expect("the drain is answered");
    assert_eq!(drained.status(), 202);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let next = owner_of(nodes, "acme").await;
        if next != owner {
            return next;
        }
        assert!(Instant::now() < deadline, "no other node takes acme");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_cluster_webhooks_reach_the_receiver_whichever_node_owns_the_tenant() {
    let Some(server) = on_postgres() else { return };
    let dir = tempfile::tempdir().expect("a temp dir");
    let url = PathBuf::from(new_database(&server));
    let keys = Arc::new(seed(dir.path(), &url));
    let allow = ["--webhook-allow", "127.0.0.1/32"];
    let mut nodes: Vec<Node> = ["n1", "n2", "n3"]
        .iter()
        .map(|n| Node::start_with(&url, dir.path(), n, &allow))
        .collect();
    let (hook, got) = receiver();
    let client = Client::new(&nodes[0].url(), Arc::clone(&keys));
    let (status, body) = client
        .post(
            "/v1/tenants/acme/webhooks",
            &keys.admin,
            &json!({"url": hook}),
        )
        .await
        .expect("answered");
    assert_eq!(status, 201, "{body}");
    // Every charged call now leaves the balance below the trigger: one recharge event each
    // (C34).
    let recharge = json!({"enabled": true, "trigger": "100000000", "amount": "50"});
    let path = "/v1/tenants/acme/wallet/auto-recharge";
    let (status, body) = client
        .send(reqwest::Method::PUT, path, &keys.admin, Some(&recharge))
        .await
        .expect("answered");
    assert_eq!(status, 200, "{body}");
    let owner = owner_of_after_a_request(&nodes, &keys).await;
    charge(&nodes, &keys, &batches("hook-a", 6)).await;
    // A graceful handover: every event once, none twice.
    let next = drain(&nodes, owner, &keys).await;
    charge(&nodes, &keys, &batches("hook-b", 6)).await;
    let expected = outbox(&nodes[next].url(), &keys).await;
    assert!(expected.len() >= 48, "{expected:?}");
    let now = delivered(&got, &expected).await;
    let mut seen = std::collections::BTreeSet::new();
    for (seq, _) in &now {
        assert!(
            seen.insert(*seq),
            "event {seq} delivered twice across a drain"
        );
    }
    // The new owner killed: the next owner sends what is left; an event sent again has the
    // id it was first sent with.
    nodes[next].kill();
    charge(&nodes, &keys, &batches("hook-c", 6)).await;
    let survivor = nodes
        .iter()
        .position(|n| n.server.is_some() && n.name != nodes[owner].name);
    let expected = outbox(&nodes[survivor.expect("a node left")].url(), &keys).await;
    let now = delivered(&got, &expected).await;
    let mut ids: BTreeMap<u64, &String> = BTreeMap::new();
    for (seq, id) in &now {
        assert_eq!(
            *ids.entry(*seq).or_insert(id),
            id,
            "event {seq} sent with two ids"
        );
    }
    assert_eq!(
        ids.keys().copied().collect::<Vec<_>>(),
        expected.keys().copied().collect::<Vec<_>>(),
        "exactly the outbox's events"
    );
}
