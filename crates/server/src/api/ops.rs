//! Operations: health, readiness, Prometheus metrics and the OpenAPI document.

use crate::access::Route;
use crate::app::{AppState, Caller};
use crate::error::ApiResult;
use axum::extract::State;
use axum::http::{Method, StatusCode, header};
use axum::response::IntoResponse;
use std::sync::atomic::Ordering;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(components(schemas(DrainRequest)))]
pub struct Doc;

/// Why a node is drained, for its log (optional).
#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DrainRequest {
    /// Written to the node's log with the drain, e.g. "upgrade to 0.2".
    #[serde(default)]
    pub reason: Option<String>,
}

/// The routes of this module, each with its access class (`crate::access`). The document
/// itself and the Prometheus text are not operations of the document.
pub fn routes() -> Vec<Route> {
    use crate::access::Policy::*;
    vec![
        Route::documented(Public, __path_healthz, healthz),
        Route::documented(Public, __path_readyz, readyz),
        Route::undocumented(Method::GET, "/metrics", Operator, metrics),
        Route::documented(Operator, __path_drain, drain),
        Route::undocumented(Method::GET, "/openapi.json", Public, openapi),
    ]
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", responses((status = 200, description = "Alive")), tag = "operations")]
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// The server has loaded and verified every tenant and is not shutting down.
#[utoipa::path(
    get,
    path = "/readyz",
    responses(
        (status = 200, description = "Ready"),
        (status = 503, description = "Starting or shutting down")
    ),
    tag = "operations"
)]
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let draining = state.cluster.as_ref().is_some_and(|c| c.draining());
    let (status, first) = if draining {
        (StatusCode::SERVICE_UNAVAILABLE, "draining\n")
    } else if state.ready.load(Ordering::SeqCst) {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n")
    };
    let Some(cluster) = &state.cluster else {
        return (status, first.to_string());
    };
    // A node of several also says who it is and what it holds.
    let counters = &cluster.counters;
    let held = cluster.held();
    let mut text = format!(
        "{first}node {}\nleases {}\ntakeovers {}\nlost {}\nforwarded {}\n",
        cluster.incarnation,
        held.len(),
        counters.takeovers.load(Ordering::Relaxed),
        counters.lost.load(Ordering::Relaxed),
        counters.forwarded.load(Ordering::Relaxed),
    );
    for (tenant, epoch) in held {
        text.push_str(&format!("lease {tenant} {epoch}\n"));
    }
    (status, text)
}

/// Drains this node (of several on one PostgreSQL store): it stops granting, gives every lease
/// back so that the other nodes take its tenants at once, and takes none; it still forwards
/// requests. For a rolling upgrade: drain, wait for `leases 0` in /readyz, stop. A server
/// started without `--node` has nothing to drain to (409).
#[utoipa::path(
    post,
    path = "/v1/node/drain",
    request_body = DrainRequest,
    responses(
        (status = 202, description = "Draining: the leases are given back within a round"),
        (status = 403, description = "Not an operator key", body = crate::app::ErrorBody),
        (status = 409, description = "Not a node of several (`conflict`)", body = crate::app::ErrorBody)
    ),
    tag = "operations",
    security(("key" = []))
)]
pub async fn drain(
    State(state): State<AppState>,
    Caller(caller): Caller,
    crate::app::JsonOrEmpty(body): crate::app::JsonOrEmpty<DrainRequest>,
) -> ApiResult<impl IntoResponse> {
    caller.operator()?;
    let reason = body.reason.unwrap_or_default();
    minutely_service::input::bounded("reason", &reason)?;
    let Some(cluster) = &state.cluster else {
        return Err(crate::error::ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            "this server is the only one of its store (started without --node): there is nothing to drain to",
        ));
    };
    tracing::warn!(reason, "drain asked: giving every lease back");
    cluster.drain();
    Ok((StatusCode::ACCEPTED, "draining\n"))
}

/// Prometheus text format. Operator key only: it names tenants and their balances.
pub async fn metrics(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> ApiResult<impl IntoResponse> {
    caller.operator()?;
    record_process_gauges();
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    ))
}

/// The process's resident memory and open file descriptors, read at each scrape (where the
/// system exposes them under /proc) so that a long run shows whether either grows.
fn record_process_gauges() {
    let rss_kib = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        });
    if let Some(kib) = rss_kib {
        metrics::gauge!("process_resident_memory_bytes").set((kib * 1024) as f64);
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        metrics::gauge!("process_open_fds").set(fds.count() as f64);
    }
}

pub async fn openapi() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        crate::api::openapi()
            .to_pretty_json()
            .expect("the document serializes"),
    )
}
