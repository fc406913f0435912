//! The plan advisor over HTTP: license prices set by the operator, a tenant's real usage of
//! two past months re-rated under every organizer pay-per-minute, every organizer on the
//! subscription with the shared pool (C20, C21, C32) and the cheapest assignment, each total
//! checked against a hand computation from the sample card's rates; the actual cost against
//! the ledger's debits plus the licenses purchased; bad parameters and foreign keys refused.

use crate::common;
use crate::support;

use common::*;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use support::*;

const SUB: &str = "sub@acme.example";
const PPM: &str = "ppm@acme.example";
const IDLE: &str = "idle@acme.example";

const TOLL: &str = "+33 1 86 95 00 00";
const TOLL_FREE: &str = "+33 805 98 00 00";
const CALLER: &str = "+33 1 44 55 66 77";
const MOBILE: &str = "+33 6 12 34 56 78";
const FIXED: &str = "+33 1 42 68 53 01";
const GERMANY: &str = "+49 30 123456";

/// Two subscription users (one without calls) and a pay-per-minute user; 2 MCOMEETADD (a
/// 120-minute pool per month, C20); MCOPSTNPP purchased 1 until 10 February, then 2.
fn acme() -> String {
    r#"
id = "acme"
name = "Acme"
country = "FR"
currency = "EUR"
timezone = "Europe/Paris"
agreement = "volume_licensing"

[licenses]
MCOMEETADD = 2
MCOMEETACPEA = 2
MCOPSTNPP = [
    { count = 1, from = "2025-01-01T00:00:00Z" },
    { count = 2, from = "2026-02-10T00:00:00Z" },
]

[wallet]

[[numbers]]
number = "+33 1 86 95 00 00"
kind = "toll"

[[numbers]]
number = "+33 805 98 00 00"
kind = "toll_free"

[[users]]
upn = "sub@acme.example"
display_name = "Sub User"
licenses = ["MCOMEETADD", "MCOPSTNPP"]

[[users]]
upn = "ppm@acme.example"
display_name = "PPM User"
licenses = ["MCOMEETACPEA"]

[[users]]
upn = "idle@acme.example"
display_name = "Idle User"
licenses = ["MCOMEETADD"]
"#
    .to_string()
}

fn record(
    id: &str,
    organizer: &str,
    direction: &str,
    number: &str,
    start: &str,
    minutes: i64,
) -> Value {
    let start_at = ts(start);
    let end = start_at
        .checked_add(jiff::SignedDuration::from_secs(minutes * 60))
        .expect("in range");
    let mut r = json!({
        "call_id": id,
        "conference_id": format!("conf-{id}"),
        "organizer": organizer,
        "direction": direction,
        "start": start,
        "end": end.to_string(),
    });
    if direction == "dial_in" {
        r["service_number"] = json!(number);
        r["caller_number"] = json!(CALLER);
    } else {
        r["destination_number"] = json!(number);
    }
    r
}

/// January and February 2026 (the clock stands at 2 March 2026), plus a call refused in reality.
fn usage() -> Vec<Value> {
    vec![
        record("s1", SUB, "dial_out", MOBILE, "2026-01-10T10:00:00Z", 100),
        record("s2", SUB, "dial_out", GERMANY, "2026-01-11T10:00:00Z", 30),
        record("p1", PPM, "dial_out", MOBILE, "2026-01-12T10:00:00Z", 40),
        record("s3", SUB, "dial_in", TOLL, "2026-01-13T10:00:00Z", 20),
        record("s4", SUB, "dial_in", TOLL_FREE, "2026-01-14T10:00:00Z", 15),
        record("p2", PPM, "dial_in", TOLL, "2026-01-15T10:00:00Z", 25),
        record("p3", PPM, "dial_in", TOLL_FREE, "2026-01-16T10:00:00Z", 10),
        record("s5", SUB, "dial_out", MOBILE, "2026-02-03T10:00:00Z", 130),
        record("p4", PPM, "dial_out", FIXED, "2026-02-04T10:00:00Z", 50),
        // Refused in reality (an organizer the tenant does not have): not usage.
        record(
            "x1",
            "ghost@acme.example",
            "dial_out",
            MOBILE,
            "2026-01-20T10:00:00Z",
            500,
        ),
    ]
}

