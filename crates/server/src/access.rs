//! Who may call which route: one explicit entry per (method, route template). The gate looks the
//! matched route up here before it does anything else, and a route without an entry is refused
//! to everyone, so a new route is closed until someone decides who may use it.

use axum::http::Method;
use std::collections::HashMap;
use std::sync::OnceLock;

/// The access class of a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Policy {
    /// Anyone, without a key: probes and the API's description.
    Public,
    /// Any valid key: the operator's catalogue (read only), the caller's own tenants, and the
    /// caller's own key (`/v1/me`).
    SharedRead,
    /// Operator keys only.
    Operator,
    /// Inside one tenant: the operator or that tenant's admin.
    TenantAdmin,
    /// Inside one tenant, but reserved to the operator (C3): a tenant's own admin is refused.
    TenantOperator,
    /// Inside one tenant: the operator, that tenant's admin or that tenant's bridge (call
    /// control and call-record ingestion).
    Bridge,
}

impl Policy {
    /// Whether the route is inside one tenant (its template has `{tenant}`).
    pub fn is_tenant(self) -> bool {
        matches!(
            self,
            Policy::TenantAdmin | Policy::TenantOperator | Policy::Bridge
        )
    }
}

/// Every route the server answers, with its access class. Keep sorted by path.
pub const ROUTES: &[(&str, &str, Policy)] = &[
    ("GET", "/", Policy::Public),
    ("GET", "/console", Policy::Public),
    ("GET", "/console/", Policy::Public),
    ("GET", "/console/{*path}", Policy::Public),
    ("GET", "/healthz", Policy::Public),
    ("GET", "/metrics", Policy::Operator),
    ("GET", "/openapi.json", Policy::Public),
    ("GET", "/readyz", Policy::Public),
    ("GET", "/v1/audit", Policy::Operator),
    ("GET", "/v1/countries", Policy::SharedRead),
    ("PUT", "/v1/countries", Policy::Operator),
    ("GET", "/v1/keys", Policy::Operator),
    ("POST", "/v1/keys", Policy::Operator),
    ("DELETE", "/v1/keys/{id}", Policy::Operator),
    ("GET", "/v1/license-prices", Policy::SharedRead),
    ("PUT", "/v1/license-prices/{currency}", Policy::Operator),
    ("GET", "/v1/me", Policy::SharedRead),
    ("PUT", "/v1/me/preferences", Policy::SharedRead),
    ("GET", "/v1/policies", Policy::SharedRead),
    ("GET", "/v1/rate-cards", Policy::SharedRead),
    ("GET", "/v1/rate-cards/{currency}", Policy::SharedRead),
    ("POST", "/v1/rate-cards/{currency}", Policy::Operator),
    ("GET", "/v1/rate-cards/{currency}/diff", Policy::SharedRead),
    ("GET", "/v1/rate-lookup", Policy::SharedRead),
    ("GET", "/v1/tenants", Policy::SharedRead),
    ("POST", "/v1/tenants", Policy::Operator),
    ("GET", "/v1/tenants/{tenant}", Policy::TenantAdmin),
    ("GET", "/v1/tenants/{tenant}/advice", Policy::TenantAdmin),
    ("GET", "/v1/tenants/{tenant}/audit", Policy::TenantAdmin),
    ("POST", "/v1/tenants/{tenant}/calls", Policy::Bridge),
    (
        "POST",
        "/v1/tenants/{tenant}/calls/{call_id}/authorize",
        Policy::Bridge,
    ),
    (
        "POST",
        "/v1/tenants/{tenant}/calls/{call_id}/end",
        Policy::Bridge,
    ),
    (
        "GET",
        "/v1/tenants/{tenant}/calls/{call_id}/explain",
        Policy::TenantAdmin,
    ),
    (
        "POST",
        "/v1/tenants/{tenant}/calls/{call_id}/extend",
        Policy::Bridge,
    ),
    ("POST", "/v1/tenants/{tenant}/control", Policy::Bridge),
    (
        "PUT",
        "/v1/tenants/{tenant}/default-policy",
        Policy::TenantAdmin,
    ),
    ("GET", "/v1/tenants/{tenant}/events", Policy::TenantAdmin),
    ("PUT", "/v1/tenants/{tenant}/file", Policy::TenantOperator),
    ("GET", "/v1/tenants/{tenant}/licenses", Policy::TenantAdmin),
    (
        "PUT",
        "/v1/tenants/{tenant}/licenses/{sku}",
        Policy::TenantOperator,
    ),
    ("GET", "/v1/tenants/{tenant}/numbers", Policy::TenantAdmin),
    (
        "POST",
        "/v1/tenants/{tenant}/numbers",
        Policy::TenantOperator,
    ),
    (
        "GET",
        "/v1/tenants/{tenant}/reports/dial-out-usage",
        Policy::TenantAdmin,
    ),
    (
        "GET",
        "/v1/tenants/{tenant}/reports/pool",
        Policy::TenantAdmin,
    ),
    (
        "GET",
        "/v1/tenants/{tenant}/reports/pstn-usage",
        Policy::TenantAdmin,
    ),
    (
        "GET",
        "/v1/tenants/{tenant}/reports/refused",
        Policy::TenantAdmin,
    ),
    (
        "GET",
        "/v1/tenants/{tenant}/reports/usage-summary",
        Policy::TenantAdmin,
    ),
    ("POST", "/v1/tenants/{tenant}/simulate", Policy::TenantAdmin),
    (
        "GET",
        "/v1/tenants/{tenant}/statements/{month}",
        Policy::TenantAdmin,
    ),
    ("GET", "/v1/tenants/{tenant}/users", Policy::TenantAdmin),
    (
        "GET",
        "/v1/tenants/{tenant}/users/{upn}",
        Policy::TenantAdmin,
    ),
    (
        "PUT",
        "/v1/tenants/{tenant}/users/{upn}",
        Policy::TenantAdmin,
    ),
    (
        "POST",
        "/v1/tenants/{tenant}/users/{upn}/licenses",
        Policy::TenantAdmin,
    ),
    (
        "DELETE",
        "/v1/tenants/{tenant}/users/{upn}/licenses/{sku}",
        Policy::TenantAdmin,
    ),
    ("GET", "/v1/tenants/{tenant}/wallet", Policy::TenantAdmin),
    (
        "PUT",
        "/v1/tenants/{tenant}/wallet/auto-recharge",
        Policy::TenantAdmin,
    ),
    (
        "POST",
        "/v1/tenants/{tenant}/wallet/fundings",
        Policy::TenantAdmin,
    ),
    (
        "GET",
        "/v1/tenants/{tenant}/wallet/ledger",
        Policy::TenantAdmin,
    ),
    (
        "GET",
        "/v1/tenants/{tenant}/wallet/lots",
        Policy::TenantAdmin,
    ),
    (
        "PUT",
        "/v1/tenants/{tenant}/wallet/settings",
        Policy::TenantAdmin,
    ),
    ("GET", "/v1/tenants/{tenant}/webhooks", Policy::TenantAdmin),
    ("POST", "/v1/tenants/{tenant}/webhooks", Policy::TenantAdmin),
    (
        "DELETE",
        "/v1/tenants/{tenant}/webhooks/{id}",
        Policy::TenantAdmin,
    ),
    (
        "GET",
        "/v1/tenants/{tenant}/webhooks/{id}/deliveries",
        Policy::TenantAdmin,
    ),
];

