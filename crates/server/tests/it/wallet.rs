//! The wallet routes, black-box: fundings (C10, C11, C13, C3, C40), the wallet's state (C14,
//! C24, projected depletion), lots, the journal with its running balance, the outbox (C15).

use crate::common;

use common::*;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::str::FromStr;

fn dec(v: &Value) -> Decimal {
    Decimal::from_str(
        v.as_str()
            .unwrap_or_else(|| panic!("a decimal string, not {v}")),
    )
    .expect("a decimal")
}

/// T0 plus `seconds`, as RFC 3339.
fn at(seconds: i64) -> String {
    (ts(T0) + jiff::SignedDuration::from_secs(seconds)).to_string()
}

/// A call record starting `start_s` after T0 and lasting `duration_s`.
fn record(
    id: &str,
    organizer: &str,
    direction: &str,
    number: &str,
    start_s: i64,
    duration_s: i64,
) -> Value {
    let (service, destination) = if direction == "dial_in" {
        (number, "")
    } else {
        ("", number)
    };
    json!({
        "call_id": id,
        "conference_id": "m1",
        "organizer": organizer,
        "direction": direction,
        "service_number": service,
        "caller_number": if direction == "dial_in" { "+33 6 98 76 54 32" } else { "" },
        "destination_number": destination,
        "start": at(start_s),
        "end": at(start_s + duration_s),
    })
}

async fn ingest(app: &TestApp, key: &str, tenant: &str, calls: Vec<Value>) -> Resp {
    let r = app
        .post(
            &format!("/v1/tenants/{tenant}/calls"),
            key,
            json!({ "calls": calls }),
        )
        .await;
    assert_eq!(r.status, 200, "ingest: {}", r.text);
    r
}

async fn fund(app: &TestApp, key: &str, tenant: &str, amount: Value, reference: &str) -> Resp {
    app.post(
        &format!("/v1/tenants/{tenant}/wallet/fundings"),
        key,
        json!({"amount": amount, "reference": reference}),
    )
    .await
}

/// Every journal entry, following `next` with pages of `limit`.
async fn whole_ledger(app: &TestApp, key: &str, tenant: &str, limit: usize) -> Vec<Value> {
    let mut entries = Vec::new();
    let mut after = String::new();
    for _ in 0..1000 {
        let r = app
            .get(
                &format!("/v1/tenants/{tenant}/wallet/ledger?limit={limit}&after={after}"),
                key,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let page = r.body["entries"].as_array().expect("entries").clone();
        assert!(page.len() <= limit, "a page holds at most `limit` entries");
        entries.extend(page);
        match r.body["next"].as_str() {
            Some(next) => after = next.to_string(),
            None => return entries,
        }
    }
    panic!("the ledger never ends");
}

/// C24 over the API: sequences without gaps, postings that balance, a running balance that
/// follows from each delta, and deltas that sum to the wallet's balance.
async fn check_c24(app: &TestApp, key: &str, tenant: &str, page: usize) -> Vec<Value> {
    let entries = whole_ledger(app, key, tenant, page).await;
    let mut running = Decimal::ZERO;
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(e["seq"], json!(i as u64 + 1), "seq without gaps: {e}");
        let legs: Decimal = e["postings"]
            .as_array()
            .expect("postings")
            .iter()
            .map(|p| dec(&p["amount"]))
            .sum();
        assert_eq!(legs, Decimal::ZERO, "postings balance: {e}");
        running += dec(&e["delta"]);
        assert_eq!(dec(&e["balance_after"]), running, "running balance: {e}");
    }
    let w = app.get(&format!("/v1/tenants/{tenant}/wallet"), key).await;
    assert_eq!(w.status, 200, "{}", w.text);
    assert_eq!(
        dec(&w.body["balance"]),
        running,
        "C24: deltas sum to the balance"
    );
    assert_eq!(
        dec(&w.body["funded"]) - dec(&w.body["debited"]) - dec(&w.body["forfeited"]),
        dec(&w.body["balance"]),
        "C24: funded - debited - forfeited = balance"
    );
    entries
}

