//! Monthly statements, black-box: a wallet funded, used in March 2026, its lot forfeited in
//! March 2027 (C10: lots expire 12 months after purchase), then every statement checked
//! against the ledger the API serves (C24): totals are the sums of the month's entries,
//! opening and closing are the running balances at the month's edges; HTML and PDF answers,
//! languages, and the refusals (a month not started, a bad month, another tenant).

use crate::common;
use crate::support;

use common::*;
use jiff::Timestamp;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::str::FromStr;
use support::record;

fn dec(v: &Value) -> Decimal {
    Decimal::from_str(
        v.as_str()
            .unwrap_or_else(|| panic!("a decimal string, not {v}")),
    )
    .expect("a decimal")
}

async fn ingest(app: &TestApp, key: &str, calls: Vec<Value>) {
    let r = app
        .post("/v1/tenants/acme/calls", key, json!({ "calls": calls }))
        .await;
    assert_eq!(r.status, 200, "ingest: {}", r.text);
}

async fn statement(app: &TestApp, key: &str, month: &str) -> Value {
    let r = app
        .get(&format!("/v1/tenants/acme/statements/{month}"), key)
        .await;
    assert_eq!(r.status, 200, "statement {month}: {}", r.text);
    assert_eq!(
        r.headers["content-type"].to_str().unwrap(),
        "application/json"
    );
    r.body
}

/// The tenant of the tests, with its history: 100.00 funded on 2026-03-02 and four calls that
/// March (one per credit-paid category, two countries); on 2027-03-20 the lot has expired
/// (forfeited at 2027-03-02), 50.00 is funded and one more call made.
async fn history() -> (TestApp, String, String) {
    let mut app = TestApp::start().await;
    let (admin, _) = app.seed_tenant("acme", Some("100")).await;
    let ppm = "ppm@acme.example";
    ingest(
        &app,
        &admin,
        vec![
            // 10 min to Germany at 0.03: 0.30.
            record(
                "out-de",
                ppm,
                "dial_out",
                "+49 30 12345678",
                "2026-03-03T10:00:00Z",
                600,
            ),
            // 5 min to France at 0.024: 0.12.
            record(
                "out-fr",
                ppm,
                "dial_out",
                "+33 1 42 68 53 00",
                "2026-03-04T10:00:00Z",
                270,
            ),
            // 20 min on the toll number at 0.03: 0.60.
            record(
                "in-toll",
                ppm,
                "dial_in",
                "+33 1 86 95 00 00",
                "2026-03-05T10:00:00Z",
                1200,
            ),
            // 3 min on the toll-free number at 0.05: 0.15.
            record(
                "in-free",
                ppm,
                "dial_in",
                "+33 805 98 00 00",
                "2026-03-06T10:00:00Z",
                125,
            ),
        ],
    )
    .await;
    app.clock.set(ts("2027-03-20T09:00:00Z"));
    let r = app
        .post(
            "/v1/tenants/acme/wallet/fundings",
            &app.operator_key,
            json!({"amount": "50", "reference": "PO-2027-03"}),
        )
        .await;
    assert_eq!(r.status, 200, "funding: {}", r.text);
    app.clock.set(ts("2027-03-25T09:00:00Z"));
    ingest(
        &app,
        &admin,
        vec![record(
            "out-de-2",
            ppm,
            "dial_out",
            "+49 30 12345678",
            "2027-03-21T10:00:00Z",
            60,
        )],
    )
    .await;
    let beta = app.seed_tenant("beta", Some("100")).await.0;
    (app, admin, beta)
}

/// What the ledger says of a month `[from, to)`: the sums per kind, the running balance before
/// it and at its end, and the debits' call ids.
struct LedgerMonth {
    sums: BTreeMap<String, Decimal>,
    debits: BTreeMap<String, Decimal>,
    opening: Decimal,
    closing: Decimal,
}

fn ledger_month(entries: &[Value], from: Timestamp, to: Timestamp) -> LedgerMonth {
    let mut m = LedgerMonth {
        sums: BTreeMap::new(),
        debits: BTreeMap::new(),
        opening: Decimal::ZERO,
        closing: Decimal::ZERO,
    };
    for e in entries {
        let at = ts(e["at"].as_str().unwrap());
        if at < from {
            m.opening = dec(&e["balance_after"]);
        }
        if at < to {
            m.closing = dec(&e["balance_after"]);
        }
        if from <= at && at < to {
            let kind = e["kind"].as_str().unwrap().to_string();
            *m.sums.entry(kind.clone()).or_default() += dec(&e["amount"]);
            if kind == "debit" {
                m.debits.insert(
                    e["call_id"].as_str().unwrap().to_string(),
                    dec(&e["amount"]),
                );
            }
        }
    }
    m
}

