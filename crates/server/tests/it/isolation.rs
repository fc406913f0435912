//! The isolation matrix: every route of the OpenAPI document has an explicit access class in
//! the table below, and is called with every kind of credential. Foreign credentials get 401,
//! 403 or 404 and learn nothing of the other tenant; the credentials the class allows get past
//! the gate. A route of the document missing from the table (or a table entry the document no
//! longer has) fails the test by name, so a new route cannot slip in with a default.

use crate::common;

use common::*;
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Anyone, without a key.
    Public,
    /// Any valid key.
    SharedRead,
    /// Operator keys only.
    Operator,
    /// The operator or the tenant's admin.
    TenantAdmin,
    /// Inside a tenant, but only the operator (C3).
    TenantOperator,
    /// The operator, the tenant's admin or the tenant's bridge.
    Bridge,
}

use Class::*;

/// Every operation of the OpenAPI document: (method as the document spells it, path template).
const TABLE: &[(&str, &str, Class)] = &[
    ("get", "/healthz", Public),
    ("get", "/readyz", Public),
    ("get", "/v1/audit", Operator),
    ("get", "/v1/countries", SharedRead),
    ("put", "/v1/countries", Operator),
    ("get", "/v1/keys", Operator),
    ("post", "/v1/keys", Operator),
    ("delete", "/v1/keys/{id}", Operator),
    ("get", "/v1/license-prices", SharedRead),
    ("put", "/v1/license-prices/{currency}", Operator),
    ("get", "/v1/me", SharedRead),
    ("put", "/v1/me/preferences", SharedRead),
    ("get", "/v1/policies", SharedRead),
    ("get", "/v1/rate-cards", SharedRead),
    ("get", "/v1/rate-cards/{currency}", SharedRead),
    ("post", "/v1/rate-cards/{currency}", Operator),
    ("get", "/v1/rate-cards/{currency}/diff", SharedRead),
    ("get", "/v1/rate-lookup", SharedRead),
    ("get", "/v1/tenants", SharedRead),
    ("post", "/v1/tenants", Operator),
    ("get", "/v1/tenants/{tenant}", TenantAdmin),
    ("get", "/v1/tenants/{tenant}/advice", TenantAdmin),
    ("get", "/v1/tenants/{tenant}/audit", TenantAdmin),
    ("post", "/v1/tenants/{tenant}/calls", Bridge),
    (
        "post",
        "/v1/tenants/{tenant}/calls/{call_id}/authorize",
        Bridge,
    ),
    ("post", "/v1/tenants/{tenant}/calls/{call_id}/end", Bridge),
    (
        "get",
        "/v1/tenants/{tenant}/calls/{call_id}/explain",
        TenantAdmin,
    ),
    (
        "post",
        "/v1/tenants/{tenant}/calls/{call_id}/extend",
        Bridge,
    ),
    ("post", "/v1/tenants/{tenant}/control", Bridge),
    ("put", "/v1/tenants/{tenant}/default-policy", TenantAdmin),
    ("get", "/v1/tenants/{tenant}/events", TenantAdmin),
    ("put", "/v1/tenants/{tenant}/file", TenantOperator),
    ("get", "/v1/tenants/{tenant}/licenses", TenantAdmin),
    ("put", "/v1/tenants/{tenant}/licenses/{sku}", TenantOperator),
    ("get", "/v1/tenants/{tenant}/numbers", TenantAdmin),
    ("post", "/v1/tenants/{tenant}/numbers", TenantOperator),
    (
        "get",
        "/v1/tenants/{tenant}/reports/dial-out-usage",
        TenantAdmin,
    ),
    ("get", "/v1/tenants/{tenant}/reports/pool", TenantAdmin),
    (
        "get",
        "/v1/tenants/{tenant}/reports/pstn-usage",
        TenantAdmin,
    ),
    ("get", "/v1/tenants/{tenant}/reports/refused", TenantAdmin),
    (
        "get",
        "/v1/tenants/{tenant}/reports/usage-summary",
        TenantAdmin,
    ),
    (
        "get",
        "/v1/tenants/{tenant}/statements/{month}",
        TenantAdmin,
    ),
    ("post", "/v1/tenants/{tenant}/simulate", TenantAdmin),
    ("get", "/v1/tenants/{tenant}/users", TenantAdmin),
    ("get", "/v1/tenants/{tenant}/users/{upn}", TenantAdmin),
    ("put", "/v1/tenants/{tenant}/users/{upn}", TenantAdmin),
    (
        "post",
        "/v1/tenants/{tenant}/users/{upn}/licenses",
        TenantAdmin,
    ),
    (
        "delete",
        "/v1/tenants/{tenant}/users/{upn}/licenses/{sku}",
        TenantAdmin,
    ),
    ("get", "/v1/tenants/{tenant}/wallet", TenantAdmin),
    (
        "put",
        "/v1/tenants/{tenant}/wallet/auto-recharge",
        TenantAdmin,
    ),
    ("post", "/v1/tenants/{tenant}/wallet/fundings", TenantAdmin),
    ("get", "/v1/tenants/{tenant}/wallet/ledger", TenantAdmin),
    ("get", "/v1/tenants/{tenant}/wallet/lots", TenantAdmin),
    ("put", "/v1/tenants/{tenant}/wallet/settings", TenantAdmin),
    ("get", "/v1/tenants/{tenant}/webhooks", TenantAdmin),
    ("post", "/v1/tenants/{tenant}/webhooks", TenantAdmin),
    ("delete", "/v1/tenants/{tenant}/webhooks/{id}", TenantAdmin),
    (
        "get",
        "/v1/tenants/{tenant}/webhooks/{id}/deliveries",
        TenantAdmin,
    ),
];

