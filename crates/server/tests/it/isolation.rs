//! The isolation matrix: every registered route (`minutely_server::access::table`, derived from
//! the one registration of each route with its access class) is called with every kind of
//! credential. Foreign credentials get 401, 403 or 404 and learn nothing of the other tenant;
//! the credentials the class allows get past the gate. The served document must describe
//! exactly the registered documented routes, so no operation escapes the walk.

use crate::common;

use common::*;
use minutely_server::access::{self, Policy};
use serde_json::{Value, json};
use std::collections::BTreeSet;

use Policy::*;

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
    /// The SIP edge's key: call control of every tenant, nothing else.
    edge: String,
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
    Edge,
    Operator,
}

const EVERYONE: [Who; 9] = [
    Who::NoKey,
    Who::RevokedKey,
    Who::NearMissOperatorKey,
    Who::AlphaAdmin,
    Who::AlphaBridge,
    Who::BetaAdmin,
    Who::BetaBridge,
    Who::Edge,
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
            Who::Edge => Some(&self.edge),
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

fn expect(class: Policy, who: Who) -> Expect {
    use Expect::*;
    match (class, who) {
        (Public, _) => Admitted,
        (_, Who::NoKey | Who::RevokedKey | Who::NearMissOperatorKey) => Refused(&[401]),
        (_, Who::Operator) | (OwnKey, _) => Admitted,
        // The edge key: every tenant's call control and the edge routes, nothing else.
        (Control | Edge, Who::Edge) => Admitted,
        (_, Who::Edge) => Refused(&[403]),
        (Edge, _) => Refused(&[403]),
        (SharedRead, _) => Admitted,
        (Operator, _) => Refused(&[403]),
        // Another tenant's keys: as if beta did not exist.
        (_, Who::AlphaAdmin | Who::AlphaBridge) => Refused(&[404]),
        (TenantAdmin, Who::BetaAdmin) | (Bridge | Control, Who::BetaAdmin | Who::BetaBridge) => {
            Admitted
        }
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
    // The SIP edge's key, made as an operator makes one: no tenant.
    let created = app
        .post(
            "/v1/keys",
            &operator,
            json!({"kind": "edge", "label": "proxy"}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.body["tenant"], Value::Null, "{}", created.text);
    let edge = created.body["key"].as_str().expect("the key").to_string();
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
        edge,
    }
}

/// Calls one route with every credential; returns the failures and the number of cases.
async fn check_route(
    app: &TestApp,
    creds: &Credentials,
    method: &str,
    path: &str,
    class: Policy,
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
    let table: BTreeSet<(String, String)> = access::table()
        .iter()
        .filter(|entry| entry.documented)
        .map(|entry| (entry.method.as_str().to_lowercase(), entry.path.clone()))
        .collect();

    let mut failures = Vec::new();
    let mut checked = 0;
    for entry in access::table() {
        let method = entry.method.as_str().to_lowercase();
        let (mut failed, count) =
            check_route(&app, &creds, &method, &entry.path, entry.policy).await;
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
            "{} {p}: in the OpenAPI document but not registered as a documented route",
            m.to_uppercase()
        ));
    }
    for (m, p) in table.difference(&documented) {
        failures.push(format!(
            "{} {p}: registered as documented but not in the OpenAPI document",
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
