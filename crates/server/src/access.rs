//! Who may call which route. Every route is registered once, as a `Route`: its method and path
//! template, its access class, its handler and (for a documented operation) its OpenAPI
//! operation. The router, the OpenAPI document, the access table below and `takes_body` are all
//! derived from that one registration (`crate::api::registry`), so a new route is one handler
//! with its `#[utoipa::path]` and one registration line, and cannot exist without a class.
//! The gate looks the matched route up here before it does anything else, and a route without
//! an entry is refused to everyone.

use crate::app::AppState;
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{MethodFilter, MethodRouter};
use std::collections::HashMap;
use std::sync::OnceLock;
use utoipa::openapi::path::{HttpMethod, Operation};
use utoipa::openapi::{RefOr, schema::Schema};

/// The access class of a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Policy {
    /// Anyone, without a key: probes and the API's description.
    Public,
    /// Any valid key but an edge key: the operator's catalogue (read only) and the caller's own
    /// tenants.
    SharedRead,
    /// Any valid key, an edge key included: the caller's own key (`/v1/me`).
    OwnKey,
    /// Operator keys only.
    Operator,
    /// Inside one tenant: the operator or that tenant's admin.
    TenantAdmin,
    /// Inside one tenant, but reserved to the operator (C3): a tenant's own admin is refused.
    TenantOperator,
    /// Inside one tenant: the operator, that tenant's admin or that tenant's bridge
    /// (call-record ingestion).
    Bridge,
    /// Inside one tenant: the operator, that tenant's admin, that tenant's bridge, or an edge
    /// key, whatever the tenant (call control: authorize, answer, extend, end, the batch).
    Control,
    /// Outside any tenant, for the SIP edge: the operator or an edge key (`/v1/edge`).
    Edge,
}

impl Policy {
    /// Whether the route is inside one tenant (its template has `{tenant}`).
    pub fn is_tenant(self) -> bool {
        matches!(
            self,
            Policy::TenantAdmin | Policy::TenantOperator | Policy::Bridge | Policy::Control
        )
    }
}

/// One route of the server, registered once with everything derived from it.
pub struct Route {
    /// The one method this registration answers (`HEAD` is answered by a `GET` route).
    pub method: Method,
    /// The path template, as the router and the OpenAPI document spell it.
    pub path: String,
    /// Who may call it; the gate enforces it before any handler runs.
    pub policy: Policy,
    /// The handler, bound to `method`.
    pub handler: MethodRouter<AppState>,
    /// The OpenAPI operation and the schemas it names; `None` for the routes the document does
    /// not describe (the document itself, the Prometheus text, the console's files).
    pub doc: Option<Documented>,
}

/// What the OpenAPI document says of one operation.
pub struct Documented {
    /// The method as the document spells it.
    pub method: HttpMethod,
    /// The operation, with its tags, as `#[utoipa::path]` describes it.
    pub operation: Operation,
    /// The schemas its parameters, body and answers refer to.
    pub schemas: Vec<(String, RefOr<Schema>)>,
}

impl Route {
    /// A documented operation: `doc` is the struct `#[utoipa::path]` generates beside the
    /// handler (`__path_<handler>`), which gives the method and the path template.
    pub fn documented<P, H, T>(policy: Policy, doc: P, handler: H) -> Route
    where
        P: utoipa::Path + utoipa::__dev::SchemaReferences + utoipa::__dev::Tags<'static>,
        H: Handler<T, AppState>,
        T: 'static,
    {
        // The derive of `utoipa::OpenApi` adds the handler's tags to its operation and collects
        // its schemas the same way; the document stays what it was when it listed paths.
        let _ = doc;
        let methods = P::methods();
        assert!(
            methods.len() == 1,
            "{} is registered once per method, not for {} methods",
            P::path(),
            methods.len()
        );
        let doc_method = methods[0].clone();
        let method = http_method(&doc_method);
        let mut operation = P::operation();
        let tags = operation.tags.get_or_insert_with(Vec::new);
        tags.extend(P::tags().into_iter().map(str::to_string));
        let mut schemas = Vec::new();
        P::schemas(&mut schemas);
        Route::undocumented(method, &P::path(), policy, handler).with_doc(Documented {
            method: doc_method,
            operation,
            schemas,
        })
    }

    /// A route the OpenAPI document does not describe.
    pub fn undocumented<H, T>(method: Method, path: &str, policy: Policy, handler: H) -> Route
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.clone())
            .unwrap_or_else(|_| panic!("{method} {path}: no handler can be bound to {method}"));
        Route {
            handler: MethodRouter::new().on(filter, handler),
            method,
            path: path.to_string(),
            policy,
            doc: None,
        }
    }

    fn with_doc(mut self, doc: Documented) -> Route {
        self.doc = Some(doc);
        self
    }

    /// Whether the operation takes a request body (an undocumented route takes none).
    pub fn takes_body(&self) -> bool {
        self.doc
            .as_ref()
            .is_some_and(|d| d.operation.request_body.is_some())
    }
}

