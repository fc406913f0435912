//! The `/v1` routes, one module per capability, and the OpenAPI document built from them.

use crate::access::Route;
use crate::app::AppState;
use axum::Router;
use utoipa::OpenApi;

pub mod advice;
pub mod audit;
pub mod catalogue;
pub mod control;
pub mod directory;
pub mod edge;
pub mod fraud;
pub mod hooks;
pub mod keys;
pub mod licenses;
pub mod me;
pub mod numbers;
pub mod ops;
pub mod policies;
pub mod reconcile;
pub mod refine;
pub mod reports;
pub mod rerate;
pub mod simulate;
pub mod statements;
pub mod tenants;
pub mod types;
pub mod users;
pub mod wallet;
pub mod wallet_settings;

/// Every route of the server, each registered once with its access class: the router, the
/// access table (`crate::access::table`) and the OpenAPI document are all derived from it.
pub fn registry() -> Vec<Route> {
    [
        ops::routes(),
        control::routes(),
        reconcile::routes(),
        rerate::routes(),
        edge::routes(),
        catalogue::routes(),
        tenants::routes(),
        licenses::routes(),
        users::routes(),
        numbers::routes(),
        policies::routes(),
        wallet_settings::routes(),
        wallet::routes(),
        reports::routes(),
        statements::routes(),
        hooks::routes(),
        keys::routes(),
        me::routes(),
        simulate::routes(),
        advice::routes(),
        fraud::routes(),
        audit::routes(),
        crate::console::routes(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The router of every registered route (without the layers, which `crate::app` adds).
pub fn routes() -> Router<AppState> {
    registry().into_iter().fold(Router::new(), |router, route| {
        router.route(&route.path, route.handler)
    })
}

/// Whether the operation `method path` (a route template such as
/// `/v1/tenants/{tenant}/wallet`) takes a request body, as its registration (and so the
/// document) says. The gate refuses a body sent to an operation that takes none, so that no
/// body is ever silently ignored.
pub fn takes_body(method: &axum::http::Method, path: &str) -> bool {
    crate::access::entry(method, path).is_some_and(|entry| entry.takes_body)
}

/// The OpenAPI document of every route, generated from the code.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = ops::Doc::openapi();
    for part in [
        control::Doc::openapi(),
        reconcile::Doc::openapi(),
        rerate::Doc::openapi(),
        edge::Doc::openapi(),
        catalogue::Doc::openapi(),
        directory::Doc::openapi(),
        wallet::Doc::openapi(),
        reports::Doc::openapi(),
        statements::Doc::openapi(),
        hooks::Doc::openapi(),
        keys::Doc::openapi(),
        me::Doc::openapi(),
        simulate::Doc::openapi(),
        advice::Doc::openapi(),
        audit::Doc::openapi(),
    ] {
        doc.merge(part);
    }
    add_operations(&mut doc, registry());
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "key",
        utoipa::openapi::security::SecurityScheme::Http(
            utoipa::openapi::security::HttpBuilder::new()
                .scheme(utoipa::openapi::security::HttpAuthScheme::Bearer)
                .description(Some(
                    "An API key `mk_<id>_<secret>`: operator, tenant admin, bridge or edge.",
                ))
                .build(),
        ),
    );
    declare_shared_errors(&mut doc);
    let mut document = serde_json::to_value(&doc).expect("the document is JSON");
    refine::refine(&mut document, refine::DEFAULT_MAX_PAGE);
    let mut doc: utoipa::openapi::OpenApi =
        serde_json::from_value(document).expect("the refined document is OpenAPI");
    doc.info.title = "Minutely API".to_string();
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    doc.info.description = Some(
        "Billing and real-time charging for pay-per-minute audio conferencing. Money is a \
         decimal string; errors carry a stable code and a message localized by \
         Accept-Language."
            .to_string(),
    );
    doc
}

/// The registered operations and the schemas they name, as `#[openapi(paths(...))]` would add
/// them.
fn add_operations(doc: &mut utoipa::openapi::OpenApi, routes: Vec<Route>) {
    use utoipa::openapi::path::PathItem;
    let mut schemas = Vec::new();
    for route in routes {
        let Some(documented) = route.doc else {
            continue;
        };
        let item = PathItem::new(documented.method, documented.operation);
        match doc.paths.paths.get_mut(&route.path) {
            Some(existing) => existing.merge_operations(item),
            None => {
                doc.paths.paths.insert(route.path, item);
            }
        }
        schemas.extend(documented.schemas);
    }
    let components = doc.components.get_or_insert_with(Default::default);
    components.schemas.extend(schemas);
}

/// What an operation looks like from outside its handler: enough to tell which of the shared
/// errors it can give.
struct Shape<'a> {
    method: axum::http::Method,
    path: &'a str,
    has_path_params: bool,
    has_query: bool,
    has_body: bool,
}

/// An error answer that does not depend on the handler: the gate (no key, the wrong kind of
/// key, another tenant's id), the extractors (a malformed parameter or body, a body too large or
/// of another type), the per-key rate limit and a shutdown in progress.
struct SharedError {
    status: &'static str,
    /// The name of the shared response under `components/responses`.
    name: &'static str,
    description: &'static str,
    applies: fn(&Shape) -> bool,
}

