//! The audit log against a real server: every administrative route leaves exactly one row
//! naming the key, the action, the object and the object before and after; refused changes and
//! changes that change nothing leave none; a tenant admin reads its own tenant's rows only; the
//! operator reads everything, by tenant if it likes, page by page; no secret is ever in a row.

use crate::common;

use common::*;
use serde_json::{Value, json};

/// The id of a key `mk_<id>_<secret>`.
fn key_id(key: &str) -> String {
    key.trim_start_matches("mk_")
        .split('_')
        .next()
        .expect("a key id")
        .to_string()
}

/// Every row of the log, oldest first, read page by page as the operator.
async fn all_rows(app: &TestApp) -> Vec<Value> {
    let mut rows = Vec::new();
    let mut path = "/v1/audit?limit=1000".to_string();
    loop {
        let r = app.get(&path, &app.operator_key).await;
        assert_eq!(r.status, 200, "{}", r.text);
        rows.extend(r.body["entries"].as_array().expect("entries").clone());
        match r.body["next"].as_str() {
            Some(next) => path = format!("/v1/audit?limit=1000&after={next}"),
            None => return rows,
        }
    }
}

/// The rows written since the last call (`seen` is the count already read).
async fn new_rows(app: &TestApp, seen: &mut usize) -> Vec<Value> {
    let rows = all_rows(app).await;
    let fresh = rows[*seen..].to_vec();
    *seen = rows.len();
    fresh
}

/// The one row a change wrote, checked for who and what; returned for the rest.
async fn one_row(
    app: &TestApp,
    seen: &mut usize,
    action: &str,
    actor: (&str, &str),
    tenant: Option<&str>,
    object: &str,
) -> Value {
    let rows = new_rows(app, seen).await;
    assert_eq!(rows.len(), 1, "{action}: exactly one row, got {rows:#?}");
    let row = rows[0].clone();
    assert_eq!(row["action"], action, "{row:#}");
    assert_eq!(row["actor_kind"], actor.0, "{row:#}");
    assert_eq!(row["actor_key_id"], key_id(actor.1), "{row:#}");
    assert_eq!(row["tenant"], json!(tenant), "{row:#}");
    assert_eq!(row["object"], object, "{row:#}");
    assert_eq!(row["at"], T0, "{row:#}");
    row
}

/// A request with our own request id, so the row can be matched to it.
async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    key: &str,
    body: Option<RequestBody>,
    request_id: &str,
) -> Resp {
    app.request(
        method,
        path,
        Some(key),
        body,
        &[("x-request-id", request_id)],
    )
    .await
}

fn json_body(v: Value) -> Option<RequestBody> {
    Some(RequestBody::Json(v))
}

const NEW_VERSION: &str = minutely_testkit::rate_card!(
    "\
dial_out,+33,,France,FR,false,0.0200,0,60,60,2026-06-01T00:00:00Z
"
);

