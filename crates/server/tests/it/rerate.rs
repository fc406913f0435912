//! Rerating over HTTP (product.md capability 5): a corrected card version replaces the one that
//! priced the calls (`replace=true`), `POST /v1/tenants/{t}/rerate` shows the difference dry and
//! then refunds and charges (C22, C24), a second run changes nothing, the runs are listed, and
//! the usage export and the statement show the new charges and the refunds. Operator only.

use crate::common;
use crate::support;

use common::*;
use reqwest::Method;
use serde_json::{Value, json};
use support::*;

const PPM: &str = "ppm@acme.example";

async fn rerate(app: &TestApp, body: Value) -> Value {
    let r = app
        .post("/v1/tenants/acme/rerate", &app.operator_key, body)
        .await;
    assert_eq!(r.status, 200, "rerate: {}", r.text);
    r.body
}

/// The sample card with the French mobile rate multiplied by ten, replacing its version.
async fn correct_the_card(app: &TestApp) -> String {
    let op = app.operator_key.clone();
    let csv = app.get("/v1/rate-cards/EUR", &op).await.text;
    let line = csv
        .lines()
        .find(|l| l.starts_with("dial_out,+336,"))
        .expect("a French mobile rate in the sample card")
        .to_string();
    let fields: Vec<&str> = line.split(',').collect();
    let rate: rust_decimal::Decimal = fields[6].parse().unwrap();
    let mut fixed: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
    fixed[6] = (rate * rust_decimal::Decimal::from(10)).to_string();
    let corrected = csv.replace(&line, &fixed.join(","));
    let r = app
        .request(
            Method::POST,
            "/v1/rate-cards/EUR",
            Some(&op),
            Some(RequestBody::Text("text/csv", corrected.clone())),
            &[],
        )
        .await;
    assert_eq!(
        r.status, 409,
        "without replace a changed version is refused: {}",
        r.text
    );
    let r = app
        .request(
            Method::POST,
            "/v1/rate-cards/EUR?replace=true",
            Some(&op),
            Some(RequestBody::Text("text/csv", corrected)),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "replace: {}", r.text);
    assert_eq!(
        r.body["replaced"].as_array().map(Vec::len),
        Some(1),
        "{}",
        r.text
    );
    fields[6].to_string()
}

#[tokio::test]
async fn a_rerate_refunds_and_charges_once_and_the_reports_follow_c22_c24() {
    let mut app = TestApp::start().await;
    let (admin, bridge) = app.seed_tenant("acme", None).await;
    fund(&app, "acme", 500, "F1").await;
    let start = app.clock.now();
    let at = |s: i64| (start + jiff::SignedDuration::from_secs(s)).to_string();
    let calls = json!({"calls": [
        record("m1", PPM, "dial_out", "+33 6 12 34 56 78", &at(-7200), 600),
        record("m2", PPM, "dial_out", "+33 6 12 34 56 79", &at(-3600), 125),
        record("us", PPM, "dial_out", "+1 212 555 0100", &at(-1800), 60),
    ]});
    let r = app.post("/v1/tenants/acme/calls", &bridge, calls).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let old_m1 = dec(&r.body["results"][0]["charge"]["amount"]);
    let before = dec(&wallet(&app, "acme", &admin).await["balance"]);
    correct_the_card(&app).await;
    let period = json!({"from": at(-86_400), "to": at(1)});

    let mut dry = period.clone();
    dry["dry_run"] = json!(true);
    let diff = rerate(&app, dry).await;
    assert_eq!(
        (diff["calls"].clone(), diff["changed"].clone()),
        (json!(3), json!(2)),
        "{diff}"
    );
    assert!(diff.get("id").is_none(), "a dry run has no id: {diff}");
    let m1 = &diff["items"][0];
    assert_eq!(m1["call_id"], "m1");
    assert_eq!(dec(&m1["old_amount"]), old_m1);
    assert_eq!(
        dec(&m1["new_amount"]),
        old_m1 * rust_decimal::Decimal::from(10)
    );
    assert_eq!(
        dec(&wallet(&app, "acme", &admin).await["balance"]),
        before,
        "dry: no change"
    );

    let run = rerate(&app, period.clone()).await;
    assert_eq!(run["id"], "rr-1", "{run}");
    assert_eq!(run["changed"], 2);
    let net = dec(&run["net"]);
    assert_eq!(dec(&run["charged"]) - dec(&run["refunded"]), net);
    let after = dec(&wallet(&app, "acme", &admin).await["balance"]);
    assert_eq!(after, before - net, "the wallet pays the difference");
    check_c24(&app, "acme", &admin).await;
    let entries = ledger(&app, "acme", &admin).await;
    let kinds: Vec<&str> = entries
        .iter()
        .rev()
        .take(4)
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        vec!["debit", "refund", "debit", "refund"],
        "{entries:?}"
    );

    // The usage export shows the new charge; the statement the refunds and the new charges.
    let new_m1 = dec(&m1["new_amount"]);
    let export = app
        .get(
            "/v1/tenants/acme/reports/pstn-usage?from=2026-03-01&to=2026-03-31",
            &admin,
        )
        .await;
    assert_eq!(export.status, 200, "{}", export.text);
    let row = export
        .text
        .lines()
        .find(|l| l.contains(",m1,") || l.starts_with("m1,"));
    let amounts: Vec<rust_decimal::Decimal> = row
        .unwrap_or_else(|| panic!("a row for m1: {}", export.text))
        .split(',')
        .filter_map(|f| f.trim_matches('"').parse().ok())
        .collect();
    assert!(amounts.contains(&new_m1), "{row:?} shows {new_m1}");
    assert!(
        !amounts.contains(&old_m1),
        "{row:?} no longer shows {old_m1}"
    );
    let statement = app.get("/v1/tenants/acme/statements/2026-03", &admin).await;
    assert_eq!(statement.status, 200, "{}", statement.text);
    assert_eq!(
        dec(&statement.body["refunds_total"]),
        dec(&run["refunded"]),
        "{}",
        statement.text
    );
    assert_eq!(statement.body["refunds"][0]["run"], "rr-1");

    let again = rerate(&app, period).await;
    assert_eq!(
        (again["id"].clone(), again["changed"].clone()),
        (json!("rr-2"), json!(0))
    );
    assert_eq!(
        dec(&wallet(&app, "acme", &admin).await["balance"]),
        after,
        "twice: no change"
    );

    let list = app.get("/v1/tenants/acme/rerates", &app.operator_key).await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert_eq!(list.body[0]["id"], "rr-2");
    assert_eq!(
        list.body[1]["actor"]
            .as_str()
            .map(|a| a.starts_with("operator:")),
        Some(true)
    );
    let one = app
        .get("/v1/tenants/acme/rerates/rr-1", &app.operator_key)
        .await;
    assert_eq!(
        one.body["items"].as_array().map(Vec::len),
        Some(2),
        "{}",
        one.text
    );
    let none = app
        .get("/v1/tenants/acme/rerates/rr-9", &app.operator_key)
        .await;
    assert_eq!(none.status, 404);
    // The tenant's own admin may not rerate.
    let r = app
        .post(
            "/v1/tenants/acme/rerate",
            &admin,
            json!({"from": at(-10), "to": at(1)}),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
}