/// Routes the server answers that the OpenAPI document does not describe (the document itself
/// and the Prometheus text).
pub const UNDOCUMENTED: &[(&str, &str)] = &[
    ("GET", "/"),
    ("GET", "/console"),
    ("GET", "/console/"),
    ("GET", "/console/{*path}"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
];

/// The access class of a matched route; `None` when it has no entry (the gate then refuses it).
/// `HEAD` is answered by the `GET` handler, so it has the `GET` entry's class.
pub fn policy(method: &Method, route: &str) -> Option<Policy> {
    static TABLE: OnceLock<HashMap<(&'static str, &'static str), Policy>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        ROUTES
            .iter()
            .map(|&(method, route, policy)| ((method, route), policy))
            .collect()
    });
    let method = if method == Method::HEAD {
        "GET"
    } else {
        method.as_str()
    };
    table.get(&(method, route)).copied()
}

/// Whether some method of `route` has an entry: a request with another method is then answered
/// 405, as the router would, rather than refused as a route without a policy.
pub fn is_known_route(route: &str) -> bool {
    ROUTES.iter().any(|&(_, path, _)| path == route)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// Every (method, route) of the OpenAPI document, methods upper case.
    fn documented() -> BTreeSet<(String, String)> {
        let doc = serde_json::to_value(crate::api::openapi()).expect("the document serializes");
        let paths = doc["paths"].as_object().expect("paths");
        paths
            .iter()
            .flat_map(|(path, item)| {
                item.as_object()
                    .expect("operations")
                    .keys()
                    .map(move |method| (method.to_uppercase(), path.clone()))
            })
            .collect()
    }

    #[test]
    fn every_documented_operation_has_a_policy() {
        let missing: Vec<String> = documented()
            .into_iter()
            .filter(|(method, path)| {
                policy(
                    &Method::from_bytes(method.as_bytes()).expect("a method"),
                    path,
                )
                .is_none()
            })
            .map(|(method, path)| format!("{method} {path}"))
            .collect();
        assert!(
            missing.is_empty(),
            "no access policy (the gate refuses them): {missing:?}"
        );
    }

    #[test]
    fn every_policy_is_for_a_route_that_exists() {
        let documented = documented();
        let stale: Vec<String> = ROUTES
            .iter()
            .filter(|(method, path, _)| {
                !documented.contains(&(method.to_string(), path.to_string()))
                    && !UNDOCUMENTED.contains(&(method, path))
            })
            .map(|(method, path, _)| format!("{method} {path}"))
            .collect();
        assert!(
            stale.is_empty(),
            "policies for routes the document does not have: {stale:?}"
        );
    }

    #[test]
    fn entries_are_unique_and_tenant_classes_name_a_tenant() {
        let mut seen = BTreeSet::new();
        for &(method, path, policy) in ROUTES {
            assert!(seen.insert((method, path)), "{method} {path} listed twice");
            assert_eq!(
                policy.is_tenant(),
                path.starts_with("/v1/tenants/{tenant}"),
                "{method} {path} is {policy:?}"
            );
            assert!(Method::from_bytes(method.as_bytes()).is_ok(), "{method}");
        }
    }

    #[test]
    fn head_has_the_get_class_and_unknown_routes_have_none() {
        assert_eq!(policy(&Method::HEAD, "/healthz"), Some(Policy::Public));
        assert_eq!(policy(&Method::GET, "/v1/nowhere"), None);
        assert_eq!(policy(&Method::PATCH, "/v1/countries"), None);
        assert!(is_known_route("/v1/countries"));
        assert!(!is_known_route("/v1/nowhere"));
    }
}
