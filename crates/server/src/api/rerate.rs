//! Rerating after a rate-card fix (operator only): `POST /v1/tenants/{tenant}/rerate` rates the
//! tenant's charged calls of a period again (refund then charge, canonical order), or with
//! `dry_run` shows the difference per call and changes nothing; `GET
//! /v1/tenants/{tenant}/rerates` lists the runs and `GET .../rerates/{run}` shows one with its
//! calls. The use case is the service's (`commands::rerate`).

use crate::access::Route;
use crate::app::{AppState, Caller, Json};
use crate::auth::Access;
use crate::error::{ApiError, ApiResult};
use axum::extract::{Path, State};
use minutely_service::Command;
use minutely_service::commands::rerate::{Rerate, RerateItemJson, RerateReport, RerateRunJson};
pub use minutely_service::input::rerate::RerateRequest;
use utoipa::OpenApi;

/// The most runs a listing shows (newest first).
const MAX_RUNS_LISTED: usize = 1000;

#[derive(OpenApi)]
#[openapi(components(schemas(RerateRequest, RerateRunJson, RerateItemJson)))]
pub struct Doc;

/// The routes of this module, each with its access class (`crate::access`).
pub fn routes() -> Vec<Route> {
    use crate::access::Policy::*;
    vec![
        Route::documented(TenantOperator, __path_rerate, rerate),
        Route::documented(TenantOperator, __path_runs, runs),
        Route::documented(TenantOperator, __path_run, run),
    ]
}

/// Rates the tenant's charged calls that started in `[from, to)` again with the rate card as it
/// is now (after a corrected version was imported), in the canonical order (C22): each call
/// whose charge changes has its old charge refunded and the new one debited, both referencing
/// the call and the run; the pool (C20, C21, C32), auto-recharge (C34: one per crossing, none
/// caused by a refund) and the lots follow the rules as if the calls were processed again, and
/// C24 holds after every entry. Running the same rerate twice changes nothing the second time.
/// A call rating refuses today (its organizer gone, no rate) is kept as it was and listed as
/// skipped; a call whose new charge cannot be funded refuses the whole run with its reason.
#[utoipa::path(
    post,
    path = "/v1/tenants/{tenant}/rerate",
    params(("tenant" = String, Path)),
    request_body = RerateRequest,
    responses(
        (status = 200, description = "The run (or, dry, the difference): per call and in total", body = RerateRunJson),
        (status = 400, description = "A bad instant (nothing was changed)", body = crate::app::ErrorBody),
        (status = 403, description = "Not an operator key", body = crate::app::ErrorBody),
        (status = 404, description = "Unknown tenant", body = crate::app::ErrorBody),
        (status = 413, description = "More charged calls in the period than one run rates (`too_many_calls`)", body = crate::app::ErrorBody),
        (status = 422, description = "`from` not before `to` (`unprocessable_request`), or a call's new charge cannot be funded (`credits_not_set_up`, `credits_license_missing`): nothing was rerated", body = crate::app::ErrorBody)
    ),
    tag = "wallet",
    security(("key" = []))
)]
pub async fn rerate(
    State(state): State<AppState>,
    Caller(caller): Caller,
    actor: crate::api::audit::Actor,
    Path(tenant): Path<String>,
    body: Result<Json<RerateRequest>, ApiError>,
) -> ApiResult<Json<RerateRunJson>> {
    caller.check(&tenant, Access::Operator)?;
    caller.operator()?;
    let Json(body) = body?;
    let (from, to) = body.period()?;
    let report: RerateReport = state
        .writer
        .execute(Command::Rerate(Rerate {
            actor: actor.0,
            tenant,
            from,
            to,
            dry_run: body.dry_run,
        }))
        .await?;
    Ok(Json(report.json()))
}

/// The tenant's rerate runs, newest first (who ran each, when, the period, the card versions,
/// counts and totals), without their calls.
#[utoipa::path(
    get,
    path = "/v1/tenants/{tenant}/rerates",
    params(("tenant" = String, Path)),
    responses(
        (status = 200, description = "The runs, newest first", body = Vec<RerateRunJson>),
        (status = 403, description = "Not an operator key", body = crate::app::ErrorBody),
        (status = 404, description = "Unknown tenant", body = crate::app::ErrorBody)
    ),
    tag = "wallet",
    security(("key" = []))
)]
pub async fn runs(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(tenant): Path<String>,
) -> ApiResult<Json<Vec<RerateRunJson>>> {
    caller.check(&tenant, Access::Operator)?;
    caller.operator()?;
    let currency = state
        .writer
        .with_book(&tenant, |book| Ok(book.tenant.currency))
        .await?;
    let runs = state
        .read(move |store| Ok(store.rerate_runs(&tenant, MAX_RUNS_LISTED)?))
        .await?;
    Ok(Json(
        runs.iter()
            .map(|r| RerateRunJson::new(r, currency, false, false))
            .collect(),
    ))
}

/// One rerate run with every call it changed or kept (old and new charge, funding, rule, rate
/// and pool minutes).
#[utoipa::path(
    get,
    path = "/v1/tenants/{tenant}/rerates/{run}",
    params(("tenant" = String, Path), ("run" = String, Path)),
    responses(
        (status = 200, description = "The run and its calls", body = RerateRunJson),
        (status = 403, description = "Not an operator key", body = crate::app::ErrorBody),
        (status = 404, description = "Unknown tenant or run", body = crate::app::ErrorBody)
    ),
    tag = "wallet",
    security(("key" = []))
)]
pub async fn run(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((tenant, run)): Path<(String, String)>,
) -> ApiResult<Json<RerateRunJson>> {
    caller.check(&tenant, Access::Operator)?;
    caller.operator()?;
    let currency = state
        .writer
        .with_book(&tenant, |book| Ok(book.tenant.currency))
        .await?;
    let id = run.clone();
    let found = state
        .read(move |store| Ok(store.rerate_run(&tenant, &id)?))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no rerate run {run:?}")))?;
    Ok(Json(RerateRunJson::new(&found, currency, false, true)))
}
