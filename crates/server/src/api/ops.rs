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
pub struct Doc;

/// The routes of this module, each with its access class (`crate::access`). The document
/// itself and the Prometheus text are not operations of the document.
pub fn routes() -> Vec<Route> {
    use crate::access::Policy::*;
    vec![
        Route::documented(Public, __path_healthz, healthz),
        Route::documented(Public, __path_readyz, readyz),
        Route::undocumented(Method::GET, "/metrics", Operator, metrics),
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
    if state.ready.load(Ordering::SeqCst) {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n")
    }
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
