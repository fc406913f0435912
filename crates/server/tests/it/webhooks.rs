//! C15: events reach the tenant's webhook endpoints, signed, in order, at least once, retried
//! with the same event id; the endpoints API and its delivery log. The receivers are on
//! loopback, which the server reaches only because the operator's allowance lists it (what is
//! refused without it: `webhook_egress.rs`).

use crate::common;

use common::*;
use hmac::{Hmac, Mac};
use minutely_server::webhooks::WebhookAllow;
use minutely_server::{Config, Server};
use serde_json::{Value, json};
use sha2::Sha256;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request a receiver got.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header"))
            .to_str()
            .expect("an ASCII header")
    }
}

/// Decides the status of the n-th request (from 0) to a path.
type Answer = Arc<dyn Fn(&str, usize) -> (u16, Duration) + Send + Sync>;

/// A real HTTP server on 127.0.0.1:0 that records every request.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    async fn start(
        answer: impl Fn(&str, usize) -> (u16, Duration) + Send + Sync + 'static,
    ) -> Receiver {
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let answer: Answer = Arc::new(answer);
        let shared = (got.clone(), answer);
        let app = axum::Router::new().fallback(
            move |uri: axum::http::Uri, headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let (got, answer) = shared.clone();
                async move {
                    let path = uri.path().to_string();
                    let nth = {
                        let mut got = got.lock().unwrap();
                        let nth = got.iter().filter(|r| r.path == path).count();
                        got.push(Received {
                            path: path.clone(),
                            headers,
                            body: body.to_vec(),
                        });
                        nth
                    };
                    let (status, delay) = answer(&path, nth);
                    tokio::time::sleep(delay).await;
                    let status = axum::http::StatusCode::from_u16(status).unwrap();
                    // A redirect points at `/redirected`, which must never be asked for.
                    let location = if status.is_redirection() {
                        "/redirected"
                    } else {
                        "/"
                    };
                    (status, [(axum::http::header::LOCATION, location)])
                }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { url, got }
    }

    fn at(&self, path: &str) -> Vec<Received> {
        let got = self.got.lock().unwrap();
        got.iter().filter(|r| r.path == path).cloned().collect()
    }

    /// Waits (10 s at most) until `path` got `n` requests.
    async fn wait_for(&self, path: &str, n: usize) -> Vec<Received> {
        for _ in 0..200 {
            let got = self.at(path);
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{path} got {} requests, not {n}", self.at(path).len());
    }
}

fn always_ok(_: &str, _: usize) -> (u16, Duration) {
    (200, Duration::ZERO)
}

/// A tenant with a 100 EUR wallet (funded 2026-03-01) and low-balance thresholds 90 and 50.
fn tenant_with_thresholds(id: &str) -> String {
    tenant_file(id).replace(
        "[wallet]\n",
        "[wallet]\nlow_balance_thresholds = [90, 50]\n\n[[wallet.fundings]]\nreference = \"F1\"\namount = 100\nat = \"2026-03-01T00:00:00Z\"\n",
    )
}

/// Seeds the tenants, then restarts the server with `adjust` applied to its config (kept for the
/// harness's later restarts); the config allows webhooks to 127.0.0.1, where the receivers are.
async fn seeded(
    tenants: &[&str],
    adjust: impl FnOnce(&mut Config),
) -> (TestApp, Vec<(String, String)>) {
    let mut app = TestApp::start().await;
    let mut keys = Vec::new();
    for id in tenants {
        keys.push(
            app.seed_tenant_file(&tenant_with_thresholds(id), None)
                .await,
        );
    }
    if let Some(server) = app.server.take() {
        server.shutdown().await.expect("a clean shutdown");
    }
    let mut config = Config::new(app.db.clone(), "127.0.0.1:0".parse().unwrap());
    config.clock = app.clock.clone();
    config.webhook_first_backoff = std::time::Duration::from_millis(200);
    config.webhook_allow = WebhookAllow::parse("127.0.0.1/32").expect("a valid allowance");
    adjust(&mut config);
    app.config = config.clone();
    let server = Server::start(config).await.expect("the server starts");
    app.url = server.url();
    app.server = Some(server);
    (app, keys)
}

/// A dial-out call to a French mobile (0.11 EUR a minute) of `minutes`, charged to the wallet.
async fn call(app: &TestApp, tenant: &str, bridge: &str, call_id: &str, minutes: i64) {
    let start = ts("2026-03-01T10:00:00Z");
    let end = start + jiff::SignedDuration::from_secs(minutes * 60);
    let r = app
        .post(
            &format!("/v1/tenants/{tenant}/calls"),
            bridge,
            json!({"calls": [{
                "call_id": call_id,
                "conference_id": "m1",
                "organizer": format!("ppm@{tenant}.example"),
                "direction": "dial_out",
                "destination_number": "+33 6 12 34 56 78",
                "start": start.to_string(),
                "end": end.to_string(),
            }]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["charged"], 1, "{}", r.text);
}

async fn register(app: &TestApp, tenant: &str, key: &str, url: &str) -> (String, String) {
    let r = app
        .post(
            &format!("/v1/tenants/{tenant}/webhooks"),
            key,
            json!({"url": url}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let secret = r.body["secret"].as_str().expect("the secret").to_string();
    (r.body["id"].as_str().expect("an id").to_string(), secret)
}

fn hmac_hex(secret: &str, message: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
}

async fn log(app: &TestApp, tenant: &str, key: &str, endpoint: &str) -> Vec<(u64, u64, String)> {
    let r = app
        .get(
            &format!("/v1/tenants/{tenant}/webhooks/{endpoint}/deliveries"),
            key,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["deliveries"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|d| {
            (
                d["event_sequence"].as_u64().unwrap(),
                d["attempt"].as_u64().unwrap(),
                d["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn c15_a_low_balance_event_is_delivered_signed_to_its_tenant_only() {
    let receiver = Receiver::start(always_ok).await;
    let (app, keys) = seeded(&["acme", "beta"], |_| {}).await;
    let (acme_admin, acme_bridge) = &keys[0];
    let (beta_admin, beta_bridge) = &keys[1];
    let (acme_hook, secret) =
        register(&app, "acme", acme_admin, &format!("{}/acme", receiver.url)).await;
    let (beta_hook, _) =
        register(&app, "beta", beta_admin, &format!("{}/beta", receiver.url)).await;
    assert_eq!(secret.len(), 64, "a 32-byte hex secret");

    // 100 minutes at 0.11: 100.00 -> 89.00 crosses the 90 threshold.
    call(&app, "acme", acme_bridge, "a1", 100).await;
    let got = receiver.wait_for("/acme", 1).await;
    let event = &got[0];
    let body = event.json();
    assert_eq!(body["type"], "wallet.low_balance", "{body}");
    assert_eq!(body["tenant"], "acme");
    assert_eq!(body["data"]["threshold"], "90");
    assert_eq!(body["data"]["balance"], "89.00");
    assert_eq!(body["occurred_at"], "2026-03-01T10:00:00Z");
    let id = body["id"].as_str().unwrap();
    assert!(id.starts_with("evt_"), "{id}");
    assert_eq!(event.header("minutely-event-id"), id);
    assert_eq!(event.header("content-type"), "application/json");
    let timestamp = event.header("minutely-timestamp");
    assert_eq!(
        timestamp,
        ts(T0).as_second().to_string(),
        "the server's clock"
    );
    let mut signed = format!("{timestamp}.").into_bytes();
    signed.extend_from_slice(&event.body);
    assert_eq!(
        event.header("minutely-signature"),
        format!("v1={}", hmac_hex(&secret, &signed))
    );
    // A signature under another secret does not match.
    assert_ne!(
        event.header("minutely-signature"),
        format!("v1={}", hmac_hex(&"0".repeat(64), &signed))
    );

    // Beta's endpoint got nothing of acme's; beta's own event goes to beta only.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(receiver.at("/beta").is_empty());
    call(&app, "beta", beta_bridge, "b1", 100).await;
    let beta = receiver.wait_for("/beta", 1).await;
    assert_eq!(beta[0].json()["tenant"], "beta");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.at("/acme").len(), 1, "exactly once to acme");
    assert_eq!(receiver.at("/beta").len(), 1);

    assert_eq!(
        log(&app, "acme", acme_admin, &acme_hook).await,
        vec![(1, 1, "delivered".to_string())]
    );
    // Another tenant's endpoint id is 404, for its admin as for a guess.
    let r = app
        .get(
            &format!("/v1/tenants/beta/webhooks/{acme_hook}/deliveries"),
            beta_admin,
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.text);
    let r = app
        .delete(
            &format!("/v1/tenants/beta/webhooks/{acme_hook}"),
            beta_admin,
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.text);
    let r = app
        .get(
            &format!("/v1/tenants/acme/webhooks/{beta_hook}/deliveries"),
            beta_admin,
        )
        .await;
    assert_eq!(r.body["error"]["code"], "unknown_tenant", "{}", r.text);
    app.stop().await;
}

#[tokio::test]
async fn c15_a_failing_receiver_gets_the_same_event_id_until_it_answers_and_order_holds() {
    // The first two requests fail, every later one succeeds.
    let receiver =
        Receiver::start(|_, nth| (if nth < 2 { 500 } else { 200 }, Duration::ZERO)).await;
    let (app, keys) = seeded(&["acme"], |_| {}).await;
    let (admin, bridge) = &keys[0];
    let (hook, _) = register(&app, "acme", admin, &format!("{}/flaky", receiver.url)).await;

    // Three events: low balance at 90, at 50, then depleted (100 -> 89 -> 45 -> -10).
    call(&app, "acme", bridge, "c1", 100).await;
    call(&app, "acme", bridge, "c2", 400).await;
    call(&app, "acme", bridge, "c3", 500).await;
    let got = receiver.wait_for("/flaky", 5).await;
    let bodies: Vec<Value> = got.iter().map(Received::json).collect();
    let ids: Vec<&str> = bodies.iter().map(|b| b["id"].as_str().unwrap()).collect();
    assert_eq!(ids[0], ids[1]);
    assert_eq!(ids[1], ids[2], "retries carry the same event id");
    assert_ne!(ids[2], ids[3]);
    assert_ne!(ids[3], ids[4]);
    let kinds: Vec<(&str, u64)> = bodies[2..]
        .iter()
        .map(|b| (b["type"].as_str().unwrap(), b["sequence"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("wallet.low_balance", 1),
            ("wallet.low_balance", 2),
            ("wallet.balance_depleted", 3)
        ],
        "in order, the first event held the others back"
    );
    assert_eq!(bodies[3]["data"]["threshold"], "50");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.at("/flaky").len(), 5, "nothing more");
    let expected = vec![
        (3, 1, "delivered".to_string()),
        (2, 1, "delivered".to_string()),
        (1, 3, "delivered".to_string()),
        (1, 2, "failed".to_string()),
        (1, 1, "failed".to_string()),
    ];
    assert_eq!(log(&app, "acme", admin, &hook).await, expected);
    let r = app
        .get(
            &format!("/v1/tenants/acme/webhooks/{hook}/deliveries?limit=2"),
            admin,
        )
        .await;
    assert_eq!(r.body["deliveries"].as_array().unwrap().len(), 2);
    assert_eq!(r.body["deliveries"][1]["event_id"], ids[3]);
    assert_eq!(r.body["deliveries"][1]["http_status"], 200);
    let r = app
        .get(&format!("/v1/tenants/acme/webhooks/{hook}"), admin)
        .await;
    assert_eq!(r.status, 405, "{}", r.text);
    app.stop().await;
}

#[tokio::test]
async fn c15_an_endpoint_gives_up_after_the_configured_attempts_without_holding_back_another() {
    // `/slow` answers 503 after 3 s, `/dead` answers 503 at once, `/ok` answers 200.
    let receiver = Receiver::start(|path, _| match path {
        "/slow" => (503, Duration::from_secs(3)),
        "/dead" => (503, Duration::ZERO),
        _ => (200, Duration::ZERO),
    })
    .await;
    let (app, keys) = seeded(&["acme"], |c| c.webhook_attempts = 2).await;
    let (admin, bridge) = &keys[0];
    let (dead, _) = register(&app, "acme", admin, &format!("{}/dead", receiver.url)).await;
    register(&app, "acme", admin, &format!("{}/slow", receiver.url)).await;
    register(&app, "acme", admin, &format!("{}/ok", receiver.url)).await;
    call(&app, "acme", bridge, "c1", 100).await;
    call(&app, "acme", bridge, "c2", 400).await;
    let ok = receiver.wait_for("/ok", 2).await;
    assert_eq!(ok[1].json()["sequence"], 2);
    assert!(
        receiver.at("/slow").len() <= 1,
        "the slow endpoint is still on its first attempt"
    );
    let got = receiver.wait_for("/dead", 4).await;
    let seqs: Vec<u64> = got
        .iter()
        .map(|r| r.json()["sequence"].as_u64().unwrap())
        .collect();
    assert_eq!(
        seqs,
        vec![1, 1, 2, 2],
        "two attempts each, then the next event"
    );
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(receiver.at("/dead").len(), 4, "no third attempt");
    let expected = vec![
        (2, 2, "gave_up".to_string()),
        (2, 1, "failed".to_string()),
        (1, 2, "gave_up".to_string()),
        (1, 1, "failed".to_string()),
    ];
    assert_eq!(log(&app, "acme", admin, &dead).await, expected);
    let r = app
        .get(
            &format!("/v1/tenants/acme/webhooks/{dead}/deliveries"),
            admin,
        )
        .await;
    assert_eq!(r.body["deliveries"][0]["http_status"], 503);
    assert!(
        r.body["deliveries"][0]["error"]
            .as_str()
            .unwrap()
            .contains("503"),
        "{}",
        r.text
    );
    // Shutdown lets the slow POST in flight finish.
    app.stop().await;
}

#[tokio::test]
async fn c15_endpoints_are_validated_listed_without_secrets_and_disabled() {
    let receiver = Receiver::start(always_ok).await;
    let (app, keys) = seeded(&["acme", "beta"], |_| {}).await;
    let (admin, bridge) = &keys[0];
    let (beta_admin, _) = &keys[1];
    let path = "/v1/tenants/acme/webhooks";
    for (url, says) in [
        ("ftp://example.com/hook", "scheme"),
        ("not a url", "not a URL"),
        ("http://", "not a URL"),
        ("mailto:ops@example.com", "scheme"),
        ("file:///etc/passwd", "scheme"),
    ] {
        let r = app.post(path, admin, json!({"url": url})).await;
        assert_eq!(r.status, 400, "{url}: {}", r.text);
        assert_eq!(r.body["error"]["code"], "invalid_request");
        let detail = r.body["error"]["detail"].as_str().unwrap();
        assert!(
            detail.contains("url") && detail.contains(says),
            "{url}: {detail}"
        );
    }
    let long = format!("https://example.com/{}", "a".repeat(2048));
    let r = app.post(path, admin, json!({"url": long})).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(
        r.body["error"]["detail"].as_str().unwrap().contains("2048"),
        "{}",
        r.text
    );
    let r = app
        .post(path, bridge, json!({"url": "https://example.com"}))
        .await;
    assert_eq!(
        r.status, 403,
        "a bridge key manages no webhooks: {}",
        r.text
    );
    let r = app
        .post(path, beta_admin, json!({"url": "https://example.com"}))
        .await;
    assert_eq!(r.status, 404, "{}", r.text);
    let r = app
        .post(
            "/v1/tenants/nobody/webhooks",
            &app.operator_key,
            json!({"url": "https://example.com"}),
        )
        .await;
    assert_eq!(r.body["error"]["code"], "unknown_tenant", "{}", r.text);

    let (hook, secret) = register(&app, "acme", admin, &format!("{}/acme", receiver.url)).await;
    let (other, _) = register(
        &app,
        "acme",
        &app.operator_key,
        &format!("{}/other", receiver.url),
    )
    .await;
    let r = app.get(path, admin).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(!r.text.contains(&secret), "a secret is never listed");
    assert!(r.body["endpoints"][0].get("secret").is_none());
    let ids: Vec<&str> = r.body["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&hook.as_str()) && ids.contains(&other.as_str()));
    let r = app.get(&format!("{path}?limit=1"), admin).await;
    assert_eq!(r.body["endpoints"].as_array().unwrap().len(), 1);
    let next = r.body["next"].as_str().expect("a next cursor").to_string();
    let r = app
        .get(&format!("{path}?limit=1&after={next}"), admin)
        .await;
    assert_eq!(r.body["endpoints"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["next"], Value::Null);
    assert_eq!(app.get(path, beta_admin).await.status, 404);

    let r = app.delete(&format!("{path}/{hook}"), admin).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["enabled"], false);
    assert_eq!(r.body["disabled_at"], T0);
    let again = app.delete(&format!("{path}/{hook}"), admin).await;
    assert_eq!(
        again.status, 200,
        "disabling twice changes nothing: {}",
        again.text
    );
    assert_eq!(
        app.delete(&format!("{path}/wh_nope"), admin).await.status,
        404
    );
    // A disabled endpoint receives nothing more: once the endpoint still enabled has the
    // call's event, the deliverer has passed it, and a moment later the disabled one has none.
    call(&app, "acme", bridge, "c1", 100).await;
    receiver.wait_for("/other", 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(receiver.at("/acme").is_empty());
    app.stop().await;
}

#[tokio::test]
async fn c15_a_restart_resumes_the_event_in_flight_and_keeps_counting_its_attempts() {
    // The first three requests fail.
    let receiver =
        Receiver::start(|_, nth| (if nth < 3 { 500 } else { 200 }, Duration::ZERO)).await;
    let (mut app, keys) = seeded(&["acme"], |_| {}).await;
    let (admin, bridge) = &keys[0];
    let (hook, _) = register(&app, "acme", admin, &format!("{}/r", receiver.url)).await;
    call(&app, "acme", bridge, "c1", 100).await;
    receiver.wait_for("/r", 1).await;
    app.restart().await;
    let got = receiver.wait_for("/r", 4).await;
    let ids: Vec<String> = got.iter().map(|r| r.json()["id"].to_string()).collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        receiver.at("/r").len(),
        4,
        "delivered once, then nothing more"
    );
    let expected = vec![
        (1, 4, "delivered".to_string()),
        (1, 3, "failed".to_string()),
        (1, 2, "failed".to_string()),
        (1, 1, "failed".to_string()),
    ];
    assert_eq!(log(&app, "acme", admin, &hook).await, expected);
    app.stop().await;
}

#[tokio::test]
async fn c15_the_operator_allowance_admits_what_it_lists_and_nothing_else() {
    let receiver = Receiver::start(always_ok).await;
    let (app, keys) = seeded(&["acme"], |_| {}).await;
    let (admin, bridge) = &keys[0];
    let port = receiver.url.rsplit(':').next().unwrap().to_string();
    // 127.0.0.1/32 is allowed; its neighbours and other internal addresses are not.
    for url in [
        format!("http://[::1]:{port}/v6"),
        format!("http://127.0.0.2:{port}/other"),
        "http://169.254.169.254/latest".to_string(),
        "http://10.0.0.1/".to_string(),
    ] {
        let r = app
            .post("/v1/tenants/acme/webhooks", admin, json!({"url": url}))
            .await;
        assert_eq!(r.status, 400, "{url}: {}", r.text);
        assert_eq!(r.body["error"]["code"], "webhook_address_refused", "{url}");
    }
    // By name: `localhost` resolves to 127.0.0.1 (allowed) and perhaps ::1 (dropped).
    let (by_name, _) = register(
        &app,
        "acme",
        admin,
        &format!("http://localhost:{port}/by-name"),
    )
    .await;
    let (by_decimal, _) =
        register(&app, "acme", admin, &format!("http://2130706433:{port}/n")).await;
    call(&app, "acme", bridge, "c1", 100).await;
    assert_eq!(receiver.wait_for("/by-name", 1).await.len(), 1);
    assert_eq!(receiver.wait_for("/n", 1).await.len(), 1);
    // The receiver answered; the outcome is recorded right after: wait for it, bounded.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for hook in [&by_name, &by_decimal] {
        let mut got = log(&app, "acme", admin, hook).await;
        for _ in 0..50 {
            if !got.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            got = log(&app, "acme", admin, hook).await;
        }
        assert_eq!(got, vec![(1, 1, "delivered".to_string())]);
    }
    let paths: Vec<String> = receiver
        .got
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.path.clone())
        .collect();
    assert_eq!(paths.len(), 2, "{paths:?}");
    app.stop().await;
}

#[tokio::test]
async fn c15_a_redirect_is_a_failed_attempt_and_is_never_followed() {
    let receiver = Receiver::start(|path, _| match path {
        "/moved" => (302, Duration::ZERO),
        _ => (200, Duration::ZERO),
    })
    .await;
    let (app, keys) = seeded(&["acme"], |c| c.webhook_attempts = 2).await;
    let (admin, bridge) = &keys[0];
    let (hook, _) = register(&app, "acme", admin, &format!("{}/moved", receiver.url)).await;
    call(&app, "acme", bridge, "c1", 100).await;
    receiver.wait_for("/moved", 2).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        receiver.at("/redirected").is_empty(),
        "the redirect was followed"
    );
    assert_eq!(
        log(&app, "acme", admin, &hook).await,
        vec![(1, 2, "gave_up".to_string()), (1, 1, "failed".to_string())]
    );
    let r = app
        .get(
            &format!("/v1/tenants/acme/webhooks/{hook}/deliveries"),
            admin,
        )
        .await;
    assert_eq!(r.body["deliveries"][0]["http_status"], 302, "{}", r.text);
    app.stop().await;
}