#[tokio::test]
async fn c10_c24_funding_then_wallet_lots_and_ledger_agree() {
    let mut app = TestApp::start().await;
    let (admin, _bridge) = app.seed_tenant("acme", Some("100")).await;
    app.clock.advance(3600);
    let r = fund(&app, &admin, "acme", json!("50"), "PO-1").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["lot"]["id"], 2);
    assert_eq!(r.body["lot"]["amount"], "50.00");
    assert_eq!(r.body["lot"]["remaining"], "50.00");
    assert_eq!(r.body["lot"]["funded_at"], "2026-03-02T10:00:00Z");
    // C10: 12 calendar months later, same Paris wall-clock time.
    assert_eq!(r.body["lot"]["expires_at"], "2027-03-02T10:00:00Z");
    assert_eq!(r.body["lot"]["reference"], "PO-1");
    assert_eq!(r.body["balance"], "150.00");
    assert_eq!(r.body["available"], "150.00");
    assert_eq!(r.body["paid_debt"], "0.00");

    let w = app.get("/v1/tenants/acme/wallet", &admin).await;
    assert_eq!(w.status, 200, "{}", w.text);
    assert_eq!(w.body["currency"], "EUR");
    assert_eq!(w.body["set_up"], true);
    assert_eq!(w.body["balance"], "150.00");
    assert_eq!(w.body["available"], "150.00");
    assert_eq!(w.body["reserved"], "0.00");
    assert_eq!(w.body["live_reservations"], 0);
    assert_eq!(w.body["debt"], "0.00");
    assert_eq!(w.body["funded"], "150.00");
    assert_eq!(w.body["debited"], "0.00");
    assert_eq!(w.body["live_lots"], 2);
    assert_eq!(w.body["clock"], "2026-03-02T10:00:00Z");
    assert_eq!(w.body["projected_depletion"], Value::Null, "no debits yet");

    let lots = app.get("/v1/tenants/acme/wallet/lots", &admin).await;
    assert_eq!(lots.status, 200, "{}", lots.text);
    let ids: Vec<&Value> = lots.body["lots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| &l["id"])
        .collect();
    assert_eq!(ids, [&json!(1), &json!(2)], "oldest first");
    assert_eq!(lots.body["lots"][0]["reference"], "seed");
    assert_eq!(lots.body["lots"][0]["source"], "manual");
    assert_eq!(lots.body["live_total"], "150.00");

    let entries = check_c24(&app, &admin, "acme", 2).await;
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[1]["kind"], "funding");
    assert_eq!(entries[1]["reference"], "PO-1");
    assert_eq!(entries[1]["amount"], "50.00");
    assert_eq!(entries[1]["balance_after"], "150.00");

    // Debits drain lot 1 first (C10); the ledger keeps adding up (C24).
    let r = ingest(
        &app,
        &admin,
        "acme",
        vec![
            record(
                "c1",
                "ppm@acme.example",
                "dial_out",
                "+33 6 12 34 56 78",
                7200,
                90,
            ),
            record(
                "c2",
                "ppm@acme.example",
                "dial_out",
                "+33 1 42 68 53 00",
                7300,
                90,
            ),
        ],
    )
    .await;
    assert_eq!(r.body["charged"], 2, "{}", r.text);
    let entries = check_c24(&app, &admin, "acme", 2).await;
    assert_eq!(entries.len(), 4);
    assert_eq!(entries[2]["kind"], "debit");
    assert_eq!(entries[2]["call_id"], "c1");
    assert_eq!(entries[2]["amount"], "0.22");
    assert_eq!(entries[2]["delta"], "-0.22");
    assert_eq!(entries[2]["balance_after"], "149.78");
    assert_eq!(entries[3]["balance_after"], "149.73");
    let lots = app.get("/v1/tenants/acme/wallet/lots", &admin).await;
    assert_eq!(lots.body["lots"][0]["remaining"], "99.73");
    assert_eq!(lots.body["lots"][1]["remaining"], "50.00");
    let w = app.get("/v1/tenants/acme/wallet", &admin).await;
    assert_eq!(w.body["debited"], "0.27");
    assert_eq!(w.body["balance"], "149.73");

    // After a restart everything reads back the same.
    app.restart().await;
    let again = check_c24(&app, &admin, "acme", 2).await;
    assert_eq!(again, entries);
    app.stop().await;
}