fn sum(m: &LedgerMonth, kind: &str) -> Decimal {
    m.sums.get(kind).copied().unwrap_or_default()
}

#[tokio::test]
async fn c24_statement_totals_and_balances_equal_the_ledger_of_each_month() {
    let (app, admin, _) = history().await;
    let entries = support::ledger(&app, "acme", &admin).await;
    // The journal is in date order here, so the running balances are the month edges.
    assert!(
        entries
            .windows(2)
            .all(|w| ts(w[0]["at"].as_str().unwrap()) <= ts(w[1]["at"].as_str().unwrap()))
    );
    let categories: BTreeMap<&str, (&str, &str)> = [
        ("out-de", ("dial_out", "DE")),
        ("out-fr", ("dial_out", "FR")),
        ("in-toll", ("dial_in_toll", "FR")),
        ("in-free", ("dial_in_toll_free", "FR")),
        ("out-de-2", ("dial_out", "DE")),
    ]
    .into_iter()
    .collect();
    for month in ["2026-02", "2026-03", "2026-04", "2027-03"] {
        let s = statement(&app, &admin, month).await;
        assert_eq!(s["month"], month);
        assert_eq!(s["currency"], "EUR");
        assert_eq!(s["timezone"], "Europe/Paris");
        let from = ts(s["from"].as_str().unwrap());
        let to = ts(s["to"].as_str().unwrap());
        let m = ledger_month(&entries, from, to);
        assert_eq!(dec(&s["opening_balance"]), m.opening, "{month} opening");
        assert_eq!(dec(&s["closing_balance"]), m.closing, "{month} closing");
        assert_eq!(
            dec(&s["fundings_total"]),
            sum(&m, "funding") + sum(&m, "recharge"),
            "{month} fundings"
        );
        assert_eq!(
            dec(&s["usage_total"]["amount"]),
            sum(&m, "debit"),
            "{month} usage"
        );
        assert_eq!(
            dec(&s["forfeits_total"]),
            sum(&m, "forfeit"),
            "{month} forfeits"
        );
        assert_eq!(s["usage_total"]["calls"], m.debits.len() as u64);
        // The identity, exactly.
        assert_eq!(
            dec(&s["opening_balance"]) + dec(&s["fundings_total"])
                - dec(&s["usage_total"]["amount"])
                - dec(&s["forfeits_total"]),
            dec(&s["closing_balance"]),
            "{month}: opening + fundings - usage - forfeits = closing"
        );
        // Lines add up to their totals.
        let lines = |name: &str| -> Decimal {
            s[name]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| dec(&l["amount"]))
                .sum()
        };
        assert_eq!(lines("fundings"), dec(&s["fundings_total"]));
        assert_eq!(lines("forfeits"), dec(&s["forfeits_total"]));
        // Each category and country is the sum of its calls' debits.
        let mut by_category: BTreeMap<String, Decimal> = BTreeMap::new();
        let mut by_country: BTreeMap<String, Decimal> = BTreeMap::new();
        for (call, amount) in &m.debits {
            let (category, country) = categories[call.as_str()];
            *by_category.entry(category.into()).or_default() += amount;
            *by_country.entry(country.into()).or_default() += amount;
        }
        let cats = s["usage_by_category"].as_array().unwrap();
        assert_eq!(
            cats.iter()
                .map(|c| c["category"].as_str().unwrap())
                .collect::<Vec<_>>(),
            ["dial_in_toll", "dial_in_toll_free", "dial_out"]
        );
        for c in cats {
            let expected = by_category
                .get(c["category"].as_str().unwrap())
                .copied()
                .unwrap_or_default();
            assert_eq!(dec(&c["amount"]), expected, "{month} {c}");
        }
        let countries: BTreeMap<String, Decimal> = s["usage_by_country"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["country"].as_str().unwrap().to_string(),
                    dec(&c["amount"]),
                )
            })
            .collect();
        assert_eq!(countries, by_country, "{month} by country");
    }

    // March 2026 in detail: the funding and the four calls.
    let march = statement(&app, &admin, "2026-03").await;
    assert_eq!(march["opening_balance"], "0.00");
    assert_eq!(march["fundings_total"], "100.00");
    assert_eq!(march["usage_total"]["amount"], "1.17");
    assert_eq!(march["usage_total"]["calls"], 4);
    // 10 + 5 + 20 + 3 minutes, each call rounded up to the minute.
    assert_eq!(march["usage_total"]["minutes"], "38");
    assert_eq!(march["closing_balance"], "98.83");
    assert_eq!(march["provisional"], false);
    assert_eq!(march["from"], "2026-02-28T23:00:00Z");
    assert_eq!(march["to"], "2026-03-31T22:00:00Z");
    // March 2027: the whole remaining lot is forfeited at its expiry (C10), then 50.00 funded.
    let march27 = statement(&app, &admin, "2027-03").await;
    assert_eq!(march27["opening_balance"], "98.83");
    assert_eq!(march27["forfeits_total"], "98.83");
    assert_eq!(march27["forfeits"][0]["lot"], "lot 1");
    assert_eq!(march27["forfeits"][0]["date"], "2027-03-02");
    assert_eq!(march27["fundings"][0]["reference"], "PO-2027-03");
    assert_eq!(march27["closing_balance"], "49.97");
    // The current month (the clock is at 2027-03-25) is provisional, to date.
    assert_eq!(march27["provisional"], true);
    assert_eq!(march27["as_of"], "2027-03-25T09:00:00Z");
    app.stop().await;
}

