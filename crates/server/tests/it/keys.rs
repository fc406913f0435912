//! API keys through the API: create (shown once), list (never a secret), revoke (effective at
//! once), and what each kind of key may see.

use crate::common;

use common::*;
use serde_json::{Value, json};

/// How often the server re-reads its keys in these tests.
const KEY_REFRESH_EVERY: std::time::Duration = std::time::Duration::from_millis(50);

async fn create(app: &TestApp, body: Value) -> Resp {
    app.post("/v1/keys", &app.operator_key, body).await
}

#[tokio::test]
async fn keys_are_created_once_listed_without_secrets_and_revoked_at_once() {
    // Keys are re-read from the store every 50 ms here (every second by default).
    let mut app = TestApp::start_with(|config| config.key_refresh_every = KEY_REFRESH_EVERY).await;
    let (acme_admin, acme_bridge) = app.seed_tenant("acme", None).await;
    app.seed_tenant("beta", None).await;

    let r = create(
        &app,
        json!({"kind": "tenant_admin", "tenant": "acme", "label": "Acme IT"}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let key = r.body["key"].as_str().expect("the key text").to_string();
    let id = r.body["id"].as_str().unwrap().to_string();
    assert!(key.starts_with(&format!("mk_{id}_")), "{key}");
    assert_eq!(r.body["kind"], "tenant_admin");
    assert_eq!(r.body["tenant"], "acme");
    assert_eq!(r.body["created_at"], T0);

    // The new key works at once, for its tenant only.
    let own = app.get("/v1/tenants/acme/webhooks", &key).await;
    assert_eq!(own.status, 200, "{}", own.text);
    let other = app.get("/v1/tenants/beta/webhooks", &key).await;
    assert_eq!(other.status, 404, "{}", other.text);
    assert_eq!(other.body["error"]["code"], "unknown_tenant");
    let r = app.get("/v1/keys", &key).await;
    assert_eq!(r.status, 403, "a tenant admin lists no keys: {}", r.text);

    let list = app.get("/v1/keys", &app.operator_key).await;
    assert_eq!(list.status, 200, "{}", list.text);
    let secret = key.rsplit('_').next().unwrap();
    assert!(!list.text.contains(secret), "a secret is never listed");
    for forbidden in ["digest", "key", "secret"] {
        assert!(
            list.body["keys"][0].get(forbidden).is_none(),
            "{forbidden} listed"
        );
    }
    let listed: Vec<&Value> = list.body["keys"].as_array().unwrap().iter().collect();
    // The operator key of the harness, two keys per seeded tenant, and the new one.
    assert_eq!(listed.len(), 6, "{}", list.text);
    let mine = listed
        .iter()
        .find(|k| k["id"] == id.as_str())
        .expect("listed");
    assert_eq!(mine["label"], "Acme IT");
    assert_eq!(mine["revoked_at"], Value::Null);
    let page = app.get("/v1/keys?limit=4", &app.operator_key).await;
    assert_eq!(page.body["keys"].as_array().unwrap().len(), 4);
    let next = page.body["next"].as_str().expect("a cursor").to_string();
    let page = app
        .get(&format!("/v1/keys?limit=4&after={next}"), &app.operator_key)
        .await;
    assert_eq!(page.body["keys"].as_array().unwrap().len(), 2);
    assert_eq!(page.body["next"], Value::Null);

    app.clock.advance(60);
    let r = app
        .delete(&format!("/v1/keys/{id}"), &app.operator_key)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["revoked_at"], "2026-03-02T09:01:00Z");
    // Effective immediately, not at the next cache refresh.
    let r = app.get("/v1/tenants/acme/webhooks", &key).await;
    assert_eq!(r.status, 401, "{}", r.text);
    assert_eq!(r.body["error"]["code"], "key_revoked");
    let again = app
        .delete(&format!("/v1/keys/{id}"), &app.operator_key)
        .await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(
        again.body["revoked_at"], "2026-03-02T09:01:00Z",
        "the first revocation stays"
    );
    // Still revoked after the cache refresh and after a restart.
    tokio::time::sleep(KEY_REFRESH_EVERY * 4).await;
    assert_eq!(app.get("/v1/tenants/acme/webhooks", &key).await.status, 401);
    app.restart().await;
    let r = app.get("/v1/tenants/acme/webhooks", &key).await;
    assert_eq!(r.body["error"]["code"], "key_revoked", "{}", r.text);
    let list = app.get("/v1/keys", &app.operator_key).await;
    let mine = list.body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == id.as_str())
        .cloned();
    assert_eq!(mine.unwrap()["revoked_at"], "2026-03-02T09:01:00Z");

    // The seeded keys are untouched; a bridge key cannot manage keys.
    assert_eq!(
        app.get("/v1/tenants/acme/webhooks", &acme_admin)
            .await
            .status,
        200
    );
    let r = app
        .post("/v1/keys", &acme_bridge, json!({"kind": "operator"}))
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
    app.stop().await;
}

