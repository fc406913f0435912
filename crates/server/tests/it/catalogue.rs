//! The catalogue over HTTP (capability 1): the country table, rate cards with versions (C36),
//! and the rate lookup tool (C6 to C9).

use crate::common;

use common::*;
use minutely_core::money::Currency;
use reqwest::Method;
use serde_json::{Value, json};

fn eur() -> Currency {
    Currency::parse("EUR").expect("EUR")
}

async fn put_text(
    app: &TestApp,
    path: &str,
    key: &str,
    content_type: &'static str,
    text: &str,
) -> Resp {
    app.request(
        Method::PUT,
        path,
        Some(key),
        Some(RequestBody::Text(content_type, text.to_string())),
        &[],
    )
    .await
}

async fn post_text(
    app: &TestApp,
    path: &str,
    key: &str,
    content_type: &'static str,
    text: &str,
) -> Resp {
    app.request(
        Method::POST,
        path,
        Some(key),
        Some(RequestBody::Text(content_type, text.to_string())),
        &[],
    )
    .await
}

async fn get_csv(app: &TestApp, path: &str, key: &str) -> Resp {
    app.request(
        Method::GET,
        path,
        Some(key),
        None,
        &[("accept", "text/csv")],
    )
    .await
}

fn country<'a>(rows: &'a Value, iso2: &str) -> &'a Value {
    rows.as_array()
        .expect("an array of countries")
        .iter()
        .find(|r| r["iso2"] == iso2)
        .unwrap_or_else(|| panic!("no row {iso2}"))
}

/// Asserts an error answer: status and code.
fn assert_error(r: &Resp, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(r.body["error"]["code"], code, "{}", r.text);
}

