//! The layers every request goes through: `edge` (request id, metrics, log line, localized
//! error bodies) and `gate` (key, rate limit, path identifiers and access class, before any
//! body is read), and the router that puts them around the routes.

use super::error_body::{new_request_id, render_error};
use super::{AppState, RequestId};
use crate::access::{self, Policy};
use crate::auth::{Access, Principal};
use crate::error::{ApiError, ApiResult, ErrorMark};
use crate::i18n::Lang;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use metrics::{Counter, Histogram};
use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Instant;

/// The request counter of each (route, status) and the latency histogram of each route,
/// registered with the metrics recorder on a route's first request and kept: a request
/// counts and times itself without building the metrics' keys again.
#[derive(Default)]
pub struct RouteMetrics {
    routes: RwLock<HashMap<Box<str>, RouteHandles>>,
}

#[derive(Clone)]
struct RouteHandles {
    seconds: Histogram,
    requests: Vec<(u16, Counter)>,
}

impl RouteMetrics {
    /// Counts a request of `route` answered `status` in `elapsed`.
    fn record(&self, route: &str, status: u16, elapsed: std::time::Duration) {
        let seen = self
            .routes
            .read()
            .expect("never poisoned")
            .get(route)
            .and_then(|h| {
                let counter = h.requests.iter().find(|(s, _)| *s == status)?;
                Some((h.seconds.clone(), counter.1.clone()))
            });
        let (seconds, requests) = seen.unwrap_or_else(|| self.register(route, status));
        requests.increment(1);
        seconds.record(elapsed.as_secs_f64());
    }

    fn register(&self, route: &str, status: u16) -> (Histogram, Counter) {
        let mut routes = self.routes.write().expect("never poisoned");
        let handles = routes.entry(route.into()).or_insert_with(|| RouteHandles {
            seconds: metrics::histogram!("minutely_http_request_seconds", "route" => route.to_string()),
            requests: Vec::new(),
        });
        let counter = match handles.requests.iter().find(|(s, _)| *s == status) {
            Some((_, counter)) => counter.clone(),
            None => {
                let counter = metrics::counter!("minutely_http_requests_total", "route" => route.to_string(), "status" => status.to_string());
                handles.requests.push((status, counter.clone()));
                counter
            }
        };
        (handles.seconds.clone(), counter)
    }
}

/// Whether a client's `x-request-id` is used as the request's id. The id is logged, echoed and
/// recorded in the audit log, so one that may be an API key pasted into the wrong header
/// (anything containing `mk_`) is replaced by a fresh one rather than written down.
fn acceptable_request_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.is_ascii() && !id.contains("mk_")
}

/// Request id, metrics, structured log line and localized error bodies, for every request.
async fn edge(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable_request_id(v))
        .map(str::to_string)
        .unwrap_or_else(new_request_id);
    // Handlers read it to name the request in what they record (the audit log).
    let mut request = request;
    request
        .extensions_mut()
        .insert(RequestId(request_id.clone()));
    let lang = Lang::negotiate(
        request
            .headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    );
    let method = request.method().clone();
    let matched = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .cloned();
    let route = matched.as_ref().map_or("unmatched", |p| p.as_str());
    let body_timer = request
        .extensions()
        .get::<crate::listener::BodyTimer>()
        .cloned();
    let response = next.run(request).await;
    let timed_out = body_timer.is_some_and(|timer| timer.expired());
    let mut response = with_error_body(&state, response, timed_out, lang, &request_id).await;
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", value);
    }
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    state.route_metrics.record(route, status, elapsed);
    tracing::info!(
        request_id = %request_id,
        method = %method,
        route = %route,
        status,
        micros = elapsed.as_micros() as u64,
        "request"
    );
    response
}

/// The answer with our error body, in the caller's language, wherever an error was given: a
/// body that stopped coming (`timed_out`: 408 however the handler answered), an `ApiError`
/// (marked by `ErrorMark`), or the framework's own 404, 400, 405 and 413.
async fn with_error_body(
    state: &AppState,
    mut response: Response,
    timed_out: bool,
    lang: Lang,
    request_id: &str,
) -> Response {
    if timed_out {
        // However the handler answered a body that stopped coming, the answer is 408.
        let error = ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            format!(
                "the request body did not arrive within {} s",
                state.config.body_timeout.as_secs_f64()
            ),
        );
        response = render_error(&error, lang, request_id);
    } else if let Some(ErrorMark(error)) = response.extensions_mut().remove::<ErrorMark>() {
        let retry_after = response.headers().get(header::RETRY_AFTER).cloned();
        response = render_error(&error, lang, request_id);
        if let Some(value) = retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
    } else if response.status() == StatusCode::NOT_FOUND
        && response.headers().get(header::CONTENT_TYPE).is_none()
    {
        response = render_error(&ApiError::not_found("no such route"), lang, request_id);
    } else if response.status() == StatusCode::BAD_REQUEST && !has_json_body(&response) {
        // The framework's own path extraction (a segment that is not UTF-8) answers in plain
        // text: the answer gets the error body every other error has, with that text as detail.
        let detail = plain_text(response).await;
        response = render_error(&ApiError::invalid(detail), lang, request_id);
    } else if response.status() == StatusCode::METHOD_NOT_ALLOWED {
        let error = ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request",
            "this method is not allowed on this route",
        );
        response = render_error(&error, lang, request_id);
    } else if response.status() == StatusCode::PAYLOAD_TOO_LARGE {
        let error = ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the body exceeds {} bytes", state.config.max_body),
        );
        response = render_error(&error, lang, request_id);
    }
    response
}

