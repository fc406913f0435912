//! Money at the edge (C11, C24): every money input has a bound, is never rounded, and no
//! amount any credential can send reaches a panic. Black-box, against a real server.
//!
//! Bounds (README "Limits"): an amount (funding, auto-recharge amount and trigger, low-balance
//! threshold) is at most 1000000000000; a balance with its scheduled fundings at most
//! 1000000000000000; a rate per minute and a connection fee at most 1000000.

use crate::common;
use crate::support;

use common::*;
use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, TestRunner};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::str::FromStr;

fn dec(v: &Value) -> Decimal {
    Decimal::from_str(v.as_str().expect("a decimal string")).expect("a decimal")
}

/// The sample card, then a version from February with the largest rate and fee accepted on
/// every French destination.
const MAX_RATES: &str = minutely_testkit::rate_card!(
    "\
dial_out,+33,,France,FR,false,1000000,1000000,60,60,2026-02-01T00:00:00Z
dial_out,+336,,France mobile,FR,false,1000000,1000000,3600,3600,2026-02-01T00:00:00Z
dial_out,+1,,North America,US,false,0.0100,0,60,60,2026-02-01T00:00:00Z
dial_in_toll,FR,,France toll,FR,false,1000000,0,60,60,2026-02-01T00:00:00Z
dial_in_toll_free,FR,*,France toll-free,FR,false,1000000,1000000,60,60,2026-02-01T00:00:00Z
"
);

async fn import_card(app: &TestApp, csv: &str) -> Resp {
    app.request(
        reqwest::Method::POST,
        "/v1/rate-cards/EUR",
        Some(&app.operator_key),
        Some(RequestBody::Text("text/csv", csv.to_string())),
        &[],
    )
    .await
}

async fn fund(app: &TestApp, amount: &str, reference: &str) -> Resp {
    app.post(
        "/v1/tenants/acme/wallet/fundings",
        &app.operator_key,
        json!({"amount": amount, "reference": reference}),
    )
    .await
}

/// C24 as the API reports it: funded - debited - forfeited = balance.
async fn check_c24(app: &TestApp, admin: &str) -> Value {
    let w = app.get("/v1/tenants/acme/wallet", admin).await;
    assert_eq!(w.status, 200, "{}", w.text);
    assert_eq!(
        dec(&w.body["funded"]) - dec(&w.body["debited"]) - dec(&w.body["forfeited"]),
        dec(&w.body["balance"]),
        "C24: {}",
        w.text
    );
    w.body
}

#[tokio::test]
async fn c11_a_funding_beyond_any_balance_is_refused_and_every_tenant_stays_up() {
    let mut app = TestApp::start().await;
    let (admin, _) = app.seed_tenant("acme", Some("100")).await;
    // Added to the 100 already funded, this once overflowed the wallet's totals in the writer.
    let r = fund(&app, "79228162514264337593543950000", "huge").await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.body["error"]["code"], "amount_out_of_range", "{}", r.text);
    let detail = r.body["error"]["detail"].as_str().expect("a detail");
    assert!(
        detail.contains("amount") && detail.contains("1000000000000"),
        "the detail names the field and the bound: {detail}"
    );
    for amount in [
        "1000000000001",
        "9999999999999999999999999999",
        "79228162514264337593543950335",
    ] {
        let r = fund(&app, amount, &format!("big-{amount}")).await;
        assert_eq!(r.status, 422, "{amount}: {}", r.text);
        assert_eq!(r.body["error"]["code"], "amount_out_of_range", "{}", r.text);
    }
    // The message is localized.
    let r = app
        .request(
            reqwest::Method::POST,
            "/v1/tenants/acme/wallet/fundings",
            Some(&app.operator_key),
            Some(RequestBody::Json(
                json!({"amount": "5000000000000", "reference": "fr"}),
            )),
            &[("accept-language", "fr")],
        )
        .await;
    assert_eq!(r.body["error"]["code"], "amount_out_of_range", "{}", r.text);
    assert_eq!(r.body["error"]["lang"], "fr", "{}", r.text);
    // The largest amount is accepted; the server still answers for every tenant.
    let r = fund(&app, "1000000000000", "largest").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let w = check_c24(&app, &admin).await;
    assert_eq!(w["balance"], "1000000000100.00", "{w}");
    app.restart().await;
    check_c24(&app, &admin).await;
    app.stop().await;
}