#[tokio::test]
async fn key_requests_are_checked_and_name_the_field() {
    let mut app = TestApp::start().await;
    app.seed_tenant("acme", None).await;
    for (body, status, code, says) in [
        (json!({"kind": "root"}), 400, "invalid_request", "kind"),
        // A kind and a tenant that do not go together: unprocessable.
        (
            json!({"kind": "tenant_admin"}),
            422,
            "unprocessable_request",
            "tenant",
        ),
        (
            json!({"kind": "bridge", "label": "sip edge"}),
            422,
            "unprocessable_request",
            "tenant",
        ),
        (
            json!({"kind": "operator", "tenant": "acme"}),
            422,
            "unprocessable_request",
            "tenant",
        ),
        (
            json!({"kind": "bridge", "tenant": "nobody"}),
            404,
            "unknown_tenant",
            "nobody",
        ),
        (
            json!({"kind": "operator", "label": "x".repeat(257)}),
            400,
            "invalid_request",
            "label",
        ),
        (
            json!({"kind": "operator", "extra": 1}),
            400,
            "invalid_request",
            "extra",
        ),
    ] {
        let r = create(&app, body.clone()).await;
        assert_eq!(r.status, status, "{body}: {}", r.text);
        assert_eq!(r.body["error"]["code"], code, "{body}: {}", r.text);
        let detail = r.body["error"]["detail"].as_str().unwrap_or("");
        assert!(detail.contains(says), "{body}: {detail}");
    }
    let before = app.get("/v1/keys", &app.operator_key).await.body["keys"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(before, 3, "nothing was created");

    let r = app.delete("/v1/keys/nope", &app.operator_key).await;
    assert_eq!(r.status, 404, "{}", r.text);
    // The last live operator key cannot be revoked through the API.
    let operator_id = app.operator_key.split('_').nth(1).unwrap().to_string();
    let r = app
        .delete(&format!("/v1/keys/{operator_id}"), &app.operator_key)
        .await;
    assert_eq!(r.status, 409, "{}", r.text);
    // With a second one it can; the second keeps working.
    let r = create(&app, json!({"kind": "operator", "label": "ops"})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let second = r.body["key"].as_str().unwrap().to_string();
    assert_eq!(r.body["tenant"], Value::Null);
    let r = app
        .delete(&format!("/v1/keys/{operator_id}"), &second)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app.get("/v1/keys", &app.operator_key).await;
    assert_eq!(r.body["error"]["code"], "key_revoked", "{}", r.text);
    assert_eq!(app.get("/v1/keys", &second).await.status, 200);
    let r = app.get("/v1/keys", "mk_nothing_here").await;
    assert_eq!(r.body["error"]["code"], "unauthorized", "{}", r.text);
    // The routes are documented.
    let doc = app.get("/openapi.json", &second).await;
    for path in [
        "/v1/keys",
        "/v1/keys/{id}",
        "/v1/tenants/{tenant}/webhooks",
        "/v1/tenants/{tenant}/webhooks/{id}",
        "/v1/tenants/{tenant}/webhooks/{id}/deliveries",
    ] {
        assert!(
            doc.body["paths"].get(path).is_some(),
            "{path} is not in /openapi.json"
        );
    }
    app.stop().await;
}