fn has_json_body(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// The text of a short plain-text answer (a framework rejection), bounded.
async fn plain_text(response: Response) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), 1024)
        .await
        .unwrap_or_default();
    String::from_utf8_lossy(&bytes).trim().to_string()
}

/// Authentication, the per-key rate limit and the tenant boundary, before any handler reads a
/// body. The matched route's class comes from `crate::access`: a route with no entry is refused
/// to everyone. No key is 401, a key over its rate is 429, another tenant's id is 404, a bridge
/// key off the bridge's routes or a tenant key on an operator route is 403. Handlers check
/// again for finer rules.
async fn gate(
    State(state): State<AppState>,
    matched: axum::extract::MatchedPath,
    axum::extract::Path(params): axum::extract::Path<std::collections::HashMap<String, String>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(entry) = access::entry(request.method(), matched.as_str()) else {
        if access::is_known_route(matched.as_str()) {
            return ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "invalid_request",
                "this method is not allowed on this route",
            )
            .into_response();
        }
        tracing::error!(
            method = %request.method(),
            route = matched.as_str(),
            "a route without an access policy was refused"
        );
        return ApiError::forbidden("this route has no access policy").into_response();
    };
    let policy = entry.policy;
    if policy == Policy::Public {
        return next.run(request).await;
    }
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let principal = match state.keys.authenticate(header) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    if let Some(refusal) = over_rate_limit(&state, &principal) {
        return refusal;
    }
    if let Err(e) = check_path_identifiers(&params) {
        return e.into_response();
    }
    if has_body(request.headers()) && !entry.takes_body {
        return ApiError::invalid("this operation takes no request body; send none")
            .into_response();
    }
    let tenant = params.get("tenant").map(String::as_str);
    if let Err(e) = admit(&principal, policy, tenant) {
        return e.into_response();
    }
    let mut request = request;
    request.extensions_mut().insert(principal);
    if let Some(tenant) = tenant {
        request = match crate::cluster::route(&state, tenant, matched.as_str(), request).await {
            Ok(request) => request,
            Err(answer) => return answer,
        };
    }
    next.run(request).await
}

/// Whether a request carries a body: a non-zero Content-Length, or a chunked one.
fn has_body(headers: &axum::http::HeaderMap) -> bool {
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() != b"0")
}

/// The identifiers of a route's path follow their grammars (`minutely_core::ident`), so that
/// no handler sees `..`, a control character or a formula sign in an id.
fn check_path_identifiers(params: &std::collections::HashMap<String, String>) -> ApiResult<()> {
    use minutely_core::ident;
    for (name, value) in params {
        let checked = match name.as_str() {
            "tenant" => ident::tenant_id("tenant", value).map(drop),
            "call_id" => ident::call_id("call_id", value).map(drop),
            "upn" => ident::upn("upn", value).map(drop),
            _ => Ok(()),
        };
        checked.map_err(|e| ApiError::invalid(e.to_string()))?;
    }
    Ok(())
}

/// Whether `principal` may call a route of class `policy` (inside `tenant` for tenant routes).
fn admit(principal: &Principal, policy: Policy, tenant: Option<&str>) -> ApiResult<()> {
    let tenant_of_route = || {
        // A tenant class on a route without `{tenant}` is a mistake in the table: refused.
        tenant.ok_or_else(|| ApiError::forbidden("this route has no access policy"))
    };
    match policy {
        Policy::Public | Policy::OwnKey => Ok(()),
        Policy::SharedRead => principal.shared_read(),
        Policy::Operator => principal.operator(),
        Policy::Edge => principal.edge(),
        Policy::TenantAdmin => principal.check(tenant_of_route()?, Access::Admin),
        Policy::Bridge => principal.check(tenant_of_route()?, Access::Bridge),
        Policy::Control => principal.check(tenant_of_route()?, Access::Control),
        Policy::TenantOperator => {
            // Another tenant's key gets 404 before the tenant's own admin gets 403.
            principal.check(tenant_of_route()?, Access::Operator)?;
            principal.operator()
        }
    }
}

/// Takes a token from the caller's bucket. An empty bucket gives the answer to send instead:
/// 429 with `Retry-After`.
fn over_rate_limit(state: &AppState, principal: &Principal) -> Option<Response> {
    let limiter = state.limiter.as_ref()?;
    let retry_after_s = limiter.take(principal.key_id()).err()?;
    metrics::counter!("minutely_rate_limited_total", "key" => principal.key_id().to_string())
        .increment(1);
    let mut response = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_requests",
        format!("this API key is over its rate limit; retry after {retry_after_s} s"),
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_s));
    Some(response)
}

/// The whole router with its layers.
pub fn router(state: AppState) -> Router {
    let api = crate::api::routes().route_layer(middleware::from_fn_with_state(state.clone(), gate));
    api.layer(middleware::from_fn_with_state(state.clone(), edge))
        .layer(axum::extract::DefaultBodyLimit::max(state.config.max_body))
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
            state.config.max_in_flight,
        ))
        .with_state(state)
}