async fn seeded() -> (TestApp, String, String) {
    let mut app = TestApp::start().await;
    let (admin, bridge) = app.seed_tenant_file(&acme(), Some("200")).await;
    let r = app
        .post("/v1/tenants/acme/calls", &bridge, json!({"calls": usage()}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["charged"], 9, "{}", r.text);
    assert_eq!(r.body["refused"], 1, "{}", r.text);
    let op = app.operator_key.clone();
    let r = app
        .put(
            "/v1/license-prices/EUR",
            &op,
            json!({"prices": {"MCOMEETADD": "6.00", "MCOMEETACPEA": "1.50", "MCOPSTNPP": "0.5"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["prices"]["MCOPSTNPP"], "0.50");
    (app, admin, bridge)
}

/// The cost of `minutes` whole minutes of the card's `kind`/`key` row.
fn cost(kind: &str, key: &str, minutes: u64) -> Decimal {
    Rate::of(kind, key).cost(minutes * 60)
}

/// `minutes` at a row's per-minute rate, without connection fee (a pool call's credit part,
/// C32), rounded once.
fn rest(kind: &str, key: &str, minutes: u64) -> Decimal {
    (Rate::of(kind, key).rate_per_minute * Decimal::from(minutes))
        .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
}

fn scenario<'a>(body: &'a Value, name: &str) -> &'a Value {
    &body["scenarios"][name]
}

fn user<'a>(body: &'a Value, upn: &str) -> &'a Value {
    body["users"]
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u["upn"] == upn)
        .unwrap_or_else(|| panic!("{upn} in {body}"))
}

