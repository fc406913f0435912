//! The routes the web console leans on: who the key is and the language its holder keeps
//! (`/v1/me`), usage per day and country for the charts, the policy simulator, the diff between
//! two rate-card versions, and the console's own files.

use crate::common;
use crate::support;

use common::*;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use support::*;

const SUB: &str = "sub@acme.example";
const PPM: &str = "ppm@acme.example";

#[tokio::test]
async fn me_names_the_key_and_keeps_its_language_across_restarts() {
    let mut app = TestApp::start().await;
    let (admin, bridge) = app.seed_tenant("acme", Some("50")).await;
    let r = app.get("/v1/me", &admin).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["kind"], "tenant_admin");
    assert_eq!(r.body["tenant"], "acme");
    assert_eq!(r.body["lang"], Value::Null);
    let r = app.get("/v1/me", &app.operator_key).await;
    assert_eq!(r.body["kind"], "operator");
    assert_eq!(r.body["tenant"], Value::Null);
    assert_eq!(app.get("/v1/me", &bridge).await.body["kind"], "bridge");

    let r = app
        .put("/v1/me/preferences", &admin, json!({"lang": "ja"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["lang"], "ja");
    // A language the console does not speak is refused, naming it, and changes nothing.
    let r = app
        .put("/v1/me/preferences", &admin, json!({"lang": "klingon"}))
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("klingon"), "{}", r.text);
    // Kept per key: the operator's is untouched, and the admin's survives a restart.
    assert_eq!(
        app.get("/v1/me", &app.operator_key).await.body["lang"],
        Value::Null
    );
    app.restart().await;
    assert_eq!(app.get("/v1/me", &admin).await.body["lang"], "ja");
    let r = app
        .put("/v1/me/preferences", &admin, json!({"lang": "zh-cn"}))
        .await;
    assert_eq!(r.body["lang"], "zh-CN", "{}", r.text);
    assert_eq!(app.get("/v1/me", "mk_nobody_secret").await.status, 401);
    app.stop().await;
}

#[tokio::test]
async fn usage_summary_adds_up_to_the_ledger_per_day_country_and_category() {
    let mut app = TestApp::start().await;
    let (admin, bridge) = app.seed_tenant("acme", Some("100")).await;
    let calls = vec![
        // Day 1 (Paris time): a French mobile dial-out (credits), a toll dial-in of the
        // pay-per-minute user (credits), a toll dial-in of the subscriber (included).
        record(
            "a",
            PPM,
            "dial_out",
            "+33 6 12 34 56 78",
            "2026-03-02T08:00:00Z",
            150,
        ),
        record(
            "b",
            PPM,
            "dial_in",
            "+33 1 86 95 00 00",
            "2026-03-02T09:00:00Z",
            60,
        ),
        record(
            "c",
            SUB,
            "dial_in",
            "+33 1 86 95 00 00",
            "2026-03-02T10:00:00Z",
            300,
        ),
        // 23:30 UTC is already the next day in Paris: a German dial-out.
        record(
            "d",
            PPM,
            "dial_out",
            "+49 30 1234567",
            "2026-03-02T23:30:00Z",
            70,
        ),
    ];
    let r = app
        .post("/v1/tenants/acme/calls", &bridge, json!({ "calls": calls }))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app
        .get(
            "/v1/tenants/acme/reports/usage-summary?from=2026-03-01&to=2026-03-31",
            &admin,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["timezone"], "Europe/Paris");
    let rows = |name: &str| r.body[name].as_array().cloned().unwrap_or_default();
    let mobile = Rate::of("dial_out", "+336").cost(150);
    let toll = Rate::of("dial_in_toll", "FR").cost(60);
    let germany = Rate::of("dial_out", "+49").cost(70);
    let find = |list: &[Value], key: &str, value: &str, category: &str| -> Value {
        list.iter()
            .find(|row| row[key] == value && row["category"] == category)
            .cloned()
            .unwrap_or_else(|| panic!("no {key}={value} {category} in {list:?}"))
    };
    let days = rows("days");
    assert_eq!(days.len(), 3, "{days:?}");
    let out_day1 = find(&days, "date", "2026-03-02", "dial_out");
    assert_eq!(dec(&out_day1["amount"]), mobile);
    assert_eq!(out_day1["minutes"], 3);
    let in_day1 = find(&days, "date", "2026-03-02", "dial_in_toll");
    assert_eq!(in_day1["calls"], 2);
    assert_eq!(in_day1["minutes"], 6);
    assert_eq!(dec(&in_day1["amount"]), toll);
    let out_day2 = find(&days, "date", "2026-03-03", "dial_out");
    assert_eq!(dec(&out_day2["amount"]), germany);
    let countries = rows("countries");
    assert_eq!(
        dec(&find(&countries, "country", "DE", "dial_out")["amount"]),
        germany
    );
    assert_eq!(
        dec(&find(&countries, "country", "FR", "dial_out")["amount"]),
        mobile
    );
    // The totals are the ledger's debits, to the cent.
    let total: Decimal = rows("totals").iter().map(|t| dec(&t["amount"])).sum();
    let debits: Decimal = ledger(&app, "acme", &admin)
        .await
        .iter()
        .filter(|e| e["kind"] == "debit")
        .map(|e| dec(&e["amount"]))
        .sum();
    assert_eq!(total, debits);
    assert_eq!(total, mobile + toll + germany);
    let r = app
        .get(
            "/v1/tenants/acme/reports/usage-summary?from=yesterday&to=2026-03-31",
            &admin,
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.text.contains("from"), "{}", r.text);
    app.stop().await;
}