#[tokio::test]
async fn bad_periods_are_refused_naming_the_field_and_change_nothing() {
    let mut app = TestApp::start().await;
    app.seed_tenant("acme", None).await;
    for (body, status, needle) in [
        (
            json!({"from": "yesterday", "to": "2026-01-01T00:00:00Z"}),
            400,
            "from",
        ),
        (
            json!({"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}),
            422,
            "before",
        ),
        (
            json!({"from": "2026-01-01T00:00:00Z", "to": "2026-02-01T00:00:00Z", "x": 1}),
            400,
            "x",
        ),
    ] {
        let r = app
            .post("/v1/tenants/acme/rerate", &app.operator_key, body)
            .await;
        assert_eq!(r.status, status, "{}", r.text);
        assert!(r.text.contains(needle), "{needle}: {}", r.text);
    }
    let r = app
        .post(
            "/v1/tenants/nobody/rerate",
            &app.operator_key,
            json!({"from": "2026-01-01T00:00:00Z", "to": "2026-02-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.text);
}

#[tokio::test]
async fn a_lot_the_run_empties_still_takes_back_the_next_calls_refund_c10_c24() {
    // Lot 1 (50) paid both calls; the first call's new charge empties it, and the second call's
    // refund goes back to it all the same (regression: the run stopped there).
    let mut app = TestApp::start().await;
    let (admin, bridge) = app.seed_tenant("acme", None).await;
    fund(&app, "acme", 50, "F1").await;
    let start = app.clock.now();
    let at = |s: i64| (start + jiff::SignedDuration::from_secs(s)).to_string();
    let calls = json!({"calls": [
        record("a", PPM, "dial_out", "+33 6 12 34 56 78", &at(-90_000), 12_000),
        record("b", PPM, "dial_out", "+33 6 12 34 56 79", &at(-70_000), 12_000),
    ]});
    let r = app.post("/v1/tenants/acme/calls", &bridge, calls).await;
    assert_eq!(r.status, 200, "{}", r.text);
    correct_the_card(&app).await;
    let run = rerate(&app, json!({"from": at(-100_000), "to": at(1)})).await;
    assert_eq!(run["changed"], 2, "{run}");
    let w = check_c24(&app, "acme", &admin).await;
    assert!(
        dec(&w["balance"]) < rust_decimal::Decimal::ZERO,
        "in debt now: {w}"
    );
}