#[tokio::test]
async fn c18_c19_c20_c21_c32_scenarios_match_a_hand_computation_from_the_card() {
    let (app, admin, _bridge) = seeded().await;
    let r = app
        .get("/v1/tenants/acme/advice?from=2026-01&to=2026-02", &admin)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let body = &r.body;
    assert_eq!(body["currency"], "EUR");
    assert_eq!(body["period"]["months"], 2);
    assert_eq!(body["period"]["start"], "2025-12-31T23:00:00Z");
    assert_eq!(body["calls"], 9, "the refused call is not usage");
    assert_eq!(body["unrated_calls"], 0);
    let (add, ppm_price, credits) = (d("6.00"), d("1.50"), d("0.50"));
    let months = Decimal::from(2);

    // (a) every organizer pay-per-minute: each call by credits at its rate (C18).
    let all_ppm_usage = cost("dial_out", "+336", 100)
        + cost("dial_out", "+49", 30)
        + cost("dial_out", "+336", 40)
        + cost("dial_in_toll", "FR", 20)
        + cost("dial_in_toll_free", "FR", 15)
        + cost("dial_in_toll", "FR", 25)
        + cost("dial_in_toll_free", "FR", 10)
        + cost("dial_out", "+336", 130)
        + cost("dial_out", "+33", 50);
    let a = scenario(body, "all_ppm");
    assert_eq!(a["available"], true);
    assert_eq!(dec(&a["usage_cost"]), all_ppm_usage);
    assert_eq!(
        dec(&a["license_cost"]),
        Decimal::from(3) * ppm_price * months
    );
    assert_eq!(
        dec(&a["total"]),
        all_ppm_usage + Decimal::from(3) * ppm_price * months
    );
    assert_eq!(a["pool_minutes_used"], 0);

    // (b) every organizer on the subscription: 3 x 60 pool minutes a month (C20). January:
    // 100 + 30 + 40 Zone A minutes fit; the toll dial-ins are included; the toll-free ones are
    // credits, so both callers' organizers need MCOPSTNPP (C19). February: 130 + 50 fit.
    let b_usage = cost("dial_in_toll_free", "FR", 15) + cost("dial_in_toll_free", "FR", 10);
    let b_license = Decimal::from(3) * add * months + Decimal::from(2) * credits * months;
    let b = scenario(body, "all_subscription");
    assert_eq!(dec(&b["usage_cost"]), b_usage);
    assert_eq!(dec(&b["license_cost"]), b_license);
    assert_eq!(dec(&b["total"]), b_usage + b_license);
    assert_eq!(b["pool_minutes_used"], 100 + 30 + 40 + 130 + 50);
    assert_eq!(b["pool_minutes_size"], 360);

    // (c) the cheapest: Sub and Idle on the subscription (Idle's 60 minutes a month keep most
    // of Sub's dial-outs in the pool), PPM pay-per-minute. Pool 120: January 100 minutes, then
    // the German call outruns the 20 left: 10 minutes by credits (C32); February 120 of 130,
    // 10 by credits. Only Sub needs MCOPSTNPP.
    let c_usage = rest("dial_out", "+49", 10)
        + cost("dial_in_toll_free", "FR", 15)
        + rest("dial_out", "+336", 10)
        + cost("dial_out", "+336", 40)
        + cost("dial_in_toll", "FR", 25)
        + cost("dial_in_toll_free", "FR", 10)
        + cost("dial_out", "+33", 50);
    let c_license = (add + add + credits + ppm_price) * months;
    let c = scenario(body, "cheapest");
    assert_eq!(dec(&c["usage_cost"]), c_usage);
    assert_eq!(dec(&c["license_cost"]), c_license);
    assert_eq!(dec(&c["total"]), c_usage + c_license);
    assert_eq!(c["pool_minutes_used"], 240);
    assert!(dec(&c["total"]) <= dec(&a["total"]).min(dec(&b["total"])));
    assert_eq!(body["search"], "exhaustive");
    assert_eq!(user(body, SUB)["recommended"], "MCOMEETADD");
    assert_eq!(user(body, SUB)["credits_license"], true);
    assert_eq!(user(body, IDLE)["recommended"], "MCOMEETADD");
    assert_eq!(user(body, IDLE)["calls"], 0);
    assert_eq!(user(body, PPM)["recommended"], "MCOMEETACPEA");
    assert_eq!(user(body, PPM)["current"], "MCOMEETACPEA");
    assert_eq!(user(body, PPM)["calls"], 4);
    assert_eq!(user(body, PPM)["minutes"], 40 + 25 + 10 + 50);
    assert_eq!(
        dec(&user(body, PPM)["cost_ppm"]),
        cost("dial_out", "+336", 40)
            + cost("dial_in_toll", "FR", 25)
            + cost("dial_in_toll_free", "FR", 10)
            + cost("dial_out", "+33", 50)
            + ppm_price * months
    );

    // Actual: the ledger's debits for these calls plus the licenses purchased, each month at
    // its largest count (MCOPSTNPP: 1 in January, 2 in February).
    let debits: Decimal = ledger(&app, "acme", &admin)
        .await
        .iter()
        .filter(|e| e["kind"] == "debit")
        .map(|e| dec(&e["amount"]).abs())
        .sum();
    let actual_license = Decimal::from(2) * add * months
        + Decimal::from(2) * ppm_price * months
        + credits * Decimal::from(1 + 2);
    let actual = scenario(body, "actual");
    assert_eq!(dec(&actual["usage_cost"]), debits);
    assert_eq!(dec(&actual["license_cost"]), actual_license);
    assert_eq!(dec(&actual["total"]), debits + actual_license);
    assert_eq!(actual["pool_minutes_used"], 240);
    // The tenant already has the cheapest assignment; it pays for licenses it does not use.
    assert_eq!(debits, c_usage);
    assert_eq!(
        dec(&body["saving"]),
        debits + actual_license - (c_usage + c_license)
    );
    assert_eq!(body["missing_prices"], json!([]));

    // A price left out counts as 0 and is listed.
    let op = app.operator_key.clone();
    let r = app
        .put(
            "/v1/license-prices/EUR",
            &op,
            json!({"prices": {"MCOMEETADD": "6.00", "MCOPSTNPP": "0.50"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app
        .get("/v1/tenants/acme/advice?from=2026-01&to=2026-02", &admin)
        .await;
    assert_eq!(
        r.body["missing_prices"],
        json!(["MCOMEETACPEA"]),
        "{}",
        r.text
    );
    assert_eq!(dec(&scenario(&r.body, "all_ppm")["license_cost"]), d("0"));
}

#[tokio::test]
async fn license_prices_are_set_by_the_operator_checked_audited_and_read_by_every_key() {
    let (app, admin, bridge) = seeded().await;
    let op = app.operator_key.clone();
    for key in [&admin, &bridge, &op] {
        let r = app.get("/v1/license-prices", key).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            r.body,
            json!({"currencies": [{"currency": "EUR", "prices": {
                "MCOMEETACPEA": "1.50", "MCOMEETADD": "6.00", "MCOPSTNPP": "0.50"}}]})
        );
    }
    let r = app
        .put(
            "/v1/license-prices/EUR",
            &admin,
            json!({"prices": {"MCOMEETADD": "1"}}),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text);

    let refused: Vec<(&str, Value, &str)> = vec![
        ("EUR", json!({"prices": {"MCOBOGUS": "1"}}), "MCOBOGUS"),
        ("XYZ", json!({"prices": {"MCOMEETADD": "1"}}), "XYZ"),
        ("EUR", json!({"prices": {"MCOMEETADD": "-1"}}), "MCOMEETADD"),
        (
            "EUR",
            json!({"prices": {"MCOMEETADD": "1.001"}}),
            "MCOMEETADD",
        ),
        ("EUR", json!({"prices": {"MCOMEETADD": 8}}), "MCOMEETADD"),
        (
            "EUR",
            json!({"prices": {"MCOMEETADD": "1e3"}}),
            "MCOMEETADD",
        ),
        (
            "EUR",
            json!({"prices": {"MCOMEETADD": "1000000"}}),
            "MCOMEETADD",
        ),
        ("JPY", json!({"prices": {"MCOPSTNPP": "1.5"}}), "MCOPSTNPP"),
    ];
    for (currency, body, named) in refused {
        let r = app
            .put(&format!("/v1/license-prices/{currency}"), &op, body.clone())
            .await;
        // More decimals than the currency has is well formed, but unprocessable.
        let (status, code) = if currency == "JPY" || body["prices"]["MCOMEETADD"] == "1.001" {
            (422, "unprocessable_request")
        } else {
            (400, "invalid_request")
        };
        assert_eq!(r.status, status, "{body}: {}", r.text);
        assert_eq!(r.body["error"]["code"], code);
        assert!(r.text.contains(named), "{body} names {named}: {}", r.text);
    }
    // Nothing changed.
    let r = app.get("/v1/license-prices", &admin).await;
    assert_eq!(r.body["currencies"][0]["prices"]["MCOMEETADD"], "6.00");
    assert_eq!(r.body["currencies"].as_array().unwrap().len(), 1);

    // Each change has its audit row; the same prices again record nothing.
    let body = json!({"prices": {"MCOMEETADD": "7.25"}});
    for _ in 0..2 {
        let r = app.put("/v1/license-prices/EUR", &op, body.clone()).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let r = app.get("/v1/audit?limit=1000", &op).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let rows: Vec<&Value> = r.body["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["action"] == "license_prices.set")
        .collect();
    assert_eq!(rows.len(), 2, "{}", r.text);
    assert_eq!(rows[1]["object"], "EUR");
    assert_eq!(rows[1]["before"]["MCOMEETADD"], "6.00");
    assert_eq!(rows[1]["after"], json!({"MCOMEETADD": "7.25"}));
}

#[tokio::test]
async fn bad_periods_and_foreign_keys_are_refused() {
    let (mut app, admin, bridge) = seeded().await;
    let bad = [
        ("", "from"),
        ("?from=2026-01", "to"),
        ("?to=2026-01", "from"),
        ("?from=2026-1&to=2026-02", "from"),
        ("?from=2026-01&to=2026-13", "to"),
        ("?from=2026-01-01&to=2026-02", "from"),
        ("?from=2026-02&to=2026-01", "before"),
        ("?from=2025-01&to=2026-01", "12 months"),
        ("?from=2026-01&to=2026-04", "future"),
    ];
    for (query, named) in bad {
        let r = app
            .get(&format!("/v1/tenants/acme/advice{query}"), &admin)
            .await;
        // Well-formed months that make no period are unprocessable, not malformed.
        let (status, code) = if matches!(named, "before" | "12 months" | "future") {
            (422, "unprocessable_request")
        } else {
            (400, "invalid_request")
        };
        assert_eq!(r.status, status, "{query}: {}", r.text);
        assert_eq!(r.body["error"]["code"], code);
        assert!(r.text.contains(named), "{query} names {named}: {}", r.text);
    }
    // The current month is not in the future.
    let r = app
        .get("/v1/tenants/acme/advice?from=2026-03&to=2026-03", &admin)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["calls"], 0);

    let (other_admin, _) = app.seed_tenant("globex", None).await;
    let path = "/v1/tenants/acme/advice?from=2026-01&to=2026-02";
    let r = app.get(path, &other_admin).await;
    assert_eq!(r.status, 404, "{}", r.text);
    let r = app.get(path, &bridge).await;
    assert_eq!(r.status, 403, "{}", r.text);
    let r = app.get(path, &app.operator_key.clone()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app
        .get(
            "/v1/tenants/nobody/advice?from=2026-01&to=2026-02",
            &app.operator_key.clone(),
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.text);
}