fn reseller_file() -> String {
    r#"
id = "resell"
name = "Reseller"
country = "FR"
currency = "EUR"
timezone = "Europe/Paris"
agreement = "reseller"

[licenses]
MCOMEETADD = 1
MCOPSTNPP = 1

[wallet]

[[users]]
upn = "sub@resell.example"
display_name = "Sub"
licenses = ["MCOMEETADD", "MCOPSTNPP"]
"#
    .to_string()
}

fn no_wallet_file() -> String {
    r#"
id = "bare"
name = "No wallet"
country = "FR"
currency = "EUR"
timezone = "Europe/Paris"
agreement = "volume_licensing"

[licenses]
MCOMEETADD = 1

[[users]]
upn = "sub@bare.example"
display_name = "Sub"
licenses = ["MCOMEETADD"]
"#
    .to_string()
}

#[tokio::test]
async fn c11_c40_c3_refused_fundings_name_their_reason_and_change_nothing() {
    let mut app = TestApp::start().await;
    let (admin, bridge) = app.seed_tenant("acme", Some("100")).await;
    let (reseller_admin, _) = app.seed_tenant_file(&reseller_file(), None).await;
    let (bare_admin, _) = app.seed_tenant_file(&no_wallet_file(), None).await;
    let operator = app.operator_key.clone();
    let before = whole_ledger(&app, &admin, "acme", 100).await;

    // C11/C40: below the minimum is checked before whole units.
    for (amount, code) in [
        ("49", "amount_below_minimum"),
        ("49.50", "amount_below_minimum"),
        ("-100", "amount_below_minimum"),
        ("0", "amount_below_minimum"),
        ("50.50", "amount_not_whole"),
        ("100.001", "amount_not_whole"),
    ] {
        let r = fund(&app, &admin, "acme", json!(amount), &format!("R-{amount}")).await;
        assert_eq!(r.status, 422, "{amount}: {}", r.text);
        assert_eq!(r.body["error"]["code"], code, "{amount}: {}", r.text);
        assert_eq!(r.body["error"]["rule"], "C11", "{amount}");
    }
    // Malformed input is 400, naming the field.
    for (body, field) in [
        (json!({"amount": "12,5", "reference": "X"}), "amount"),
        (json!({"amount": "1e3", "reference": "X"}), "amount"),
        (json!({"amount": 100, "reference": "X"}), "amount"),
        (json!({"amount": "100", "reference": ""}), "reference"),
        (
            json!({"amount": "100", "reference": "x".repeat(300)}),
            "reference",
        ),
        (json!({"amount": "100"}), "reference"),
        (
            json!({"amount": "100", "reference": "X", "extra": 1}),
            "extra",
        ),
    ] {
        let r = app
            .post("/v1/tenants/acme/wallet/fundings", &admin, body.clone())
            .await;
        assert_eq!(r.status, 400, "{body}: {}", r.text);
        assert_eq!(r.body["error"]["code"], "invalid_request");
        let detail = r.body["error"]["detail"].as_str().unwrap_or_default();
        assert!(
            detail.contains(field),
            "{body}: the detail names {field}: {detail}"
        );
    }
    // C3: only the operator funds a reseller's wallet.
    let r = fund(&app, &reseller_admin, "resell", json!("100"), "R-1").await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.body["error"]["code"], "funding_not_permitted");
    assert_eq!(r.body["error"]["rule"], "C3");
    // C40: no wallet, no funding.
    let r = fund(&app, &operator, "bare", json!("100"), "B-1").await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.body["error"]["code"], "credits_not_set_up");
    // Access: a bridge key may not fund; another tenant's admin does not see the tenant.
    let r = fund(&app, &bridge, "acme", json!("100"), "K-1").await;
    assert_eq!(r.status, 403, "{}", r.text);
    let r = app
        .post(
            "/v1/tenants/acme/wallet/fundings",
            &reseller_admin,
            json!({}),
        )
        .await;
    assert_eq!(
        r.status, 404,
        "the tenant is checked before the body: {}",
        r.text
    );
    let r = fund(&app, &reseller_admin, "acme", json!("100"), "K-2").await;
    assert_eq!(r.status, 404, "{}", r.text);
    assert_eq!(r.body["error"]["code"], "unknown_tenant");
    let r = fund(&app, &operator, "nobody", json!("100"), "K-3").await;
    assert_eq!(r.status, 404, "{}", r.text);
    assert_eq!(r.body["error"]["code"], "unknown_tenant");

    // Nothing changed anywhere.
    assert_eq!(whole_ledger(&app, &admin, "acme", 100).await, before);
    assert!(
        whole_ledger(&app, &operator, "resell", 100)
            .await
            .is_empty()
    );
    assert!(whole_ledger(&app, &operator, "bare", 100).await.is_empty());
    let w = app.get("/v1/tenants/bare/wallet", &bare_admin).await;
    assert_eq!(w.body["set_up"], false, "{}", w.text);
    assert_eq!(w.body["balance"], "0.00");

    // The operator may fund the reseller, and a refused reference stays usable.
    let r = fund(&app, &operator, "resell", json!("100"), "R-1").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["balance"], "100.00");
    let r = fund(&app, &admin, "acme", json!("50"), "R-49").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["balance"], "150.00");
    app.stop().await;
}

