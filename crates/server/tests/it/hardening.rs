//! Hostile input from a legitimate credential: bodies that must never be ignored or half-read,
//! identifiers outside their grammar, formulas in CSV downloads, internals in errors. Each test
//! pins a defect that a hostile client found, and checks that nothing changed.

use crate::common;
use crate::support;

use common::*;
use serde_json::{Value, json};
use support::dial_out;

/// A request whose body is sent with `content_type`, or with no Content-Type header at all.
async fn raw(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    key: &str,
    body: &'static str,
    content_type: Option<&'static str>,
) -> Resp {
    let body = match content_type {
        Some(ct) => RequestBody::Text(ct, body.to_string()),
        None => RequestBody::Bare(body.to_string()),
    };
    app.request(method, path, Some(key), Some(body), &[]).await
}

/// A GET written byte for byte on a new connection: (status, JSON body).
async fn raw_http(app: &TestApp, path: &str, key: &str) -> (u16, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = app.url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut answer = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut answer),
    )
    .await
    .expect("answered within 10 s")
    .expect("read");
    let text = String::from_utf8_lossy(&answer);
    let status = text[9..12].parse().expect("a status code");
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// Sends `body` (with its content type, or none) and checks that it is refused with `status`
/// and `code`, with the error body.
async fn refused(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    key: &str,
    (body, content_type): (&'static str, Option<&'static str>),
    (status, code): (u16, &str),
) -> Resp {
    let r = raw(app, method, path, key, body, content_type).await;
    assert_error(&r, status, code);
    r
}

/// Every refusal carries the error body: a code, a localized message and a request id.
fn assert_error(r: &Resp, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(r.body["error"]["code"], code, "{}", r.text);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{}",
        r.text
    );
    assert!(r.body["error"]["request_id"].is_string(), "{}", r.text);
}

async fn authorize(app: &TestApp, bridge: &str, call_id: &str) {
    let r = app
        .post(
            &format!("/v1/tenants/acme/calls/{call_id}/authorize"),
            bridge,
            dial_out("ppm@acme.example", "+33 6 12 34 56 78"),
        )
        .await;
    assert_eq!(r.body["decision"], "allow", "{}", r.text);
}