const SHARED_ERRORS: [SharedError; 9] = [
    SharedError {
        status: "400",
        name: "BadRequest",
        description: "A malformed parameter or body (`invalid_request`, naming it)",
        applies: |s| s.has_path_params || s.has_query || s.has_body,
    },
    SharedError {
        status: "401",
        name: "Unauthorized",
        description: "No API key, or one that is not recognized (`unauthorized`)",
        applies: |_| true,
    },
    SharedError {
        status: "403",
        name: "Forbidden",
        description: "The key may not do this: a bridge key off call control and ingestion, an \
                      edge key off call control, a tenant key on an operator route (`forbidden`)",
        applies: |s| {
            use crate::access::Policy;
            // Any key may read its own key, and every key of the tenant (and the edge) may use
            // call control; everything else turns some kind of key away.
            !matches!(
                crate::access::policy(&s.method, s.path),
                Some(Policy::Public | Policy::OwnKey | Policy::Control)
            )
        },
    },
    SharedError {
        status: "404",
        name: "NotFound",
        description: "No such tenant or item, or another tenant's (`not_found` or a reason code)",
        applies: |s| s.has_path_params,
    },
    SharedError {
        status: "408",
        name: "RequestTimeout",
        description: "The body did not arrive within the server's body timeout \
                      (`request_timeout`); nothing was changed",
        applies: |s| s.has_body,
    },
    SharedError {
        status: "413",
        name: "PayloadTooLarge",
        description: "The body is larger than the server accepts (`payload_too_large`)",
        applies: |s| s.has_body,
    },
    SharedError {
        status: "415",
        name: "UnsupportedMediaType",
        description: "The body is not of a declared content type (`unsupported_media_type`)",
        applies: |s| s.has_body,
    },
    SharedError {
        status: "429",
        name: "TooManyRequests",
        description: "The key sent more requests than its rate allows (`too_many_requests`); \
                      retry after `Retry-After` seconds",
        applies: |_| true,
    },
    SharedError {
        status: "503",
        name: "Unavailable",
        description: "The server is shutting down (`unavailable`); nothing was changed",
        applies: |_| true,
    },
];

/// The shared error answers as reusable responses, each with the error body.
fn shared_responses() -> Vec<(&'static str, utoipa::openapi::Response)> {
    use utoipa::openapi::{Content, Ref, ResponseBuilder};
    SHARED_ERRORS
        .iter()
        .map(|e| {
            let mut response = ResponseBuilder::new().description(e.description).content(
                "application/json",
                Content::new(Some(Ref::from_schema_name("ErrorBody"))),
            );
            if e.status == "429" {
                let seconds = utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::Integer)
                    .minimum(Some(0));
                response = response.header(
                    "Retry-After",
                    utoipa::openapi::header::HeaderBuilder::new()
                        .schema(seconds)
                        .description(Some("Seconds to wait before the key may send again"))
                        .build(),
                );
            }
            (e.name, response.build())
        })
        .collect()
}

/// Declares, on every `/v1` operation, each shared error it can give and does not already
/// describe, so that the document lists every status a client can meet. The probes take no key
/// and no input, and keep only their own answers.
fn declare_shared_errors(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::path::ParameterIn;
    use utoipa::openapi::{Ref, RefOr};
    let components = doc.components.get_or_insert_with(Default::default);
    for (name, response) in shared_responses() {
        components
            .responses
            .insert(name.to_string(), RefOr::T(response));
    }
    for (path, item) in doc.paths.paths.iter_mut() {
        if !path.starts_with("/v1/") {
            continue;
        }
        for (method, operation) in operations(item) {
            let params = operation.parameters.as_deref().unwrap_or_default();
            let shape = Shape {
                method,
                path,
                has_path_params: params
                    .iter()
                    .any(|p| matches!(p.parameter_in, ParameterIn::Path)),
                has_query: params
                    .iter()
                    .any(|p| matches!(p.parameter_in, ParameterIn::Query)),
                has_body: operation.request_body.is_some(),
            };
            for error in SHARED_ERRORS.iter().filter(|e| (e.applies)(&shape)) {
                operation
                    .responses
                    .responses
                    .entry(error.status.to_string())
                    .or_insert_with(|| {
                        RefOr::Ref(Ref::new(format!("#/components/responses/{}", error.name)))
                    });
            }
        }
    }
}

/// The operations of a path with their methods.
fn operations(
    item: &mut utoipa::openapi::PathItem,
) -> Vec<(axum::http::Method, &mut utoipa::openapi::path::Operation)> {
    use axum::http::Method;
    [
        (Method::GET, item.get.as_mut()),
        (Method::PUT, item.put.as_mut()),
        (Method::POST, item.post.as_mut()),
        (Method::DELETE, item.delete.as_mut()),
        (Method::PATCH, item.patch.as_mut()),
    ]
    .into_iter()
    .filter_map(|(method, operation)| operation.map(|o| (method, o)))
    .collect()
}
