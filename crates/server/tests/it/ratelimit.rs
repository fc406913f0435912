//! The per-key rate limit: a token bucket per key id, checked right after authentication.
//! The test server's clock is manual, so a bucket refills only when the test moves the clock:
//! every answer below is the same on every run.

use crate::common;

use common::*;
use minutely_server::ratelimit::RateLimit;
use serde_json::{Value, json};

/// Three requests at once, then one per second.
const LIMIT: RateLimit = RateLimit { per_s: 1, burst: 3 };

async fn limited_app() -> TestApp {
    TestApp::start_with(|config| config.rate_limit = Some(LIMIT)).await
}

fn authorize_body() -> Value {
    json!({
        "conference_id": "m-1",
        "organizer": "ppm@alpha.example",
        "direction": "dial_out",
        "destination_number": "+33 1 44 55 66 77"
    })
}

async fn authorize(app: &TestApp, key: &str, call_id: &str) -> Resp {
    app.post(
        &format!("/v1/tenants/alpha/calls/{call_id}/authorize"),
        key,
        authorize_body(),
    )
    .await
}

/// Asserts a 429 answer: `Retry-After` in whole seconds (at least 1) and the localized error
/// body with its stable code.
fn assert_rate_limited(r: &Resp, lang: &str, message: &str) {
    assert_eq!(r.status, 429, "{}", r.text);
    let retry_after: u64 = r
        .headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no whole-seconds Retry-After: {:?}", r.headers));
    assert!(retry_after >= 1, "Retry-After {retry_after}");
    assert_eq!(r.body["error"]["code"], "too_many_requests", "{}", r.text);
    assert_eq!(r.body["error"]["lang"], lang, "{}", r.text);
    assert_eq!(r.body["error"]["message"], message, "{}", r.text);
    assert!(
        r.body["error"]["request_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty()),
        "{}",
        r.text
    );
    assert_eq!(
        r.headers
            .get("content-language")
            .and_then(|v| v.to_str().ok()),
        Some(lang),
        "{:?}",
        r.headers
    );
}

#[tokio::test]
async fn a_key_over_its_burst_gets_429_until_its_bucket_refills() {
    let mut app = limited_app().await;
    let (admin, bridge) = app.seed_tenant("alpha", Some("100")).await;

    // The burst passes.
    for n in 1..=LIMIT.burst {
        let r = authorize(&app, &bridge, &format!("c-{n}")).await;
        assert_eq!(r.status, 200, "request {n} of the burst: {}", r.text);
        assert_eq!(r.body["decision"], "allow", "{}", r.text);
    }
    let before = app.get("/v1/tenants/alpha/wallet", &admin).await;
    assert_eq!(before.status, 200, "{}", before.text);
    assert_eq!(before.body["live_reservations"], 3, "{}", before.text);

    // The next one is refused, in the caller's language, and reserves nothing.
    let r = app
        .request(
            reqwest::Method::POST,
            "/v1/tenants/alpha/calls/c-4/authorize",
            Some(&bridge),
            Some(RequestBody::Json(authorize_body())),
            &[("accept-language", "fr-CA, en;q=0.5")],
        )
        .await;
    assert_rate_limited(
        &r,
        "fr",
        minutely_server::i18n::message("too_many_requests", minutely_server::i18n::Lang::Fr),
    );
    let r = authorize(&app, &bridge, "c-4").await;
    assert_rate_limited(
        &r,
        "en",
        "Too many requests were sent, so please try again later.",
    );
    // Another key (the tenant's admin) is not affected, and sees that nothing changed.
    let after = app.get("/v1/tenants/alpha/wallet", &admin).await;
    assert_eq!(after.status, 200, "{}", after.text);
    assert_eq!(
        after.body, before.body,
        "a refused authorization changed the wallet"
    );

    // One second later one token is back: one request passes, the next is refused again.
    app.clock.advance(1);
    let r = authorize(&app, &bridge, "c-4").await;
    assert_eq!(r.status, 200, "after the refill: {}", r.text);
    assert_eq!(r.body["decision"], "allow", "{}", r.text);
    let r = authorize(&app, &bridge, "c-5").await;
    assert_rate_limited(
        &r,
        "en",
        "Too many requests were sent, so please try again later.",
    );
    // However long the key waits, it never gets more than the burst at once.
    app.clock.advance(3_600);
    for n in 5..5 + LIMIT.burst {
        let r = authorize(&app, &bridge, &format!("c-{n}")).await;
        assert_eq!(r.status, 200, "c-{n}: {}", r.text);
    }
    let r = authorize(&app, &bridge, "c-9").await;
    assert_eq!(r.status, 429, "{}", r.text);
    app.stop().await;
}

#[tokio::test]
async fn a_refused_funding_changes_nothing() {
    let mut app = limited_app().await;
    let (admin, _bridge) = app.seed_tenant("alpha", None).await;
    let op = app.operator_key.clone();
    let fund = |reference: &str| json!({"amount": "50", "reference": reference});
    for n in 1..=LIMIT.burst {
        let r = app
            .post(
                "/v1/tenants/alpha/wallet/fundings",
                &op,
                fund(&format!("f-{n}")),
            )
            .await;
        assert_eq!(r.status, 200, "funding {n}: {}", r.text);
    }
    // The admin's own bucket holds three tokens too: two reads before, one after.
    let before = app.get("/v1/tenants/alpha/wallet/ledger", &admin).await;
    assert_eq!(before.status, 200, "{}", before.text);
    let r = app.get("/v1/tenants/alpha/wallet", &admin).await;
    assert_eq!(r.body["funded"], "150.00", "{}", r.text);

    let r = app
        .request(
            reqwest::Method::POST,
            "/v1/tenants/alpha/wallet/fundings",
            Some(&op),
            Some(RequestBody::Json(fund("f-4"))),
            &[("accept-language", "ja")],
        )
        .await;
    assert_rate_limited(
        &r,
        "ja",
        minutely_server::i18n::message("too_many_requests", minutely_server::i18n::Lang::Ja),
    );
    let after = app.get("/v1/tenants/alpha/wallet/ledger", &admin).await;
    assert_eq!(after.status, 200, "{}", after.text);
    assert_eq!(
        after.body, before.body,
        "the refused funding moved the ledger"
    );

    // The same reference is still free: the refused request recorded nothing.
    app.clock.advance(1);
    let r = app
        .post("/v1/tenants/alpha/wallet/fundings", &op, fund("f-4"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let wallet = app.get("/v1/tenants/alpha/wallet", &admin).await;
    assert_eq!(wallet.body["funded"], "200.00", "{}", wallet.text);
    app.stop().await;
}

#[tokio::test]
async fn requests_without_a_valid_key_are_not_counted_against_it() {
    let mut app = limited_app().await;
    let (admin, bridge) = app.seed_tenant("alpha", Some("100")).await;
    // Seeding restarts the server, which starts with fresh buckets: both tenants first.
    let (_admin_b, bridge_b) = app.seed_tenant("beta", Some("100")).await;
    // The same key id with a wrong secret: a near miss. It is refused as unknown, never 429,
    // and takes nothing from the real key's bucket.
    let (prefix, secret) = bridge.rsplit_once('_').expect("mk_<id>_<secret>");
    let near_miss = format!("{prefix}_{}", secret.replace(|c: char| c != '0', "0"));
    assert_ne!(near_miss, bridge);
    for n in 0..3 * LIMIT.burst {
        let r = authorize(&app, &near_miss, &format!("x-{n}")).await;
        assert_eq!(r.status, 401, "{}", r.text);
        let r = app
            .request(
                reqwest::Method::GET,
                "/v1/tenants/alpha/wallet",
                None,
                None,
                &[],
            )
            .await;
        assert_eq!(r.status, 401, "{}", r.text);
    }
    for n in 1..=LIMIT.burst {
        let r = authorize(&app, &bridge, &format!("c-{n}")).await;
        assert_eq!(r.status, 200, "request {n} of the burst: {}", r.text);
    }
    let r = authorize(&app, &bridge, "c-4").await;
    assert_eq!(r.status, 429, "{}", r.text);
    // Keys of another tenant and the tenant's admin have their own buckets.
    let r = app
        .post(
            "/v1/tenants/beta/calls/b-1/authorize",
            &bridge_b,
            json!({"conference_id": "m", "organizer": "ppm@beta.example", "direction": "dial_out", "destination_number": "+33 1 44 55 66 77"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app.get("/v1/tenants/alpha/wallet", &admin).await;
    assert_eq!(r.status, 200, "{}", r.text);
    // Probes take no key and are never limited.
    for _ in 0..3 * LIMIT.burst {
        let r = app
            .request(reqwest::Method::GET, "/healthz", None, None, &[])
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    app.stop().await;
}

#[tokio::test]
async fn without_a_limit_nothing_is_refused() {
    let mut app = TestApp::start_with(|config| config.rate_limit = None).await;
    let (admin, _bridge) = app.seed_tenant("alpha", None).await;
    for n in 0..200 {
        let r = app.get("/v1/tenants/alpha/wallet", &admin).await;
        assert_eq!(r.status, 200, "request {n}: {}", r.text);
    }
    app.stop().await;
}