/// Routes the server answers that the document does not describe; checked the same way.
const UNDOCUMENTED: &[(&str, &str, Class)] = &[
    ("get", "/", Public),
    ("get", "/console", Public),
    ("get", "/console/", Public),
    ("get", "/console/{*path}", Public),
    ("get", "/metrics", Operator),
    ("get", "/openapi.json", Public),
];

/// Text that only the tenant "beta"'s own data contains.
const BETA_MARKERS: &[&str] = &["Tenant beta", "ppm@beta.example"];

/// The credentials every route is called with.
struct Credentials {
    operator: String,
    /// The operator key's id with another secret.
    near_miss: String,
    revoked: String,
    admin_a: String,
    bridge_a: String,
    admin_b: String,
    bridge_b: String,
}

/// Who calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    NoKey,
    RevokedKey,
    NearMissOperatorKey,
    AlphaAdmin,
    AlphaBridge,
    BetaAdmin,
    BetaBridge,
    Operator,
}

const EVERYONE: [Who; 8] = [
    Who::NoKey,
    Who::RevokedKey,
    Who::NearMissOperatorKey,
    Who::AlphaAdmin,
    Who::AlphaBridge,
    Who::BetaAdmin,
    Who::BetaBridge,
    Who::Operator,
];

impl Credentials {
    fn key(&self, who: Who) -> Option<&str> {
        match who {
            Who::NoKey => None,
            Who::RevokedKey => Some(&self.revoked),
            Who::NearMissOperatorKey => Some(&self.near_miss),
            Who::AlphaAdmin => Some(&self.admin_a),
            Who::AlphaBridge => Some(&self.bridge_a),
            Who::BetaAdmin => Some(&self.admin_b),
            Who::BetaBridge => Some(&self.bridge_b),
            Who::Operator => Some(&self.operator),
        }
    }
}

/// What a caller must get on a route (tenant routes are beta's).
enum Expect {
    /// Exactly one of these statuses, with an error body that leaks nothing of beta.
    Refused(&'static [u16]),
    /// Past the gate: anything but 401, 403 and 429 (the handler may still find the body or
    /// the item wrong).
    Admitted,
}

fn expect(class: Class, who: Who) -> Expect {
    use Expect::*;
    match (class, who) {
        (Public, _) => Admitted,
        (_, Who::NoKey | Who::RevokedKey | Who::NearMissOperatorKey) => Refused(&[401]),
        (_, Who::Operator) | (SharedRead, _) => Admitted,
        (Operator, _) => Refused(&[403]),
        // Another tenant's keys: as if beta did not exist.
        (_, Who::AlphaAdmin | Who::AlphaBridge) => Refused(&[404]),
        (TenantAdmin, Who::BetaAdmin) | (Bridge, Who::BetaAdmin | Who::BetaBridge) => Admitted,
        (TenantAdmin | TenantOperator, Who::BetaBridge) | (TenantOperator, Who::BetaAdmin) => {
            Refused(&[403])
        }
    }
}

fn concrete(path: &str) -> String {
    path.replace("{tenant}", "beta")
        .replace("{call_id}", "b-1")
        .replace("{upn}", "sub@beta.example")
        .replace("{sku}", "MCOPSTNPP")
        .replace("{currency}", "EUR")
        .replace("{id}", "0123456789ab")
        .replace("{number}", "+33186950000")
        .replace("{month}", "2026-01")
        .replace("{*path}", "index.html")
}

/// The operations of the served document.
fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .expect("operations")
                .keys()
                .filter(|method| {
                    matches!(
                        method.as_str(),
                        "get" | "put" | "post" | "delete" | "patch" | "head" | "options"
                    )
                })
                .map(move |method| (method.clone(), path.clone()))
        })
        .collect()
}