#[tokio::test]
async fn c24_duplicate_funding_reference_is_409_conflict_and_credits_once() {
    let mut app = TestApp::start().await;
    let (admin, _) = app.seed_tenant("acme", Some("100")).await;
    let r = fund(&app, &admin, "acme", json!("50"), "PO-1").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let again = fund(&app, &admin, "acme", json!("50"), "PO-1").await;
    assert_eq!(again.status, 409, "{}", again.text);
    assert_eq!(again.body["error"]["code"], "conflict");
    assert!(
        again.body["error"]["detail"]
            .as_str()
            .unwrap()
            .contains("PO-1")
    );
    // The seed's reference is taken too, whoever funds and whatever the amount.
    let seed = fund(&app, &app.operator_key.clone(), "acme", json!("70"), "seed").await;
    assert_eq!(seed.status, 409, "{}", seed.text);
    app.restart().await;
    let after_restart = fund(&app, &admin, "acme", json!("50"), "PO-1").await;
    assert_eq!(after_restart.status, 409, "{}", after_restart.text);
    let w = app.get("/v1/tenants/acme/wallet", &admin).await;
    assert_eq!(w.body["balance"], "150.00", "credited once");
    assert_eq!(whole_ledger(&app, &admin, "acme", 100).await.len(), 2);
    app.stop().await;
}

