//! C15: webhooks go only to public addresses. A URL whose host is a loopback, private,
//! link-local or otherwise internal address (in any spelling) is refused when registered, and an
//! endpoint saved with one (or with a name that resolves only to one) gets nothing at delivery:
//! the attempt fails with `refused address` before any connection, and the receiver on loopback
//! never hears a thing. Only loopback receivers are used; nothing here needs the DNS.

use crate::common;

use common::*;
use minutely_store::{Store, WebhookEndpoint};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A TCP server on 127.0.0.1 that counts the connections it accepts and answers each with an
/// empty 200.
struct Listener {
    port: u16,
    accepted: Arc<AtomicUsize>,
}

impl Listener {
    async fn start() -> Listener {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ =
                        tokio::time::timeout(Duration::from_secs(1), stream.read(&mut buf)).await;
                    let _ = stream
                        .write_all(
                            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                        )
                        .await;
                });
            }
        });
        Listener { port, accepted }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

/// A tenant with a 100 EUR wallet (funded 2026-03-01) and a low-balance threshold at 90.
fn tenant_with_threshold(id: &str) -> String {
    tenant_file(id).replace(
        "[wallet]\n",
        "[wallet]\nlow_balance_thresholds = [90]\n\n[[wallet.fundings]]\nreference = \"F1\"\namount = 100\nat = \"2026-03-01T00:00:00Z\"\n",
    )
}

#[tokio::test]
async fn c15_webhook_urls_at_internal_addresses_are_refused_when_registered() {
    let receiver = Listener::start().await;
    let mut app = TestApp::start().await;
    let (admin, _) = app.seed_tenant("acme", None).await;
    let port = receiver.port;
    let path = "/v1/tenants/acme/webhooks";
    let urls = [
        format!("http://127.0.0.1:{port}/hook"),
        "http://169.254.169.254/latest/meta-data/".to_string(),
        format!("http://[::1]:{port}/hook"),
        format!("http://[::ffff:127.0.0.1]:{port}/hook"),
        format!("http://[::ffff:7f00:1]:{port}/hook"),
        "http://10.0.0.1/".to_string(),
        format!("http://2130706433:{port}/"),
        format!("http://0177.0.0.1:{port}/"),
        format!("http://0x7f.1:{port}/"),
        format!("http://127.1:{port}/"),
        format!("http://127.0.0.1.:{port}/"),
        format!("https://localhost:{port}/hook"),
        format!("http://api.LOCALHOST:{port}/hook"),
        "http://0.0.0.0/".to_string(),
        "http://0/".to_string(),
        "http://[::]/".to_string(),
        "http://172.16.0.1/".to_string(),
        "http://192.168.1.1/".to_string(),
        "http://100.64.0.1/".to_string(),
        "http://[fd00::1]/".to_string(),
        "http://[fe80::1]/".to_string(),
        "http://224.0.0.1/".to_string(),
        "http://255.255.255.255/".to_string(),
        "http://192.0.2.10/".to_string(),
        "http://[64:ff9b::a9fe:a9fe]/".to_string(),
        "http://[2002:7f00:1::1]/".to_string(),
        "http://user:pass@0251.0376.0251.0376/latest".to_string(),
    ];
    for url in &urls {
        let r = app
            .request(
                reqwest::Method::POST,
                path,
                Some(&admin),
                Some(RequestBody::Json(json!({"url": url}))),
                &[("accept-language", "fr")],
            )
            .await;
        assert_eq!(r.status, 400, "{url}: {}", r.text);
        assert_eq!(r.body["error"]["code"], "webhook_address_refused", "{url}");
        assert_eq!(r.body["error"]["lang"], "fr");
        let message = r.body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("webhook"),
            "{url}: a French message: {message}"
        );
        let detail = r.body["error"]["detail"].as_str().unwrap();
        assert!(
            detail.starts_with("url "),
            "{url}: names the field: {detail}"
        );
    }
    // Nothing was saved, and nothing was sent.
    let r = app.get(path, &admin).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["endpoints"], json!([]), "{}", r.text);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.accepted(), 0);
    app.stop().await;
}

/// The tenant's delivery log of `endpoint` once it has at least one attempt (10 s at most).
async fn first_attempts(app: &TestApp, key: &str, endpoint: &str) -> Vec<serde_json::Value> {
    for _ in 0..200 {
        let r = app
            .get(
                &format!("/v1/tenants/acme/webhooks/{endpoint}/deliveries"),
                key,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let rows = r.body["deliveries"].as_array().unwrap().clone();
        if !rows.is_empty() {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no attempt for {endpoint}");
}

#[tokio::test]
async fn c15_a_saved_endpoint_at_an_internal_address_gets_nothing_at_delivery() {
    let receiver = Listener::start().await;
    let mut app = TestApp::start().await;
    let (admin, bridge) = app
        .seed_tenant_file(&tenant_with_threshold("acme"), None)
        .await;
    // Endpoints saved as they stand (by an earlier version, or a name that resolved elsewhere
    // when saved): `localhost` resolves to loopback now.
    let port = receiver.port;
    let urls = [
        format!("http://localhost:{port}/name"),
        format!("http://127.0.0.1:{port}/literal"),
        format!("http://[::ffff:127.0.0.1]:{port}/mapped"),
        format!("http://2130706433:{port}/decimal"),
    ];
    if let Some(server) = app.server.take() {
        server.shutdown().await.expect("a clean shutdown");
    }
    {
        let mut store =
            Store::open(&app.db, &minutely_formats::countries::shipped()).expect("the store");
        for (n, url) in urls.iter().enumerate() {
            store
                .insert_endpoint(&WebhookEndpoint {
                    id: format!("wh_saved{n}"),
                    tenant: "acme".to_string(),
                    url: url.clone(),
                    secret: "0".repeat(64),
                    created_at: ts(T0),
                    disabled_at: None,
                    delivered_through: 0,
                })
                .expect("an endpoint");
        }
    }
    app.restart().await;

    // 100 minutes at 0.11 EUR: 100.00 -> 89.00 crosses the threshold at 90 (one event).
    let r = app
        .post(
            "/v1/tenants/acme/calls",
            &bridge,
            json!({"calls": [{
                "call_id": "c1", "conference_id": "m1", "organizer": "ppm@acme.example",
                "direction": "dial_out", "destination_number": "+33 6 12 34 56 78",
                "start": "2026-03-01T10:00:00Z", "end": "2026-03-01T11:40:00Z"}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["charged"], 1, "{}", r.text);

    for (n, url) in urls.iter().enumerate() {
        let rows = first_attempts(&app, &admin, &format!("wh_saved{n}")).await;
        let first = rows.last().unwrap();
        assert_eq!(first["outcome"], "failed", "{url}: {first}");
        assert_eq!(first["http_status"], serde_json::Value::Null, "{url}");
        let error = first["error"].as_str().unwrap();
        assert!(error.starts_with("refused address"), "{url}: {error}");
        // Nothing about the network: no address, port, name or connection detail.
        for hint in [
            "127.",
            "::",
            &port.to_string(),
            "localhost",
            "connect",
            "os error",
        ] {
            assert!(!error.contains(hint), "{url}: {error} reveals {hint:?}");
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.accepted(), 0, "no connection reached the receiver");
    app.stop().await;
}
