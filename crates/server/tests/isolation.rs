//! The isolation matrix: every route of the OpenAPI document, called with every foreign
//! credential, answers 401, 403 or 404 and leaks nothing of the other tenant.

mod common;

use common::*;
use serde_json::{Value, json};

/// Text that only the tenant "beta"'s own data contains.
const BETA_MARKERS: &[&str] = &["Tenant beta", "ppm@beta.example"];

fn is_bridge_route(method: &str, path: &str) -> bool {
    path.ends_with("/authorize")
        || path.ends_with("/extend")
        || path.ends_with("/end")
        || (method == "post" && path == "/v1/tenants/{tenant}/calls")
}

/// Routes any key may read: the operator's catalogue, not tenant data.
fn is_catalogue_read(method: &str, path: &str) -> bool {
    method == "get"
        && (path.starts_with("/v1/countries")
            || path.starts_with("/v1/rate-cards")
            || path.starts_with("/v1/rate-lookup")
            || path.starts_with("/v1/policies"))
}

fn concrete(path: &str) -> String {
    path.replace("{tenant}", "beta")
        .replace("{call_id}", "b-1")
        .replace("{upn}", "sub@beta.example")
        .replace("{sku}", "MCOPSTNPP")
        .replace("{currency}", "EUR")
        .replace("{id}", "0123456789ab")
        .replace("{number}", "+33186950000")
}

#[tokio::test]
async fn isolation_every_route_every_foreign_credential() {
    let mut app = TestApp::start().await;
    let (admin_a, bridge_a) = app.seed_tenant("alpha", Some("100")).await;
    let (admin_b, bridge_b) = app.seed_tenant("beta", Some("100")).await;
    let op = app.operator_key.clone();
    // Beta has history: an ended call and a live one.
    let r = app
        .post(
            "/v1/tenants/beta/calls/b-1/authorize",
            &bridge_b,
            json!({"conference_id": "m", "organizer": "ppm@beta.example", "direction": "dial_out", "destination_number": "+33 1 44 55 66 77"}),
        )
        .await;
    assert_eq!(r.body["decision"], "allow", "{}", r.text);
    // A revoked key of beta's admin.
    let created = app
        .post(
            "/v1/keys",
            &op,
            json!({"kind": "tenant_admin", "tenant": "beta", "label": "to revoke"}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let revoked = created.body["key"]
        .as_str()
        .expect("the key text")
        .to_string();
    let revoked_id = created.body["id"].as_str().expect("the key id").to_string();
    let r = app.delete(&format!("/v1/keys/{revoked_id}"), &op).await;
    assert!(r.status < 300, "{}", r.text);

    let doc = app.get("/openapi.json", &op).await.body;
    let paths = doc["paths"].as_object().expect("paths");
    let mut checked = 0;
    for (path, item) in paths {
        for (method, _) in item.as_object().expect("operations") {
            let public = matches!(path.as_str(), "/healthz" | "/readyz" | "/openapi.json");
            if public {
                continue;
            }
            let url = concrete(path);
            let tenant_route = path.contains("{tenant}");
            let mut cases: Vec<(&str, Option<&str>, &[u16])> = vec![
                ("no key", None, &[401]),
                ("revoked key", Some(&revoked), &[401]),
            ];
            if tenant_route {
                cases.push(("alpha admin", Some(&admin_a), &[404]));
                cases.push(("alpha bridge", Some(&bridge_a), &[404]));
                if !is_bridge_route(method, path) {
                    cases.push(("beta bridge on an admin route", Some(&bridge_b), &[403]));
                }
            } else if !is_catalogue_read(method, path) && path != "/v1/tenants" {
                // Operator routes.
                cases.push(("alpha admin", Some(&admin_a), &[403]));
                cases.push(("alpha bridge", Some(&bridge_a), &[403]));
                cases.push(("beta admin", Some(&admin_b), &[403]));
            }
            for (who, key, allowed) in cases {
                let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes())
                    .expect("a method");
                let body = if m == reqwest::Method::GET || m == reqwest::Method::DELETE {
                    None
                } else {
                    Some(RequestBody::Json(json!({})))
                };
                let r = app.request(m, &url, key, body, &[]).await;
                assert!(
                    allowed.contains(&r.status),
                    "{method} {url} with {who}: {} {}",
                    r.status,
                    r.text
                );
                for marker in BETA_MARKERS {
                    assert!(
                        !r.text.contains(marker),
                        "{method} {url} with {who} leaked {marker:?}: {}",
                        r.text
                    );
                }
                let code = r.body["error"]["code"].as_str().unwrap_or_default();
                assert!(
                    !code.is_empty(),
                    "{method} {url} with {who}: no error code: {}",
                    r.text
                );
                checked += 1;
            }
        }
    }
    assert!(
        checked > 50,
        "only {checked} cases: the document lists too few routes"
    );
    // A tenant admin's listing of tenants names only its own.
    let r = app.get("/v1/tenants", &admin_a).await;
    assert_eq!(r.status, 200, "{}", r.text);
    for marker in BETA_MARKERS {
        assert!(!r.text.contains(marker), "{}", r.text);
    }
    let _: Value = r.body;
    app.stop().await;
}