#[tokio::test]
async fn c24_duplicate_references_sent_at_once_credit_once_and_spoil_no_batch() {
    let mut app = TestApp::start().await;
    let (admin, _) = app.seed_tenant("acme", Some("100")).await;
    // Concurrent requests land in the same writer batches: the duplicates must be refused
    // before the commit, or the whole batch would fail (or credit twice).
    // A large ingestion first keeps the writer busy, so that the fundings queue up behind it
    // and are taken in few batches.
    let calls: Vec<Value> = (0..3000)
        .map(|i| {
            record(
                &format!("b{i}"),
                "ppm@acme.example",
                "dial_out",
                "+33 1 42 68 53 00",
                60 + i,
                30,
            )
        })
        .collect();
    let busy = {
        let client = app.client.clone();
        let url = format!("{}/v1/tenants/acme/calls", app.url);
        let key = admin.clone();
        tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(key)
                .json(&json!({ "calls": calls }))
                .send()
                .await
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let mut tasks = Vec::new();
    for i in 0..100 {
        let client = app.client.clone();
        let url = format!("{}/v1/tenants/acme/wallet/fundings", app.url);
        let key = admin.clone();
        let reference = if i % 2 == 0 {
            "DUP".to_string()
        } else {
            format!("U-{i}")
        };
        tasks.push(tokio::spawn(async move {
            let r = client
                .post(url)
                .bearer_auth(key)
                .json(&json!({"amount": "50", "reference": reference}))
                .send()
                .await
                .expect("an answer");
            (reference, r.status().as_u16())
        }));
    }
    let mut dup_ok = 0;
    for task in tasks {
        let (reference, status) = task.await.expect("the task runs");
        if reference == "DUP" {
            assert!(status == 200 || status == 409, "DUP: {status}");
            dup_ok += usize::from(status == 200);
        } else {
            assert_eq!(status, 200, "{reference}: a unique reference is funded");
        }
    }
    assert_eq!(dup_ok, 1, "exactly one DUP funding");
    let busy = busy.await.expect("the task runs").expect("an answer");
    assert_eq!(busy.status().as_u16(), 200);
    let w = app.get("/v1/tenants/acme/wallet", &admin).await;
    // 100 + 50 unique + 1 DUP, 50 each, less 3000 calls of 30 s at 0.024 (0.02 each).
    assert_eq!(w.body["balance"], "2590.00", "{}", w.text);
    check_c24(&app, &admin, "acme", 1000).await;
    app.stop().await;
}

#[tokio::test]
async fn c14_c25_authorize_lowers_available_but_not_balance() {
    let mut app = TestApp::start().await;
    let (admin, bridge) = app.seed_tenant("acme", Some("100")).await;
    let r = app
        .post(
            "/v1/tenants/acme/calls/live1/authorize",
            &bridge,
            json!({"conference_id": "m1", "organizer": "ppm@acme.example", "direction": "dial_out", "destination_number": "+33 6 12 34 56 78"}),
        )
        .await;
    assert_eq!(r.body["decision"], "allow", "{}", r.text);
    let reserved = dec(&r.body["reserved"]);
    assert!(reserved > Decimal::ZERO);
    let w = app.get("/v1/tenants/acme/wallet", &admin).await;
    assert_eq!(w.body["balance"], "100.00", "{}", w.text);
    assert_eq!(dec(&w.body["available"]), Decimal::from(100) - reserved);
    assert_eq!(dec(&w.body["reserved"]), reserved);
    assert_eq!(w.body["live_reservations"], 1);
    // Ending the call releases the hold and debits the real cost.
    app.clock.advance(90);
    let end = app
        .post(
            "/v1/tenants/acme/calls/live1/end",
            &bridge,
            json!({"duration_s": 90}),
        )
        .await;
    assert_eq!(end.body["charge"]["amount"], "0.22", "{}", end.text);
    let w = app.get("/v1/tenants/acme/wallet", &admin).await;
    assert_eq!(w.body["balance"], "99.78");
    assert_eq!(w.body["available"], "99.78");
    assert_eq!(w.body["live_reservations"], 0);
    // A bridge key may not read the wallet.
    let r = app.get("/v1/tenants/acme/wallet", &bridge).await;
    assert_eq!(r.status, 403, "{}", r.text);
    app.stop().await;
}

#[tokio::test]
async fn c10_projected_depletion_averages_30_days_of_debits_and_forfeits_at_expiry() {
    let mut app = TestApp::start().await;
    let (admin, _) = app.seed_tenant("acme", Some("100")).await;
    // One call of 100 minutes to Germany (0.03/min) costs 3.00.
    let calls: Vec<Value> = (0..10)
        .map(|i| {
            record(
                &format!("de{i}"),
                "ppm@acme.example",
                "dial_out",
                "+49 30 12345678",
                86_400 * i + 60,
                6000,
            )
        })
        .collect();
    // Only the first call first: 3.00 in 30 days, 0.10 a day: 97.00 would last 970 days,
    // but the lot expires on 2027-03-02 and is forfeited then (C10).
    ingest(&app, &admin, "acme", calls[..1].to_vec()).await;
    app.clock.advance(10 * 86_400);
    let w = app.get("/v1/tenants/acme/wallet", &admin).await;
    assert_eq!(w.body["balance"], "97.00", "{}", w.text);
    assert_eq!(w.body["debited_last_30_days"], "3.00");
    assert_eq!(w.body["average_daily_debit"], "0.10");
    assert_eq!(w.body["projected_depletion"], "2027-03-02", "{}", w.text);
    assert_eq!(w.body["projected_depletion_at"], "2027-03-02T09:00:00Z");

    // All ten: 30.00 in the window, 1.00 a day; 70.00 lasts 70 days from now
    // (2026-03-12T09:00Z).
    ingest(&app, &admin, "acme", calls[1..].to_vec()).await;
    let w = app.get("/v1/tenants/acme/wallet", &admin).await;
    assert_eq!(w.body["balance"], "70.00", "{}", w.text);
    assert_eq!(w.body["debited_last_30_days"], "30.00");
    assert_eq!(w.body["average_daily_debit"], "1.00");
    assert_eq!(w.body["projected_depletion_at"], "2026-05-21T09:00:00Z");
    assert_eq!(w.body["projected_depletion"], "2026-05-21");

    // Thirty-one days later nothing was debited in the window: no projection.
    app.clock.advance(31 * 86_400);
    let w = app.get("/v1/tenants/acme/wallet", &admin).await;
    assert_eq!(w.body["debited_last_30_days"], "0.00", "{}", w.text);
    assert_eq!(w.body["projected_depletion"], Value::Null);
    app.stop().await;
}

#[tokio::test]
async fn c13_c15_events_outbox_is_paginated_and_debt_is_shown() {
    let mut app = TestApp::start().await;
    let (admin, _) = app.seed_tenant("acme", Some("100")).await;
    // 299 pool minutes of 300 (5 MCOMEETADD): the 80% mark (C15); then a premium call of two
    // hours (0.10 + 120 x 0.90 = 108.10) takes the balance below zero (C13, C15).
    ingest(
        &app,
        &admin,
        "acme",
        vec![
            record(
                "p1",
                "sub@acme.example",
                "dial_out",
                "+33 1 42 68 53 00",
                60,
                299 * 60,
            ),
            record(
                "jp1",
                "ppm@acme.example",
                "dial_out",
                "+81 90 1234 5678",
                20_000,
                7200,
            ),
        ],
    )
    .await;
    let w = app.get("/v1/tenants/acme/wallet", &admin).await;
    assert_eq!(w.body["balance"], "-8.10", "{}", w.text);
    assert_eq!(w.body["debt"], "8.10");
    assert_eq!(w.body["available"], "-8.10");
    assert_eq!(
        w.body["projected_depletion"],
        Value::Null,
        "no projection in debt"
    );
    let lots = app.get("/v1/tenants/acme/wallet/lots", &admin).await;
    assert_eq!(lots.body["lots"], json!([]), "{}", lots.text);

    let first = app.get("/v1/tenants/acme/events?limit=1", &admin).await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.body["events"].as_array().unwrap().len(), 1);
    assert_eq!(first.body["events"][0]["seq"], 1);
    assert_eq!(first.body["events"][0]["type"], "pool.threshold");
    assert_eq!(first.body["events"][0]["data"]["percent"], "80");
    assert_eq!(first.body["next"], "1");
    let second = app
        .get("/v1/tenants/acme/events?limit=1&after=1", &admin)
        .await;
    assert_eq!(second.body["events"][0]["seq"], 2, "{}", second.text);
    assert_eq!(second.body["events"][0]["type"], "wallet.balance_depleted");
    assert_eq!(second.body["events"][0]["data"]["balance"], "-8.10");
    assert_eq!(second.body["next"], Value::Null);
    let all = app.get("/v1/tenants/acme/events", &admin).await;
    assert_eq!(all.body["events"].as_array().unwrap().len(), 2);

    // A funding pays the debt first (C13).
    let r = fund(&app, &admin, "acme", json!("50"), "PO-2").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["paid_debt"], "8.10");
    assert_eq!(r.body["lot"]["remaining"], "41.90");
    assert_eq!(r.body["balance"], "41.90");
    check_c24(&app, &admin, "acme", 2).await;
    app.stop().await;
}