fn http_method(method: &HttpMethod) -> Method {
    match method {
        HttpMethod::Get => Method::GET,
        HttpMethod::Post => Method::POST,
        HttpMethod::Put => Method::PUT,
        HttpMethod::Delete => Method::DELETE,
        HttpMethod::Options => Method::OPTIONS,
        HttpMethod::Head => Method::HEAD,
        HttpMethod::Patch => Method::PATCH,
        HttpMethod::Trace => Method::TRACE,
    }
}

/// One row of the access table: a registered route without its handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub method: Method,
    pub path: String,
    pub policy: Policy,
    /// Whether the OpenAPI document describes it.
    pub documented: bool,
    /// Whether it takes a request body; the gate refuses a body sent to one that takes none.
    pub takes_body: bool,
}

/// Every registered route, sorted by path then method: the access table, derived from
/// `crate::api::registry`. Tests walk it to call every route.
pub fn table() -> &'static [Entry] {
    static TABLE: OnceLock<Vec<Entry>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table: Vec<Entry> = crate::api::registry()
            .iter()
            .map(|route| Entry {
                method: route.method.clone(),
                path: route.path.clone(),
                policy: route.policy,
                documented: route.doc.is_some(),
                takes_body: route.takes_body(),
            })
            .collect();
        table.sort_by(|a, b| (&a.path, a.method.as_str()).cmp(&(&b.path, b.method.as_str())));
        for pair in table.windows(2) {
            assert!(
                (&pair[0].path, &pair[0].method) != (&pair[1].path, &pair[1].method),
                "{} {} is registered twice",
                pair[0].method,
                pair[0].path
            );
        }
        table
    })
}

/// The entries of one path template, by method, for the gate's look-ups (no allocation).
fn by_path() -> &'static HashMap<&'static str, Vec<&'static Entry>> {
    static BY_PATH: OnceLock<HashMap<&'static str, Vec<&'static Entry>>> = OnceLock::new();
    BY_PATH.get_or_init(|| {
        let mut out: HashMap<&'static str, Vec<&'static Entry>> = HashMap::new();
        for entry in table() {
            out.entry(entry.path.as_str()).or_default().push(entry);
        }
        out
    })
}

/// The entry of a matched route; `HEAD` is answered by the `GET` handler, so it has the `GET`
/// entry.
pub fn entry(method: &Method, route: &str) -> Option<&'static Entry> {
    let method = if method == Method::HEAD {
        &Method::GET
    } else {
        method
    };
    by_path()
        .get(route)?
        .iter()
        .find(|entry| entry.method == *method)
        .copied()
}

/// The access class of a matched route; `None` when it has no entry (the gate then refuses it).
pub fn policy(method: &Method, route: &str) -> Option<Policy> {
    entry(method, route).map(|entry| entry.policy)
}

/// Whether some method of `route` has an entry: a request with another method is then answered
/// 405, as the router would, rather than refused as a route without a policy.
pub fn is_known_route(route: &str) -> bool {
    by_path().contains_key(route)
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
    fn the_document_has_exactly_the_documented_routes() {
        let documented = documented();
        let registered: BTreeSet<(String, String)> = table()
            .iter()
            .filter(|entry| entry.documented)
            .map(|entry| (entry.method.to_string(), entry.path.clone()))
            .collect();
        assert_eq!(registered, documented);
    }

    #[test]
    fn only_the_document_the_metrics_and_the_console_are_undocumented() {
        let undocumented: Vec<String> = table()
            .iter()
            .filter(|entry| !entry.documented)
            .map(|entry| format!("{} {} {:?}", entry.method, entry.path, entry.policy))
            .collect();
        assert_eq!(
            undocumented,
            [
                "GET / Public",
                "GET /console Public",
                "GET /console/ Public",
                "GET /console/{*path} Public",
                "GET /metrics Operator",
                "GET /openapi.json Public",
            ]
        );
    }

    #[test]
    fn entries_are_unique_and_tenant_classes_name_a_tenant() {
        let mut seen = BTreeSet::new();
        for entry in table() {
            let (method, path, policy) = (&entry.method, &entry.path, entry.policy);
            assert!(seen.insert((method, path)), "{method} {path} listed twice");
            assert_eq!(
                policy.is_tenant(),
                path.starts_with("/v1/tenants/{tenant}"),
                "{method} {path} is {policy:?}"
            );
        }
    }

    #[test]
    fn a_body_is_taken_exactly_where_the_document_declares_one() {
        let doc = serde_json::to_value(crate::api::openapi()).expect("the document serializes");
        for entry in table() {
            let declared = doc["paths"][&entry.path][entry.method.as_str().to_lowercase()]
                .get("requestBody")
                .is_some();
            assert_eq!(
                entry.takes_body, declared,
                "{} {}",
                entry.method, entry.path
            );
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