#[tokio::test]
async fn every_administrative_route_leaves_one_row_with_who_what_before_and_after() {
    let mut app = TestApp::start().await;
    let (admin, _bridge) = app.seed_tenant("acme", None).await;
    let op = app.operator_key.clone();
    let mut seen = 0;
    assert!(
        all_rows(&app).await.is_empty(),
        "seeding the store directly is not audited"
    );
    use reqwest::Method;

    // tenant.create, by the operator, with the request id of the request.
    let r = send(
        &app,
        Method::POST,
        "/v1/tenants",
        &op,
        json_body(json!({"id": "globex", "name": "Globex", "country": "FR", "currency": "EUR", "agreement": "volume_licensing"})),
        "req-create",
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let row = one_row(
        &app,
        &mut seen,
        "tenant.create",
        ("operator", &op),
        Some("globex"),
        "globex",
    )
    .await;
    assert_eq!(row["request_id"], "req-create");
    assert_eq!(row["before"], Value::Null);
    assert_eq!(row["after"]["name"], "Globex");

    // tenant.apply: the tenant's figures before, after, and the file's changes.
    let r = app
        .request(
            Method::PUT,
            "/v1/tenants/globex/file",
            Some(&op),
            Some(RequestBody::Text("application/toml", tenant_file("globex"))),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let row = one_row(
        &app,
        &mut seen,
        "tenant.apply",
        ("operator", &op),
        Some("globex"),
        "globex",
    )
    .await;
    assert_eq!(row["before"]["users"], 0);
    assert_eq!(row["after"]["users"], 2);
    assert_eq!(row["after"]["changes"], r.body["changes"]);
    assert!(row["request_id"].as_str().is_some_and(|id| !id.is_empty()));

    // license.set_purchased.
    let r = app
        .put(
            "/v1/tenants/acme/licenses/MCOPSTNPP",
            &op,
            json!({"count": 7}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let row = one_row(
        &app,
        &mut seen,
        "license.set_purchased",
        ("operator", &op),
        Some("acme"),
        "MCOPSTNPP",
    )
    .await;
    assert_eq!(row["before"]["purchased"], 5);
    assert_eq!(row["after"]["purchased"], 7);

    // user.put by the tenant admin: a new user has no "before".
    let r = app
        .put(
            "/v1/tenants/acme/users/new@acme.example",
            &admin,
            json!({"display_name": "New User"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let row = one_row(
        &app,
        &mut seen,
        "user.put",
        ("tenant_admin", &admin),
        Some("acme"),
        "new@acme.example",
    )
    .await;
    assert_eq!(row["before"], Value::Null);
    assert_eq!(row["after"]["display_name"], "New User");
    let r = app
        .put(
            "/v1/tenants/acme/users/new@acme.example",
            &admin,
            json!({"display_name": "Renamed"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let row = one_row(
        &app,
        &mut seen,
        "user.put",
        ("tenant_admin", &admin),
        Some("acme"),
        "new@acme.example",
    )
    .await;
    assert_eq!(row["before"]["display_name"], "New User");
    assert_eq!(row["after"]["display_name"], "Renamed");

    // license.assign and license.unassign: the user's licenses before and after.
    let r = app
        .post(
            "/v1/tenants/acme/users/new@acme.example/licenses",
            &admin,
            json!({"sku": "MCOPSTNPP"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let row = one_row(
        &app,
        &mut seen,
        "license.assign",
        ("tenant_admin", &admin),
        Some("acme"),
        "new@acme.example",
    )
    .await;
    assert_eq!(row["before"]["licenses"], json!([]));
    assert_eq!(row["after"]["licenses"], json!(["MCOPSTNPP"]));
    let r = app
        .delete(
            "/v1/tenants/acme/users/new@acme.example/licenses/MCOPSTNPP",
            &admin,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let row = one_row(
        &app,
        &mut seen,
        "license.unassign",
        ("tenant_admin", &admin),
        Some("acme"),
        "new@acme.example",
    )
    .await;
    assert_eq!(row["before"]["licenses"], json!(["MCOPSTNPP"]));
    assert_eq!(row["after"]["licenses"], json!([]));

    // number.put.
    let r = app
        .post(
            "/v1/tenants/acme/numbers",
            &op,
            json!({"number": "+33 1 86 95 00 01", "kind": "toll"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let row = one_row(
        &app,
        &mut seen,
        "number.put",
        ("operator", &op),
        Some("acme"),
        "+33186950001",
    )
    .await;
    assert_eq!(row["before"], Value::Null);
    assert_eq!(row["after"]["kind"], "toll");

    // policy.default.
    let r = app
        .put(
            "/v1/tenants/acme/default-policy",
            &admin,
            json!({"policy": "DialoutCPCInternationalPSTNDisabled"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let row = one_row(
        &app,
        &mut seen,
        "policy.default",
        ("tenant_admin", &admin),
        Some("acme"),
        "acme",
    )
    .await;
    assert_eq!(row["before"]["name"], "Global");
    assert_eq!(row["after"]["name"], "DialoutCPCInternationalPSTNDisabled");

    // wallet.setup and wallet.auto_recharge: the settings before and after.
    let r = app
        .put(
            "/v1/tenants/acme/wallet/settings",
            &admin,
            json!({"low_balance_thresholds": ["100", "20"]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let row = one_row(
        &app,
        &mut seen,
        "wallet.setup",
        ("tenant_admin", &admin),
        Some("acme"),
        "acme",
    )
    .await;
    assert_eq!(row["before"]["low_balance_thresholds"], json!([]));
    assert_eq!(
        row["after"]["low_balance_thresholds"],
        json!(["100.00", "20.00"])
    );
    let r = app
        .put(
            "/v1/tenants/acme/wallet/auto-recharge",
            &admin,
            json!({"enabled": true, "trigger": "50", "amount": "100"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let row = one_row(
        &app,
        &mut seen,
        "wallet.auto_recharge",
        ("tenant_admin", &admin),
        Some("acme"),
        "acme",
    )
    .await;
    assert_eq!(row["before"]["auto_recharge"], Value::Null);
    assert_eq!(row["after"]["auto_recharge"]["amount"], "100.00");

    // wallet.fund: the balance before and after, the amount and reference.
    let r = app
        .post(
            "/v1/tenants/acme/wallet/fundings",
            &admin,
            json!({"amount": "150", "reference": "PO-1"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let row = one_row(
        &app,
        &mut seen,
        "wallet.fund",
        ("tenant_admin", &admin),
        Some("acme"),
        "PO-1",
    )
    .await;
    assert_eq!(row["before"], json!({"balance": "0.00"}));
    assert_eq!(row["after"]["balance"], "150.00");
    assert_eq!(row["after"]["amount"], "150.00");
    assert_eq!(row["after"]["reference"], "PO-1");

    // countries.replace: operator-wide, the codes that changed.
    let r = app
        .request(
            Method::GET,
            "/v1/countries",
            Some(&op),
            None,
            &[("accept", "text/csv")],
        )
        .await;
    assert_eq!(r.status, 200);
    let edited = r.text.replace("AE,United Arab Emirates,", "AE,UAE,");
    assert_ne!(edited, r.text);
    let r = app
        .request(
            Method::PUT,
            "/v1/countries",
            Some(&op),
            Some(RequestBody::Text("text/csv", edited)),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let row = one_row(
        &app,
        &mut seen,
        "countries.replace",
        ("operator", &op),
        None,
        "countries",
    )
    .await;
    assert_eq!(row["after"]["changed"], json!(["AE"]));
    assert_eq!(row["before"]["countries"], row["after"]["countries"]);

    // rate_card.import: the versions before and after.
    let r = app
        .request(
            Method::POST,
            "/v1/rate-cards/EUR",
            Some(&op),
            Some(RequestBody::Text("text/csv", NEW_VERSION.to_string())),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let row = one_row(
        &app,
        &mut seen,
        "rate_card.import",
        ("operator", &op),
        None,
        "EUR",
    )
    .await;
    assert_eq!(row["before"]["versions"], json!(["2026-01-01T00:00:00Z"]));
    assert_eq!(
        row["after"]["versions"],
        json!(["2026-01-01T00:00:00Z", "2026-06-01T00:00:00Z"])
    );

    // key.create and key.revoke: the key as listed, never its secret.
    let r = app
        .post(
            "/v1/keys",
            &op,
            json!({"kind": "tenant_admin", "tenant": "acme", "label": "second admin"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let created_key = r.body["key"].as_str().expect("the key text").to_string();
    let created_id = r.body["id"].as_str().expect("an id").to_string();
    let row = one_row(
        &app,
        &mut seen,
        "key.create",
        ("operator", &op),
        Some("acme"),
        &created_id,
    )
    .await;
    assert_eq!(row["before"], Value::Null);
    assert_eq!(
        row["after"],
        json!({"id": created_id, "kind": "tenant_admin", "tenant": "acme", "label": "second admin", "created_at": T0, "revoked_at": null})
    );
    let r = app
        .post("/v1/keys", &op, json!({"kind": "operator", "label": "ops"}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let operator_secret = r.body["key"].as_str().expect("the key text").to_string();
    let operator_id = r.body["id"].as_str().expect("an id").to_string();
    one_row(
        &app,
        &mut seen,
        "key.create",
        ("operator", &op),
        None,
        &operator_id,
    )
    .await;
    let r = app.delete(&format!("/v1/keys/{created_id}"), &op).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let row = one_row(
        &app,
        &mut seen,
        "key.revoke",
        ("operator", &op),
        Some("acme"),
        &created_id,
    )
    .await;
    assert_eq!(row["before"]["revoked_at"], Value::Null);
    assert_eq!(row["after"]["revoked_at"], T0);

    // webhook.create and webhook.disable: the endpoint, never its secret.
    let r = app
        .post(
            "/v1/tenants/acme/webhooks",
            &admin,
            json!({"url": "https://hooks.example/minutely"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let webhook_secret = r.body["secret"].as_str().expect("a secret").to_string();
    let endpoint = r.body["id"].as_str().expect("an id").to_string();
    let row = one_row(
        &app,
        &mut seen,
        "webhook.create",
        ("tenant_admin", &admin),
        Some("acme"),
        &endpoint,
    )
    .await;
    assert_eq!(row["after"]["url"], "https://hooks.example/minutely");
    assert_eq!(row["after"]["enabled"], true);
    let r = app
        .delete(&format!("/v1/tenants/acme/webhooks/{endpoint}"), &admin)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let row = one_row(
        &app,
        &mut seen,
        "webhook.disable",
        ("tenant_admin", &admin),
        Some("acme"),
        &endpoint,
    )
    .await;
    assert_eq!(row["before"]["enabled"], true);
    assert_eq!(row["after"]["enabled"], false);
    assert_eq!(row["after"]["disabled_at"], T0);

    // No secret anywhere: not the keys' secrets, not the webhook's.
    let everything = app.get("/v1/audit?limit=1000", &op).await.text;
    let own = app
        .get("/v1/tenants/acme/audit?limit=1000", &admin)
        .await
        .text;
    for secret in [&created_key, &operator_secret, &webhook_secret, &op, &admin] {
        let tail = secret.rsplit('_').next().expect("a secret part");
        assert!(!everything.contains(tail), "a secret is in the log");
        assert!(!own.contains(tail), "a secret is in the tenant's log");
    }

    // What was acknowledged is durable: the same rows after a restart.
    let before_restart = all_rows(&app).await;
    assert_eq!(before_restart.len(), 19);
    app.restart().await;
    assert_eq!(all_rows(&app).await, before_restart);
    app.stop().await;
}

#[tokio::test]
async fn refused_changes_and_changes_that_change_nothing_leave_no_row() {
    let mut app = TestApp::start().await;
    let (admin, bridge) = app.seed_tenant("acme", None).await;
    let op = app.operator_key.clone();
    use reqwest::Method;
    let mut seen = 0;

    let refused = [
        // (method, path, key, body, expected status)
        (
            Method::POST,
            "/v1/tenants",
            &op,
            json!({"id": "acme", "name": "Again", "country": "FR", "currency": "EUR", "agreement": "volume_licensing"}),
            409,
        ),
        (
            Method::POST,
            "/v1/tenants",
            &op,
            json!({"id": "bad id", "name": "X", "country": "FR", "currency": "EUR", "agreement": "volume_licensing"}),
            400,
        ),
        (
            Method::PUT,
            "/v1/tenants/acme/users/x@acme.example",
            &admin,
            json!({"display_name": "X", "dial_out_policy": "NoSuchPolicy"}),
            422,
        ),
        (
            Method::POST,
            "/v1/tenants/acme/users/ppm@acme.example/licenses",
            &admin,
            json!({"sku": "NOPE"}),
            400,
        ),
        (
            Method::POST,
            "/v1/tenants/acme/users/nobody@acme.example/licenses",
            &admin,
            json!({"sku": "MCOPSTNPP"}),
            404,
        ),
        (
            Method::PUT,
            "/v1/tenants/acme/licenses/MCOMEETADD",
            &op,
            json!({"count": 0}),
            422,
        ),
        (
            Method::PUT,
            "/v1/tenants/acme/licenses/MCOMEETADD",
            &admin,
            json!({"count": 9}),
            403,
        ),
        (
            Method::POST,
            "/v1/tenants/acme/numbers",
            &op,
            json!({"number": "12", "kind": "toll"}),
            422,
        ),
        (
            Method::PUT,
            "/v1/tenants/acme/default-policy",
            &admin,
            json!({"policy": "Nope"}),
            422,
        ),
        (
            Method::PUT,
            "/v1/tenants/acme/wallet/auto-recharge",
            &admin,
            json!({"enabled": true, "trigger": "5", "amount": "100"}),
            422,
        ),
        (
            Method::POST,
            "/v1/tenants/acme/wallet/fundings",
            &admin,
            json!({"amount": "10", "reference": "small"}),
            422,
        ),
        (
            Method::POST,
            "/v1/tenants/acme/wallet/fundings",
            &bridge,
            json!({"amount": "100", "reference": "bridge"}),
            403,
        ),
        (
            Method::POST,
            "/v1/keys",
            &op,
            json!({"kind": "bridge", "tenant": "nobody"}),
            404,
        ),
        (
            Method::POST,
            "/v1/keys",
            &admin,
            json!({"kind": "operator"}),
            403,
        ),
        (
            Method::POST,
            "/v1/tenants/acme/webhooks",
            &admin,
            json!({"url": "ftp://x"}),
            400,
        ),
    ];
    for (method, path, key, body, status) in refused {
        let r = app
            .request(method.clone(), path, Some(key), json_body(body), &[])
            .await;
        assert_eq!(r.status, status, "{method} {path}: {}", r.text);
    }
    // The last live operator key cannot be revoked.
    let r = app.delete(&format!("/v1/keys/{}", key_id(&op)), &op).await;
    assert_eq!(r.status, 409, "{}", r.text);
    // A rate card version that conflicts with the stored one.
    let conflicting = RATES.replace("0.0240", "0.0250");
    let r = app
        .request(
            Method::POST,
            "/v1/rate-cards/EUR",
            Some(&op),
            Some(RequestBody::Text("text/csv", conflicting)),
            &[],
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert!(
        new_rows(&app, &mut seen).await.is_empty(),
        "refused changes leave no row"
    );

    // A funding's reference used twice: one row, for the first.
    let fund = json!({"amount": "100", "reference": "PO-9"});
    assert_eq!(
        app.post("/v1/tenants/acme/wallet/fundings", &admin, fund.clone())
            .await
            .status,
        200
    );
    assert_eq!(
        app.post("/v1/tenants/acme/wallet/fundings", &admin, fund)
            .await
            .status,
        409
    );
    assert_eq!(new_rows(&app, &mut seen).await.len(), 1);

    // Changes that change nothing.
    let r = app
        .post(
            "/v1/tenants/acme/users/sub@acme.example/licenses",
            &admin,
            json!({"sku": "MCOPSTNPP"}),
        )
        .await;
    assert_eq!(r.status, 200, "already held: {}", r.text);
    let r = app
        .put(
            "/v1/tenants/acme/default-policy",
            &admin,
            json!({"policy": "Global"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app
        .request(
            Method::PUT,
            "/v1/tenants/acme/file",
            Some(&op),
            Some(RequestBody::Text("application/toml", tenant_file("acme"))),
            &[],
        )
        .await;
    assert_eq!(r.body["summary"], "no changes", "{}", r.text);
    let r = app
        .request(
            Method::POST,
            "/v1/rate-cards/EUR",
            Some(&op),
            Some(RequestBody::Text("text/csv", RATES.to_string())),
            &[],
        )
        .await;
    assert_eq!(r.body["added"], json!([]), "{}", r.text);
    let r = app
        .request(
            Method::GET,
            "/v1/countries",
            Some(&op),
            None,
            &[("accept", "text/csv")],
        )
        .await;
    let r = app
        .request(
            Method::PUT,
            "/v1/countries",
            Some(&op),
            Some(RequestBody::Text("text/csv", r.text)),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        new_rows(&app, &mut seen).await.is_empty(),
        "no change, no row"
    );

    // Revoking a revoked key and disabling a disabled endpoint: the first time only.
    let r = app
        .post("/v1/keys", &op, json!({"kind": "bridge", "tenant": "acme"}))
        .await;
    let id = r.body["id"].as_str().expect("an id").to_string();
    assert_eq!(app.delete(&format!("/v1/keys/{id}"), &op).await.status, 200);
    assert_eq!(app.delete(&format!("/v1/keys/{id}"), &op).await.status, 200);
    let r = app
        .post(
            "/v1/tenants/acme/webhooks",
            &admin,
            json!({"url": "https://hooks.example/a"}),
        )
        .await;
    let endpoint = r.body["id"].as_str().expect("an id").to_string();
    let path = format!("/v1/tenants/acme/webhooks/{endpoint}");
    assert_eq!(app.delete(&path, &admin).await.status, 200);
    assert_eq!(app.delete(&path, &admin).await.status, 200);
    let actions: Vec<Value> = new_rows(&app, &mut seen)
        .await
        .into_iter()
        .map(|r| r["action"].clone())
        .collect();
    assert_eq!(
        actions,
        [
            json!("key.create"),
            json!("key.revoke"),
            json!("webhook.create"),
            json!("webhook.disable")
        ]
    );
    app.stop().await;
}

#[tokio::test]
async fn a_tenant_admin_reads_its_own_rows_and_the_operator_reads_all() {
    let mut app = TestApp::start().await;
    let (admin_a, bridge_a) = app.seed_tenant("acme", None).await;
    let (admin_b, _) = app.seed_tenant("beta", None).await;
    let op = app.operator_key.clone();
    for (tenant, admin) in [("acme", &admin_a), ("beta", &admin_b), ("acme", &admin_a)] {
        let r = app
            .put(
                &format!("/v1/tenants/{tenant}/users/u@{tenant}.example"),
                admin,
                json!({"display_name": tenant}),
            )
            .await;
        assert!(r.status == 200 || r.status == 201, "{}", r.text);
    }
    // The second PUT of acme's user changes nothing: acme has one row, beta one.
    let r = app
        .request(
            reqwest::Method::POST,
            "/v1/rate-cards/EUR",
            Some(&op),
            Some(RequestBody::Text("text/csv", NEW_VERSION.to_string())),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);

    let everything = app.get("/v1/audit", &op).await;
    assert_eq!(everything.status, 200, "{}", everything.text);
    let tenants: Vec<Value> = everything.body["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|r| r["tenant"].clone())
        .collect();
    assert_eq!(tenants, [json!("acme"), json!("beta"), Value::Null]);

    // The tenant admin: its own rows, 404 for another tenant's, 403 for the operator's log.
    let own = app.get("/v1/tenants/acme/audit", &admin_a).await;
    assert_eq!(own.status, 200, "{}", own.text);
    let own_rows = own.body["entries"].as_array().expect("entries").clone();
    assert_eq!(own_rows.len(), 1);
    assert_eq!(own_rows[0]["tenant"], "acme");
    assert!(!own.text.contains("beta"));
    let other = app.get("/v1/tenants/beta/audit", &admin_a).await;
    assert_eq!(other.status, 404, "{}", other.text);
    assert_eq!(other.body["error"]["code"], "unknown_tenant");
    assert_eq!(app.get("/v1/audit", &admin_a).await.status, 403);
    assert_eq!(app.get("/v1/audit?tenant=acme", &admin_a).await.status, 403);

    // A bridge key reads no log, not even its own tenant's.
    assert_eq!(
        app.get("/v1/tenants/acme/audit", &bridge_a).await.status,
        403
    );
    assert_eq!(app.get("/v1/audit", &bridge_a).await.status, 403);
    let no_key = app
        .request(
            reqwest::Method::GET,
            "/v1/tenants/acme/audit",
            None,
            None,
            &[],
        )
        .await;
    assert_eq!(no_key.status, 401);

    // The operator: any tenant's rows, by filter or by the tenant's route, the same.
    let filtered = app.get("/v1/audit?tenant=beta", &op).await;
    assert_eq!(filtered.status, 200, "{}", filtered.text);
    let by_route = app.get("/v1/tenants/beta/audit", &op).await;
    assert_eq!(by_route.status, 200, "{}", by_route.text);
    assert_eq!(filtered.body["entries"], by_route.body["entries"]);
    assert_eq!(filtered.body["entries"].as_array().map(Vec::len), Some(1));
    assert_eq!(filtered.body["entries"][0]["tenant"], "beta");
    assert_eq!(app.get("/v1/tenants/nobody/audit", &op).await.status, 404);
    let empty = app.get("/v1/audit?tenant=nobody", &op).await;
    assert_eq!(empty.body["entries"], json!([]), "{}", empty.text);
    app.stop().await;
}

#[tokio::test]
async fn pages_follow_the_cursor_and_bad_paging_is_refused() {
    let mut app = TestApp::start_with(|c| c.max_page = 3).await;
    let (admin, _) = app.seed_tenant("acme", None).await;
    let op = app.operator_key.clone();
    for i in 0..7 {
        let r = app
            .put(
                &format!("/v1/tenants/acme/users/u{i}@acme.example"),
                &admin,
                json!({"display_name": format!("User {i}")}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    for path in ["/v1/audit", "/v1/tenants/acme/audit"] {
        let mut objects = Vec::new();
        let mut seqs = Vec::new();
        let mut next: Option<String> = None;
        let mut pages = 0;
        loop {
            let url = match &next {
                Some(after) => format!("{path}?limit=2&after={after}"),
                None => format!("{path}?limit=2"),
            };
            let r = app.get(&url, &admin_or_op(path, &admin, &op)).await;
            assert_eq!(r.status, 200, "{}", r.text);
            pages += 1;
            for row in r.body["entries"].as_array().expect("entries") {
                objects.push(row["object"].as_str().expect("an object").to_string());
                seqs.push(row["seq"].as_u64().expect("a seq"));
            }
            match r.body["next"].as_str() {
                Some(cursor) => next = Some(cursor.to_string()),
                None => break,
            }
        }
        assert_eq!(pages, 4, "{path}: 7 rows in pages of 2");
        let expected: Vec<String> = (0..7).map(|i| format!("u{i}@acme.example")).collect();
        assert_eq!(objects, expected, "{path}");
        assert!(seqs.windows(2).all(|w| w[0] < w[1]));
        // The default page is capped by the server's page limit.
        let r = app.get(path, &admin_or_op(path, &admin, &op)).await;
        assert_eq!(r.body["entries"].as_array().map(Vec::len), Some(3));
        for bad in ["?limit=0", "?limit=4", "?after=x", "?after=-1"] {
            let r = app
                .get(&format!("{path}{bad}"), &admin_or_op(path, &admin, &op))
                .await;
            assert_eq!(r.status, 400, "{path}{bad}: {}", r.text);
            assert_eq!(r.body["error"]["code"], "invalid_request");
        }
    }
    app.stop().await;
}

/// The operator's log needs the operator key; the tenant's log is read by its admin.
fn admin_or_op(path: &str, admin: &str, op: &str) -> String {
    if path.starts_with("/v1/tenants/") {
        admin.to_string()
    } else {
        op.to_string()
    }
}
