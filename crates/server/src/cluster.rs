//! A node of several on one PostgreSQL store (`minutely_service::cluster`): the request of a
//! tenant another node holds is forwarded to that node, and its answer given back as it came.
//!
//! Forwarding rather than redirecting: every client (bridges, the SIP edge's `http_client`,
//! scripts) keeps one address and needs nothing new, a client that would not follow a redirect
//! for a POST gets its answer all the same, and no node's internal address is shown to callers.
//! It costs one more hop inside the cluster for a request that lands on the wrong node. A request
//! is forwarded at most once (`x-minutely-forwarded`): a node that is asked for a tenant it
//! does not hold by another node answers 503 with `Retry-After`, and the client tries again.

use crate::app::AppState;
use crate::error::ApiError;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
pub use minutely_service::cluster::NodeConfig;
use minutely_service::cluster::Route;
use std::time::Duration;

/// Marks a forwarded request, with the incarnation of the node that forwarded it.
pub const FORWARDED: &str = "x-minutely-forwarded";

/// How long a forwarded request may take at its owner.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(30);

/// The client requests are forwarded with: no proxy, no redirect, connections kept.
pub fn forwarder() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(FORWARD_TIMEOUT)
        .pool_idle_timeout(Duration::from_secs(30))
        .build()
        .expect("a plain HTTP client")
}

/// 503 with `Retry-After: 1`: the tenant's owner is changing, or cannot be reached.
pub fn try_again(detail: impl Into<String>) -> Response {
    let mut response =
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", detail).into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

/// Whether a request may create `{tenant}` (so its lease is taken although it is not stored).
fn creates(method: &Method, route: &str) -> bool {
    method == Method::PUT && matches!(route, "/v1/tenants/{tenant}" | "/v1/tenants/{tenant}/file")
}

/// Serves `request` here (`Ok`), or forwards it to the node that holds `tenant`, or answers
/// 503 (`Err`: the answer).
pub async fn route(
    state: &AppState,
    tenant: &str,
    route: &str,
    request: Request,
) -> Result<Request, Response> {
    let Some(cluster) = &state.cluster else {
        return Ok(request);
    };
    let create = creates(request.method(), route);
    match cluster.route(tenant, create).await {
        Route::Local => Ok(request),
        Route::Moving(why) => Err(try_again(why)),
        Route::Remote { node, address } => {
            if request.headers().contains_key(FORWARDED) {
                return Err(try_again(format!(
                    "tenant {tenant} is held by another node ({node}); try again"
                )));
            }
            let (parts, body) = request.into_parts();
            let body = match axum::body::to_bytes(body, state.config.max_body).await {
                Ok(bytes) => bytes,
                Err(_) => {
                    return Err(ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "payload_too_large",
                        format!("the body exceeds {} bytes", state.config.max_body),
                    )
                    .into_response());
                }
            };
            let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
            Err(forward(
                state,
                &node,
                &address,
                parts.method,
                path,
                &parts.headers,
                body,
            )
            .await)
        }
    }
}

/// Sends a request to the node at `address` and gives its answer back (503 when it cannot be
/// reached: the caller tries again, by which time the tenant has an owner that answers).
pub async fn forward(
    state: &AppState,
    node: &str,
    address: &str,
    method: Method,
    path: &str,
    headers: &HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let Some(cluster) = &state.cluster else {
        return try_again("this server is not a node of several");
    };
    cluster.forwarded();
    let mut outgoing = state
        .forwarder
        .request(method, format!("{address}{path}"))
        .body(body);
    for (name, value) in headers {
        if !hop_by_hop(name) {
            outgoing = outgoing.header(name, value);
        }
    }
    outgoing = outgoing.header(FORWARDED, cluster.incarnation.as_str());
    let answer = match outgoing.send().await {
        Ok(answer) => answer,
        Err(error) => {
            tracing::warn!(%error, node, "a forwarded request failed");
            return try_again(format!(
                "the node that holds this tenant ({node}) cannot be reached; try again"
            ));
        }
    };
    let status = answer.status();
    let mut response = Response::builder().status(status.as_u16());
    for (name, value) in answer.headers() {
        if !hop_by_hop(name) {
            response = response.header(name, value);
        }
    }
    match bounded_body(answer).await {
        Some(bytes) => response
            .body(Body::from(bytes))
            .unwrap_or_else(|_| try_again("the owner's answer could not be passed on")),
        None => try_again(format!(
            "the answer of the node that holds this tenant ({node}) was cut or too large; try again"
        )),
    }
}

/// The largest answer passed on from another node.
pub const MAX_FORWARDED_ANSWER: usize = 64 << 20;

/// An answer's body, read up to `MAX_FORWARDED_ANSWER` bytes (`None`: cut, or larger).
async fn bounded_body(mut answer: reqwest::Response) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    while let Some(chunk) = answer.chunk().await.ok()? {
        if body.len() + chunk.len() > MAX_FORWARDED_ANSWER {
            return None;
        }
        body.extend_from_slice(&chunk);
    }
    Some(body)
}

/// Headers that belong to one connection, not to the request.
fn hop_by_hop(name: &header::HeaderName) -> bool {
    matches!(
        name.as_str(),
        "host"
            | "connection"
            | "keep-alive"
            | "transfer-encoding"
            | "content-length"
            | "te"
            | "upgrade"
            | "proxy-connection"
            | "trailer"
    ) || name.as_str() == FORWARDED
}