#[tokio::test]
async fn the_simulator_answers_as_call_control_would_and_changes_nothing() {
    let mut app = TestApp::start().await;
    let (admin, _bridge) = app.seed_tenant("acme", Some("50")).await;
    let before_wallet = wallet(&app, "acme", &admin).await;
    let before_ledger = ledger(&app, "acme", &admin).await;
    let simulate = |body: Value| {
        let app = &app;
        let admin = admin.clone();
        async move {
            let r = app.post("/v1/tenants/acme/simulate", &admin, body).await;
            assert_eq!(r.status, 200, "{}", r.text);
            r.body
        }
    };
    // C18/C20: a subscriber's Zone A dial-out is paid by the pool.
    let a = simulate(json!({"organizer": SUB, "direction": "dial_out",
        "destination_number": "+81 3 1234 5678", "duration_s": 125}))
    .await;
    assert_eq!(a["decision"], "allow", "{a}");
    assert_eq!(a["funding"], "pool");
    assert_eq!(a["charge"]["capability"], "MCOMEETADD");
    assert_eq!(a["charge"]["pool_minutes"], 3);
    assert_eq!(dec(&a["charge"]["amount"]), Decimal::ZERO);
    // A pay-per-minute organizer's call is paid by credits at the rate.
    let b = simulate(json!({"organizer": PPM, "direction": "dial_out",
        "destination_number": "+81 3 1234 5678", "duration_s": 125}))
    .await;
    assert_eq!(b["funding"], "credits");
    assert_eq!(b["charge"]["capability"], "MCOMEETACPEA");
    assert_eq!(
        dec(&b["charge"]["amount"]),
        Rate::of("dial_out", "+81").cost(125)
    );
    // C18: a toll dial-in of a subscriber is included.
    let c = simulate(json!({"organizer": SUB, "direction": "dial_in",
        "service_number": "+33 1 86 95 00 00", "duration_s": 600}))
    .await;
    assert_eq!(c["funding"], "included");
    assert_eq!(c["max_duration_s"], Value::Null);
    // An organizer who is not in the directory is denied with the rule and a localized message.
    let r = app
        .request(
            reqwest::Method::POST,
            "/v1/tenants/acme/simulate",
            Some(&admin),
            Some(RequestBody::Json(
                json!({"organizer": "nobody@acme.example",
                "direction": "dial_out", "destination_number": "+33 1 44 55 66 77"}),
            )),
            &[("accept-language", "de")],
        )
        .await;
    assert_eq!(r.body["decision"], "deny", "{}", r.text);
    assert_eq!(r.body["reason"], "organizer_not_enabled");
    assert_eq!(r.body["rule"], "C18");
    let message = r.body["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty() && message.ends_with('.'), "{message}");
    // Bad input is named.
    let r = app
        .post(
            "/v1/tenants/acme/simulate",
            &admin,
            json!({"organizer": PPM, "direction": "sideways", "destination_number": "+33 1"}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.text.contains("direction"), "{}", r.text);
    let r = app
        .post(
            "/v1/tenants/acme/simulate",
            &admin,
            json!({"organizer": PPM, "direction": "dial_out",
                "destination_number": "+33 1 44 55 66 77", "duration_s": 86_401}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.text.contains("duration_s"), "{}", r.text);
    // Nothing changed: no hold, no entry, no refused call.
    assert_eq!(wallet(&app, "acme", &admin).await, before_wallet);
    assert_eq!(ledger(&app, "acme", &admin).await, before_ledger);
    let refused = app
        .get(
            "/v1/tenants/acme/reports/refused?from=2026-03-01&to=2026-03-31",
            &admin,
        )
        .await;
    assert_eq!(refused.status, 200, "{}", refused.text);
    assert!(
        !refused.text.contains("nobody@acme.example"),
        "{}",
        refused.text
    );
    app.stop().await;
}

#[tokio::test]
async fn a_rate_card_diff_lists_added_removed_and_changed_entries() {
    let mut app = TestApp::start().await;
    app.seed_tenant("acme", None).await;
    let op = app.operator_key.clone();
    let v2 = minutely_testkit::rate_card!(
        "\
dial_out,+33,,France,FR,false,0.0240,0,60,60,2026-04-01T00:00:00Z
dial_out,+336,,France mobile,FR,false,0.0990,0,60,60,2026-04-01T00:00:00Z
dial_out,+44,,United Kingdom,GB,false,0.0200,0,60,60,2026-04-01T00:00:00Z
"
    );
    let r = app
        .request(
            reqwest::Method::POST,
            "/v1/rate-cards/EUR",
            Some(&op),
            Some(RequestBody::Text("text/csv", v2.to_string())),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app.get("/v1/rate-cards/EUR/diff", &op).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["from"], "2026-01-01T00:00:00Z");
    assert_eq!(r.body["to"], "2026-04-01T00:00:00Z");
    let keys = |list: &str| -> Vec<String> {
        r.body[list]
            .as_array()
            .expect("a list")
            .iter()
            .map(|e| e["key"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    assert_eq!(keys("added"), ["+44"]);
    let removed = keys("removed");
    assert!(removed.contains(&"+49".to_string()) && !removed.contains(&"+33".to_string()));
    let changed = &r.body["changed"][0];
    assert_eq!(changed["before"]["key"], "+336");
    assert_eq!(changed["before"]["rate_per_minute"], "0.11");
    assert_eq!(changed["after"]["rate_per_minute"], "0.099");
    assert_eq!(r.body["unchanged"], 1);
    // Explicit versions, and a version that does not exist, named.
    let r2 = app
        .get(
            "/v1/rate-cards/EUR/diff?from=2026-04-01T00:00:00Z&to=2026-01-01T00:00:00Z",
            &op,
        )
        .await;
    assert_eq!(r2.status, 200, "{}", r2.text);
    assert_eq!(r2.body["removed"][0]["key"], "+44");
    let r3 = app
        .get("/v1/rate-cards/EUR/diff?to=2026-02-01T00:00:00Z", &op)
        .await;
    assert_eq!(r3.status, 404, "{}", r3.text);
    assert!(r3.text.contains("2026-02-01T00:00:00Z"), "{}", r3.text);
    let empty = app.get("/v1/rate-cards/EUR/diff?from=&to=", &op).await;
    assert_eq!(
        empty.status, 400,
        "an empty instant is not a default: {}",
        empty.text
    );
    let r4 = app.get("/v1/rate-cards/EUR/diff?from=soon", &op).await;
    assert_eq!(r4.status, 400, "{}", r4.text);
    app.stop().await;
}

#[tokio::test]
async fn the_console_is_served_from_the_binary_with_a_strict_policy() {
    let app = TestApp::start().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client");
    let root = client
        .get(format!("{}/", app.url))
        .send()
        .await
        .expect("GET /");
    assert_eq!(root.status().as_u16(), 307);
    assert_eq!(root.headers()["location"], "/console/");
    let index = client
        .get(format!("{}/console/", app.url))
        .send()
        .await
        .expect("GET /console/");
    assert_eq!(index.status().as_u16(), 200);
    assert!(
        index.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let csp = index.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    let etag = index.headers()["etag"].clone();
    let body = index.text().await.unwrap();
    assert!(body.contains("<html"), "{body}");
    // Every embedded file is served with a type; a second fetch with the ETag is 304.
    for path in minutely_server::console::paths() {
        let r = client
            .get(format!("{}/console/{path}", app.url))
            .send()
            .await
            .expect("a console file");
        assert_eq!(r.status().as_u16(), 200, "{path}");
        assert_ne!(
            r.headers()["content-type"],
            "application/octet-stream",
            "{path} has no content type"
        );
    }
    let again = client
        .get(format!("{}/console/", app.url))
        .header("if-none-match", etag)
        .send()
        .await
        .expect("a conditional GET");
    assert_eq!(again.status().as_u16(), 304);
    let missing = client
        .get(format!("{}/console/nothing-here.js", app.url))
        .send()
        .await
        .expect("a missing file");
    assert_eq!(missing.status().as_u16(), 404);
    app.stop().await;
}
