//! Reconciliation after an outage (operator only): `POST /v1/edge/reconcile` takes the proxy's
//! own records of how calls ended (as JSON, or Kamailio's acc log as text) and settles, once,
//! every call the engine still holds as live or lapsed; the answer says what was done with each
//! record and why. The use case is the service's (`commands::reconcile`).

use crate::access::Route;
use crate::app::{AppState, Caller, Json};
use crate::error::ApiResult;
use axum::extract::State;
use minutely_service::Command;
pub use minutely_service::commands::reconcile::{
    Reconcile, ReconcileItemJson, ReconcileResponse, Reconciled, report_json,
};
pub use minutely_service::input::reconcile::{EndedJson, ProxyRecordJson, ReconcileRequest};
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(components(schemas(
    ReconcileRequest,
    ProxyRecordJson,
    EndedJson,
    ReconcileResponse,
    ReconcileItemJson
)))]
pub struct Doc;

/// The routes of this module, each with its access class (`crate::access`).
pub fn routes() -> Vec<Route> {
    use crate::access::Policy::*;
    vec![Route::documented(Operator, __path_reconcile, reconcile)]
}

/// Settles, once, the calls the proxy saw end while the engine was unreachable (C27: a lapsed
/// reservation is still rated; C23: a call that already has its first result is left as it
/// is, so the same log can be sent again). The body holds exactly one of `records` and
/// `kamailio_acc`; a bad record or a bad log line refuses the whole body, naming it (line
/// numbers for the log), and nothing changes. Everything commits at once.
#[utoipa::path(
    post,
    path = "/v1/edge/reconcile",
    request_body = ReconcileRequest,
    responses(
        (status = 200, description = "What was done with each record", body = ReconcileResponse),
        (status = 400, description = "A bad record or log line, named (nothing was changed)", body = crate::app::ErrorBody),
        (status = 403, description = "Not an operator key", body = crate::app::ErrorBody),
        (status = 413, description = "More records than `--max-batch-records`, or too large a body", body = crate::app::ErrorBody),
        (status = 422, description = "Neither or both of `records` and `kamailio_acc`, or a failed call with a duration (`unprocessable_request`)", body = crate::app::ErrorBody)
    ),
    tag = "call control",
    security(("key" = []))
)]
pub async fn reconcile(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Json(body): Json<ReconcileRequest>,
) -> ApiResult<Json<ReconcileResponse>> {
    caller.operator()?;
    let records = body.records(state.config.max_batch_records)?;
    let report: Reconciled = state
        .writer
        .execute(Command::Reconcile(Reconcile { records }))
        .await?;
    Ok(Json(report_json(&report)))
}