#[tokio::test]
async fn pages_honour_limit_and_after_and_refuse_bad_values() {
    let mut app = TestApp::start().await;
    let (admin, _) = app.seed_tenant("acme", Some("100")).await;
    for i in 0..4 {
        let r = fund(&app, &admin, "acme", json!("50"), &format!("P-{i}")).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let page = app
        .get("/v1/tenants/acme/wallet/ledger?limit=2&after=1", &admin)
        .await;
    assert_eq!(page.status, 200, "{}", page.text);
    let seqs: Vec<&Value> = page.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["seq"])
        .collect();
    assert_eq!(seqs, [&json!(2), &json!(3)]);
    assert_eq!(page.body["next"], "3");
    let last = app
        .get("/v1/tenants/acme/wallet/ledger?limit=2&after=3", &admin)
        .await;
    assert_eq!(
        last.body["entries"].as_array().unwrap().len(),
        2,
        "{}",
        last.text
    );
    assert_eq!(last.body["next"], Value::Null);
    let beyond = app
        .get("/v1/tenants/acme/wallet/ledger?after=99", &admin)
        .await;
    assert_eq!(beyond.body["entries"], json!([]));

    let lots = app
        .get("/v1/tenants/acme/wallet/lots?limit=3", &admin)
        .await;
    assert_eq!(
        lots.body["lots"].as_array().unwrap().len(),
        3,
        "{}",
        lots.text
    );
    let next = lots.body["next"].as_str().expect("a next page").to_string();
    let rest = app
        .get(
            &format!("/v1/tenants/acme/wallet/lots?limit=3&after={next}"),
            &admin,
        )
        .await;
    let ids: Vec<&Value> = rest.body["lots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| &l["id"])
        .collect();
    assert_eq!(ids, [&json!(4), &json!(5)], "{}", rest.text);
    assert_eq!(rest.body["next"], Value::Null);

    for path in [
        "/v1/tenants/acme/wallet/ledger",
        "/v1/tenants/acme/events",
        "/v1/tenants/acme/wallet/lots",
    ] {
        for (query, field) in [
            ("limit=0", "limit"),
            ("limit=1001", "limit"),
            ("after=abc", "after"),
            ("limit=x", ""),
        ] {
            let r = app.get(&format!("{path}?{query}"), &admin).await;
            assert_eq!(r.status, 400, "{path}?{query}: {}", r.text);
            assert_eq!(r.body["error"]["code"], "invalid_request");
            let detail = r.body["error"]["detail"].as_str().unwrap_or_default();
            assert!(detail.contains(field), "{path}?{query}: {detail}");
        }
        let max = app.get(&format!("{path}?limit=1000"), &admin).await;
        assert_eq!(max.status, 200, "{path}: {}", max.text);
    }
    app.stop().await;
}

/// Funds `tenant` with `amount` and returns the refusal's code and detail (`None`: funded).
async fn fund_outcome(app: &TestApp, tenant: &str, amount: &str) -> Option<(String, String)> {
    let op = app.operator_key.clone();
    let r = fund(
        app,
        &op,
        tenant,
        json!(amount),
        &format!("{tenant}-{amount}"),
    )
    .await;
    if (200..300).contains(&r.status) {
        return None;
    }
    assert_eq!(r.status, 422, "{}", r.text);
    let error = &r.body["error"];
    Some((
        error["code"].as_str().unwrap().to_string(),
        error["detail"].as_str().unwrap_or_default().to_string(),
    ))
}

#[tokio::test]
async fn c11_each_currency_has_its_own_minimum_over_the_api_across_restarts() {
    let mut app = TestApp::start().await;
    let op = app.operator_key.clone();
    for (id, country, currency, timezone) in [
        ("yen", "JP", "JPY", "Asia/Tokyo"),
        ("dollar", "US", "USD", "America/New_York"),
    ] {
        let tenant = json!({"id": id, "name": id, "country": country, "currency": currency,
                            "timezone": timezone, "agreement": "online_subscription"});
        let r = app.post("/v1/tenants", &op, tenant).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let r = app
            .put(&format!("/v1/tenants/{id}/wallet/settings"), &op, json!({}))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    // The operator gives JPY its own minimum (the command line's setting, in the store file).
    if let Some(server) = app.server.take() {
        server.shutdown().await.expect("a clean shutdown");
    }
    {
        let mut store =
            minutely_store::Store::open(&app.db, &minutely_formats::countries::shipped())
                .expect("the store");
        let mut rules = store.amount_rules().expect("the rules");
        let jpy = minutely_core::money::Currency::parse("JPY").unwrap();
        rules.set_currency(jpy, Some(Decimal::from(5000))).unwrap();
        store.set_amount_rules(&rules).expect("stored");
    }
    app.restart().await;
    for round in ["started", "restarted"] {
        let (code, detail) = fund_outcome(&app, "yen", "4999").await.expect("refused");
        assert_eq!(code, "amount_below_minimum", "C11 4999 JPY ({round})");
        assert!(
            detail.contains("from 5000 (the minimum in JPY)"),
            "{detail}"
        );
        let (code, detail) = fund_outcome(&app, "dollar", "49").await.expect("refused");
        assert_eq!(code, "amount_below_minimum", "C11 49 USD ({round})");
        assert!(detail.contains("from 50 (the minimum in USD)"), "{detail}");
        let recharge = json!({"enabled": true, "trigger": "4999", "amount": "5000"});
        let r = app
            .put("/v1/tenants/yen/wallet/auto-recharge", &op, recharge)
            .await;
        assert_eq!(
            r.body["error"]["code"], "amount_below_minimum",
            "{}",
            r.text
        );
        app.restart().await;
    }
    assert_eq!(
        fund_outcome(&app, "yen", "5000").await,
        None,
        "C11 5000 JPY"
    );
    assert_eq!(fund_outcome(&app, "dollar", "50").await, None, "C11 50 USD");
    let recharge = json!({"enabled": true, "trigger": "5000", "amount": "5000"});
    let r = app
        .put("/v1/tenants/yen/wallet/auto-recharge", &op, recharge)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    app.stop().await;
}

#[tokio::test]
async fn a_json_record_naming_its_tenant_is_ingested_only_into_that_tenant() {
    let mut app = TestApp::start().await;
    let (admin, _) = app.seed_tenant("acme", Some("100")).await;
    let mut own = record(
        "t1",
        "ppm@acme.example",
        "dial_out",
        "+33 1 42 68 53 00",
        60,
        60,
    );
    own["tenant"] = json!("acme");
    let r = ingest(&app, &admin, "acme", vec![own.clone()]).await;
    assert_eq!(r.body["results"][0]["status"], "charged", "{}", r.text);
    // A batch with a record of another tenant is refused whole, naming the record.
    let mut other = record(
        "t2",
        "ppm@acme.example",
        "dial_out",
        "+33 1 42 68 53 00",
        120,
        60,
    );
    other["tenant"] = json!("globex");
    let plain = record(
        "t3",
        "ppm@acme.example",
        "dial_out",
        "+33 1 42 68 53 00",
        180,
        60,
    );
    let r = app
        .post(
            "/v1/tenants/acme/calls",
            &admin,
            json!({ "calls": [plain, other.clone()] }),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    let detail = r.body["error"]["detail"].as_str().unwrap();
    assert!(
        detail.contains("calls[1].tenant \"globex\" is not the tenant of the path \"acme\""),
        "{detail}"
    );
    // The end report's record too.
    let r = app
        .post(
            "/v1/tenants/acme/calls/t2/end",
            &admin,
            json!({ "record": other }),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.text.contains("record.tenant"), "{}", r.text);
    app.stop().await;
}