/// C26/C27: an end whose body came without Content-Type was answered 200 with duration 0 and
/// amount 0.00, and the correct end sent afterwards was a replay of that: the call was never
/// charged. Now the body is refused (415) and the correct end charges the call.
#[tokio::test]
async fn an_end_body_without_content_type_is_refused_not_read_as_empty() {
    let mut app = TestApp::start().await;
    let (admin, bridge) = app.seed_tenant("acme", Some("100")).await;
    authorize(&app, &bridge, "live1").await;
    app.clock.advance(250);
    let path = "/v1/tenants/acme/calls/live1/end";
    refused(
        &app,
        reqwest::Method::POST,
        path,
        &bridge,
        (r#"{"duration_s":250}"#, None),
        (415, "unsupported_media_type"),
    )
    .await;
    refused(
        &app,
        reqwest::Method::POST,
        path,
        &bridge,
        (r#"{"duration_s":250}"#, Some("text/plain")),
        (415, "unsupported_media_type"),
    )
    .await;
    // 250 s to a French mobile at 0.11/min in 60 s blocks: 5 minutes, 0.55 (C6, C7).
    let end = app.post(path, &bridge, json!({"duration_s": 250})).await;
    assert_eq!(end.status, 200, "{}", end.text);
    assert_eq!(end.body["charge"]["amount"], "0.55", "{}", end.text);
    let w = app.get("/v1/tenants/acme/wallet", &admin).await;
    assert_eq!(w.body["balance"], "99.45", "{}", w.text);
    app.stop().await;
}

/// The other optional bodies (extend, wallet settings) are refused the same way, and the
/// wallet settings are unchanged.
#[tokio::test]
async fn optional_bodies_are_parsed_or_refused_never_dropped() {
    let mut app = TestApp::start().await;
    let (admin, bridge) = app.seed_tenant("acme", Some("100")).await;
    authorize(&app, &bridge, "live2").await;
    let extend = "/v1/tenants/acme/calls/live2/extend";
    refused(
        &app,
        reqwest::Method::POST,
        extend,
        &bridge,
        (r#"{"granted_s":5}"#, None),
        (415, "unsupported_media_type"),
    )
    .await;
    let settings = "/v1/tenants/acme/wallet/settings";
    let before = app.get("/v1/tenants/acme/wallet", &admin).await;
    let body = r#"{"low_balance_thresholds":["60"]}"#;
    refused(
        &app,
        reqwest::Method::PUT,
        settings,
        &admin,
        (body, None),
        (415, "unsupported_media_type"),
    )
    .await;
    for bad in [
        "[null]",
        "[]",
        "null",
        "\"x\"",
        "5",
        r#"{} {}"#,
        r#"{"x":1} trailing"#,
    ] {
        refused(
            &app,
            reqwest::Method::PUT,
            settings,
            &admin,
            (bad, Some("application/json")),
            (400, "invalid_request"),
        )
        .await;
    }
    let after = app.get("/v1/tenants/acme/wallet", &admin).await;
    assert_eq!(before.body, after.body, "nothing changed");
    // An empty optional body is still the documented default.
    let r = raw(&app, reqwest::Method::POST, extend, &bridge, "", None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    app.stop().await;
}

/// A body sent to an operation that takes none (a revocation, a read) is refused, not
/// ignored: the client meant something by it.
#[tokio::test]
async fn a_body_sent_where_none_is_taken_is_refused() {
    let mut app = TestApp::start().await;
    let (admin, _) = app.seed_tenant("acme", Some("100")).await;
    let op = app.operator_key.clone();
    let json = Some("application/json");
    let wallet = "/v1/tenants/acme/wallet";
    refused(
        &app,
        reqwest::Method::GET,
        wallet,
        &admin,
        (r#"{"x":1}"#, json),
        (400, "invalid_request"),
    )
    .await;
    let keys = app.get("/v1/keys", &op).await;
    let id = keys.body["keys"][0]["id"].as_str().expect("a key id");
    let path = format!("/v1/keys/{id}");
    refused(
        &app,
        reqwest::Method::DELETE,
        &path,
        &op,
        (r#"{"why":"x"}"#, json),
        (400, "invalid_request"),
    )
    .await;
    // Nothing was revoked: the key still works.
    assert_eq!(app.get("/v1/keys", &op).await.status, 200);
    app.stop().await;
}

/// A funding body that is a top-level array (`["100","ref"]`) funded the wallet: serde reads a
/// struct from a sequence. Only a JSON object is a body.
#[tokio::test]
async fn a_top_level_array_does_not_fund_the_wallet() {
    let mut app = TestApp::start().await;
    let (admin, _) = app.seed_tenant("acme", Some("100")).await;
    let path = "/v1/tenants/acme/wallet/fundings";
    for bad in [r#"["100","ref"]"#, r#"{"amount":"100","reference":"r"} x"#] {
        refused(
            &app,
            reqwest::Method::POST,
            path,
            &admin,
            (bad, Some("application/json")),
            (400, "invalid_request"),
        )
        .await;
    }
    let w = app.get("/v1/tenants/acme/wallet", &admin).await;
    assert_eq!(w.body["balance"], "100.00", "{}", w.text);
    app.stop().await;
}

/// Errors name the field and the problem in the API's words, never a Rust type.
#[tokio::test]
async fn errors_never_name_internal_types() {
    let mut app = TestApp::start().await;
    let (admin, bridge) = app.seed_tenant("acme", Some("100")).await;
    authorize(&app, &bridge, "live3").await;
    let cases = [
        (
            "/v1/tenants/acme/calls/live3/end",
            &bridge,
            r#"{"duration_s":"x"}"#,
        ),
        ("/v1/tenants/acme/calls/live3/end", &bridge, r#""x""#),
        ("/v1/tenants/acme/calls/live3/end", &bridge, r#"5"#),
        ("/v1/tenants/acme/calls/live3/end", &bridge, r#"[1]"#),
        (
            "/v1/tenants/acme/wallet/fundings",
            &admin,
            r#"{"amount":5}"#,
        ),
        (
            "/v1/tenants/acme/wallet/fundings",
            &admin,
            r#"{"amount":"5","x":1}"#,
        ),
    ];
    for (path, key, body) in cases {
        let r = refused(
            &app,
            reqwest::Method::POST,
            path,
            key,
            (body, Some("application/json")),
            (400, "invalid_request"),
        )
        .await;
        let detail = r.body["error"]["detail"].as_str().unwrap_or_default();
        for internal in ["struct", "Request", "enum ", "minutely", "serde"] {
            assert!(!detail.contains(internal), "{path} {body}: {detail}");
        }
    }
    app.stop().await;
}

/// Tenant ids `.` and `..` (reachable as `%2E%2E`) and call ids with NUL, CR/LF, bidi controls or
/// a formula sign are refused by their grammar, naming the field.
#[tokio::test]
async fn identifiers_outside_their_grammar_are_refused_naming_the_field() {
    let mut app = TestApp::start().await;
    let (admin, bridge) = app.seed_tenant("acme", Some("100")).await;
    let op = app.operator_key.clone();
    for tenant in ["%2E", "%2E%2E", "-x", "%3Dx"] {
        // Sent as written: an HTTP client library would remove `%2E` dot segments itself.
        let (status, body) = raw_http(&app, &format!("/v1/tenants/{tenant}/wallet"), &op).await;
        assert_eq!(status, 400, "{tenant}: {body}");
        assert_eq!(body["error"]["code"], "invalid_request", "{body}");
        let detail = body["error"]["detail"].as_str().unwrap_or_default();
        assert!(detail.starts_with("tenant "), "{detail}");
    }
    let body = dial_out("ppm@acme.example", "+33 6 12 34 56 78");
    for call_id in [
        "a%00b",
        "a%0D%0Ab",
        "a%E2%80%AEb",
        "%3DHYPERLINK(1)",
        "%2Bx",
        "%40x",
        "a%20b",
    ] {
        let path = format!("/v1/tenants/acme/calls/{call_id}/authorize");
        let r = app.post(&path, &bridge, body.clone()).await;
        assert_error(&r, 400, "invalid_request");
        let detail = r.body["error"]["detail"].as_str().unwrap_or_default();
        assert!(detail.starts_with("call_id "), "{detail}");
    }
    // In a body: a batch command's call id, a conference id and a funding reference.
    let r = app
        .post(
            "/v1/tenants/acme/calls/ok1/authorize",
            &bridge,
            json!({"conference_id": "=1+1", "organizer": "ppm@acme.example",
                   "direction": "dial_out", "destination_number": "+33 6 12 34 56 78"}),
        )
        .await;
    assert_error(&r, 400, "invalid_request");
    for reference in ["=cmd|' /C calc'!A0", "a\u{202e}b", " x", "a\nb"] {
        let r = app
            .post(
                "/v1/tenants/acme/wallet/fundings",
                &admin,
                json!({"amount": "100", "reference": reference}),
            )
            .await;
        assert_error(&r, 400, "invalid_request");
        let detail = r.body["error"]["detail"].as_str().unwrap_or_default();
        assert!(detail.starts_with("reference "), "{detail}");
    }
    let w = app.get("/v1/tenants/acme/wallet", &admin).await;
    assert_eq!(w.body["balance"], "100.00", "{}", w.text);
    assert_eq!(w.body["live_reservations"], 0, "{}", w.text);
    app.stop().await;
}

/// A display name beginning with `=` was written as it is into the PSTN usage export; free
/// text is now neutralized with a leading `'`, while E.164 numbers and amounts stay exact.
#[tokio::test]
async fn csv_downloads_neutralize_formulas_and_keep_numbers() {
    let mut app = TestApp::start().await;
    let (admin, bridge) = app.seed_tenant("acme", Some("100")).await;
    let formula = "=HYPERLINK(\"http://example.invalid\",\"x\")";
    let r = app
        .put(
            "/v1/tenants/acme/users/ppm@acme.example",
            &admin,
            json!({"display_name": formula}),
        )
        .await;
    assert!(r.status == 200 || r.status == 201, "{}", r.text);
    authorize(&app, &bridge, "csv1").await;
    app.clock.advance(60);
    let end = app
        .post(
            "/v1/tenants/acme/calls/csv1/end",
            &bridge,
            json!({"duration_s": 60}),
        )
        .await;
    assert_eq!(end.body["charge"]["amount"], "0.11", "{}", end.text);
    let csv = app
        .get(
            "/v1/tenants/acme/reports/pstn-usage?from=2026-03-01T00:00:00Z&to=2026-03-03T00:00:00Z",
            &admin,
        )
        .await;
    assert_eq!(csv.status, 200, "{}", csv.text);
    let row = csv.text.lines().nth(1).expect("one row");
    assert!(
        row.contains("\"'=HYPERLINK(\"\"http://example.invalid\"\",\"\"x\"\")\""),
        "{row}"
    );
    assert!(!row.contains(",=HYPERLINK"), "{row}");
    assert!(row.contains(",+33612345678,"), "E.164 kept: {row}");
    assert!(row.contains("0.11"), "{row}");
    app.stop().await;
}