async fn credentials(app: &mut TestApp) -> Credentials {
    let (admin_a, bridge_a) = app.seed_tenant("alpha", Some("100")).await;
    let (admin_b, bridge_b) = app.seed_tenant("beta", Some("100")).await;
    let operator = app.operator_key.clone();
    // Beta has history: a live call.
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
            &operator,
            json!({"kind": "tenant_admin", "tenant": "beta", "label": "to revoke"}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let revoked = created.body["key"]
        .as_str()
        .expect("the key text")
        .to_string();
    let revoked_id = created.body["id"].as_str().expect("the key id").to_string();
    let r = app
        .delete(&format!("/v1/keys/{revoked_id}"), &operator)
        .await;
    assert!(r.status < 300, "{}", r.text);
    let (id_part, _secret) = operator.rsplit_once('_').expect("mk_<id>_<secret>");
    let near_miss = format!("{id_part}_{}", "0".repeat(48));
    Credentials {
        operator,
        near_miss,
        revoked,
        admin_a,
        bridge_a,
        admin_b,
        bridge_b,
    }
}

/// Calls one route with every credential; returns the failures and the number of cases.
async fn check_route(
    app: &TestApp,
    creds: &Credentials,
    method: &str,
    path: &str,
    class: Class,
) -> (Vec<String>, usize) {
    let url = concrete(path);
    let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).expect("a method");
    let mut failures = Vec::new();
    for who in EVERYONE {
        let key = creds.key(who);
        let body = if m == reqwest::Method::GET || m == reqwest::Method::DELETE {
            None
        } else {
            Some(RequestBody::Json(json!({})))
        };
        let r = app.request(m.clone(), &url, key, body, &[]).await;
        let text: String = r.text.chars().take(160).collect();
        let what = format!("{method} {url} ({class:?}) with {who:?}");
        match expect(class, who) {
            Expect::Admitted => {
                if matches!(r.status, 401 | 403 | 429) {
                    failures.push(format!("{what}: turned away: {} {text}", r.status));
                }
            }
            Expect::Refused(allowed) => {
                if !allowed.contains(&r.status) {
                    failures.push(format!("{what}: {} {text}", r.status));
                }
                for marker in BETA_MARKERS {
                    if r.text.contains(marker) {
                        failures.push(format!("{what}: leaked {marker:?}: {}", r.text));
                    }
                }
                if r.body["error"]["code"]
                    .as_str()
                    .unwrap_or_default()
                    .is_empty()
                {
                    failures.push(format!("{what}: no error code: {text}"));
                }
            }
        }
    }
    (failures, EVERYONE.len())
}

#[tokio::test]
async fn isolation_every_route_every_credential() {
    let mut app = TestApp::start().await;
    let creds = credentials(&mut app).await;
    let doc = app.get("/openapi.json", &creds.operator).await.body;
    let documented = documented(&doc);
    let table: BTreeSet<(String, String)> = TABLE
        .iter()
        .map(|(m, p, _)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(table.len(), TABLE.len(), "an operation is listed twice");

    let mut failures = Vec::new();
    let mut checked = 0;
    let present = TABLE
        .iter()
        .filter(|(m, p, _)| documented.contains(&(m.to_string(), p.to_string())));
    for &(method, path, class) in present.chain(UNDOCUMENTED) {
        let (mut failed, count) = check_route(&app, &creds, method, path, class).await;
        failures.append(&mut failed);
        checked += count;
    }
    // A tenant admin's listing of tenants names only its own.
    let r = app.get("/v1/tenants", &creds.admin_a).await;
    assert_eq!(r.status, 200, "{}", r.text);
    for marker in BETA_MARKERS {
        assert!(!r.text.contains(marker), "{}", r.text);
    }
    app.stop().await;

    for (m, p) in documented.difference(&table) {
        failures.push(format!(
            "{} {p}: in the OpenAPI document but has no access class in TABLE",
            m.to_uppercase()
        ));
    }
    for (m, p) in table.difference(&documented) {
        failures.push(format!(
            "{} {p}: in TABLE but no longer in the OpenAPI document",
            m.to_uppercase()
        ));
    }
    assert!(
        failures.is_empty(),
        "{} isolation failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        checked > 300,
        "only {checked} cases: the table covers too few routes"
    );
}