#[tokio::test]
async fn c11_an_amount_is_never_rounded() {
    let mut app = TestApp::start().await;
    let (admin, _) = app.seed_tenant("acme", Some("100")).await;
    for amount in [
        "100.0000000000000000000000000001",
        "100.00000000000000000000000000001",
        "0.00000000000000000000000000000000000001",
    ] {
        let r = fund(&app, amount, &format!("r-{amount}")).await;
        assert_eq!(r.status, 422, "{amount}: {}", r.text);
        assert_eq!(
            r.body["error"]["code"], "amount_not_whole",
            "{amount}: {}",
            r.text
        );
    }
    // Trailing zeros are not digits that count.
    let r = fund(&app, "100.000000000000000000000000000000", "zeros").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let w = check_c24(&app, &admin).await;
    assert_eq!(w["balance"], "200.00", "{w}");
    app.stop().await;
}

#[tokio::test]
async fn c11_wallet_settings_are_bounded() {
    let mut app = TestApp::start().await;
    let (admin, _) = app.seed_tenant("acme", Some("100")).await;
    for (trigger, amount) in [
        ("1000000000001", "100"),
        ("100", "79228162514264337593543950335"),
        ("100", "792281625142643375935439503350"),
    ] {
        let r = app
            .put(
                "/v1/tenants/acme/wallet/auto-recharge",
                &admin,
                json!({"enabled": true, "trigger": trigger, "amount": amount}),
            )
            .await;
        assert_eq!(r.status, 422, "{trigger} {amount}: {}", r.text);
        assert_eq!(r.body["error"]["code"], "amount_out_of_range", "{}", r.text);
    }
    let r = app
        .put(
            "/v1/tenants/acme/wallet/auto-recharge",
            &admin,
            json!({"enabled": true, "trigger": "100.00000000000000000000000000001", "amount": "100"}),
        )
        .await;
    assert_eq!(r.body["error"]["code"], "amount_not_whole", "{}", r.text);
    let r = app
        .put(
            "/v1/tenants/acme/wallet/settings",
            &admin,
            json!({"low_balance_thresholds": ["79228162514264337593543950335"]}),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.body["error"]["code"], "amount_out_of_range", "{}", r.text);
    let r = app
        .put(
            "/v1/tenants/acme/wallet/settings",
            &admin,
            json!({"low_balance_thresholds": ["10.000000000000000000000000000001"]}),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    // The largest values are accepted.
    let r = app
        .put(
            "/v1/tenants/acme/wallet/auto-recharge",
            &admin,
            json!({"enabled": true, "trigger": "1000000000000", "amount": "1000000000000"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    check_c24(&app, &admin).await;
    app.stop().await;
}

#[tokio::test]
async fn c9_a_rate_card_beyond_the_bounds_is_refused_and_authorize_keeps_working() {
    let mut app = TestApp::start().await;
    let (admin, bridge) = app.seed_tenant("acme", Some("100")).await;
    let huge = MAX_RATES.replacen(
        "France,FR,false,1000000,1000000",
        "France,FR,false,7922816251426433759354395033,0",
        1,
    );
    let r = import_card(&app, &huge).await;
    // A card of the format whose row breaks a bound: unprocessable.
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(
        r.text.contains("rate_per_minute") && r.text.contains("1000000"),
        "the row, the column and the bound are named: {}",
        r.text
    );
    for (from, to) in [
        (
            "France,FR,false,1000000,1000000",
            "France,FR,false,1000000.01,0",
        ),
        (
            "France,FR,false,1000000,1000000",
            "France,FR,false,1,1000000.01",
        ),
        (
            "France,FR,false,1000000,1000000",
            "France,FR,false,0.0240000000000000000000000000001,0",
        ),
    ] {
        let r = import_card(&app, &MAX_RATES.replacen(from, to, 1)).await;
        assert_eq!(r.status, 422, "{to}: {}", r.text);
    }
    // Nothing was imported: a call to France is priced at the sample card's rate.
    let r = app
        .post(
            "/v1/tenants/acme/calls/c1/authorize",
            &bridge,
            support::dial_out("ppm@acme.example", "+33 1 44 55 66 77"),
        )
        .await;
    assert_eq!(r.body["decision"], "allow", "{}", r.text);
    app.clock.advance(60);
    let r = app
        .post(
            "/v1/tenants/acme/calls/c1/end",
            &bridge,
            json!({"duration_s": 60}),
        )
        .await;
    assert_eq!(r.body["charge"]["amount"], "0.02", "{}", r.text);
    // The largest rate and fee are accepted, and price a call exactly.
    let r = import_card(&app, MAX_RATES).await;
    assert_eq!(r.status, 200, "{}", r.text);
    app.restart().await;
    check_c24(&app, &admin).await;
    app.stop().await;
}

#[tokio::test]
async fn c11_a_tenant_file_with_an_unbounded_funding_is_refused_whole() {
    let mut app = TestApp::start().await;
    let (admin, _) = app.seed_tenant("acme", Some("100")).await;
    for amount in [
        "\"79228162514264337593543950000\"",
        "1000000000001",
        "\"50.00000000000000000000000000001\"",
    ] {
        let file = tenant_file("acme").replace(
            "[wallet]\n",
            &format!(
                "[wallet]\n\n[[wallet.fundings]]\nreference = \"po-1\"\namount = {amount}\nat = \"2026-03-01T00:00:00Z\"\n"
            ),
        );
        let r = app
            .request(
                reqwest::Method::PUT,
                "/v1/tenants/acme/file",
                Some(&app.operator_key),
                Some(RequestBody::Text("application/toml", file)),
                &[],
            )
            .await;
        assert!(
            r.status == 422 || r.status == 400,
            "{amount}: {} {}",
            r.status,
            r.text
        );
        let code = r.body["error"]["code"].as_str().unwrap_or_default();
        assert!(
            code == "amount_out_of_range" || code == "amount_not_whole",
            "{amount}: {}",
            r.text
        );
    }
    let w = check_c24(&app, &admin).await;
    assert_eq!(w["balance"], "100.00", "{w}");
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Extreme values, thrown at every money path
// ---------------------------------------------------------------------------------------------

/// A decimal text of any shape the grammar allows, and a few named extremes.
fn amount_text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("79228162514264337593543950335".to_string()),
        Just("-79228162514264337593543950335".to_string()),
        Just("79228162514264337593543950336".to_string()),
        Just("0.0000000000000000000000000001".to_string()),
        Just("7.9228162514264337593543950335".to_string()),
        Just("1000000000000".to_string()),
        Just("1000000000001".to_string()),
        Just("0".to_string()),
        Just("-50".to_string()),
        Just("50".to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        "-?[0-9]{1,40}(\\.[0-9]{0,34})?",
    ]
}

/// A duration in seconds: zero, small, a year, or anything up to u64::MAX.
fn duration_s() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        1u64..7_200,
        Just(31_536_000u64),
        Just(31_536_001u64),
        Just(u64::MAX),
        Just(i64::MAX as u64),
        any::<u64>(),
    ]
}

#[derive(Debug, Clone)]
enum Op {
    Fund(String),
    AutoRecharge(String, String),
    Thresholds(String, String),
    /// A bulk record to France (the largest rate) from `start_s` after 2026-03-01 lasting
    /// `duration_s` (clamped to the last representable instant).
    Bulk(u64, u64),
    /// Authorize (to a French mobile: hour blocks at the largest rate), extend with
    /// `granted_s`, end after `duration_s`.
    Live(u64, u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        amount_text().prop_map(Op::Fund),
        (amount_text(), amount_text()).prop_map(|(t, a)| Op::AutoRecharge(t, a)),
        (amount_text(), amount_text()).prop_map(|(a, b)| Op::Thresholds(a, b)),
        (duration_s(), duration_s()).prop_map(|(s, d)| Op::Bulk(s, d)),
        (duration_s(), duration_s()).prop_map(|(g, d)| Op::Live(g, d)),
    ]
}

/// `2026-03-01` plus `seconds`, or the last instant of 9999 beyond it.
fn instant_after(seconds: u64) -> String {
    let base = ts("2026-03-01T00:00:00Z");
    i64::try_from(seconds)
        .ok()
        .and_then(|s| base.checked_add(jiff::SignedDuration::from_secs(s)).ok())
        .unwrap_or(jiff::Timestamp::MAX)
        .to_string()
}

struct Keys {
    admin: String,
    bridge: String,
}

async fn run(app: &TestApp, keys: &Keys, n: usize, op: &Op) -> Vec<Resp> {
    let op_key = app.operator_key.clone();
    match op {
        Op::Fund(amount) => vec![fund(app, amount, &format!("p-{n}")).await],
        Op::AutoRecharge(trigger, amount) => vec![
            app.put(
                "/v1/tenants/acme/wallet/auto-recharge",
                &keys.admin,
                json!({"enabled": true, "trigger": trigger, "amount": amount}),
            )
            .await,
        ],
        Op::Thresholds(a, b) => vec![
            app.put(
                "/v1/tenants/acme/wallet/settings",
                &op_key,
                json!({"low_balance_thresholds": [a, b]}),
            )
            .await,
        ],
        Op::Bulk(start_s, duration_s) => {
            let start = instant_after(*start_s);
            let end = instant_after(start_s.saturating_add(*duration_s));
            let call = json!({"call_id": format!("b-{n}"), "conference_id": "m", "organizer": "ppm@acme.example",
                "direction": "dial_out", "destination_number": "+33 1 44 55 66 77", "start": start, "end": end});
            vec![
                app.post(
                    "/v1/tenants/acme/calls",
                    &keys.bridge,
                    json!({"calls": [call]}),
                )
                .await,
            ]
        }
        Op::Live(granted_s, duration_s) => {
            let id = format!("l-{n}");
            let a = app
                .post(
                    &format!("/v1/tenants/acme/calls/{id}/authorize"),
                    &keys.bridge,
                    support::dial_out("ppm@acme.example", "+33 6 12 34 56 78"),
                )
                .await;
            let e = app
                .post(
                    &format!("/v1/tenants/acme/calls/{id}/extend"),
                    &keys.bridge,
                    json!({"granted_s": granted_s}),
                )
                .await;
            let d = app
                .post(
                    &format!("/v1/tenants/acme/calls/{id}/end"),
                    &keys.bridge,
                    json!({"duration_s": duration_s}),
                )
                .await;
            vec![a, e, d]
        }
    }
}

#[test]
fn c24_extreme_values_never_reach_a_5xx_and_the_ledger_still_adds_up() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let (mut app, keys) = runtime.block_on(async {
        let mut app = TestApp::start().await;
        let (admin, bridge) = app.seed_tenant("acme", Some("100")).await;
        let r = import_card(&app, MAX_RATES).await;
        assert!(r.status < 500, "{}", r.text);
        (app, Keys { admin, bridge })
    });
    let mut runner = TestRunner::new(RunnerConfig {
        cases: 24,
        failure_persistence: None,
        ..RunnerConfig::default()
    });
    let n = std::cell::Cell::new(0usize);
    let result = runner.run(&proptest::collection::vec(op(), 1..6), |ops| {
        runtime.block_on(async {
            for op in &ops {
                n.set(n.get() + 1);
                for r in run(&app, &keys, n.get(), op).await {
                    prop_assert!(r.status < 500, "{op:?}: {} {}", r.status, r.text);
                }
            }
            let w = app.get("/v1/tenants/acme/wallet", &keys.admin).await;
            prop_assert_eq!(w.status, 200, "the server still answers: {}", w.text);
            prop_assert_eq!(
                dec(&w.body["funded"]) - dec(&w.body["debited"]) - dec(&w.body["forfeited"]),
                dec(&w.body["balance"]),
                "C24: {}",
                w.text
            );
            Ok(())
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    // The store checks C24 against the journal as it loads every tenant.
    runtime.block_on(async {
        app.restart().await;
        check_c24(&app, &keys.admin).await;
        app.stop().await;
    });
}
