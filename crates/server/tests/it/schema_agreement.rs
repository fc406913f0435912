//! The OpenAPI document and the server agree: a request the document calls valid is never
//! refused as malformed (400), and what only the server can judge (fields that exclude each
//! other, an instant too far from its clock, a month that has not started, a file's rows) is
//! 422 `unprocessable_request`. Black-box, against a real server.

use crate::common;

use common::*;
use serde_json::json;

/// JSON Schema counts `47.0` as an integer: a whole number written so is read; `47.5` is not.
#[tokio::test]
async fn whole_numbers_written_with_a_zero_fraction_are_integers() {
    let mut app = TestApp::start().await;
    let (admin, bridge) = app.seed_tenant("acme", Some("100")).await;
    let simulate = |duration: serde_json::Value| {
        json!({"organizer": "sub@acme.example", "direction": "dial_out",
               "destination_number": "+33142685300", "duration_s": duration})
    };
    let r = app
        .post("/v1/tenants/acme/simulate", &admin, simulate(json!(47.0)))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["duration_s"], 47);
    for bad in [json!(47.5), json!(-1.0), json!(1e30)] {
        let r = app
            .post("/v1/tenants/acme/simulate", &admin, simulate(bad.clone()))
            .await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text);
    }
    let r = app
        .post(
            "/v1/tenants/acme/calls/c47/extend",
            &bridge,
            json!({"granted_s": 60.0}),
        )
        .await;
    assert_ne!(r.status, 400, "{}", r.text);
    app.stop().await;
}

/// Rules between fields and against the clock are 422 with their own code, not 400.
#[tokio::test]
async fn rules_no_schema_can_state_are_unprocessable() {
    let mut app = TestApp::start().await;
    let (admin, bridge) = app.seed_tenant("acme", Some("100")).await;
    let both = app
        .post(
            "/v1/tenants/acme/calls/c1/end",
            &bridge,
            json!({"end": T0, "duration_s": 10}),
        )
        .await;
    let far = app
        .post(
            "/v1/tenants/acme/calls/c2/authorize",
            &bridge,
            json!({"conference_id": "", "organizer": "sub@acme.example",
                   "direction": "dial_out", "start": "1970-01-01T00:00:00Z"}),
        )
        .await;
    let half = app
        .put(
            "/v1/tenants/acme/wallet/auto-recharge",
            &admin,
            json!({"enabled": false, "amount": "50"}),
        )
        .await;
    let future = app.get("/v1/tenants/acme/statements/2999-01", &admin).await;
    let origin = app
        .get(
            "/v1/rate-lookup?currency=EUR&number=%2B33142685300&origin=FR",
            &admin,
        )
        .await;
    let operator = app.operator_key.clone();
    let keyless = app
        .post("/v1/keys", &operator, json!({"kind": "bridge"}))
        .await;
    for (what, r) in [
        ("end and duration_s", both),
        ("start far from the clock", far),
        ("amount without trigger", half),
        ("a month not started", future),
        ("an origin on a dial-out lookup", origin),
        ("a bridge key without tenant", keyless),
    ] {
        assert_eq!(r.status, 422, "{what}: {}", r.text);
        assert_eq!(r.body["error"]["code"], "unprocessable_request", "{what}");
    }
    app.stop().await;
}

/// A file without its header is malformed; a file of the format with a bad row is not.
#[tokio::test]
async fn a_bad_row_is_unprocessable_and_a_missing_header_malformed() {
    let app = TestApp::start().await;
    let send = |csv: &str| {
        app.request(
            reqwest::Method::POST,
            "/v1/rate-cards/EUR",
            Some(&app.operator_key),
            Some(RequestBody::Text("text/csv", csv.to_string())),
            &[],
        )
    };
    assert_eq!(send("").await.status, 400);
    assert_eq!(send("0").await.status, 400);
    let header = "kind,key,origin,name,country,premium,rate_per_minute,connection_fee,\
                  first_block_s,increment_s,effective_from";
    let r = send(&format!("{header}\nnot,a,row")).await;
    assert_eq!(r.status, 422, "{}", r.text);
    app.stop().await;
}

/// A cursor past any sequence number the store can hold is the end of the list, not an
/// internal error.
#[tokio::test]
async fn a_sequence_cursor_past_the_largest_is_an_empty_page() {
    let mut app = TestApp::start().await;
    let (admin, _) = app.seed_tenant("acme", Some("100")).await;
    for path in [
        "/v1/tenants/acme/events?after=9999999999999999999",
        "/v1/tenants/acme/audit?after=9999999999999999999",
    ] {
        let r = app.get(path, &admin).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
    }
    let r = app
        .get("/v1/audit?after=9999999999999999999", &app.operator_key)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    app.stop().await;
}

/// A deleted webhook endpoint is gone, with its delivery log.
#[tokio::test]
async fn a_deleted_endpoint_has_no_delivery_log() {
    let mut app = TestApp::start().await;
    let (admin, _) = app.seed_tenant("acme", None).await;
    let r = app
        .post(
            "/v1/tenants/acme/webhooks",
            &admin,
            json!({"url": "https://hooks.example.com/minutely"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().expect("an id").to_string();
    let log = format!("/v1/tenants/acme/webhooks/{id}/deliveries");
    assert_eq!(app.get(&log, &admin).await.status, 200);
    let r = app
        .delete(&format!("/v1/tenants/acme/webhooks/{id}"), &admin)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(app.get(&log, &admin).await.status, 404);
    app.stop().await;
}

/// Lengths are counted in characters, as a schema's `maxLength` counts them.
#[tokio::test]
async fn field_lengths_are_characters() {
    let mut app = TestApp::start().await;
    let (admin, _) = app.seed_tenant("acme", Some("100")).await;
    let r = app
        .post(
            "/v1/tenants/acme/simulate",
            &admin,
            json!({"organizer": "é".repeat(256), "direction": "dial_in",
                   "caller_number": "é".repeat(256)}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app
        .post(
            "/v1/tenants/acme/simulate",
            &admin,
            json!({"organizer": "é".repeat(257), "direction": "dial_in"}),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    app.stop().await;
}