// ---------------------------------------------------------------------------------------------
// Country table
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn c2_c3_c4_country_table_has_every_column_as_json_and_csv() {
    let app = TestApp::start().await;
    let r = app.get("/v1/countries", &app.operator_key).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let shipped = minutely_formats::countries::shipped();
    assert_eq!(r.body.as_array().unwrap().len(), shipped.rows().count());
    assert_eq!(
        country(&r.body, "FR"),
        &json!({"iso2": "FR", "name": "France", "zone_a": true, "conferencing": "yes",
                "toll_dial_in": "yes", "toll_free_dial_in": "yes", "communications_credits": true})
    );
    let bh = country(&r.body, "BH");
    assert_eq!(bh["conferencing"], "no");
    assert_eq!(bh["communications_credits"], false);
    assert_eq!(country(&r.body, "AG")["conferencing"], "ppm_only");
    assert_eq!(country(&r.body, "AL")["toll_dial_in"], "on_request");
    let csv = get_csv(&app, "/v1/countries", &app.operator_key).await;
    assert_eq!(csv.status, 200, "{}", csv.text);
    assert!(
        csv.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert_eq!(csv.text, minutely_formats::countries::SHIPPED);
    app.stop().await;
}

#[tokio::test]
async fn c2_operator_replaces_the_country_table_and_eligibility_follows() {
    let mut app = TestApp::start().await;
    let op = app.operator_key.clone();
    let r = app
        .post(
            "/v1/tenants",
            &op,
            json!({"id": "bh", "name": "Bahrain Co", "country": "BH", "currency": "EUR", "agreement": "volume_licensing"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let buy = json!({"count": 1});
    let r = app
        .put("/v1/tenants/bh/licenses/MCOMEETADD", &op, buy.clone())
        .await;
    assert_error(&r, 422, "country_not_supported");
    let edited = minutely_formats::countries::SHIPPED.replace(
        "BH,Bahrain,false,no,no,no,no",
        "BH,Bahrain,false,yes,yes,no,yes",
    );
    let r = put_text(
        &app,
        "/v1/countries",
        &op,
        "text/csv; charset=utf-8",
        &edited,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["countries"], 115);
    let r = app.get("/v1/countries", &op).await;
    assert_eq!(country(&r.body, "BH")["conferencing"], "yes");
    // The writer's table changed at once: the purchase C2 refused is now allowed.
    let r = app
        .put("/v1/tenants/bh/licenses/MCOMEETADD", &op, buy)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    app.restart().await;
    let csv = get_csv(&app, "/v1/countries", &op).await;
    assert_eq!(csv.text, edited, "the table is durable");
    app.stop().await;
}

#[tokio::test]
async fn a_country_table_with_bad_rows_is_refused_whole_listing_every_row() {
    let app = TestApp::start().await;
    let op = app.operator_key.clone();
    let before = get_csv(&app, "/v1/countries", &op).await.text;
    let bad = "iso2,name,zone_a,conferencing,toll_dial_in,toll_free_dial_in,communications_credits\n\
               FR,France,maybe,yes,yes,yes,yes\n\
               XXX,Nowhere,false,yes,yes,yes,yes\n\
               DE,Germany,true,sometimes,yes,yes,yes\n\
               GB,United Kingdom,true,yes,yes,yes,yes\n";
    let r = put_text(&app, "/v1/countries", &op, "text/csv", bad).await;
    // A table of the format with bad rows is unprocessable; only a missing header is malformed.
    assert_error(&r, 422, "unprocessable_request");
    let detail = r.body["error"]["detail"].as_str().unwrap();
    for row in [
        "line 2, column zone_a",
        "line 3, column iso2",
        "line 4, column conferencing",
    ] {
        assert!(detail.contains(row), "{row} missing from {detail}");
    }
    assert!(!detail.contains("line 5"), "{detail}");
    let r = put_text(&app, "/v1/countries", &op, "application/json", bad).await;
    assert_error(&r, 415, "unsupported_media_type");
    let after = get_csv(&app, "/v1/countries", &op).await.text;
    assert_eq!(before, after, "a refused table changes nothing");
    app.stop().await;
}

#[tokio::test]
async fn only_an_operator_key_changes_the_country_table() {
    let mut app = TestApp::start().await;
    let (admin, bridge) = app.seed_tenant("acme", None).await;
    let table = minutely_formats::countries::SHIPPED;
    for key in [&admin, &bridge] {
        let r = put_text(&app, "/v1/countries", key, "text/csv", table).await;
        assert_error(&r, 403, "forbidden");
        // Every key reads it.
        assert_eq!(app.get("/v1/countries", key).await.status, 200);
    }
    let r = app
        .request(Method::GET, "/v1/countries", None, None, &[])
        .await;
    assert_error(&r, 401, "unauthorized");
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Rate cards
// ---------------------------------------------------------------------------------------------

const JUNE: &str = minutely_testkit::rate_card!(
    "\
dial_out,+33,,France,FR,false,0.0300,0,60,60,2026-06-01T00:00:00Z
dial_out,+81,,Japan,JP,false,0.0800,0,60,60,2026-06-01T00:00:00Z
"
);

#[tokio::test]
async fn c36_rate_card_import_adds_versions_once_and_exports_them_as_csv() {
    let mut app = TestApp::start().await;
    let op = app.operator_key.clone();
    let r = app.get("/v1/rate-cards", &op).await;
    assert_eq!(r.body, json!({"cards": []}), "{}", r.text);
    let r = post_text(&app, "/v1/rate-cards/EUR", &op, "text/csv", RATES).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body,
        json!({"currency": "EUR", "added": ["2026-01-01T00:00:00Z"], "unchanged": [], "replaced": []})
    );
    let r = post_text(&app, "/v1/rate-cards/eur", &op, "text/csv", RATES).await;
    assert_eq!(
        r.body,
        json!({"currency": "EUR", "added": [], "unchanged": ["2026-01-01T00:00:00Z"], "replaced": []}),
        "{}",
        r.text
    );
    let r = post_text(&app, "/v1/rate-cards/EUR", &op, "text/csv", JUNE).await;
    assert_eq!(
        r.body["added"],
        json!(["2026-06-01T00:00:00Z"]),
        "{}",
        r.text
    );
    let r = app.get("/v1/rate-cards", &op).await;
    assert_eq!(
        r.body,
        json!({"cards": [{"currency": "EUR", "versions": [
            {"effective_from": "2026-01-01T00:00:00Z", "entries": 9},
            {"effective_from": "2026-06-01T00:00:00Z", "entries": 2}
        ]}]})
    );
    let csv = app.get("/v1/rate-cards/EUR", &op).await;
    assert_eq!(csv.status, 200, "{}", csv.text);
    assert!(
        csv.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let exported =
        minutely_formats::ratecard::parse(csv.text.as_bytes(), eur()).expect("it re-imports");
    let mut both = RATES.to_string();
    both.push_str(
        JUNE.lines()
            .skip(1)
            .map(|l| format!("{l}\n"))
            .collect::<String>()
            .as_str(),
    );
    let expected = minutely_formats::ratecard::parse(both.as_bytes(), eur()).unwrap();
    assert_eq!(
        exported.entries().cloned().collect::<Vec<_>>(),
        expected.entries().cloned().collect::<Vec<_>>()
    );
    // The export re-imports as unchanged versions.
    let r = post_text(&app, "/v1/rate-cards/EUR", &op, "text/csv", &csv.text).await;
    assert_eq!(r.body["added"], json!([]), "{}", r.text);
    assert_eq!(app.get("/v1/rate-cards/USD", &op).await.status, 404);
    assert_error(
        &app.get("/v1/rate-cards/XYZ", &op).await,
        400,
        "invalid_request",
    );
    app.restart().await;
    let again = app.get("/v1/rate-cards/EUR", &op).await;
    assert_eq!(again.text, csv.text);
    app.stop().await;
}

#[tokio::test]
async fn a_rate_card_with_bad_rows_is_refused_whole_listing_every_bad_row() {
    let app = TestApp::start().await;
    let op = app.operator_key.clone();
    post_text(&app, "/v1/rate-cards/EUR", &op, "text/csv", RATES).await;
    let list_before = app.get("/v1/rate-cards", &op).await.body;
    let csv_before = app.get("/v1/rate-cards/EUR", &op).await.text;
    let bad = "# a comment
kind,key,origin,name,country,premium,rate_per_minute,connection_fee,first_block_s,increment_s,effective_from
dial_out,33,,France,FR,false,0.0240,0,60,60,2026-09-01T00:00:00Z
dial_out,+44,,UK,GB,false,1e-3,0,60,60,2026-09-01T00:00:00Z
dial_in_toll,FR,,France toll,FR,false,0.03,0,0,60,2026-09-01T00:00:00Z
dial_in_toll,FR,,France toll,FR,false,0.03,0,60,60,yesterday
dial_out,+1,,US,US,maybe,0.01,0,60,60,2026-09-01T00:00:00Z
dial_in_toll,DE,XX,Germany toll,DE,false,0.03,0,60,60,2026-09-01T00:00:00Z
dial_out,+49,,Germany,DE,false,0.01,0,60,60,2026-09-01T00:00:00Z
dial_out,+49,,Germany again,DE,false,0.02,0,60,60,2026-09-01T00:00:00Z
dial_out,+81,,Japan,JP,false,0.09,0,60,60,2026-09-01T00:00:00Z
";
    let r = post_text(&app, "/v1/rate-cards/EUR", &op, "text/csv", bad).await;
    assert_error(&r, 422, "unprocessable_request");
    let detail = r.body["error"]["detail"].as_str().unwrap();
    assert!(detail.contains("7 bad rows"), "{detail}");
    for row in [
        "line 3, column key",
        "line 4, column rate_per_minute",
        "line 5, column first_block_s",
        "line 6, column effective_from",
        "line 7, column premium",
        "line 8, column origin",
        "line 10, column key",
    ] {
        assert!(detail.contains(row), "{row} missing from {detail}");
    }
    assert!(
        !detail.contains("line 11"),
        "the good row is not listed: {detail}"
    );
    assert_eq!(app.get("/v1/rate-cards", &op).await.body, list_before);
    assert_eq!(app.get("/v1/rate-cards/EUR", &op).await.text, csv_before);
    app.stop().await;
}

#[tokio::test]
async fn c36_a_version_with_other_content_is_a_conflict_and_changes_nothing() {
    let app = TestApp::start().await;
    let op = app.operator_key.clone();
    post_text(&app, "/v1/rate-cards/EUR", &op, "text/csv", RATES).await;
    let list_before = app.get("/v1/rate-cards", &op).await.body;
    // A new version and a changed old one in the same file: the whole import is refused.
    let changed = format!(
        "{}dial_out,+33,,France,FR,false,0.0300,0,60,60,2026-07-01T00:00:00Z\n",
        RATES.replace("Japan,JP,false,0.0900", "Japan,JP,false,0.0950")
    );
    let r = post_text(&app, "/v1/rate-cards/EUR", &op, "text/csv", &changed).await;
    assert_error(&r, 409, "conflict");
    assert!(
        r.body["error"]["detail"]
            .as_str()
            .unwrap()
            .contains("2026-01-01"),
        "{}",
        r.text
    );
    assert_eq!(app.get("/v1/rate-cards", &op).await.body, list_before);
    let lookup = app
        .get("/v1/rate-lookup?currency=EUR&number=%2B81312345678", &op)
        .await;
    assert_eq!(
        lookup.body["entry"]["rate_per_minute"], "0.09",
        "{}",
        lookup.text
    );
    app.stop().await;
}

#[tokio::test]
async fn only_an_operator_key_imports_a_rate_card_and_only_as_csv() {
    let mut app = TestApp::start().await;
    let (admin, bridge) = app.seed_tenant("acme", None).await;
    for key in [&admin, &bridge] {
        let r = post_text(&app, "/v1/rate-cards/EUR", key, "text/csv", JUNE).await;
        assert_error(&r, 403, "forbidden");
        assert_eq!(app.get("/v1/rate-cards", key).await.status, 200);
        assert_eq!(app.get("/v1/rate-cards/EUR", key).await.status, 200);
    }
    let op = app.operator_key.clone();
    let r = post_text(&app, "/v1/rate-cards/EUR", &op, "application/json", JUNE).await;
    assert_error(&r, 415, "unsupported_media_type");
    let r = post_text(&app, "/v1/rate-cards/EURO", &op, "text/csv", JUNE).await;
    assert_error(&r, 400, "invalid_request");
    let versions = app.get("/v1/rate-cards", &op).await.body["cards"][0]["versions"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(versions, 1, "nothing was imported");
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Rate lookup
// ---------------------------------------------------------------------------------------------

fn costs(r: &Resp) -> Vec<(u64, u64, String)> {
    r.body["costs"]
        .as_array()
        .unwrap_or_else(|| panic!("no costs: {}", r.text))
        .iter()
        .map(|c| {
            (
                c["duration_s"].as_u64().unwrap(),
                c["billable_s"].as_u64().unwrap(),
                c["cost"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn c6_c7_rate_lookup_prices_one_five_and_sixty_minutes() {
    let mut app = TestApp::start().await;
    let (_admin, bridge) = app.seed_tenant("acme", None).await;
    let r = app
        .get(
            "/v1/rate-lookup?currency=EUR&number=%2B81%203%201234%205678",
            &bridge,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["number"], "+81312345678");
    assert_eq!(r.body["number_country"], "JP");
    assert_eq!(r.body["kind"], "dial_out");
    assert_eq!(r.body["at"], T0);
    assert_eq!(
        r.body["entry"],
        json!({"kind": "dial_out", "key": "+81", "origin": null, "name": "Japan", "country": "JP",
               "country_name": "Japan", "zone_a": true, "premium": false, "rate_per_minute": "0.09",
               "connection_fee": "0.00", "first_block_s": 60, "increment_s": 60,
               "effective_from": "2026-01-01T00:00:00Z"})
    );
    assert_eq!(
        costs(&r),
        vec![
            (60, 60, "0.09".to_string()),
            (300, 300, "0.45".to_string()),
            (3600, 3600, "5.40".to_string())
        ]
    );
    // A raw `+` in a query string decodes as a space: it still reads as E.164.
    let raw = app
        .get("/v1/rate-lookup?currency=EUR&number=+819012345678", &bridge)
        .await;
    assert_eq!(raw.status, 200, "{}", raw.text);
    assert_eq!(raw.body["entry"]["name"], "Japan premium");
    assert_eq!(raw.body["entry"]["premium"], true);
    assert_eq!(raw.body["entry"]["connection_fee"], "0.10");
    assert_eq!(
        costs(&raw),
        vec![
            (60, 60, "1.00".to_string()),
            (300, 300, "4.60".to_string()),
            (3600, 3600, "54.10".to_string())
        ]
    );
    let toll = app
        .get(
            "/v1/rate-lookup?currency=EUR&number=%2B33186950000&kind=dial_in_toll",
            &bridge,
        )
        .await;
    assert_eq!(toll.body["entry"]["name"], "France toll", "{}", toll.text);
    // C35: no entry for Canadian callers, so the `*` entry prices them.
    let free = app
        .get(
            "/v1/rate-lookup?currency=EUR&number=%2B18005550199&kind=dial_in_toll_free&origin=CA",
            &bridge,
        )
        .await;
    assert_eq!(
        free.body["entry"]["name"], "United States toll-free",
        "{}",
        free.text
    );
    assert_eq!(free.body["entry"]["origin"], "*");
    app.stop().await;
}

#[tokio::test]
async fn c8_c9_c36_rate_lookup_refuses_invalid_numbers_and_missing_rates() {
    let mut app = TestApp::start().await;
    let (admin, _bridge) = app.seed_tenant("acme", None).await;
    let cases = [
        ("currency=EUR&number=abc", 422, "invalid_number"),
        ("currency=EUR&number=%2B33805", 422, "invalid_number"),
        ("currency=EUR&number=%2B442071234567", 422, "no_rate"),
        (
            "currency=EUR&number=%2B81312345678&at=2025-06-01T00:00:00Z",
            422,
            "no_rate",
        ),
        ("currency=USD&number=%2B81312345678", 422, "no_rate"),
        (
            "currency=EUR&number=%2B81312345678&kind=dial_in_toll",
            422,
            "no_rate",
        ),
        (
            "currency=EUR&number=%2B81312345678&kind=collect",
            400,
            "invalid_request",
        ),
        (
            "currency=EUR&number=%2B81312345678&at=soon",
            400,
            "invalid_request",
        ),
        ("currency=EUR", 400, "invalid_request"),
    ];
    for (query, status, code) in cases {
        let r = app.get(&format!("/v1/rate-lookup?{query}"), &admin).await;
        assert_eq!(
            (r.status, r.body["error"]["code"].as_str()),
            (status, Some(code)),
            "{query}: {}",
            r.text
        );
    }
    let r = app
        .get("/v1/rate-lookup?currency=EUR&number=abc", &admin)
        .await;
    assert_eq!(r.body["error"]["rule"], "C8");
    app.stop().await;
}

#[tokio::test]
async fn every_catalogue_and_directory_route_is_in_the_openapi_document() {
    let app = TestApp::start().await;
    let r = app.get("/openapi.json", &app.operator_key).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let paths = &r.body["paths"];
    let routes = [
        ("/v1/countries", "get"),
        ("/v1/countries", "put"),
        ("/v1/rate-cards", "get"),
        ("/v1/rate-cards/{currency}", "get"),
        ("/v1/rate-cards/{currency}", "post"),
        ("/v1/rate-lookup", "get"),
        ("/v1/tenants", "get"),
        ("/v1/tenants", "post"),
        ("/v1/tenants/{tenant}", "get"),
        ("/v1/tenants/{tenant}/file", "put"),
        ("/v1/tenants/{tenant}/licenses", "get"),
        ("/v1/tenants/{tenant}/licenses/{sku}", "put"),
        ("/v1/tenants/{tenant}/users", "get"),
        ("/v1/tenants/{tenant}/users/{upn}", "get"),
        ("/v1/tenants/{tenant}/users/{upn}", "put"),
        ("/v1/tenants/{tenant}/users/{upn}/licenses", "post"),
        ("/v1/tenants/{tenant}/users/{upn}/licenses/{sku}", "delete"),
        ("/v1/tenants/{tenant}/numbers", "get"),
        ("/v1/tenants/{tenant}/numbers", "post"),
        ("/v1/policies", "get"),
        ("/v1/tenants/{tenant}/default-policy", "put"),
        ("/v1/tenants/{tenant}/wallet/settings", "put"),
        ("/v1/tenants/{tenant}/wallet/auto-recharge", "put"),
    ];
    for (path, method) in routes {
        assert!(
            paths[path][method].is_object(),
            "{method} {path} is not documented"
        );
    }
    let lookup = paths["/v1/rate-lookup"]["get"]["parameters"]
        .as_array()
        .unwrap();
    assert!(lookup.iter().all(|p| p["in"] == "query"), "{lookup:?}");
    app.stop().await;
}
