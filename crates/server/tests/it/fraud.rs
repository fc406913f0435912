//! The toll-fraud guard over HTTP (C43 to C46): the operator's default mode and list, a tenant's
//! settings, refusals with the guard's reason codes, suspension and its lifting (audited, with
//! events), and counters that survive a restart.

use crate::common;
use crate::support;

use common::*;
use serde_json::{Value, json};
use support::*;

const PPM: &str = "ppm@acme.example";
/// Japan premium in the sample card (`+8190`).
const PREMIUM: &str = "+81 90 1234 5678";
const FR: &str = "+33 1 44 55 66 77";
const DE: &str = "+49 30 123456";

async fn authorize(app: &TestApp, key: &str, call_id: &str, body: Value) -> Value {
    let r = app
        .post(
            &format!("/v1/tenants/acme/calls/{call_id}/authorize"),
            key,
            body,
        )
        .await;
    assert_eq!(r.status, 200, "authorize {call_id}: {}", r.text);
    r.body
}

fn denied(answer: &Value, reason: &str) {
    assert_eq!(answer["decision"], "deny", "{answer}");
    assert_eq!(answer["reason"], reason, "{answer}");
    assert_eq!(answer["rule"], "C45", "{answer}");
}

async fn events(app: &TestApp, key: &str) -> Vec<String> {
    let r = app.get("/v1/tenants/acme/events", key).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["type"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn c45_c46_refusals_suspend_the_organizer_which_survives_a_restart_until_lifted() {
    let mut app = TestApp::start().await;
    let (admin, bridge) = app.seed_tenant("acme", Some("100")).await;
    let operator = app.operator_key.clone();
    // Off until the operator turns it on: a premium call is allowed.
    let a = authorize(&app, &bridge, "p0", dial_out(PPM, PREMIUM)).await;
    assert_eq!(a["decision"], "allow", "{a}");
    let r = app
        .put("/v1/fraud", &admin, json!({"default_mode": "off"}))
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
    let r = app
        .put("/v1/fraud", &operator, json!({"default_mode": "loud"}))
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.text.contains("default_mode"), "{}", r.text);
    let r = app
        .put("/v1/fraud", &operator, json!({"default_mode": "enforce"}))
        .await;
    assert_eq!(
        (r.status, r.body["default_mode"].as_str()),
        (200, Some("enforce")),
        "{}",
        r.text
    );
    // Rule 2, three times: the third refusal in a day suspends the organizer (C46).
    for id in ["p1", "p2", "p3"] {
        denied(
            &authorize(&app, &bridge, id, dial_out(PPM, PREMIUM)).await,
            "fraud_premium_not_enabled",
        );
    }
    denied(
        &authorize(&app, &bridge, "f1", dial_out(PPM, FR)).await,
        "fraud_dialout_suspended",
    );
    let view = app.get("/v1/tenants/acme/fraud", &admin).await;
    assert_eq!(view.status, 200, "{}", view.text);
    assert_eq!(view.body["mode"], "enforce", "{}", view.text);
    assert_eq!(view.body["organizers_suspended"], 1, "{}", view.text);
    assert!(
        events(&app, &admin)
            .await
            .contains(&"fraud.suspended".to_string())
    );
    // The counters are the store's: a restart keeps the suspension.
    app.restart().await;
    denied(
        &authorize(&app, &bridge, "f2", dial_out(PPM, FR)).await,
        "fraud_dialout_suspended",
    );
    let r = app
        .post(
            "/v1/tenants/acme/fraud/lift",
            &admin,
            json!({"organizer": "nobody@acme.example"}),
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.text);
    let r = app
        .post(
            "/v1/tenants/acme/fraud/lift",
            &admin,
            json!({"organizer": PPM}),
        )
        .await;
    assert_eq!(
        (r.status, &r.body["changed"]),
        (200, &json!(true)),
        "{}",
        r.text
    );
    let again = app
        .post(
            "/v1/tenants/acme/fraud/lift",
            &admin,
            json!({"organizer": PPM}),
        )
        .await;
    assert_eq!(again.body["changed"], false, "{}", again.text);
    let ok = authorize(&app, &bridge, "f3", dial_out(PPM, FR)).await;
    assert_eq!(ok["decision"], "allow", "{ok}");
    assert!(
        events(&app, &admin)
            .await
            .contains(&"fraud.lifted".to_string())
    );
    let audit = app.get("/v1/audit?tenant=acme", &operator).await;
    assert!(audit.text.contains("fraud.lift"), "{}", audit.text);
}

#[tokio::test]
async fn rule1_the_list_is_replaced_whole_and_a_bad_row_changes_nothing() {
    let mut app = TestApp::start().await;
    let (admin, bridge) = app.seed_tenant("acme", Some("100")).await;
    let operator = app.operator_key.clone();
    let csv = |text: &str| RequestBody::Text("text/csv", text.to_string());
    let put_list = |body| {
        app.request(
            reqwest::Method::PUT,
            "/v1/fraud/list",
            Some(&operator),
            Some(body),
            &[],
        )
    };
    let good = "prefix,action,category,source,expires,note\n+4930,block,irsf,operator,,Berlin test range\n";
    let r = put_list(csv(good)).await;
    assert_eq!(
        (r.status, &r.body["list_version"]),
        (200, &json!(1)),
        "{}",
        r.text
    );
    let bad = "prefix,action,category,source,expires,note\n+4930,block,irsf,operator,,\n49x,block,irsf,operator,,\n";
    let r = put_list(csv(bad)).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(
        r.text.contains("line 3") && r.text.contains("prefix"),
        "{}",
        r.text
    );
    let listed = app.get("/v1/fraud/list", &operator).await;
    assert!(
        listed
            .text
            .contains("+4930,block,irsf,operator,,Berlin test range"),
        "{}",
        listed.text
    );
    assert_eq!(app.get("/v1/fraud/list", &admin).await.status, 403);
    // The tenant alone enforces; the rest of the operator's tenants stay off.
    let r = app
        .put("/v1/tenants/acme/fraud", &admin, json!({"mode": "enforce"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    denied(
        &authorize(&app, &bridge, "d1", dial_out(PPM, DE)).await,
        "fraud_destination_blocked",
    );
}

#[tokio::test]
async fn a_tenants_settings_read_back_and_a_bad_one_is_named() {
    let mut app = TestApp::start().await;
    let (admin, _bridge) = app.seed_tenant("acme", Some("100")).await;
    let settings = json!({
        "mode": "monitor",
        "premium_enabled": true,
        "business_hours": {"start_hour": 8, "end_hour": 18, "weekdays": ["mon", "tue", "wed", "thu", "fri"]},
        "allow": [{"prefix": "+4470", "expires": "2027-01-01T00:00:00Z"}],
        "floor_hour": "50",
        "floor_day": null,
        "raise": {"percent": 300, "until": "2026-03-09T00:00:00Z"}
    });
    let r = app
        .put("/v1/tenants/acme/fraud", &admin, settings.clone())
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let view = app.get("/v1/tenants/acme/fraud", &admin).await;
    assert_eq!(view.body["settings"], settings, "{}", view.text);
    assert_eq!(view.body["mode"], "monitor");
    let mut bad = settings.clone();
    bad["business_hours"]["weekdays"] = json!(["mon", "someday"]);
    let r = app.put("/v1/tenants/acme/fraud", &admin, bad).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.text.contains("business_hours.weekdays[1]"), "{}", r.text);
    let r = app
        .put(
            "/v1/tenants/acme/fraud",
            &admin,
            json!({"mode": "enforce", "colour": 1}),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    let r = app
        .post(
            "/v1/tenants/acme/fraud/approve",
            &admin,
            json!({"country": "D"}),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    let r = app
        .post(
            "/v1/tenants/acme/fraud/approve",
            &admin,
            json!({"country": "XX"}),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    let detail = r.body["error"]["detail"].as_str().unwrap_or_default();
    assert!(
        detail.starts_with("country: \"XX\" is not a region"),
        "{}",
        r.text
    );
    let r = app
        .post(
            "/v1/tenants/acme/fraud/approve",
            &admin,
            json!({"country": "de"}),
        )
        .await;
    assert_eq!(r.body["approved_countries"], json!(["DE"]), "{}", r.text);
    let audit = app.get("/v1/audit?tenant=acme", &app.operator_key).await;
    let row = audit.body["entries"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["action"] == "fraud.settings"))
        .unwrap_or_else(|| panic!("a fraud.settings row: {}", audit.text));
    assert_eq!(row["after"]["mode"], "monitor", "{row}");
    assert_eq!(row["after"]["floor_hour"], "50", "{row}");
    let unchanged = app.get("/v1/tenants/acme/fraud", &admin).await;
    assert_eq!(unchanged.body["settings"], settings, "nothing else changed");
}

#[tokio::test]
async fn c46_incidents_are_the_guards_events_alone_in_order_and_paged() {
    let mut app = TestApp::start().await;
    let (admin, bridge) = app.seed_tenant("acme", Some("100")).await;
    let operator = app.operator_key.clone();
    let r = app
        .put("/v1/fraud", &operator, json!({"default_mode": "enforce"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // A low balance warning first (not an incident), then three refusals and a suspension.
    let r = app
        .put(
            "/v1/tenants/acme/wallet/settings",
            &admin,
            json!({"low_balance_thresholds": ["99.99"]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let a = authorize(&app, &bridge, "fr0", dial_out(PPM, FR)).await;
    assert_eq!(a["decision"], "allow", "{a}");
    let r = app
        .post(
            "/v1/tenants/acme/calls/fr0/end",
            &bridge,
            json!({"duration_s": 600}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    for id in ["p1", "p2", "p3"] {
        denied(
            &authorize(&app, &bridge, id, dial_out(PPM, PREMIUM)).await,
            "fraud_premium_not_enabled",
        );
    }
    let all = app.get("/v1/tenants/acme/events", &admin).await;
    assert!(all.text.contains("wallet.low_balance"), "{}", all.text);
    let of_guard: Vec<&Value> = all.body["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["type"].as_str().is_some_and(|t| t.starts_with("fraud.")))
        .collect();
    let incidents = app.get("/v1/tenants/acme/fraud/incidents", &admin).await;
    assert_eq!(incidents.status, 200, "{}", incidents.text);
    let listed: Vec<&Value> = incidents.body["events"]
        .as_array()
        .expect("list")
        .iter()
        .collect();
    assert_eq!(listed, of_guard, "{}", incidents.text);
    let types: Vec<&str> = listed.iter().filter_map(|e| e["type"].as_str()).collect();
    assert!(types.contains(&"fraud.alert"), "{types:?}");
    assert!(types.contains(&"fraud.suspended"), "{types:?}");
    let alert = listed
        .iter()
        .find(|e| e["type"] == "fraud.alert")
        .expect("an alert");
    assert_eq!(
        alert["data"]["reason"], "fraud_premium_not_enabled",
        "{alert}"
    );
    assert_eq!(alert["data"]["organizer"], PPM, "{alert}");
    // One a page: the cursor walks the same list.
    let mut walked = Vec::new();
    let mut after = String::new();
    for _ in 0..20 {
        let page = app
            .get(
                &format!("/v1/tenants/acme/fraud/incidents?limit=1&after={after}"),
                &admin,
            )
            .await;
        assert_eq!(page.status, 200, "{}", page.text);
        walked.extend(page.body["events"].as_array().expect("page").clone());
        match page.body["next"].as_str() {
            Some(next) => after = next.to_string(),
            None => break,
        }
    }
    assert_eq!(walked.iter().collect::<Vec<_>>(), of_guard);
    for after in ["x", &"0".repeat(20)] {
        let path = format!("/v1/tenants/acme/fraud/incidents?after={after}");
        let bad = app.get(&path, &admin).await;
        assert_eq!(bad.status, 400, "{}", bad.text);
        assert!(bad.text.contains("after"), "{}", bad.text);
    }
    let other = app.seed_tenant("globex", None).await.0;
    let r = app.get("/v1/tenants/acme/fraud/incidents", &other).await;
    assert_eq!(r.status, 404, "{}", r.text);
}

#[tokio::test]
async fn c45_rule3_the_operators_thresholds_are_set_named_kept_and_applied() {
    let mut app = TestApp::start().await;
    let (_, bridge) = app.seed_tenant("acme", Some("100")).await;
    let operator = app.operator_key.clone();
    let before = app.get("/v1/fraud", &operator).await;
    assert_eq!(before.body["limits"]["tenant_live"], 100, "{}", before.text);
    assert_eq!(before.body["limits"]["floor_hour"], "20", "{}", before.text);
    assert_eq!(
        before.body["limits"]["new_country_rule"], true,
        "{}",
        before.text
    );
    let set =
        json!({"default_mode": "enforce", "limits": {"tenant_live": 2, "floor_day": "75.50"}});
    let r = app.put("/v1/fraud", &operator, set).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["limits"]["tenant_live"], 2, "{}", r.text);
    assert_eq!(r.body["limits"]["floor_day"], "75.50", "{}", r.text);
    // Every bad threshold is named, and changes nothing.
    for (limits, named) in [
        (
            json!({"tenant_live": 0}),
            "limits.tenant_live: 0 is not between 1 and 65535",
        ),
        (
            json!({"strikes": 1.5}),
            "limits.strikes: 1.5 is not a whole number",
        ),
        (json!({"floor_hour": "ten"}), "limits.floor_hour"),
        (
            json!({"loudness": 3}),
            "limits.\\\"loudness\\\" is not a threshold",
        ),
        (
            json!({"warn_percent": 500}),
            "limits.warn_percent: 500 is above act_percent 400",
        ),
    ] {
        let body = json!({"default_mode": "off", "limits": limits});
        let r = app.put("/v1/fraud", &operator, body).await;
        assert_eq!(r.status, 422, "{}", r.text);
        assert!(r.text.contains(named), "{named}: {}", r.text);
    }
    // A list or a mode alone keeps the thresholds; a restart keeps them too.
    let r = app
        .put("/v1/fraud", &operator, json!({"default_mode": "enforce"}))
        .await;
    assert_eq!(r.body["limits"]["tenant_live"], 2, "{}", r.text);
    app.restart().await;
    let kept = app.get("/v1/fraud", &operator).await;
    assert_eq!(kept.body["limits"]["tenant_live"], 2, "{}", kept.text);
    assert_eq!(kept.body["default_mode"], "enforce", "{}", kept.text);
    // Two live dial-outs of the tenant, then a third is refused (C45 rule 3).
    for id in ["l1", "l2"] {
        let a = authorize(&app, &bridge, id, dial_out(PPM, FR)).await;
        assert_eq!(a["decision"], "allow", "{a}");
    }
    denied(
        &authorize(&app, &bridge, "l3", dial_out(PPM, DE)).await,
        "fraud_concurrency_limit",
    );
    let audit = app.get("/v1/audit", &operator).await;
    let row = audit.body["entries"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["action"] == "fraud.operator"))
        .unwrap_or_else(|| panic!("a fraud.operator row: {}", audit.text));
    assert!(row.to_string().contains("tenant_live"), "{row}");
}
