//! Reconciliation after an outage (operator only): `POST /v1/edge/reconcile` takes the proxy's
//! own records of how calls ended (as JSON, or Kamailio's acc log as text) and settles, once,
//! every call the engine still holds as live or lapsed; the answer says what was done with each
//! record and why. The use case is the service's (`commands::reconcile`).

use crate::access::Route;
use crate::app::{AppState, Caller, Json};
use crate::error::{ApiError, ApiResult};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use minutely_formats::acc::ProxyRecord;
use minutely_service::Command;
use minutely_service::cluster::Route as Owner;
pub use minutely_service::commands::reconcile::{
    Reconcile, ReconcileItemJson, ReconcileResponse, Reconciled, report_json,
};
pub use minutely_service::input::reconcile::{EndedJson, ProxyRecordJson, ReconcileRequest};
use serde_json::json;
use std::collections::BTreeMap;
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
    headers: HeaderMap,
    Json(body): Json<ReconcileRequest>,
) -> ApiResult<Response> {
    caller.operator()?;
    let records = body.records(state.config.max_batch_records)?;
    if state.cluster.is_some() {
        return across_nodes(&state, &headers, records).await;
    }
    Ok(Json(settle_here(&state, records).await?).into_response())
}

async fn settle_here(state: &AppState, records: Vec<ProxyRecord>) -> ApiResult<ReconcileResponse> {
    let report: Reconciled = state
        .writer
        .execute(Command::Reconcile(Reconcile { records }))
        .await?;
    Ok(report_json(&report))
}

/// On a node of several: each tenant's records are settled by the node that holds it (this
/// one, or another through a forwarded request of those records alone), and the answers put
/// back in the order given. A request forwarded here holds only tenants this node holds.
/// Every tenant's owner is settled before anything changes; a node that fails after others
/// settled their part gives 503, and the same records sent again are answered
/// `already_settled` where they were settled (C23).
async fn across_nodes(
    state: &AppState,
    headers: &HeaderMap,
    records: Vec<ProxyRecord>,
) -> ApiResult<Response> {
    let owners = match owners_of(state, headers, &records).await {
        Ok(owners) => owners,
        Err(answer) => return Ok(answer),
    };
    let mut items: Vec<Option<serde_json::Value>> = vec![None; records.len()];
    let here: Vec<usize> = (0..records.len())
        .filter(|&i| owners[&records[i].tenant] == Owner::Local)
        .collect();
    if !here.is_empty() {
        let part = here.iter().map(|&i| records[i].clone()).collect();
        let answer = settle_here(state, part).await?;
        place(&mut items, &here, &records, json!(answer))?;
    }
    let mut remote: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
    for (i, r) in records.iter().enumerate() {
        if let Owner::Remote { node, address } = &owners[&r.tenant] {
            remote
                .entry((node.clone(), address.clone()))
                .or_default()
                .push(i);
        }
    }
    for ((node, address), at) in remote {
        match settle_there(state, headers, &node, &address, &at, &records).await? {
            Ok(answer) => place(&mut items, &at, &records, answer)?,
            Err(refusal) => return Ok(refusal),
        }
    }
    let items: Vec<serde_json::Value> = items.into_iter().map(|i| i.unwrap_or_default()).collect();
    let count = |action: &str| items.iter().filter(|i| i["action"] == action).count();
    Ok(Json(json!({
        "settled": count("settled"),
        "already_settled": count("already_settled"),
        "not_found": count("not_found"),
        "refused": count("refused"),
        "items": items,
    }))
    .into_response())
}

/// Where each tenant of the records is served; the answer to give instead (503) when one is
/// moving, or held elsewhere for a request that was forwarded here.
async fn owners_of(
    state: &AppState,
    headers: &HeaderMap,
    records: &[ProxyRecord],
) -> Result<BTreeMap<String, Owner>, Response> {
    let cluster = state.cluster.as_ref().expect("a node of several");
    let mut owners: BTreeMap<String, Owner> = BTreeMap::new();
    for r in records {
        if !owners.contains_key(&r.tenant) {
            owners.insert(r.tenant.clone(), cluster.route(&r.tenant, false).await);
        }
    }
    let forwarded = headers.contains_key(crate::cluster::FORWARDED);
    for (tenant, owner) in &owners {
        match owner {
            Owner::Moving(why) => return Err(crate::cluster::try_again(why.clone())),
            Owner::Remote { .. } if forwarded => {
                return Err(crate::cluster::try_again(format!(
                    "tenant {tenant} is held by another node; try again"
                )));
            }
            _ => {}
        }
    }
    Ok(owners)
}

/// The records at `at`, settled by the node at `address`: its answer as JSON, or its refusal
/// to give back as it came.
async fn settle_there(
    state: &AppState,
    headers: &HeaderMap,
    node: &str,
    address: &str,
    at: &[usize],
    records: &[ProxyRecord],
) -> ApiResult<Result<serde_json::Value, Response>> {
    let part: Vec<_> = at.iter().map(|&i| record_json(&records[i])).collect();
    let bytes = serde_json::to_vec(&json!({ "records": part })).map_err(ApiError::internal)?;
    let path = "/v1/edge/reconcile";
    let answer = crate::cluster::forward(
        state,
        node,
        address,
        Method::POST,
        path,
        headers,
        bytes.into(),
    )
    .await;
    if answer.status() != StatusCode::OK {
        return Ok(Err(answer));
    }
    let limit = crate::cluster::MAX_FORWARDED_ANSWER;
    let bytes = axum::body::to_bytes(answer.into_body(), limit)
        .await
        .map_err(ApiError::internal)?;
    Ok(Ok(
        serde_json::from_slice(&bytes).map_err(ApiError::internal)?
    ))
}

/// Puts a part's answer items at the indices `at` of the whole, each with its record's line.
fn place(
    items: &mut [Option<serde_json::Value>],
    at: &[usize],
    records: &[ProxyRecord],
    answer: serde_json::Value,
) -> ApiResult<()> {
    let part = answer["items"].as_array().cloned().unwrap_or_default();
    if part.len() != at.len() {
        return Err(ApiError::internal(
            "a node answered for other records than it was sent",
        ));
    }
    for (&i, mut item) in at.iter().zip(part) {
        match records[i].line {
            0 => item.as_object_mut().map(|o| o.remove("line")),
            line => item
                .as_object_mut()
                .map(|o| o.insert("line".into(), json!(line))),
        };
        items[i] = Some(item);
    }
    Ok(())
}

/// A record as the JSON `records` of this route take it.
fn record_json(r: &ProxyRecord) -> serde_json::Value {
    json!({
        "tenant": r.tenant,
        "call_id": r.call_id,
        "answered_at": r.answered_at.map(minutely_formats::instant::format),
        "duration_s": r.duration_s,
        "ended": r.ended.code(),
    })
}
