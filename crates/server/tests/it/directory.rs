//! Tenants and their directory over HTTP (capability 2): eligibility (C1 to C4, C11, C40 to
//! C42), users, licenses, numbers, policies (C16, C41), the tenant file, and who may do what.

use crate::common;

use common::*;
use reqwest::Method;
use serde_json::{Value, json};

/// Asserts an error answer: status and code.
fn assert_error(r: &Resp, status: u16, code: &str) {
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (status, Some(code)),
        "{}",
        r.text
    );
}

fn new_tenant(id: &str, country: &str, agreement: &str) -> Value {
    json!({"id": id, "name": format!("Tenant {id}"), "country": country, "currency": "EUR",
           "timezone": "Europe/Paris", "agreement": agreement})
}

async fn create(app: &TestApp, id: &str, country: &str, agreement: &str) {
    let r = app
        .post(
            "/v1/tenants",
            &app.operator_key,
            new_tenant(id, country, agreement),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
}

async fn put_file(
    app: &TestApp,
    tenant: &str,
    key: &str,
    content_type: &'static str,
    text: &str,
) -> Resp {
    app.request(
        Method::PUT,
        &format!("/v1/tenants/{tenant}/file"),
        Some(key),
        Some(RequestBody::Text(content_type, text.to_string())),
        &[],
    )
    .await
}

/// A snapshot of everything the directory routes show of a tenant.
async fn snapshot(app: &TestApp, tenant: &str) -> Vec<Value> {
    let op = &app.operator_key;
    let mut out = Vec::new();
    for path in ["", "/licenses", "/users", "/numbers"] {
        let r = app.get(&format!("/v1/tenants/{tenant}{path}"), op).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        out.push(r.body);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Tenants
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn c41_operator_creates_tenants_and_a_taken_id_is_a_conflict() {
    let mut app = TestApp::start().await;
    let op = app.operator_key.clone();
    let r = app
        .post(
            "/v1/tenants",
            &op,
            new_tenant("fabrikam", "DE", "online_subscription"),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["id"], "fabrikam");
    assert_eq!(r.body["country"], "DE");
    assert_eq!(r.body["currency"], "EUR");
    assert_eq!(r.body["timezone"], "Europe/Paris");
    assert_eq!(r.body["agreement"], "online_subscription");
    assert_eq!(r.body["wallet_set_up"], false);
    assert_eq!(
        r.body["default_dial_out_policy"],
        json!({"name": "Global", "conferencing_dial_out": "any"})
    );
    assert_eq!(r.body["licenses"].as_array().unwrap().len(), 4);
    let again = app
        .post("/v1/tenants", &op, new_tenant("fabrikam", "FR", "reseller"))
        .await;
    assert_error(&again, 409, "conflict");
    let bad = [
        (
            json!({"id": "x1", "name": "X", "country": "France", "currency": "EUR", "agreement": "reseller"}),
            "country",
        ),
        (
            json!({"id": "x1", "name": "X", "country": "FR", "currency": "EURO", "agreement": "reseller"}),
            "currency",
        ),
        (
            json!({"id": "x1", "name": "X", "country": "FR", "currency": "EUR", "agreement": "friendly"}),
            "agreement",
        ),
        (
            json!({"id": "x1", "name": "X", "country": "FR", "currency": "EUR", "agreement": "reseller", "timezone": "Mars/Olympus"}),
            "timezone",
        ),
        (
            json!({"id": "a b", "name": "X", "country": "FR", "currency": "EUR", "agreement": "reseller"}),
            "id",
        ),
    ];
    for (body, field) in bad {
        let r = app.post("/v1/tenants", &op, body).await;
        // Which names are time zones is the server's database's to say: unprocessable.
        if field == "timezone" {
            assert_error(&r, 422, "unprocessable_request");
        } else {
            assert_error(&r, 400, "invalid_request");
        }
        assert!(
            r.body["error"]["detail"]
                .as_str()
                .unwrap()
                .starts_with(field),
            "{field}: {}",
            r.text
        );
    }
    let r = app
        .post(
            "/v1/tenants",
            &op,
            json!({"id": "x1", "name": "X", "country": "FR", "currency": "EUR", "agreement": "reseller", "default_dial_out_policy": "Everywhere"}),
        )
        .await;
    assert_error(&r, 422, "invalid_policy");
    assert_error(&app.get("/v1/tenants/x1", &op).await, 404, "unknown_tenant");
    app.restart().await;
    let r = app.get("/v1/tenants/fabrikam", &op).await;
    assert_eq!(r.status, 200, "the new tenant is durable: {}", r.text);
    assert_eq!(r.body["name"], "Tenant fabrikam");
    app.stop().await;
}

#[tokio::test]
async fn tenants_are_paged_for_the_operator_and_a_tenant_key_sees_its_own() {
    let mut app = TestApp::start().await;
    let (admin, bridge) = app.seed_tenant("acme", None).await;
    create(&app, "beta", "FR", "reseller").await;
    create(&app, "gamma", "DE", "post_usage").await;
    let op = app.operator_key.clone();
    let r = app.get("/v1/tenants?limit=2", &op).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let ids = |r: &Resp| -> Vec<String> {
        r.body["tenants"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(&r), ["acme", "beta"]);
    assert_eq!(r.body["next"], "beta");
    let r = app.get("/v1/tenants?limit=2&after=beta", &op).await;
    assert_eq!(ids(&r), ["gamma"]);
    assert_eq!(r.body["next"], Value::Null);
    assert_error(
        &app.get("/v1/tenants?limit=0", &op).await,
        400,
        "invalid_request",
    );
    assert_error(
        &app.get("/v1/tenants?limit=1001", &op).await,
        400,
        "invalid_request",
    );
    for key in [&admin, &bridge] {
        let r = app.get("/v1/tenants", key).await;
        assert_eq!(ids(&r), ["acme"], "{}", r.text);
    }
    app.stop().await;
}

#[tokio::test]
async fn c41_a_tenant_key_cannot_reach_another_tenant_nor_operator_routes() {
    let mut app = TestApp::start().await;
    let (admin, bridge) = app.seed_tenant("acme", None).await;
    create(&app, "other", "FR", "volume_licensing").await;
    let before = snapshot(&app, "other").await;
    // Another tenant: 404, exactly as if it did not exist.
    let foreign: [(Method, &str, Option<Value>); 9] = [
        (Method::GET, "/v1/tenants/other", None),
        (Method::GET, "/v1/tenants/other/licenses", None),
        (Method::GET, "/v1/tenants/other/users", None),
        (Method::GET, "/v1/tenants/other/numbers", None),
        (
            Method::PUT,
            "/v1/tenants/other/users/eve@other.example",
            Some(json!({"display_name": "Eve"})),
        ),
        (
            Method::PUT,
            "/v1/tenants/other/licenses/MCOMEETADD",
            Some(json!({"count": 9})),
        ),
        (
            Method::PUT,
            "/v1/tenants/other/default-policy",
            Some(json!({"policy": "not json at all"})),
        ),
        (
            Method::PUT,
            "/v1/tenants/other/wallet/settings",
            Some(json!({})),
        ),
        (
            Method::POST,
            "/v1/tenants/other/numbers",
            Some(json!({"number": "+33 1 86 95 00 09", "kind": "toll"})),
        ),
    ];
    for (method, path, body) in foreign {
        for key in [&admin, &bridge] {
            let r = app
                .request(
                    method.clone(),
                    path,
                    Some(key),
                    body.clone().map(RequestBody::Json),
                    &[],
                )
                .await;
            assert_error(&r, 404, "unknown_tenant");
        }
    }
    let r = put_file(
        &app,
        "other",
        &admin,
        "application/toml",
        &tenant_file("other"),
    )
    .await;
    assert_error(&r, 404, "unknown_tenant");
    assert_eq!(snapshot(&app, "other").await, before, "nothing changed");
    // Its own tenant, operator-only routes: 403.
    let own: [(Method, &str, Value); 3] = [
        (
            Method::PUT,
            "/v1/tenants/acme/licenses/MCOMEETADD",
            json!({"count": 50}),
        ),
        (
            Method::POST,
            "/v1/tenants/acme/numbers",
            json!({"number": "+33 1 86 95 00 09", "kind": "toll"}),
        ),
        (
            Method::POST,
            "/v1/tenants",
            new_tenant("mine", "FR", "reseller"),
        ),
    ];
    for (method, path, body) in own {
        let r = app
            .request(
                method,
                path,
                Some(&admin),
                Some(RequestBody::Json(body)),
                &[],
            )
            .await;
        assert_error(&r, 403, "forbidden");
    }
    let r = put_file(
        &app,
        "acme",
        &admin,
        "application/toml",
        &tenant_file("acme"),
    )
    .await;
    assert_error(&r, 403, "forbidden");
    // A bridge key does call control only.
    for path in [
        "/v1/tenants/acme",
        "/v1/tenants/acme/users",
        "/v1/tenants/acme/licenses",
    ] {
        assert_error(&app.get(path, &bridge).await, 403, "forbidden");
    }
    let r = app
        .put(
            "/v1/tenants/acme/users/x@acme.example",
            &bridge,
            json!({"display_name": "X"}),
        )
        .await;
    assert_error(&r, 403, "forbidden");
    // The operator gets unknown_tenant for a tenant that does not exist.
    let op = app.operator_key.clone();
    assert_error(
        &app.get("/v1/tenants/nope", &op).await,
        404,
        "unknown_tenant",
    );
    assert_error(
        &app.get("/v1/tenants/nope/users", &op).await,
        404,
        "unknown_tenant",
    );
    let r = app
        .put(
            "/v1/tenants/nope/users/x@nope.example",
            &op,
            json!({"display_name": "X"}),
        )
        .await;
    assert_error(&r, 404, "unknown_tenant");
    let r = app
        .put("/v1/tenants/nope/wallet/settings", &op, json!({}))
        .await;
    assert_error(&r, 404, "unknown_tenant");
    app.stop().await;
}

#[tokio::test]
async fn the_tenant_shows_its_facts_licenses_wallet_flag_and_default_policy() {
    let mut app = TestApp::start().await;
    let (admin, _bridge) = app.seed_tenant("acme", None).await;
    let r = app.get("/v1/tenants/acme", &admin).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body,
        json!({
            "id": "acme", "name": "Tenant acme", "country": "FR", "currency": "EUR",
            "timezone": "Europe/Paris", "agreement": "volume_licensing",
            "default_dial_out_policy": {"name": "Global", "conferencing_dial_out": "any"},
            "wallet_set_up": true,
            "licenses": [
                {"sku": "MCOMEETADD", "purchased": 5, "assigned": 1},
                {"sku": "MCOMEETACPEA", "purchased": 5, "assigned": 1},
                {"sku": "MCOPSTNPP", "purchased": 5, "assigned": 1},
                {"sku": "MCOMEETADD_DIALOUT_US", "purchased": 0, "assigned": 0}
            ],
            "users": 2, "numbers": 2
        })
    );
    // The tenant's admin manages its own wallet settings (C12).
    let r = app
        .put(
            "/v1/tenants/acme/wallet/auto-recharge",
            &admin,
            json!({"enabled": true, "trigger": "50", "amount": "150"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["auto_recharge"]["amount"], "150.00");
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Tenant file
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_tenant_file_applies_like_minutely_apply_and_twice_changes_nothing() {
    let mut app = TestApp::start().await;
    let op = app.operator_key.clone();
    let file = format!(
        "{}\n[[wallet.fundings]]\nreference = \"PO-1\"\namount = 100\nat = \"2026-03-01T00:00:00Z\"\n",
        tenant_file("acme")
    )
    .replace("[wallet]\n", "")
    .replace("\n[[wallet.fundings]]", "\n[wallet]\n[[wallet.fundings]]");
    let r = put_file(&app, "acme", &op, "application/toml", &file).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["created"], true);
    let changes: Vec<&str> = r.body["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    for expected in [
        "created tenant acme",
        "set purchased MCOMEETADD to 5",
        "set up the wallet settings",
        "saved toll_free number +33805980000",
        "assigned MCOMEETACPEA to ppm@acme.example",
    ] {
        assert!(
            changes.contains(&expected),
            "{expected} missing from {changes:?}"
        );
    }
    assert!(
        changes
            .iter()
            .any(|c| c.starts_with("declared funding 100.00 EUR (PO-1)")),
        "{changes:?}"
    );
    assert_eq!(r.body["summary"], format!("{} changes", changes.len()));
    let again = put_file(&app, "acme", &op, "text/plain; charset=utf-8", &file).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(
        again.body,
        json!({"tenant": "acme", "created": false, "changes": [], "summary": "no changes"})
    );
    let renamed = file.replace("name = \"Tenant acme\"", "name = \"Acme Corp\"");
    let r = put_file(&app, "acme", &op, "application/toml", &renamed).await;
    assert_eq!(
        r.body["changes"],
        json!(["renamed the tenant to Acme Corp"]),
        "{}",
        r.text
    );
    app.restart().await;
    let r = put_file(&app, "acme", &op, "application/toml", &renamed).await;
    assert_eq!(
        r.body["summary"], "no changes",
        "applied state and funding refs are durable: {}",
        r.text
    );
    let t = app.get("/v1/tenants/acme", &op).await;
    assert_eq!(t.body["name"], "Acme Corp");
    assert_eq!(t.body["users"], 2);
    app.stop().await;
}

#[tokio::test]
async fn c41_c42_a_refused_tenant_file_names_its_place_and_changes_nothing() {
    let mut app = TestApp::start().await;
    let op = app.operator_key.clone();
    app.seed_tenant("acme", None).await;
    let before = snapshot(&app, "acme").await;
    let file = tenant_file("acme");
    let duplicate = file.replace("upn = \"ppm@acme.example\"", "upn = \"SUB@acme.example\"");
    let r = put_file(&app, "acme", &op, "application/toml", &duplicate).await;
    assert_error(&r, 422, "upn_not_unique");
    assert_eq!(r.body["error"]["rule"], "C41");
    assert!(
        r.body["error"]["detail"]
            .as_str()
            .unwrap()
            .starts_with("users[1].upn"),
        "{}",
        r.text
    );
    let over = file.replace("MCOMEETADD = 5", "MCOMEETADD = 0");
    let r = put_file(&app, "acme", &op, "application/toml", &over).await;
    assert_error(&r, 422, "license_limit_exceeded");
    assert!(
        r.body["error"]["detail"]
            .as_str()
            .unwrap()
            .starts_with("licenses.MCOMEETADD"),
        "{}",
        r.text
    );
    let policy = file.replace(
        "display_name = \"PPM User\"",
        "display_name = \"PPM User\"\ndial_out_policy = \"Everywhere\"",
    );
    let r = put_file(&app, "acme", &op, "application/toml", &policy).await;
    assert_error(&r, 422, "invalid_policy");
    assert!(
        r.body["error"]["detail"]
            .as_str()
            .unwrap()
            .starts_with("users[1].dial_out_policy"),
        "{}",
        r.text
    );
    let number = file.replace("+33 805 98 00 00", "+33 805");
    let r = put_file(&app, "acme", &op, "application/toml", &number).await;
    assert_error(&r, 422, "invalid_number");
    let renamed_and_broken = format!(
        "{}\n[[users]]\nupn = 7\n",
        file.replace("Tenant acme", "Renamed")
    );
    let r = put_file(&app, "acme", &op, "application/toml", &renamed_and_broken).await;
    assert_error(&r, 422, "unprocessable_request");
    assert!(
        r.body["error"]["detail"]
            .as_str()
            .unwrap()
            .starts_with("line "),
        "{}",
        r.text
    );
    let other_id = tenant_file("zeta");
    let r = put_file(&app, "acme", &op, "application/toml", &other_id).await;
    assert_error(&r, 422, "unprocessable_request");
    let r = put_file(&app, "acme", &op, "application/json", &file).await;
    assert_error(&r, 415, "unsupported_media_type");
    assert_eq!(
        snapshot(&app, "acme").await,
        before,
        "a refused file changes nothing"
    );
    app.stop().await;
}

#[tokio::test]
async fn c25_applying_a_tenant_file_keeps_live_reservations() {
    let mut app = TestApp::start().await;
    let file = format!(
        "{}\n[[wallet.fundings]]\nreference = \"F1\"\namount = 100\nat = \"2026-03-01T00:00:00Z\"\n",
        tenant_file("acme")
    )
    .replace("[wallet]\n", "")
    .replace("\n[[wallet.fundings]]", "\n[wallet]\n[[wallet.fundings]]");
    let (_admin, bridge) = app.seed_tenant_file(&file, None).await;
    let r = app
        .post(
            "/v1/tenants/acme/calls/c1/authorize",
            &bridge,
            json!({"conference_id": "m1", "organizer": "ppm@acme.example", "direction": "dial_out", "destination_number": "+33 6 12 34 56 78"}),
        )
        .await;
    assert_eq!(r.body["decision"], "allow", "{}", r.text);
    let op = app.operator_key.clone();
    let renamed = file.replace("name = \"Tenant acme\"", "name = \"Acme Corp\"");
    let r = put_file(&app, "acme", &op, "application/toml", &renamed).await;
    assert_eq!(
        r.body["changes"],
        json!(["renamed the tenant to Acme Corp"]),
        "{}",
        r.text
    );
    app.clock.advance(90);
    let r = app
        .post(
            "/v1/tenants/acme/calls/c1/end",
            &bridge,
            json!({"duration_s": 90}),
        )
        .await;
    assert_eq!(
        r.status, 200,
        "the reservation survived the apply: {}",
        r.text
    );
    assert_eq!(r.body["charge"]["amount"], "0.22", "{}", r.text);
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Licenses
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn c1_c2_c42_purchases_are_checked_in_order_and_refusals_change_nothing() {
    let mut app = TestApp::start().await;
    app.seed_tenant("acme", None).await;
    let op = app.operator_key.clone();
    create(&app, "os", "FR", "online_subscription").await;
    create(&app, "ag", "AG", "volume_licensing").await;
    create(&app, "bh", "BH", "volume_licensing").await;
    create(&app, "bhos", "BH", "online_subscription").await;
    let one = json!({"count": 1});
    let cases = [
        (
            "os",
            "MCOMEETACPEA",
            422,
            Some("ppm_requires_volume_licensing"),
        ),
        ("os", "MCOMEETADD", 200, None),
        ("ag", "MCOMEETADD", 422, Some("country_ppm_only")),
        ("ag", "MCOMEETACPEA", 200, None),
        ("bh", "MCOMEETADD", 422, Some("country_not_supported")),
        ("bh", "MCOMEETACPEA", 422, Some("country_not_supported")),
        // C42: C1 is checked before C2.
        (
            "bhos",
            "MCOMEETACPEA",
            422,
            Some("ppm_requires_volume_licensing"),
        ),
        // Credits and the add-on are limited only by the count.
        ("bh", "MCOPSTNPP", 200, None),
        ("bh", "mcomeetadd_dialout_us", 200, None),
    ];
    for (tenant, sku, status, code) in cases {
        let before = snapshot(&app, tenant).await;
        let r = app
            .put(
                &format!("/v1/tenants/{tenant}/licenses/{sku}"),
                &op,
                one.clone(),
            )
            .await;
        match code {
            Some(code) => {
                assert_error(&r, status, code);
                assert_eq!(snapshot(&app, tenant).await, before, "{tenant} {sku}");
            }
            None => {
                assert_eq!(r.status, status, "{tenant} {sku}: {}", r.text);
                assert_eq!(r.body["purchased"], 1);
            }
        }
    }
    // Fewer than are assigned: license_limit_exceeded (C42), nothing changed.
    let before = snapshot(&app, "acme").await;
    let r = app
        .put(
            "/v1/tenants/acme/licenses/MCOMEETADD",
            &op,
            json!({"count": 0}),
        )
        .await;
    assert_error(&r, 422, "license_limit_exceeded");
    assert_eq!(r.body["error"]["rule"], "C42");
    assert_eq!(snapshot(&app, "acme").await, before);
    // A new count from an instant keeps the history.
    let r = app
        .put(
            "/v1/tenants/acme/licenses/MCOMEETADD",
            &op,
            json!({"count": 7, "from": "2026-04-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body,
        json!({"sku": "MCOMEETADD", "purchased": 7, "assigned": 1, "history": [
            {"from": "1970-01-01T00:00:00Z", "count": 5},
            {"from": "2026-04-01T00:00:00Z", "count": 7}
        ]})
    );
    // Without `from`, the count takes effect now.
    let r = app
        .put(
            "/v1/tenants/acme/licenses/MCOPSTNPP",
            &op,
            json!({"count": 6}),
        )
        .await;
    assert_eq!(
        r.body["history"][1],
        json!({"from": T0, "count": 6}),
        "{}",
        r.text
    );
    let r = app
        .put("/v1/tenants/acme/licenses/GOLD", &op, json!({"count": 1}))
        .await;
    assert_error(&r, 400, "invalid_request");
    let r = app
        .put(
            "/v1/tenants/acme/licenses/MCOPSTNPP",
            &op,
            json!({"count": -1}),
        )
        .await;
    assert_error(&r, 400, "invalid_request");
    app.restart().await;
    let r = app.get("/v1/tenants/acme/licenses", &op).await;
    assert_eq!(r.body["licenses"][0]["purchased"], 7, "durable: {}", r.text);
    assert_eq!(
        r.body["licenses"][0]["history"].as_array().unwrap().len(),
        2
    );
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Users
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn users_are_created_updated_and_paged_with_a_stable_object_id() {
    let mut app = TestApp::start().await;
    let (admin, _bridge) = app.seed_tenant("acme", None).await;
    let r = app
        .put(
            "/v1/tenants/acme/users/Ana@acme.example",
            &admin,
            json!({"display_name": "Ana", "usage_location": "pt"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let object_id = minutely_core::directory::stable_object_id("acme", "ana@acme.example");
    assert_eq!(
        r.body,
        json!({"upn": "Ana@acme.example", "object_id": object_id, "display_name": "Ana",
               "usage_location": "PT", "licenses": [], "dial_out_policy": null,
               "effective_policy": {"name": "Global", "conferencing_dial_out": "any"},
               "toll_free_dial_in": true})
    );
    let r = app
        .put(
            "/v1/tenants/acme/users/ana@ACME.example",
            &admin,
            json!({"display_name": "Ana Silva", "dial_out_policy": "tag:DialoutCPCZoneAPSTNDomestic", "toll_free_dial_in": false}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["object_id"], object_id.as_str());
    assert_eq!(r.body["display_name"], "Ana Silva");
    assert_eq!(
        r.body["usage_location"], "FR",
        "PUT replaces: the tenant country by default"
    );
    assert_eq!(r.body["dial_out_policy"], "DialoutCPCZoneAPSTNDomestic");
    assert_eq!(
        r.body["effective_policy"]["conferencing_dial_out"],
        "zone_a"
    );
    // An existing user keeps its licenses when its attributes are replaced.
    let r = app
        .put(
            "/v1/tenants/acme/users/sub@acme.example",
            &admin,
            json!({"display_name": "Renamed"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["licenses"], json!(["MCOMEETADD", "MCOPSTNPP"]));
    let r = app
        .put(
            "/v1/tenants/acme/users/zed@acme.example",
            &admin,
            json!({"display_name": "Zed"}),
        )
        .await;
    assert_eq!(r.status, 201);
    let mut seen = Vec::new();
    let mut path = "/v1/tenants/acme/users?limit=3".to_string();
    loop {
        let r = app.get(&path, &admin).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(r.body["users"].as_array().unwrap().len() <= 3);
        seen.extend(
            r.body["users"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["upn"].as_str().unwrap().to_string()),
        );
        match r.body["next"].as_str() {
            Some(next) => path = format!("/v1/tenants/acme/users?limit=3&after={next}"),
            None => break,
        }
    }
    assert_eq!(
        seen,
        [
            "Ana@acme.example",
            "ppm@acme.example",
            "sub@acme.example",
            "zed@acme.example"
        ]
    );
    let r = app
        .get("/v1/tenants/acme/users/SUB@ACME.EXAMPLE", &admin)
        .await;
    assert_eq!(r.body["display_name"], "Renamed", "{}", r.text);
    assert_eq!(
        r.body["object_id"],
        minutely_core::directory::stable_object_id("acme", "sub@acme.example")
    );
    app.restart().await;
    let r = app
        .get("/v1/tenants/acme/users/ana@acme.example", &admin)
        .await;
    assert_eq!(r.body["display_name"], "Ana Silva", "durable: {}", r.text);
    app.stop().await;
}

#[tokio::test]
async fn c41_unknown_users_and_bad_user_fields_are_refused_and_change_nothing() {
    let mut app = TestApp::start().await;
    let (admin, _bridge) = app.seed_tenant("acme", None).await;
    let before = snapshot(&app, "acme").await;
    let ghost = "/v1/tenants/acme/users/ghost@acme.example";
    assert_error(&app.get(ghost, &admin).await, 404, "unknown_user");
    let r = app
        .post(
            &format!("{ghost}/licenses"),
            &admin,
            json!({"sku": "MCOPSTNPP"}),
        )
        .await;
    assert_error(&r, 404, "unknown_user");
    assert_error(
        &app.delete(&format!("{ghost}/licenses/MCOPSTNPP"), &admin)
            .await,
        404,
        "unknown_user",
    );
    let r = app
        .put(
            ghost,
            &admin,
            json!({"display_name": "G", "dial_out_policy": "Everywhere"}),
        )
        .await;
    assert_error(&r, 422, "invalid_policy");
    assert_eq!(r.body["error"]["rule"], "C41");
    let r = app
        .put(
            ghost,
            &admin,
            json!({"display_name": "G", "usage_location": "Portugal"}),
        )
        .await;
    assert_error(&r, 400, "invalid_request");
    let r = app
        .put(
            ghost,
            &admin,
            json!({"display_name": "G", "colour": "blue"}),
        )
        .await;
    assert_error(&r, 400, "invalid_request");
    assert_eq!(snapshot(&app, "acme").await, before);
    app.stop().await;
}

#[tokio::test]
async fn c42_assignment_checks_conflicts_then_the_purchased_count() {
    let mut app = TestApp::start().await;
    let (admin, _bridge) = app.seed_tenant("acme", None).await;
    let op = app.operator_key.clone();
    let sub = "/v1/tenants/acme/users/sub@acme.example";
    let before = app.get(sub, &admin).await.body;
    let r = app
        .post(
            &format!("{sub}/licenses"),
            &admin,
            json!({"sku": "MCOMEETACPEA"}),
        )
        .await;
    assert_error(&r, 422, "conflicting_conferencing_licenses");
    assert_eq!(r.body["error"]["rule"], "C42");
    let r = app
        .post(
            &format!("{sub}/licenses"),
            &admin,
            json!({"sku": "MCOMEETADD_DIALOUT_US"}),
        )
        .await;
    assert_error(&r, 422, "license_limit_exceeded");
    assert_eq!(
        app.get(sub, &admin).await.body,
        before,
        "refusals change nothing"
    );
    let r = app
        .put(
            "/v1/tenants/acme/licenses/MCOMEETADD_DIALOUT_US",
            &op,
            json!({"count": 1}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app
        .post(
            &format!("{sub}/licenses"),
            &admin,
            json!({"sku": "MCOMEETADD_DIALOUT_US"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body["licenses"],
        json!(["MCOMEETADD", "MCOPSTNPP", "MCOMEETADD_DIALOUT_US"])
    );
    // Holding it already changes nothing.
    let r = app
        .post(
            &format!("{sub}/licenses"),
            &admin,
            json!({"sku": "mcomeetadd_dialout_us"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app
        .put(
            "/v1/tenants/acme/users/new@acme.example",
            &admin,
            json!({"display_name": "New"}),
        )
        .await;
    assert_eq!(r.status, 201);
    let r = app
        .post(
            "/v1/tenants/acme/users/new@acme.example/licenses",
            &admin,
            json!({"sku": "MCOMEETADD_DIALOUT_US"}),
        )
        .await;
    assert_error(&r, 422, "license_limit_exceeded");
    let r = app
        .delete(&format!("{sub}/licenses/MCOMEETADD"), &admin)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body["licenses"],
        json!(["MCOPSTNPP", "MCOMEETADD_DIALOUT_US"])
    );
    let r = app
        .delete(&format!("{sub}/licenses/MCOMEETADD"), &admin)
        .await;
    assert_eq!(r.status, 200, "not holding it changes nothing: {}", r.text);
    // With MCOMEETADD gone, the pay-per-minute license no longer conflicts.
    let r = app
        .post(
            &format!("{sub}/licenses"),
            &admin,
            json!({"sku": "MCOMEETACPEA"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app
        .post(&format!("{sub}/licenses"), &admin, json!({"sku": "GOLD"}))
        .await;
    assert_error(&r, 400, "invalid_request");
    let r = app.get("/v1/tenants/acme/licenses", &admin).await;
    assert_eq!(
        r.body["licenses"][0],
        json!({"sku": "MCOMEETADD", "purchased": 5, "assigned": 0, "history": [{"from": "1970-01-01T00:00:00Z", "count": 5}]})
    );
    assert_eq!(r.body["licenses"][1]["assigned"], 2);
    app.stop().await;
}

#[tokio::test]
async fn c1_c2_assignment_follows_the_tenant_eligibility() {
    let app = TestApp::start().await;
    let op = app.operator_key.clone();
    create(&app, "ag", "AG", "volume_licensing").await;
    let r = app
        .put(
            "/v1/tenants/ag/users/u@ag.example",
            &op,
            json!({"display_name": "U"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = app
        .post(
            "/v1/tenants/ag/users/u@ag.example/licenses",
            &op,
            json!({"sku": "MCOMEETADD"}),
        )
        .await;
    assert_error(&r, 422, "country_ppm_only");
    assert_eq!(r.body["error"]["rule"], "C2");
    create(&app, "os", "FR", "online_subscription").await;
    let r = app
        .put(
            "/v1/tenants/os/users/u@os.example",
            &op,
            json!({"display_name": "U"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = app
        .post(
            "/v1/tenants/os/users/u@os.example/licenses",
            &op,
            json!({"sku": "MCOMEETACPEA"}),
        )
        .await;
    assert_error(&r, 422, "ppm_requires_volume_licensing");
    assert_eq!(r.body["error"]["rule"], "C1");
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Service numbers
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn c4_c8_service_numbers_are_checked_and_listed() {
    let mut app = TestApp::start().await;
    let (admin, _bridge) = app.seed_tenant("acme", None).await;
    let op = app.operator_key.clone();
    let r = app.get("/v1/tenants/acme/numbers", &admin).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body["numbers"],
        json!([
            {"number": "+33186950000", "kind": "toll", "shared": false, "country": "FR", "bridge_default": false},
            {"number": "+33805980000", "kind": "toll_free", "shared": false, "country": "FR", "bridge_default": false}
        ])
    );
    let add = |number: &str, kind: &str| json!({"number": number, "kind": kind});
    let r = app
        .post("/v1/tenants/acme/numbers", &op, json!({"number": "+33 1 86 95 00 01", "kind": "toll", "shared": true, "bridge_default": true}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        r.body,
        json!({"number": "+33186950001", "kind": "toll", "shared": true, "country": "FR", "bridge_default": true})
    );
    let r = app
        .post("/v1/tenants/acme/numbers", &op, json!({"number": "+33.1.86.95.00.01", "kind": "toll", "shared": true, "bridge_default": true}))
        .await;
    assert_eq!(
        r.status, 200,
        "the same number again is an update: {}",
        r.text
    );
    let before = snapshot(&app, "acme").await;
    let refusals = [
        (
            add("+971 4 234 5678", "toll"),
            422,
            "number_kind_unavailable",
            Some("C4"),
        ),
        (
            add("+355 4 222 3344", "toll_free"),
            422,
            "number_kind_unavailable",
            Some("C4"),
        ),
        (add("+33 805", "toll"), 422, "invalid_number", Some("C8")),
        (add("call me", "toll"), 422, "invalid_number", Some("C8")),
        (
            add("+33 1 86 95 00 02", "premium"),
            400,
            "invalid_request",
            None,
        ),
    ];
    for (body, status, code, rule) in refusals {
        let r = app
            .post("/v1/tenants/acme/numbers", &op, body.clone())
            .await;
        assert_error(&r, status, code);
        if let Some(rule) = rule {
            assert_eq!(r.body["error"]["rule"], rule, "{body}");
        }
    }
    assert_eq!(
        snapshot(&app, "acme").await,
        before,
        "refusals change nothing"
    );
    // C4: a toll-free number needs the wallet; a toll number does not.
    create(&app, "nw", "FR", "volume_licensing").await;
    let r = app
        .post(
            "/v1/tenants/nw/numbers",
            &op,
            add("+33 805 98 00 01", "toll_free"),
        )
        .await;
    assert_error(&r, 422, "credits_not_set_up");
    let r = app
        .post(
            "/v1/tenants/nw/numbers",
            &op,
            add("+33 1 86 95 00 02", "toll"),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = app.get("/v1/tenants/acme/numbers?limit=2", &admin).await;
    assert_eq!(r.body["numbers"].as_array().unwrap().len(), 2);
    assert_eq!(r.body["next"], "+33186950001");
    let r = app
        .get(
            "/v1/tenants/acme/numbers?limit=2&after=%2B33186950001",
            &admin,
        )
        .await;
    assert_eq!(r.body["numbers"][0]["number"], "+33805980000", "{}", r.text);
    assert_eq!(r.body["next"], Value::Null);
    app.restart().await;
    let r = app.get("/v1/tenants/nw/numbers", &op).await;
    assert_eq!(
        r.body["numbers"][0]["number"], "+33186950002",
        "durable: {}",
        r.text
    );
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Policies
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn c16_c41_policy_names_and_the_tenant_default() {
    let mut app = TestApp::start().await;
    let (admin, bridge) = app.seed_tenant("acme", None).await;
    let r = app.get("/v1/policies", &bridge).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let policies = r.body["policies"].as_array().unwrap();
    assert_eq!(policies.len(), 13);
    assert_eq!(
        policies[0],
        json!({"name": "Global", "conferencing_dial_out": "any"})
    );
    assert!(policies.contains(
        &json!({"name": "DialoutCPCZoneAPSTNDomestic", "conferencing_dial_out": "zone_a"})
    ));
    assert!(policies.contains(
        &json!({"name": "DialoutCPCandPSTNDisabled", "conferencing_dial_out": "disabled"})
    ));
    assert_eq!(
        r.body["scopes"],
        json!(["any", "domestic", "zone_a", "disabled"])
    );
    let before = snapshot(&app, "acme").await;
    let r = app
        .put(
            "/v1/tenants/acme/default-policy",
            &admin,
            json!({"policy": "Everywhere"}),
        )
        .await;
    assert_error(&r, 422, "invalid_policy");
    assert_eq!(snapshot(&app, "acme").await, before);
    let r = app
        .put(
            "/v1/tenants/acme/default-policy",
            &admin,
            json!({"policy": "tag:dialoutcpcandpstndomestic"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body,
        json!({"tenant": "acme", "default_dial_out_policy": {"name": "DialoutCPCandPSTNDomestic", "conferencing_dial_out": "domestic"}})
    );
    let user = app
        .get("/v1/tenants/acme/users/ppm@acme.example", &admin)
        .await;
    assert_eq!(user.body["dial_out_policy"], Value::Null);
    assert_eq!(
        user.body["effective_policy"]["name"],
        "DialoutCPCandPSTNDomestic"
    );
    app.restart().await;
    let t = app.get("/v1/tenants/acme", &admin).await;
    assert_eq!(
        t.body["default_dial_out_policy"]["conferencing_dial_out"], "domestic",
        "durable"
    );
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Wallet set-up
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn c3_the_wallet_cannot_be_set_up_where_credits_are_unavailable() {
    let app = TestApp::start().await;
    let op = app.operator_key.clone();
    create(&app, "bh", "BH", "volume_licensing").await;
    create(&app, "pu", "FR", "post_usage").await;
    for (tenant, code) in [
        ("bh", "credits_unavailable_in_country"),
        ("pu", "credits_unavailable_for_agreement"),
    ] {
        let r = app
            .put(
                &format!("/v1/tenants/{tenant}/wallet/settings"),
                &op,
                json!({}),
            )
            .await;
        assert_error(&r, 422, code);
        assert_eq!(r.body["error"]["rule"], "C3");
        let t = app.get(&format!("/v1/tenants/{tenant}"), &op).await;
        assert_eq!(t.body["wallet_set_up"], false, "{tenant}");
    }
    app.stop().await;
}

#[tokio::test]
async fn c3_c15_wallet_set_up_with_thresholds() {
    let mut app = TestApp::start().await;
    let op = app.operator_key.clone();
    create(&app, "os", "FR", "online_subscription").await;
    // No body at all sets the wallet up with no thresholds.
    let r = app
        .request(
            Method::PUT,
            "/v1/tenants/os/wallet/settings",
            Some(&op),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body,
        json!({"tenant": "os", "currency": "EUR", "set_up": true, "low_balance_thresholds": [], "auto_recharge": null})
    );
    let r = app
        .put(
            "/v1/tenants/os/wallet/settings",
            &op,
            json!({"low_balance_thresholds": ["25", "100"]}),
        )
        .await;
    assert_eq!(
        r.body["low_balance_thresholds"],
        json!(["100.00", "25.00"]),
        "{}",
        r.text
    );
    let r = app
        .put(
            "/v1/tenants/os/wallet/settings",
            &op,
            json!({"low_balance_thresholds": ["1", "2", "3"]}),
        )
        .await;
    assert_error(&r, 400, "invalid_request");
    let r = app
        .put(
            "/v1/tenants/os/wallet/settings",
            &op,
            json!({"low_balance_thresholds": [25]}),
        )
        .await;
    assert_error(&r, 400, "invalid_request");
    app.restart().await;
    let r = app
        .put("/v1/tenants/os/wallet/settings", &op, json!({}))
        .await;
    assert_eq!(
        r.body["low_balance_thresholds"],
        json!(["100.00", "25.00"]),
        "durable: {}",
        r.text
    );
    assert_eq!(
        app.get("/v1/tenants/os", &op).await.body["wallet_set_up"],
        true
    );
    app.stop().await;
}

#[tokio::test]
async fn c11_c40_auto_recharge_needs_a_wallet_and_whole_amounts_above_the_minimum() {
    let app = TestApp::start().await;
    let op = app.operator_key.clone();
    create(&app, "os", "FR", "online_subscription").await;
    let valid = json!({"enabled": true, "trigger": "50", "amount": "100"});
    let r = app
        .put("/v1/tenants/os/wallet/auto-recharge", &op, valid.clone())
        .await;
    assert_error(&r, 422, "credits_not_set_up");
    assert_eq!(r.body["error"]["rule"], "C4");
    assert_eq!(
        app.get("/v1/tenants/os", &op).await.body["wallet_set_up"],
        false
    );
    let r = app
        .put("/v1/tenants/os/wallet/settings", &op, json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app
        .put("/v1/tenants/os/wallet/auto-recharge", &op, valid)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body["auto_recharge"],
        json!({"enabled": true, "trigger": "50.00", "amount": "100.00", "payment_accepted": true})
    );
    let settled = app
        .put("/v1/tenants/os/wallet/settings", &op, json!({}))
        .await
        .body;
    let refusals = [
        (
            json!({"enabled": true, "trigger": "20", "amount": "100"}),
            "amount_below_minimum",
        ),
        // C40: below the minimum is reported before not whole.
        (
            json!({"enabled": true, "trigger": "20.5", "amount": "100"}),
            "amount_below_minimum",
        ),
        (
            json!({"enabled": true, "trigger": "50", "amount": "60.5"}),
            "amount_not_whole",
        ),
        (
            json!({"enabled": true, "trigger": "50", "amount": "49"}),
            "amount_below_minimum",
        ),
    ];
    for (body, code) in refusals {
        let r = app
            .put("/v1/tenants/os/wallet/auto-recharge", &op, body.clone())
            .await;
        assert_error(&r, 422, code);
        assert_eq!(r.body["error"]["rule"], "C11", "{body}");
    }
    let r = app
        .put(
            "/v1/tenants/os/wallet/auto-recharge",
            &op,
            json!({"enabled": true, "trigger": 50, "amount": 100}),
        )
        .await;
    assert_error(&r, 400, "invalid_request");
    let r = app
        .put(
            "/v1/tenants/os/wallet/auto-recharge",
            &op,
            json!({"enabled": true, "trigger": "50"}),
        )
        .await;
    assert_error(&r, 422, "unprocessable_request");
    assert_eq!(
        app.put("/v1/tenants/os/wallet/settings", &op, json!({}))
            .await
            .body,
        settled,
        "refusals change nothing"
    );
    let r = app
        .put(
            "/v1/tenants/os/wallet/auto-recharge",
            &op,
            json!({"enabled": false, "trigger": "60", "amount": "200", "payment_accepted": false}),
        )
        .await;
    assert_eq!(
        r.body["auto_recharge"],
        json!({"enabled": false, "trigger": "60.00", "amount": "200.00", "payment_accepted": false}),
        "{}",
        r.text
    );
    let r = app
        .put(
            "/v1/tenants/os/wallet/auto-recharge",
            &op,
            json!({"enabled": false}),
        )
        .await;
    assert_eq!(r.body["auto_recharge"], Value::Null, "{}", r.text);
    app.stop().await;
}
