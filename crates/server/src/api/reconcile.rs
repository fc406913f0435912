//! Reconciliation after an outage (operator only): `POST /v1/edge/reconcile` takes the proxy's
//! own records of how calls ended (as JSON, or Kamailio's acc log as text) and settles, once,
//! every call the engine still holds as live or lapsed; the answer says what was done with each
//! record and why. The use case is the service's (`commands::reconcile`).

use crate::access::Route;
use crate::api::types::money;
use crate::app::{AppState, Caller, Json};
use crate::error::ApiResult;
use axum::extract::State;
use minutely_service::Command;
use minutely_service::commands::reconcile::{Action, Reconcile, ReconcileItem, Reconciled};
pub use minutely_service::input::reconcile::{EndedJson, ProxyRecordJson, ReconcileRequest};
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

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

/// What a reconciliation did.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReconcileResponse {
    /// Calls ended now, as their end report would have ended them.
    pub settled: usize,
    /// Calls that already had their first result: nothing changed (C23).
    pub already_settled: usize,
    /// Unknown tenants and calls never authorized: nothing changed.
    pub not_found: usize,
    /// Calls the core refused to end (an end before the start): nothing changed.
    pub refused: usize,
    /// One per record, in the order given.
    pub items: Vec<ReconcileItemJson>,
}

/// One record's result.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReconcileItemJson {
    pub tenant: String,
    pub call_id: String,
    /// The record's line in the acc log (absent for JSON records).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// `settled`, `already_settled`, `not_found` or `refused`.
    pub action: String,
    /// Codes: `live` or `lapsed` and `proxy_hangup` or `proxy_failed` for a settled call;
    /// `first_result`, `unknown_tenant`, `not_authorized`, or a reason code otherwise.
    pub why: Vec<String>,
    /// The call's duration as the proxy saw it (C38).
    pub duration_s: u64,
    /// What the call was charged (its first result for `already_settled`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub charge: Option<String>,
    /// The reason code of a call refused when rated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

impl ReconcileItemJson {
    fn new(item: &ReconcileItem) -> ReconcileItemJson {
        ReconcileItemJson {
            tenant: item.tenant.clone(),
            call_id: item.call_id.clone(),
            line: (item.line > 0).then_some(item.line),
            action: item.action.code().to_string(),
            why: item.why.iter().map(|w| w.code().to_string()).collect(),
            duration_s: item.duration_s,
            charge: item.currency.zip(item.charge).map(|(c, a)| money(c, a)),
            reason: item.reason.map(|r| r.code().to_string()),
            currency: item.currency.map(|c| c.code().to_string()),
        }
    }
}

/// The report as JSON.
pub fn report_json(report: &Reconciled) -> ReconcileResponse {
    ReconcileResponse {
        settled: report.count(Action::Settled),
        already_settled: report.count(Action::AlreadySettled),
        not_found: report.count(Action::NotFound),
        refused: report.count(Action::Refused),
        items: report.items.iter().map(ReconcileItemJson::new).collect(),
    }
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