#[tokio::test]
async fn statement_as_html_and_pdf_in_each_language() {
    let (app, admin, _) = history().await;
    let r = app
        .get(
            "/v1/tenants/acme/statements/2026-03?format=html&lang=fr",
            &admin,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(r.headers["content-language"], "fr");
    assert!(r.text.starts_with("<!DOCTYPE html>"));
    assert!(r.text.contains("<html lang=\"fr\">"), "{}", r.text);
    assert!(r.text.contains("Relevé des Crédits de Communications"));
    // 100.00 EUR in French: a no-break space before the currency sign.
    assert!(r.text.contains("100,00\u{a0}€"), "{}", r.text);

    // Without lang, Accept-Language decides.
    let r = app
        .request(
            reqwest::Method::GET,
            "/v1/tenants/acme/statements/2026-03?format=html",
            Some(&admin),
            None,
            &[("accept-language", "ja-JP, en;q=0.5")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.headers["content-language"], "ja");
    assert!(r.text.contains("<html lang=\"ja\">"));
    assert!(r.text.contains("通信クレジット"));
    assert!(r.text.contains("€100.00"));

    for lang in ["en", "ja", "zh-CN", "fr", "de"] {
        let r = app
            .request(
                reqwest::Method::GET,
                &format!("/v1/tenants/acme/statements/2026-03?format=pdf&lang={lang}"),
                Some(&admin),
                None,
                &[],
            )
            .await;
        assert_eq!(r.status, 200, "{lang}: {}", r.text);
        assert_eq!(r.headers["content-type"], "application/pdf");
        assert_eq!(r.headers["content-language"], lang);
        assert_eq!(
            r.headers["content-disposition"].to_str().unwrap(),
            format!("inline; filename=\"statement-acme-2026-03-{lang}.pdf\"")
        );
    }
    // The bytes themselves (the text body above is lossy for binary).
    let pdf = app
        .client
        .get(format!(
            "{}/v1/tenants/acme/statements/2026-03?format=pdf",
            app.url
        ))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(pdf.starts_with(b"%PDF-"), "a PDF");
    app.stop().await;
}

#[tokio::test]
async fn statement_refusals_name_the_input() {
    let (app, admin, beta_admin) = history().await;
    // The clock is at 2027-03-25: April 2027 has not started in Paris.
    let r = app.get("/v1/tenants/acme/statements/2027-04", &admin).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.body["error"]["code"], "unprocessable_request");
    let detail = r.body["error"]["detail"].as_str().unwrap();
    assert!(
        detail.contains("2027-04") && detail.contains("not started"),
        "{detail}"
    );
    assert!(
        detail.contains("2027-03"),
        "names the current month: {detail}"
    );

    for bad in ["2026-13", "2026-3", "26-03", "2026-00", "march"] {
        let r = app
            .get(&format!("/v1/tenants/acme/statements/{bad}"), &admin)
            .await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text);
        let detail = r.body["error"]["detail"].as_str().unwrap();
        assert!(detail.contains(&format!("{bad:?}")), "{bad}: {detail}");
        assert!(detail.contains("YYYY-MM"), "{detail}");
    }
    let r = app
        .get("/v1/tenants/acme/statements/2026-03?format=docx", &admin)
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.body["error"]["detail"].as_str().unwrap().contains("docx"));
    let r = app
        .get("/v1/tenants/acme/statements/2026-03?lang=es", &admin)
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(
        r.body["error"]["detail"]
            .as_str()
            .unwrap()
            .contains("\"es\"")
    );

    // Another tenant's admin sees nothing of acme (as if it did not exist).
    let r = app
        .get("/v1/tenants/acme/statements/2026-03", &beta_admin)
        .await;
    assert_eq!(r.status, 404, "{}", r.text);
    // The operator may read it.
    let r = app
        .get("/v1/tenants/acme/statements/2026-03", &app.operator_key)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    app.stop().await;
}
